//! A fresh PostgreSQL database per test: cloned from a migrated template (created once per set of
//! migrations, shared by every test process) or empty, and dropped again on `Drop`.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use ingenio_postgres::migrate;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

/// Default server for tests (trust auth on this machine).
const DEFAULT_SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432";

/// Advisory lock key (on the `postgres` database) serialising template creation across processes.
const TEMPLATE_LOCK_KEY: i64 = 0x696e_6765_6e69_6f01;

/// Set to keep test databases after the test (for debugging); their names are printed.
const KEEP_ENV: &str = "INGENIO_TEST_KEEP_DB";

/// The template this process verified or created, by name.
static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// A database that exists for the lifetime of this value.
#[derive(Debug)]
pub struct TestDb {
    /// The database name, `ingenio_test_<uuid>`.
    pub name: String,
    /// A connection URL for it.
    pub url: String,
    keep: bool,
}

/// The server to test against, without a database name: `postgres://postgres@127.0.0.1:5432`
/// unless `INGENIO_TEST_DATABASE_URL` says otherwise.
pub fn server_url() -> String {
    std::env::var("INGENIO_TEST_DATABASE_URL")
        .ok()
        .map(|s| s.trim().trim_end_matches('/').to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_SERVER_URL.to_owned())
}

/// The URL of database `name` on the test server (keeps any `?query` of the server URL).
pub fn database_url(name: &str) -> String {
    let server = server_url();
    match server.split_once('?') {
        Some((base, query)) => format!("{}/{name}?{query}", base.trim_end_matches('/')),
        None => format!("{server}/{name}"),
    }
}

fn maintenance_url() -> String {
    database_url("postgres")
}

/// `ingenio_tmpl_` + the first 12 hex digits of the sha256 of every embedded migration.
pub fn template_name() -> String {
    let mut hasher = Sha256::new();
    for m in migrate::embedded() {
        for part in [&m.script_name, &m.up_sql, &m.down_sql] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
    }
    let digest = hex::encode(hasher.finalize());
    format!("ingenio_tmpl_{}", &digest[..12])
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn connect(url: &str) -> anyhow::Result<AsyncPgConnection> {
    AsyncPgConnection::establish(url)
        .await
        .with_context(|| format!("connecting to test database server ({url})"))
}

async fn count(conn: &mut AsyncPgConnection, sql: &str, name: &str) -> anyhow::Result<i64> {
    let row: CountRow = diesel::sql_query(sql)
        .bind::<Text, _>(name)
        .get_result(conn)
        .await
        .with_context(|| format!("querying {sql}"))?;
    Ok(row.n)
}

/// Polls until no session is connected to `name` (connections close asynchronously).
async fn wait_until_unused(conn: &mut AsyncPgConnection, name: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n = count(
            conn,
            "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = $1",
            name,
        )
        .await?;
        if n == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{n} sessions still connected to {name}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn create_template(name: &str) -> anyhow::Result<()> {
    let mut conn = connect(&maintenance_url()).await?;
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(TEMPLATE_LOCK_KEY)
        .execute(&mut conn)
        .await
        .context("taking the template lock")?;
    let result = create_template_locked(&mut conn, name).await;
    let _ = diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(TEMPLATE_LOCK_KEY)
        .execute(&mut conn)
        .await;
    result
}

async fn create_template_locked(conn: &mut AsyncPgConnection, name: &str) -> anyhow::Result<()> {
    if migrate::database_exists(conn, name).await? {
        return Ok(());
    }
    // Build under another name and rename at the end, so a crashed build never looks finished.
    let building = format!("{name}_build");
    conn.batch_execute(&format!(
        "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
    ))
    .await
    .context("dropping a leftover template build")?;
    conn.batch_execute(&format!(
        "CREATE DATABASE \"{building}\" TEMPLATE template0"
    ))
    .await
    .context("creating the template database")?;
    migrate::migrate(&database_url(&building), &migrate::embedded())
        .await
        .context("migrating the template database")?;
    wait_until_unused(conn, &building).await?;
    // Nobody may connect to the template: CREATE DATABASE ... TEMPLATE needs it unused.
    conn.batch_execute(&format!(
        "ALTER DATABASE \"{building}\" WITH ALLOW_CONNECTIONS false"
    ))
    .await
    .context("closing the template to connections")?;
    conn.batch_execute(&format!(
        "ALTER DATABASE \"{building}\" RENAME TO \"{name}\""
    ))
    .await
    .context("renaming the template database")?;
    // Stamp it, then drop templates of older migration sets that nobody built for a day (a
    // checkout tested at the same time keeps its own; one in use is simply left for next time).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    conn.batch_execute(&format!(
        "COMMENT ON DATABASE \"{name}\" IS 'ingenio test template built at {now}'"
    ))
    .await
    .context("stamping the template database")?;
    drop_stale_templates(conn, name, now).await;
    Ok(())
}

#[derive(QueryableByName)]
struct TemplateRow {
    #[diesel(sql_type = Text)]
    datname: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    note: Option<String>,
}

/// Drops `ingenio_tmpl_*` databases other than `keep` built more than a day before `now` (or
/// never stamped). Best effort: failures are reported and ignored.
async fn drop_stale_templates(conn: &mut AsyncPgConnection, keep: &str, now: u64) {
    let rows: Vec<TemplateRow> = match diesel::sql_query(
        "SELECT datname::text AS datname, shobj_description(oid, 'pg_database') AS note \
         FROM pg_database WHERE datname LIKE 'ingenio\\_tmpl\\_%' AND datname <> $1 \
           AND datname NOT LIKE '%\\_build'",
    )
    .bind::<Text, _>(keep)
    .load(conn)
    .await
    {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("warning: cannot list old test templates: {e}");
            return;
        }
    };
    for row in rows {
        let built = row
            .note
            .as_deref()
            .and_then(|n| n.rsplit(' ').next())
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or(0);
        if now.saturating_sub(built) < 24 * 3600 {
            continue;
        }
        if let Err(e) = conn
            .batch_execute(&format!("DROP DATABASE IF EXISTS \"{}\"", row.datname))
            .await
        {
            eprintln!(
                "warning: old test template {} not dropped: {e}",
                row.datname
            );
        }
    }
}

/// The migrated template's name, created on first use.
pub async fn template() -> anyhow::Result<String> {
    TEMPLATE
        .get_or_try_init(|| async {
            let name = template_name();
            create_template(&name).await?;
            Ok::<_, anyhow::Error>(name)
        })
        .await
        .cloned()
}

impl TestDb {
    /// A fresh database with every migration applied (a clone of the template).
    pub async fn new() -> anyhow::Result<TestDb> {
        let template = template().await?;
        Self::create(&template).await
    }

    /// A fresh empty database (from `template0`), for migration tests.
    pub async fn empty() -> anyhow::Result<TestDb> {
        Self::create("template0").await
    }

    async fn create(template: &str) -> anyhow::Result<TestDb> {
        let name = format!("ingenio_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = connect(&maintenance_url()).await?;
        conn.batch_execute(&format!(
            "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
        ))
        .await
        .with_context(|| format!("creating test database {name} from {template}"))?;
        let keep = std::env::var_os(KEEP_ENV).is_some();
        if keep {
            eprintln!("test database {name} will be kept ({KEEP_ENV} is set)");
        }
        Ok(TestDb {
            url: database_url(&name),
            name,
            keep,
        })
    }

    /// A new connection to this database.
    pub async fn connect(&self) -> anyhow::Result<AsyncPgConnection> {
        connect(&self.url).await
    }
}

async fn drop_database(name: &str) -> anyhow::Result<()> {
    let mut conn = connect(&maintenance_url()).await?;
    conn.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await
        .with_context(|| format!("dropping test database {name}"))
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let name = self.name.clone();
        // Drop may run inside a runtime, where blocking on another future is not allowed: use a
        // thread with its own runtime, and wait for it so the database is gone when drop returns.
        let worker = std::thread::Builder::new()
            .name("testdb-drop".to_owned())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        eprintln!("warning: cannot drop test database {name}: {error}");
                        return;
                    }
                };
                if let Err(error) = runtime.block_on(drop_database(&name)) {
                    eprintln!("warning: {error:#}");
                }
            });
        match worker {
            Ok(handle) => {
                if handle.join().is_err() {
                    eprintln!("warning: dropping test database {} panicked", self.name);
                }
            }
            Err(error) => eprintln!("warning: cannot drop test database {}: {error}", self.name),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    async fn exists(conn: &mut AsyncPgConnection, name: &str) -> bool {
        migrate::database_exists(conn, name).await.unwrap()
    }

    #[tokio::test]
    async fn only_templates_older_than_a_day_are_dropped() {
        let mut conn = connect(&maintenance_url()).await.unwrap();
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let (old, fresh, unstamped) = (
            format!("ingenio_tmpl_old{}", &suffix[..8]),
            format!("ingenio_tmpl_new{}", &suffix[..8]),
            format!("ingenio_tmpl_raw{}", &suffix[..8]),
        );
        let now = 2_000_000_000u64;
        for (name, stamp) in [
            (&old, Some(now - 2 * 86_400)),
            (&fresh, Some(now - 60)),
            (&unstamped, None),
        ] {
            conn.batch_execute(&format!("CREATE DATABASE \"{name}\" TEMPLATE template0"))
                .await
                .unwrap();
            if let Some(t) = stamp {
                conn.batch_execute(&format!(
                    "COMMENT ON DATABASE \"{name}\" IS 'ingenio test template built at {t}'"
                ))
                .await
                .unwrap();
            }
        }
        let keep = template_name();
        drop_stale_templates(&mut conn, &keep, now).await;
        assert!(!exists(&mut conn, &old).await, "two days old: dropped");
        assert!(
            !exists(&mut conn, &unstamped).await,
            "never stamped: dropped"
        );
        assert!(exists(&mut conn, &fresh).await, "built a minute ago: kept");
        conn.batch_execute(&format!("DROP DATABASE IF EXISTS \"{fresh}\""))
            .await
            .unwrap();
    }
}
