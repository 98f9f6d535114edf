//! Migration runner: applies `migrations/NNN_name.sql` and rolls back with
//! `migrations/rollback/NNN_name.down.sql`, bookkept in the deployment guide's `schema_migrations`
//! table so that `migrate.sh` / `rollback.sh` and this runner are interchangeable on one database.
//!
//! Each migration runs in its own transaction together with its bookkeeping row, and a whole run
//! holds a session-level advisory lock, so concurrent runs apply every migration exactly once.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context};
use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;
use diesel_async::scoped_futures::ScopedFutureExt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

/// Key of the session-level advisory lock held for a whole migrate or rollback run ("ingenio\0").
pub const MIGRATION_LOCK_KEY: i64 = 0x696e_6765_6e69_6f00;

/// The bookkeeping table's DDL, exactly as the guide's `migrate.sh` creates it.
const CREATE_SCHEMA_MIGRATIONS: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
  id SERIAL PRIMARY KEY,
  version VARCHAR(50) NOT NULL UNIQUE,
  executed_at TIMESTAMP DEFAULT NOW(),
  script_name VARCHAR(255) NOT NULL
);";

/// One migration: its up script and its rollback script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The file name's prefix before the first `_`, e.g. `"001"` (what `migrate.sh` records).
    pub version: String,
    /// The file stem without `.sql`, e.g. `"001_create_users_table"`.
    pub name: String,
    /// The file name, e.g. `"001_create_users_table.sql"` (what `migrate.sh` records).
    pub script_name: String,
    pub up_sql: String,
    pub down_sql: String,
}

/// A row of `schema_migrations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    pub version: String,
    pub script_name: String,
    /// `YYYY-MM-DD HH:MM:SS` (the column is a `TIMESTAMP` in the server's time zone), or empty.
    pub executed_at: String,
}

/// One line of `status`: every known migration, plus applied versions whose file is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    pub version: String,
    pub script_name: String,
    /// When it was applied, `None` if pending.
    pub applied_at: Option<String>,
}

macro_rules! embed {
    ($($name:literal),* $(,)?) => {
        [$((
            $name,
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../migrations/", $name, ".sql")),
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"), "/../../../migrations/rollback/", $name, ".down.sql"
            )),
        )),*]
    };
}

/// The repository's migrations, compiled in. A unit test checks this list against the directory.
const EMBEDDED: [(&str, &str, &str); 16] = embed![
    "001_create_users_table",
    "002_create_app_specs_table",
    "003_create_app_spec_versions_table",
    "004_create_generated_code_table",
    "005_create_projects_table",
    "006_create_forks_table",
    "007_create_social_interactions_table",
    "008_create_magic_prompts_table",
    "009_create_auth_tokens_table",
    "010_create_generation_jobs_table",
    "011_notify_generation_jobs",
    "012_session_hardening",
    "013_projects_gallery",
    "014_social_moderation",
    "015_project_latest_code",
    "016_kept_reads_notify",
];

/// The repository's migrations compiled into the binary, in order.
pub fn embedded() -> Vec<Migration> {
    EMBEDDED
        .iter()
        .filter_map(|(name, up, down)| {
            let version = version_of(name)?;
            Some(Migration {
                version: version.to_owned(),
                name: (*name).to_owned(),
                script_name: format!("{name}.sql"),
                up_sql: (*up).to_owned(),
                down_sql: (*down).to_owned(),
            })
        })
        .collect()
}

/// The prefix before the first `_` when it is all digits (`cut -d'_' -f1` in the guide's scripts).
fn version_of(stem: &str) -> Option<&str> {
    let (version, rest) = stem.split_once('_')?;
    (!version.is_empty() && !rest.is_empty() && version.bytes().all(|b| b.is_ascii_digit()))
        .then_some(version)
}

/// The numeric value of a version, compared as the guide's `rollback.sh` does (`[ -gt ]`).
fn version_number(version: &str) -> Option<u64> {
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    version.parse().ok()
}

/// Reads `dir/NNN_*.sql` and, for each, `dir/rollback/NNN_*.down.sql` (which must exist).
pub fn load_dir(dir: &Path) -> anyhow::Result<Vec<Migration>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("reading migration directory {}", dir.display()))?;
    let mut migrations = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(stem) = file_name.strip_suffix(".sql") else {
            continue;
        };
        if stem.ends_with(".down") {
            continue;
        }
        let Some(version) = version_of(stem) else {
            bail!("migration file {file_name} is not named NNN_name.sql");
        };
        let up_sql = std::fs::read_to_string(&path)
            .with_context(|| format!("reading migration {}", path.display()))?;
        let down_path = dir.join("rollback").join(format!("{stem}.down.sql"));
        let down_sql = std::fs::read_to_string(&down_path)
            .with_context(|| format!("reading rollback script {}", down_path.display()))?;
        migrations.push(Migration {
            version: version.to_owned(),
            name: stem.to_owned(),
            script_name: file_name.to_owned(),
            up_sql,
            down_sql,
        });
    }
    migrations.sort_by(|a, b| a.script_name.cmp(&b.script_name));
    for pair in migrations.windows(2) {
        if let [a, b] = pair {
            if a.version == b.version {
                bail!(
                    "migrations {} and {} share version {}",
                    a.script_name,
                    b.script_name,
                    a.version
                );
            }
        }
    }
    Ok(migrations)
}

#[derive(QueryableByName)]
struct AppliedRow {
    #[diesel(sql_type = Text)]
    version: String,
    #[diesel(sql_type = Text)]
    script_name: String,
    #[diesel(sql_type = Text)]
    executed_at: String,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn connect(database_url: &str) -> anyhow::Result<AsyncPgConnection> {
    crate::tls::establish(database_url)
        .await
        .with_context(|| format!("connecting to {}", redact(database_url)))
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

async fn lock(conn: &mut AsyncPgConnection) -> anyhow::Result<()> {
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(MIGRATION_LOCK_KEY)
        .execute(conn)
        .await
        .context("taking the migration advisory lock")?;
    tracing::debug!("migration lock taken");
    Ok(())
}

async fn unlock(conn: &mut AsyncPgConnection) {
    let unlocked = diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(MIGRATION_LOCK_KEY)
        .execute(conn)
        .await;
    if let Err(error) = unlocked {
        // The lock is session-level: it goes away with the connection anyway.
        tracing::warn!(%error, "releasing the migration advisory lock failed");
    }
}

async fn table_exists(conn: &mut AsyncPgConnection) -> anyhow::Result<bool> {
    let row: CountRow = diesel::sql_query(
        "SELECT COUNT(*) AS n FROM (SELECT to_regclass('schema_migrations') AS t) s WHERE t IS NOT NULL",
    )
    .get_result(conn)
    .await
    .context("looking for schema_migrations")?;
    Ok(row.n > 0)
}

async fn read_applied(conn: &mut AsyncPgConnection) -> anyhow::Result<Vec<AppliedMigration>> {
    if !table_exists(conn).await? {
        return Ok(Vec::new());
    }
    let rows: Vec<AppliedRow> = diesel::sql_query(
        "SELECT version::text AS version, script_name::text AS script_name, \
         COALESCE(to_char(executed_at, 'YYYY-MM-DD HH24:MI:SS'), '') AS executed_at \
         FROM schema_migrations ORDER BY version",
    )
    .load(conn)
    .await
    .context("reading schema_migrations")?;
    Ok(rows
        .into_iter()
        .map(|r| AppliedMigration {
            version: r.version,
            script_name: r.script_name,
            executed_at: r.executed_at,
        })
        .collect())
}

/// The rows of `schema_migrations` (empty when the table does not exist yet).
pub async fn applied(database_url: &str) -> anyhow::Result<Vec<AppliedMigration>> {
    let mut conn = connect(database_url).await?;
    read_applied(&mut conn).await
}

fn sorted(migrations: &[Migration]) -> anyhow::Result<Vec<&Migration>> {
    let mut out = Vec::with_capacity(migrations.len());
    for m in migrations {
        let n = version_number(&m.version)
            .with_context(|| format!("migration {} has a non-numeric version", m.script_name))?;
        out.push((n, m));
    }
    out.sort_by_key(|(n, _)| *n);
    for pair in out.windows(2) {
        if let [(a, ma), (b, mb)] = pair {
            if a == b {
                bail!(
                    "migrations {} and {} share version {a}",
                    ma.script_name,
                    mb.script_name
                );
            }
        }
    }
    Ok(out.into_iter().map(|(_, m)| m).collect())
}

/// Applies, in version order, every migration not yet recorded in `schema_migrations`.
/// Returns the script names applied by this call.
pub async fn migrate(database_url: &str, migrations: &[Migration]) -> anyhow::Result<Vec<String>> {
    let ordered = sorted(migrations)?;
    let mut conn = connect(database_url).await?;
    lock(&mut conn).await?;
    let result = migrate_locked(&mut conn, ordered).await;
    unlock(&mut conn).await;
    result
}

async fn migrate_locked(
    conn: &mut AsyncPgConnection,
    ordered: Vec<&Migration>,
) -> anyhow::Result<Vec<String>> {
    conn.batch_execute(CREATE_SCHEMA_MIGRATIONS)
        .await
        .context("creating schema_migrations")?;
    let done: std::collections::HashSet<String> = read_applied(conn)
        .await?
        .into_iter()
        .map(|a| a.version)
        .collect();
    let mut applied = Vec::new();
    for m in ordered {
        if done.contains(&m.version) {
            tracing::debug!(script = %m.script_name, "migration already applied, skipping");
            continue;
        }
        tracing::info!(script = %m.script_name, "applying migration");
        let up = m.up_sql.clone();
        let version = m.version.clone();
        let script = m.script_name.clone();
        conn.transaction::<_, diesel::result::Error, _>(|c| {
            async move {
                c.batch_execute(&up).await?;
                diesel::sql_query(
                    "INSERT INTO schema_migrations (version, script_name) VALUES ($1, $2)",
                )
                .bind::<Text, _>(version)
                .bind::<Text, _>(script)
                .execute(c)
                .await?;
                Ok(())
            }
            .scope_boxed()
        })
        .await
        .with_context(|| format!("applying migration {}", m.script_name))?;
        tracing::info!(script = %m.script_name, "migration applied");
        applied.push(m.script_name.clone());
    }
    tracing::info!(count = applied.len(), "migrations complete");
    Ok(applied)
}

/// Rolls back, newest first, every applied version greater than `target` (`"000"` rolls back
/// everything), like the guide's `rollback.sh`. Returns the rollback script names run.
pub async fn rollback(
    database_url: &str,
    migrations: &[Migration],
    target: &str,
) -> anyhow::Result<Vec<String>> {
    let target_n = version_number(target)
        .with_context(|| format!("rollback target {target:?} is not a version number"))?;
    let known: BTreeMap<u64, &Migration> = sorted(migrations)?
        .into_iter()
        .filter_map(|m| version_number(&m.version).map(|n| (n, m)))
        .collect();
    let mut conn = connect(database_url).await?;
    lock(&mut conn).await?;
    let result = rollback_locked(&mut conn, &known, target_n).await;
    unlock(&mut conn).await;
    result
}

async fn rollback_locked(
    conn: &mut AsyncPgConnection,
    known: &BTreeMap<u64, &Migration>,
    target_n: u64,
) -> anyhow::Result<Vec<String>> {
    let mut to_undo: Vec<(u64, AppliedMigration)> = Vec::new();
    for a in read_applied(conn).await? {
        match version_number(&a.version) {
            Some(n) if n > target_n => to_undo.push((n, a)),
            Some(_) => {}
            None => tracing::warn!(version = %a.version, "ignoring non-numeric applied version"),
        }
    }
    to_undo.sort_by_key(|(n, _)| Reverse(*n));
    // Check every step before changing anything.
    let mut steps = Vec::with_capacity(to_undo.len());
    for (n, applied) in to_undo {
        let Some(m) = known.get(&n) else {
            bail!(
                "applied migration {} ({}) has no rollback script here",
                applied.version,
                applied.script_name
            );
        };
        steps.push((*m, applied));
    }
    let mut rolled_back = Vec::new();
    for (m, applied) in steps {
        let down_name = format!("{}.down.sql", m.name);
        tracing::info!(script = %down_name, "rolling back migration");
        let down = m.down_sql.clone();
        let version = applied.version.clone();
        conn.transaction::<_, diesel::result::Error, _>(|c| {
            async move {
                c.batch_execute(&down).await?;
                diesel::sql_query("DELETE FROM schema_migrations WHERE version = $1")
                    .bind::<Text, _>(version)
                    .execute(c)
                    .await?;
                Ok(())
            }
            .scope_boxed()
        })
        .await
        .with_context(|| format!("rolling back migration {}", m.script_name))?;
        tracing::info!(script = %down_name, "migration rolled back");
        rolled_back.push(down_name);
    }
    tracing::info!(
        count = rolled_back.len(),
        target = target_n,
        "rollback complete"
    );
    Ok(rolled_back)
}

/// Every known migration with when it was applied, plus applied versions whose file is unknown.
pub async fn status(
    database_url: &str,
    migrations: &[Migration],
) -> anyhow::Result<Vec<MigrationStatus>> {
    let applied = applied(database_url).await?;
    let mut by_version: BTreeMap<(u64, String), MigrationStatus> = BTreeMap::new();
    for m in migrations {
        let key = (
            version_number(&m.version).unwrap_or(u64::MAX),
            m.version.clone(),
        );
        by_version.insert(
            key,
            MigrationStatus {
                version: m.version.clone(),
                script_name: m.script_name.clone(),
                applied_at: None,
            },
        );
    }
    for a in applied {
        let key = (
            version_number(&a.version).unwrap_or(u64::MAX),
            a.version.clone(),
        );
        let entry = by_version.entry(key).or_insert_with(|| MigrationStatus {
            version: a.version.clone(),
            script_name: a.script_name.clone(),
            applied_at: None,
        });
        entry.applied_at = Some(a.executed_at);
    }
    Ok(by_version.into_values().collect())
}

/// Whether `name` is safe to splice into DDL as a quoted identifier.
fn valid_database_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Counts the databases called `name` (0 or 1) over an open maintenance connection.
pub async fn database_exists(conn: &mut AsyncPgConnection, name: &str) -> anyhow::Result<bool> {
    let row: CountRow =
        diesel::sql_query("SELECT COUNT(*) AS n FROM pg_database WHERE datname = $1")
            .bind::<Text, _>(name)
            .get_result(conn)
            .await
            .context("looking up pg_database")?;
    Ok(row.n > 0)
}

/// Creates database `name` through `maintenance_url` (a connection to e.g. the `postgres`
/// database) unless it exists. Returns `true` if this call created it; a concurrent creator
/// winning the race is not an error.
pub async fn ensure_database(maintenance_url: &str, name: &str) -> anyhow::Result<bool> {
    if !valid_database_name(name) {
        bail!("database name {name:?} must be 1-63 characters of [A-Za-z0-9_-]");
    }
    let mut conn = connect(maintenance_url).await?;
    if database_exists(&mut conn, name).await? {
        tracing::info!(database = name, "database exists");
        return Ok(false);
    }
    match conn
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .await
    {
        Ok(()) => {
            tracing::info!(database = name, "database created");
            Ok(true)
        }
        // duplicate_database from a concurrent creator: it exists now, which is what we wanted.
        Err(error) if database_exists(&mut conn, name).await.unwrap_or(false) => {
            tracing::info!(database = name, %error, "database created concurrently");
            Ok(false)
        }
        Err(error) => Err(error).with_context(|| format!("creating database {name}")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn repo_migrations_dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../migrations")
    }

    #[test]
    fn embedded_matches_the_migrations_directory() {
        let on_disk = load_dir(&repo_migrations_dir()).unwrap();
        let embedded = embedded();
        let names = |v: &[Migration]| v.iter().map(|m| m.script_name.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(&embedded),
            names(&on_disk),
            "add new migrations to EMBEDDED"
        );
        assert_eq!(embedded, on_disk);
    }

    #[test]
    fn every_migration_has_a_rollback_and_no_transaction_control() {
        let all = embedded();
        assert_eq!(all.len(), 16);
        // three-digit versions in strictly increasing order
        for pair in all.windows(2) {
            assert!(pair[0].version < pair[1].version, "{pair:?}");
        }
        for m in &all {
            assert_eq!(m.version.len(), 3, "{}", m.version);
            for sql in [&m.up_sql, &m.down_sql] {
                for line in sql.lines() {
                    // Statements end with `;` (a PL/pgSQL block's `BEGIN` does not).
                    let statement = line.trim().to_ascii_uppercase();
                    assert!(
                        !matches!(
                            statement.as_str(),
                            "BEGIN;"
                                | "BEGIN TRANSACTION;"
                                | "COMMIT;"
                                | "ROLLBACK;"
                                | "START TRANSACTION;"
                        ),
                        "{} contains transaction control: {line}",
                        m.script_name
                    );
                }
            }
            assert!(
                m.down_sql.contains("DROP"),
                "{} rollback drops nothing",
                m.script_name
            );
        }
    }

    #[test]
    fn versions_parse_like_the_guide_scripts() {
        assert_eq!(version_of("001_create_users_table"), Some("001"));
        assert_eq!(version_of("abc_x"), None);
        assert_eq!(version_of("001"), None);
        assert_eq!(version_number("009"), Some(9));
        assert_eq!(version_number("000"), Some(0));
        assert_eq!(version_number("1a"), None);
        assert_eq!(version_number(""), None);
    }

    #[test]
    fn load_dir_requires_rollback_files_and_skips_down_files() {
        let dir = std::env::temp_dir().join(format!("ingenio-migrate-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("rollback")).unwrap();
        std::fs::write(dir.join("002_b.sql"), "SELECT 2;").unwrap();
        std::fs::write(dir.join("001_a.sql"), "SELECT 1;").unwrap();
        std::fs::write(dir.join("rollback/001_a.down.sql"), "SELECT -1;").unwrap();
        std::fs::write(dir.join("README.md"), "not a migration").unwrap();
        let err = load_dir(&dir).unwrap_err();
        assert!(format!("{err:#}").contains("002_b.down.sql"), "{err:#}");
        std::fs::write(dir.join("rollback/002_b.down.sql"), "SELECT -2;").unwrap();
        let loaded = load_dir(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(loaded.len(), 2);
        assert_eq!(loaded[0].script_name, "001_a.sql");
        assert_eq!(loaded[0].name, "001_a");
        assert_eq!(loaded[0].down_sql, "SELECT -1;");
        assert_eq!(loaded[1].version, "002");
    }

    #[test]
    fn redact_hides_passwords() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[test]
    fn database_names_are_checked() {
        assert!(valid_database_name("ingenio_test_abc"));
        assert!(!valid_database_name("a\"; DROP DATABASE x; --"));
        assert!(!valid_database_name(""));
    }
}
