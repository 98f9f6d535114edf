//! Tests of `PgJobRepository` against a migrated database: idempotent enqueue, claiming with
//! leases, takeover and the attempt limit, checkpoints with their events, the typed event log,
//! failure and cancellation (how a job ends successfully is in `jobs_completion`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::{
    admin, agent_checkpoint, created, env, expire_lease, new_job, other_tenant, request, run,
    usage, viewer, Env, LEASE,
};
use ingenio_app_specs::job::{
    AgentRun, EventKind, GenerationJob, JobEventData, JobState, JobStatus, Step, MAX_ATTEMPTS,
};
use ingenio_app_specs::ports::{CancelOutcome, Claim, CreateJob, JobRepository, Lease, Viewer};
use ingenio_app_specs::{FailureCode, JobFailure, TokenUsage};
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::{PageRequest, TenantId, UserId};
use ingenio_postgres::jobs::PgJobRepository;
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

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
    assert_eq!(job.state, JobState::default());
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
    assert_eq!(run(&repo, "w1").await, None);
    let older = created(&repo, new_job(alice, "older", None)).await;
    let newer = created(&repo, new_job(alice, "newer", None)).await;
    env.exec(&format!(
        "UPDATE generation_jobs SET created_at = now() - interval '1 hour' WHERE id = '{}'",
        older.id
    ))
    .await;

    let got = run(&repo, "w1").await.unwrap();
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
    let second = run(&repo, "w2").await.unwrap();
    assert_eq!(second.id, newer.id);
    assert_eq!(run(&repo, "w3").await, None);
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
                    let Some(job) = run(&repo, &format!("w{w}")).await else {
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
    let (a, b) = tokio::join!(run(&repo, "x"), run(&repo, "y"));
    let winners: Vec<_> = [a, b].into_iter().flatten().collect();
    assert_eq!(winners.len(), 1);
    assert_eq!(winners[0].id, single.id);
}

#[tokio::test]
async fn expired_leases_are_taken_over_and_the_old_worker_loses() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let job = created(&repo, new_job(alice, "takeover", None)).await;
    let first = run(&repo, "w1").await.unwrap();
    assert_eq!(
        repo.checkpoint(
            job.id,
            "w1",
            JobStatus::Executing,
            40,
            &planned(),
            &usage(5),
            &[],
        )
        .await
        .unwrap(),
        Lease::Held
    );
    // Live lease: not claimable.
    assert_eq!(run(&repo, "w2").await, None);

    expire_lease(&env, job.id).await;
    let taken = run(&repo, "w2").await.unwrap();
    assert_eq!(taken.id, job.id);
    assert_eq!(taken.attempts, 2);
    assert_eq!(taken.lease_owner.as_deref(), Some("w2"));
    assert_eq!(taken.status, JobStatus::Executing);
    assert_eq!(taken.progress, 40);
    assert_eq!(
        taken.state,
        planned(),
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
            &JobState::default(),
            &usage(9),
            &[],
        )
        .await
        .unwrap(),
        Lease::Lost
    );
    assert_eq!(
        repo.fail(
            job.id,
            "w1",
            &JobFailure::new(FailureCode::AiProvider, "late"),
            &usage(9)
        )
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
    let failed = failed_job(&repo, alice, "failed", FailureCode::PlanFailed).await;
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
    assert_eq!(run(&repo, "w2").await, None);
}

#[tokio::test]
async fn renew_extends_and_checkpoint_records_without_touching_the_lease() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let job = created(&repo, new_job(alice, "steps", None)).await;
    let claimed = repo
        .claim("w1", Duration::from_secs(5), MAX_ATTEMPTS)
        .await
        .unwrap();
    let Some(Claim::Run(claimed)) = claimed else {
        panic!("{claimed:?}")
    };
    let state = planned();
    assert_eq!(
        repo.checkpoint(
            job.id,
            "w1",
            JobStatus::Planning,
            10,
            &state,
            &usage(7),
            &[]
        )
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
        .checkpoint(
            job.id,
            "w1",
            JobStatus::Completed,
            100,
            &state,
            &usage(7),
            &[]
        )
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
        repo.checkpoint(
            job.id,
            "w1",
            JobStatus::Executing,
            40,
            &state,
            &usage(8),
            &[]
        )
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
        .append_events(a.id, &[JobEventData::status(JobStatus::Planning, 10)])
        .await
        .unwrap();
    let other = repo
        .append_events(b.id, &[JobEventData::status(JobStatus::Planning, 1)])
        .await
        .unwrap();
    let e2 = repo
        .append_events(a.id, &[agent_event(Step::Plan, AgentRun::Running)])
        .await
        .unwrap();
    let e3 = repo
        .append_events(a.id, &[file_event("pages/index.vue")])
        .await
        .unwrap();
    assert!(e1 < other && other < e2 && e2 < e3);

    let all = repo.events_after(a.id, 0, 100).await.unwrap();
    assert_eq!(all.iter().map(|e| e.id).collect::<Vec<_>>(), [e1, e2, e3]);
    assert_eq!(
        all.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [EventKind::Progress, EventKind::Agent, EventKind::File]
    );
    assert_eq!(all[0].data, json!({"status": "planning", "progress": 10}));
    assert_eq!(all[0].job_id, a.id);
    assert_eq!(all[2].data, file_event("pages/index.vue").to_value());
    let rest = repo.events_after(a.id, e1, 100).await.unwrap();
    assert_eq!(rest.iter().map(|e| e.id).collect::<Vec<_>>(), [e2, e3]);
    let one = repo.events_after(a.id, e1, 1).await.unwrap();
    assert_eq!(one.iter().map(|e| e.id).collect::<Vec<_>>(), [e2]);
    assert!(repo.events_after(a.id, e3, 100).await.unwrap().is_empty());
    assert!(repo.events_after(a.id, 0, 0).await.unwrap().is_empty());

    // Unknown jobs are refused.
    assert!(repo
        .append_events(
            Uuid::new_v4(),
            &[JobEventData::status(JobStatus::Planning, 1)]
        )
        .await
        .is_err());
    assert_eq!(repo.events_after(a.id, 0, 100).await.unwrap().len(), 3);
}

#[tokio::test]
async fn fail_transitions_once_and_logs_the_error() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let job = created(&repo, new_job(alice, "failing", None)).await;
    run(&repo, "w1").await.unwrap();
    repo.checkpoint(
        job.id,
        "w1",
        JobStatus::Executing,
        40,
        &planned(),
        &usage(3),
        &[],
    )
    .await
    .unwrap();
    assert_eq!(
        repo.fail(
            job.id,
            "w2",
            &JobFailure::new(FailureCode::ExecuteFailed, "nope"),
            &usage(4)
        )
        .await
        .unwrap(),
        None
    );

    let failed = repo
        .fail(
            job.id,
            "w1",
            &JobFailure::new(
                FailureCode::ExecuteFailed,
                "execute agent returned an unusable answer",
            ),
            &usage(4),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.error_code, Some(FailureCode::ExecuteFailed));
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
    assert_eq!(events[0].kind, EventKind::Error);
    assert_eq!(
        events[0].data,
        json!({"code": "6001", "message": "execute agent returned an unusable answer"})
    );
    // A second failure (e.g. a retry of the same call) does not transition again.
    assert_eq!(
        repo.fail(
            job.id,
            "w1",
            &JobFailure::new(FailureCode::ExecuteFailed, "again"),
            &usage(5)
        )
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
    assert_eq!(events[0].kind, EventKind::Error);
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
    run(&repo, "w1").await.unwrap();
    match repo.cancel(admin(boss), running.id).await.unwrap() {
        CancelOutcome::Cancelled(j) => assert_eq!(j.user_id, alice),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        repo.renew(running.id, "w1", LEASE).await.unwrap(),
        Lease::Lost
    );
    assert_eq!(
        repo.fail(
            running.id,
            "w1",
            &JobFailure::new(FailureCode::AiProvider, "x"),
            &usage(1)
        )
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
    repo.append_events(job.id, &[JobEventData::status(JobStatus::Planning, 10)])
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
    repo.append_events(other.id, &[JobEventData::status(JobStatus::Planning, 10)])
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
    run(&repo, "w1").await.unwrap();
    assert!(run(&repo, "w2").await.is_none(), "lease is live");
    assert!(
        !repo.release(job.id, "w2").await.unwrap(),
        "only the holder releases"
    );
    assert!(repo.release(job.id, "w1").await.unwrap());
    let taken = run(&repo, "w2").await.unwrap();
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
    let done = failed_job(&repo, alice, "done", FailureCode::AiProvider).await;
    let running = created(&repo, new_job(alice, "running", None)).await;
    run(&repo, "w2").await.unwrap();
    repo.append_events(running.id, &[JobEventData::status(JobStatus::Planning, 10)])
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
        kept.error_code,
        Some(FailureCode::AiProvider),
        "the job row stays"
    );
}

/// A job state after the plan step.
fn planned() -> JobState {
    JobState {
        plan: Some(agent_checkpoint(json!({"modules": ["a"]}), 4)),
        ..JobState::default()
    }
}

fn agent_event(agent: Step, state: AgentRun) -> JobEventData {
    JobEventData::Agent {
        agent,
        state,
        reasoning: Some("因为这样".to_owned()),
        usage: Some(usage(3)),
    }
}

fn file_event(path: &str) -> JobEventData {
    JobEventData::File {
        path: path.to_owned(),
        size: 321,
        group: path.split('/').next().unwrap_or("root").to_owned(),
    }
}

/// Claims the next job as `worker` with a limit of `max`, then lets its lease expire.
async fn attempt(env: &Env, repo: &PgJobRepository, worker: &str, max: i32) -> Claim {
    let claim = repo.claim(worker, LEASE, max).await.unwrap().unwrap();
    let id = match &claim {
        Claim::Run(j) | Claim::GaveUp(j) => j.id,
    };
    expire_lease(env, id).await;
    claim
}

#[tokio::test]
async fn claim_at_max_attempts_fails_the_job_for_good() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let doomed = created(&repo, new_job(alice, "doomed", None)).await;
    let younger = created(&repo, new_job(alice, "younger", None)).await;
    env.exec(&format!(
        "UPDATE generation_jobs SET created_at = now() - interval '1 hour' WHERE id = '{}'",
        doomed.id
    ))
    .await;

    // Below the limit: handed out again, one more attempt each time.
    for n in 1..=2 {
        match attempt(&env, &repo, &format!("w{n}"), 2).await {
            Claim::Run(j) => {
                assert_eq!((j.id, j.attempts), (doomed.id, n));
                assert_eq!(j.lease_owner, Some(format!("w{n}")));
            }
            other => panic!("attempt {n}: {other:?}"),
        }
    }
    assert_eq!(repo.events_after(doomed.id, 0, 100).await.unwrap(), []);

    // At the limit: failed for good in the claim itself.
    let Claim::GaveUp(gave_up) = repo.claim("w3", LEASE, 2).await.unwrap().unwrap() else {
        panic!("the third claim must give up")
    };
    assert_eq!(gave_up.id, doomed.id);
    assert_eq!(gave_up.status, JobStatus::Failed);
    assert_eq!(gave_up.error_code, Some(FailureCode::System));
    assert_eq!(
        gave_up.error_message.as_deref(),
        Some("gave up after 2 attempts")
    );
    assert_eq!(gave_up.attempts, 2, "giving up is not an attempt");
    assert_eq!(
        (gave_up.lease_owner, gave_up.lease_expires_at),
        (None, None)
    );
    assert!(gave_up.finished_at.is_some());
    assert_eq!(
        gave_up.quota_reservation.as_deref(),
        Some("res-doomed"),
        "the caller settles the reservation"
    );
    let stored = repo.get(viewer(alice), doomed.id).await.unwrap().unwrap();
    assert_eq!(stored.status, JobStatus::Failed);
    assert_eq!(stored.lease_owner, None);
    let events = repo.events_after(doomed.id, 0, 100).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::Error);
    assert_eq!(
        events[0].data,
        json!({"code": "1000", "message": "gave up after 2 attempts"})
    );

    // The failed job is never handed out again; the next claim takes the younger job.
    let next = run(&repo, "w4").await.unwrap();
    assert_eq!((next.id, next.attempts), (younger.id, 1));
    assert_eq!(run(&repo, "w5").await, None);
}

#[tokio::test]
async fn a_failing_error_event_keeps_the_job_claimable() {
    // The give-up and its `error` event are one transaction: when the event cannot be written,
    // the job is not failed either.
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let job = created(&repo, new_job(alice, "stuck", None)).await;
    attempt(&env, &repo, "w1", 1).await;
    refuse_events(&env, "error").await;
    assert!(repo.claim("w2", LEASE, 1).await.is_err());
    let still = repo.get(viewer(alice), job.id).await.unwrap().unwrap();
    assert_eq!(still.status, JobStatus::Pending);
    assert_eq!(still.error_code, None);
    allow_events(&env).await;
    assert!(matches!(
        repo.claim("w2", LEASE, 1).await.unwrap(),
        Some(Claim::GaveUp(j)) if j.id == job.id
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claimers_give_a_job_up_once() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = Arc::new(PgJobRepository::new(env.pool.clone()));
    for round in 0..5 {
        let job = created(&repo, new_job(alice, &format!("limit {round}"), None)).await;
        attempt(&env, &repo, "w0", 1).await;
        let claims: Vec<_> = (0..3)
            .map(|w| {
                let repo = repo.clone();
                tokio::spawn(async move { repo.claim(&format!("w{w}"), LEASE, 1).await.unwrap() })
            })
            .collect();
        let mut got = Vec::new();
        for c in claims {
            got.extend(c.await.unwrap());
        }
        assert!(
            matches!(got.as_slice(), [Claim::GaveUp(j)] if j.id == job.id),
            "{got:?}"
        );
        let errors = repo.events_after(job.id, 0, 100).await.unwrap();
        assert_eq!(errors.len(), 1, "one error event, however many claimers");
    }
}

/// Makes inserting events of `kind` fail (as a full disk or a lost connection would).
async fn refuse_events(env: &Env, kind: &str) {
    env.exec(&format!(
        "CREATE FUNCTION refuse_event() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN RAISE EXCEPTION 'event refused'; END $$; \
         CREATE TRIGGER refuse_event BEFORE INSERT ON generation_job_events \
         FOR EACH ROW WHEN (NEW.kind = '{kind}') EXECUTE FUNCTION refuse_event();"
    ))
    .await;
}

async fn allow_events(env: &Env) {
    env.exec("DROP TRIGGER refuse_event ON generation_job_events; DROP FUNCTION refuse_event();")
        .await;
}

#[tokio::test]
async fn checkpoint_appends_its_events_in_the_same_transaction() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let job = created(&repo, new_job(alice, "with events", None)).await;
    run(&repo, "w1").await.unwrap();
    let events = [
        agent_event(Step::Plan, AgentRun::Completed),
        JobEventData::status(JobStatus::Executing, 40),
        agent_event(Step::Execute, AgentRun::Running),
    ];
    assert_eq!(
        repo.checkpoint(
            job.id,
            "w1",
            JobStatus::Executing,
            40,
            &planned(),
            &usage(4),
            &events
        )
        .await
        .unwrap(),
        Lease::Held
    );
    let stored = repo.events_after(job.id, 0, 100).await.unwrap();
    assert_eq!(
        stored.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [EventKind::Agent, EventKind::Progress, EventKind::Agent]
    );
    assert_eq!(
        stored.iter().map(|e| e.data.clone()).collect::<Vec<_>>(),
        events
            .iter()
            .map(JobEventData::to_value)
            .collect::<Vec<_>>()
    );
    assert!(stored.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(
        stored[1].data,
        json!({"status": "executing", "progress": 40})
    );

    // An event that cannot be written undoes the checkpoint too.
    refuse_events(&env, "file").await;
    let validated = JobState {
        execute: Some(agent_checkpoint(json!({"appName": "Quiz"}), 6)),
        ..planned()
    };
    assert!(repo
        .checkpoint(
            job.id,
            "w1",
            JobStatus::Validating,
            70,
            &validated,
            &usage(6),
            &[
                JobEventData::status(JobStatus::Validating, 70),
                file_event("x.vue")
            ]
        )
        .await
        .is_err());
    let kept = repo.get(viewer(alice), job.id).await.unwrap().unwrap();
    assert_eq!(
        (kept.status, kept.progress, kept.state, kept.token_usage),
        (JobStatus::Executing, 40, planned(), usage(4))
    );
    assert_eq!(repo.events_after(job.id, 0, 100).await.unwrap().len(), 3);
    allow_events(&env).await;

    // A lost lease writes neither the checkpoint nor its events.
    expire_lease(&env, job.id).await;
    run(&repo, "w2").await.unwrap();
    assert_eq!(
        repo.checkpoint(
            job.id,
            "w1",
            JobStatus::Validating,
            70,
            &validated,
            &usage(6),
            &[JobEventData::status(JobStatus::Validating, 70)]
        )
        .await
        .unwrap(),
        Lease::Lost
    );
    assert_eq!(repo.events_after(job.id, 0, 100).await.unwrap().len(), 3);
    assert_eq!(
        repo.get(viewer(alice), job.id)
            .await
            .unwrap()
            .unwrap()
            .state,
        planned()
    );
}

#[tokio::test]
async fn append_events_writes_a_batch_in_order_and_returns_the_last_id() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let job = created(&repo, new_job(alice, "batch", None)).await;
    let first = repo
        .append_events(job.id, &[JobEventData::status(JobStatus::Generating, 90)])
        .await
        .unwrap();
    let batch: Vec<JobEventData> = ["App.vue", "pages/index.vue", "pages/quiz.vue", "main.js"]
        .into_iter()
        .map(file_event)
        .collect();
    let last = repo.append_events(job.id, &batch).await.unwrap();
    let stored = repo.events_after(job.id, first, 100).await.unwrap();
    assert_eq!(stored.len(), 4);
    assert_eq!(
        stored.last().unwrap().id,
        last,
        "the returned id is the last one"
    );
    assert!(stored.windows(2).all(|w| w[0].id < w[1].id), "{stored:?}");
    assert!(stored.iter().all(|e| e.kind == EventKind::File));
    assert_eq!(
        stored
            .iter()
            .map(|e| e.data["path"].clone())
            .collect::<Vec<_>>(),
        ["App.vue", "pages/index.vue", "pages/quiz.vue", "main.js"]
    );
    assert_eq!(stored[1].data["group"], "pages");
    assert_eq!(stored[0].data["size"], 321);
    // An empty batch writes nothing.
    assert_eq!(repo.append_events(job.id, &[]).await.unwrap(), 0);
    assert_eq!(repo.events_after(job.id, 0, 100).await.unwrap().len(), 5);

    // Every kind is read back as its typed kind, with its payload as written.
    let done = JobEventData::Complete {
        app_spec_id: Uuid::new_v4(),
        version_number: 2,
        quality_score: Some(91),
        usage: usage(9),
        code: None,
    };
    let error = JobEventData::Error {
        code: FailureCode::UploadFailed,
        message: "对象存储不可用".to_owned(),
    };
    let agent = agent_event(Step::Validate, AgentRun::Skipped);
    let after = repo
        .append_events(job.id, &[agent.clone(), done.clone(), error.clone()])
        .await
        .unwrap();
    let tail = repo.events_after(job.id, last, 100).await.unwrap();
    assert_eq!(tail.last().unwrap().id, after);
    assert_eq!(
        tail.iter()
            .map(|e| (e.kind, e.data.clone()))
            .collect::<Vec<_>>(),
        [
            (EventKind::Agent, agent.to_value()),
            (EventKind::Complete, done.to_value()),
            (EventKind::Error, error.to_value()),
        ]
    );
    assert_eq!(tail[2].data["code"], "7000");
}

/// A job claimed by `w1` and failed with `code`.
async fn failed_job(
    repo: &PgJobRepository,
    user: UserId,
    text: &str,
    code: FailureCode,
) -> GenerationJob {
    let job = created(repo, new_job(user, text, None)).await;
    run(repo, "w1").await.unwrap();
    let failure = JobFailure::new(code, format!("{text} failed"));
    repo.fail(job.id, "w1", &failure, &usage(1))
        .await
        .unwrap()
        .unwrap()
}
