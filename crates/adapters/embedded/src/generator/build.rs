//! Turning a recognised requirement into a blueprint (which models and pages exist at this
//! audience level, with which ids) and rendering that blueprint as the plan JSON and as the
//! AppSpec JSON (SPEC §4 shape). Everything is ordered by the catalogue, so the output is
//! byte-for-byte deterministic.

use super::catalog::{
    t, AppKind, FeatureDef, FieldDef, FieldType, KindDef, Level, ModelDef, Txt, Widget,
};
use super::detect::{self, KindScore, Lang};
use ingenio_app_specs::{AgeGroup, GenerationInput};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// The generator's name, recorded as the model version.
pub(crate) const MODEL_VERSION: &str = "offline-rules-v1";

/// What was read from the input.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub kind: AppKind,
    pub score: KindScore,
    /// The kind came from the plan rather than from keyword matching.
    pub kind_from_plan: bool,
    pub lang: Lang,
    pub age: Option<AgeGroup>,
    pub age_from_text: bool,
    pub level: Level,
    pub app_name: String,
    /// The previous spec's kind, when regenerating.
    pub previous_kind: Option<AppKind>,
}

impl Ctx {
    /// Reads the input; `plan_kind` (from a plan) overrides keyword matching when given.
    pub(crate) fn new(input: &GenerationInput, plan_kind: Option<AppKind>) -> Ctx {
        let text = input.requirement.as_str();
        let score = detect::detect_kind(text);
        let kind = plan_kind.unwrap_or(score.kind);
        let lang = detect::detect_lang(text);
        let (age, age_from_text) = match input.age_group {
            Some(a) => (Some(a), false),
            None => {
                let a = detect::detect_age(text);
                (a, a.is_some())
            }
        };
        let level = detect::level_for(age);
        let previous_kind = input.previous_spec.as_ref().map(previous_kind);
        let kept_name = input
            .previous_spec
            .as_ref()
            .filter(|_| previous_kind == Some(kind))
            .and_then(|p| p.get("appName"))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string);
        let app_name = kept_name.unwrap_or_else(|| detect::app_name(text, lang, kind));
        Ctx {
            kind,
            kind_from_plan: plan_kind.is_some_and(|k| k != score.kind),
            score,
            lang,
            age,
            age_from_text,
            level,
            app_name,
            previous_kind,
        }
    }

    fn def(&self) -> &'static KindDef {
        self.kind.def()
    }

    fn pick(&self, txt: Txt) -> &'static str {
        self.lang.pick(txt)
    }

    fn basic(&self) -> bool {
        self.level == Level::Basic
    }

    pub(crate) fn complexity(&self) -> &'static str {
        match self.level {
            Level::Basic => "simple",
            Level::Standard => "medium",
            Level::Advanced => "complex",
        }
    }

    pub(crate) fn keeps_previous(&self) -> bool {
        self.previous_kind == Some(self.kind)
    }

    /// The kind's introduction, in the simple wording for elementary audiences.
    fn intro(&self) -> &'static str {
        let def = self.def();
        self.pick(if self.basic() {
            def.intro_simple
        } else {
            def.intro
        })
    }

    /// Adds `"ageGroup"` to a JSON object when an audience is known.
    fn insert_age(&self, v: &mut Value) {
        if let (Some(age), Some(obj)) = (self.age, v.as_object_mut()) {
            obj.insert("ageGroup".into(), Value::String(age.as_str().into()));
        }
    }
}

/// The kind of a previous spec: its `metadata.appKind`, else what its name and model ids suggest.
fn previous_kind(prev: &Value) -> AppKind {
    if let Some(k) = prev
        .pointer("/metadata/appKind")
        .and_then(Value::as_str)
        .and_then(AppKind::parse)
    {
        return k;
    }
    let mut text = prev
        .get("appName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    for m in arr(prev, "dataModels") {
        for key in ["id", "name"] {
            if let Some(s) = m.get(key).and_then(Value::as_str) {
                text.push(' ');
                text.push_str(s);
            }
        }
    }
    detect::detect_kind(&text).kind
}

/// What a page is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Home,
    /// Index into `Blueprint::models`.
    List(usize),
    Form(usize),
    /// Index into the kind's features.
    Feature(usize),
    Stats,
}

#[derive(Debug, Clone)]
pub(crate) struct PagePlan {
    pub id: String,
    pub name: String,
    pub path: String,
    pub purpose: String,
    pub role: Role,
}

#[derive(Debug, Clone)]
pub(crate) struct ModelPlan {
    /// Index into the kind's models.
    pub catalogue: usize,
    pub def: &'static ModelDef,
    pub id: String,
    pub fields: Vec<&'static FieldDef>,
}

/// The models and pages of the app, with their final ids.
#[derive(Debug, Clone)]
pub(crate) struct Blueprint {
    pub ctx: Ctx,
    pub models: Vec<ModelPlan>,
    pub pages: Vec<PagePlan>,
    /// How many ids were taken over from the previous spec.
    pub kept_ids: usize,
}

fn lower_en(s: &str) -> String {
    s.to_lowercase()
}

fn article(word: &str) -> &'static str {
    match word.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

impl Blueprint {
    pub(crate) fn new(ctx: Ctx, previous: Option<&Value>) -> Blueprint {
        let def = ctx.def();
        let level = ctx.level;
        let models: Vec<ModelPlan> = def
            .models
            .iter()
            .enumerate()
            .filter(|(_, m)| m.level <= level)
            .map(|(i, m)| ModelPlan {
                catalogue: i,
                def: m,
                id: m.id.to_string(),
                fields: m.fields.iter().filter(|f| f.level <= level).collect(),
            })
            .collect();
        let mut pages = vec![PagePlan {
            id: "home".into(),
            name: ctx.pick(t("Home", "首页")).into(),
            path: "/".into(),
            purpose: ctx
                .pick(t(
                    "Start page with the app's main actions",
                    "首页，从这里进入各项功能",
                ))
                .into(),
            role: Role::Home,
        }];
        for (i, f) in def.features.iter().enumerate() {
            let model_ok = models.iter().any(|m| m.catalogue == f.model);
            if f.level <= level && model_ok {
                pages.push(PagePlan {
                    id: f.page_id.into(),
                    name: ctx.pick(f.name).into(),
                    path: f.path.into(),
                    purpose: ctx.pick(f.purpose).into(),
                    role: Role::Feature(i),
                });
            }
        }
        for (mi, m) in models.iter().enumerate() {
            let d = m.def;
            if d.list.is_some_and(|l| l <= level) {
                let plural = ctx.pick(d.plural_name);
                pages.push(PagePlan {
                    id: d.plural.into(),
                    name: plural.into(),
                    path: format!("/{}", d.plural),
                    purpose: match ctx.lang {
                        Lang::En => format!("Browse all {}", lower_en(plural)),
                        Lang::Zh => format!("浏览{plural}"),
                    },
                    role: Role::List(mi),
                });
            }
            if d.form.is_some_and(|l| l <= level) {
                let name = ctx.pick(d.name);
                let page_name = match (d.form_name, ctx.lang) {
                    (Some(n), _) => ctx.pick(n).to_string(),
                    (None, Lang::En) => format!("New {}", lower_en(name)),
                    (None, Lang::Zh) => format!("新建{name}"),
                };
                pages.push(PagePlan {
                    id: format!("{}-new", d.id),
                    name: page_name,
                    path: format!("/{}/new", d.plural),
                    purpose: match ctx.lang {
                        Lang::En => {
                            let l = lower_en(name);
                            format!("Fill in a form to add {} {l}", article(&l))
                        }
                        Lang::Zh => format!("填写表单，添加{name}"),
                    },
                    role: Role::Form(mi),
                });
            }
        }
        if level == Level::Advanced {
            pages.push(PagePlan {
                id: "stats".into(),
                name: ctx.pick(t("Statistics", "数据统计")).into(),
                path: "/stats".into(),
                purpose: ctx
                    .pick(t(
                        "Counts and averages of the app's data",
                        "查看各项数据的数量和平均值",
                    ))
                    .into(),
                role: Role::Stats,
            });
        }
        let mut bp = Blueprint {
            ctx,
            models,
            pages,
            kept_ids: 0,
        };
        if let Some(prev) = previous.filter(|_| bp.ctx.keeps_previous()) {
            let mut renamed = bp.clone();
            renamed.take_previous_ids(prev);
            // Only keep the previous ids if they leave every id unique.
            if renamed.kept_ids > 0 && ids_unique(&renamed.spec()) {
                bp = renamed;
            }
        }
        bp
    }

    /// Takes over the previous spec's page ids (matched by path) and data-model ids (matched by
    /// id or by name in either language).
    fn take_previous_ids(&mut self, prev: &Value) {
        let ok_id = |s: &str| !s.is_empty() && s.len() <= 64 && !s.chars().any(char::is_whitespace);
        let prev_pages = arr(prev, "pages");
        for page in &mut self.pages {
            let found = prev_pages
                .iter()
                .find(|p| p.get("path").and_then(Value::as_str) == Some(page.path.as_str()));
            if let Some(id) = found
                .and_then(|p| p.get("id"))
                .and_then(Value::as_str)
                .filter(|s| ok_id(s))
            {
                if id != page.id {
                    page.id = id.to_string();
                    self.kept_ids += 1;
                }
            }
        }
        let prev_models = arr(prev, "dataModels");
        for model in &mut self.models {
            let names = [
                model.def.name.en.to_lowercase(),
                model.def.name.zh.to_string(),
            ];
            let same_id = prev_models
                .iter()
                .any(|m| m.get("id").and_then(Value::as_str) == Some(model.id.as_str()));
            if same_id {
                continue;
            }
            let found = prev_models.iter().find(|m| {
                m.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| names.iter().any(|x| *x == n.trim().to_lowercase()))
            });
            if let Some(id) = found
                .and_then(|m| m.get("id"))
                .and_then(Value::as_str)
                .filter(|s| ok_id(s))
            {
                model.id = id.to_string();
                self.kept_ids += 1;
            }
        }
    }

    fn page_of(&self, role: Role) -> Option<&PagePlan> {
        self.pages.iter().find(|p| p.role == role)
    }

    fn model_by_catalogue(&self, idx: usize) -> Option<(usize, &ModelPlan)> {
        self.models
            .iter()
            .enumerate()
            .find(|(_, m)| m.catalogue == idx)
    }

    fn modules(&self) -> Vec<String> {
        let mut out: Vec<String> = vec!["navigation".into()];
        out.extend(self.ctx.def().modules.iter().map(|m| m.to_string()));
        out.push("data-storage".into());
        out.push("permissions".into());
        if self.ctx.level == Level::Advanced {
            out.push("statistics".into());
        }
        out
    }

    /// The plan JSON.
    pub(crate) fn plan(&self) -> Value {
        let ctx = &self.ctx;
        let pages: Vec<Value> = self
            .pages
            .iter()
            .map(|p| json!({"id": p.id, "name": p.name, "path": p.path, "purpose": p.purpose}))
            .collect();
        let models: Vec<Value> = self
            .models
            .iter()
            .map(|m| {
                let fields: Vec<&str> = m.fields.iter().map(|f| f.name).collect();
                json!({"id": m.id, "name": ctx.pick(m.def.name), "fields": fields})
            })
            .collect();
        let mut plan = json!({
            "appKind": ctx.kind.as_str(),
            "appName": ctx.app_name,
            "language": ctx.lang.as_str(),
            "modules": self.modules(),
            "pages": pages,
            "dataModels": models,
            "complexity": ctx.complexity(),
            "reasoning": self.plan_reasoning(),
        });
        ctx.insert_age(&mut plan);
        plan
    }

    fn plan_reasoning(&self) -> String {
        let ctx = &self.ctx;
        let mut parts = Vec::new();
        if ctx.kind == AppKind::Generic {
            parts.push(
                "No app-kind keyword matched, so a generic information app was planned: a home page, a list and a form."
                    .to_string(),
            );
        } else if ctx.kind_from_plan {
            parts.push(format!(
                "App kind '{}' was taken from the plan.",
                ctx.kind.as_str()
            ));
        } else {
            let kws: Vec<String> = ctx
                .score
                .matched
                .iter()
                .map(|k| format!("\"{k}\""))
                .collect();
            parts.push(format!(
                "Recognised a '{}' app from the keyword(s) {} (score {}); it had the highest keyword score of the {} known kinds.",
                ctx.kind.as_str(),
                kws.join(", "),
                ctx.score.score,
                AppKind::ALL.len() - 1
            ));
        }
        let audience = match (ctx.age, ctx.age_from_text) {
            (Some(a), false) => format!("Audience {} (given).", a.as_str()),
            (Some(a), true) => format!("Audience {} (mentioned in the requirement).", a.as_str()),
            (None, _) => "No audience given, so the standard feature set was used.".to_string(),
        };
        parts.push(audience);
        parts.push(match ctx.level {
            Level::Basic => {
                "Elementary level: fewer pages and fields, large text and simple friendly labels."
                    .into()
            }
            Level::Standard => {
                "Standard level: list, form and feature pages with the usual fields.".into()
            }
            Level::Advanced => "University level: extra fields and a statistics page.".into(),
        });
        parts.push(match ctx.lang {
            Lang::Zh => {
                "The requirement is written in Chinese, so names and labels are Chinese.".into()
            }
            Lang::En => {
                "The requirement is written in English, so names and labels are English.".into()
            }
        });
        let model_ids: Vec<&str> = self.models.iter().map(|m| m.id.as_str()).collect();
        parts.push(format!(
            "{} pages, data models [{}], complexity {}.",
            self.pages.len(),
            model_ids.join(", "),
            ctx.complexity()
        ));
        if ctx.keeps_previous() {
            parts.push(
                "Regeneration of the same kind: the previous app name and ids are kept.".into(),
            );
        } else if let Some(prev) = ctx.previous_kind {
            parts.push(format!(
                "The previous spec was a '{}' app, a different kind, so it was not reused.",
                prev.as_str()
            ));
        }
        parts.join(" ")
    }

    /// The AppSpec JSON.
    pub(crate) fn spec(&self) -> Value {
        let mut r = Renderer {
            bp: self,
            flows: Vec::new(),
            flow_ids: BTreeSet::new(),
        };
        let mut pages: Vec<Value> = self.pages.iter().map(|p| r.page(p)).collect();
        r.cover_unused_models(&mut pages);
        let ctx = &self.ctx;
        let models: Vec<Value> = self.models.iter().map(|m| r.model(m)).collect();
        let mut rules = Vec::new();
        for m in &self.models {
            for rule in m.def.rules {
                rules
                    .push(json!({"resource": m.id, "actions": rule.actions, "roles": [rule.role]}));
            }
        }
        let mut metadata = json!({
            "generator": MODEL_VERSION,
            "appKind": ctx.kind.as_str(),
            "language": ctx.lang.as_str(),
        });
        ctx.insert_age(&mut metadata);
        json!({
            "version": "1.0.0",
            "appName": ctx.app_name,
            "description": ctx.intro(),
            "metadata": metadata,
            "theme": {"fontSize": if ctx.basic() { "large" } else { "medium" }},
            "pages": pages,
            "dataModels": models,
            "flows": r.flows,
            "permissions": {"roles": ctx.def().roles, "rules": rules},
        })
    }
}

/// The array under `key` (empty when it is absent or not an array).
pub(crate) fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Every component of a page, nested ones included, depth first in document order.
pub(crate) fn page_components(page: &Value) -> Vec<&Value> {
    fn walk<'a>(c: &'a Value, out: &mut Vec<&'a Value>) {
        out.push(c);
        for ch in arr(c, "children") {
            walk(ch, out);
        }
    }
    let mut out = Vec::new();
    for c in arr(page, "components") {
        walk(c, &mut out);
    }
    out
}

/// Every id (pages, components, data models, flows) appears once.
pub(crate) fn ids_unique(spec: &Value) -> bool {
    let mut seen = BTreeSet::new();
    let mut ok = true;
    let mut add = |item: &Value| {
        if let Some(id) = item.get("id").and_then(Value::as_str) {
            ok &= seen.insert(id.to_string());
        }
    };
    for key in ["pages", "dataModels", "flows"] {
        for item in arr(spec, key) {
            add(item);
            if key == "pages" {
                page_components(item).into_iter().for_each(&mut add);
            }
        }
    }
    ok
}

fn kebab(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('-');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn state_value(s: &str) -> Value {
    match s {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        other => Value::String(other.into()),
    }
}

struct Renderer<'a> {
    bp: &'a Blueprint,
    flows: Vec<Value>,
    flow_ids: BTreeSet<String>,
}

impl Renderer<'_> {
    fn ctx(&self) -> &Ctx {
        &self.bp.ctx
    }

    fn txt(&self, en: &'static str, zh: &'static str) -> &'static str {
        self.ctx().pick(t(en, zh))
    }

    /// Adds `"size": "large"` for elementary audiences.
    fn sized(&self, mut props: Value) -> Value {
        if let (true, Some(obj)) = (self.ctx().basic(), props.as_object_mut()) {
            obj.insert("size".into(), Value::String("large".into()));
        }
        props
    }

    fn component(id: String, ty: &str, props: Value, children: Vec<Value>) -> Value {
        json!({"id": id, "type": ty, "props": props, "children": children})
    }

    fn heading(&self, page: &PagePlan, text: &str) -> Value {
        let props = self.sized(json!({"text": text, "variant": "heading"}));
        Self::component(format!("{}-title", page.id), "Text", props, vec![])
    }

    fn paragraph(&self, id: String, text: &str) -> Value {
        let props = self.sized(json!({"text": text, "variant": "body"}));
        Self::component(id, "Text", props, vec![])
    }

    fn button(&self, id: String, label: &str, flow: String, primary: bool) -> Value {
        let variant = if primary { "primary" } else { "secondary" };
        let props = self.sized(json!({"label": label, "onClick": flow, "variant": variant}));
        Self::component(id, "Button", props, vec![])
    }

    fn add_flow(&mut self, flow: Value) -> String {
        let id = flow
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if self.flow_ids.insert(id.clone()) {
            self.flows.push(flow);
        }
        id
    }

    /// The flow navigating to `target` (created on first use).
    fn nav(&mut self, target: &PagePlan) -> String {
        let name = match self.ctx().lang {
            Lang::En => format!("Go to {}", target.name),
            Lang::Zh => format!("前往{}", target.name),
        };
        self.add_flow(json!({
            "id": format!("go-{}", target.id),
            "name": name,
            "trigger": "onClick",
            "actions": [{"type": "navigate", "config": {"to": target.path}}],
        }))
    }

    fn home_button(&mut self, page: &PagePlan) -> Value {
        let home = self.bp.pages[0].clone();
        let flow = self.nav(&home);
        let label = if self.ctx().basic() {
            self.txt("Back to home", "回到首页")
        } else {
            self.txt("Home", "首页")
        };
        self.button(format!("{}-home", page.id), label, flow, false)
    }

    fn page(&mut self, page: &PagePlan) -> Value {
        let components = match page.role {
            Role::Home => self.home(page),
            Role::List(mi) => self.list_page(page, mi),
            Role::Form(mi) => self.form_page(page, mi),
            Role::Feature(fi) => self.feature_page(page, fi),
            Role::Stats => self.stats_page(page),
        };
        json!({"id": page.id, "name": page.name, "path": page.path, "components": components})
    }

    fn home(&mut self, page: &PagePlan) -> Vec<Value> {
        let ctx = self.ctx().clone();
        let mut out = vec![
            self.heading(page, &ctx.app_name),
            self.paragraph(format!("{}-intro", page.id), ctx.intro()),
        ];
        let targets: Vec<PagePlan> = self
            .bp
            .pages
            .iter()
            .filter(|p| match p.role {
                Role::Home => false,
                Role::List(_) | Role::Feature(_) | Role::Stats => true,
                Role::Form(mi) => {
                    self.bp.models[mi].def.form_on_home || self.bp.page_of(Role::List(mi)).is_none()
                }
            })
            .cloned()
            .collect();
        for (i, target) in targets.iter().enumerate() {
            let flow = self.nav(target);
            let label = match (target.role, ctx.lang, ctx.basic()) {
                (Role::List(_), Lang::En, true) => format!("See all {}", lower_en(&target.name)),
                (Role::List(_), Lang::En, false) => format!("View {}", lower_en(&target.name)),
                (Role::List(_), Lang::Zh, true) => format!("看看{}", target.name),
                (Role::List(_), Lang::Zh, false) => format!("查看{}", target.name),
                _ => target.name.clone(),
            };
            out.push(self.button(
                format!("{}-go-{}", page.id, target.id),
                &label,
                flow,
                i == 0,
            ));
        }
        out
    }

    fn list_component(&self, id: String, m: &ModelPlan) -> Value {
        let ctx = self.ctx();
        let plural = ctx.pick(m.def.plural_name);
        let empty = match (ctx.lang, ctx.basic()) {
            (Lang::En, true) => "Nothing here yet. Add the first one!".to_string(),
            (Lang::En, false) => format!("No {} yet.", lower_en(plural)),
            (Lang::Zh, true) => "这里还是空的，快来添加第一个吧！".to_string(),
            (Lang::Zh, false) => format!("还没有{plural}"),
        };
        let mut props =
            json!({"dataModel": m.id, "titleField": m.def.title_field, "emptyText": empty});
        if let Some(obj) = props.as_object_mut() {
            if let Some(sub) = m
                .def
                .subtitle_field
                .filter(|s| m.fields.iter().any(|f| f.name == *s))
            {
                obj.insert("subtitleField".into(), Value::String(sub.into()));
            }
            if m.fields
                .iter()
                .any(|f| f.name == "done" && matches!(f.ty, FieldType::Boolean))
            {
                obj.insert("checkField".into(), Value::String("done".into()));
            }
        }
        Self::component(id, "List", self.sized(props), vec![])
    }

    fn list_page(&mut self, page: &PagePlan, mi: usize) -> Vec<Value> {
        let m = self.bp.models[mi].clone();
        let mut out = vec![
            self.heading(page, &page.name),
            self.list_component(format!("{}-list", page.id), &m),
        ];
        if let Some(form) = self.bp.page_of(Role::Form(mi)).cloned() {
            let flow = self.nav(&form);
            let label = match m.def.form_name {
                Some(n) => self.ctx().pick(n).to_string(),
                None => self.add_label(&m),
            };
            out.push(self.button(format!("{}-add", page.id), &label, flow, true));
        }
        out.push(self.home_button(page));
        out
    }

    fn add_label(&self, m: &ModelPlan) -> String {
        let ctx = self.ctx();
        let name = ctx.pick(m.def.name);
        match (ctx.lang, ctx.basic()) {
            (Lang::En, true) => format!("Add a new {}", lower_en(name)),
            (Lang::En, false) => {
                let l = lower_en(name);
                format!("Add {} {l}", article(&l))
            }
            (Lang::Zh, true) => format!("新建一个{name}"),
            (Lang::Zh, false) => format!("添加{name}"),
        }
    }

    fn input(&self, page: &PagePlan, f: &FieldDef) -> Value {
        let ctx = self.ctx();
        let label = ctx.pick(f.label);
        let input_type = match f.ty {
            FieldType::Text { .. } => "text",
            FieldType::LongText { .. } => "textarea",
            FieldType::Time => "time",
            FieldType::Number { .. } => "number",
            FieldType::Boolean => "checkbox",
            FieldType::Date => "date",
        };
        let mut props = json!({"field": f.name, "label": label, "inputType": input_type, "required": f.required});
        let placeholder = match (f.ty, ctx.lang, ctx.basic()) {
            (FieldType::Boolean, _, _) => None,
            (FieldType::Date, Lang::En, _) => Some("Pick a date".to_string()),
            (FieldType::Date, Lang::Zh, _) => Some("选择日期".to_string()),
            (FieldType::Time, _, _) => Some("08:00".to_string()),
            (_, Lang::En, true) => Some(format!("Type the {} here", lower_en(label))),
            (_, Lang::En, false) => Some(format!("Enter {}", lower_en(label))),
            (_, Lang::Zh, true) => Some(format!("在这里写{label}")),
            (_, Lang::Zh, false) => Some(format!("请输入{label}")),
        };
        if let (Some(p), Some(obj)) = (placeholder, props.as_object_mut()) {
            obj.insert("placeholder".into(), Value::String(p));
        }
        if let (FieldType::Number { min, max }, Some(obj)) = (f.ty, props.as_object_mut()) {
            obj.insert("min".into(), json!(min));
            obj.insert("max".into(), json!(max));
        }
        Self::component(
            format!("{}-form-{}", page.id, kebab(f.name)),
            "Input",
            self.sized(props),
            vec![],
        )
    }

    /// Where to go after a record of model `mi` was saved.
    fn after_save(&self, mi: usize) -> PagePlan {
        if let Some(list) = self.bp.page_of(Role::List(mi)) {
            return list.clone();
        }
        let cat = self.bp.models[mi].catalogue;
        let feature = self.bp.pages.iter().find(|p| match p.role {
            Role::Feature(fi) => self.ctx().def().features[fi].model == cat,
            _ => false,
        });
        feature.unwrap_or(&self.bp.pages[0]).clone()
    }

    fn form_page(&mut self, page: &PagePlan, mi: usize) -> Vec<Value> {
        let m = self.bp.models[mi].clone();
        let ctx = self.ctx().clone();
        let name = ctx.pick(m.def.name);
        let after = self.after_save(mi);
        let save_id = format!("save-{}", m.id);
        let flow_name = match ctx.lang {
            Lang::En => format!("Save {}", lower_en(name)),
            Lang::Zh => format!("保存{name}"),
        };
        let flow = self.add_flow(json!({
            "id": save_id,
            "name": flow_name,
            "trigger": "onSubmit",
            "actions": [
                {"type": "api", "config": {"method": "POST", "dataModel": m.id, "operation": "create"}},
                {"type": "setState", "config": {"key": "lastSaved", "value": m.id}},
                {"type": "navigate", "config": {"to": after.path}},
            ],
        }));
        let submit = if ctx.basic() {
            self.txt("Save it", "写好了，保存")
        } else {
            self.txt("Save", "保存")
        };
        let inputs: Vec<Value> = m.fields.iter().map(|f| self.input(page, f)).collect();
        let form_props =
            self.sized(json!({"dataModel": m.id, "onSubmit": flow, "submitLabel": submit}));
        let mut out = vec![
            self.heading(page, &page.name),
            Self::component(format!("{}-form", page.id), "Form", form_props, inputs),
        ];
        if let Some(list) = self.bp.page_of(Role::List(mi)).cloned() {
            let flow = self.nav(&list);
            let label = if ctx.basic() {
                self.txt("Go back", "返回上一页")
            } else {
                self.txt("Back", "返回")
            };
            out.push(self.button(format!("{}-back", page.id), label, flow, false));
        }
        out.push(self.home_button(page));
        out
    }

    fn widget(&self, page: &PagePlan, f: &FeatureDef, m: &ModelPlan) -> Value {
        let id = format!("{}-{}", page.id, "main");
        let basic = self.ctx().basic();
        let (ty, props) = match f.widget {
            Widget::Quiz => (
                "Quiz",
                json!({"dataModel": m.id, "questionField": "question", "optionsField": "options",
                       "answerField": "answer", "showScore": true, "shuffle": !basic}),
            ),
            Widget::Flashcard => (
                "Card",
                json!({"dataModel": m.id, "frontField": "front", "backField": "back", "flippable": true}),
            ),
            Widget::Storefront => (
                "List",
                json!({"dataModel": m.id, "layout": "grid", "itemType": "Card", "titleField": "name",
                       "subtitleField": "price"}),
            ),
            Widget::Poll => (
                "Card",
                json!({"dataModel": m.id, "titleField": "question", "optionsField": "options", "selectable": true}),
            ),
            Widget::Week => (
                "List",
                json!({"dataModel": m.id, "layout": "table", "groupBy": "day", "sortBy": "startTime",
                       "titleField": "subject", "subtitleField": "startTime"}),
            ),
            Widget::CheckIn => (
                "List",
                json!({"dataModel": m.id, "titleField": "name", "selectable": true}),
            ),
            Widget::MoodBoard => (
                "Card",
                json!({"dataModel": m.id, "title": self.txt("Moods", "心情统计"), "groupBy": "mood",
                       "aggregate": "count"}),
            ),
            Widget::Progress => (
                "Card",
                json!({"dataModel": m.id, "title": self.txt("Tasks done", "完成情况"), "aggregate": "ratio",
                       "field": "done"}),
            ),
        };
        Self::component(id, ty, self.sized(props), vec![])
    }

    fn feature_page(&mut self, page: &PagePlan, fi: usize) -> Vec<Value> {
        let ctx = self.ctx().clone();
        let f = &ctx.def().features[fi];
        let mut out = vec![
            self.heading(page, &page.name),
            self.paragraph(format!("{}-intro", page.id), &page.purpose),
        ];
        if let Some((_, m)) = self.bp.model_by_catalogue(f.model) {
            let m = m.clone();
            out.push(self.widget(page, f, &m));
            if let Some(a) = f.action {
                let mut actions = vec![
                    json!({"type": "setState", "config": {"key": a.state_key, "value": state_value(a.state_value)}}),
                ];
                let mut then: Option<PagePlan> = None;
                if let Some((cmi, cm)) = a.creates.and_then(|c| self.bp.model_by_catalogue(c)) {
                    actions.push(json!({"type": "api", "config": {"method": "POST", "dataModel": cm.id, "operation": "create"}}));
                    then = self.bp.page_of(Role::List(cmi)).cloned();
                }
                if a.deletes_done {
                    actions.push(
                        json!({"type": "api", "config": {"method": "DELETE", "dataModel": m.id,
                        "operation": "deleteWhere", "where": {"done": true}}}),
                    );
                }
                if let Some(p) = then {
                    actions.push(json!({"type": "navigate", "config": {"to": p.path}}));
                }
                let flow = self.add_flow(json!({
                    "id": a.flow_id,
                    "name": ctx.pick(a.flow_name),
                    "trigger": "onClick",
                    "actions": actions,
                }));
                out.push(self.button(
                    format!("{}-action", page.id),
                    ctx.pick(a.button),
                    flow,
                    true,
                ));
            }
        }
        out.push(self.home_button(page));
        out
    }

    fn stats_page(&mut self, page: &PagePlan) -> Vec<Value> {
        let ctx = self.ctx().clone();
        let mut out = vec![self.heading(page, &page.name)];
        let models = self.bp.models.clone();
        for m in &models {
            let title = match ctx.lang {
                Lang::En => format!("Number of {}", lower_en(ctx.pick(m.def.plural_name))),
                Lang::Zh => format!("{}数量", ctx.pick(m.def.name)),
            };
            let props = json!({"title": title, "dataModel": m.id, "aggregate": "count"});
            out.push(Self::component(
                format!("{}-{}-count", page.id, m.id),
                "Card",
                props,
                vec![],
            ));
            for f in m
                .fields
                .iter()
                .filter(|f| matches!(f.ty, FieldType::Number { .. }))
            {
                let label = ctx.pick(f.label);
                let title = match ctx.lang {
                    Lang::En => format!("Average {}", lower_en(label)),
                    Lang::Zh => format!("平均{label}"),
                };
                let props = json!({"title": title, "dataModel": m.id, "aggregate": "average", "field": f.name});
                out.push(Self::component(
                    format!("{}-{}-{}-avg", page.id, m.id, kebab(f.name)),
                    "Card",
                    props,
                    vec![],
                ));
            }
        }
        out.push(self.home_button(page));
        out
    }

    /// A model no component shows gets a List on the feature page that fills it (else the home
    /// page), so every data model is used by a component.
    fn cover_unused_models(&self, pages: &mut [Value]) {
        let used: BTreeSet<String> = pages.iter().flat_map(referenced_models).collect();
        for (mi, m) in self.bp.models.iter().enumerate() {
            if used.contains(&m.id) {
                continue;
            }
            let cat = m.catalogue;
            let host = self.bp.pages.iter().position(|p| match p.role {
                Role::Feature(fi) => {
                    self.ctx().def().features[fi].action.and_then(|a| a.creates) == Some(cat)
                }
                _ => false,
            });
            let host = host.unwrap_or(0);
            let page_id = self.bp.pages[host].id.clone();
            let list = self.list_component(
                format!("{}-{}-list", page_id, self.bp.models[mi].def.plural),
                m,
            );
            if let Some(comps) = pages[host]
                .get_mut("components")
                .and_then(Value::as_array_mut)
            {
                // Keep the navigation button last.
                let at = comps.len().saturating_sub(1).max(1).min(comps.len());
                comps.insert(at, list);
            }
        }
    }

    fn model(&self, m: &ModelPlan) -> Value {
        let ctx = self.ctx();
        let fields: Vec<Value> = m
            .fields
            .iter()
            .map(|f| {
                let ty = match f.ty {
                    FieldType::Text { .. } | FieldType::LongText { .. } | FieldType::Time => {
                        "string"
                    }
                    FieldType::Number { .. } => "number",
                    FieldType::Boolean => "boolean",
                    FieldType::Date => "date",
                };
                let mut obj = Map::new();
                obj.insert("name".into(), json!(f.name));
                obj.insert("type".into(), json!(ty));
                obj.insert("required".into(), json!(f.required));
                obj.insert("label".into(), json!(ctx.pick(f.label)));
                let validation = match f.ty {
                    FieldType::Text { max } | FieldType::LongText { max } if f.required => {
                        Some(json!({"minLength": 1, "maxLength": max}))
                    }
                    FieldType::Text { max } | FieldType::LongText { max } => {
                        Some(json!({"maxLength": max}))
                    }
                    FieldType::Time => Some(json!({"pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"})),
                    FieldType::Number { min, max } => Some(json!({"min": min, "max": max})),
                    FieldType::Boolean | FieldType::Date => None,
                };
                if let Some(v) = validation {
                    obj.insert("validation".into(), v);
                }
                Value::Object(obj)
            })
            .collect();
        json!({"id": m.id, "name": ctx.pick(m.def.name), "fields": fields})
    }
}

/// The data-model ids a page's components reference through `dataModel` props.
pub(crate) fn referenced_models(page: &Value) -> Vec<String> {
    page_components(page)
        .into_iter()
        .filter_map(|c| c.pointer("/props/dataModel").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
}
