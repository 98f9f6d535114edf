//! Embedded defaults used when a service is not configured: the in-process rate limiter and the
//! failover limiter that falls back to it when the shared (Redis) limiter is unreachable.

pub mod artifacts;
pub mod cache;
pub mod failover;
pub mod limiter;
pub mod quota;

pub use artifacts::LocalArtifactStore;
pub use cache::{GuardedProjectCache, InProcessProjectCache};
pub use failover::FailoverRateLimiter;
pub use limiter::InProcessRateLimiter;
pub use quota::{FailoverAiQuota, InProcessAiQuota};
pub mod generator;
pub use generator::OfflineGenerator;
