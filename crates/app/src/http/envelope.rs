//! The SPEC response envelope: `{"code","success","message","data","timestamp"}`, null fields omitted.

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
