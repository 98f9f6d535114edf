//! The bb8 pool of diesel-async PostgreSQL connections, its settings (mapped from the guide's
//! Hikari keys) and the mapping of pool and driver failures onto `StoreError`.

use anyhow::Context as _;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ingenio_kernel::StoreError;
use std::time::Duration;

/// The shared connection pool.
pub type DbPool = bb8::Pool<AsyncDieselConnectionManager<AsyncPgConnection>>;
/// A connection checked out of the pool.
pub type DbConn<'a> = bb8::PooledConnection<'a, AsyncDieselConnectionManager<AsyncPgConnection>>;

/// Pool settings; the names follow HikariCP so the guide's configuration keys map one to one.
#[derive(Debug, Clone)]
pub struct PgPoolSettings {
    /// `postgres://` URL; its `sslmode` / `sslrootcert` parameters choose TLS (see `tls`).
    pub url: String,
    /// `maximum-pool-size`
    pub max_size: u32,
    /// `minimum-idle`
    pub min_idle: u32,
    /// `connection-timeout`: how long a request waits for a connection before failing with 503.
    pub connection_timeout: Duration,
    /// `idle-timeout`
    pub idle_timeout: Duration,
    /// `max-lifetime`
    pub max_lifetime: Duration,
}

/// Builds the pool without connecting: the server starts (and reports `db` DOWN) even when the
/// database is not up yet, and connections are made as they are needed.
/// Connections are opened by [`crate::tls::establish`], so the URL's `sslmode` applies.
pub fn build_pool(settings: &PgPoolSettings) -> DbPool {
    let mut config = ManagerConfig::default();
    config.custom_setup = Box::new(|url| Box::pin(crate::tls::establish(url)));
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
        settings.url.clone(),
        config,
    );
    bb8::Pool::builder()
        .max_size(settings.max_size.max(1))
        .min_idle(Some(settings.min_idle.min(settings.max_size.max(1))))
        .connection_timeout(settings.connection_timeout)
        .idle_timeout(Some(settings.idle_timeout))
        .max_lifetime(Some(settings.max_lifetime))
        .test_on_check_out(true)
        .build_unchecked(manager)
}

/// Checks out a connection, mapping every pool failure (timeout, refused) to `Unavailable`.
pub async fn conn(pool: &DbPool) -> Result<DbConn<'_>, StoreError> {
    pool.get()
        .await
        .map_err(|e| StoreError::Unavailable(anyhow::anyhow!("database connection: {e}")))
}

/// Maps a diesel error: a lost connection is `Unavailable`, everything else `Unexpected`.
pub fn store_err(e: DieselError) -> StoreError {
    if is_connection_error(&e) {
        StoreError::Unavailable(anyhow::Error::new(e).context("database connection lost"))
    } else {
        StoreError::Unexpected(anyhow::Error::new(e).context("database query failed"))
    }
}

fn is_connection_error(e: &DieselError) -> bool {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => true,
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, info) => {
            let m = info.message().to_ascii_lowercase();
            m.contains("connection closed")
                || m.contains("broken pipe")
                || m.contains("connection reset")
                || m.contains("terminating connection")
        }
        DieselError::BrokenTransactionManager => true,
        _ => false,
    }
}

/// Health probe: one round trip through the pool.
pub async fn ping(pool: &DbPool) -> anyhow::Result<()> {
    let mut c = pool.get().await.context("get a database connection")?;
    diesel::sql_query("SELECT 1")
        .execute(&mut c)
        .await
        .context("run the validation query")?;
    Ok(())
}

/// Pool usage for metrics: (open connections, idle connections).
pub fn pool_state(pool: &DbPool) -> (u32, u32) {
    let s = pool.state();
    (s.connections, s.idle_connections)
}
