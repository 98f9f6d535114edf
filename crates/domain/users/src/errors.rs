//! The errors of the users domain; `crates/app/src/http/error.rs` maps them to statuses and codes.

use crate::ports::HashError;
use ingenio_kernel::StoreError;

/// Everything a users operation can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// Bad input; `field` is the request field at fault (camelCase, as the client sent it).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("username is already taken")]
    UsernameTaken,
    #[error("email is already registered")]
    EmailTaken,
    /// Unknown account or wrong password: deliberately one case so accounts cannot be probed.
    #[error("invalid username/email or password")]
    BadCredentials,
    #[error("account is disabled")]
    AccountDisabled,
    #[error("user not found")]
    NotFound,
    /// Missing, malformed, expired, revoked or already-used token.
    #[error("authentication required: {0}")]
    Unauthenticated(&'static str),
    /// Too many failed logins for this name: refused without checking until the lock ends.
    #[error("too many failed logins, retry after {retry_after_secs} seconds")]
    TooManyAttempts { retry_after_secs: u64 },
    /// Every password-hashing slot is busy: retry shortly (nothing was changed).
    #[error("server busy, retry after {retry_after_secs} seconds")]
    Busy { retry_after_secs: u64 },
    /// Storage could not be reached; nothing was changed.
    #[error("service temporarily unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl UserError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl From<HashError> for UserError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Saturated { retry_after_secs } => Self::Busy { retry_after_secs },
            HashError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

impl From<StoreError> for UserError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(e) => Self::Unavailable(e),
            StoreError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}
