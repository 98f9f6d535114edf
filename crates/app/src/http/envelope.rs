//! The SPEC response envelope: `{"code","success","message","data","timestamp"}`, null fields omitted;
//! [`ErrorEnvelope`] is the same shape for errors, and the schema every error response declares.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::ToSchema;

/// Every JSON body this server sends has this shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct Envelope<T: Serialize> {
    /// "0000" on success, a stable error code otherwise (see the error table).
    #[schema(example = "0000")]
    pub code: &'static str,
    pub success: bool,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<T>,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
}

/// Every error body (`success` is false). The schema of every 4xx/5xx response in the OpenAPI
/// document; `code` is one of the stable codes below.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    /// The stable error code (SPEC §4 error table): `1000` system error, backing service
    /// unavailable or instance saturated · `1001` bad parameter (`data` names the field), body too
    /// large, not JSON, stale `If-Match`, lifecycle conflict · `1002` not found · `1003`
    /// unauthenticated (missing, invalid, expired or revoked token) · `1004` forbidden (the
    /// read-only `viewer` role, or not an administrator) · `1005` too many requests (rate limit,
    /// AI quota, login lock, open streams) · `2000` user not found · `2001` username or email
    /// taken · `2002` bad credentials · `2003` account disabled · `3000` app spec not found ·
    /// `3001` invalid AppSpec · `3002` version not found · `7001` object store unavailable ·
    /// `7002` stored object missing.
    #[schema(example = "1001", pattern = "^[0-9]{4}$")]
    pub code: &'static str,
    /// Always false.
    pub success: bool,
    /// What went wrong, for people.
    pub message: String,
    /// For `1001` the fields at fault (`{field: message}`); other codes may add details.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Value>,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
}

impl ErrorEnvelope {
    pub fn new(code: &'static str, message: String, data: Option<serde_json::Value>) -> Self {
        Self {
            code,
            success: false,
            message,
            data,
            timestamp: chrono::Utc::now().timestamp_millis(),
        }
    }
}

impl<T: Serialize> Envelope<T> {
    pub fn ok(data: T) -> Self {
        Self {
            code: "0000",
            success: true,
            message: "success".to_owned(),
            data: Some(data),
            timestamp: chrono::Utc::now().timestamp_millis(),
        }
    }
}

/// 200 with `data`.
pub fn ok<T: Serialize>(data: T) -> HttpResponse {
    HttpResponse::Ok().json(Envelope::ok(data))
}

/// 200 with `data` given as its JSON text (serialized once and kept, e.g. a cached page): the
/// same bytes [`ok`] would send.
pub fn ok_json(data: &[u8]) -> HttpResponse {
    const HEAD: &[u8] = br#"{"code":"0000","success":true,"message":"success","data":"#;
    let timestamp = chrono::Utc::now().timestamp_millis().to_string();
    let mut body = Vec::with_capacity(HEAD.len() + data.len() + timestamp.len() + 14);
    body.extend_from_slice(HEAD);
    body.extend_from_slice(data);
    body.extend_from_slice(br#","timestamp":"#);
    body.extend_from_slice(timestamp.as_bytes());
    body.push(b'}');
    HttpResponse::Ok()
        .content_type(actix_web::http::header::ContentType::json())
        .body(body)
}

/// A given status with `data`.
pub fn with_status<T: Serialize>(status: StatusCode, data: T) -> HttpResponse {
    HttpResponse::build(status).json(Envelope::ok(data))
}

/// 200 with no `data` and a message.
pub fn done(message: &str) -> HttpResponse {
    HttpResponse::Ok().json(Envelope::<()> {
        code: "0000",
        success: true,
        message: message.to_owned(),
        data: None,
        timestamp: chrono::Utc::now().timestamp_millis(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn body_of(r: HttpResponse) -> serde_json::Value {
        use actix_web::body::MessageBody as _;
        let bytes = r.into_body().try_into_bytes().unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    proptest! {
        /// Pre-serialized data makes the same envelope as serializing it in place, for any
        /// text (quotes, escapes, any Unicode) and shape.
        #[test]
        fn ok_json_sends_what_ok_sends(texts in prop::collection::vec(".*", 0..4), n in any::<i64>()) {
            let data = serde_json::json!({"records": texts, "total": n, "nested": {"a": [1, null]}});
            let raw = serde_json::to_vec(&data).unwrap();
            let (mut a, mut b) = (body_of(ok(&data)), body_of(ok_json(&raw)));
            let (ta, tb) = (a["timestamp"].take(), b["timestamp"].take());
            prop_assert!(ta.is_i64() && tb.is_i64());
            prop_assert_eq!(a, b);
        }
    }
}
