//! Unit tests of the generation pipeline on the in-memory fakes: the happy path with rendering,
//! checkpoints and resumption after a takeover (including after the version and the render), the
//! quality gate, agent and render failures with the refund rule, the end rules of `run_claimed`
//! (panics, infrastructure errors, giving up after `MAX_ATTEMPTS`), lost leases and cancellation,
//! and properties of the stored job state.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::agents::AgeGroup;
use crate::ports::{BuiltCode, Claim, CreateJob, NewJob, StoredSpec};
use crate::spec::fixtures::sample;
use crate::testing::{
    answer, review, usage, FakeBuilder, InMemoryAppSpecs, InMemoryJobs, InMemoryQuota,
    InMemoryStore, ScriptedGenerator, DEFAULT_USAGE, SCRIPTED_MODEL,
};
use crate::validation::{final_score, Finding, Severity};
use async_trait::async_trait;
use ingenio_kernel::{TenantId, UserId};
use proptest::prelude::*;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const LEASE: Duration = Duration::from_secs(30);
const A: &str = "worker-a";
const B: &str = "worker-b";
/// What the test quota allows per user (never the limit under test).
const QUOTA: u32 = 100;

struct Harness {
    store: InMemoryStore,
    specs: InMemoryAppSpecs,
    jobs: InMemoryJobs,
    generator: Arc<ScriptedGenerator>,
    builder: Arc<FakeBuilder>,
    quota: Arc<InMemoryQuota>,
    pipeline: Pipeline,
    tenant: TenantId,
    user: UserId,
}

fn harness() -> Harness {
    harness_with(Arc::new(ScriptedGenerator::new()))
}

fn harness_with(generator: Arc<ScriptedGenerator>) -> Harness {
    let store = InMemoryStore::new();
    let builder = Arc::new(FakeBuilder::new());
    let quota = Arc::new(InMemoryQuota::new());
    let pipeline = pipeline(&store, generator.clone(), builder.clone(), quota.clone());
    Harness {
        specs: store.specs(),
        jobs: store.jobs(),
        store,
        generator,
        builder,
        quota,
        pipeline,
        tenant: TenantId::default(),
        user: UserId::new_random(),
    }
}

fn pipeline(
    store: &InMemoryStore,
    generator: Arc<dyn SpecGenerator>,
    builder: Arc<dyn CodeBuilder>,
    quota: Arc<InMemoryQuota>,
) -> Pipeline {
    Pipeline {
        jobs: Arc::new(store.jobs()),
        generator,
        specs: Arc::new(store.specs()),
        builder,
        quota,
        limits: crate::limits::SpecLimits::default(),
        listener: None,
    }
}

fn request(app_spec_id: Option<Uuid>, threshold: u8) -> JobRequest {
    JobRequest {
        kind: JobKind::Generate,
        requirement: "a vocabulary quiz for primary school pupils".to_owned(),
        age_group: Some(AgeGroup::Elementary),
        magic_prompt_id: None,
        variables: Value::Null,
        app_spec_id,
        version: None,
        renderer: None,
        quality_threshold: threshold,
    }
}

/// What a build hook does before the real build: nothing (`None`) or fail with this error.
type BuildHook = Box<dyn Fn(&BuildRequest) -> Option<BuildError> + Send + Sync>;

/// A `CodeBuilder` that runs a hook before delegating to a [`FakeBuilder`]: the moment between
/// writing the version and the render checkpoint, to break the store or fail unexpectedly.
struct HookedBuilder {
    inner: Arc<FakeBuilder>,
    hook: BuildHook,
}

#[async_trait]
impl CodeBuilder for HookedBuilder {
    fn default_renderer(&self) -> String {
        self.inner.default_renderer()
    }
    fn knows(&self, name: &str) -> bool {
        self.inner.knows(name)
    }
    async fn build(&self, request: BuildRequest) -> Result<BuiltCode, BuildError> {
        if let Some(e) = (self.hook)(&request) {
            return Err(e);
        }
        self.inner.build(request).await
    }
}

/// Takes the next job; panics when the repository gave it up instead.
async fn claim_run(jobs: &InMemoryJobs, worker: &str) -> Option<GenerationJob> {
    match jobs.claim(worker, LEASE, MAX_ATTEMPTS).await.unwrap() {
        None => None,
        Some(Claim::Run(job)) => Some(job),
        Some(Claim::GaveUp(job)) => panic!("job {} was given up", job.id),
    }
}

fn sum(parts: &[TokenUsage]) -> TokenUsage {
    let mut total = TokenUsage::default();
    for p in parts {
        total.add(p);
    }
    total
}

/// The usage of the three default agent answers.
fn default_total() -> TokenUsage {
    sum(&DEFAULT_USAGE.map(|(p, c)| usage(p, c)))
}

impl Harness {
    fn viewer(&self) -> Viewer {
        Viewer::owner(self.tenant, self.user)
    }

    /// A pipeline over the same store, generator and quota with another builder.
    fn pipeline_with(&self, builder: Arc<dyn CodeBuilder>) -> Pipeline {
        pipeline(
            &self.store,
            self.generator.clone(),
            builder,
            self.quota.clone(),
        )
    }

    /// A builder that breaks the store (once) just before the first build, so the run stops
    /// with an infrastructure error after the version was written and before the render
    /// checkpoint.
    fn store_breaking_builder(&self) -> Arc<HookedBuilder> {
        let store = self.store.clone();
        let fired = AtomicBool::new(false);
        Arc::new(HookedBuilder {
            inner: self.builder.clone(),
            hook: Box::new(move |_| {
                if !fired.swap(true, Ordering::SeqCst) {
                    store.set_unavailable(true);
                }
                None
            }),
        })
    }

    /// Enqueues a generate job with a reservation of the user's quota.
    async fn enqueue(&self, req: JobRequest) -> Uuid {
        let (_, reservation) = self.quota.reserve(self.user, QUOTA).await.unwrap();
        self.enqueue_with(req, reservation.map(|r| r.0), JobState::default())
            .await
    }

    async fn enqueue_with(
        &self,
        req: JobRequest,
        reservation: Option<String>,
        state: JobState,
    ) -> Uuid {
        let created = self
            .jobs
            .create(NewJob {
                tenant: self.tenant,
                user: self.user,
                request: req,
                idempotency_key: None,
                quota_reservation: reservation,
                state,
            })
            .await
            .unwrap();
        let CreateJob::Created(created) = created else {
            panic!("a job without key is always new");
        };
        created.id
    }

    /// Enqueues a render job of `version` of `spec` (no quota), as `submit_render` does.
    async fn enqueue_render(&self, spec: Uuid, version: i32, renderer: Option<&str>) -> Uuid {
        let req = JobRequest {
            kind: JobKind::Render,
            requirement: String::new(),
            age_group: None,
            version: Some(version),
            renderer: renderer.map(str::to_owned),
            quality_threshold: 0,
            ..request(Some(spec), 0)
        };
        let state = JobState {
            version: Some(VersionCheckpoint {
                app_spec_id: spec,
                version_number: version,
            }),
            ..JobState::default()
        };
        self.enqueue_with(req, None, state).await
    }

    /// Enqueues a generate job and claims it as `worker`.
    async fn claimed(&self, req: JobRequest, worker: &str) -> GenerationJob {
        let id = self.enqueue(req).await;
        let job = claim_run(&self.jobs, worker).await.unwrap();
        assert_eq!(job.id, id);
        job
    }

    /// A spec of the user, as the first version of a user edit.
    async fn existing_spec(&self) -> StoredSpec {
        let (spec, _) = self
            .specs
            .create(
                self.tenant,
                NewVersion {
                    content: sample(),
                    generation_metadata: None,
                    change_description: Some("Created".to_owned()),
                    change_type: ChangeType::UserEdit,
                    created_by: self.user,
                    status: SpecStatus::Draft,
                    quality_score: Some(100),
                },
            )
            .await
            .unwrap();
        spec
    }

    fn job(&self, id: Uuid) -> GenerationJob {
        self.store.job(id).unwrap()
    }

    fn kinds(&self, id: Uuid) -> Vec<EventKind> {
        self.store.events(id).into_iter().map(|e| e.kind).collect()
    }

    /// Whether the user's one reservation was given back.
    fn refunded(&self) -> bool {
        match (self.quota.refunds(), self.quota.used(self.user)) {
            (1, 0) => true,
            (0, 1) => false,
            other => panic!("unexpected quota book (refunds, used): {other:?}"),
        }
    }

    /// Lets every lease run out.
    fn expire_leases(&self) {
        self.store.clock().advance(LEASE + Duration::from_secs(1));
    }
}

fn failed(outcome: RunOutcome) -> (JobFailure, Option<String>) {
    match outcome {
        RunOutcome::Failed { failure, cause } => (failure, cause),
        other => panic!("expected a failure: {other:?}"),
    }
}

fn completed(outcome: RunOutcome) -> (Uuid, i32, RenderedCode) {
    match outcome {
        RunOutcome::Completed {
            app_spec_id,
            version,
            code: Some(code),
        } => (app_spec_id, version, code),
        other => panic!("expected a completion with code: {other:?}"),
    }
}

#[tokio::test]
async fn a_job_runs_plan_execute_validate_render_and_completes_with_version_1() {
    let h = harness();
    let (pu, xu, ru) = (usage(11, 5), usage(200, 333), usage(40, 7));
    h.generator
        .push_plan(Ok(answer(json!({"pages": ["home"]}), pu)));
    h.generator.push_execute(Ok(answer(sample(), xu)));
    h.generator.push_review(Ok(answer(review(90), ru)));
    let job = h.claimed(request(None, 80), A).await;

    let outcome = h.pipeline.run(&job, A).await.unwrap();

    let (app_spec_id, version, _) = completed(outcome);
    assert_eq!(version, 1);
    assert_eq!(
        h.generator.call_log(),
        vec![Step::Plan, Step::Execute, Step::Validate]
    );
    // the execute agent got the plan, the review the executed spec
    assert_eq!(
        h.generator.args(Step::Execute),
        vec![json!({"pages": ["home"]})]
    );
    assert_eq!(h.generator.args(Step::Validate), vec![sample()]);

    let total = sum(&[pu, xu, ru]);
    let score = final_score(100, 90);
    let spec = h.store.spec(app_spec_id).unwrap();
    assert_eq!(
        (spec.owner, spec.tenant_id, spec.version, spec.status),
        (h.user, h.tenant, 1, SpecStatus::Generated)
    );
    assert_eq!(spec.quality_score, Some(i32::from(score)));
    assert_eq!(spec.content, sample());
    let versions = h.store.versions_of(app_spec_id);
    assert_eq!(versions.len(), 1);
    let v1 = &versions[0];
    assert_eq!(v1.version_number, 1);
    assert_eq!(v1.change_type, ChangeType::AiGeneration);
    assert_eq!(v1.change_description.as_deref(), Some("AI generation"));
    assert_eq!(v1.created_by, Some(h.user));
    let meta = v1.generation_metadata.as_ref().unwrap();
    assert_eq!(meta["modelVersion"], SCRIPTED_MODEL);
    assert_eq!(meta["offline"], false);
    assert_eq!(meta["jobId"], json!(job.id));
    assert_eq!(meta["ageGroup"], "elementary");
    assert_eq!(meta["qualityScore"], score);
    assert_eq!(meta["validate"]["aiScore"], 90);
    assert_eq!(meta["validate"]["ruleScore"], 100);
    assert_eq!(meta["plan"]["output"], json!({"pages": ["home"]}));
    assert_eq!(meta["tokenUsage"], serde_json::to_value(total).unwrap());

    let done = h.job(job.id);
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(done.progress, 100);
    assert_eq!(done.app_spec_id, Some(app_spec_id));
    assert_eq!(done.version_number, Some(1));
    assert_eq!(
        done.token_usage, total,
        "usage summed over the three agents"
    );
    assert_eq!(done.token_usage.total_tokens, 16 + 533 + 47);
    let summary = done.result.as_ref().unwrap();
    assert_eq!(
        (summary.quality_score, summary.rule_score, summary.ai_score),
        (Some(score), Some(100), Some(90))
    );
    assert_eq!((done.lease_owner, done.lease_expires_at), (None, None));
    assert!(done.finished_at.is_some());
    assert!(!h.refunded(), "a completed job keeps its reservation");

    let events = h.store.events(job.id);
    assert!(events.windows(2).all(|w| w[0].id < w[1].id));
    let progress: Vec<(u64, &str)> = events
        .iter()
        .filter(|e| e.kind == EventKind::Progress)
        .map(|e| {
            (
                e.data["progress"].as_u64().unwrap(),
                e.data["step"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        progress,
        vec![
            (10, "plan"),
            (40, "execute"),
            (70, "validate"),
            (90, "render"),
            (95, "render"),
            (95, "render")
        ]
    );
    let completed: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == EventKind::Agent && e.data["state"] == "completed")
        .map(|e| e.data["agent"].as_str().unwrap())
        .collect();
    assert_eq!(completed, vec!["plan", "execute", "validate"]);
    let last = events.last().unwrap();
    assert_eq!(last.kind, EventKind::Complete);
    assert_eq!(last.data["appSpecId"], json!(app_spec_id));
    assert_eq!(last.data["versionNumber"], 1);
    assert_eq!(last.data["qualityScore"], score);
    assert!(!h.kinds(job.id).contains(&EventKind::Error));
}

#[tokio::test]
async fn a_takeover_after_the_plan_checkpoint_resumes_at_execute_without_planning_again() {
    // worker A plans, checkpoints on entering execute, then its instance dies mid-execute
    let first = Arc::new(ScriptedGenerator::new());
    let plan_usage = usage(100, 20);
    first.push_plan(Ok(answer(json!({"pages": ["only-from-a"]}), plan_usage)));
    let entered_execute = Arc::new(tokio::sync::Notify::new());
    let signal = entered_execute.clone();
    first.on_call(Arc::new(move |step| {
        let signal = signal.clone();
        Box::pin(async move {
            if step == Step::Execute {
                signal.notify_one();
                std::future::pending::<()>().await;
            }
        })
    }));
    let h = harness_with(first.clone());
    let job = h.claimed(request(None, 80), A).await;
    tokio::select! {
        r = h.pipeline.run(&job, A) => panic!("the run should hang in execute: {r:?}"),
        () = entered_execute.notified() => {}
    }
    let crashed = h.job(job.id);
    assert_eq!(crashed.status, JobStatus::Executing);
    assert_eq!(crashed.progress, 40);
    assert_eq!(
        crashed.state.plan.as_ref().unwrap().output,
        json!({"pages": ["only-from-a"]})
    );
    assert_eq!(crashed.token_usage, plan_usage);

    // nobody else may take it while A's lease is live
    assert!(claim_run(&h.jobs, B).await.is_none());
    h.expire_leases();
    let taken = claim_run(&h.jobs, B).await.unwrap();
    assert_eq!(taken.id, job.id);
    assert_eq!(taken.attempts, 2);

    let second = Arc::new(ScriptedGenerator::new());
    let pipeline = pipeline(&h.store, second.clone(), h.builder.clone(), h.quota.clone());
    let outcome = pipeline.run(&taken, B).await.unwrap();
    assert!(
        matches!(outcome, RunOutcome::Completed { version: 1, .. }),
        "{outcome:?}"
    );
    assert_eq!(first.calls(Step::Plan), 1);
    assert_eq!(
        second.calls(Step::Plan),
        0,
        "the plan is not paid for twice"
    );
    assert_eq!(second.call_log(), vec![Step::Execute, Step::Validate]);
    assert_eq!(
        second.args(Step::Execute),
        vec![json!({"pages": ["only-from-a"]})],
        "execute works from the checkpointed plan"
    );
    let done = h.job(job.id);
    let expected = sum(&[
        plan_usage,
        usage(DEFAULT_USAGE[1].0, DEFAULT_USAGE[1].1),
        usage(DEFAULT_USAGE[2].0, DEFAULT_USAGE[2].1),
    ]);
    assert_eq!(
        done.token_usage, expected,
        "usage carries over the takeover"
    );
    assert_eq!(done.status, JobStatus::Completed);
    let resumed: Vec<_> = h
        .store
        .events(job.id)
        .into_iter()
        .filter(|e| e.data["status"] == "resumed")
        .collect();
    assert_eq!(resumed.len(), 1);
    assert_eq!(resumed[0].data["attempt"], 2);
    // worker A wakes up later: everything it tries is refused
    assert_eq!(h.jobs.renew(job.id, A, LEASE).await.unwrap(), Lease::Lost);
    assert_eq!(h.store.version_count(), 1);
}

fn agent_checkpoint(output: Value) -> AgentCheckpoint {
    AgentCheckpoint {
        output,
        usage: TokenUsage::default(),
        reasoning: "r".to_owned(),
        model: "m".to_owned(),
    }
}

#[tokio::test]
async fn a_job_with_an_execute_checkpoint_resumes_at_validate() {
    let h = harness();
    let job = h.claimed(request(None, 80), A).await;
    let mut spec = sample();
    spec["appName"] = json!("Checkpointed App");
    let state = JobState {
        plan: Some(agent_checkpoint(json!({"pages": ["home"]}))),
        execute: Some(agent_checkpoint(spec.clone())),
        ..JobState::default()
    };
    let before = usage(500, 500);
    assert_eq!(
        h.jobs
            .checkpoint(job.id, A, JobStatus::Validating, 70, &state, &before, &[])
            .await
            .unwrap(),
        Lease::Held
    );
    h.store.clock().advance(LEASE * 2);
    let taken = claim_run(&h.jobs, B).await.unwrap();

    let outcome = h.pipeline.run(&taken, B).await.unwrap();

    let (app_spec_id, _, _) = completed(outcome);
    assert_eq!(h.generator.call_log(), vec![Step::Validate]);
    assert_eq!(h.generator.args(Step::Validate), vec![spec.clone()]);
    assert_eq!(h.store.spec(app_spec_id).unwrap().content, spec);
    assert_eq!(
        h.builder.builds()[0].spec,
        spec,
        "the checkpointed spec is rendered"
    );
    assert_eq!(
        h.job(job.id).token_usage,
        sum(&[before, usage(DEFAULT_USAGE[2].0, DEFAULT_USAGE[2].1)])
    );
}

/// A passing verdict as the validate step checkpoints it.
fn passing_verdict() -> ValidateCheckpoint {
    ValidateCheckpoint {
        rule_score: 100,
        ai_score: Some(90),
        final_score: Some(96),
        threshold: 80,
        review: Some(agent_checkpoint(json!({"score": 90}))),
        ..ValidateCheckpoint::default()
    }
}

#[tokio::test]
async fn a_takeover_after_the_validate_checkpoint_does_not_review_again() {
    let h = harness();
    let job = h.claimed(request(None, 80), A).await;
    let state = JobState {
        plan: Some(agent_checkpoint(json!({"pages": ["home"]}))),
        execute: Some(agent_checkpoint(sample())),
        validate: Some(passing_verdict()),
        ..JobState::default()
    };
    h.jobs
        .checkpoint(
            job.id,
            A,
            JobStatus::Validating,
            80,
            &state,
            &usage(1, 1),
            &[],
        )
        .await
        .unwrap();
    h.store.clock().advance(LEASE * 2);
    let taken = claim_run(&h.jobs, B).await.unwrap();
    let outcome = h.pipeline.run(&taken, B).await.unwrap();
    let (app_spec_id, _, _) = completed(outcome);
    assert_eq!(
        h.generator.calls(Step::Validate),
        0,
        "the review finished before the crash; resuming must not pay for it again"
    );
    assert_eq!(
        h.store.spec(app_spec_id).unwrap().quality_score,
        Some(96),
        "the checkpointed verdict is the one recorded"
    );
}

#[tokio::test]
async fn below_the_quality_threshold_the_job_fails_with_3003_is_charged_and_stores_nothing() {
    let h = harness();
    h.generator
        .push_review(Ok(answer(review(10), usage(30, 3))));
    let job = h.claimed(request(None, 80), A).await;

    let outcome = h.pipeline.run(&job, A).await.unwrap();

    let (f, _) = failed(outcome);
    assert_eq!(f.code, FailureCode::QualityBelowThreshold);
    assert!(
        f.message.contains("score 64, threshold 80"),
        "{}",
        f.message
    );
    assert!(h.store.all_specs().is_empty());
    assert_eq!(h.store.version_count(), 0);
    assert!(h.builder.builds().is_empty(), "nothing is rendered");
    let failed = h.job(job.id);
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.error_code, Some(FailureCode::QualityBelowThreshold));
    assert_eq!(failed.app_spec_id, None);
    assert_eq!(failed.lease_owner, None);
    assert_eq!(
        failed.token_usage.total_tokens,
        120 + 500 + 33,
        "the usage of every call is recorded on a failed job too"
    );
    assert!(
        !h.refunded(),
        "the threshold was the user's choice: the AI work is charged"
    );
    let last = h.store.events(job.id).pop().unwrap();
    assert_eq!(
        (last.kind, &last.data["code"]),
        (EventKind::Error, &json!("3003"))
    );
    assert!(!h.kinds(job.id).contains(&EventKind::Complete));
}

#[tokio::test]
async fn the_quality_gate_passes_at_exactly_the_threshold() {
    // 0.6·100 + 0.4·50 = 80
    let h = harness();
    h.generator.push_review(Ok(answer(review(50), usage(1, 1))));
    let job = h.claimed(request(None, 80), A).await;
    let outcome = h.pipeline.run(&job, A).await.unwrap();
    assert!(
        matches!(outcome, RunOutcome::Completed { .. }),
        "{outcome:?}"
    );

    // 0.6·100 + 0.4·49 = 79.6 → 79
    let h = harness();
    h.generator.push_review(Ok(answer(review(49), usage(1, 1))));
    let job = h.claimed(request(None, 80), A).await;
    let outcome = h.pipeline.run(&job, A).await.unwrap();
    assert_eq!(failed(outcome).0.code, FailureCode::QualityBelowThreshold);
}

#[tokio::test]
async fn a_spec_with_rule_errors_skips_the_review_and_fails_with_3004_refunded() {
    let h = harness();
    // blank appName + no pages (2 errors) and no version (1 warning): 100 − 40 − 5 = 55
    h.generator
        .push_execute(Ok(answer(json!({"appName": " "}), usage(1, 1))));
    let job = h.claimed(request(None, 80), A).await;

    let outcome = h.pipeline.run(&job, A).await.unwrap();

    let (f, _) = failed(outcome);
    assert_eq!(f.code, FailureCode::ValidationFailed);
    assert!(f.message.contains("score 55"), "{}", f.message);
    assert_eq!(
        h.generator.calls(Step::Validate),
        0,
        "no AI review of a broken spec"
    );
    assert_eq!(h.store.version_count(), 0);
    assert_eq!(
        h.job(job.id).error_code,
        Some(FailureCode::ValidationFailed)
    );
    assert!(h.refunded(), "a broken AI answer is not the user's fault");
}

#[tokio::test]
async fn a_generated_spec_over_the_limits_fails_with_3005_before_validation_refunded() {
    let h = harness();
    let pages: Vec<Value> = (0..51)
        .map(|i| json!({"id": format!("p{i}"), "name": "P", "path": format!("/p{i}")}))
        .collect();
    h.generator.push_execute(Ok(answer(
        json!({"version": "1.0.0", "appName": "Huge", "pages": pages}),
        usage(1, 1),
    )));
    let job = h.claimed(request(None, 0), A).await;

    let outcome = h.pipeline.run(&job, A).await.unwrap();

    let (f, _) = failed(outcome);
    assert_eq!(f.code, FailureCode::SpecTooLarge);
    assert_eq!(
        f.message,
        "the generated spec is too large: spec has 51 pages; the limit is 50 \
         (ingenio.spec-limits.max-pages)"
    );
    assert_eq!(h.generator.calls(Step::Validate), 0, "no AI review");
    assert_eq!(h.store.version_count(), 0, "nothing saved");
    assert_eq!(h.job(job.id).error_code, Some(FailureCode::SpecTooLarge));
    assert!(
        h.refunded(),
        "an oversized AI answer is not the user's doing"
    );
}

#[tokio::test]
async fn agent_errors_map_to_their_failure_codes_and_are_refunded() {
    fn err(kind: &str) -> AgentError {
        match kind {
            "provider" => AgentError::Provider("HTTP 401".into()),
            "timeout" => AgentError::Timeout(30),
            "invalid" => AgentError::InvalidOutput("not JSON".into()),
            _ => AgentError::Unexpected(anyhow::anyhow!("boom at 0xdeadbeef")),
        }
    }
    let cases = [
        (Step::Plan, "provider", FailureCode::AiProvider),
        (Step::Plan, "invalid", FailureCode::PlanFailed),
        (Step::Execute, "invalid", FailureCode::ExecuteFailed),
        (Step::Execute, "timeout", FailureCode::AiTimeout),
        (Step::Validate, "invalid", FailureCode::ValidateFailed),
        (Step::Validate, "timeout", FailureCode::AiTimeout),
        (Step::Validate, "unexpected", FailureCode::System),
    ];
    for (step, kind, code) in cases {
        let h = harness();
        match step {
            Step::Plan => h.generator.push_plan(Err(err(kind))),
            Step::Execute => h.generator.push_execute(Err(err(kind))),
            Step::Validate => h.generator.push_review(Err(err(kind))),
            Step::Render => panic!("no agent renders"),
        };
        let job = h.claimed(request(None, 80), A).await;
        let outcome = h.pipeline.run(&job, A).await.unwrap();
        let (f, cause) = failed(outcome);
        assert_eq!(f.code, code, "{step:?}/{kind}");
        assert!(f.message.contains(step.as_str()), "{}", f.message);
        assert!(
            !f.message.contains("0xdeadbeef"),
            "internal detail leaked: {}",
            f.message
        );
        assert_eq!(
            cause.is_some_and(|c| c.contains("0xdeadbeef")),
            kind == "unexpected",
            "the internal detail goes to the cause, for the log"
        );
        assert_eq!(
            h.generator.call_log().last(),
            Some(&step),
            "nothing runs after the failing agent"
        );
        let failed = h.job(job.id);
        assert_eq!(failed.status, JobStatus::Failed);
        assert_eq!(failed.error_code, Some(code));
        assert_eq!(h.store.version_count(), 0, "{step:?}/{kind}");
        assert!(h.refunded(), "{step:?}/{kind} is not the user's fault");
    }
}

#[tokio::test]
async fn a_job_whose_lease_was_lost_before_it_started_is_abandoned_and_writes_nothing() {
    let h = harness();
    let job = h.claimed(request(None, 80), A).await;
    h.expire_leases();
    let taken = claim_run(&h.jobs, B).await.unwrap();

    let outcome = h.pipeline.run(&job, A).await.unwrap();

    assert_eq!(outcome, RunOutcome::Abandoned);
    assert!(h.generator.call_log().is_empty(), "no agent is paid for");
    let now = h.job(job.id);
    assert_eq!(now.lease_owner.as_deref(), Some(B));
    assert_eq!(now.status, JobStatus::Pending);
    assert_eq!(now.attempts, taken.attempts);
    assert!(h.store.events(job.id).is_empty());
    assert_eq!(h.store.version_count(), 0);
    assert!(!h.refunded(), "the job lives on with B");
}

#[tokio::test]
async fn a_takeover_during_the_review_abandons_the_run_before_anything_is_stored() {
    let h = harness();
    let job = h.claimed(request(None, 80), A).await;
    let (store, jobs) = (h.store.clone(), h.jobs.clone());
    h.generator.on_call(Arc::new(move |step| {
        let (store, jobs) = (store.clone(), jobs.clone());
        Box::pin(async move {
            if step == Step::Validate {
                store.clock().advance(LEASE * 2);
                assert!(claim_run(&jobs, B).await.is_some());
            }
        })
    }));

    let outcome = h.pipeline.run(&job, A).await.unwrap();

    assert_eq!(outcome, RunOutcome::Abandoned);
    assert_eq!(h.store.version_count(), 0);
    assert!(h.builder.builds().is_empty());
    let now = h.job(job.id);
    assert_eq!(now.lease_owner.as_deref(), Some(B));
    assert!(!now.status.is_final());
    assert!(!h.kinds(job.id).contains(&EventKind::Complete));
}

#[tokio::test]
async fn a_job_cancelled_while_an_agent_runs_is_abandoned_and_stays_cancelled() {
    let h = harness();
    let job = h.claimed(request(None, 80), A).await;
    let (jobs, viewer) = (h.jobs.clone(), h.viewer());
    h.generator.on_call(Arc::new(move |step| {
        let jobs = jobs.clone();
        Box::pin(async move {
            if step == Step::Execute {
                let out = jobs.cancel(viewer, job.id).await.unwrap();
                assert!(matches!(out, crate::ports::CancelOutcome::Cancelled(_)));
            }
        })
    }));

    let outcome = h.pipeline.run(&job, A).await.unwrap();

    assert_eq!(outcome, RunOutcome::Abandoned);
    assert_eq!(h.generator.calls(Step::Validate), 0);
    let now = h.job(job.id);
    assert_eq!(now.status, JobStatus::Cancelled);
    assert_eq!(now.error_code, None, "not overwritten by a failure");
    assert_eq!(h.store.version_count(), 0);
    let errors: Vec<_> = h
        .store
        .events(job.id)
        .into_iter()
        .filter(|e| e.kind == EventKind::Error)
        .collect();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].data["code"], "cancelled");
}

#[tokio::test]
async fn regeneration_appends_the_next_version_and_works_from_the_current_spec() {
    let h = harness();
    let spec = h.existing_spec().await;
    let job = h.claimed(request(Some(spec.id), 80), A).await;

    let outcome = h.pipeline.run(&job, A).await.unwrap();

    let (app_spec_id, version, _) = completed(outcome);
    assert_eq!((app_spec_id, version), (spec.id, 2));
    let inputs = h.generator.inputs(Step::Plan);
    assert_eq!(inputs[0].previous_spec.as_ref(), Some(&sample()));
    let versions = h.store.versions_of(spec.id);
    assert_eq!(
        versions
            .iter()
            .map(|v| (v.version_number, v.change_type))
            .collect::<Vec<_>>(),
        vec![(1, ChangeType::UserEdit), (2, ChangeType::AiGeneration)]
    );
    assert_eq!(
        versions[1].change_description.as_deref(),
        Some("AI regeneration")
    );
    let now = h.store.spec(spec.id).unwrap();
    assert_eq!((now.version, now.status), (2, SpecStatus::Generated));
    assert_eq!(h.store.all_specs().len(), 1, "no new spec");
    assert_eq!(
        h.builder.builds()[0].version,
        2,
        "the new version is rendered"
    );
}

#[tokio::test]
async fn regenerating_a_spec_deleted_meanwhile_fails_with_3000_refunded_and_stores_nothing() {
    let h = harness();
    let spec = h.existing_spec().await;
    let job = h.claimed(request(Some(spec.id), 80), A).await;
    let (specs, viewer) = (h.specs.clone(), h.viewer());
    h.generator.on_call(Arc::new(move |step| {
        let specs = specs.clone();
        Box::pin(async move {
            if step == Step::Execute {
                assert!(specs.delete(viewer, spec.id).await.unwrap());
            }
        })
    }));

    let outcome = h.pipeline.run(&job, A).await.unwrap();

    assert_eq!(failed(outcome).0.code, FailureCode::SpecNotFound);
    let failed = h.job(job.id);
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.error_code, Some(FailureCode::SpecNotFound));
    assert!(h.store.all_specs().is_empty());
    assert_eq!(h.store.version_count(), 0);
    assert!(h.builder.builds().is_empty());
    assert!(h.refunded());
}

#[tokio::test]
async fn the_fake_job_repository_enforces_leases_like_postgres() {
    let h = harness();
    let job = h.claimed(request(None, 80), A).await;
    let state = JobState::default();
    let u = TokenUsage::default();
    let provider = JobFailure::new(FailureCode::AiProvider, "provider");
    // another worker may do nothing with A's job
    assert_eq!(h.jobs.renew(job.id, B, LEASE).await.unwrap(), Lease::Lost);
    assert_eq!(
        h.jobs
            .checkpoint(job.id, B, JobStatus::Planning, 10, &state, &u, &[])
            .await
            .unwrap(),
        Lease::Lost
    );
    assert_eq!(h.jobs.fail(job.id, B, &provider, &u).await.unwrap(), None);
    // a final status only through complete / fail / cancel
    assert!(h
        .jobs
        .checkpoint(job.id, A, JobStatus::Completed, 100, &state, &u, &[])
        .await
        .is_err());
    // renewing keeps the job away from other workers past the first lease
    h.store.clock().advance(LEASE / 2);
    assert_eq!(h.jobs.renew(job.id, A, LEASE).await.unwrap(), Lease::Held);
    h.store.clock().advance(LEASE / 2 + Duration::from_secs(1));
    assert!(claim_run(&h.jobs, B).await.is_none());
    // fail makes the transition once
    let failed = h
        .jobs
        .fail(job.id, A, &provider, &u)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.error_code, Some(FailureCode::AiProvider));
    assert_eq!(failed.error_message.as_deref(), Some("provider"));
    let again = JobFailure::new(FailureCode::AiTimeout, "again");
    assert_eq!(h.jobs.fail(job.id, A, &again, &u).await.unwrap(), None);
    assert_eq!(h.job(job.id).error_code, Some(FailureCode::AiProvider));
    assert_eq!(h.jobs.renew(job.id, A, LEASE).await.unwrap(), Lease::Lost);
    // a final job is never claimed again, even with its lease gone
    h.store.clock().advance(LEASE * 10);
    assert!(h
        .jobs
        .claim(B, LEASE, MAX_ATTEMPTS)
        .await
        .unwrap()
        .is_none());
    // events: strictly increasing ids, paged with events_after
    let ids: Vec<i64> = h.store.events(job.id).iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), 1);
    let more = h
        .jobs
        .append_events(
            job.id,
            &[
                JobEventData::status(JobStatus::Planning, 10),
                JobEventData::status(JobStatus::Executing, 40),
            ],
        )
        .await
        .unwrap();
    assert!(more > ids[0] + 1);
    let after = h.jobs.events_after(job.id, ids[0], 10).await.unwrap();
    assert_eq!(
        after.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![more - 1, more]
    );
    assert_eq!(
        after[1].data,
        json!({"status": "executing", "progress": 40})
    );
    let limited = h.jobs.events_after(job.id, 0, 2).await.unwrap();
    assert_eq!(limited.len(), 2);
    assert!(h
        .jobs
        .append_events(
            Uuid::new_v4(),
            &[JobEventData::status(JobStatus::Planning, 10)]
        )
        .await
        .is_err());
}

// ---------------------------------------------------------------------------------------------
// the render step

/// The files the fake builder renders for `spec`: `index.html`, then one per page.
fn page_files(spec: &Value) -> Vec<String> {
    spec["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("pages/{}.html", p["id"].as_str().unwrap()))
        .collect()
}

#[tokio::test]
async fn a_completed_job_builds_once_records_its_code_and_streams_its_files_before_complete() {
    let h = harness();
    let job = h.claimed(request(None, 80), A).await;

    let (app_spec_id, version, code) = completed(h.pipeline.run(&job, A).await.unwrap());

    // one build, of the written version, uploaded once
    let builds = h.builder.builds();
    assert_eq!(builds.len(), 1);
    assert_eq!(
        (builds[0].tenant, builds[0].app_spec_id, builds[0].version),
        (h.tenant, app_spec_id, version)
    );
    assert_eq!(builds[0].spec, sample());
    assert_eq!(h.builder.uploads(), vec![code.content_hash.clone()]);
    assert!(!code.reused);
    // the code is recorded for the version, the spec is generated, the job reports the code
    assert_eq!(h.store.codes(app_spec_id), vec![(version, code.clone())]);
    assert_eq!(h.store.versions_of(app_spec_id).len(), 1);
    assert_eq!(
        h.store.spec(app_spec_id).unwrap().status,
        SpecStatus::Generated
    );
    let done = h.job(job.id);
    assert_eq!(done.state.render.as_ref(), Some(&code));
    assert_eq!(done.result.unwrap().code.as_ref(), Some(&code));

    // after entering the render step: per group a progress event, then its files, then complete
    let events = h.store.events(job.id);
    let entered = events
        .iter()
        .position(|e| e.kind == EventKind::Progress && e.data["step"] == "render")
        .unwrap();
    assert_eq!(events[entered].data["progress"], 90);
    assert!(events[entered].data.get("group").is_none());
    let pages = page_files(&sample());
    assert!(pages.len() > 1, "the sample has several pages");
    let group = |name: &str, files: usize| {
        (
            EventKind::Progress,
            json!({"status": "generating", "progress": 95, "step": "render", "group": name, "files": files}),
        )
    };
    // groups in name order ("pages" < "root"), files in path order within each
    let mut expected = vec![group("pages", pages.len())];
    let mut sorted = pages.clone();
    sorted.sort();
    expected.extend(sorted.iter().map(|p| {
        (
            EventKind::File,
            json!({"path": p, "size": 10, "group": "pages"}),
        )
    }));
    expected.push(group("root", 1));
    expected.push((
        EventKind::File,
        json!({"path": "index.html", "size": 100, "group": "root"}),
    ));
    let after: Vec<(EventKind, Value)> = events[entered + 1..]
        .iter()
        .map(|e| (e.kind, e.data.clone()))
        .collect();
    let (last, streamed) = after.split_last().unwrap();
    assert_eq!(streamed, expected.as_slice());
    assert_eq!(code.file_count as usize, 1 + pages.len());
    assert_eq!(last.0, EventKind::Complete);
    assert!(code.preview_url.is_some());
    assert_eq!(last.1["code"]["previewUrl"], json!(code.preview_url));
    assert_eq!(last.1["code"]["contentHash"], json!(code.content_hash));
}

/// Runs `job` as A until it stops with an infrastructure error right after writing its version
/// (the store breaks during the build, so the render checkpoint is lost); returns the version.
async fn crash_after_write_version(h: &Harness, job: &GenerationJob) -> VersionCheckpoint {
    let a = h.pipeline_with(h.store_breaking_builder());
    let err = a.run(job, A).await.unwrap_err();
    assert!(format!("{err:#}").contains("switched off"), "{err:#}");
    h.store.set_unavailable(false);
    let crashed = h.job(job.id);
    assert_eq!(crashed.status, JobStatus::Generating);
    assert!(
        crashed.state.render.is_none(),
        "the render checkpoint was lost"
    );
    assert_eq!(h.store.version_count(), 1);
    crashed.state.version.unwrap()
}

#[tokio::test]
async fn a_takeover_after_the_version_was_written_renders_without_ai_or_a_second_version() {
    let h = harness();
    let job = h.claimed(request(None, 80), A).await;
    let written = crash_after_write_version(&h, &job).await;
    assert_eq!(h.generator.call_log().len(), 3);
    assert_eq!(h.builder.builds().len(), 1);

    h.expire_leases();
    let taken = claim_run(&h.jobs, B).await.unwrap();
    assert_eq!(taken.state.version, Some(written));
    let outcome = h.pipeline.run(&taken, B).await.unwrap();

    let (app_spec_id, version, code) = completed(outcome);
    assert_eq!(
        (app_spec_id, version),
        (written.app_spec_id, written.version_number)
    );
    assert_eq!(
        h.generator.call_log().len(),
        3,
        "no AI call once the version is written"
    );
    assert_eq!(h.store.version_count(), 1, "no second version");
    assert_eq!(h.builder.builds().len(), 2, "the lost render runs again");
    assert_eq!(
        h.builder.uploads().len(),
        1,
        "the artifact A stored is reused"
    );
    assert!(code.reused);
    assert_eq!(h.store.codes(app_spec_id), vec![(version, code)]);
    assert_eq!(
        h.store.spec(app_spec_id).unwrap().status,
        SpecStatus::Generated
    );
    let done = h.job(job.id);
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(done.token_usage, default_total(), "usage carries over");
    assert_eq!(
        done.result.unwrap().quality_score,
        Some(final_score(100, 90)),
        "the verdict carries over"
    );
}

#[tokio::test]
async fn a_takeover_after_the_render_checkpoint_completes_without_building_again() {
    let h = harness();
    let job = h.claimed(request(None, 80), A).await;
    let written = crash_after_write_version(&h, &job).await;
    // A comes back, stores its render checkpoint as the pipeline does, and dies before completing
    let snapshot = h.store.versions_of(written.app_spec_id)[0].snapshot.clone();
    let built = h
        .builder
        .build(BuildRequest {
            tenant: h.tenant,
            app_spec_id: written.app_spec_id,
            version: written.version_number,
            spec: snapshot,
            renderer: None,
        })
        .await
        .unwrap();
    let mut state = h.job(job.id).state;
    state.render = Some(built.code.clone());
    let spent = h.job(job.id).token_usage;
    let events = file_events(&built.files);
    assert_eq!(
        h.jobs
            .checkpoint(
                job.id,
                A,
                JobStatus::Generating,
                99,
                &state,
                &spent,
                &events
            )
            .await
            .unwrap(),
        Lease::Held
    );
    let builds = h.builder.builds().len();

    h.expire_leases();
    let taken = claim_run(&h.jobs, B).await.unwrap();
    let (app_spec_id, version, code) = completed(h.pipeline.run(&taken, B).await.unwrap());

    assert_eq!(h.builder.builds().len(), builds, "no second build");
    assert_eq!(h.generator.call_log().len(), 3, "no AI call");
    assert_eq!(h.store.version_count(), 1);
    assert_eq!(code, built.code, "the checkpointed code is recorded");
    assert_eq!(h.store.codes(app_spec_id), vec![(version, built.code)]);
    assert_eq!(
        h.store.spec(app_spec_id).unwrap().status,
        SpecStatus::Generated
    );
    assert_eq!(h.job(job.id).status, JobStatus::Completed);
}

/// The one spec a failed render left behind: its version stays, nothing else does.
fn assert_version_kept_without_code(h: &Harness) {
    let specs = h.store.all_specs();
    assert_eq!(specs.len(), 1);
    assert_eq!(
        h.store.versions_of(specs[0].id).len(),
        1,
        "the version stays"
    );
    assert_ne!(specs[0].status, SpecStatus::Generated);
    assert!(h.store.codes(specs[0].id).is_empty(), "no code recorded");
}

#[tokio::test]
async fn an_object_store_outage_fails_the_job_with_7000_refunded_keeping_the_version() {
    let h = harness();
    h.builder.set_store_down(true);
    let job = h.claimed(request(None, 80), A).await;

    let (f, cause) = failed(h.pipeline.run(&job, A).await.unwrap());

    assert_eq!(f.code, FailureCode::UploadFailed);
    assert_eq!(f.code.as_str(), "7000");
    assert!(!f.message.contains("connection refused"), "{}", f.message);
    assert!(
        cause.unwrap().contains("object store"),
        "the log gets the cause"
    );
    assert!(h.refunded(), "an outage is not the user's fault");
    assert!(h.builder.uploads().is_empty());
    assert_version_kept_without_code(&h);
    let failed = h.job(job.id);
    assert_eq!(
        (failed.status, failed.error_code),
        (JobStatus::Failed, Some(FailureCode::UploadFailed))
    );
    let last = h.store.events(job.id).pop().unwrap();
    assert_eq!(
        (last.kind, &last.data["code"]),
        (EventKind::Error, &json!("7000"))
    );
}

#[tokio::test]
async fn a_render_error_fails_the_job_with_4000_refunded() {
    let h = harness();
    h.builder
        .set_render_error(Some("unsupported component Map"));
    let job = h.claimed(request(None, 80), A).await;

    let (f, _) = failed(h.pipeline.run(&job, A).await.unwrap());

    assert_eq!(f.code, FailureCode::CodeGenerationFailed);
    assert_eq!(f.code.as_str(), "4000");
    assert!(
        f.message.contains("unsupported component Map"),
        "{}",
        f.message
    );
    assert!(h.refunded());
    assert_version_kept_without_code(&h);
    assert_eq!(
        h.job(job.id).error_code,
        Some(FailureCode::CodeGenerationFailed)
    );
}

#[tokio::test]
async fn an_unknown_renderer_fails_the_job_with_4000_refunded() {
    let h = harness();
    let mut req = request(None, 80);
    req.renderer = Some("cobol-green-screen".to_owned());
    let job = h.claimed(req, A).await;

    let (f, _) = failed(h.pipeline.run(&job, A).await.unwrap());

    assert_eq!(f.code, FailureCode::CodeGenerationFailed);
    assert!(f.message.contains("cobol-green-screen"), "{}", f.message);
    assert!(h.refunded());
    assert_version_kept_without_code(&h);
}

#[tokio::test]
async fn a_panicking_build_fails_the_job_with_1000_refunded_and_the_pipeline_lives_on() {
    let h = harness();
    h.builder.set_panic(true);
    let job = h.claimed(request(None, 80), A).await;

    let (f, cause) = failed(h.pipeline.run_claimed(&job, A).await);

    assert_eq!(f.code, FailureCode::System);
    assert!(!f.message.contains("told to panic"), "{}", f.message);
    assert!(cause.unwrap().contains("told to panic"), "the log gets it");
    assert!(h.refunded());
    let failed = h.job(job.id);
    assert_eq!(
        (failed.status, failed.error_code),
        (JobStatus::Failed, Some(FailureCode::System))
    );
    assert!(!failed
        .error_message
        .as_deref()
        .unwrap()
        .contains("told to panic"));
    let last = h.store.events(job.id).pop().unwrap();
    assert_eq!(last.kind, EventKind::Error);
    assert!(!last.data.to_string().contains("told to panic"));

    // the same pipeline runs the next job to completion
    h.builder.set_panic(false);
    let next = h.claimed(request(None, 80), A).await;
    let outcome = h.pipeline.run_claimed(&next, A).await;
    assert!(
        matches!(outcome, RunOutcome::Completed { code: Some(_), .. }),
        "{outcome:?}"
    );
    assert_eq!(h.job(next.id).status, JobStatus::Completed);
}

// ---------------------------------------------------------------------------------------------
// end rules: giving up and infrastructure errors

#[tokio::test]
async fn a_job_claimed_max_attempts_times_is_given_up_by_the_next_claim_and_refunded() {
    let h = harness();
    let id = h.enqueue(request(None, 80)).await;
    for attempt in 1..=MAX_ATTEMPTS {
        // each worker dies with the job: its lease runs out
        let job = claim_run(&h.jobs, A).await.unwrap();
        assert_eq!((job.id, job.attempts), (id, attempt));
        h.expire_leases();
    }

    let claim = h.jobs.claim(B, LEASE, MAX_ATTEMPTS).await.unwrap();

    let Some(Claim::GaveUp(given)) = claim else {
        panic!("{claim:?}");
    };
    assert_eq!(given.id, id);
    assert_eq!(given.status, JobStatus::Failed);
    assert_eq!(given.error_code, Some(FailureCode::System));
    assert_eq!(given.attempts, MAX_ATTEMPTS, "giving up is not an attempt");
    assert_eq!(
        (given.lease_owner.as_ref(), given.lease_expires_at),
        (None, None)
    );
    assert_eq!(h.job(id), given);
    let last = h.store.events(id).pop().unwrap();
    assert_eq!(
        (last.kind, &last.data["code"]),
        (EventKind::Error, &json!("1000"))
    );
    assert!(!h.refunded(), "claim leaves the quota to the caller");
    h.pipeline.gave_up(&given).await;
    assert!(h.refunded());
    h.expire_leases();
    assert!(h
        .jobs
        .claim(B, LEASE, MAX_ATTEMPTS)
        .await
        .unwrap()
        .is_none());
    assert!(h.generator.call_log().is_empty(), "it never ran");
}

#[tokio::test]
async fn infrastructure_trouble_before_the_last_attempt_interrupts_and_the_job_stays_claimable() {
    let h = harness();
    let job = h.claimed(request(None, 80), A).await;
    assert!(job.attempts < MAX_ATTEMPTS);
    let a = h.pipeline_with(h.store_breaking_builder());

    let outcome = a.run_claimed(&job, A).await;

    let RunOutcome::Interrupted { cause } = outcome else {
        panic!("{outcome:?}");
    };
    assert!(cause.contains("switched off"), "{cause}");
    h.store.set_unavailable(false);
    let now = h.job(job.id);
    assert!(!now.status.is_final());
    assert_eq!(now.error_code, None);
    assert!(!h.refunded(), "nothing is settled on an interruption");
    // once the lease runs out another worker takes it and finishes it
    assert!(
        claim_run(&h.jobs, B).await.is_none(),
        "A's lease still holds"
    );
    h.expire_leases();
    let taken = claim_run(&h.jobs, B).await.unwrap();
    assert_eq!((taken.id, taken.attempts), (job.id, 2));
    let outcome = h.pipeline.run_claimed(&taken, B).await;
    assert!(
        matches!(outcome, RunOutcome::Completed { .. }),
        "{outcome:?}"
    );
    assert!(!h.refunded());
}

#[tokio::test]
async fn infrastructure_trouble_at_the_last_attempt_fails_the_job_for_good_and_refunds() {
    let h = harness();
    let id = h.enqueue(request(None, 80)).await;
    assert!(h.store.update_job(id, |j| j.attempts = MAX_ATTEMPTS - 1));
    let job = claim_run(&h.jobs, A).await.unwrap();
    assert_eq!(job.attempts, MAX_ATTEMPTS);
    let broken = Arc::new(HookedBuilder {
        inner: h.builder.clone(),
        hook: Box::new(|_| Some(BuildError::Unexpected(anyhow::anyhow!("disk full")))),
    });

    let (f, cause) = failed(h.pipeline_with(broken).run_claimed(&job, A).await);

    assert_eq!(f.code, FailureCode::System);
    assert!(!f.message.contains("disk full"), "{}", f.message);
    assert!(cause.unwrap().contains("disk full"));
    let failed = h.job(id);
    assert_eq!(
        (failed.status, failed.error_code),
        (JobStatus::Failed, Some(FailureCode::System))
    );
    assert!(h.refunded());
    assert_version_kept_without_code(&h);
    h.expire_leases();
    assert!(h
        .jobs
        .claim(B, LEASE, MAX_ATTEMPTS)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn with_the_store_down_at_the_last_attempt_the_next_claim_gives_the_job_up() {
    let h = harness();
    let id = h.enqueue(request(None, 80)).await;
    assert!(h.store.update_job(id, |j| j.attempts = MAX_ATTEMPTS - 1));
    let job = claim_run(&h.jobs, A).await.unwrap();
    h.store.set_unavailable(true);

    let outcome = h.pipeline.run_claimed(&job, A).await;

    // the job cannot even be failed: it stays for the next claim, which gives it up
    assert!(
        matches!(outcome, RunOutcome::Interrupted { .. }),
        "{outcome:?}"
    );
    h.store.set_unavailable(false);
    assert!(!h.job(id).status.is_final());
    h.expire_leases();
    let claim = h.jobs.claim(B, LEASE, MAX_ATTEMPTS).await.unwrap();
    let Some(Claim::GaveUp(given)) = claim else {
        panic!("{claim:?}");
    };
    h.pipeline.gave_up(&given).await;
    assert!(h.refunded());
}

// ---------------------------------------------------------------------------------------------
// render jobs

#[tokio::test]
async fn rerendering_an_unchanged_version_reuses_the_artifact_and_its_code_record() {
    let h = harness();
    let job = h.claimed(request(None, 80), A).await;
    let (spec, version, first) = completed(h.pipeline.run(&job, A).await.unwrap());
    let uploads = h.builder.uploads();
    assert_eq!(uploads.len(), 1);

    let id = h.enqueue_render(spec, version, None).await;
    let render = claim_run(&h.jobs, A).await.unwrap();
    assert_eq!(render.id, id);
    let (again_spec, again_version, again) = completed(h.pipeline.run(&render, A).await.unwrap());

    assert_eq!((again_spec, again_version), (spec, version));
    assert_eq!(h.builder.builds().len(), 2, "rendered again");
    assert_eq!(h.builder.uploads(), uploads, "but not uploaded again");
    let rendered = h.job(id).state.render.unwrap();
    assert!(rendered.reused);
    assert_eq!(rendered.content_hash, first.content_hash);
    assert_eq!(
        h.store.codes(spec),
        vec![(version, first.clone())],
        "the code record is not duplicated"
    );
    assert_eq!(again, first, "the existing record is reported");
    assert_eq!(h.generator.call_log().len(), 3, "a render job asks no AI");
    assert_eq!(h.store.version_count(), 1);
    assert_eq!(h.job(id).status, JobStatus::Completed);

    // another renderer is another artifact and another record
    let id = h.enqueue_render(spec, version, Some("vue-vite")).await;
    let render = claim_run(&h.jobs, A).await.unwrap();
    let (_, _, vue) = completed(h.pipeline.run(&render, A).await.unwrap());
    assert_eq!((vue.renderer.as_str(), vue.reused), ("vue-vite", false));
    assert_eq!(h.builder.uploads().len(), 2);
    assert_eq!(h.store.codes(spec).len(), 2);
    assert_eq!(h.job(id).status, JobStatus::Completed);
}

#[tokio::test]
async fn a_render_job_without_a_version_fails_with_3002() {
    let h = harness();
    let spec = h.existing_spec().await;
    let req = JobRequest {
        kind: JobKind::Render,
        ..request(Some(spec.id), 0)
    };
    let id = h.enqueue_with(req, None, JobState::default()).await;
    let job = claim_run(&h.jobs, A).await.unwrap();

    let (f, _) = failed(h.pipeline.run(&job, A).await.unwrap());

    assert_eq!(f.code, FailureCode::VersionNotFound);
    assert!(h.generator.call_log().is_empty());
    assert!(h.builder.builds().is_empty());
    assert_eq!(h.job(id).error_code, Some(FailureCode::VersionNotFound));
}

#[tokio::test]
async fn a_render_job_of_a_version_that_does_not_exist_fails_with_3002() {
    let h = harness();
    let spec = h.existing_spec().await;
    let id = h.enqueue_render(spec.id, 7, None).await;
    let job = claim_run(&h.jobs, A).await.unwrap();

    let (f, _) = failed(h.pipeline.run(&job, A).await.unwrap());

    assert_eq!(f.code, FailureCode::VersionNotFound);
    assert!(f.message.contains('7'), "{}", f.message);
    assert!(h.builder.builds().is_empty());
    assert_eq!(h.job(id).status, JobStatus::Failed);
    assert_eq!(h.store.spec(spec.id).unwrap().status, SpecStatus::Draft);
}

// ---------------------------------------------------------------------------------------------
// properties of the stored job state

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        any::<String>().prop_map(Value::String),
        arb_key().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(arb_key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Keys the state reader looks for, mixed with others, so arbitrary JSON reaches its paths.
fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "plan",
            "execute",
            "validate",
            "version",
            "render",
            "output",
            "usage",
            "totalTokens",
            "reasoning",
            "model",
            "ruleScore",
            "aiScore",
            "finalScore",
            "threshold",
            "errors",
            "findings",
            "severity",
            "review",
            "appSpecId",
            "versionNumber",
            "renderer",
            "contentHash",
            "previewUrl",
            "reused",
            "code",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z]{1,8}",
    ]
}

fn arb_usage() -> impl Strategy<Value = TokenUsage> {
    prop::array::uniform5(any::<u64>()).prop_map(|[a, b, c, d, e]| TokenUsage {
        prompt_tokens: a,
        completion_tokens: b,
        total_tokens: c,
        prompt_cache_hit_tokens: d,
        prompt_cache_miss_tokens: e,
    })
}

fn arb_agent() -> impl Strategy<Value = AgentCheckpoint> {
    (arb_json(), arb_usage(), any::<String>(), any::<String>()).prop_map(
        |(output, usage, reasoning, model)| AgentCheckpoint {
            output,
            usage,
            reasoning,
            model,
        },
    )
}

fn arb_finding() -> impl Strategy<Value = Finding> {
    (
        any::<String>(),
        prop_oneof![Just(Severity::Error), Just(Severity::Warning)],
        any::<String>(),
        any::<String>(),
    )
        .prop_map(|(path, severity, code, message)| Finding {
            path,
            severity,
            code,
            message,
        })
}

fn arb_validate() -> impl Strategy<Value = ValidateCheckpoint> {
    (
        any::<u8>(),
        any::<Option<u8>>(),
        any::<Option<u8>>(),
        any::<u8>(),
        any::<u32>(),
        any::<u32>(),
        prop::collection::vec(arb_finding(), 0..3),
        prop::option::of(arb_agent()),
    )
        .prop_map(
            |(rule_score, ai_score, final_score, threshold, errors, warnings, findings, review)| {
                ValidateCheckpoint {
                    rule_score,
                    ai_score,
                    final_score,
                    threshold,
                    errors,
                    warnings,
                    findings,
                    review,
                }
            },
        )
}

fn arb_version() -> impl Strategy<Value = VersionCheckpoint> {
    (any::<u128>(), any::<i32>()).prop_map(|(id, n)| VersionCheckpoint {
        app_spec_id: Uuid::from_u128(id),
        version_number: n,
    })
}

fn arb_render() -> impl Strategy<Value = RenderedCode> {
    (
        prop::array::uniform6(any::<String>()),
        any::<u32>(),
        any::<u64>(),
        any::<u64>(),
        any::<Option<String>>(),
        any::<bool>(),
    )
        .prop_map(
            |(
                [renderer, renderer_version, framework, project_key, storage_key, content_hash],
                file_count,
                total_size_bytes,
                zip_size_bytes,
                preview_url,
                reused,
            )| {
                RenderedCode {
                    renderer,
                    renderer_version,
                    framework,
                    project_key,
                    storage_key,
                    content_hash,
                    file_count,
                    total_size_bytes,
                    zip_size_bytes,
                    preview_url,
                    reused,
                }
            },
        )
}

fn arb_state() -> impl Strategy<Value = JobState> {
    (
        prop::option::of(arb_agent()),
        prop::option::of(arb_agent()),
        prop::option::of(arb_validate()),
        prop::option::of(arb_version()),
        prop::option::of(arb_render()),
    )
        .prop_map(|(plan, execute, validate, version, render)| JobState {
            plan,
            execute,
            validate,
            version,
            render,
        })
}

proptest! {
    #[test]
    fn stored_state_of_any_shape_reads_without_panicking_and_settles(v in arb_json()) {
        let s = JobState::from_stored(&v);
        // what was read is stored and read back unchanged
        prop_assert_eq!(JobState::from_stored(&s.to_stored()), s.clone());
        let _ = JobSummary::from_stored(&v);
        // the same value under each checkpoint key
        for key in ["plan", "execute", "validate", "version", "render"] {
            let wrapped = json!({ key: v.clone() });
            let s = JobState::from_stored(&wrapped);
            prop_assert_eq!(JobState::from_stored(&s.to_stored()), s);
        }
    }

    #[test]
    fn stored_state_round_trips(s in arb_state()) {
        let stored = s.to_stored();
        prop_assert_eq!(JobState::from_stored(&stored), s.clone());
        // deserialising (as an adapter reading the column does) reads the same
        let back: JobState = serde_json::from_value(stored).unwrap();
        prop_assert_eq!(back, s);
    }
}
