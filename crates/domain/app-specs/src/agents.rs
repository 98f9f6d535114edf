//! The generation agents' port (`SpecGenerator`): plan, execute and review. Implemented by the
//! DeepSeek adapter (the AI) and by the embedded offline generator (deterministic rules).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Token usage reported by the provider for one call (or summed over calls).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TokenUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    pub prompt_cache_hit_tokens: u64,
    pub prompt_cache_miss_tokens: u64,
}

impl TokenUsage {
    pub fn add(&mut self, other: &TokenUsage) {
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.total_tokens += other.total_tokens;
        self.prompt_cache_hit_tokens += other.prompt_cache_hit_tokens;
        self.prompt_cache_miss_tokens += other.prompt_cache_miss_tokens;
    }
}

pub use ingenio_kernel::AgeGroup;

/// What the agents work from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerationInput {
    /// The student's requirement (10–5000 characters), already filled from a magic prompt if any.
    pub requirement: String,
    pub age_group: Option<AgeGroup>,
    /// The current spec when regenerating an existing app spec.
    pub previous_spec: Option<Value>,
}

/// One agent's answer: the value, what it cost, and its reasoning for the version metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentOutput<T> {
    pub value: T,
    pub usage: TokenUsage,
    /// A short human-readable account of what the agent decided and why.
    pub reasoning: String,
    /// The model that answered (e.g. `deepseek-chat`, `offline-rules-v1`).
    pub model: String,
}

/// The AI review of a spec (the validate agent's second half).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AiReview {
    /// 0–100.
    pub score: u8,
    pub issues: Vec<String>,
    pub summary: String,
}

/// Why an agent call failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The provider refused or kept failing (4xx other than 429, or 429/5xx after every retry).
    /// Maps to `6003`.
    #[error("AI provider error: {0}")]
    Provider(String),
    /// No answer within the per-call timeout (after retries). Maps to `6004`.
    #[error("AI call timed out after {0} s")]
    Timeout(u64),
    /// The answer could not be used even after the corrective retry (not JSON, wrong shape,
    /// truncated). Maps to the failing step's code (`6000` plan, `6001` execute, `6002` validate).
    #[error("unusable AI answer: {0}")]
    InvalidOutput(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// The three agents of the pipeline.
///
/// Contract: every method is idempotent from the caller's point of view (a job taken over after a
/// crash may call a step again); implementations bound their own time (per-call timeout and
/// retries) and return `Timeout` / `Provider` rather than hanging.
#[async_trait]
pub trait SpecGenerator: Send + Sync {
    /// Recorded as `generation_metadata.modelVersion` (offline generators say so: `offline-…`).
    fn model_version(&self) -> String;
    /// True for the rule-based generator used when no AI key is configured.
    fn is_offline(&self) -> bool;
    /// Plan: `{"modules":[..],"pages":[..],"dataModels":[..],"complexity":"simple|medium|complex","reasoning":".."}`.
    async fn plan(&self, input: &GenerationInput) -> Result<AgentOutput<Value>, AgentError>;
    /// Execute: the AppSpec JSON (SPEC §4 shape) that realises the plan.
    async fn execute(
        &self,
        input: &GenerationInput,
        plan: &Value,
    ) -> Result<AgentOutput<Value>, AgentError>;
    /// Review: an AI opinion of a spec that passed the rule pass.
    async fn review(
        &self,
        input: &GenerationInput,
        spec: &Value,
    ) -> Result<AgentOutput<AiReview>, AgentError>;
}
