//! The environment handed to the server and to the database tools: the process environment,
//! plus `.env` for what the process does not set, plus values xtask decides (e.g. REDIS_HOST).

use crate::{dotenv, util};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::process::Command;

/// Variables to add to child processes on top of the inherited process environment.
#[derive(Debug, Default, Clone)]
pub struct Env {
    extra: BTreeMap<String, String>,
}

impl Env {
    /// The process environment plus `.env` from the workspace root, when present (process wins).
    pub fn load() -> Result<Self> {
        Self::load_filtered(None)
    }

    /// Like [`Env::load`] but keeps only the given keys from `.env`.
    pub fn load_only(keys: &[&str]) -> Result<Self> {
        Self::load_filtered(Some(keys))
    }

    fn load_filtered(keep: Option<&[&str]>) -> Result<Self> {
        let mut env = Self::default();
        let path = util::root().join(".env");
        if path.is_file() {
            let text = std::fs::read_to_string(&path).context("failed to read .env")?;
            let vars = dotenv::parse(&text).map_err(|e| anyhow::anyhow!(".env {e}"))?;
            let mut count = 0;
            for (key, value) in vars {
                let wanted = keep.is_none_or(|keys| keys.contains(&key.as_str()));
                if wanted && std::env::var_os(&key).is_none() {
                    env.extra.insert(key, value);
                    count += 1;
                }
            }
            println!("xtask: loaded {count} variable(s) from .env");
        }
        Ok(env)
    }

    /// The effective value of a variable (`None` when unset or empty).
    pub fn get(&self, key: &str) -> Option<String> {
        let value = match self.extra.get(key) {
            Some(v) => Some(v.clone()),
            None => std::env::var(key).ok(),
        };
        value.filter(|v| !v.trim().is_empty())
    }

    /// Whether a variable is present at all (even empty), which for REDIS_HOST means "configured".
    pub fn is_present(&self, key: &str) -> bool {
        self.extra.contains_key(key) || std::env::var_os(key).is_some()
    }

    /// Sets a variable for child processes.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.extra.insert(key.to_owned(), value.into());
    }

    /// Applies the extra variables to a command.
    pub fn apply<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        cmd.envs(&self.extra)
    }

    /// The server profile: the `--profile` flag, INGENIO_PROFILE, SPRING_PROFILES_ACTIVE, or `dev`.
    pub fn profile(&self, flag: Option<&str>) -> String {
        flag.map(str::to_owned)
            .or_else(|| self.get("INGENIO_PROFILE"))
            .or_else(|| self.get("SPRING_PROFILES_ACTIVE"))
            .map(|p| p.split(',').next().unwrap_or("dev").trim().to_owned())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "dev".to_owned())
    }

    /// Database connection parameters as the server resolves them (`DB_*`, profile-based name).
    pub fn db(&self, profile: &str) -> Db {
        Db {
            host: self
                .get("DB_HOST")
                .unwrap_or_else(|| "127.0.0.1".to_owned()),
            port: self
                .get("DB_PORT")
                .and_then(|p| p.trim().parse().ok())
                .unwrap_or(5432),
            user: self.get("DB_USER").unwrap_or_else(|| "postgres".to_owned()),
            name: self
                .get("DB_NAME")
                .unwrap_or_else(|| format!("ingenio_{profile}")),
            password: self.get("DB_PASSWORD"),
            url: self.get("DATABASE_URL"),
        }
    }
}

/// Where the configured database lives.
#[derive(Debug, Clone)]
pub struct Db {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub name: String,
    pub password: Option<String>,
    /// DATABASE_URL, which wins over the parts above when set (as in the server).
    pub url: Option<String>,
}

impl Db {
    /// Adds the connection arguments (`-h -p -U --dbname`, or `--dbname <DATABASE_URL>`) and
    /// PGPASSWORD (unless already set) to a libpq tool command.
    pub fn libpq<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        if let Some(url) = &self.url {
            return cmd.arg("--dbname").arg(url);
        }
        cmd.arg("-h")
            .arg(&self.host)
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-U")
            .arg(&self.user)
            .arg("--dbname")
            .arg(&self.name);
        if let Some(pw) = &self.password {
            if std::env::var_os("PGPASSWORD").is_none() {
                cmd.env("PGPASSWORD", pw);
            }
        }
        cmd
    }

    /// Where the database is, for messages (never shows a password).
    pub fn describe(&self) -> String {
        match &self.url {
            Some(_) => "DATABASE_URL".to_owned(),
            None => format!("{} at {}:{}", self.name, self.host, self.port),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn flag_wins_and_spring_lists_take_the_first_profile() {
        let mut env = Env::default();
        env.set("INGENIO_PROFILE", "");
        env.set("SPRING_PROFILES_ACTIVE", "prod,metrics");
        assert_eq!(env.profile(Some("test")), "test");
        assert_eq!(env.profile(None), "prod");
        env.set("INGENIO_PROFILE", "staging");
        assert_eq!(env.profile(None), "staging");
    }

    #[test]
    fn database_defaults_follow_the_profile() {
        let mut env = Env::default();
        for key in [
            "DB_HOST",
            "DB_PORT",
            "DB_USER",
            "DB_NAME",
            "DB_PASSWORD",
            "DATABASE_URL",
        ] {
            env.set(key, "");
        }
        let db = env.db("dev");
        assert_eq!(
            (
                db.host.as_str(),
                db.port,
                db.user.as_str(),
                db.name.as_str()
            ),
            ("127.0.0.1", 5432, "postgres", "ingenio_dev")
        );
        env.set("DB_PORT", "6543");
        env.set("DB_NAME", "custom");
        let db = env.db("prod");
        assert_eq!((db.port, db.name.as_str()), (6543, "custom"));
        let mut cmd = Command::new("pg_dump");
        db.libpq(&mut cmd);
        let args: Vec<_> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "-h",
                "127.0.0.1",
                "-p",
                "6543",
                "-U",
                "postgres",
                "--dbname",
                "custom"
            ]
        );
        env.set("DATABASE_URL", "postgres://u@h:1/d");
        let mut cmd = Command::new("pg_dump");
        env.db("prod").libpq(&mut cmd);
        assert_eq!(cmd.get_args().count(), 2);
    }
}
