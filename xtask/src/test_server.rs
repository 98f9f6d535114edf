//! The throwaway server of xtask's end-to-end steps (`browser-e2e`, `fuzz-api`): the built
//! `ingenio-server` binary, a fresh database it creates and migrates at start (dropped when the
//! step ends), artifacts on local disk, everything set with `--set` so no `.env` can redirect it.

use crate::env::Env;
use crate::services::{self, PgStart};
use crate::{test, util};
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{SystemTime, UNIX_EPOCH};

/// A step run on its own (`cargo xtask browser-e2e`, `cargo xtask fuzz-api`): finds or starts
/// PostgreSQL like `cargo xtask test`, then runs `step` against it.
pub fn standalone(step: impl FnOnce(&Env) -> bool) -> Result<ExitCode> {
    let mut env = Env::load_only(test::CONNECTION_KEYS)?;
    services::ensure_postgres(&mut env, PgStart::SystemThenLocal)?;
    Ok(util::ok_or_failure(step(&env)))
}

/// `target/debug/ingenio-server`, built only when missing (or when asked): `cargo xtask test` has
/// just built it with the tests.
pub fn server_binary(step: &str, build: bool) -> Result<PathBuf> {
    let binary = util::target_dir().join("debug").join("ingenio-server");
    if build || !binary.is_file() {
        println!("{step}: $ cargo build -p ingenio-server");
        util::run_checked(util::cargo().args(["build", "-p", "ingenio-server"]))?;
    }
    if !binary.is_file() {
        bail!("{} does not exist after the build", binary.display());
    }
    let built = std::fs::metadata(&binary).and_then(|m| m.modified()).ok();
    let newest = newest_source(&util::root().join("crates"));
    if let (Some(built), Some((changed, path))) = (built, newest) {
        if changed > built {
            println!(
                "{step}: warning: {} is older than {} (run with --build to test the current sources)",
                binary.display(),
                path.display()
            );
        }
    }
    Ok(binary)
}

/// The most recently modified file under `dir` (skipping `target` and `node_modules`).
fn newest_source(dir: &Path) -> Option<(SystemTime, PathBuf)> {
    let mut newest: Option<(SystemTime, PathBuf)> = None;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if meta.is_dir() {
                if !matches!(entry.file_name().to_str(), Some("target" | "node_modules")) {
                    stack.push(path);
                }
            } else if let Ok(modified) = meta.modified() {
                if newest.as_ref().is_none_or(|(t, _)| modified > *t) {
                    newest = Some((modified, path));
                }
            }
        }
    }
    newest
}

/// A short unique id for this run's database and artifact directory (lower-case hex).
pub fn run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}{:08x}", std::process::id(), nanos % 0x1_0000_0000)
}

/// The server as the `test` profile runs it, on `port`, with the fresh database, artifacts on
/// local disk, no LLM (the offline generator answers), no Redis, no rate limit, fast job polling;
/// then the caller's `extra` settings (which win). Every setting that matters is given with
/// `--set`, the highest configuration source, so neither the caller's environment nor a
/// developer's `.env` can point the run at another database.
pub fn server_command(
    binary: &Path,
    env: &Env,
    db: &TempDatabase,
    port: u16,
    artifacts: &Path,
    extra: &[(&str, String)],
) -> Command {
    let conn = env.db("test");
    let settings = [
        ("server.port", port.to_string()),
        ("spring.datasource.url", db.url.clone().unwrap_or_default()),
        ("spring.datasource.host", conn.host),
        ("spring.datasource.port", conn.port.to_string()),
        ("spring.datasource.username", conn.user),
        ("spring.datasource.name", db.name.clone()),
        ("spring.data.redis.host", String::new()),
        ("ingenio.database.create-if-missing", "true".to_owned()),
        ("ingenio.database.migrate-on-startup", "true".to_owned()),
        ("ingenio.rate-limit.enabled", "false".to_owned()),
        ("ingenio.generation.poll-interval-ms", "50".to_owned()),
        ("ingenio.deepseek.api-key", String::new()),
        ("ingenio.minio.endpoint", String::new()),
        (
            "ingenio.code-gen.local-dir",
            artifacts.to_string_lossy().into_owned(),
        ),
        ("ingenio.code-gen.default-renderer", "static-web".to_owned()),
        (
            "ingenio.preview.base-url",
            format!("http://127.0.0.1:{port}/api/preview"),
        ),
        ("logging.console", "true".to_owned()),
        ("logging.file.enabled", "false".to_owned()),
    ];
    let mut cmd = Command::new(binary);
    cmd.current_dir(util::root()).args(["--profile", "test"]);
    for (key, value) in settings.iter().chain(extra) {
        cmd.arg("--set").arg(format!("{key}={value}"));
    }
    cmd.arg("serve");
    // DB_PASSWORD (when any) reaches the server through the environment, never the command line.
    env.apply(&mut cmd);
    cmd
}

/// This run's database: the server creates it (create-if-missing); dropped on drop with psql.
pub struct TempDatabase {
    /// The step that owns it, for messages.
    step: &'static str,
    pub name: String,
    /// DATABASE_URL pointed at `name`, when the environment connects by URL.
    pub url: Option<String>,
    /// psql arguments reaching the `postgres` maintenance database.
    admin: crate::env::Db,
}

impl TempDatabase {
    pub fn new(step: &'static str, env: &Env, name: &str) -> Self {
        let mut admin = env.db("test");
        admin.name = "postgres".to_owned();
        let url = admin.url.as_deref().and_then(|u| with_database(u, name));
        admin.url = admin
            .url
            .as_deref()
            .and_then(|u| with_database(u, "postgres"));
        Self {
            step,
            name: name.to_owned(),
            url,
            admin,
        }
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        let mut psql = Command::new("psql");
        self.admin
            .libpq(&mut psql)
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c"])
            .arg(format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        if util::quiet_ok(&mut psql) {
            println!("{}: dropped database {}", self.step, self.name);
        } else {
            eprintln!(
                "{}: warning: could not drop database {} (is psql installed?); drop it by hand",
                self.step, self.name
            );
        }
    }
}

/// `url` with its database (the path) replaced by `name`, keeping any `?query`.
fn with_database(url: &str, name: &str) -> Option<String> {
    let scheme_end = url.find("://")? + 3;
    let (base, query) = match url.find('?') {
        Some(q) => (&url[..q], &url[q..]),
        None => (url, ""),
    };
    let authority_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    Some(format!("{}/{name}{query}", &base[..authority_end]))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_database_of_a_url_is_replaced_and_the_query_kept() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/app?sslmode=disable", "e2e").as_deref(),
            Some("postgres://u:p@h:5432/e2e?sslmode=disable")
        );
        assert_eq!(
            with_database("postgresql://h", "e2e").as_deref(),
            Some("postgresql://h/e2e")
        );
        assert_eq!(with_database("not a url", "e2e"), None);
    }

    #[test]
    fn the_newest_source_is_found() {
        let (_, path) = newest_source(&util::root().join("xtask/src")).unwrap();
        assert!(
            path.starts_with(util::root().join("xtask/src")),
            "{}",
            path.display()
        );
        assert_eq!(newest_source(&util::root().join("no-such-dir")), None);
    }

    #[test]
    fn run_ids_make_valid_unquoted_database_names() {
        let id = run_id();
        assert!(!id.is_empty() && id.len() <= 24, "{id}");
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    }

    proptest! {
        #[test]
        fn any_database_name_lands_in_the_path_only(
            user in "[a-z]{1,8}",
            host in "[a-z0-9.]{1,12}",
            db in "[a-z_]{1,10}",
            name in "[a-z0-9_]{1,20}",
            query in proptest::option::of("[a-z=&]{1,12}"),
        ) {
            let q = query.map(|q| format!("?{q}")).unwrap_or_default();
            let url = format!("postgres://{user}@{host}:5432/{db}{q}");
            let out = with_database(&url, &name).unwrap();
            prop_assert_eq!(out, format!("postgres://{user}@{host}:5432/{name}{q}"));
        }
    }
}
