//! Spring-Boot-style actuator (guide §6.1): health (+ liveness, readiness), info, metrics,
//! Prometheus exposition and run-time log levels. Bodies keep Spring's shapes so the guide's
//! probes and dashboards work unchanged; errors still use the envelope.

use crate::http::envelope::ErrorEnvelope;
use crate::http::error::ApiError;
use crate::http::extract::AdminUser;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;
use utoipa::ToSchema;

/// The whole actuator (the API port without a management port, or the management port).
pub fn routes(cfg: &mut web::ServiceConfig) {
    probe_routes(cfg);
    cfg.service(metrics_index)
        .service(metric)
        .service(prometheus)
        .service(loggers)
        .service(get_logger)
        .service(set_logger);
}

/// Only what load balancers and container probes need: health (with liveness and readiness) and
/// info. The API port keeps these when `management.server.port` moves the rest away.
pub fn probe_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(health)
        .service(liveness)
        .service(readiness)
        .service(info);
}

/// Free bytes below which the disk counts as DOWN (Spring's default, 10 MiB).
const DISK_THRESHOLD: u64 = 10 * 1024 * 1024;

async fn db_component(state: &AppState) -> (bool, Value) {
    match tokio::time::timeout(
        Duration::from_secs(3),
        ingenio_postgres::pool::ping(&state.db),
    )
    .await
    {
        Ok(Ok(())) => (
            true,
            json!({"status":"UP","details":{
                "database":"PostgreSQL",
                "validationQuery":"isValid()",
                // LISTEN/NOTIFY for job wake-ups; "polling" while that connection reconnects
                "jobNotifications": if state.job_wakeups.is_listening() { "listening" } else { "polling" },
            }}),
        ),
        Ok(Err(e)) => {
            tracing::warn!(error = format!("{e:#}"), "health: database DOWN");
            (
                false,
                json!({"status":"DOWN","details":{"database":"PostgreSQL","error":"database unreachable"}}),
            )
        }
        Err(_) => (
            false,
            json!({"status":"DOWN","details":{"database":"PostgreSQL","error":"validation query timed out"}}),
        ),
    }
}

async fn redis_component(state: &AppState) -> (bool, Value) {
    let Some(redis) = &state.redis else {
        return (
            true,
            json!({"status":"UP","details":{"mode":"embedded","note":"REDIS_HOST not configured; in-process fallbacks in use"}}),
        );
    };
    match redis.ping().await {
        Ok(h) => (true, json!({"status":"UP","details":{"version":h.version}})),
        Err(e) => {
            tracing::warn!(error = format!("{e:#}"), "health: redis DOWN");
            (
                false,
                json!({"status":"DOWN","details":{"error":"redis unreachable","fallback":"embedded in-process rate limiter"}}),
            )
        }
    }
}

/// The AI provider: DOWN when DeepSeek's last answer was 401/402 (an operator problem: every job
/// would fail with 6003 until the key or the balance is fixed).
fn ai_component(state: &AppState) -> (bool, Value) {
    match &state.deepseek {
        None => (
            true,
            json!({"status":"UP","details":{"provider":"offline","model": state.generator.model_version(),
                   "note":"DEEPSEEK_API_KEY not configured; the rule-based offline generator is used"}}),
        ),
        Some(d) => {
            let st = d.stats();
            let up = st.last_auth_error.is_none();
            (
                up,
                json!({"status": if up {"UP"} else {"DOWN"}, "details": {
                    "provider": "deepseek", "model": state.generator.model_version(),
                    "calls": st.calls, "retries": st.retries, "timeouts": st.timeouts,
                    "lastAuthError": st.last_auth_error}}),
            )
        }
    }
}

/// The artifact store: S3/MinIO (endpoint, bucket) or the local directory. DOWN makes renders
/// fail with 7000 and downloads with 7001, while everything else works: the overall status is
/// DEGRADED then, not DOWN.
async fn storage_component(state: &AppState) -> (bool, Value) {
    let details = match &state.stores {
        crate::storage::Stores::S3 { endpoint, bucket } => {
            json!({"backend": "s3", "endpoint": endpoint, "bucket": bucket})
        }
        crate::storage::Stores::Local(local) => {
            json!({"backend": "local", "path": local.root().display().to_string()})
        }
    };
    let check = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        state.code.store().health(),
    )
    .await;
    match check {
        Ok(Ok(())) => (true, json!({"status": "UP", "details": details})),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health: object storage DOWN");
            let mut d = details;
            d["error"] = json!("object storage unreachable");
            (false, json!({"status": "DOWN", "details": d}))
        }
        Err(_) => {
            let mut d = details;
            d["error"] = json!("object storage did not answer within 3 s");
            (false, json!({"status": "DOWN", "details": d}))
        }
    }
}

fn disk_component() -> (bool, Value) {
    let dir = std::env::current_dir().unwrap_or_else(|_| ".".into());
    match (fs2::total_space(&dir), fs2::available_space(&dir)) {
        (Ok(total), Ok(free)) => {
            let up = free >= DISK_THRESHOLD;
            (
                up,
                json!({"status": if up {"UP"} else {"DOWN"},
                       "details":{"total":total,"free":free,"threshold":DISK_THRESHOLD,"path":dir.display().to_string(),"exists":true}}),
            )
        }
        _ => (
            false,
            json!({"status":"DOWN","details":{"error":"cannot read disk usage"}}),
        ),
    }
}

/// Overall health. 503 when the database or the disk is DOWN; a Redis outage reports redis
/// DOWN and the overall status `DEGRADED` with 200, because requests keep working on the
/// embedded fallbacks and a load balancer should not pull every instance for it.
#[utoipa::path(get, path = "/actuator/health", tag = "actuator",
    responses((status = 200, description = "UP or DEGRADED", body = Object), (status = 503, description = "DOWN", body = Object)))]
#[get("/health")]
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let ((db_up, db), (redis_up, redis), (storage_up, storage)) = tokio::join!(
        db_component(&state),
        redis_component(&state),
        storage_component(&state)
    );
    let (disk_up, disk) = disk_component();
    let (ai_up, ai) = ai_component(&state);
    let (status, code) = if !db_up || !disk_up {
        ("DOWN", StatusCode::SERVICE_UNAVAILABLE)
    } else if !redis_up || !ai_up || !storage_up {
        ("DEGRADED", StatusCode::OK)
    } else {
        ("UP", StatusCode::OK)
    };
    HttpResponse::build(code).json(json!({
        "status": status,
        "components": {
            "db": db,
            "redis": redis,
            "objectStorage": storage,
            "diskSpace": disk,
            "ai": ai,
            "livenessState": {"status":"UP"},
            "readinessState": {"status": if db_up {"UP"} else {"OUT_OF_SERVICE"}},
        }
    }))
}

/// The process is alive (never touches dependencies).
#[utoipa::path(get, path = "/actuator/health/liveness", tag = "actuator",
    responses((status = 200, description = "UP", body = Object)))]
#[get("/health/liveness")]
pub async fn liveness() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status":"UP"}))
}

/// Ready to serve: the database answers.
#[utoipa::path(get, path = "/actuator/health/readiness", tag = "actuator",
    responses((status = 200, description = "UP", body = Object), (status = 503, description = "OUT_OF_SERVICE", body = Object)))]
#[get("/health/readiness")]
pub async fn readiness(state: web::Data<AppState>) -> HttpResponse {
    let (up, _) = db_component(&state).await;
    if up {
        HttpResponse::Ok().json(json!({"status":"UP"}))
    } else {
        HttpResponse::ServiceUnavailable().json(json!({"status":"OUT_OF_SERVICE"}))
    }
}

/// Build and runtime information.
#[utoipa::path(get, path = "/actuator/info", tag = "actuator", responses((status = 200, description = "Info", body = Object)))]
#[get("/info")]
pub async fn info(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "app": {
            "name": "ingenio-backend",
            "description": env!("CARGO_PKG_DESCRIPTION"),
            "version": env!("CARGO_PKG_VERSION"),
        },
        "build": {"rustc": option_env!("RUSTC_VERSION").unwrap_or("stable"), "profile": if cfg!(debug_assertions) {"debug"} else {"release"}},
        "runtime": {
            "profile": state.settings.profile,
            "uptimeSeconds": state.started_at.elapsed().as_secs(),
            "rateLimiter": state.limiter.backend(),
            "redis": if state.redis.is_some() {"configured"} else {"embedded"},
        }
    }))
}

fn refresh_llm_gauges(state: &AppState) {
    let Some(d) = &state.deepseek else { return };
    let st = d.stats();
    let m = &state.metrics;
    let g = |name: &str, help: &str, v: u64| {
        m.set_gauge(name, help, &[("provider", "deepseek")], v as f64)
    };
    g(
        "ingenio_llm_calls",
        "HTTP calls made to the LLM provider since start",
        st.calls,
    );
    g(
        "ingenio_llm_retries",
        "LLM calls repeated after 429/5xx/timeouts since start",
        st.retries,
    );
    g(
        "ingenio_llm_timeouts",
        "LLM attempts that hit their timeout since start",
        st.timeouts,
    );
    g(
        "ingenio_llm_invalid_outputs",
        "LLM agent calls that ended with an unusable answer",
        st.invalid_outputs,
    );
    g(
        "ingenio_llm_tokens",
        "Tokens used by LLM calls since start",
        st.usage.total_tokens,
    );
    g(
        "ingenio_llm_auth_failing",
        "1 while the provider answers 401/402",
        u64::from(st.last_auth_error.is_some()),
    );
    for (status, n) in &st.failures_by_status {
        m.set_gauge(
            "ingenio_llm_failures",
            "Non-success answers of the LLM provider by status",
            &[("provider", "deepseek"), ("status", &status.to_string())],
            *n as f64,
        );
    }
}

/// Open job event streams on this instance and whether the LISTEN connection is up.
fn refresh_stream_gauges(state: &AppState) {
    let m = &state.metrics;
    m.set_gauge(
        "ingenio_generation_event_streams",
        "Open SSE streams of generation jobs on this instance",
        &[],
        state.job_wakeups.watching() as f64,
    );
    m.set_gauge(
        "ingenio_generation_notifications_listening",
        "1 while the LISTEN/NOTIFY connection for job wake-ups is up (0 = polling)",
        &[],
        if state.job_wakeups.is_listening() {
            1.0
        } else {
            0.0
        },
    );
}

/// The kept reads' counters (monotonic since start, summed over workers) and sizes.
fn refresh_kept_read_gauges(state: &AppState) {
    use ingenio_postgres::kept_reads::KeptKind;
    let t = state.kept_reads.totals();
    let help = "Session checks and project reads since start by kind and how they were answered: \
                hit (kept, after a sync round), miss (read from the database and kept), fallback \
                (listener down or round failed: read from the database)";
    for kind in KeptKind::ALL {
        let k = t.of(kind);
        for (result, n) in [
            ("hit", k.hits),
            ("miss", k.misses),
            ("fallback", k.fallbacks),
        ] {
            state.metrics.set_gauge(
                "ingenio_kept_reads_lookups",
                help,
                &[("kind", kind.as_str()), ("result", result)],
                n as f64,
            );
        }
        state.metrics.set_gauge(
            "ingenio_kept_reads_entries",
            "Sessions and projects kept in process, by kind",
            &[("kind", kind.as_str())],
            k.entries as f64,
        );
    }
    for (name, help, n) in [
        (
            "ingenio_kept_reads_rounds",
            "Sync rounds on the workers' LISTEN connections since start (each serves every waiting read)",
            t.rounds,
        ),
        (
            "ingenio_kept_reads_listeners",
            "HTTP workers whose kept-reads LISTEN connection is up",
            t.listening,
        ),
    ] {
        state.metrics.set_gauge(name, help, &[], n as f64);
    }
}

fn refresh_pool_gauges(state: &AppState) {
    refresh_llm_gauges(state);
    refresh_stream_gauges(state);
    refresh_kept_read_gauges(state);
    let (connections, idle) = ingenio_postgres::pool::pool_state(&state.db);
    let max = state.settings.spring.datasource.hikari.maximum_pool_size;
    state.metrics.set_pool_state(
        "ingenio-db",
        u64::from(connections.saturating_sub(idle)),
        u64::from(idle),
        u64::from(max),
        0,
    );
}

/// Names of every metric.
#[utoipa::path(get, path = "/actuator/metrics", tag = "actuator", responses((status = 200, description = "Metric names", body = Object)))]
#[get("/metrics")]
pub async fn metrics_index(state: web::Data<AppState>) -> HttpResponse {
    refresh_pool_gauges(&state);
    HttpResponse::Ok().json(json!({"names": state.metrics.names()}))
}

#[derive(Debug, Deserialize)]
pub struct TagQuery {
    /// `tag=key:value`, repeatable.
    #[serde(default)]
    pub tag: Vec<String>,
}

/// One metric with its measurements, optionally filtered by `tag=key:value`.
#[utoipa::path(get, path = "/actuator/metrics/{name}", tag = "actuator",
    params(("name" = String, Path, description = "dotted name, e.g. http.server.requests"),
           ("tag" = Option<String>, Query, description = "key:value filter, repeatable")),
    responses((status = 200, description = "Measurements", body = Object), (status = 404, description = "1002 unknown metric", body = ErrorEnvelope)))]
#[get("/metrics/{name}")]
pub async fn metric(
    state: web::Data<AppState>,
    name: web::Path<String>,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    refresh_pool_gauges(&state);
    let tags: Vec<(String, String)> = url_tags(req.query_string());
    state
        .metrics
        .describe(&name, &tags)
        .map(|v| HttpResponse::Ok().json(v))
        .ok_or_else(|| ApiError::not_found(format!("no metric named {name}")))
}

fn url_tags(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| *k == "tag")
        .filter_map(|(_, v)| {
            let v = percent_decode(v);
            v.split_once(':').map(|(a, b)| (a.to_owned(), b.to_owned()))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'%' => out.push(b'%'),
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Prometheus text exposition (scrape with `metrics_path: /api/actuator/prometheus`).
#[utoipa::path(get, path = "/actuator/prometheus", tag = "actuator",
    responses((status = 200, description = "text/plain; version=0.0.4", content_type = "text/plain")))]
#[get("/prometheus")]
pub async fn prometheus(state: web::Data<AppState>) -> HttpResponse {
    refresh_pool_gauges(&state);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}

/// Every configured logger with its level (admin only).
#[utoipa::path(get, path = "/actuator/loggers", tag = "actuator", security(("bearer" = [])),
    responses((status = 200, description = "Loggers", body = Object), (status = 403, description = "1004 administrator role required", body = ErrorEnvelope)))]
#[get("/loggers")]
pub async fn loggers(state: web::Data<AppState>, _admin: AdminUser) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "levels": ["OFF","ERROR","WARN","INFO","DEBUG","TRACE"],
        "loggers": state.log_control.levels(),
    }))
}

/// One logger (admin only).
#[utoipa::path(get, path = "/actuator/loggers/{name}", tag = "actuator", security(("bearer" = [])),
    params(("name" = String, Path, description = "ROOT or a target such as ingenio_server")),
    responses((status = 200, description = "Logger", body = Object), (status = 403, description = "1004 administrator role required", body = ErrorEnvelope), (status = 404, description = "1002 unknown logger", body = ErrorEnvelope)))]
#[get("/loggers/{name}")]
pub async fn get_logger(
    state: web::Data<AppState>,
    _admin: AdminUser,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let levels = state.log_control.levels();
    let key = if name.eq_ignore_ascii_case("root") {
        "ROOT".to_owned()
    } else {
        name.into_inner()
    };
    levels
        .get(&key)
        .map(|l| HttpResponse::Ok().json(l))
        .ok_or_else(|| ApiError::not_found(format!("no logger named {key}")))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoggerLevelRequest {
    /// TRACE, DEBUG, INFO, WARN, ERROR, OFF, or null to inherit.
    pub configured_level: Option<String>,
}

/// Change a logger's level at run time (admin only). Applies to this instance.
#[utoipa::path(post, path = "/actuator/loggers/{name}", tag = "actuator", security(("bearer" = [])),
    params(("name" = String, Path, description = "ROOT or a target")), request_body = LoggerLevelRequest,
    responses((status = 204, description = "Changed"), (status = 400, description = "1001 unknown level", body = ErrorEnvelope),
              (status = 403, description = "1004 administrator role required", body = ErrorEnvelope)))]
#[post("/loggers/{name}")]
pub async fn set_logger(
    state: web::Data<AppState>,
    admin: AdminUser,
    name: web::Path<String>,
    body: web::Json<LoggerLevelRequest>,
) -> Result<HttpResponse, ApiError> {
    state
        .log_control
        .set_level(&name, body.configured_level.as_deref())
        .map_err(|e| ApiError::bad_param("configuredLevel", e.to_string()))?;
    tracing::warn!(logger = %name, level = ?body.configured_level, by = %admin.0.user_id, "log level changed at run time");
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_query_is_decoded() {
        assert_eq!(
            url_tags("tag=uri:%2Fapi%2Fv1%2Fauth%2Fme&tag=method:GET&x=1"),
            vec![
                ("uri".to_owned(), "/api/v1/auth/me".to_owned()),
                ("method".to_owned(), "GET".to_owned())
            ]
        );
    }
}
