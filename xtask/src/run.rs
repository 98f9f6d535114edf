//! `cargo xtask run`: from a fresh clone to a running server (PostgreSQL found or started, Redis
//! used when it answers, then `cargo run -p ingenio-server -- --profile <p> serve`).

use crate::env::Env;
use crate::services::{self, PgStart};
use crate::util;
use anyhow::Result;
use std::process::ExitCode;

pub fn run(profile_flag: Option<&str>, release: bool, extra: &[String]) -> Result<ExitCode> {
    let mut env = Env::load()?;
    let profile = env.profile(profile_flag);
    services::ensure_postgres(&mut env, PgStart::LocalCluster)?;
    configure_redis(&mut env);

    let mut cmd = util::cargo();
    cmd.arg("run");
    if release {
        cmd.arg("--release");
    }
    cmd.args(["-p", "ingenio-server", "--", "--profile", &profile, "serve"])
        .args(extra);
    env.apply(&mut cmd);
    let port = env.get("PORT").unwrap_or_else(|| "8080".to_owned());
    println!("xtask: starting the server (profile {profile}) on port {port}; Ctrl-C stops it");
    println!("xtask: $ {}", util::describe(&cmd));
    // The child shares our process group, so Ctrl-C reaches it directly; we only wait.
    let status = util::status(&mut cmd)?;
    Ok(util::exit_code(status))
}

/// Uses a local Redis when REDIS_HOST is not configured and one answers; reports the choice.
fn configure_redis(env: &mut Env) {
    if env.is_present("REDIS_HOST") {
        match env.get("REDIS_HOST") {
            Some(host) => {
                let (_, port) = services::redis_target(env);
                let password = env.get("REDIS_PASSWORD");
                if services::redis_pong(&host, port, password.as_deref()) {
                    println!("xtask: Redis answers at {host}:{port}; the shared cache and limiter are used");
                } else {
                    println!("xtask: warning: REDIS_HOST={host} but Redis does not answer PING at {host}:{port}");
                }
            }
            None => println!(
                "xtask: REDIS_HOST is empty: the embedded in-process cache and rate limiter are used"
            ),
        }
        return;
    }
    let port = env
        .get("REDIS_PORT")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(6379);
    let password = env.get("REDIS_PASSWORD");
    if services::redis_pong("127.0.0.1", port, password.as_deref()) {
        env.set("REDIS_HOST", "127.0.0.1");
        println!("xtask: Redis answers at 127.0.0.1:{port}; setting REDIS_HOST=127.0.0.1 so the shared limiter is used");
    } else {
        println!("xtask: no Redis at 127.0.0.1:{port}: the embedded in-process cache and rate limiter are used");
    }
}
