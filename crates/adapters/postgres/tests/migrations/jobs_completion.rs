//! Tests of how `PgJobRepository` ends a job against a migrated database: `write_version` (new
//! spec, next version of a target, vanished target, lost lease), `complete` (the `generated_code`
//! record and its reuse, the spec's status move, vanished spec, lost lease) and reading rows
//! written by the previous release.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::{
    completion, created, env, expire_lease, job_version, new_job, new_version, rendered, run,
    spec_count, spec_json, spec_of, summary, usage, validated_state, viewer, Env,
};
use diesel::sql_types::{BigInt, Integer, Jsonb, Nullable, Text, Uuid as SqlUuid};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use ingenio_app_specs::job::{
    AgentCheckpoint, EventKind, GenerationJob, JobEventData, JobKind, JobState, JobStatus,
    JobSummary, RenderedCode, VersionCheckpoint,
};
use ingenio_app_specs::ports::{
    AppSpecRepository, ChangeType, CompleteOutcome, Completion, JobRepository, WriteVersionOutcome,
};
use ingenio_app_specs::{AgeGroup, FailureCode, JobFailure, SpecStatus, TokenUsage};
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::{TenantId, UserId};
use ingenio_postgres::app_specs::PgAppSpecRepository;
use ingenio_postgres::jobs::PgJobRepository;
use serde_json::{json, Value};

fn spec_gone() -> JobFailure {
    JobFailure::new(FailureCode::SpecNotFound, "app spec not found")
}

/// A claimed generate job that went through validation (optionally regenerating `target`).
async fn validated_job(
    repo: &PgJobRepository,
    user: UserId,
    text: &str,
    target: Option<Uuid>,
) -> GenerationJob {
    let mut job = new_job(user, text, None);
    job.request.app_spec_id = target;
    let job = created(repo, job).await;
    run(repo, "w1").await.unwrap();
    repo.checkpoint(
        job.id,
        "w1",
        JobStatus::Validating,
        70,
        &validated_state(),
        &usage(50),
        &[],
    )
    .await
    .unwrap();
    job
}

/// A validated job whose version was written (a new spec of `user`).
async fn versioned_job(
    repo: &PgJobRepository,
    user: UserId,
    text: &str,
    status: SpecStatus,
) -> (GenerationJob, VersionCheckpoint) {
    let job = validated_job(repo, user, text, None).await;
    let mut version = job_version(user, None, text);
    version.version.status = status;
    match repo.write_version(job.id, "w1", version).await.unwrap() {
        WriteVersionOutcome::Written(v) => (job, v),
        other => panic!("{other:?}"),
    }
}

/// Completes `id` as `w1`, which must succeed; returns the recorded code.
async fn completed(
    repo: &PgJobRepository,
    id: Uuid,
    completion: Completion,
) -> Option<RenderedCode> {
    match repo.complete(id, "w1", completion).await.unwrap() {
        CompleteOutcome::Completed { code, .. } => code,
        other => panic!("{other:?}"),
    }
}

/// The spec's current version and status.
async fn spec_now(specs: &PgAppSpecRepository, user: UserId, id: Uuid) -> (i32, SpecStatus) {
    let spec = specs.get(viewer(user), id).await.unwrap().unwrap();
    (spec.version, spec.status)
}

async fn last_event(repo: &PgJobRepository, id: Uuid) -> (EventKind, Value) {
    let e = repo.events_after(id, 0, 100).await.unwrap().pop().unwrap();
    (e.kind, e.data)
}

/// A `generated_code` row, read with plain SQL.
#[derive(Debug, QueryableByName)]
struct RawCode {
    #[diesel(sql_type = SqlUuid)]
    tenant_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    app_spec_id: Uuid,
    #[diesel(sql_type = Integer)]
    app_spec_version_number: i32,
    #[diesel(sql_type = Text)]
    project_key: String,
    #[diesel(sql_type = Text)]
    renderer_type: String,
    #[diesel(sql_type = Nullable<Text>)]
    framework: Option<String>,
    #[diesel(sql_type = Text)]
    storage_key: String,
    #[diesel(sql_type = Integer)]
    file_count: i32,
    #[diesel(sql_type = BigInt)]
    total_size_bytes: i64,
    #[diesel(sql_type = Text)]
    content_hash: String,
    #[diesel(sql_type = Text)]
    build_status: String,
    #[diesel(sql_type = Nullable<Text>)]
    preview_url: Option<String>,
    #[diesel(sql_type = Jsonb)]
    metadata: Value,
}

async fn code_rows(env: &Env) -> Vec<RawCode> {
    let mut c = env.pool.get().await.unwrap();
    diesel::sql_query(
        "SELECT tenant_id, app_spec_id, app_spec_version_number, project_key, renderer_type, \
         framework, storage_key, file_count, total_size_bytes, content_hash, build_status, \
         preview_url, metadata FROM generated_code ORDER BY created_at, project_key",
    )
    .load(&mut c)
    .await
    .unwrap()
}

#[tokio::test]
async fn write_version_creates_a_spec_and_checkpoints_it() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let specs = PgAppSpecRepository::new(env.pool.clone());
    let job = validated_job(&repo, alice, "new app", None).await;
    let events = repo.events_after(job.id, 0, 100).await.unwrap().len();

    assert_eq!(
        repo.write_version(job.id, "intruder", job_version(alice, None, "nope"))
            .await
            .unwrap(),
        WriteVersionOutcome::NotHeld
    );
    assert_eq!(spec_count(&env).await, 0);

    let WriteVersionOutcome::Written(v) = repo
        .write_version(job.id, "w1", job_version(alice, None, "generated"))
        .await
        .unwrap()
    else {
        panic!("the lease holder writes the version")
    };
    assert_eq!(v.version_number, 1);
    let after = repo.get(viewer(alice), job.id).await.unwrap().unwrap();
    assert_eq!(after.status, JobStatus::Generating);
    assert_eq!(after.progress, 90);
    assert_eq!(after.app_spec_id, Some(v.app_spec_id));
    assert_eq!(after.version_number, Some(1));
    assert_eq!(after.token_usage, usage(100));
    assert_eq!(
        after.state,
        JobState {
            version: Some(v),
            ..validated_state()
        },
        "the version is merged into the checkpoints, which are kept"
    );
    assert_eq!(after.lease_owner.as_deref(), Some("w1"), "still running");
    assert_eq!((after.finished_at, after.result), (None, None));
    assert_eq!(
        repo.events_after(job.id, 0, 100).await.unwrap().len(),
        events
    );

    let spec = specs
        .get(viewer(alice), v.app_spec_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(spec.owner, alice);
    assert_eq!(spec.version, 1);
    assert_eq!(spec.content, spec_json("generated"));
    assert_eq!(spec.status, SpecStatus::Validated);
    assert_eq!(spec.quality_score, Some(88));
    let v1 = specs
        .version(viewer(alice), spec.id, 1)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(v1.change_type, ChangeType::AiGeneration);
    assert_eq!(v1.created_by, Some(alice));
    assert_eq!(spec_count(&env).await, 1);
}

#[tokio::test]
async fn write_version_appends_the_next_version_of_the_target() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let specs = PgAppSpecRepository::new(env.pool.clone());
    let spec = spec_of(&specs, alice, "original").await;
    let job = validated_job(&repo, alice, "regenerate", Some(spec)).await;
    let got = repo
        .write_version(job.id, "w1", job_version(alice, Some(spec), "regenerated"))
        .await
        .unwrap();
    let v = VersionCheckpoint {
        app_spec_id: spec,
        version_number: 2,
    };
    assert_eq!(got, WriteVersionOutcome::Written(v));
    let now = specs.get(viewer(alice), spec).await.unwrap().unwrap();
    assert_eq!(now.version, 2);
    assert_eq!(now.content, spec_json("regenerated"));
    assert_eq!(now.status, SpecStatus::Validated);
    assert_eq!(spec_count(&env).await, 1);
    let timeline = specs.versions(viewer(alice), spec).await.unwrap().unwrap();
    assert_eq!(
        timeline
            .iter()
            .map(|v| (v.version_number, v.change_type))
            .collect::<Vec<_>>(),
        [(1, ChangeType::UserEdit), (2, ChangeType::AiGeneration)]
    );
    let job = repo.get(viewer(alice), job.id).await.unwrap().unwrap();
    assert_eq!(
        (job.app_spec_id, job.version_number, job.status),
        (Some(spec), Some(2), JobStatus::Generating)
    );
    assert_eq!(job.state.version, Some(v));
    assert_eq!(job.state.plan, validated_state().plan);
}

#[tokio::test]
async fn write_version_with_a_vanished_or_foreign_target_fails_the_job_with_3000() {
    let env = env().await;
    let alice = env.user("alice").await;
    let bob = env.user("bob").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let specs = PgAppSpecRepository::new(env.pool.clone());
    let gone = spec_of(&specs, alice, "gone").await;
    let bobs = spec_of(&specs, bob, "bobs").await;
    specs.delete(viewer(alice), gone).await.unwrap();

    for target in [gone, bobs] {
        let job = validated_job(&repo, alice, &format!("regen {target}"), Some(target)).await;
        assert_eq!(
            repo.write_version(job.id, "w1", job_version(alice, Some(target), "x"))
                .await
                .unwrap(),
            WriteVersionOutcome::Failed(spec_gone())
        );
        let failed = repo.get(viewer(alice), job.id).await.unwrap().unwrap();
        assert_eq!(failed.status, JobStatus::Failed);
        assert_eq!(failed.error_code, Some(FailureCode::SpecNotFound));
        assert_eq!(failed.error_message.as_deref(), Some("app spec not found"));
        assert!(failed.finished_at.is_some());
        assert_eq!((failed.lease_owner, failed.lease_expires_at), (None, None));
        assert_eq!((failed.app_spec_id, failed.version_number), (None, None));
        assert_eq!(failed.state, validated_state(), "no version checkpoint");
        assert_eq!(failed.token_usage, usage(100));
        assert_eq!(
            last_event(&repo, job.id).await,
            (
                EventKind::Error,
                json!({"code": "3000", "message": "app spec not found"})
            )
        );
        // Failed once: a retry of the same call writes nothing more.
        assert_eq!(
            repo.write_version(job.id, "w1", job_version(alice, Some(target), "x"))
                .await
                .unwrap(),
            WriteVersionOutcome::NotHeld
        );
    }
    // Bob's spec was not touched through Alice's job.
    let b = specs.get(viewer(bob), bobs).await.unwrap().unwrap();
    assert_eq!(b.version, 1);
    assert_eq!(b.content, spec_json("bobs"));
    assert_eq!(spec_count(&env).await, 1);
}

#[tokio::test]
async fn write_version_after_takeover_or_cancel_writes_nothing() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let specs = PgAppSpecRepository::new(env.pool.clone());
    let target = spec_of(&specs, alice, "target").await;
    for regenerates in [None, Some(target)] {
        let job = validated_job(&repo, alice, "lost", regenerates).await;
        expire_lease(&env, job.id).await;
        run(&repo, "w2").await.unwrap();
        let events = repo.events_after(job.id, 0, 100).await.unwrap().len();
        assert_eq!(
            repo.write_version(job.id, "w1", job_version(alice, regenerates, "stale"))
                .await
                .unwrap(),
            WriteVersionOutcome::NotHeld
        );
        let after = repo.get(viewer(alice), job.id).await.unwrap().unwrap();
        assert_eq!(after.status, JobStatus::Validating);
        assert_eq!((after.app_spec_id, after.version_number), (None, None));
        assert_eq!(after.state, validated_state());
        assert_eq!(after.token_usage, usage(50));
        assert_eq!(
            repo.events_after(job.id, 0, 100).await.unwrap().len(),
            events
        );

        // The owner cancels while w2 runs: w2's version is dropped.
        repo.cancel(viewer(alice), job.id).await.unwrap();
        assert_eq!(
            repo.write_version(job.id, "w2", job_version(alice, regenerates, "too late"))
                .await
                .unwrap(),
            WriteVersionOutcome::NotHeld
        );
        let after = repo.get(viewer(alice), job.id).await.unwrap().unwrap();
        assert_eq!(after.status, JobStatus::Cancelled);
        assert_eq!(after.app_spec_id, None);
    }
    assert_eq!(spec_count(&env).await, 1);
    let t = specs.get(viewer(alice), target).await.unwrap().unwrap();
    assert_eq!((t.version, t.content), (1, spec_json("target")));
}

#[tokio::test]
async fn complete_records_the_code_and_moves_the_spec_to_generated() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let specs = PgAppSpecRepository::new(env.pool.clone());
    let (job, v) = versioned_job(&repo, alice, "rendered", SpecStatus::Validated).await;
    let code = rendered("pk-first", "hash-a");
    let before = repo.events_after(job.id, 0, 100).await.unwrap().len();

    assert_eq!(
        repo.complete(job.id, "intruder", completion(v, Some(code.clone())))
            .await
            .unwrap(),
        CompleteOutcome::NotHeld
    );
    assert!(code_rows(&env).await.is_empty());

    assert_eq!(
        repo.complete(job.id, "w1", completion(v, Some(code.clone())))
            .await
            .unwrap(),
        CompleteOutcome::Completed {
            version: v,
            code: Some(code.clone())
        }
    );
    let rows = code_rows(&env).await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.tenant_id, TenantId::default().as_uuid());
    assert_eq!(
        (row.app_spec_id, row.app_spec_version_number),
        (v.app_spec_id, 1)
    );
    assert_eq!(row.project_key, "pk-first");
    assert_eq!(row.renderer_type, "uniapp");
    assert_eq!(row.framework.as_deref(), Some("vue3"));
    assert_eq!(row.storage_key, "code/hash-a.zip");
    assert_eq!(row.file_count, 17);
    assert_eq!(row.total_size_bytes, 40_960);
    assert_eq!(row.content_hash, "hash-a");
    assert_eq!(row.build_status, "success");
    assert_eq!(
        row.preview_url.as_deref(),
        Some("https://preview.example/pk-first/")
    );
    assert_eq!(row.metadata["rendererVersion"], "1.2.0");
    assert_eq!(row.metadata["zipSizeBytes"], 12_345);

    assert_eq!(
        spec_now(&specs, alice, v.app_spec_id).await,
        (1, SpecStatus::Generated),
        "the spec moved on, without a new version"
    );

    let done = repo.get(viewer(alice), job.id).await.unwrap().unwrap();
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(done.progress, 100);
    assert_eq!(
        done.result,
        Some(JobSummary {
            code: Some(code.clone()),
            ..summary()
        }),
        "the result round-trips with its code"
    );
    assert_eq!(done.token_usage, usage(150));
    assert_eq!(
        (done.app_spec_id, done.version_number),
        (Some(v.app_spec_id), Some(1))
    );
    assert_eq!((done.lease_owner, done.lease_expires_at), (None, None));
    assert!(done.finished_at.is_some());
    assert_eq!(done.state.version, Some(v));

    let events = repo.events_after(job.id, 0, 100).await.unwrap();
    assert_eq!(events.len(), before + 1);
    let complete = JobEventData::Complete {
        app_spec_id: v.app_spec_id,
        version_number: 1,
        quality_score: Some(89),
        usage: usage(150),
        code: Some(code.clone()),
    };
    assert_eq!(
        (events[before].kind, events[before].data.clone()),
        (EventKind::Complete, complete.to_value())
    );
    assert_eq!(events[before].data["code"]["projectKey"], "pk-first");

    // A duplicate delivery writes nothing.
    assert_eq!(
        repo.complete(
            job.id,
            "w1",
            completion(v, Some(rendered("pk-dup", "hash-a")))
        )
        .await
        .unwrap(),
        CompleteOutcome::NotHeld
    );
    assert_eq!(code_rows(&env).await.len(), 1);
    assert_eq!(
        repo.events_after(job.id, 0, 100).await.unwrap().len(),
        before + 1
    );
}

/// A claimed render job for version `v` (its version is known from the start).
async fn render_job(repo: &PgJobRepository, user: UserId, v: VersionCheckpoint) -> GenerationJob {
    let mut job = new_job(user, "", None);
    job.request.kind = JobKind::Render;
    job.request.app_spec_id = Some(v.app_spec_id);
    job.request.version = Some(v.version_number);
    job.quota_reservation = None;
    job.state.version = Some(v);
    let job = created(repo, job).await;
    assert_eq!(
        job.state.version,
        Some(v),
        "the starting checkpoints are stored"
    );
    let claimed = run(repo, "w1").await.unwrap();
    assert_eq!((claimed.id, claimed.state.version), (job.id, Some(v)));
    job
}

#[tokio::test]
async fn complete_reuses_the_record_of_the_same_version_renderer_and_content() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let (job, v) = versioned_job(&repo, alice, "twice", SpecStatus::Validated).await;
    let first = rendered("pk-first", "hash-a");
    completed(&repo, job.id, completion(v, Some(first.clone()))).await;

    // The same content rendered again (another project key, the stored object reused).
    let again = render_job(&repo, alice, v).await;
    let mut same = rendered("pk-second", "hash-a");
    same.reused = true;
    let recorded = completed(&repo, again.id, completion(v, Some(same)))
        .await
        .unwrap();
    assert_eq!(
        recorded.project_key, "pk-first",
        "the first record is reused"
    );
    assert!(recorded.reused);
    assert_eq!(
        RenderedCode {
            reused: false,
            ..recorded.clone()
        },
        first
    );
    assert_eq!(code_rows(&env).await.len(), 1);
    let done = repo.get(viewer(alice), again.id).await.unwrap().unwrap();
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(done.result.unwrap().code, Some(recorded));
    assert_eq!(done.request.kind, JobKind::Render);

    // Other content, or another renderer, of the same version is a record of its own.
    let changed = render_job(&repo, alice, v).await;
    completed(
        &repo,
        changed.id,
        completion(v, Some(rendered("pk-third", "hash-b"))),
    )
    .await;
    let other_renderer = render_job(&repo, alice, v).await;
    let mut react = rendered("pk-fourth", "hash-a");
    react.renderer = "react".to_owned();
    let recorded = completed(&repo, other_renderer.id, completion(v, Some(react.clone())))
        .await
        .unwrap();
    assert_eq!(recorded, react);
    assert_eq!(
        code_rows(&env)
            .await
            .iter()
            .map(|r| (r.project_key.as_str(), r.renderer_type.as_str()))
            .collect::<Vec<_>>(),
        [
            ("pk-first", "uniapp"),
            ("pk-third", "uniapp"),
            ("pk-fourth", "react")
        ]
    );
}

#[tokio::test]
async fn complete_keeps_the_status_of_a_spec_edited_meanwhile_or_still_draft() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let specs = PgAppSpecRepository::new(env.pool.clone());

    // Edited (and validated again) while the job rendered version 1.
    let (job, v) = versioned_job(&repo, alice, "edited", SpecStatus::Validated).await;
    let mut edit = new_version(alice, "edited by hand");
    edit.status = SpecStatus::Validated;
    specs
        .append_version(viewer(alice), v.app_spec_id, None, edit)
        .await
        .unwrap();
    completed(
        &repo,
        job.id,
        completion(v, Some(rendered("pk-v1", "hash-v1"))),
    )
    .await;
    assert_eq!(
        spec_now(&specs, alice, v.app_spec_id).await,
        (2, SpecStatus::Validated),
        "the newer version's status is kept"
    );
    let rows = code_rows(&env).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].app_spec_version_number, 1,
        "the code is of version 1"
    );

    // A draft may not jump to generated.
    let (draft_job, d) = versioned_job(&repo, alice, "draft", SpecStatus::Draft).await;
    completed(
        &repo,
        draft_job.id,
        completion(d, Some(rendered("pk-d", "hash-d"))),
    )
    .await;
    assert_eq!(
        spec_now(&specs, alice, d.app_spec_id).await,
        (1, SpecStatus::Draft)
    );
    assert_eq!(
        repo.get(viewer(alice), draft_job.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        JobStatus::Completed
    );
    assert_eq!(code_rows(&env).await.len(), 2);
}

#[tokio::test]
async fn complete_with_a_deleted_spec_fails_the_job_with_3000() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let specs = PgAppSpecRepository::new(env.pool.clone());
    let (job, v) = versioned_job(&repo, alice, "deleted", SpecStatus::Validated).await;
    assert!(specs.delete(viewer(alice), v.app_spec_id).await.unwrap());
    assert_eq!(
        repo.complete(
            job.id,
            "w1",
            completion(v, Some(rendered("pk-x", "hash-x")))
        )
        .await
        .unwrap(),
        CompleteOutcome::Failed(spec_gone())
    );
    assert!(code_rows(&env).await.is_empty());
    let failed = repo.get(viewer(alice), job.id).await.unwrap().unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.error_code, Some(FailureCode::SpecNotFound));
    assert_eq!(failed.result, None);
    assert_eq!(failed.token_usage, usage(150));
    assert_eq!((failed.lease_owner, failed.lease_expires_at), (None, None));
    assert_eq!(
        last_event(&repo, job.id).await,
        (
            EventKind::Error,
            json!({"code": "3000", "message": "app spec not found"})
        )
    );
    // Only once.
    assert_eq!(
        repo.complete(job.id, "w1", completion(v, None))
            .await
            .unwrap(),
        CompleteOutcome::NotHeld
    );
}

/// `worker` may not complete `id`: nothing is recorded.
async fn refused(env: &Env, repo: &PgJobRepository, id: Uuid, worker: &str, v: VersionCheckpoint) {
    let code = Some(rendered("pk-l", "hash-l"));
    assert_eq!(
        repo.complete(id, worker, completion(v, code))
            .await
            .unwrap(),
        CompleteOutcome::NotHeld
    );
    assert!(code_rows(env).await.is_empty());
}

#[tokio::test]
async fn complete_after_takeover_or_cancel_writes_nothing() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let specs = PgAppSpecRepository::new(env.pool.clone());
    let (job, v) = versioned_job(&repo, alice, "lost", SpecStatus::Validated).await;
    expire_lease(&env, job.id).await;
    run(&repo, "w2").await.unwrap();
    let events = repo.events_after(job.id, 0, 100).await.unwrap().len();
    refused(&env, &repo, job.id, "w1", v).await;
    assert_eq!(
        repo.events_after(job.id, 0, 100).await.unwrap().len(),
        events
    );
    assert_eq!(
        spec_now(&specs, alice, v.app_spec_id).await,
        (1, SpecStatus::Validated)
    );
    let running = repo.get(viewer(alice), job.id).await.unwrap().unwrap();
    assert_eq!(
        (running.status, running.result),
        (JobStatus::Generating, None)
    );

    repo.cancel(viewer(alice), job.id).await.unwrap();
    refused(&env, &repo, job.id, "w2", v).await;
    assert_eq!(
        repo.get(viewer(alice), job.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        JobStatus::Cancelled
    );
}

#[tokio::test]
async fn rows_of_the_previous_release_read_as_typed_values() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgJobRepository::new(env.pool.clone());
    let specs = PgAppSpecRepository::new(env.pool.clone());
    let spec = spec_of(&specs, alice, "words").await;
    let id = Uuid::new_v4();
    let failed_id = Uuid::new_v4();
    let request = json!({
        "requirement": "一个背单词的应用",
        "ageGroup": "middle_school",
        "magicPromptId": null,
        "variables": {"topic": "english"},
        "appSpecId": null,
        "renderer": "uniapp",
        "qualityThreshold": 75,
    });
    let state = json!({
        "plan": {
            "output": {"modules": ["words"]},
            "usage": {"promptTokens": 3, "completionTokens": 4, "totalTokens": 7,
                      "promptCacheHitTokens": 1, "promptCacheMissTokens": 2},
            "reasoning": "先规划",
            "model": "deepseek-chat",
        },
        "execute": "not a checkpoint",
        "validate": {"ruleScore": 95, "aiScore": 80, "finalScore": 90, "threshold": 75,
                     "errors": 0, "warnings": 1, "findings": []},
    });
    let result = json!({"qualityScore": 90, "ruleScore": 95, "aiScore": 80, "warnings": 1});
    env.exec(&format!(
        "INSERT INTO generation_jobs (id, user_id, request, state, result, status, progress, \
           app_spec_id, version_number, token_usage, finished_at) \
         VALUES ('{id}', '{alice}', '{request}', '{state}', '{result}', 'completed', 100, \
           '{spec}', 1, '{{\"totalTokens\": 21}}', now()); \
         INSERT INTO generation_jobs (id, user_id, request, status, error_code, error_message) \
         VALUES ('{failed_id}', '{alice}', '{request}', 'failed', '6003', 'provider down');"
    ))
    .await;

    let job = repo.get(viewer(alice), id).await.unwrap().unwrap();
    assert_eq!(
        job.request.kind,
        JobKind::Generate,
        "no kind reads as generate"
    );
    assert_eq!(job.request.requirement, "一个背单词的应用");
    assert_eq!(job.request.age_group, Some(AgeGroup::MiddleSchool));
    assert_eq!(job.request.variables, json!({"topic": "english"}));
    assert_eq!(job.request.renderer.as_deref(), Some("uniapp"));
    assert_eq!(job.request.quality_threshold, 75);
    assert_eq!(job.request.version, None);
    assert_eq!(
        job.state.plan,
        Some(AgentCheckpoint {
            output: json!({"modules": ["words"]}),
            usage: TokenUsage {
                prompt_tokens: 3,
                completion_tokens: 4,
                total_tokens: 7,
                prompt_cache_hit_tokens: 1,
                prompt_cache_miss_tokens: 2,
            },
            reasoning: "先规划".to_owned(),
            model: "deepseek-chat".to_owned(),
        })
    );
    assert_eq!(
        job.state.execute, None,
        "an unreadable checkpoint is dropped"
    );
    let validate = job.state.validate.clone().unwrap();
    assert_eq!(
        (validate.rule_score, validate.ai_score, validate.final_score),
        (95, Some(80), Some(90))
    );
    assert_eq!((validate.threshold, validate.warnings), (75, 1));
    assert!(validate.review.is_none() && validate.findings.is_empty());
    assert_eq!((job.state.version, job.state.render), (None, None));
    assert_eq!(
        job.result,
        Some(JobSummary {
            quality_score: Some(90),
            rule_score: Some(95),
            ai_score: Some(80),
            warnings: 1,
            code: None,
        })
    );
    assert_eq!(job.token_usage.total_tokens, 21);
    assert_eq!((job.app_spec_id, job.version_number), (Some(spec), Some(1)));

    let failed = repo.get(viewer(alice), failed_id).await.unwrap().unwrap();
    assert_eq!(failed.error_code, Some(FailureCode::AiProvider));
    assert_eq!(failed.state, JobState::default());
    assert_eq!(failed.result, None);
    // Listing reads them too.
    let all = repo
        .list(
            viewer(alice),
            None,
            ingenio_kernel::PageRequest::new(1, 10).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(all.total, 2);
}
