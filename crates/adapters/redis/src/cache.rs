//! The project-listing cache on Redis (`ProjectCache`): plain `GET`/`SET PX` entries and `INCR`
//! counters under the configured key prefix. Errors are returned; the projects service falls
//! back to the database and counts them.

use crate::pool::RedisPool;
use async_trait::async_trait;
use bb8_redis::redis;
use ingenio_projects::ports::ProjectCache;
use std::time::Duration;

/// `ProjectCache` over the shared pool; every key is `{prefix}{key}`.
#[derive(Clone)]
pub struct RedisProjectCache {
    pool: RedisPool,
}

impl RedisProjectCache {
    pub fn new(pool: RedisPool) -> Self {
        Self { pool }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.pool.key_prefix())
    }
}

#[async_trait]
impl ProjectCache for RedisProjectCache {
    async fn get(&self, key: &str) -> anyhow::Result<Option<String>> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.key(key));
        self.pool.query(&cmd).await
    }

    async fn put(&self, key: &str, value: &str, ttl: Duration) -> anyhow::Result<()> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key))
            .arg(value)
            .arg("PX")
            .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1));
        let _: () = self.pool.query(&cmd).await?;
        Ok(())
    }

    async fn counter(&self, key: &str) -> anyhow::Result<u64> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.key(key));
        let v: Option<u64> = self.pool.query(&cmd).await?;
        Ok(v.unwrap_or(0))
    }

    async fn bump(&self, key: &str) -> anyhow::Result<u64> {
        // no expiry: a counter that vanished and restarted could meet entries of its past values
        let mut cmd = redis::cmd("INCR");
        cmd.arg(self.key(key));
        self.pool.query(&cmd).await
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}
