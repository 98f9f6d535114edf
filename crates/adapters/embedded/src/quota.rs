//! The AI quota in process (fixed one-hour windows), used when Redis is not configured, and the
//! failover quota that falls back to it while a configured Redis is unreachable.

use crate::failover::{CircuitBreaker, FallbackHook};
use async_trait::async_trait;
use ingenio_app_specs::ports::{AiQuota, QuotaState, Reservation};
use ingenio_kernel::UserId;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

/// Uses the shared quota, and the in-process one while the shared one is unreachable, behind the
/// same [`CircuitBreaker`] as the failover rate limiter (an outage adds no latency and one probe
/// at a time finds the recovery). Refunds go to whichever issued them.
pub struct FailoverAiQuota {
    primary: Arc<dyn AiQuota>,
    fallback: Arc<dyn AiQuota>,
    breaker: CircuitBreaker,
    on_fallback: Option<FallbackHook>,
}

impl FailoverAiQuota {
    pub fn new(primary: Arc<dyn AiQuota>, fallback: Arc<dyn AiQuota>) -> Self {
        Self {
            primary,
            fallback,
            breaker: CircuitBreaker::new("AI quota"),
            on_fallback: None,
        }
    }

    /// Calls `hook("ai_quota")` for every reserve or peek answered by the in-process quota.
    #[must_use]
    pub fn with_fallback_hook(mut self, hook: FallbackHook) -> Self {
        self.on_fallback = Some(hook);
        self
    }

    /// Whether the shared quota is currently considered down.
    pub fn degraded(&self) -> bool {
        self.breaker.degraded()
    }

    /// Runs `call` on the primary when the breaker allows it, else (or when it fails) on the
    /// fallback.
    async fn route<'a, T, F, Fut>(&'a self, call: F) -> anyhow::Result<T>
    where
        F: Fn(&'a dyn AiQuota) -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<T>> + 'a,
    {
        if self.breaker.try_primary() {
            match call(self.primary.as_ref()).await {
                Ok(v) => {
                    self.breaker.on_primary_ok();
                    return Ok(v);
                }
                Err(e) => self.breaker.on_primary_err("shared", "in-process", &e),
            }
        }
        if let Some(hook) = &self.on_fallback {
            hook("ai_quota");
        }
        call(self.fallback.as_ref()).await
    }
}

#[async_trait]
impl AiQuota for FailoverAiQuota {
    async fn reserve(
        &self,
        user: UserId,
        limit: u32,
    ) -> anyhow::Result<(QuotaState, Option<Reservation>)> {
        self.route(|q| q.reserve(user, limit)).await
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
        self.route(|q| q.peek(user, limit)).await
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

    /// A shared quota that fails while `down` is set and counts its calls.
    #[derive(Default)]
    struct Flaky {
        down: std::sync::atomic::AtomicBool,
        calls: std::sync::atomic::AtomicUsize,
        inner: InProcessAiQuota,
    }

    impl Flaky {
        fn called(&self) -> anyhow::Result<()> {
            use std::sync::atomic::Ordering::SeqCst;
            self.calls.fetch_add(1, SeqCst);
            if self.down.load(SeqCst) {
                anyhow::bail!("shared quota unreachable");
            }
            Ok(())
        }
    }

    #[async_trait]
    impl AiQuota for Flaky {
        async fn reserve(
            &self,
            user: UserId,
            limit: u32,
        ) -> anyhow::Result<(QuotaState, Option<Reservation>)> {
            self.called()?;
            self.inner.reserve(user, limit).await
        }
        async fn refund(&self, reservation: &Reservation) -> anyhow::Result<()> {
            self.called()?;
            self.inner.refund(reservation).await
        }
        async fn peek(&self, user: UserId, limit: u32) -> anyhow::Result<QuotaState> {
            self.called()?;
            self.inner.peek(user, limit).await
        }
    }

    #[tokio::test]
    async fn failover_quota_skips_a_failing_primary_during_the_cool_down() {
        use std::sync::atomic::Ordering::SeqCst;
        let primary = Arc::new(Flaky::default());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let q = FailoverAiQuota::new(primary.clone(), Arc::new(InProcessAiQuota::new()))
            .with_fallback_hook(Arc::new(move |c| log.lock().unwrap().push(c)));
        let u = UserId::new_random();
        assert!(q.reserve(u, 5).await.unwrap().1.is_some());
        assert_eq!(primary.calls.load(SeqCst), 1);
        assert!(!q.degraded());

        primary.down.store(true, SeqCst);
        let (_, r) = q.reserve(u, 5).await.unwrap();
        let r = r.expect("the in-process quota answered");
        assert!(q.degraded());
        assert_eq!(primary.calls.load(SeqCst), 2, "one failed try");
        q.peek(u, 5).await.unwrap();
        assert_eq!(
            primary.calls.load(SeqCst),
            2,
            "breaker open: primary untouched"
        );
        // the fallback's reservation is refunded where it was made
        q.refund(&r).await.unwrap();
        assert_eq!(primary.calls.load(SeqCst), 2);
        assert_eq!(
            *seen.lock().unwrap(),
            ["ai_quota", "ai_quota"],
            "the reserve and the peek served by the fallback were reported, not the refund"
        );
    }
}
