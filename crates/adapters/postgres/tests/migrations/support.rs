//! Shared helpers of the repository tests: a migrated database with a pool, users inserted with
//! plain SQL, and small SQL probes.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::time::Duration;

use diesel::sql_types::BigInt;
use diesel::QueryableByName;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use ingenio_app_specs::ports::{ChangeType, NewVersion, Viewer};
use ingenio_app_specs::SpecStatus;
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::{TenantId, UserId};
use ingenio_postgres::pool::build_pool;
use ingenio_postgres::{DbPool, PgPoolSettings};
use ingenio_testkit::db::TestDb;
use serde_json::{json, Value};

/// A migrated database and a pool on it (the pool is declared first so it is dropped first).
pub struct Env {
    pub pool: DbPool,
    pub db: TestDb,
}

pub async fn env() -> Env {
    let db = TestDb::new().await.unwrap();
    let pool = build_pool(&PgPoolSettings {
        url: db.url.clone(),
        max_size: 12,
        min_idle: 0,
        connection_timeout: Duration::from_secs(20),
        idle_timeout: Duration::from_secs(60),
        max_lifetime: Duration::from_secs(600),
    });
    Env { pool, db }
}

pub fn other_tenant() -> TenantId {
    TenantId::from(Uuid::from_u128(0x2222_0000_0000_0000_0000_0000_0000_0002))
}

impl Env {
    /// Inserts a user of `tenant` and returns its id.
    pub async fn user_in(&self, tenant: TenantId, name: &str) -> UserId {
        let id = Uuid::new_v4();
        self.exec(&format!(
            "INSERT INTO users (id, tenant_id, username, email, password_hash) \
             VALUES ('{id}', '{tenant}', '{name}', '{name}@example.com', 'x')"
        ))
        .await;
        id.into()
    }

    /// Inserts a user of the default tenant.
    pub async fn user(&self, name: &str) -> UserId {
        self.user_in(TenantId::default(), name).await
    }

    pub async fn exec(&self, sql: &str) {
        let mut c = self.pool.get().await.unwrap();
        c.batch_execute(sql).await.unwrap();
    }

    /// Runs `SELECT COUNT(*) AS n ...`-style SQL returning one `n`.
    pub async fn count(&self, sql: &str) -> i64 {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut c = self.pool.get().await.unwrap();
        let row: N = diesel::sql_query(sql).get_result(&mut c).await.unwrap();
        row.n
    }
}

pub fn viewer(user: UserId) -> Viewer {
    Viewer {
        tenant: TenantId::default(),
        user,
        admin: false,
    }
}

pub fn admin(user: UserId) -> Viewer {
    Viewer {
        tenant: TenantId::default(),
        user,
        admin: true,
    }
}

/// A small but plausible spec body.
pub fn spec_json(title: &str) -> Value {
    json!({"title": title, "pages": [{"name": "home"}], "dataModels": []})
}

pub fn new_version(by: UserId, title: &str) -> NewVersion {
    NewVersion {
        content: spec_json(title),
        generation_metadata: Some(json!({"modelVersion": "test", "title": title})),
        change_description: Some(format!("set {title}")),
        change_type: ChangeType::UserEdit,
        created_by: by,
        status: SpecStatus::Draft,
        quality_score: Some(70),
    }
}
