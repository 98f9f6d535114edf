//! `cargo xtask check-arch`: the layering rules that keep the hexagon honest. Domain crates must
//! not reach infrastructure (directly or through the resolved dependency graph), every `.rs` file
//! opens with a `//!` line, and every crate has a README.md.

use crate::util;
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// Crates a domain crate may never depend on, by exact name.
const FORBIDDEN: &[&str] = &[
    "diesel",
    "diesel-async",
    "diesel_async",
    "redis",
    "bb8-redis",
    "bb8",
    "rust-s3",
    "async-openai",
    "reqwest",
    "tokio-postgres",
    "ingenio-postgres",
    "ingenio-redis",
    "ingenio-minio",
    "ingenio-testkit-s3",
    "ingenio-deepseek",
    "ingenio-embedded",
    "ingenio-server",
];

/// Crates a domain crate may never depend on, by name prefix.
const FORBIDDEN_PREFIXES: &[&str] = &["actix-", "actix_", "aws-sdk-", "s3s"];

fn is_forbidden(name: &str) -> bool {
    name == "actix"
        || FORBIDDEN.contains(&name)
        || FORBIDDEN_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Runs every check, printing what was checked; returns whether all passed.
pub fn run() -> Result<bool> {
    let root = util::root();
    let mut failures: Vec<String> = Vec::new();

    let metadata = cargo_metadata()?;
    failures.extend(check_domain_dependencies(&metadata, &root)?);
    failures.extend(check_module_docs(&root)?);
    failures.extend(check_readmes(&root)?);

    if failures.is_empty() {
        println!("check-arch: ok");
        Ok(true)
    } else {
        eprintln!("check-arch: {} problem(s):", failures.len());
        for failure in &failures {
            eprintln!("  - {failure}");
        }
        Ok(false)
    }
}

fn cargo_metadata() -> Result<Value> {
    let output = util::cargo()
        .args(["metadata", "--format-version", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .context("failed to run cargo metadata")?;
    if !output.status.success() {
        bail!("cargo metadata failed ({})", output.status);
    }
    serde_json::from_slice(&output.stdout).context("failed to parse cargo metadata output")
}

/// Checks direct normal dependencies and the transitive normal graph of every crate under crates/domain/.
fn check_domain_dependencies(metadata: &Value, root: &Path) -> Result<Vec<String>> {
    let domain_dir = root.join("crates").join("domain");
    let packages = metadata["packages"]
        .as_array()
        .context("cargo metadata has no packages")?;
    let names: BTreeMap<&str, &str> = packages
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?)))
        .collect();
    let nodes: BTreeMap<&str, &Value> = metadata["resolve"]["nodes"]
        .as_array()
        .context("cargo metadata has no resolve graph")?
        .iter()
        .filter_map(|n| Some((n["id"].as_str()?, n)))
        .collect();

    let mut failures = Vec::new();
    let mut checked = 0;
    for package in packages {
        let manifest = PathBuf::from(package["manifest_path"].as_str().unwrap_or_default());
        if !manifest.starts_with(&domain_dir) {
            continue;
        }
        checked += 1;
        let name = package["name"].as_str().unwrap_or("?");
        let id = package["id"].as_str().unwrap_or_default();

        let direct: Vec<&str> = package["dependencies"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(|d| d["kind"].is_null())
            .filter_map(|d| d["name"].as_str())
            .collect();
        for dep in direct.iter().filter(|d| is_forbidden(d)) {
            failures.push(format!("domain crate {name} depends directly on {dep}"));
        }

        // Breadth-first over normal edges of the resolved graph, remembering how we got there.
        let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
        let mut seen: BTreeSet<&str> = BTreeSet::from([id]);
        let mut queue: VecDeque<&str> = VecDeque::from([id]);
        let mut reported: BTreeSet<&str> = BTreeSet::new();
        while let Some(current) = queue.pop_front() {
            let Some(node) = nodes.get(current) else {
                continue;
            };
            for dep in node["deps"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                let normal = dep["dep_kinds"]
                    .as_array()
                    .map(|kinds| kinds.iter().any(|k| k["kind"].is_null()))
                    .unwrap_or(true);
                let Some(pkg) = dep["pkg"].as_str() else {
                    continue;
                };
                if !normal || !seen.insert(pkg) {
                    continue;
                }
                parent.insert(pkg, current);
                let dep_name = names.get(pkg).copied().unwrap_or(pkg);
                if is_forbidden(dep_name) {
                    if !direct.contains(&dep_name) && reported.insert(dep_name) {
                        let chain = chain(pkg, id, &parent, &names);
                        failures.push(format!(
                            "domain crate {name} reaches {dep_name} through {chain}"
                        ));
                    }
                    continue;
                }
                queue.push_back(pkg);
            }
        }
        println!(
            "check-arch: {name}: {} direct and {} transitive normal dependencies checked",
            direct.len(),
            seen.len() - 1
        );
    }
    if checked == 0 {
        println!("check-arch: no crates under crates/domain/ yet");
    }
    Ok(failures)
}

fn chain<'a>(
    leaf: &'a str,
    root: &'a str,
    parent: &BTreeMap<&'a str, &'a str>,
    names: &BTreeMap<&'a str, &'a str>,
) -> String {
    let mut path = vec![leaf];
    let mut current = leaf;
    while let Some(&p) = parent.get(current) {
        path.push(p);
        if p == root {
            break;
        }
        current = p;
    }
    path.reverse();
    path.iter()
        .map(|id| names.get(id).copied().unwrap_or(id))
        .collect::<Vec<_>>()
        .join(" -> ")
}

/// Every `.rs` file under crates/ and xtask/ must start with a `//!` line.
fn check_module_docs(root: &Path) -> Result<Vec<String>> {
    let mut files = Vec::new();
    for dir in ["crates", "xtask"] {
        collect(&root.join(dir), &mut files, &|p| {
            p.extension().is_some_and(|e| e == "rs")
        })?;
    }
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("failed to read {}", file.display()))?;
        let first = text
            .trim_start_matches('\u{feff}')
            .lines()
            .next()
            .unwrap_or("");
        if !first.trim_start().starts_with("//!") {
            failures.push(format!(
                "{} does not start with a `//!` line saying what it is for",
                relative(root, file)
            ));
        }
    }
    println!(
        "check-arch: {} .rs files checked for a leading `//!` line",
        files.len()
    );
    Ok(failures)
}

/// Every crate under crates/ (a directory with a Cargo.toml) must have a README.md.
fn check_readmes(root: &Path) -> Result<Vec<String>> {
    let mut manifests = Vec::new();
    collect(&root.join("crates"), &mut manifests, &|p| {
        p.file_name().is_some_and(|n| n == "Cargo.toml")
    })?;
    let mut failures = Vec::new();
    for manifest in &manifests {
        let dir = manifest.parent().unwrap_or(root);
        if !dir.join("README.md").is_file() {
            failures.push(format!(
                "crate {} has no README.md stating its invariants",
                relative(root, dir)
            ));
        }
    }
    println!(
        "check-arch: {} crates checked for a README.md",
        manifests.len()
    );
    Ok(failures)
}

/// Recursively collects matching files, skipping hidden directories and `target`.
fn collect(dir: &Path, out: &mut Vec<PathBuf>, keep: &dyn Fn(&Path) -> bool) -> Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("failed to list {}", dir.display()))?
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_dir() {
            if name.starts_with('.') || name == "target" || name == "node_modules" {
                continue;
            }
            collect(&path, out, keep)?;
        } else if file_type.is_file() && keep(&path) {
            out.push(path);
        }
    }
    Ok(())
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn forbidden_names_and_prefixes() {
        for name in [
            "diesel",
            "actix-web",
            "actix",
            "aws-sdk-s3",
            "s3s-fs",
            "ingenio-postgres",
            "bb8",
        ] {
            assert!(is_forbidden(name), "{name}");
        }
        for name in [
            "serde",
            "thiserror",
            "ingenio-kernel",
            "async-trait",
            "tokio",
            "bb8x",
        ] {
            assert!(!is_forbidden(name), "{name}");
        }
    }

    fn node(id: &str, deps: &[(&str, Option<&str>)]) -> Value {
        let deps: Vec<Value> = deps
            .iter()
            .map(|(pkg, kind)| json!({"name": pkg, "pkg": pkg, "dep_kinds": [{"kind": kind, "target": null}]}))
            .collect();
        json!({"id": id, "deps": deps})
    }

    #[test]
    fn finds_forbidden_crates_reached_transitively_through_normal_edges_only() {
        let root = PathBuf::from("/ws");
        let metadata = json!({
            "packages": [
                {"id": "users", "name": "ingenio-users", "manifest_path": "/ws/crates/domain/users/Cargo.toml",
                 "dependencies": [{"name": "helper", "kind": null}, {"name": "reqwest", "kind": "dev"}]},
                {"id": "helper", "name": "helper", "manifest_path": "/reg/helper/Cargo.toml", "dependencies": []},
                {"id": "diesel", "name": "diesel", "manifest_path": "/reg/diesel/Cargo.toml", "dependencies": []},
                {"id": "reqwest", "name": "reqwest", "manifest_path": "/reg/reqwest/Cargo.toml", "dependencies": []},
                {"id": "app", "name": "ingenio-server", "manifest_path": "/ws/crates/app/Cargo.toml",
                 "dependencies": [{"name": "diesel", "kind": null}]}
            ],
            "resolve": {"nodes": [
                node("users", &[("helper", None), ("reqwest", Some("dev"))]),
                node("helper", &[("diesel", None)]),
                node("diesel", &[]),
                node("reqwest", &[]),
                node("app", &[("diesel", None)])
            ]}
        });
        let failures = check_domain_dependencies(&metadata, &root).unwrap();
        assert_eq!(
            failures,
            vec!["domain crate ingenio-users reaches diesel through ingenio-users -> helper -> diesel".to_owned()]
        );
    }

    #[test]
    fn direct_forbidden_dependencies_are_reported_once() {
        let root = PathBuf::from("/ws");
        let metadata = json!({
            "packages": [
                {"id": "users", "name": "ingenio-users", "manifest_path": "/ws/crates/domain/users/Cargo.toml",
                 "dependencies": [{"name": "actix-web", "kind": null}]},
                {"id": "actix", "name": "actix-web", "manifest_path": "/reg/a/Cargo.toml", "dependencies": []}
            ],
            "resolve": {"nodes": [node("users", &[("actix", None)]), node("actix", &[])]}
        });
        let failures = check_domain_dependencies(&metadata, &root).unwrap();
        assert_eq!(
            failures,
            vec!["domain crate ingenio-users depends directly on actix-web".to_owned()]
        );
    }

    #[test]
    fn xtask_sources_have_module_docs() {
        let failures = check_module_docs(&util::root()).unwrap();
        let ours: Vec<_> = failures.iter().filter(|f| f.starts_with("xtask")).collect();
        assert!(ours.is_empty(), "{ours:?}");
    }

    #[test]
    fn files_without_a_leading_doc_line_and_crates_without_readme_fail() {
        let dir = std::env::temp_dir().join(format!("xtask-arch-{}", std::process::id()));
        let krate = dir.join("crates").join("demo");
        std::fs::create_dir_all(krate.join("src")).unwrap();
        std::fs::create_dir_all(dir.join("crates").join("target")).unwrap();
        std::fs::write(krate.join("Cargo.toml"), "[package]\n").unwrap();
        std::fs::write(krate.join("src/lib.rs"), "//! Fine.\n").unwrap();
        std::fs::write(
            krate.join("src/bad.rs"),
            "#![allow(dead_code)]\n//! Too late.\n",
        )
        .unwrap();
        std::fs::write(dir.join("crates/target/skip.rs"), "fn main() {}\n").unwrap();

        let docs = check_module_docs(&dir).unwrap();
        let readmes = check_readmes(&dir).unwrap();
        std::fs::write(krate.join("README.md"), "# demo\n").unwrap();
        let readmes_after = check_readmes(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();

        assert_eq!(docs.len(), 1, "{docs:?}");
        assert!(docs[0].contains("bad.rs"));
        assert_eq!(readmes.len(), 1, "{readmes:?}");
        assert!(readmes_after.is_empty());
    }
}
