//! `DeepseekConfig`: endpoint, key, model and the time / retry / concurrency budgets of the adapter.

use std::time::Duration;

/// Everything the DeepSeek adapter needs. Build with [`DeepseekConfig::new`] and adjust fields.
#[derive(Clone)]
pub struct DeepseekConfig {
    /// Bearer key (`DEEPSEEK_API_KEY`). Never printed by `Debug`.
    pub api_key: String,
    /// `https://api.deepseek.com` (or `…/v1`); `/chat/completions` is appended.
    pub base_url: String,
    /// `deepseek-chat` (or `deepseek-reasoner`).
    pub model: String,
    /// Per-attempt timeout of the plan agent.
    pub plan_timeout: Duration,
    /// Per-attempt timeout of the execute agent (the long one: it writes the whole AppSpec).
    pub execute_timeout: Duration,
    /// Per-attempt timeout of the review agent.
    pub review_timeout: Duration,
    /// Retries for 429 / 5xx / transport errors per agent call (a timeout is retried once at most).
    pub max_retries: u32,
    /// First backoff step; step n waits a random time in `[0, min(backoff_max, base · 2^n)]`.
    pub backoff_base: Duration,
    /// Upper bound of one backoff wait, `Retry-After` included.
    pub backoff_max: Duration,
    /// Concurrent calls per adapter instance.
    pub max_concurrency: usize,
    /// `max_tokens` of every request (8192 is deepseek-chat's maximum).
    pub max_tokens: u32,
    /// Sampling temperature (DeepSeek recommends 1.0 for data tasks, lower for stable structure).
    pub temperature: f32,
}

impl DeepseekConfig {
    /// A config with the defaults: timeouts plan 60 s / execute 180 s / review 60 s, 3 retries,
    /// backoff 500 ms … 20 s, 8 concurrent calls, 8192 max tokens, temperature 0.7.
    /// An empty `base_url` or `model` falls back to `https://api.deepseek.com` / `deepseek-chat`.
    pub fn new(
        api_key: impl Into<String>,
        base_url: impl Into<String>,
        model: impl Into<String>,
    ) -> Self {
        let base_url = base_url.into();
        let model = model.into();
        DeepseekConfig {
            api_key: api_key.into(),
            base_url: if base_url.trim().is_empty() {
                "https://api.deepseek.com".to_owned()
            } else {
                base_url.trim().to_owned()
            },
            model: if model.trim().is_empty() {
                "deepseek-chat".to_owned()
            } else {
                model.trim().to_owned()
            },
            plan_timeout: Duration::from_secs(60),
            execute_timeout: Duration::from_secs(180),
            review_timeout: Duration::from_secs(60),
            max_retries: 3,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(20),
            max_concurrency: 8,
            max_tokens: 8192,
            temperature: 0.7,
        }
    }

    /// `{base_url}/chat/completions`.
    pub fn completions_url(&self) -> String {
        format!("{}/chat/completions", self.base_url.trim_end_matches('/'))
    }

    /// Worst-case wall time of one agent call once it holds a concurrency permit: all HTTP
    /// attempts together get at most twice the agent's timeout, plus at most `max_retries`
    /// backoff waits of at most `backoff_max` each.
    pub fn worst_case(&self, agent_timeout: Duration) -> Duration {
        agent_timeout * 2 + self.backoff_max * self.max_retries
    }
}

impl std::fmt::Debug for DeepseekConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeepseekConfig")
            .field(
                "api_key",
                &if self.api_key.is_empty() {
                    "<empty>"
                } else {
                    "<redacted>"
                },
            )
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("plan_timeout", &self.plan_timeout)
            .field("execute_timeout", &self.execute_timeout)
            .field("review_timeout", &self.review_timeout)
            .field("max_retries", &self.max_retries)
            .field("backoff_base", &self.backoff_base)
            .field("backoff_max", &self.backoff_max)
            .field("max_concurrency", &self.max_concurrency)
            .field("max_tokens", &self.max_tokens)
            .field("temperature", &self.temperature)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_url() {
        let c = DeepseekConfig::new("sk-x", "https://api.deepseek.com/", "");
        assert_eq!(c.model, "deepseek-chat");
        assert_eq!(
            c.completions_url(),
            "https://api.deepseek.com/chat/completions"
        );
        assert_eq!(c.execute_timeout, Duration::from_secs(180));
        assert_eq!(c.worst_case(c.plan_timeout), Duration::from_secs(180));
        assert!(!format!("{c:?}").contains("sk-x"));
    }
}
