//! The `static-web` renderer: plain HTML + CSS + JS that runs straight from its files (file:// or
//! the preview server's strict CSP: no inline script or style, no network). Templates live in
//! `templates/static-web/` and are compiled into the binary; the minijinja environment is built
//! once. Auto-escaping is off: every interpolation names its context's escaper as a filter.

use std::sync::OnceLock;

use ingenio_app_specs::AppSpec;
use minijinja::{Environment, UndefinedBehavior, Value};

use super::{RenderError, Renderer};
use crate::escape;
use crate::tree::FileTree;
use crate::view;

/// The `static-web` renderer (see the crate README for the DOM hooks it guarantees).
#[derive(Debug, Clone, Copy, Default)]
pub struct StaticWeb;

const TEMPLATES: &[(&str, &str)] = &[
    (
        "index.html",
        include_str!("../../templates/static-web/index.html"),
    ),
    (
        "macros.html",
        include_str!("../../templates/static-web/macros.html"),
    ),
    (
        "styles.css",
        include_str!("../../templates/static-web/styles.css"),
    ),
];

const APP_JS: &str = include_str!("../../templates/static-web/app.js");
const FAVICON: &str = include_str!("../../templates/static-web/favicon.svg");

/// A filter argument as text: strings as they are, numbers and booleans printed, none and
/// undefined as the empty string.
fn plain(v: &Value) -> String {
    match v.as_str() {
        Some(s) => s.to_owned(),
        None if v.is_undefined() || v.is_none() => String::new(),
        None => v.to_string(),
    }
}

fn environment() -> Result<&'static Environment<'static>, RenderError> {
    static ENV: OnceLock<Result<Environment<'static>, String>> = OnceLock::new();
    let env = ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.add_filter("text", |v: Value| escape::html_text(&plain(&v)));
        env.add_filter("attr", |v: Value| escape::html_attr(&plain(&v)));
        env.add_filter("url", |v: Value| escape::url(&plain(&v)));
        env.add_filter("json", |v: Value| escape::js_json(&plain(&v)));
        env.add_filter("css", |v: Value| {
            escape::css_value(&plain(&v)).unwrap_or_default()
        });
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .map_err(|e| format!("{name}: {e:#}"))?;
        }
        Ok(env)
    });
    env.as_ref().map_err(|message| RenderError::Template {
        template: "static-web".to_owned(),
        message: message.clone(),
    })
}

fn render_template(name: &str, view: &view::View) -> Result<String, RenderError> {
    let failed = |e: minijinja::Error| RenderError::Template {
        template: name.to_owned(),
        message: format!("{e:#}"),
    };
    environment()?
        .get_template(name)
        .map_err(failed)?
        .render(view)
        .map_err(failed)
}

impl Renderer for StaticWeb {
    fn name(&self) -> &'static str {
        "static-web"
    }

    fn version(&self) -> &'static str {
        "1.1.0"
    }

    fn framework(&self) -> &'static str {
        "html"
    }

    fn previewable(&self) -> bool {
        true
    }

    fn render(&self, spec: &AppSpec) -> Result<FileTree, RenderError> {
        let view = view::build(spec);
        let mut tree = FileTree::new();
        tree.add("index.html", render_template("index.html", &view)?)?;
        tree.add("styles.css", render_template("styles.css", &view)?)?;
        tree.add("app.js", APP_JS)?;
        tree.add("favicon.svg", FAVICON)?;
        Ok(tree)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// Every `{{ … }}` in the templates either names an escaping filter last or is a call of a
    /// macro / recursive loop (whose output is built from escaped pieces).
    #[test]
    fn every_interpolation_is_escaped() {
        for (name, source) in TEMPLATES {
            let mut rest = *source;
            while let Some(start) = rest.find("{{") {
                let end = rest[start..].find("}}").map(|e| start + e).unwrap();
                let expr = rest[start + 2..end].trim();
                let escaped = ["|text", "|attr", "|url", "|json", "|css"]
                    .iter()
                    .any(|f| expr.replace(' ', "").ends_with(f));
                let call = expr.starts_with("loop(") || expr.starts_with("ui.");
                assert!(escaped || call, "{name}: unescaped {{{{ {expr} }}}}");
                rest = &rest[end + 2..];
            }
        }
    }

    #[test]
    fn the_environment_compiles() {
        assert!(environment().is_ok());
    }
}
