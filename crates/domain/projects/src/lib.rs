//! Projects domain: a project around an app spec, its status and visibility with the read rule
//! (owner always, admins bypass, public and unlisted by id, private only the owner — everything
//! else is "not found", never "forbidden"), the public gallery, forks with their lineage, and the
//! cached listing of a user's projects.

pub mod cache;
pub mod errors;
pub mod lineage;
pub mod models;
pub mod ports;
pub mod service;

pub use errors::ProjectError;
pub use models::*;
pub use service::{ProjectConfig, ProjectService};
