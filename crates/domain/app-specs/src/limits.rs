//! Size limits of an AppSpec (pages, components, data models, fields, nesting, strings, bytes),
//! checked on the raw JSON before any parse, validation, diff or render: bytes first, then one
//! iterative pass (an explicit stack, no recursion, so a deeply nested document cannot overflow
//! the stack) that stops at the first limit exceeded.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The limits; every field is configurable as `ingenio.spec-limits.<kebab-case name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct SpecLimits {
    /// Bytes of the spec as compact JSON.
    pub max_bytes: usize,
    pub max_pages: usize,
    /// Components in the whole spec, nested ones included.
    pub max_components: usize,
    /// Components of one page, nested ones included.
    pub max_components_per_page: usize,
    pub max_data_models: usize,
    pub max_fields_per_model: usize,
    /// How deep components nest (a page's own components are at depth 1).
    pub max_depth: usize,
    /// Characters (not bytes) of any string, object keys included.
    pub max_string_chars: usize,
}

impl Default for SpecLimits {
    fn default() -> Self {
        Self {
            max_bytes: 256 * 1024,
            max_pages: 50,
            max_components: 2_000,
            max_components_per_page: 500,
            max_data_models: 50,
            max_fields_per_model: 200,
            max_depth: 16,
            max_string_chars: 10_000,
        }
    }
}

/// Which limit a spec went over, by how much, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct LimitExceeded {
    /// The configuration key, e.g. `ingenio.spec-limits.max-pages`.
    pub limit: &'static str,
    pub max: usize,
    pub actual: usize,
    /// JSON-path-like location (`$` for the whole spec).
    pub path: String,
    /// E.g. `spec has 61 pages; the limit is 50 (ingenio.spec-limits.max-pages)`.
    pub message: String,
}

fn exceeded(
    limit: &'static str,
    max: usize,
    actual: usize,
    path: &str,
    what: String,
) -> LimitExceeded {
    LimitExceeded {
        limit,
        max,
        actual,
        path: path.to_owned(),
        message: format!("{what}; the limit is {max} ({limit})"),
    }
}

/// Bytes of `v` as compact JSON (what `serde_json::to_vec` would give), counted without
/// recursion and without writing anything.
pub fn json_bytes(v: &Value) -> usize {
    fn string_bytes(s: &str) -> usize {
        // quotes, plus what escaping adds: `\"` `\\` and short control escapes are two bytes,
        // other control characters six (`\u001f`)
        2 + s
            .bytes()
            .map(|b| match b {
                b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
                0..=0x1f => 6,
                _ => 1,
            })
            .sum::<usize>()
    }
    let mut total = 0usize;
    let mut stack: Vec<&Value> = vec![v];
    while let Some(v) = stack.pop() {
        total += match v {
            Value::Null => 4,
            Value::Bool(true) => 4,
            Value::Bool(false) => 5,
            Value::Number(n) => n.to_string().len(),
            Value::String(s) => string_bytes(s),
            Value::Array(items) => {
                stack.extend(items.iter());
                2 + items.len().saturating_sub(1)
            }
            Value::Object(m) => {
                stack.extend(m.values());
                // braces, commas, and per entry its key and a colon
                2 + m.len().saturating_sub(1) + m.keys().map(|k| string_bytes(k) + 1).sum::<usize>()
            }
        };
    }
    total
}

fn array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

impl SpecLimits {
    /// Checks `spec` (raw JSON, before any parse): its size in bytes first, then counts and
    /// depths in one iterative pass. Values of the wrong JSON type are not counted (the parse
    /// reports them); every string anywhere, keys included, is measured.
    pub fn check(&self, spec: &Value) -> Result<(), LimitExceeded> {
        let bytes = json_bytes(spec);
        if bytes > self.max_bytes {
            return Err(exceeded(
                "ingenio.spec-limits.max-bytes",
                self.max_bytes,
                bytes,
                "$",
                format!("spec is {bytes} bytes of JSON"),
            ));
        }
        self.check_strings(spec)?;
        let pages = array(spec, "pages");
        if pages.len() > self.max_pages {
            return Err(exceeded(
                "ingenio.spec-limits.max-pages",
                self.max_pages,
                pages.len(),
                "pages",
                format!("spec has {} pages", pages.len()),
            ));
        }
        let mut total = 0usize;
        for (pi, page) in pages.iter().enumerate() {
            let base = format!("pages[{pi}].components");
            let mut on_page = 0usize;
            // (component, its path, depth)
            let mut stack: Vec<(&Value, String, usize)> = array(page, "components")
                .iter()
                .enumerate()
                .rev()
                .map(|(i, c)| (c, format!("{base}[{i}]"), 1))
                .collect();
            while let Some((c, path, depth)) = stack.pop() {
                on_page += 1;
                total += 1;
                if depth > self.max_depth {
                    return Err(exceeded(
                        "ingenio.spec-limits.max-depth",
                        self.max_depth,
                        depth,
                        &path,
                        format!("component {path} is nested {depth} deep"),
                    ));
                }
                let children = array(c, "children");
                stack.extend(
                    children
                        .iter()
                        .enumerate()
                        .rev()
                        .map(|(i, child)| (child, format!("{path}.children[{i}]"), depth + 1)),
                );
            }
            if on_page > self.max_components_per_page {
                let p = format!("pages[{pi}]");
                return Err(exceeded(
                    "ingenio.spec-limits.max-components-per-page",
                    self.max_components_per_page,
                    on_page,
                    &p,
                    format!("page {p} has {on_page} components"),
                ));
            }
        }
        if total > self.max_components {
            return Err(exceeded(
                "ingenio.spec-limits.max-components",
                self.max_components,
                total,
                "pages",
                format!("spec has {total} components"),
            ));
        }
        let models = array(spec, "dataModels");
        if models.len() > self.max_data_models {
            return Err(exceeded(
                "ingenio.spec-limits.max-data-models",
                self.max_data_models,
                models.len(),
                "dataModels",
                format!("spec has {} data models", models.len()),
            ));
        }
        for (mi, model) in models.iter().enumerate() {
            let fields = array(model, "fields").len();
            if fields > self.max_fields_per_model {
                let p = format!("dataModels[{mi}]");
                return Err(exceeded(
                    "ingenio.spec-limits.max-fields-per-model",
                    self.max_fields_per_model,
                    fields,
                    &format!("{p}.fields"),
                    format!("data model {p} has {fields} fields"),
                ));
            }
        }
        Ok(())
    }

    /// Every string and object key, without recursion. The path is built only for the culprit.
    fn check_strings(&self, spec: &Value) -> Result<(), LimitExceeded> {
        let too_long = |s: &str| {
            // a string within the limit in bytes is within it in characters: skip the count
            s.len() > self.max_string_chars && s.chars().count() > self.max_string_chars
        };
        let mut stack: Vec<&Value> = vec![spec];
        while let Some(v) = stack.pop() {
            match v {
                Value::String(s) if too_long(s) => return Err(self.long_string(spec, s)),
                Value::Array(items) => stack.extend(items.iter()),
                Value::Object(m) => {
                    for (k, item) in m {
                        if too_long(k) {
                            return Err(self.long_string(spec, k));
                        }
                        stack.push(item);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The error for the over-long string `s` (found again by address to name its path).
    fn long_string(&self, spec: &Value, s: &str) -> LimitExceeded {
        let chars = s.chars().count();
        let path = path_of(spec, s).unwrap_or_else(|| "$".to_owned());
        exceeded(
            "ingenio.spec-limits.max-string-chars",
            self.max_string_chars,
            chars,
            &path,
            format!("a string at {path} has {chars} characters"),
        )
    }
}

/// The JSON path of the string (value or key) at the address of `target`, found iteratively.
fn path_of(root: &Value, target: &str) -> Option<String> {
    let mut stack: Vec<(&Value, String)> = vec![(root, "$".to_owned())];
    let join = |base: &str, key: &str| {
        if base == "$" {
            key.to_owned()
        } else {
            format!("{base}.{key}")
        }
    };
    while let Some((v, path)) = stack.pop() {
        match v {
            Value::String(s) if std::ptr::eq(s.as_str(), target) => return Some(path),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    stack.push((item, format!("{path}[{i}]")));
                }
            }
            Value::Object(m) => {
                for (k, item) in m {
                    if std::ptr::eq(k.as_str(), target) {
                        return Some(join(&path, k));
                    }
                    stack.push((item, join(&path, k)));
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests;
