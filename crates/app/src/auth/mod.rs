//! Adapters for the users domain's security ports: JWT tokens, password hashing, reset notices.

pub mod jwt;
pub mod notifier;
pub mod password;
