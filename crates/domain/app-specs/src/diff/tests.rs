//! Unit tests of the semantic diff: matching by id, change kinds, details, order and summary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::spec::fixtures::sample;

fn spec(v: &Value) -> AppSpec {
    AppSpec::parse(v).unwrap()
}

fn diff_with(edit: impl FnOnce(&mut Value)) -> SpecDiff {
    let from = sample();
    let mut to = sample();
    edit(&mut to);
    diff(&spec(&from), &spec(&to))
}

#[track_caller]
fn single(d: &SpecDiff) -> &Change {
    assert_eq!(d.changes.len(), 1, "{:#?}", d.changes);
    &d.changes[0]
}

fn arr<'a>(v: &'a mut Value, key: &str) -> &'a mut Vec<Value> {
    v.pointer_mut(key).unwrap().as_array_mut().unwrap()
}

#[test]
fn identical_specs_have_no_changes() {
    let d = diff(&spec(&sample()), &spec(&sample()));
    assert!(d.is_empty());
    assert_eq!((d.added, d.removed, d.changed), (0, 0, 0));
    assert_eq!(d.summary, "No changes.");
}

#[test]
fn an_added_page_is_reported_by_id_with_its_name() {
    let d = diff_with(|v| {
        arr(v, "/pages").push(json!({"id": "about", "name": "About", "path": "/about",
            "components": [{"id": "about-text", "type": "Text", "props": {"text": "hi"}}]}));
    });
    // its components travel with the page and are not reported again
    let c = single(&d);
    assert_eq!(
        (c.kind, c.entity, c.id.as_str(), c.path.as_str()),
        (ChangeKind::Added, EntityKind::Page, "about", "pages[3]")
    );
    assert_eq!(c.before, None);
    assert_eq!(
        c.after.as_ref().unwrap()["components"][0]["id"],
        json!("about-text")
    );
    assert_eq!((d.added, d.removed, d.changed), (1, 0, 0));
    assert_eq!(d.summary, "Added page \"About\" (/about).");
}

#[test]
fn a_renamed_page_is_a_page_change_with_details() {
    let d = diff_with(|v| v["pages"][0]["name"] = json!("首页"));
    let c = single(&d);
    assert_eq!(
        (c.kind, c.entity, c.id.as_str(), c.path.as_str()),
        (ChangeKind::Changed, EntityKind::Page, "home", "pages[0]")
    );
    assert_eq!(c.details, vec!["name: \"Home\" → \"首页\"".to_string()]);
    assert_eq!(c.before.as_ref().unwrap()["name"], json!("Home"));
    assert_eq!(c.after.as_ref().unwrap()["name"], json!("首页"));
    assert!(
        c.after.as_ref().unwrap().get("components").is_none(),
        "a page change carries the page's own fields"
    );
    assert_eq!(d.summary, "Changed page \"首页\" (/).");
}

#[test]
fn component_changes_are_component_entries_not_page_changes() {
    let d = diff_with(|v| {
        v["pages"][0]["components"][2]["props"]["label"] = json!("Go!");
        arr(v, "/pages/2/components").push(json!({"id": "results-chart", "type": "Chart"}));
        arr(v, "/pages/0/components").remove(1); // home-intro
    });
    let got: Vec<(ChangeKind, EntityKind, &str, &str)> = d
        .changes
        .iter()
        .map(|c| (c.kind, c.entity, c.id.as_str(), c.path.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                ChangeKind::Removed,
                EntityKind::Component,
                "home-intro",
                "pages[0].components[1]"
            ),
            (
                ChangeKind::Changed,
                EntityKind::Component,
                "start-button",
                "pages[0].components[1]"
            ),
            (
                ChangeKind::Added,
                EntityKind::Component,
                "results-chart",
                "pages[2].components[2]"
            ),
        ]
    );
    assert_eq!(
        d.changes[1].details,
        vec!["props.label: \"Start\" → \"Go!\"".to_string()]
    );
    assert_eq!(d.summary, "Added component \"results-chart\"; removed component \"home-intro\"; changed component \"start-button\".");
}

#[test]
fn a_moved_component_reports_its_new_parent() {
    let d = diff_with(|v| {
        let moved = arr(v, "/pages/2/components").remove(0);
        arr(v, "/pages/1/components/1/children").push(moved);
    });
    let c = single(&d);
    assert_eq!(
        (c.kind, c.id.as_str(), c.path.as_str()),
        (
            ChangeKind::Changed,
            "results-score",
            "pages[1].components[1].children[2]"
        )
    );
    assert_eq!(
        c.details,
        vec!["parent: \"page \\\"results\\\"\" → \"component \\\"quiz-card\\\"\"".to_string()]
    );
}

#[test]
fn a_renamed_field_is_one_field_change() {
    let d = diff_with(|v| v["dataModels"][0]["fields"][0]["name"] = json!("word"));
    let c = single(&d);
    assert_eq!(
        (c.kind, c.entity, c.id.as_str(), c.path.as_str()),
        (
            ChangeKind::Changed,
            EntityKind::Field,
            "word.word",
            "dataModels[0].fields[0]"
        )
    );
    assert_eq!(c.details, vec!["name: \"term\" → \"word\"".to_string()]);
    assert_eq!(c.before.as_ref().unwrap()["name"], json!("term"));
    assert_eq!(d.summary, "Changed data model \"Word\" (1 field changed).");
}

#[test]
fn a_renamed_and_retyped_field_is_a_remove_and_an_add() {
    let d = diff_with(|v| {
        v["dataModels"][0]["fields"][2] =
            json!({"name": "grade", "type": "string", "required": false})
    });
    let got: Vec<(ChangeKind, &str)> = d.changes.iter().map(|c| (c.kind, c.id.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (ChangeKind::Added, "word.grade"),
            (ChangeKind::Removed, "word.level")
        ]
    );
    assert_eq!(
        d.summary,
        "Changed data model \"Word\" (1 field added, 1 field removed)."
    );
}

#[test]
fn field_changes_are_matched_by_name_within_a_model() {
    let d = diff_with(|v| {
        arr(v, "/dataModels/0/fields")
            .push(json!({"name": "example", "type": "string", "required": false}));
        v["dataModels"][1]["fields"][1]["required"] = json!(true);
        arr(v, "/dataModels/1/fields").swap(0, 2); // order alone is not a change
    });
    let got: Vec<(ChangeKind, EntityKind, &str, &str)> = d
        .changes
        .iter()
        .map(|c| (c.kind, c.entity, c.id.as_str(), c.path.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                ChangeKind::Added,
                EntityKind::Field,
                "word.example",
                "dataModels[0].fields[3]"
            ),
            (
                ChangeKind::Changed,
                EntityKind::Field,
                "result.passed",
                "dataModels[1].fields[1]"
            ),
        ]
    );
    assert_eq!(
        d.changes[1].details,
        vec!["required: false → true".to_string()]
    );
    assert_eq!(d.summary, "Changed data model \"Word\" (1 field added); changed data model \"Result\" (1 field changed).");
}

#[test]
fn data_models_added_removed_and_renamed() {
    let d = diff_with(|v| {
        v["dataModels"][0]["name"] = json!("Vocabulary");
        arr(v, "/dataModels").remove(1);
        arr(v, "/dataModels").push(json!({"id": "badge", "name": "Badge", "fields": [{"name": "title", "type": "string"}]}));
    });
    let got: Vec<(ChangeKind, &str, &str)> = d
        .changes
        .iter()
        .map(|c| (c.kind, c.id.as_str(), c.path.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (ChangeKind::Changed, "word", "dataModels[0]"),
            (ChangeKind::Added, "badge", "dataModels[1]"),
            (ChangeKind::Removed, "result", "dataModels[1]"),
        ]
    );
    assert!(
        d.changes.iter().all(|c| c.entity == EntityKind::DataModel),
        "fields of added/removed models are not repeated"
    );
    assert_eq!(
        d.changes[0].details,
        vec!["name: \"Word\" → \"Vocabulary\"".to_string()]
    );
    assert_eq!(d.summary, "Changed data model \"Vocabulary\"; added data model \"Badge\"; removed data model \"Result\".");
}

#[test]
fn a_removed_flow() {
    let d = diff_with(|v| {
        arr(v, "/flows").remove(1);
    });
    let c = single(&d);
    assert_eq!(
        (c.kind, c.entity, c.id.as_str(), c.path.as_str()),
        (
            ChangeKind::Removed,
            EntityKind::Flow,
            "submit-answers",
            "flows[1]"
        )
    );
    assert_eq!(c.before.as_ref().unwrap()["name"], json!("Submit answers"));
    assert_eq!(c.after, None);
    assert_eq!((d.added, d.removed, d.changed), (0, 1, 0));
    assert_eq!(d.summary, "Removed flow \"Submit answers\".");
}

#[test]
fn a_changed_flow_lists_nested_details() {
    let d = diff_with(|v| {
        v["flows"][0]["actions"][1]["config"]["to"] = json!("/results");
        v["flows"][0]["trigger"] = json!({"event": "click"});
    });
    let c = single(&d);
    assert_eq!((c.kind, c.id.as_str()), (ChangeKind::Changed, "start-quiz"));
    assert_eq!(
        c.details,
        vec![
            "actions[1].config.to: \"/quiz\" → \"/results\"".to_string(),
            "trigger: \"click\" → {\"event\":\"click\"}".to_string()
        ]
    );
    let d =
        diff_with(|v| arr(v, "/flows/1/actions").push(json!({"type": "setState", "config": {}})));
    assert_eq!(
        single(&d).details,
        vec!["actions: 2 items → 3 items".to_string()]
    );
}

#[test]
fn a_changed_permission_rule_and_roles() {
    let d = diff_with(|v| {
        v["permissions"]["rules"][0]["roles"] = json!(["teacher"]);
        arr(v, "/permissions/roles").push(json!("parent"));
    });
    let got: Vec<(ChangeKind, EntityKind, &str, &str)> = d
        .changes
        .iter()
        .map(|c| (c.kind, c.entity, c.id.as_str(), c.path.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                ChangeKind::Changed,
                EntityKind::PermissionRule,
                "word",
                "permissions.rules[0]"
            ),
            (
                ChangeKind::Added,
                EntityKind::Role,
                "parent",
                "permissions.roles[2]"
            ),
        ]
    );
    assert_eq!(
        d.changes[0].details,
        vec!["roles: [\"student\",\"teacher\"] → [\"teacher\"]".to_string()]
    );
    assert_eq!(d.changes[1].after, Some(json!("parent")));
    assert_eq!(
        d.summary,
        "Changed permission rule for \"word\"; added role \"parent\"."
    );
}

#[test]
fn app_level_changes() {
    let d = diff_with(|v| {
        v["appName"] = json!("Word Quiz");
        v["version"] = json!("1.1.0");
    });
    let c = single(&d);
    assert_eq!(
        (c.kind, c.entity, c.id.as_str(), c.path.as_str()),
        (ChangeKind::Changed, EntityKind::App, "app", "$")
    );
    assert_eq!(
        c.details,
        vec![
            "appName: \"Vocabulary Quiz\" → \"Word Quiz\"".to_string(),
            "version: \"1.0.0\" → \"1.1.0\"".to_string()
        ]
    );
    assert!(c.before.as_ref().unwrap().get("pages").is_none());
    assert_eq!(d.summary, "Changed app settings (appName: \"Vocabulary Quiz\" → \"Word Quiz\", version: \"1.0.0\" → \"1.1.0\").");
    // an unknown top-level key is an app-level change too
    let d = diff_with(|v| v["description"] = json!("new"));
    assert_eq!(
        single(&d).details,
        vec!["description: \"Practise English words with a short quiz\" → \"new\"".to_string()]
    );
}

#[test]
fn mixed_changes_are_ordered_and_summarised() {
    let d = diff_with(|v| {
        arr(v, "/flows").remove(1);
        arr(v, "/dataModels/0/fields")
            .push(json!({"name": "example", "type": "string", "required": false}));
        arr(v, "/pages")
            .push(json!({"id": "about", "name": "About", "path": "/about", "components": []}));
        v["permissions"]["rules"][2]["actions"] = json!(["view", "export"]);
    });
    let entities: Vec<EntityKind> = d.changes.iter().map(|c| c.entity).collect();
    assert_eq!(
        entities,
        vec![
            EntityKind::Page,
            EntityKind::Field,
            EntityKind::Flow,
            EntityKind::PermissionRule
        ]
    );
    assert_eq!((d.added, d.removed, d.changed), (2, 1, 1));
    assert_eq!(
        d.summary,
        "Added page \"About\" (/about); changed data model \"Word\" (1 field added); removed flow \"Submit answers\"; \
         changed permission rule for \"results\"."
    );
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(v["changes"][0]["kind"], json!("added"));
    assert_eq!(v["changes"][0]["entity"], json!("page"));
    assert_eq!(v["changes"][3]["entity"], json!("permissionRule"));
    assert_eq!(v["changes"][1]["before"], Value::Null);
    assert_eq!(v["added"], json!(2));
}

#[test]
fn paths_sort_numerically_and_many_components_are_counted() {
    let d = diff_with(|v| {
        for i in 0..12 {
            arr(v, "/pages").push(
                json!({"id": format!("p{i}"), "name": format!("P{i}"), "path": format!("/p{i}")}),
            );
        }
        for i in 0..5 {
            arr(v, "/pages/0/components").push(json!({"id": format!("extra-{i}"), "type": "Text"}));
        }
    });
    let pages: Vec<&str> = d
        .changes
        .iter()
        .filter(|c| c.entity == EntityKind::Page)
        .map(|c| c.path.as_str())
        .collect();
    assert_eq!(pages.first(), Some(&"pages[3]"));
    assert_eq!(pages[7], "pages[10]");
    assert_eq!(pages.last(), Some(&"pages[14]"));
    assert!(
        d.summary
            .ends_with("; added page \"P11\" (/p11); added 5 components."),
        "{}",
        d.summary
    );
    assert_eq!(d.added, 17);
}

#[test]
fn duplicate_ids_pair_up_in_order() {
    let mut from = sample();
    arr(&mut from, "/flows")
        .push(json!({"id": "start-quiz", "name": "Copy", "trigger": "load", "actions": []}));
    let mut to = from.clone();
    to["flows"][2]["name"] = json!("Copy 2");
    let d = diff(&spec(&from), &spec(&to));
    let c = single(&d);
    assert_eq!(
        (c.id.as_str(), c.path.as_str()),
        ("start-quiz#2", "flows[2]")
    );
    assert_eq!(diff(&spec(&from), &spec(&to)), d, "deterministic");
}

#[test]
fn natural_order() {
    use std::cmp::Ordering::*;
    assert_eq!(natural_cmp("pages[2]", "pages[10]"), Less);
    assert_eq!(
        natural_cmp("pages[10].components[1]", "pages[10].components[0]"),
        Greater
    );
    assert_eq!(natural_cmp("pages[1]", "pages[1].components[0]"), Less);
    assert_eq!(natural_cmp("a007", "a7"), Equal);
    assert_eq!(natural_cmp("dataModels[0]", "dataModels[0]"), Equal);
}

/// Two specs with `n` components (over `n / 100` pages) and one data model of `n` fields; in `to`
/// every field is renamed, every other component's props change, and the last tenth of the
/// components is replaced by new ones.
pub(crate) fn large_pair(n: usize) -> (AppSpec, AppSpec) {
    let pages = (n / 100).max(1);
    let build = |to: bool| {
        let mut page_list: Vec<Value> = (0..pages)
            .map(|p| json!({"id": format!("p{p}"), "name": format!("P{p}"), "path": format!("/p{p}"), "components": []}))
            .collect();
        for i in 0..n {
            let replaced = to && i >= n - n / 10;
            let id = if replaced {
                format!("new{i}")
            } else {
                format!("c{i}")
            };
            let text = if to && i % 2 == 0 {
                format!("changed {i}")
            } else {
                format!("text {i}")
            };
            page_list[i % pages]["components"]
                .as_array_mut()
                .unwrap()
                .push(json!({"id": id, "type": "Text", "props": {"text": text}}));
        }
        let fields: Vec<Value> = (0..n)
            .map(|i| {
                let name = if to { format!("g{i}") } else { format!("f{i}") };
                json!({"name": name, "type": "string", "required": false})
            })
            .collect();
        spec(
            &json!({"version": "1.0.0", "appName": "Big", "pages": page_list,
            "dataModels": [{"id": "m", "name": "M", "fields": fields}]}),
        )
    };
    (build(false), build(true))
}

/// `cargo test -p ingenio-app-specs --release --lib -- --ignored --nocapture diff_bench`: prints
/// the time and the work count of a diff of two large specs (figures in docs/performance.md).
#[test]
#[ignore = "a bench: prints figures"]
fn diff_bench() {
    for n in [500, 1_000, 2_000, 5_000, 10_000] {
        let (a, b) = large_pair(n);
        let started = std::time::Instant::now();
        let (d, work) = diff_counted(&a, &b);
        println!(
            "bench: diff of {n} components + {n} fields: {:?}, {work} steps, {} changes",
            started.elapsed(),
            d.changes.len()
        );
    }
}

#[test]
fn a_diff_of_two_large_specs_does_near_linear_work() {
    let (small_a, small_b) = large_pair(1_000);
    let (a, b) = large_pair(5_000);
    let (_, small) = diff_counted(&small_a, &small_b);
    let (d, work) = diff_counted(&a, &b);
    // every field renamed, every other component changed, a tenth replaced
    assert_eq!((d.added, d.removed, d.changed), (500, 500, 5_000 + 2_250));
    let n = 10_000u64; // components + fields
    assert!(work < 60 * n, "{work} steps for {n} items");
    // five times the input, about five times the work (the sort adds a log factor): far from
    // the 125 times of a cubic pass
    assert!(work < 6 * small, "{small} → {work}");
    assert!(work > 4 * small, "{small} → {work}");
}

/// The keys of one side by entity kind, as the diff pairs them (fields as `model.field`).
fn keys_of(s: &AppSpec) -> HashMap<EntityKind, HashSet<String>> {
    let w = Work::default();
    let mut out: HashMap<EntityKind, HashSet<String>> = HashMap::new();
    let mut put = |e: EntityKind, k: String| {
        out.entry(e).or_default().insert(k);
    };
    put(EntityKind::App, "app".to_owned());
    for k in keyed_list(&s.pages, "pages", |p: &Page| p.id.as_str(), &w) {
        put(EntityKind::Page, k.key);
    }
    let located = located(s);
    for k in keyed_located(&located, &w) {
        put(EntityKind::Component, k.key);
    }
    let models = keyed_list(
        &s.data_models,
        "dataModels",
        |m: &DataModel| m.id.as_str(),
        &w,
    );
    for m in &models {
        put(EntityKind::DataModel, m.key.clone());
        for f in keyed_list(&m.item.fields, "f", |f: &Field| f.name.as_str(), &w) {
            put(EntityKind::Field, format!("{}.{}", m.key, f.key));
        }
    }
    for k in keyed_list(&s.flows, "flows", |f: &Flow| f.id.as_str(), &w) {
        put(EntityKind::Flow, k.key);
    }
    let rules = &s.permissions.rules;
    for k in keyed_list(rules, "r", |r: &PermissionRule| r.resource.as_str(), &w) {
        put(EntityKind::PermissionRule, k.key);
    }
    for k in keyed_list(&s.permissions.roles, "r", |r: &String| r.as_str(), &w) {
        put(EntityKind::Role, k.key);
    }
    out
}

/// Specs over small pools of ids and names, so that generated pairs share some entities.
fn arb_spec() -> impl Strategy<Value = AppSpec> {
    let id = || prop::sample::select(vec!["a", "b", "c", "d"]);
    let word = || prop::sample::select(vec!["x", "y", "Text", "Button", "string", "number"]);
    let child = (id(), word()).prop_map(|(i, t)| json!({"id": format!("k{i}"), "type": t}));
    let component = (id(), word(), word(), prop::collection::vec(child, 0..2)).prop_map(
        |(i, t, p, ch)| json!({"id": i, "type": t, "props": {"text": p}, "children": ch}),
    );
    let page = (id(), word(), prop::collection::vec(component, 0..3)).prop_map(
        |(i, n, cs)| json!({"id": i, "name": n, "path": format!("/{i}"), "components": cs}),
    );
    let field = (word(), word(), any::<bool>())
        .prop_map(|(n, t, r)| json!({"name": n, "type": t, "required": r}));
    let model = (id(), word(), prop::collection::vec(field, 0..4))
        .prop_map(|(i, n, fs)| json!({"id": i, "name": n, "fields": fs}));
    let flow = (id(), word()).prop_map(|(i, n)| json!({"id": i, "name": n, "trigger": "click"}));
    let rule = (word(), word()).prop_map(|(r, a)| json!({"resource": r, "actions": [a]}));
    (
        word(),
        prop::collection::vec(page, 0..3),
        prop::collection::vec(model, 0..3),
        prop::collection::vec(flow, 0..3),
        prop::collection::vec(rule, 0..2),
        prop::collection::vec(word(), 0..3),
    )
        .prop_map(|(app, pages, models, flows, rules, roles)| {
            spec(
                &json!({"version": "1.0.0", "appName": app, "pages": pages, "dataModels": models,
                "flows": flows, "permissions": {"roles": roles, "rules": rules}}),
            )
        })
}

fn kinds(d: &SpecDiff, kind: ChangeKind) -> BTreeSet<(EntityKind, String)> {
    d.changes
        .iter()
        .filter(|c| c.kind == kind)
        .map(|c| (c.entity, c.id.clone()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn diff_invariants(a in arb_spec(), b in arb_spec()) {
        prop_assert!(diff(&a, &a).is_empty());
        let d = diff(&a, &b);
        prop_assert_eq!(
            (d.added + d.removed + d.changed) as usize,
            d.changes.len()
        );
        prop_assert_eq!(d.is_empty(), d.summary == "No changes.");
        let (from, to) = (keys_of(&a), keys_of(&b));
        let has = |side: &HashMap<EntityKind, HashSet<String>>, c: &Change| {
            side.get(&c.entity).is_some_and(|k| k.contains(&c.id))
        };
        for c in &d.changes {
            match c.kind {
                // really new / really gone, with the whole value on the one side
                ChangeKind::Added => {
                    prop_assert!(has(&to, c) && !has(&from, c), "{:?}", c);
                    prop_assert!(c.before.is_none() && c.after.is_some());
                }
                ChangeKind::Removed => {
                    prop_assert!(has(&from, c) && !has(&to, c), "{:?}", c);
                    prop_assert!(c.before.is_some() && c.after.is_none());
                }
                // really on both sides (a renamed field: under its new name) and really different
                ChangeKind::Changed => {
                    prop_assert!(has(&to, c), "{:?}", c);
                    prop_assert!(has(&from, c) || c.entity == EntityKind::Field, "{:?}", c);
                    prop_assert_ne!(&c.before, &c.after);
                    prop_assert!(!c.details.is_empty());
                }
            }
        }
        // swapping the sides swaps adds and removes; changes stay changes
        let r = diff(&b, &a);
        prop_assert_eq!(kinds(&d, ChangeKind::Added), kinds(&r, ChangeKind::Removed));
        prop_assert_eq!(kinds(&d, ChangeKind::Removed), kinds(&r, ChangeKind::Added));
        prop_assert_eq!(d.changed, r.changed);
        prop_assert_eq!(diff(&a, &b), d, "deterministic");
    }
}
