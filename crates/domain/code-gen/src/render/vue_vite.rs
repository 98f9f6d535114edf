//! The `vue-vite` renderer: a Vue 3 + Vue Router + Vite + TypeScript source project with one view
//! per page, one component per component kind, one typed localStorage store per data model, and
//! the spec's data in `src/lib/app-data.ts` (an escaped JSON literal, never code).

use super::project::{self, Layout, PagePlan, Templates};

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
    "vue-vite/src/components/AppNav.vue",
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
    (
        "vue-vite/src/components/ComponentNode.vue",
        "src/components/ComponentNode.vue",
    ),
    (
        "vue-vite/src/components/Children.vue",
        "src/components/Children.vue",
    ),
    (
        "vue-vite/src/components/UnknownComponent.vue",
        "src/components/UnknownComponent.vue",
    ),
    (
        "vue-vite/src/components/PageView.vue",
        "src/components/PageView.vue",
    ),
    (
        "vue-vite/src/components/AppNav.vue",
        "src/components/AppNav.vue",
    ),
    (
        "vue-vite/src/components/FieldControl.vue",
        "src/components/FieldControl.vue",
    ),
];

const LAYOUT: Layout = Layout {
    templates: TEMPLATES,
    project_files: PROJECT_FILES,
    versions: VERSIONS,
    lib_dir: "src/lib",
    style_path: "src/style.css",
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

project::source_renderer!(VueVite, name: "vue-vite", framework: "vue", version: "1.0.0", layout: LAYOUT);
