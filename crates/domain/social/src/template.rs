//! Magic prompt templates: `{name}` placeholders filled over default variables.
//!
//! A placeholder is `{` + 1–64 characters that are letters, digits (any script, so `{主题}` is a
//! placeholder), `_` or `-` + `}`. Every other brace is literal text, so `{ }`, `{a b}` or a lone
//! `{` stay as they are. Filling is one left-to-right pass: a value is copied literally and never
//! scanned again, so a value that itself contains `{x}` is not expanded. The scan walks
//! `char_indices` and never slices at a computed offset, so any Unicode input is safe.

use crate::errors::SocialError;
use serde_json::Value;
use std::collections::BTreeMap;

/// Longest placeholder name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Longest variable value, in characters.
pub const MAX_VALUE_CHARS: usize = 500;
/// Most variables one request may carry.
pub const MAX_VARIABLES: usize = 50;

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment<'a> {
    Literal(&'a str),
    Var(&'a str),
}

/// A parsed template borrowing its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template<'a> {
    segments: Vec<Segment<'a>>,
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// Why a template could not be filled: the variables the caller named that the template does
/// not have, and the placeholders left without a value. Both sorted, without repeats.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FillError {
    pub unknown: Vec<String>,
    pub missing: Vec<String>,
}

impl FillError {
    /// A message naming every offending variable.
    pub fn message(&self) -> String {
        let mut parts = Vec::new();
        if !self.unknown.is_empty() {
            parts.push(format!(
                "unknown variable(s) {} (the template has no such placeholder)",
                self.unknown.join(", ")
            ));
        }
        if !self.missing.is_empty() {
            parts.push(format!(
                "no value for placeholder(s) {}",
                self.missing.join(", ")
            ));
        }
        parts.join("; ")
    }
}

impl From<FillError> for SocialError {
    fn from(e: FillError) -> Self {
        SocialError::invalid("variables", e.message())
    }
}

impl<'a> Template<'a> {
    /// Splits `text` into literal runs and placeholders. Never fails: anything that is not a
    /// placeholder is literal. Linear in the length of `text`.
    pub fn parse(text: &'a str) -> Self {
        let mut segments = Vec::new();
        let mut literal_start = 0;
        let mut it = text.char_indices().peekable();
        while let Some((i, c)) = it.next() {
            if c != '{' {
                continue;
            }
            // look for `name}` right after the brace, at most MAX_NAME_CHARS name characters
            let name_start = i + c.len_utf8();
            let mut close = None;
            for (count, (j, d)) in text[name_start..].char_indices().enumerate() {
                if d == '}' {
                    if count > 0 {
                        close = Some(name_start + j);
                    }
                    break;
                }
                if !is_name_char(d) || count == MAX_NAME_CHARS {
                    break;
                }
            }
            let Some(close) = close else { continue };
            if literal_start < i {
                segments.push(Segment::Literal(&text[literal_start..i]));
            }
            segments.push(Segment::Var(&text[name_start..close]));
            literal_start = close + '}'.len_utf8();
            // skip the name and the closing brace
            while it.peek().is_some_and(|(k, _)| *k < literal_start) {
                it.next();
            }
        }
        if literal_start < text.len() {
            segments.push(Segment::Literal(&text[literal_start..]));
        }
        Self { segments }
    }

    /// Placeholder names in order of first appearance, without repeats.
    pub fn names(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in &self.segments {
            if let Segment::Var(n) = s {
                if !out.iter().any(|o| o == n) {
                    out.push((*n).to_owned());
                }
            }
        }
        out
    }

    /// Fills every placeholder from `variables`, falling back to `defaults`. A blank value
    /// counts as absent (the default applies). Refuses variables the template does not have
    /// and placeholders left without a value, naming them all.
    pub fn fill(
        &self,
        defaults: &BTreeMap<String, String>,
        variables: &BTreeMap<String, String>,
    ) -> Result<String, FillError> {
        let names = self.names();
        let unknown: Vec<String> = variables
            .keys()
            .filter(|k| !names.iter().any(|n| n == *k))
            .cloned()
            .collect();
        let value_of = |name: &str| -> Option<&str> {
            [variables.get(name), defaults.get(name)]
                .into_iter()
                .flatten()
                .map(String::as_str)
                .find(|v| !v.trim().is_empty())
        };
        let mut missing: Vec<String> = names
            .iter()
            .filter(|n| value_of(n).is_none())
            .cloned()
            .collect();
        missing.sort();
        if !unknown.is_empty() || !missing.is_empty() {
            return Err(FillError { unknown, missing });
        }
        let mut out = String::new();
        for s in &self.segments {
            match s {
                Segment::Literal(t) => out.push_str(t),
                Segment::Var(n) => out.push_str(value_of(n).unwrap_or_default()),
            }
        }
        Ok(out)
    }
}

/// Reads a JSON object of variables (`null` = none): string values as they are, numbers and
/// booleans as their JSON text, `null` values as absent. Anything else is refused naming
/// `field.key`. At most [`MAX_VARIABLES`] entries of at most [`MAX_VALUE_CHARS`] characters.
pub fn variables_from_json(
    field: &str,
    value: &Value,
) -> Result<BTreeMap<String, String>, SocialError> {
    let map = match value {
        Value::Null => return Ok(BTreeMap::new()),
        Value::Object(m) => m,
        _ => return Err(SocialError::invalid(field, "must be an object")),
    };
    if map.len() > MAX_VARIABLES {
        return Err(SocialError::invalid(
            field,
            format!("at most {MAX_VARIABLES} variables"),
        ));
    }
    let mut out = BTreeMap::new();
    for (k, v) in map {
        let text = match v {
            Value::Null => continue,
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                return Err(SocialError::invalid(
                    &format!("{field}.{k}"),
                    "must be text, a number or a boolean",
                ))
            }
        };
        if text.chars().count() > MAX_VALUE_CHARS {
            return Err(SocialError::invalid(
                &format!("{field}.{k}"),
                format!("must be at most {MAX_VALUE_CHARS} characters"),
            ));
        }
        out.insert(k.clone(), text);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn placeholders_in_any_script_and_literal_braces() {
        let t = Template::parse("做一个{主题}的{kind}，{ } {a b} {{x}} 结尾{");
        assert_eq!(t.names(), vec!["主题", "kind", "x"]);
        let out = t
            .fill(
                &vars(&[("主题", "背单词"), ("kind", "测验")]),
                &vars(&[("x", "X")]),
            )
            .unwrap();
        assert_eq!(out, "做一个背单词的测验，{ } {a b} {X} 结尾{");
    }

    #[test]
    fn variables_override_defaults_and_blank_values_fall_back() {
        let t = Template::parse("{a}-{b}");
        let d = vars(&[("a", "1"), ("b", "2")]);
        assert_eq!(t.fill(&d, &vars(&[("b", "9")])).unwrap(), "1-9");
        assert_eq!(t.fill(&d, &vars(&[("b", "  ")])).unwrap(), "1-2");
    }

    #[test]
    fn unknown_and_missing_are_both_named() {
        let t = Template::parse("{a} {b} {c}");
        let e = t
            .fill(&vars(&[("a", "1")]), &vars(&[("zz", "1"), ("yy", "2")]))
            .unwrap_err();
        assert_eq!(e.unknown, vec!["yy", "zz"]);
        assert_eq!(e.missing, vec!["b", "c"]);
        let m = e.message();
        assert!(m.contains("yy, zz") && m.contains("b, c"), "{m}");
    }

    #[test]
    fn values_are_not_expanded_again() {
        let t = Template::parse("{a}{b}");
        let out = t.fill(&BTreeMap::new(), &vars(&[("a", "{b}"), ("b", "{a}")]));
        assert_eq!(out.unwrap(), "{b}{a}");
    }

    #[test]
    fn json_variables_accept_scalars_only() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"n": 3, "b": true, "s": "x", "z": null}"#).unwrap();
        let m = variables_from_json("variables", &v).unwrap();
        assert_eq!(m, vars(&[("n", "3"), ("b", "true"), ("s", "x")]));
        let e = variables_from_json("variables", &serde_json::from_str(r#"{"o": [1]}"#).unwrap())
            .unwrap_err();
        assert!(e.to_string().contains("variables.o"), "{e}");
        assert!(variables_from_json("variables", &serde_json::from_str("[1]").unwrap()).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Arbitrary Unicode templates never panic, and what is not a placeholder comes back
        /// unchanged: with every placeholder filled by its own `{name}` text the template is
        /// reproduced exactly.
        #[test]
        fn any_template_parses_and_round_trips(text in "(\\PC|[{}_-]){0,200}") {
            let t = Template::parse(&text);
            let names = t.names();
            let identity: BTreeMap<String, String> =
                names.iter().map(|n| (n.clone(), format!("{{{n}}}"))).collect();
            let out = t.fill(&BTreeMap::new(), &identity).unwrap();
            prop_assert_eq!(out, text);
        }

        /// Filling is literal: values of any Unicode, braces included, appear verbatim and are
        /// never expanded, and the literal text around them is kept.
        #[test]
        fn filling_is_literal(
            before in "\\PC{0,20}",
            after in "\\PC{0,20}",
            value in "(\\PC|\\{[a-z]{1,3}\\}){0,30}",
        ) {
            prop_assume!(!value.trim().is_empty());
            let before = before.replace(['{', '}'], "");
            let after = after.replace(['{', '}'], "");
            let text = format!("{before}{{v}}{after}");
            let t = Template::parse(&text);
            prop_assert_eq!(t.names(), vec!["v".to_owned()]);
            let out = t.fill(&BTreeMap::new(), &vars(&[("v", &value)])).unwrap();
            prop_assert_eq!(out, format!("{before}{value}{after}"));
        }
    }
}
