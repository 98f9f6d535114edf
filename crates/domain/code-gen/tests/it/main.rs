//! Integration tests of `ingenio-code-gen`: the samples, the `static-web` renderer's DOM hooks,
//! its escaping and CSP rules over hostile and generated specs, and deterministic artifacts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod generated;
mod samples;
mod static_web;
