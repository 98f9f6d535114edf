//! Generation jobs: the pipeline (plan → execute → validate → write the version → render →
//! complete) with a checkpoint after every step so a takeover resumes instead of starting over,
//! and the rules of a job's end (complete, fail, settle the AI quota, give up after
//! [`MAX_ATTEMPTS`], contain a panicking step). The typed job model lives in [`crate::job`].

pub use crate::job::*;

use crate::agents::{AgentError, AgentOutput, GenerationInput, SpecGenerator, TokenUsage};
use crate::lifecycle::SpecStatus;
use crate::limits::SpecLimits;
use crate::ports::{
    AiQuota, AppSpecRepository, BuildError, BuildRequest, BuiltFile, ChangeType, CodeBuilder,
    CompleteOutcome, Completion, GenerationListener, JobRepository, JobVersion, Lease, NewVersion,
    Reservation, Viewer, WriteVersionOutcome,
};
use crate::validation::{final_score, validate_value};
use futures::FutureExt;
use ingenio_kernel::uuid::Uuid;
use serde_json::Value;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

/// How a pipeline run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    Completed {
        app_spec_id: Uuid,
        version: i32,
        code: Option<RenderedCode>,
    },
    /// Failed and this run made the transition (the quota has been settled). `cause` is the
    /// internal detail for the log (never shown to the user).
    Failed {
        failure: JobFailure,
        cause: Option<String>,
    },
    /// Lost the lease or the job was cancelled: someone else owns the outcome.
    Abandoned,
    /// Infrastructure trouble (database down, ...): the job stays claimable and is retried after
    /// its lease expires, up to [`MAX_ATTEMPTS`] claims.
    Interrupted { cause: String },
}

/// Runs jobs for one worker identity.
pub struct Pipeline {
    pub jobs: Arc<dyn JobRepository>,
    pub generator: Arc<dyn SpecGenerator>,
    /// Where the spec to regenerate (or render) is read from.
    pub specs: Arc<dyn AppSpecRepository>,
    /// The render step.
    pub builder: Arc<dyn CodeBuilder>,
    /// Settled when a job fails or is given up.
    pub quota: Arc<dyn AiQuota>,
    /// `ingenio.spec-limits.*`: a generated spec over them fails the job with `3005`.
    pub limits: SpecLimits,
    /// Told about every completed job (e.g. projects evicting a cached list).
    pub listener: Option<Arc<dyn GenerationListener>>,
}

fn checkpoint_of<T: serde::Serialize>(o: &AgentOutput<T>) -> AgentCheckpoint {
    AgentCheckpoint {
        output: serde_json::to_value(&o.value).unwrap_or(Value::Null),
        usage: o.usage,
        reasoning: o.reasoning.clone(),
        model: o.model.clone(),
    }
}

/// The step an agent step hands over to (whose entry its closing checkpoint also writes).
fn next_agent_step(step: Step) -> Option<Step> {
    match step {
        Step::Plan => Some(Step::Execute),
        Step::Execute => Some(Step::Validate),
        Step::Validate | Step::Render => None,
    }
}

/// The events announcing entry into `step`: its status and progress, and (for the AI steps) the
/// agent running.
fn entry_events(step: Step) -> Vec<JobEventData> {
    let (status, progress) = step.entry();
    let mut events = vec![JobEventData::status(status, progress)];
    if let JobEventData::Progress { step: s, .. } = &mut events[0] {
        *s = Some(step);
    }
    if step != Step::Render {
        events.push(agent_event(step, AgentRun::Running, None));
    }
    events
}

fn agent_event(step: Step, state: AgentRun, done: Option<&AgentCheckpoint>) -> JobEventData {
    JobEventData::Agent {
        agent: step,
        state,
        reasoning: done.map(|c| c.reasoning.clone()),
        usage: done.map(|c| c.usage),
    }
}

/// Gives a job's quota reservation back unless the user caused the ending (see
/// [`FailureCode::charged`]). Refund failures are the adapter's to log; they never fail the caller.
pub async fn settle_quota(quota: &dyn AiQuota, job: &GenerationJob, code: FailureCode) {
    if code.charged(&job.token_usage) {
        return;
    }
    if let Some(r) = &job.quota_reservation {
        let _ = quota.refund(&Reservation(r.clone())).await;
    }
}

/// `Ok(Err(outcome))`: the run stops here with `outcome`.
type Step_<T> = anyhow::Result<Result<T, RunOutcome>>;

impl Pipeline {
    /// Runs a claimed job to its end with the end rules applied: a failure settles the quota, a
    /// panic in any step fails the job with `1000` (the worker lives on), and infrastructure
    /// trouble at the last allowed attempt fails the job for good.
    pub async fn run_claimed(&self, job: &GenerationJob, worker: &str) -> RunOutcome {
        let run = AssertUnwindSafe(self.run(job, worker)).catch_unwind().await;
        let (failure, cause) = match run {
            Ok(Ok(outcome)) => return outcome,
            Ok(Err(e)) if job.attempts < MAX_ATTEMPTS => {
                return RunOutcome::Interrupted {
                    cause: format!("{e:#}"),
                }
            }
            Ok(Err(e)) => (
                JobFailure::new(
                    FailureCode::System,
                    format!("gave up after {} attempts", job.attempts),
                ),
                format!("{e:#}"),
            ),
            Err(panic) => (
                JobFailure::new(FailureCode::System, "internal error while generating"),
                format!("panic: {}", panic_message(&*panic)),
            ),
        };
        // the usage the run checkpointed so far (the claim-time figure misses this run's calls)
        let spent = match self
            .jobs
            .get(Viewer::owner(job.tenant_id, job.user_id), job.id)
            .await
        {
            Ok(Some(now)) => now.token_usage,
            _ => job.token_usage,
        };
        match self
            .fail(job, worker, failure, &spent, Some(cause.clone()))
            .await
        {
            Ok(outcome) => outcome,
            Err(e) => RunOutcome::Interrupted {
                cause: format!("{cause}; then failing the job failed too: {e:#}"),
            },
        }
    }

    /// Settles a job that [`JobRepository::claim`] gave up on.
    pub async fn gave_up(&self, job: &GenerationJob) {
        settle_quota(&*self.quota, job, FailureCode::System).await;
    }

    /// Runs (or resumes) `job` as `worker` to a final status. `Err` is infrastructure trouble.
    pub async fn run(&self, job: &GenerationJob, worker: &str) -> anyhow::Result<RunOutcome> {
        let mut state = job.state.clone();
        let mut usage = job.token_usage;
        if job.attempts > 1 {
            let resumed = JobEventData::Progress {
                status: "resumed".to_owned(),
                progress: job.progress,
                attempt: Some(job.attempts),
                step: None,
                group: None,
                files: None,
            };
            self.jobs.append_events(job.id, &[resumed]).await?;
        }
        // The spec this run wrote, handed to the render as is (a resumed job reads it back).
        let mut written: Option<Value> = None;
        let version = match state.version {
            Some(v) => v,
            None => match job.request.kind {
                JobKind::Render => {
                    let failure =
                        JobFailure::new(FailureCode::VersionNotFound, "no version to render");
                    return self.fail(job, worker, failure, &usage, None).await;
                }
                JobKind::Generate => {
                    match self.generate(job, worker, &mut state, &mut usage).await? {
                        Ok((v, spec)) => {
                            written = Some(spec);
                            v
                        }
                        Err(outcome) => return Ok(outcome),
                    }
                }
            },
        };
        state.version = Some(version);
        let code = match state.render.clone() {
            Some(code) => code,
            None => match self
                .render(job, worker, version, written, &mut state, &usage)
                .await?
            {
                Ok(code) => code,
                Err(outcome) => return Ok(outcome),
            },
        };
        let verdict = state.validate.clone().unwrap_or_default();
        let summary = JobSummary {
            quality_score: verdict.final_score,
            rule_score: state.validate.as_ref().map(|v| v.rule_score),
            ai_score: verdict.ai_score,
            warnings: verdict.warnings,
            code: Some(code.clone()),
        };
        let completion = Completion {
            version,
            code: Some(code),
            spec_status: SpecStatus::Generated,
            summary,
            usage,
        };
        Ok(
            match self.jobs.complete(job.id, worker, completion).await? {
                CompleteOutcome::Completed { version, code } => {
                    if let Some(listener) = &self.listener {
                        listener
                            .completed(job.tenant_id, job.user_id, version.app_spec_id)
                            .await;
                    }
                    RunOutcome::Completed {
                        app_spec_id: version.app_spec_id,
                        version: version.version_number,
                        code,
                    }
                }
                CompleteOutcome::Failed(failure) => self.settled(job, failure, &usage, None).await,
                CompleteOutcome::NotHeld => RunOutcome::Abandoned,
            },
        )
    }

    /// plan → execute → validate → write the version.
    async fn generate(
        &self,
        job: &GenerationJob,
        worker: &str,
        state: &mut JobState,
        usage: &mut TokenUsage,
    ) -> Step_<(VersionCheckpoint, Value)> {
        let previous_spec = match job.request.app_spec_id {
            Some(id) => {
                let owner = Viewer::owner(job.tenant_id, job.user_id);
                self.specs.get(owner, id).await?.map(|s| s.content)
            }
            None => None,
        };
        let input = GenerationInput {
            requirement: job.request.requirement.clone(),
            age_group: job.request.age_group,
            previous_spec,
        };
        // A step that runs here enters the next one in its closing checkpoint (one write instead
        // of two, same events in the same order); a step resumed from a checkpoint enters itself.
        let mut entered = false;
        let plan = match self
            .agent_step(
                job,
                worker,
                Step::Plan,
                &mut entered,
                state,
                usage,
                |_| None,
                || self.generator.plan(&input),
            )
            .await?
        {
            Ok(plan) => plan,
            Err(outcome) => return Ok(Err(outcome)),
        };
        let spec = match self
            .agent_step(
                job,
                worker,
                Step::Execute,
                &mut entered,
                state,
                usage,
                // The size limits before any validation: the AI was asked for a spec within them.
                |spec| {
                    let e = self.limits.check(spec).err()?;
                    Some(JobFailure::new(
                        FailureCode::SpecTooLarge,
                        format!("the generated spec is too large: {e}"),
                    ))
                },
                || self.generator.execute(&input, &plan),
            )
            .await?
        {
            Ok(spec) => spec,
            Err(outcome) => return Ok(Err(outcome)),
        };

        // validate: the rule pass, then (only without errors) the AI review. A passing verdict is
        // checkpointed, so a takeover after it does not pay again.
        let threshold = job.request.quality_threshold;
        let verdict = match state.validate.clone().filter(|v| v.passes(threshold)) {
            Some(v) => v,
            None => match self
                .validate(job, worker, entered, &input, &spec, state, usage)
                .await?
            {
                Ok(v) => v,
                Err(outcome) => return Ok(Err(outcome)),
            },
        };
        let score = verdict.final_score.unwrap_or(verdict.rule_score);
        let metadata = GenerationMetadata {
            user_input: &job.request.requirement,
            age_group: job.request.age_group.map(|a| a.as_str()),
            model_version: self.generator.model_version(),
            offline: self.generator.is_offline(),
            job_id: job.id,
            plan: state.plan.as_ref(),
            execute: state.execute.as_ref().map(AgentSummary::from),
            validate: &verdict,
            token_usage: usage,
            confidence: f64::from(score) / 100.0,
            quality_score: score,
        }
        .to_value();
        let written_spec = spec.clone();
        let version = JobVersion {
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
            usage: *usage,
        };
        Ok(
            match self.jobs.write_version(job.id, worker, version).await? {
                WriteVersionOutcome::Written(v) => Ok((v, written_spec)),
                WriteVersionOutcome::Failed(failure) => {
                    Err(self.settled(job, failure, usage, None).await)
                }
                WriteVersionOutcome::NotHeld => Err(RunOutcome::Abandoned),
            },
        )
    }

    #[allow(clippy::too_many_arguments)]
    async fn validate(
        &self,
        job: &GenerationJob,
        worker: &str,
        entered: bool,
        input: &GenerationInput,
        spec: &Value,
        state: &mut JobState,
        usage: &mut TokenUsage,
    ) -> Step_<ValidateCheckpoint> {
        if !entered
            && !self
                .enter(job, worker, Step::Validate, state, usage)
                .await?
        {
            return Ok(Err(RunOutcome::Abandoned));
        }
        let report = validate_value(spec);
        let review = if report.errors == 0 {
            match self.generator.review(input, spec).await {
                Ok(o) => {
                    usage.add(&o.usage);
                    Some((o.value.score.min(100), checkpoint_of(&o)))
                }
                Err(e) => {
                    return Ok(Err(self
                        .fail_agent(job, worker, Step::Validate, e, usage)
                        .await?))
                }
            }
        } else {
            None
        };
        let ai = review.as_ref().map(|(s, _)| *s);
        let threshold = job.request.quality_threshold;
        let verdict = ValidateCheckpoint {
            rule_score: report.rule_score,
            ai_score: ai,
            final_score: Some(match ai {
                Some(ai) => final_score(report.rule_score, ai),
                None => report.rule_score,
            }),
            threshold,
            errors: report.errors,
            warnings: report.warnings,
            findings: report.findings,
            review: review.map(|(_, c)| c),
        };
        let score = verdict.final_score.unwrap_or(0);
        state.validate = Some(verdict.clone());
        if !verdict.passes(threshold) {
            let (code, what) = if verdict.errors > 0 {
                (FailureCode::ValidationFailed, "validation failed")
            } else {
                (
                    FailureCode::QualityBelowThreshold,
                    "quality below threshold",
                )
            };
            let msg = format!(
                "{what}: score {score}, threshold {threshold} ({} errors, {} warnings)",
                verdict.errors, verdict.warnings
            );
            return Ok(Err(self
                .fail(job, worker, JobFailure::new(code, msg), usage, None)
                .await?));
        }
        let done = agent_event(Step::Validate, AgentRun::Completed, verdict.review.as_ref());
        if self
            .jobs
            .checkpoint(
                job.id,
                worker,
                JobStatus::Validating,
                80,
                state,
                usage,
                &[done],
            )
            .await?
            == Lease::Lost
        {
            return Ok(Err(RunOutcome::Abandoned));
        }
        Ok(Ok(verdict))
    }

    /// Renders and stores the version's code, then checkpoints it with one `progress` event per
    /// file group and a `file` event per file. `written`: the snapshot this run just wrote as
    /// that version (stored verbatim), so it is not read back; `None` reads it.
    #[allow(clippy::too_many_arguments)]
    async fn render(
        &self,
        job: &GenerationJob,
        worker: &str,
        version: VersionCheckpoint,
        written: Option<Value>,
        state: &mut JobState,
        usage: &TokenUsage,
    ) -> Step_<RenderedCode> {
        if !self.enter(job, worker, Step::Render, state, usage).await? {
            return Ok(Err(RunOutcome::Abandoned));
        }
        let owner = Viewer::owner(job.tenant_id, job.user_id);
        let stored = match written {
            Some(snapshot) => Some(Some(snapshot)),
            None => self
                .specs
                .version(owner, version.app_spec_id, version.version_number)
                .await?
                .map(|v| v.map(|v| v.snapshot)),
        };
        let snapshot = match stored {
            Some(Some(snapshot)) => snapshot,
            missing => {
                let failure = match missing {
                    None => JobFailure::spec_gone(),
                    Some(_) => JobFailure::new(
                        FailureCode::VersionNotFound,
                        format!("version {} not found", version.version_number),
                    ),
                };
                return Ok(Err(self.fail(job, worker, failure, usage, None).await?));
            }
        };
        let request = BuildRequest {
            tenant: job.tenant_id,
            app_spec_id: version.app_spec_id,
            version: version.version_number,
            spec: snapshot,
            renderer: job.request.renderer.clone(),
        };
        let built = match self.builder.build(request).await {
            Ok(built) => built,
            Err(e) => {
                let cause = Some(match &e {
                    BuildError::Storage(inner) | BuildError::Unexpected(inner) => {
                        format!("{e}: {inner:#}")
                    }
                    other => other.to_string(),
                });
                let failure = match e {
                    BuildError::UnknownRenderer(name) => JobFailure::new(
                        FailureCode::CodeGenerationFailed,
                        format!("unknown renderer {name:?}"),
                    ),
                    BuildError::Render(m) => JobFailure::new(
                        FailureCode::CodeGenerationFailed,
                        format!("the spec could not be rendered: {m}"),
                    ),
                    BuildError::Storage(_) => JobFailure::new(
                        FailureCode::UploadFailed,
                        "the generated code could not be stored; try again later",
                    ),
                    BuildError::Unexpected(e) => return Err(e),
                };
                return Ok(Err(self.fail(job, worker, failure, usage, cause).await?));
            }
        };
        state.render = Some(built.code.clone());
        let events = file_events(&built.files);
        if self
            .jobs
            .checkpoint(
                job.id,
                worker,
                JobStatus::Generating,
                99,
                state,
                usage,
                &events,
            )
            .await?
            == Lease::Lost
        {
            return Ok(Err(RunOutcome::Abandoned));
        }
        Ok(Ok(built.code))
    }

    /// Runs an agent step (plan or execute) unless its checkpoint already holds the output.
    /// `entered`: in, whether this step's entry was already checkpointed (by the step before,
    /// in this run); out, whether this step's closing checkpoint also entered the next step.
    #[allow(clippy::too_many_arguments)]
    async fn agent_step<F>(
        &self,
        job: &GenerationJob,
        worker: &str,
        step: Step,
        entered: &mut bool,
        state: &mut JobState,
        usage: &mut TokenUsage,
        accept: impl FnOnce(&Value) -> Option<JobFailure>,
        call: impl FnOnce() -> F,
    ) -> Step_<Value>
    where
        F: Future<Output = Result<AgentOutput<Value>, AgentError>>,
    {
        if let Some(done) = state.agent(step) {
            *entered = false;
            let output = done.output.clone();
            if let Some(failure) = accept(&output) {
                return Ok(Err(self.fail(job, worker, failure, usage, None).await?));
            }
            return Ok(Ok(output));
        }
        if !*entered && !self.enter(job, worker, step, state, usage).await? {
            return Ok(Err(RunOutcome::Abandoned));
        }
        *entered = false;
        match call().await {
            Ok(o) => {
                usage.add(&o.usage);
                if let Some(failure) = accept(&o.value) {
                    return Ok(Err(self.fail(job, worker, failure, usage, None).await?));
                }
                let saved = checkpoint_of(&o);
                let mut events = vec![agent_event(step, AgentRun::Completed, Some(&saved))];
                match step {
                    Step::Plan => state.plan = Some(saved),
                    _ => state.execute = Some(saved),
                }
                let (status, progress) = match next_agent_step(step) {
                    Some(next) => {
                        events.extend(entry_events(next));
                        next.entry()
                    }
                    None => {
                        let (status, progress) = step.entry();
                        (status, progress + 20)
                    }
                };
                if self
                    .jobs
                    .checkpoint(job.id, worker, status, progress, state, usage, &events)
                    .await?
                    == Lease::Lost
                {
                    return Ok(Err(RunOutcome::Abandoned));
                }
                *entered = next_agent_step(step).is_some();
                Ok(Ok(o.value))
            }
            Err(e) => Ok(Err(self.fail_agent(job, worker, step, e, usage).await?)),
        }
    }

    /// Checkpoints entry into `step` and announces it in the same transaction; `false` when the
    /// lease is lost.
    async fn enter(
        &self,
        job: &GenerationJob,
        worker: &str,
        step: Step,
        state: &JobState,
        usage: &TokenUsage,
    ) -> anyhow::Result<bool> {
        let (status, progress) = step.entry();
        let events = entry_events(step);
        Ok(self
            .jobs
            .checkpoint(job.id, worker, status, progress, state, usage, &events)
            .await?
            == Lease::Held)
    }

    async fn fail_agent(
        &self,
        job: &GenerationJob,
        worker: &str,
        step: Step,
        e: AgentError,
        usage: &TokenUsage,
    ) -> anyhow::Result<RunOutcome> {
        let failure = JobFailure::from_agent(step, &e);
        let cause = matches!(e, AgentError::Unexpected(_)).then(|| format!("{e:#}"));
        self.fail(job, worker, failure, usage, cause).await
    }

    /// Fails the job (if this worker still holds it) and settles its quota.
    async fn fail(
        &self,
        job: &GenerationJob,
        worker: &str,
        failure: JobFailure,
        usage: &TokenUsage,
        cause: Option<String>,
    ) -> anyhow::Result<RunOutcome> {
        Ok(
            match self.jobs.fail(job.id, worker, &failure, usage).await? {
                Some(_) => self.settled(job, failure, usage, cause).await,
                None => RunOutcome::Abandoned,
            },
        )
    }

    /// Settles the quota of a job this run failed.
    async fn settled(
        &self,
        job: &GenerationJob,
        failure: JobFailure,
        usage: &TokenUsage,
        cause: Option<String>,
    ) -> RunOutcome {
        let spent = GenerationJob {
            token_usage: *usage,
            ..job.clone()
        };
        settle_quota(&*self.quota, &spent, failure.code).await;
        RunOutcome::Failed { failure, cause }
    }
}

/// One `progress` event per file group (groups in name order, with how many files each holds)
/// followed by a `file` event per file of the group, in path order.
pub fn file_events(files: &[BuiltFile]) -> Vec<JobEventData> {
    let mut groups: std::collections::BTreeMap<&str, Vec<&BuiltFile>> = Default::default();
    for f in files {
        groups.entry(f.group.as_str()).or_default().push(f);
    }
    let mut events = Vec::with_capacity(files.len() + groups.len());
    for (group, mut members) in groups {
        members.sort_by(|a, b| a.path.cmp(&b.path));
        events.push(JobEventData::Progress {
            status: JobStatus::Generating.as_str().to_owned(),
            progress: 95,
            attempt: None,
            step: Some(Step::Render),
            group: Some(group.to_owned()),
            files: u32::try_from(members.len()).ok(),
        });
        events.extend(members.into_iter().map(|f| JobEventData::File {
            path: f.path.clone(),
            size: f.size,
            group: f.group.clone(),
        }));
    }
    events
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

#[cfg(test)]
mod tests;
