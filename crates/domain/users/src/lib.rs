//! Users domain: accounts, credentials, sessions (access + rotating refresh tokens) and profiles.
//!
//! Business rules live in `service.rs`; everything that touches the outside world is a port in
//! `ports.rs`, implemented by adapters (PostgreSQL for storage, the server crate for JWT and hashing).

pub mod errors;
pub mod mail;
pub mod models;
pub mod ports;
pub mod service;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use errors::UserError;
pub use mail::{reset_mail, MailResetNotifier};
pub use models::*;
pub use ports::*;
pub use service::{UserService, UserServiceConfig};
