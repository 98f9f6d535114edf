//! App-specs domain: the AppSpec model and its validation, the time machine (versions, semantic
//! diff, rollback), the generation pipeline (plan → execute → validate → render) run as durable
//! jobs, and the AI quota.

pub mod agents;
pub mod diff;
pub mod errors;
pub mod job;
pub mod jobs;
pub mod lifecycle;
pub mod limits;
pub mod ports;
pub mod service;
pub mod spec;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod validation;

pub use agents::*;
pub use errors::*;
pub use job::{FailureCode, JobFailure};
pub use lifecycle::SpecStatus;
pub use limits::{LimitExceeded, SpecLimits};
pub use spec::AppSpec;
