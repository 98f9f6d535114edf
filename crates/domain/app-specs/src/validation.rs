//! The rule pass over an AppSpec: findings with stable codes and JSON-path-like paths, the rule
//! score (100 − 20·errors − 5·warnings) and the final quality score mixing in the AI review.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::spec::{index_path, key_path, AppSpec};

/// Component types a renderer knows; anything else is a warning.
pub const COMPONENT_TYPES: &[&str] = &[
    "Text",
    "Button",
    "Image",
    "Input",
    "Form",
    "List",
    "Card",
    "Container",
    "Row",
    "Column",
    "Header",
    "Footer",
    "Navbar",
    "Link",
    "Checkbox",
    "Select",
    "Textarea",
    "Table",
    "Chart",
    "Video",
    "Audio",
    "Divider",
    "Icon",
    "Modal",
    "Tabs",
    "Badge",
    "Avatar",
    "Progress",
    "Timer",
    "Quiz",
    "DatePicker",
    "Switch",
    "Slider",
];
/// Data model field types.
pub const FIELD_TYPES: &[&str] = &["string", "number", "boolean", "date"];
/// Flow action types.
pub const ACTION_TYPES: &[&str] = &["api", "navigate", "setState"];

/// Props of a component that name a data model (by id or name).
pub const MODEL_PROPS: &[&str] = &["dataModel", "model"];
/// Props of a component that name a flow (by id).
pub const FLOW_PROPS: &[&str] = &["onClick", "flow", "flowId"];
/// Config keys of a `navigate` action that name a page (by path or id).
pub const NAVIGATE_KEYS: &[&str] = &["to", "path", "pageId"];
/// Config keys of an `api` action that name a data model (by id or name).
pub const API_MODEL_KEYS: &[&str] = &["model", "dataModel"];

/// Longest accepted `appName`, in characters.
pub const MAX_APP_NAME_CHARS: usize = 100;

/// Stable finding codes.
pub mod codes {
    pub const INVALID_SPEC: &str = "invalid_spec";
    pub const BAD_VERSION: &str = "bad_version";
    pub const BLANK_APP_NAME: &str = "blank_app_name";
    pub const APP_NAME_TOO_LONG: &str = "app_name_too_long";
    pub const NO_PAGES: &str = "no_pages";
    pub const BLANK_ID: &str = "blank_id";
    pub const BLANK_NAME: &str = "blank_name";
    pub const DUPLICATE_ID: &str = "duplicate_id";
    pub const BAD_PATH: &str = "bad_path";
    pub const DUPLICATE_PATH: &str = "duplicate_path";
    pub const EMPTY_PAGE: &str = "empty_page";
    pub const UNKNOWN_COMPONENT_TYPE: &str = "unknown_component_type";
    pub const BAD_FIELD_TYPE: &str = "bad_field_type";
    pub const DUPLICATE_FIELD: &str = "duplicate_field";
    pub const EMPTY_MODEL: &str = "empty_model";
    pub const UNRESOLVED_REFERENCE: &str = "unresolved_reference";
    pub const BAD_ACTION_TYPE: &str = "bad_action_type";
    pub const EMPTY_TRIGGER: &str = "empty_trigger";
    pub const UNDECLARED_ROLE: &str = "undeclared_role";
    pub const UNKNOWN_RESOURCE: &str = "unknown_resource";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub path: String,
    pub severity: Severity,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationReport {
    /// In document order (app, pages and their components, data models, flows, permissions).
    pub findings: Vec<Finding>,
    pub errors: u32,
    pub warnings: u32,
    pub rule_score: u8,
}

impl ValidationReport {
    pub fn is_valid(&self) -> bool {
        self.errors == 0
    }

    fn from_findings(findings: Vec<Finding>) -> Self {
        let errors = count(&findings, Severity::Error);
        let warnings = count(&findings, Severity::Warning);
        ValidationReport {
            findings,
            errors,
            warnings,
            rule_score: rule_score(errors, warnings),
        }
    }

    /// Findings with this code.
    pub fn with_code<'a>(&'a self, code: &'a str) -> impl Iterator<Item = &'a Finding> + 'a {
        self.findings.iter().filter(move |f| f.code == code)
    }
}

fn count(findings: &[Finding], severity: Severity) -> u32 {
    u32::try_from(findings.iter().filter(|f| f.severity == severity).count()).unwrap_or(u32::MAX)
}

/// `max(0, 100 − 20·errors − 5·warnings)`.
pub fn rule_score(errors: u32, warnings: u32) -> u8 {
    let score = 100_i64 - 20 * i64::from(errors) - 5 * i64::from(warnings);
    u8::try_from(score.clamp(0, 100)).unwrap_or(0)
}

/// `⌊0.6·rule + 0.4·ai⌋` in integer arithmetic (both inputs capped at 100).
pub fn final_score(rule: u8, ai: u8) -> u8 {
    let total = 6 * u32::from(rule.min(100)) + 4 * u32::from(ai.min(100));
    u8::try_from(total / 10).unwrap_or(100)
}

/// Validates a raw JSON spec: a structural parse error becomes a single `invalid_spec` error at
/// the parse error's path.
pub fn validate_value(v: &Value) -> ValidationReport {
    match AppSpec::parse(v) {
        Ok(spec) => validate(&spec),
        Err(e) => ValidationReport::from_findings(vec![Finding {
            path: e.path,
            severity: Severity::Error,
            code: codes::INVALID_SPEC.to_string(),
            message: e.message,
        }]),
    }
}

/// Runs every rule (see the crate README) over a parsed spec.
pub fn validate(spec: &AppSpec) -> ValidationReport {
    let mut v = Validator {
        spec,
        findings: Vec::new(),
    };
    v.app();
    v.pages();
    v.components();
    v.data_models();
    v.flows();
    v.permissions();
    ValidationReport::from_findings(v.findings)
}

/// `x.y.z` with numeric parts, optionally followed by `-pre` / `+build`.
pub fn is_semver_like(s: &str) -> bool {
    let core = s.split(['-', '+']).next().unwrap_or("");
    let tail_ok = core.len() == s.len() || s.len() > core.len() + 1;
    let parts: Vec<&str> = core.split('.').collect();
    tail_ok
        && parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// The page path part of a navigation target (`/quiz?x=1#top` → `/quiz`).
fn strip_query(target: &str) -> &str {
    target.split(['?', '#']).next().unwrap_or(target)
}

struct Validator<'a> {
    spec: &'a AppSpec,
    findings: Vec<Finding>,
}

impl Validator<'_> {
    fn push(&mut self, path: String, severity: Severity, code: &str, message: String) {
        self.findings.push(Finding {
            path,
            severity,
            code: code.to_string(),
            message,
        });
    }
    fn error(&mut self, path: String, code: &str, message: String) {
        self.push(path, Severity::Error, code, message);
    }
    fn warning(&mut self, path: String, code: &str, message: String) {
        self.push(path, Severity::Warning, code, message);
    }

    /// Reports blank ids and duplicates among `(path_of_item, id)`; `what` names the kind.
    fn unique_ids(&mut self, what: &str, items: Vec<(String, &str)>) {
        let mut seen: HashMap<&str, String> = HashMap::new();
        for (item_path, id) in items {
            let id_path = key_path(&item_path, "id");
            if id.trim().is_empty() {
                self.error(
                    id_path,
                    codes::BLANK_ID,
                    format!("{what} id must not be blank"),
                );
                continue;
            }
            match seen.get(id) {
                Some(first) => {
                    let message =
                        format!("duplicate {what} id \"{id}\" at {first} and {item_path}");
                    self.error(id_path, codes::DUPLICATE_ID, message);
                }
                None => {
                    seen.insert(id, item_path);
                }
            }
        }
    }

    fn blank_name(&mut self, what: &str, item_path: &str, name: &str) {
        if name.trim().is_empty() {
            self.error(
                key_path(item_path, "name"),
                codes::BLANK_NAME,
                format!("{what} name must not be blank"),
            );
        }
    }

    fn app(&mut self) {
        let spec = self.spec;
        if spec.version.trim().is_empty() {
            self.warning(
                "version".into(),
                codes::BAD_VERSION,
                "version is missing (expected \"x.y.z\")".into(),
            );
        } else if !is_semver_like(&spec.version) {
            let message = format!("version \"{}\" is not of the form \"x.y.z\"", spec.version);
            self.warning("version".into(), codes::BAD_VERSION, message);
        }
        if spec.app_name.trim().is_empty() {
            self.error(
                "appName".into(),
                codes::BLANK_APP_NAME,
                "appName must not be blank".into(),
            );
        } else {
            let chars = spec.app_name.chars().count();
            if chars > MAX_APP_NAME_CHARS {
                let message =
                    format!("appName is {chars} characters long (at most {MAX_APP_NAME_CHARS})");
                self.error("appName".into(), codes::APP_NAME_TOO_LONG, message);
            }
        }
    }

    fn pages(&mut self) {
        let spec = self.spec;
        if spec.pages.is_empty() {
            self.error(
                "pages".into(),
                codes::NO_PAGES,
                "the app needs at least one page".into(),
            );
        }
        self.unique_ids(
            "page",
            spec.pages
                .iter()
                .enumerate()
                .map(|(i, p)| (index_path("pages", i), p.id.as_str()))
                .collect(),
        );
        let mut paths: HashMap<&str, String> = HashMap::new();
        for (i, page) in spec.pages.iter().enumerate() {
            let at = index_path("pages", i);
            self.blank_name("page", &at, &page.name);
            let path_at = key_path(&at, "path");
            if !page.path.starts_with('/') {
                let message = format!("page path \"{}\" must start with \"/\"", page.path);
                self.error(path_at, codes::BAD_PATH, message);
            } else if let Some(first) = paths.get(page.path.as_str()) {
                let message = format!("duplicate page path \"{}\" at {first} and {at}", page.path);
                self.error(path_at, codes::DUPLICATE_PATH, message);
            } else {
                paths.insert(page.path.as_str(), at.clone());
            }
            if page.components.is_empty() {
                self.warning(
                    key_path(&at, "components"),
                    codes::EMPTY_PAGE,
                    format!("page \"{}\" has no components", page.id),
                );
            }
        }
    }

    fn components(&mut self) {
        let spec = self.spec;
        let all = spec.components();
        self.unique_ids(
            "component",
            all.iter()
                .map(|(p, c)| (p.clone(), c.component.id.as_str()))
                .collect(),
        );
        for (at, c) in &all {
            let c = c.component;
            if !COMPONENT_TYPES.contains(&c.r#type.as_str()) {
                let message = format!("unknown component type \"{}\"", c.r#type);
                self.warning(key_path(at, "type"), codes::UNKNOWN_COMPONENT_TYPE, message);
            }
            self.component_refs(at, &c.props);
        }
    }

    fn component_refs(&mut self, at: &str, props: &Map<String, Value>) {
        let spec = self.spec;
        let props_at = key_path(at, "props");
        for key in MODEL_PROPS {
            if let Some(name) = props.get(*key).and_then(Value::as_str) {
                if spec.data_model(name).is_none() {
                    let message = format!("prop {key} names no data model \"{name}\"");
                    self.error(
                        key_path(&props_at, key),
                        codes::UNRESOLVED_REFERENCE,
                        message,
                    );
                }
            }
        }
        for key in FLOW_PROPS {
            if let Some(id) = props.get(*key).and_then(Value::as_str) {
                if spec.flow_by_id(id).is_none() {
                    let message = format!("prop {key} names no flow \"{id}\"");
                    self.error(
                        key_path(&props_at, key),
                        codes::UNRESOLVED_REFERENCE,
                        message,
                    );
                }
            }
        }
    }

    fn data_models(&mut self) {
        let spec = self.spec;
        self.unique_ids(
            "data model",
            spec.data_models
                .iter()
                .enumerate()
                .map(|(i, m)| (index_path("dataModels", i), m.id.as_str()))
                .collect(),
        );
        for (i, model) in spec.data_models.iter().enumerate() {
            let at = index_path("dataModels", i);
            self.blank_name("data model", &at, &model.name);
            let fields_at = key_path(&at, "fields");
            if model.fields.is_empty() {
                self.warning(
                    fields_at.clone(),
                    codes::EMPTY_MODEL,
                    format!("data model \"{}\" has no fields", model.id),
                );
            }
            let mut names: HashMap<&str, String> = HashMap::new();
            for (j, field) in model.fields.iter().enumerate() {
                let field_at = index_path(&fields_at, j);
                self.blank_name("field", &field_at, &field.name);
                if !FIELD_TYPES.contains(&field.r#type.as_str()) {
                    let message = format!(
                        "field \"{}\" has type \"{}\" (expected one of {})",
                        field.name,
                        field.r#type,
                        FIELD_TYPES.join("|")
                    );
                    self.error(key_path(&field_at, "type"), codes::BAD_FIELD_TYPE, message);
                }
                if field.name.trim().is_empty() {
                    continue;
                }
                match names.get(field.name.as_str()) {
                    Some(first) => {
                        let message = format!(
                            "duplicate field \"{}\" in data model \"{}\" at {first} and {field_at}",
                            field.name, model.id
                        );
                        self.error(key_path(&field_at, "name"), codes::DUPLICATE_FIELD, message);
                    }
                    None => {
                        names.insert(field.name.as_str(), field_at.clone());
                    }
                }
            }
        }
    }

    fn flows(&mut self) {
        let spec = self.spec;
        self.unique_ids(
            "flow",
            spec.flows
                .iter()
                .enumerate()
                .map(|(i, f)| (index_path("flows", i), f.id.as_str()))
                .collect(),
        );
        for (i, flow) in spec.flows.iter().enumerate() {
            let at = index_path("flows", i);
            self.blank_name("flow", &at, &flow.name);
            let empty_trigger = match &flow.trigger {
                Value::Null => true,
                Value::String(s) => s.trim().is_empty(),
                Value::Object(o) => o.is_empty(),
                Value::Array(a) => a.is_empty(),
                Value::Bool(_) | Value::Number(_) => false,
            };
            if empty_trigger {
                self.error(
                    key_path(&at, "trigger"),
                    codes::EMPTY_TRIGGER,
                    format!("flow \"{}\" has no trigger", flow.id),
                );
            }
            for (j, action) in flow.actions.iter().enumerate() {
                let action_at = index_path(&key_path(&at, "actions"), j);
                let config_at = key_path(&action_at, "config");
                match action.r#type.as_str() {
                    "navigate" => {
                        for key in NAVIGATE_KEYS {
                            let Some(target) = action.config.get(*key).and_then(Value::as_str)
                            else {
                                continue;
                            };
                            let resolves = spec
                                .pages
                                .iter()
                                .any(|p| p.id == target || p.path == strip_query(target));
                            if !resolves {
                                let message = format!(
                                    "navigate target \"{target}\" names no page path or id"
                                );
                                self.error(
                                    key_path(&config_at, key),
                                    codes::UNRESOLVED_REFERENCE,
                                    message,
                                );
                            }
                        }
                    }
                    "api" => {
                        for key in API_MODEL_KEYS {
                            let Some(name) = action.config.get(*key).and_then(Value::as_str) else {
                                continue;
                            };
                            if spec.data_model(name).is_none() {
                                let message =
                                    format!("api action {key} names no data model \"{name}\"");
                                self.error(
                                    key_path(&config_at, key),
                                    codes::UNRESOLVED_REFERENCE,
                                    message,
                                );
                            }
                        }
                    }
                    "setState" => {}
                    other => {
                        let message = format!(
                            "unknown action type \"{other}\" (expected one of {})",
                            ACTION_TYPES.join("|")
                        );
                        self.error(
                            key_path(&action_at, "type"),
                            codes::BAD_ACTION_TYPE,
                            message,
                        );
                    }
                }
            }
        }
    }

    fn permissions(&mut self) {
        let spec = self.spec;
        let declared: HashSet<&str> = spec.permissions.roles.iter().map(String::as_str).collect();
        for (i, rule) in spec.permissions.rules.iter().enumerate() {
            let at = index_path("permissions.rules", i);
            for (j, role) in rule.roles.iter().enumerate() {
                if !declared.contains(role.as_str()) {
                    let message = format!("role \"{role}\" is not declared in permissions.roles");
                    self.error(
                        index_path(&key_path(&at, "roles"), j),
                        codes::UNDECLARED_ROLE,
                        message,
                    );
                }
            }
            let r = rule.resource.as_str();
            let known = r == "*"
                || spec.data_model(r).is_some()
                || spec.pages.iter().any(|p| p.id == r || p.path == r);
            if !known {
                let message = format!("resource \"{r}\" names no data model, page or \"*\"");
                self.warning(key_path(&at, "resource"), codes::UNKNOWN_RESOURCE, message);
            }
        }
    }
}

#[cfg(test)]
mod tests;
