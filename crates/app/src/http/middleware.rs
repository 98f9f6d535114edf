//! Middleware: trace ids and request spans, Micrometer-style request metrics, the envelope for
//! responses actix produces on its own (404, 405, ...), security headers, and the rate limiter.

use crate::http::envelope::Envelope;
use crate::http::error::ApiError;
use crate::http::extract::bearer_token;
use crate::state::AppState;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage, HttpResponse, ResponseError};
use ingenio_users::TokenService;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// The request's trace id, also sent back as `X-Trace-Id`.
#[derive(Debug, Clone)]
pub struct TraceId(pub String);

const TRACE_HEADER: &str = "x-trace-id";

fn incoming_trace_id(req: &ServiceRequest) -> Option<String> {
    let v = req.headers().get(TRACE_HEADER)?.to_str().ok()?.trim();
    let ok = !v.is_empty()
        && v.len() <= 128
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    ok.then(|| v.to_owned())
}

/// Outermost middleware: trace id, span, metrics, envelope for bare error responses, headers.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let start = Instant::now();
    let trace_id =
        incoming_trace_id(&req).unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    req.extensions_mut().insert(TraceId(trace_id.clone()));
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.metrics.clone());
    let span =
        tracing::info_span!("http_request", trace_id = %trace_id, method = %method, path = %path);
    let res = next.call(req).instrument(span.clone()).await?;
    let mut res = res.map_into_boxed_body();

    if res.status().as_u16() >= 400 && !is_json(&res) {
        res = envelope_bare_error(res);
    }
    let status = res.status().as_u16();
    let uri = res.request().match_pattern().unwrap_or_else(|| {
        if status == 404 {
            "NOT_FOUND".to_owned()
        } else {
            "UNKNOWN".to_owned()
        }
    });
    let elapsed = start.elapsed();
    if let Some(m) = metrics {
        m.observe_http(&method, &uri, status, elapsed.as_secs_f64());
    }
    span.in_scope(|| {
        tracing::debug!(status, elapsed_ms = elapsed.as_millis() as u64, uri = %uri, "request completed");
    });
    let headers = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&trace_id) {
        headers.insert(HeaderName::from_static(TRACE_HEADER), v);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    Ok(res)
}

fn is_json(res: &ServiceResponse<BoxBody>) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

fn envelope_bare_error(res: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let status = res.status();
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("1002", "resource not found".to_owned()),
        StatusCode::METHOD_NOT_ALLOWED => ("1001", "method not allowed".to_owned()),
        StatusCode::PAYLOAD_TOO_LARGE => ("1001", "request body is too large".to_owned()),
        StatusCode::UNAUTHORIZED => ("1003", "authentication required".to_owned()),
        StatusCode::FORBIDDEN => ("1004", "forbidden".to_owned()),
        StatusCode::TOO_MANY_REQUESTS => ("1005", "too many requests".to_owned()),
        s if s.is_server_error() => ("1000", "internal server error".to_owned()),
        s => (
            "1001",
            s.canonical_reason().unwrap_or("bad request").to_lowercase(),
        ),
    };
    let (req, old) = res.into_parts();
    let mut new = HttpResponse::build(status).json(Envelope::<()> {
        code,
        success: false,
        message,
        data: None,
        timestamp: chrono::Utc::now().timestamp_millis(),
    });
    for (k, v) in old.headers() {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            new.headers_mut().insert(k.clone(), v.clone());
        }
    }
    ServiceResponse::new(req, new)
}

/// The client address: the TCP peer, or the first `X-Forwarded-For` / `X-Real-IP` hop when
/// `server.forward-headers` says a trusted proxy sits in front.
pub fn client_ip(req: &ServiceRequest, trust_forwarded: bool) -> String {
    if trust_forwarded {
        let fwd = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .or_else(|| {
                req.headers()
                    .get("x-real-ip")
                    .and_then(|v| v.to_str().ok())
                    .map(str::trim)
            });
        if let Some(ip) = fwd {
            return ip.to_owned();
        }
    }
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Per-user (or per-IP when anonymous) request limit on the business routes, shared across
/// instances through the configured limiter. Actuator routes are never limited.
pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let settings = &state.settings;
    let v1 = format!("{}/v1/", settings.server.context_path.trim_end_matches('/'));
    if !settings.ingenio.rate_limit.enabled || !req.path().starts_with(&v1) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let key = match bearer_token(req.request()).and_then(|t| state.tokens.verify_access(&t).ok()) {
        Some(claims) => format!("req:u:{}", claims.user_id),
        None => format!(
            "req:ip:{}",
            client_ip(&req, settings.server.forward_headers)
        ),
    };
    let limit = settings.ingenio.rate_limit.requests_per_minute.max(1);
    let decision = match state
        .limiter
        .hit(&key, limit, Duration::from_secs(60))
        .await
    {
        Ok(d) => d,
        Err(e) => {
            // Both the shared and the embedded limiter failed: let the request through rather
            // than turn a limiter fault into an outage.
            tracing::warn!(
                error = format!("{e:#}"),
                "rate limiter unavailable; request allowed"
            );
            return Ok(next.call(req).await?.map_into_boxed_body());
        }
    };
    let reset = decision.reset_after.as_secs().max(1);
    let headers = [
        ("ratelimit-limit", decision.limit.to_string()),
        ("ratelimit-remaining", decision.remaining.to_string()),
        ("ratelimit-reset", reset.to_string()),
    ];
    let mut res = if decision.allowed {
        next.call(req).await?.map_into_boxed_body()
    } else {
        state.metrics.inc_counter(
            "ingenio_rate_limit_rejected_total",
            "Requests refused by the rate limiter",
            &[("scope", "requests")],
        );
        req.into_response(ApiError::too_many(reset).error_response())
    };
    for (k, v) in headers {
        if let Ok(v) = HeaderValue::from_str(&v) {
            res.headers_mut().insert(HeaderName::from_static(k), v);
        }
    }
    Ok(res)
}
