//! End-to-end tests of the server through `spawn_app()`: one test binary for the crate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod actuator;
mod appspecs;
mod auth;
mod bench;
mod binary;
mod code;
mod envelope;
mod generate;
mod outages;
mod projects;
mod rate_limit;
mod reset_mail;
mod social;
mod tenant_matrix;
