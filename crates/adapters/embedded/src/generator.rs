//! The offline spec generator: a deterministic, rule-based `SpecGenerator` used when no DeepSeek
//! key is configured. It recognises the app kind from keywords (Chinese and English), plans the
//! pages and data models for the audience, writes a complete AppSpec in the requirement's
//! language and reviews specs by coverage. Same input ⇒ same output, byte for byte.

mod build;
mod catalog;
mod detect;
mod review;
#[cfg(test)]
mod tests;

use async_trait::async_trait;
use build::{Blueprint, Ctx, MODEL_VERSION};
use ingenio_app_specs::{
    AgentError, AgentOutput, AiReview, GenerationInput, SpecGenerator, TokenUsage,
};
use serde_json::Value;

pub use catalog::AppKind;

/// The rule-based generator (`model_version() == "offline-rules-v1"`).
#[derive(Debug, Clone, Copy, Default)]
pub struct OfflineGenerator;

impl OfflineGenerator {
    pub fn new() -> Self {
        OfflineGenerator
    }

    /// The app kind the keyword tables recognise in a requirement (`Generic` when none matches).
    pub fn recognise(requirement: &str) -> AppKind {
        detect::detect_kind(requirement).kind
    }

    /// The plan for an input (what `plan()` returns).
    pub fn plan_value(&self, input: &GenerationInput) -> Value {
        let ctx = Ctx::new(input, None);
        Blueprint::new(ctx, input.previous_spec.as_ref()).plan()
    }

    /// The AppSpec for an input and a plan (what `execute()` returns). A plan's `appKind`, when
    /// it names a known kind, decides the kind; otherwise the requirement's keywords do.
    pub fn spec_value(&self, input: &GenerationInput, plan: &Value) -> Value {
        self.blueprint(input, plan).spec()
    }

    fn blueprint(&self, input: &GenerationInput, plan: &Value) -> Blueprint {
        let plan_kind = plan
            .get("appKind")
            .and_then(Value::as_str)
            .and_then(AppKind::parse);
        let ctx = Ctx::new(input, plan_kind);
        Blueprint::new(ctx, input.previous_spec.as_ref())
    }

    /// The review of a spec (what `review()` returns), with its reasoning.
    pub fn review_value(&self, input: &GenerationInput, spec: &Value) -> (AiReview, String) {
        review::review(spec, detect::detect_lang(&input.requirement))
    }
}

fn output<T>(value: T, reasoning: String) -> AgentOutput<T> {
    AgentOutput {
        value,
        usage: TokenUsage::default(),
        reasoning,
        model: MODEL_VERSION.to_string(),
    }
}

#[async_trait]
impl SpecGenerator for OfflineGenerator {
    fn model_version(&self) -> String {
        MODEL_VERSION.to_string()
    }

    fn is_offline(&self) -> bool {
        true
    }

    async fn plan(&self, input: &GenerationInput) -> Result<AgentOutput<Value>, AgentError> {
        let plan = self.plan_value(input);
        let reasoning = plan
            .get("reasoning")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        Ok(output(plan, reasoning))
    }

    async fn execute(
        &self,
        input: &GenerationInput,
        plan: &Value,
    ) -> Result<AgentOutput<Value>, AgentError> {
        let bp = self.blueprint(input, plan);
        let spec = bp.spec();
        let count = |key: &str| spec.get(key).and_then(Value::as_array).map_or(0, Vec::len);
        let mut reasoning = format!(
            "Built a '{}' AppSpec named \"{}\" ({}; {} level) with {} pages, {} data models and {} flows; \
             every navigation targets an existing page and every component reference resolves.",
            bp.ctx.kind.as_str(),
            bp.ctx.app_name,
            bp.ctx.lang.as_str(),
            bp.ctx.complexity(),
            count("pages"),
            count("dataModels"),
            count("flows"),
        );
        if bp.ctx.keeps_previous() {
            reasoning.push_str(&format!(
                " Regeneration: kept the previous app name and {} previous id(s).",
                bp.kept_ids
            ));
        }
        Ok(output(spec, reasoning))
    }

    async fn review(
        &self,
        input: &GenerationInput,
        spec: &Value,
    ) -> Result<AgentOutput<AiReview>, AgentError> {
        let (review, reasoning) = self.review_value(input, spec);
        Ok(output(review, reasoning))
    }
}
