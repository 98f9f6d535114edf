//! Property tests over generated, valid-ish specs: random Unicode names, pages, components of
//! random (also unknown) types with random props, nested children, models, fields and flows.
//! Rendering never fails, the zip is deterministic and the hooks are always there.

use crate::common::{app_data, assert_csp_clean, file, static_web, tags, with_attr};
use ingenio_app_specs::spec::{Action, Component, DataModel, Field, Flow, Page};
use ingenio_app_specs::validation::COMPONENT_TYPES;
use ingenio_app_specs::AppSpec;
use ingenio_code_gen::archive::build;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(any::<char>(), 0..10).prop_map(String::from_iter),
        Just("<img src=x onerror=alert(1)>".to_owned()),
        Just("</script>".to_owned()),
        Just("词语 \u{2028}".to_owned()),
        Just("/".to_owned()),
        Just("__proto__".to_owned()),
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        text().prop_map(Value::String),
        any::<i32>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
        Just(json!("m0")),
        Just(json!("f0")),
        Just(json!("p0")),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![text(), Just("label".to_owned()), Just("value".to_owned())],
                inner,
                0..3
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const PROP_KEYS: &[&str] = &[
    "text",
    "label",
    "title",
    "dataModel",
    "model",
    "onClick",
    "flow",
    "flowId",
    "onSubmit",
    "to",
    "options",
    "data",
    "value",
    "seconds",
    "questions",
    "tabs",
    "columns",
    "rows",
    "items",
    "bind",
    "aggregate",
    "field",
    "color",
    "gap",
    "max",
    "min",
    "variant",
];

fn props() -> impl Strategy<Value = Map<String, Value>> {
    proptest::collection::vec((proptest::sample::select(PROP_KEYS), json_value()), 0..6)
        .prop_map(|kv| kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn component_type() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => proptest::sample::select(COMPONENT_TYPES).prop_map(str::to_owned),
        1 => text(),
    ]
}

fn make(id: String, t: String, props: Map<String, Value>, children: Vec<Component>) -> Component {
    Component {
        id,
        r#type: t,
        props,
        children,
        ..Component::default()
    }
}

fn component() -> impl Strategy<Value = Component> {
    let leaf = (text(), component_type(), props())
        .prop_map(|(id, t, props)| make(id, t, props, Vec::new()));
    leaf.prop_recursive(3, 16, 4, |inner| {
        (
            text(),
            component_type(),
            props(),
            proptest::collection::vec(inner, 0..4),
        )
            .prop_map(|(id, t, props, children)| make(id, t, props, children))
    })
}

fn field() -> impl Strategy<Value = Field> {
    let kind = prop_oneof![
        Just("string".to_owned()),
        Just("number".to_owned()),
        Just("boolean".to_owned()),
        Just("date".to_owned()),
        text(),
    ];
    let validation = proptest::option::of(prop_oneof![
        json_value(),
        Just(json!({"minLength": 2, "maxLength": 300, "pattern": "([bad"})),
        Just(json!({"options": ["a", 1, true], "email": true, "min": "x", "max": 3})),
    ]);
    (text(), kind, any::<bool>(), validation).prop_map(|(name, t, required, validation)| Field {
        name,
        r#type: t,
        required,
        validation,
        ..Field::default()
    })
}

fn action() -> impl Strategy<Value = Action> {
    let kind = prop_oneof![
        Just("navigate".to_owned()),
        Just("setState".to_owned()),
        Just("api".to_owned()),
        text(),
    ];
    let config = proptest::collection::btree_map(
        proptest::sample::select(
            &[
                "to",
                "path",
                "pageId",
                "key",
                "value",
                "model",
                "dataModel",
                "method",
            ][..],
        ),
        json_value(),
        0..4,
    );
    (kind, config).prop_map(|(t, config)| Action {
        r#type: t,
        config: config.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        ..Action::default()
    })
}

fn spec() -> impl Strategy<Value = AppSpec> {
    let page = (
        text(),
        text(),
        text(),
        proptest::collection::vec(component(), 0..4),
    );
    let model = (text(), text(), proptest::collection::vec(field(), 0..4));
    let flow = (text(), proptest::collection::vec(action(), 0..4));
    (
        text(),
        proptest::collection::vec(page, 0..4),
        proptest::collection::vec(model, 0..3),
        proptest::collection::vec(flow, 0..3),
    )
        .prop_map(|(app_name, pages, models, flows)| AppSpec {
            version: "1.0.0".into(),
            app_name,
            pages: pages
                .into_iter()
                .enumerate()
                .map(|(i, (id, name, path, components))| Page {
                    id: if i == 0 { "p0".to_owned() } else { id },
                    name,
                    path,
                    components,
                    ..Page::default()
                })
                .collect(),
            data_models: models
                .into_iter()
                .enumerate()
                .map(|(i, (id, name, fields))| DataModel {
                    id: if i == 0 { "m0".to_owned() } else { id },
                    name,
                    fields,
                    ..DataModel::default()
                })
                .collect(),
            flows: flows
                .into_iter()
                .enumerate()
                .map(|(i, (id, actions))| Flow {
                    id: if i == 0 { "f0".to_owned() } else { id },
                    name: "flow".into(),
                    trigger: json!("click"),
                    actions,
                    ..Flow::default()
                })
                .collect(),
            ..AppSpec::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn any_spec_renders_deterministically_with_every_hook(spec in spec()) {
        let r = static_web();
        let a = build(r, &spec).unwrap();
        let b = build(r, &spec).unwrap();
        prop_assert_eq!(&a.zip, &b.zip);
        prop_assert_eq!(&a.content_hash, &b.content_hash);

        let html = file(&r.render(&spec).unwrap(), "index.html");
        assert_csp_clean(&html);
        prop_assert!(!html.contains("<img"));
        let t = tags(&html);
        for page in &spec.pages {
            prop_assert!(!with_attr(&t, "data-page", &page.id).is_empty(), "page {:?}", page.id);
            prop_assert!(!with_attr(&t, "data-nav", &page.id).is_empty(), "nav {:?}", page.id);
        }
        for model in &spec.data_models {
            let forms = with_attr(&t, "data-model", &model.name);
            prop_assert!(forms.iter().any(|f| f.name == "form"), "model {:?}", model.name);
            prop_assert!(!with_attr(&t, "data-list", &model.name).is_empty());
        }
        for (_, c) in spec.components() {
            prop_assert!(!with_attr(&t, "data-component", &c.component.id).is_empty());
        }
        let ids: Vec<&str> = t.iter().filter_map(|x| x.attr("id")).collect();
        let unique: std::collections::HashSet<&&str> = ids.iter().collect();
        prop_assert_eq!(ids.len(), unique.len());
        let data = app_data(&html);
        prop_assert!(data["pages"].as_array().unwrap().len() >= spec.pages.len().max(1));
    }
}

/// Writes 30 generated specs' files to `$INGENIO_DUMP_DIR/gen-N/` (deterministic seed), to run
/// them in a browser and watch for script errors.
#[test]
#[ignore = "writes files; for manual browser checks"]
fn dump_generated() {
    use proptest::strategy::ValueTree;
    let Some(dir) = std::env::var_os("INGENIO_DUMP_DIR") else {
        return;
    };
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for n in 0..30 {
        let spec = spec().new_tree(&mut runner).unwrap().current();
        let tree = static_web().render(&spec).unwrap();
        let out = std::path::Path::new(&dir).join(format!("gen-{n}"));
        std::fs::create_dir_all(&out).unwrap();
        for (path, bytes) in tree.iter() {
            std::fs::write(out.join(path.as_str()), bytes).unwrap();
        }
    }
}
