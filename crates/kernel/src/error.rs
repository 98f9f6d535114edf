//! The error every storage or service port may return besides its domain-specific cases.

/// A failure of the technology behind a port, as the domain sees it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backing service cannot be reached right now (connection refused, pool timeout).
    /// Callers answer 503 and may retry later; nothing was changed.
    #[error("backing service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else; logged with the request's trace id and answered with 500.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}
