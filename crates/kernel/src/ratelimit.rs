//! The rate-limiter port shared by the request limiter and, later, the AI quota.

use async_trait::async_trait;
use std::time::Duration;

/// The outcome of counting one hit against a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    /// Whether this hit is within the limit.
    pub allowed: bool,
    /// The limit that was applied.
    pub limit: u32,
    /// Hits left in the current window after this one (0 when refused).
    pub remaining: u32,
    /// Time until the window resets.
    pub reset_after: Duration,
}

/// Counts hits per key in fixed windows.
///
/// Contract: `hit` counts one hit for `key` in the current window of length `window` and reports
/// whether it is allowed (`count <= limit`). A refused hit still counts, so a client hammering a
/// limit does not get a free slot. Implementations return `Err` only when their backing service
/// cannot be reached; callers decide how to degrade.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    async fn hit(&self, key: &str, limit: u32, window: Duration) -> anyhow::Result<RateDecision>;
    /// A short name for logs and health ("redis", "embedded").
    fn backend(&self) -> &'static str;
}
