//! `Application::build`: wires settings into pools, adapters, services and the HTTP server.
//! Production `main` and the tests (on port 0) call the same function.

use crate::auth::jwt::JwtTokens;
use crate::auth::notifier::{BackgroundNotifier, LogNotifier, NoMailNotifier};
use crate::auth::password::Argon2Hasher;
use crate::config::Settings;
use crate::http;
use crate::openapi::ApiDoc;
use crate::state::AppState;
use crate::telemetry::{LogControl, Metrics};
use crate::workers::{self, Workers};
use actix_web::dev::Server;
use actix_web::middleware::{from_fn, Compress};
use actix_web::{web, App, HttpServer};
use anyhow::Context as _;
use ingenio_app_specs::jobs::Pipeline;
use ingenio_app_specs::ports::{AiQuota, JobRepository};
use ingenio_app_specs::service::{AppSpecConfig, AppSpecService};
use ingenio_app_specs::SpecGenerator;
use ingenio_code_gen::service::{CodeService, CodeSettings};
use ingenio_embedded::{FailoverAiQuota, InProcessAiQuota, OfflineGenerator};
use ingenio_embedded::{FailoverRateLimiter, InProcessRateLimiter};
use ingenio_kernel::{Clock, RateLimiter, SystemClock};
use ingenio_postgres::app_specs::PgAppSpecRepository;
use ingenio_postgres::code::PgCodeRepository;
use ingenio_postgres::jobs::PgJobRepository;
use ingenio_postgres::pool::{build_pool, PgPoolSettings};
use ingenio_postgres::users::{PgSessionStore, PgUserRepository};
use ingenio_redis::RedisAiQuota;
use ingenio_redis::{RedisConfig, RedisPool, RedisRateLimiter};
use ingenio_users::{MailResetNotifier, ResetNotifier, UserService};
use secrecy::ExposeSecret;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};
use utoipa::OpenApi;
use utoipa_swagger_ui::{Config as SwaggerConfig, SwaggerUi};

/// A built, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    /// The optional preview-only listener (`ingenio.preview.port`) and its port.
    preview: Option<(Server, u16)>,
    /// The optional actuator-only listener (`management.server.port`) and its port.
    management: Option<(Server, u16)>,
    state: AppState,
    workers: Workers,
}

/// Prepares the database when configured to: creates it if missing, applies migrations.
pub async fn prepare_database(settings: &Settings) -> anyhow::Result<()> {
    let ds = &settings.spring.datasource;
    if settings.ingenio.database.create_if_missing {
        let maintenance = ds.url_for("postgres");
        if ingenio_postgres::migrate::ensure_database(maintenance.expose_secret(), &ds.name)
            .await
            .with_context(|| format!("create database {}", ds.name))?
        {
            tracing::info!(database = %ds.name, "created database");
        }
    }
    if settings.ingenio.database.migrate_on_startup {
        let applied = ingenio_postgres::migrate::migrate(
            ds.database_url().expose_secret(),
            &ingenio_postgres::migrate::embedded(),
        )
        .await
        .context("apply migrations")?;
        if !applied.is_empty() {
            tracing::info!(?applied, "migrations applied");
        }
    }
    Ok(())
}

impl Application {
    /// Builds everything from `settings`. Does not fail when PostgreSQL or Redis are down unless
    /// start-up work (create/migrate) was asked for: pools connect lazily and recover by themselves.
    pub async fn build(settings: Settings, log_control: LogControl) -> anyhow::Result<Self> {
        prepare_database(&settings).await?;
        let settings = Arc::new(settings);
        let ds = &settings.spring.datasource;
        let hikari = &ds.hikari;
        let db = build_pool(&PgPoolSettings {
            url: ds.database_url().expose_secret().to_owned(),
            max_size: hikari.maximum_pool_size,
            min_idle: hikari.minimum_idle,
            connection_timeout: Duration::from_millis(hikari.connection_timeout),
            idle_timeout: Duration::from_millis(hikari.idle_timeout),
            max_lifetime: Duration::from_millis(hikari.max_lifetime),
            http_workers: if hikari.per_worker_pools {
                u32::try_from(http_workers(&settings)).unwrap_or(u32::MAX)
            } else {
                0
            },
        });

        let metrics = Metrics::new().context("create the metrics registry")?;
        let embedded: Arc<dyn RateLimiter> = Arc::new(InProcessRateLimiter::new());
        let embedded_quota: Arc<dyn AiQuota> = Arc::new(InProcessAiQuota::new());
        let redis_settings = &settings.spring.data.redis;
        let (redis, limiter, quota): (Option<RedisPool>, Arc<dyn RateLimiter>, Arc<dyn AiQuota>) =
            if redis_settings.is_configured() {
                let pool = RedisPool::new(RedisConfig {
                    url: redis_settings.url().expose_secret().to_owned(),
                    timeout: Duration::from_millis(redis_settings.timeout.max(50)),
                    key_prefix: redis_settings.key_prefix.clone(),
                    max_size: 16,
                })
                .context("configure the redis pool")?;
                let primary: Arc<dyn RateLimiter> = Arc::new(RedisRateLimiter::new(pool.clone()));
                let shared_quota: Arc<dyn AiQuota> = Arc::new(RedisAiQuota::new(pool.clone()));
                let hook = redis_fallback_counter(&metrics);
                (
                    Some(pool),
                    Arc::new(
                        FailoverRateLimiter::new(primary, embedded)
                            .with_fallback_hook(hook.clone()),
                    ),
                    Arc::new(
                        FailoverAiQuota::new(shared_quota, embedded_quota).with_fallback_hook(hook),
                    ),
                )
            } else {
                tracing::info!("redis not configured (REDIS_HOST empty): using the embedded in-process rate limiter and AI quota");
                (None, embedded, embedded_quota)
            };

        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let jwt = &settings.ingenio.jwt;
        let tokens = Arc::new(JwtTokens::new(
            jwt.secret.expose_secret().as_bytes(),
            Some(jwt.secret_previous.expose_secret().as_bytes()),
            &jwt.issuer,
            jwt.access_token_ttl,
            jwt.refresh_token_ttl,
            clock.clone(),
        ));
        let notifier = reset_notifier(&settings, &metrics)?;
        let sessions = PgSessionStore::new(db.clone());
        let kept_reads = ingenio_postgres::kept_reads::KeptReadCaches::new(
            ds.database_url().expose_secret().to_owned(),
            ingenio_postgres::kept_reads::KeptReadSettings {
                enabled: settings.ingenio.kept_reads.enabled,
                max_entries: settings.ingenio.kept_reads.max_entries.max(1),
                ..Default::default()
            },
        );
        let users = UserService::new(
            Arc::new(PgUserRepository::with_kept_reads(
                db.clone(),
                kept_reads.clone(),
            )),
            Arc::new(sessions.clone()),
            Arc::new(Argon2Hasher::bounded(
                settings.ingenio.auth.hash_max_concurrent,
                Duration::from_millis(settings.ingenio.auth.hash_wait_ms),
            )),
            tokens.clone(),
            notifier,
            clock.clone(),
            settings.user_service_config(),
        );
        let spec_repo = Arc::new(PgAppSpecRepository::new(db.clone()));
        let job_repo: Arc<dyn JobRepository> = Arc::new(PgJobRepository::new(db.clone()));
        let (generator, deepseek) = build_generator(&settings)?;
        let quota_port = quota.clone();
        let specs = AppSpecService::new(
            spec_repo.clone(),
            job_repo.clone(),
            quota,
            AppSpecConfig {
                quota_enabled: settings.ingenio.rate_limit.enabled,
                ai_calls_per_hour: settings.ingenio.rate_limit.ai_calls_per_hour,
                limits: settings.ingenio.spec_limits,
            },
        )
        .with_cpu(Arc::new(crate::offload::Offload::new(
            "spec work",
            settings.ingenio.spec_work.max_concurrent,
            Some(Duration::from_millis(settings.ingenio.spec_work.wait_ms)),
        )));
        // Bind first: the local artifact store and the default preview URL name this listener.
        let listener = TcpListener::bind((settings.server.address.as_str(), settings.server.port))
            .with_context(|| {
                format!(
                    "bind {}:{} (is another server using the port? set PORT)",
                    settings.server.address, settings.server.port
                )
            })?;
        let port = listener
            .local_addr()
            .context("read the bound address")?
            .port();
        let ctx = settings.server.context_path.trim_end_matches('/');
        let host = match settings.server.address.as_str() {
            "0.0.0.0" | "::" | "" => "localhost",
            a => a,
        };
        let public_api = format!("http://{host}:{port}{ctx}");
        let preview_base = match settings
            .ingenio
            .preview
            .base_url
            .trim()
            .trim_end_matches('/')
        {
            "" => format!("{public_api}/preview"),
            b => b.to_owned(),
        };
        let (store, stores) =
            crate::storage::build_store(&settings, &public_api, metrics.clone()).await?;
        let cg = &settings.ingenio.code_gen;
        let code = CodeService::new(
            store,
            Arc::new(PgCodeRepository::new(db.clone())),
            CodeSettings {
                default_renderer: cg.default_renderer.clone(),
                preview_base_url: preview_base,
                presign_ttl: Duration::from_secs(cg.presign_ttl_seconds.clamp(60, 7 * 24 * 3600)),
                max_preview_zip_bytes: settings.ingenio.preview.max_zip_mb.max(1) * 1024 * 1024,
            },
        );
        if !code.knows_renderer(&cg.default_renderer) {
            anyhow::bail!(
                "ingenio.code-gen.default-renderer {:?} is not one of {}",
                cg.default_renderer,
                code.renderer_names().join(", ")
            );
        }
        let builder = Arc::new(crate::storage::OffloadedBuilder::new(
            code.clone(),
            cg.max_concurrent_renders,
            metrics.clone(),
        ));
        let jobs_wakeup = Arc::new(tokio::sync::Notify::new());
        let job_wakeups = ingenio_postgres::notify::JobWakeups::start(
            ds.database_url().expose_secret().to_owned(),
            jobs_wakeup.clone(),
        );
        let social = build_social(&settings, &db)?;
        let projects = crate::projects::service(
            db.clone(),
            kept_reads.clone(),
            redis.as_ref(),
            &metrics,
            clock.clone(),
        );
        let state = AppState {
            settings: settings.clone(),
            users,
            specs,
            projects: projects.clone(),
            generator: generator.clone(),
            deepseek,
            jobs_wakeup,
            job_wakeups,
            kept_reads,
            tokens,
            db,
            redis,
            limiter,
            metrics,
            log_control,
            started_at: Instant::now(),
            code,
            stores,
            previews: Arc::new(crate::storage::PreviewCache::new(
                settings.ingenio.preview.cache_mb * 1024 * 1024,
            )),
            streams: Arc::default(),
            social: social.clone(),
        };
        spawn_housekeeping(
            sessions,
            job_repo.clone(),
            social.clone(),
            settings.ingenio.generation.event_retention_days,
            clock,
        );
        let pipeline = Arc::new(Pipeline {
            jobs: job_repo.clone(),
            generator,
            specs: spec_repo,
            builder,
            quota: quota_port,
            limits: settings.ingenio.spec_limits,
            listener: Some(Arc::new(crate::projects::ProjectsListener(projects))),
        });
        let workers = workers::start(
            &state,
            pipeline,
            job_repo,
            settings.ingenio.generation.workers,
        );

        let server = http_server(state.clone(), listener)?;
        let preview = side_listener(&settings, settings.ingenio.preview.port, "preview")?
            .map(|(l, p)| {
                tracing::info!(port = p, "previews also served on their own listener");
                anyhow::Ok((preview_server(state.clone(), l)?, p))
            })
            .transpose()?;
        let management = side_listener(&settings, settings.management.server.port, "management")?
            .map(|(l, p)| {
                tracing::info!(port = p, "actuator served on the management listener");
                anyhow::Ok((management_server(state.clone(), l)?, p))
            })
            .transpose()?;
        Ok(Self {
            port,
            server,
            preview,
            management,
            state,
            workers,
        })
    }

    /// The port of the preview-only listener, when one is configured.
    pub fn preview_port(&self) -> Option<u16> {
        self.preview.as_ref().map(|(_, p)| *p)
    }

    /// The port of the actuator-only listener, when one is configured.
    pub fn management_port(&self) -> Option<u16> {
        self.management.as_ref().map(|(_, p)| *p)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// A handle to stop the server (tests, embedding).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Abort handles of the generation workers (tests use them to simulate a crash).
    pub fn worker_abort_handles(&self) -> Vec<tokio::task::AbortHandle> {
        self.workers.abort_handles()
    }

    /// Serves until SIGTERM/SIGINT, then drains in-flight requests (`server.shutdown-timeout`)
    /// and gives running generation jobs the same grace before leaving them to other instances.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let grace = Duration::from_secs(self.state.settings.server.shutdown_timeout);
        let side: Vec<_> = [self.preview, self.management]
            .into_iter()
            .flatten()
            .map(|(s, _)| {
                let handle = s.handle();
                (tokio::spawn(s), handle)
            })
            .collect();
        let result = self.server.await;
        for (task, handle) in side {
            handle.stop(true).await;
            let _ = task.await;
        }
        self.workers.shutdown(grace).await;
        result
    }
}

/// The social service over PostgreSQL, with the moderation settings (the blocked-word file is
/// read once, here).
pub fn build_social(
    settings: &Settings,
    db: &ingenio_postgres::DbPool,
) -> anyhow::Result<ingenio_social::SocialService> {
    use ingenio_social::moderation::BlockedWords;
    let m = &settings.ingenio.moderation;
    let mut words = m.blocked_words.clone();
    let file = m.blocked_words_file.trim();
    if !file.is_empty() {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("read ingenio.moderation.blocked-words-file {file}"))?;
        words.extend(BlockedWords::parse_lines(&text));
    }
    let blocked_words = BlockedWords::new(&words);
    if !blocked_words.is_empty() {
        tracing::info!(
            words = blocked_words.len(),
            "comment blocked-word list loaded"
        );
    }
    let repo = Arc::new(ingenio_postgres::social::PgSocialRepository::new(
        db.clone(),
    ));
    Ok(ingenio_social::SocialService::new(
        ingenio_social::SocialPorts {
            access: repo.clone(),
            prompts: repo.clone(),
            interactions: repo.clone(),
            reports: repo,
        },
        ingenio_social::SocialConfig {
            report_threshold: m.report_threshold,
            comment_max_chars: settings.ingenio.social.comment_max_chars.max(1),
            blocked_words,
            view_window_secs: i64::from(settings.ingenio.social.view_window_hours) * 3600,
        },
    ))
}

/// Mail through SMTP when `spring.mail.host` is set (in the background, bounded by
/// `ingenio.mail.timeout`); else the log when `ingenio.auth.log-reset-tokens` (never in prod: the
/// loader refuses it); else nowhere.
fn reset_notifier(
    settings: &Settings,
    metrics: &Metrics,
) -> anyhow::Result<Arc<dyn ResetNotifier>> {
    let spring_mail = &settings.spring.mail;
    let mail = &settings.ingenio.mail;
    if spring_mail.is_configured() {
        let security = mail
            .starttls
            .parse::<ingenio_mail::SmtpSecurity>()
            .map_err(anyhow::Error::msg)
            .context("ingenio.mail.starttls")?;
        let timeout = Duration::from_secs(mail.timeout.max(1));
        let mailer = ingenio_mail::SmtpMailer::new(&ingenio_mail::SmtpSettings {
            host: spring_mail.host.trim().to_owned(),
            port: spring_mail.port,
            security,
            username: spring_mail.username.clone(),
            password: spring_mail.password.expose_secret().to_owned(),
            from: mail.from.clone(),
            timeout,
        })
        .context("password-reset mail (spring.mail / ingenio.mail)")?;
        let link = Some(mail.reset_url.trim().to_owned()).filter(|u| !u.is_empty());
        let notifier = MailResetNotifier::new(
            Arc::new(mailer),
            settings.user_service_config().reset_token_ttl,
            link,
        );
        tracing::info!(host = %spring_mail.host, port = spring_mail.port, security = %security, "password-reset tokens are mailed over SMTP");
        // lettre bounds the connection and each command; this bounds the whole exchange
        return Ok(Arc::new(BackgroundNotifier::new(
            Arc::new(notifier),
            timeout + Duration::from_secs(2),
            metrics.clone(),
        )));
    }
    if settings.ingenio.auth.log_reset_tokens {
        tracing::warn!("no mail transport (MAIL_HOST empty): password-reset tokens are written to the log (ingenio.auth.log-reset-tokens, development only)");
        return Ok(Arc::new(LogNotifier));
    }
    Ok(Arc::new(NoMailNotifier))
}

/// Counts each call the in-process fallback answered because Redis failed or its breaker was
/// open, as `ingenio_redis_fallback_total{component}` (plotted by the shipped Grafana dashboard).
/// Both series start at 0 so `rate()` has a baseline before the first outage.
fn redis_fallback_counter(metrics: &Metrics) -> ingenio_embedded::failover::FallbackHook {
    const NAME: &str = "ingenio_redis_fallback_total";
    const HELP: &str = "Calls answered by the in-process fallback because Redis failed";
    for component in ["rate_limiter", "ai_quota"] {
        metrics.add_counter(NAME, HELP, &[("component", component)], 0.0);
    }
    let metrics = metrics.clone();
    Arc::new(move |component| metrics.inc_counter(NAME, HELP, &[("component", component)]))
}

/// DeepSeek when a key is configured, otherwise the offline rule-based generator.
type Generators = (
    Arc<dyn SpecGenerator>,
    Option<ingenio_deepseek::DeepseekGenerator>,
);

fn build_generator(settings: &Settings) -> anyhow::Result<Generators> {
    let ds = &settings.ingenio.deepseek;
    let key = ds.api_key.expose_secret();
    if key.trim().is_empty() {
        tracing::info!(
            "DEEPSEEK_API_KEY not configured: generation uses the offline rule-based generator"
        );
        return Ok((Arc::new(OfflineGenerator), None));
    }
    let mut cfg = ingenio_deepseek::DeepseekConfig::new(
        key.to_owned(),
        ds.base_url.clone(),
        ds.model.clone(),
    );
    cfg.plan_timeout = Duration::from_secs(ds.plan_timeout.max(1));
    cfg.execute_timeout = Duration::from_secs(ds.execute_timeout.max(1));
    cfg.review_timeout = Duration::from_secs(ds.review_timeout.max(1));
    cfg.max_retries = ds.max_retries;
    cfg.max_concurrency = ds.max_concurrency.max(1);
    let client =
        ingenio_deepseek::DeepseekGenerator::new(cfg).context("configure the DeepSeek client")?;
    Ok((Arc::new(client.clone()), Some(client)))
}

/// Binds a second listener on `port` of the server address; `None` when the port is 0 (off).
fn side_listener(
    settings: &Settings,
    port: u16,
    what: &str,
) -> anyhow::Result<Option<(TcpListener, u16)>> {
    if port == 0 {
        return Ok(None);
    }
    let l = TcpListener::bind((settings.server.address.as_str(), port))
        .with_context(|| format!("bind the {what} listener on port {port}"))?;
    let p = l
        .local_addr()
        .with_context(|| format!("read the {what} address"))?
        .port();
    Ok(Some((l, p)))
}

/// `GET {context-path}/api-docs`: the OpenAPI document, serialized once at start.
fn api_docs(
    json: web::Bytes,
) -> impl Fn() -> std::future::Ready<actix_web::HttpResponse> + Clone + 'static {
    move || {
        std::future::ready(
            actix_web::HttpResponse::Ok()
                .content_type("application/json")
                .body(json.clone()),
        )
    }
}

/// The configured context path without a trailing `/` (`/api`).
fn context_path(state: &AppState) -> String {
    let ctx = &state.settings.server.context_path;
    ctx.trim_end_matches('/').to_owned()
}

/// The management listener (`management.server.port`): the whole actuator at `/actuator/…` (as
/// Spring serves it) and at `{context-path}/actuator/…` (so existing scrape configs work), nothing
/// else. Not rate limited and without CORS: it is meant for a private network.
fn management_server(state: AppState, listener: TcpListener) -> anyhow::Result<Server> {
    let data = web::Data::new(state.clone());
    let ctx = context_path(&state);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::JsonConfig::default().error_handler(http::error::json_error))
            .app_data(web::QueryConfig::default().error_handler(http::error::query_error))
            .app_data(web::PathConfig::default().error_handler(http::error::path_error))
            .wrap(from_fn(http::nul::reject_nul))
            .wrap(Compress::default())
            .wrap(from_fn(http::middleware::observe))
            .service(web::scope(&format!("{ctx}/actuator")).configure(http::actuator::routes))
            .service(web::scope("/actuator").configure(http::actuator::routes))
            .default_service(web::to(not_found))
    })
    .tcp_nodelay(true)
    .workers(1)
    .listen(listener)
    .context("listen (management)")?
    .shutdown_timeout(state.settings.server.shutdown_timeout)
    .run())
}

/// The preview-only listener: previews at `/{project_key}/…` (and `/api/preview/…` too, so a
/// `PREVIEW_BASE_URL` of either shape works), nothing else — no API, no credentials.
fn preview_server(state: AppState, listener: TcpListener) -> anyhow::Result<Server> {
    let data = web::Data::new(state.clone());
    let ctx = context_path(&state);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .wrap(Compress::default())
            .wrap(from_fn(http::middleware::observe))
            .service(web::scope(&format!("{ctx}/preview")).configure(http::code::preview::routes))
            .configure(http::code::preview::routes)
    })
    .tcp_nodelay(true)
    .workers(2)
    .listen(listener)
    .context("listen (previews)")?
    .shutdown_timeout(state.settings.server.shutdown_timeout)
    .run())
}

fn http_server(state: AppState, listener: TcpListener) -> anyhow::Result<Server> {
    let settings = state.settings.clone();
    let ctx = settings
        .server
        .context_path
        .trim_end_matches('/')
        .to_owned();
    let limit = settings.server.max_body_size;
    let origins = settings.server.cors.allowed_origins.clone();
    let api_routes: fn(&mut web::ServiceConfig) = if settings.management.server.port == 0 {
        http::routes
    } else {
        http::routes_with_management_port
    };
    let data = web::Data::new(state);
    // Serialized once and shared by every worker: the document object itself is several MiB
    // once per worker, and serializing it on each request cost CPU for the same bytes.
    let openapi_json = web::Bytes::from(
        serde_json::to_vec(&ApiDoc::openapi()).context("serialize the OpenAPI document")?,
    );
    let docs_url = format!("{ctx}/api-docs");
    let server = HttpServer::new(move || {
        // runs once on each worker thread, inside its runtime: the worker's own connections
        data.db.attach_worker();
        // this worker's kept reads and their LISTEN connection, on this worker's runtime
        data.kept_reads.local();
        let mut cors = actix_cors::Cors::default()
            .allowed_methods(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
            .allowed_headers([
                "authorization",
                "content-type",
                "idempotency-key",
                "if-match",
                "last-event-id",
                "x-trace-id",
            ])
            .expose_headers([
                "x-trace-id",
                "etag",
                "retry-after",
                "ratelimit-limit",
                "ratelimit-remaining",
                "ratelimit-reset",
            ])
            .max_age(3600);
        for o in &origins {
            cors = cors.allowed_origin(o);
        }
        App::new()
            .app_data(data.clone())
            .app_data(
                web::JsonConfig::default()
                    .limit(limit)
                    .error_handler(http::error::json_error),
            )
            .app_data(web::PayloadConfig::new(limit))
            .app_data(web::QueryConfig::default().error_handler(http::error::query_error))
            .app_data(web::PathConfig::default().error_handler(http::error::path_error))
            .wrap(from_fn(http::nul::reject_nul))
            .wrap(from_fn(http::middleware::rate_limit))
            .wrap(cors)
            .wrap(Compress::default())
            .wrap(from_fn(http::middleware::observe))
            .route(&docs_url, web::get().to(api_docs(openapi_json.clone())))
            .service(
                SwaggerUi::new(format!("{ctx}/swagger-ui/{{_:.*}}"))
                    .config(SwaggerConfig::new([docs_url.clone()])),
            )
            .service(web::scope(&ctx).configure(api_routes))
            .default_service(web::to(not_found))
    })
    // SSE frames and small JSON answers go out at once instead of waiting on Nagle's algorithm
    // for the client's delayed ACK (up to 40 ms per small write).
    .tcp_nodelay(true)
    .listen(listener)
    .context("listen")?
    .shutdown_timeout(settings.server.shutdown_timeout)
    .workers(http_workers(&settings));
    Ok(server.run())
}

/// API workers (threads, each with its own runtime and database pool): `server.workers`, or one
/// per CPU when 0 (actix's default).
fn http_workers(settings: &Settings) -> usize {
    match settings.server.workers {
        0 => std::thread::available_parallelism().map_or(2, usize::from),
        n => n,
    }
}

async fn not_found() -> Result<actix_web::HttpResponse, http::error::ApiError> {
    Err(http::error::ApiError::not_found("resource not found"))
}

/// Hourly purge of expired session rows (so the deny-list stays small), of the event logs of
/// jobs finished more than `event_retention_days` ago, and of view records older than the view
/// window. Every instance runs it; the deletes are idempotent.
fn spawn_housekeeping(
    sessions: PgSessionStore,
    jobs: Arc<dyn JobRepository>,
    social: ingenio_social::SocialService,
    event_retention_days: u32,
    clock: Arc<dyn Clock>,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match sessions.purge_expired(clock.now()).await {
                Ok(n) if n > 0 => tracing::info!(rows = n, "purged expired session rows"),
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "session purge skipped"),
            }
            if event_retention_days > 0 {
                let before = clock.now() - chrono::Duration::days(i64::from(event_retention_days));
                match jobs.purge_events(before).await {
                    Ok(n) if n > 0 => tracing::info!(rows = n, "purged old generation job events"),
                    Ok(_) => {}
                    Err(e) => tracing::debug!(error = %e, "job event purge skipped"),
                }
            }
            match social.purge_old_views().await {
                Ok(n) if n > 0 => tracing::info!(rows = n, "purged view records past the window"),
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "view purge skipped"),
            }
        }
    });
}
