//! The AppSpec model: typed, structurally parsed app descriptions that keep every unknown key, so a
//! spec survives `parse` → `to_value` unchanged (see the crate README for the exact rules).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// Why a JSON value is not a structurally valid AppSpec. `path` is JSON-path-like
/// (`pages[1].components[0].type`, `$` for the root).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SpecParseError {
    pub path: String,
    pub message: String,
}

impl SpecParseError {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        SpecParseError {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// A whole app: its pages, data models, flows and permissions.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AppSpec {
    pub version: String,
    pub app_name: String,
    pub pages: Vec<Page>,
    pub data_models: Vec<DataModel>,
    pub flows: Vec<Flow>,
    pub permissions: Permissions,
    /// Unknown top-level keys, kept verbatim.
    pub extra: Map<String, Value>,
}

/// One screen of the app, reachable at `path`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    pub id: String,
    pub name: String,
    pub path: String,
    pub components: Vec<Component>,
    pub extra: Map<String, Value>,
}

/// A UI element; `type` is one of the known component kinds (see `validation::COMPONENT_TYPES`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Component {
    pub id: String,
    /// JSON key `type`.
    pub r#type: String,
    pub props: Map<String, Value>,
    pub children: Vec<Component>,
    pub extra: Map<String, Value>,
}

/// A stored entity of the app.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DataModel {
    pub id: String,
    pub name: String,
    pub fields: Vec<Field>,
    pub extra: Map<String, Value>,
}

/// A data model attribute; `type` is `string|number|boolean|date` in a valid spec.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Field {
    pub name: String,
    /// JSON key `type`.
    pub r#type: String,
    pub required: bool,
    pub validation: Option<Value>,
    pub extra: Map<String, Value>,
}

/// Behaviour: a trigger (a string such as `"click"` or an object) and the actions it runs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Flow {
    pub id: String,
    pub name: String,
    /// A string or an object; `Value::Null` when the key is absent.
    pub trigger: Value,
    pub actions: Vec<Action>,
    pub extra: Map<String, Value>,
}

/// One step of a flow; `type` is `api|navigate|setState` in a valid spec.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Action {
    /// JSON key `type`.
    pub r#type: String,
    pub config: Map<String, Value>,
    pub extra: Map<String, Value>,
}

/// Declared roles and the rules granting them actions on resources.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Permissions {
    pub roles: Vec<String>,
    pub rules: Vec<PermissionRule>,
    pub extra: Map<String, Value>,
}

/// `roles` may perform `actions` on `resource` (a data model, a page or `*`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PermissionRule {
    pub resource: String,
    pub actions: Vec<String>,
    pub roles: Vec<String>,
    pub extra: Map<String, Value>,
}

/// A component found by [`AppSpec::components`], with where it lives.
#[derive(Debug, Clone, Copy)]
pub struct ComponentRef<'a> {
    pub component: &'a Component,
    pub page: &'a Page,
    pub page_index: usize,
    /// The enclosing component, `None` for a page's top-level components.
    pub parent: Option<&'a Component>,
}

// ---------------------------------------------------------------------------------------------
// path helpers (shared with validation and diff)

/// `parent.key`, or `key` at the root (`$`).
pub(crate) fn key_path(parent: &str, key: &str) -> String {
    if parent == "$" || parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// `parent[index]`.
pub(crate) fn index_path(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(path: &str, expected: &str, found: &Value) -> SpecParseError {
    SpecParseError::new(
        path,
        format!("expected {expected}, found {}", type_name(found)),
    )
}

// ---------------------------------------------------------------------------------------------
// parsing

fn as_object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, SpecParseError> {
    v.as_object()
        .ok_or_else(|| wrong_type(path, "an object", v))
}

/// A present, non-null key.
fn present<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    m.get(key).filter(|v| !v.is_null())
}

fn req_str(m: &Map<String, Value>, key: &str, path: &str) -> Result<String, SpecParseError> {
    let p = key_path(path, key);
    match m.get(key) {
        None | Some(Value::Null) => Err(SpecParseError::new(p, "missing required string")),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(wrong_type(&p, "a string", other)),
    }
}

fn opt_str(m: &Map<String, Value>, key: &str, path: &str) -> Result<String, SpecParseError> {
    match present(m, key) {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(wrong_type(&key_path(path, key), "a string", other)),
    }
}

fn opt_bool(m: &Map<String, Value>, key: &str, path: &str) -> Result<bool, SpecParseError> {
    match present(m, key) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(wrong_type(&key_path(path, key), "a boolean", other)),
    }
}

fn opt_object(
    m: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Map<String, Value>, SpecParseError> {
    match present(m, key) {
        None => Ok(Map::new()),
        Some(Value::Object(o)) => Ok(o.clone()),
        Some(other) => Err(wrong_type(&key_path(path, key), "an object", other)),
    }
}

/// Parses every element of an optional array with `f(element, element_path)`.
fn opt_array<T>(
    m: &Map<String, Value>,
    key: &str,
    path: &str,
    f: impl Fn(&Value, &str) -> Result<T, SpecParseError>,
) -> Result<Vec<T>, SpecParseError> {
    let p = key_path(path, key);
    match present(m, key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| f(item, &index_path(&p, i)))
            .collect(),
        Some(other) => Err(wrong_type(&p, "an array", other)),
    }
}

fn string_item(v: &Value, path: &str) -> Result<String, SpecParseError> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| wrong_type(path, "a string", v))
}

fn extra_keys(m: &Map<String, Value>, known: &[&str]) -> Map<String, Value> {
    m.iter()
        .filter(|(k, _)| !known.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

impl AppSpec {
    const KEYS: &'static [&'static str] = &[
        "version",
        "appName",
        "pages",
        "dataModels",
        "flows",
        "permissions",
    ];

    /// Structural parse: the value must be an object and known keys must have the right JSON
    /// types. Missing (or null) optional keys take their default (empty collections, `""` for
    /// `version`, `false` for `required`, `null` trigger); missing required scalars (`appName`,
    /// ids, names, page paths, `type`s, rule `resource`s) are errors. Unknown keys are kept in
    /// `extra` at every level.
    pub fn parse(value: &Value) -> Result<AppSpec, SpecParseError> {
        let path = "$";
        let m = as_object(value, path)?;
        let permissions = match present(m, "permissions") {
            None => Permissions::default(),
            Some(v) => Permissions::parse_at(v, "permissions")?,
        };
        Ok(AppSpec {
            version: opt_str(m, "version", path)?,
            app_name: req_str(m, "appName", path)?,
            pages: opt_array(m, "pages", path, Page::parse_at)?,
            data_models: opt_array(m, "dataModels", path, DataModel::parse_at)?,
            flows: opt_array(m, "flows", path, Flow::parse_at)?,
            permissions,
            extra: extra_keys(m, Self::KEYS),
        })
    }

    /// The JSON form: every known key plus the unknown ones. For any spec that has every key,
    /// `AppSpec::parse(&v)?.to_value() == v`.
    pub fn to_value(&self) -> Value {
        let mut m = self.extra.clone();
        m.insert("version".into(), Value::String(self.version.clone()));
        m.insert("appName".into(), Value::String(self.app_name.clone()));
        m.insert(
            "pages".into(),
            Value::Array(self.pages.iter().map(Page::to_value).collect()),
        );
        m.insert(
            "dataModels".into(),
            Value::Array(self.data_models.iter().map(DataModel::to_value).collect()),
        );
        m.insert(
            "flows".into(),
            Value::Array(self.flows.iter().map(Flow::to_value).collect()),
        );
        m.insert("permissions".into(), self.permissions.to_value());
        Value::Object(m)
    }

    /// Every component of every page, depth first in document order, with its JSON path.
    pub fn components(&self) -> Vec<(String, ComponentRef<'_>)> {
        fn walk<'a>(
            out: &mut Vec<(String, ComponentRef<'a>)>,
            list: &'a [Component],
            base: &str,
            page: &'a Page,
            page_index: usize,
            parent: Option<&'a Component>,
        ) {
            for (i, c) in list.iter().enumerate() {
                let path = index_path(base, i);
                out.push((
                    path.clone(),
                    ComponentRef {
                        component: c,
                        page,
                        page_index,
                        parent,
                    },
                ));
                walk(
                    out,
                    &c.children,
                    &key_path(&path, "children"),
                    page,
                    page_index,
                    Some(c),
                );
            }
        }
        let mut out = Vec::new();
        for (pi, page) in self.pages.iter().enumerate() {
            let base = key_path(&index_path("pages", pi), "components");
            walk(&mut out, &page.components, &base, page, pi, None);
        }
        out
    }

    pub fn page_by_id(&self, id: &str) -> Option<&Page> {
        self.pages.iter().find(|p| p.id == id)
    }

    /// A data model by id, or else by name.
    pub fn data_model(&self, id_or_name: &str) -> Option<&DataModel> {
        self.data_models
            .iter()
            .find(|m| m.id == id_or_name)
            .or_else(|| self.data_models.iter().find(|m| m.name == id_or_name))
    }

    pub fn flow_by_id(&self, id: &str) -> Option<&Flow> {
        self.flows.iter().find(|f| f.id == id)
    }
}

impl Page {
    const KEYS: &'static [&'static str] = &["id", "name", "path", "components"];

    fn parse_at(v: &Value, path: &str) -> Result<Page, SpecParseError> {
        let m = as_object(v, path)?;
        Ok(Page {
            id: req_str(m, "id", path)?,
            name: req_str(m, "name", path)?,
            path: req_str(m, "path", path)?,
            components: opt_array(m, "components", path, Component::parse_at)?,
            extra: extra_keys(m, Self::KEYS),
        })
    }

    /// Parses a page on its own (paths in errors are relative to it).
    pub fn parse(v: &Value) -> Result<Page, SpecParseError> {
        Self::parse_at(v, "$")
    }

    pub fn to_value(&self) -> Value {
        let mut m = self.own_fields();
        m.insert(
            "components".into(),
            Value::Array(self.components.iter().map(Component::to_value).collect()),
        );
        Value::Object(m)
    }

    /// The page without its components (what a page-level change compares).
    pub fn own_fields(&self) -> Map<String, Value> {
        let mut m = self.extra.clone();
        m.insert("id".into(), Value::String(self.id.clone()));
        m.insert("name".into(), Value::String(self.name.clone()));
        m.insert("path".into(), Value::String(self.path.clone()));
        m
    }
}

impl Component {
    const KEYS: &'static [&'static str] = &["id", "type", "props", "children"];

    fn parse_at(v: &Value, path: &str) -> Result<Component, SpecParseError> {
        let m = as_object(v, path)?;
        Ok(Component {
            id: req_str(m, "id", path)?,
            r#type: req_str(m, "type", path)?,
            props: opt_object(m, "props", path)?,
            children: opt_array(m, "children", path, Component::parse_at)?,
            extra: extra_keys(m, Self::KEYS),
        })
    }

    pub fn parse(v: &Value) -> Result<Component, SpecParseError> {
        Self::parse_at(v, "$")
    }

    pub fn to_value(&self) -> Value {
        let mut m = self.own_fields();
        m.insert(
            "children".into(),
            Value::Array(self.children.iter().map(Component::to_value).collect()),
        );
        Value::Object(m)
    }

    /// The component without its children.
    pub fn own_fields(&self) -> Map<String, Value> {
        let mut m = self.extra.clone();
        m.insert("id".into(), Value::String(self.id.clone()));
        m.insert("type".into(), Value::String(self.r#type.clone()));
        m.insert("props".into(), Value::Object(self.props.clone()));
        m
    }
}

impl DataModel {
    const KEYS: &'static [&'static str] = &["id", "name", "fields"];

    fn parse_at(v: &Value, path: &str) -> Result<DataModel, SpecParseError> {
        let m = as_object(v, path)?;
        Ok(DataModel {
            id: req_str(m, "id", path)?,
            name: req_str(m, "name", path)?,
            fields: opt_array(m, "fields", path, Field::parse_at)?,
            extra: extra_keys(m, Self::KEYS),
        })
    }

    pub fn parse(v: &Value) -> Result<DataModel, SpecParseError> {
        Self::parse_at(v, "$")
    }

    pub fn to_value(&self) -> Value {
        let mut m = self.own_fields();
        m.insert(
            "fields".into(),
            Value::Array(self.fields.iter().map(Field::to_value).collect()),
        );
        Value::Object(m)
    }

    /// The model without its fields.
    pub fn own_fields(&self) -> Map<String, Value> {
        let mut m = self.extra.clone();
        m.insert("id".into(), Value::String(self.id.clone()));
        m.insert("name".into(), Value::String(self.name.clone()));
        m
    }
}

impl Field {
    const KEYS: &'static [&'static str] = &["name", "type", "required", "validation"];

    fn parse_at(v: &Value, path: &str) -> Result<Field, SpecParseError> {
        let m = as_object(v, path)?;
        Ok(Field {
            name: req_str(m, "name", path)?,
            r#type: req_str(m, "type", path)?,
            required: opt_bool(m, "required", path)?,
            validation: present(m, "validation").cloned(),
            extra: extra_keys(m, Self::KEYS),
        })
    }

    pub fn parse(v: &Value) -> Result<Field, SpecParseError> {
        Self::parse_at(v, "$")
    }

    pub fn to_value(&self) -> Value {
        let mut m = self.extra.clone();
        m.insert("name".into(), Value::String(self.name.clone()));
        m.insert("type".into(), Value::String(self.r#type.clone()));
        m.insert("required".into(), Value::Bool(self.required));
        if let Some(v) = &self.validation {
            m.insert("validation".into(), v.clone());
        }
        Value::Object(m)
    }
}

impl Flow {
    const KEYS: &'static [&'static str] = &["id", "name", "trigger", "actions"];

    fn parse_at(v: &Value, path: &str) -> Result<Flow, SpecParseError> {
        let m = as_object(v, path)?;
        let trigger = match m.get("trigger") {
            None | Some(Value::Null) => Value::Null,
            Some(t @ (Value::String(_) | Value::Object(_))) => t.clone(),
            Some(other) => {
                return Err(wrong_type(
                    &key_path(path, "trigger"),
                    "a string or an object",
                    other,
                ))
            }
        };
        Ok(Flow {
            id: req_str(m, "id", path)?,
            name: req_str(m, "name", path)?,
            trigger,
            actions: opt_array(m, "actions", path, Action::parse_at)?,
            extra: extra_keys(m, Self::KEYS),
        })
    }

    pub fn parse(v: &Value) -> Result<Flow, SpecParseError> {
        Self::parse_at(v, "$")
    }

    pub fn to_value(&self) -> Value {
        let mut m = self.extra.clone();
        m.insert("id".into(), Value::String(self.id.clone()));
        m.insert("name".into(), Value::String(self.name.clone()));
        m.insert("trigger".into(), self.trigger.clone());
        m.insert(
            "actions".into(),
            Value::Array(self.actions.iter().map(Action::to_value).collect()),
        );
        Value::Object(m)
    }
}

impl Action {
    const KEYS: &'static [&'static str] = &["type", "config"];

    fn parse_at(v: &Value, path: &str) -> Result<Action, SpecParseError> {
        let m = as_object(v, path)?;
        Ok(Action {
            r#type: req_str(m, "type", path)?,
            config: opt_object(m, "config", path)?,
            extra: extra_keys(m, Self::KEYS),
        })
    }

    pub fn parse(v: &Value) -> Result<Action, SpecParseError> {
        Self::parse_at(v, "$")
    }

    pub fn to_value(&self) -> Value {
        let mut m = self.extra.clone();
        m.insert("type".into(), Value::String(self.r#type.clone()));
        m.insert("config".into(), Value::Object(self.config.clone()));
        Value::Object(m)
    }

    /// The first of `keys` present in `config` as a string.
    pub fn config_str<'k>(&self, keys: &[&'k str]) -> Option<(&'k str, &str)> {
        keys.iter()
            .find_map(|k| self.config.get(*k).and_then(Value::as_str).map(|v| (*k, v)))
    }
}

impl Permissions {
    const KEYS: &'static [&'static str] = &["roles", "rules"];

    fn parse_at(v: &Value, path: &str) -> Result<Permissions, SpecParseError> {
        let m = as_object(v, path)?;
        Ok(Permissions {
            roles: opt_array(m, "roles", path, string_item)?,
            rules: opt_array(m, "rules", path, PermissionRule::parse_at)?,
            extra: extra_keys(m, Self::KEYS),
        })
    }

    pub fn parse(v: &Value) -> Result<Permissions, SpecParseError> {
        Self::parse_at(v, "$")
    }

    pub fn to_value(&self) -> Value {
        let mut m = self.extra.clone();
        m.insert("roles".into(), strings(&self.roles));
        m.insert(
            "rules".into(),
            Value::Array(self.rules.iter().map(PermissionRule::to_value).collect()),
        );
        Value::Object(m)
    }
}

impl PermissionRule {
    const KEYS: &'static [&'static str] = &["resource", "actions", "roles"];

    fn parse_at(v: &Value, path: &str) -> Result<PermissionRule, SpecParseError> {
        let m = as_object(v, path)?;
        Ok(PermissionRule {
            resource: req_str(m, "resource", path)?,
            actions: opt_array(m, "actions", path, string_item)?,
            roles: opt_array(m, "roles", path, string_item)?,
            extra: extra_keys(m, Self::KEYS),
        })
    }

    pub fn parse(v: &Value) -> Result<PermissionRule, SpecParseError> {
        Self::parse_at(v, "$")
    }

    pub fn to_value(&self) -> Value {
        let mut m = self.extra.clone();
        m.insert("resource".into(), Value::String(self.resource.clone()));
        m.insert("actions".into(), strings(&self.actions));
        m.insert("roles".into(), strings(&self.roles));
        Value::Object(m)
    }
}

fn strings(items: &[String]) -> Value {
    Value::Array(items.iter().cloned().map(Value::String).collect())
}

/// serde goes through `parse` / `to_value`, so JSON (de)serialisation has exactly the same rules
/// (unknown keys kept, defaults, error paths in the message).
macro_rules! serde_via_value {
    ($($t:ty),* $(,)?) => {$(
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                self.to_value().serialize(serializer)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let v = Value::deserialize(deserializer)?;
                <$t>::parse(&v).map_err(serde::de::Error::custom)
            }
        }
    )*};
}

serde_via_value!(
    AppSpec,
    Page,
    Component,
    DataModel,
    Field,
    Flow,
    Action,
    Permissions,
    PermissionRule
);

/// Sample specs for tests in this and other crates (not test-only so other crates can use it).
pub mod fixtures {
    use serde_json::{json, Value};

    /// A small, valid quiz app (three pages, two data models, two flows, two roles) that passes
    /// every validation rule (rule score 100).
    pub fn sample() -> Value {
        json!({
            "version": "1.0.0",
            "appName": "Vocabulary Quiz",
            "description": "Practise English words with a short quiz",
            "pages": [
                {
                    "id": "home",
                    "name": "Home",
                    "path": "/",
                    "components": [
                        {"id": "home-header", "type": "Header", "props": {"title": "Vocabulary Quiz"}, "children": []},
                        {"id": "home-intro", "type": "Text", "props": {"text": "Ten words, one minute. Ready?"}, "children": []},
                        {"id": "start-button", "type": "Button", "props": {"label": "Start", "onClick": "start-quiz"}, "children": []}
                    ]
                },
                {
                    "id": "quiz",
                    "name": "Quiz",
                    "path": "/quiz",
                    "components": [
                        {"id": "quiz-timer", "type": "Timer", "props": {"seconds": 60}, "children": []},
                        {
                            "id": "quiz-card",
                            "type": "Card",
                            "props": {},
                            "children": [
                                {"id": "quiz-main", "type": "Quiz", "props": {"dataModel": "word", "questionCount": 10}, "children": []},
                                {"id": "submit-button", "type": "Button", "props": {"label": "Submit", "flowId": "submit-answers"}, "children": []}
                            ]
                        }
                    ]
                },
                {
                    "id": "results",
                    "name": "Results",
                    "path": "/results",
                    "components": [
                        {"id": "results-score", "type": "Text", "props": {"text": "Your score"}, "children": []},
                        {"id": "results-list", "type": "List", "props": {"model": "Result"}, "children": []}
                    ]
                }
            ],
            "dataModels": [
                {
                    "id": "word",
                    "name": "Word",
                    "fields": [
                        {"name": "term", "type": "string", "required": true, "validation": {"maxLength": 50}},
                        {"name": "meaning", "type": "string", "required": true},
                        {"name": "level", "type": "number", "required": false}
                    ]
                },
                {
                    "id": "result",
                    "name": "Result",
                    "fields": [
                        {"name": "score", "type": "number", "required": true},
                        {"name": "passed", "type": "boolean", "required": false},
                        {"name": "takenAt", "type": "date", "required": true}
                    ]
                }
            ],
            "flows": [
                {
                    "id": "start-quiz",
                    "name": "Start quiz",
                    "trigger": "click",
                    "actions": [
                        {"type": "setState", "config": {"key": "score", "value": 0}},
                        {"type": "navigate", "config": {"to": "/quiz"}}
                    ]
                },
                {
                    "id": "submit-answers",
                    "name": "Submit answers",
                    "trigger": {"event": "submit", "component": "quiz-main"},
                    "actions": [
                        {"type": "api", "config": {"method": "POST", "model": "result"}},
                        {"type": "navigate", "config": {"pageId": "results"}}
                    ]
                }
            ],
            "permissions": {
                "roles": ["student", "teacher"],
                "rules": [
                    {"resource": "word", "actions": ["read"], "roles": ["student", "teacher"]},
                    {"resource": "Result", "actions": ["create", "read"], "roles": ["student"]},
                    {"resource": "results", "actions": ["view"], "roles": ["teacher"]}
                ]
            }
        })
    }
}

#[cfg(test)]
mod tests;
