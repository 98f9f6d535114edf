//! Tests of `PgCodeRepository` against a migrated database: the records of a spec (newest first,
//! only for those who may see the spec), lookup by project key (any owner) and by content hash,
//! and agreement with what a job's completion records.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::{
    admin, completion, created, env, job_version, new_job, new_version, other_tenant, rendered,
    run, spec_of, viewer, Env,
};
use ingenio_app_specs::ports::{
    AppSpecRepository, CompleteOutcome, JobRepository, Viewer, WriteVersionOutcome,
};
use ingenio_code_gen::ports::{CodeRecord, CodeRepository};
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::TenantId;
use ingenio_postgres::app_specs::PgAppSpecRepository;
use ingenio_postgres::code::PgCodeRepository;
use ingenio_postgres::jobs::PgJobRepository;

/// One `generated_code` row to insert with plain SQL.
struct Row<'a> {
    spec: Uuid,
    version: i32,
    key: &'a str,
    hash: &'a str,
    status: &'a str,
    /// Days after 2024-01-01.
    day: u32,
}

async fn insert(env: &Env, r: Row<'_>) {
    env.exec(&format!(
        "INSERT INTO generated_code (app_spec_id, app_spec_version_number, project_key, \
           renderer_type, framework, storage_key, file_count, total_size_bytes, content_hash, \
           build_status, preview_url, metadata, created_at) \
         VALUES ('{}', {}, '{}', 'uniapp', 'vue3', 'code/{}/{}.zip', 5, 2048, '{}', '{}', \
           'https://preview.example/{}/', '{{\"rendererVersion\": \"0.9.{}\", \"zipSizeBytes\": 777}}', \
           timestamptz '2024-01-01 00:00:00+00' + interval '{} days')",
        r.spec, r.version, r.key, r.hash, r.key, r.hash, r.status, r.key, r.day, r.day
    ))
    .await;
}

fn keys(records: &[CodeRecord]) -> Vec<&str> {
    records.iter().map(|r| r.project_key.as_str()).collect()
}

#[tokio::test]
async fn list_for_spec_is_newest_first_and_only_for_those_who_may_see_the_spec() {
    let env = env().await;
    let alice = env.user("alice").await;
    let bob = env.user("bob").await;
    let boss = env.user("boss").await;
    let stranger = env.user_in(other_tenant(), "stranger").await;
    let specs = PgAppSpecRepository::new(env.pool.clone());
    let code = PgCodeRepository::new(env.pool.clone());
    let spec = spec_of(&specs, alice, "listed").await;
    specs
        .append_version(viewer(alice), spec, None, new_version(alice, "v2"))
        .await
        .unwrap();
    let other = spec_of(&specs, alice, "other").await;
    let empty = spec_of(&specs, alice, "empty").await;
    for (version, key, day) in [
        (1, "pk-a", 1),
        (2, "pk-b", 2),
        (2, "pk-c", 3),
        (1, "pk-d", 4),
    ] {
        let hash = format!("h-{key}");
        insert(
            &env,
            Row {
                spec,
                version,
                key,
                hash: &hash,
                status: "success",
                day,
            },
        )
        .await;
    }
    insert(
        &env,
        Row {
            spec: other,
            version: 1,
            key: "pk-other",
            hash: "h-o",
            status: "success",
            day: 9,
        },
    )
    .await;

    let mine = code
        .list_for_spec(viewer(alice), spec)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(keys(&mine), ["pk-c", "pk-b", "pk-d", "pk-a"]);
    let newest = &mine[0];
    assert_eq!(
        *newest,
        CodeRecord {
            id: newest.id,
            tenant_id: TenantId::default(),
            app_spec_id: spec,
            version_number: 2,
            project_key: "pk-c".to_owned(),
            renderer: "uniapp".to_owned(),
            renderer_version: "0.9.3".to_owned(),
            framework: Some("vue3".to_owned()),
            storage_key: "code/h-pk-c/pk-c.zip".to_owned(),
            file_count: 5,
            total_size_bytes: 2048,
            zip_size_bytes: 777,
            content_hash: "h-pk-c".to_owned(),
            build_status: "success".to_owned(),
            preview_url: Some("https://preview.example/pk-c/".to_owned()),
            created_at: newest.created_at,
        }
    );
    assert_eq!(newest.created_at.to_rfc3339(), "2024-01-04T00:00:00+00:00");

    assert_eq!(
        code.list_for_spec(admin(boss), spec)
            .await
            .unwrap()
            .as_deref(),
        Some(mine.as_slice()),
        "an admin sees the tenant's specs"
    );
    assert_eq!(code.list_for_spec(viewer(bob), spec).await.unwrap(), None);
    let foreign_admin = Viewer {
        tenant: other_tenant(),
        user: stranger,
        admin: true,
    };
    assert_eq!(code.list_for_spec(foreign_admin, spec).await.unwrap(), None);
    assert_eq!(
        code.list_for_spec(viewer(alice), Uuid::new_v4())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        code.list_for_spec(viewer(alice), empty).await.unwrap(),
        Some(vec![])
    );
}

#[tokio::test]
async fn by_project_key_finds_any_owners_record_and_tolerates_sparse_rows() {
    let env = env().await;
    let alice = env.user("alice").await;
    let bob = env.user("bob").await;
    let specs = PgAppSpecRepository::new(env.pool.clone());
    let code = PgCodeRepository::new(env.pool.clone());
    let alices = spec_of(&specs, alice, "alices").await;
    let bobs = spec_of(&specs, bob, "bobs").await;
    insert(
        &env,
        Row {
            spec: alices,
            version: 1,
            key: "pk-a",
            hash: "h1",
            status: "success",
            day: 1,
        },
    )
    .await;
    insert(
        &env,
        Row {
            spec: bobs,
            version: 1,
            key: "pk-b",
            hash: "h2",
            status: "success",
            day: 2,
        },
    )
    .await;

    let a = code.by_project_key("pk-a").await.unwrap().unwrap();
    assert_eq!((a.app_spec_id, a.content_hash.as_str()), (alices, "h1"));
    let b = code.by_project_key("pk-b").await.unwrap().unwrap();
    assert_eq!(
        (b.app_spec_id, b.storage_key.as_str()),
        (bobs, "code/h2/pk-b.zip")
    );
    assert_eq!(code.by_project_key("pk-zzz").await.unwrap(), None);
    assert_eq!(code.by_project_key("").await.unwrap(), None);

    // A row with the optional columns empty and no metadata still reads.
    env.exec(&format!(
        "INSERT INTO generated_code (app_spec_id, app_spec_version_number, project_key, \
           renderer_type, storage_key, content_hash) \
         VALUES ('{alices}', 1, 'pk-sparse', 'uniapp', 'code/s.zip', 'hs')"
    ))
    .await;
    let sparse = code.by_project_key("pk-sparse").await.unwrap().unwrap();
    assert_eq!(sparse.framework, None);
    assert_eq!(sparse.preview_url, None);
    assert_eq!(sparse.renderer_version, "");
    assert_eq!(
        (
            sparse.zip_size_bytes,
            sparse.file_count,
            sparse.total_size_bytes
        ),
        (0, 0, 0)
    );
    assert_eq!(sparse.build_status, "pending");
}

#[tokio::test]
async fn stored_object_is_the_oldest_successful_artifact_with_that_hash() {
    let env = env().await;
    let alice = env.user("alice").await;
    let specs = PgAppSpecRepository::new(env.pool.clone());
    let code = PgCodeRepository::new(env.pool.clone());
    let spec = spec_of(&specs, alice, "hashed").await;
    for (key, hash, status, day) in [
        ("pk-1", "same", "failed", 1),
        ("pk-2", "same", "success", 2),
        ("pk-3", "same", "success", 3),
        ("pk-4", "broken", "failed", 4),
        ("pk-5", "other", "success", 5),
    ] {
        insert(
            &env,
            Row {
                spec,
                version: 1,
                key,
                hash,
                status,
                day,
            },
        )
        .await;
    }
    assert_eq!(
        code.stored_object("same").await.unwrap().as_deref(),
        Some("code/same/pk-2.zip")
    );
    assert_eq!(
        code.stored_object("other").await.unwrap().as_deref(),
        Some("code/other/pk-5.zip")
    );
    assert_eq!(
        code.stored_object("broken").await.unwrap(),
        None,
        "failed builds are not reused"
    );
    assert_eq!(code.stored_object("missing").await.unwrap(), None);
}

#[tokio::test]
async fn what_a_completion_records_reads_back_as_the_rendered_code() {
    let env = env().await;
    let alice = env.user("alice").await;
    let jobs = PgJobRepository::new(env.pool.clone());
    let code = PgCodeRepository::new(env.pool.clone());
    let job = created(&jobs, new_job(alice, "round trip", None)).await;
    run(&jobs, "w1").await.unwrap();
    let WriteVersionOutcome::Written(v) = jobs
        .write_version(job.id, "w1", job_version(alice, None, "round trip"))
        .await
        .unwrap()
    else {
        panic!("the version is written")
    };
    let art = rendered("pk-round", "hash-round");
    assert!(matches!(
        jobs.complete(job.id, "w1", completion(v, Some(art.clone())))
            .await
            .unwrap(),
        CompleteOutcome::Completed { .. }
    ));
    let record = code.by_project_key("pk-round").await.unwrap().unwrap();
    assert_eq!(
        (record.app_spec_id, record.version_number, record.tenant_id),
        (v.app_spec_id, 1, TenantId::default())
    );
    assert_eq!(record.renderer, art.renderer);
    assert_eq!(record.renderer_version, art.renderer_version);
    assert_eq!(record.framework.as_deref(), Some(art.framework.as_str()));
    assert_eq!(record.storage_key, art.storage_key);
    assert_eq!(record.content_hash, art.content_hash);
    assert_eq!(u32::try_from(record.file_count).unwrap(), art.file_count);
    assert_eq!(
        u64::try_from(record.total_size_bytes).unwrap(),
        art.total_size_bytes
    );
    assert_eq!(
        u64::try_from(record.zip_size_bytes).unwrap(),
        art.zip_size_bytes
    );
    assert_eq!(record.preview_url, art.preview_url);
    assert_eq!(record.build_status, "success");
    assert_eq!(
        code.stored_object("hash-round").await.unwrap(),
        Some(art.storage_key.clone())
    );
    assert_eq!(
        code.list_for_spec(viewer(alice), v.app_spec_id)
            .await
            .unwrap()
            .unwrap(),
        [record]
    );
}

/// The project key of the render a project carries (migration 015's triggers), checking that its
/// code id and preview URL name the same render.
async fn project_code(env: &Env, project: Uuid) -> Option<String> {
    for k in ["pk-1", "pk-2", "pk-2b", "pk-3"] {
        let carried = env
            .count(&format!(
                "SELECT count(*) AS n FROM projects p JOIN generated_code g ON g.id = p.code_id \
                 WHERE p.id = '{project}' AND g.project_key = '{k}' \
                   AND p.preview_url = 'https://preview.example/{k}/'"
            ))
            .await;
        if carried == 1 {
            return Some(k.to_owned());
        }
    }
    let bare = env
        .count(&format!(
            "SELECT count(*) AS n FROM projects WHERE id = '{project}' \
             AND code_id IS NULL AND preview_url IS NULL"
        ))
        .await;
    assert_eq!(
        bare, 1,
        "project {project}: code id and preview URL disagree"
    );
    None
}

#[tokio::test]
async fn projects_follow_their_specs_latest_successful_render() {
    let env = env().await;
    let alice = env.user("alice").await;
    let specs = PgAppSpecRepository::new(env.pool.clone());
    let spec = spec_of(&specs, alice, "followed").await;
    let new_project = |name: &str| {
        let id = Uuid::new_v4();
        let sql = format!(
            "INSERT INTO projects (id, user_id, name, app_spec_id) \
             VALUES ('{id}', '{alice}', '{name}', '{spec}')"
        );
        (id, sql)
    };
    let (early, sql) = new_project("early");
    env.exec(&sql).await;
    assert_eq!(project_code(&env, early).await, None, "no render yet");

    let row = |version, key, status, day| Row {
        spec,
        version,
        key,
        hash: key,
        status,
        day,
    };
    insert(&env, row(1, "pk-1", "success", 1)).await;
    assert_eq!(project_code(&env, early).await.as_deref(), Some("pk-1"));
    insert(&env, row(2, "pk-2", "success", 2)).await;
    insert(&env, row(3, "pk-3", "failed", 3)).await;
    // an older row of the same version inserted later: the newest row of the top version wins
    insert(&env, row(2, "pk-2b", "success", 0)).await;
    assert_eq!(
        project_code(&env, early).await.as_deref(),
        Some("pk-2"),
        "a failed render never replaces a working one"
    );

    // a project created now takes the latest at once
    let (late, sql) = new_project("late");
    env.exec(&sql).await;
    assert_eq!(project_code(&env, late).await.as_deref(), Some("pk-2"));

    // the failed render succeeds on a retry; then the latest ones are deleted
    env.exec("UPDATE generated_code SET build_status = 'success' WHERE project_key = 'pk-3'")
        .await;
    for p in [early, late] {
        assert_eq!(project_code(&env, p).await.as_deref(), Some("pk-3"));
    }
    env.exec("DELETE FROM generated_code WHERE project_key IN ('pk-3', 'pk-2')")
        .await;
    assert_eq!(project_code(&env, early).await.as_deref(), Some("pk-2b"));
    env.exec(&format!(
        "DELETE FROM generated_code WHERE app_spec_id = '{spec}'"
    ))
    .await;
    assert_eq!(project_code(&env, late).await, None);
}
