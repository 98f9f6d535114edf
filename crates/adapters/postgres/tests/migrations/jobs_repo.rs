//! Tests of `PgJobRepository` against a migrated database: idempotent enqueue, claiming with
//! leases and takeover, checkpoints, the event log, atomic completion, failure and cancellation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::{admin, env, new_version, other_tenant, spec_json, viewer, Env};
use ingenio_app_specs::jobs::{GenerationJob, JobRequest, JobStatus};
use ingenio_app_specs::ports::{
    AppSpecRepository, CancelOutcome, ChangeType, CompleteOutcome, CreateJob, JobRepository,
    JobResult, Lease, NewJob, Viewer,
};
use ingenio_app_specs::{AgeGroup, JobFailure, SpecStatus, TokenUsage};
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::{PageRequest, TenantId, UserId};
use ingenio_postgres::app_specs::PgAppSpecRepository;
use ingenio_postgres::jobs::PgJobRepository;
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

const LEASE: Duration = Duration::from_secs(60);

fn request(text: &str) -> JobRequest {
    JobRequest {
        requirement: text.to_owned(),
        age_group: Some(AgeGroup::MiddleSchool),
        magic_prompt_id: None,
        variables: json!({"topic": "math"}),
        app_spec_id: None,
        renderer: Some("uniapp".to_owned()),
        quality_threshold: 70,
    }
}

fn new_job(user: UserId, text: &str, key: Option<&str>) -> NewJob {
    NewJob {
        tenant: TenantId::default(),
        user,
        request: request(text),
        idempotency_key: key.map(str::to_owned),
        quota_reservation: Some(format!("res-{text}")),
    }
}

fn usage(n: u64) -> TokenUsage {
    TokenUsage {
        prompt_tokens: n,
        completion_tokens: 2 * n,
        total_tokens: 3 * n,
        prompt_cache_hit_tokens: 1,
        prompt_cache_miss_tokens: n - 1,
    }
}

async fn created(repo: &PgJobRepository, job: NewJob) -> GenerationJob {
    match repo.create(job).await.unwrap() {
        CreateJob::Created(j) => j,
        other => panic!("{other:?}"),
    }
}

fn result_for(user: UserId, target: Option<Uuid>, title: &str) -> JobResult {
    let mut version = new_version(user, title);
    version.change_type = ChangeType::AiGeneration;
    version.status = SpecStatus::Validated;
    version.quality_score = Some(88);
    JobResult {
        target_spec: target,
        version,
        usage: usage(100),
        summary: json!({"qualityScore": 88, "ruleScore": 90}),
    }
}

async fn expire_lease(env: &Env, id: Uuid) {
    env.exec(&format!(
        "UPDATE generation_jobs SET lease_expires_at = now() - interval '1 minute' WHERE id = '{id}'"
    ))
    .await;
}

async fn spec_count(env: &Env) -> i64 {
    env.count("SELECT COUNT(*) AS n FROM app_specs").await
}

#[tokio::test]
async fn create_stores_the_job_and_get_is_scoped() {
    let env = env().await;
    let alice = env.user("alice").await;
    let bob = env.user("bob").await;
    let boss = env.user("boss").await;
    let stranger = env.user_in(other_tenant(), "stranger").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let job = created(&repo, new_job(alice, "a quiz app", None)).await;
    assert_eq!(job.status, JobStatus::Pending);
    assert_eq!(job.progress, 0);
    assert_eq!(job.attempts, 0);
    assert_eq!(job.user_id, alice);
    assert_eq!(job.tenant_id, TenantId::default());
    assert_eq!(job.request, request("a quiz app"));
    assert_eq!(job.token_usage, TokenUsage::default());
    assert_eq!(job.state, json!({}));
    assert_eq!(job.quota_reservation.as_deref(), Some("res-a quiz app"));
    assert_eq!(job.idempotency_key, None);
    assert!(job.lease_owner.is_none() && job.lease_expires_at.is_none());
    assert!(job.started_at.is_none() && job.finished_at.is_none());
    assert!(job.result.is_none() && job.app_spec_id.is_none() && job.version_number.is_none());

    assert_eq!(
        repo.get(viewer(alice), job.id).await.unwrap(),
        Some(job.clone())
    );
    assert_eq!(
        repo.get(admin(boss), job.id).await.unwrap(),
        Some(job.clone())
    );
    assert_eq!(repo.get(viewer(bob), job.id).await.unwrap(), None);
    let foreign_admin = Viewer {
        tenant: other_tenant(),
        user: stranger,
        admin: true,
    };
    assert_eq!(repo.get(foreign_admin, job.id).await.unwrap(), None);
    assert_eq!(repo.get(viewer(alice), Uuid::new_v4()).await.unwrap(), None);

    // Without a key, every create enqueues a new job.
    let again = created(&repo, new_job(alice, "a quiz app", None)).await;
    assert_ne!(again.id, job.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_with_one_key_make_one_job() {
    let env = env().await;
    let alice = env.user("alice").await;
    let bob = env.user("bob").await;
    let repo = Arc::new(PgJobRepository::new(env.pool.clone()));
    let tasks: Vec<_> = (0..5)
        .map(|i| {
            let repo = repo.clone();
            tokio::spawn(async move {
                repo.create(new_job(alice, &format!("attempt {i}"), Some("key-1")))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut created_ids = Vec::new();
    let mut existing_ids = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            CreateJob::Created(j) => created_ids.push(j.id),
            CreateJob::Existing(j) => existing_ids.push(j.id),
        }
    }
    assert_eq!(created_ids.len(), 1, "{created_ids:?}");
    assert_eq!(existing_ids.len(), 4);
    assert!(existing_ids.iter().all(|id| *id == created_ids[0]));
    assert_eq!(
        env.count("SELECT COUNT(*) AS n FROM generation_jobs").await,
        1
    );

    // The key is per user.
    let bobs = created(&repo, new_job(bob, "bobs", Some("key-1"))).await;
    assert_ne!(bobs.id, created_ids[0]);
    assert_eq!(bobs.idempotency_key.as_deref(), Some("key-1"));
    // And reusing it later still returns the original job, even after it finished.
    repo.cancel(viewer(bob), bobs.id).await.unwrap();
    match repo
        .create(new_job(bob, "later", Some("key-1")))
        .await
        .unwrap()
    {
        CreateJob::Existing(j) => {
            assert_eq!(j.id, bobs.id);
            assert_eq!(j.status, JobStatus::Cancelled);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn claim_takes_the_oldest_runnable_job_and_sets_the_lease() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgJobRepository::new(env.pool.clone());
    assert_eq!(repo.claim("w1", LEASE).await.unwrap(), None);
    let older = created(&repo, new_job(alice, "older", None)).await;
    let newer = created(&repo, new_job(alice, "newer", None)).await;
    env.exec(&format!(
        "UPDATE generation_jobs SET created_at = now() - interval '1 hour' WHERE id = '{}'",
        older.id
    ))
    .await;

    let got = repo.claim("w1", LEASE).await.unwrap().unwrap();
    assert_eq!(got.id, older.id);
    assert_eq!(
        got.status,
        JobStatus::Pending,
        "status stays until the first checkpoint"
    );
    assert_eq!(got.attempts, 1);
    assert_eq!(got.lease_owner.as_deref(), Some("w1"));
    let expires = got.lease_expires_at.unwrap();
    let started = got.started_at.unwrap();
    let lead = expires - started;
    assert!(
        lead >= ingenio_kernel::chrono::Duration::seconds(59)
            && lead <= ingenio_kernel::chrono::Duration::seconds(61),
        "{lead:?}"
    );

    // The claimed (still pending) job has a live lease: the next claim takes the other one.
    let second = repo.claim("w2", LEASE).await.unwrap().unwrap();
    assert_eq!(second.id, newer.id);
    assert_eq!(repo.claim("w3", LEASE).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claimers_never_share_a_job() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = Arc::new(PgJobRepository::new(env.pool.clone()));
    let mut all = HashSet::new();
    for i in 0..12 {
        all.insert(
            created(&repo, new_job(alice, &format!("job {i}"), None))
                .await
                .id,
        );
    }
    let workers: Vec<_> = (0..3)
        .map(|w| {
            let repo = repo.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                // Bounded, so a claim that hands out leased jobs again fails instead of looping.
                while mine.len() <= 12 {
                    let Some(job) = repo.claim(&format!("w{w}"), LEASE).await.unwrap() else {
                        break;
                    };
                    assert_eq!(job.lease_owner.as_deref(), Some(format!("w{w}").as_str()));
                    mine.push(job.id);
                }
                mine
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for w in workers {
        claimed.extend(w.await.unwrap());
    }
    assert_eq!(claimed.len(), 12, "a job was claimed twice or not at all");
    assert_eq!(claimed.iter().copied().collect::<HashSet<_>>(), all);
    assert_eq!(
        env.count("SELECT COUNT(*) AS n FROM generation_jobs WHERE attempts = 1")
            .await,
        12
    );

    // Two claimers racing for a single job: exactly one wins.
    let single = created(&repo, new_job(alice, "single", None)).await;
    let (a, b) = tokio::join!(repo.claim("x", LEASE), repo.claim("y", LEASE));
    let winners: Vec<_> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
    assert_eq!(winners.len(), 1);
    assert_eq!(winners[0].id, single.id);
}

#[tokio::test]
async fn expired_leases_are_taken_over_and_the_old_worker_loses() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let job = created(&repo, new_job(alice, "takeover", None)).await;
    let first = repo.claim("w1", LEASE).await.unwrap().unwrap();
    assert_eq!(
        repo.checkpoint(
            job.id,
            "w1",
            JobStatus::Executing,
            40,
            &json!({"plan": {"output": 1}}),
            &usage(5)
        )
        .await
        .unwrap(),
        Lease::Held
    );
    // Live lease: not claimable.
    assert_eq!(repo.claim("w2", LEASE).await.unwrap(), None);

    expire_lease(&env, job.id).await;
    let taken = repo.claim("w2", LEASE).await.unwrap().unwrap();
    assert_eq!(taken.id, job.id);
    assert_eq!(taken.attempts, 2);
    assert_eq!(taken.lease_owner.as_deref(), Some("w2"));
    assert_eq!(taken.status, JobStatus::Executing);
    assert_eq!(taken.progress, 40);
    assert_eq!(
        taken.state,
        json!({"plan": {"output": 1}}),
        "the checkpoint survives the takeover"
    );
    assert_eq!(taken.token_usage, usage(5));
    assert_eq!(
        taken.started_at, first.started_at,
        "started_at keeps the first start"
    );

    assert_eq!(repo.renew(job.id, "w1", LEASE).await.unwrap(), Lease::Lost);
    assert_eq!(
        repo.checkpoint(
            job.id,
            "w1",
            JobStatus::Validating,
            70,
            &json!({}),
            &usage(9)
        )
        .await
        .unwrap(),
        Lease::Lost
    );
    assert_eq!(
        repo.fail(job.id, "w1", "6003", "late", &usage(9))
            .await
            .unwrap(),
        None
    );
    let still = repo.get(viewer(alice), job.id).await.unwrap().unwrap();
    assert_eq!(still.status, JobStatus::Executing);
    assert_eq!(still.progress, 40);
    assert_eq!(repo.renew(job.id, "w2", LEASE).await.unwrap(), Lease::Held);
}

#[tokio::test]
async fn final_jobs_are_never_claimed() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let cancelled = created(&repo, new_job(alice, "cancelled", None)).await;
    repo.cancel(viewer(alice), cancelled.id).await.unwrap();
    let failed = created(&repo, new_job(alice, "failed", None)).await;
    repo.claim("w1", LEASE).await.unwrap().unwrap();
    repo.fail(failed.id, "w1", "6000", "bad plan", &usage(2))
        .await
        .unwrap()
        .unwrap();
    // Even with an expired lease and leftover lease fields, final rows stay put.
    env.exec(&format!(
        "UPDATE generation_jobs SET lease_owner = 'w0', lease_expires_at = now() - interval '1 hour' \
         WHERE id IN ('{}', '{}')",
        cancelled.id, failed.id
    ))
    .await;
    env.exec(&format!(
        "INSERT INTO generation_jobs (user_id, request, status) VALUES ('{alice}', '{{}}', 'completed')"
    ))
    .await;
    assert_eq!(repo.claim("w2", LEASE).await.unwrap(), None);
}

#[tokio::test]
async fn renew_extends_and_checkpoint_records_without_touching_the_lease() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let job = created(&repo, new_job(alice, "steps", None)).await;
    let claimed = repo
        .claim("w1", Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    let state = json!({"plan": {"output": {"modules": ["a"]}, "reasoning": "because"}});
    assert_eq!(
        repo.checkpoint(job.id, "w1", JobStatus::Planning, 10, &state, &usage(7))
            .await
            .unwrap(),
        Lease::Held
    );
    let after = repo.get(viewer(alice), job.id).await.unwrap().unwrap();
    assert_eq!(after.status, JobStatus::Planning);
    assert_eq!(after.progress, 10);
    assert_eq!(after.state, state);
    assert_eq!(after.token_usage, usage(7));
    assert_eq!(
        after.lease_expires_at, claimed.lease_expires_at,
        "checkpoint keeps the lease"
    );
    assert!(after.updated_at > job.updated_at);

    assert_eq!(
        repo.renew(job.id, "w1", Duration::from_secs(300))
            .await
            .unwrap(),
        Lease::Held
    );
    let renewed = repo.get(viewer(alice), job.id).await.unwrap().unwrap();
    assert!(renewed.lease_expires_at.unwrap() > claimed.lease_expires_at.unwrap());
    assert_eq!(renewed.lease_owner.as_deref(), Some("w1"));
    assert_eq!(renewed.attempts, 1);

    // Final statuses are reached only through complete / fail / cancel.
    assert!(repo
        .checkpoint(job.id, "w1", JobStatus::Completed, 100, &state, &usage(7))
        .await
        .is_err());
    assert_eq!(
        repo.get(viewer(alice), job.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        JobStatus::Planning
    );

    assert_eq!(
        repo.renew(job.id, "someone", LEASE).await.unwrap(),
        Lease::Lost
    );
    assert_eq!(
        repo.renew(Uuid::new_v4(), "w1", LEASE).await.unwrap(),
        Lease::Lost
    );
    // A cancelled job: the worker learns at its next heartbeat or checkpoint.
    repo.cancel(viewer(alice), job.id).await.unwrap();
    assert_eq!(repo.renew(job.id, "w1", LEASE).await.unwrap(), Lease::Lost);
    assert_eq!(
        repo.checkpoint(job.id, "w1", JobStatus::Executing, 40, &state, &usage(8))
            .await
            .unwrap(),
        Lease::Lost
    );
    let cancelled = repo.get(viewer(alice), job.id).await.unwrap().unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    assert_eq!(cancelled.progress, 10);
}

#[tokio::test]
async fn events_are_ordered_and_paged_by_id() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let a = created(&repo, new_job(alice, "a", None)).await;
    let b = created(&repo, new_job(alice, "b", None)).await;
    let e1 = repo
        .append_event(a.id, "progress", &json!({"progress": 10}))
        .await
        .unwrap();
    let other = repo
        .append_event(b.id, "progress", &json!({"progress": 1}))
        .await
        .unwrap();
    let e2 = repo
        .append_event(a.id, "agent", &json!({"agent": "plan"}))
        .await
        .unwrap();
    let e3 = repo
        .append_event(a.id, "file", &json!({"path": "x"}))
        .await
        .unwrap();
    assert!(e1 < other && other < e2 && e2 < e3);

    let all = repo.events_after(a.id, 0, 100).await.unwrap();
    assert_eq!(all.iter().map(|e| e.id).collect::<Vec<_>>(), [e1, e2, e3]);
    assert_eq!(all[0].kind, "progress");
    assert_eq!(all[0].data, json!({"progress": 10}));
    assert_eq!(all[0].job_id, a.id);
    assert_eq!(all[2].kind, "file");
    let rest = repo.events_after(a.id, e1, 100).await.unwrap();
    assert_eq!(rest.iter().map(|e| e.id).collect::<Vec<_>>(), [e2, e3]);
    let one = repo.events_after(a.id, e1, 1).await.unwrap();
    assert_eq!(one.iter().map(|e| e.id).collect::<Vec<_>>(), [e2]);
    assert!(repo.events_after(a.id, e3, 100).await.unwrap().is_empty());
    assert!(repo.events_after(a.id, 0, 0).await.unwrap().is_empty());

    // Unknown kinds and unknown jobs are refused.
    assert!(repo.append_event(a.id, "bogus", &json!({})).await.is_err());
    assert!(repo
        .append_event(Uuid::new_v4(), "progress", &json!({}))
        .await
        .is_err());
    assert_eq!(repo.events_after(a.id, 0, 100).await.unwrap().len(), 3);
}

#[tokio::test]
async fn complete_creates_a_spec_and_finishes_the_job_atomically() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let specs = PgAppSpecRepository::new(env.pool.clone());
    let job = created(&repo, new_job(alice, "new app", None)).await;
    repo.claim("w1", LEASE).await.unwrap().unwrap();
    repo.checkpoint(
        job.id,
        "w1",
        JobStatus::Generating,
        90,
        &json!({"validate": {}}),
        &usage(50),
    )
    .await
    .unwrap();
    let before = repo.events_after(job.id, 0, 100).await.unwrap().len();

    // Another worker cannot complete it.
    assert_eq!(
        repo.complete(job.id, "intruder", result_for(alice, None, "nope"))
            .await
            .unwrap(),
        CompleteOutcome::NotHeld
    );
    assert_eq!(spec_count(&env).await, 0);

    let CompleteOutcome::Completed {
        app_spec_id: spec_id,
        version: number,
    } = repo
        .complete(job.id, "w1", result_for(alice, None, "generated"))
        .await
        .unwrap()
    else {
        panic!("the lease holder completes the job")
    };
    assert_eq!(number, 1);
    let done = repo.get(viewer(alice), job.id).await.unwrap().unwrap();
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(done.progress, 100);
    assert_eq!(done.app_spec_id, Some(spec_id));
    assert_eq!(done.version_number, Some(1));
    assert_eq!(done.token_usage, usage(100));
    assert_eq!(
        done.result,
        Some(json!({"qualityScore": 88, "ruleScore": 90}))
    );
    assert!(done.finished_at.is_some());
    assert_eq!(done.lease_owner, None);
    assert_eq!(done.lease_expires_at, None);
    assert_eq!(done.state, json!({"validate": {}}));

    let spec = specs.get(viewer(alice), spec_id).await.unwrap().unwrap();
    assert_eq!(spec.owner, alice);
    assert_eq!(spec.version, 1);
    assert_eq!(spec.content, spec_json("generated"));
    assert_eq!(spec.status, SpecStatus::Validated);
    assert_eq!(spec.quality_score, Some(88));
    let v1 = specs
        .version(viewer(alice), spec_id, 1)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(v1.change_type, ChangeType::AiGeneration);

    let events = repo.events_after(job.id, 0, 100).await.unwrap();
    assert_eq!(events.len(), before + 1);
    let last = events.last().unwrap();
    assert_eq!(last.kind, "complete");
    assert_eq!(
        last.data,
        json!({
            "appSpecId": spec_id,
            "versionNumber": 1,
            "qualityScore": 88,
            "tokenUsage": serde_json::to_value(usage(100)).unwrap(),
        })
    );

    // Completing again (a duplicate delivery) writes nothing.
    assert_eq!(
        repo.complete(job.id, "w1", result_for(alice, None, "twice"))
            .await
            .unwrap(),
        CompleteOutcome::NotHeld
    );
    assert_eq!(spec_count(&env).await, 1);
    assert_eq!(
        repo.events_after(job.id, 0, 100).await.unwrap().len(),
        before + 1
    );
}

#[tokio::test]
async fn complete_appends_to_the_target_spec() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let specs = PgAppSpecRepository::new(env.pool.clone());
    let (spec, _) = specs
        .create(TenantId::default(), new_version(alice, "original"))
        .await
        .unwrap();
    specs
        .append_version(viewer(alice), spec.id, None, new_version(alice, "edited"))
        .await
        .unwrap();
    let mut req = new_job(alice, "regenerate", None);
    req.request.app_spec_id = Some(spec.id);
    let job = created(&repo, req).await;
    repo.claim("w1", LEASE).await.unwrap().unwrap();
    let got = repo
        .complete(
            job.id,
            "w1",
            result_for(alice, Some(spec.id), "regenerated"),
        )
        .await
        .unwrap();
    assert_eq!(
        got,
        CompleteOutcome::Completed {
            app_spec_id: spec.id,
            version: 3
        }
    );
    let now = specs.get(viewer(alice), spec.id).await.unwrap().unwrap();
    assert_eq!(now.version, 3);
    assert_eq!(now.content, spec_json("regenerated"));
    assert_eq!(spec_count(&env).await, 1);
    let done = repo.get(viewer(alice), job.id).await.unwrap().unwrap();
    assert_eq!(
        (done.app_spec_id, done.version_number),
        (Some(spec.id), Some(3))
    );
}

#[tokio::test]
async fn complete_with_a_vanished_target_fails_the_job_with_3000() {
    let env = env().await;
    let alice = env.user("alice").await;
    let bob = env.user("bob").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let specs = PgAppSpecRepository::new(env.pool.clone());
    let (gone, _) = specs
        .create(TenantId::default(), new_version(alice, "gone"))
        .await
        .unwrap();
    let (bobs, _) = specs
        .create(TenantId::default(), new_version(bob, "bobs"))
        .await
        .unwrap();
    specs.delete(viewer(alice), gone.id).await.unwrap();

    for target in [gone.id, bobs.id] {
        let job = created(&repo, new_job(alice, &format!("regen {target}"), None)).await;
        repo.claim("w1", LEASE).await.unwrap().unwrap();
        assert_eq!(
            repo.complete(job.id, "w1", result_for(alice, Some(target), "x"))
                .await
                .unwrap(),
            CompleteOutcome::Failed(JobFailure::new("3000", "app spec not found"))
        );
        let failed = repo.get(viewer(alice), job.id).await.unwrap().unwrap();
        assert_eq!(failed.status, JobStatus::Failed);
        assert_eq!(failed.error_code.as_deref(), Some("3000"));
        assert!(failed.finished_at.is_some());
        assert_eq!(failed.app_spec_id, None);
        let last = repo
            .events_after(job.id, 0, 100)
            .await
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!(last.kind, "error");
        assert_eq!(last.data["code"], "3000");
    }
    // Bob's spec was not touched through Alice's job.
    let b = specs.get(viewer(bob), bobs.id).await.unwrap().unwrap();
    assert_eq!(b.version, 1);
    assert_eq!(spec_count(&env).await, 1);
}

#[tokio::test]
async fn complete_after_takeover_or_cancel_writes_nothing() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let job = created(&repo, new_job(alice, "lost", None)).await;
    repo.claim("w1", LEASE).await.unwrap().unwrap();
    expire_lease(&env, job.id).await;
    repo.claim("w2", LEASE).await.unwrap().unwrap();
    let events = repo.events_after(job.id, 0, 100).await.unwrap().len();
    assert_eq!(
        repo.complete(job.id, "w1", result_for(alice, None, "stale"))
            .await
            .unwrap(),
        CompleteOutcome::NotHeld
    );
    assert_eq!(spec_count(&env).await, 0);
    assert_eq!(
        repo.events_after(job.id, 0, 100).await.unwrap().len(),
        events
    );
    assert_eq!(
        repo.get(viewer(alice), job.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        JobStatus::Pending
    );

    // The owner cancels while w2 runs: w2's completion is dropped.
    repo.cancel(viewer(alice), job.id).await.unwrap();
    assert_eq!(
        repo.complete(job.id, "w2", result_for(alice, None, "too late"))
            .await
            .unwrap(),
        CompleteOutcome::NotHeld
    );
    assert_eq!(spec_count(&env).await, 0);
    let job = repo.get(viewer(alice), job.id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Cancelled);
    assert_eq!(job.app_spec_id, None);
}

#[tokio::test]
async fn fail_transitions_once_and_logs_the_error() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let job = created(&repo, new_job(alice, "failing", None)).await;
    repo.claim("w1", LEASE).await.unwrap().unwrap();
    repo.checkpoint(
        job.id,
        "w1",
        JobStatus::Executing,
        40,
        &json!({"plan": {}}),
        &usage(3),
    )
    .await
    .unwrap();
    assert_eq!(
        repo.fail(job.id, "w2", "6001", "nope", &usage(4))
            .await
            .unwrap(),
        None
    );

    let failed = repo
        .fail(
            job.id,
            "w1",
            "6001",
            "execute agent returned an unusable answer",
            &usage(4),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.error_code.as_deref(), Some("6001"));
    assert_eq!(
        failed.error_message.as_deref(),
        Some("execute agent returned an unusable answer")
    );
    assert_eq!(failed.token_usage, usage(4));
    assert_eq!(failed.progress, 40, "progress is kept");
    assert!(failed.finished_at.is_some());
    assert_eq!(failed.quota_reservation.as_deref(), Some("res-failing"));
    assert_eq!(repo.get(viewer(alice), job.id).await.unwrap(), Some(failed));

    let events = repo.events_after(job.id, 0, 100).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, "error");
    assert_eq!(
        events[0].data,
        json!({"code": "6001", "message": "execute agent returned an unusable answer"})
    );
    // A second failure (e.g. a retry of the same call) does not transition again.
    assert_eq!(
        repo.fail(job.id, "w1", "6001", "again", &usage(5))
            .await
            .unwrap(),
        None
    );
    assert_eq!(repo.events_after(job.id, 0, 100).await.unwrap().len(), 1);
}

#[tokio::test]
async fn cancel_is_scoped_and_happens_once() {
    let env = env().await;
    let alice = env.user("alice").await;
    let bob = env.user("bob").await;
    let boss = env.user("boss").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let job = created(&repo, new_job(alice, "cancel me", None)).await;
    assert_eq!(
        repo.cancel(viewer(bob), job.id).await.unwrap(),
        CancelOutcome::NotFound
    );
    assert_eq!(
        repo.cancel(viewer(alice), Uuid::new_v4()).await.unwrap(),
        CancelOutcome::NotFound
    );
    assert_eq!(
        repo.get(viewer(alice), job.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        JobStatus::Pending
    );

    let cancelled = match repo.cancel(viewer(alice), job.id).await.unwrap() {
        CancelOutcome::Cancelled(j) => j,
        other => panic!("{other:?}"),
    };
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    assert_eq!(cancelled.error_code, None);
    assert_eq!(
        cancelled.error_message.as_deref(),
        Some("cancelled by user")
    );
    assert!(cancelled.finished_at.is_some());
    assert_eq!(
        cancelled.quota_reservation.as_deref(),
        Some("res-cancel me")
    );
    let events = repo.events_after(job.id, 0, 100).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, "error");
    assert_eq!(
        events[0].data,
        json!({"code": "cancelled", "message": "cancelled by user"})
    );

    match repo.cancel(viewer(alice), job.id).await.unwrap() {
        CancelOutcome::AlreadyFinished(j) => assert_eq!(j, cancelled),
        other => panic!("{other:?}"),
    }
    assert_eq!(repo.events_after(job.id, 0, 100).await.unwrap().len(), 1);

    // An admin of the tenant may cancel anyone's running job.
    let running = created(&repo, new_job(alice, "running", None)).await;
    repo.claim("w1", LEASE).await.unwrap().unwrap();
    match repo.cancel(admin(boss), running.id).await.unwrap() {
        CancelOutcome::Cancelled(j) => assert_eq!(j.user_id, alice),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        repo.renew(running.id, "w1", LEASE).await.unwrap(),
        Lease::Lost
    );
    assert_eq!(
        repo.fail(running.id, "w1", "6003", "x", &usage(1))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn list_shows_the_viewers_own_jobs_with_a_status_filter() {
    let env = env().await;
    let alice = env.user("alice").await;
    let bob = env.user("bob").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let mut ids = Vec::new();
    for i in 0..4 {
        let j = created(&repo, new_job(alice, &format!("job {i}"), None)).await;
        env.exec(&format!(
            "UPDATE generation_jobs SET created_at = '2024-02-0{} 00:00:00+00' WHERE id = '{}'",
            i + 1,
            j.id
        ))
        .await;
        ids.push(j.id);
    }
    created(&repo, new_job(bob, "bobs", None)).await;
    repo.cancel(viewer(alice), ids[1]).await.unwrap();

    let page = repo
        .list(viewer(alice), None, PageRequest::new(1, 3).unwrap())
        .await
        .unwrap();
    assert_eq!(page.total, 4);
    assert_eq!(page.pages, 2);
    assert_eq!(
        page.records.iter().map(|j| j.id).collect::<Vec<_>>(),
        [ids[3], ids[2], ids[1]]
    );
    let page2 = repo
        .list(viewer(alice), None, PageRequest::new(2, 3).unwrap())
        .await
        .unwrap();
    assert_eq!(
        page2.records.iter().map(|j| j.id).collect::<Vec<_>>(),
        [ids[0]]
    );

    let pending = repo
        .list(
            viewer(alice),
            Some(JobStatus::Pending),
            PageRequest::new(1, 10).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(pending.total, 3);
    assert!(pending
        .records
        .iter()
        .all(|j| j.status == JobStatus::Pending));
    let cancelled = repo
        .list(
            viewer(alice),
            Some(JobStatus::Cancelled),
            PageRequest::new(1, 10).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        cancelled.records.iter().map(|j| j.id).collect::<Vec<_>>(),
        [ids[1]]
    );

    // Admins list their own jobs too.
    let bobs = repo
        .list(admin(bob), None, PageRequest::new(1, 10).unwrap())
        .await
        .unwrap();
    assert_eq!(bobs.total, 1);
    assert_eq!(bobs.records[0].user_id, bob);
}

#[tokio::test]
async fn token_usage_tolerates_empty_and_partial_json() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let job = created(&repo, new_job(alice, "usage", None)).await;
    assert_eq!(job.token_usage, TokenUsage::default());
    env.exec(&format!(
        "UPDATE generation_jobs SET token_usage = '{{\"totalTokens\": 12}}' WHERE id = '{}'",
        job.id
    ))
    .await;
    let read = repo.get(viewer(alice), job.id).await.unwrap().unwrap();
    assert_eq!(
        read.token_usage,
        TokenUsage {
            total_tokens: 12,
            ..TokenUsage::default()
        }
    );
}

#[tokio::test]
async fn listeners_hear_new_jobs_and_events_from_any_connection() {
    use ingenio_postgres::notify::JobWakeups;
    use std::sync::Arc;
    use tokio::sync::Notify;
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let jobs = Arc::new(Notify::new());
    let wakeups = JobWakeups::start(env.db.url.clone(), jobs.clone());
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while !wakeups.is_listening() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "listener never connected"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let job = created(&repo, new_job(alice, "heard", None)).await;
    tokio::time::timeout(std::time::Duration::from_secs(20), jobs.notified())
        .await
        .expect("a new job wakes a worker");
    let other = created(&repo, new_job(alice, "unrelated", None)).await;
    let watch = wakeups.watch(job.id);
    let unrelated = wakeups.watch(other.id);
    assert_eq!(wakeups.watching(), 2);
    repo.append_event(job.id, "progress", &json!({"progress": 10}))
        .await
        .unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(20), watch.changed())
        .await
        .expect("an event notification wakes the job's watcher");
    // The other job's watcher was not woken (a wake-up would already be stored as a permit, as
    // one notification wakes all of a job's watchers in one pass).
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(50), unrelated.changed())
            .await
            .is_err(),
        "an unrelated job's event woke a watcher"
    );
    repo.append_event(other.id, "progress", &json!({"progress": 10}))
        .await
        .unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(20), unrelated.changed())
        .await
        .expect("its own event wakes it");
    drop((watch, unrelated));
    assert_eq!(wakeups.watching(), 0, "dropped watches unregister");
    // Without a listener nothing is heard and callers are told to poll.
    let detached = JobWakeups::detached(Arc::new(Notify::new()));
    assert!(!detached.is_listening());
}

#[tokio::test]
async fn find_by_key_sees_only_the_owners_job() {
    let env = env().await;
    let alice = env.user("alice").await;
    let bob = env.user("bob").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let job = created(&repo, new_job(alice, "keyed", Some("k-1"))).await;
    let found = repo.find_by_key(viewer(alice), "k-1").await.unwrap();
    assert_eq!(found.map(|j| j.id), Some(job.id));
    assert!(repo
        .find_by_key(viewer(bob), "k-1")
        .await
        .unwrap()
        .is_none());
    assert!(repo
        .find_by_key(viewer(alice), "k-2")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn release_hands_a_held_job_to_the_next_claim_at_once() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let job = created(&repo, new_job(alice, "handover", None)).await;
    repo.claim("w1", LEASE).await.unwrap().unwrap();
    assert!(
        repo.claim("w2", LEASE).await.unwrap().is_none(),
        "lease is live"
    );
    assert!(
        !repo.release(job.id, "w2").await.unwrap(),
        "only the holder releases"
    );
    assert!(repo.release(job.id, "w1").await.unwrap());
    let taken = repo.claim("w2", LEASE).await.unwrap().unwrap();
    assert_eq!((taken.id, taken.attempts), (job.id, 2));
    // the old holder can no longer write
    assert_eq!(repo.renew(job.id, "w1", LEASE).await.unwrap(), Lease::Lost);
}

#[tokio::test]
async fn purge_events_removes_only_old_finished_jobs_events() {
    use ingenio_kernel::chrono::{Duration as ChronoDuration, Utc};
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let done = created(&repo, new_job(alice, "done", None)).await;
    repo.claim("w1", LEASE).await.unwrap().unwrap();
    repo.fail(done.id, "w1", "6003", "gone", &usage(1))
        .await
        .unwrap()
        .unwrap();
    let running = created(&repo, new_job(alice, "running", None)).await;
    repo.claim("w2", LEASE).await.unwrap().unwrap();
    repo.append_event(running.id, "progress", &json!({"progress": 10}))
        .await
        .unwrap();
    assert!(!repo.events_after(done.id, 0, 100).await.unwrap().is_empty());

    // Finished just now: a cut-off a day ago keeps everything.
    let day_ago = Utc::now() - ChronoDuration::days(1);
    assert_eq!(repo.purge_events(day_ago).await.unwrap(), 0);
    // A cut-off in the future removes the finished job's events only.
    let later = Utc::now() + ChronoDuration::minutes(1);
    assert!(repo.purge_events(later).await.unwrap() >= 1);
    assert!(repo.events_after(done.id, 0, 100).await.unwrap().is_empty());
    assert_eq!(
        repo.events_after(running.id, 0, 100).await.unwrap().len(),
        1
    );
    let kept = repo.get(viewer(alice), done.id).await.unwrap().unwrap();
    assert_eq!(
        kept.error_code.as_deref(),
        Some("6003"),
        "the job row stays"
    );
}
