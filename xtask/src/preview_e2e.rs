//! `cargo xtask browser-e2e`: the built server on a fresh database renders real apps through its
//! API (every sample spec, plus two offline-generator outputs) and each live preview is proven in
//! chromium (pages, forms, records kept, no console errors on a phone) and scored by Lighthouse.
//! Bounded as a whole; the server is stopped and the database dropped whatever happens.

use crate::browser::{self, Scores};
use crate::env::Env;
use crate::http::Client;
use crate::server_process::{call_data, free_port, register, ServerProcess};
use crate::test_server::{self, run_id, server_binary, server_command, TempDatabase};
use crate::util;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The requirements given to the offline generator (one Chinese, one English).
pub const REQUIREMENTS: &[(&str, &str)] = &[
    (
        "gen-zh-vocab",
        "为小学生做一个背单词小游戏，可以添加单词并复习",
    ),
    (
        "gen-en-reading",
        "A reading log for middle school students: add the books they read with pages and a short review, and see the list",
    ),
];

/// The whole step's default time limit.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(360);
/// Longest wait for the server to become ready (a fresh database is created and migrated).
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// Between polls of a job.
const POLL_EVERY: Duration = Duration::from_millis(100);

/// Command-line options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Run `cargo build -p ingenio-server` even when the binary exists.
    pub build: bool,
    /// Lowest accepted Lighthouse accessibility and best-practices score.
    pub threshold: u8,
    /// Time limit of the whole step.
    pub budget: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            build: false,
            threshold: browser::DEFAULT_THRESHOLD,
            budget: DEFAULT_BUDGET,
        }
    }
}

/// `cargo xtask browser-e2e`: finds or starts PostgreSQL like `cargo xtask test`, then [`run`].
pub fn run_standalone(opts: &Options) -> Result<ExitCode> {
    test_server::standalone(|env| run(env, opts))
}

/// Runs the step against the PostgreSQL `env` points at; prints the tables and a summary and
/// returns whether everything passed.
pub fn run(env: &Env, opts: &Options) -> bool {
    let start = Instant::now();
    let deadline = start + opts.budget;
    browser::set_overall_deadline(Some(deadline));
    let outcome = run_inner(env, opts, deadline);
    browser::set_overall_deadline(None);
    let elapsed = util::fmt_duration(start.elapsed());
    match outcome {
        Ok(report) if report.failures.is_empty() => {
            println!("browser-e2e: passed in {elapsed}");
            true
        }
        Ok(report) => {
            eprintln!(
                "browser-e2e: FAILED after {elapsed}: {} failure(s):",
                report.failures.len()
            );
            for f in &report.failures {
                eprintln!("  - {f}");
            }
            false
        }
        Err(err) => {
            let late = if Instant::now() >= deadline {
                format!(
                    " (the step's limit of {} was reached)",
                    util::fmt_duration(opts.budget)
                )
            } else {
                String::new()
            };
            eprintln!("browser-e2e: FAILED after {elapsed}{late}: {err:#}");
            false
        }
    }
}

/// One app followed through render, preview checks and Lighthouse.
struct App {
    name: String,
    source: &'static str,
    job_id: String,
    submitted: Instant,
    render_time: Option<Duration>,
    preview_url: Option<String>,
    spec: Option<Value>,
    check_time: Option<Duration>,
    pages: Vec<String>,
    error: Option<String>,
}

impl App {
    fn new(name: &str, source: &'static str, job_id: String, spec: Option<Value>) -> Self {
        Self {
            name: name.to_owned(),
            source,
            job_id,
            submitted: Instant::now(),
            render_time: None,
            preview_url: None,
            spec,
            check_time: None,
            pages: Vec::new(),
            error: None,
        }
    }

    fn failed(name: &str, source: &'static str, error: String) -> Self {
        let mut app = Self::new(name, source, String::new(), None);
        app.error = Some(error);
        app
    }
}

/// What went wrong, one line per failure (empty when all passed).
struct Report {
    failures: Vec<String>,
}

fn run_inner(env: &Env, opts: &Options, deadline: Instant) -> Result<Report> {
    // Fail before anything starts when the browser cannot run.
    browser::ensure_chromium()?;
    browser::ensure_node_deps()?;
    let binary = server_binary("browser-e2e", opts.build)?;

    let run_id = run_id();
    let db_name = format!("ingenio_e2e_{run_id}");
    let artifacts = util::target_dir().join("e2e-artifacts").join(&run_id);
    std::fs::create_dir_all(&artifacts)
        .with_context(|| format!("create {}", artifacts.display()))?;
    let database = TempDatabase::new("browser-e2e", env, &db_name);

    let port = free_port()?;
    let mut cmd = server_command(&binary, env, &database, port, &artifacts, &[]);
    println!(
        "browser-e2e: starting {} on 127.0.0.1:{port} (database {db_name}, artifacts {})",
        binary.display(),
        artifacts.display()
    );
    let mut server = ServerProcess::spawn(&mut cmd, port, &artifacts.join("server.log"))?;
    let ready = server.wait_ready(READY_TIMEOUT.min(remaining(deadline)))?;
    println!("browser-e2e: server ready in {}", util::fmt_duration(ready));

    let mut client = Client::new(server.addr);
    let (user, token) = register(&mut client, "e2e")?;
    println!("browser-e2e: registered {user}");

    let t = Instant::now();
    let mut apps = submit_all(&mut client, &token);
    wait_for_jobs(&mut client, &token, &mut apps, &mut server, deadline)?;
    println!(
        "browser-e2e: {} app(s) rendered in {}",
        apps.iter().filter(|a| a.preview_url.is_some()).count(),
        util::fmt_duration(t.elapsed())
    );

    check_previews(&mut apps, deadline);
    let (lighthouse_ok, scores, lighthouse_time) = score_pages(&apps, opts.threshold, deadline);

    print_apps(&apps, &scores);
    print_scores(&scores, opts.threshold);
    if let Some(t) = lighthouse_time {
        println!(
            "browser-e2e: Lighthouse scored {} page(s) in {}",
            scores.len(),
            util::fmt_duration(t)
        );
    }

    let mut failures: Vec<String> = apps
        .iter()
        .filter_map(|a| a.error.as_ref().map(|e| format!("{}: {e}", a.name)))
        .collect();
    if let Err(err) = &lighthouse_ok {
        failures.push(format!("Lighthouse: {err:#}"));
    }
    if apps.len() < 6 {
        failures.push(format!(
            "only {} app(s) were checked; at least 6 are required",
            apps.len()
        ));
    }
    match server.stop() {
        Ok(took) => println!(
            "browser-e2e: server stopped {} after SIGTERM",
            util::fmt_duration(took)
        ),
        Err(err) => failures.push(format!("server stop: {err:#}")),
    }
    if failures.is_empty() {
        let _ = std::fs::remove_dir_all(&artifacts);
    } else {
        eprintln!(
            "browser-e2e: server log and artifacts kept in {}",
            artifacts.display()
        );
    }
    Ok(Report { failures })
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// Creates a spec and starts a render for every sample, and starts a generation for every
/// requirement. A failed submission becomes a failed app (the others go on).
fn submit_all(client: &mut Client, token: &str) -> Vec<App> {
    let mut apps = Vec::new();
    for (name, spec) in ingenio_code_gen::samples::values() {
        let submitted = submit_sample(client, token, &spec);
        apps.push(match submitted {
            Ok((job, stored)) => App::new(name, "sample", job, Some(stored)),
            Err(err) => App::failed(name, "sample", format!("{err:#}")),
        });
    }
    for (name, requirement) in REQUIREMENTS {
        let body = json!({"requirement": requirement, "renderer": "static-web"});
        let job = call_data(client, "POST", "/api/v1/generate", Some(token), Some(&body))
            .and_then(|data| job_id(&data));
        apps.push(match job {
            Ok(job) => App::new(name, "generator", job, None),
            Err(err) => App::failed(name, "generator", format!("{err:#}")),
        });
    }
    apps
}

/// `POST /appspecs` then `POST /appspecs/{id}/render`: the render job id and the stored spec.
fn submit_sample(client: &mut Client, token: &str, spec: &Value) -> Result<(String, Value)> {
    let created = call_data(
        client,
        "POST",
        "/api/v1/appspecs",
        Some(token),
        Some(&json!({"specContent": spec})),
    )?;
    let id = created["id"]
        .as_str()
        .context("the created spec has no id")?;
    let render = call_data(
        client,
        "POST",
        &format!("/api/v1/appspecs/{id}/render"),
        Some(token),
        Some(&json!({"renderer": "static-web"})),
    )?;
    Ok((job_id(&render)?, created["specContent"].clone()))
}

fn job_id(data: &Value) -> Result<String> {
    data["jobId"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no jobId in {data}"))
}

/// Polls every pending job until it ends; a completed job gives the preview URL (and, for a
/// generation, the spec it wrote). Fails only when the server dies or time runs out.
fn wait_for_jobs(
    client: &mut Client,
    token: &str,
    apps: &mut [App],
    server: &mut ServerProcess,
    deadline: Instant,
) -> Result<()> {
    loop {
        let mut pending = 0;
        for app in apps
            .iter_mut()
            .filter(|a| a.error.is_none() && a.render_time.is_none())
        {
            let job = call_data(
                client,
                "GET",
                &format!("/api/v1/generate/jobs/{}", app.job_id),
                Some(token),
                None,
            )?;
            match job["status"].as_str().unwrap_or_default() {
                "completed" => {
                    app.render_time = Some(app.submitted.elapsed());
                    if let Err(err) = take_result(client, token, app, &job) {
                        app.error = Some(format!("{err:#}"));
                    }
                }
                status @ ("failed" | "cancelled") => {
                    app.render_time = Some(app.submitted.elapsed());
                    app.error = Some(format!(
                        "job {} {status}: {} {}",
                        app.job_id,
                        job["errorCode"].as_str().unwrap_or("-"),
                        job["errorMessage"].as_str().unwrap_or("")
                    ));
                }
                _ => pending += 1,
            }
        }
        if pending == 0 {
            return Ok(());
        }
        server.check_alive()?;
        if Instant::now() >= deadline {
            bail!("{pending} job(s) still running when the time ran out");
        }
        std::thread::sleep(POLL_EVERY);
    }
}

fn take_result(client: &mut Client, token: &str, app: &mut App, job: &Value) -> Result<()> {
    let url = job["code"]["previewUrl"]
        .as_str()
        .with_context(|| format!("completed job has no code.previewUrl: {job}"))?;
    check_preview_headers(client, url)?;
    app.preview_url = Some(url.to_owned());
    if app.spec.is_none() {
        let id = job["appSpecId"]
            .as_str()
            .with_context(|| format!("completed generation has no appSpecId: {job}"))?;
        let spec = call_data(
            client,
            "GET",
            &format!("/api/v1/appspecs/{id}"),
            Some(token),
            None,
        )?;
        app.spec = Some(spec["specContent"].clone());
    }
    Ok(())
}

/// The preview answers on this server with a Content-Security-Policy that allows no inline or
/// foreign script (the browser checks then fail on anything it blocks).
fn check_preview_headers(client: &mut Client, url: &str) -> Result<()> {
    let path =
        preview_path(url).with_context(|| format!("preview URL {url} is not an http URL"))?;
    let resp = client
        .request("GET", path, &[], None)
        .with_context(|| format!("GET {url}"))?;
    if resp.status != 200 {
        bail!("GET {url} answered {}", resp.status);
    }
    let csp = resp.header("content-security-policy").unwrap_or_default();
    if !csp.contains("script-src 'self'") || csp.contains("unsafe-inline") {
        bail!("GET {url}: Content-Security-Policy {csp:?} does not keep scripts to the app's own files");
    }
    Ok(())
}

/// The path (and query) of an `http://host[:port]/...` URL.
fn preview_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("http://")?;
    rest.find('/').map(|i| &rest[i..])
}

/// The preview checks, one app at a time (a fresh browser each, as check-preview.mjs does anyway),
/// so each app's time and result are its own.
fn check_previews(apps: &mut [App], deadline: Instant) {
    for app in apps.iter_mut().filter(|a| a.error.is_none()) {
        let (Some(url), Some(spec)) = (app.preview_url.clone(), app.spec.clone()) else {
            continue;
        };
        if Instant::now() >= deadline {
            app.error = Some("not checked: the time ran out".to_owned());
            continue;
        }
        println!("browser-e2e: checking {} ({url})", app.name);
        let t = Instant::now();
        let result = browser::check_previews_report(&[(url, spec)]);
        app.check_time = Some(t.elapsed());
        match result {
            Ok(mut pages) => app.pages = pages.pop().unwrap_or_default(),
            Err(err) => app.error = Some(format!("{err:#}")),
        }
    }
}

/// Lighthouse on every page the preview checks reached: whether all passed, the scores, the time.
fn score_pages(
    apps: &[App],
    threshold: u8,
    deadline: Instant,
) -> (Result<()>, Vec<Scores>, Option<Duration>) {
    let urls: Vec<String> = apps
        .iter()
        .filter(|a| a.error.is_none())
        .flat_map(|a| a.pages.iter().cloned())
        .collect();
    if urls.is_empty() {
        return (Err(anyhow::anyhow!("no page to score")), Vec::new(), None);
    }
    if Instant::now() >= deadline {
        return (
            Err(anyhow::anyhow!("not run: the time ran out")),
            Vec::new(),
            None,
        );
    }
    println!("browser-e2e: Lighthouse on {} page(s)", urls.len());
    let t = Instant::now();
    let result = browser::run_lighthouse(&urls, threshold);
    let took = Some(t.elapsed());
    match result {
        Ok((passed, scores)) => {
            let outcome = if passed && scores.len() == urls.len() {
                Ok(())
            } else if passed {
                Err(anyhow::anyhow!(
                    "{} of {} page(s) were scored",
                    scores.len(),
                    urls.len()
                ))
            } else {
                let low: Vec<&str> = scores
                    .iter()
                    .filter(|s| !s.passes(threshold))
                    .map(|s| s.url.as_str())
                    .collect();
                Err(anyhow::anyhow!(
                    "below {threshold} or a required audit failed on {}",
                    low.join(", ")
                ))
            };
            (outcome, scores, took)
        }
        Err(err) => (Err(err), Vec::new(), took),
    }
}

fn fmt_opt(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".to_owned(), util::fmt_duration)
}

/// One row per app: where it came from, render and check times, pages, lowest scores, result.
fn print_apps(apps: &[App], scores: &[Scores]) {
    let header = [
        "app", "source", "render", "check", "pages", "a11y", "best-pr", "result",
    ];
    let rows: Vec<Vec<String>> = apps
        .iter()
        .map(|a| {
            let mine: Vec<&Scores> = scores.iter().filter(|s| a.pages.contains(&s.url)).collect();
            let min = |f: fn(&Scores) -> u8| {
                mine.iter()
                    .map(|s| f(s))
                    .min()
                    .map_or_else(|| "-".to_owned(), |v| v.to_string())
            };
            vec![
                a.name.clone(),
                a.source.to_owned(),
                fmt_opt(a.render_time),
                fmt_opt(a.check_time),
                a.pages.len().to_string(),
                min(|s| s.accessibility),
                min(|s| s.best_practices),
                match &a.error {
                    None => "ok".to_owned(),
                    Some(e) => format!("FAILED: {}", e.lines().next().unwrap_or_default()),
                },
            ]
        })
        .collect();
    print_table(&header, &rows);
}

/// One row per scored page, with the audits that cost points.
fn print_scores(scores: &[Scores], threshold: u8) {
    if scores.is_empty() {
        return;
    }
    let header = ["page", "a11y", "best-pr", "ok", "failing audits"];
    let rows: Vec<Vec<String>> = scores
        .iter()
        .map(|s| {
            vec![
                s.url.clone(),
                s.accessibility.to_string(),
                s.best_practices.to_string(),
                if s.passes(threshold) { "yes" } else { "NO" }.to_owned(),
                s.failing.join("; "),
            ]
        })
        .collect();
    print_table(&header, &rows);
}

fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    println!("{}", line(header.iter().map(|h| (*h).to_owned()).collect()));
    for row in rows {
        println!("{}", line(row.clone()));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn the_preview_path_is_what_follows_the_authority() {
        assert_eq!(
            preview_path("http://127.0.0.1:8080/api/preview/k/"),
            Some("/api/preview/k/")
        );
        assert_eq!(preview_path("http://h"), None);
        assert_eq!(preview_path("https://h/x"), None);
    }

    #[test]
    fn there_are_at_least_six_varied_apps() {
        let samples = ingenio_code_gen::samples::values().len();
        assert_eq!(samples, ingenio_code_gen::samples::ALL.len());
        assert!(samples + REQUIREMENTS.len() >= 6);
        assert!(REQUIREMENTS.iter().any(|(_, r)| !r.is_ascii()));
        assert!(REQUIREMENTS.iter().any(|(_, r)| r.is_ascii()));
        for (_, r) in REQUIREMENTS {
            assert!((10..=5000).contains(&r.chars().count()));
        }
    }
}
