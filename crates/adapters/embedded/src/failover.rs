//! The circuit breaker shared by the failover rate limiter and the failover AI quota, and the
//! rate limiter that uses a primary (shared, e.g. Redis) limiter and falls back to a secondary
//! (in-process) one behind it, so an outage of the primary never adds latency to every request.

use async_trait::async_trait;
use ingenio_kernel::{RateDecision, RateLimiter};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Default time the breaker stays open after a primary failure.
pub const DEFAULT_COOL_DOWN: Duration = Duration::from_secs(5);
/// Default minimum time between two warnings about the primary failing.
pub const DEFAULT_WARN_INTERVAL: Duration = Duration::from_secs(60);

/// Called once per call answered by the fallback, with the component's metric label
/// (`rate_limiter` or `ai_quota`); the app counts it as `ingenio_redis_fallback_total{component}`.
/// Keeps this crate free of any metrics library.
pub type FallbackHook = Arc<dyn Fn(&'static str) + Send + Sync>;

/// A circuit breaker in front of a primary backend with an in-process fallback; shared by the
/// failover rate limiter and the failover AI quota.
///
/// - Closed (healthy): every call goes to the primary.
/// - A primary error opens the breaker for `cool_down`: that call and every call during the
///   cool-down go straight to the fallback, without touching the primary.
/// - After the cool-down exactly one call probes the primary (the others keep using the fallback
///   meanwhile); success closes the breaker, failure re-opens it for another cool-down.
///
/// Warnings are rate-limited to one per `warn_interval` (with the number of suppressed failures),
/// plus one info line when the primary recovers.
#[derive(Debug)]
pub struct CircuitBreaker {
    /// What is protected, for the log lines (e.g. `rate limiter`, `AI quota`).
    what: &'static str,
    cool_down: Duration,
    warn_interval: Duration,
    state: Mutex<Breaker>,
    /// Mirror of `state.open_until.is_some()` for lock-free reads.
    degraded: AtomicBool,
}

#[derive(Debug, Default)]
struct Breaker {
    /// `Some` while degraded: the primary is not tried before this instant.
    open_until: Option<Instant>,
    last_warn: Option<Instant>,
    suppressed: u64,
}

impl CircuitBreaker {
    /// A closed breaker with the default cool-down (5 s) and warning interval (60 s).
    pub fn new(what: &'static str) -> Self {
        Self {
            what,
            cool_down: DEFAULT_COOL_DOWN,
            warn_interval: DEFAULT_WARN_INTERVAL,
            state: Mutex::new(Breaker::default()),
            degraded: AtomicBool::new(false),
        }
    }

    /// Whether the primary is currently considered down (calls go to the fallback).
    pub fn degraded(&self) -> bool {
        self.degraded.load(Ordering::Acquire)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Breaker> {
        // Every update is a plain field write, so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether this call should try the primary (closed, or the one half-open probe).
    pub fn try_primary(&self) -> bool {
        let mut b = self.lock();
        match b.open_until {
            None => true,
            Some(until) => {
                let now = Instant::now();
                if now < until {
                    false
                } else {
                    // Half-open: this call probes the primary; re-arm so concurrent calls keep
                    // using the fallback until the probe answers.
                    b.open_until = Some(now + self.cool_down);
                    true
                }
            }
        }
    }

    /// The primary answered: close the breaker (logging the recovery once).
    pub fn on_primary_ok(&self) {
        if !self.degraded() {
            return;
        }
        let mut b = self.lock();
        if b.open_until.take().is_some() {
            self.degraded.store(false, Ordering::Release);
            tracing::info!(
                component = self.what,
                suppressed_warnings = b.suppressed,
                "primary recovered"
            );
            b.suppressed = 0;
        }
    }

    /// The primary failed: open the breaker for a cool-down and warn (rate-limited).
    pub fn on_primary_err(&self, primary: &str, fallback: &str, err: &anyhow::Error) {
        let now = Instant::now();
        let mut b = self.lock();
        b.open_until = Some(now + self.cool_down);
        self.degraded.store(true, Ordering::Release);
        let warn_due = b
            .last_warn
            .is_none_or(|last| now.duration_since(last) >= self.warn_interval);
        if warn_due {
            let suppressed = b.suppressed;
            b.last_warn = Some(now);
            b.suppressed = 0;
            drop(b);
            tracing::warn!(
                component = self.what,
                primary,
                fallback,
                cool_down_ms = u64::try_from(self.cool_down.as_millis()).unwrap_or(u64::MAX),
                suppressed_since_last_warning = suppressed,
                error = format!("{err:#}"),
                "primary failed, using the fallback"
            );
        } else {
            b.suppressed = b.suppressed.saturating_add(1);
        }
    }
}

/// Composes a primary and a fallback limiter with a [`CircuitBreaker`].
pub struct FailoverRateLimiter {
    primary: Arc<dyn RateLimiter>,
    fallback: Arc<dyn RateLimiter>,
    breaker: CircuitBreaker,
    fallbacks: AtomicU64,
    on_fallback: Option<FallbackHook>,
}

impl std::fmt::Debug for FailoverRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FailoverRateLimiter")
            .field("primary", &self.primary.backend())
            .field("fallback", &self.fallback.backend())
            .field("cool_down", &self.breaker.cool_down)
            .field("degraded", &self.degraded())
            .field("fallbacks", &self.fallbacks())
            .finish()
    }
}

impl FailoverRateLimiter {
    /// A failover limiter with the default cool-down (5 s) and warning interval (60 s).
    pub fn new(primary: Arc<dyn RateLimiter>, fallback: Arc<dyn RateLimiter>) -> Self {
        Self {
            primary,
            fallback,
            breaker: CircuitBreaker::new("rate limiter"),
            fallbacks: AtomicU64::new(0),
            on_fallback: None,
        }
    }

    /// Calls `hook("rate_limiter")` for every hit answered by the fallback.
    #[must_use]
    pub fn with_fallback_hook(mut self, hook: FallbackHook) -> Self {
        self.on_fallback = Some(hook);
        self
    }

    /// Sets how long the breaker stays open after a primary failure.
    #[must_use]
    pub fn with_cool_down(mut self, cool_down: Duration) -> Self {
        self.breaker.cool_down = cool_down;
        self
    }

    /// Sets the minimum time between two warnings about the primary failing.
    #[must_use]
    pub fn with_warn_interval(mut self, warn_interval: Duration) -> Self {
        self.breaker.warn_interval = warn_interval;
        self
    }

    /// Whether the primary is currently considered down (hits go to the fallback).
    pub fn degraded(&self) -> bool {
        self.breaker.degraded()
    }

    /// How many hits were answered by the fallback since start.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    async fn use_fallback(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
    ) -> anyhow::Result<RateDecision> {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        if let Some(hook) = &self.on_fallback {
            hook("rate_limiter");
        }
        self.fallback.hit(key, limit, window).await
    }
}

#[async_trait]
impl RateLimiter for FailoverRateLimiter {
    async fn hit(&self, key: &str, limit: u32, window: Duration) -> anyhow::Result<RateDecision> {
        if !self.breaker.try_primary() {
            return self.use_fallback(key, limit, window).await;
        }
        match self.primary.hit(key, limit, window).await {
            Ok(decision) => {
                self.breaker.on_primary_ok();
                Ok(decision)
            }
            Err(err) => {
                self.breaker
                    .on_primary_err(self.primary.backend(), self.fallback.backend(), &err);
                self.use_fallback(key, limit, window).await
            }
        }
    }

    fn backend(&self) -> &'static str {
        if self.degraded() {
            "embedded-fallback"
        } else {
            self.primary.backend()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::InProcessRateLimiter;
    use std::sync::atomic::AtomicUsize;

    /// A primary that fails while `down` is set and counts its calls.
    #[derive(Default)]
    struct Flaky {
        down: AtomicBool,
        calls: AtomicUsize,
        inner: InProcessRateLimiter,
    }

    #[async_trait]
    impl RateLimiter for Flaky {
        async fn hit(
            &self,
            key: &str,
            limit: u32,
            window: Duration,
        ) -> anyhow::Result<RateDecision> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.down.load(Ordering::SeqCst) {
                anyhow::bail!("primary unreachable");
            }
            self.inner.hit(key, limit, window).await
        }
        fn backend(&self) -> &'static str {
            "flaky"
        }
    }

    const W: Duration = Duration::from_secs(86_400);

    #[tokio::test]
    async fn healthy_primary_is_used_and_fallback_untouched() {
        let primary = Arc::new(Flaky::default());
        let fallback = Arc::new(InProcessRateLimiter::new());
        let rl = FailoverRateLimiter::new(primary.clone(), fallback.clone());
        let d = rl.hit("k", 2, W).await.unwrap();
        assert!(d.allowed);
        assert_eq!(d.remaining, 1);
        assert_eq!(primary.calls.load(Ordering::SeqCst), 1);
        assert!(fallback.is_empty());
        assert!(!rl.degraded());
        assert_eq!(rl.fallbacks(), 0);
        assert_eq!(rl.backend(), "flaky");
    }

    #[tokio::test]
    async fn breaker_opens_skips_primary_then_probes_and_recovers() {
        let primary = Arc::new(Flaky::default());
        primary.down.store(true, Ordering::SeqCst);
        let fallback = Arc::new(InProcessRateLimiter::new());
        let rl = FailoverRateLimiter::new(primary.clone(), fallback.clone())
            .with_cool_down(Duration::from_millis(100));

        let d = rl.hit("k", 5, W).await.unwrap();
        assert!(d.allowed);
        assert_eq!(d.remaining, 4, "answered by the fallback");
        assert!(rl.degraded());
        assert_eq!(rl.backend(), "embedded-fallback");
        assert_eq!(rl.fallbacks(), 1);
        assert_eq!(primary.calls.load(Ordering::SeqCst), 1);

        // Breaker open: the primary is not called again.
        for _ in 0..10 {
            rl.hit("k", 5, W).await.unwrap();
        }
        assert_eq!(primary.calls.load(Ordering::SeqCst), 1);
        assert_eq!(rl.fallbacks(), 11);

        // Primary comes back; after the cool-down one probe closes the breaker.
        primary.down.store(false, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(5);
        while rl.degraded() {
            assert!(Instant::now() < deadline, "breaker never closed");
            rl.hit("k2", 5, W).await.unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(primary.calls.load(Ordering::SeqCst), 2);
        assert_eq!(rl.backend(), "flaky");
        let fallbacks = rl.fallbacks();
        rl.hit("k3", 5, W).await.unwrap();
        assert_eq!(rl.fallbacks(), fallbacks);
        assert_eq!(primary.calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn failed_probe_reopens_the_breaker() {
        let primary = Arc::new(Flaky::default());
        primary.down.store(true, Ordering::SeqCst);
        let rl = FailoverRateLimiter::new(primary.clone(), Arc::new(InProcessRateLimiter::new()))
            .with_cool_down(Duration::from_millis(50));
        rl.hit("k", 5, W).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while primary.calls.load(Ordering::SeqCst) < 2 {
            assert!(Instant::now() < deadline, "no probe after the cool-down");
            rl.hit("k", 5, W).await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(rl.degraded());
        // Right after the failed probe the breaker is open again.
        rl.hit("k", 5, W).await.unwrap();
        assert_eq!(primary.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn the_hook_counts_exactly_the_hits_served_by_the_fallback() {
        let primary = Arc::new(Flaky::default());
        let seen = Arc::new(AtomicUsize::new(0));
        let count = seen.clone();
        let rl = FailoverRateLimiter::new(primary.clone(), Arc::new(InProcessRateLimiter::new()))
            .with_fallback_hook(Arc::new(move |c| {
                assert_eq!(c, "rate_limiter");
                count.fetch_add(1, Ordering::SeqCst);
            }));
        rl.hit("k", 5, W).await.unwrap();
        assert_eq!(
            seen.load(Ordering::SeqCst),
            0,
            "healthy primary: no fallback"
        );
        primary.down.store(true, Ordering::SeqCst);
        for _ in 0..3 {
            rl.hit("k", 5, W).await.unwrap();
        }
        assert_eq!(seen.load(Ordering::SeqCst), 3);
        assert_eq!(rl.fallbacks(), 3);
    }

    #[tokio::test]
    async fn only_one_concurrent_probe_after_the_cool_down() {
        let primary = Arc::new(Flaky::default());
        primary.down.store(true, Ordering::SeqCst);
        let rl = Arc::new(
            FailoverRateLimiter::new(primary.clone(), Arc::new(InProcessRateLimiter::new()))
                .with_cool_down(Duration::from_millis(300)),
        );
        rl.hit("k", 1000, W).await.unwrap();
        tokio::time::sleep(Duration::from_millis(350)).await;
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let rl = rl.clone();
            tasks.push(tokio::spawn(async move { rl.hit("k", 1000, W).await }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(primary.calls.load(Ordering::SeqCst), 2);
        assert_eq!(rl.fallbacks(), 51);
    }
}
