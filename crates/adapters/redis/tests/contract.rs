//! The rate-limiter contract, run against the Redis and the embedded limiter, plus the Redis
//! pool's behaviour when the server is unreachable or goes away and comes back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use ingenio_embedded::{FailoverRateLimiter, InProcessRateLimiter};
use ingenio_kernel::{RateDecision, RateLimiter};
use ingenio_redis::{redis, RedisConfig, RedisPool, RedisRateLimiter};
use ingenio_testkit::proxy::TcpProxy;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const REDIS_URL: &str = "redis://127.0.0.1:6379";
const REDIS_ADDR: &str = "127.0.0.1:6379";

/// A config with a key prefix unique to this test.
fn config(url: &str) -> RedisConfig {
    RedisConfig {
        url: url.to_owned(),
        timeout: Duration::from_secs(2),
        key_prefix: format!("test:{}:", uuid::Uuid::new_v4()),
        max_size: 8,
    }
}

fn redis_limiter(cfg: RedisConfig) -> Arc<dyn RateLimiter> {
    Arc::new(RedisRateLimiter::new(RedisPool::new(cfg).unwrap()))
}

/// Polls `attempt` every 20 ms for up to `within` until it yields a value.
async fn poll_until<T, F, Fut>(within: Duration, what: &str, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = attempt().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The shared contract.
// ---------------------------------------------------------------------------------------------

/// Every `RateLimiter` must pass this. `long` is a window that does not end during the test
/// (Redis: windows start at the first hit; embedded: aligned to the epoch, so use a long one).
async fn contract(limiter: Arc<dyn RateLimiter>, long: Duration) {
    counts_down_then_refuses(&*limiter, long).await;
    keys_are_independent(&*limiter, long).await;
    new_window_allows_again(&*limiter).await;
    concurrent_hits_never_exceed_the_limit(limiter, long).await;
}

async fn counts_down_then_refuses(limiter: &dyn RateLimiter, window: Duration) {
    let limit = 5;
    for i in 1..=limit {
        let d = limiter.hit("countdown", limit, window).await.unwrap();
        assert!(d.allowed, "hit {i} of {limit} refused");
        assert_eq!(d.limit, limit);
        assert_eq!(d.remaining, limit - i, "remaining after hit {i}");
        assert!(
            d.reset_after > Duration::ZERO && d.reset_after <= window,
            "{d:?}"
        );
    }
    for _ in 0..2 {
        let d = limiter.hit("countdown", limit, window).await.unwrap();
        assert!(!d.allowed, "hit over the limit allowed: {d:?}");
        assert_eq!(d.remaining, 0);
        assert_eq!(d.limit, limit);
        assert!(
            d.reset_after > Duration::ZERO && d.reset_after <= window,
            "{d:?}"
        );
    }
}

async fn keys_are_independent(limiter: &dyn RateLimiter, window: Duration) {
    assert!(limiter.hit("indep-a", 1, window).await.unwrap().allowed);
    assert!(!limiter.hit("indep-a", 1, window).await.unwrap().allowed);
    let b = limiter.hit("indep-b", 1, window).await.unwrap();
    assert!(b.allowed, "another key was limited by indep-a");
    assert_eq!(b.remaining, 0);
    assert!(!limiter.hit("indep-a", 1, window).await.unwrap().allowed);
}

async fn new_window_allows_again(limiter: &dyn RateLimiter) {
    let window = Duration::from_secs(1);
    // Exhaust the current window (it may already be about to end for aligned windows).
    let refused = loop {
        let d = limiter.hit("rollover", 2, window).await.unwrap();
        if !d.allowed {
            break d;
        }
    };
    assert!(refused.reset_after <= window);
    let start = Instant::now();
    let d = poll_until(Duration::from_secs(3), "a new window", || async move {
        let d = limiter.hit("rollover", 2, window).await.unwrap();
        d.allowed.then_some(d)
    })
    .await;
    assert_eq!(d.remaining, 1, "first hit of a new window: {d:?}");
    assert!(start.elapsed() <= window + Duration::from_millis(500));
}

async fn concurrent_hits_never_exceed_the_limit(limiter: Arc<dyn RateLimiter>, window: Duration) {
    let limit = 10;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let limiter = limiter.clone();
        tasks.push(tokio::spawn(async move {
            limiter.hit("concurrent", limit, window).await.unwrap()
        }));
    }
    let mut allowed = 0;
    let mut remaining_seen = Vec::new();
    for t in tasks {
        let d = t.await.unwrap();
        if d.allowed {
            allowed += 1;
            remaining_seen.push(d.remaining);
        } else {
            assert_eq!(d.remaining, 0);
        }
    }
    assert_eq!(allowed, limit, "allowed hits out of 50 concurrent");
    remaining_seen.sort_unstable();
    assert_eq!(
        remaining_seen,
        (0..limit).collect::<Vec<_>>(),
        "each slot handed out once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contract_embedded() {
    let limiter = Arc::new(InProcessRateLimiter::new());
    assert_eq!(limiter.backend(), "embedded");
    contract(limiter, Duration::from_secs(86_400)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contract_redis() {
    let limiter = redis_limiter(config(REDIS_URL));
    assert_eq!(limiter.backend(), "redis");
    contract(limiter, Duration::from_secs(30)).await;
}

// ---------------------------------------------------------------------------------------------
// Redis specifics.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn ping_reports_the_server_version_and_pool_is_lazy() {
    let pool = RedisPool::new(config(REDIS_URL)).unwrap();
    assert_eq!(pool.state(), (0, 0), "no connection before first use");
    let health = pool.ping().await.unwrap();
    assert!(
        health.version.split('.').count() >= 2 && health.version != "unknown",
        "{health:?}"
    );
    let (connections, idle) = pool.state();
    assert!(connections >= 1 && idle >= 1, "({connections}, {idle})");
}

#[tokio::test]
async fn counter_lives_under_the_prefixed_key_with_an_expiry() {
    let cfg = config(REDIS_URL);
    let prefix = cfg.key_prefix.clone();
    let pool = RedisPool::new(cfg).unwrap();
    let limiter = RedisRateLimiter::new(pool.clone());
    assert_eq!(limiter.redis_key("user:1"), format!("{prefix}rl:user:1"));
    limiter
        .hit("user:1", 3, Duration::from_secs(10))
        .await
        .unwrap();
    limiter
        .hit("user:1", 3, Duration::from_secs(10))
        .await
        .unwrap();

    let mut get = redis::cmd("GET");
    get.arg(format!("{prefix}rl:user:1"));
    let count: i64 = pool.query(&get).await.unwrap();
    assert_eq!(count, 2);
    let mut pttl = redis::cmd("PTTL");
    pttl.arg(format!("{prefix}rl:user:1"));
    let ttl: i64 = pool.query(&pttl).await.unwrap();
    assert!(ttl > 0 && ttl <= 10_000, "pttl {ttl}");
}

#[tokio::test]
async fn two_instances_share_the_count() {
    let cfg = config(REDIS_URL);
    // Two pools = two server instances with the same configuration.
    let a = redis_limiter(cfg.clone());
    let b = redis_limiter(cfg);
    let window = Duration::from_secs(30);
    let mut allowed = 0;
    for i in 0..10 {
        let limiter = if i % 2 == 0 { &a } else { &b };
        let d = limiter.hit("shared", 6, window).await.unwrap();
        if d.allowed {
            allowed += 1;
            assert_eq!(d.remaining, 6 - (i + 1), "hit {i}");
        }
    }
    assert_eq!(allowed, 6);
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Counts calls into the wrapped limiter.
struct Counting {
    inner: Arc<dyn RateLimiter>,
    calls: AtomicUsize,
}

#[async_trait]
impl RateLimiter for Counting {
    async fn hit(&self, key: &str, limit: u32, window: Duration) -> anyhow::Result<RateDecision> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.hit(key, limit, window).await
    }
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
}

#[tokio::test]
async fn unreachable_redis_fails_fast_and_failover_uses_the_embedded_limiter() {
    let mut cfg = config(&format!("redis://127.0.0.1:{}", closed_port()));
    cfg.timeout = Duration::from_millis(500);
    let pool = RedisPool::new(cfg).unwrap();

    let started = Instant::now();
    let err = pool.ping().await.unwrap_err();
    let took = started.elapsed();
    assert!(took < Duration::from_millis(2_000), "ping took {took:?}");
    let msg = format!("{err:#}");
    assert!(msg.contains("redis"), "{msg}");

    let primary = Arc::new(Counting {
        inner: Arc::new(RedisRateLimiter::new(pool)),
        calls: AtomicUsize::new(0),
    });
    let failover = FailoverRateLimiter::new(primary.clone(), Arc::new(InProcessRateLimiter::new()))
        .with_cool_down(Duration::from_secs(60));
    assert_eq!(failover.backend(), "redis");
    assert!(!failover.degraded());

    let window = Duration::from_secs(86_400);
    let d = failover.hit("k", 2, window).await.unwrap();
    assert!(d.allowed);
    assert_eq!(d.remaining, 1);
    assert!(failover.degraded());
    assert_eq!(failover.backend(), "embedded-fallback");
    assert_eq!(failover.fallbacks(), 1);
    assert_eq!(primary.calls.load(Ordering::SeqCst), 1);

    // Breaker open: answered by the fallback without touching the primary.
    let d = failover.hit("k", 2, window).await.unwrap();
    assert!(d.allowed);
    assert_eq!(d.remaining, 0);
    assert!(!failover.hit("k", 2, window).await.unwrap().allowed);
    assert_eq!(
        primary.calls.load(Ordering::SeqCst),
        1,
        "primary called while breaker open"
    );
    assert_eq!(failover.fallbacks(), 3);
}

#[tokio::test]
async fn pool_recovers_when_redis_goes_away_and_comes_back() {
    let redis_addr: SocketAddr = REDIS_ADDR.parse().unwrap();
    let proxy = TcpProxy::start(redis_addr).await.unwrap();
    let mut cfg = config(&format!("redis://127.0.0.1:{}", proxy.port()));
    cfg.timeout = Duration::from_millis(500);
    let pool = RedisPool::new(cfg).unwrap();
    let limiter = RedisRateLimiter::new(pool.clone());
    let window = Duration::from_secs(30);

    assert!(limiter.hit("k", 100, window).await.unwrap().allowed);
    assert!(pool.state().0 >= 1);

    proxy.set_down();
    let started = Instant::now();
    assert!(limiter.hit("k", 100, window).await.is_err());
    assert!(pool.ping().await.is_err());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    proxy.set_up();
    // The dead pooled connection is replaced; the count survived in Redis.
    let limiter = &limiter;
    let d = poll_until(Duration::from_secs(5), "redis recovery", || async move {
        limiter.hit("k", 100, window).await.ok()
    })
    .await;
    assert_eq!(d.remaining, 98, "count kept across the outage");
    pool.ping().await.unwrap();
}

#[tokio::test]
async fn failover_returns_to_redis_after_an_outage() {
    let redis_addr: SocketAddr = REDIS_ADDR.parse().unwrap();
    let proxy = TcpProxy::start(redis_addr).await.unwrap();
    let mut cfg = config(&format!("redis://127.0.0.1:{}", proxy.port()));
    cfg.timeout = Duration::from_millis(500);
    let primary = Arc::new(Counting {
        inner: redis_limiter(cfg),
        calls: AtomicUsize::new(0),
    });
    let failover = FailoverRateLimiter::new(primary.clone(), Arc::new(InProcessRateLimiter::new()))
        .with_cool_down(Duration::from_millis(200));
    let window = Duration::from_secs(30);

    failover.hit("k", 100, window).await.unwrap();
    assert_eq!(failover.backend(), "redis");

    proxy.set_down();
    failover.hit("k", 100, window).await.unwrap();
    assert!(failover.degraded());
    assert_eq!(failover.fallbacks(), 1);

    proxy.set_up();
    let fo = &failover;
    poll_until(Duration::from_secs(5), "failover recovery", || async move {
        fo.hit("k", 100, window).await.unwrap();
        (!fo.degraded()).then_some(())
    })
    .await;
    assert_eq!(failover.backend(), "redis");
    let calls = primary.calls.load(Ordering::SeqCst);
    let fallbacks = failover.fallbacks();
    failover.hit("k", 100, window).await.unwrap();
    assert_eq!(primary.calls.load(Ordering::SeqCst), calls + 1);
    assert_eq!(failover.fallbacks(), fallbacks);
}
