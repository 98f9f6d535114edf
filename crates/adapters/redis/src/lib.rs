//! Redis adapter: a bb8-redis pool, the shared fixed-window rate limiter and the health probe.

pub mod cache;
pub mod limiter;
pub mod pool;
pub mod quota;

pub use bb8_redis::redis;
pub use cache::RedisProjectCache;
pub use limiter::RedisRateLimiter;
pub use pool::{RedisConfig, RedisHealth, RedisPool};
pub use quota::RedisAiQuota;
