//! Errors of the app-specs domain; `crates/app/src/http/error.rs` maps them to statuses and codes.

use ingenio_kernel::StoreError;

/// Everything an app-spec or generation operation can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppSpecError {
    /// A bad request parameter (`1001`, data names the field).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The spec content is not a structurally valid AppSpec (`3001`).
    #[error("invalid spec at {path}: {message}")]
    InvalidSpec { path: String, message: String },
    /// No such spec visible to the caller (`3000`, 404 — never 403).
    #[error("app spec not found")]
    NotFound,
    /// No such version of a visible spec (`3002`).
    #[error("version {0} not found")]
    VersionNotFound(i32),
    /// `If-Match` named another version than the current one (412).
    #[error("the spec is at version {current}, not {expected}")]
    Stale { expected: i32, current: i32 },
    /// The spec is over one of the size limits (`1001`, 400; the message and data name the
    /// limit). Checked before any parse, validation or diff.
    #[error(transparent)]
    TooLarge(#[from] crate::limits::LimitExceeded),
    /// This instance is at its bound of CPU-heavy spec work; nothing was changed (503 with
    /// `Retry-After`).
    #[error("server busy, retry after {retry_after_secs} seconds")]
    Busy { retry_after_secs: u64 },
    /// A status change the lifecycle forbids.
    #[error(transparent)]
    Lifecycle(#[from] crate::lifecycle::LifecycleError),
    /// No such generation job visible to the caller (`1002`, 404).
    #[error("generation job not found")]
    JobNotFound,
    /// The caller's AI quota is used up (`1005`, 429).
    #[error("AI quota of {limit} generations per hour is used up")]
    QuotaExceeded { limit: u32, retry_after_secs: u64 },
    /// Storage could not be reached; nothing was changed (503).
    #[error("service temporarily unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl AppSpecError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl From<StoreError> for AppSpecError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(e) => Self::Unavailable(e),
            StoreError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}
