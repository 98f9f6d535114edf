//! Wiring of the projects domain: its listing cache (Redis behind a circuit breaker, or the
//! in-process cache when Redis is not configured), the cache metrics, and the generation listener
//! that evicts an owner's cached list when a job completes.

use crate::telemetry::Metrics;
use async_trait::async_trait;
use ingenio_app_specs::ports::GenerationListener;
use ingenio_embedded::{GuardedProjectCache, InProcessProjectCache};
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::{Clock, TenantId, UserId};
use ingenio_postgres::kept_reads::KeptReadCaches;
use ingenio_postgres::projects::PgProjectRepository;
use ingenio_postgres::DbPool;
use ingenio_projects::cache::{CacheKind, CacheObserver, CacheResult, CacheSettings, ListCache};
use ingenio_projects::ports::ProjectCache;
use ingenio_projects::{ProjectConfig, ProjectService};
use ingenio_redis::{RedisPool, RedisProjectCache};
use std::sync::Arc;

const CACHE_REQUESTS: &str = "ingenio_cache_requests_total";
const CACHE_HELP: &str = "Cache lookups by cache and result (hit, miss, fallback to the database)";
const FALLBACKS: &str = "ingenio_redis_fallback_total";
const FALLBACK_HELP: &str = "Calls answered by the in-process fallback because Redis failed";

/// Counts every cache access as `ingenio_cache_requests_total{cache,result}`; with Redis, a
/// fallback to the database also counts as `ingenio_redis_fallback_total{component="project_cache"}`.
fn observer(metrics: &Metrics, redis: bool) -> CacheObserver {
    for kind in [CacheKind::MyProjects, CacheKind::Gallery] {
        for result in [CacheResult::Hit, CacheResult::Miss, CacheResult::Fallback] {
            metrics.add_counter(
                CACHE_REQUESTS,
                CACHE_HELP,
                &[("cache", kind.as_str()), ("result", result.as_str())],
                0.0,
            );
        }
    }
    if redis {
        metrics.add_counter(
            FALLBACKS,
            FALLBACK_HELP,
            &[("component", "project_cache")],
            0.0,
        );
    }
    let metrics = metrics.clone();
    Arc::new(move |kind, result, err| {
        metrics.inc_counter(
            CACHE_REQUESTS,
            CACHE_HELP,
            &[("cache", kind.as_str()), ("result", result.as_str())],
        );
        if result == CacheResult::Fallback {
            if redis {
                metrics.inc_counter(FALLBACKS, FALLBACK_HELP, &[("component", "project_cache")]);
            }
            if let Some(e) = err {
                tracing::debug!(
                    cache = kind.as_str(),
                    error = format!("{e:#}"),
                    "project cache fell back to the database"
                );
            }
        }
    })
}

/// The project service over PostgreSQL with its cache.
pub fn service(
    db: DbPool,
    kept_reads: Arc<KeptReadCaches>,
    redis: Option<&RedisPool>,
    metrics: &Metrics,
    clock: Arc<dyn Clock>,
) -> ProjectService {
    let backend: Arc<dyn ProjectCache> = match redis {
        Some(pool) => Arc::new(GuardedProjectCache::new(Arc::new(RedisProjectCache::new(
            pool.clone(),
        )))),
        None => Arc::new(InProcessProjectCache::default()),
    };
    let cache = ListCache::new(
        Some(backend),
        CacheSettings::default(),
        Some(observer(metrics, redis.is_some())),
    );
    ProjectService::new(
        Arc::new(PgProjectRepository::with_kept_reads(db, kept_reads)),
        Arc::new(cache),
        clock,
        ProjectConfig::default(),
    )
}

/// Evicts the owner's cached project list when a generation job completes (its new project, or
/// the new preview of a regenerated spec).
pub struct ProjectsListener(pub ProjectService);

#[async_trait]
impl GenerationListener for ProjectsListener {
    async fn completed(&self, tenant: TenantId, user: UserId, _app_spec_id: Uuid) {
        self.0.changed_for(tenant, user).await;
    }
}
