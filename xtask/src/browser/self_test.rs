//! `cargo xtask browser-self-test`: proves the browser checks can fail. Serves the hand-written
//! fixture app as it is (every check must pass) and broken copies of it (a script error, a missing
//! field message, an inline script the CSP blocks, a page wider than the phone, low-contrast text),
//! each of which must fail the one check it breaks.

use super::{run_lighthouse, run_previews, StaticServer, DEFAULT_THRESHOLD, DEV_PREFIX};
use crate::util;
use anyhow::{Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// What a variant must do to the checks.
enum Expect {
    /// Every preview check and Lighthouse pass.
    Pass,
    /// A preview check fails with this text in its failure line.
    PreviewFails(&'static str),
    /// The preview checks pass and this required Lighthouse audit fails.
    LighthouseFails(&'static str),
}

/// A copy of the fixture with `find` replaced by `replace` in `file`.
struct Variant {
    name: &'static str,
    file: &'static str,
    find: &'static str,
    replace: &'static str,
    expect: Expect,
}

const VARIANTS: &[Variant] = &[
    Variant {
        name: "fixture",
        file: "index.html",
        find: "",
        replace: "",
        expect: Expect::Pass,
    },
    Variant {
        name: "script-error",
        file: "app.js",
        find: "show(location.hash.slice(1));\n",
        replace: "show(location.hash.slice(1));\ndocument.querySelector(\"#missing\").focus();\n",
        expect: Expect::PreviewFails("page error"),
    },
    Variant {
        name: "no-field-message",
        file: "app.js",
        find: "slot.textContent = message;",
        replace: "slot.textContent = field.name === \"title\" ? \"\" : message;",
        expect: Expect::PreviewFails("no visible [data-error] text for title"),
    },
    Variant {
        name: "inline-script",
        file: "index.html",
        find: "</body>",
        replace: "<script>document.title = \"inline\";</script>\n</body>",
        expect: Expect::PreviewFails("Content Security Policy"),
    },
    Variant {
        name: "too-wide",
        file: "styles.css",
        find: "main {",
        replace: "main { min-width: 480px;",
        expect: Expect::PreviewFails("scrollWidth"),
    },
    Variant {
        name: "low-contrast",
        file: "styles.css",
        find: "color: #1a1a1a;",
        replace: "color: #b4b4b4;",
        expect: Expect::LighthouseFails("color-contrast"),
    },
];

pub fn run() -> Result<ExitCode> {
    let start = Instant::now();
    let fixture = super::browser_dir().join("fixture");
    let spec: Value = super::read_json(&super::browser_dir().join("fixture-spec.json"))?;
    let work = util::target_dir().join("browser-self-test");
    let mut failures = Vec::new();
    for variant in VARIANTS {
        println!("\nxtask: browser self-test: {}", variant.name);
        let dir = work.join(variant.name);
        copy_with_change(&fixture, &dir, variant)?;
        match outcome(&dir, &spec, &variant.expect) {
            Ok(()) => println!(
                "xtask: browser self-test: {} behaved as expected",
                variant.name
            ),
            Err(err) => {
                eprintln!("xtask: browser self-test: {}: {err:#}", variant.name);
                failures.push(variant.name);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    println!(
        "\nbrowser-self-test: {} passed, {} failed ({})",
        VARIANTS.len() - failures.len(),
        failures.len(),
        util::fmt_duration(start.elapsed())
    );
    if !failures.is_empty() {
        eprintln!("xtask: unexpected outcome for: {}", failures.join(", "));
    }
    Ok(util::ok_or_failure(failures.is_empty()))
}

/// Ok when the checks did what `expect` says.
fn outcome(dir: &Path, spec: &Value, expect: &Expect) -> Result<()> {
    let server = StaticServer::start(dir, DEV_PREFIX)?;
    let url = server.url();
    let preview = run_previews(&[(url.clone(), spec.clone())])?;
    let wants_preview_failure = |needle: &str| -> Result<()> {
        anyhow::ensure!(!preview.passed, "the preview checks passed");
        anyhow::ensure!(
            preview.failures.iter().any(|f| f.contains(needle)),
            "no failure mentions {needle:?}: {:?}",
            preview.failures
        );
        Ok(())
    };
    match expect {
        Expect::PreviewFails(needle) => wants_preview_failure(needle),
        Expect::Pass | Expect::LighthouseFails(_) => {
            anyhow::ensure!(
                preview.passed,
                "the preview checks failed: {:?}",
                preview.failures
            );
            let urls = preview.page_urls.concat();
            let (passed, scores) = run_lighthouse(&urls, DEFAULT_THRESHOLD)?;
            match expect {
                Expect::LighthouseFails(audit) => {
                    anyhow::ensure!(!passed, "Lighthouse passed");
                    anyhow::ensure!(
                        scores
                            .iter()
                            .any(|s| s.required_failed.iter().any(|a| a == audit)),
                        "{audit} is not among the failed audits"
                    );
                    Ok(())
                }
                _ => {
                    anyhow::ensure!(passed, "Lighthouse failed: {scores:?}");
                    Ok(())
                }
            }
        }
    }
}

/// Copies the fixture's files into `dir`, applying the variant's change (which must apply).
fn copy_with_change(fixture: &Path, dir: &Path, variant: &Variant) -> Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    for entry in std::fs::read_dir(fixture).context("list the fixture")? {
        let from: PathBuf = entry.context("read the fixture directory")?.path();
        let Some(name) = from.file_name() else {
            continue;
        };
        let to = dir.join(name);
        if variant.find.is_empty() || name != variant.file {
            std::fs::copy(&from, &to).with_context(|| format!("copy {}", from.display()))?;
            continue;
        }
        let text =
            std::fs::read_to_string(&from).with_context(|| format!("read {}", from.display()))?;
        anyhow::ensure!(
            text.contains(variant.find),
            "{} no longer contains {:?}; update the self-test",
            from.display(),
            variant.find
        );
        std::fs::write(&to, text.replacen(variant.find, variant.replace, 1))
            .with_context(|| format!("write {}", to.display()))?;
    }
    Ok(())
}
