//! Tests of the offline generator: kind recognition in both languages, the generated specs
//! passing the app-specs rule pass with no findings, own invariant checks, determinism,
//! language and audience handling, regeneration and the review.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use ingenio_app_specs::validation::validate_value;
use ingenio_app_specs::AgeGroup;
use serde_json::json;
use std::collections::BTreeSet;

fn input(req: &str, age: Option<AgeGroup>) -> GenerationInput {
    GenerationInput {
        requirement: req.to_string(),
        age_group: age,
        previous_spec: None,
    }
}

fn generate(inp: &GenerationInput) -> (Value, Value) {
    let g = OfflineGenerator;
    let plan = g.plan_value(inp);
    let spec = g.spec_value(inp, &plan);
    (plan, spec)
}

/// (requirement, expected kind, Chinese?)
const CASES: &[(&str, AppKind, bool)] = &[
    (
        "a vocabulary quiz for primary school pupils",
        AppKind::Quiz,
        false,
    ),
    ("帮我做一个小学生背单词的测验", AppKind::Quiz, true),
    ("todo list for my homework", AppKind::Todo, false),
    ("班级日记本", AppKind::Diary, true),
    ("社团招新报名", AppKind::Club, true),
    ("school shop", AppKind::Shop, false),
    ("flashcards for biology terms", AppKind::Flashcards, false),
    (
        "帮我做一个英语单词卡片应用，可以翻面记忆",
        AppKind::Flashcards,
        true,
    ),
    (
        "A poll where our class votes on the next field trip",
        AppKind::Poll,
        false,
    ),
    ("做一个班级投票小程序", AppKind::Poll, true),
    (
        "My weekly class timetable with rooms and teachers",
        AppKind::Timetable,
        false,
    ),
    ("我想要一个初二的课程表", AppKind::Timetable, true),
    (
        "A library app so classmates can borrow books from the reading corner",
        AppKind::Library,
        false,
    ),
    ("班级图书角借书登记", AppKind::Library, true),
    ("habit tracker to check in every day", AppKind::Habit, false),
    ("每天读书打卡，养成好习惯", AppKind::Habit, true),
    (
        "a guestbook for our graduation website",
        AppKind::Guestbook,
        false,
    ),
    ("毕业留言板，同学们可以互相留言", AppKind::Guestbook, true),
    ("写一个记录心情的日记应用", AppKind::Diary, true),
    (
        "an online store for the school charity sale",
        AppKind::Shop,
        false,
    ),
    ("学校小卖部线上购物", AppKind::Shop, true),
    (
        "Club registration for the robotics club",
        AppKind::Club,
        false,
    ),
    ("a to-do app for group project tasks", AppKind::Todo, false),
    ("我的作业待办清单", AppKind::Todo, true),
    (
        "a page to share information about our school festival",
        AppKind::Generic,
        false,
    ),
    ("介绍我们学校的运动会", AppKind::Generic, true),
];

const AGES: [Option<AgeGroup>; 5] = [
    None,
    Some(AgeGroup::Elementary),
    Some(AgeGroup::MiddleSchool),
    Some(AgeGroup::HighSchool),
    Some(AgeGroup::University),
];

fn has_cjk(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

fn arr<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v.get(key)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("{key} is not an array"))
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{key} is not a string in {v}"))
}

fn all_components(spec: &Value) -> Vec<(String, Value)> {
    fn walk(page: &str, c: &Value, out: &mut Vec<(String, Value)>) {
        out.push((page.to_string(), c.clone()));
        for ch in c
            .get("children")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            walk(page, ch, out);
        }
    }
    let mut out = Vec::new();
    for p in arr(spec, "pages") {
        for c in arr(p, "components") {
            walk(s(p, "id"), c, &mut out);
        }
    }
    out
}

/// Our own structural checks, independent of the app-specs validator.
fn check_invariants(spec: &Value, label: &str) {
    assert_eq!(s(spec, "version"), "1.0.0", "{label}");
    assert!(!s(spec, "appName").trim().is_empty(), "{label}");
    let pages = arr(spec, "pages");
    let models = arr(spec, "dataModels");
    let flows = arr(spec, "flows");
    assert!(pages.len() >= 2, "{label}: at least two pages");
    assert!(!models.is_empty() && !flows.is_empty(), "{label}");

    // Every id is unique across pages, components, models and flows.
    let comps = all_components(spec);
    let mut ids = BTreeSet::new();
    for id in pages
        .iter()
        .chain(models)
        .chain(flows)
        .map(|v| s(v, "id").to_string())
        .chain(comps.iter().map(|(_, c)| s(c, "id").to_string()))
    {
        assert!(!id.is_empty(), "{label}: blank id");
        assert!(ids.insert(id.clone()), "{label}: duplicate id {id}");
    }
    let paths: BTreeSet<&str> = pages.iter().map(|p| s(p, "path")).collect();
    assert_eq!(paths.len(), pages.len(), "{label}: duplicate paths");
    assert!(
        paths.iter().all(|p| p.starts_with('/')),
        "{label}: {paths:?}"
    );
    assert!(paths.contains("/"), "{label}: a home page");
    assert!(
        pages.iter().all(|p| !arr(p, "components").is_empty()),
        "{label}: empty page"
    );

    let model_ids: BTreeSet<&str> = models.iter().map(|m| s(m, "id")).collect();
    let flow_ids: BTreeSet<&str> = flows.iter().map(|f| s(f, "id")).collect();
    for m in models {
        let fields = arr(m, "fields");
        assert!(!fields.is_empty(), "{label}");
        assert!(
            fields.iter().any(|f| f["required"] == json!(true)),
            "{label}: a required field"
        );
        let mut names = BTreeSet::new();
        for f in fields {
            assert!(
                ["string", "number", "boolean", "date"].contains(&s(f, "type")),
                "{label}"
            );
            assert!(f["required"].is_boolean(), "{label}");
            assert!(names.insert(s(f, "name")), "{label}: duplicate field");
        }
    }

    // Component references resolve, and every model and flow is used.
    let mut used_models = BTreeSet::new();
    let mut used_flows = BTreeSet::new();
    for (page, c) in &comps {
        let props = &c["props"];
        if let Some(m) = props.get("dataModel").and_then(Value::as_str) {
            assert!(model_ids.contains(m), "{label}: {page} names model {m}");
            used_models.insert(m.to_string());
            if let Some(field) = props.get("field").and_then(Value::as_str) {
                let model = models.iter().find(|x| s(x, "id") == m).unwrap();
                assert!(
                    arr(model, "fields").iter().any(|f| s(f, "name") == field),
                    "{label}: {field}"
                );
            }
        }
        for key in ["onClick", "onSubmit"] {
            if let Some(f) = props.get(key).and_then(Value::as_str) {
                assert!(flow_ids.contains(f), "{label}: {page} names flow {f}");
                used_flows.insert(f.to_string());
            }
        }
        if c["type"] == "Button" {
            assert!(
                props.get("onClick").is_some(),
                "{label}: button without onClick"
            );
        }
        if c["type"] == "Form" {
            let m = s(props, "dataModel");
            let model = models.iter().find(|x| s(x, "id") == m).unwrap();
            for input in arr(c, "children") {
                let field = s(&input["props"], "field");
                assert!(
                    arr(model, "fields").iter().any(|f| s(f, "name") == field),
                    "{label}: {field}"
                );
            }
        }
    }
    assert_eq!(
        used_models.len(),
        model_ids.len(),
        "{label}: every model is used"
    );
    assert_eq!(
        used_flows.len(),
        flow_ids.len(),
        "{label}: every flow is triggered"
    );

    // Flow actions resolve; every non-home page is a navigation target.
    let mut targets = BTreeSet::new();
    for f in flows {
        assert!(!s(f, "trigger").is_empty(), "{label}");
        let actions = arr(f, "actions");
        assert!(!actions.is_empty(), "{label}");
        for a in actions {
            match s(a, "type") {
                "navigate" => {
                    let to = s(&a["config"], "to");
                    assert!(paths.contains(to), "{label}: navigate to {to}");
                    targets.insert(to.to_string());
                }
                "api" => assert!(model_ids.contains(s(&a["config"], "dataModel")), "{label}"),
                "setState" => assert!(!s(&a["config"], "key").is_empty(), "{label}"),
                other => panic!("{label}: action type {other}"),
            }
        }
    }
    for p in &paths {
        assert!(
            *p == "/" || targets.contains(*p),
            "{label}: page {p} unreachable"
        );
    }

    // Permissions: rules name models and declared roles.
    let roles: BTreeSet<&str> = arr(&spec["permissions"], "roles")
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(roles.len() >= 2, "{label}");
    let rules = arr(&spec["permissions"], "rules");
    assert!(!rules.is_empty(), "{label}");
    for r in rules {
        assert!(model_ids.contains(s(r, "resource")), "{label}");
        assert!(!arr(r, "actions").is_empty(), "{label}");
        for role in arr(r, "roles") {
            assert!(
                roles.contains(role.as_str().unwrap()),
                "{label}: role {role}"
            );
        }
    }
}

#[test]
fn recognises_the_kind_in_both_languages() {
    for (req, kind, _) in CASES {
        assert_eq!(OfflineGenerator::recognise(req), *kind, "{req}");
        let (plan, spec) = generate(&input(req, None));
        assert_eq!(plan["appKind"], json!(kind.as_str()), "{req}");
        assert_eq!(spec["metadata"]["appKind"], json!(kind.as_str()), "{req}");
    }
}

#[test]
fn keywords_match_whole_words_only() {
    // "test" in "contest", "store" in "restore", "book" in "notebook" are not keywords.
    assert_eq!(
        OfflineGenerator::recognise("a contest page"),
        AppKind::Generic
    );
    assert_eq!(
        OfflineGenerator::recognise("restore my notebook"),
        AppKind::Generic
    );
    assert_eq!(
        OfflineGenerator::recognise("an app with examples of tasks"),
        AppKind::Todo
    );
    assert_eq!(
        OfflineGenerator::recognise("Spelling TESTS for grade 2"),
        AppKind::Quiz
    );
    // "单词卡" beats "单词" (quiz hint).
    assert_eq!(
        OfflineGenerator::recognise("英语单词卡"),
        AppKind::Flashcards
    );
    assert_eq!(OfflineGenerator::recognise("背单词"), AppKind::Quiz);
    // A vote that asks students to sign up is still a poll.
    assert_eq!(
        OfflineGenerator::recognise("students sign up and vote for the class president"),
        AppKind::Poll
    );
}

#[test]
fn every_case_and_age_passes_the_rule_pass_with_no_findings() {
    let mut checked = 0;
    for (req, kind, _) in CASES {
        for age in AGES {
            let label = format!("{req} / {age:?}");
            let (_, spec) = generate(&input(req, age));
            let report = validate_value(&spec);
            assert_eq!(report.errors, 0, "{label}: {:#?}", report.findings);
            assert_eq!(report.warnings, 0, "{label}: {:#?}", report.findings);
            assert_eq!(report.rule_score, 100, "{label}");
            check_invariants(&spec, &label);
            assert_eq!(spec["metadata"]["appKind"], json!(kind.as_str()));
            checked += 1;
        }
    }
    assert_eq!(checked, CASES.len() * AGES.len());
}

#[test]
fn every_kind_builds_a_valid_spec_at_every_level() {
    // Forces each kind through the plan, whatever the text says.
    let g = OfflineGenerator;
    for kind in AppKind::ALL {
        for lang_req in ["an app for our class", "给我们班做一个应用"] {
            for age in AGES {
                let inp = input(lang_req, age);
                let spec = g.spec_value(&inp, &json!({"appKind": kind.as_str()}));
                let label = format!("{kind:?} / {lang_req} / {age:?}");
                let report = validate_value(&spec);
                assert_eq!(
                    (report.errors, report.warnings),
                    (0, 0),
                    "{label}: {:#?}",
                    report.findings
                );
                check_invariants(&spec, &label);
                assert_eq!(spec["metadata"]["appKind"], json!(kind.as_str()), "{label}");
            }
        }
    }
}

#[test]
fn output_is_deterministic() {
    for (req, _, _) in CASES {
        for age in AGES {
            let a = generate(&input(req, age));
            let b = generate(&input(req, age));
            assert_eq!(
                serde_json::to_string(&a.0).unwrap(),
                serde_json::to_string(&b.0).unwrap()
            );
            assert_eq!(
                serde_json::to_string(&a.1).unwrap(),
                serde_json::to_string(&b.1).unwrap()
            );
        }
    }
    // A fresh generator instance gives the same bytes too.
    let inp = input("帮我做一个小学生背单词的测验", None);
    let one = OfflineGenerator::new().spec_value(&inp, &OfflineGenerator::new().plan_value(&inp));
    let two = OfflineGenerator.spec_value(&inp, &OfflineGenerator.plan_value(&inp));
    assert_eq!(
        serde_json::to_vec(&one).unwrap(),
        serde_json::to_vec(&two).unwrap()
    );
}

fn labels(spec: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for (_, c) in all_components(spec) {
        for key in ["label", "text", "placeholder", "emptyText", "submitLabel"] {
            if let Some(t) = c["props"].get(key).and_then(Value::as_str) {
                out.push(t.to_string());
            }
        }
    }
    for p in arr(spec, "pages") {
        out.push(s(p, "name").to_string());
    }
    out
}

#[test]
fn chinese_input_gives_chinese_names_and_labels_english_gives_english() {
    for (req, _, zh) in CASES {
        let (plan, spec) = generate(&input(req, None));
        let name = s(&spec, "appName");
        let ls = labels(&spec);
        if *zh {
            assert!(has_cjk(name), "{req}: {name}");
            assert_eq!(plan["language"], json!("zh"));
            // Everything but time placeholders ("08:00") is Chinese.
            for l in ls.iter().filter(|l| l.chars().any(char::is_alphabetic)) {
                assert!(has_cjk(l), "{req}: label {l}");
            }
            assert!(arr(&spec, "dataModels")
                .iter()
                .all(|m| has_cjk(s(m, "name"))));
        } else {
            assert!(!has_cjk(name), "{req}: {name}");
            assert_eq!(plan["language"], json!("en"));
            assert!(ls.iter().all(|l| !has_cjk(l)), "{req}: {ls:?}");
        }
    }
}

#[test]
fn app_names_come_from_the_requirement() {
    let name = |req: &str| s(&generate(&input(req, None)).1, "appName").to_string();
    assert_eq!(name("帮我做一个小学生背单词的测验"), "小学生背单词的测验");
    assert_eq!(name("班级日记本"), "班级日记本");
    assert_eq!(name("社团招新报名"), "社团招新报名");
    assert_eq!(
        name("a vocabulary quiz for primary school pupils"),
        "Vocabulary Quiz"
    );
    assert_eq!(
        name("todo list for my homework"),
        "Todo List for My Homework"
    );
    assert_eq!(name("school shop"), "School Shop");
    assert_eq!(
        name("flashcards for biology terms"),
        "Flashcards for Biology Terms"
    );
    // The clause that mentions the kind, not the introduction.
    assert_eq!(name("我是一名初二学生，想做一个班级投票应用"), "班级投票");
    // A quoted name wins.
    assert_eq!(name("做一个叫“小书虫”的班级图书角"), "小书虫");
    assert_eq!(
        name("Build a quiz called \"Word Wizard\" for my class"),
        "Word Wizard"
    );
    // Nothing usable: the kind's default name in the right language.
    assert_eq!(name("投票"), "班级投票");
    assert_eq!(
        name("Please build an app that lets every pupil in our big school vote on lunch menus each week"),
        "Class Poll"
    );
}

#[test]
fn audience_changes_pages_fields_and_wording() {
    let req = "a vocabulary quiz for my class";
    let (elem_plan, elem) = generate(&input(req, Some(AgeGroup::Elementary)));
    let (mid_plan, mid) = generate(&input(req, Some(AgeGroup::MiddleSchool)));
    let (uni_plan, uni) = generate(&input(req, Some(AgeGroup::University)));
    let pages = |v: &Value| arr(v, "pages").len();
    let fields = |v: &Value| {
        arr(v, "dataModels")
            .iter()
            .map(|m| arr(m, "fields").len())
            .sum::<usize>()
    };
    assert!(
        pages(&elem) < pages(&mid) && pages(&mid) < pages(&uni),
        "{} {} {}",
        pages(&elem),
        pages(&mid),
        pages(&uni)
    );
    assert!(fields(&elem) < fields(&mid) && fields(&mid) < fields(&uni));
    assert_eq!(elem_plan["complexity"], "simple");
    assert_eq!(mid_plan["complexity"], "medium");
    assert_eq!(uni_plan["complexity"], "complex");
    assert!(arr(&uni, "pages").iter().any(|p| p["path"] == "/stats"));
    // Elementary: large text everywhere, friendlier labels.
    assert_eq!(elem["theme"]["fontSize"], "large");
    for (_, c) in all_components(&elem) {
        if ["Text", "Button", "Input"].contains(&s(&c, "type")) {
            assert_eq!(c["props"]["size"], "large", "{c}");
        }
    }
    assert!(all_components(&mid)
        .iter()
        .all(|(_, c)| c["props"].get("size").is_none()));
    assert!(labels(&elem).iter().any(|l| l == "Back to home"));
    assert!(labels(&mid).iter().any(|l| l == "Home"));
    // The audience can also come from the text.
    let (plan, spec) = generate(&input("帮我做一个小学生背单词的测验", None));
    assert_eq!(plan["ageGroup"], "elementary");
    assert_eq!(spec["theme"]["fontSize"], "large");
    let (plan, _) = generate(&input("a timetable for university students", None));
    assert_eq!(plan["ageGroup"], "university");
    assert_eq!(plan["complexity"], "complex");
}

#[test]
fn plan_has_the_documented_shape_and_matches_the_spec() {
    let (plan, spec) = generate(&input("社团招新报名", Some(AgeGroup::HighSchool)));
    assert_eq!(plan["appKind"], "club");
    assert!(arr(&plan, "modules").len() >= 3);
    assert!(["simple", "medium", "complex"].contains(&s(&plan, "complexity")));
    let reasoning = s(&plan, "reasoning");
    assert!(
        reasoning.contains("\"社团\"") && reasoning.contains("\"报名\""),
        "{reasoning}"
    );
    let plan_pages: Vec<(&str, &str)> = arr(&plan, "pages")
        .iter()
        .map(|p| (s(p, "id"), s(p, "path")))
        .collect();
    let spec_pages: Vec<(&str, &str)> = arr(&spec, "pages")
        .iter()
        .map(|p| (s(p, "id"), s(p, "path")))
        .collect();
    assert_eq!(plan_pages, spec_pages);
    for p in arr(&plan, "pages") {
        assert!(!s(p, "name").is_empty() && !s(p, "purpose").is_empty());
    }
    for (pm, sm) in arr(&plan, "dataModels")
        .iter()
        .zip(arr(&spec, "dataModels"))
    {
        assert_eq!(pm["id"], sm["id"]);
        let names: Vec<&Value> = arr(sm, "fields").iter().map(|f| &f["name"]).collect();
        assert_eq!(arr(pm, "fields").iter().collect::<Vec<_>>(), names);
    }
    let (plan, _) = generate(&input(
        "a page to share information about our school festival",
        None,
    ));
    assert_eq!(plan["appKind"], "generic");
    assert!(s(&plan, "reasoning").contains("No app-kind keyword matched"));
}

#[test]
fn execute_follows_the_plan_kind() {
    let g = OfflineGenerator;
    let inp = input("todo list for my homework", None);
    let spec = g.spec_value(&inp, &json!({"appKind": "habit"}));
    assert_eq!(spec["metadata"]["appKind"], "habit");
    // An unknown or missing kind falls back to the requirement's keywords.
    let spec = g.spec_value(&inp, &json!({"appKind": "spaceship"}));
    assert_eq!(spec["metadata"]["appKind"], "todo");
    let spec = g.spec_value(&inp, &json!({}));
    assert_eq!(spec["metadata"]["appKind"], "todo");
}

#[test]
fn regeneration_keeps_the_app_name_and_ids_of_the_same_kind() {
    let (_, mut prev) = generate(&input("todo list for my homework", None));
    prev["appName"] = json!("Alice's Homework Board");
    // The user renamed the tasks page and the task model.
    for p in prev["pages"].as_array_mut().unwrap() {
        if p["path"] == "/tasks" {
            p["id"] = json!("my-tasks");
        }
    }
    prev["dataModels"][0]["id"] = json!("homeworkItem");
    let mut inp = input(
        "a to-do list for homework with due dates",
        Some(AgeGroup::University),
    );
    inp.previous_spec = Some(prev.clone());
    let (plan, spec) = generate(&inp);
    assert_eq!(spec["appName"], "Alice's Homework Board");
    assert!(arr(&spec, "pages")
        .iter()
        .any(|p| p["id"] == "my-tasks" && p["path"] == "/tasks"));
    assert_eq!(spec["dataModels"][0]["id"], "homeworkItem");
    assert_eq!(plan["dataModels"][0]["id"], "homeworkItem");
    assert!(s(&plan, "reasoning").contains("previous app name and ids are kept"));
    let report = validate_value(&spec);
    assert_eq!(
        (report.errors, report.warnings),
        (0, 0),
        "{:#?}",
        report.findings
    );
    check_invariants(&spec, "regenerated");
    // Regeneration is deterministic as well.
    assert_eq!(spec, generate(&inp).1);

    // A previous spec of another kind is not reused.
    let mut other = input("班级日记本", None);
    other.previous_spec = Some(prev);
    let (plan, spec) = generate(&other);
    assert_eq!(spec["appName"], "班级日记本");
    assert!(arr(&spec, "dataModels")
        .iter()
        .all(|m| m["id"] != "homeworkItem"));
    assert!(s(&plan, "reasoning").contains("different kind"));

    // Without metadata the previous kind is guessed from its name and models.
    let (_, mut bare) = generate(&input("school shop", None));
    bare.as_object_mut().unwrap().remove("metadata");
    bare["appName"] = json!("Corner Store");
    let mut inp = input("a shop for our charity sale", None);
    inp.previous_spec = Some(bare);
    assert_eq!(generate(&inp).1["appName"], "Corner Store");
}

#[test]
fn review_scores_by_coverage() {
    let g = OfflineGenerator;
    let inp = input("flashcards for biology terms", None);
    let (_, spec) = generate(&inp);
    let (review, reasoning) = g.review_value(&inp, &spec);
    assert_eq!(review.score, 95, "{:?}", review.issues);
    assert!(review.issues.is_empty());
    assert!(review.summary.contains("score 95"), "{}", review.summary);
    assert!(reasoning.contains("penalty 0"));

    // An unused model, an untriggered flow, an unreachable page: lower score, named issues.
    let mut bad = spec.clone();
    bad["dataModels"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "orphan", "name": "Orphan",
        "fields": [{"name": "x", "type": "string", "required": false}]}));
    bad["flows"].as_array_mut().unwrap().push(
        json!({"id": "lonely", "name": "Lonely", "trigger": "onClick",
        "actions": [{"type": "setState", "config": {"key": "k", "value": 1}}]}),
    );
    bad["pages"].as_array_mut().unwrap().push(json!({"id": "hidden", "name": "Hidden", "path": "/hidden",
        "components": [{"id": "hidden-t", "type": "Text", "props": {"text": "hi"}, "children": []}]}));
    let (review, _) = g.review_value(&inp, &bad);
    assert_eq!(review.score, 95 - 3 - 1 - 2 - 2);
    assert_eq!(review.issues.len(), 4, "{:?}", review.issues);
    assert!(review.issues.iter().any(|i| i.contains("orphan")));
    assert!(review.issues.iter().any(|i| i.contains("lonely")));
    assert!(review.issues.iter().any(|i| i.contains("/hidden")));
    assert_eq!(g.review_value(&inp, &bad).0, review, "deterministic");

    // A one-page spec without permissions; Chinese requirement ⇒ Chinese issues; floor at 60.
    let tiny = json!({"version": "1.0.0", "appName": "x", "pages": [{"id": "p", "name": "P", "path": "/",
        "components": []}], "dataModels": [], "flows": [], "permissions": {"roles": [], "rules": []}});
    let (review, _) = g.review_value(&input("班级日记本", None), &tiny);
    assert_eq!(review.score, 95 - 10 - 3 - 3);
    assert!(review.issues.iter().all(|i| has_cjk(i)));
    assert!(has_cjk(&review.summary));
    let mut awful = tiny.clone();
    for i in 0..20 {
        awful["flows"]
            .as_array_mut()
            .unwrap()
            .push(json!({"id": format!("f{i}"), "name": "f",
            "trigger": "onClick", "actions": []}));
    }
    assert_eq!(g.review_value(&inp, &awful).0.score, 60);
}

#[tokio::test]
async fn the_port_reports_offline_rules_and_zero_usage() {
    let g: Box<dyn SpecGenerator> = Box::new(OfflineGenerator);
    assert_eq!(g.model_version(), "offline-rules-v1");
    assert!(g.is_offline());
    let inp = input("帮我做一个小学生背单词的测验", None);
    let plan = g.plan(&inp).await.unwrap();
    assert_eq!(plan.model, "offline-rules-v1");
    assert_eq!(plan.usage, TokenUsage::default());
    assert!(plan.reasoning.contains("\"测验\""), "{}", plan.reasoning);
    let spec = g.execute(&inp, &plan.value).await.unwrap();
    assert_eq!(spec.model, "offline-rules-v1");
    assert_eq!(spec.usage, TokenUsage::default());
    assert!(spec.reasoning.contains("'quiz'"), "{}", spec.reasoning);
    assert_eq!(validate_value(&spec.value).errors, 0);
    let review = g.review(&inp, &spec.value).await.unwrap();
    assert_eq!(review.model, "offline-rules-v1");
    assert_eq!(review.usage, TokenUsage::default());
    assert_eq!(review.value.score, 95);
    assert!(!review.reasoning.is_empty());
    // The quality gate passes: ⌊0.6·100 + 0.4·95⌋ = 98 ≥ 80.
    let rule = validate_value(&spec.value).rule_score;
    assert_eq!(
        ingenio_app_specs::validation::final_score(rule, review.value.score),
        98
    );
}

#[test]
fn quiz_spec_has_a_quiz_component_and_a_submit_flow() {
    let (_, spec) = generate(&input("a vocabulary quiz for primary school pupils", None));
    let comps = all_components(&spec);
    let quiz = comps
        .iter()
        .find(|(_, c)| c["type"] == "Quiz")
        .expect("a Quiz component");
    assert_eq!(quiz.1["props"]["dataModel"], "question");
    let submit = arr(&spec, "flows")
        .iter()
        .find(|f| f["id"] == "submit-quiz")
        .unwrap();
    assert!(arr(submit, "actions")
        .iter()
        .any(|a| a["type"] == "setState"));
    // Elementary: home, quiz and the question form only.
    let paths: Vec<&str> = arr(&spec, "pages").iter().map(|p| s(p, "path")).collect();
    assert_eq!(paths, ["/", "/quiz", "/questions/new"]);
    let question = &arr(&spec, "dataModels")[0];
    assert_eq!(
        question["fields"][0]["validation"],
        json!({"minLength": 1, "maxLength": 200})
    );
}

/// Text that breaks byte offsets taken from a lower-cased copy: letters whose lower case is longer
/// (`İ`) or shorter (`K` Kelvin, `Ω` Ohm), combining marks, RTL, emoji, NUL, every plane.
fn nasty_text() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let pieces = prop::sample::select(vec![
        "İ",
        "\u{212A}",
        "\u{2126}",
        "ẞ",
        "ǅ",
        "e\u{301}",
        "\u{5d0}\u{5d1}",
        "\u{202e}",
        "😀",
        "\u{0}",
        "𝔘",
        "",
        " ",
        "a",
        "app",
        " app",
        " that ",
        " with ",
        "please ",
        "an ",
        "单词",
        "小游戏",
        "帮我做一个",
        "应用",
        "「",
        "」",
        "\"",
        "'",
        "quiz",
        "vocabulary",
        "小学",
        "high school",
        "\u{10FFFF}",
        "\u{feff}",
        "\n",
        "\t",
    ]);
    prop_oneof![
        prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat()),
        any::<String>(),
        prop::collection::vec(any::<char>(), 0..200).prop_map(|v| v.into_iter().collect()),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
    /// No requirement text can panic the offline generator, and what it makes always parses,
    /// validates and diffs (the pipeline's whole pure path) without a panic.
    #[test]
    fn arbitrary_unicode_never_panics_generation_validation_or_diff(text in nasty_text(), other in nasty_text()) {
        use ingenio_app_specs::AppSpec;
        let (plan, spec) = generate(&input(&text, None));
        proptest::prop_assert!(plan.is_object());
        let parsed = AppSpec::parse(&spec);
        proptest::prop_assert!(parsed.is_ok(), "{:?}", parsed.err());
        let _ = validate_value(&spec);
        let (_, spec2) = generate(&input(&other, Some(AgeGroup::University)));
        if let (Ok(a), Ok(b)) = (parsed, AppSpec::parse(&spec2)) {
            let _ = ingenio_app_specs::diff::diff(&a, &b);
        }
        // the requirement itself as spec text: names, ids and paths of every shape
        let hostile = json!({"version": text, "appName": text, "pages": [{"id": text, "name": other, "path": text,
            "components": [{"id": other, "type": text, "props": {"text": text}, "children": []}]}],
            "dataModels": [{"id": text, "name": other, "fields": [{"name": text, "type": other, "required": true}]}]});
        let _ = validate_value(&hostile);
        if let Ok(h) = AppSpec::parse(&hostile) {
            let _ = ingenio_app_specs::diff::diff(&h, &h);
        }
    }
}

#[test]
fn case_changing_letters_before_a_cut_word_do_not_break_the_app_name() {
    // `İ` lower-cases to three bytes, `K` (Kelvin) to one: offsets found in a lower-cased copy
    // point elsewhere (or inside a character) in the original
    for text in [
        "İİİİİİ lovely big vocabulary quiz app that helps pupils learn",
        "\u{212A}\u{212A}\u{212A}\u{212A} lovely big vocabulary quiz game that helps pupils",
        "please an İstanbul vocabulary quiz with lots of words",
    ] {
        let (_, spec) = generate(&input(text, None));
        let name = s(&spec, "appName");
        assert!(
            !name.is_empty() && !name.to_lowercase().contains(" that "),
            "{text:?} → {name:?}"
        );
    }
}
