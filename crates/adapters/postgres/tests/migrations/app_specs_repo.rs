//! Tests of `PgAppSpecRepository` against a migrated database: create with version 1, visibility
//! per viewer, locked appends (stale refusals, no lost versions under concurrency), delete, list.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::{admin, env, new_version, other_tenant, spec_json, viewer};
use ingenio_app_specs::ports::{
    AppSpecRepository, AppendOutcome, ChangeType, SpecSummary, SpecVersionSummary, Viewer,
};
use ingenio_app_specs::SpecStatus;
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::{PageRequest, TenantId};
use ingenio_postgres::app_specs::PgAppSpecRepository;
use serde_json::json;
use std::sync::Arc;

#[tokio::test]
async fn create_writes_the_spec_and_version_one() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgAppSpecRepository::new(env.pool.clone());
    let (spec, v1) = repo
        .create(TenantId::default(), new_version(alice, "first"))
        .await
        .unwrap();
    assert_eq!(spec.version, 1);
    assert_eq!(spec.owner, alice);
    assert_eq!(spec.tenant_id, TenantId::default());
    assert_eq!(spec.content, spec_json("first"));
    assert_eq!(spec.status, SpecStatus::Draft);
    assert_eq!(spec.quality_score, Some(70));
    assert_eq!(spec.parent_id, None);
    assert_eq!(v1.app_spec_id, spec.id);
    assert_eq!(v1.version_number, 1);
    assert_eq!(v1.snapshot, spec_json("first"));
    assert_eq!(v1.change_type, ChangeType::UserEdit);
    assert_eq!(v1.change_description.as_deref(), Some("set first"));
    assert_eq!(v1.created_by, Some(alice));
    assert_eq!(
        v1.generation_metadata,
        Some(json!({"modelVersion": "test", "title": "first"}))
    );

    assert_eq!(
        repo.get(viewer(alice), spec.id).await.unwrap(),
        Some(spec.clone())
    );
    assert_eq!(
        repo.versions(viewer(alice), spec.id).await.unwrap(),
        Some(vec![v1.clone()])
    );
    assert_eq!(
        repo.version(viewer(alice), spec.id, 1).await.unwrap(),
        Some(Some(v1))
    );
    // Visible spec, missing version: inner None.
    assert_eq!(
        repo.version(viewer(alice), spec.id, 2).await.unwrap(),
        Some(None)
    );
    // The version row carries the tenant.
    assert_eq!(
        env.count(&format!(
            "SELECT COUNT(*) AS n FROM app_spec_versions WHERE app_spec_id = '{}' AND tenant_id = '{}'",
            spec.id,
            TenantId::default()
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn invisible_specs_behave_like_missing_ones() {
    let env = env().await;
    let alice = env.user("alice").await;
    let bob = env.user("bob").await;
    let boss = env.user("boss").await;
    let stranger = env.user_in(other_tenant(), "stranger").await;
    let repo = PgAppSpecRepository::new(env.pool.clone());
    let (spec, _) = repo
        .create(TenantId::default(), new_version(alice, "mine"))
        .await
        .unwrap();
    let missing = Uuid::new_v4();

    for who in [
        viewer(bob),
        Viewer {
            tenant: other_tenant(),
            user: stranger,
            admin: true,
        },
    ] {
        assert_eq!(repo.get(who, spec.id).await.unwrap(), None);
        assert_eq!(repo.versions(who, spec.id).await.unwrap(), None);
        assert_eq!(repo.version(who, spec.id, 1).await.unwrap(), None);
        assert_eq!(
            repo.append_version(who, spec.id, None, new_version(bob, "hijack"))
                .await
                .unwrap(),
            AppendOutcome::NotFound
        );
        assert!(!repo.delete(who, spec.id).await.unwrap());
    }
    // Missing specs answer the same.
    assert_eq!(repo.get(viewer(alice), missing).await.unwrap(), None);
    assert_eq!(repo.versions(viewer(alice), missing).await.unwrap(), None);
    assert_eq!(repo.version(viewer(alice), missing, 1).await.unwrap(), None);
    assert!(!repo.delete(viewer(alice), missing).await.unwrap());
    assert_eq!(
        repo.append_version(viewer(alice), missing, None, new_version(alice, "x"))
            .await
            .unwrap(),
        AppendOutcome::NotFound
    );
    // Nothing was written by the refused calls.
    let now = repo.get(viewer(alice), spec.id).await.unwrap().unwrap();
    assert_eq!(now.version, 1);
    assert_eq!(now.content, spec_json("mine"));

    // An admin of the tenant sees and may change any spec of the tenant.
    assert_eq!(
        repo.get(admin(boss), spec.id).await.unwrap().map(|s| s.id),
        Some(spec.id)
    );
    match repo
        .append_version(admin(boss), spec.id, Some(1), new_version(boss, "by admin"))
        .await
        .unwrap()
    {
        AppendOutcome::Appended(s, v) => {
            assert_eq!(s.version, 2);
            assert_eq!(s.owner, alice, "the owner does not change");
            assert_eq!(v.created_by, Some(boss));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        repo.versions(admin(boss), spec.id)
            .await
            .unwrap()
            .unwrap()
            .len(),
        2
    );
    assert!(repo.delete(admin(boss), spec.id).await.unwrap());
}

#[tokio::test]
async fn append_checks_the_expected_version_and_writes_nothing_when_stale() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgAppSpecRepository::new(env.pool.clone());
    let (spec, _) = repo
        .create(TenantId::default(), new_version(alice, "v1"))
        .await
        .unwrap();
    let mut second = new_version(alice, "v2");
    second.status = SpecStatus::Validated;
    second.quality_score = Some(91);
    second.change_type = ChangeType::AiGeneration;
    let (s2, v2) = match repo
        .append_version(viewer(alice), spec.id, Some(1), second)
        .await
        .unwrap()
    {
        AppendOutcome::Appended(s, v) => (s, v),
        other => panic!("{other:?}"),
    };
    assert_eq!(s2.version, 2);
    assert_eq!(s2.content, spec_json("v2"));
    assert_eq!(s2.status, SpecStatus::Validated);
    assert_eq!(s2.quality_score, Some(91));
    assert_eq!(s2.created_at, spec.created_at);
    assert!(s2.updated_at >= spec.updated_at);
    assert_eq!(v2.version_number, 2);
    assert_eq!(v2.change_type, ChangeType::AiGeneration);

    // Stale: expected 1, current 2; nothing written.
    assert_eq!(
        repo.append_version(viewer(alice), spec.id, Some(1), new_version(alice, "lost"))
            .await
            .unwrap(),
        AppendOutcome::Stale { current: 2 }
    );
    assert_eq!(
        repo.append_version(viewer(alice), spec.id, Some(7), new_version(alice, "lost"))
            .await
            .unwrap(),
        AppendOutcome::Stale { current: 2 }
    );
    let after = repo.get(viewer(alice), spec.id).await.unwrap().unwrap();
    assert_eq!(after, s2);
    let timeline = repo
        .versions(viewer(alice), spec.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        timeline
            .iter()
            .map(|v| v.version_number)
            .collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(timeline[0].snapshot, spec_json("v1"));
    assert_eq!(timeline[1].snapshot, spec_json("v2"));

    // Without an expected version it always appends.
    match repo
        .append_version(viewer(alice), spec.id, None, new_version(alice, "v3"))
        .await
        .unwrap()
    {
        AppendOutcome::Appended(s, v) => {
            assert_eq!((s.version, v.version_number), (3, 3));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_get_consecutive_versions_and_none_is_lost() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = Arc::new(PgAppSpecRepository::new(env.pool.clone()));
    let (spec, _) = repo
        .create(TenantId::default(), new_version(alice, "base"))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let repo = repo.clone();
            tokio::spawn(async move {
                repo.append_version(
                    viewer(alice),
                    spec.id,
                    None,
                    new_version(alice, &format!("edit {i}")),
                )
                .await
                .unwrap()
            })
        })
        .collect();
    let mut numbers = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            AppendOutcome::Appended(s, v) => {
                assert_eq!(s.version, v.version_number);
                numbers.push(v.version_number);
            }
            other => panic!("{other:?}"),
        }
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (2..=11).collect::<Vec<_>>());
    let timeline = repo
        .versions(viewer(alice), spec.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        timeline
            .iter()
            .map(|v| v.version_number)
            .collect::<Vec<_>>(),
        (1..=11).collect::<Vec<_>>()
    );
    // Every edit is there exactly once, and the spec holds the last version's content.
    let mut titles: Vec<String> = timeline[1..]
        .iter()
        .map(|v| v.snapshot["title"].as_str().unwrap().to_owned())
        .collect();
    titles.sort();
    let mut expected: Vec<String> = (0..10).map(|i| format!("edit {i}")).collect();
    expected.sort();
    assert_eq!(titles, expected);
    let current = repo.get(viewer(alice), spec.id).await.unwrap().unwrap();
    assert_eq!(current.version, 11);
    assert_eq!(current.content, timeline[10].snapshot);
}

#[tokio::test]
async fn delete_removes_the_versions_too() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgAppSpecRepository::new(env.pool.clone());
    let (spec, _) = repo
        .create(TenantId::default(), new_version(alice, "a"))
        .await
        .unwrap();
    let (keep, _) = repo
        .create(TenantId::default(), new_version(alice, "b"))
        .await
        .unwrap();
    repo.append_version(viewer(alice), spec.id, None, new_version(alice, "a2"))
        .await
        .unwrap();
    assert!(repo.delete(viewer(alice), spec.id).await.unwrap());
    assert_eq!(repo.get(viewer(alice), spec.id).await.unwrap(), None);
    assert_eq!(repo.versions(viewer(alice), spec.id).await.unwrap(), None);
    assert_eq!(
        env.count(&format!(
            "SELECT COUNT(*) AS n FROM app_spec_versions WHERE app_spec_id = '{}'",
            spec.id
        ))
        .await,
        0
    );
    assert!(!repo.delete(viewer(alice), spec.id).await.unwrap());
    // The other spec is untouched.
    assert_eq!(
        repo.versions(viewer(alice), keep.id)
            .await
            .unwrap()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn list_shows_the_viewers_own_specs_newest_first() {
    let env = env().await;
    let alice = env.user("alice").await;
    let bob = env.user("bob").await;
    let repo = PgAppSpecRepository::new(env.pool.clone());
    let mut ids = Vec::new();
    for (i, title) in ["one", "two", "three"].into_iter().enumerate() {
        let (s, _) = repo
            .create(TenantId::default(), new_version(alice, title))
            .await
            .unwrap();
        env.exec(&format!(
            "UPDATE app_specs SET created_at = '2024-01-0{} 00:00:00+00' WHERE id = '{}'",
            i + 1,
            s.id
        ))
        .await;
        ids.push(s.id);
    }
    repo.create(TenantId::default(), new_version(bob, "bobs"))
        .await
        .unwrap();

    let first = repo
        .list(viewer(alice), PageRequest::new(1, 2).unwrap())
        .await
        .unwrap();
    assert_eq!(first.total, 3);
    assert_eq!(first.pages, 2);
    assert_eq!(
        first.records.iter().map(|s| s.id).collect::<Vec<_>>(),
        [ids[2], ids[1]]
    );
    let second = repo
        .list(viewer(alice), PageRequest::new(2, 2).unwrap())
        .await
        .unwrap();
    assert_eq!(
        second.records.iter().map(|s| s.id).collect::<Vec<_>>(),
        [ids[0]]
    );

    // Listing is "mine", for admins too.
    let as_admin = repo
        .list(admin(bob), PageRequest::new(1, 10).unwrap())
        .await
        .unwrap();
    assert_eq!(as_admin.total, 1);
    assert_eq!(as_admin.records[0].owner, bob);
    let stranger = env.user_in(other_tenant(), "stranger").await;
    let none = repo
        .list(
            Viewer {
                tenant: other_tenant(),
                user: stranger,
                admin: true,
            },
            PageRequest::new(1, 10).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(none.total, 0);
    assert!(none.records.is_empty());
}

#[tokio::test]
async fn listings_match_the_full_reads_without_their_documents() {
    let env = env().await;
    let alice = env.user("alice").await;
    let bob = env.user("bob").await;
    let repo = PgAppSpecRepository::new(env.pool.clone());
    let (spec, _) = repo
        .create(TenantId::default(), new_version(alice, "first"))
        .await
        .unwrap();
    let mut named = new_version(alice, "named");
    named.content["appName"] = json!("单词测验 ✨");
    repo.append_version(viewer(alice), spec.id, None, named)
        .await
        .unwrap();
    let (other, _) = repo
        .create(TenantId::default(), new_version(alice, "second"))
        .await
        .unwrap();

    let full = repo
        .versions(viewer(alice), spec.id)
        .await
        .unwrap()
        .unwrap();
    let summaries = repo
        .version_summaries(viewer(alice), spec.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(summaries.len(), 2);
    assert_eq!(
        summaries,
        full.into_iter()
            .map(SpecVersionSummary::from)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        repo.version_summaries(viewer(bob), spec.id).await.unwrap(),
        None
    );
    assert_eq!(
        repo.version_summaries(admin(bob), spec.id)
            .await
            .unwrap()
            .map(|v| v.len()),
        Some(2)
    );

    let page = PageRequest::new(1, 10).unwrap();
    let listed = repo.list_summaries(viewer(alice), page).await.unwrap();
    let expected = repo
        .list(viewer(alice), page)
        .await
        .unwrap()
        .map(SpecSummary::from);
    assert_eq!(listed.records, expected.records);
    assert_eq!(listed.total, 2);
    let names: Vec<_> = listed
        .records
        .iter()
        .map(|s| (s.id, s.app_name.clone()))
        .collect();
    assert!(names.contains(&(spec.id, Some(json!("单词测验 ✨")))));
    assert!(names.contains(&(other.id, None)));
    assert_eq!(
        repo.list_summaries(viewer(bob), page).await.unwrap().total,
        0
    );
}

#[tokio::test]
async fn the_timeline_never_reads_a_snapshot() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgAppSpecRepository::new(env.pool.clone());
    let (spec, _) = repo
        .create(TenantId::default(), new_version(alice, "first"))
        .await
        .unwrap();
    // a role that may read every column the timeline needs, but not the snapshots
    let role = format!("timeline_{}", Uuid::new_v4().simple());
    env.exec(&format!(
        "CREATE ROLE {role} NOLOGIN;
         GRANT USAGE ON SCHEMA public TO {role};
         GRANT SELECT (id, tenant_id, created_by_user_id) ON app_specs TO {role};
         GRANT SELECT (id, app_spec_id, version_number, generation_metadata, change_description,
                       change_type, created_by_user_id, created_at) ON app_spec_versions TO {role};"
    ))
    .await;
    let limited = ingenio_postgres::pool::build_pool(&ingenio_postgres::PgPoolSettings {
        url: env.db.url.clone(),
        max_size: 1,
        min_idle: 0,
        connection_timeout: std::time::Duration::from_secs(20),
        idle_timeout: std::time::Duration::from_secs(60),
        max_lifetime: std::time::Duration::from_secs(600),
        http_workers: 0,
    });
    {
        let mut c = limited.get().await.unwrap();
        diesel_async::SimpleAsyncConnection::batch_execute(&mut *c, &format!("SET ROLE {role}"))
            .await
            .unwrap();
    }
    let as_role = PgAppSpecRepository::new(limited.clone());
    let timeline = as_role.version_summaries(viewer(alice), spec.id).await;
    // the full read needs the snapshots, which this role cannot see
    let full = as_role.versions(viewer(alice), spec.id).await;
    drop(as_role);
    drop(limited);
    env.exec(&format!("DROP OWNED BY {role}; DROP ROLE {role};"))
        .await;
    assert_eq!(timeline.unwrap().map(|v| v.len()), Some(1));
    assert!(full.is_err(), "the role must not be able to read snapshots");
}

#[tokio::test]
async fn set_status_moves_only_the_version_and_status_it_was_told() {
    let env = env().await;
    let alice = env.user("alice").await;
    let bob = env.user("bob").await;
    let repo = PgAppSpecRepository::new(env.pool.clone());
    let (spec, _) = repo
        .create(TenantId::default(), new_version(alice, "first"))
        .await
        .unwrap();
    let (draft, validated) = (SpecStatus::Draft, SpecStatus::Validated);
    for (who, version, from) in [
        (viewer(bob), 1, draft),
        (viewer(alice), 2, draft),
        (viewer(alice), 1, validated),
    ] {
        assert_eq!(
            repo.set_status(who, spec.id, version, from, validated)
                .await
                .unwrap(),
            None
        );
    }
    assert_eq!(
        repo.get(viewer(alice), spec.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        draft
    );
    let moved = repo
        .set_status(viewer(alice), spec.id, 1, draft, validated)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((moved.status, moved.version), (validated, 1));
    assert_eq!(moved.content, spec.content);
    assert!(moved.updated_at >= spec.updated_at);
    assert_eq!(repo.get(viewer(alice), spec.id).await.unwrap(), Some(moved));
}

/// The database refuses what the lifecycle forbids, whatever the caller asks: a status move that
/// is not a step, new content written as `generated` or `published`, a spec starting past
/// `validated`. Nothing is written by a refused call.
#[tokio::test]
async fn illegal_status_writes_are_refused_by_the_adapter() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgAppSpecRepository::new(env.pool.clone());
    let (spec, _) = repo
        .create(TenantId::default(), new_version(alice, "first"))
        .await
        .unwrap();
    let me = viewer(alice);
    for to in [SpecStatus::Generated, SpecStatus::Published] {
        let refused = repo
            .set_status(me, spec.id, 1, SpecStatus::Draft, to)
            .await
            .unwrap_err();
        assert!(
            format!("{refused:#}").contains("cannot move a spec from draft to"),
            "{refused:#}"
        );
    }
    for status in [SpecStatus::Generated, SpecStatus::Published] {
        let mut v = new_version(alice, "second");
        v.status = status;
        assert!(repo
            .append_version(me, spec.id, None, v.clone())
            .await
            .is_err());
        assert!(repo.create(TenantId::default(), v).await.is_err());
    }
    let now = repo.get(me, spec.id).await.unwrap().unwrap();
    assert_eq!((now.status, now.version), (SpecStatus::Draft, 1));
    assert_eq!(repo.versions(me, spec.id).await.unwrap().unwrap().len(), 1);
    assert_eq!(
        repo.list(me, PageRequest::new(1, 10).unwrap())
            .await
            .unwrap()
            .total,
        1,
        "no spec started as generated"
    );
    // the legal ones still go through: content as validated over a draft, then a step
    let mut v = new_version(alice, "third");
    v.status = SpecStatus::Validated;
    let AppendOutcome::Appended(s, _) = repo.append_version(me, spec.id, None, v).await.unwrap()
    else {
        panic!("appended")
    };
    assert_eq!((s.status, s.version), (SpecStatus::Validated, 2));
    let moved = repo
        .set_status(me, spec.id, 2, SpecStatus::Validated, SpecStatus::Generated)
        .await
        .unwrap();
    assert_eq!(moved.map(|m| m.status), Some(SpecStatus::Generated));
}
