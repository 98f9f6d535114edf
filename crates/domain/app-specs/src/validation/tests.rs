//! Unit tests of the validation rules, their codes, paths and severities, and of the scores.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};

use super::*;
use crate::spec::fixtures::sample;

fn set(v: &mut Value, pointer: &str, new: Value) {
    *v.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer}")) = new;
}

fn with(changes: &[(&str, Value)]) -> ValidationReport {
    let mut v = sample();
    for (p, new) in changes {
        set(&mut v, p, new.clone());
    }
    validate_value(&v)
}

/// Asserts the report holds exactly one finding, with this code, path and severity.
#[track_caller]
fn only(report: &ValidationReport, code: &str, path: &str, severity: Severity) -> Finding {
    assert_eq!(report.findings.len(), 1, "{:#?}", report.findings);
    let f = report.findings[0].clone();
    assert_eq!(
        (f.code.as_str(), f.path.as_str(), f.severity),
        (code, path, severity),
        "{f:#?}"
    );
    match severity {
        Severity::Error => assert_eq!(
            (report.errors, report.warnings, report.rule_score),
            (1, 0, 80)
        ),
        Severity::Warning => assert_eq!(
            (report.errors, report.warnings, report.rule_score),
            (0, 1, 95)
        ),
    }
    f
}

#[track_caller]
fn has(report: &ValidationReport, code: &str, path: &str, severity: Severity) {
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.code == code && f.path == path && f.severity == severity),
        "expected {code} at {path}: {:#?}",
        report.findings
    );
}

#[test]
fn sample_is_clean_and_scores_100() {
    let report = validate_value(&sample());
    assert_eq!(report.findings, vec![]);
    assert_eq!(
        (report.errors, report.warnings, report.rule_score),
        (0, 0, 100)
    );
    assert!(report.is_valid());
}

#[test]
fn version_must_look_like_semver() {
    only(
        &with(&[("/version", json!("1.0"))]),
        codes::BAD_VERSION,
        "version",
        Severity::Warning,
    );
    only(
        &with(&[("/version", json!("v1.0.0"))]),
        codes::BAD_VERSION,
        "version",
        Severity::Warning,
    );
    only(
        &with(&[("/version", json!("1.0.0-"))]),
        codes::BAD_VERSION,
        "version",
        Severity::Warning,
    );
    only(
        &with(&[("/version", json!(""))]),
        codes::BAD_VERSION,
        "version",
        Severity::Warning,
    );
    let mut v = sample();
    v.as_object_mut().unwrap().remove("version");
    only(
        &validate_value(&v),
        codes::BAD_VERSION,
        "version",
        Severity::Warning,
    );
    assert!(with(&[("/version", json!("2.10.3-beta.1"))])
        .findings
        .is_empty());
    assert!(is_semver_like("0.0.1+build.5"));
    assert!(!is_semver_like("1.2.3.4") && !is_semver_like("1..3") && !is_semver_like("a.b.c"));
}

#[test]
fn app_name_is_non_blank_and_at_most_100_chars() {
    only(
        &with(&[("/appName", json!("   "))]),
        codes::BLANK_APP_NAME,
        "appName",
        Severity::Error,
    );
    let f = only(
        &with(&[("/appName", json!("a".repeat(101)))]),
        codes::APP_NAME_TOO_LONG,
        "appName",
        Severity::Error,
    );
    assert!(f.message.contains("101"), "{}", f.message);
    // characters, not bytes
    assert!(with(&[("/appName", json!("词".repeat(100)))])
        .findings
        .is_empty());
}

#[test]
fn at_least_one_page() {
    let report = with(&[("/pages", json!([]))]);
    has(&report, codes::NO_PAGES, "pages", Severity::Error);
}

#[test]
fn duplicate_page_ids_name_both_paths() {
    let f = only(
        &with(&[("/pages/1/id", json!("home"))]),
        codes::DUPLICATE_ID,
        "pages[1].id",
        Severity::Error,
    );
    assert_eq!(
        f.message,
        "duplicate page id \"home\" at pages[0] and pages[1]"
    );
    assert!(f.message.contains("\"home\""), "{}", f.message);
}

#[test]
fn component_ids_are_unique_across_the_whole_spec() {
    let report = with(&[("/pages/1/components/1/children/0/id", json!("home-intro"))]);
    // the Quiz's old id is no longer referenced by anything but the flow trigger (free-form)
    let f = only(
        &report,
        codes::DUPLICATE_ID,
        "pages[1].components[1].children[0].id",
        Severity::Error,
    );
    assert!(
        f.message.contains("pages[0].components[1]"),
        "{}",
        f.message
    );
}

#[test]
fn data_model_and_flow_ids_are_unique() {
    let report = with(&[("/dataModels/1/id", json!("word"))]);
    has(
        &report,
        codes::DUPLICATE_ID,
        "dataModels[1].id",
        Severity::Error,
    );
    let report = with(&[
        ("/flows/1/id", json!("start-quiz")),
        (
            "/pages/1/components/1/children/1/props/flowId",
            json!("start-quiz"),
        ),
    ]);
    only(&report, codes::DUPLICATE_ID, "flows[1].id", Severity::Error);
    // different kinds may share an id
    assert!(with(&[
        ("/flows/0/id", json!("home")),
        ("/pages/0/components/2/props/onClick", json!("home"))
    ])
    .findings
    .is_empty());
}

#[test]
fn blank_ids_and_names_are_errors() {
    only(
        &with(&[("/pages/0/components/0/id", json!(""))]),
        codes::BLANK_ID,
        "pages[0].components[0].id",
        Severity::Error,
    );
    only(
        &with(&[("/dataModels/0/fields/2/name", json!(" "))]),
        codes::BLANK_NAME,
        "dataModels[0].fields[2].name",
        Severity::Error,
    );
    only(
        &with(&[("/flows/0/name", json!(""))]),
        codes::BLANK_NAME,
        "flows[0].name",
        Severity::Error,
    );
}

#[test]
fn page_paths_start_with_slash_and_are_unique() {
    only(
        &with(&[("/pages/2/path", json!("results"))]),
        codes::BAD_PATH,
        "pages[2].path",
        Severity::Error,
    );
    // the navigate action targets /quiz, which no longer exists
    let report = with(&[("/pages/1/path", json!("/"))]);
    has(
        &report,
        codes::DUPLICATE_PATH,
        "pages[1].path",
        Severity::Error,
    );
    has(
        &report,
        codes::UNRESOLVED_REFERENCE,
        "flows[0].actions[1].config.to",
        Severity::Error,
    );
    assert_eq!((report.errors, report.rule_score), (2, 60));
}

#[test]
fn unknown_component_type_is_a_warning() {
    let f = only(
        &with(&[("/pages/1/components/1/children/0/type", json!("Carousel"))]),
        codes::UNKNOWN_COMPONENT_TYPE,
        "pages[1].components[1].children[0].type",
        Severity::Warning,
    );
    assert!(f.message.contains("Carousel"));
    for t in COMPONENT_TYPES {
        assert!(
            with(&[("/pages/0/components/1/type", json!(t))])
                .findings
                .is_empty(),
            "{t}"
        );
    }
}

#[test]
fn field_types_are_restricted() {
    only(
        &with(&[("/dataModels/0/fields/0/type", json!("text"))]),
        codes::BAD_FIELD_TYPE,
        "dataModels[0].fields[0].type",
        Severity::Error,
    );
    only(
        &with(&[("/dataModels/1/fields/1/type", json!("Boolean"))]),
        codes::BAD_FIELD_TYPE,
        "dataModels[1].fields[1].type",
        Severity::Error,
    );
}

#[test]
fn field_names_are_unique_within_a_model() {
    let f = only(
        &with(&[("/dataModels/0/fields/2/name", json!("term"))]),
        codes::DUPLICATE_FIELD,
        "dataModels[0].fields[2].name",
        Severity::Error,
    );
    assert!(
        f.message.contains("dataModels[0].fields[0]"),
        "{}",
        f.message
    );
    // the same name in another model is fine
    assert!(with(&[("/dataModels/1/fields/0/name", json!("term"))])
        .findings
        .is_empty());
}

#[test]
fn a_model_without_fields_is_a_warning() {
    only(
        &with(&[("/dataModels/1/fields", json!([]))]),
        codes::EMPTY_MODEL,
        "dataModels[1].fields",
        Severity::Warning,
    );
}

#[test]
fn component_references_must_resolve() {
    let cases = [
        (
            "/pages/1/components/1/children/0/props/dataModel",
            json!("Nope"),
            "pages[1].components[1].children[0].props.dataModel",
        ),
        (
            "/pages/2/components/1/props/model",
            json!("results"),
            "pages[2].components[1].props.model",
        ),
        (
            "/pages/0/components/2/props/onClick",
            json!("startQuiz"),
            "pages[0].components[2].props.onClick",
        ),
        (
            "/pages/1/components/1/children/1/props/flowId",
            json!("Submit answers"),
            "pages[1].components[1].children[1].props.flowId",
        ),
    ];
    for (pointer, bad, path) in cases {
        only(
            &with(&[(pointer, bad)]),
            codes::UNRESOLVED_REFERENCE,
            path,
            Severity::Error,
        );
    }
    let mut v = sample();
    v["pages"][0]["components"][0]["props"]["flow"] = json!("missing");
    only(
        &validate_value(&v),
        codes::UNRESOLVED_REFERENCE,
        "pages[0].components[0].props.flow",
        Severity::Error,
    );
    // models resolve by id or name; non-string props are not references
    assert!(
        with(&[("/pages/2/components/1/props/model", json!("result"))])
            .findings
            .is_empty()
    );
    assert!(with(&[(
        "/pages/1/components/1/children/0/props/dataModel",
        json!("Word")
    )])
    .findings
    .is_empty());
    assert!(with(&[(
        "/pages/0/components/2/props/onClick",
        json!({"navigate": "/x"})
    )])
    .findings
    .is_empty());
}

#[test]
fn flow_references_must_resolve() {
    only(
        &with(&[("/flows/0/actions/1/config", json!({"to": "/nowhere"}))]),
        codes::UNRESOLVED_REFERENCE,
        "flows[0].actions[1].config.to",
        Severity::Error,
    );
    only(
        &with(&[("/flows/1/actions/1/config", json!({"pageId": "score"}))]),
        codes::UNRESOLVED_REFERENCE,
        "flows[1].actions[1].config.pageId",
        Severity::Error,
    );
    only(
        &with(&[("/flows/0/actions/1/config", json!({"path": "/Quiz"}))]),
        codes::UNRESOLVED_REFERENCE,
        "flows[0].actions[1].config.path",
        Severity::Error,
    );
    only(
        &with(&[("/flows/1/actions/0/config/model", json!("scores"))]),
        codes::UNRESOLVED_REFERENCE,
        "flows[1].actions[0].config.model",
        Severity::Error,
    );
    only(
        &with(&[("/flows/1/actions/0/config", json!({"dataModel": "Score"}))]),
        codes::UNRESOLVED_REFERENCE,
        "flows[1].actions[0].config.dataModel",
        Severity::Error,
    );
    // page id, path with a query string, model by name all resolve
    assert!(
        with(&[("/flows/0/actions/1/config", json!({"to": "quiz"}))])
            .findings
            .is_empty()
    );
    assert!(with(&[(
        "/flows/0/actions/1/config",
        json!({"to": "/quiz?level=2#top"})
    )])
    .findings
    .is_empty());
    assert!(
        with(&[("/flows/1/actions/0/config/model", json!("Result"))])
            .findings
            .is_empty()
    );
}

#[test]
fn action_types_are_restricted() {
    let f = only(
        &with(&[("/flows/0/actions/0/type", json!("email"))]),
        codes::BAD_ACTION_TYPE,
        "flows[0].actions[0].type",
        Severity::Error,
    );
    assert!(f.message.contains("api|navigate|setState"), "{}", f.message);
}

#[test]
fn flow_trigger_must_not_be_empty() {
    for bad in [json!(""), json!("  "), json!({}), Value::Null] {
        only(
            &with(&[("/flows/1/trigger", bad.clone())]),
            codes::EMPTY_TRIGGER,
            "flows[1].trigger",
            Severity::Error,
        );
    }
    let mut v = sample();
    v["flows"][0].as_object_mut().unwrap().remove("trigger");
    only(
        &validate_value(&v),
        codes::EMPTY_TRIGGER,
        "flows[0].trigger",
        Severity::Error,
    );
}

#[test]
fn permission_roles_must_be_declared() {
    let f = only(
        &with(&[("/permissions/rules/0/roles", json!(["student", "admin"]))]),
        codes::UNDECLARED_ROLE,
        "permissions.rules[0].roles[1]",
        Severity::Error,
    );
    assert!(f.message.contains("admin"));
}

#[test]
fn permission_resources_should_exist() {
    only(
        &with(&[("/permissions/rules/1/resource", json!("Scores"))]),
        codes::UNKNOWN_RESOURCE,
        "permissions.rules[1].resource",
        Severity::Warning,
    );
    for ok in ["*", "/quiz", "quiz", "result", "Word"] {
        assert!(
            with(&[("/permissions/rules/1/resource", json!(ok))])
                .findings
                .is_empty(),
            "{ok}"
        );
    }
}

#[test]
fn a_page_without_components_is_a_warning() {
    only(
        &with(&[("/pages/2/components", json!([]))]),
        codes::EMPTY_PAGE,
        "pages[2].components",
        Severity::Warning,
    );
}

#[test]
fn parse_errors_become_one_error_at_their_path() {
    let report = with(&[("/pages/1/components/0/type", json!(7))]);
    let f = only(
        &report,
        codes::INVALID_SPEC,
        "pages[1].components[0].type",
        Severity::Error,
    );
    assert_eq!(f.message, "expected a string, found a number");
    assert!(!report.is_valid());
    let report = validate_value(&json!("not a spec"));
    only(&report, codes::INVALID_SPEC, "$", Severity::Error);
}

#[test]
fn findings_accumulate_into_the_score() {
    let report = with(&[
        ("/version", json!("one")),
        ("/pages/2/components", json!([])),
        ("/dataModels/0/fields/0/type", json!("text")),
        ("/flows/0/actions/0/type", json!("alert")),
    ]);
    assert_eq!((report.errors, report.warnings), (2, 2));
    assert_eq!(report.rule_score, 50);
    assert_eq!(report.with_code(codes::BAD_FIELD_TYPE).count(), 1);
    // document order: app, pages, data models, flows
    let codes: Vec<&str> = report.findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(
        codes,
        vec![
            codes::BAD_VERSION,
            codes::EMPTY_PAGE,
            codes::BAD_FIELD_TYPE,
            codes::BAD_ACTION_TYPE
        ]
    );
}

#[test]
fn rule_score_formula() {
    assert_eq!(rule_score(0, 0), 100);
    assert_eq!(rule_score(1, 0), 80);
    assert_eq!(rule_score(0, 1), 95);
    assert_eq!(rule_score(2, 3), 45);
    assert_eq!(rule_score(0, 20), 0);
    assert_eq!(rule_score(5, 0), 0);
    assert_eq!(rule_score(4, 5), 0);
    assert_eq!(rule_score(u32::MAX, u32::MAX), 0);
}

#[test]
fn final_score_formula() {
    assert_eq!(final_score(100, 80), 92);
    assert_eq!(final_score(85, 70), 79);
    assert_eq!(final_score(100, 100), 100);
    assert_eq!(final_score(0, 0), 0);
    assert_eq!(final_score(95, 83), 90); // 57 + 33.2 = 90.2
    assert_eq!(final_score(99, 99), 99); // no float drift
    assert_eq!(final_score(255, 255), 100);
}

#[test]
fn report_serialises_in_camel_case() {
    let report = with(&[("/dataModels/1/fields", json!([]))]);
    let v = serde_json::to_value(&report).unwrap();
    assert_eq!(v["ruleScore"], json!(95));
    assert_eq!(v["warnings"], json!(1));
    assert_eq!(v["findings"][0]["severity"], json!("warning"));
    assert_eq!(v["findings"][0]["code"], json!("empty_model"));
    assert_eq!(v["findings"][0]["path"], json!("dataModels[1].fields"));
    assert_eq!(
        serde_json::to_value(Severity::Error).unwrap(),
        json!("error")
    );
    let back: ValidationReport = serde_json::from_value(v).unwrap();
    assert_eq!(back, report);
}
