//! `cargo xtask bench`: builds the release server, starts it on a free port against the dev
//! database (rate limiting off), and reports build time, idle/loaded RSS, and latency percentiles
//! and throughput for liveness checks and for authenticated `GET /api/v1/auth/me`.

use crate::env::Env;
use crate::http::Client;
use crate::server_process::{free_port, register, ServerProcess, LIVENESS};
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
    let stats = time_requests(requests, || {
        expect_ok(client.request("GET", LIVENESS, &[], None)?, LIVENESS)
    })?;
    stats.print(&format!("GET {LIVENESS}"));

    let (username, token) = register(&mut client, "bench")?;
    println!("bench: registered user {username}");
    let bearer = format!("Bearer {token}");
    let me = "/api/v1/auth/me";
    let stats = time_requests(auth_requests, || {
        let resp = client.request("GET", me, &[("Authorization", &bearer)], None)?;
        expect_ok(resp, me)
    })?;
    stats.print(&format!("GET {me} (JWT)"));
    println!("bench: RSS after load {}", rss(pid));

    cleanup_user(env, &username);
    Ok(())
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
