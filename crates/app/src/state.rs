//! `AppState`: the one clonable bundle of services every handler receives.

use crate::auth::jwt::JwtTokens;
use crate::config::Settings;
use crate::storage::{PreviewCache, Stores};
use crate::telemetry::{LogControl, Metrics};
use ingenio_app_specs::service::AppSpecService;
use ingenio_app_specs::SpecGenerator;
use ingenio_code_gen::service::CodeService;
use ingenio_kernel::RateLimiter;
use ingenio_postgres::DbPool;
use ingenio_projects::ProjectService;
use ingenio_social::SocialService;
use ingenio_users::UserService;
use std::sync::Arc;
use std::time::Instant;

/// Shared, cheap-to-clone application state.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub users: UserService,
    pub specs: AppSpecService,
    /// Projects, the gallery, forks and lineage.
    pub projects: ProjectService,
    /// The agents (DeepSeek, or the offline generator when no key is configured).
    pub generator: Arc<dyn SpecGenerator>,
    /// The DeepSeek client when one is configured (its statistics feed health and metrics).
    pub deepseek: Option<ingenio_deepseek::DeepseekGenerator>,
    /// Wakes this instance's idle workers when a job is accepted here.
    pub jobs_wakeup: Arc<tokio::sync::Notify>,
    /// LISTEN/NOTIFY hints from every instance: new job events (for SSE) and new jobs (for workers).
    pub job_wakeups: ingenio_postgres::notify::JobWakeups,
    /// Sessions and projects kept in process (started per worker; counters for the metrics).
    pub kept_reads: Arc<ingenio_postgres::kept_reads::KeptReadCaches>,
    /// Signature-only verification for keying the rate limiter before a handler runs.
    pub tokens: Arc<JwtTokens>,
    pub db: DbPool,
    pub redis: Option<ingenio_redis::RedisPool>,
    pub limiter: Arc<dyn RateLimiter>,
    pub metrics: Metrics,
    pub log_control: LogControl,
    pub started_at: Instant,
    /// Generated code: records, downloads, previews.
    pub code: CodeService,
    /// Which artifact store is in use (the local one verifies its own signed URLs).
    pub stores: Stores,
    /// Preview zips in memory, by content hash.
    pub previews: Arc<PreviewCache>,
    /// Open SSE streams of this instance, per user and in all.
    pub streams: Arc<crate::http::generate::streams::OpenStreams>,
    /// Likes, favorites, comments, views, moderation and magic prompts.
    pub social: SocialService,
}
