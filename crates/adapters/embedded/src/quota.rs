//! The AI quota in process (fixed one-hour windows), used when Redis is not configured, and the
//! failover quota that falls back to it while a configured Redis is unreachable.

use async_trait::async_trait;
use ingenio_app_specs::ports::{AiQuota, QuotaState, Reservation};
use ingenio_kernel::UserId;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const WINDOW: Duration = Duration::from_secs(3600);

fn window_now() -> (u64, Duration) {
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let w = n.as_secs() / WINDOW.as_secs();
    let end = Duration::from_secs((w + 1) * WINDOW.as_secs());
    (w, end.saturating_sub(n).max(Duration::from_secs(1)))
}

#[derive(Default)]
struct Window {
    used: u32,
    reservations: HashSet<String>,
}

/// Per-user counters of the current hour, in this process only.
#[derive(Default)]
pub struct InProcessAiQuota {
    windows: Mutex<HashMap<(String, u64), Window>>,
    seq: AtomicU64,
}

impl InProcessAiQuota {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> anyhow::Result<MutexGuard<'_, HashMap<(String, u64), Window>>> {
        self.windows
            .lock()
            .map_err(|_| anyhow::anyhow!("quota lock poisoned"))
    }
}

#[async_trait]
impl AiQuota for InProcessAiQuota {
    async fn reserve(
        &self,
        user: UserId,
        limit: u32,
    ) -> anyhow::Result<(QuotaState, Option<Reservation>)> {
        let (w, reset_after) = window_now();
        let mut map = self.lock()?;
        map.retain(|(_, win), _| *win >= w);
        let entry = map.entry((user.to_string(), w)).or_default();
        if entry.used >= limit {
            return Ok((
                QuotaState {
                    allowed: false,
                    limit,
                    used: entry.used,
                    reset_after,
                },
                None,
            ));
        }
        entry.used += 1;
        let id = format!("e:{user}:{w}:{}", self.seq.fetch_add(1, Ordering::Relaxed));
        entry.reservations.insert(id.clone());
        Ok((
            QuotaState {
                allowed: true,
                limit,
                used: entry.used,
                reset_after,
            },
            Some(Reservation(id)),
        ))
    }

    async fn refund(&self, reservation: &Reservation) -> anyhow::Result<()> {
        let mut parts = reservation.0.splitn(4, ':');
        let (Some("e"), Some(user), Some(window)) = (parts.next(), parts.next(), parts.next())
        else {
            return Ok(());
        };
        let Ok(window) = window.parse::<u64>() else {
            return Ok(());
        };
        let mut map = self.lock()?;
        if let Some(entry) = map.get_mut(&(user.to_owned(), window)) {
            if entry.reservations.remove(&reservation.0) {
                entry.used = entry.used.saturating_sub(1);
            }
        }
        Ok(())
    }

    async fn peek(&self, user: UserId, limit: u32) -> anyhow::Result<QuotaState> {
        let (w, reset_after) = window_now();
        let map = self.lock()?;
        let used = map.get(&(user.to_string(), w)).map(|e| e.used).unwrap_or(0);
        Ok(QuotaState {
            allowed: used < limit,
            limit,
            used,
            reset_after,
        })
    }
}

/// Uses the shared quota, and the in-process one while the shared one is unreachable (with a
/// short circuit breaker so an outage adds no latency). Refunds go to whichever issued them.
pub struct FailoverAiQuota {
    primary: Arc<dyn AiQuota>,
    fallback: Arc<dyn AiQuota>,
    open_until: Mutex<Option<Instant>>,
    cool_down: Duration,
}

impl FailoverAiQuota {
    pub fn new(primary: Arc<dyn AiQuota>, fallback: Arc<dyn AiQuota>) -> Self {
        Self {
            primary,
            fallback,
            open_until: Mutex::new(None),
            cool_down: Duration::from_secs(5),
        }
    }

    fn breaker_open(&self) -> bool {
        self.open_until
            .lock()
            .map(|g| g.is_some_and(|t| Instant::now() < t))
            .unwrap_or(false)
    }

    fn trip(&self, e: &anyhow::Error) {
        tracing::warn!(
            error = format!("{e:#}"),
            "shared AI quota unreachable; using the in-process quota"
        );
        if let Ok(mut g) = self.open_until.lock() {
            *g = Some(Instant::now() + self.cool_down);
        }
    }
}

#[async_trait]
impl AiQuota for FailoverAiQuota {
    async fn reserve(
        &self,
        user: UserId,
        limit: u32,
    ) -> anyhow::Result<(QuotaState, Option<Reservation>)> {
        if !self.breaker_open() {
            match self.primary.reserve(user, limit).await {
                Ok(r) => return Ok(r),
                Err(e) => self.trip(&e),
            }
        }
        self.fallback.reserve(user, limit).await
    }

    async fn refund(&self, reservation: &Reservation) -> anyhow::Result<()> {
        if reservation.0.starts_with("e:") {
            return self.fallback.refund(reservation).await;
        }
        match self.primary.refund(reservation).await {
            Ok(()) => Ok(()),
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "could not refund an AI quota reservation"
                );
                Err(e)
            }
        }
    }

    async fn peek(&self, user: UserId, limit: u32) -> anyhow::Result<QuotaState> {
        if !self.breaker_open() {
            match self.primary.peek(user, limit).await {
                Ok(s) => return Ok(s),
                Err(e) => self.trip(&e),
            }
        }
        self.fallback.peek(user, limit).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[tokio::test]
    async fn reserve_until_the_limit_and_refund_once() {
        let q = InProcessAiQuota::new();
        let u = UserId::new_random();
        let (_, a) = q.reserve(u, 2).await.unwrap();
        let (_, b) = q.reserve(u, 2).await.unwrap();
        let (s, c) = q.reserve(u, 2).await.unwrap();
        assert!(a.is_some() && b.is_some());
        assert!(c.is_none());
        assert!(!s.allowed);
        q.refund(a.as_ref().unwrap()).await.unwrap();
        q.refund(a.as_ref().unwrap()).await.unwrap();
        assert_eq!(
            q.peek(u, 2).await.unwrap().used,
            1,
            "a double refund counts once"
        );
        assert!(q.reserve(u, 2).await.unwrap().1.is_some());
        assert!(
            q.reserve(UserId::new_random(), 2)
                .await
                .unwrap()
                .1
                .is_some(),
            "users are independent"
        );
    }
}
