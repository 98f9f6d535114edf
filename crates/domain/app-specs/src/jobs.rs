//! Generation jobs: the job model, its status machine and the pipeline (plan → execute →
//! validate → render) with a checkpoint after every step so a takeover resumes instead of
//! starting over.

use crate::agents::{
    AgeGroup, AgentError, AgentOutput, GenerationInput, SpecGenerator, TokenUsage,
};
use crate::errors::JobFailure;
use crate::lifecycle::SpecStatus;
use crate::ports::{
    AppSpecRepository, ChangeType, CompleteOutcome, JobRepository, JobResult, Lease, NewVersion,
    Viewer,
};
use crate::validation::{final_score, validate_value};
use ingenio_kernel::chrono::{DateTime, Utc};
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::{TenantId, UserId};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::future::Future;
use std::sync::Arc;

/// Where a job is. `completed`, `failed` and `cancelled` are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
        [
            JobStatus::Pending,
            JobStatus::Planning,
            JobStatus::Executing,
            JobStatus::Validating,
            JobStatus::Generating,
            JobStatus::Completed,
            JobStatus::Failed,
            JobStatus::Cancelled,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            JobStatus::Completed | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

/// The pipeline's agent steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Plan,
    Execute,
    Validate,
}

impl Step {
    pub fn as_str(&self) -> &'static str {
        match self {
            Step::Plan => "plan",
            Step::Execute => "execute",
            Step::Validate => "validate",
        }
    }
    /// The job status and progress while this step runs.
    fn entry(&self) -> (JobStatus, u8) {
        match self {
            Step::Plan => (JobStatus::Planning, 10),
            Step::Execute => (JobStatus::Executing, 40),
            Step::Validate => (JobStatus::Validating, 70),
        }
    }
    /// The code of an unusable answer in this step.
    pub fn failure_code(&self) -> &'static str {
        match self {
            Step::Plan => "6000",
            Step::Execute => "6001",
            Step::Validate => "6002",
        }
    }
}

/// What the client asked for (validated at the HTTP edge).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRequest {
    pub requirement: String,
    pub age_group: Option<AgeGroup>,
    pub magic_prompt_id: Option<Uuid>,
    #[serde(default)]
    pub variables: Value,
    /// Regenerate this spec (a new version) instead of creating one.
    pub app_spec_id: Option<Uuid>,
    pub renderer: Option<String>,
    /// 0–100; the configured default when absent.
    pub quality_threshold: u8,
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
    /// Checkpoints: `{"plan": {...}, "execute": {...}, "validate": {...}}`.
    pub state: Value,
    pub result: Option<Value>,
    pub app_spec_id: Option<Uuid>,
    pub version_number: Option<i32>,
    pub token_usage: TokenUsage,
    pub error_code: Option<String>,
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

/// One persisted event of a job, served over SSE.
#[derive(Debug, Clone, PartialEq)]
pub struct JobEvent {
    pub id: i64,
    pub job_id: Uuid,
    /// `progress`, `agent`, `file`, `complete` or `error`.
    pub kind: String,
    pub data: Value,
    pub created_at: DateTime<Utc>,
}

/// How a pipeline run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    Completed {
        app_spec_id: Uuid,
        version: i32,
    },
    /// Failed and this run made the transition (the caller refunds the quota reservation).
    Failed(JobFailure),
    /// Lost the lease or the job was cancelled: someone else owns the outcome.
    Abandoned,
}

/// Runs jobs for one worker identity.
pub struct Pipeline {
    pub jobs: Arc<dyn JobRepository>,
    pub generator: Arc<dyn SpecGenerator>,
    /// Where the spec to regenerate is read from.
    pub specs: Arc<dyn AppSpecRepository>,
}

fn usage_json(u: &TokenUsage) -> Value {
    serde_json::to_value(u).unwrap_or(Value::Null)
}

fn output_json<T: Serialize>(o: &AgentOutput<T>) -> Value {
    json!({
        "output": serde_json::to_value(&o.value).unwrap_or(Value::Null),
        "usage": usage_json(&o.usage),
        "reasoning": o.reasoning,
        "model": o.model,
    })
}

impl Pipeline {
    /// Runs (or resumes) `job` as `worker` to a final status.
    pub async fn run(&self, job: &GenerationJob, worker: &str) -> anyhow::Result<RunOutcome> {
        let mut state = match &job.state {
            Value::Object(_) => job.state.clone(),
            _ => json!({}),
        };
        let mut usage = job.token_usage;
        let previous_spec = match job.request.app_spec_id {
            Some(id) => {
                let viewer = Viewer {
                    tenant: job.tenant_id,
                    user: job.user_id,
                    admin: false,
                };
                self.specs.get(viewer, id).await?.map(|s| s.content)
            }
            None => None,
        };
        let input = GenerationInput {
            requirement: job.request.requirement.clone(),
            age_group: job.request.age_group,
            previous_spec,
        };
        if job.attempts > 1 {
            self.event(
                job.id,
                "progress",
                json!({"status": "resumed", "attempt": job.attempts, "progress": job.progress}),
            )
            .await?;
        }

        let plan = match self
            .agent_step(job, worker, Step::Plan, &mut state, &mut usage, || {
                self.generator.plan(&input)
            })
            .await?
        {
            Ok(plan) => plan,
            Err(outcome) => return Ok(outcome),
        };
        let spec = match self
            .agent_step(job, worker, Step::Execute, &mut state, &mut usage, || {
                self.generator.execute(&input, &plan)
            })
            .await?
        {
            Ok(spec) => spec,
            Err(outcome) => return Ok(outcome),
        };

        // validate: the rule pass, then (only without errors) the AI review. A passing verdict is
        // checkpointed with the `generating` step, so a takeover after it does not pay again.
        let threshold = job.request.quality_threshold;
        let passed = state.get("validate").filter(|v| {
            v["finalScore"]
                .as_u64()
                .is_some_and(|s| s >= u64::from(threshold))
        });
        let (score, rule_score, ai, warnings) = if let Some(v) = passed {
            let num = |k: &str| {
                v[k].as_u64()
                    .map(|n| u8::try_from(n.min(100)).unwrap_or(100))
            };
            (
                num("finalScore").unwrap_or(threshold),
                num("ruleScore").unwrap_or(0),
                num("aiScore"),
                v["warnings"]
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or(0),
            )
        } else {
            if !self
                .enter(job, worker, Step::Validate, &state, &usage)
                .await?
            {
                return Ok(RunOutcome::Abandoned);
            }
            let report = validate_value(&spec);
            let (ai, review) = if report.errors == 0 {
                match self.generator.review(&input, &spec).await {
                    Ok(o) => {
                        usage.add(&o.usage);
                        let r = output_json(&o);
                        self.agent_done(job.id, Step::Validate, &o.reasoning, &o.usage)
                            .await?;
                        (Some(o.value.score.min(100)), r)
                    }
                    Err(e) => {
                        return self
                            .fail_agent(job, worker, Step::Validate, &e, &usage)
                            .await
                    }
                }
            } else {
                (None, Value::Null)
            };
            let score = match ai {
                Some(ai) => final_score(report.rule_score, ai),
                None => report.rule_score,
            };
            state["validate"] = json!({
                "ruleScore": report.rule_score,
                "aiScore": ai,
                "finalScore": score,
                "threshold": threshold,
                "errors": report.errors,
                "warnings": report.warnings,
                "findings": serde_json::to_value(&report.findings).unwrap_or(Value::Null),
                "review": review,
            });
            if score < threshold {
                let (code, what) = if report.errors > 0 {
                    ("3004", "validation failed")
                } else {
                    ("3003", "quality below threshold")
                };
                let msg = format!(
                    "{what}: score {score} < threshold {threshold} ({} errors, {} warnings)",
                    report.errors, report.warnings
                );
                return self
                    .fail(job, worker, JobFailure::new(code, msg), &usage)
                    .await;
            }
            if self
                .jobs
                .checkpoint(job.id, worker, JobStatus::Generating, 90, &state, &usage)
                .await?
                == Lease::Lost
            {
                return Ok(RunOutcome::Abandoned);
            }

            (score, report.rule_score, ai, report.warnings)
        };

        let metadata = json!({
            "userInput": job.request.requirement,
            "ageGroup": job.request.age_group.map(|a| a.as_str()),
            "modelVersion": self.generator.model_version(),
            "offline": self.generator.is_offline(),
            "jobId": job.id,
            "plan": state["plan"],
            "execute": {"reasoning": state["execute"]["reasoning"], "usage": state["execute"]["usage"], "model": state["execute"]["model"]},
            "validate": state["validate"],
            "tokenUsage": usage_json(&usage),
            "confidence": f64::from(score) / 100.0,
            "qualityScore": score,
        });
        let result = JobResult {
            target_spec: job.request.app_spec_id,
            version: NewVersion {
                content: spec,
                generation_metadata: Some(metadata),
                change_description: Some(match job.request.app_spec_id {
                    Some(_) => "AI regeneration".to_owned(),
                    None => "AI generation".to_owned(),
                }),
                change_type: ChangeType::AiGeneration,
                created_by: job.user_id,
                status: SpecStatus::Validated,
                quality_score: Some(i32::from(score)),
            },
            usage,
            summary: json!({"qualityScore": score, "ruleScore": rule_score, "aiScore": ai, "warnings": warnings}),
        };
        Ok(match self.jobs.complete(job.id, worker, result).await? {
            CompleteOutcome::Completed {
                app_spec_id,
                version,
            } => RunOutcome::Completed {
                app_spec_id,
                version,
            },
            CompleteOutcome::Failed(f) => RunOutcome::Failed(f),
            CompleteOutcome::NotHeld => RunOutcome::Abandoned,
        })
    }

    async fn event(&self, id: Uuid, kind: &str, data: Value) -> anyhow::Result<()> {
        self.jobs.append_event(id, kind, &data).await?;
        Ok(())
    }

    /// Runs an agent step (plan or execute) unless its checkpoint already holds the output:
    /// `Ok(Err(outcome))` when the run must stop here (lease lost, or the agent failed).
    async fn agent_step<F>(
        &self,
        job: &GenerationJob,
        worker: &str,
        step: Step,
        state: &mut Value,
        usage: &mut TokenUsage,
        call: impl FnOnce() -> F,
    ) -> anyhow::Result<Result<Value, RunOutcome>>
    where
        F: Future<Output = Result<AgentOutput<Value>, AgentError>>,
    {
        if let Some(done) = state.get(step.as_str()).filter(|v| !v.is_null()) {
            return Ok(Ok(done["output"].clone()));
        }
        if !self.enter(job, worker, step, state, usage).await? {
            return Ok(Err(RunOutcome::Abandoned));
        }
        match call().await {
            Ok(o) => {
                usage.add(&o.usage);
                state[step.as_str()] = output_json(&o);
                self.agent_done(job.id, step, &o.reasoning, &o.usage)
                    .await?;
                Ok(Ok(o.value))
            }
            Err(e) => Ok(Err(self.fail_agent(job, worker, step, &e, usage).await?)),
        }
    }

    /// Checkpoints entry into `step` and announces it; `false` when the lease is lost.
    async fn enter(
        &self,
        job: &GenerationJob,
        worker: &str,
        step: Step,
        state: &Value,
        usage: &TokenUsage,
    ) -> anyhow::Result<bool> {
        let (status, progress) = step.entry();
        if self
            .jobs
            .checkpoint(job.id, worker, status, progress, state, usage)
            .await?
            == Lease::Lost
        {
            return Ok(false);
        }
        self.event(
            job.id,
            "progress",
            json!({"status": status.as_str(), "progress": progress}),
        )
        .await?;
        self.event(
            job.id,
            "agent",
            json!({"agent": step.as_str(), "state": "running"}),
        )
        .await?;
        Ok(true)
    }

    async fn agent_done(
        &self,
        id: Uuid,
        step: Step,
        reasoning: &str,
        usage: &TokenUsage,
    ) -> anyhow::Result<()> {
        self.event(
            id,
            "agent",
            json!({"agent": step.as_str(), "state": "completed", "reasoning": reasoning, "tokenUsage": usage_json(usage)}),
        )
        .await
    }

    async fn fail_agent(
        &self,
        job: &GenerationJob,
        worker: &str,
        step: Step,
        e: &AgentError,
        usage: &TokenUsage,
    ) -> anyhow::Result<RunOutcome> {
        self.fail(job, worker, JobFailure::from_agent(step, e), usage)
            .await
    }

    async fn fail(
        &self,
        job: &GenerationJob,
        worker: &str,
        failure: JobFailure,
        usage: &TokenUsage,
    ) -> anyhow::Result<RunOutcome> {
        Ok(
            match self
                .jobs
                .fail(job.id, worker, failure.code, &failure.message, usage)
                .await?
            {
                Some(_) => RunOutcome::Failed(failure),
                None => RunOutcome::Abandoned,
            },
        )
    }
}

#[cfg(test)]
mod tests;
