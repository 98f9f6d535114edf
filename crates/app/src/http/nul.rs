//! U+0000 at the door. PostgreSQL stores no NUL in `text` and no `\u0000` in `jsonb`, so a NUL
//! that reached a query failed there as a 500 (and an in-memory store would have kept what the
//! database refuses). No field of the API has a use for it, so every request is checked once,
//! before routing: a NUL in the query string or a `\u0000` escape in a JSON body is 400 `1001`
//! naming where it was. Nothing is read or written for such a request.

use crate::http::error::ApiError;
use crate::state::AppState;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage, ResponseError};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;

/// The query parameter whose name or value holds a percent-encoded NUL (`%00`), if any. A raw NUL
/// byte cannot be part of a request line, so `%00` is the only way one arrives.
pub fn nul_query_param(query: &str) -> Option<String> {
    query
        .split('&')
        .find(|pair| pair.contains("%00"))
        .map(|pair| {
            let name = pair.split('=').next().unwrap_or_default();
            if name.is_empty() || name.contains('%') {
                "query".to_owned()
            } else {
                name.to_owned()
            }
        })
}

/// Whether `body` (JSON text) holds the escape `\u0000` outside an escaped backslash: `\\u0000`
/// is the six characters `\u0000` as text, `\\\u0000` is a backslash followed by NUL. A literal
/// NUL byte inside a JSON string is already a syntax error for the parser.
pub fn json_has_nul_escape(body: &[u8]) -> bool {
    const ESC: &[u8] = b"u0000";
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'\\' {
            // a run of backslashes: pairs are escaped backslashes, an odd one escapes what follows
            let start = i;
            while i < body.len() && body[i] == b'\\' {
                i += 1;
            }
            if (i - start) % 2 == 1 && body[i..].starts_with(ESC) {
                return true;
            }
        } else {
            i += 1;
        }
    }
    false
}

/// Used only when no state is registered (tests that build a bare app).
const DEFAULT_LIMIT: usize = 2 * 1024 * 1024;

fn is_json(req: &ServiceRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let essence = v.split(';').next().unwrap_or_default().trim();
            essence.eq_ignore_ascii_case("application/json")
                || essence.to_ascii_lowercase().ends_with("+json")
        })
        .unwrap_or(false)
}

fn rejected(req: ServiceRequest, field: &str) -> ServiceResponse<BoxBody> {
    let err = ApiError::bad_param(field, "must not contain the NUL character (U+0000)");
    req.into_response(err.error_response())
}

/// Middleware: rejects NUL in the query string and in JSON bodies. A JSON body is read up to the
/// configured body limit and handed on unchanged; a longer one is handed on as it came, so the
/// JSON extractor answers it with its usual 413.
pub async fn reject_nul(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if let Some(field) = nul_query_param(req.query_string()) {
        return Ok(rejected(req, &field));
    }
    if !is_json(&req) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let limit = req
        .app_data::<web::Data<AppState>>()
        .map_or(DEFAULT_LIMIT, |s| s.settings.server.max_body_size);
    let mut payload = req.take_payload();
    let mut buf = BytesMut::new();
    let mut over = false;
    while let Some(chunk) = payload.next().await {
        match chunk {
            Ok(chunk) => {
                buf.extend_from_slice(&chunk);
                if buf.len() > limit {
                    over = true;
                    break;
                }
            }
            Err(e) => {
                // a broken body: let the extractor report it as it always has
                let rest = futures::stream::iter([Ok(buf.freeze()), Err(e)]).chain(payload);
                req.set_payload(Payload::Stream {
                    payload: Box::pin(rest),
                });
                return Ok(next.call(req).await?.map_into_boxed_body());
            }
        }
    }
    let body: Bytes = buf.freeze();
    if over {
        let rest = futures::stream::once(async move { Ok(body) }).chain(payload);
        req.set_payload(Payload::Stream {
            payload: Box::pin(rest),
        });
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    if json_has_nul_escape(&body) {
        return Ok(rejected(req, "body"));
    }
    req.set_payload(Payload::from(body));
    Ok(next.call(req).await?.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    /// Any text, with NUL, backslashes, `u0000` look-alikes and other controls made likely.
    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                any::<char>().prop_map(String::from),
                Just("\0".to_owned()),
                Just("\\".to_owned()),
                Just("\\u0000".to_owned()),
                Just("u0000".to_owned()),
                Just("\u{1}".to_owned()),
                Just("中".to_owned()),
            ],
            0..12,
        )
        .prop_map(|parts| parts.concat())
    }

    /// Percent-encodes every byte that is not ASCII alphanumeric, as a browser form would.
    fn encode(s: &str) -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }

    proptest! {
        #[test]
        fn a_json_body_is_refused_exactly_when_a_string_or_key_holds_nul(
            key in text(), value in text(), other in text()
        ) {
            let doc = serde_json::json!({ key.clone(): [value.clone(), {"x": other.clone()}] });
            let body = serde_json::to_vec(&doc).unwrap();
            let has = [&key, &value, &other].iter().any(|s| s.contains('\0'));
            prop_assert_eq!(json_has_nul_escape(&body), has, "{}", String::from_utf8_lossy(&body));
        }

        #[test]
        fn a_query_is_refused_exactly_when_a_name_or_value_holds_nul(
            pairs in prop::collection::vec(("[a-z]{1,6}", text()), 0..5)
        ) {
            let query = pairs
                .iter()
                .map(|(k, v)| format!("{k}={}", encode(v)))
                .collect::<Vec<_>>()
                .join("&");
            let first = pairs.iter().find(|(_, v)| v.contains('\0')).map(|(k, _)| k.clone());
            prop_assert_eq!(nul_query_param(&query), first);
        }
    }

    #[test]
    fn escaped_backslashes_are_counted() {
        assert!(json_has_nul_escape(br#"{"a":"\u0000"}"#));
        assert!(!json_has_nul_escape(br#"{"a":"\\u0000"}"#));
        assert!(json_has_nul_escape(br#"{"a":"\\\u0000"}"#));
        assert!(!json_has_nul_escape(br#"{"a":"\u00001"}"#.split_at(8).1));
        assert_eq!(nul_query_param("%00=1"), Some("query".to_owned()));
    }
}
