//! Integration tests of the migrations and the runner against the real PostgreSQL: up/down/up
//! leaves the same schema, the guide's shell scripts and the runner are interchangeable, concurrent
//! runs apply each migration once, and partial rollbacks drop exactly the newer tables.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The repository tests live in this same binary (one test binary per crate keeps link times down).
#[path = "migrations/app_specs_repo.rs"]
mod app_specs_repo;
#[path = "migrations/code_repo.rs"]
mod code_repo;
#[path = "migrations/jobs_completion.rs"]
mod jobs_completion;
#[path = "migrations/jobs_repo.rs"]
mod jobs_repo;
#[path = "migrations/social_repo.rs"]
mod social_repo;
#[path = "migrations/sql_cache.rs"]
mod sql_cache;
#[path = "migrations/support.rs"]
mod support;
#[path = "migrations/tls.rs"]
mod tls;
#[path = "migrations/users_repo.rs"]
mod users_repo;
#[path = "migrations/worker_pools.rs"]
mod worker_pools;

use std::path::{Path, PathBuf};
use std::process::Command;

use diesel::sql_types::Text;
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use ingenio_postgres::migrate::{self, Migration};
use ingenio_testkit::db::{server_url, TestDb};

const ALL_TABLES: [(&str, &str); 16] = [
    ("001", "users"),
    ("002", "app_specs"),
    ("003", "app_spec_versions"),
    ("004", "generated_code"),
    ("005", "projects"),
    ("006", "forks"),
    ("007", "social_interactions"),
    ("008", "magic_prompts"),
    ("009", "refresh_tokens"),
    ("009", "revoked_access_tokens"),
    ("009", "password_reset_tokens"),
    ("010", "generation_jobs"),
    ("010", "generation_job_events"),
    ("012", "login_failures"),
    ("014", "reports"),
    ("014", "project_views"),
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../..")
        .canonicalize()
        .unwrap()
}

fn all_versions() -> Vec<String> {
    (1..=16).map(|n| format!("{n:03}")).collect()
}

fn migrations() -> Vec<Migration> {
    migrate::embedded()
}

/// host, port, user, password of the test server, for psql and the guide's scripts.
fn server_parts() -> (String, String, String, Option<String>) {
    let url = server_url();
    let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
    let rest = rest.split(['/', '?']).next().unwrap_or(rest);
    let (userinfo, hostport) = rest.rsplit_once('@').unwrap_or(("postgres", rest));
    let (user, password) = match userinfo.split_once(':') {
        Some((u, p)) => (u.to_owned(), Some(p.to_owned())),
        None => (userinfo.to_owned(), None),
    };
    let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "5432"));
    (host.to_owned(), port.to_owned(), user, password)
}

/// Runs one of the guide's scripts (`migrate.sh`, `rollback.sh`) from the repo root.
fn run_script(script: &str, db: &TestDb, args: &[&str]) {
    let (host, port, user, password) = server_parts();
    let mut cmd = Command::new("bash");
    cmd.arg(script)
        .args(args)
        .current_dir(repo_root())
        .env("DB_HOST", host)
        .env("DB_PORT", port)
        .env("DB_NAME", &db.name)
        .env("DB_USER", user);
    if let Some(password) = password {
        cmd.env("PGPASSWORD", password);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{script} {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `pg_dump --schema-only` without comments, pg_dump's random `\restrict` keys and the db name.
fn schema_dump(db: &TestDb) -> String {
    let out = Command::new("pg_dump")
        .args(["--schema-only", "--no-owner", "--no-privileges", "--dbname"])
        .arg(&db.url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let dump: String = text
        .lines()
        .filter(|l| !l.starts_with("--"))
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.replace(&db.name, "<db>") + "\n")
        .collect();
    assert!(dump.contains("CREATE TABLE public.users"), "{dump}");
    dump
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

async fn names(db: &TestDb, sql: &str) -> Vec<String> {
    let mut conn = db.connect().await.unwrap();
    let rows: Vec<Name> = diesel::sql_query(sql).load(&mut conn).await.unwrap();
    rows.into_iter().map(|r| r.name).collect()
}

async fn recorded_versions(db: &TestDb) -> Vec<String> {
    names(
        db,
        "SELECT version::text AS name FROM schema_migrations ORDER BY version",
    )
    .await
}

async fn public_tables(db: &TestDb) -> Vec<String> {
    names(
        db,
        "SELECT tablename::text AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
    .await
}

fn expected_tables(up_to: u32) -> Vec<String> {
    let mut t: Vec<String> = ALL_TABLES
        .iter()
        .filter(|(v, _)| v.parse::<u32>().unwrap() <= up_to)
        .map(|(_, t)| (*t).to_owned())
        .chain(std::iter::once("schema_migrations".to_owned()))
        .collect();
    t.sort();
    t
}

#[tokio::test]
async fn up_down_up_leaves_the_same_schema() {
    let db = TestDb::empty().await.unwrap();
    let applied = migrate::migrate(&db.url, &migrations()).await.unwrap();
    assert_eq!(applied.len(), 16);
    assert_eq!(applied[0], "001_create_users_table.sql");
    assert_eq!(recorded_versions(&db).await, all_versions());
    assert_eq!(public_tables(&db).await, expected_tables(16));
    let first = schema_dump(&db);

    // A second run is a no-op.
    assert!(migrate::migrate(&db.url, &migrations())
        .await
        .unwrap()
        .is_empty());

    let undone = migrate::rollback(&db.url, &migrations(), "000")
        .await
        .unwrap();
    assert_eq!(undone.len(), 16);
    assert_eq!(undone[0], "016_kept_reads_notify.down.sql");
    assert_eq!(undone[1], "015_project_latest_code.down.sql");
    assert_eq!(undone[15], "001_create_users_table.down.sql");
    assert!(recorded_versions(&db).await.is_empty());
    assert_eq!(
        public_tables(&db).await,
        vec!["schema_migrations".to_owned()]
    );
    // The down files also removed the trigger function and the extension 005 installed.
    let leftovers = names(
        &db,
        "SELECT proname::text AS name FROM pg_proc WHERE proname IN ('set_updated_at', \
         'latest_code_of', 'projects_follow_latest_code', 'project_takes_latest_code', \
         'notify_kept_read_changed') \
         UNION ALL SELECT extname::text FROM pg_extension WHERE extname = 'pg_trgm'",
    )
    .await;
    assert!(leftovers.is_empty(), "{leftovers:?}");

    migrate::migrate(&db.url, &migrations()).await.unwrap();
    assert_eq!(recorded_versions(&db).await, all_versions());
    assert_eq!(schema_dump(&db), first);
}

#[tokio::test]
async fn guide_scripts_and_runner_are_interchangeable() {
    let by_script = TestDb::empty().await.unwrap();
    let by_runner = TestDb::empty().await.unwrap();
    run_script("migrate.sh", &by_script, &[]);
    migrate::migrate(&by_runner.url, &migrations())
        .await
        .unwrap();
    let reference = schema_dump(&by_runner);
    assert_eq!(schema_dump(&by_script), reference);

    // The runner sees what migrate.sh recorded.
    let status = migrate::status(&by_script.url, &migrations())
        .await
        .unwrap();
    assert_eq!(
        status.iter().map(|s| s.version.clone()).collect::<Vec<_>>(),
        all_versions()
    );
    for s in &status {
        let applied_at = s.applied_at.as_deref().unwrap_or_else(|| panic!("{s:?}"));
        assert_eq!(applied_at.len(), "2024-01-01 00:00:00".len(), "{s:?}");
    }
    assert_eq!(status[4].script_name, "005_create_projects_table.sql");

    // rollback.sh half way, then the runner finishes the job.
    run_script("rollback.sh", &by_script, &["005"]);
    assert_eq!(recorded_versions(&by_script).await, all_versions()[..5]);
    let pending = migrate::status(&by_script.url, &migrations())
        .await
        .unwrap();
    assert_eq!(
        pending.iter().filter(|s| s.applied_at.is_none()).count(),
        11
    );
    let applied = migrate::migrate(&by_script.url, &migrations())
        .await
        .unwrap();
    assert_eq!(applied.len(), 11);
    assert_eq!(applied[0], "006_create_forks_table.sql");
    assert_eq!(schema_dump(&by_script), reference);

    // And the other way round: the runner rolls back, migrate.sh finishes.
    migrate::rollback(&by_runner.url, &migrations(), "003")
        .await
        .unwrap();
    assert_eq!(public_tables(&by_runner).await, expected_tables(3));
    run_script("migrate.sh", &by_runner, &[]);
    assert_eq!(recorded_versions(&by_runner).await, all_versions());
    assert_eq!(schema_dump(&by_runner), reference);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_runs_apply_each_migration_once() {
    let db = TestDb::empty().await.unwrap();
    let all = migrations();
    let (a, b) = tokio::join!(
        migrate::migrate(&db.url, &all),
        migrate::migrate(&db.url, &all)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len() + b.len(), 16, "{a:?} {b:?}");
    let mut union: Vec<String> = a.into_iter().chain(b).collect();
    union.sort();
    let expected: Vec<String> = all.iter().map(|m| m.script_name.clone()).collect();
    assert_eq!(union, expected);
    assert_eq!(recorded_versions(&db).await, all_versions());
}

#[tokio::test]
async fn rollback_to_005_keeps_001_to_005() {
    let db = TestDb::new().await.unwrap();
    assert_eq!(public_tables(&db).await, expected_tables(15));
    let undone = migrate::rollback(&db.url, &migrations(), "005")
        .await
        .unwrap();
    assert_eq!(
        undone,
        vec![
            "016_kept_reads_notify.down.sql",
            "015_project_latest_code.down.sql",
            "014_social_moderation.down.sql",
            "013_projects_gallery.down.sql",
            "012_session_hardening.down.sql",
            "011_notify_generation_jobs.down.sql",
            "010_create_generation_jobs_table.down.sql",
            "009_create_auth_tokens_table.down.sql",
            "008_create_magic_prompts_table.down.sql",
            "007_create_social_interactions_table.down.sql",
            "006_create_forks_table.down.sql",
        ]
    );
    assert_eq!(public_tables(&db).await, expected_tables(5));
    assert_eq!(recorded_versions(&db).await, all_versions()[..5]);
    // Rolling back to where we are is a no-op.
    assert!(migrate::rollback(&db.url, &migrations(), "005")
        .await
        .unwrap()
        .is_empty());
    let status = migrate::status(&db.url, &migrations()).await.unwrap();
    let pending: Vec<&str> = status
        .iter()
        .filter(|s| s.applied_at.is_none())
        .map(|s| s.version.as_str())
        .collect();
    assert_eq!(
        pending,
        ["006", "007", "008", "009", "010", "011", "012", "013", "014", "015", "016"]
    );
    assert!(migrate::rollback(&db.url, &migrations(), "abc")
        .await
        .is_err());
}

#[tokio::test]
async fn status_reports_unknown_applied_versions_and_rollback_refuses_them() {
    let db = TestDb::new().await.unwrap();
    let mut conn = db.connect().await.unwrap();
    diesel::sql_query(
        "INSERT INTO schema_migrations (version, script_name) VALUES ('099', '099_from_the_future.sql')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let status = migrate::status(&db.url, &migrations()).await.unwrap();
    assert_eq!(status.len(), 17);
    assert_eq!(status[16].script_name, "099_from_the_future.sql");
    assert!(status.iter().all(|s| s.applied_at.is_some()));
    // An unknown version between known ones: refused before anything is undone.
    diesel::sql_query("DELETE FROM schema_migrations WHERE version = '099'")
        .execute(&mut conn)
        .await
        .unwrap();
    let mut without_007 = migrations();
    without_007.retain(|m| m.version != "007");
    let err = migrate::rollback(&db.url, &without_007, "005")
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("007"), "{err:#}");
    assert_eq!(recorded_versions(&db).await, all_versions());
    diesel::sql_query(
        "INSERT INTO schema_migrations (version, script_name) VALUES ('099', '099_from_the_future.sql')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let err = migrate::rollback(&db.url, &migrations(), "008")
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("099"), "{err:#}");
    // Nothing was rolled back.
    assert_eq!(public_tables(&db).await, expected_tables(15));
}

#[tokio::test]
async fn failed_migration_rolls_back_with_its_bookkeeping() {
    let db = TestDb::empty().await.unwrap();
    let mut broken = migrations();
    broken[2].up_sql.push_str("\nSELECT no_such_function();\n");
    let err = migrate::migrate(&db.url, &broken).await.unwrap_err();
    assert!(
        format!("{err:#}").contains("003_create_app_spec_versions_table.sql"),
        "{err:#}"
    );
    assert_eq!(recorded_versions(&db).await, all_versions()[..2]);
    assert_eq!(public_tables(&db).await, expected_tables(2));
    // The good files then finish the job.
    assert_eq!(
        migrate::migrate(&db.url, &migrations())
            .await
            .unwrap()
            .len(),
        14
    );
}

#[tokio::test]
async fn template_clones_are_migrated_and_independent() {
    let a = TestDb::new().await.unwrap();
    let b = TestDb::new().await.unwrap();
    assert_ne!(a.name, b.name);
    assert_eq!(recorded_versions(&a).await, all_versions());
    let mut conn = a.connect().await.unwrap();
    diesel::sql_query(
        "INSERT INTO users (username, email, password_hash) VALUES ('alice', 'a@example.com', 'x')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    // Case-insensitive uniqueness.
    assert!(diesel::sql_query(
        "INSERT INTO users (username, email, password_hash) VALUES ('ALICE', 'b@example.com', 'x')",
    )
    .execute(&mut conn)
    .await
    .is_err());
    drop(conn);
    let users_b = names(&b, "SELECT username::text AS name FROM users").await;
    assert!(users_b.is_empty());

    let name = a.name.clone();
    drop(a);
    let still_there = names(
        &b,
        &format!("SELECT datname::text AS name FROM pg_database WHERE datname = '{name}'"),
    )
    .await;
    assert!(still_there.is_empty(), "{name} was not dropped");
}

#[tokio::test]
async fn ensure_database_creates_once() {
    let probe = TestDb::empty().await.unwrap();
    let name = format!("{}_ensure", probe.name);
    let maintenance = probe.url.replace(&probe.name, "postgres");
    let (a, b) = tokio::join!(
        migrate::ensure_database(&maintenance, &name),
        migrate::ensure_database(&maintenance, &name)
    );
    let created = [a.unwrap(), b.unwrap()];
    let again = migrate::ensure_database(&maintenance, &name).await.unwrap();
    // Clean up before asserting.
    let mut conn = diesel_async::AsyncConnection::establish(&maintenance)
        .await
        .map(|c: diesel_async::AsyncPgConnection| c)
        .unwrap();
    diesel_async::SimpleAsyncConnection::batch_execute(
        &mut conn,
        &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
    )
    .await
    .unwrap();
    assert_eq!(created.iter().filter(|c| **c).count(), 1, "{created:?}");
    assert!(!again);
    assert!(migrate::ensure_database(&maintenance, "bad\"name")
        .await
        .is_err());
}
