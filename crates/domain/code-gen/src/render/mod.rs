//! Renderers: pure functions `&AppSpec -> FileTree`, each with a stable name and a version string.
//! Same spec + same renderer version ⇒ the same files (and, through `archive`, the same zip).

/// `(name, source)` pairs of templates under `templates/`, embedded at compile time.
macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../templates/", $name)))),*]
    };
}
use templates;

mod project;
pub mod react_next;
#[cfg(test)]
mod source_tests;
mod static_web;
pub mod vue_vite;

use crate::tree::{FileTree, RelPathError};
use ingenio_app_specs::AppSpec;

/// Why a spec could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A template failed to render (a bug in a template, never the spec's fault).
    #[error("template {template}: {message}")]
    Template { template: String, message: String },
    /// A generated path would escape the project root.
    #[error(transparent)]
    Path(#[from] RelPathError),
    /// The spec cannot be rendered (for example it has no pages).
    #[error("spec cannot be rendered: {0}")]
    Spec(String),
}

/// One renderer: a name (`static-web`), a version that changes whenever its output for some spec
/// changes, and the framework it targets.
pub trait Renderer: Send + Sync {
    /// The stable name clients ask for (`static-web`, `react-next`, `vue-vite`).
    fn name(&self) -> &'static str;
    /// Semantic version of the renderer's output; part of the artifact's identity.
    fn version(&self) -> &'static str;
    /// The framework of the output, recorded as `generated_code.framework` (`html`, `react`, `vue`).
    fn framework(&self) -> &'static str;
    /// Whether the output runs straight from its files (and can therefore be previewed) or is a
    /// source project that needs a build first.
    fn previewable(&self) -> bool;
    /// Renders the spec. Pure: no I/O, no clock, no randomness.
    fn render(&self, spec: &AppSpec) -> Result<FileTree, RenderError>;
}

/// The renderer used when a request names none (configurable in the server).
pub const DEFAULT_RENDERER: &str = "static-web";

/// Every renderer, in a fixed order.
pub fn renderers() -> &'static [&'static dyn Renderer] {
    &[
        &static_web::StaticWeb,
        &react_next::ReactNext,
        &vue_vite::VueVite,
    ]
}

/// The renderer called `name`, if any.
pub fn renderer(name: &str) -> Option<&'static dyn Renderer> {
    renderers().iter().copied().find(|r| r.name() == name)
}

/// The names of every renderer, for error messages and the API description.
pub fn renderer_names() -> Vec<&'static str> {
    renderers().iter().map(|r| r.name()).collect()
}
