//! Social domain: likes, favorites, comments and views of projects with exact counters,
//! moderation (reports, the hide threshold, admin decisions, blocked words) and magic prompts
//! (starter templates with `{var}` placeholders).
//!
//! Business rules live in `service.rs` and the pure modules (`template.rs`, `moderation.rs`);
//! storage and the project read rule are ports in `ports.rs`.

pub mod errors;
pub mod models;
pub mod moderation;
pub mod ports;
pub mod recent;
pub mod service;
pub mod template;

pub use errors::SocialError;
pub use models::*;
pub use service::{FilledPrompt, SocialConfig, SocialPorts, SocialService};
