//! `ArtifactStore` over MinIO or any S3-compatible store (rust-s3, path-style addressing):
//! multipart uploads above a threshold, streamed downloads, presigned GETs, a timeout on every
//! call, and S3 errors mapped onto `StorageError` without leaking rust-s3 types.

mod errors;
mod settings;
mod store;

pub use settings::{
    MinioSettings, DEFAULT_MULTIPART_THRESHOLD, DEFAULT_REGION, DEFAULT_REQUEST_TIMEOUT,
    MIN_PART_SIZE,
};
pub use store::{S3ArtifactStore, MAX_PRESIGN_EXPIRY};
