//! The view model of the `static-web` renderer: an AppSpec turned into plain, already-resolved
//! data (routes, DOM ids, labels, resolved flow targets, normalised validation rules) that the
//! templates only have to print. Every decision that depends on the spec's shape is made here, in
//! Rust, so the templates and `app.js` never meet a missing prop or a wrongly typed value.

use std::collections::{BTreeSet, HashSet};

use ingenio_app_specs::spec::{Component, DataModel, Field};
use ingenio_app_specs::validation::{API_MODEL_KEYS, FLOW_PROPS, MODEL_PROPS, NAVIGATE_KEYS};
use ingenio_app_specs::AppSpec;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::escape;

/// Components nested deeper than this are rendered flattened (in document order) at this depth,
/// so no spec can exhaust the template engine's recursion limit; nothing is dropped.
const MAX_DEPTH: usize = 24;

/// The page id and route of the generated data page (suffixed when the spec already uses them).
const DATA_PAGE_ID: &str = "__data";

/// Everything the templates print.
#[derive(Debug, Serialize)]
pub(crate) struct View {
    pub lang: &'static str,
    pub app_name: String,
    pub msgs: &'static Msgs,
    pub pages: Vec<PageView>,
    pub styles: Vec<Style>,
    /// setState keys no component is bound to: shown in a small state panel.
    pub state_keys: Vec<String>,
    /// The JSON `app.js` reads from `#app-data` (escaped by the template's `json` filter).
    pub data: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct PageView {
    pub id: String,
    pub name: String,
    /// `#` + route, unencoded (the template's `url` filter encodes it).
    pub href: String,
    pub nodes: Vec<Node>,
}

/// One rendered element. `kind` picks the template branch; the other fields are filled as the
/// kind needs them (empty otherwise).
#[derive(Debug, Default, Serialize)]
pub(crate) struct Node {
    pub kind: &'static str,
    /// The spec's component id and type (`data-component`, `data-type`); empty for generated
    /// blocks.
    pub cid: String,
    pub ty: String,
    /// A DOM id unique in the document.
    pub dom: String,
    pub text: String,
    pub title: String,
    pub label: String,
    pub heading: bool,
    pub flow: String,
    pub goto: String,
    pub href: String,
    pub state: String,
    pub class: String,
    pub value: String,
    pub min: String,
    pub max: String,
    pub step: String,
    pub checked: bool,
    pub items: Vec<Item>,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub questions: Vec<Question>,
    pub model: Option<ModelUse>,
    pub children: Vec<Node>,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct Item {
    pub label: String,
    pub value: String,
    pub href: String,
    pub goto: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct Question {
    pub dom: String,
    pub text: String,
    pub answer: String,
    pub options: Vec<Item>,
}

/// A data model used by a component: its form (when the component is form-like and not nested
/// in another form), its record list, or an aggregate.
#[derive(Debug, Serialize)]
pub(crate) struct ModelUse {
    pub mi: usize,
    pub name: String,
    pub form: Option<FormView>,
    pub list: bool,
    pub table: bool,
    pub empty: String,
    pub title_fi: usize,
    pub fields: Vec<String>,
    pub aggregate: String,
    pub agg_fi: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct FormView {
    pub dom: String,
    pub fields: Vec<FieldView>,
    pub submit: String,
    pub flow: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct FieldView {
    /// The spec component (an `Input` child of the form) this field stands for, if any.
    pub cid: String,
    pub ty: String,
    pub j: usize,
    pub name: String,
    pub label: String,
    pub control: &'static str,
    pub id: String,
    pub err: String,
    pub required: bool,
    pub placeholder: String,
    pub options: Vec<String>,
}

/// A generated CSS rule `.class { prop: value }` (value already whitelisted by `css_value`).
#[derive(Debug, Serialize)]
pub(crate) struct Style {
    pub class: String,
    pub prop: &'static str,
    pub value: String,
    pub capped: bool,
}

/// UI text in the app's language.
#[derive(Debug, Serialize)]
pub(crate) struct Msgs {
    pub nav: &'static str,
    pub save: &'static str,
    pub update: &'static str,
    pub cancel: &'static str,
    pub edit: &'static str,
    pub delete: &'static str,
    pub records: &'static str,
    pub no_records: &'static str,
    pub unknown: &'static str,
    pub data_page: &'static str,
    pub state: &'static str,
    pub open: &'static str,
    pub close: &'static str,
    pub submit: &'static str,
    pub submitted: &'static str,
    pub check: &'static str,
    pub score: &'static str,
    pub reset: &'static str,
    pub time_up: &'static str,
    pub image: &'static str,
    pub video: &'static str,
    pub audio: &'static str,
    pub input: &'static str,
    pub choose: &'static str,
    pub links: &'static str,
    pub tab: &'static str,
    pub required: &'static str,
    pub not_number: &'static str,
    pub not_date: &'static str,
    pub min_length: &'static str,
    pub max_length: &'static str,
    pub min: &'static str,
    pub max: &'static str,
    pub pattern: &'static str,
    pub email: &'static str,
    pub options: &'static str,
    pub invalid: &'static str,
    /// A submit with every field left empty (nothing is stored).
    pub empty: &'static str,
    pub saved: &'static str,
    pub updated: &'static str,
    pub deleted: &'static str,
    pub loaded: &'static str,
    pub storage: &'static str,
    pub need_form: &'static str,
    pub show_answer: &'static str,
    pub next_card: &'static str,
    pub yes: &'static str,
    pub no: &'static str,
}

static EN: Msgs = Msgs {
    nav: "Pages",
    save: "Save",
    update: "Update",
    cancel: "Cancel editing",
    edit: "Edit",
    delete: "Delete",
    records: "Records",
    no_records: "No records yet.",
    unknown: "unknown component",
    data_page: "Data",
    state: "App state",
    open: "Open",
    close: "Close",
    submit: "Submit",
    submitted: "Submitted.",
    check: "Check answers",
    score: "Score: {n}",
    reset: "Restart",
    time_up: "Time is up!",
    image: "Image",
    video: "Video",
    audio: "Audio",
    input: "Input",
    choose: "Choose…",
    links: "Links",
    tab: "Tab",
    required: "This field is required.",
    not_number: "Enter a number.",
    not_date: "Enter a valid date.",
    min_length: "Enter at least {n} characters.",
    max_length: "Enter at most {n} characters.",
    min: "Enter a number of at least {n}.",
    max: "Enter a number of at most {n}.",
    pattern: "The format is not valid.",
    email: "Enter a valid email address.",
    options: "Choose one of the listed values.",
    invalid: "Please fix the highlighted fields.",
    empty: "Fill in at least one field.",
    saved: "Saved.",
    updated: "Updated.",
    deleted: "Deleted.",
    loaded: "{n} records loaded.",
    storage: "Could not store the data in this browser; it is kept until the page is closed.",
    need_form: "Fill in the form to add a record.",
    show_answer: "Show answer",
    next_card: "Next card",
    yes: "Yes",
    no: "No",
};

static ZH: Msgs = Msgs {
    nav: "页面",
    save: "保存",
    update: "更新",
    cancel: "取消编辑",
    edit: "编辑",
    delete: "删除",
    records: "记录",
    no_records: "还没有记录。",
    unknown: "未知组件",
    data_page: "数据",
    state: "应用状态",
    open: "打开",
    close: "关闭",
    submit: "提交",
    submitted: "已提交。",
    check: "检查答案",
    score: "得分：{n}",
    reset: "重新开始",
    time_up: "时间到！",
    image: "图片",
    video: "视频",
    audio: "音频",
    input: "输入",
    choose: "请选择…",
    links: "链接",
    tab: "标签",
    required: "此项为必填项。",
    not_number: "请输入数字。",
    not_date: "请输入有效的日期。",
    min_length: "请至少输入 {n} 个字符。",
    max_length: "最多输入 {n} 个字符。",
    min: "请输入不小于 {n} 的数字。",
    max: "请输入不大于 {n} 的数字。",
    pattern: "格式不正确。",
    email: "请输入有效的邮箱地址。",
    options: "请从列出的选项中选择。",
    invalid: "请修改标出的内容。",
    empty: "请至少填写一项。",
    saved: "已保存。",
    updated: "已更新。",
    deleted: "已删除。",
    loaded: "已读取 {n} 条记录。",
    storage: "无法在此浏览器中保存数据；数据会保留到页面关闭。",
    need_form: "请填写表单来添加记录。",
    show_answer: "显示答案",
    next_card: "下一张",
    yes: "是",
    no: "否",
};

/// Whether `s` contains a CJK ideograph or kana.
pub(crate) fn has_cjk(s: &str) -> bool {
    s.chars().any(|c| {
        matches!(c as u32,
            0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
    })
}

// ---------------------------------------------------------------------------------------------
// data for app.js

#[derive(Debug, Serialize)]
struct AppData<'a> {
    msgs: &'static Msgs,
    pages: Vec<PageData>,
    flows: Vec<FlowData>,
    models: Vec<ModelData>,
    /// The app name, for the document title.
    app: &'a str,
}

#[derive(Debug, Serialize)]
struct PageData {
    id: String,
    name: String,
    route: String,
    /// The encoded href, exactly as in the nav link (compared with `location.hash`).
    href: String,
}

#[derive(Debug, Serialize)]
struct FlowData {
    id: String,
    actions: Vec<ActionData>,
}

#[derive(Debug, Serialize)]
struct ActionData {
    t: &'static str,
    page: Option<String>,
    key: Option<String>,
    value: Value,
    mi: Option<usize>,
    method: String,
}

#[derive(Debug, Serialize)]
struct ModelData {
    name: String,
    key: String,
    fields: Vec<RuleData>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RuleData {
    name: String,
    label: String,
    t: &'static str,
    required: bool,
    min_length: Option<f64>,
    max_length: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
    pattern: Option<String>,
    email: bool,
    options: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// prop helpers

/// A scalar as display text: strings as they are, numbers and booleans printed; `None` for
/// null, arrays and objects.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The first of `keys` present in `props` as a non-empty scalar.
fn text(props: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter()
        .filter_map(|k| props.get(*k).and_then(scalar))
        .find(|s| !s.trim().is_empty())
}

/// The first of `candidates` that is not blank.
fn non_blank(candidates: &[&str]) -> Option<String> {
    candidates
        .iter()
        .find(|s| !s.trim().is_empty())
        .map(|s| (*s).to_owned())
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|f| f.is_finite())
}

fn num_prop(props: &Map<String, Value>, keys: &[&str]) -> Option<f64> {
    keys.iter().find_map(|k| props.get(*k).and_then(number))
}

fn fmt_num(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// Scalars of an array prop as strings (options, labels, …); objects give their `label`/`value`.
fn string_list(v: Option<&Value>) -> Vec<String> {
    let Some(Value::Array(items)) = v else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match item {
            Value::Object(o) => text(o, &["label", "text", "name", "title", "value"]),
            other => scalar(other),
        })
        .collect()
}

/// [`string_list`] as items with only a label.
fn label_items(v: Option<&Value>) -> Vec<Item> {
    string_list(v)
        .into_iter()
        .map(|label| Item {
            label,
            ..Item::default()
        })
        .collect()
}

/// `YYYY-MM-DD`, the only value format of `<input type="date">`.
fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

fn is_true(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Bool(true)))
        || matches!(v, Some(Value::String(s)) if s == "true" || s == "email")
}

const TEXT_KEYS: &[&str] = &["text", "content", "value", "body", "description", "message"];
const LABEL_KEYS: &[&str] = &["label", "text", "title", "name", "placeholder", "field"];

// ---------------------------------------------------------------------------------------------
// building

pub(crate) fn build(spec: &AppSpec) -> View {
    let zh = has_cjk(&spec.app_name) || spec.pages.iter().any(|p| has_cjk(&p.name));
    let msgs: &'static Msgs = if zh { &ZH } else { &EN };
    let mut b = Builder {
        spec,
        msgs,
        counter: 0,
        styles: Vec::new(),
        form_covered: vec![false; spec.data_models.len()],
        list_covered: vec![false; spec.data_models.len()],
        bound: BTreeSet::new(),
        routes: Vec::new(),
    };
    b.routes = routes(spec);
    let mut pages: Vec<PageView> = spec
        .pages
        .iter()
        .zip(b.routes.clone())
        .enumerate()
        .map(|(i, (page, route))| PageView {
            id: page.id.clone(),
            name: non_blank(&[&page.name, &page.id]).unwrap_or_else(|| format!("{}", i + 1)),
            href: format!("#{route}"),
            nodes: b.nodes(&page.components, false, 0),
        })
        .collect();
    let mut page_data: Vec<PageData> = pages
        .iter()
        .zip(&b.routes)
        .map(|(p, route)| PageData {
            id: p.id.clone(),
            name: p.name.clone(),
            route: route.clone(),
            href: escape::url(&p.href),
        })
        .collect();

    let uncovered: Vec<usize> = (0..spec.data_models.len())
        .filter(|&mi| !b.form_covered[mi] || !b.list_covered[mi])
        .collect();
    if !uncovered.is_empty() || spec.pages.is_empty() {
        let taken: HashSet<&str> = spec.pages.iter().map(|p| p.id.as_str()).collect();
        let taken_routes: HashSet<&str> = b.routes.iter().map(String::as_str).collect();
        let mut n = 1;
        let mut id = DATA_PAGE_ID.to_owned();
        while taken.contains(id.as_str()) || taken_routes.contains(format!("/{id}").as_str()) {
            n += 1;
            id = format!("{DATA_PAGE_ID}-{n}");
        }
        let route = format!("/{id}");
        let href = format!("#{route}");
        let nodes = uncovered.into_iter().map(|mi| b.model_block(mi)).collect();
        page_data.push(PageData {
            id: id.clone(),
            name: msgs.data_page.to_owned(),
            route,
            href: escape::url(&href),
        });
        pages.push(PageView {
            id,
            name: msgs.data_page.to_owned(),
            href,
            nodes,
        });
    }

    let mut state_keys: BTreeSet<String> = BTreeSet::new();
    for flow in &spec.flows {
        for action in &flow.actions {
            if action.r#type == "setState" {
                if let Some(key) = action.config.get("key").and_then(scalar) {
                    state_keys.insert(key);
                }
            }
        }
    }
    let state_keys = state_keys
        .into_iter()
        .filter(|k| !b.bound.contains(k))
        .collect();

    let data = AppData {
        msgs,
        pages: page_data,
        flows: spec.flows.iter().map(|f| b.flow(f)).collect(),
        models: spec
            .data_models
            .iter()
            .map(|m| model_data(&spec.app_name, m))
            .collect(),
        app: &spec.app_name,
    };
    View {
        lang: if zh { "zh-CN" } else { "en" },
        app_name: non_blank(&[&spec.app_name]).unwrap_or_else(|| "App".to_owned()),
        msgs,
        pages,
        styles: b.styles,
        state_keys,
        data: serde_json::to_string(&data).unwrap_or_else(|_| "{}".to_owned()),
    }
}

/// One route per page: its path (with a leading `/` added when missing); a path already used by
/// an earlier page gets a unique `/~page-N` route so every page stays reachable.
fn routes(spec: &AppSpec) -> Vec<String> {
    let mut seen: HashSet<String> = HashSet::new();
    spec.pages
        .iter()
        .enumerate()
        .map(|(i, page)| {
            let mut route = if page.path.starts_with('/') {
                page.path.clone()
            } else {
                format!("/{}", page.path)
            };
            let mut n = i;
            while seen.contains(&route) {
                n += 1;
                route = format!("/~page-{n}");
            }
            seen.insert(route.clone());
            route
        })
        .collect()
}

fn model_data(app: &str, model: &DataModel) -> ModelData {
    let key = serde_json::to_string(&["ingenio-static-web", app, model.name.as_str()])
        .unwrap_or_default();
    ModelData {
        name: model.name.clone(),
        key,
        fields: model
            .fields
            .iter()
            .map(|f| {
                let rule = |k: &str| rule(f, k);
                RuleData {
                    name: f.name.clone(),
                    label: field_label(f),
                    t: field_kind(f),
                    required: f.required,
                    min_length: rule("minLength").and_then(number),
                    max_length: rule("maxLength").and_then(number),
                    min: rule("min").and_then(number),
                    max: rule("max").and_then(number),
                    pattern: rule("pattern").and_then(Value::as_str).map(str::to_owned),
                    email: is_true(rule("email"))
                        || rule("format").and_then(Value::as_str) == Some("email"),
                    options: field_options(f),
                }
            })
            .collect(),
    }
}

/// A validation rule of a field: `validation.<key>`, else the field's own `<key>`.
fn rule<'a>(f: &'a Field, key: &str) -> Option<&'a Value> {
    f.validation
        .as_ref()
        .and_then(|v| v.get(key))
        .or_else(|| f.extra.get(key))
        .filter(|v| !v.is_null())
}

fn field_options(f: &Field) -> Vec<String> {
    string_list(rule(f, "options").or_else(|| rule(f, "enum")))
}

fn field_label(f: &Field) -> String {
    text(&f.extra, &["label", "title"]).unwrap_or_else(|| f.name.clone())
}

/// The value type of a field (`string` for anything unknown).
fn field_kind(f: &Field) -> &'static str {
    match f.r#type.as_str() {
        "number" => "number",
        "boolean" => "boolean",
        "date" => "date",
        _ => "string",
    }
}

struct Builder<'a> {
    spec: &'a AppSpec,
    msgs: &'static Msgs,
    counter: usize,
    styles: Vec<Style>,
    form_covered: Vec<bool>,
    list_covered: Vec<bool>,
    bound: BTreeSet<String>,
    routes: Vec<String>,
}

impl Builder<'_> {
    fn next_dom(&mut self) -> String {
        self.counter += 1;
        format!("c{}", self.counter)
    }

    fn nodes(&mut self, list: &[Component], in_form: bool, depth: usize) -> Vec<Node> {
        if depth >= MAX_DEPTH {
            let mut flat = Vec::new();
            flatten(list, &mut flat);
            return flat
                .into_iter()
                .map(|c| self.node(c, &[], in_form, depth))
                .collect();
        }
        list.iter()
            .map(|c| self.node(c, &c.children, in_form, depth))
            .collect()
    }

    fn model_index(&self, props: &Map<String, Value>) -> Option<usize> {
        let name = MODEL_PROPS
            .iter()
            .find_map(|k| props.get(*k).and_then(Value::as_str))?;
        let spec = self.spec;
        spec.data_models
            .iter()
            .position(|m| m.id == name)
            .or_else(|| spec.data_models.iter().position(|m| m.name == name))
    }

    fn flow_of(&self, props: &Map<String, Value>, keys: &[&str]) -> String {
        keys.iter()
            .filter_map(|k| props.get(*k).and_then(Value::as_str))
            .find(|id| self.spec.flow_by_id(id).is_some())
            .unwrap_or_default()
            .to_owned()
    }

    /// The page id a navigation target (page id, or path with an optional query) names.
    fn page_for(&self, target: &str) -> Option<String> {
        let spec = self.spec;
        let path = target.split(['?', '#']).next().unwrap_or(target);
        spec.pages
            .iter()
            .find(|p| p.id == target)
            .or_else(|| spec.pages.iter().find(|p| p.path == path))
            .map(|p| p.id.clone())
    }

    /// The unencoded `#route` of a page (templates encode it with their `url` filter).
    fn route_href(&self, page_id: &str) -> String {
        self.spec
            .pages
            .iter()
            .position(|p| p.id == page_id)
            .and_then(|i| self.routes.get(i))
            .map_or_else(|| "#".to_owned(), |r| format!("#{r}"))
    }

    fn style(&mut self, node: &mut Node, prop: &'static str, value: Option<String>, capped: bool) {
        let Some(value) = value.as_deref().and_then(escape::css_value) else {
            return;
        };
        let class = format!("s{}", self.styles.len() + 1);
        node.class = if node.class.is_empty() {
            class.clone()
        } else {
            format!("{} {class}", node.class)
        };
        self.styles.push(Style {
            class,
            prop,
            value,
            capped,
        });
    }

    fn node(&mut self, c: &Component, children: &[Component], in_form: bool, depth: usize) -> Node {
        let p = &c.props;
        let m = self.msgs;
        let mut n = Node {
            cid: c.id.clone(),
            ty: c.r#type.clone(),
            dom: self.next_dom(),
            flow: self.flow_of(p, FLOW_PROPS),
            ..Node::default()
        };
        if let Some(key) = text(p, &["bind", "stateKey", "state"]) {
            self.bound.insert(key.clone());
            n.state = key;
        }
        let goto = text(p, &["to", "pageId", "path", "href", "url", "link"])
            .and_then(|t| self.page_for(&t));
        let model = self.model_index(p);
        let colour = text(p, &["color", "colour", "accentColor", "backgroundColor"]);

        n.kind = match c.r#type.as_str() {
            "Text" => {
                n.text = text(p, TEXT_KEYS).unwrap_or_default();
                let variant = text(p, &["variant", "as", "tag"]).unwrap_or_default();
                n.heading = matches!(
                    variant.as_str(),
                    "heading" | "title" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "subtitle"
                ) || p.contains_key("level");
                "text"
            }
            "Button" => {
                n.label = text(p, &["label", "text", "title", "name"]).unwrap_or_else(|| {
                    if n.flow.is_empty() {
                        c.r#type.clone()
                    } else {
                        self.spec
                            .flow_by_id(&n.flow)
                            .map(|f| f.name.clone())
                            .unwrap_or_default()
                    }
                });
                if n.label.trim().is_empty() {
                    n.label = c.r#type.clone();
                }
                n.goto = goto.unwrap_or_default();
                "button"
            }
            "Link" => {
                n.label = text(p, &["label", "text", "title", "name", "href", "to"])
                    .unwrap_or_else(|| m.links.to_owned());
                n.goto = goto.unwrap_or_default();
                n.href = if n.goto.is_empty() {
                    "#".to_owned()
                } else {
                    self.route_href(&n.goto)
                };
                "link"
            }
            "Image" | "Avatar" | "Video" | "Audio" => {
                let default = match c.r#type.as_str() {
                    "Video" => m.video,
                    "Audio" => m.audio,
                    _ => m.image,
                };
                n.label = text(p, &["alt", "caption", "title", "name", "label", "text"])
                    .unwrap_or_else(|| default.to_owned());
                n.text = default.to_owned();
                if c.r#type == "Avatar" {
                    n.title = n.label.chars().next().map(String::from).unwrap_or_default();
                    "avatar"
                } else {
                    "media"
                }
            }
            "Input" | "Textarea" | "DatePicker" | "Checkbox" | "Switch" | "Slider" | "Select" => {
                n.label = text(p, LABEL_KEYS).unwrap_or_else(|| m.input.to_owned());
                n.title = text(p, &["placeholder"]).unwrap_or_default();
                n.value = text(p, &["value", "defaultValue"]).unwrap_or_default();
                n.checked = is_true(p.get("checked")) || is_true(p.get("value"));
                n.items = label_items(p.get("options").or_else(|| p.get("items")));
                let input_type = text(p, &["inputType", "type"]).unwrap_or_default();
                if c.r#type == "Slider" {
                    let min = num_prop(p, &["min"]).unwrap_or(0.0);
                    let max = num_prop(p, &["max"]).unwrap_or(100.0).max(min);
                    let value = num_prop(p, &["value", "defaultValue"])
                        .unwrap_or(min)
                        .clamp(min, max);
                    n.min = fmt_num(min);
                    n.max = fmt_num(max);
                    n.value = fmt_num(value);
                    n.step = num_prop(p, &["step"])
                        .filter(|s| *s > 0.0)
                        .map_or_else(|| "1".to_owned(), fmt_num);
                }
                if matches!(c.r#type.as_str(), "Checkbox" | "Switch" | "Slider") {
                    self.style(&mut n, "accent-color", colour, false);
                }
                match c.r#type.as_str() {
                    "Textarea" => "textarea",
                    "DatePicker" => "date",
                    "Checkbox" => "checkbox",
                    "Switch" => "switch",
                    "Slider" => "slider",
                    "Select" => "select",
                    _ => match input_type.as_str() {
                        "textarea" => "textarea",
                        "number" => "number",
                        "date" => "date",
                        "checkbox" | "boolean" => "checkbox",
                        "email" => "email",
                        _ => "input",
                    },
                }
            }
            "Progress" => {
                let max = num_prop(p, &["max", "total"])
                    .filter(|m| *m > 0.0)
                    .unwrap_or(100.0);
                let value = num_prop(p, &["value", "progress", "percent"])
                    .unwrap_or(0.0)
                    .clamp(0.0, max);
                n.max = fmt_num(max);
                n.value = fmt_num(value);
                n.label = text(p, &["label", "title", "text", "name"]).unwrap_or_default();
                self.style(&mut n, "accent-color", colour, false);
                "progress"
            }
            "Timer" => {
                let secs = num_prop(p, &["seconds", "duration", "time", "value"])
                    .unwrap_or(60.0)
                    .clamp(0.0, 359_999.0)
                    .round();
                n.value = fmt_num(secs);
                let s = secs as u64;
                n.text = format!("{:02}:{:02}", s / 60, s % 60);
                n.label = text(p, &["label", "title", "text"]).unwrap_or_default();
                "timer"
            }
            "Chart" => {
                n.title = text(p, &["title", "label", "name"]).unwrap_or_default();
                n.items = chart_items(p);
                let max = n
                    .items
                    .iter()
                    .filter_map(|i| i.value.parse::<f64>().ok())
                    .fold(0.0_f64, f64::max);
                n.max = fmt_num(if max > 0.0 { max } else { 1.0 });
                "chart"
            }
            "Divider" => {
                self.style(&mut n, "border-color", colour, false);
                "divider"
            }
            "Icon" => {
                n.label = text(p, &["label", "name", "icon", "title"])
                    .unwrap_or_else(|| c.r#type.clone());
                n.text = icon_glyph(&text(p, &["name", "icon"]).unwrap_or_default()).to_owned();
                "icon"
            }
            "Badge" => {
                n.text =
                    text(p, &["text", "label", "value", "count", "content"]).unwrap_or_default();
                "badge"
            }
            "Modal" => {
                n.title = text(p, &["title", "heading", "label"]).unwrap_or_default();
                n.label = text(
                    p,
                    &["triggerLabel", "buttonLabel", "openLabel", "label", "title"],
                )
                .unwrap_or_else(|| m.open.to_owned());
                n.text = text(p, TEXT_KEYS).unwrap_or_default();
                "modal"
            }
            "Tabs" => {
                let panels = self.tabs(p, children, in_form, depth);
                n.kind = "tabs";
                n.items = panels
                    .iter()
                    .map(|panel| Item {
                        label: panel.label.clone(),
                        value: panel.dom.clone(),
                        href: format!("{}-t", panel.dom),
                        goto: String::new(),
                    })
                    .collect();
                let mut n = self.finish(n, model, c, &[], in_form, depth);
                n.children.extend(panels);
                return n;
            }
            "Navbar" => {
                n.title = text(p, &["title", "label", "brand"]).unwrap_or_default();
                n.label = if n.title.is_empty() {
                    format!("{} {}", m.links, n.dom)
                } else {
                    n.title.clone()
                };
                n.items = self
                    .spec
                    .pages
                    .iter()
                    .map(|pg| Item {
                        label: pg.name.clone(),
                        href: self.route_href(&pg.id),
                        goto: pg.id.clone(),
                        value: String::new(),
                    })
                    .collect();
                "navbar"
            }
            "Header" | "Footer" | "Card" | "Container" | "Row" | "Column" | "Form" | "List"
            | "Table" | "Quiz" => {
                n.title = text(p, &["title", "heading", "name", "label"]).unwrap_or_default();
                n.text =
                    text(p, &["subtitle", "text", "content", "description"]).unwrap_or_default();
                if matches!(c.r#type.as_str(), "Card" | "Container" | "Row" | "Column") {
                    self.style(&mut n, "border-color", colour, false);
                    let gap = text(p, &["gap", "spacing"]);
                    self.style(&mut n, "gap", gap, true);
                }
                match c.r#type.as_str() {
                    "List" if model.is_none() => {
                        n.items = label_items(p.get("items").or_else(|| p.get("data")));
                    }
                    "Table" if model.is_none() => {
                        n.columns = string_list(p.get("columns").or_else(|| p.get("headers")));
                        n.rows = table_rows(p.get("rows").or_else(|| p.get("data")), &n.columns);
                    }
                    "Quiz" => {
                        n.questions = self.questions(p.get("questions"));
                    }
                    "Form" => {
                        n.flow = self.flow_of(p, &["onSubmit", "onClick", "flow", "flowId"]);
                        n.label = text(p, &["submitLabel", "buttonLabel"])
                            .unwrap_or_else(|| m.submit.to_owned());
                        if in_form {
                            n.kind = "group";
                            return self.finish(n, model, c, children, in_form, depth);
                        }
                    }
                    _ => {}
                }
                match c.r#type.as_str() {
                    "Header" => "header",
                    "Footer" => "footer",
                    "Form" => "form",
                    "List" => "list",
                    "Table" => "table",
                    "Quiz" => "quiz",
                    "Card" => "card",
                    "Row" => "row",
                    "Column" => "column",
                    _ => "container",
                }
            }
            _ => {
                n.text = format!("{} {}", m.unknown, c.r#type);
                "unknown"
            }
        };
        // a value the control cannot hold would only make the browser log a warning
        let fits = match n.kind {
            "number" => n.value.trim().parse::<f64>().is_ok_and(f64::is_finite),
            "date" => is_iso_date(&n.value),
            _ => true,
        };
        if !fits {
            n.value.clear();
        }
        self.finish(n, model, c, children, in_form, depth)
    }

    /// Attaches the model use and the children. `in_form` says whether `n` itself sits inside a
    /// `<form>` (forms cannot nest, so a form-like component there renders its list only).
    fn finish(
        &mut self,
        mut n: Node,
        model: Option<usize>,
        c: &Component,
        children: &[Component],
        in_form: bool,
        depth: usize,
    ) -> Node {
        let mut absorbed: HashSet<usize> = HashSet::new();
        let child_in_form = in_form || n.kind == "form" || (n.kind == "quiz" && model.is_some());
        let shows_model = matches!(
            n.kind,
            "form"
                | "quiz"
                | "tabs"
                | "header"
                | "footer"
                | "card"
                | "container"
                | "row"
                | "column"
                | "list"
                | "table"
                | "group"
        );
        if let Some(mi) = model.filter(|_| shows_model) {
            let wants_form = !in_form && matches!(n.kind, "form" | "quiz");
            let mut use_ = self.model_use(mi, &c.props, n.kind == "table");
            if wants_form {
                let (form, used) = self.form(mi, &c.props, children, &n.flow, &n.label);
                absorbed = used;
                use_.form = Some(form);
                self.form_covered[mi] = true;
            }
            let aggregate = text(&c.props, &["aggregate"]).filter(|_| n.kind == "card");
            if let Some(agg) = aggregate {
                use_.aggregate = agg;
                use_.agg_fi = text(&c.props, &["field"])
                    .and_then(|f| {
                        self.spec.data_models[mi]
                            .fields
                            .iter()
                            .position(|x| x.name == f)
                    })
                    .map(|j| j.to_string())
                    .unwrap_or_default();
            } else {
                use_.list = true;
                self.list_covered[mi] = true;
            }
            n.model = Some(use_);
        }
        let rest: Vec<Component> = children
            .iter()
            .enumerate()
            .filter(|(i, _)| !absorbed.contains(i))
            .map(|(_, c)| c.clone())
            .collect();
        n.children = self.nodes(&rest, child_in_form, depth + 1);
        n
    }

    fn model_use(&mut self, mi: usize, props: &Map<String, Value>, table: bool) -> ModelUse {
        let model = &self.spec.data_models[mi];
        let title_fi = text(props, &["titleField"])
            .and_then(|f| model.fields.iter().position(|x| x.name == f))
            .unwrap_or(0);
        ModelUse {
            mi,
            name: model.name.clone(),
            form: None,
            list: false,
            table,
            empty: text(props, &["emptyText", "empty", "placeholder"])
                .unwrap_or_else(|| self.msgs.no_records.to_owned()),
            title_fi,
            fields: model.fields.iter().map(field_label).collect(),
            aggregate: String::new(),
            agg_fi: String::new(),
        }
    }

    /// The form of model `mi`: every field, labelled from a matching `Input` child (by its
    /// `field`/`name` prop) when there is one. Returns the indexes of the children it absorbed.
    fn form(
        &mut self,
        mi: usize,
        props: &Map<String, Value>,
        children: &[Component],
        flow: &str,
        submit: &str,
    ) -> (FormView, HashSet<usize>) {
        let model = &self.spec.data_models[mi];
        let dom = self.next_dom();
        let mut absorbed = HashSet::new();
        let fields = model
            .fields
            .iter()
            .enumerate()
            .map(|(j, f)| {
                let child = children.iter().enumerate().find(|(_, ch)| {
                    matches!(
                        ch.r#type.as_str(),
                        "Input" | "Textarea" | "Select" | "Checkbox" | "DatePicker" | "Switch"
                    ) && text(&ch.props, &["field", "name"]).as_deref() == Some(f.name.as_str())
                });
                let (cid, ty) = child
                    .map(|(_, ch)| (ch.id.clone(), ch.r#type.clone()))
                    .unwrap_or_default();
                let (label, placeholder, input_type) = match child {
                    Some((i, ch)) => {
                        absorbed.insert(i);
                        (
                            text(&ch.props, &["label", "title"]),
                            text(&ch.props, &["placeholder"]),
                            text(&ch.props, &["inputType"]),
                        )
                    }
                    None => (None, None, None),
                };
                let options = field_options(f);
                let long = rule(f, "maxLength")
                    .and_then(number)
                    .is_some_and(|m| m > 200.0);
                let control = match field_kind(f) {
                    "number" => "number",
                    "boolean" => "checkbox",
                    "date" => "date",
                    _ if !options.is_empty() => "select",
                    _ if long || input_type.as_deref() == Some("textarea") => "textarea",
                    _ if is_true(rule(f, "email"))
                        || rule(f, "format").and_then(Value::as_str) == Some("email") =>
                    {
                        "email"
                    }
                    _ => "text",
                };
                FieldView {
                    cid,
                    ty,
                    j,
                    name: f.name.clone(),
                    label: label.unwrap_or_else(|| field_label(f)),
                    control,
                    id: format!("{dom}-f{j}"),
                    err: format!("{dom}-e{j}"),
                    required: f.required,
                    placeholder: placeholder.unwrap_or_default(),
                    options,
                }
            })
            .collect();
        let submit = if submit.is_empty() {
            text(props, &["submitLabel", "buttonLabel"])
                .unwrap_or_else(|| self.msgs.save.to_owned())
        } else {
            submit.to_owned()
        };
        let form = FormView {
            dom,
            fields,
            submit,
            flow: flow.to_owned(),
        };
        (form, absorbed)
    }

    /// A generated block (on the data page) with a model's form and list.
    fn model_block(&mut self, mi: usize) -> Node {
        let mut use_ = self.model_use(mi, &Map::new(), false);
        let (form, _) = self.form(mi, &Map::new(), &[], "", "");
        use_.form = Some(form);
        use_.list = true;
        self.form_covered[mi] = true;
        self.list_covered[mi] = true;
        Node {
            kind: "model",
            dom: self.next_dom(),
            title: self.spec.data_models[mi].name.clone(),
            model: Some(use_),
            ..Node::default()
        }
    }

    /// One `tabpanel` node per tab: from a `tabs`/`items` prop (labels with optional text) and
    /// then one per child (labelled by its title, label or name).
    fn tabs(
        &mut self,
        p: &Map<String, Value>,
        children: &[Component],
        in_form: bool,
        depth: usize,
    ) -> Vec<Node> {
        let mut tabs: Vec<Node> = Vec::new();
        if let Some(Value::Array(items)) = p.get("tabs").or_else(|| p.get("items")) {
            for item in items {
                let (label, content) = match item {
                    Value::Object(o) => (
                        text(o, &["label", "title", "name"]),
                        text(o, &["content", "text", "body"]),
                    ),
                    other => (scalar(other), None),
                };
                let dom = self.next_dom();
                let label =
                    label.unwrap_or_else(|| format!("{} {}", self.msgs.tab, tabs.len() + 1));
                let children = content
                    .map(|t| {
                        vec![Node {
                            kind: "plain",
                            dom: self.next_dom(),
                            text: t,
                            ..Node::default()
                        }]
                    })
                    .unwrap_or_default();
                tabs.push(tab_panel(dom, label, children));
            }
        }
        for child in children {
            let dom = self.next_dom();
            let label = text(
                &child.props,
                &["tabLabel", "title", "label", "name", "text"],
            )
            .unwrap_or_else(|| format!("{} {}", self.msgs.tab, tabs.len() + 1));
            let children = self.nodes(std::slice::from_ref(child), in_form, depth + 1);
            tabs.push(tab_panel(dom, label, children));
        }
        if let Some(first) = tabs.first_mut() {
            first.checked = true;
        }
        tabs
    }

    fn questions(&mut self, v: Option<&Value>) -> Vec<Question> {
        let Some(Value::Array(items)) = v else {
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|q| {
                let o = q.as_object()?;
                let dom = self.next_dom();
                let options = string_list(o.get("options").or_else(|| o.get("choices")))
                    .into_iter()
                    .enumerate()
                    .map(|(i, label)| Item {
                        value: i.to_string(),
                        href: format!("{dom}-o{i}"),
                        label,
                        goto: String::new(),
                    })
                    .collect::<Vec<_>>();
                let answer = match o.get("answer").or_else(|| o.get("correct")) {
                    Some(Value::Number(n)) => n.to_string(),
                    Some(other) => scalar(other)
                        .and_then(|a| options.iter().find(|i| i.label == a))
                        .map(|i| i.value.clone())
                        .unwrap_or_default(),
                    None => String::new(),
                };
                Some(Question {
                    text: text(o, &["question", "text", "title", "prompt"])
                        .unwrap_or_else(|| "?".to_owned()),
                    dom,
                    answer,
                    options,
                })
            })
            .collect()
    }

    fn flow(&self, f: &ingenio_app_specs::spec::Flow) -> FlowData {
        FlowData {
            id: f.id.clone(),
            actions: f
                .actions
                .iter()
                .map(|a| {
                    let target = |keys: &[&str]| {
                        keys.iter()
                            .find_map(|k| a.config.get(*k).and_then(Value::as_str))
                    };
                    match a.r#type.as_str() {
                        "navigate" => ActionData {
                            t: "navigate",
                            page: target(NAVIGATE_KEYS).and_then(|t| self.page_for(t)),
                            key: None,
                            value: Value::Null,
                            mi: None,
                            method: String::new(),
                        },
                        "setState" => ActionData {
                            t: "setState",
                            page: None,
                            key: a.config.get("key").and_then(scalar),
                            value: a.config.get("value").cloned().unwrap_or(Value::Null),
                            mi: None,
                            method: String::new(),
                        },
                        "api" => ActionData {
                            t: "api",
                            page: None,
                            key: None,
                            value: Value::Null,
                            mi: target(API_MODEL_KEYS).and_then(|name| {
                                let models = &self.spec.data_models;
                                models
                                    .iter()
                                    .position(|m| m.id == name)
                                    .or_else(|| models.iter().position(|m| m.name == name))
                            }),
                            method: text(&a.config, &["method", "operation"])
                                .unwrap_or_else(|| "GET".to_owned())
                                .to_ascii_uppercase(),
                        },
                        _ => ActionData {
                            t: "other",
                            page: None,
                            key: None,
                            value: Value::Null,
                            mi: None,
                            method: String::new(),
                        },
                    }
                })
                .collect(),
        }
    }
}

fn tab_panel(dom: String, label: String, children: Vec<Node>) -> Node {
    Node {
        kind: "tabpanel",
        dom,
        label,
        children,
        ..Node::default()
    }
}

fn flatten<'c>(list: &'c [Component], out: &mut Vec<&'c Component>) {
    for c in list {
        out.push(c);
        flatten(&c.children, out);
    }
}

fn chart_items(p: &Map<String, Value>) -> Vec<Item> {
    let labels = string_list(p.get("labels"));
    let data = p
        .get("data")
        .or_else(|| p.get("values"))
        .or_else(|| p.get("series"));
    let Some(Value::Array(items)) = data else {
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| {
            let (label, value) = match item {
                Value::Object(o) => (
                    text(o, &["label", "name", "x", "key"]),
                    num_prop(o, &["value", "y", "count"]),
                ),
                other => (labels.get(i).cloned(), number(other)),
            };
            let value = value?.max(0.0);
            Some(Item {
                label: label.unwrap_or_else(|| format!("{}", i + 1)),
                value: fmt_num(value),
                href: String::new(),
                goto: String::new(),
            })
        })
        .collect()
}

fn table_rows(v: Option<&Value>, columns: &[String]) -> Vec<Vec<String>> {
    let Some(Value::Array(rows)) = v else {
        return Vec::new();
    };
    rows.iter()
        .filter_map(|row| match row {
            Value::Array(cells) => Some(
                cells
                    .iter()
                    .map(|c| scalar(c).unwrap_or_default())
                    .collect(),
            ),
            Value::Object(o) if !columns.is_empty() => Some(
                columns
                    .iter()
                    .map(|col| o.get(col).and_then(scalar).unwrap_or_default())
                    .collect(),
            ),
            Value::Object(o) => Some(o.values().map(|c| scalar(c).unwrap_or_default()).collect()),
            other => scalar(other).map(|s| vec![s]),
        })
        .collect()
}

fn icon_glyph(name: &str) -> &'static str {
    match name.to_ascii_lowercase().as_str() {
        "star" => "★",
        "heart" | "like" => "♥",
        "home" | "house" => "⌂",
        "check" | "done" | "ok" => "✓",
        "close" | "x" | "cancel" => "✕",
        "plus" | "add" => "+",
        "search" => "⌕",
        "book" | "books" => "📖",
        "user" | "person" | "profile" => "👤",
        "clock" | "time" | "timer" => "⏱",
        "calendar" | "date" => "📅",
        "trophy" | "award" => "🏆",
        "music" => "♪",
        "mail" | "email" => "✉",
        "settings" | "gear" => "⚙",
        "info" => "ℹ",
        "warning" | "alert" => "⚠",
        _ => "●",
    }
}
