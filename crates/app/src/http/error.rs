//! The one place that maps errors to HTTP statuses and envelope codes (SPEC §4 error table),
//! including actix's own extractor errors. 5xx bodies never carry internals: the cause is logged
//! inside the request's span, which carries the trace id.

use crate::http::envelope::ErrorEnvelope;
use actix_web::error::{JsonPayloadError, PathError, PayloadError, QueryPayloadError};
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use ingenio_app_specs::AppSpecError;
use ingenio_code_gen::service::CodeError;
use ingenio_kernel::StoreError;
use ingenio_projects::ProjectError;
use ingenio_social::SocialError;
use ingenio_users::UserError;
use serde_json::{json, Value};
use std::fmt;

/// An error on its way to becoming an envelope.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub data: Option<Value>,
    /// Seconds, for `Retry-After`.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            data: None,
            retry_after: None,
        }
    }
    /// 400 `1001` naming the field at fault.
    pub fn bad_param(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            "1001",
            format!("{field}: {message}"),
        );
        e.data = Some(json!({ field: message }));
        e
    }
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "1003", message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "1004", message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "1002", message)
    }
    pub fn too_many(retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "1005",
            format!("too many requests, retry after {retry_after} seconds"),
        );
        e.retry_after = Some(retry_after);
        e
    }
    /// 503: a backing service is down; the cause is logged, never sent.
    pub fn unavailable(cause: &anyhow::Error) -> Self {
        tracing::error!(error = format!("{cause:#}"), "backing service unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "1000",
            "service temporarily unavailable, please retry shortly",
        )
    }
    /// 503 with `Retry-After`: this instance is at a concurrency bound (nothing was changed).
    pub fn busy(retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "1000",
            format!("server busy, retry after {retry_after} seconds"),
        );
        e.retry_after = Some(retry_after);
        e
    }
    /// 500: the cause is logged, never sent.
    pub fn internal(cause: &anyhow::Error) -> Self {
        tracing::error!(error = format!("{cause:#}"), "unexpected error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "1000",
            "internal server error",
        )
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }
    fn error_response(&self) -> HttpResponse {
        let mut b = HttpResponse::build(self.status);
        if let Some(s) = self.retry_after {
            b.insert_header((header::RETRY_AFTER, s.to_string()));
        }
        b.json(ErrorEnvelope::new(
            self.code,
            self.message.clone(),
            self.data.clone(),
        ))
    }
}

impl From<CodeError> for ApiError {
    fn from(e: CodeError) -> Self {
        match e {
            CodeError::SpecNotFound => {
                Self::new(StatusCode::NOT_FOUND, "3000", "app spec not found")
            }
            CodeError::NotFound => Self::new(
                StatusCode::NOT_FOUND,
                "1002",
                "no generated code for that version and renderer",
            ),
            CodeError::ObjectMissing => {
                tracing::error!("a generated_code record points at a missing object");
                Self::new(
                    StatusCode::NOT_FOUND,
                    "7002",
                    "the stored code is missing; render the version again",
                )
            }
            CodeError::StorageUnavailable(e) => {
                tracing::error!(error = format!("{e:#}"), "object store unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "7001",
                    "the code cannot be downloaded right now, please retry shortly",
                )
            }
            CodeError::Unavailable(e) => Self::unavailable(&e),
            CodeError::Unexpected(e) => Self::internal(&e),
        }
    }
}

impl From<UserError> for ApiError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::Invalid { field, message } => Self::bad_param(&field, message),
            UserError::UsernameTaken => {
                let mut e = Self::new(StatusCode::CONFLICT, "2001", "username is already taken");
                e.data = Some(json!({"username": "is already taken"}));
                e
            }
            UserError::EmailTaken => {
                let mut e = Self::new(StatusCode::CONFLICT, "2001", "email is already registered");
                e.data = Some(json!({"email": "is already registered"}));
                e
            }
            UserError::BadCredentials => Self::new(
                StatusCode::UNAUTHORIZED,
                "2002",
                "invalid username/email or password",
            ),
            UserError::AccountDisabled => {
                Self::new(StatusCode::FORBIDDEN, "2003", "account is disabled")
            }
            UserError::NotFound => Self::new(StatusCode::NOT_FOUND, "2000", "user not found"),
            UserError::Unauthenticated(why) => Self::unauthenticated(why),
            UserError::TooManyAttempts { retry_after_secs } => {
                let mut e = Self::too_many(retry_after_secs);
                e.message = format!(
                    "too many failed logins for this name; retry after {retry_after_secs} seconds"
                );
                e
            }
            UserError::Busy { retry_after_secs } => Self::busy(retry_after_secs),
            UserError::Unavailable(e) => Self::unavailable(&e),
            UserError::Unexpected(e) => Self::internal(&e),
        }
    }
}

impl From<AppSpecError> for ApiError {
    fn from(e: AppSpecError) -> Self {
        match e {
            AppSpecError::Invalid { field, message } => Self::bad_param(&field, message),
            AppSpecError::InvalidSpec { path, message } => {
                let mut e = Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "3001",
                    format!("invalid spec at {path}: {message}"),
                );
                e.data = Some(json!({ "specContent": format!("{path}: {message}"), "path": path }));
                e
            }
            AppSpecError::NotFound => {
                Self::new(StatusCode::NOT_FOUND, "3000", "app spec not found")
            }
            AppSpecError::VersionNotFound(n) => Self::new(
                StatusCode::NOT_FOUND,
                "3002",
                format!("version {n} not found"),
            ),
            AppSpecError::Stale { expected, current } => {
                let mut e = Self::new(
                    StatusCode::PRECONDITION_FAILED,
                    "1001",
                    format!("If-Match names version {expected} but the spec is at version {current}; reload and retry"),
                );
                e.data = Some(
                    json!({ "If-Match": format!("stale; current version is {current}"), "currentVersion": current }),
                );
                e
            }
            AppSpecError::TooLarge(l) => {
                let mut e = Self::new(StatusCode::BAD_REQUEST, "1001", l.message.clone());
                e.data = Some(json!({
                    "specContent": l.message, "limit": l.limit, "max": l.max,
                    "actual": l.actual, "path": l.path,
                }));
                e
            }
            AppSpecError::Busy { retry_after_secs } => Self::busy(retry_after_secs),
            AppSpecError::Lifecycle(l) => Self::new(StatusCode::CONFLICT, "1001", l.to_string()),
            AppSpecError::JobNotFound => {
                Self::new(StatusCode::NOT_FOUND, "1002", "generation job not found")
            }
            AppSpecError::QuotaExceeded {
                limit,
                retry_after_secs,
            } => {
                let mut e = Self::too_many(retry_after_secs);
                e.message = format!(
                    "AI quota of {limit} generations per hour is used up; retry after {retry_after_secs} seconds"
                );
                e
            }
            AppSpecError::Unavailable(e) => Self::unavailable(&e),
            AppSpecError::Unexpected(e) => Self::internal(&e),
        }
    }
}

impl From<SocialError> for ApiError {
    fn from(e: SocialError) -> Self {
        match e {
            SocialError::Invalid { field, message } => Self::bad_param(&field, message),
            SocialError::BlockedContent => Self::bad_param(
                "content",
                "the comment contains words that are not allowed here; please rephrase it",
            ),
            SocialError::ProjectNotFound => {
                Self::new(StatusCode::NOT_FOUND, "5000", "project not found")
            }
            SocialError::CommentNotFound => {
                Self::new(StatusCode::NOT_FOUND, "1002", "comment not found")
            }
            SocialError::PromptNotFound => {
                Self::new(StatusCode::NOT_FOUND, "1002", "magic prompt not found")
            }
            SocialError::ReportNotFound => {
                Self::new(StatusCode::NOT_FOUND, "1002", "report not found")
            }
            SocialError::Forbidden(why) => Self::forbidden(why),
            SocialError::Conflict { field, message } => {
                let mut e = Self::new(StatusCode::CONFLICT, "1001", format!("{field}: {message}"));
                e.data = Some(json!({ field: message }));
                e
            }
            SocialError::Unavailable(e) => Self::unavailable(&e),
            SocialError::Unexpected(e) => Self::internal(&e),
        }
    }
}

impl From<ProjectError> for ApiError {
    fn from(e: ProjectError) -> Self {
        match e {
            ProjectError::Invalid { field, message } => Self::bad_param(&field, message),
            ProjectError::NotFound => Self::new(StatusCode::NOT_FOUND, "5000", "project not found"),
            ProjectError::AccessDenied => Self::new(
                StatusCode::FORBIDDEN,
                "5001",
                "only the owner may change this project",
            ),
            ProjectError::AlreadyForked => Self::new(
                StatusCode::CONFLICT,
                "5002",
                "you have already forked this project",
            ),
            ProjectError::OwnProject => Self::bad_param("id", "you cannot fork your own project"),
            ProjectError::SpecNotFound => {
                Self::new(StatusCode::NOT_FOUND, "3000", "app spec not found")
            }
            ProjectError::NotPublishable(m) => Self::new(StatusCode::CONFLICT, "1001", m),
            ProjectError::Unavailable(e) => Self::unavailable(&e),
            ProjectError::Unexpected(e) => Self::internal(&e),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(e) => Self::unavailable(&e),
            StoreError::Unexpected(e) => Self::internal(&e),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        Self::internal(&e)
    }
}

/// `JsonConfig::error_handler`: malformed JSON, wrong types, oversized or non-JSON bodies.
pub fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api = match &err {
        JsonPayloadError::OverflowKnownLength { length, limit } => too_large(Some(*length), *limit),
        JsonPayloadError::Overflow { limit } => too_large(None, *limit),
        JsonPayloadError::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "1001",
            "request body must be JSON (Content-Type: application/json)",
        ),
        JsonPayloadError::Deserialize(e) => {
            let msg = e.to_string();
            if e.is_data() {
                let field = missing_or_unknown_field(&msg).unwrap_or_else(|| "body".to_owned());
                ApiError::bad_param(&field, msg)
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "1001",
                    format!("malformed JSON: {msg}"),
                )
            }
        }
        JsonPayloadError::Payload(PayloadError::Overflow) => too_large(None, 0),
        other => ApiError::new(
            StatusCode::BAD_REQUEST,
            "1001",
            format!("unreadable body: {other}"),
        ),
    };
    api.into()
}

fn too_large(length: Option<usize>, limit: usize) -> ApiError {
    let msg = match length {
        Some(l) => format!("request body of {l} bytes exceeds the limit of {limit} bytes"),
        None if limit > 0 => format!("request body exceeds the limit of {limit} bytes"),
        None => "request body is too large".to_owned(),
    };
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "1001", msg)
}

fn missing_or_unknown_field(msg: &str) -> Option<String> {
    // serde messages look like "missing field `password` at line 1 column 20"
    let start = msg.find('`')? + 1;
    let end = start + msg[start..].find('`')?;
    Some(msg[start..end].to_owned())
}

/// `QueryConfig::error_handler`: 400 `1001`.
pub fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::bad_param("query", format!("bad query parameter: {err}")).into()
}

/// `PathConfig::error_handler`: a path segment of the wrong type (an id that is not a UUID, a
/// version that is not a number) is a bad parameter, 400 `1001`.
pub fn path_error(err: PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::bad_param("path", format!("bad path parameter: {err}")).into()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn field_name_is_extracted_from_serde_messages() {
        assert_eq!(
            missing_or_unknown_field("missing field `password` at line 1 column 2"),
            Some("password".to_owned())
        );
        assert_eq!(missing_or_unknown_field("expected value"), None);
    }

    #[test]
    fn saturation_and_login_locks_carry_retry_after() {
        let busy = ApiError::from(UserError::Busy {
            retry_after_secs: 1,
        });
        assert_eq!(busy.status, StatusCode::SERVICE_UNAVAILABLE);
        let resp = busy.error_response();
        assert_eq!(resp.headers().get(header::RETRY_AFTER).unwrap(), "1");
        let locked = ApiError::from(UserError::TooManyAttempts {
            retry_after_secs: 30,
        });
        assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(locked.code, "1005");
        assert_eq!(locked.retry_after, Some(30));
        // saturated spec work answers exactly like saturated password hashing
        let spec_busy = ApiError::from(AppSpecError::Busy {
            retry_after_secs: 1,
        });
        assert_eq!(
            (spec_busy.status, spec_busy.code, spec_busy.retry_after),
            (busy.status, busy.code, busy.retry_after)
        );
        assert_eq!(spec_busy.message, busy.message);
    }

    #[test]
    fn a_spec_over_a_limit_is_a_400_naming_the_limit() {
        let e = ApiError::from(AppSpecError::TooLarge(ingenio_app_specs::LimitExceeded {
            limit: "ingenio.spec-limits.max-pages",
            max: 50,
            actual: 61,
            path: "pages".into(),
            message: "spec has 61 pages; the limit is 50 (ingenio.spec-limits.max-pages)".into(),
        }));
        assert_eq!((e.status, e.code), (StatusCode::BAD_REQUEST, "1001"));
        assert_eq!(
            e.message,
            "spec has 61 pages; the limit is 50 (ingenio.spec-limits.max-pages)"
        );
        let data = e.data.unwrap();
        assert_eq!(data["limit"], "ingenio.spec-limits.max-pages");
        assert_eq!(
            (data["max"].as_u64(), data["actual"].as_u64()),
            (Some(50), Some(61))
        );
        assert_eq!(data["specContent"], json!(e.message));
    }

    #[test]
    fn bad_param_names_the_field() {
        let e = ApiError::bad_param("email", "must be a valid email address");
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            e.data,
            Some(json!({"email": "must be a valid email address"}))
        );
    }
}
