//! `cargo xtask verify-renderers`: renders the sample specs with every renderer and, for the source
//! projects (renderers that are not previewable), runs the real `npm run build` on each, with one
//! shared dependency install per renderer version. Prints a table and fails on any failure.

use crate::util;
use anyhow::{bail, Context, Result};
use ingenio_app_specs::spec::fixtures;
use ingenio_app_specs::AppSpec;
use ingenio_code_gen::{renderers, FileTree, Renderer};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// Longest an install or a build may run before it is killed.
const STEP_TIMEOUT: Duration = Duration::from_secs(300);
/// What the shared dependency directory keeps between builds (everything else is swapped).
const DEPS_KEEP: &[&str] = &["node_modules", "package-lock.json", ".deps-hash"];

/// Command-line options.
pub struct Options {
    /// Only this renderer.
    pub renderer: Option<String>,
    /// How many samples per renderer (default all).
    pub samples: Option<usize>,
}

/// One row of the report.
struct Row {
    renderer: String,
    sample: String,
    files: String,
    install: String,
    build: String,
    result: Result<String, String>,
}

pub fn run(opts: &Options) -> Result<ExitCode> {
    let selected: Vec<&'static dyn Renderer> = renderers()
        .iter()
        .copied()
        .filter(|r| opts.renderer.as_deref().is_none_or(|n| n == r.name()))
        .collect();
    if selected.is_empty() {
        bail!(
            "no renderer called {:?} (known: {})",
            opts.renderer.as_deref().unwrap_or_default(),
            ingenio_code_gen::renderer_names().join(", ")
        );
    }
    let mut samples = load_samples()?;
    if let Some(n) = opts.samples {
        samples.truncate(n);
    }
    let out_root = util::target_dir().join("verify-renderers");
    let mut rows = Vec::new();
    for renderer in selected {
        verify_renderer(renderer, &samples, &out_root, &mut rows)?;
    }
    print_table(&rows);
    let failed = rows.iter().filter(|r| r.result.is_err()).count();
    if failed > 0 {
        eprintln!(
            "verify-renderers: {failed} failure(s); logs under {}",
            out_root.display()
        );
    }
    Ok(util::ok_or_failure(failed == 0))
}

/// The fixture sample, a spec using every component kind, then every
/// `crates/domain/code-gen/samples/*.json` (by file name), or when that folder does not exist, two
/// embedded specs (Chinese and hostile text).
fn load_samples() -> Result<Vec<(String, AppSpec)>> {
    let parse = |name: &str, v: &Value| {
        AppSpec::parse(v).with_context(|| format!("sample {name} is not an app spec"))
    };
    let mut out = vec![
        ("fixture".to_owned(), parse("fixture", &fixtures::sample())?),
        (
            "all-kinds".to_owned(),
            parse("all-kinds", &all_kinds_sample())?,
        ),
    ];
    let dir = util::root().join("crates/domain/code-gen/samples");
    if dir.is_dir() {
        let mut files: Vec<PathBuf> = fs::read_dir(&dir)
            .with_context(|| format!("read {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for path in files {
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text =
                fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
            let value: Value =
                serde_json::from_str(&text).with_context(|| format!("parse {}", path.display()))?;
            out.push((name.clone(), parse(&name, &value)?));
        }
    } else {
        out.push(("zh-reading-log".to_owned(), parse("zh", &chinese_sample())?));
        out.push((
            "hostile-text".to_owned(),
            parse("hostile", &hostile_sample())?,
        ));
    }
    Ok(out)
}

fn verify_renderer(
    renderer: &dyn Renderer,
    samples: &[(String, AppSpec)],
    out_root: &Path,
    rows: &mut Vec<Row>,
) -> Result<()> {
    let dir = out_root.join(format!("{}-{}", renderer.name(), renderer.version()));
    fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let mut rendered = Vec::new();
    for (name, spec) in samples {
        let row = |files: String, result| Row {
            renderer: renderer.name().to_owned(),
            sample: name.clone(),
            files,
            install: "-".into(),
            build: "-".into(),
            result,
        };
        match renderer.render(spec) {
            Ok(tree) => {
                let project = dir.join(name);
                write_tree(&tree, &project)?;
                if renderer.previewable() {
                    rows.push(row(tree.len().to_string(), Ok("rendered".into())));
                } else {
                    rendered.push((name.clone(), tree));
                }
            }
            Err(e) => rows.push(row("-".into(), Err(format!("render: {e}")))),
        }
    }
    if rendered.is_empty() {
        return Ok(());
    }
    let deps = dir.join("_deps");
    let install = install_deps(&rendered[0].1, &deps, &dir.join("install.log"));
    let (install_time, deps_hash) = match install {
        Ok(done) => done,
        Err(e) => {
            for (name, tree) in &rendered {
                rows.push(Row {
                    renderer: renderer.name().to_owned(),
                    sample: name.clone(),
                    files: tree.len().to_string(),
                    install: "-".into(),
                    build: "-".into(),
                    result: Err(format!("install: {e:#}")),
                });
            }
            return Ok(());
        }
    };
    for (i, (name, tree)) in rendered.iter().enumerate() {
        let log = dir.join(format!("{name}.build.log"));
        let started = Instant::now();
        let result = if dependencies_hash(tree).ok().as_deref() != Some(deps_hash.as_str()) {
            Err("package.json dependencies differ from the shared install".to_owned())
        } else {
            build_in(&deps, tree, &log)
                .and_then(|()| check_output(renderer, tree, &deps))
                .map(|()| "ok".to_owned())
                .map_err(|e| format!("{e:#} (log: {})", log.display()))
        };
        rows.push(Row {
            renderer: renderer.name().to_owned(),
            sample: name.clone(),
            files: tree.len().to_string(),
            install: if i == 0 {
                install_time.clone()
            } else {
                "shared".into()
            },
            build: util::fmt_duration(started.elapsed()),
            result,
        });
    }
    Ok(())
}

/// Writes `tree` under `dir`, replacing whatever was there.
fn write_tree(tree: &FileTree, dir: &Path) -> Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("remove {}", dir.display()))?;
    }
    for (path, bytes) in tree.iter() {
        let file = dir.join(path.as_str());
        if let Some(parent) = file.parent() {
            fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
        }
        fs::write(&file, bytes).with_context(|| format!("write {}", file.display()))?;
    }
    Ok(())
}

/// The hash of a project's `dependencies` and `devDependencies` (its name may differ per spec).
fn dependencies_hash(tree: &FileTree) -> Result<String> {
    let deps = dependencies(tree)?;
    Ok(hex::encode(Sha256::digest(deps.to_string().as_bytes())))
}

fn dependencies(tree: &FileTree) -> Result<Value> {
    let bytes = tree
        .get("package.json")
        .context("the project has no package.json")?;
    let pkg: Value = serde_json::from_slice(bytes).context("parse package.json")?;
    Ok(json!({
        "dependencies": pkg.get("dependencies").cloned().unwrap_or(Value::Null),
        "devDependencies": pkg.get("devDependencies").cloned().unwrap_or(Value::Null),
    }))
}

/// Installs the project's dependencies into `deps` unless the same set is installed already.
/// Returns the time taken (`cached` when skipped) and the dependency hash.
fn install_deps(tree: &FileTree, deps: &Path, log: &Path) -> Result<(String, String)> {
    let hash = dependencies_hash(tree)?;
    let stamp = deps.join(".deps-hash");
    if deps.join("node_modules").is_dir()
        && fs::read_to_string(&stamp).ok().as_deref() == Some(hash.as_str())
    {
        return Ok(("cached".into(), hash));
    }
    if deps.exists() {
        fs::remove_dir_all(deps).with_context(|| format!("remove {}", deps.display()))?;
    }
    fs::create_dir_all(deps).with_context(|| format!("create {}", deps.display()))?;
    let mut pkg = dependencies(tree)?;
    if let Value::Object(m) = &mut pkg {
        m.insert("name".into(), json!("verify-renderers-deps"));
        m.insert("private".into(), json!(true));
    }
    fs::write(deps.join("package.json"), format!("{pkg:#}\n"))
        .context("write deps package.json")?;
    let started = Instant::now();
    let mut cmd = npm(deps);
    cmd.args(["install", "--no-audit", "--no-fund", "--prefer-offline"]);
    run_bounded(&mut cmd, log).context("npm install")?;
    fs::write(&stamp, &hash).context("write deps stamp")?;
    Ok((util::fmt_duration(started.elapsed()), hash))
}

/// Swaps the project's files into the shared dependency directory and runs `npm run build` there.
fn build_in(deps: &Path, tree: &FileTree, log: &Path) -> Result<()> {
    for entry in fs::read_dir(deps).with_context(|| format!("read {}", deps.display()))? {
        let entry = entry.context("read deps entry")?;
        let name = entry.file_name();
        if DEPS_KEEP.iter().any(|k| name.as_os_str() == *k) {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            fs::remove_dir_all(&path).with_context(|| format!("remove {}", path.display()))?;
        } else {
            fs::remove_file(&path).with_context(|| format!("remove {}", path.display()))?;
        }
    }
    for (path, bytes) in tree.iter() {
        let file = deps.join(path.as_str());
        if let Some(parent) = file.parent() {
            fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
        }
        fs::write(&file, bytes).with_context(|| format!("write {}", file.display()))?;
    }
    let mut cmd = npm(deps);
    cmd.args(["run", "build"]);
    run_bounded(&mut cmd, log).context("npm run build")
}

/// The built site has an entry page for every page of the spec.
fn check_output(renderer: &dyn Renderer, tree: &FileTree, deps: &Path) -> Result<()> {
    match renderer.name() {
        "react-next" => {
            for (path, _) in tree.iter() {
                let p = path.as_str();
                if let Some(route) = p
                    .strip_prefix("app/")
                    .and_then(|r| r.strip_suffix("page.tsx"))
                {
                    let html = deps.join("out").join(route).join("index.html");
                    if !html.is_file() {
                        bail!("no {} after the build", html.display());
                    }
                }
            }
            Ok(())
        }
        "vue-vite" => {
            let html = deps.join("dist/index.html");
            if html.is_file() {
                Ok(())
            } else {
                bail!("no {} after the build", html.display())
            }
        }
        _ => Ok(()),
    }
}

fn npm(dir: &Path) -> Command {
    let mut cmd = Command::new("npm");
    cmd.current_dir(dir)
        .env("NEXT_TELEMETRY_DISABLED", "1")
        .env("CI", "1")
        .stdin(Stdio::null());
    cmd
}

/// Runs `cmd` with its output in `log`, killing its whole process group after [`STEP_TIMEOUT`].
fn run_bounded(cmd: &mut Command, log: &Path) -> Result<()> {
    let out = fs::File::create(log).with_context(|| format!("create {}", log.display()))?;
    let err = out.try_clone().context("clone log handle")?;
    cmd.stdout(out).stderr(err);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("start {} (is Node.js installed?)", util::describe(cmd)))?;
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().context("wait for npm")? {
            if status.success() {
                return Ok(());
            }
            bail!("exited with {status}:\n{}", util::tail(log, 15));
        }
        if started.elapsed() > STEP_TIMEOUT {
            let pid = child.id().to_string();
            // The group holds npm and everything it started (node, the bundler's workers).
            let _ = Command::new("kill")
                .args(["-KILL", &format!("-{pid}")])
                .status();
            let _ = child.kill();
            let _ = child.wait();
            bail!("killed after {}s", STEP_TIMEOUT.as_secs());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn print_table(rows: &[Row]) {
    let header = ["renderer", "sample", "files", "install", "build", "result"];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.renderer.clone(),
                r.sample.clone(),
                r.files.clone(),
                r.install.clone(),
                r.build.clone(),
                match &r.result {
                    Ok(s) => s.clone(),
                    Err(e) => format!("FAILED: {}", e.lines().next().unwrap_or_default()),
                },
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |row: &[String]| {
        row.iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
    };
    println!("{}", line(&header.map(str::to_owned)));
    for row in &cells {
        println!("{}", line(row));
    }
    for r in rows {
        if let Err(e) = &r.result {
            eprintln!("\n{} / {}: {e}", r.renderer, r.sample);
        }
    }
}

/// Every known component kind (and an unknown one), so each kind's template is compiled.
fn all_kinds_sample() -> Value {
    let leaf = |kind: &str| {
        let props = match kind {
            "Form" | "List" | "Table" | "Quiz" => json!({"model": "note", "questionCount": 3}),
            "Select" => json!({"label": "Pick", "options": ["a", "b"], "required": true}),
            "Image" | "Video" | "Audio" | "Avatar" => {
                json!({"src": "https://example.com/x", "alt": kind})
            }
            "Link" => json!({"label": "Back home", "to": "/"}),
            "Button" => json!({"label": "Go", "onClick": "go-home"}),
            "Chart" => json!({"data": [1, {"label": "b", "value": 4}, "3"]}),
            "Progress" => json!({"value": 40}),
            "Timer" => json!({"seconds": 90}),
            _ => json!({"text": kind, "label": kind, "title": kind}),
        };
        json!({"id": kind.to_lowercase(), "type": kind, "props": props, "children": []})
    };
    let kinds = ingenio_app_specs::validation::COMPONENT_TYPES;
    let mut components: Vec<Value> = kinds.iter().map(|k| leaf(k)).collect();
    for parent in ["Tabs", "Modal", "Card", "Row"] {
        components.push(json!({"id": format!("{parent}-nest"), "type": parent, "props": {"title": parent},
            "children": [leaf("Text"), leaf("Input"), {"id": "odd", "type": "Carousel", "props": {}, "children": [leaf("Badge")]}]}));
    }
    json!({
        "version": "1.0.0",
        "appName": "All kinds",
        "pages": [
            {"id": "home", "name": "Home", "path": "/", "components": [leaf("Text")]},
            {"id": "kinds", "name": "Kinds", "path": "/kinds", "components": components}
        ],
        "dataModels": [{"id": "note", "name": "Note", "fields": [
            {"name": "title", "type": "string", "required": true, "validation": {"minLength": 2, "pattern": "^[A-Z]"}},
            {"name": "body", "type": "string", "required": false, "validation": {"maxLength": 200}},
            {"name": "email", "type": "string", "required": false, "validation": {"email": true}},
            {"name": "mood", "type": "string", "required": false, "validation": {"options": ["ok", "good"]}},
            {"name": "score", "type": "number", "required": false, "validation": {"min": 0, "max": 10}},
            {"name": "done", "type": "boolean", "required": false},
            {"name": "due", "type": "date", "required": false}
        ]}],
        "flows": [{"id": "go-home", "name": "Go home", "trigger": "click", "actions": [
            {"type": "setState", "config": {"key": "visited", "value": true}},
            {"type": "api", "config": {"method": "POST", "model": "note"}},
            {"type": "navigate", "config": {"to": "/"}}
        ]}],
        "permissions": {"roles": [], "rules": []}
    })
}

/// A Chinese reading-log app (CJK names, ids, paths and field names).
fn chinese_sample() -> Value {
    json!({
        "version": "1.0.0",
        "appName": "阅读打卡",
        "pages": [
            {"id": "首页", "name": "首页", "path": "/", "components": [
                {"id": "标题", "type": "Header", "props": {"title": "每天读一点", "subtitle": "记录你读过的书"}, "children": []},
                {"id": "去记录", "type": "Button", "props": {"label": "去记录", "onClick": "去记录流程"}, "children": []}
            ]},
            {"id": "记录", "name": "记录", "path": "/记录", "components": [
                {"id": "表单", "type": "Form", "props": {"dataModel": "书"}, "children": []},
                {"id": "列表", "type": "Table", "props": {"model": "书"}, "children": []}
            ]},
            {"id": "统计", "name": "统计", "path": "/统计", "components": [
                {"id": "进度", "type": "Progress", "props": {"label": "本周目标", "value": 3, "max": 7}, "children": []},
                {"id": "图表", "type": "Chart", "props": {"data": [1, 3, 2, 5]}, "children": []},
                {"id": "贴纸", "type": "贴纸墙", "props": {"text": "未知组件也要显示"}, "children": []}
            ]}
        ],
        "dataModels": [
            {"id": "书", "name": "书", "fields": [
                {"name": "书名", "type": "string", "required": true, "validation": {"minLength": 1, "maxLength": 40}},
                {"name": "页数", "type": "number", "required": true, "validation": {"min": 1, "max": 2000}},
                {"name": "读完", "type": "boolean", "required": false},
                {"name": "日期", "type": "date", "required": false}
            ]}
        ],
        "flows": [
            {"id": "去记录流程", "name": "去记录", "trigger": "click", "actions": [
                {"type": "navigate", "config": {"pageId": "记录"}}
            ]}
        ],
        "permissions": {"roles": [], "rules": []}
    })
}

/// Text that would break generated code if it were pasted into it.
fn hostile_sample() -> Value {
    let evil = "</script><script>alert(1)</script>\"'><img src=x onerror=alert(1)>`${alert(1)}`\u{2028}\u{2029}";
    json!({
        "version": "1.0.0",
        "appName": evil,
        "pages": [
            {"id": "<p>", "name": evil, "path": "/${x}`", "components": [
                {"id": "x", "type": "Text", "props": {"text": evil, "__proto__": {"polluted": true}}, "children": [
                    {"id": "y", "type": "<Unknown onload=alert(1)>", "props": {"label": evil}, "children": []}
                ]},
                {"id": "f", "type": "Form", "props": {"model": "constructor"}, "children": []},
                {"id": "l", "type": "Link", "props": {"label": evil, "href": "javascript:alert(1)"}, "children": []},
                {"id": "i", "type": "Image", "props": {"src": "javascript:alert(1)", "alt": evil}, "children": []}
            ]},
            {"id": "<p>2", "name": "second", "path": "/", "components": [
                {"id": "z", "type": "Input", "props": {"label": evil, "validation": {"pattern": "([a-"}}, "children": []}
            ]}
        ],
        "dataModels": [
            {"id": "constructor", "name": "__proto__", "fields": [
                {"name": "__proto__", "type": "string", "required": true, "validation": {"pattern": "(unclosed"}},
                {"name": "constructor", "type": "number", "required": false},
                {"name": "class", "type": "boolean", "required": false},
                {"name": "名字", "type": "string", "required": false, "validation": {"email": true}},
                {"name": evil, "type": "date", "required": false}
            ]}
        ],
        "flows": [],
        "permissions": {"roles": [], "rules": []}
    })
}
