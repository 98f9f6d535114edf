//! Per-worker pools: an HTTP worker uses its own connections while it has one free, and borrows
//! from the shared pool when they are all checked out, instead of queueing behind itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ingenio_postgres::pool::build_pool;
use ingenio_postgres::PgPoolSettings;
use ingenio_testkit::db::database_url;
use std::time::Duration;

#[tokio::test(flavor = "current_thread")]
async fn a_worker_with_all_its_connections_out_borrows_from_the_shared_pool() {
    // 6 connections for 2 workers: 2 per worker, 2 shared
    let settings = PgPoolSettings {
        url: database_url("postgres"),
        max_size: 6,
        min_idle: 0,
        connection_timeout: Duration::from_millis(1500),
        idle_timeout: Duration::from_secs(60),
        max_lifetime: Duration::from_secs(600),
        http_workers: 2,
    };
    let pool = build_pool(&settings);
    pool.attach_worker(); // this thread is a worker now
    let mut held = Vec::new();
    for i in 0..4 {
        held.push(
            pool.get()
                .await
                .unwrap_or_else(|e| panic!("connection {i} of 4: {e}")),
        );
    }
    // the worker's two and the shared two are out: the fifth waits and times out
    assert!(
        pool.get().await.is_err(),
        "only six connections, two of another worker"
    );
    // one back to the worker's pool: it is used again
    held.remove(0);
    assert!(pool.get().await.is_ok());
}
