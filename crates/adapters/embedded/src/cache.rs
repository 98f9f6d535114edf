//! The in-process project-listing cache (`ProjectCache`) used when Redis is not configured:
//! entries with a TTL and counters in memory, bounded in size. Only right for one instance —
//! evictions do not reach other processes — which is the only deployment without Redis.

use crate::failover::CircuitBreaker;
use async_trait::async_trait;
use ingenio_projects::ports::ProjectCache;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How many entries the cache holds at most; past that, expired entries are swept and, if the
/// map is still full, it is cleared (a cache may always forget).
pub const DEFAULT_MAX_ENTRIES: usize = 10_000;

/// Entries and counters in this process.
#[derive(Debug)]
pub struct InProcessProjectCache {
    max_entries: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<String, (String, Instant)>,
    counters: HashMap<String, u64>,
}

impl Default for InProcessProjectCache {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_ENTRIES)
    }
}

impl InProcessProjectCache {
    pub fn new(max_entries: usize) -> Self {
        Self {
            max_entries: max_entries.max(1),
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // every update is a single map operation, so a poisoned lock is still consistent
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Entries currently held (expired ones included until swept).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl ProjectCache for InProcessProjectCache {
    async fn get(&self, key: &str) -> anyhow::Result<Option<String>> {
        let mut s = self.lock();
        match s.entries.get(key) {
            Some((v, until)) if Instant::now() < *until => Ok(Some(v.clone())),
            Some(_) => {
                s.entries.remove(key);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    async fn put(&self, key: &str, value: &str, ttl: Duration) -> anyhow::Result<()> {
        let now = Instant::now();
        let mut s = self.lock();
        if s.entries.len() >= self.max_entries && !s.entries.contains_key(key) {
            s.entries.retain(|_, (_, until)| now < *until);
            if s.entries.len() >= self.max_entries {
                s.entries.clear();
            }
        }
        s.entries
            .insert(key.to_owned(), (value.to_owned(), now + ttl));
        Ok(())
    }

    async fn counter(&self, key: &str) -> anyhow::Result<u64> {
        Ok(self.lock().counters.get(key).copied().unwrap_or(0))
    }

    async fn bump(&self, key: &str) -> anyhow::Result<u64> {
        let mut s = self.lock();
        let c = s.counters.entry(key.to_owned()).or_insert(0);
        *c += 1;
        Ok(*c)
    }

    fn backend(&self) -> &'static str {
        "embedded"
    }
}

/// A shared cache (Redis) behind a [`CircuitBreaker`]: after a failure, calls fail at once for
/// the cool-down (the caller reads the database) instead of each waiting for the timeout; one
/// call then probes the backend. Warnings are rate-limited by the breaker.
pub struct GuardedProjectCache {
    inner: Arc<dyn ProjectCache>,
    breaker: CircuitBreaker,
}

impl GuardedProjectCache {
    pub fn new(inner: Arc<dyn ProjectCache>) -> Self {
        Self {
            inner,
            breaker: CircuitBreaker::new("project cache"),
        }
    }

    /// Whether the backend is currently considered down.
    pub fn degraded(&self) -> bool {
        self.breaker.degraded()
    }

    async fn guarded<T>(
        &self,
        call: impl std::future::Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        if !self.breaker.try_primary() {
            return Err(anyhow::anyhow!(
                "{} cache skipped while it recovers",
                self.inner.backend()
            ));
        }
        match call.await {
            Ok(v) => {
                self.breaker.on_primary_ok();
                Ok(v)
            }
            Err(e) => {
                self.breaker
                    .on_primary_err(self.inner.backend(), "database", &e);
                Err(e)
            }
        }
    }
}

#[async_trait]
impl ProjectCache for GuardedProjectCache {
    async fn get(&self, key: &str) -> anyhow::Result<Option<String>> {
        self.guarded(self.inner.get(key)).await
    }
    async fn put(&self, key: &str, value: &str, ttl: Duration) -> anyhow::Result<()> {
        self.guarded(self.inner.put(key, value, ttl)).await
    }
    async fn counter(&self, key: &str) -> anyhow::Result<u64> {
        self.guarded(self.inner.counter(key)).await
    }
    async fn bump(&self, key: &str) -> anyhow::Result<u64> {
        self.guarded(self.inner.bump(key)).await
    }
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[tokio::test]
    async fn entries_expire_counters_count_and_size_is_bounded() {
        let c = InProcessProjectCache::new(2);
        c.put("a", "1", Duration::from_millis(30)).await.unwrap();
        assert_eq!(c.get("a").await.unwrap().as_deref(), Some("1"));
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(c.get("a").await.unwrap(), None);
        for k in ["x", "y", "z"] {
            c.put(k, k, Duration::from_secs(60)).await.unwrap();
        }
        assert!(c.len() <= 2, "bounded: {}", c.len());
        assert_eq!(c.get("z").await.unwrap().as_deref(), Some("z"));
        assert_eq!(c.counter("g").await.unwrap(), 0);
        assert_eq!(c.bump("g").await.unwrap(), 1);
        assert_eq!(c.bump("g").await.unwrap(), 2);
        assert_eq!(c.counter("g").await.unwrap(), 2);
    }
}
