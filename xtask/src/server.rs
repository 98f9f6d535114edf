//! Pass-through subcommands (`migrate`, `rollback`, `status`, `db-create`, `seed`, `user ...`): each is
//! `cargo run -q -p ingenio-server -- --profile <p> <args>` with `.env` loaded and PostgreSQL up.

use crate::env::Env;
use crate::services::{self, PgStart};
use crate::util;
use anyhow::{bail, Result};
use std::process::{Command, ExitCode};

/// `cargo run -q -p ingenio-server -- --profile <profile> <args>` with the given environment.
pub fn server_command(env: &Env, profile: &str, args: &[&str]) -> Command {
    let mut cmd = util::cargo();
    cmd.args([
        "run",
        "-q",
        "-p",
        "ingenio-server",
        "--",
        "--profile",
        profile,
    ])
    .args(args);
    env.apply(&mut cmd);
    cmd
}

fn run_with_db(profile_flag: Option<&str>, args: &[&str]) -> Result<ExitCode> {
    let mut env = Env::load()?;
    let profile = env.profile(profile_flag);
    services::ensure_postgres(&mut env, PgStart::LocalCluster)?;
    let mut cmd = server_command(&env, &profile, args);
    println!(
        "xtask: $ ingenio-server --profile {profile} {}",
        args.join(" ")
    );
    let status = util::status(&mut cmd)?;
    Ok(util::exit_code(status))
}

/// `db migrate`, `db status`, `db create`, `db seed`.
pub fn db(profile_flag: Option<&str>, args: &[&str]) -> Result<ExitCode> {
    run_with_db(profile_flag, args)
}

/// `db rollback <NNN>`.
pub fn rollback(profile_flag: Option<&str>, version: &str) -> Result<ExitCode> {
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
        bail!("the rollback target must be a migration number such as 005, not {version:?}");
    }
    run_with_db(profile_flag, &["db", "rollback", version])
}

/// `user <args...>` (stdin is inherited, so `--password-stdin` works).
pub fn user(profile_flag: Option<&str>, args: &[String]) -> Result<ExitCode> {
    let mut all = vec!["user"];
    all.extend(args.iter().map(String::as_str));
    run_with_db(profile_flag, &all)
}
