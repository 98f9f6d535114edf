//! The `vue-vite` renderer: a Vue 3 + Vue Router + Vite + TypeScript source project with one view
//! per page, one component per component kind, one typed localStorage store per data model, and
//! the spec's data in `src/lib/app-data.ts` (an escaped JSON literal, never code).

use std::sync::OnceLock;

use ingenio_app_specs::AppSpec;
use minijinja::Environment;

use super::project::{self, Layout, PagePlan, Templates};
use super::{RenderError, Renderer};
use crate::tree::FileTree;

/// Exact dependency versions of the generated `package.json` (Node ≥ 20.19).
pub const VERSIONS: &[(&str, &str)] = &[
    ("vue", "3.5.45"),
    ("vue-router", "4.6.5"),
    ("vite", "8.4.0"),
    ("@vitejs/plugin-vue", "6.0.11"),
    ("vue-tsc", "3.3.14"),
    ("typescript", "6.0.3"),
    ("@types/node", "20.19.43"),
];

const TEMPLATES: Templates = super::templates![
    "vue-vite/package.json",
    "vue-vite/vite.config.ts",
    "vue-vite/tsconfig.json",
    "vue-vite/index.html",
    "vue-vite/gitignore",
    "vue-vite/README.md",
    "vue-vite/src/main.ts",
    "vue-vite/src/App.vue",
    "vue-vite/src/router.ts",
    "vue-vite/src/views/View.vue",
    "vue-vite/src/lib/composables.ts",
    "vue-vite/src/components/ComponentNode.vue",
    "vue-vite/src/components/Children.vue",
    "vue-vite/src/components/UnknownComponent.vue",
    "vue-vite/src/components/PageView.vue",
    "vue-vite/src/components/NavBar.vue",
    "vue-vite/src/components/FieldControl.vue",
    "vue-vite/kinds/text.vue",
    "vue-vite/kinds/container.vue",
    "vue-vite/kinds/action.vue",
    "vue-vite/kinds/field.vue",
    "vue-vite/kinds/media.vue",
    "vue-vite/kinds/records.vue",
    "vue-vite/kinds/Form.vue",
    "vue-vite/kinds/Quiz.vue",
    "vue-vite/kinds/Timer.vue",
    "vue-vite/kinds/Chart.vue",
    "vue-vite/kinds/Progress.vue",
    "vue-vite/kinds/Modal.vue",
    "vue-vite/kinds/Tabs.vue",
    "vue-vite/kinds/Divider.vue",
    "web-common/style.css",
    "web-common/lib/types.ts",
    "web-common/lib/app.ts",
    "web-common/lib/state.ts",
    "web-common/lib/flows.ts",
    "web-common/lib/i18n.ts",
    "web-common/lib/validation.ts",
    "web-common/lib/store.ts",
    "web-common/lib/model-store.ts",
    "web-common/lib/stores-index.ts",
];

const PROJECT_FILES: &[(&str, &str)] = &[
    ("vue-vite/package.json", "package.json"),
    ("vue-vite/vite.config.ts", "vite.config.ts"),
    ("vue-vite/tsconfig.json", "tsconfig.json"),
    ("vue-vite/index.html", "index.html"),
    ("vue-vite/gitignore", ".gitignore"),
    ("vue-vite/README.md", "README.md"),
    ("vue-vite/src/main.ts", "src/main.ts"),
    ("vue-vite/src/App.vue", "src/App.vue"),
    ("vue-vite/src/router.ts", "src/router.ts"),
    ("vue-vite/src/lib/composables.ts", "src/lib/composables.ts"),
    ("vue-vite/src/components/ComponentNode.vue", "src/components/ComponentNode.vue"),
    ("vue-vite/src/components/Children.vue", "src/components/Children.vue"),
    ("vue-vite/src/components/UnknownComponent.vue", "src/components/UnknownComponent.vue"),
    ("vue-vite/src/components/PageView.vue", "src/components/PageView.vue"),
    ("vue-vite/src/components/NavBar.vue", "src/components/NavBar.vue"),
    ("vue-vite/src/components/FieldControl.vue", "src/components/FieldControl.vue"),
    ("web-common/style.css", "src/style.css"),
    ("web-common/lib/types.ts", "src/lib/types.ts"),
    ("web-common/lib/app.ts", "src/lib/app.ts"),
    ("web-common/lib/state.ts", "src/lib/state.ts"),
    ("web-common/lib/flows.ts", "src/lib/flows.ts"),
    ("web-common/lib/i18n.ts", "src/lib/i18n.ts"),
    ("web-common/lib/validation.ts", "src/lib/validation.ts"),
    ("web-common/lib/store.ts", "src/lib/store.ts"),
    ("web-common/lib/stores-index.ts", "src/stores/index.ts"),
];

const LAYOUT: Layout = Layout {
    templates: TEMPLATES,
    project_files: PROJECT_FILES,
    versions: VERSIONS,
    data_module: "src/lib/app-data.ts",
    page_template: "vue-vite/src/views/View.vue",
    page_path,
    kinds_dir: "vue-vite/kinds/",
    kind_ext: ".vue",
    components_dir: "src/components",
    stores_dir: "src/stores",
    store_import: "../lib/store",
};

/// `src/views/<View>.vue`.
fn page_path(page: &PagePlan) -> String {
    format!("src/views/{}.vue", page.view)
}

/// Vue 3 + Vue Router + Vite + TypeScript source project.
pub struct VueVite;

impl Renderer for VueVite {
    fn name(&self) -> &'static str {
        "vue-vite"
    }

    fn version(&self) -> &'static str {
        "1.0.0"
    }

    fn framework(&self) -> &'static str {
        "vue"
    }

    fn previewable(&self) -> bool {
        false
    }

    fn render(&self, spec: &AppSpec) -> Result<FileTree, RenderError> {
        static ENV: OnceLock<Result<Environment<'static>, String>> = OnceLock::new();
        project::render_project(&LAYOUT, &ENV, spec)
    }
}
