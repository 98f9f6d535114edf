//! Unit tests of the AppSpec structural parse and its lossless round trip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};

use super::fixtures::sample;
use super::*;

fn set(v: &mut Value, pointer: &str, new: Value) {
    *v.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer}")) = new;
}

fn remove(v: &mut Value, pointer: &str, key: &str) {
    v.pointer_mut(pointer)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove(key)
        .unwrap();
}

fn parse_err(v: &Value) -> SpecParseError {
    AppSpec::parse(v).unwrap_err()
}

#[test]
fn sample_parses_into_typed_fields() {
    let spec = AppSpec::parse(&sample()).unwrap();
    assert_eq!(spec.version, "1.0.0");
    assert_eq!(spec.app_name, "Vocabulary Quiz");
    assert_eq!(spec.pages.len(), 3);
    assert_eq!(spec.pages[1].path, "/quiz");
    assert_eq!(spec.pages[1].components[1].children[0].r#type, "Quiz");
    assert_eq!(
        spec.pages[1].components[1].children[0].props["dataModel"],
        json!("word")
    );
    assert_eq!(
        spec.data_models[0].fields[0].validation,
        Some(json!({"maxLength": 50}))
    );
    assert_eq!(spec.data_models[0].fields[1].validation, None);
    assert!(spec.data_models[0].fields[0].required);
    assert_eq!(spec.flows[0].trigger, json!("click"));
    assert_eq!(spec.flows[1].trigger["event"], json!("submit"));
    assert_eq!(
        spec.flows[1].actions[0].config_str(&["model", "dataModel"]),
        Some(("model", "result"))
    );
    assert_eq!(spec.permissions.roles, vec!["student", "teacher"]);
    assert_eq!(spec.permissions.rules[1].actions, vec!["create", "read"]);
    assert_eq!(
        spec.extra.get("description"),
        Some(&json!("Practise English words with a short quiz"))
    );
    assert!(spec.pages[0].extra.is_empty());
}

#[test]
fn sample_round_trips_exactly() {
    let v = sample();
    assert_eq!(AppSpec::parse(&v).unwrap().to_value(), v);
}

#[test]
fn unknown_keys_survive_at_every_level() {
    let mut v = sample();
    let pointers = [
        "",
        "/pages/0",
        "/pages/0/components/0",
        "/pages/1/components/1/children/0",
        "/dataModels/1",
        "/dataModels/1/fields/2",
        "/flows/1",
        "/flows/1/actions/0",
        "/permissions",
        "/permissions/rules/2",
    ];
    for (i, p) in pointers.iter().enumerate() {
        let obj = v.pointer_mut(p).unwrap().as_object_mut().unwrap();
        obj.insert(
            format!("x-custom-{i}"),
            json!({"nested": [i, "kept"], "n": null}),
        );
    }
    let spec = AppSpec::parse(&v).unwrap();
    assert_eq!(spec.extra["x-custom-0"]["nested"][1], json!("kept"));
    assert!(spec.pages[0].extra.contains_key("x-custom-1"));
    assert!(spec.pages[0].components[0].extra.contains_key("x-custom-2"));
    assert!(spec.pages[1].components[1].children[0]
        .extra
        .contains_key("x-custom-3"));
    assert!(spec.data_models[1].extra.contains_key("x-custom-4"));
    assert!(spec.data_models[1].fields[2]
        .extra
        .contains_key("x-custom-5"));
    assert!(spec.flows[1].extra.contains_key("x-custom-6"));
    assert!(spec.flows[1].actions[0].extra.contains_key("x-custom-7"));
    assert!(spec.permissions.extra.contains_key("x-custom-8"));
    assert!(spec.permissions.rules[2].extra.contains_key("x-custom-9"));
    assert_eq!(spec.to_value(), v);
    // and through serde, both ways
    let via_serde: AppSpec = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(via_serde, spec);
    assert_eq!(serde_json::to_value(&via_serde).unwrap(), v);
}

#[test]
fn missing_optional_keys_take_defaults() {
    let spec = AppSpec::parse(&json!({"appName": "Tiny"})).unwrap();
    assert_eq!(spec.version, "");
    assert!(spec.pages.is_empty() && spec.data_models.is_empty() && spec.flows.is_empty());
    assert_eq!(spec.permissions, Permissions::default());
    assert_eq!(
        spec.to_value(),
        json!({"version": "", "appName": "Tiny", "pages": [], "dataModels": [], "flows": [],
               "permissions": {"roles": [], "rules": []}})
    );

    let spec = AppSpec::parse(&json!({
        "appName": "Tiny", "pages": [{"id": "p", "name": "P", "path": "/", "components": [{"id": "c", "type": "Text"}]}],
        "dataModels": [{"id": "m", "name": "M", "fields": [{"name": "f", "type": "string", "validation": null}]}],
        "flows": [{"id": "f", "name": "F", "actions": [{"type": "setState"}]}],
        "permissions": {"rules": [{"resource": "*"}]},
        "dataModelsExtra": null
    }))
    .unwrap();
    let c = &spec.pages[0].components[0];
    assert!(c.props.is_empty() && c.children.is_empty());
    let f = &spec.data_models[0].fields[0];
    assert!(!f.required);
    assert_eq!(
        f.validation, None,
        "a null optional key is treated as absent"
    );
    assert_eq!(spec.flows[0].trigger, Value::Null);
    assert!(spec.flows[0].actions[0].config.is_empty());
    assert!(spec.permissions.roles.is_empty());
    assert!(
        spec.permissions.rules[0].actions.is_empty() && spec.permissions.rules[0].roles.is_empty()
    );
    assert_eq!(
        spec.extra["dataModelsExtra"],
        Value::Null,
        "unknown keys are kept even when null"
    );
}

#[test]
fn null_optional_collections_are_empty() {
    let spec =
        AppSpec::parse(&json!({"appName": "A", "pages": null, "flows": null, "permissions": null}))
            .unwrap();
    assert!(spec.pages.is_empty() && spec.flows.is_empty());
    assert_eq!(spec.permissions, Permissions::default());
}

#[test]
fn missing_required_scalars_report_their_path() {
    let mut v = sample();
    remove(&mut v, "/pages/1/components/0", "type");
    let e = parse_err(&v);
    assert_eq!(e.path, "pages[1].components[0].type");
    assert_eq!(
        e.to_string(),
        "pages[1].components[0].type: missing required string"
    );

    let cases: [(&str, &str, &str); 9] = [
        ("", "appName", "appName"),
        ("/pages/2", "id", "pages[2].id"),
        ("/pages/0", "name", "pages[0].name"),
        ("/pages/0", "path", "pages[0].path"),
        (
            "/pages/1/components/1/children/1",
            "id",
            "pages[1].components[1].children[1].id",
        ),
        (
            "/dataModels/1/fields/2",
            "type",
            "dataModels[1].fields[2].type",
        ),
        ("/flows/1", "id", "flows[1].id"),
        ("/flows/0/actions/1", "type", "flows[0].actions[1].type"),
        (
            "/permissions/rules/1",
            "resource",
            "permissions.rules[1].resource",
        ),
    ];
    for (pointer, key, path) in cases {
        let mut v = sample();
        remove(&mut v, pointer, key);
        assert_eq!(parse_err(&v).path, path, "removing {pointer}/{key}");
    }
}

#[test]
fn wrong_json_types_are_rejected_with_paths() {
    assert_eq!(
        parse_err(&json!([1, 2])),
        SpecParseError {
            path: "$".into(),
            message: "expected an object, found an array".into()
        }
    );
    assert_eq!(parse_err(&json!("spec")).path, "$");

    let cases: [(&str, Value, &str, &str); 12] = [
        (
            "/pages",
            json!({}),
            "pages",
            "expected an array, found an object",
        ),
        (
            "/appName",
            json!(42),
            "appName",
            "expected a string, found a number",
        ),
        (
            "/version",
            json!(1),
            "version",
            "expected a string, found a number",
        ),
        (
            "/pages/1",
            json!("quiz"),
            "pages[1]",
            "expected an object, found a string",
        ),
        (
            "/pages/0/components/2/props",
            json!([]),
            "pages[0].components[2].props",
            "expected an object, found an array",
        ),
        (
            "/pages/1/components/1/children",
            json!("x"),
            "pages[1].components[1].children",
            "expected an array, found a string",
        ),
        (
            "/dataModels/0/fields/1/required",
            json!("yes"),
            "dataModels[0].fields[1].required",
            "expected a boolean, found a string",
        ),
        (
            "/flows/0/trigger",
            json!(3),
            "flows[0].trigger",
            "expected a string or an object, found a number",
        ),
        (
            "/flows/1/actions/0/config",
            json!("POST"),
            "flows[1].actions[0].config",
            "expected an object, found a string",
        ),
        (
            "/permissions",
            json!([]),
            "permissions",
            "expected an object, found an array",
        ),
        (
            "/permissions/roles/1",
            json!(7),
            "permissions.roles[1]",
            "expected a string, found a number",
        ),
        (
            "/permissions/rules/0/actions",
            json!("read"),
            "permissions.rules[0].actions",
            "expected an array, found a string",
        ),
    ];
    for (pointer, bad, path, message) in cases {
        let mut v = sample();
        set(&mut v, pointer, bad);
        let e = parse_err(&v);
        assert_eq!(
            (e.path.as_str(), e.message.as_str()),
            (path, message),
            "{pointer}"
        );
    }
}

#[test]
fn serde_errors_carry_the_path() {
    let mut v = sample();
    set(&mut v, "/dataModels/0/fields/2/type", json!(null));
    let err = serde_json::from_value::<AppSpec>(v)
        .unwrap_err()
        .to_string();
    assert!(err.contains("dataModels[0].fields[2].type"), "{err}");
}

#[test]
fn components_are_walked_depth_first_with_paths_and_parents() {
    let spec = AppSpec::parse(&sample()).unwrap();
    let all = spec.components();
    let listed: Vec<(&str, &str, Option<&str>)> = all
        .iter()
        .map(|(p, c)| {
            (
                p.as_str(),
                c.component.id.as_str(),
                c.parent.map(|x| x.id.as_str()),
            )
        })
        .collect();
    assert_eq!(listed[3], ("pages[1].components[0]", "quiz-timer", None));
    assert_eq!(listed[4], ("pages[1].components[1]", "quiz-card", None));
    assert_eq!(
        listed[5],
        (
            "pages[1].components[1].children[0]",
            "quiz-main",
            Some("quiz-card")
        )
    );
    assert_eq!(
        listed[6],
        (
            "pages[1].components[1].children[1]",
            "submit-button",
            Some("quiz-card")
        )
    );
    assert_eq!(all.len(), 9);
    assert_eq!(all[8].1.page.id, "results");
    assert_eq!(all[8].1.page_index, 2);
}

#[test]
fn lookups_by_id_and_name() {
    let spec = AppSpec::parse(&sample()).unwrap();
    assert_eq!(
        spec.data_model("word").map(|m| m.name.as_str()),
        Some("Word")
    );
    assert_eq!(
        spec.data_model("Result").map(|m| m.id.as_str()),
        Some("result")
    );
    assert!(spec.data_model("Nope").is_none());
    assert_eq!(
        spec.page_by_id("quiz").map(|p| p.path.as_str()),
        Some("/quiz")
    );
    assert!(spec.flow_by_id("start-quiz").is_some());
    assert!(spec.flow_by_id("Start quiz").is_none());
}

#[test]
fn parts_parse_on_their_own() {
    let c = Component::parse(&json!({"id": "c", "type": "Text", "props": {"text": "hi"}, "x": 1}))
        .unwrap();
    assert_eq!(c.extra["x"], json!(1));
    assert_eq!(
        Component::parse(&json!({"id": "c"})).unwrap_err().path,
        "type"
    );
    let f: Field =
        serde_json::from_value(json!({"name": "n", "type": "date", "required": true})).unwrap();
    assert_eq!(
        serde_json::to_value(&f).unwrap(),
        json!({"name": "n", "type": "date", "required": true})
    );
}
