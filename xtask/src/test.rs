//! `cargo xtask test`: make sure PostgreSQL and Redis answer (starting them like `.ci/run` does),
//! run the architecture check, warn about formatting, then `cargo test --workspace --no-fail-fast`.

use crate::env::Env;
use crate::services::{self, PgStart};
use crate::{check_arch, util};
use anyhow::Result;
use std::process::{ExitCode, Stdio};
use std::time::Instant;

/// Only the connection settings are taken from `.env` for tests (never the profile or DB_NAME).
const CONNECTION_KEYS: &[&str] = &[
    "DB_HOST",
    "DB_PORT",
    "DB_USER",
    "DB_PASSWORD",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_PASSWORD",
];

pub fn run(extra: &[String], with_arch: bool) -> Result<ExitCode> {
    let start = Instant::now();
    let mut env = Env::load_only(CONNECTION_KEYS)?;
    services::ensure_postgres(&mut env, PgStart::SystemThenLocal)?;
    services::ensure_redis(&env)?;

    if with_arch && !check_arch::run()? {
        eprintln!("xtask: check-arch failed; fix the problems above before testing");
        return Ok(ExitCode::FAILURE);
    }
    warn_on_formatting();

    let mut cmd = util::cargo();
    cmd.args(["test", "--workspace", "--no-fail-fast"])
        .args(extra);
    env.apply(&mut cmd);
    println!("xtask: $ {}", util::describe(&cmd));
    let status = util::status(&mut cmd)?;
    let elapsed = util::fmt_duration(start.elapsed());
    if status.success() {
        println!("xtask: all tests passed in {elapsed}");
    } else {
        eprintln!("xtask: tests failed ({status}) after {elapsed}");
    }
    Ok(util::exit_code(status))
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
