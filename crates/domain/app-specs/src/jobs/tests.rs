//! Unit tests of the generation pipeline on the in-memory fakes: the happy path, checkpoints and
//! resumption after a takeover, the quality gate, agent failures, lost leases and cancellation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::ports::{CreateJob, NewJob, StoredSpec};
use crate::spec::fixtures::sample;
use crate::testing::{
    answer, review, usage, InMemoryAppSpecs, InMemoryJobs, InMemoryStore, ScriptedGenerator,
    DEFAULT_USAGE, SCRIPTED_MODEL,
};
use crate::validation::final_score;
use ingenio_kernel::TenantId;
use std::time::Duration;

const LEASE: Duration = Duration::from_secs(30);
const A: &str = "worker-a";
const B: &str = "worker-b";

struct Harness {
    store: InMemoryStore,
    specs: InMemoryAppSpecs,
    jobs: InMemoryJobs,
    generator: Arc<ScriptedGenerator>,
    pipeline: Pipeline,
    tenant: TenantId,
    user: UserId,
}

fn harness() -> Harness {
    harness_with(Arc::new(ScriptedGenerator::new()))
}

fn harness_with(generator: Arc<ScriptedGenerator>) -> Harness {
    let store = InMemoryStore::new();
    let pipeline = Pipeline {
        jobs: Arc::new(store.jobs()),
        generator: generator.clone(),
        specs: Arc::new(store.specs()),
    };
    Harness {
        specs: store.specs(),
        jobs: store.jobs(),
        store,
        generator,
        pipeline,
        tenant: TenantId::default(),
        user: UserId::new_random(),
    }
}

fn request(app_spec_id: Option<Uuid>, threshold: u8) -> JobRequest {
    JobRequest {
        requirement: "a vocabulary quiz for primary school pupils".to_owned(),
        age_group: Some(AgeGroup::Elementary),
        magic_prompt_id: None,
        variables: Value::Null,
        app_spec_id,
        renderer: None,
        quality_threshold: threshold,
    }
}

impl Harness {
    fn viewer(&self) -> Viewer {
        Viewer {
            tenant: self.tenant,
            user: self.user,
            admin: false,
        }
    }

    /// Enqueues a job and claims it as `worker`.
    async fn claimed(&self, req: JobRequest, worker: &str) -> GenerationJob {
        let created = self
            .jobs
            .create(NewJob {
                tenant: self.tenant,
                user: self.user,
                request: req,
                idempotency_key: None,
                quota_reservation: Some("r:1".to_owned()),
            })
            .await
            .unwrap();
        let CreateJob::Created(created) = created else {
            panic!("a job without key is always new");
        };
        let job = self.jobs.claim(worker, LEASE).await.unwrap().unwrap();
        assert_eq!(job.id, created.id);
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

    fn kinds(&self, id: Uuid) -> Vec<String> {
        self.store.events(id).into_iter().map(|e| e.kind).collect()
    }
}

fn sum(parts: &[TokenUsage]) -> TokenUsage {
    let mut total = TokenUsage::default();
    for p in parts {
        total.add(p);
    }
    total
}

#[tokio::test]
async fn a_job_runs_plan_execute_validate_and_completes_with_version_1() {
    let h = harness();
    let (pu, xu, ru) = (usage(11, 5), usage(200, 333), usage(40, 7));
    h.generator
        .push_plan(Ok(answer(json!({"pages": ["home"]}), pu)));
    h.generator.push_execute(Ok(answer(sample(), xu)));
    h.generator.push_review(Ok(answer(review(90), ru)));
    let job = h.claimed(request(None, 80), A).await;

    let outcome = h.pipeline.run(&job, A).await.unwrap();

    let RunOutcome::Completed {
        app_spec_id,
        version,
    } = outcome
    else {
        panic!("{outcome:?}");
    };
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
        (h.user, h.tenant, 1, SpecStatus::Validated)
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
    assert_eq!(done.result.as_ref().unwrap()["qualityScore"], score);
    assert_eq!((done.lease_owner, done.lease_expires_at), (None, None));
    assert!(done.finished_at.is_some());

    let events = h.store.events(job.id);
    assert!(events.windows(2).all(|w| w[0].id < w[1].id));
    let progress: Vec<u64> = events
        .iter()
        .filter(|e| e.kind == "progress")
        .map(|e| e.data["progress"].as_u64().unwrap())
        .collect();
    assert_eq!(progress, vec![10, 40, 70]);
    let completed: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == "agent" && e.data["state"] == "completed")
        .map(|e| e.data["agent"].as_str().unwrap())
        .collect();
    assert_eq!(completed, vec!["plan", "execute", "validate"]);
    let last = events.last().unwrap();
    assert_eq!(last.kind, "complete");
    assert_eq!(last.data["appSpecId"], json!(app_spec_id));
    assert_eq!(last.data["versionNumber"], 1);
    assert!(!h.kinds(job.id).contains(&"error".to_owned()));
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
        crashed.state["plan"]["output"],
        json!({"pages": ["only-from-a"]})
    );
    assert_eq!(crashed.token_usage, plan_usage);

    // nobody else may take it while A's lease is live
    assert!(h.jobs.claim(B, LEASE).await.unwrap().is_none());
    h.store.clock().advance(LEASE + Duration::from_secs(1));
    let taken = h.jobs.claim(B, LEASE).await.unwrap().unwrap();
    assert_eq!(taken.id, job.id);
    assert_eq!(taken.attempts, 2);

    let second = Arc::new(ScriptedGenerator::new());
    let pipeline = Pipeline {
        jobs: Arc::new(h.store.jobs()),
        generator: second.clone(),
        specs: Arc::new(h.store.specs()),
    };
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

#[tokio::test]
async fn a_job_with_an_execute_checkpoint_resumes_at_validate() {
    let h = harness();
    let job = h.claimed(request(None, 80), A).await;
    let mut spec = sample();
    spec["appName"] = json!("Checkpointed App");
    let state = json!({
        "plan": {"output": {"pages": ["home"]}, "usage": {}, "reasoning": "r", "model": "m"},
        "execute": {"output": spec, "usage": {}, "reasoning": "r", "model": "m"},
    });
    let before = usage(500, 500);
    assert_eq!(
        h.jobs
            .checkpoint(job.id, A, JobStatus::Validating, 70, &state, &before)
            .await
            .unwrap(),
        Lease::Held
    );
    h.store.clock().advance(LEASE * 2);
    let taken = h.jobs.claim(B, LEASE).await.unwrap().unwrap();

    let outcome = h.pipeline.run(&taken, B).await.unwrap();

    let RunOutcome::Completed { app_spec_id, .. } = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(h.generator.call_log(), vec![Step::Validate]);
    assert_eq!(h.generator.args(Step::Validate), vec![spec.clone()]);
    assert_eq!(h.store.spec(app_spec_id).unwrap().content, spec);
    assert_eq!(
        h.job(job.id).token_usage,
        sum(&[before, usage(DEFAULT_USAGE[2].0, DEFAULT_USAGE[2].1)])
    );
}

#[tokio::test]
async fn a_takeover_after_the_validate_checkpoint_does_not_review_again() {
    let h = harness();
    let job = h.claimed(request(None, 80), A).await;
    let state = json!({
        "plan": {"output": {"pages": ["home"]}},
        "execute": {"output": sample()},
        "validate": {"ruleScore": 100, "aiScore": 90, "finalScore": 96, "threshold": 80,
                     "errors": 0, "warnings": 0, "findings": [], "review": {}},
    });
    h.jobs
        .checkpoint(job.id, A, JobStatus::Generating, 90, &state, &usage(1, 1))
        .await
        .unwrap();
    h.store.clock().advance(LEASE * 2);
    let taken = h.jobs.claim(B, LEASE).await.unwrap().unwrap();
    let outcome = h.pipeline.run(&taken, B).await.unwrap();
    assert!(
        matches!(outcome, RunOutcome::Completed { .. }),
        "{outcome:?}"
    );
    assert_eq!(
        h.generator.calls(Step::Validate),
        0,
        "the review finished before the crash; resuming must not pay for it again"
    );
}

#[tokio::test]
async fn below_the_quality_threshold_the_job_fails_with_3003_and_stores_nothing() {
    let h = harness();
    h.generator
        .push_review(Ok(answer(review(10), usage(30, 3))));
    let job = h.claimed(request(None, 80), A).await;

    let outcome = h.pipeline.run(&job, A).await.unwrap();

    let RunOutcome::Failed(f) = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(f.code, "3003");
    assert!(
        f.message.contains("score 64 < threshold 80"),
        "{}",
        f.message
    );
    assert!(h.store.all_specs().is_empty());
    assert_eq!(h.store.version_count(), 0);
    let failed = h.job(job.id);
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.error_code.as_deref(), Some("3003"));
    assert_eq!(failed.app_spec_id, None);
    assert_eq!(failed.lease_owner, None);
    assert_eq!(
        failed.token_usage.total_tokens,
        120 + 500 + 33,
        "the usage of every call is recorded on a failed job too"
    );
    let last = h.store.events(job.id).pop().unwrap();
    assert_eq!(
        (last.kind.as_str(), &last.data["code"]),
        ("error", &json!("3003"))
    );
    assert!(!h.kinds(job.id).contains(&"complete".to_owned()));
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
    assert!(
        matches!(&outcome, RunOutcome::Failed(f) if f.code == "3003"),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_spec_with_rule_errors_skips_the_review_and_fails_with_3004() {
    let h = harness();
    // blank appName + no pages (2 errors) and no version (1 warning): 100 − 40 − 5 = 55
    h.generator
        .push_execute(Ok(answer(json!({"appName": " "}), usage(1, 1))));
    let job = h.claimed(request(None, 80), A).await;

    let outcome = h.pipeline.run(&job, A).await.unwrap();

    let RunOutcome::Failed(f) = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(f.code, "3004");
    assert!(f.message.contains("score 55"), "{}", f.message);
    assert_eq!(
        h.generator.calls(Step::Validate),
        0,
        "no AI review of a broken spec"
    );
    assert_eq!(h.store.version_count(), 0);
    assert_eq!(h.job(job.id).error_code.as_deref(), Some("3004"));
}

#[tokio::test]
async fn agent_errors_map_to_their_failure_codes() {
    fn err(kind: &str) -> AgentError {
        match kind {
            "provider" => AgentError::Provider("HTTP 401".into()),
            "timeout" => AgentError::Timeout(30),
            "invalid" => AgentError::InvalidOutput("not JSON".into()),
            _ => AgentError::Unexpected(anyhow::anyhow!("boom")),
        }
    }
    let cases = [
        (Step::Plan, "provider", "6003"),
        (Step::Plan, "invalid", "6000"),
        (Step::Execute, "invalid", "6001"),
        (Step::Execute, "timeout", "6004"),
        (Step::Validate, "invalid", "6002"),
        (Step::Validate, "timeout", "6004"),
        (Step::Validate, "unexpected", "1000"),
    ];
    for (step, kind, code) in cases {
        let h = harness();
        match step {
            Step::Plan => h.generator.push_plan(Err(err(kind))),
            Step::Execute => h.generator.push_execute(Err(err(kind))),
            Step::Validate => h.generator.push_review(Err(err(kind))),
        };
        let job = h.claimed(request(None, 80), A).await;
        let outcome = h.pipeline.run(&job, A).await.unwrap();
        let RunOutcome::Failed(f) = outcome else {
            panic!("{step:?}/{kind}: {outcome:?}");
        };
        assert_eq!(f.code, code, "{step:?}/{kind}");
        assert!(f.message.contains(step.as_str()), "{}", f.message);
        assert_eq!(
            h.generator.call_log().last(),
            Some(&step),
            "nothing runs after the failing agent"
        );
        let failed = h.job(job.id);
        assert_eq!(failed.status, JobStatus::Failed);
        assert_eq!(failed.error_code.as_deref(), Some(code));
        assert_eq!(h.store.version_count(), 0, "{step:?}/{kind}");
    }
}

#[tokio::test]
async fn a_job_whose_lease_was_lost_before_it_started_is_abandoned_and_writes_nothing() {
    let h = harness();
    let job = h.claimed(request(None, 80), A).await;
    h.store.clock().advance(LEASE + Duration::from_secs(1));
    let taken = h.jobs.claim(B, LEASE).await.unwrap().unwrap();

    let outcome = h.pipeline.run(&job, A).await.unwrap();

    assert_eq!(outcome, RunOutcome::Abandoned);
    assert!(h.generator.call_log().is_empty(), "no agent is paid for");
    let now = h.job(job.id);
    assert_eq!(now.lease_owner.as_deref(), Some(B));
    assert_eq!(now.status, JobStatus::Pending);
    assert_eq!(now.attempts, taken.attempts);
    assert!(h.store.events(job.id).is_empty());
    assert_eq!(h.store.version_count(), 0);
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
                assert!(jobs.claim(B, LEASE).await.unwrap().is_some());
            }
        })
    }));

    let outcome = h.pipeline.run(&job, A).await.unwrap();

    assert_eq!(outcome, RunOutcome::Abandoned);
    assert_eq!(h.store.version_count(), 0);
    let now = h.job(job.id);
    assert_eq!(now.lease_owner.as_deref(), Some(B));
    assert!(!now.status.is_final());
    assert!(!h.kinds(job.id).contains(&"complete".to_owned()));
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
        .filter(|e| e.kind == "error")
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

    assert_eq!(
        outcome,
        RunOutcome::Completed {
            app_spec_id: spec.id,
            version: 2
        }
    );
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
    assert_eq!((now.version, now.status), (2, SpecStatus::Validated));
    assert_eq!(h.store.all_specs().len(), 1, "no new spec");
}

#[tokio::test]
async fn regenerating_a_spec_deleted_meanwhile_fails_with_3000_and_stores_nothing() {
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

    let RunOutcome::Failed(f) = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(f.code, "3000");
    let failed = h.job(job.id);
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.error_code.as_deref(), Some("3000"));
    assert!(h.store.all_specs().is_empty());
    assert_eq!(h.store.version_count(), 0);
}

#[tokio::test]
async fn the_fake_job_repository_enforces_leases_like_postgres() {
    let h = harness();
    let job = h.claimed(request(None, 80), A).await;
    let state = json!({});
    let u = TokenUsage::default();
    // another worker may do nothing with A's job
    assert_eq!(h.jobs.renew(job.id, B, LEASE).await.unwrap(), Lease::Lost);
    assert_eq!(
        h.jobs
            .checkpoint(job.id, B, JobStatus::Planning, 10, &state, &u)
            .await
            .unwrap(),
        Lease::Lost
    );
    assert_eq!(h.jobs.fail(job.id, B, "1000", "x", &u).await.unwrap(), None);
    // a final status only through complete / fail / cancel
    assert!(h
        .jobs
        .checkpoint(job.id, A, JobStatus::Completed, 100, &state, &u)
        .await
        .is_err());
    // renewing keeps the job away from other workers past the first lease
    h.store.clock().advance(LEASE / 2);
    assert_eq!(h.jobs.renew(job.id, A, LEASE).await.unwrap(), Lease::Held);
    h.store.clock().advance(LEASE / 2 + Duration::from_secs(1));
    assert!(h.jobs.claim(B, LEASE).await.unwrap().is_none());
    // fail makes the transition once
    let failed = h
        .jobs
        .fail(job.id, A, "6003-and-more", "provider", &u)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        failed.error_code.as_deref(),
        Some("6003-and-m"),
        "column width"
    );
    assert_eq!(
        h.jobs.fail(job.id, A, "6003", "again", &u).await.unwrap(),
        None
    );
    assert_eq!(h.jobs.renew(job.id, A, LEASE).await.unwrap(), Lease::Lost);
    // a final job is never claimed again, even with its lease gone
    h.store.clock().advance(LEASE * 10);
    assert!(h.jobs.claim(B, LEASE).await.unwrap().is_none());
    // events: strictly increasing ids, paged with events_after
    let ids: Vec<i64> = h.store.events(job.id).iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), 1);
    let more = h
        .jobs
        .append_event(job.id, "progress", &json!({}))
        .await
        .unwrap();
    assert!(more > ids[0]);
    let after = h.jobs.events_after(job.id, ids[0], 10).await.unwrap();
    assert_eq!(after.iter().map(|e| e.id).collect::<Vec<_>>(), vec![more]);
    assert!(h
        .jobs
        .append_event(job.id, "nonsense", &json!({}))
        .await
        .is_err());
    assert!(h
        .jobs
        .append_event(Uuid::new_v4(), "progress", &json!({}))
        .await
        .is_err());
}
