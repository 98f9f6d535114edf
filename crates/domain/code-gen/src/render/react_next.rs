//! The `react-next` renderer: a Next.js (App Router, TypeScript, static export) source project with
//! one route per page, one component per component kind, one typed localStorage store per data
//! model, and the spec's data in `lib/app-data.ts` (an escaped JSON literal, never code).

use super::project::{self, Layout, PagePlan, Templates};

/// Exact dependency versions of the generated `package.json` (Node ≥ 20.9).
pub const VERSIONS: &[(&str, &str)] = &[
    ("next", "16.4.6"),
    ("react", "19.3.1"),
    ("react-dom", "19.3.1"),
    ("typescript", "6.0.3"),
    ("@types/node", "20.19.43"),
    ("@types/react", "19.3.3"),
    ("@types/react-dom", "19.3.0"),
];

const TEMPLATES: Templates = super::templates![
    "react-next/package.json",
    "react-next/next.config.mjs",
    "react-next/tsconfig.json",
    "react-next/dotenv",
    "react-next/gitignore",
    "react-next/README.md",
    "react-next/app/layout.tsx",
    "react-next/app/page.tsx",
    "react-next/lib/hooks.ts",
    "react-next/components/ComponentNode.tsx",
    "react-next/components/Children.tsx",
    "react-next/components/UnknownComponent.tsx",
    "react-next/components/PageView.tsx",
    "react-next/components/AppNav.tsx",
    "react-next/components/FieldControl.tsx",
    "react-next/kinds/text.tsx",
    "react-next/kinds/container.tsx",
    "react-next/kinds/action.tsx",
    "react-next/kinds/field.tsx",
    "react-next/kinds/media.tsx",
    "react-next/kinds/records.tsx",
    "react-next/kinds/Form.tsx",
    "react-next/kinds/Quiz.tsx",
    "react-next/kinds/Timer.tsx",
    "react-next/kinds/Chart.tsx",
    "react-next/kinds/Progress.tsx",
    "react-next/kinds/Modal.tsx",
    "react-next/kinds/Tabs.tsx",
    "react-next/kinds/Divider.tsx",
];

/// Files rendered once per project: `(template, path)`.
const PROJECT_FILES: &[(&str, &str)] = &[
    ("react-next/package.json", "package.json"),
    ("react-next/next.config.mjs", "next.config.mjs"),
    ("react-next/tsconfig.json", "tsconfig.json"),
    ("react-next/dotenv", ".env"),
    ("react-next/gitignore", ".gitignore"),
    ("react-next/README.md", "README.md"),
    ("react-next/app/layout.tsx", "app/layout.tsx"),
    ("react-next/lib/hooks.ts", "lib/hooks.ts"),
    (
        "react-next/components/ComponentNode.tsx",
        "components/ComponentNode.tsx",
    ),
    (
        "react-next/components/Children.tsx",
        "components/Children.tsx",
    ),
    (
        "react-next/components/UnknownComponent.tsx",
        "components/UnknownComponent.tsx",
    ),
    (
        "react-next/components/PageView.tsx",
        "components/PageView.tsx",
    ),
    ("react-next/components/AppNav.tsx", "components/AppNav.tsx"),
    (
        "react-next/components/FieldControl.tsx",
        "components/FieldControl.tsx",
    ),
];

const LAYOUT: Layout = Layout {
    templates: TEMPLATES,
    project_files: PROJECT_FILES,
    versions: VERSIONS,
    lib_dir: "lib",
    style_path: "app/globals.css",
    page_template: "react-next/app/page.tsx",
    page_path,
    kinds_dir: "react-next/kinds/",
    kind_ext: ".tsx",
    components_dir: "components",
    stores_dir: "lib/stores",
    store_import: "../store",
};

/// `app/page.tsx` for the home page, `app/<segment>/page.tsx` for the others.
fn page_path(page: &PagePlan) -> String {
    if page.segment.is_empty() {
        "app/page.tsx".to_owned()
    } else {
        format!("app/{}/page.tsx", page.segment)
    }
}

/// Next.js + React + TypeScript source project.
pub struct ReactNext;

project::source_renderer!(ReactNext, name: "react-next", framework: "react", version: "1.0.0", layout: LAYOUT);
