//! End-to-end tests of the server through `spawn_app()`: one test binary for the crate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod actuator;
mod auth;
mod binary;
mod envelope;
mod outages;
mod rate_limit;
