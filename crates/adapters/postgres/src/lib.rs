//! PostgreSQL adapter: the bb8 pool of diesel-async connections, the migration runner and the
//! repositories that implement the domain ports.

pub mod app_specs;
pub mod code;
pub mod jobs;
pub mod kept_reads;
pub mod migrate;
pub mod notify;
pub mod pool;
pub mod projects;
pub mod schema;
pub mod social;
pub mod sql;
pub mod tls;
pub mod users;

pub use pool::{DbPool, PgPoolSettings};
pub use tls::SslMode;
