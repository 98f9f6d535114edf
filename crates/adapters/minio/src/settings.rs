//! Connection settings of the S3/MinIO artifact store (`MINIO_ENDPOINT`, `MINIO_ACCESS_KEY`,
//! `MINIO_SECRET_KEY`, `MINIO_BUCKET` in the deployment guide).

use secrecy::SecretString;
use std::time::Duration;

/// Region used to sign requests when none is configured (MinIO's default).
pub const DEFAULT_REGION: &str = "us-east-1";
/// Bound on one HTTP request (one part of a multipart upload, one whole download).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Bodies larger than this are uploaded in parts of this size.
pub const DEFAULT_MULTIPART_THRESHOLD: usize = 8 * 1024 * 1024;
/// S3's smallest allowed part (except the last); smaller thresholds are raised to it.
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

/// Where the object store is and how to talk to it.
#[derive(Debug, Clone)]
pub struct MinioSettings {
    /// `http(s)://host:port` of the S3 API (`MINIO_ENDPOINT`); path-style addressing is used.
    pub endpoint: String,
    /// `MINIO_ACCESS_KEY`
    pub access_key: SecretString,
    /// `MINIO_SECRET_KEY`
    pub secret_key: SecretString,
    /// `MINIO_BUCKET`; created at connect when missing.
    pub bucket: String,
    /// The region requests are signed for.
    pub region: String,
    /// Bound on each request; every store call answers `Unavailable` rather than waiting longer.
    pub request_timeout: Duration,
    /// Bodies above this many bytes go through multipart upload (parts of this size, at least
    /// [`MIN_PART_SIZE`]).
    pub multipart_threshold: usize,
}

impl MinioSettings {
    /// Settings with the default region, timeout and multipart threshold.
    pub fn new(
        endpoint: impl Into<String>,
        access_key: SecretString,
        secret_key: SecretString,
        bucket: impl Into<String>,
    ) -> Self {
        Self {
            endpoint: endpoint.into(),
            access_key,
            secret_key,
            bucket: bucket.into(),
            region: DEFAULT_REGION.to_owned(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
        }
    }
}
