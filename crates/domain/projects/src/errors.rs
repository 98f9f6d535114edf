//! Errors of the projects domain; `crates/app/src/http/error.rs` maps them to statuses and codes
//! (`5000` not found, `5001` access denied, `5002` already forked).

use ingenio_kernel::StoreError;

/// Everything a project operation can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// A bad request parameter (`1001`, data names the field).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// No such project visible to the caller (`5000`, 404 — never 403, so ids don't leak).
    #[error("project not found")]
    NotFound,
    /// The caller may read the project but not change it (`5001`, 403).
    #[error("only the owner may change this project")]
    AccessDenied,
    /// The caller already forked this project (`5002`, 409).
    #[error("you have already forked this project")]
    AlreadyForked,
    /// The caller owns the project they tried to fork (`1001`, 400).
    #[error("you cannot fork your own project")]
    OwnProject,
    /// The named app spec does not exist or is not the caller's (`3000`, 404).
    #[error("app spec not found")]
    SpecNotFound,
    /// Publishing needs a spec with generated code whose lifecycle allows `published` (`1001`, 409).
    #[error("{0}")]
    NotPublishable(String),
    /// Storage could not be reached; nothing was changed (503).
    #[error("service temporarily unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl ProjectError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl From<StoreError> for ProjectError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(e) => Self::Unavailable(e),
            StoreError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}
