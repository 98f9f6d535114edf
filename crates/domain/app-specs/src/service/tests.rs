//! Unit tests of `AppSpecService` on the in-memory fakes: CRUD and viewer scoping, the time
//! machine (versions, stale edits, diff, rollback) and the acceptance side of generation (quota,
//! idempotency, render jobs, cancel with the refund rule).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::jobs::{EventKind, Pipeline, RunOutcome, Step, MAX_ATTEMPTS};
use crate::ports::Claim;
use crate::spec::fixtures::sample;
use crate::testing::{
    FakeBuilder, InMemoryQuota, InMemoryStore, ScriptedGenerator, DEFAULT_USAGE, QUOTA_RESET_AFTER,
};
use ingenio_kernel::{TenantId, UserId};
use serde_json::json;
use std::time::Duration;

struct Harness {
    store: InMemoryStore,
    quota: Arc<InMemoryQuota>,
    builder: Arc<FakeBuilder>,
    service: AppSpecService,
    tenant: TenantId,
    user: UserId,
}

fn harness(limit: u32) -> Harness {
    harness_with(limit, true)
}

fn harness_with(limit: u32, quota_enabled: bool) -> Harness {
    let store = InMemoryStore::new();
    let quota = Arc::new(InMemoryQuota::new());
    let service = AppSpecService::new(
        Arc::new(store.specs()),
        Arc::new(store.jobs()),
        quota.clone(),
        AppSpecConfig {
            quota_enabled,
            ai_calls_per_hour: limit,
            limits: crate::limits::SpecLimits::default(),
        },
    );
    Harness {
        store,
        quota,
        builder: Arc::new(FakeBuilder::new()),
        service,
        tenant: TenantId::default(),
        user: UserId::new_random(),
    }
}

fn request(app_spec_id: Option<Uuid>) -> JobRequest {
    JobRequest {
        kind: JobKind::Generate,
        requirement: "  a vocabulary quiz for primary school pupils \n".to_owned(),
        age_group: None,
        magic_prompt_id: None,
        variables: Value::Null,
        app_spec_id,
        version: None,
        renderer: None,
        quality_threshold: 80,
    }
}

fn renamed(name: &str) -> Value {
    let mut v = sample();
    v["appName"] = json!(name);
    v
}

impl Harness {
    fn me(&self) -> Viewer {
        Viewer {
            tenant: self.tenant,
            user: self.user,
            admin: false,
        }
    }

    fn stranger(&self) -> Viewer {
        Viewer {
            tenant: self.tenant,
            user: UserId::new_random(),
            admin: false,
        }
    }

    async fn created(&self) -> Uuid {
        let (view, _) = self
            .service
            .create(self.me(), sample(), None)
            .await
            .unwrap();
        view.spec.id
    }

    /// Claims the next job as `worker` and runs it with default agent answers.
    async fn run_next(&self, worker: &str) -> RunOutcome {
        self.run_next_with(worker, Arc::new(ScriptedGenerator::new()))
            .await
    }

    /// Claims the next job as `worker` and runs it with `generator`, the harness's builder and
    /// quota.
    async fn run_next_with(&self, worker: &str, generator: Arc<ScriptedGenerator>) -> RunOutcome {
        let jobs = Arc::new(self.store.jobs());
        let claim = jobs
            .claim(worker, Duration::from_secs(30), MAX_ATTEMPTS)
            .await
            .unwrap();
        let Some(Claim::Run(job)) = claim else {
            panic!("nothing to run: {claim:?}");
        };
        let pipeline = Pipeline {
            jobs,
            generator,
            specs: Arc::new(self.store.specs()),
            builder: self.builder.clone(),
            quota: self.quota.clone(),
            limits: crate::limits::SpecLimits::default(),
            listener: None,
        };
        pipeline.run_claimed(&job, worker).await
    }
}

#[tokio::test]
async fn create_stores_version_1_as_a_draft_user_edit() {
    let h = harness(5);
    let (view, v1) = h.service.create(h.me(), sample(), None).await.unwrap();
    assert_eq!(view.spec.version, 1);
    assert_eq!(view.spec.status, SpecStatus::Draft);
    assert_eq!(view.spec.owner, h.user);
    assert_eq!(view.spec.quality_score, Some(100));
    assert_eq!(view.report.rule_score, 100);
    assert_eq!(v1.version_number, 1);
    assert_eq!(v1.change_type, ChangeType::UserEdit);
    assert_eq!(v1.change_description.as_deref(), Some("Created"));
    assert_eq!(v1.snapshot, sample());
    assert_eq!(h.store.versions_of(view.spec.id), vec![v1]);
}

/// Never has a free slot.
struct Saturated;

#[async_trait::async_trait]
impl CpuWork for Saturated {
    async fn run(&self, _work: Box<dyn FnOnce() + Send>) -> Result<(), CpuError> {
        Err(CpuError::Saturated {
            retry_after_secs: 1,
        })
    }
}

#[tokio::test]
async fn specs_over_a_limit_are_refused_before_any_work_on_every_path() {
    let h = harness(5);
    let (view, _) = h.service.create(h.me(), sample(), None).await.unwrap();
    let id = view.spec.id;
    let mut big = sample();
    big["dataModels"][0]["fields"] = Value::Array(
        (0..201)
            .map(|i| json!({"name": format!("f{i}"), "type": "string"}))
            .collect(),
    );
    // the CPU port is saturated: a limit is still answered (it is checked first, on the caller)
    let service = h.service.clone().with_cpu(Arc::new(Saturated));
    let create = service.create(h.me(), big.clone(), None).await.unwrap_err();
    let edit = service
        .edit(h.me(), id, None, big.clone(), None)
        .await
        .unwrap_err();
    for err in [create, edit] {
        let AppSpecError::TooLarge(e) = err else {
            panic!("{err:?}")
        };
        assert_eq!(e.limit, "ingenio.spec-limits.max-fields-per-model");
        assert_eq!(
            e.message,
            "data model dataModels[0] has 201 fields; the limit is 200 \
             (ingenio.spec-limits.max-fields-per-model)"
        );
    }
    assert_eq!(h.store.versions_of(id).len(), 1, "nothing stored");
    // within the limits, the saturated port answers Busy and nothing is stored
    let busy = service
        .edit(h.me(), id, None, sample(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            busy,
            AppSpecError::Busy {
                retry_after_secs: 1
            }
        ),
        "{busy:?}"
    );
    let busy = service.diff(h.me(), id, 1, 1).await.unwrap_err();
    assert!(matches!(busy, AppSpecError::Busy { .. }), "{busy:?}");
    assert_eq!(h.store.versions_of(id).len(), 1);

    // a version stored under looser limits is neither restored nor rendered past them
    let strict = AppSpecService::new(
        Arc::new(h.store.specs()),
        Arc::new(h.store.jobs()),
        h.quota.clone(),
        AppSpecConfig {
            quota_enabled: true,
            ai_calls_per_hour: 5,
            limits: crate::limits::SpecLimits {
                max_pages: 1,
                ..crate::limits::SpecLimits::default()
            },
        },
    );
    let err = strict.rollback(h.me(), id, 1).await.unwrap_err();
    assert!(
        matches!(&err, AppSpecError::TooLarge(e) if e.limit == "ingenio.spec-limits.max-pages"),
        "{err:?}"
    );
    let err = strict
        .submit_render(h.me(), id, None, None, None)
        .await
        .unwrap_err();
    assert!(matches!(err, AppSpecError::TooLarge(_)), "{err:?}");
    assert_eq!(h.store.versions_of(id).len(), 1);
}

#[tokio::test]
async fn create_refuses_an_invalid_spec_or_description_and_stores_nothing() {
    let h = harness(5);
    let err = h
        .service
        .create(h.me(), json!({"pages": []}), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AppSpecError::InvalidSpec { path, .. } if path == "appName"),
        "{err:?}"
    );
    let err = h
        .service
        .create(h.me(), sample(), Some("x".repeat(501)))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AppSpecError::Invalid { field, .. } if field == "changeDescription"),
        "{err:?}"
    );
    assert!(h.store.all_specs().is_empty());
    // a blank description falls back to the default
    let (_, v) = h
        .service
        .create(h.me(), sample(), Some("   ".to_owned()))
        .await
        .unwrap();
    assert_eq!(v.change_description.as_deref(), Some("Created"));
}

#[tokio::test]
async fn edits_get_sequential_versions_and_go_back_to_draft() {
    let h = harness(5);
    let id = h.created().await;
    let (_, v2) = h
        .service
        .edit(h.me(), id, Some(1), renamed("Two"), Some("rename".into()))
        .await
        .unwrap();
    let (view, v3) = h
        .service
        .edit(h.me(), id, None, renamed("Three"), None)
        .await
        .unwrap();
    assert_eq!((v2.version_number, v3.version_number), (2, 3));
    assert_eq!(v2.change_description.as_deref(), Some("rename"));
    assert_eq!(v3.change_description.as_deref(), Some("Edited"));
    assert_eq!(view.spec.version, 3);
    assert_eq!(view.spec.content["appName"], "Three");
    let numbers: Vec<i32> = h
        .service
        .versions(h.me(), id)
        .await
        .unwrap()
        .iter()
        .map(|v| v.version_number)
        .collect();
    assert_eq!(numbers, vec![1, 2, 3]);
    assert_eq!(
        h.service.get(h.me(), id).await.unwrap().spec.content["appName"],
        "Three"
    );
}

#[tokio::test]
async fn edit_with_a_stale_expected_version_is_refused_and_nothing_is_written() {
    let h = harness(5);
    let id = h.created().await;
    h.service
        .edit(h.me(), id, Some(1), renamed("Mine"), None)
        .await
        .unwrap();

    let err = h
        .service
        .edit(h.me(), id, Some(1), renamed("Lost update"), None)
        .await
        .unwrap_err();

    assert!(
        matches!(
            err,
            AppSpecError::Stale {
                expected: 1,
                current: 2
            }
        ),
        "{err:?}"
    );
    assert_eq!(h.store.versions_of(id).len(), 2);
    let spec = h.store.spec(id).unwrap();
    assert_eq!(
        (spec.version, &spec.content["appName"]),
        (2, &json!("Mine"))
    );
    // naming the current version works
    let (_, v3) = h
        .service
        .edit(h.me(), id, Some(2), renamed("Next"), None)
        .await
        .unwrap();
    assert_eq!(v3.version_number, 3);
}

#[tokio::test]
async fn other_users_specs_are_not_found_never_forbidden() {
    let h = harness(5);
    let id = h.created().await;
    let other = h.stranger();
    let s = &h.service;
    assert!(matches!(
        s.get(other, id).await,
        Err(AppSpecError::NotFound)
    ));
    assert!(matches!(
        s.edit(other, id, None, renamed("x"), None).await,
        Err(AppSpecError::NotFound)
    ));
    assert!(matches!(
        s.versions(other, id).await,
        Err(AppSpecError::NotFound)
    ));
    assert!(matches!(
        s.version(other, id, 1).await,
        Err(AppSpecError::NotFound)
    ));
    assert!(matches!(
        s.diff(other, id, 1, 1).await,
        Err(AppSpecError::NotFound)
    ));
    assert!(matches!(
        s.rollback(other, id, 1).await,
        Err(AppSpecError::NotFound)
    ));
    assert!(matches!(
        s.delete(other, id).await,
        Err(AppSpecError::NotFound)
    ));
    assert!(matches!(
        s.submit(other, request(Some(id)), None).await,
        Err(AppSpecError::NotFound)
    ));
    assert_eq!(
        s.list(other, PageRequest::default()).await.unwrap().total,
        0
    );
    // the same user id in another tenant sees nothing either
    let elsewhere = Viewer {
        tenant: TenantId::new_random(),
        ..h.me()
    };
    assert!(matches!(
        s.get(elsewhere, id).await,
        Err(AppSpecError::NotFound)
    ));
    // an admin of the tenant sees it, but it is not in the admin's own list
    let admin = Viewer {
        admin: true,
        ..other
    };
    assert_eq!(s.get(admin, id).await.unwrap().spec.id, id);
    assert_eq!(
        s.list(admin, PageRequest::default()).await.unwrap().total,
        0
    );
    let admin_elsewhere = Viewer {
        tenant: TenantId::new_random(),
        ..admin
    };
    assert!(matches!(
        s.get(admin_elsewhere, id).await,
        Err(AppSpecError::NotFound)
    ));
    // nothing was written by the refused calls
    assert_eq!(h.store.versions_of(id).len(), 1);
    assert_eq!(h.quota.reservations_made(), 0);
}

#[tokio::test]
async fn list_is_newest_first_and_paged() {
    let h = harness(5);
    let mut ids = vec![];
    for _ in 0..3 {
        ids.push(h.created().await);
        h.store.clock().advance(Duration::from_secs(1));
    }
    let page = h
        .service
        .list(h.me(), PageRequest::new(1, 2).unwrap())
        .await
        .unwrap();
    assert_eq!((page.total, page.pages), (3, 2));
    assert_eq!(
        page.records.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![ids[2], ids[1]]
    );
    let page = h
        .service
        .list(h.me(), PageRequest::new(2, 2).unwrap())
        .await
        .unwrap();
    assert_eq!(
        page.records.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![ids[0]]
    );
}

#[tokio::test]
async fn rollback_appends_a_rollback_version_and_keeps_history() {
    let h = harness(5);
    let id = h.created().await;
    h.service
        .edit(h.me(), id, None, renamed("Second"), None)
        .await
        .unwrap();

    let (view, v3) = h.service.rollback(h.me(), id, 1).await.unwrap();

    assert_eq!(v3.version_number, 3);
    assert_eq!(v3.change_type, ChangeType::Rollback);
    assert_eq!(
        v3.change_description.as_deref(),
        Some("Rolled back to version 1")
    );
    assert_eq!(v3.snapshot, sample());
    assert_eq!(view.spec.version, 3);
    assert_eq!(view.spec.content, sample());
    assert_eq!(view.spec.status, SpecStatus::Draft);
    let timeline = h.service.versions(h.me(), id).await.unwrap();
    assert_eq!(
        timeline
            .iter()
            .map(|v| (v.version_number, v.change_type))
            .collect::<Vec<_>>(),
        vec![
            (1, ChangeType::UserEdit),
            (2, ChangeType::UserEdit),
            (3, ChangeType::Rollback)
        ]
    );
    assert_eq!(timeline[1].snapshot["appName"], "Second", "history is kept");
    // the diff sees the round trip: 1 → 2 changed, 1 → 3 identical
    assert!(!h.service.diff(h.me(), id, 1, 2).await.unwrap().is_empty());
    assert!(h.service.diff(h.me(), id, 1, 3).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_missing_version_is_version_not_found_and_rollback_to_it_writes_nothing() {
    let h = harness(5);
    let id = h.created().await;
    assert!(matches!(
        h.service.version(h.me(), id, 9).await,
        Err(AppSpecError::VersionNotFound(9))
    ));
    assert!(matches!(
        h.service.rollback(h.me(), id, 9).await,
        Err(AppSpecError::VersionNotFound(9))
    ));
    assert!(matches!(
        h.service.diff(h.me(), id, 1, 9).await,
        Err(AppSpecError::VersionNotFound(9))
    ));
    assert_eq!(h.store.versions_of(id).len(), 1);
}

#[tokio::test]
async fn delete_removes_the_spec_with_its_versions() {
    let h = harness(5);
    let id = h.created().await;
    h.service.delete(h.me(), id).await.unwrap();
    assert!(matches!(
        h.service.get(h.me(), id).await,
        Err(AppSpecError::NotFound)
    ));
    assert!(matches!(
        h.service.versions(h.me(), id).await,
        Err(AppSpecError::NotFound)
    ));
    assert_eq!(h.store.version_count(), 0);
    assert!(matches!(
        h.service.delete(h.me(), id).await,
        Err(AppSpecError::NotFound)
    ));
}

#[tokio::test]
async fn submit_reserves_one_unit_and_enqueues_a_pending_job() {
    let h = harness(5);
    let (job, created) = h.service.submit(h.me(), request(None), None).await.unwrap();
    assert!(created);
    assert_eq!(job.status, JobStatus::Pending);
    assert_eq!(job.user_id, h.user);
    assert_eq!(
        job.request.requirement,
        "a vocabulary quiz for primary school pupils"
    );
    let reservation = job.quota_reservation.clone().unwrap();
    assert_eq!(h.quota.open_reservations(), vec![Reservation(reservation)]);
    let q = h.service.quota(h.me()).await.unwrap();
    assert_eq!((q.used, q.limit, q.allowed), (1, 5, true));
    assert_eq!(h.service.job(h.me(), job.id).await.unwrap(), job);
}

#[tokio::test]
async fn submit_with_the_same_idempotency_key_returns_the_same_job_and_counts_once() {
    let h = harness(5);
    let key = Some("key-1".to_owned());
    let (first, created) = h
        .service
        .submit(h.me(), request(None), key.clone())
        .await
        .unwrap();
    assert!(created);
    let (again, created) = h
        .service
        .submit(h.me(), request(None), key.clone())
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again.id, first.id);
    assert_eq!(again.quota_reservation, first.quota_reservation);
    assert_eq!(
        h.quota.used(h.user),
        1,
        "the retry's reservation is handed back"
    );
    let all = h
        .service
        .jobs(h.me(), None, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(all.total, 1);
    // the key is per user; another key is another job
    let other = h.stranger();
    let (theirs, created) = h
        .service
        .submit(other, request(None), key.clone())
        .await
        .unwrap();
    assert!(created);
    assert_ne!(theirs.id, first.id);
    let (next, created) = h
        .service
        .submit(h.me(), request(None), Some("key-2".into()))
        .await
        .unwrap();
    assert!(created);
    assert_ne!(next.id, first.id);
    assert_eq!(h.quota.used(h.user), 2);
}

#[tokio::test]
async fn an_idempotent_retry_at_the_quota_limit_returns_the_existing_job() {
    let h = harness(1);
    let key = Some("only-one".to_owned());
    let (first, _) = h
        .service
        .submit(h.me(), request(None), key.clone())
        .await
        .unwrap();
    let retry = h.service.submit(h.me(), request(None), key).await;
    let (again, created) = retry.unwrap();
    assert_eq!((again.id, created), (first.id, false));
    assert_eq!(h.quota.used(h.user), 1);
}

#[tokio::test]
async fn an_exhausted_quota_refuses_and_enqueues_nothing() {
    let h = harness(2);
    for _ in 0..2 {
        h.service.submit(h.me(), request(None), None).await.unwrap();
    }
    let err = h
        .service
        .submit(h.me(), request(None), None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AppSpecError::QuotaExceeded {
                limit: 2,
                retry_after_secs
            } if retry_after_secs == QUOTA_RESET_AFTER.as_secs()
        ),
        "{err:?}"
    );
    let all = h
        .service
        .jobs(h.me(), None, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(all.total, 2);
    let q = h.service.quota(h.me()).await.unwrap();
    assert_eq!((q.used, q.allowed), (2, false));
    // another user has their own quota
    assert!(h
        .service
        .submit(h.stranger(), request(None), None)
        .await
        .is_ok());
}

#[tokio::test]
async fn a_disabled_quota_reserves_nothing() {
    let h = harness_with(1, false);
    for _ in 0..3 {
        let (job, _) = h.service.submit(h.me(), request(None), None).await.unwrap();
        assert_eq!(job.quota_reservation, None);
    }
    assert_eq!(h.quota.reservations_made(), 0);
}

#[tokio::test]
async fn submit_checks_its_parameters_before_reserving() {
    let h = harness(5);
    let mut bad = request(None);
    bad.quality_threshold = 101;
    let err = h.service.submit(h.me(), bad, None).await.unwrap_err();
    assert!(
        matches!(&err, AppSpecError::Invalid { field, .. } if field == "qualityThreshold"),
        "{err:?}"
    );
    for key in [String::new(), "k".repeat(201)] {
        let err = h
            .service
            .submit(h.me(), request(None), Some(key))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, AppSpecError::Invalid { field, .. } if field == "Idempotency-Key"),
            "{err:?}"
        );
    }
    let err = h
        .service
        .submit(h.me(), request(Some(Uuid::new_v4())), None)
        .await
        .unwrap_err();
    assert!(matches!(err, AppSpecError::NotFound), "{err:?}");
    assert_eq!(h.quota.reservations_made(), 0);
    // 200 characters and a threshold of 100 are fine
    let mut edge = request(None);
    edge.quality_threshold = 100;
    assert!(h
        .service
        .submit(h.me(), edge, Some("k".repeat(200)))
        .await
        .is_ok());
}

#[tokio::test]
async fn a_job_that_cannot_be_stored_gives_its_reservation_back() {
    let h = harness(5);
    h.store.set_unavailable(true);
    let err = h
        .service
        .submit(h.me(), request(None), None)
        .await
        .unwrap_err();
    assert!(matches!(err, AppSpecError::Unavailable(_)), "{err:?}");
    assert_eq!(h.quota.reservations_made(), 1);
    assert_eq!(h.quota.refunds(), 1);
    assert_eq!(h.quota.used(h.user), 0);
}

#[tokio::test]
async fn cancel_before_any_ai_call_refunds_the_reservation_once() {
    let h = harness(5);
    let (job, _) = h.service.submit(h.me(), request(None), None).await.unwrap();

    let cancelled = h.service.cancel(h.me(), job.id).await.unwrap();

    assert_eq!(cancelled.status, JobStatus::Cancelled);
    assert!(cancelled.finished_at.is_some());
    assert_eq!(h.quota.used(h.user), 0);
    assert_eq!(h.quota.refunds(), 1);
    let again = h.service.cancel(h.me(), job.id).await.unwrap();
    assert_eq!(again.status, JobStatus::Cancelled);
    assert_eq!(h.quota.refunds(), 1, "a second cancel refunds nothing");
    let events = h.service.events_after(job.id, 0).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].kind, &events[0].data["code"]),
        (EventKind::Error, &json!("cancelled"))
    );
    // a cancelled job is never claimed
    assert!(h
        .store
        .jobs()
        .claim("w", Duration::from_secs(30), MAX_ATTEMPTS)
        .await
        .unwrap()
        .is_none());
    // someone else's job is not found and stays as it is
    let (theirs, _) = h
        .service
        .submit(h.stranger(), request(None), None)
        .await
        .unwrap();
    assert!(matches!(
        h.service.cancel(h.me(), theirs.id).await,
        Err(AppSpecError::JobNotFound)
    ));
    assert!(matches!(
        h.service.job(h.me(), theirs.id).await,
        Err(AppSpecError::JobNotFound)
    ));
    assert_eq!(h.store.job(theirs.id).unwrap().status, JobStatus::Pending);
}

#[tokio::test]
async fn cancelling_a_finished_job_changes_nothing_and_refunds_nothing() {
    let h = harness(5);
    let (job, _) = h.service.submit(h.me(), request(None), None).await.unwrap();
    let outcome = h.run_next("w").await;
    let RunOutcome::Completed {
        app_spec_id,
        version,
        ..
    } = outcome
    else {
        panic!("{outcome:?}");
    };

    let after = h.service.cancel(h.me(), job.id).await.unwrap();

    assert_eq!(after.status, JobStatus::Completed);
    assert_eq!(after.app_spec_id, Some(app_spec_id));
    assert_eq!(after.version_number, Some(version));
    assert_eq!(h.quota.refunds(), 0);
    assert_eq!(h.quota.used(h.user), 1);
    // the generated spec is the user's, with its ai_generation version 1
    let v1 = h.service.version(h.me(), app_spec_id, 1).await.unwrap();
    assert_eq!(v1.change_type, ChangeType::AiGeneration);
}

#[tokio::test]
async fn events_after_resumes_without_repeats_or_gaps() {
    let h = harness(5);
    let (job, _) = h.service.submit(h.me(), request(None), None).await.unwrap();
    assert!(matches!(
        h.run_next("w").await,
        RunOutcome::Completed { .. }
    ));
    let all = h.service.events_after(job.id, 0).await.unwrap();
    assert!(all.len() > 3);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(all.last().unwrap().kind, EventKind::Complete);
    let rest = h.service.events_after(job.id, all[2].id).await.unwrap();
    assert_eq!(rest, all[3..].to_vec());
    assert!(h
        .service
        .events_after(job.id, all.last().unwrap().id)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn jobs_are_listed_newest_first_and_filtered_by_status() {
    let h = harness(5);
    let (older, _) = h.service.submit(h.me(), request(None), None).await.unwrap();
    h.store.clock().advance(Duration::from_secs(1));
    let (newer, _) = h.service.submit(h.me(), request(None), None).await.unwrap();
    h.service.cancel(h.me(), older.id).await.unwrap();
    h.service
        .submit(h.stranger(), request(None), None)
        .await
        .unwrap();

    let all = h
        .service
        .jobs(h.me(), None, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(
        all.records.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![newer.id, older.id]
    );
    let cancelled = h
        .service
        .jobs(h.me(), Some(JobStatus::Cancelled), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(
        cancelled.records.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![older.id]
    );
}

#[tokio::test]
async fn an_admin_regeneration_of_another_users_spec_is_refused() {
    let h = harness(5);
    let id = h.created().await;
    let admin = Viewer {
        admin: true,
        ..h.stranger()
    };
    // Refused up front (a regeneration writes as the spec's owner), before any quota is used.
    match h.service.submit(admin, request(Some(id)), None).await {
        Err(AppSpecError::NotFound) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(h.quota.reservations_made(), 0);
}

/// A generator that cancels `job` through the service when `step` is called (before its answer).
fn cancelling_at(h: &Harness, step: Step, job: Uuid) -> Arc<ScriptedGenerator> {
    let generator = Arc::new(ScriptedGenerator::new());
    let (service, me) = (h.service.clone(), h.me());
    generator.on_call(Arc::new(move |at| {
        let service = service.clone();
        Box::pin(async move {
            if at == step {
                let cancelled = service.cancel(me, job).await.unwrap();
                assert_eq!(cancelled.status, JobStatus::Cancelled);
            }
        })
    }));
    generator
}

#[tokio::test]
async fn cancel_after_the_plan_answered_is_charged() {
    let h = harness(5);
    let (job, _) = h.service.submit(h.me(), request(None), None).await.unwrap();
    let generator = cancelling_at(&h, Step::Execute, job.id);

    let outcome = h.run_next_with("w", generator.clone()).await;

    assert_eq!(outcome, RunOutcome::Abandoned);
    let now = h.store.job(job.id).unwrap();
    assert_eq!(now.status, JobStatus::Cancelled);
    let (p, c) = DEFAULT_USAGE[0];
    assert_eq!(now.token_usage.total_tokens, p + c, "the plan was paid for");
    assert_eq!(
        (h.quota.refunds(), h.quota.used(h.user)),
        (0, 1),
        "the user threw the AI's work away: no refund"
    );
    assert_eq!(generator.calls(Step::Validate), 0);
    assert_eq!(h.store.version_count(), 0);
}

#[tokio::test]
async fn cancel_while_the_first_ai_call_runs_is_refunded() {
    let h = harness(5);
    let (job, _) = h.service.submit(h.me(), request(None), None).await.unwrap();
    let generator = cancelling_at(&h, Step::Plan, job.id);

    let outcome = h.run_next_with("w", generator.clone()).await;

    assert_eq!(outcome, RunOutcome::Abandoned);
    assert_eq!(h.store.job(job.id).unwrap().status, JobStatus::Cancelled);
    assert_eq!((h.quota.refunds(), h.quota.used(h.user)), (1, 0));
    assert_eq!(generator.calls(Step::Execute), 0);
}

#[tokio::test]
async fn submit_render_reserves_no_quota_and_renders_the_requested_version_not_the_latest() {
    // a quota of 0: any reservation would be refused
    let h = harness(0);
    let id = h.created().await;
    h.service
        .edit(h.me(), id, None, renamed("Second"), None)
        .await
        .unwrap();

    let (job, created) = h
        .service
        .submit_render(h.me(), id, Some(1), None, None)
        .await
        .unwrap();

    assert!(created);
    assert_eq!(job.status, JobStatus::Pending);
    assert_eq!(
        (
            job.request.kind,
            job.request.app_spec_id,
            job.request.version
        ),
        (JobKind::Render, Some(id), Some(1))
    );
    assert_eq!(job.quota_reservation, None);
    assert_eq!(
        job.state.version,
        Some(VersionCheckpoint {
            app_spec_id: id,
            version_number: 1
        })
    );
    assert_eq!(h.quota.reservations_made(), 0);

    let outcome = h.run_next("w").await;

    let RunOutcome::Completed {
        app_spec_id,
        version,
        code: Some(code),
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!((app_spec_id, version), (id, 1));
    let builds = h.builder.builds();
    assert_eq!(builds.len(), 1);
    assert_eq!((builds[0].version, &builds[0].spec), (1, &sample()));
    assert_eq!(h.store.codes(id), vec![(1, code)]);
    assert_eq!(
        h.store.versions_of(id).len(),
        2,
        "rendering writes no version"
    );
    let spec = h.store.spec(id).unwrap();
    assert_eq!((spec.version, spec.status), (2, SpecStatus::Draft));
    assert_eq!(h.quota.used(h.user), 0);
    assert_eq!(h.store.job(job.id).unwrap().status, JobStatus::Completed);
}

#[tokio::test]
async fn rendering_the_current_draft_leaves_its_status_alone() {
    let h = harness(5);
    let id = h.created().await;
    assert_eq!(h.store.spec(id).unwrap().status, SpecStatus::Draft);

    let (job, _) = h
        .service
        .submit_render(h.me(), id, None, Some("react-next".to_owned()), None)
        .await
        .unwrap();
    assert_eq!(job.request.version, Some(1), "the current version");
    assert_eq!(job.request.renderer.as_deref(), Some("react-next"));
    let outcome = h.run_next("w").await;

    assert!(
        matches!(outcome, RunOutcome::Completed { version: 1, .. }),
        "{outcome:?}"
    );
    assert_eq!(
        h.store.spec(id).unwrap().status,
        SpecStatus::Draft,
        "draft → generated is not a lifecycle move"
    );
    let codes = h.store.codes(id);
    assert_eq!(codes.len(), 1);
    assert_eq!(codes[0].1.renderer, "react-next");
}

#[tokio::test]
async fn submit_render_refuses_unknown_versions_and_other_users_specs_and_enqueues_nothing() {
    let h = harness(5);
    let id = h.created().await;
    let s = &h.service;
    let err = s
        .submit_render(h.me(), id, Some(9), None, None)
        .await
        .unwrap_err();
    assert!(matches!(err, AppSpecError::VersionNotFound(9)), "{err:?}");
    let err = s
        .submit_render(h.stranger(), id, None, None, None)
        .await
        .unwrap_err();
    assert!(matches!(err, AppSpecError::NotFound), "{err:?}");
    let admin = Viewer {
        admin: true,
        ..h.stranger()
    };
    let err = s
        .submit_render(admin, id, Some(1), None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppSpecError::NotFound),
        "an admin renders only their own specs: {err:?}"
    );
    let err = s
        .submit_render(h.me(), Uuid::new_v4(), None, None, None)
        .await
        .unwrap_err();
    assert!(matches!(err, AppSpecError::NotFound), "{err:?}");
    let err = s
        .submit_render(h.me(), id, None, None, Some(String::new()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AppSpecError::Invalid { field, .. } if field == "Idempotency-Key"),
        "{err:?}"
    );
    assert!(h
        .store
        .jobs()
        .claim("w", Duration::from_secs(30), MAX_ATTEMPTS)
        .await
        .unwrap()
        .is_none());
    assert_eq!(h.quota.reservations_made(), 0);
}

#[tokio::test]
async fn submit_render_with_the_same_idempotency_key_returns_the_same_job() {
    let h = harness(5);
    let id = h.created().await;
    let key = Some("render-1".to_owned());
    let (first, created) = h
        .service
        .submit_render(h.me(), id, None, None, key.clone())
        .await
        .unwrap();
    assert!(created);
    let (again, created) = h
        .service
        .submit_render(h.me(), id, None, None, key)
        .await
        .unwrap();
    assert_eq!((again.id, created), (first.id, false));
    let all = h
        .service
        .jobs(h.me(), None, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(all.total, 1);
}

#[tokio::test]
async fn validate_moves_a_clean_draft_to_validated_once() {
    let h = harness(5);
    let id = h.created().await;
    let first = h.service.validate_spec(h.me(), id).await.unwrap();
    assert!(first.moved);
    assert_eq!(first.view.report.errors, 0);
    assert_eq!(first.view.spec.status, SpecStatus::Validated);
    assert_eq!(first.view.spec.version, 1, "validating writes no version");
    assert_eq!(
        h.service.get(h.me(), id).await.unwrap().spec.status,
        SpecStatus::Validated
    );
    let again = h.service.validate_spec(h.me(), id).await.unwrap();
    assert!(!again.moved);
    assert_eq!(again.view.spec.status, SpecStatus::Validated);
    // an edit sends it back to draft, and validating moves it again
    h.service
        .edit(h.me(), id, None, renamed("Edited"), None)
        .await
        .unwrap();
    let after_edit = h.service.validate_spec(h.me(), id).await.unwrap();
    assert!(after_edit.moved);
    assert_eq!(after_edit.view.spec.version, 2);
    assert_eq!(h.service.timeline(h.me(), id).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_draft_with_rule_errors_stays_a_draft() {
    let h = harness(5);
    let mut content = sample();
    content["pages"][1]["id"] = json!("home");
    let (view, _) = h.service.create(h.me(), content, None).await.unwrap();
    assert!(view.report.errors > 0, "the fixture must break a rule");
    let v = h.service.validate_spec(h.me(), view.spec.id).await.unwrap();
    assert!(!v.moved);
    assert_eq!(v.view.spec.status, SpecStatus::Draft);
    assert_eq!(v.view.report.errors, view.report.errors);
    assert!(v
        .view
        .report
        .findings
        .iter()
        .any(|f| f.code == crate::validation::codes::DUPLICATE_ID));
}

#[tokio::test]
async fn only_the_owner_may_validate() {
    let h = harness(5);
    let id = h.created().await;
    let admin = Viewer {
        admin: true,
        ..h.stranger()
    };
    for other in [h.stranger(), admin] {
        assert!(matches!(
            h.service.validate_spec(other, id).await,
            Err(AppSpecError::NotFound)
        ));
    }
    assert_eq!(
        h.service.get(h.me(), id).await.unwrap().spec.status,
        SpecStatus::Draft
    );
}

#[tokio::test]
async fn listings_carry_everything_but_the_contents() {
    let h = harness(5);
    let id = h.created().await;
    h.service
        .edit(h.me(), id, None, renamed("Second"), Some("rename".into()))
        .await
        .unwrap();
    let full = h.service.versions(h.me(), id).await.unwrap();
    let summaries = h.service.timeline(h.me(), id).await.unwrap();
    assert_eq!(
        summaries,
        full.into_iter()
            .map(SpecVersionSummary::from)
            .collect::<Vec<_>>()
    );
    assert!(matches!(
        h.service.timeline(h.stranger(), id).await,
        Err(AppSpecError::NotFound)
    ));
    let page = h
        .service
        .list_summaries(h.me(), PageRequest::new(1, 10).unwrap())
        .await
        .unwrap();
    assert_eq!(page.records.len(), 1);
    assert_eq!(page.records[0].app_name, Some(json!("Second")));
    assert_eq!(page.records[0].version, 2);
}
