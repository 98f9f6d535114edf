//! `cargo xtask bench`: builds the release server, starts it on a free port against the dev
//! database (rate limiting off), and reports build time, idle/loaded RSS, and latency percentiles
//! and throughput for liveness checks, for authenticated `GET /api/v1/auth/me` and for preview files
//! served from a stored zip (with their ratio to liveness), the first gallery page (cached) and an
//! anonymous project detail; then render + zip of a 10-page spec, the semantic diff of two large
//! specs and generation jobs end to end, all in release builds.

use crate::env::Env;
use crate::http::Client;
use crate::server_process::{call_data, free_port, register, ServerProcess, LIVENESS};
use crate::services::{self, PgStart};
use crate::util;
use anyhow::{bail, Result};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

/// Log targets turned down to `warn` so per-request logging does not distort the numbers.
const QUIET_TARGETS: &[&str] = &[
    "root",
    "ingenio_server",
    "ingenio_users",
    "ingenio_postgres",
    "ingenio_redis",
    "ingenio_embedded",
    "actix_web",
];

pub fn run(requests: usize, auth_requests: usize) -> Result<ExitCode> {
    let mut env = Env::load()?;
    services::ensure_postgres(&mut env, PgStart::LocalCluster)?;

    println!("xtask: building the release server");
    let build_start = Instant::now();
    util::run_checked(util::cargo().args(["build", "--release", "-p", "ingenio-server"]))?;
    let build_time = build_start.elapsed();
    println!(
        "bench: release build took {}",
        util::fmt_duration(build_time)
    );

    let binary = util::target_dir().join("release").join("ingenio-server");
    let port = free_port()?;
    let log_path = util::target_dir().join("bench-server.log");
    let mut cmd = Command::new(&binary);
    cmd.current_dir(util::root())
        .args(["--profile", "dev"])
        .args(["--set", "ingenio.rate-limit.enabled=false"])
        .args(
            QUIET_TARGETS
                .iter()
                .flat_map(|t| ["--set".to_owned(), format!("logging.level.{t}=warn")]),
        )
        .args(["--set", "logging.file.enabled=false"])
        .arg("serve");
    env.apply(&mut cmd);
    cmd.env("PORT", port.to_string());
    let mut server = ServerProcess::spawn(&mut cmd, port, &log_path)?;

    let result = measure(&mut server, requests, auth_requests, &env);
    let stop = server.stop();
    result?;
    let took = stop?;
    println!(
        "bench: server stopped {} after SIGTERM",
        util::fmt_duration(took)
    );

    // Generation jobs end to end against the testkit's instant DeepSeek stand-in (100 jobs), and
    // the time a crashed instance's job takes to be taken over: measured by ignored tests that
    // only print. Built with --release like the server above, so the numbers are a production
    // build's.
    // Render + zip of a 10-page spec, in a release build (aim: under 5 ms).
    println!(
        "bench: render + zip (cargo test --release -p ingenio-code-gen ... render_and_zip_budget)"
    );
    util::run_checked(util::cargo().args([
        "test",
        "--release",
        "-p",
        "ingenio-code-gen",
        "--test",
        "it",
        "--",
        "--ignored",
        "--nocapture",
        "render_and_zip_budget",
    ]))?;

    // The semantic diff of two large specs (500 to 10,000 components and fields): time and the
    // work count the diff reports (near-linear; the assertion lives in a plain test).
    println!("bench: semantic diff (cargo test --release -p ingenio-app-specs ... diff_bench)");
    util::run_checked(util::cargo().args([
        "test",
        "--release",
        "-p",
        "ingenio-app-specs",
        "--lib",
        "--",
        "--ignored",
        "--nocapture",
        "diff_bench",
    ]))?;

    println!("bench: generation jobs (cargo test --release ... -- --ignored bench_)");
    util::run_checked(util::cargo().args([
        "test",
        "--release",
        "-p",
        "ingenio-server",
        "--test",
        "api",
        "--",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
        "bench_",
    ]))?;
    Ok(ExitCode::SUCCESS)
}

fn measure(
    server: &mut ServerProcess,
    requests: usize,
    auth_requests: usize,
    env: &Env,
) -> Result<()> {
    let addr = server.addr;
    let pid = server.pid();
    let ready = server.wait_ready(Duration::from_secs(120))?;
    println!(
        "bench: server pid {pid} on port {}, ready after {}",
        addr.port(),
        util::fmt_duration(ready)
    );
    println!("bench: idle RSS {}", rss(pid));

    let mut client = Client::new(addr);
    // Warm-up (not measured).
    for _ in 0..50 {
        expect_ok(client.request("GET", LIVENESS, &[], None)?, LIVENESS)?;
    }
    let liveness = time_requests(requests, || {
        expect_ok(client.request("GET", LIVENESS, &[], None)?, LIVENESS)
    })?;
    liveness.print(&format!("GET {LIVENESS}"));

    let (username, token) = register(&mut client, "bench")?;
    println!("bench: registered user {username}");
    let bearer = format!("Bearer {token}");
    let me = "/api/v1/auth/me";
    let stats = time_requests(auth_requests, || {
        let resp = client.request("GET", me, &[("Authorization", &bearer)], None)?;
        expect_ok(resp, me)
    })?;
    stats.print(&format!("GET {me} (JWT)"));

    // Preview files served from a stored zip, against the liveness figure of the same run.
    let (spec, preview) = render_sample(&mut client, &token)?;
    for file in ["index.html", "app.js", "favicon.svg"] {
        let path = format!("{preview}{file}");
        for _ in 0..50 {
            expect_ok(client.request("GET", &path, &[], None)?, &path)?;
        }
        let stats = time_requests(requests, || {
            expect_ok(client.request("GET", &path, &[], None)?, &path)
        })?;
        stats.print(&format!("GET preview {file}"));
        println!(
            "bench: preview {file} throughput = {:.2} × liveness (aim ≥ 0.5)",
            stats.per_second() / liveness.per_second().max(1e-9)
        );
    }
    projects(&mut client, &token, &spec, requests, &liveness)?;
    println!("bench: RSS after load {}", rss(pid));

    cleanup_user(env, &username);
    Ok(())
}

/// A published project around the rendered spec, then the first gallery page (cached for a few
/// seconds, so nearly every request is a cache hit) and the project's page read anonymously.
fn projects(
    client: &mut Client,
    token: &str,
    spec: &str,
    requests: usize,
    liveness: &Stats,
) -> Result<()> {
    let body = serde_json::json!({"name": "bench gallery card", "appSpecId": spec});
    let project = call_data(client, "POST", "/api/v1/projects", Some(token), Some(&body))?;
    let id = project["id"].as_str().unwrap_or_default().to_owned();
    let publish = format!("/api/v1/projects/{id}/publish");
    let empty = serde_json::json!({});
    if let Err(e) = call_data(client, "POST", &publish, Some(token), Some(&empty)) {
        println!("bench: gallery page skipped, the project could not be published: {e:#}");
    } else {
        let gallery = "/api/v1/projects/public";
        for _ in 0..50 {
            expect_ok(client.request("GET", gallery, &[], None)?, gallery)?;
        }
        let stats = time_requests(requests, || {
            expect_ok(client.request("GET", gallery, &[], None)?, gallery)
        })?;
        stats.print("GET gallery page 1 (cached)");
        println!(
            "bench: gallery page 1 throughput = {:.2} × liveness (aim ≥ 0.7)",
            stats.per_second() / liveness.per_second().max(1e-9)
        );
    }
    let detail = format!("/api/v1/projects/{id}");
    let stats = time_requests(requests, || {
        expect_ok(client.request("GET", &detail, &[], None)?, &detail)
    })?;
    stats.print("GET project detail (anonymous, public)");
    Ok(())
}

/// Creates a spec from the `every-component` sample, validates it, renders it with `static-web`
/// and returns its id and its preview path (`/api/preview/{key}/`).
fn render_sample(client: &mut Client, token: &str) -> Result<(String, String)> {
    let spec: serde_json::Value =
        serde_json::from_str(ingenio_code_gen::samples::get("every-component").unwrap_or("{}"))?;
    let created = call_data(
        client,
        "POST",
        "/api/v1/appspecs",
        Some(token),
        Some(&serde_json::json!({ "specContent": spec })),
    )?;
    let id = created["id"].as_str().unwrap_or_default().to_owned();
    // validated before rendering, so the render makes it `generated` and its project publishable
    call_data(
        client,
        "POST",
        &format!("/api/v1/appspecs/{id}/validate"),
        Some(token),
        None,
    )?;
    let started = Instant::now();
    let job = call_data(
        client,
        "POST",
        &format!("/api/v1/appspecs/{id}/render"),
        Some(token),
        Some(&serde_json::json!({ "renderer": "static-web" })),
    )?;
    let job_id = job["jobId"].as_str().unwrap_or_default().to_owned();
    loop {
        let j = call_data(
            client,
            "GET",
            &format!("/api/v1/generate/jobs/{job_id}"),
            Some(token),
            None,
        )?;
        match j["status"].as_str() {
            Some("completed") => {
                println!(
                    "bench: render job (static-web, every-component sample) completed in {}",
                    util::fmt_duration(started.elapsed())
                );
                let url = j["code"]["previewUrl"].as_str().unwrap_or_default();
                let path = url.find("/api/").map(|i| &url[i..]).unwrap_or(url);
                return Ok((id, path.to_owned()));
            }
            Some("failed" | "cancelled") => bail!("render job ended {j}"),
            _ if started.elapsed() > Duration::from_secs(30) => bail!("render job too slow: {j}"),
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn expect_ok(resp: crate::http::Response, path: &str) -> Result<()> {
    if resp.status != 200 {
        bail!(
            "{path} answered {}: {}",
            resp.status,
            String::from_utf8_lossy(&resp.body)
        );
    }
    Ok(())
}

/// Removes the bench user from the dev database (best effort, needs psql).
fn cleanup_user(env: &Env, username: &str) {
    let db = env.db("dev");
    let mut psql = Command::new("psql");
    db.libpq(&mut psql)
        .args(["-X", "-q", "-c"])
        .arg(format!("DELETE FROM users WHERE username = '{username}'"));
    if !util::quiet_ok(&mut psql) {
        println!(
            "bench: note: could not delete user {username} from {}",
            db.name
        );
    }
}

/// Latency samples of one run.
struct Stats {
    samples: Vec<Duration>,
    total: Duration,
}

impl Stats {
    fn percentile(&self, p: f64) -> Duration {
        if self.samples.is_empty() {
            return Duration::ZERO;
        }
        let rank = (p / 100.0 * self.samples.len() as f64).ceil() as usize;
        self.samples[rank.clamp(1, self.samples.len()) - 1]
    }

    fn per_second(&self) -> f64 {
        let secs = self.total.as_secs_f64();
        if secs > 0.0 {
            self.samples.len() as f64 / secs
        } else {
            0.0
        }
    }

    fn print(&self, what: &str) {
        println!(
            "bench: {what}: {} requests, p50 {}, p99 {}, max {}, {:.0} req/s (sequential, keep-alive)",
            self.samples.len(),
            util::fmt_duration(self.percentile(50.0)),
            util::fmt_duration(self.percentile(99.0)),
            util::fmt_duration(self.samples.last().copied().unwrap_or_default()),
            self.per_second()
        );
    }
}

fn time_requests(n: usize, mut one: impl FnMut() -> Result<()>) -> Result<Stats> {
    let mut samples = Vec::with_capacity(n);
    let start = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        one()?;
        samples.push(t.elapsed());
    }
    let total = start.elapsed();
    samples.sort();
    Ok(Stats { samples, total })
}

/// VmRSS of a process from /proc (Linux), e.g. `12345 kB`.
fn rss(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:").map(|v| v.trim().to_owned()))
        })
        .map(|kb| {
            let mb = kb
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .map(|k| format!(" ({:.1} MiB)", k / 1024.0))
                .unwrap_or_default();
            format!("{kb}{mb}")
        })
        .unwrap_or_else(|| "n/a (no /proc)".to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let stats = Stats {
            samples,
            total: Duration::from_secs(2),
        };
        assert_eq!(stats.percentile(50.0), Duration::from_millis(50));
        assert_eq!(stats.percentile(99.0), Duration::from_millis(99));
        assert_eq!(stats.percentile(100.0), Duration::from_millis(100));
        assert!((stats.per_second() - 50.0).abs() < 1e-9);
    }

    #[test]
    fn rss_of_this_process_is_reported() {
        let text = rss(std::process::id());
        if std::path::Path::new("/proc").exists() {
            assert!(text.ends_with("MiB)"), "{text}");
        }
    }
}
