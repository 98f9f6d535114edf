//! Test helpers shared by every crate's integration tests: a fresh database per test cloned from a
//! migrated template, `spawn_app()` on port 0, and a TCP proxy that can simulate an outage.

pub mod app;
pub mod db;
pub mod deepseek;
pub mod proxy;
pub mod smtp;

/// In-process S3 server (s3s over a temporary directory) for artifact-store tests.
pub use ingenio_testkit_s3 as s3;
