//! The `ingenio-server` command line: `serve` (default), `db create|migrate|rollback|status|seed`,
//! `user create`, `openapi`. Spring-style `--spring.profiles.active=prod` and `--a.b=c` arguments
//! are accepted and turned into `--profile` / `--set`.

use crate::auth::password::Argon2Hasher;
use crate::config::{self, ConfigSources, Settings};
use anyhow::Context as _;
use clap::{Parser, Subcommand};
use ingenio_postgres::migrate;
use ingenio_users::{PasswordHasher, Role, UserRepository};
use secrecy::ExposeSecret;
use std::io::Read as _;
use std::path::PathBuf;

/// The Ingenio backend server.
#[derive(Debug, Parser)]
#[command(name = "ingenio-server", version, about)]
pub struct Cli {
    /// Configuration profile (dev, test, prod); else INGENIO_PROFILE or SPRING_PROFILES_ACTIVE.
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// Override any configuration key: --set ingenio.rate-limit.requests-per-minute=5
    #[arg(long = "set", global = true, value_parser = parse_key_value)]
    pub sets: Vec<(String, String)>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Database tasks.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// User administration.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Print the OpenAPI document.
    Openapi,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Create the configured database if it does not exist.
    Create,
    /// Apply pending migrations.
    Migrate {
        /// Read migrations from this directory instead of the embedded copy.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Roll back every applied migration newer than VERSION ("000" rolls back everything).
    Rollback {
        version: String,
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Show which migrations are applied.
    Status {
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Load the curated magic prompts (idempotent: keyed by slug; content follows the seed
    /// file, status and usage counts are kept).
    Seed,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account (or, if it exists, set its role): the way to make the first admin.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// The password (prefer --password-stdin so it stays out of shell history).
        #[arg(long)]
        password: Option<String>,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Shorthand for --role admin.
        #[arg(long)]
        admin: bool,
        /// admin, user or viewer.
        #[arg(long)]
        role: Option<String>,
    },
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("expected key=value, got {s:?}"))
}

/// Rewrites Spring-style arguments: `--spring.profiles.active=x` → `--profile x`,
/// `--a.b=c` → `--set a.b=c`.
pub fn normalize_args(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    for a in args {
        if let Some(rest) = a.strip_prefix("--") {
            if let Some((k, v)) = rest.split_once('=') {
                if k == "spring.profiles.active" {
                    out.push("--profile".to_owned());
                    out.push(v.to_owned());
                    continue;
                }
                if k.contains('.') {
                    out.push("--set".to_owned());
                    out.push(format!("{k}={v}"));
                    continue;
                }
            }
        }
        out.push(a);
    }
    out
}

/// Loads settings for the CLI's profile and overrides, returning warnings to log later.
pub fn load_settings(cli: &Cli) -> anyhow::Result<(Settings, Vec<String>)> {
    let sources = ConfigSources::from_process(cli.profile.clone(), cli.sets.clone());
    let loaded = config::load(&sources)?;
    Ok((loaded.settings, loaded.warnings))
}

fn migrations(dir: Option<&PathBuf>) -> anyhow::Result<Vec<migrate::Migration>> {
    match dir {
        Some(d) => migrate::load_dir(d),
        None => Ok(migrate::embedded()),
    }
}

/// Runs a `db` subcommand.
pub async fn run_db(settings: &Settings, command: &DbCommand) -> anyhow::Result<()> {
    let ds = &settings.spring.datasource;
    let url = ds.database_url();
    match command {
        DbCommand::Create => {
            let created =
                migrate::ensure_database(ds.url_for("postgres").expose_secret(), &ds.name).await?;
            println!(
                "database {} {}",
                ds.name,
                if created { "created" } else { "already exists" }
            );
        }
        DbCommand::Migrate { dir } => {
            let applied = migrate::migrate(url.expose_secret(), &migrations(dir.as_ref())?).await?;
            if applied.is_empty() {
                println!("database {} is up to date", ds.name);
            }
            for a in applied {
                println!("applied {a}");
            }
        }
        DbCommand::Rollback { version, dir } => {
            let undone =
                migrate::rollback(url.expose_secret(), &migrations(dir.as_ref())?, version).await?;
            if undone.is_empty() {
                println!("nothing to roll back above {version}");
            }
            for u in undone {
                println!("rolled back {u}");
            }
        }
        DbCommand::Seed => {
            let pool = cli_pool(settings);
            let social = crate::startup::build_social(settings, &pool)?;
            let tenant = ingenio_kernel::TenantId::from_uuid(settings.ingenio.tenant.default_id);
            let (inserted, kept) = crate::seed::seed_magic_prompts(&social, tenant).await?;
            println!(
                "magic prompts: {inserted} inserted, {kept} already present (updated if changed)"
            );
        }
        DbCommand::Status { dir } => {
            let status = migrate::status(url.expose_secret(), &migrations(dir.as_ref())?).await?;
            println!("{:<8} {:<45} applied at", "version", "script");
            for s in status {
                println!(
                    "{:<8} {:<45} {}",
                    s.version,
                    s.script_name,
                    s.applied_at.as_deref().unwrap_or("pending")
                );
            }
        }
    }
    Ok(())
}

/// A small pool for one-shot commands.
fn cli_pool(settings: &Settings) -> ingenio_postgres::DbPool {
    let ds = &settings.spring.datasource;
    ingenio_postgres::pool::build_pool(&ingenio_postgres::PgPoolSettings {
        url: ds.database_url().expose_secret().to_owned(),
        max_size: 2,
        min_idle: 0,
        connection_timeout: std::time::Duration::from_secs(10),
        idle_timeout: std::time::Duration::from_secs(60),
        max_lifetime: std::time::Duration::from_secs(600),
        http_workers: 0,
    })
}

/// Runs a `user` subcommand.
pub async fn run_user(settings: &Settings, command: &UserCommand) -> anyhow::Result<()> {
    let UserCommand::Create {
        username,
        email,
        password,
        password_stdin,
        admin,
        role,
    } = command;
    let role = match (admin, role.as_deref()) {
        (true, _) => Role::Admin,
        (false, Some(r)) => Role::parse(r).map_err(|e| anyhow::anyhow!("{e}"))?,
        (false, None) => Role::User,
    };
    let password = match (password, password_stdin) {
        (Some(p), false) => p.clone(),
        (None, true) => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("read the password from stdin")?;
            s.trim_end_matches(['\r', '\n']).to_owned()
        }
        _ => anyhow::bail!("give exactly one of --password or --password-stdin"),
    };
    let pool = cli_pool(settings);
    let repo = ingenio_postgres::users::PgUserRepository::new(pool);
    let tenant = ingenio_kernel::TenantId::from_uuid(settings.ingenio.tenant.default_id);
    if let Some(existing) = repo.find_by_login(tenant, username).await? {
        repo.set_role_and_status(existing.id, role, ingenio_users::UserStatus::Active)
            .await?;
        println!(
            "user {} exists; role set to {}",
            existing.username,
            role.as_str()
        );
        return Ok(());
    }
    let new = ingenio_users::NewUser {
        tenant_id: tenant,
        username: ingenio_users::Username::parse(username).map_err(|e| anyhow::anyhow!("{e}"))?,
        email: ingenio_users::Email::parse(email).map_err(|e| anyhow::anyhow!("{e}"))?,
        password_hash: Argon2Hasher::default()
            .hash(
                ingenio_users::NewPassword::parse("password", &password)
                    .map_err(|e| anyhow::anyhow!("{e}"))?
                    .expose(),
            )
            .await?,
        role,
    };
    let user = repo
        .create(new)
        .await
        .map_err(|e| anyhow::anyhow!("create user: {e}"))?;
    println!(
        "created {} user {} ({})",
        role.as_str(),
        user.username,
        user.id
    );
    Ok(())
}
