//! `cargo xtask test`: make sure PostgreSQL and Redis answer (starting them like `.ci/run` does),
//! run the architecture check, warn about formatting, then `cargo test --workspace --no-fail-fast`,
//! and when that passes, schemathesis over the OpenAPI document (`fuzz-api`), the browser
//! end-to-end step (`browser-e2e`) and `verify-renderers --samples 2` (each can be skipped for
//! local use: `--no-fuzz` / INGENIO_SKIP_FUZZ=1, `--no-browser` / INGENIO_SKIP_BROWSER=1,
//! `--no-npm` / INGENIO_SKIP_NPM=1).

use crate::env::Env;
use crate::services::{self, PgStart};
use crate::{check_arch, fuzz_api, preview_e2e, util, verify_renderers};
use anyhow::Result;
use std::process::{ExitCode, Stdio};
use std::time::Instant;

/// Only the connection settings are taken from `.env` for tests (never the profile or DB_NAME).
pub const CONNECTION_KEYS: &[&str] = &[
    "DB_HOST",
    "DB_PORT",
    "DB_USER",
    "DB_PASSWORD",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_PASSWORD",
];

/// Samples per framework that `verify-renderers` builds in `cargo xtask test`.
pub const NPM_SAMPLES: usize = 2;

/// What `cargo xtask test` runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Extra arguments for `cargo test` (after `--`).
    pub extra: Vec<String>,
    /// Run `check-arch` first.
    pub with_arch: bool,
    /// Run schemathesis over the OpenAPI document after the tests.
    pub fuzz: bool,
    /// Run the browser end-to-end step after the tests.
    pub browser: bool,
    /// Run `verify-renderers --samples 2` (npm builds) after the tests.
    pub npm: bool,
}

/// The steps after `cargo test` that the command line turns off.
#[derive(Debug, Clone, Copy, Default)]
pub struct Skips {
    pub browser: bool,
    pub fuzz: bool,
    pub npm: bool,
}

impl Options {
    /// Everything (what CI runs), less what the flags or INGENIO_SKIP_FUZZ /
    /// INGENIO_SKIP_BROWSER / INGENIO_SKIP_NPM (set to anything but empty or `0`) turn off.
    pub fn new(extra: Vec<String>, with_arch: bool, skip: Skips) -> Self {
        Self {
            extra,
            with_arch,
            fuzz: !skip.fuzz && !env_flag("INGENIO_SKIP_FUZZ"),
            browser: !skip.browser && !env_flag("INGENIO_SKIP_BROWSER"),
            npm: !skip.npm && !env_flag("INGENIO_SKIP_NPM"),
        }
    }
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.trim().is_empty() && v.trim() != "0")
}

pub fn run(opts: &Options) -> Result<ExitCode> {
    let start = Instant::now();
    let mut env = Env::load_only(CONNECTION_KEYS)?;
    services::ensure_postgres(&mut env, PgStart::SystemThenLocal)?;
    services::ensure_redis(&env)?;

    if opts.with_arch && !check_arch::run()? {
        eprintln!("xtask: check-arch failed; fix the problems above before testing");
        return Ok(ExitCode::FAILURE);
    }
    warn_on_formatting();

    let mut cmd = util::cargo();
    cmd.args(["test", "--workspace", "--no-fail-fast"])
        .args(&opts.extra);
    env.apply(&mut cmd);
    println!("xtask: $ {}", util::describe(&cmd));
    let status = util::status(&mut cmd)?;
    let mut steps = vec![("cargo test", status.success(), start.elapsed())];
    if !status.success() {
        eprintln!(
            "xtask: tests failed ({status}) after {}",
            util::fmt_duration(start.elapsed())
        );
        return Ok(util::exit_code(status));
    }

    if opts.fuzz {
        println!("xtask: API fuzzing (cargo xtask fuzz-api)");
        let t = Instant::now();
        let ok = fuzz_api::run(&env, &fuzz_api::Options::default());
        steps.push(("fuzz-api", ok, t.elapsed()));
    } else {
        println!("xtask: API fuzzing skipped (--no-fuzz or INGENIO_SKIP_FUZZ)");
    }
    if opts.browser {
        println!("xtask: browser end-to-end (cargo xtask browser-e2e)");
        let t = Instant::now();
        let ok = preview_e2e::run(&env, &preview_e2e::Options::default());
        steps.push(("browser-e2e", ok, t.elapsed()));
    } else {
        println!("xtask: browser end-to-end skipped (--no-browser or INGENIO_SKIP_BROWSER)");
    }
    if opts.npm {
        println!("xtask: $ cargo xtask verify-renderers --samples {NPM_SAMPLES}");
        let t = Instant::now();
        let ok = match verify_renderers::run(&verify_renderers::Options {
            renderer: None,
            samples: Some(NPM_SAMPLES),
        }) {
            Ok(code) => code == ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("xtask: verify-renderers: {err:#}");
                false
            }
        };
        steps.push(("verify-renderers", ok, t.elapsed()));
    } else {
        println!("xtask: verify-renderers skipped (--no-npm or INGENIO_SKIP_NPM)");
    }

    let elapsed = util::fmt_duration(start.elapsed());
    for (name, ok, took) in &steps {
        println!(
            "xtask:   {name:<17} {:<6} {}",
            if *ok { "ok" } else { "FAILED" },
            util::fmt_duration(*took)
        );
    }
    let failed: Vec<&str> = steps
        .iter()
        .filter(|(_, ok, _)| !ok)
        .map(|(name, _, _)| *name)
        .collect();
    if failed.is_empty() {
        println!("xtask: all tests passed in {elapsed}");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("xtask: failed after {elapsed}: {}", failed.join(", "));
        Ok(ExitCode::FAILURE)
    }
}

fn warn_on_formatting() {
    let ok = util::cargo()
        .args(["fmt", "--all", "--", "--check"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success());
    match ok {
        Ok(true) => println!("xtask: formatting ok"),
        Ok(false) => println!(
            "xtask: warning: some files are not rustfmt-formatted (see `cargo fmt --all -- --check`)"
        ),
        Err(_) => println!("xtask: warning: cargo fmt is not available; formatting not checked"),
    }
}
