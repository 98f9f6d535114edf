//! Ports of the code-generation domain. Each method documents what an adapter MUST return; one
//! contract-test suite (`testing::contract`, feature `testing`) runs against every adapter.

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use std::time::Duration;

/// Why an object-store operation failed. Adapters map their own errors onto these and never leak
/// their error types.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The object does not exist (`7002`).
    #[error("object not found: {0}")]
    NotFound(String),
    /// The key is not acceptable to the store (empty, too long, escaping its root).
    #[error("invalid object key {key:?}: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    /// The store could not be reached or answered with a server error or timed out; retrying
    /// later may succeed. Uploads map to `7000`, downloads to `7001`.
    #[error("object store unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// A streamed object body: chunks in order; an error item ends the stream.
pub type ByteStream = BoxStream<'static, Result<Bytes, StorageError>>;

/// Where generated artifacts (zips) live: MinIO/S3 in production, a local directory otherwise.
///
/// Keys are `/`-separated relative names such as `projects/{project_key}/code.zip`; an adapter
/// MUST refuse (`InvalidKey`) an empty key, a key starting with `/`, containing `..`/`.`
/// segments, a backslash or a control character, or longer than 1024 bytes.
#[async_trait]
pub trait ArtifactStore: Send + Sync {
    /// A short name for health and metrics (`s3`, `local`, `memory`).
    fn backend(&self) -> &'static str;

    /// Stores `bytes` under `key` (replacing any previous object), atomically: a reader sees the
    /// old object or the whole new one, never a part. Large bodies may be sent in parts.
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), StorageError>;

    /// The object as a stream of chunks, without buffering it whole. `NotFound` when missing.
    async fn get(&self, key: &str) -> Result<ByteStream, StorageError>;

    /// The object's size in bytes, `None` when missing.
    async fn size(&self, key: &str) -> Result<Option<u64>, StorageError>;

    /// Whether the object exists.
    async fn exists(&self, key: &str) -> Result<bool, StorageError> {
        Ok(self.size(key).await?.is_some())
    }

    /// Deletes the object; deleting a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<(), StorageError>;

    /// A URL that lets anyone holding it GET the object until `expires_in` has passed, without
    /// other credentials. The object need not exist yet (the URL then answers 404).
    async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<String, StorageError>;

    /// Checks that the store answers (for the health endpoint); `Unavailable` when it does not.
    async fn health(&self) -> Result<(), StorageError>;
}

/// Checks an object key against the rules every adapter enforces (see [`ArtifactStore`]).
pub fn check_key(key: &str) -> Result<(), StorageError> {
    let bad = |reason| {
        Err(StorageError::InvalidKey {
            key: key.chars().take(100).collect(),
            reason,
        })
    };
    if key.is_empty() {
        return bad("empty");
    }
    if key.len() > 1024 {
        return bad("longer than 1024 bytes");
    }
    if key.starts_with('/') {
        return bad("starts with /");
    }
    if key.contains('\\') {
        return bad("contains a backslash");
    }
    if key.chars().any(char::is_control) {
        return bad("contains a control character");
    }
    if key
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return bad("empty or dot segment");
    }
    Ok(())
}
