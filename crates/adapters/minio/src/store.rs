//! `S3ArtifactStore`: the `ArtifactStore` port over one S3 bucket.

use crate::errors::{map, timed_out};
use crate::settings::{MinioSettings, MIN_PART_SIZE};
use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use ingenio_code_gen::ports::check_key;
use ingenio_code_gen::{ArtifactStore, ByteStream, StorageError};
use s3::creds::Credentials;
use s3::{Bucket, BucketConfiguration, Region};
use secrecy::ExposeSecret;
use std::future::Future;
use std::time::Duration;

/// The longest presigned-URL validity S3 accepts (7 days); longer requests are capped to it.
pub const MAX_PRESIGN_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

/// S3 allows at most this many parts in one upload.
const MAX_PARTS: usize = 10_000;

/// Parts of one multipart upload sent at the same time.
const PART_CONCURRENCY: usize = 4;

/// Extra time the outer bound gives rust-s3 (whose own request timeout should fire first; it
/// also sleeps 1 s before its single retry of a failed read).
const GRACE: Duration = Duration::from_secs(2);

/// Artifacts in one bucket of MinIO or another S3-compatible store.
pub struct S3ArtifactStore {
    bucket: Box<Bucket>,
    /// Bound on each call to the store (each part for multipart uploads).
    call_timeout: Duration,
    part_size: usize,
}

impl std::fmt::Debug for S3ArtifactStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3ArtifactStore")
            .field("endpoint", &self.bucket.url())
            .field("call_timeout", &self.call_timeout)
            .field("part_size", &self.part_size)
            .finish_non_exhaustive()
    }
}

impl S3ArtifactStore {
    /// Connects to the store and creates the bucket when it is missing (a concurrent creation
    /// by another instance is fine). `Unavailable` when the store cannot be reached in time,
    /// `Unexpected` for bad settings or refused credentials.
    pub async fn connect(settings: MinioSettings) -> Result<Self, StorageError> {
        let store = Self::new(&settings)?;
        store.ensure_bucket(&settings).await?;
        Ok(store)
    }

    /// Builds the client without any network call (the bucket must exist before use).
    pub fn new(settings: &MinioSettings) -> Result<Self, StorageError> {
        let endpoint = settings.endpoint.trim_end_matches('/');
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(StorageError::Unexpected(anyhow::anyhow!(
                "s3 endpoint {endpoint:?} must start with http:// or https://"
            )));
        }
        if settings.request_timeout.is_zero() {
            return Err(StorageError::Unexpected(anyhow::anyhow!(
                "s3 request timeout must be positive"
            )));
        }
        let bucket = Bucket::new(&settings.bucket, region(settings), credentials(settings)?)
            .and_then(|b| {
                b.with_path_style()
                    .with_request_timeout(settings.request_timeout)
            })
            .map_err(|e| map("configure", &settings.bucket, e))?;
        Ok(Self {
            bucket,
            call_timeout: settings.request_timeout + GRACE,
            part_size: settings.multipart_threshold.max(MIN_PART_SIZE),
        })
    }

    /// The bucket this store writes to.
    pub fn bucket_name(&self) -> String {
        self.bucket.name()
    }

    async fn ensure_bucket(&self, settings: &MinioSettings) -> Result<(), StorageError> {
        match self.health_inner().await {
            Err(StorageError::NotFound(_)) => {}
            other => return other,
        }
        let name = &settings.bucket;
        let created = self
            .timed(
                "create bucket",
                name,
                Bucket::create_with_path_style(
                    name,
                    region(settings),
                    credentials(settings)?,
                    BucketConfiguration::default(),
                ),
            )
            .await?;
        match created {
            Ok(_) => {
                tracing::info!(bucket = %name, "created the artifact bucket");
                Ok(())
            }
            // Another instance may have created it between our probe and our create (S3 says
            // 409 BucketAlreadyOwnedByYou/BucketAlreadyExists, some servers a 500): the bucket
            // being there now is what counts.
            Err(e) => match self.health_inner().await {
                Ok(()) => {
                    tracing::debug!(bucket = %name, "bucket created concurrently");
                    Ok(())
                }
                Err(_) => Err(map("create bucket", name, e)),
            },
        }
    }

    /// Runs one call to the store under the call bound.
    async fn timed<T>(
        &self,
        op: &str,
        key: &str,
        call: impl Future<Output = T>,
    ) -> Result<T, StorageError> {
        tokio::time::timeout(self.call_timeout, call)
            .await
            .map_err(|_| timed_out(op, key, self.call_timeout))
    }

    /// Runs one rust-s3 call under the call bound and maps its failure.
    async fn call<T>(
        &self,
        op: &str,
        key: &str,
        call: impl Future<Output = Result<T, s3::error::S3Error>>,
    ) -> Result<T, StorageError> {
        self.timed(op, key, call)
            .await?
            .map_err(|e| map(op, key, e))
    }

    async fn health_inner(&self) -> Result<(), StorageError> {
        let name = self.bucket.name();
        self.call(
            "list",
            &name,
            self.bucket
                .list_page(String::new(), None, None, None, Some(1)),
        )
        .await
        .map(|_| ())
    }

    async fn put_multipart(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<(), StorageError> {
        let part_size = self.part_size.max(bytes.len().div_ceil(MAX_PARTS));
        let init = self
            .call(
                "start upload",
                key,
                self.bucket.initiate_multipart_upload(key, content_type),
            )
            .await?;
        let upload_id = init.upload_id.as_str();
        let parts = futures::stream::iter((0..bytes.len()).step_by(part_size).enumerate())
            .map(|(i, start)| {
                let chunk = bytes.slice(start..bytes.len().min(start + part_size));
                let number = u32::try_from(i + 1).unwrap_or(u32::MAX);
                self.call(
                    "upload part",
                    key,
                    self.bucket.put_multipart_chunk(
                        chunk.to_vec(),
                        key,
                        number,
                        upload_id,
                        content_type,
                    ),
                )
            })
            .buffered(PART_CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await;
        let completed = match parts {
            Ok(parts) => {
                self.call(
                    "complete upload",
                    key,
                    self.bucket.complete_multipart_upload(key, upload_id, parts),
                )
                .await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = completed {
            // Best effort: the store also expires abandoned uploads.
            let aborted = self
                .call(
                    "abort upload",
                    key,
                    self.bucket.abort_upload(key, upload_id),
                )
                .await;
            if let Err(abort) = aborted {
                tracing::warn!(key, error = %abort, "could not abort a failed multipart upload");
            }
            return Err(e);
        }
        Ok(())
    }
}

fn region(settings: &MinioSettings) -> Region {
    Region::Custom {
        region: settings.region.clone(),
        endpoint: settings.endpoint.trim_end_matches('/').to_owned(),
    }
}

fn credentials(settings: &MinioSettings) -> Result<Credentials, StorageError> {
    Credentials::new(
        Some(settings.access_key.expose_secret()),
        Some(settings.secret_key.expose_secret()),
        None,
        None,
        None,
    )
    .map_err(|e| StorageError::Unexpected(anyhow::anyhow!("s3 credentials: {e}")))
}

#[async_trait]
impl ArtifactStore for S3ArtifactStore {
    fn backend(&self) -> &'static str {
        "s3"
    }

    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), StorageError> {
        check_key(key)?;
        if bytes.len() > self.part_size {
            return self.put_multipart(key, bytes, content_type).await;
        }
        self.call(
            "put",
            key,
            self.bucket
                .put_object_with_content_type(key, &bytes, content_type),
        )
        .await
        .map(|_| ())
    }

    async fn get(&self, key: &str) -> Result<ByteStream, StorageError> {
        check_key(key)?;
        let response = self
            .call("get", key, self.bucket.get_object_stream(key))
            .await?;
        let key = key.to_owned();
        Ok(response
            .bytes
            .map_err(move |e| map("read", &key, e))
            .boxed())
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, StorageError> {
        check_key(key)?;
        match self.call("head", key, self.bucket.head_object(key)).await {
            Ok((head, _)) => {
                let len = head.content_length.unwrap_or(0);
                u64::try_from(len).map(Some).map_err(|_| {
                    StorageError::Unexpected(anyhow::anyhow!(
                        "s3 head {key:?}: negative content length {len}"
                    ))
                })
            }
            Err(StorageError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        check_key(key)?;
        match self
            .call("delete", key, self.bucket.delete_object(key))
            .await
        {
            Ok(_) | Err(StorageError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<String, StorageError> {
        check_key(key)?;
        let secs = expires_in.as_secs().clamp(1, MAX_PRESIGN_EXPIRY.as_secs());
        let secs = u32::try_from(secs).unwrap_or(u32::MAX);
        self.call("presign", key, self.bucket.presign_get(key, secs, None))
            .await
    }

    async fn health(&self) -> Result<(), StorageError> {
        match self.health_inner().await {
            Err(StorageError::NotFound(bucket)) => Err(StorageError::Unavailable(anyhow::anyhow!(
                "s3 bucket {bucket:?} does not exist"
            ))),
            other => other,
        }
    }
}
