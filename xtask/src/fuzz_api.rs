//! `cargo xtask fuzz-api`: schemathesis against the built server (started like `browser-e2e`, on
//! a fresh database) over the served document `/api/api-docs`: every operation, anonymously and
//! as a registered user, with the checks `not_a_server_error`, `status_code_conformance`,
//! `content_type_conformance` and `response_schema_conformance`. Bounded by examples per
//! operation and a time limit per run. Schemathesis is pinned and installed once with pip into a
//! shared virtual environment under `~/.cache/ingenio/` (see docs/testing.md).

use crate::env::Env;
use crate::http::Client;
use crate::server_process::{free_port, register, ServerProcess};
use crate::test_server::{self, run_id, server_binary, server_command, TempDatabase};
use crate::util;
use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

/// The schemathesis release the step runs (bump deliberately: checks change between releases).
pub const SCHEMATHESIS_VERSION: &str = "4.32.5";
/// Test cases per operation and phase.
pub const DEFAULT_MAX_EXAMPLES: u32 = 15;
/// Time limit of one schemathesis run (there are three).
pub const DEFAULT_RUN_SECS: u64 = 75;
/// Longest wait for the server to become ready (a fresh database is created and migrated).
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// What every run checks.
pub const CHECKS: &str =
    "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance";

/// Operations that end the caller's session (or every other one): the authenticated run skips
/// them so it cannot log its own token out half way; they get a run and a token of their own.
pub const SESSION_ENDING: &[&str] = &["/v1/auth/logout", "/v1/user/password"];

/// Command-line options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Run `cargo build -p ingenio-server` even when the binary exists.
    pub build: bool,
    /// `--max-examples` of every run.
    pub max_examples: u32,
    /// `--max-time` of every run.
    pub run_time: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            build: false,
            max_examples: DEFAULT_MAX_EXAMPLES,
            run_time: Duration::from_secs(DEFAULT_RUN_SECS),
        }
    }
}

/// One schemathesis run: who calls, and which operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub name: &'static str,
    /// The bearer token sent with every request, if any.
    pub token: Option<String>,
    /// `--include-path` values (all operations when empty).
    pub include: Vec<&'static str>,
    /// `--exclude-path` values.
    pub exclude: Vec<&'static str>,
    /// Whether the stateful phase (following the document's links) runs: not when the
    /// operations selected link nowhere.
    pub stateful: bool,
}

/// The three runs: anonymous over everything, a user over everything but the session-ending
/// operations, and those with a token of their own.
pub fn runs(user_token: &str, session_token: &str) -> Vec<Run> {
    vec![
        Run {
            name: "anonymous",
            token: None,
            include: vec![],
            exclude: vec![],
            stateful: true,
        },
        Run {
            name: "authenticated",
            token: Some(user_token.to_owned()),
            include: vec![],
            exclude: SESSION_ENDING.to_vec(),
            stateful: true,
        },
        Run {
            name: "session-ending",
            token: Some(session_token.to_owned()),
            include: SESSION_ENDING.to_vec(),
            exclude: vec![],
            stateful: false,
        },
    ]
}

/// The `st run` arguments of `run` (the token goes into `config`, never on the command line).
pub fn st_args(run: &Run, opts: &Options, base: &str, reports: &Path) -> Vec<String> {
    let mut args = vec![
        "run".to_owned(),
        format!("{base}/api-docs"),
        "--url".to_owned(),
        base.to_owned(),
        "--checks".to_owned(),
        CHECKS.to_owned(),
        "--max-examples".to_owned(),
        opts.max_examples.to_string(),
        "--max-time".to_owned(),
        opts.run_time.as_secs().max(1).to_string(),
        // one worker: schemathesis' threads can trip over hypothesis internals ("Runtime Error")
        "--workers".to_owned(),
        "1".to_owned(),
        "--request-timeout".to_owned(),
        "10".to_owned(),
        "--generation-database".to_owned(),
        "none".to_owned(),
        "--no-color".to_owned(),
        "--report".to_owned(),
        "junit".to_owned(),
        "--report-dir".to_owned(),
        reports.to_string_lossy().into_owned(),
    ];
    if run.token.is_some() {
        // the header below is the caller; generated credentials would replace it
        args.extend([
            "--generation-with-security-parameters".to_owned(),
            "false".to_owned(),
        ]);
    }
    if !run.stateful {
        args.extend([
            "--phases".to_owned(),
            "examples,coverage,fuzzing".to_owned(),
        ]);
    }
    for p in &run.include {
        args.extend(["--include-path".to_owned(), (*p).to_owned()]);
    }
    for p in &run.exclude {
        args.extend(["--exclude-path".to_owned(), (*p).to_owned()]);
    }
    args
}

/// `cargo xtask fuzz-api`: finds or starts PostgreSQL like `cargo xtask test`, then [`run`].
pub fn run_standalone(opts: &Options) -> Result<ExitCode> {
    test_server::standalone(|env| run(env, opts))
}

/// Runs the step against the PostgreSQL `env` points at; returns whether every run passed.
pub fn run(env: &Env, opts: &Options) -> bool {
    let start = Instant::now();
    let outcome = run_inner(env, opts);
    let elapsed = util::fmt_duration(start.elapsed());
    match outcome {
        Ok(failed) if failed.is_empty() => {
            println!("fuzz-api: passed in {elapsed}");
            true
        }
        Ok(failed) => {
            eprintln!("fuzz-api: FAILED after {elapsed}: {}", failed.join(", "));
            false
        }
        Err(err) => {
            eprintln!("fuzz-api: FAILED after {elapsed}: {err:#}");
            false
        }
    }
}

fn run_inner(env: &Env, opts: &Options) -> Result<Vec<String>> {
    let st = ensure_schemathesis()?;
    let binary = server_binary("fuzz-api", opts.build)?;
    let run_id = run_id();
    let db_name = format!("ingenio_fuzz_{run_id}");
    let artifacts = util::target_dir().join("fuzz-api").join(&run_id);
    std::fs::create_dir_all(&artifacts)
        .with_context(|| format!("create {}", artifacts.display()))?;
    let database = TempDatabase::new("fuzz-api", env, &db_name);

    let port = free_port()?;
    // Rate limits on (so their headers are exercised) but far above what the runs send, and an
    // AI quota nobody reaches: a throttled run would test nothing.
    let extra = [
        ("ingenio.rate-limit.enabled", "true".to_owned()),
        (
            "ingenio.rate-limit.requests-per-minute",
            "1000000".to_owned(),
        ),
        ("ingenio.rate-limit.ai-calls-per-hour", "1000000".to_owned()),
    ];
    let mut cmd = server_command(&binary, env, &database, port, &artifacts, &extra);
    println!(
        "fuzz-api: starting {} on 127.0.0.1:{port} (database {db_name}, artifacts {})",
        binary.display(),
        artifacts.display()
    );
    let mut server = ServerProcess::spawn(&mut cmd, port, &artifacts.join("server.log"))?;
    let ready = server.wait_ready(READY_TIMEOUT)?;
    println!("fuzz-api: server ready in {}", util::fmt_duration(ready));

    let mut client = Client::new(server.addr);
    let (_, user_token) = register(&mut client, "fz")?;
    let (_, session_token) = register(&mut client, "fzs")?;
    let base = format!("http://{}/api", server.addr);

    let mut failed = Vec::new();
    for run in runs(&user_token, &session_token) {
        let t = Instant::now();
        let dir = artifacts.join(run.name);
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        let config = dir.join("schemathesis.toml");
        std::fs::write(&config, config_toml(run.token.as_deref()))
            .with_context(|| format!("write {}", config.display()))?;
        let mut st_cmd = Command::new(&st);
        st_cmd
            .current_dir(&dir)
            .arg("--config-file")
            .arg(&config)
            .args(st_args(&run, opts, &base, &dir.join("reports")));
        println!("fuzz-api: {} run: $ {}", run.name, util::describe(&st_cmd));
        let status = util::status(&mut st_cmd)?;
        server.check_alive()?;
        println!(
            "fuzz-api: {} run {} in {}",
            run.name,
            if status.success() { "passed" } else { "FAILED" },
            util::fmt_duration(t.elapsed())
        );
        if !status.success() {
            failed.push(run.name.to_owned());
        }
    }

    if let Err(err) = server.stop() {
        failed.push(format!("server stop: {err:#}"));
    }
    drop(database);
    if failed.is_empty() {
        let _ = std::fs::remove_dir_all(&artifacts);
    } else {
        eprintln!(
            "fuzz-api: server log and junit reports kept in {}",
            artifacts.display()
        );
    }
    Ok(failed)
}

/// The run's configuration file: the caller's bearer token as a header, when there is one.
pub fn config_toml(token: Option<&str>) -> String {
    match token {
        Some(t) => format!("headers = {{ Authorization = \"Bearer {t}\" }}\n"),
        None => String::new(),
    }
}

/// `~/.cache/ingenio/schemathesis-<version>` (or under `XDG_CACHE_HOME`): shared by every checkout
/// of the machine, like npm's cache.
fn venv_dir() -> Result<PathBuf> {
    let cache = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").ok_or_else(|| anyhow!("HOME is not set"))?)
            .join(".cache"),
    };
    Ok(cache
        .join("ingenio")
        .join(format!("schemathesis-{SCHEMATHESIS_VERSION}")))
}

/// The `st` of the pinned schemathesis, installed with pip into its virtual environment when
/// missing or of another version.
pub fn ensure_schemathesis() -> Result<PathBuf> {
    let venv = venv_dir()?;
    let st = venv.join("bin").join("st");
    let installed = util::capture(Command::new(&st).arg("--version"))
        .is_some_and(|v| v.contains(SCHEMATHESIS_VERSION));
    if installed {
        return Ok(st);
    }
    let python = util::which("python3").ok_or_else(|| {
        let hint = util::install_hint("python3 python3-venv", "python")
            .map(|cmd| format!("; install it with `{cmd}`"))
            .unwrap_or_default();
        anyhow!("python3 is not on PATH (schemathesis needs it){hint}")
    })?;
    let start = Instant::now();
    println!(
        "fuzz-api: installing schemathesis {SCHEMATHESIS_VERSION} into {}",
        venv.display()
    );
    util::run_checked(
        Command::new(python)
            .args(["-m", "venv", "--clear"])
            .arg(&venv),
    )
    .context("python3 -m venv failed (on Debian: apt-get install python3-venv)")?;
    util::run_checked(Command::new(venv.join("bin").join("pip")).args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        &format!("schemathesis=={SCHEMATHESIS_VERSION}"),
    ]))?;
    if !st.is_file() {
        bail!("{} is missing after the install", st.display());
    }
    println!(
        "fuzz-api: schemathesis installed in {}",
        util::fmt_duration(start.elapsed())
    );
    Ok(st)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn only_the_session_run_calls_the_session_ending_operations() {
        let runs = runs("user", "session");
        let by_name = |n: &str| runs.iter().find(|r| r.name == n).unwrap();
        assert_eq!(by_name("anonymous").token, None);
        assert_eq!(by_name("authenticated").exclude, SESSION_ENDING);
        let session = by_name("session-ending");
        assert_eq!(session.include, SESSION_ENDING);
        assert_eq!(session.token.as_deref(), Some("session"));
        assert_ne!(session.token, by_name("authenticated").token);
        let args = st_args(session, &Options::default(), "http://h/api", Path::new("r"));
        assert!(args
            .join(" ")
            .contains("--phases examples,coverage,fuzzing"));
    }

    #[test]
    fn tokens_stay_off_the_command_line() {
        let run = &runs("secret-user-token", "secret-session")[1];
        let args = st_args(run, &Options::default(), "http://h/api", Path::new("r")).join(" ");
        assert!(!args.contains("secret"), "{args}");
        assert!(args.contains("--exclude-path /v1/auth/logout"), "{args}");
        assert!(args.contains(&format!("--checks {CHECKS}")), "{args}");
        assert!(config_toml(Some("secret-user-token")).contains("Bearer secret-user-token"));
        assert_eq!(config_toml(None), "");
    }
}
