//! Browser proof for generated apps: Debian's chromium driven by Playwright (every page reachable,
//! forms validating and storing records, no console errors, phone layout) and Lighthouse scores
//! (accessibility, best practices), run from the Node project in `xtask/browser/`.

mod self_test;
mod serve;

pub use self_test::run as self_test;
pub use serve::StaticServer;

use crate::util;
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, ExitStatus};
use std::time::{Duration, Instant};

/// Where Debian installs chromium (`apt-get install chromium`).
pub const DEBIAN_CHROMIUM: &str = "/usr/bin/chromium";
/// Lighthouse scores below this fail by default.
pub const DEFAULT_THRESHOLD: u8 = 95;
/// The path prefix the development server mounts an app under, like the preview route does, so
/// apps that use absolute URLs fail here as they would there.
pub const DEV_PREFIX: &str = "/preview/app/";

/// Per-run budgets: the Node scripts time out on their own; these only catch a hung browser.
const PREVIEW_BUDGET_BASE: Duration = Duration::from_secs(60);
const PREVIEW_BUDGET_PER_APP: Duration = Duration::from_secs(90);
const LIGHTHOUSE_BUDGET_BASE: Duration = Duration::from_secs(60);
const LIGHTHOUSE_BUDGET_PER_URL: Duration = Duration::from_secs(60);

/// Lighthouse scores of one URL (0–100) and the audits that cost points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scores {
    pub url: String,
    pub accessibility: u8,
    pub best_practices: u8,
    /// `category/audit-id: title` of each failing audit.
    pub failing: Vec<String>,
    /// Ids of the failing audits that fail the run whatever the score (low contrast, no label, ...).
    pub required_failed: Vec<String>,
}

impl Scores {
    /// Whether both scores reach `threshold` and no required audit failed.
    pub fn passes(&self, threshold: u8) -> bool {
        self.accessibility >= threshold
            && self.best_practices >= threshold
            && self.required_failed.is_empty()
    }
}

/// The Node project holding the browser scripts.
pub fn browser_dir() -> PathBuf {
    util::root().join("xtask/browser")
}

/// The chromium to drive: `CHROME_PATH` when set, else Debian's; never a downloaded browser.
pub fn ensure_chromium() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("CHROME_PATH").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        if path.is_file() {
            return Ok(path);
        }
        bail!("CHROME_PATH={} does not exist", path.display());
    }
    let debian = PathBuf::from(DEBIAN_CHROMIUM);
    if debian.is_file() {
        return Ok(debian);
    }
    if let Some(found) = util::which("chromium") {
        return Ok(found);
    }
    let hint = util::install_hint("chromium chromium-driver", "--cask chromium")
        .map(|cmd| format!("; install it with `{cmd}`"))
        .unwrap_or_default();
    bail!("chromium not found at {DEBIAN_CHROMIUM} nor on PATH{hint}")
}

/// Installs `xtask/browser/node_modules` with `npm ci` when it is missing or older than
/// `package-lock.json` (a copy of the lock kept in node_modules tells which one it was built from).
pub fn ensure_node_deps() -> Result<()> {
    let dir = browser_dir();
    let lock = std::fs::read(dir.join("package-lock.json"))
        .context("read xtask/browser/package-lock.json")?;
    let stamp = dir.join("node_modules/.xtask-package-lock.json");
    if std::fs::read(&stamp).is_ok_and(|installed| installed == lock) {
        return Ok(());
    }
    check_node()?;
    let npm = util::which("npm")
        .ok_or_else(|| anyhow!("npm is not on PATH (Node.js 20+ with npm is needed)"))?;
    let start = Instant::now();
    println!("xtask: installing the browser-check packages (npm ci in xtask/browser)");
    let mut cmd = Command::new(npm);
    cmd.args([
        "ci",
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
    ])
    .current_dir(&dir)
    // Neither package downloads a browser; say so anyway so no install step ever tries.
    .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    .env("PUPPETEER_SKIP_DOWNLOAD", "1");
    util::run_checked(&mut cmd)?;
    std::fs::write(&stamp, &lock).context("write the node_modules stamp")?;
    println!(
        "xtask: browser-check packages installed in {}",
        util::fmt_duration(start.elapsed())
    );
    Ok(())
}

fn check_node() -> Result<()> {
    let version = util::capture(Command::new("node").arg("--version"))
        .ok_or_else(|| anyhow!("node is not on PATH (Node.js 20+ is needed)"))?;
    let major = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok())
        .ok_or_else(|| anyhow!("cannot read the node version from {version:?}"))?;
    anyhow::ensure!(
        major >= 20,
        "node {version} is too old: 20 or newer is needed"
    );
    Ok(())
}

/// Runs the preview checks (see `xtask/browser/check-preview.mjs`) on each `(url, AppSpec JSON)`;
/// fails when any check fails. The lines it prints say which.
#[allow(
    dead_code,
    reason = "the entry point for `cargo xtask test` and verify-renderers"
)]
pub fn check_previews(apps: &[(String, Value)]) -> Result<()> {
    check_previews_report(apps).map(|_| ())
}

/// Like [`check_previews`], and returns for each app the URL of every page reached through its
/// navigation (what [`lighthouse`] should score, since hidden pages are not audited).
pub fn check_previews_report(apps: &[(String, Value)]) -> Result<Vec<Vec<String>>> {
    let run = run_previews(apps)?;
    if !run.passed {
        bail!("preview checks failed:\n  {}", run.failures.join("\n  "));
    }
    Ok(run.page_urls)
}

/// What one run of check-preview.mjs found (it ran to the end; `passed` says whether all checks did).
struct PreviewRun {
    passed: bool,
    page_urls: Vec<Vec<String>>,
    failures: Vec<String>,
}

/// Runs check-preview.mjs; an error only when it could not run to the end.
fn run_previews(apps: &[(String, Value)]) -> Result<PreviewRun> {
    let chromium = ensure_chromium()?;
    ensure_node_deps()?;
    let scratch = Scratch::new("check-preview")?;
    let input = scratch.path("apps.json");
    let output = scratch.path("result.json");
    let list: Vec<Value> = apps
        .iter()
        .map(|(url, spec)| json!({"url": url, "spec": spec}))
        .collect();
    std::fs::write(
        &input,
        serde_json::to_vec(&list).context("encode the app list")?,
    )
    .context("write the app list")?;
    let budget = PREVIEW_BUDGET_BASE + PREVIEW_BUDGET_PER_APP * count(apps.len());
    let mut cmd = node_script("check-preview.mjs", &chromium);
    cmd.arg(&input).arg("--out").arg(&output);
    let status = run_bounded(&mut cmd, budget)?;
    // The result file is written only when every app was checked.
    let result = read_json(&output)
        .with_context(|| format!("check-preview.mjs did not finish ({status})"))?;
    Ok(PreviewRun {
        passed: status.success(),
        page_urls: page_urls(&result),
        failures: strings(&result["failures"]),
    })
}

fn page_urls(result: &Value) -> Vec<Vec<String>> {
    items(&result["apps"])
        .iter()
        .map(|app| strings(&app["pageUrls"]))
        .collect()
}

/// The elements of a JSON array (none for anything else).
fn items(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// The strings of a JSON array.
fn strings(v: &Value) -> Vec<String> {
    items(v)
        .iter()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// Lighthouse accessibility and best-practices scores of each URL on a phone; fails when a score is
/// below `threshold`, when a required audit fails (colour contrast, labels, names, lang, title,
/// viewport, console errors: see `REQUIRED_AUDITS` in lighthouse.mjs) or when Lighthouse cannot run.
/// The failing audits are printed with the offending elements.
pub fn lighthouse(urls: &[String], threshold: u8) -> Result<Vec<Scores>> {
    let (passed, scores) = run_lighthouse(urls, threshold)?;
    if !passed {
        let low: Vec<String> = scores
            .iter()
            .filter(|s| !s.passes(threshold))
            .map(|s| {
                format!(
                    "{} (accessibility {}, best-practices {}; failing: {})",
                    s.url,
                    s.accessibility,
                    s.best_practices,
                    s.failing.join(", ")
                )
            })
            .collect();
        bail!(
            "Lighthouse below {threshold} or a required audit failed: {}",
            low.join("; ")
        );
    }
    Ok(scores)
}

/// Runs lighthouse.mjs: whether every URL passed, and the scores; an error only when it could not
/// run to the end.
pub fn run_lighthouse(urls: &[String], threshold: u8) -> Result<(bool, Vec<Scores>)> {
    anyhow::ensure!(!urls.is_empty(), "no URL to score");
    let chromium = ensure_chromium()?;
    ensure_node_deps()?;
    let scratch = Scratch::new("lighthouse")?;
    let output = scratch.path("scores.json");
    let budget = LIGHTHOUSE_BUDGET_BASE + LIGHTHOUSE_BUDGET_PER_URL * count(urls.len());
    let mut cmd = node_script("lighthouse.mjs", &chromium);
    cmd.args(urls)
        .arg("--threshold")
        .arg(threshold.to_string())
        .arg("--json")
        .arg(&output);
    let status = run_bounded(&mut cmd, budget)?;
    let scores =
        read_json(&output).with_context(|| format!("lighthouse.mjs did not finish ({status})"))?;
    Ok((status.success(), parse_scores(&scores)))
}

fn parse_scores(v: &Value) -> Vec<Scores> {
    let score = |s: &Value| u8::try_from(s.as_u64().unwrap_or(0).min(100)).unwrap_or(0);
    let audit = |a: &Value| {
        let text = |key: &str| a[key].as_str().unwrap_or("?").to_owned();
        format!("{}/{}: {}", text("category"), text("id"), text("title"))
    };
    items(v)
        .iter()
        .map(|run| Scores {
            url: run["url"].as_str().unwrap_or_default().to_owned(),
            accessibility: score(&run["accessibility"]),
            best_practices: score(&run["bestPractices"]),
            failing: items(&run["failing"]).iter().map(audit).collect(),
            required_failed: strings(&run["requiredFailed"]),
        })
        .collect()
}

/// `cargo xtask browser-check`: serves a rendered app and runs both checks on it.
pub fn browser_check(
    dir: &Path,
    spec: &Path,
    threshold: u8,
    with_lighthouse: bool,
) -> Result<ExitCode> {
    let start = Instant::now();
    let spec: Value = read_json(spec)?;
    ensure_chromium()?;
    let t = Instant::now();
    ensure_node_deps()?;
    println!(
        "xtask: node packages ready in {}",
        util::fmt_duration(t.elapsed())
    );
    let server = StaticServer::start(dir, DEV_PREFIX)?;
    let url = server.url();
    println!("xtask: serving {} at {url}", dir.display());

    let t = Instant::now();
    let previews = check_previews_report(&[(url.clone(), spec)]);
    println!(
        "xtask: preview check took {}",
        util::fmt_duration(t.elapsed())
    );

    let mut failed = false;
    let page_urls = match previews {
        Ok(mut apps) => apps.pop().unwrap_or_default(),
        Err(err) => {
            eprintln!("xtask: {err:#}");
            failed = true;
            Vec::new()
        }
    };
    if with_lighthouse {
        // Hidden pages are not audited: score each page reached, or the start page when none was.
        let urls = if page_urls.is_empty() {
            vec![url]
        } else {
            page_urls
        };
        let t = Instant::now();
        let scores = lighthouse(&urls, threshold);
        println!("xtask: Lighthouse took {}", util::fmt_duration(t.elapsed()));
        if let Err(err) = scores {
            eprintln!("xtask: {err:#}");
            failed = true;
        }
    }
    drop(server);
    let elapsed = util::fmt_duration(start.elapsed());
    if failed {
        eprintln!("xtask: browser-check failed after {elapsed}");
    } else {
        println!("xtask: browser-check passed in {elapsed}");
    }
    Ok(util::ok_or_failure(!failed))
}

fn node_script(script: &str, chromium: &Path) -> Command {
    let mut cmd = Command::new("node");
    cmd.arg(script)
        .current_dir(browser_dir())
        .env("CHROME_PATH", chromium);
    cmd
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("parse {}", path.display()))
}

/// Runs `cmd` (stdout and stderr inherited) in its own process group and kills the whole group
/// (node and its browsers) when it outlives `budget`.
fn run_bounded(cmd: &mut Command, budget: Duration) -> Result<ExitStatus> {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    let mut deadline = Instant::now() + budget;
    if let Some(overall) = overall_deadline() {
        if overall <= Instant::now() {
            bail!("no time left to run {}", util::describe(cmd));
        }
        deadline = deadline.min(overall);
    }
    let budget = deadline.saturating_duration_since(Instant::now());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("failed to start {}", util::describe(cmd)))?;
    loop {
        if let Some(status) = child.try_wait().context("wait for the browser script")? {
            return Ok(status);
        }
        if Instant::now() >= deadline {
            kill_group(&mut child);
            bail!(
                "{} did not finish within {}; killed",
                util::describe(cmd),
                util::fmt_duration(budget)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A time by which every browser script must have ended (on top of its own budget).
static OVERALL_DEADLINE: std::sync::Mutex<Option<Instant>> = std::sync::Mutex::new(None);

/// Caps the budget of every later browser script run at `deadline` (for a step bounded as a
/// whole, such as `browser-e2e`); `None` lifts the cap.
pub fn set_overall_deadline(deadline: Option<Instant>) {
    if let Ok(mut d) = OVERALL_DEADLINE.lock() {
        *d = deadline;
    }
}

fn overall_deadline() -> Option<Instant> {
    OVERALL_DEADLINE.lock().ok().and_then(|d| *d)
}

fn kill_group(child: &mut Child) {
    let group = format!("-{}", child.id());
    for signal in ["-TERM", "-KILL"] {
        util::quiet_ok(Command::new("kill").args([signal, "--", &group]));
        std::thread::sleep(Duration::from_secs(1));
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A per-run directory under `target/browser-check/` for the scripts' input and output files,
/// removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(what: &str) -> Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = util::target_dir()
            .join("browser-check")
            .join(format!("{what}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        Ok(Self(dir))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn scores_are_read_from_the_script_output() {
        let v = json!([
            {"url": "http://a/#home", "accessibility": 100, "bestPractices": 96, "failing": []},
            {"url": "http://a/#add", "accessibility": 88, "bestPractices": 100, "failing": [
                {"id": "color-contrast", "category": "accessibility", "title": "Low contrast", "nodes": []}
            ]},
            {"url": "http://a/#x", "accessibility": 97, "bestPractices": 100, "failing": [],
             "requiredFailed": ["label"]}
        ]);
        let scores = parse_scores(&v);
        assert_eq!(scores.len(), 3);
        assert!(scores[0].passes(95));
        assert!(!scores[0].passes(97));
        assert!(!scores[1].passes(95));
        assert_eq!(
            scores[1].failing,
            ["accessibility/color-contrast: Low contrast"]
        );
    }

    #[test]
    fn page_urls_are_read_per_app() {
        let v = json!({"apps": [{"url": "u", "pageUrls": ["u#a", "u#b"]}, {"url": "v", "pageUrls": []}]});
        assert_eq!(
            page_urls(&v),
            vec![vec!["u#a".to_owned(), "u#b".to_owned()], vec![]]
        );
    }

    #[test]
    fn valid_value_derivation_passes_its_node_tests() {
        // values.mjs has no dependencies: its tests run without `npm ci` or a browser.
        let out = Command::new("node")
            .args(["--test", "values.test.mjs"])
            .current_dir(browser_dir())
            .output()
            .expect("node (20+) must be on PATH");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}");
        assert!(stdout.contains("# fail 0"), "{stdout}");
    }

    #[test]
    fn a_hung_script_is_killed_at_its_budget() {
        let start = Instant::now();
        let err = run_bounded(
            Command::new("sh").args(["-c", "sleep 30"]),
            Duration::from_millis(300),
        )
        .unwrap_err();
        assert!(err.to_string().contains("did not finish"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(10));
    }
}
