//! Turning an answer's text into the JSON the agents need: tolerant extraction (whitespace, code
//! fences, prose around the object) and the shape checks that decide whether the corrective retry
//! is needed.

use ingenio_app_specs::AiReview;
use serde_json::Value;

/// Why an answer was not usable; its text is quoted back to the model in the corrective retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError(pub String);

impl std::fmt::Display for ShapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ShapeError {}

fn err(msg: impl Into<String>) -> ShapeError {
    ShapeError(msg.into())
}

/// Finds the JSON object in an answer: the whole text, else the inside of a ```json fence, else
/// the first `{…}` that parses (text before and after ignored). Empty text and non-objects fail.
/// U+0000 is removed from every string and key: no store can keep it (PostgreSQL `jsonb`
/// refuses `\u0000`) and it never carries meaning in an app's text.
pub fn extract_json_object(content: &str) -> Result<Value, ShapeError> {
    find_json_object(content).map(without_nul)
}

/// `v` with every U+0000 removed from its strings and keys (serde_json nests at most 128 deep,
/// so the recursion is bounded).
pub fn without_nul(v: Value) -> Value {
    fn clean(s: String) -> String {
        if s.contains('\0') {
            s.replace('\0', "")
        } else {
            s
        }
    }
    match v {
        Value::String(s) => Value::String(clean(s)),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nul).collect()),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (clean(k), without_nul(v)))
                .collect(),
        ),
        other => other,
    }
}

fn find_json_object(content: &str) -> Result<Value, ShapeError> {
    let text = content.trim_start_matches('\u{feff}').trim();
    if text.is_empty() {
        return Err(err("the answer was empty"));
    }
    let first_error = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => return Ok(Value::Object(map)),
        Ok(other) => format!("expected a JSON object, got {}", kind(&other)),
        Err(e) => format!("invalid json: {e}"),
    };
    if let Some(inner) = fenced(text) {
        if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(inner.trim()) {
            return Ok(Value::Object(map));
        }
    }
    // The first `{` that starts a complete object; trailing prose is ignored by the stream reader.
    for (idx, _) in text.match_indices('{').take(64) {
        let mut stream = serde_json::Deserializer::from_str(&text[idx..]).into_iter::<Value>();
        if let Some(Ok(Value::Object(map))) = stream.next() {
            return Ok(Value::Object(map));
        }
    }
    Err(err(first_error))
}

fn fenced(text: &str) -> Option<&str> {
    let start = text.find("```")?;
    let after = &text[start + 3..];
    // Skip the info string (`json`, `JSON`, …) up to the end of the fence line.
    let body_start = after.find('\n').map(|i| i + 1).unwrap_or(0);
    let body = &after[body_start..];
    let end = body.find("```").unwrap_or(body.len());
    Some(&body[..end])
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Plan: an object with a `pages` array.
pub(crate) fn check_plan(v: Value) -> Result<Value, ShapeError> {
    with_pages(v, "plan")
}

/// `v` when it has a `pages` array; `what` names the object in the error.
fn with_pages(v: Value, what: &str) -> Result<Value, ShapeError> {
    match v.get("pages") {
        Some(Value::Array(_)) => Ok(v),
        Some(other) => Err(err(format!(
            "\"pages\" must be an array, got {}",
            kind(other)
        ))),
        None => Err(err(format!("the {what} has no \"pages\" array"))),
    }
}

/// Execute: an AppSpec object with a non-empty `appName` and a `pages` array. An AppSpec wrapped
/// in `{"appSpec": {…}}` / `{"spec": {…}}` is unwrapped.
pub(crate) fn check_spec(v: Value) -> Result<Value, ShapeError> {
    let v = unwrap_spec(v);
    match v.get("appName") {
        Some(Value::String(s)) if !s.trim().is_empty() => {}
        Some(Value::String(_)) => return Err(err("\"appName\" is empty")),
        Some(other) => {
            return Err(err(format!(
                "\"appName\" must be a string, got {}",
                kind(other)
            )))
        }
        None => return Err(err("the AppSpec has no \"appName\"")),
    }
    with_pages(v, "AppSpec")
}

fn unwrap_spec(v: Value) -> Value {
    if v.get("appName").is_none() {
        for key in ["appSpec", "spec", "app_spec"] {
            if let Some(inner) = v.get(key) {
                if inner.get("appName").is_some() {
                    return inner.clone();
                }
            }
        }
    }
    v
}

/// Review: a numeric `score` in 0–100 (decimals rounded); `issues` strings (objects are read for
/// their `message`); `summary` text.
pub(crate) fn check_review(v: Value) -> Result<AiReview, ShapeError> {
    let score = match v.get("score") {
        Some(Value::Number(n)) => n
            .as_f64()
            .ok_or_else(|| err("\"score\" is not a finite number"))?,
        Some(other) => {
            return Err(err(format!(
                "\"score\" must be a number, got {}",
                kind(other)
            )))
        }
        None => return Err(err("the review has no numeric \"score\"")),
    };
    if !(0.0..=100.0).contains(&score) {
        return Err(err(format!(
            "\"score\" must be between 0 and 100, got {score}"
        )));
    }
    let issues = match v.get("issues") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| match item {
                Value::String(s) => Some(s.clone()),
                Value::Object(o) => o
                    .get("message")
                    .or_else(|| o.get("description"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or_else(|| Some(item.to_string())),
                Value::Null => None,
                other => Some(other.to_string()),
            })
            .collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => {
            return Err(err(format!(
                "\"issues\" must be an array, got {}",
                kind(other)
            )))
        }
    };
    let summary = v
        .get("summary")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .to_owned();
    Ok(AiReview {
        // In range 0..=100 (checked above), so the cast cannot truncate.
        score: score.round() as u8,
        issues,
        summary,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_is_removed_from_every_string_and_key() {
        let got = extract_json_object(
            r#"{"pa\u0000ges":[{"name":"\u0000首页\u0000","n":1}],"t":"\\u0000"}"#,
        )
        .unwrap();
        assert_eq!(got, json!({"pages":[{"name":"首页","n":1}],"t":"\\u0000"}));
    }

    #[test]
    fn extraction_variants() {
        assert_eq!(
            extract_json_object("  {\"a\":1}\n").unwrap(),
            json!({"a":1})
        );
        assert_eq!(
            extract_json_object("\n\n\n{\"a\":1}").unwrap(),
            json!({"a":1})
        );
        assert_eq!(
            extract_json_object("```json\n{\"a\":1}\n```").unwrap(),
            json!({"a":1})
        );
        assert_eq!(
            extract_json_object("```\n{\"a\":1}\n```").unwrap(),
            json!({"a":1})
        );
        assert_eq!(
            extract_json_object("Here is the plan: {\"a\":{\"b\":[1,2]}} Hope it helps {x}")
                .unwrap(),
            json!({"a":{"b":[1,2]}})
        );
        assert!(extract_json_object("").unwrap_err().0.contains("empty"));
        assert!(extract_json_object("[1,2]")
            .unwrap_err()
            .0
            .contains("array"));
        assert!(extract_json_object("{\"a\":")
            .unwrap_err()
            .0
            .contains("invalid json"));
    }

    #[test]
    fn shapes() {
        assert!(check_plan(json!({"pages":[]})).is_ok());
        assert!(check_plan(json!({"pages":"x"})).is_err());
        assert!(check_plan(json!({})).is_err());
        assert!(check_spec(json!({"appName":"A","pages":[]})).is_ok());
        assert_eq!(
            check_spec(json!({"appSpec":{"appName":"A","pages":[]}})).unwrap(),
            json!({"appName":"A","pages":[]})
        );
        assert!(check_spec(json!({"appName":"","pages":[]})).is_err());
        assert!(check_spec(json!({"appName":"A"})).is_err());
        let r = check_review(
            json!({"score": 87.6, "issues": ["a", {"message":"b"}], "summary":" ok "}),
        )
        .unwrap();
        assert_eq!(r.score, 88);
        assert_eq!(r.issues, vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(r.summary, "ok");
        assert!(check_review(json!({"score": 101})).is_err());
        assert!(check_review(json!({"score": "90"})).is_err());
        assert!(check_review(json!({"issues": []})).is_err());
    }
}
