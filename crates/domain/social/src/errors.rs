//! Errors of the social domain; `crates/app/src/http/error.rs` maps them to statuses and codes.

use ingenio_kernel::StoreError;

/// Everything a social, moderation or magic prompt operation can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum SocialError {
    /// A bad request parameter (`1001`, data names the field).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// A comment contains a blocked word (`1001` on `content`). The word is never echoed.
    #[error("content: the comment contains words that are not allowed here; please rephrase it")]
    BlockedContent,
    /// No such project, or the caller may not read it (`5000`, 404 — never 403).
    #[error("project not found")]
    ProjectNotFound,
    /// No such comment visible to the caller (`1002`, 404).
    #[error("comment not found")]
    CommentNotFound,
    /// No such magic prompt visible to the caller (`1002`, 404).
    #[error("magic prompt not found")]
    PromptNotFound,
    /// No such report (`1002`, 404).
    #[error("report not found")]
    ReportNotFound,
    /// The caller may see the item but not do this to it (`1004`, 403), e.g. delete someone
    /// else's comment on someone else's project.
    #[error("{0}")]
    Forbidden(&'static str),
    /// A state conflict (`1001`, 409): a title already used, a report already resolved.
    #[error("{field}: {message}")]
    Conflict { field: String, message: String },
    /// Storage could not be reached; nothing was changed (503).
    #[error("service temporarily unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl SocialError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_owned(),
            message: message.into(),
        }
    }
    pub fn conflict(field: &str, message: impl Into<String>) -> Self {
        Self::Conflict {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl From<StoreError> for SocialError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(e) => Self::Unavailable(e),
            StoreError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}
