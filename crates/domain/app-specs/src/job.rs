//! The typed job model shared by the pipeline, the ports, the adapters, the fakes and the HTTP
//! handlers: statuses, steps, the request, per-step checkpoints, the summary, failure codes and
//! event payloads. Nothing here depends on ports or errors, so those can depend on it.
//!
//! Stored JSON stays readable across releases: every checkpoint field has a default, and a
//! checkpoint that does not parse is dropped (its step runs again) rather than failing the job.

use crate::agents::{AgeGroup, AgentError, TokenUsage};
use crate::validation::Finding;
use ingenio_kernel::chrono::{DateTime, Utc};
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::{TenantId, UserId};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Where a job is. `completed`, `failed` and `cancelled` are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Pending,
    Planning,
    Executing,
    Validating,
    Generating,
    Completed,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 8] = [
        JobStatus::Pending,
        JobStatus::Planning,
        JobStatus::Executing,
        JobStatus::Validating,
        JobStatus::Generating,
        JobStatus::Completed,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Planning => "planning",
            JobStatus::Executing => "executing",
            JobStatus::Validating => "validating",
            JobStatus::Generating => "generating",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        JobStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            JobStatus::Completed | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

/// The pipeline's steps: three agents, then rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    Plan,
    Execute,
    Validate,
    Render,
}

impl Step {
    pub const AGENTS: [Step; 3] = [Step::Plan, Step::Execute, Step::Validate];

    pub fn as_str(&self) -> &'static str {
        match self {
            Step::Plan => "plan",
            Step::Execute => "execute",
            Step::Validate => "validate",
            Step::Render => "render",
        }
    }
    /// The job status and progress while this step runs.
    pub fn entry(&self) -> (JobStatus, u8) {
        match self {
            Step::Plan => (JobStatus::Planning, 10),
            Step::Execute => (JobStatus::Executing, 40),
            Step::Validate => (JobStatus::Validating, 70),
            Step::Render => (JobStatus::Generating, 90),
        }
    }
    /// The code of an unusable answer (or failure) in this step.
    pub fn failure_code(&self) -> FailureCode {
        match self {
            Step::Plan => FailureCode::PlanFailed,
            Step::Execute => FailureCode::ExecuteFailed,
            Step::Validate => FailureCode::ValidateFailed,
            Step::Render => FailureCode::CodeGenerationFailed,
        }
    }
}

/// Why a job failed: the stable codes of the SPEC error table that a job can end with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureCode {
    /// `1000`: our fault (a bug, a panic, storage trouble that outlived the retries).
    System,
    /// `3000`: the spec to regenerate or render vanished.
    SpecNotFound,
    /// `3002`: the version to render does not exist.
    VersionNotFound,
    /// `3003`: the final score is below the threshold the user asked for.
    QualityBelowThreshold,
    /// `3004`: the generated spec breaks validation rules.
    ValidationFailed,
    /// `3005`: the generated spec is over a size limit (`ingenio.spec-limits.*`).
    SpecTooLarge,
    /// `4000`: the spec could not be rendered.
    CodeGenerationFailed,
    /// `6000` / `6001` / `6002`: an agent's answer was unusable.
    PlanFailed,
    ExecuteFailed,
    ValidateFailed,
    /// `6003`: the AI provider refused or kept failing.
    AiProvider,
    /// `6004`: the AI did not answer in time.
    AiTimeout,
    /// `7000`: the artifact could not be uploaded (object store down).
    UploadFailed,
    /// `cancelled`: the user cancelled the job.
    Cancelled,
}

impl FailureCode {
    pub const ALL: [FailureCode; 14] = [
        FailureCode::System,
        FailureCode::SpecNotFound,
        FailureCode::VersionNotFound,
        FailureCode::QualityBelowThreshold,
        FailureCode::ValidationFailed,
        FailureCode::SpecTooLarge,
        FailureCode::CodeGenerationFailed,
        FailureCode::PlanFailed,
        FailureCode::ExecuteFailed,
        FailureCode::ValidateFailed,
        FailureCode::AiProvider,
        FailureCode::AiTimeout,
        FailureCode::UploadFailed,
        FailureCode::Cancelled,
    ];

    /// The stored and wire form (`"6003"`, `"cancelled"`).
    pub fn as_str(&self) -> &'static str {
        match self {
            FailureCode::System => "1000",
            FailureCode::SpecNotFound => "3000",
            FailureCode::VersionNotFound => "3002",
            FailureCode::QualityBelowThreshold => "3003",
            FailureCode::ValidationFailed => "3004",
            FailureCode::SpecTooLarge => "3005",
            FailureCode::CodeGenerationFailed => "4000",
            FailureCode::PlanFailed => "6000",
            FailureCode::ExecuteFailed => "6001",
            FailureCode::ValidateFailed => "6002",
            FailureCode::AiProvider => "6003",
            FailureCode::AiTimeout => "6004",
            FailureCode::UploadFailed => "7000",
            FailureCode::Cancelled => "cancelled",
        }
    }

    /// Parses the stored form; an unknown code (a newer release's) reads as `System`.
    pub fn parse(s: &str) -> Self {
        FailureCode::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .unwrap_or(FailureCode::System)
    }

    /// Whether the user caused this ending and so pays for the AI work spent on it: a quality
    /// threshold the spec did not meet is the user's choice, and so is a cancellation after the
    /// AI has answered. Everything else (provider errors, unusable answers, an answer over the
    /// size limits, our faults, the object store being down) is refunded: SPEC §4 has failed jobs
    /// not count against the quota, and the size of the answer is the AI's doing, not the user's.
    pub fn charged(&self, spent: &TokenUsage) -> bool {
        match self {
            FailureCode::QualityBelowThreshold => true,
            FailureCode::Cancelled => spent.total_tokens > 0,
            _ => false,
        }
    }
}

impl Serialize for FailureCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FailureCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(FailureCode::parse(&s))
    }
}

/// The code and message a failed job records. The message is for the user: it never carries
/// internal error text (that goes to the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFailure {
    pub code: FailureCode,
    pub message: String,
}

impl JobFailure {
    pub fn new(code: FailureCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// Maps an agent failure in `step` to its code; internal errors get a generic message.
    pub fn from_agent(step: Step, e: &AgentError) -> Self {
        match e {
            AgentError::Provider(m) => Self::new(
                FailureCode::AiProvider,
                format!("AI provider error during {}: {m}", step.as_str()),
            ),
            AgentError::Timeout(s) => Self::new(
                FailureCode::AiTimeout,
                format!("AI call timed out during {} after {s} s", step.as_str()),
            ),
            AgentError::InvalidOutput(m) => Self::new(
                step.failure_code(),
                format!("{} agent returned an unusable answer: {m}", step.as_str()),
            ),
            AgentError::Unexpected(_) => Self::internal(step),
        }
    }

    /// The spec a job writes to or renders vanished (`3000`).
    pub fn spec_gone() -> Self {
        Self::new(FailureCode::SpecNotFound, "app spec not found")
    }

    /// An internal failure during `step` (details belong in the log, not in the job).
    pub fn internal(step: Step) -> Self {
        Self::new(
            FailureCode::System,
            format!("internal error during {}", step.as_str()),
        )
    }
}

/// What a job does: the full pipeline, or only rendering an existing version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// plan → execute → validate → render (uses AI quota).
    #[default]
    Generate,
    /// render an existing version of `app_spec_id` (no AI, no quota).
    Render,
}

/// What the client asked for (validated at the HTTP edge).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRequest {
    /// `generate` for rows of earlier releases, which had no kind.
    #[serde(default)]
    pub kind: JobKind,
    #[serde(default)]
    pub requirement: String,
    pub age_group: Option<AgeGroup>,
    pub magic_prompt_id: Option<Uuid>,
    #[serde(default)]
    pub variables: Value,
    /// Regenerate (or, for `render` jobs, render) this spec instead of creating one.
    pub app_spec_id: Option<Uuid>,
    /// The version a `render` job renders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
    /// The renderer to use; the configured default when absent.
    pub renderer: Option<String>,
    /// 0–100; the configured default when absent.
    #[serde(default)]
    pub quality_threshold: u8,
}

/// An agent step's saved answer (plan and execute; the AI review inside validate).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AgentCheckpoint {
    /// The agent's output as it answered (AI-authored content).
    pub output: Value,
    pub usage: TokenUsage,
    pub reasoning: String,
    pub model: String,
}

/// What a generated version records about how it was made (`app_spec_versions.generation_metadata`):
/// the user's input, the model, each agent's reasoning and usage, the verdict and the score.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerationMetadata<'a> {
    pub user_input: &'a str,
    pub age_group: Option<&'static str>,
    pub model_version: String,
    pub offline: bool,
    pub job_id: Uuid,
    pub plan: Option<&'a AgentCheckpoint>,
    pub execute: Option<AgentSummary<'a>>,
    pub validate: &'a ValidateCheckpoint,
    pub token_usage: &'a TokenUsage,
    /// The quality score as a fraction (0–1).
    pub confidence: f64,
    pub quality_score: u8,
}

/// An agent step without its output (the spec itself is the version's content).
#[derive(Debug, Clone, Serialize)]
pub struct AgentSummary<'a> {
    pub reasoning: &'a str,
    pub usage: &'a TokenUsage,
    pub model: &'a str,
}

impl<'a> From<&'a AgentCheckpoint> for AgentSummary<'a> {
    fn from(c: &'a AgentCheckpoint) -> Self {
        Self {
            reasoning: &c.reasoning,
            usage: &c.usage,
            model: &c.model,
        }
    }
}

impl GenerationMetadata<'_> {
    /// The stored JSON. These types always serialize (string keys only), so `Null` never shows.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The validate step's verdict.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ValidateCheckpoint {
    pub rule_score: u8,
    pub ai_score: Option<u8>,
    /// Absent until the verdict is complete.
    pub final_score: Option<u8>,
    pub threshold: u8,
    pub errors: u32,
    pub warnings: u32,
    pub findings: Vec<Finding>,
    pub review: Option<AgentCheckpoint>,
}

impl ValidateCheckpoint {
    /// Whether this verdict lets the job go on under `threshold` (no rule errors, score high
    /// enough). A spec with any rule error never passes, whatever its score.
    pub fn passes(&self, threshold: u8) -> bool {
        self.errors == 0 && self.final_score.is_some_and(|s| s >= threshold)
    }
}

/// The version a job wrote (or, for a render job, the version it renders).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionCheckpoint {
    pub app_spec_id: Uuid,
    pub version_number: i32,
}

/// A rendered and stored artifact (one `generated_code` record, or the one it reuses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenderedCode {
    pub renderer: String,
    pub renderer_version: String,
    pub framework: String,
    pub project_key: String,
    pub storage_key: String,
    pub content_hash: String,
    pub file_count: u32,
    pub total_size_bytes: u64,
    /// The zip's size.
    pub zip_size_bytes: u64,
    /// Set for renderers whose output runs straight from its files.
    pub preview_url: Option<String>,
    /// Whether an identical stored artifact was reused instead of uploading again.
    #[serde(default)]
    pub reused: bool,
}

/// Per-step checkpoints: what a job taken over resumes from. Keys are step names.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobState {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<AgentCheckpoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execute: Option<AgentCheckpoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validate: Option<ValidateCheckpoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<VersionCheckpoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub render: Option<RenderedCode>,
}

fn checkpoint<T: DeserializeOwned>(map: &Map<String, Value>, key: &str) -> Option<T> {
    map.get(key)
        .filter(|v| !v.is_null())
        .and_then(|v| serde_json::from_value(v.clone()).ok())
}

impl JobState {
    /// Reads stored state leniently: anything unreadable is dropped, so its step runs again.
    pub fn from_stored(v: &Value) -> Self {
        let Some(map) = v.as_object() else {
            return Self::default();
        };
        Self {
            plan: checkpoint(map, "plan"),
            execute: checkpoint(map, "execute"),
            validate: checkpoint(map, "validate"),
            version: checkpoint(map, "version"),
            render: checkpoint(map, "render"),
        }
    }

    pub fn to_stored(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|_| Value::Object(Map::new()))
    }

    /// The saved answer of an agent step (plan, execute; validate's review).
    pub fn agent(&self, step: Step) -> Option<&AgentCheckpoint> {
        match step {
            Step::Plan => self.plan.as_ref(),
            Step::Execute => self.execute.as_ref(),
            Step::Validate => self.validate.as_ref().and_then(|v| v.review.as_ref()),
            Step::Render => None,
        }
    }

    /// Whether `step` has finished (its checkpoint is complete).
    pub fn done(&self, step: Step) -> bool {
        match step {
            Step::Plan => self.plan.is_some(),
            Step::Execute => self.execute.is_some(),
            Step::Validate => self
                .validate
                .as_ref()
                .is_some_and(|v| v.final_score.is_some()),
            Step::Render => self.render.is_some(),
        }
    }
}

impl<'de> Deserialize<'de> for JobState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(JobState::from_stored(&Value::deserialize(d)?))
    }
}

/// What a finished job reports (stored as the job's `result`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct JobSummary {
    pub quality_score: Option<u8>,
    pub rule_score: Option<u8>,
    pub ai_score: Option<u8>,
    pub warnings: u32,
    /// The code the job rendered (absent in rows of releases without rendering).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<RenderedCode>,
}

impl JobSummary {
    /// Reads a stored summary leniently (unknown or malformed fields read as absent).
    pub fn from_stored(v: &Value) -> Self {
        serde_json::from_value(v.clone()).unwrap_or_default()
    }
}

/// A durable generation job.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationJob {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub status: JobStatus,
    pub progress: u8,
    pub request: JobRequest,
    pub idempotency_key: Option<String>,
    pub state: JobState,
    pub result: Option<JobSummary>,
    pub app_spec_id: Option<Uuid>,
    pub version_number: Option<i32>,
    pub token_usage: TokenUsage,
    pub error_code: Option<FailureCode>,
    pub error_message: Option<String>,
    pub attempts: i32,
    pub quota_reservation: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// The kinds of job events (the SSE event names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Progress,
    Agent,
    File,
    Complete,
    Error,
}

impl EventKind {
    pub const ALL: [EventKind; 5] = [
        EventKind::Progress,
        EventKind::Agent,
        EventKind::File,
        EventKind::Complete,
        EventKind::Error,
    ];
    pub fn as_str(&self) -> &'static str {
        match self {
            EventKind::Progress => "progress",
            EventKind::Agent => "agent",
            EventKind::File => "file",
            EventKind::Complete => "complete",
            EventKind::Error => "error",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// An agent's state in `agent` events and job views.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentRun {
    Pending,
    Running,
    Completed,
    Skipped,
}

/// The payload of a job event; its variant is the event's kind.
#[derive(Debug, Clone, PartialEq)]
pub enum JobEventData {
    /// `{status, progress}`; `status` is a job status or `resumed` (with `attempt`); render
    /// progress adds `step: "render"`, the file `group` and how many files it holds.
    Progress {
        status: String,
        progress: u8,
        attempt: Option<i32>,
        step: Option<Step>,
        group: Option<String>,
        files: Option<u32>,
    },
    /// `{agent, state, reasoning?, tokenUsage?}`.
    Agent {
        agent: Step,
        state: AgentRun,
        reasoning: Option<String>,
        usage: Option<TokenUsage>,
    },
    /// `{path, size, group}`: one file written into the artifact.
    File {
        path: String,
        size: u64,
        group: String,
    },
    /// `{appSpecId, versionNumber, qualityScore, tokenUsage, code?}`.
    Complete {
        app_spec_id: Uuid,
        version_number: i32,
        quality_score: Option<u8>,
        usage: TokenUsage,
        code: Option<RenderedCode>,
    },
    /// `{code, message}`.
    Error { code: FailureCode, message: String },
}

impl JobEventData {
    /// A plain status change.
    pub fn status(status: JobStatus, progress: u8) -> Self {
        JobEventData::Progress {
            status: status.as_str().to_owned(),
            progress,
            attempt: None,
            step: None,
            group: None,
            files: None,
        }
    }

    pub fn kind(&self) -> EventKind {
        match self {
            JobEventData::Progress { .. } => EventKind::Progress,
            JobEventData::Agent { .. } => EventKind::Agent,
            JobEventData::File { .. } => EventKind::File,
            JobEventData::Complete { .. } => EventKind::Complete,
            JobEventData::Error { .. } => EventKind::Error,
        }
    }

    /// The JSON payload stored and sent as the SSE `data`.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        let mut put = |k: &str, v: Value| {
            if !v.is_null() {
                m.insert(k.to_owned(), v);
            }
        };
        let json = |v: &dyn erased::Ser| v.value();
        match self {
            JobEventData::Progress {
                status,
                progress,
                attempt,
                step,
                group,
                files,
            } => {
                put("status", json(status));
                put("progress", json(progress));
                put("attempt", json(attempt));
                put("step", json(step));
                put("group", json(group));
                put("files", json(files));
            }
            JobEventData::Agent {
                agent,
                state,
                reasoning,
                usage,
            } => {
                put("agent", json(agent));
                put("state", json(state));
                put("reasoning", json(reasoning));
                put("tokenUsage", json(usage));
            }
            JobEventData::File { path, size, group } => {
                put("path", json(path));
                put("size", json(size));
                put("group", json(group));
            }
            JobEventData::Complete {
                app_spec_id,
                version_number,
                quality_score,
                usage,
                code,
            } => {
                put("appSpecId", json(app_spec_id));
                put("versionNumber", json(version_number));
                put("qualityScore", json(quality_score));
                put("tokenUsage", json(usage));
                put("code", json(code));
            }
            JobEventData::Error { code, message } => {
                put("code", json(code));
                put("message", json(message));
            }
        }
        Value::Object(m)
    }
}

/// Serialising through a trait object keeps `to_value` one flat list of keys.
mod erased {
    use serde::Serialize;
    use serde_json::Value;

    pub trait Ser {
        fn value(&self) -> Value;
    }
    impl<T: Serialize> Ser for T {
        fn value(&self) -> Value {
            serde_json::to_value(self).unwrap_or(Value::Null)
        }
    }
}

/// One persisted event of a job, served over SSE.
#[derive(Debug, Clone, PartialEq)]
pub struct JobEvent {
    pub id: i64,
    pub job_id: Uuid,
    pub kind: EventKind,
    pub data: Value,
    pub created_at: DateTime<Utc>,
}

/// How many times a job may be claimed before it fails for good (a job that keeps killing its
/// worker, or keeps meeting infrastructure trouble, must not circulate forever).
pub const MAX_ATTEMPTS: i32 = 5;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// A literal JSON document (the wire and storage shapes these tests pin down).
    fn doc(text: &str) -> Value {
        serde_json::from_str(text).expect("a valid JSON document")
    }

    #[test]
    fn failure_codes_round_trip_and_unknown_ones_read_as_system() {
        for c in FailureCode::ALL {
            assert_eq!(FailureCode::parse(c.as_str()), c);
            let v = serde_json::to_value(c).unwrap();
            assert_eq!(serde_json::from_value::<FailureCode>(v).unwrap(), c);
        }
        assert_eq!(FailureCode::parse("9999"), FailureCode::System);
    }

    #[test]
    fn only_user_caused_endings_are_charged() {
        let none = TokenUsage::default();
        let spent = TokenUsage {
            total_tokens: 10,
            ..TokenUsage::default()
        };
        assert!(FailureCode::QualityBelowThreshold.charged(&none));
        assert!(FailureCode::Cancelled.charged(&spent));
        assert!(!FailureCode::Cancelled.charged(&none));
        for c in [
            FailureCode::System,
            FailureCode::AiProvider,
            FailureCode::AiTimeout,
            FailureCode::UploadFailed,
            FailureCode::ExecuteFailed,
            FailureCode::ValidationFailed,
            FailureCode::SpecTooLarge,
        ] {
            assert!(!c.charged(&spent), "{c:?} must be refunded");
        }
    }

    #[test]
    fn state_of_the_previous_release_reads() {
        // the shape rows written before typed checkpoints hold
        let old = doc(r#"{
            "plan": {"output": {"modules": ["a"]}, "usage": {"promptTokens": 3, "completionTokens": 4, "totalTokens": 7, "promptCacheHitTokens": 0, "promptCacheMissTokens": 3}, "reasoning": "why", "model": "m"},
            "execute": {"output": {"appName": "x"}, "usage": {}, "reasoning": "", "model": "m"},
            "validate": {"ruleScore": 95, "aiScore": 90, "finalScore": 93, "threshold": 80, "errors": 0, "warnings": 1,
                         "findings": [{"path": "version", "severity": "warning", "code": "bad_version", "message": "m"}],
                         "review": null}
        }"#);
        let s = JobState::from_stored(&old);
        assert_eq!(s.plan.as_ref().unwrap().usage.total_tokens, 7);
        assert_eq!(
            s.execute.as_ref().unwrap().output,
            doc(r#"{"appName": "x"}"#)
        );
        let v = s.validate.as_ref().unwrap();
        assert_eq!(
            (v.final_score, v.warnings, v.findings.len()),
            (Some(93), 1, 1)
        );
        assert!(v.review.is_none());
        assert!(s.done(Step::Validate) && !s.done(Step::Render));
        // a round trip keeps it
        assert_eq!(JobState::from_stored(&s.to_stored()), s);
    }

    #[test]
    fn unreadable_checkpoints_are_dropped_not_fatal() {
        let s = JobState::from_stored(&doc(
            r#"{"plan": 5, "validate": {}, "version": {"appSpecId": "nope"}}"#,
        ));
        assert!(s.plan.is_none() && s.version.is_none());
        assert!(
            !s.done(Step::Validate),
            "a verdict without a final score is not done"
        );
        assert_eq!(JobState::from_stored(&Value::Null), JobState::default());
        let empty = Value::Object(Map::new());
        assert_eq!(JobState::from_stored(&empty).to_stored(), empty);
    }

    #[test]
    fn requests_of_the_previous_release_are_generate_jobs() {
        let r: JobRequest = serde_json::from_str(
            r#"{"requirement": "a quiz app for pupils", "ageGroup": null, "magicPromptId": null,
                "variables": null, "appSpecId": null, "renderer": null, "qualityThreshold": 80}"#,
        )
        .unwrap();
        assert_eq!((r.kind, r.version), (JobKind::Generate, None));
    }

    #[test]
    fn event_payloads_keep_the_wire_shape() {
        assert_eq!(
            JobEventData::status(JobStatus::Planning, 10).to_value(),
            doc(r#"{"status": "planning", "progress": 10}"#)
        );
        let e = JobEventData::Error {
            code: FailureCode::AiProvider,
            message: "m".into(),
        };
        assert_eq!(e.kind(), EventKind::Error);
        assert_eq!(e.to_value(), doc(r#"{"code": "6003", "message": "m"}"#));
        let a = JobEventData::Agent {
            agent: Step::Plan,
            state: AgentRun::Running,
            reasoning: None,
            usage: None,
        };
        assert_eq!(
            a.to_value(),
            doc(r#"{"agent": "plan", "state": "running"}"#)
        );
    }

    #[test]
    fn a_verdict_with_rule_errors_never_passes() {
        let v = ValidateCheckpoint {
            final_score: Some(100),
            errors: 1,
            ..ValidateCheckpoint::default()
        };
        assert!(!v.passes(0));
        let ok = ValidateCheckpoint {
            final_score: Some(80),
            ..ValidateCheckpoint::default()
        };
        assert!(ok.passes(80) && !ok.passes(81));
    }
}
