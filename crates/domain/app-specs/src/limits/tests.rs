//! Unit and property tests of the spec size limits, and arbitrary Unicode through the limits, the
//! parser, validation and diff.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::diff::diff;
use crate::spec::fixtures::sample;
use crate::spec::AppSpec;
use crate::validation::{validate, validate_value};

fn pages(n: usize) -> Value {
    let list: Vec<Value> = (0..n)
        .map(|i| json!({"id": format!("p{i}"), "name": "P", "path": format!("/p{i}")}))
        .collect();
    json!({"appName": "Big", "pages": list})
}

#[track_caller]
fn refused(v: &Value, limits: &SpecLimits) -> LimitExceeded {
    limits.check(v).expect_err("over a limit")
}

#[test]
fn the_sample_and_the_limits_themselves_pass() {
    SpecLimits::default().check(&sample()).unwrap();
    SpecLimits::default().check(&pages(50)).unwrap();
}

#[test]
fn too_many_pages_names_the_count_and_the_key() {
    let e = refused(&pages(61), &SpecLimits::default());
    assert_eq!(
        e.message,
        "spec has 61 pages; the limit is 50 (ingenio.spec-limits.max-pages)"
    );
    assert_eq!(
        (e.limit, e.max, e.actual, e.path.as_str()),
        ("ingenio.spec-limits.max-pages", 50, 61, "pages")
    );
    assert_eq!(e.to_string(), e.message);
}

#[test]
fn bytes_are_checked_first() {
    let limits = SpecLimits {
        max_bytes: 1_000,
        ..SpecLimits::default()
    };
    // over the page limit too, but the size is what is reported
    let v = pages(61);
    let e = refused(&v, &limits);
    assert_eq!(e.limit, "ingenio.spec-limits.max-bytes");
    assert_eq!(e.actual, serde_json::to_vec(&v).unwrap().len());
    assert_eq!(e.path, "$");
    assert!(e.message.starts_with(&format!(
        "spec is {} bytes of JSON; the limit is 1000",
        e.actual
    )));
}

#[test]
fn components_are_counted_per_page_and_in_total_nested_included() {
    let comp = |i: usize| json!({"id": format!("c{i}"), "type": "Text", "children": [{"id": format!("k{i}"), "type": "Text"}]});
    let mut v = pages(3);
    for p in 0..3 {
        v["pages"][p]["components"] = Value::Array((0..5).map(comp).collect());
    }
    let per_page = SpecLimits {
        max_components_per_page: 9,
        ..SpecLimits::default()
    };
    let e = refused(&v, &per_page);
    assert_eq!(
        e.message,
        "page pages[0] has 10 components; the limit is 9 (ingenio.spec-limits.max-components-per-page)"
    );
    let total = SpecLimits {
        max_components: 29,
        ..SpecLimits::default()
    };
    let e = refused(&v, &total);
    assert_eq!(
        (e.limit, e.actual),
        ("ingenio.spec-limits.max-components", 30)
    );
    SpecLimits {
        max_components: 30,
        max_components_per_page: 10,
        ..SpecLimits::default()
    }
    .check(&v)
    .unwrap();
}

#[test]
fn data_models_and_fields() {
    let fields: Vec<Value> = (0..201)
        .map(|i| json!({"name": format!("f{i}"), "type": "string"}))
        .collect();
    let v = json!({"appName": "A", "dataModels": [{"id": "m", "name": "M", "fields": []}, {"id": "n", "name": "N", "fields": fields}]});
    let e = refused(&v, &SpecLimits::default());
    assert_eq!(
        e.message,
        "data model dataModels[1] has 201 fields; the limit is 200 (ingenio.spec-limits.max-fields-per-model)"
    );
    assert_eq!(e.path, "dataModels[1].fields");
    let models: Vec<Value> = (0..51)
        .map(|i| json!({"id": format!("m{i}"), "name": "M"}))
        .collect();
    let e = refused(
        &json!({"appName": "A", "dataModels": models}),
        &SpecLimits::default(),
    );
    assert_eq!(
        (e.limit, e.actual),
        ("ingenio.spec-limits.max-data-models", 51)
    );
}

/// Components nested `depth` deep on one page, built without recursion.
fn nested(depth: usize) -> Value {
    // no `json!` around `c`: the macro would serialise it again (recursively) at every level
    let mut c = json!({"id": format!("c{depth}"), "type": "Card"});
    for d in (1..depth).rev() {
        let mut parent = json!({"id": format!("c{d}"), "type": "Card"});
        if let Value::Object(m) = &mut parent {
            m.insert("children".into(), Value::Array(vec![c]));
        }
        c = parent;
    }
    let mut page = json!({"id": "p", "name": "P", "path": "/"});
    page["components"] = Value::Array(vec![c]);
    let mut spec = json!({"appName": "Deep"});
    spec["pages"] = Value::Array(vec![page]);
    spec
}

/// Takes a deep value apart without recursion (dropping it whole would recurse once per level).
fn dismantle(v: Value) {
    let mut stack = vec![v];
    while let Some(mut v) = stack.pop() {
        match &mut v {
            Value::Array(items) => stack.append(items),
            Value::Object(m) => {
                let keys: Vec<String> = m.keys().cloned().collect();
                for k in keys {
                    if let Some(x) = m.remove(&k) {
                        stack.push(x);
                    }
                }
            }
            _ => {}
        }
    }
}

#[test]
fn nesting_depth_is_checked_without_recursion() {
    SpecLimits::default().check(&nested(16)).unwrap();
    let e = refused(&nested(17), &SpecLimits::default());
    assert_eq!(e.limit, "ingenio.spec-limits.max-depth");
    assert_eq!(e.actual, 17);
    assert!(
        e.message
            .starts_with("component pages[0].components[0].children[0]"),
        "{}",
        e.message
    );
    assert!(e
        .message
        .ends_with("is nested 17 deep; the limit is 16 (ingenio.spec-limits.max-depth)"));
    // far deeper than any recursion could go: still an answer, not a stack overflow
    let deep = nested(100_000);
    let limits = SpecLimits {
        max_bytes: usize::MAX,
        ..SpecLimits::default()
    };
    assert_eq!(refused(&deep, &limits).actual, 17);
    dismantle(deep);
}

#[test]
fn json_nested_past_serde_limit_does_not_parse() {
    // what the HTTP layer and the AI client parse with: 128 levels at most, an error beyond
    let text = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(serde_json::from_str::<Value>(&text).is_err());
}

#[test]
fn strings_are_measured_in_characters_keys_included() {
    let limits = SpecLimits {
        max_string_chars: 8,
        ..SpecLimits::default()
    };
    // eight emoji are 32 bytes but 8 characters
    let ok = json!({"appName": "😀😀😀😀😀😀😀😀"});
    limits.check(&ok).unwrap();
    let e = refused(
        &json!({"appName": "abc", "pages": [{"id": "p", "name": "P", "path": "/", "extra": {"x": "too long!"}}]}),
        &limits,
    );
    assert_eq!(
        e.message,
        "a string at pages[0].extra.x has 9 characters; the limit is 8 (ingenio.spec-limits.max-string-chars)"
    );
    let e = refused(&json!({"appName": "a", "averylongkey": 1}), &limits);
    assert_eq!((e.path.as_str(), e.actual), ("averylongkey", 12));
}

#[test]
fn bytes_are_counted_as_serde_writes_them() {
    let v = json!({"a": [1, -2.5, true, false, null, "q\"\\\n\t\u{1}é😀", {}], "": {"k": []}});
    assert_eq!(json_bytes(&v), serde_json::to_vec(&v).unwrap().len());
    assert_eq!(
        json_bytes(&sample()),
        serde_json::to_vec(&sample()).unwrap().len()
    );
}

// ---------------------------------------------------------------------------------------------
// arbitrary Unicode through limits, parse, validation and diff

/// Any character of any plane, with extra weight on the awkward ones: NUL and other controls,
/// combining marks, letters whose case mapping changes length, right-to-left text and marks,
/// emoji with joiners, a BOM, noncharacters.
fn awkward_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => any::<char>(),
        2 => prop::sample::select(vec![
            '\0', '\u{1}', '\u{7f}', '\u{301}', '\u{20dd}', 'ß', 'İ', 'ı', 'ǅ', 'ﬃ', 'Σ', 'ς',
            '\u{5d0}', '\u{627}', '\u{202e}', '\u{200f}', '\u{200d}', '😀', '👩', '\u{1f3fd}',
            '\u{feff}', '\u{fffe}', '\u{10ffff}', '"', '\\', '/', '#', '[', '.', '$',
        ]),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(awkward_char(), 0..12).prop_map(String::from_iter)
}

/// A spec whose every string is arbitrary text (ids from a small pool so diffs pair some up).
fn unicode_spec() -> impl Strategy<Value = Value> {
    let id = prop::sample::select(vec!["a", "b", "ß", "İ", "😀", "\0"]);
    let component = (id.clone(), text(), text(), text()).prop_map(|(id, ty, k, v)| {
        json!({"id": id, "type": ty, "props": {k: v}, "children": [{"id": format!("{id}-child"), "type": "Text"}]})
    });
    let page = (
        id.clone(),
        text(),
        text(),
        prop::collection::vec(component, 0..3),
    )
        .prop_map(
            |(id, name, path, cs)| json!({"id": id, "name": name, "path": path, "components": cs}),
        );
    let field = (text(), text(), any::<bool>())
        .prop_map(|(name, ty, required)| json!({"name": name, "type": ty, "required": required}));
    let model = (id.clone(), text(), prop::collection::vec(field, 0..4))
        .prop_map(|(id, name, fields)| json!({"id": id, "name": name, "fields": fields}));
    let flow = (id, text(), text(), text()).prop_map(|(id, name, trigger, to)| {
        json!({"id": id, "name": name, "trigger": trigger, "actions": [{"type": "navigate", "config": {"to": to}}]})
    });
    (
        text(),
        text(),
        prop::collection::vec(page, 0..3),
        prop::collection::vec(model, 0..3),
        prop::collection::vec(flow, 0..2),
        prop::collection::vec(text(), 0..3),
    )
        .prop_map(|(version, app, pages, models, flows, roles)| {
            json!({"version": version, "appName": app, "pages": pages, "dataModels": models,
                   "flows": flows, "permissions": {"roles": roles, "rules": [{"resource": "*", "actions": ["read"], "roles": roles}]}})
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn arbitrary_unicode_goes_through_limits_parse_validation_and_diff(a in unicode_spec(), b in unicode_spec()) {
        SpecLimits::default().check(&a).unwrap();
        let tight = SpecLimits { max_string_chars: 3, max_depth: 1, max_bytes: 400, ..SpecLimits::default() };
        if let Err(e) = tight.check(&a) {
            prop_assert!(e.actual > e.max);
            prop_assert!(e.message.contains(e.limit));
        }
        let (x, y) = (AppSpec::parse(&a).unwrap(), AppSpec::parse(&b).unwrap());
        prop_assert_eq!(x.to_value(), AppSpec::parse(&x.to_value()).unwrap().to_value());
        let report = validate(&x);
        prop_assert_eq!(report.errors as usize + report.warnings as usize, report.findings.len());
        prop_assert_eq!(validate_value(&a), report);
        prop_assert!(diff(&x, &x).is_empty());
        let d = diff(&x, &y);
        prop_assert!(!d.summary.is_empty());
        let reverse = diff(&y, &x);
        prop_assert_eq!((d.added, d.removed), (reverse.removed, reverse.added));
    }

    #[test]
    fn bytes_match_serde_for_arbitrary_unicode(a in unicode_spec()) {
        prop_assert_eq!(json_bytes(&a), serde_json::to_vec(&a).unwrap().len());
    }

    #[test]
    fn string_limit_counts_characters_not_bytes(s in text(), max in 7usize..14) {
        let limits = SpecLimits { max_string_chars: max, ..SpecLimits::default() };
        let v = json!({"appName": s});
        let chars = s.chars().count();
        match limits.check(&v) {
            Ok(()) => prop_assert!(chars <= max),
            Err(e) => {
                prop_assert_eq!((e.actual, e.path.as_str()), (chars, "appName"));
                prop_assert!(chars > max);
            }
        }
    }
}
