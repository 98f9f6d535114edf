//! The shared fixed-window rate limiter on Redis: one atomic Lua script per hit, so every
//! instance of the server counts against the same windows.

use crate::pool::RedisPool;
use async_trait::async_trait;
use bb8_redis::redis;
use ingenio_kernel::{RateDecision, RateLimiter};
use std::sync::Arc;
use std::time::Duration;

/// INCR the counter; the first hit of a window sets its expiry; return the count and the time
/// left. A key that somehow lost its expiry gets it back, so no counter can live forever.
const HIT_SCRIPT: &str = r"
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
";

/// Counts hits in Redis under `{prefix}rl:{key}`.
///
/// The window of a key starts at its first hit and lasts `window`; when the key expires the next
/// hit starts a new window. INCR, PEXPIRE and PTTL run in one script, so concurrent hits from any
/// number of instances never allow more than `limit` per window.
#[derive(Clone)]
pub struct RedisRateLimiter {
    pool: RedisPool,
    script: Arc<redis::Script>,
}

impl std::fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("pool", &self.pool)
            .finish()
    }
}

impl RedisRateLimiter {
    pub fn new(pool: RedisPool) -> Self {
        Self {
            pool,
            script: Arc::new(redis::Script::new(HIT_SCRIPT)),
        }
    }

    /// The Redis key that holds the counter for `key`.
    pub fn redis_key(&self, key: &str) -> String {
        format!("{}rl:{key}", self.pool.key_prefix())
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn hit(&self, key: &str, limit: u32, window: Duration) -> anyhow::Result<RateDecision> {
        let window_ms = u64::try_from(window.as_millis())
            .unwrap_or(u64::MAX)
            .clamp(1, i64::MAX as u64);
        let mut invocation = self.script.key(self.redis_key(key));
        invocation.arg(window_ms);
        let (count, ttl_ms): (i64, i64) = self.pool.invoke(&invocation).await?;
        Ok(decide(count, ttl_ms, limit, window_ms))
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}

/// Turns the script's `(count, pttl)` into a decision; `reset_after` is kept in `(0, window]`.
fn decide(count: i64, ttl_ms: i64, limit: u32, window_ms: u64) -> RateDecision {
    let count = u32::try_from(count.max(0)).unwrap_or(u32::MAX);
    let allowed = count <= limit;
    let ttl_ms = u64::try_from(ttl_ms)
        .unwrap_or(window_ms)
        .clamp(1, window_ms);
    RateDecision {
        allowed,
        limit,
        remaining: if allowed { limit - count } else { 0 },
        reset_after: Duration::from_millis(ttl_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_from_script_reply() {
        let d = decide(1, 60_000, 3, 60_000);
        assert!(d.allowed);
        assert_eq!(d.remaining, 2);
        assert_eq!(d.reset_after, Duration::from_secs(60));
        let d = decide(3, 10, 3, 60_000);
        assert!(d.allowed);
        assert_eq!(d.remaining, 0);
        let d = decide(4, 0, 3, 60_000);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        assert_eq!(d.reset_after, Duration::from_millis(1));
        let d = decide(i64::MAX, -1, u32::MAX, 1000);
        assert!(d.allowed, "saturates at u32::MAX");
        assert_eq!(d.reset_after, Duration::from_secs(1));
    }
}
