//! Tests of the source-project renderers (`react-next`, `vue-vite`): project structure, exact
//! dependency versions, README language, injection safety, and properties over generated specs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use ingenio_app_specs::spec::{fixtures, Action, Component, DataModel, Field, Flow, Page};
use ingenio_app_specs::validation::COMPONENT_TYPES;
use ingenio_app_specs::AppSpec;
use proptest::prelude::*;
use serde_json::Value;

use super::project::Plan;
use super::react_next::ReactNext;
use super::vue_vite::VueVite;
use super::Renderer;
use crate::tree::FileTree;

/// Where each renderer puts things.
struct Shape {
    renderer: &'static dyn Renderer,
    data_module: &'static str,
    component: fn(&str) -> String,
    store: fn(&str) -> String,
    /// Paths that are a page's route (react) or view (vue).
    is_page: fn(&str) -> bool,
}

const SHAPES: &[Shape] = &[
    Shape {
        renderer: &ReactNext,
        data_module: "lib/app-data.ts",
        component: |k| format!("components/{k}.tsx"),
        store: |m| format!("lib/stores/{m}.ts"),
        is_page: |p| p.starts_with("app/") && p.ends_with("/page.tsx") || p == "app/page.tsx",
    },
    Shape {
        renderer: &VueVite,
        data_module: "src/lib/app-data.ts",
        component: |k| format!("src/components/{k}.vue"),
        store: |m| format!("src/stores/{m}.ts"),
        is_page: |p| p.starts_with("src/views/") && p.ends_with("View.vue"),
    },
];

fn text(tree: &FileTree, path: &str) -> String {
    String::from_utf8(
        tree.get(path)
            .unwrap_or_else(|| panic!("no {path}"))
            .to_vec(),
    )
    .unwrap()
}

/// The JSON inside `JSON.parse("…")` of a data module.
fn data_of(module: &str) -> Value {
    let start = module.find("JSON.parse(").expect("JSON.parse") + "JSON.parse(".len();
    let end = module.rfind(");").expect("closing");
    let literal = &module[start..end];
    assert!(
        !literal.contains(['\u{2028}', '\u{2029}', '<', '>']),
        "unescaped character"
    );
    let json_text: String = serde_json::from_str(literal).expect("a JSON string literal");
    serde_json::from_str(&json_text).expect("JSON text")
}

fn sample() -> AppSpec {
    AppSpec::parse(&fixtures::sample()).unwrap()
}

fn chinese() -> AppSpec {
    AppSpec::parse(
        &serde_json::from_str(
            r#"{
        "appName": "阅读打卡",
        "pages": [
            {"id": "首页", "name": "首页", "path": "/", "components": [
                {"id": "t", "type": "Text", "props": {"text": "你好"}}]},
            {"id": "记录", "name": "记录", "path": "/记录", "components": [
                {"id": "f", "type": "Form", "props": {"model": "书"}}]},
            {"id": "统计", "name": "统计", "path": "/记录", "components": [
                {"id": "x", "type": "贴纸墙", "props": {}}]}
        ],
        "dataModels": [{"id": "书", "name": "书", "fields": [
            {"name": "名字", "type": "string", "required": true},
            {"name": "名称", "type": "number"}]}]
    }"#,
        )
        .unwrap(),
    )
    .unwrap()
}

fn exact_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[test]
fn every_page_kind_and_model_gets_its_file() {
    let spec = sample();
    for shape in SHAPES {
        let tree = shape.renderer.render(&spec).unwrap();
        let pages: Vec<&str> = tree
            .iter()
            .map(|(p, _)| p.as_str())
            .filter(|p| (shape.is_page)(p))
            .collect();
        assert_eq!(
            pages.len(),
            spec.pages.len(),
            "{}: {pages:?}",
            shape.renderer.name()
        );
        for kind in ["Header", "Text", "Button", "Timer", "Card", "Quiz", "List"] {
            assert!(tree.get(&(shape.component)(kind)).is_some(), "{kind}");
        }
        assert!(
            tree.get(&(shape.component)("Image")).is_none(),
            "unused kind rendered"
        );
        assert!(tree.get(&(shape.component)("UnknownComponent")).is_some());
        for model in ["word", "result"] {
            let store = text(&tree, &(shape.store)(model));
            assert!(store.contains("createStore<"), "{model}");
        }
        for file in ["README.md", ".gitignore", "package.json", "tsconfig.json"] {
            assert!(tree.get(file).is_some(), "{file}");
        }
    }
    let react = ReactNext.render(&spec).unwrap();
    for route in ["app/page.tsx", "app/quiz/page.tsx", "app/results/page.tsx"] {
        assert!(react.get(route).is_some(), "{route}");
    }
    let router = text(&VueVite.render(&spec).unwrap(), "src/router.ts");
    for route in ["\"/\"", "\"/quiz\"", "\"/results\""] {
        assert!(router.contains(&format!("path: {route}")), "{route}");
    }
}

#[test]
fn package_json_is_private_with_exact_versions() {
    for shape in SHAPES {
        let tree = shape.renderer.render(&chinese()).unwrap();
        let pkg: Value = serde_json::from_str(&text(&tree, "package.json")).unwrap();
        assert_eq!(pkg["private"], true);
        assert_eq!(pkg["name"], "ingenio-app");
        let mut count = 0;
        for section in ["dependencies", "devDependencies"] {
            for (name, version) in pkg[section].as_object().unwrap() {
                assert!(exact_version(version.as_str().unwrap()), "{name} {version}");
                count += 1;
            }
        }
        assert!(count >= 5);
        for script in ["dev", "build"] {
            assert!(pkg["scripts"][script].is_string(), "{script}");
        }
    }
}

#[test]
fn readme_speaks_the_language_of_the_app() {
    for shape in SHAPES {
        let zh = text(&shape.renderer.render(&chinese()).unwrap(), "README.md");
        let en = text(&shape.renderer.render(&sample()).unwrap(), "README.md");
        for readme in [&zh, &en] {
            for cmd in ["npm install", "npm run dev", "npm run build"] {
                assert!(readme.contains(cmd), "{cmd}");
            }
        }
        assert!(zh.contains("运行") && !zh.contains("Run it"));
        assert!(en.contains("Run it") && !en.contains("运行"));
    }
}

#[test]
fn chinese_paths_and_colliding_paths_get_distinct_routes() {
    let plan = Plan::new(&chinese()).unwrap();
    let routes: Vec<&str> = plan.pages.iter().map(|p| p.route.as_str()).collect();
    assert_eq!(routes, ["/", "/page-2", "/page-3"]);
    assert_eq!(plan.models[0].ident, "model1");
    let keys: Vec<&str> = plan.models[0]
        .fields
        .iter()
        .map(|f| f.key.as_str())
        .collect();
    assert_eq!(keys, ["field1", "field2"]);
    let tree = ReactNext.render(&chinese()).unwrap();
    let data = data_of(&text(&tree, "lib/app-data.ts"));
    assert_eq!(data["models"][0]["fields"][0]["name"], "名字");
    assert_eq!(data["models"][0]["fields"][0]["key"], "field1");
    assert_eq!(data["pages"][2]["components"][0]["kind"], "Unknown");
    assert_eq!(data["pages"][2]["components"][0]["type"], "贴纸墙");
}

#[test]
fn hostile_text_stays_in_the_data_module() {
    let evil = "</script><script>alert(1)</script>\"'><img src=x onerror=alert(1)>`${alert(1)}`\u{2028}\u{2029}";
    // the hostile text as JSON string literals, spliced into a literal document
    let e = serde_json::to_string(evil).unwrap();
    let path = serde_json::to_string(&format!("/{evil}")).unwrap();
    let doc = format!(
        r#"{{
        "appName": {e},
        "pages": [{{"id": {e}, "name": {e}, "path": {path}, "components": [
            {{"id": {e}, "type": {e}, "props": {{"text": {e}, "__proto__": {{"x": {e}}}}},
             "children": [{{"id": "c", "type": "Text", "props": {{{e}: {e}}}}}]}}]}}],
        "dataModels": [{{"id": {e}, "name": "__proto__", "fields": [
            {{"name": "__proto__", "type": "string", "required": true}},
            {{"name": "constructor", "type": "number"}},
            {{"name": "class", "type": "boolean"}},
            {{"name": "名字", "type": {e}, "validation": {{"pattern": {e}}}}}]}}],
        "flows": [{{"id": {e}, "name": {e}, "trigger": {e}, "actions": [
            {{"type": "navigate", "config": {{"to": {e}}}}}]}}]
    }}"#
    );
    let spec = AppSpec::parse(&serde_json::from_str::<Value>(&doc).unwrap()).unwrap();
    for shape in SHAPES {
        let tree = shape.renderer.render(&spec).unwrap();
        for (path, bytes) in tree.iter() {
            if path.as_str() == shape.data_module {
                continue;
            }
            let body = String::from_utf8(bytes.to_vec()).unwrap();
            // Identifiers may keep the ASCII words of spec text, never its markup or quotes.
            for needle in ["<img", "alert(", "\"'>", "${alert", "\u{2028}", "名字"] {
                assert!(!body.contains(needle), "{path} contains {needle:?}");
            }
        }
        let data = data_of(&text(&tree, shape.data_module));
        assert_eq!(data["appName"], evil);
        assert_eq!(
            data["pages"][0]["components"][0]["props"]["__proto__"]["x"],
            evil
        );
        assert_eq!(data["pages"][0]["components"][0]["kind"], "Unknown");
        let store = text(&tree, &(shape.store)("proto"));
        for key in [
            "\"proto\": string;",
            "\"constructor_\"?: number",
            "\"class_\"?: boolean",
            "\"field4\"?: string",
        ] {
            assert!(store.contains(key), "{key} in {store}");
        }
    }
}

#[test]
fn a_spec_without_pages_is_refused() {
    for shape in SHAPES {
        let spec = AppSpec {
            app_name: "x".into(),
            ..AppSpec::default()
        };
        assert!(shape.renderer.render(&spec).is_err());
    }
}

// ---------------------------------------------------------------------------------------------
// properties over generated specs

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9 /_-]{0,12}",
        "\\PC{0,8}",
        Just("__proto__".to_owned()),
        Just("constructor".to_owned()),
        Just("/".to_owned()),
        Just("名字".to_owned()),
        Just("`${x}`</script>\u{2028}".to_owned()),
    ]
}

fn any_type() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(COMPONENT_TYPES).prop_map(str::to_owned),
        1 => prop::sample::select(COMPONENT_TYPES).prop_map(|t| t.to_uppercase()),
        1 => any_text(),
    ]
}

fn any_props() -> impl Strategy<Value = serde_json::Map<String, Value>> {
    prop::collection::btree_map(
        prop_oneof![
            Just("text".to_owned()),
            Just("model".to_owned()),
            Just("onClick".to_owned()),
            Just("__proto__".to_owned()),
            any_text()
        ],
        prop_oneof![
            any_text().prop_map(Value::String),
            any::<i32>().prop_map(Value::from),
            Just(serde_json::from_str::<Value>(r#"[1, 2, {"label": "a", "value": 3}]"#).unwrap()),
        ],
        0..4,
    )
    .prop_map(|m| m.into_iter().collect())
}

fn any_component() -> impl Strategy<Value = Component> {
    let leaf = (any_text(), any_type(), any_props()).prop_map(|(id, ty, props)| Component {
        id,
        r#type: ty,
        props,
        ..Component::default()
    });
    leaf.prop_recursive(3, 16, 3, |inner| {
        (
            any_text(),
            any_type(),
            any_props(),
            prop::collection::vec(inner, 0..3),
        )
            .prop_map(|(id, ty, props, children)| Component {
                id,
                r#type: ty,
                props,
                children,
                ..Component::default()
            })
    })
}

fn any_field() -> impl Strategy<Value = Field> {
    (
        any_text(),
        prop_oneof![
            Just("string".to_owned()),
            Just("number".to_owned()),
            Just("boolean".to_owned()),
            Just("date".to_owned()),
            any_text()
        ],
        any::<bool>(),
        prop_oneof![
            Just(None),
            Just(Some(
                serde_json::from_str::<Value>(r#"{"minLength": 2, "maxLength": 5}"#).unwrap()
            )),
            any_text().prop_map(|p| Some(Value::Object(
                [("pattern".to_owned(), Value::String(p))]
                    .into_iter()
                    .collect()
            ))),
        ],
    )
        .prop_map(|(name, ty, required, validation)| Field {
            name,
            r#type: ty,
            required,
            validation,
            ..Field::default()
        })
}

fn any_spec() -> impl Strategy<Value = AppSpec> {
    let page = (
        any_text(),
        any_text(),
        any_text(),
        prop::collection::vec(any_component(), 0..4),
    )
        .prop_map(|(id, name, path, components)| Page {
            id,
            name,
            path,
            components,
            ..Page::default()
        });
    let model = (
        any_text(),
        any_text(),
        prop::collection::vec(any_field(), 0..5),
    )
        .prop_map(|(id, name, fields)| DataModel {
            id,
            name,
            fields,
            ..DataModel::default()
        });
    let flow = (any_text(), any_text()).prop_map(|(id, to)| Flow {
        id: id.clone(),
        name: id,
        trigger: Value::String("click".into()),
        actions: vec![Action {
            r#type: "navigate".into(),
            config: [("to".to_owned(), Value::String(to))].into_iter().collect(),
            ..Action::default()
        }],
        ..Flow::default()
    });
    (
        any_text(),
        prop::collection::vec(page, 1..5),
        prop::collection::vec(model, 0..4),
        prop::collection::vec(flow, 0..3),
    )
        .prop_map(|(app_name, pages, data_models, flows)| AppSpec {
            version: "1.0.0".into(),
            app_name,
            pages,
            data_models,
            flows,
            ..AppSpec::default()
        })
}

fn safe_ident(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn renderers_are_total_deterministic_and_complete(spec in any_spec()) {
        let plan = Plan::new(&spec).unwrap();
        let kinds: BTreeSet<&str> = spec
            .components()
            .iter()
            .map(|(_, c)| c.component.r#type.as_str())
            .filter(|t| COMPONENT_TYPES.contains(t))
            .collect();
        for shape in SHAPES {
            let tree = shape.renderer.render(&spec).unwrap();
            prop_assert_eq!(&tree, &shape.renderer.render(&spec).unwrap());
            let lower: BTreeSet<String> = tree.iter().map(|(p, _)| p.as_str().to_lowercase()).collect();
            prop_assert_eq!(lower.len(), tree.len(), "paths differing only in case");

            let data = data_of(&text(&tree, shape.data_module));
            prop_assert_eq!(&data, &plan.data);
            prop_assert_eq!(data["appName"].as_str(), Some(spec.app_name.as_str()));
            for (i, page) in spec.pages.iter().enumerate() {
                prop_assert_eq!(data["pages"][i]["name"].as_str(), Some(page.name.as_str()));
                prop_assert_eq!(data["pages"][i]["path"].as_str(), Some(page.path.as_str()));
            }

            let pages = tree.iter().filter(|(p, _)| (shape.is_page)(p.as_str())).count();
            prop_assert_eq!(pages, spec.pages.len());
            let routes: BTreeSet<&str> = plan.pages.iter().map(|p| p.route.as_str()).collect();
            prop_assert_eq!(routes.len(), spec.pages.len());
            for page in &plan.pages {
                prop_assert!(page.segment.is_empty() || safe_ident(&page.segment));
                prop_assert!(safe_ident(&page.view));
            }
            for kind in &kinds {
                prop_assert!(tree.get(&(shape.component)(kind)).is_some(), "no component for {}", kind);
            }
            prop_assert_eq!(plan.models.len(), spec.data_models.len());
            for model in &plan.models {
                prop_assert!(safe_ident(&model.ident) && safe_ident(&model.type_name));
                prop_assert!(tree.get(&(shape.store)(&model.ident)).is_some());
                for field in &model.fields {
                    prop_assert!(safe_ident(&field.key) && !field.key.contains('-'));
                    prop_assert!(!["__proto__", "constructor", "prototype"].contains(&field.key.as_str()));
                }
                let keys: BTreeSet<&str> = model.fields.iter().map(|f| f.key.as_str()).collect();
                prop_assert_eq!(keys.len(), model.fields.len());
            }
        }
    }
}

#[test]
fn the_registry_knows_both_source_renderers() {
    for (name, framework) in [("react-next", "react"), ("vue-vite", "vue")] {
        let r = crate::renderer(name).unwrap();
        assert_eq!(r.framework(), framework);
        assert_eq!(r.version(), "1.0.0");
        assert!(!r.previewable());
    }
}
