//! The Redis connection pool: lazy bb8-redis connections, a hard timeout around every command and
//! the `INFO server` health probe.

use anyhow::{anyhow, bail, Context as _};
use bb8_redis::bb8::{self, ErrorSink};
use bb8_redis::redis::{self, aio::MultiplexedConnection, FromRedisValue, RedisError};
use bb8_redis::RedisConnectionManager;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How to reach Redis.
#[derive(Clone)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]`.
    pub url: String,
    /// Bound on getting a connection and on every command.
    pub timeout: Duration,
    /// Prepended to every key this process writes (e.g. `"ingenio:"`), so several environments
    /// or tests can share one server.
    pub key_prefix: String,
    /// Maximum number of pooled connections.
    pub max_size: u32,
}

impl RedisConfig {
    /// A config for `url` with a 2 s timeout, prefix `ingenio:` and at most 16 connections.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            timeout: Duration::from_secs(2),
            key_prefix: "ingenio:".to_owned(),
            max_size: 16,
        }
    }
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &redact_url(&self.url))
            .field("timeout", &self.timeout)
            .field("key_prefix", &self.key_prefix)
            .field("max_size", &self.max_size)
            .finish()
    }
}

/// The URL with any password replaced by `***`, for logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or("", |(u, _)| u);
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => url.to_owned(),
    }
}

/// What the health probe learned about the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisHealth {
    /// `redis_version` from `INFO server`.
    pub version: String,
}

/// Remembers the last background connection error so a timed-out checkout can say why.
#[derive(Debug, Clone, Default)]
struct LastError(Arc<Mutex<Option<String>>>);

impl LastError {
    fn get(&self) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
    fn set(&self, err: String) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(err);
    }
}

impl ErrorSink<RedisError> for LastError {
    fn sink(&self, err: RedisError) {
        tracing::debug!(error = %err, "redis connection error");
        self.set(err.to_string());
    }

    fn boxed_clone(&self) -> Box<dyn ErrorSink<RedisError>> {
        Box::new(self.clone())
    }
}

/// A cheap-to-clone handle on the pool.
///
/// Invariants: building it never touches the network (connections are opened on first use, so
/// the server starts while Redis is down); every operation — checkout plus command — finishes
/// or fails within `timeout`; a connection that died is detected by the PING on checkout and
/// replaced, so the pool recovers by itself when Redis comes back.
#[derive(Clone)]
pub struct RedisPool {
    pool: bb8::Pool<RedisConnectionManager>,
    timeout: Duration,
    key_prefix: Arc<str>,
    last_error: LastError,
}

impl std::fmt::Debug for RedisPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (connections, idle) = self.state();
        f.debug_struct("RedisPool")
            .field("timeout", &self.timeout)
            .field("key_prefix", &self.key_prefix)
            .field("connections", &connections)
            .field("idle", &idle)
            .finish()
    }
}

impl RedisPool {
    /// Builds the pool without connecting. Must be called inside a Tokio runtime (the pool
    /// spawns its reaper task).
    pub fn new(cfg: RedisConfig) -> anyhow::Result<Self> {
        if cfg.timeout.is_zero() {
            bail!("redis timeout must be greater than zero");
        }
        if cfg.max_size == 0 {
            bail!("redis pool max size must be greater than zero");
        }
        tokio::runtime::Handle::try_current()
            .context("redis pool must be created inside a tokio runtime")?;
        let manager = RedisConnectionManager::new(cfg.url.as_str())
            .with_context(|| format!("invalid redis url {}", redact_url(&cfg.url)))?;
        let last_error = LastError::default();
        let pool = bb8::Pool::builder()
            .max_size(cfg.max_size)
            .connection_timeout(cfg.timeout)
            .test_on_check_out(true)
            .error_sink(Box::new(last_error.clone()))
            .build_unchecked(manager);
        Ok(Self {
            pool,
            timeout: cfg.timeout,
            key_prefix: cfg.key_prefix.into(),
            last_error,
        })
    }

    /// The bound on every operation.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The prefix for every key this process writes.
    pub fn key_prefix(&self) -> &str {
        &self.key_prefix
    }

    /// `(connections, idle)` currently held by the pool.
    pub fn state(&self) -> (u32, u32) {
        let s = self.pool.state();
        (s.connections, s.idle_connections)
    }

    /// Checks out a connection and runs `op` on it, all within the timeout.
    pub async fn with_connection<T, F, Fut>(&self, op: F) -> anyhow::Result<T>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let work = async {
            let conn = match self.pool.get().await {
                Ok(conn) => conn,
                Err(bb8::RunError::User(err)) => {
                    return Err(anyhow::Error::new(err).context("get redis connection"))
                }
                Err(bb8::RunError::TimedOut) => return Err(self.checkout_timed_out()),
            };
            // A multiplexed connection is a cheap handle on one socket; the pooled one goes back
            // to the pool when this scope ends.
            let handle = conn.clone();
            let result = op(handle).await;
            drop(conn);
            result.context("redis command")
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(anyhow!(
                "redis operation timed out after {} ms",
                self.timeout.as_millis()
            )),
        }
    }

    fn checkout_timed_out(&self) -> anyhow::Error {
        match self.last_error.get() {
            Some(last) => anyhow!(
                "no redis connection within {} ms (last error: {last})",
                self.timeout.as_millis()
            ),
            None => anyhow!("no redis connection within {} ms", self.timeout.as_millis()),
        }
    }

    /// Runs one command within the timeout.
    pub async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> anyhow::Result<T> {
        self.with_connection(|mut conn| async move { cmd.query_async(&mut conn).await })
            .await
    }

    /// Runs one script invocation (EVALSHA, loading the script on NOSCRIPT) within the timeout.
    pub async fn invoke<T: FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> anyhow::Result<T> {
        self.with_connection(|mut conn| async move { invocation.invoke_async(&mut conn).await })
            .await
    }

    /// The health probe: `INFO server`, reporting the server version.
    pub async fn ping(&self) -> anyhow::Result<RedisHealth> {
        let mut cmd = redis::cmd("INFO");
        cmd.arg("server");
        let info: String = self.query(&cmd).await.context("redis health probe")?;
        let version = info
            .lines()
            .find_map(|line| line.strip_prefix("redis_version:"))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned());
        Ok(RedisHealth { version })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact_url("redis://user:secret@example.com:6379/2"),
            "redis://user:***@example.com:6379/2"
        );
        assert_eq!(redact_url("redis://:secret@h:1"), "redis://:***@h:1");
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        assert!(!format!("{:?}", RedisConfig::new("redis://:pw@h:1/0")).contains("pw"));
    }

    #[test]
    fn new_outside_a_runtime_is_an_error_not_a_panic() {
        let err = RedisPool::new(RedisConfig::new("redis://127.0.0.1:6379")).unwrap_err();
        assert!(err.to_string().contains("tokio runtime"), "{err}");
    }

    #[tokio::test]
    async fn rejects_bad_settings_without_connecting() {
        let mut cfg = RedisConfig::new("redis://127.0.0.1:6379");
        cfg.timeout = Duration::ZERO;
        assert!(RedisPool::new(cfg).is_err());
        let mut cfg = RedisConfig::new("redis://127.0.0.1:6379");
        cfg.max_size = 0;
        assert!(RedisPool::new(cfg).is_err());
        assert!(RedisPool::new(RedisConfig::new("not a url")).is_err());
        let pool = RedisPool::new(RedisConfig::new("redis://127.0.0.1:1")).unwrap();
        assert_eq!(pool.state(), (0, 0), "no connection is made up front");
    }
}
