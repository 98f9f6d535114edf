//! The bb8 pool of diesel-async PostgreSQL connections, its settings (mapped from the guide's
//! Hikari keys) and the mapping of pool and driver failures onto `StoreError`.
//!
//! Two things keep a checkout cheap:
//! - Connections are validated on checkout without a round trip: one whose socket is closed or
//!   whose transaction state is broken is discarded at once (the driver knows), and only one that
//!   sat idle longer than [`VALIDATE_IDLE_AFTER`] is pinged (`SELECT 1`) first, as HikariCP does.
//! - Each HTTP worker (one single-threaded runtime per thread) can have a pool of its own
//!   ([`DbPool::attach_worker`]): diesel-async drives a connection from a task on the runtime
//!   that opened it, so a query on a connection opened by another worker's runtime costs two
//!   cross-thread wake-ups. The configured maximum is split between the workers and the shared
//!   pool used by every other thread (job workers, housekeeping, the listeners).

use anyhow::Context as _;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::ConnectionError;
use diesel_async::pooled_connection::{PoolError, PoolableConnection};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ingenio_kernel::StoreError;
use std::cell::RefCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A connection idle for longer than this is pinged before it is handed out.
pub const VALIDATE_IDLE_AFTER: Duration = Duration::from_secs(1);

/// A pooled PostgreSQL connection and when it was last returned to the pool.
pub struct PgConn {
    conn: AsyncPgConnection,
    returned_at: Instant,
}

impl Deref for PgConn {
    type Target = AsyncPgConnection;
    fn deref(&self) -> &AsyncPgConnection {
        &self.conn
    }
}

impl DerefMut for PgConn {
    fn deref_mut(&mut self) -> &mut AsyncPgConnection {
        &mut self.conn
    }
}

/// Opens connections and decides which ones may be handed out again.
#[derive(Debug)]
pub struct PgManager {
    url: String,
}

#[async_trait::async_trait]
impl bb8::ManageConnection for PgManager {
    type Connection = PgConn;
    type Error = PoolError;

    async fn connect(&self) -> Result<PgConn, PoolError> {
        let conn = crate::tls::establish(&self.url)
            .await
            .map_err(PoolError::ConnectionError)?;
        Ok(PgConn {
            conn,
            returned_at: Instant::now(),
        })
    }

    /// Free for a connection in use a moment ago; one round trip after an idle spell.
    async fn is_valid(&self, c: &mut PgConn) -> Result<(), PoolError> {
        if c.conn.is_broken() {
            return Err(PoolError::ConnectionError(ConnectionError::BadConnection(
                "connection closed".to_owned(),
            )));
        }
        if c.returned_at.elapsed() > VALIDATE_IDLE_AFTER {
            diesel::sql_query("SELECT 1")
                .execute(&mut c.conn)
                .await
                .map_err(PoolError::QueryError)?;
        }
        Ok(())
    }

    /// Called by bb8 whenever a connection comes back: broken ones are dropped, the others
    /// remember when they were last used.
    fn has_broken(&self, c: &mut PgConn) -> bool {
        c.returned_at = Instant::now();
        std::thread::panicking() || c.conn.is_broken()
    }
}

type Bb8Pool = bb8::Pool<PgManager>;
/// A connection checked out of the pool.
pub type DbConn = bb8::PooledConnection<'static, PgManager>;

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
    /// HTTP workers that will call [`DbPool::attach_worker`] (0: one shared pool for everyone).
    pub http_workers: u32,
}

impl PgPoolSettings {
    /// Connections of each worker's pool and of the shared pool. The shared pool serves the
    /// background work (generation steps, housekeeping) and a worker's overflow; it keeps a fifth
    /// of the maximum (at least 2, or 1 when the maximum is tiny) and the HTTP workers share the
    /// rest, each at least 1. Splitting into equal parts left a third of the pool idle under HTTP
    /// load (auth/me at 32 connections: 11.9k req/s with 6 + 6 worker connections of 20).
    fn split(&self) -> (u32, u32) {
        let max = self.max_size.max(1);
        if self.http_workers == 0 {
            return (0, max);
        }
        let shared = (max / 5)
            .max(2)
            .min(max.saturating_sub(self.http_workers).max(1));
        let per_worker = ((max - shared) / self.http_workers).max(1);
        (per_worker, shared)
    }

    fn build(&self, max: u32, min_idle: u32) -> Bb8Pool {
        bb8::Pool::builder()
            .max_size(max.max(1))
            .min_idle(Some(min_idle.min(max.max(1))))
            .connection_timeout(self.connection_timeout)
            .idle_timeout(Some(self.idle_timeout))
            .max_lifetime(Some(self.max_lifetime))
            // PgManager::is_valid costs a round trip only after an idle spell
            .test_on_check_out(true)
            .build_unchecked(PgManager {
                url: self.url.clone(),
            })
    }
}

static NEXT_POOL_ID: AtomicU64 = AtomicU64::new(1);

/// Longest a worker queues for one of its own connections before it borrows a shared one.
const OWN_POOL_WAIT: Duration = Duration::from_millis(100);

thread_local! {
    /// The pools of the HTTP worker running on this thread, by [`DbPool`] id.
    static WORKER_POOLS: RefCell<Vec<(u64, Bb8Pool)>> = const { RefCell::new(Vec::new()) };
}

struct Inner {
    id: u64,
    settings: PgPoolSettings,
    shared: Bb8Pool,
    /// Every worker's pool, for the metrics.
    workers: Mutex<Vec<Bb8Pool>>,
}

/// The connection pool handle; cheap to clone.
#[derive(Clone)]
pub struct DbPool {
    inner: Arc<Inner>,
}

impl DbPool {
    /// Gives the calling thread a pool of its own (its share of the maximum), used by every
    /// checkout made on this thread from then on. Call it on each HTTP worker thread (from the
    /// server's app factory); a second call on the same thread does nothing. Must run inside the
    /// worker's Tokio runtime.
    pub fn attach_worker(&self) {
        let (per_worker, _) = self.inner.settings.split();
        if per_worker == 0 {
            return;
        }
        WORKER_POOLS.with(|pools| {
            let mut pools = pools.borrow_mut();
            if pools.iter().any(|(id, _)| *id == self.inner.id) {
                return;
            }
            let s = &self.inner.settings;
            let pool = s.build(per_worker, s.min_idle.div_ceil(s.http_workers + 1));
            self.inner
                .workers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(pool.clone());
            pools.push((self.inner.id, pool));
        });
    }

    /// Checks out a connection from this thread's pool (see [`conn`] for the `StoreError` form).
    pub async fn get(&self) -> Result<DbConn, bb8::RunError<PoolError>> {
        let Some(own) = self.worker_pool() else {
            return self.inner.shared.get_owned().await;
        };
        let st = own.state();
        if st.idle_connections > 0 || st.connections < self.inner.settings.split().0 {
            return own.get_owned().await;
        }
        // All of this worker's connections are out. Queue for one of them a little while (the
        // common case under load: queries stay on this thread), then borrow from the shared
        // pool, so a burst, or a handler holding one connection while it asks for another,
        // never waits behind itself.
        let wait = (self.inner.settings.connection_timeout / 10).min(OWN_POOL_WAIT);
        match tokio::time::timeout(wait, own.get_owned()).await {
            Ok(conn) => conn,
            Err(_) => self.inner.shared.get_owned().await,
        }
    }

    /// This thread's pool when it is an attached worker.
    fn worker_pool(&self) -> Option<Bb8Pool> {
        WORKER_POOLS.with(|pools| {
            pools
                .borrow()
                .iter()
                .find(|(id, _)| *id == self.inner.id)
                .map(|(_, p)| p.clone())
        })
    }
}

/// Builds the pool without connecting: the server starts (and reports `db` DOWN) even when the
/// database is not up yet, and connections are made as they are needed.
/// Connections are opened by [`crate::tls::establish`], so the URL's `sslmode` applies.
pub fn build_pool(settings: &PgPoolSettings) -> DbPool {
    let (_, shared) = settings.split();
    let min_idle = if settings.http_workers == 0 {
        settings.min_idle
    } else {
        settings.min_idle.div_ceil(settings.http_workers + 1)
    };
    DbPool {
        inner: Arc::new(Inner {
            id: NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed),
            settings: settings.clone(),
            shared: settings.build(shared, min_idle),
            workers: Mutex::new(Vec::new()),
        }),
    }
}

/// Checks out a connection, mapping every pool failure (timeout, refused) to `Unavailable`.
pub async fn conn(pool: &DbPool) -> Result<DbConn, StoreError> {
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
    let mut c = conn(pool).await.context("get a database connection")?;
    diesel::sql_query("SELECT 1")
        .execute(&mut c)
        .await
        .context("run the validation query")?;
    Ok(())
}

/// Pool usage for metrics: (open connections, idle connections) over the shared pool and every
/// worker's pool.
pub fn pool_state(pool: &DbPool) -> (u32, u32) {
    let workers = pool.inner.workers.lock().unwrap_or_else(|e| e.into_inner());
    std::iter::once(&pool.inner.shared)
        .chain(workers.iter())
        .map(|p| p.state())
        .fold((0, 0), |(open, idle), s| {
            (open + s.connections, idle + s.idle_connections)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn settings(max_size: u32, http_workers: u32) -> PgPoolSettings {
        PgPoolSettings {
            url: String::new(),
            max_size,
            min_idle: 0,
            connection_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(1800),
            http_workers,
        }
    }

    #[test]
    fn the_guide_sizes_give_the_workers_most_of_the_pool() {
        assert_eq!(settings(20, 2).split(), (8, 4));
        assert_eq!(settings(50, 2).split(), (20, 10));
        assert_eq!(settings(20, 0).split(), (0, 20));
    }

    proptest! {
        /// Never more than the maximum (unless it is smaller than one connection per pool), every
        /// pool at least one connection, and the shared pool never more than a fifth once the
        /// maximum allows two.
        #[test]
        fn the_split_stays_within_the_maximum(max in 0u32..400, workers in 0u32..64) {
            let (per_worker, shared) = settings(max, workers).split();
            prop_assert!(shared >= 1);
            if workers == 0 {
                prop_assert_eq!((per_worker, shared), (0, max.max(1)));
            } else {
                prop_assert!(per_worker >= 1);
                let total = per_worker * workers + shared;
                prop_assert!(total <= max.max(workers + 1), "{} > {}", total, max);
                if max >= 10 && max >= workers + 2 {
                    prop_assert!(shared <= max / 5 || shared == 2);
                    prop_assert!(total + workers > max, "{} connections left unused", max - total);
                }
            }
        }
    }
}
