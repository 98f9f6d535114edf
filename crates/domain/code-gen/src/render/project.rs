//! Shared by the source-project renderers (`react-next`, `vue-vite`): the plan of a project (safe,
//! unique identifiers derived from spec text: route segments, view, model and field names), the
//! app-data module that carries every spec string as an escaped JSON literal (never pasted into
//! code), the README language, and the template engine with templates embedded at compile time.

use std::collections::{BTreeSet, HashSet};
use std::sync::OnceLock;

use ingenio_app_specs::spec::Component;
use ingenio_app_specs::validation::COMPONENT_TYPES;
use ingenio_app_specs::AppSpec;
use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;
use serde_json::{Map, Value};

use super::RenderError;
use crate::tree::FileTree;

/// The component kind that renders a spec component whose `type` no renderer knows.
pub(crate) const UNKNOWN_KIND: &str = "Unknown";

/// Words that must not be a generated identifier or field key, even quoted: JavaScript reserved
/// words and the names that reach into an object's prototype.
const RESERVED: &[&str] = &[
    "__proto__",
    "arguments",
    "await",
    "break",
    "case",
    "catch",
    "class",
    "const",
    "constructor",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "enum",
    "eval",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "hasOwnProperty",
    "if",
    "implements",
    "import",
    "in",
    "instanceof",
    "interface",
    "isPrototypeOf",
    "let",
    "new",
    "null",
    "package",
    "private",
    "protected",
    "prototype",
    "public",
    "return",
    "static",
    "super",
    "switch",
    "this",
    "throw",
    "toString",
    "true",
    "try",
    "typeof",
    "valueOf",
    "var",
    "void",
    "while",
    "with",
    "yield",
];

/// Route segments a framework treats specially (error pages, the index alias, API routes).
const RESERVED_SEGMENTS: &[&str] = &["404", "500", "index", "api", "not-found", "favicon-ico"];

/// One page of the project: where its route lives and what its view is called.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PagePlan {
    /// Index into the data module's `pages`.
    pub index: usize,
    /// URL segment (`[a-z0-9-]`, unique); empty for the home page.
    pub segment: String,
    /// `/` or `/<segment>`.
    pub route: String,
    /// PascalCase view component name (unique, ends in `View`).
    pub view: String,
}

/// One stored model: its store module and the TypeScript shape of its records.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ModelPlan {
    pub index: usize,
    /// lowerCamel identifier, unique (also case-insensitively): file `<ident>.ts`, `<ident>Store`.
    pub ident: String,
    /// PascalCase, unique: `<type_name>Values`.
    pub type_name: String,
    pub fields: Vec<FieldPlan>,
}

/// One field of a model as TypeScript sees it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FieldPlan {
    /// `[A-Za-z0-9_]+`, unique within the model, never reserved: the key records are stored under.
    pub key: String,
    pub ts_type: &'static str,
    pub required: bool,
}

/// Everything a source-project renderer needs, derived from a spec deterministically.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Plan {
    /// npm package name (`[a-z0-9-]`).
    pub slug: String,
    /// Whether the app's text is Chinese (README language, `<html lang>`).
    pub zh: bool,
    pub pages: Vec<PagePlan>,
    /// Index of the page shown at `/`.
    pub home: usize,
    /// Known component kinds used by the spec, sorted.
    pub kinds: Vec<&'static str>,
    pub models: Vec<ModelPlan>,
    /// The data module's content.
    #[serde(skip)]
    pub data: Value,
}

impl Plan {
    pub(crate) fn new(spec: &AppSpec) -> Result<Plan, RenderError> {
        if spec.pages.is_empty() {
            return Err(RenderError::Spec("the spec has no pages".into()));
        }
        let zh = is_chinese(spec);
        let slug = non_empty(kebab(&spec.app_name, 48), "ingenio-app");

        let home = spec.pages.iter().position(|p| p.path == "/").unwrap_or(0);
        let mut taken_segments = HashSet::new();
        let mut taken_views = HashSet::new();
        let mut pages = Vec::with_capacity(spec.pages.len());
        for (index, page) in spec.pages.iter().enumerate() {
            let segment = if index == home {
                String::new()
            } else {
                let base = [kebab(&page.path, 40), kebab(&page.id, 40)]
                    .into_iter()
                    .find(|s| !s.is_empty())
                    .unwrap_or_else(|| format!("page-{}", index + 1));
                let base = if RESERVED_SEGMENTS.contains(&base.as_str()) {
                    format!("{base}-page")
                } else {
                    base
                };
                unique(base, &mut taken_segments, "-")
            };
            let route = format!("/{segment}");
            let view_base = if segment.is_empty() {
                "Home".to_owned()
            } else {
                pascal(&segment)
            };
            let view = unique(format!("{view_base}View"), &mut taken_views, "");
            pages.push(PagePlan {
                index,
                segment,
                route,
                view,
            });
        }

        let mut kinds = BTreeSet::new();
        for (_, c) in spec.components() {
            if let Some(k) = known_kind(&c.component.r#type) {
                kinds.insert(k);
            }
        }

        let mut taken_idents = HashSet::new();
        let mut taken_types = HashSet::new();
        let mut models = Vec::with_capacity(spec.data_models.len());
        for (index, model) in spec.data_models.iter().enumerate() {
            let words = [&model.name, &model.id]
                .into_iter()
                .map(|s| ascii_words(s))
                .find(|w| !w.is_empty())
                .unwrap_or_else(|| vec![format!("model{}", index + 1)]);
            let camel = lower_first(&pascal_words(&words));
            let ident = unique(camel, &mut taken_idents, "");
            let type_name = unique(pascal(&ident), &mut taken_types, "");
            let mut taken_keys = HashSet::new();
            let fields = model
                .fields
                .iter()
                .enumerate()
                .map(|(fi, f)| FieldPlan {
                    key: unique(field_key(&f.name, fi), &mut taken_keys, "_"),
                    ts_type: ts_type(&f.r#type),
                    required: f.required,
                })
                .collect();
            models.push(ModelPlan {
                index,
                ident,
                type_name,
                fields,
            });
        }

        let data = AppData {
            app_name: &spec.app_name,
            lang: if zh { "zh" } else { "en" },
            storage_prefix: format!("ingenio:{slug}"),
            home,
            pages: spec
                .pages
                .iter()
                .zip(&pages)
                .map(|(p, plan)| PageData {
                    id: &p.id,
                    name: &p.name,
                    path: &p.path,
                    route: &plan.route,
                    components: p.components.iter().map(node).collect(),
                })
                .collect(),
            models: spec
                .data_models
                .iter()
                .zip(&models)
                .map(|(m, plan)| ModelData {
                    id: &m.id,
                    name: &m.name,
                    key: &plan.ident,
                    fields: m
                        .fields
                        .iter()
                        .zip(&plan.fields)
                        .map(|(f, fp)| FieldData {
                            name: &f.name,
                            key: &fp.key,
                            r#type: &f.r#type,
                            required: f.required,
                            validation: f.validation.as_ref(),
                        })
                        .collect(),
                })
                .collect(),
            flows: spec
                .flows
                .iter()
                .map(|f| FlowData {
                    id: &f.id,
                    name: &f.name,
                    trigger: &f.trigger,
                    actions: f
                        .actions
                        .iter()
                        .map(|a| ActionData {
                            r#type: &a.r#type,
                            config: &a.config,
                        })
                        .collect(),
                })
                .collect(),
        };
        let data = serde_json::to_value(&data).map_err(|e| RenderError::Template {
            template: "app-data".into(),
            message: e.to_string(),
        })?;

        Ok(Plan {
            slug,
            zh,
            pages,
            home,
            kinds: kinds.into_iter().collect(),
            models,
            data,
        })
    }

    /// The TypeScript module holding the app data: `JSON.parse` of one string literal, so any key
    /// (`__proto__` included) stays plain data and any text is valid TypeScript.
    pub(crate) fn data_module(&self) -> String {
        format!(
            "// Generated: the app's pages, components, data models and flows as JSON text.\n\
             // Parsed at run time so every string stays data; edit the app spec, not this file.\n\
             import type {{ AppData }} from \"./types\";\n\n\
             export const appData: AppData = JSON.parse({});\n",
            js_string_literal(&self.data.to_string())
        )
    }
}

/// The data module of a generated project (`lib/app-data.ts` / `src/lib/app-data.ts`): what the
/// generated runtime reads. Spec text stays data; user-authored maps (`props`, `config`,
/// `validation`, `trigger`) pass through as they are.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AppData<'a> {
    app_name: &'a str,
    lang: &'static str,
    storage_prefix: String,
    home: usize,
    pages: Vec<PageData<'a>>,
    models: Vec<ModelData<'a>>,
    flows: Vec<FlowData<'a>>,
}

#[derive(Serialize)]
struct PageData<'a> {
    id: &'a str,
    name: &'a str,
    path: &'a str,
    route: &'a str,
    components: Vec<NodeData<'a>>,
}

#[derive(Serialize)]
struct ModelData<'a> {
    id: &'a str,
    name: &'a str,
    key: &'a str,
    fields: Vec<FieldData<'a>>,
}

#[derive(Serialize)]
struct FieldData<'a> {
    name: &'a str,
    key: &'a str,
    #[serde(rename = "type")]
    r#type: &'a str,
    required: bool,
    /// `null` when the spec gives none.
    validation: Option<&'a Value>,
}

#[derive(Serialize)]
struct FlowData<'a> {
    id: &'a str,
    name: &'a str,
    trigger: &'a Value,
    actions: Vec<ActionData<'a>>,
}

#[derive(Serialize)]
struct ActionData<'a> {
    #[serde(rename = "type")]
    r#type: &'a str,
    config: &'a Map<String, Value>,
}

/// A component as the data module stores it: the kind that renders it (`Unknown` for types no
/// renderer knows) plus everything the spec says about it.
#[derive(Serialize)]
struct NodeData<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    r#type: &'a str,
    kind: &'static str,
    props: &'a Map<String, Value>,
    children: Vec<NodeData<'a>>,
}

fn node(c: &Component) -> NodeData<'_> {
    NodeData {
        id: &c.id,
        r#type: &c.r#type,
        kind: known_kind(&c.r#type).unwrap_or(UNKNOWN_KIND),
        props: &c.props,
        children: c.children.iter().map(node).collect(),
    }
}

/// The template family that renders a known component kind: kinds that differ only in markup
/// share a template (`text`, `container`, `action`, `field`, `media`, `records`); the others have
/// their own, named after the kind.
pub(crate) fn kind_family(kind: &'static str) -> &'static str {
    match kind {
        "Text" | "Header" | "Footer" | "Badge" | "Icon" | "Avatar" => "text",
        "Card" | "Container" | "Row" | "Column" | "Navbar" => "container",
        "Button" | "Link" => "action",
        "Input" | "Textarea" | "Checkbox" | "Select" | "DatePicker" | "Switch" | "Slider" => {
            "field"
        }
        "Image" | "Video" | "Audio" => "media",
        "List" | "Table" => "records",
        other => other,
    }
}

/// The known kind named `ty`, as a `'static` identifier.
fn known_kind(ty: &str) -> Option<&'static str> {
    COMPONENT_TYPES.iter().copied().find(|k| *k == ty)
}

/// A JSON string literal that is also a valid JavaScript/TypeScript string literal for any
/// Unicode (U+2028/U+2029 escaped) and safe inside HTML (`<` escaped).
pub(crate) fn js_string_literal(text: &str) -> String {
    let quoted = Value::String(text.to_owned()).to_string();
    let mut out = String::with_capacity(quoted.len());
    for ch in quoted.chars() {
        match ch {
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            _ => out.push(ch),
        }
    }
    out
}

/// The TypeScript type of a spec field type (unknown types are kept as text).
fn ts_type(field_type: &str) -> &'static str {
    match field_type {
        "number" => "number",
        "boolean" => "boolean",
        _ => "string",
    }
}

/// ASCII alphanumeric runs of `s`, in order.
fn ascii_words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Lower-case words joined by `-`, at most `max` bytes (ASCII only, cut at a word boundary).
fn kebab(s: &str, max: usize) -> String {
    let mut out = String::new();
    for w in ascii_words(s) {
        let w = w.to_ascii_lowercase();
        let extra = if out.is_empty() { w.len() } else { w.len() + 1 };
        if out.len() + extra > max {
            if out.is_empty() {
                out = w.chars().take(max).collect();
            }
            break;
        }
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(&w);
    }
    out
}

fn pascal_words(words: &[String]) -> String {
    let mut out = String::new();
    for w in words {
        let mut chars = w.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'P');
    }
    out.chars().take(48).collect()
}

/// PascalCase identifier from the ASCII words of `s` (`P` prefix when it would start with a digit).
fn pascal(s: &str) -> String {
    non_empty(pascal_words(&ascii_words(s)), "Page")
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) if first.is_ascii_digit() => format!("m{s}"),
        Some(first) => {
            let rest: String = chars.collect();
            let ident = format!("{}{rest}", first.to_ascii_lowercase());
            if RESERVED.contains(&ident.as_str()) {
                format!("{ident}Model")
            } else {
                ident
            }
        }
        None => "model".to_owned(),
    }
}

/// The storage key of a field: `[A-Za-z0-9_]`, not starting with a digit, never reserved.
fn field_key(name: &str, index: usize) -> String {
    let mapped: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let trimmed: String = mapped
        .split('_')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("_")
        .chars()
        .take(48)
        .collect();
    let key = if trimmed.is_empty() {
        format!("field{}", index + 1)
    } else if trimmed.starts_with(|c: char| c.is_ascii_digit()) {
        format!("f_{trimmed}")
    } else {
        trimmed
    };
    if RESERVED.contains(&key.as_str()) {
        format!("{key}_")
    } else {
        key
    }
}

fn non_empty(s: String, fallback: &str) -> String {
    if s.is_empty() {
        fallback.to_owned()
    } else {
        s
    }
}

/// `base`, or `base<sep>2`, `base<sep>3`, … : the first not yet in `taken` (compared
/// case-insensitively, so file names stay distinct on every file system).
fn unique(base: String, taken: &mut HashSet<String>, sep: &str) -> String {
    let mut candidate = base.clone();
    let mut n = 2;
    while !taken.insert(candidate.to_ascii_lowercase()) {
        candidate = format!("{base}{sep}{n}");
        n += 1;
    }
    candidate
}

/// Whether the app's visible text is Chinese (any CJK ideograph in the app or page names).
fn is_chinese(spec: &AppSpec) -> bool {
    let cjk = |s: &str| {
        s.chars().any(|c| {
            matches!(c as u32,
                0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F | 0x3000..=0x303F)
        })
    };
    cjk(&spec.app_name) || spec.pages.iter().any(|p| cjk(&p.name))
}

/// A set of templates embedded in the binary: `(name, source)`.
pub(crate) type Templates = &'static [(&'static str, &'static str)];

/// The template environment for `templates`, built once. Delimiters are `[% %]`, `[[ ]]` and
/// `[# #]` so the `{{ }}` of JSX and Vue templates stay literal; nothing is auto-escaped (template
/// variables are generated identifiers and numbers, never spec text).
pub(crate) fn environment(
    cell: &'static OnceLock<Result<Environment<'static>, String>>,
    templates: Templates,
) -> Result<&'static Environment<'static>, RenderError> {
    cell.get_or_init(|| {
        let mut env = Environment::new();
        let syntax = SyntaxConfig::builder()
            .block_delimiters("[%", "%]")
            .variable_delimiters("[[", "]]")
            .comment_delimiters("[#", "#]")
            .build()
            .map_err(|e| e.to_string())?;
        env.set_syntax(syntax);
        env.set_keep_trailing_newline(true);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        for (name, source) in COMMON_TEMPLATES.iter().chain(templates) {
            env.add_template(name, source)
                .map_err(|e| format!("{name}: {e}"))?;
        }
        Ok(env)
    })
    .as_ref()
    .map_err(|message| RenderError::Template {
        template: "<environment>".into(),
        message: message.clone(),
    })
}

/// Renders template `name` of `env` with `ctx` into the file `path` of `tree`.
pub(crate) fn emit(
    tree: &mut FileTree,
    env: &Environment<'static>,
    name: &str,
    path: &str,
    ctx: &minijinja::Value,
) -> Result<(), RenderError> {
    let text = env
        .get_template(name)
        .and_then(|t| t.render(ctx))
        .map_err(|e| RenderError::Template {
            template: name.to_owned(),
            message: format!("{e:#}"),
        })?;
    tree.add(path, text)?;
    Ok(())
}

/// Templates every source project uses, whatever its framework.
const COMMON_TEMPLATES: Templates = super::templates![
    "web-common/style.css",
    "web-common/lib/types.ts",
    "web-common/lib/app.ts",
    "web-common/lib/state.ts",
    "web-common/lib/flows.ts",
    "web-common/lib/i18n.ts",
    "web-common/lib/validation.ts",
    "web-common/lib/widgets.ts",
    "web-common/lib/store.ts",
    "web-common/lib/model-store.ts",
    "web-common/lib/stores-index.ts",
];

/// The framework-free runtime library: `web-common/lib/<name>` becomes `<lib_dir>/<name>`.
const COMMON_LIB: &[&str] = &[
    "types.ts",
    "app.ts",
    "state.ts",
    "flows.ts",
    "i18n.ts",
    "validation.ts",
    "widgets.ts",
    "store.ts",
];

/// Where a source-project renderer puts things and which templates make them.
pub(crate) struct Layout {
    /// The framework's templates (name, source), embedded with `include_str!`.
    pub templates: Templates,
    /// Files rendered once per project: `(template, path)`.
    pub project_files: &'static [(&'static str, &'static str)],
    /// Exact versions of the npm dependencies.
    pub versions: &'static [(&'static str, &'static str)],
    /// Folder of the runtime library (and of the generated `app-data.ts`).
    pub lib_dir: &'static str,
    /// Path of the shared style sheet.
    pub style_path: &'static str,
    /// Template of a page's route or view, and the path for a page.
    pub page_template: &'static str,
    pub page_path: fn(&PagePlan) -> String,
    /// `<kinds_dir><family><kind_ext>` is the template of a kind; the file is
    /// `<components_dir>/<Kind><kind_ext>`.
    pub kinds_dir: &'static str,
    pub kind_ext: &'static str,
    pub components_dir: &'static str,
    /// Folder of the per-model stores and the import path of the generic store from there.
    pub stores_dir: &'static str,
    pub store_import: &'static str,
}

/// Renders a whole source project: the fixed files, the data module, a route or view per page, a
/// component per used kind, and a store per model.
pub(crate) fn render_project(
    layout: &Layout,
    cell: &'static OnceLock<Result<Environment<'static>, String>>,
    spec: &AppSpec,
) -> Result<FileTree, RenderError> {
    let env = environment(cell, layout.templates)?;
    let plan = Plan::new(spec)?;
    let base = context(&plan, layout.versions);
    let with = |extra: minijinja::Value| minijinja::context! { ..extra, ..base.clone() };
    let mut tree = FileTree::new();
    let files_ctx = with(minijinja::context! { store_import => layout.store_import });
    for (template, path) in layout.project_files {
        emit(&mut tree, env, template, path, &files_ctx)?;
    }
    emit(
        &mut tree,
        env,
        "web-common/style.css",
        layout.style_path,
        &files_ctx,
    )?;
    for name in COMMON_LIB {
        let path = format!("{}/{name}", layout.lib_dir);
        emit(
            &mut tree,
            env,
            &format!("web-common/lib/{name}"),
            &path,
            &files_ctx,
        )?;
    }
    let stores_index = format!("{}/index.ts", layout.stores_dir);
    emit(
        &mut tree,
        env,
        "web-common/lib/stores-index.ts",
        &stores_index,
        &files_ctx,
    )?;
    tree.add(
        &format!("{}/app-data.ts", layout.lib_dir),
        plan.data_module(),
    )?;
    for page in &plan.pages {
        let ctx = with(minijinja::context! { page => minijinja::Value::from_serialize(page) });
        emit(
            &mut tree,
            env,
            layout.page_template,
            &(layout.page_path)(page),
            &ctx,
        )?;
    }
    for kind in &plan.kinds {
        let template = format!(
            "{}{}{}",
            layout.kinds_dir,
            kind_family(kind),
            layout.kind_ext
        );
        let path = format!("{}/{kind}{}", layout.components_dir, layout.kind_ext);
        let ctx = with(minijinja::context! { kind => *kind });
        emit(&mut tree, env, &template, &path, &ctx)?;
    }
    for model in &plan.models {
        let ctx = with(minijinja::context! {
            model => minijinja::Value::from_serialize(model),
            store_import => layout.store_import,
        });
        let path = format!("{}/{}.ts", layout.stores_dir, model.ident);
        emit(&mut tree, env, "web-common/lib/model-store.ts", &path, &ctx)?;
    }
    Ok(tree)
}

/// Implements [`Renderer`](super::Renderer) for a unit struct: a source project (never
/// previewable) rendered by [`render_project`] from `$layout`.
macro_rules! source_renderer {
    ($ty:ident, name: $name:literal, framework: $framework:literal, version: $version:literal, layout: $layout:expr) => {
        impl super::Renderer for $ty {
            fn name(&self) -> &'static str {
                $name
            }

            fn version(&self) -> &'static str {
                $version
            }

            fn framework(&self) -> &'static str {
                $framework
            }

            fn previewable(&self) -> bool {
                false
            }

            fn render(
                &self,
                spec: &ingenio_app_specs::AppSpec,
            ) -> Result<crate::tree::FileTree, super::RenderError> {
                static ENV: std::sync::OnceLock<Result<minijinja::Environment<'static>, String>> =
                    std::sync::OnceLock::new();
                super::project::render_project(&$layout, &ENV, spec)
            }
        }
    };
}
pub(crate) use source_renderer;

/// The template context of a plan: the plan itself plus the pinned dependency versions.
pub(crate) fn context(plan: &Plan, versions: &[(&str, &str)]) -> minijinja::Value {
    let versions: Map<String, Value> = versions
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
        .collect();
    minijinja::context! {
        plan => minijinja::Value::from_serialize(plan),
        versions => minijinja::Value::from_serialize(&versions),
        unknown_kind => UNKNOWN_KIND,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn identifiers_are_safe_and_unique() {
        let mut taken = HashSet::new();
        assert_eq!(unique("a".into(), &mut taken, "-"), "a");
        assert_eq!(unique("A".into(), &mut taken, "-"), "A-2");
        assert_eq!(field_key("__proto__", 0), "proto");
        assert_eq!(field_key("constructor", 0), "constructor_");
        assert_eq!(field_key("class", 0), "class_");
        assert_eq!(field_key("名字", 2), "field3");
        assert_eq!(field_key("2nd name", 0), "f_2nd_name");
        assert_eq!(kebab("/My Page/详情", 40), "my-page");
        assert_eq!(kebab("/首页", 40), "");
        let spec = AppSpec::parse(
            &serde_json::from_str(
                r#"{"appName": "a", "pages": [
                    {"id": "h", "name": "h", "path": "/"},
                    {"id": "i", "name": "i", "path": "/index"},
                    {"id": "n", "name": "n", "path": "/404"}]}"#,
            )
            .unwrap(),
        )
        .unwrap();
        let routes: Vec<String> = Plan::new(&spec)
            .unwrap()
            .pages
            .into_iter()
            .map(|p| p.route)
            .collect();
        assert_eq!(routes, ["/", "/index-page", "/404-page"]);
        assert_eq!(pascal("quiz-results"), "QuizResults");
        assert_eq!(pascal("404"), "P404");
        assert_eq!(lower_first("Class"), "classModel");
    }

    #[test]
    fn literals_escape_line_separators_and_markup() {
        let text = "a\u{2028}b\u{2029}</script>`${x}`\"'";
        let lit = js_string_literal(text);
        assert!(!lit.contains('\u{2028}') && !lit.contains('\u{2029}') && !lit.contains('<'));
        let back: String = serde_json::from_str(&lit).unwrap();
        assert_eq!(back, text);
    }
}
