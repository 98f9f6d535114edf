//! The per-user AI quota on Redis: fixed one-hour windows shared by every instance. A
//! reservation is recorded in a set beside the counter so a refund is counted at most once.

use crate::pool::RedisPool;
use async_trait::async_trait;
use bb8_redis::redis;
use ingenio_app_specs::ports::{AiQuota, QuotaState, Reservation};
use ingenio_kernel::UserId;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// KEYS: counter, reservations set. ARGV: limit, reservation id, ttl ms.
/// Returns {allowed (0/1), used}.
const RESERVE: &str = r"
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used >= tonumber(ARGV[1]) then
  return {0, used}
end
used = redis.call('INCR', KEYS[1])
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return {1, used}
";

/// KEYS: counter, reservations set. ARGV: reservation id. Returns 1 when something was refunded.
const REFUND: &str = r"
if redis.call('SREM', KEYS[2], ARGV[1]) == 1 then
  local used = tonumber(redis.call('GET', KEYS[1]) or '0')
  if used > 0 then
    redis.call('DECR', KEYS[1])
  end
  return 1
end
return 0
";

const WINDOW: Duration = Duration::from_secs(3600);

/// The AI quota on Redis under `{prefix}ai:{user}:{window}`.
#[derive(Clone)]
pub struct RedisAiQuota {
    pool: RedisPool,
    reserve: Arc<redis::Script>,
    refund: Arc<redis::Script>,
}

impl RedisAiQuota {
    pub fn new(pool: RedisPool) -> Self {
        Self {
            pool,
            reserve: Arc::new(redis::Script::new(RESERVE)),
            refund: Arc::new(redis::Script::new(REFUND)),
        }
    }

    fn keys(&self, user: &str, window: u64) -> (String, String) {
        let p = self.pool.key_prefix();
        (
            format!("{p}ai:{user}:{window}"),
            format!("{p}ai:{user}:{window}:res"),
        )
    }
}

fn now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// The current window's index and the time until it ends.
pub fn current_window() -> (u64, Duration) {
    let n = now();
    let w = n.as_secs() / WINDOW.as_secs();
    let end = Duration::from_secs((w + 1) * WINDOW.as_secs());
    (w, end.saturating_sub(n).max(Duration::from_secs(1)))
}

#[async_trait]
impl AiQuota for RedisAiQuota {
    async fn reserve(
        &self,
        user: UserId,
        limit: u32,
    ) -> anyhow::Result<(QuotaState, Option<Reservation>)> {
        let (window, reset_after) = current_window();
        let user = user.to_string();
        let (counter, set) = self.keys(&user, window);
        let id = format!("r:{user}:{window}:{}", uuid_like());
        let mut inv = self.reserve.key(&counter);
        inv.key(&set)
            .arg(limit)
            .arg(&id)
            .arg(u64::try_from(reset_after.as_millis()).unwrap_or(3_600_000) + 60_000);
        let (allowed, used): (i64, i64) = self.pool.invoke(&inv).await?;
        let state = QuotaState {
            allowed: allowed == 1,
            limit,
            used: u32::try_from(used.max(0)).unwrap_or(u32::MAX),
            reset_after,
        };
        Ok((state, (allowed == 1).then_some(Reservation(id))))
    }

    async fn refund(&self, reservation: &Reservation) -> anyhow::Result<()> {
        let mut parts = reservation.0.splitn(4, ':');
        let (Some("r"), Some(user), Some(window)) = (parts.next(), parts.next(), parts.next())
        else {
            return Ok(());
        };
        let Ok(window) = window.parse::<u64>() else {
            return Ok(());
        };
        let (counter, set) = self.keys(user, window);
        let mut inv = self.refund.key(&counter);
        inv.key(&set).arg(&reservation.0);
        let _: i64 = self.pool.invoke(&inv).await?;
        Ok(())
    }

    async fn peek(&self, user: UserId, limit: u32) -> anyhow::Result<QuotaState> {
        let (window, reset_after) = current_window();
        let (counter, _) = self.keys(&user.to_string(), window);
        let mut cmd = redis::cmd("GET");
        cmd.arg(&counter);
        let used: Option<i64> = self.pool.query(&cmd).await?;
        let used = u32::try_from(used.unwrap_or(0).max(0)).unwrap_or(u32::MAX);
        Ok(QuotaState {
            allowed: used < limit,
            limit,
            used,
            reset_after,
        })
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    format!(
        "{:x}{:x}{:x}",
        now().as_nanos(),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}
