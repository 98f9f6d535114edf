//! The Ingenio HTTP API server as a library: `main.rs` and the tests build the same
//! `Application` from the same `Settings`.

pub mod auth;
pub mod cli;
pub mod config;
pub mod http;
pub mod offload;
pub mod openapi;
pub mod projects;
pub mod seed;
pub mod startup;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod workers;

pub use startup::Application;
pub use state::AppState;
