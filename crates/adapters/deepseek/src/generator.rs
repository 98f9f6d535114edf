//! `DeepseekGenerator`: the `SpecGenerator` port over DeepSeek's chat completions API. One agent
//! call = at most two answers (the first and one corrective retry), each answer fetched with
//! backoff on 429/5xx/transport errors and bounded by the agent's timeout.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use ingenio_app_specs::{
    AgentError, AgentOutput, AiReview, GenerationInput, SpecGenerator, TokenUsage,
};
use rand::Rng as _;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::config::DeepseekConfig;
use crate::parse::{self, ShapeError};
use crate::prompts;
use crate::wire::{self, ChatResponse, Msg};

/// Counters for the health page and metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeepseekStats {
    /// Agent calls started (plan + execute + review).
    pub agent_calls: u64,
    /// HTTP requests sent (every attempt, retries and corrective retries included).
    pub calls: u64,
    /// Requests repeated after a 429 / 5xx / transport error / timeout.
    pub retries: u64,
    /// Corrective retries after an unusable answer.
    pub corrective_retries: u64,
    /// Every non-success HTTP answer, by status (one per attempt).
    pub failures_by_status: BTreeMap<u16, u64>,
    /// Attempts that hit the agent's timeout.
    pub timeouts: u64,
    /// Attempts that failed below HTTP (connect, reset, unreadable body).
    pub transport_errors: u64,
    /// Agent calls that ended in `InvalidOutput`.
    pub invalid_outputs: u64,
    /// The last 401/402 answer ("401 Authentication Fails"), cleared by the next success: an
    /// operator problem for the health page.
    pub last_auth_error: Option<String>,
    /// Tokens used by all calls so far.
    pub usage: TokenUsage,
}

/// The DeepSeek-backed agents. Cheap to share (`Arc` inside).
#[derive(Clone)]
pub struct DeepseekGenerator {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: DeepseekConfig,
    url: String,
    http: reqwest::Client,
    permits: Semaphore,
    stats: Mutex<DeepseekStats>,
}

impl std::fmt::Debug for DeepseekGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeepseekGenerator")
            .field("cfg", &self.inner.cfg)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Agent {
    Plan,
    Execute,
    Review,
}

impl Agent {
    fn name(self) -> &'static str {
        match self {
            Agent::Plan => "plan",
            Agent::Execute => "execute",
            Agent::Review => "review",
        }
    }
    fn system_prompt(self) -> &'static str {
        match self {
            Agent::Plan => prompts::PLAN_SYSTEM_PROMPT,
            Agent::Execute => prompts::EXECUTE_SYSTEM_PROMPT,
            Agent::Review => prompts::REVIEW_SYSTEM_PROMPT,
        }
    }
}

/// How one HTTP attempt failed.
enum AttemptError {
    /// 429 / 5xx / `insufficient_system_resource`: worth another try.
    Retryable {
        status: Option<u16>,
        message: String,
        retry_after: Option<Duration>,
    },
    /// Below HTTP: connect refused, reset, body cut off.
    Transport(String),
    /// 400 / 401 / 402 / 422 and other client errors: retrying cannot help.
    Fatal { status: u16, message: String },
}

/// A usable HTTP answer: its content, finish reason and usage.
struct Answer {
    content: String,
    finish_reason: Option<String>,
    usage: TokenUsage,
}

fn ceil_secs(d: Duration) -> u64 {
    let ms = d.as_millis();
    u64::try_from(ms.div_ceil(1000)).unwrap_or(u64::MAX)
}

impl DeepseekGenerator {
    /// Builds the HTTP client (rustls, connect timeout 10 s; request time is bounded per agent).
    pub fn new(cfg: DeepseekConfig) -> anyhow::Result<Self> {
        if cfg.api_key.trim().is_empty() {
            anyhow::bail!("deepseek api key is empty");
        }
        if cfg.max_concurrency == 0 {
            anyhow::bail!("deepseek max_concurrency must be at least 1");
        }
        let url = cfg.completions_url();
        reqwest::Url::parse(&url)
            .with_context(|| format!("invalid deepseek base url {:?}", cfg.base_url))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("ingenio-backend/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("build deepseek http client")?;
        let permits = Semaphore::new(cfg.max_concurrency);
        Ok(DeepseekGenerator {
            inner: Arc::new(Inner {
                cfg,
                url,
                http,
                permits,
                stats: Mutex::new(DeepseekStats::default()),
            }),
        })
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> DeepseekStats {
        self.inner.stats(|s| s.clone())
    }

    fn output<T>(&self, value: T, usage: TokenUsage, reasoning: String) -> AgentOutput<T> {
        AgentOutput {
            value,
            usage,
            reasoning,
            model: self.model_version(),
        }
    }
}

impl Inner {
    fn stats<R>(&self, f: impl FnOnce(&mut DeepseekStats) -> R) -> R {
        let mut guard = self
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }

    fn timeout_of(&self, agent: Agent) -> Duration {
        match agent {
            Agent::Plan => self.cfg.plan_timeout,
            Agent::Execute => self.cfg.execute_timeout,
            Agent::Review => self.cfg.review_timeout,
        }
    }

    /// Full-jitter exponential backoff for retry `n` (1-based), or the server's `Retry-After`;
    /// both capped by `backoff_max`.
    fn backoff(&self, n: u32, retry_after: Option<Duration>) -> Duration {
        let max = self.cfg.backoff_max;
        if let Some(after) = retry_after {
            return after.min(max);
        }
        let exp = self
            .cfg
            .backoff_base
            .saturating_mul(2_u32.saturating_pow(n.saturating_sub(1)));
        let ceiling = exp.min(max);
        let ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::thread_rng().gen_range(0..=ms))
    }

    /// One agent call: the first answer and, if unusable, one corrective retry.
    async fn run<T>(
        &self,
        agent: Agent,
        user: String,
        check: impl Fn(Value) -> Result<T, ShapeError>,
    ) -> Result<(T, TokenUsage), AgentError> {
        self.stats(|s| s.agent_calls += 1);
        let _permit = self.permits.acquire().await.map_err(|e| {
            AgentError::Unexpected(anyhow::anyhow!("deepseek semaphore closed: {e}"))
        })?;
        let timeout = self.timeout_of(agent);
        let mut budget = Budget {
            deadline: Instant::now() + timeout * 2,
            retries_left: self.cfg.max_retries,
            timed_out: false,
        };
        let mut messages = vec![
            Msg::System(agent.system_prompt().to_owned()),
            Msg::User(user),
        ];
        let mut usage = TokenUsage::default();
        for round in 0..2 {
            let answer = self.fetch(agent, &messages, timeout, &mut budget).await;
            let answer = match answer {
                Ok(answer) => answer,
                Err(e) => {
                    self.stats(|s| s.usage.add(&usage));
                    return Err(e);
                }
            };
            usage.add(&answer.usage);
            let outcome = usable(&answer).and_then(&check);
            match outcome {
                Ok(value) => {
                    self.stats(|s| s.usage.add(&usage));
                    return Ok((value, usage));
                }
                Err(problem) if round == 0 => {
                    tracing::warn!(agent = agent.name(), problem = %problem, "unusable deepseek answer, asking again");
                    self.stats(|s| s.corrective_retries += 1);
                    if !answer.content.trim().is_empty() {
                        messages.push(Msg::Assistant(answer.content));
                    }
                    messages.push(Msg::User(prompts::corrective(&problem.0)));
                }
                Err(problem) => {
                    tracing::error!(agent = agent.name(), problem = %problem, "unusable deepseek answer after the corrective retry");
                    self.stats(|s| {
                        s.invalid_outputs += 1;
                        s.usage.add(&usage);
                    });
                    return Err(AgentError::InvalidOutput(format!(
                        "{} agent: {problem}",
                        agent.name()
                    )));
                }
            }
        }
        Err(AgentError::InvalidOutput(format!(
            "{} agent: no usable answer",
            agent.name()
        )))
    }

    /// One answer, with retries for 429 / 5xx / transport errors and one for a timeout.
    async fn fetch(
        &self,
        agent: Agent,
        messages: &[Msg],
        timeout: Duration,
        budget: &mut Budget,
    ) -> Result<Answer, AgentError> {
        let body = wire::build_request(
            &self.cfg.model,
            messages,
            self.cfg.max_tokens,
            self.cfg.temperature,
        );
        let mut retry_no = 0_u32;
        loop {
            let now = Instant::now();
            let remaining = budget.deadline.saturating_duration_since(now);
            if remaining.is_zero() {
                self.stats(|s| s.timeouts += 1);
                return Err(AgentError::Timeout(ceil_secs(timeout)));
            }
            let limit = timeout.min(remaining);
            self.stats(|s| s.calls += 1);
            let started = Instant::now();
            let result = tokio::time::timeout(limit, self.attempt(&body)).await;
            let was_timeout = result.is_err();
            let (status, message, retry_after) = match result {
                Ok(Ok(answer)) => {
                    self.stats(|s| s.last_auth_error = None);
                    tracing::debug!(
                        agent = agent.name(),
                        elapsed_ms =
                            u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                        total_tokens = answer.usage.total_tokens,
                        "deepseek answered"
                    );
                    return Ok(answer);
                }
                Ok(Err(AttemptError::Fatal { status, message })) => {
                    self.stats(|s| {
                        *s.failures_by_status.entry(status).or_default() += 1;
                        if status == 401 || status == 402 {
                            s.last_auth_error = Some(format!("{status} {message}"));
                        }
                    });
                    tracing::error!(agent = agent.name(), status, message = %message, "deepseek refused the request");
                    return Err(AgentError::Provider(format!(
                        "DeepSeek {status}: {message}"
                    )));
                }
                Ok(Err(AttemptError::Retryable {
                    status,
                    message,
                    retry_after,
                })) => {
                    if let Some(code) = status {
                        self.stats(|s| *s.failures_by_status.entry(code).or_default() += 1);
                    }
                    (status.map(|c| c.to_string()), message, retry_after)
                }
                Ok(Err(AttemptError::Transport(message))) => {
                    self.stats(|s| s.transport_errors += 1);
                    (None, message, None)
                }
                Err(_elapsed) => {
                    self.stats(|s| s.timeouts += 1);
                    tracing::warn!(
                        agent = agent.name(),
                        timeout_ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
                        "deepseek call timed out"
                    );
                    if budget.timed_out
                        || budget.retries_left == 0
                        || Instant::now() >= budget.deadline
                    {
                        return Err(AgentError::Timeout(ceil_secs(timeout)));
                    }
                    budget.timed_out = true;
                    (None, "timeout".to_owned(), None)
                }
            };
            let what = status
                .clone()
                .unwrap_or_else(|| "transport error".to_owned());
            if budget.retries_left == 0 || Instant::now() >= budget.deadline {
                if was_timeout {
                    return Err(AgentError::Timeout(ceil_secs(timeout)));
                }
                let attempts = retry_no + 1;
                tracing::error!(agent = agent.name(), attempts, status = %what, message = %message, "deepseek kept failing");
                return Err(AgentError::Provider(format!(
                    "DeepSeek {what} after {attempts} attempt(s): {message}"
                )));
            }
            budget.retries_left -= 1;
            retry_no += 1;
            let wait = self.backoff(retry_no, retry_after);
            tracing::warn!(agent = agent.name(), status = %what, message = %message, retry = retry_no, wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX), "retrying deepseek call");
            self.stats(|s| s.retries += 1);
            tokio::time::sleep(wait).await;
        }
    }

    /// One HTTP request and its classification.
    async fn attempt(
        &self,
        body: &async_openai::types::chat::CreateChatCompletionRequest,
    ) -> Result<Answer, AttemptError> {
        let response = self
            .http
            .post(&self.url)
            .bearer_auth(&self.cfg.api_key)
            .json(body)
            .send()
            .await
            .map_err(|e| AttemptError::Transport(format!("request failed: {}", error_chain(&e))))?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let bytes = response.bytes().await.map_err(|e| {
            AttemptError::Transport(format!("reading the answer failed: {}", error_chain(&e)))
        })?;
        if !status.is_success() {
            let message = wire::error_message(&bytes);
            return Err(if is_retryable(status) {
                AttemptError::Retryable {
                    status: Some(status.as_u16()),
                    message,
                    retry_after,
                }
            } else {
                AttemptError::Fatal {
                    status: status.as_u16(),
                    message,
                }
            });
        }
        let parsed = ChatResponse::parse(&bytes).map_err(AttemptError::Transport)?;
        let (content, finish_reason) = parsed.first();
        if finish_reason.as_deref() == Some("insufficient_system_resource") {
            return Err(AttemptError::Retryable {
                status: None,
                message: "answer interrupted: insufficient_system_resource".to_owned(),
                retry_after: None,
            });
        }
        Ok(Answer {
            content,
            finish_reason,
            usage: parsed.usage.map(TokenUsage::from).unwrap_or_default(),
        })
    }
}

struct Budget {
    /// All HTTP attempts of one agent call end before this (twice the agent's timeout).
    deadline: Instant,
    retries_left: u32,
    /// A timeout has already been retried once.
    timed_out: bool,
}

fn is_retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// `Retry-After` in seconds (the HTTP-date form is not used by DeepSeek and is ignored).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    value.parse::<u64>().ok().map(Duration::from_secs)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

/// Empty content and truncated answers are unusable whatever they contain.
fn usable(answer: &Answer) -> Result<Value, ShapeError> {
    if answer.finish_reason.as_deref() == Some("length") {
        return Err(ShapeError(
            "the answer was cut off (finish_reason \"length\"): it exceeded max_tokens".to_owned(),
        ));
    }
    if answer.content.trim().is_empty() {
        return Err(ShapeError("the answer was empty".to_owned()));
    }
    parse::extract_json_object(&answer.content)
}

fn count(v: &Value, key: &str) -> usize {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::len)
        .unwrap_or(0)
}

#[async_trait]
impl SpecGenerator for DeepseekGenerator {
    fn model_version(&self) -> String {
        self.inner.cfg.model.clone()
    }

    fn is_offline(&self) -> bool {
        false
    }

    async fn plan(&self, input: &GenerationInput) -> Result<AgentOutput<Value>, AgentError> {
        let (value, usage) = self
            .inner
            .run(Agent::Plan, prompts::plan_user(input), parse::check_plan)
            .await?;
        let reasoning = match value
            .get("reasoning")
            .and_then(Value::as_str)
            .map(str::trim)
        {
            Some(r) if !r.is_empty() => r.to_owned(),
            _ => format!(
                "planned {} pages, {} data models",
                count(&value, "pages"),
                count(&value, "dataModels")
            ),
        };
        Ok(self.output(value, usage, reasoning))
    }

    async fn execute(
        &self,
        input: &GenerationInput,
        plan: &Value,
    ) -> Result<AgentOutput<Value>, AgentError> {
        let (value, usage) = self
            .inner
            .run(
                Agent::Execute,
                prompts::execute_user(input, plan),
                parse::check_spec,
            )
            .await?;
        let reasoning = format!(
            "{} pages, {} data models",
            count(&value, "pages"),
            count(&value, "dataModels")
        );
        Ok(self.output(value, usage, reasoning))
    }

    async fn review(
        &self,
        input: &GenerationInput,
        spec: &Value,
    ) -> Result<AgentOutput<AiReview>, AgentError> {
        let (value, usage) = self
            .inner
            .run(
                Agent::Review,
                prompts::review_user(input, spec),
                parse::check_review,
            )
            .await?;
        let reasoning = if value.summary.is_empty() {
            format!("AI review score {}", value.score)
        } else {
            value.summary.clone()
        };
        Ok(self.output(value, usage, reasoning))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn backoff_is_capped_and_jittered() {
        let mut cfg = DeepseekConfig::new("k", "http://127.0.0.1:1", "deepseek-chat");
        cfg.backoff_base = Duration::from_millis(100);
        cfg.backoff_max = Duration::from_millis(250);
        let g = DeepseekGenerator::new(cfg).unwrap();
        for n in 1..10 {
            assert!(g.inner.backoff(n, None) <= Duration::from_millis(250));
        }
        assert!(g.inner.backoff(1, None) <= Duration::from_millis(100));
        assert_eq!(
            g.inner.backoff(1, Some(Duration::from_secs(1))),
            Duration::from_millis(250)
        );
        assert_eq!(ceil_secs(Duration::from_millis(300)), 1);
        assert_eq!(ceil_secs(Duration::from_secs(60)), 60);
    }

    #[test]
    fn new_rejects_bad_config() {
        assert!(DeepseekGenerator::new(DeepseekConfig::new("", "", "")).is_err());
        assert!(DeepseekGenerator::new(DeepseekConfig::new("k", "not a url", "")).is_err());
        let mut cfg = DeepseekConfig::new("k", "", "");
        cfg.max_concurrency = 0;
        assert!(DeepseekGenerator::new(cfg).is_err());
    }
}
