//! The in-process fixed-window rate limiter: one counter per key, windows aligned to epoch
//! multiples of the window length, expired keys evicted opportunistically.

use async_trait::async_trait;
use ingenio_kernel::{Clock, RateDecision, RateLimiter, SystemClock};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Below this many keys the map is never swept.
const MIN_SWEEP_AT: usize = 1024;

/// Counts hits per key in fixed windows inside this process.
///
/// Windows are aligned to multiples of the window length since the Unix epoch, so
/// `reset_after` is the time until the next such multiple and two limiters (or two restarts)
/// agree on where windows start. Memory stays bounded: whenever the map has doubled in size since
/// the last sweep, every entry whose window has ended is removed (amortised O(1) per hit).
pub struct InProcessRateLimiter {
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

struct State {
    entries: HashMap<String, Entry>,
    /// Sweep expired entries once the map reaches this size.
    sweep_at: usize,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Start of the window, in milliseconds since the epoch.
    start_ms: i64,
    /// Length of the window, in milliseconds.
    window_ms: i64,
    count: u32,
}

impl Entry {
    fn end_ms(&self) -> i64 {
        self.start_ms.saturating_add(self.window_ms)
    }
}

impl Default for InProcessRateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for InProcessRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessRateLimiter")
            .field("keys", &self.len())
            .finish()
    }
}

impl InProcessRateLimiter {
    /// A limiter on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// A limiter on the given clock (tests use a fixed one).
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            state: Mutex::new(State {
                entries: HashMap::new(),
                sweep_at: MIN_SWEEP_AT,
            }),
        }
    }

    /// Number of keys currently held (including expired ones not yet swept).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every entry whose window has ended.
    pub fn evict_expired(&self) {
        let now_ms = self.clock.now().timestamp_millis();
        let mut state = self.lock();
        state.entries.retain(|_, e| e.end_ms() > now_ms);
        state.sweep_at = (state.entries.len() * 2).max(MIN_SWEEP_AT);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the map inconsistent (every update is a
        // single insert or field write), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one hit; synchronous core of [`RateLimiter::hit`].
    pub fn hit_now(&self, key: &str, limit: u32, window: Duration) -> RateDecision {
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX).max(1);
        let now_ms = self.clock.now().timestamp_millis();
        let start_ms = now_ms - now_ms.rem_euclid(window_ms);

        let mut state = self.lock();
        if state.entries.len() >= state.sweep_at {
            state.entries.retain(|_, e| e.end_ms() > now_ms);
            state.sweep_at = (state.entries.len() * 2).max(MIN_SWEEP_AT);
        }

        let fresh = Entry {
            start_ms,
            window_ms,
            count: 0,
        };
        let entry = match state.entries.get_mut(key) {
            Some(e) => {
                if e.start_ms != start_ms || e.window_ms != window_ms {
                    *e = fresh;
                }
                e
            }
            None => state.entries.entry(key.to_owned()).or_insert(fresh),
        };
        entry.count = entry.count.saturating_add(1);
        let count = entry.count;
        let end_ms = entry.end_ms();
        drop(state);

        let allowed = count <= limit;
        let reset_ms = u64::try_from((end_ms - now_ms).max(1)).unwrap_or(1);
        RateDecision {
            allowed,
            limit,
            remaining: if allowed { limit - count } else { 0 },
            reset_after: Duration::from_millis(reset_ms),
        }
    }
}

#[async_trait]
impl RateLimiter for InProcessRateLimiter {
    async fn hit(&self, key: &str, limit: u32, window: Duration) -> anyhow::Result<RateDecision> {
        Ok(self.hit_now(key, limit, window))
    }

    fn backend(&self) -> &'static str {
        "embedded"
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use ingenio_kernel::chrono::{DateTime, TimeZone, Utc};

    /// A clock the test moves by hand.
    struct ManualClock(Mutex<DateTime<Utc>>);

    impl ManualClock {
        fn at_ms(ms: i64) -> Arc<Self> {
            Arc::new(Self(Mutex::new(Utc.timestamp_millis_opt(ms).unwrap())))
        }
        fn set_ms(&self, ms: i64) {
            *self.0.lock().unwrap() = Utc.timestamp_millis_opt(ms).unwrap();
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> DateTime<Utc> {
            *self.0.lock().unwrap()
        }
    }

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn counts_down_then_refuses_until_the_aligned_window_ends() {
        // 10 s into a minute-aligned window.
        let clock = ManualClock::at_ms(1_700_000_040_000 + 10_000);
        let rl = InProcessRateLimiter::with_clock(clock.clone());
        for expected_remaining in (0..3).rev() {
            let d = rl.hit_now("k", 3, MIN);
            assert!(d.allowed);
            assert_eq!(d.limit, 3);
            assert_eq!(d.remaining, expected_remaining);
            assert_eq!(d.reset_after, Duration::from_secs(50));
        }
        let refused = rl.hit_now("k", 3, MIN);
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);

        // Still the same window one millisecond before its end.
        clock.set_ms(1_700_000_100_000 - 1);
        let d = rl.hit_now("k", 3, MIN);
        assert!(!d.allowed);
        assert_eq!(d.reset_after, Duration::from_millis(1));

        // The next window starts fresh.
        clock.set_ms(1_700_000_100_000);
        let d = rl.hit_now("k", 3, MIN);
        assert!(d.allowed);
        assert_eq!(d.remaining, 2);
        assert_eq!(d.reset_after, MIN);
    }

    #[test]
    fn keys_and_window_lengths_are_independent() {
        let clock = ManualClock::at_ms(1_700_000_040_000);
        let rl = InProcessRateLimiter::with_clock(clock);
        assert!(rl.hit_now("a", 1, MIN).allowed);
        assert!(!rl.hit_now("a", 1, MIN).allowed);
        assert!(rl.hit_now("b", 1, MIN).allowed);
        // The same key with another window length restarts its count.
        assert!(rl.hit_now("a", 1, Duration::from_secs(3600)).allowed);
    }

    #[test]
    fn zero_limit_refuses_everything_and_zero_window_is_clamped() {
        let rl = InProcessRateLimiter::new();
        let d = rl.hit_now("z", 0, MIN);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        let d = rl.hit_now("w", 5, Duration::ZERO);
        assert!(d.allowed);
        assert!(d.reset_after >= Duration::from_millis(1));
    }

    #[test]
    fn expired_keys_are_evicted_so_memory_stays_bounded() {
        let clock = ManualClock::at_ms(1_700_000_040_000);
        let rl = InProcessRateLimiter::with_clock(clock.clone());
        for i in 0..MIN_SWEEP_AT {
            rl.hit_now(&format!("old-{i}"), 10, MIN);
        }
        assert_eq!(rl.len(), MIN_SWEEP_AT);

        // A window later, new keys push the old ones out without an explicit sweep.
        clock.set_ms(1_700_000_100_000);
        for i in 0..(3 * MIN_SWEEP_AT) {
            rl.hit_now(&format!("new-{i}"), 10, MIN);
        }
        // Exactly: after the sweep at 1024 only new keys remain, and the map never exceeds
        // twice its live size.
        assert_eq!(rl.len(), 3 * MIN_SWEEP_AT);
        assert!(!rl.lock().entries.keys().any(|k| k.starts_with("old-")));

        clock.set_ms(1_700_000_160_000);
        rl.evict_expired();
        assert!(rl.is_empty());
    }

    #[tokio::test]
    async fn concurrent_hits_never_exceed_the_limit() {
        let rl = Arc::new(InProcessRateLimiter::new());
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let rl = rl.clone();
            tasks.push(tokio::spawn(async move {
                rl.hit("shared", 7, Duration::from_secs(86_400))
                    .await
                    .unwrap()
                    .allowed
            }));
        }
        let mut allowed = 0;
        for t in tasks {
            if t.await.unwrap() {
                allowed += 1;
            }
        }
        assert_eq!(allowed, 7);
        assert_eq!(rl.backend(), "embedded");
    }
}
