//! Shared vocabulary of the Ingenio backend: ids, paging, the clock, string enumerations (the
//! audience an app is for) and cross-cutting ports.
//!
//! This crate has no I/O dependencies; every other crate may depend on it.

pub mod clock;
pub mod error;
pub mod ids;
pub mod page;
pub mod ratelimit;
pub mod viewer;
pub mod vocab;

pub use chrono;
pub use uuid;

pub use clock::{Clock, SystemClock};
pub use error::StoreError;
pub use ids::{AppSpecId, CodeId, JobId, ProjectId, TenantId, UserId, DEFAULT_TENANT_ID};
pub use page::{Page, PageRequest, PageRequestError};
pub use ratelimit::{RateDecision, RateLimiter};
pub use viewer::Viewer;
pub use vocab::AgeGroup;
