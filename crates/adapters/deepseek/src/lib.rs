//! DeepSeek adapter: the plan / execute / review agents (`SpecGenerator`) over DeepSeek's
//! OpenAI-compatible chat completions API in JSON output mode, with a corrective retry for
//! unusable answers, backoff on 429/5xx, per-agent timeouts and bounded concurrency.

mod config;
mod generator;
mod parse;
mod prompts;
mod wire;

pub use config::DeepseekConfig;
pub use generator::{DeepseekGenerator, DeepseekStats};
pub use parse::{extract_json_object, ShapeError};
pub use prompts::{EXECUTE_SYSTEM_PROMPT, PLAN_SYSTEM_PROMPT, REVIEW_SYSTEM_PROMPT};
