//! `cargo xtask bench`: builds the release server, starts it on a free port against the dev
//! database (rate limiting off, quiet logs) and measures, in one run: ready-after-exec time, RSS
//! idle and under load, closed-loop throughput and percentiles of liveness and of authenticated
//! `GET /api/v1/auth/me` at a fixed concurrency next to `pgbench -S` at the same concurrency (the
//! ratio auth/me ÷ pgbench), an open-loop run of auth/me at a constant rate (p50/p99/p99.9 from the
//! scheduled times), preview files against liveness, then render + zip and generation jobs (release
//! builds of ignored tests). Prints a table and writes `target/bench/latest.json`.

use crate::env::{Db, Env};
use crate::http::Client;
use crate::load::{self, Stats, Target};
use crate::server_process::{call_data, free_port, register, ServerProcess, LIVENESS};
use crate::services::{self, PgStart};
use crate::util;
use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
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

/// The scratch database `pgbench -i` fills (scale 1: 100,000 accounts).
const PGBENCH_DB: &str = "ingenio_bench_pgbench";

/// What to run, from the command line.
#[derive(Debug, Clone)]
pub struct Options {
    /// Connections of the closed-loop runs and of pgbench.
    pub concurrency: usize,
    /// Length of each closed-loop and pgbench run.
    pub seconds: u64,
    /// Requests per second of the open-loop run.
    pub rate: u32,
    /// Length of the open-loop run.
    pub open_seconds: u64,
    /// Skip the release-built timing tests (render + zip, generation jobs).
    pub http_only: bool,
    /// Measure this server binary instead of building the release server (e.g. another commit's
    /// build, to compare side by side).
    pub server: Option<PathBuf>,
    /// Extra `--set key=value` settings for the server (e.g. to compare a setting on and off).
    pub sets: Vec<String>,
}

/// One row of the printed table.
struct Row {
    what: String,
    figure: String,
}

struct Report {
    rows: Vec<Row>,
    json: serde_json::Map<String, Value>,
}

impl Report {
    fn row(&mut self, what: impl Into<String>, figure: impl Into<String>) {
        let (what, figure) = (what.into(), figure.into());
        println!("bench: {what}: {figure}");
        self.rows.push(Row { what, figure });
    }

    fn set(&mut self, key: &str, value: Value) {
        self.json.insert(key.to_owned(), value);
    }

    fn print_table(&self) {
        let width = self
            .rows
            .iter()
            .map(|r| r.what.chars().count())
            .max()
            .unwrap_or(0);
        println!("\n| {:width$} | figure |", "what");
        println!("| {} | --- |", "-".repeat(width));
        for r in &self.rows {
            println!("| {:width$} | {} |", r.what, r.figure);
        }
    }
}

pub fn run(opts: &Options) -> Result<ExitCode> {
    let mut env = Env::load()?;
    services::ensure_postgres(&mut env, PgStart::LocalCluster)?;
    let mut report = Report {
        rows: Vec::new(),
        json: serde_json::Map::new(),
    };

    let binary = match &opts.server {
        Some(path) => path.clone(),
        None => {
            println!("xtask: building the release server");
            let build_start = Instant::now();
            util::run_checked(util::cargo().args(["build", "--release", "-p", "ingenio-server"]))?;
            println!(
                "bench: release build took {}",
                util::fmt_duration(build_start.elapsed())
            );
            util::target_dir().join("release").join("ingenio-server")
        }
    };
    println!("bench: server binary {}", binary.display());
    let pgbench_db = prepare_pgbench(&env)?;

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
        .args(opts.sets.iter().flat_map(|kv| ["--set", kv.as_str()]))
        .arg("serve");
    env.apply(&mut cmd);
    cmd.env("PORT", port.to_string());
    let mut server = ServerProcess::spawn(&mut cmd, port, &log_path)?;

    let result = measure(&mut server, opts, &env, &pgbench_db, &mut report);
    let stop = server.stop();
    result?;
    let took = stop?;
    println!(
        "bench: server stopped {} after SIGTERM",
        util::fmt_duration(took)
    );

    if !opts.http_only {
        timing_tests(&mut report)?;
    }
    report.set("server", json!(binary.display().to_string()));
    report.set(
        "options",
        json!({
            "concurrency": opts.concurrency,
            "seconds": opts.seconds,
            "rate": opts.rate,
            "openSeconds": opts.open_seconds,
            "sets": opts.sets,
        }),
    );
    report.set("machine", machine());
    report.print_table();
    let dir = util::target_dir().join("bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let path = dir.join(if opts.server.is_some() {
        "latest-server.json"
    } else {
        "latest.json"
    });
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&Value::Object(report.json))?,
    )
    .with_context(|| format!("write {}", path.display()))?;
    println!("bench: wrote {}", path.display());
    Ok(ExitCode::SUCCESS)
}

fn measure(
    server: &mut ServerProcess,
    opts: &Options,
    env: &Env,
    pgbench_db: &Db,
    report: &mut Report,
) -> Result<()> {
    let addr = server.addr;
    let pid = server.pid();
    let ready = server.wait_ready(Duration::from_secs(120))?;
    println!("bench: server pid {pid} on port {}", addr.port());
    report.row("ready after exec", util::fmt_duration(ready));
    report.set("readyMs", json!(ready.as_millis()));
    let idle = memory(pid);
    report.row("RSS idle", mib(idle.rss_kb));
    report.set("rssIdleKb", json!(idle.rss_kb));

    let c = opts.concurrency;
    let secs = Duration::from_secs(opts.seconds);
    let mut client = Client::new(addr);
    let liveness_target = Target::get(LIVENESS);
    load::closed_loop(addr, &liveness_target, c, Duration::from_millis(500))?; // warm-up
    let liveness = load::closed_loop(addr, &liveness_target, c, secs)?;
    report.row(
        format!("GET {LIVENESS} ({c} connections)"),
        closed_figure(&liveness),
    );
    report.set("liveness", liveness.json());

    let (username, token) = register(&mut client, "bench")?;
    let result = authenticated(addr, opts, pgbench_db, &token, &liveness, pid, report);
    cleanup_user(env, &username);
    result?;
    let loaded = memory(pid);
    report.row(
        "RSS after the load / peak (VmHWM)",
        format!("{} / {}", mib(loaded.rss_kb), mib(loaded.hwm_kb)),
    );
    report.set("rssAfterLoadKb", json!(loaded.rss_kb));
    report.set("rssPeakKb", json!(loaded.hwm_kb));
    Ok(())
}

/// The authenticated runs (auth/me closed and open loop, pgbench next to it, previews).
fn authenticated(
    addr: std::net::SocketAddr,
    opts: &Options,
    pgbench_db: &Db,
    token: &str,
    liveness: &Stats,
    pid: u32,
    report: &mut Report,
) -> Result<()> {
    let c = opts.concurrency;
    let secs = Duration::from_secs(opts.seconds);
    let me =
        Target::get("/api/v1/auth/me").with_header("Authorization", &format!("Bearer {token}"));
    load::closed_loop(addr, &me, c, Duration::from_millis(500))?; // warm-up: fills the pool
    let auth = load::closed_loop(addr, &me, c, secs)?;
    report.row(
        format!("GET /api/v1/auth/me, JWT ({c} connections)"),
        closed_figure(&auth),
    );
    report.set("authMe", auth.json());

    let tps = pgbench(pgbench_db, c, opts.seconds)?;
    report.row(
        format!("pgbench -S ({c} connections)"),
        format!("{tps:.0} TPS"),
    );
    report.set("pgbenchSelectTps", json!(tps.round()));
    let ratio = auth.per_second() / tps.max(1e-9);
    report.row("auth/me ÷ pgbench -S", format!("{ratio:.2}× (aim ≥ 0.6×)"));
    report.set(
        "authMeOverPgbench",
        json!((ratio * 1000.0).round() / 1000.0),
    );

    let open = load::open_loop(
        addr,
        &me,
        opts.rate,
        64,
        Duration::from_secs(opts.open_seconds),
    )?;
    let ms = |d: Duration| util::fmt_duration(d);
    report.row(
        format!(
            "GET /api/v1/auth/me at a constant {} req/s (open loop)",
            opts.rate
        ),
        format!(
            "p50 {}, p99 {}, p99.9 {}, max {} (aim p99 ≤ 25 ms)",
            ms(open.percentile(50.0)),
            ms(open.percentile(99.0)),
            ms(open.percentile(99.9)),
            ms(open.max())
        ),
    );
    report.set("authMeOpenLoop", open.json());
    let under_load = memory(pid);
    report.row("RSS right after the open-loop run", mib(under_load.rss_kb));
    report.set("rssUnderLoadKb", json!(under_load.rss_kb));

    // Preview files served from a stored zip, against liveness of the same run.
    let mut client = Client::new(addr);
    let (spec, preview) = render_sample(&mut client, token, report)?;
    let mut previews = serde_json::Map::new();
    for file in ["index.html", "app.js", "favicon.svg"] {
        let target = Target::get(&format!("{preview}{file}"));
        load::closed_loop(addr, &target, c, Duration::from_millis(300))?;
        let stats = load::closed_loop(addr, &target, c, secs / 2)?;
        let ratio = stats.per_second() / liveness.per_second().max(1e-9);
        report.row(
            format!("preview {file}"),
            format!(
                "{}, {ratio:.2}× liveness (aim ≥ 0.5×)",
                closed_figure(&stats)
            ),
        );
        let mut j = stats.json();
        j["overLiveness"] = json!((ratio * 1000.0).round() / 1000.0);
        previews.insert(file.to_owned(), j);
    }
    report.set("preview", Value::Object(previews));
    gallery(addr, opts, &mut client, token, &spec, liveness, tps, report)
}

/// A published project around the rendered spec, then the first gallery page (cached for a few
/// seconds, so nearly every request is a cache hit) against liveness, and the project's page read
/// anonymously (one indexed read) against `pgbench -S`, all at the same concurrency.
#[allow(clippy::too_many_arguments)]
fn gallery(
    addr: std::net::SocketAddr,
    opts: &Options,
    client: &mut Client,
    token: &str,
    spec: &str,
    liveness: &Stats,
    pgbench_tps: f64,
    report: &mut Report,
) -> Result<()> {
    let c = opts.concurrency;
    let secs = Duration::from_secs(opts.seconds);
    let body = json!({"name": "bench gallery card", "appSpecId": spec});
    let project = call_data(client, "POST", "/api/v1/projects", Some(token), Some(&body))?;
    let id = project["id"].as_str().unwrap_or_default().to_owned();
    let publish = format!("/api/v1/projects/{id}/publish");
    match call_data(client, "POST", &publish, Some(token), Some(&json!({}))) {
        Err(e) => {
            println!("bench: gallery page skipped, the project could not be published: {e:#}")
        }
        Ok(_) => {
            let target = Target::get("/api/v1/projects/public");
            load::closed_loop(addr, &target, c, Duration::from_millis(300))?;
            let stats = load::closed_loop(addr, &target, c, secs / 2)?;
            let ratio = stats.per_second() / liveness.per_second().max(1e-9);
            report.row(
                format!("GET /api/v1/projects/public, page 1 cached ({c} connections)"),
                format!(
                    "{}, {ratio:.2}× liveness (aim ≥ 0.7×)",
                    closed_figure(&stats)
                ),
            );
            let mut j = stats.json();
            j["overLiveness"] = json!((ratio * 1000.0).round() / 1000.0);
            report.set("galleryPage1", j);
        }
    }
    let target = Target::get(&format!("/api/v1/projects/{id}"));
    load::closed_loop(addr, &target, c, Duration::from_millis(300))?;
    let stats = load::closed_loop(addr, &target, c, secs / 2)?;
    let ratio = stats.per_second() / pgbench_tps.max(1e-9);
    report.row(
        format!("GET /api/v1/projects/{{id}}, anonymous ({c} connections)"),
        format!(
            "{}, {ratio:.2}× pgbench -S (aim ≥ 0.6×)",
            closed_figure(&stats)
        ),
    );
    let mut j = stats.json();
    j["overPgbench"] = json!((ratio * 1000.0).round() / 1000.0);
    report.set("projectDetail", j);
    Ok(())
}

fn closed_figure(s: &Stats) -> String {
    format!(
        "{:.0} req/s, p50 {}, p99 {}",
        s.per_second(),
        util::fmt_duration(s.percentile(50.0)),
        util::fmt_duration(s.percentile(99.0))
    )
}

/// Creates (once) the scratch database pgbench reads and fills it with `pgbench -i`.
fn prepare_pgbench(env: &Env) -> Result<Db> {
    if util::which("pgbench").is_none() {
        bail!("pgbench not found (Debian: apt-get install postgresql-client)");
    }
    let mut db = env.db("dev");
    db.url = None;
    let admin = Db {
        name: "postgres".to_owned(),
        ..db.clone()
    };
    db.name = PGBENCH_DB.to_owned();
    let mut exists = Command::new("psql");
    admin.libpq(&mut exists).args([
        "-X",
        "-At",
        "-c",
        &format!("SELECT 1 FROM pg_database WHERE datname = '{PGBENCH_DB}'"),
    ]);
    if util::capture(&mut exists).as_deref() != Some("1") {
        let mut create = Command::new("psql");
        admin
            .libpq(&mut create)
            .args(["-X", "-q", "-c", &format!("CREATE DATABASE {PGBENCH_DB}")]);
        util::run_checked(&mut create)?;
    }
    let mut filled = Command::new("psql");
    db.libpq(&mut filled)
        .args(["-X", "-At", "-c", "SELECT count(*) FROM pgbench_accounts"]);
    if util::capture(&mut filled).as_deref() != Some("100000") {
        println!("bench: pgbench -i (scale 1) into {PGBENCH_DB}");
        let mut init = Command::new("pgbench");
        init.args(["-i", "-q", "-s", "1"]);
        pgbench_db_args(&db, &mut init);
        init.stdout(Stdio::null());
        util::run_checked(&mut init)?;
    }
    Ok(db)
}

/// `pgbench -S` (one indexed row per transaction) with `clients` connections; returns the TPS.
fn pgbench(db: &Db, clients: usize, seconds: u64) -> Result<f64> {
    let mut cmd = Command::new("pgbench");
    cmd.args(["-S", "-n", "-j", "2", "-c"])
        .arg(clients.to_string())
        .arg("-T")
        .arg(seconds.to_string());
    pgbench_db_args(db, &mut cmd);
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .context("failed to run pgbench")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "pgbench failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parse_tps(&text).with_context(|| format!("no `tps = ` line in pgbench's output: {text}"))
}

/// pgbench takes the database name as its last argument, not as `--dbname`.
fn pgbench_db_args(db: &Db, cmd: &mut Command) {
    cmd.args(["-h", &db.host, "-p", &db.port.to_string(), "-U", &db.user]);
    if let Some(pw) = &db.password {
        if std::env::var_os("PGPASSWORD").is_none() {
            cmd.env("PGPASSWORD", pw);
        }
    }
    cmd.arg(&db.name);
}

/// The TPS figure of pgbench's report (`tps = 20712.3 (without initial connection time)`).
fn parse_tps(text: &str) -> Option<f64> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("tps = "))
        .find_map(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// Render + zip of a 10-page spec and generation jobs end to end against the testkit's instant
/// DeepSeek stand-in (one by one, and 100 submitted at once): ignored tests that only print,
/// built with --release like the server. Their `BENCH-JSON {…}` lines go into the report.
fn timing_tests(report: &mut Report) -> Result<()> {
    println!(
        "bench: render + zip (cargo test --release -p ingenio-code-gen ... render_and_zip_budget)"
    );
    let out = run_printing(util::cargo().args([
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
    if let Some(line) = out.lines().find(|l| l.starts_with("render+zip")) {
        report.row(
            "render + zip, 10-page spec (in process)",
            line.trim_start_matches("render+zip "),
        );
        report.set("renderZip", json!(line));
    }
    println!("bench: semantic diff (cargo test --release -p ingenio-app-specs ... diff_bench)");
    let out = run_printing(util::cargo().args([
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
    let mut diffs = Vec::new();
    for line in out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("bench: diff of "))
    {
        if line.starts_with("5000 ") || line.starts_with("10000 ") {
            report.row(
                format!(
                    "semantic diff of {}",
                    line.split(':').next().unwrap_or(line)
                ),
                line.split_once(": ").map(|(_, f)| f).unwrap_or(line),
            );
        }
        diffs.push(json!(line));
    }
    report.set("diff", Value::Array(diffs));
    println!("bench: generation jobs (cargo test --release ... -- --ignored bench_)");
    let out = run_printing(util::cargo().args([
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
    for (key, value) in bench_json_lines(&out) {
        let figure = value["figure"].as_str().unwrap_or_default().to_owned();
        let what = value["what"].as_str().unwrap_or(&key).to_owned();
        report.row(what, figure);
        report.set(&key, value);
    }
    Ok(())
}

/// Runs a command, echoing its stdout, and returns that stdout; fails unless it exits with 0.
fn run_printing(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("failed to start {}", util::describe(cmd)))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    print!("{text}");
    if !out.status.success() {
        bail!("{} failed ({})", util::describe(cmd), out.status);
    }
    Ok(text)
}

/// `BENCH-JSON <key> {…}` lines printed by the timing tests.
fn bench_json_lines(text: &str) -> Vec<(String, Value)> {
    text.lines()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("BENCH-JSON ")?;
            let (key, json) = rest.split_once(' ')?;
            Some((key.to_owned(), serde_json::from_str(json).ok()?))
        })
        .collect()
}

/// Creates a spec from the `every-component` sample, validates it (so that it can be published
/// once rendered), renders it with `static-web` and returns its id and its preview path
/// (`/api/preview/{key}/`).
fn render_sample(
    client: &mut Client,
    token: &str,
    report: &mut Report,
) -> Result<(String, String)> {
    let spec: Value =
        serde_json::from_str(ingenio_code_gen::samples::get("every-component").unwrap_or("{}"))?;
    let created = call_data(
        client,
        "POST",
        "/api/v1/appspecs",
        Some(token),
        Some(&json!({ "specContent": spec })),
    )?;
    let id = created["id"].as_str().unwrap_or_default().to_owned();
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
        Some(&json!({ "renderer": "static-web" })),
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
                let took = started.elapsed();
                report.row(
                    "render job, POST to completed (every-component, static-web)",
                    util::fmt_duration(took),
                );
                report.set("renderJobMs", json!(took.as_millis()));
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

/// Resident memory of a process (kB): now (VmRSS) and its peak so far (VmHWM).
struct Memory {
    rss_kb: u64,
    hwm_kb: u64,
}

fn memory(pid: u32) -> Memory {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    Memory {
        rss_kb: field("VmRSS:"),
        hwm_kb: field("VmHWM:"),
    }
}

fn mib(kb: u64) -> String {
    if kb == 0 {
        return "n/a (no /proc)".to_owned();
    }
    format!("{:.1} MiB", kb as f64 / 1024.0)
}

/// CPU model, core count and kernel, for the report.
fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    json!({ "cpu": cpu, "cores": cores, "kernel": kernel, "loadAverage": load })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn pgbench_tps_is_parsed() {
        let out = "number of transactions actually processed: 207123\n\
                   latency average = 1.545 ms\n\
                   initial connection time = 12.001 ms\n\
                   tps = 20712.345678 (without initial connection time)\n";
        assert_eq!(parse_tps(out), Some(20712.345678));
        assert_eq!(parse_tps("no figures"), None);
    }

    #[test]
    fn bench_json_lines_are_collected() {
        let out = "running 2 tests\nBENCH-JSON generation {\"medianMs\":12.5}\nBENCH other\n";
        let lines = bench_json_lines(out);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].0, "generation");
        assert_eq!(lines[0].1["medianMs"], 12.5);
    }

    #[test]
    fn memory_of_this_process_is_reported() {
        let m = memory(std::process::id());
        if std::path::Path::new("/proc").exists() {
            assert!(m.rss_kb > 0 && m.hwm_kb >= m.rss_kb);
            assert!(mib(m.rss_kb).ends_with("MiB"));
        }
    }
}
