//! Middleware: trace ids and request spans, Micrometer-style request metrics, the envelope for
//! responses actix produces on its own (404, 405, ...), security headers, and the rate limiter.

use crate::config::settings::{ServerSettings, TrustedProxies};
use crate::http::envelope::ErrorEnvelope;
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
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tracing::Instrument;

/// The request's trace id, also sent back as `X-Trace-Id`.
#[derive(Debug, Clone)]
pub struct TraceId(pub String);

const TRACE_HEADER: &str = "x-trace-id";

/// Target of the per-response access line; under `ingenio_server`, so `com.ingenio.backend: INFO`
/// (or `ingenio_server: info`) keeps it while `root` is `WARN`.
pub const ACCESS_TARGET: &str = "ingenio_server::http::access";

fn incoming_trace_id(req: &ServiceRequest) -> Option<String> {
    let v = req.headers().get(TRACE_HEADER)?.to_str().ok()?.trim();
    let ok = !v.is_empty()
        && v.len() <= 128
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    ok.then(|| v.to_owned())
}

/// A random (version 4) UUID, simple form, from the thread's CSPRNG: `Uuid::new_v4` asks the
/// kernel (a `getrandom` system call) on every request.
fn new_trace_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .simple()
        .to_string()
}

/// Outermost middleware: trace id, span, metrics, envelope for bare error responses, headers.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let start = Instant::now();
    let trace_id = incoming_trace_id(&req).unwrap_or_else(new_trace_id);
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
    // The access line operators grep for (`grep "status=500" logs/ingenio-backend.log`): one per
    // response, at INFO, outside the request span so its fields appear once.
    tracing::info!(
        target: ACCESS_TARGET,
        status,
        method = %method,
        route = %uri,
        duration_ms = elapsed.as_millis() as u64,
        trace_id = %trace_id,
        "request"
    );
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
    let mut new = HttpResponse::build(status).json(ErrorEnvelope::new(code, message, None));
    for (k, v) in old.headers() {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            new.headers_mut().insert(k.clone(), v.clone());
        }
    }
    ServiceResponse::new(req, new)
}

/// Most `X-Forwarded-For` hops examined from the right; a longer chain of trusted proxies ends at
/// the last one examined.
const MAX_FORWARDED_HOPS: usize = 16;

/// The client address used as the anonymous rate-limit key: the TCP peer, unless
/// `server.forward-headers` is on and the peer is one of the trusted proxies; then the rightmost
/// `X-Forwarded-For` hop that is not a trusted proxy (or `X-Real-IP` when there is no
/// `X-Forwarded-For`). Always an IP address in canonical form (at most 39 bytes), or `unknown`.
pub fn client_ip(req: &ServiceRequest, settings: &ServerSettings) -> String {
    client_ip_of(req.request(), settings)
}

/// [`client_ip`] for a handler's `HttpRequest` (anonymous views are keyed by it).
pub fn client_ip_of(req: &actix_web::HttpRequest, settings: &ServerSettings) -> String {
    let peer = req.peer_addr().map(|a| a.ip());
    let ip = if settings.forward_headers {
        let header = |name: &str| {
            req.headers()
                .get_all(name)
                .filter_map(|v| v.to_str().ok())
                .collect::<Vec<_>>()
        };
        let real_ip = header("x-real-ip");
        resolve_client_ip(
            peer,
            &header("x-forwarded-for"),
            real_ip.first().copied(),
            &settings.forward_headers_trusted_proxies,
        )
    } else {
        peer.map(|p| p.to_canonical())
    };
    ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

/// The client behind `peer` given the forwarded headers it sent (`forwarded_for` holds the
/// `X-Forwarded-For` header values in arrival order). Headers count only when `peer` is
/// trusted; hops are read from the right (the hop a trusted proxy appended last) skipping trusted
/// proxies, and the first other hop is the client. A hop that is not an address ends the walk at
/// the last address read, so a malformed header can never pick the key.
pub fn resolve_client_ip(
    peer: Option<IpAddr>,
    forwarded_for: &[&str],
    real_ip: Option<&str>,
    trusted: &TrustedProxies,
) -> Option<IpAddr> {
    let peer = peer?.to_canonical();
    if !trusted.contains(peer) {
        return Some(peer);
    }
    let mut hops = forwarded_for
        .iter()
        .rev()
        .flat_map(|v| v.rsplit(','))
        .map(str::trim)
        .peekable();
    if hops.peek().is_none() {
        return Some(real_ip.and_then(parse_hop).unwrap_or(peer));
    }
    let mut client = peer;
    for hop in hops.take(MAX_FORWARDED_HOPS) {
        let Some(ip) = parse_hop(hop) else {
            break;
        };
        client = ip;
        if !trusted.contains(ip) {
            break;
        }
    }
    Some(client)
}

/// One forwarded hop: `ip`, `ip:port`, `[v6]` or `[v6]:port`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    let ip = hop
        .parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            hop.strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .and_then(|h| h.parse::<IpAddr>().ok())
        })?;
    Some(ip.to_canonical())
}

/// Routes whose requests are always counted per client IP, whatever token they carry: a
/// token must not buy a fresh budget for guessing passwords or creating accounts.
fn counted_per_ip(path: &str, v1: &str) -> bool {
    path.strip_prefix(v1)
        .and_then(|p| p.strip_prefix("auth/"))
        .is_some_and(|p| {
            let p = p.trim_end_matches('/');
            matches!(p, "login" | "register") || p.starts_with("reset-password/")
        })
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
    let user = if counted_per_ip(req.path(), &v1) {
        None
    } else {
        bearer_token(req.request()).and_then(|t| state.tokens.verify_access(&t).ok())
    };
    let key = match user {
        Some(claims) => format!("req:u:{}", claims.user_id),
        None => format!("req:ip:{}", client_ip(&req, &settings.server)),
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
        // the handler of GET /v1/user/quota reports this decision
        req.extensions_mut().insert(decision);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[derive(Clone, Default)]
    struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn generated_trace_ids_are_distinct_version_4_uuids() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_trace_id()).collect();
        assert_eq!(ids.len(), 1000);
        for id in &ids {
            assert_eq!(id.len(), 32, "{id}");
            let u = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(u.get_version_num(), 4, "{id}");
            assert_eq!(u.get_variant(), uuid::Variant::RFC4122, "{id}");
        }
    }

    impl Buf {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    /// With the prod levels (`root` WARN, our crates INFO), every response writes one access line
    /// with status, method, route template, duration and trace id: as `k=v` in the text format the
    /// log file uses, and as fields in JSON.
    #[actix_web::test]
    async fn every_response_writes_one_access_line_with_status_route_and_trace() {
        use tracing_subscriber::layer::SubscriberExt as _;
        let (text, json) = (Buf::default(), Buf::default());
        let (tw, jw) = (text.clone(), json.clone());
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::EnvFilter::new(
                "warn,ingenio_server=info",
            ))
            .with(
                tracing_subscriber::fmt::layer()
                    .event_format(crate::telemetry::logging::SpringFormat)
                    .with_ansi(false)
                    .with_writer(move || tw.clone()),
            )
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_writer(move || jw.clone()),
            );
        let _guard = tracing::subscriber::set_default(subscriber);
        let app = actix_web::test::init_service(
            actix_web::App::new()
                .wrap(actix_web::middleware::from_fn(observe))
                .route(
                    "/v1/boom/{id}",
                    web::get().to(|| async { HttpResponse::InternalServerError().finish() }),
                )
                .route(
                    "/v1/ok",
                    web::post().to(|| async { HttpResponse::Ok().finish() }),
                ),
        )
        .await;
        let req = actix_web::test::TestRequest::get()
            .uri("/v1/boom/42")
            .insert_header((TRACE_HEADER, "trace-abc"))
            .to_request();
        let res = actix_web::test::call_service(&app, req).await;
        assert_eq!(res.status(), 500);
        let req = actix_web::test::TestRequest::post()
            .uri("/v1/ok")
            .to_request();
        assert_eq!(actix_web::test::call_service(&app, req).await.status(), 200);

        let text = text.text();
        let lines: Vec<&str> = text.lines().filter(|l| l.contains(" - request ")).collect();
        assert_eq!(lines.len(), 2, "{text}");
        let failed: Vec<&&str> = lines.iter().filter(|l| l.contains("status=500")).collect();
        assert_eq!(failed.len(), 1, "{text}");
        let line = failed[0];
        assert!(
            line.contains(" INFO  ingenio_server::http::access - request status=500 "),
            "{line}"
        );
        assert!(line.contains("method=GET"), "{line}");
        assert!(line.contains("route=/v1/boom/{id}"), "{line}");
        assert!(line.contains("trace_id=trace-abc"), "{line}");
        let ms = line.split("duration_ms=").nth(1).unwrap();
        assert!(
            ms.split(' ').next().unwrap().parse::<u64>().is_ok(),
            "{line}"
        );
        assert!(lines
            .iter()
            .any(|l| l.contains("status=200 method=POST route=/v1/ok")));

        let json = json.text();
        let record: serde_json::Value = json
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|v| v["status"] == 500)
            .expect(&json);
        assert_eq!(record["level"], "INFO");
        assert_eq!(record["method"], "GET");
        assert_eq!(record["route"], "/v1/boom/{id}");
        assert_eq!(record["trace_id"], "trace-abc");
        assert!(record["duration_ms"].is_u64(), "{record}");
    }

    fn loopback() -> TrustedProxies {
        TrustedProxies::parse(&["127.0.0.1/8", "::1"]).unwrap()
    }

    fn proxies_and_lan() -> TrustedProxies {
        TrustedProxies::parse(&["127.0.0.1/8", "10.0.0.0/8"]).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn headers_count_only_from_trusted_peers() {
        let t = loopback();
        let from = |peer: &str, xff: &[&str], real: Option<&str>| {
            resolve_client_ip(Some(ip(peer)), xff, real, &t).unwrap()
        };
        assert_eq!(
            from("203.0.113.7", &["1.1.1.1"], Some("2.2.2.2")),
            ip("203.0.113.7")
        );
        assert_eq!(from("127.0.0.1", &["1.1.1.1"], None), ip("1.1.1.1"));
        // the client wrote the leftmost hops; the proxy appended the real peer
        assert_eq!(
            from("127.0.0.1", &["6.6.6.6, 203.0.113.7"], None),
            ip("203.0.113.7")
        );
        assert_eq!(
            from("127.0.0.1", &["6.6.6.6", "203.0.113.7, 127.0.0.2"], None),
            ip("203.0.113.7")
        );
        assert_eq!(
            from("127.0.0.1", &[], Some("198.51.100.1")),
            ip("198.51.100.1")
        );
        assert_eq!(from("127.0.0.1", &[], Some("garbage")), ip("127.0.0.1"));
        assert_eq!(
            from("127.0.0.1", &["[2001:db8::5]:443"], None),
            ip("2001:db8::5")
        );
        assert_eq!(
            from("127.0.0.1", &["198.51.100.2:8080"], None),
            ip("198.51.100.2")
        );
        // a malformed hop ends the walk at the last address read
        assert_eq!(from("127.0.0.1", &["6.6.6.6, evil"], None), ip("127.0.0.1"));
        assert_eq!(
            from("127.0.0.1", &["evil, 127.0.0.3"], None),
            ip("127.0.0.3")
        );
        // IPv4-mapped peers are IPv4
        assert_eq!(from("::ffff:127.0.0.1", &["1.1.1.1"], None), ip("1.1.1.1"));
        assert_eq!(resolve_client_ip(None, &["1.1.1.1"], None, &t), None);
    }

    #[test]
    fn only_the_credential_routes_are_always_counted_per_ip() {
        let v1 = "/api/v1/";
        for p in [
            "/api/v1/auth/login",
            "/api/v1/auth/register/",
            "/api/v1/auth/reset-password/request",
            "/api/v1/auth/reset-password/confirm",
        ] {
            assert!(counted_per_ip(p, v1), "{p}");
        }
        for p in [
            "/api/v1/auth/me",
            "/api/v1/auth/refresh",
            "/api/v1/appspecs",
            "/api/login",
        ] {
            assert!(!counted_per_ip(p, v1), "{p}");
        }
    }

    fn any_ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<u32>().prop_map(|x| IpAddr::V4(Ipv4Addr::from(x))),
            any::<u128>().prop_map(|x| IpAddr::V6(Ipv6Addr::from(x))),
        ]
    }

    fn untrusted_ip() -> impl Strategy<Value = IpAddr> {
        any_ip().prop_filter("not a trusted proxy", |ip| !proxies_and_lan().contains(*ip))
    }

    fn trusted_ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<u32>().prop_map(|x| IpAddr::V4(Ipv4Addr::from(0x7f00_0000 | (x & 0x00ff_ffff)))),
            any::<u32>().prop_map(|x| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (x & 0x00ff_ffff)))),
        ]
    }

    proptest! {
        #[test]
        fn the_client_cannot_choose_its_key(
            written in proptest::collection::vec(".{0,40}", 0..6),
            client in untrusted_ip(),
            proxies in proptest::collection::vec(trusted_ip(), 0..5),
            peer in trusted_ip(),
            split in any::<bool>(),
        ) {
            // whatever the client wrote, then the hops trusted proxies appended
            let mut hops: Vec<String> = written.iter().map(|w| w.replace(',', " ")).collect();
            hops.push(client.to_string());
            hops.extend(proxies.iter().map(ToString::to_string));
            let joined = hops.join(", ");
            let values: Vec<&str> = if split {
                hops.iter().map(String::as_str).collect()
            } else {
                vec![joined.as_str()]
            };
            let got = resolve_client_ip(Some(peer), &values, Some("9.9.9.9"), &proxies_and_lan());
            prop_assert_eq!(got, Some(client.to_canonical()));
        }

        #[test]
        fn untrusted_peers_are_their_own_key(
            peer in untrusted_ip(),
            xff in proptest::collection::vec(".{0,60}", 0..4),
            real in proptest::option::of(".{0,60}"),
        ) {
            let values: Vec<&str> = xff.iter().map(String::as_str).collect();
            let got = resolve_client_ip(Some(peer), &values, real.as_deref(), &proxies_and_lan());
            prop_assert_eq!(got, Some(peer.to_canonical()));
        }

        #[test]
        fn the_key_is_a_short_address_whatever_the_headers(
            peer in any_ip(),
            xff in proptest::collection::vec("[0-9a-f:.,\\[\\] ]{0,300}|.{0,300}", 0..4),
            real in proptest::option::of(".{0,300}"),
        ) {
            let values: Vec<&str> = xff.iter().map(String::as_str).collect();
            let got = resolve_client_ip(Some(peer), &values, real.as_deref(), &loopback()).unwrap();
            prop_assert!(got.to_string().len() <= 39);
            // the key is the peer or an address the headers named
            let named = values.iter().any(|v| v.contains(&got.to_string()) || v.contains(&format!("{got:?}")))
                || real.as_deref().is_some_and(|r| r.trim().parse::<IpAddr>().ok().map(|i| i.to_canonical()) == Some(got))
                || values.iter().flat_map(|v| v.split(',')).any(|h| parse_hop(h) == Some(got));
            prop_assert!(got == peer.to_canonical() || named);
        }
    }
}
