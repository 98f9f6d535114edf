//! Every sample parses, passes validation with zero errors and renders with every DOM hook.

use crate::common::{app_data, assert_csp_clean, file, render, tags, with_attr};
use ingenio_app_specs::validation::{validate, COMPONENT_TYPES};
use ingenio_app_specs::AppSpec;
use ingenio_code_gen::samples;

fn parsed() -> Vec<(&'static str, AppSpec)> {
    samples::ALL
        .iter()
        .map(|(name, json)| {
            let v: serde_json::Value =
                serde_json::from_str(json).unwrap_or_else(|e| panic!("{name}: {e}"));
            (
                *name,
                AppSpec::parse(&v).unwrap_or_else(|e| panic!("{name}: {e}")),
            )
        })
        .collect()
}

#[test]
fn there_are_at_least_eight_samples_and_all_are_valid() {
    let all = parsed();
    assert!(all.len() >= 8);
    assert_eq!(samples::values().len(), all.len());
    for (name, spec) in &all {
        let report = validate(spec);
        assert_eq!(report.errors, 0, "{name}: {:#?}", report.findings);
    }
    assert!(samples::get("minimal").is_some() && samples::get("nope").is_none());
}

#[test]
fn one_sample_uses_every_component_type_and_action() {
    let (_, spec) = parsed()
        .into_iter()
        .find(|(n, _)| *n == "every-component")
        .unwrap();
    let used: std::collections::HashSet<&str> = spec
        .components()
        .iter()
        .map(|(_, c)| c.component.r#type.as_str())
        .collect();
    for t in COMPONENT_TYPES {
        assert!(used.contains(t), "{t} unused");
    }
    let actions: std::collections::HashSet<&str> = spec
        .flows
        .iter()
        .flat_map(|f| f.actions.iter().map(|a| a.r#type.as_str()))
        .collect();
    for a in ["navigate", "setState", "api"] {
        assert!(actions.contains(a), "{a} unused");
    }
}

/// Renders `spec` and checks every hook of the crate README's table.
fn assert_hooks(name: &str, spec: &AppSpec) {
    let tree = render(spec);
    let names: Vec<&str> = tree.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        names,
        vec!["app.js", "favicon.svg", "index.html", "styles.css"],
        "{name}"
    );
    let html = file(&tree, "index.html");
    assert_csp_clean(&html);
    let tags = tags(&html);
    for page in &spec.pages {
        assert_eq!(
            with_attr(&tags, "data-page", &page.id).len(),
            1,
            "{name}: page {}",
            page.id
        );
        let links = with_attr(&tags, "data-nav", &page.id);
        assert_eq!(links.len(), 1, "{name}: nav link to {}", page.id);
        let href = ingenio_code_gen::escape::url(&format!("#{}", page.path));
        assert_eq!(
            links[0].attr("href"),
            Some(href.as_str()),
            "{name}: {}",
            page.id
        );
    }
    for model in &spec.data_models {
        let forms = with_attr(&tags, "data-model", &model.name);
        assert!(
            !forms.is_empty() && forms.iter().all(|t| t.name == "form"),
            "{name}: {}",
            model.name
        );
        assert!(forms.iter().all(|f| f.attr("novalidate").is_some()));
        assert!(
            !with_attr(&tags, "data-list", &model.name).is_empty(),
            "{name}: list {}",
            model.name
        );
        for field in &model.fields {
            let inputs = with_attr(&tags, "name", &field.name);
            assert!(!inputs.is_empty(), "{name}: field {}", field.name);
            for input in inputs {
                let id = input.attr("id").unwrap();
                assert_eq!(
                    with_attr(&tags, "for", id).len(),
                    1,
                    "{name}: label for {id}"
                );
                let err = input.attr("aria-describedby").unwrap();
                let errs = with_attr(&tags, "id", err);
                assert_eq!(errs.len(), 1);
                assert_eq!(errs[0].attr("data-error"), input.attr("name"));
            }
        }
    }
    for (_, c) in spec.components() {
        let c = c.component;
        let found = with_attr(&tags, "data-component", &c.id);
        assert_eq!(found.len(), 1, "{name}: component {}", c.id);
        assert_eq!(
            found[0].attr("data-type"),
            Some(ingenio_code_gen::escape::html_attr(&c.r#type).as_str())
        );
    }
    let ids: Vec<&str> = tags.iter().filter_map(|t| t.attr("id")).collect();
    let unique: std::collections::HashSet<&&str> = ids.iter().collect();
    assert_eq!(ids.len(), unique.len(), "{name}: duplicate DOM ids");
    let data = app_data(&html);
    assert!(data["pages"].as_array().unwrap().len() >= spec.pages.len());
    assert_eq!(
        data["models"].as_array().unwrap().len(),
        spec.data_models.len()
    );
}

#[test]
fn every_sample_renders_every_hook() {
    for (name, spec) in parsed() {
        assert_hooks(name, &spec);
    }
    let fixture = AppSpec::parse(&ingenio_app_specs::spec::fixtures::sample()).unwrap();
    assert_hooks("fixture", &fixture);
}

#[test]
fn language_follows_the_app_text() {
    for (name, spec) in parsed() {
        let html = file(&render(&spec), "index.html");
        let zh = matches!(
            name,
            "chinese" | "offline-vocab-game" | "offline-reading-log"
        );
        let lang = if zh {
            r#"<html lang="zh-CN">"#
        } else {
            r#"<html lang="en">"#
        };
        assert!(html.contains(lang), "{name}");
    }
}

#[test]
fn hostile_strings_stay_text() {
    let (_, spec) = parsed().into_iter().find(|(n, _)| *n == "hostile").unwrap();
    let tree = render(&spec);
    let html = file(&tree, "index.html");
    assert_csp_clean(&html);
    assert!(!html.contains("<img"));
    assert!(!html.contains("<svg"));
    assert!(!html.contains("javascript:"));
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_eq!(html.matches("</script>").count(), 2);
    let css = file(&tree, "styles.css");
    assert!(!css.contains("display:none") && !css.contains("expression"));
    // the data block keeps the exact strings
    let data = app_data(&html);
    assert_eq!(data["app"].as_str(), Some(spec.app_name.as_str()));
}
