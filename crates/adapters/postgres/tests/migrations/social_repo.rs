//! The social repositories against PostgreSQL: exact counters under concurrency (50 users
//! liking at once, one user liking ten times at once, unlikes, comments), views deduplicated
//! per viewer and window, the read rule, the report threshold and resolution, prompt seeding.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::{env, other_tenant, Env};
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::{PageRequest, ProjectId, TenantId, UserId, Viewer};
use ingenio_postgres::projects::PgProjectRepository;
use ingenio_postgres::social::PgSocialRepository;
use ingenio_projects::ports::ProjectRepository;
use ingenio_social::ports::{
    InteractionRepository, MagicPromptRepository, ProjectAccess, ReportRepository,
};
use ingenio_social::{
    ModerationAction, ProjectRef, PromptDraft, RawPromptDraft, ReactionKind, Resolution,
    ResolveOutcome, TargetKind, ViewerKey,
};
use std::sync::Arc;

async fn project(env: &Env, owner: UserId, visibility: &str) -> ProjectRef {
    let id = Uuid::new_v4();
    env.exec(&format!(
        "INSERT INTO projects (id, user_id, name, visibility, status) \
         VALUES ('{id}', '{owner}', 'p', '{visibility}', 'published')"
    ))
    .await;
    ProjectRef {
        id: ProjectId::from_uuid(id),
        tenant_id: TenantId::default(),
        owner,
    }
}

async fn counter(env: &Env, p: ProjectRef, col: &str) -> i64 {
    env.count(&format!(
        "SELECT {col}::bigint AS n FROM projects WHERE id = '{}'",
        p.id
    ))
    .await
}

#[tokio::test]
async fn fifty_users_liking_at_once_count_fifty_and_unliking_returns_to_zero() {
    let env = env().await;
    let repo = Arc::new(PgSocialRepository::new(env.pool.clone()));
    let owner = env.user("owner").await;
    let p = project(&env, owner, "public").await;
    let mut users = Vec::new();
    for i in 0..50 {
        users.push(env.user(&format!("fan{i}")).await);
    }
    let likes = users.iter().map(|u| {
        let repo = repo.clone();
        let u = *u;
        tokio::spawn(async move { repo.react(p, u, ReactionKind::Like).await.unwrap() })
    });
    let states = futures::future::join_all(likes).await;
    assert!(states.iter().all(|s| s.as_ref().unwrap().changed));
    assert_eq!(counter(&env, p, "like_count").await, 50);
    let unlikes = users.iter().map(|u| {
        let repo = repo.clone();
        let u = *u;
        tokio::spawn(async move { repo.unreact(p, u, ReactionKind::Like).await.unwrap() })
    });
    futures::future::join_all(unlikes).await;
    assert_eq!(counter(&env, p, "like_count").await, 0);
    // unliking again never goes below zero
    let s = repo.unreact(p, users[0], ReactionKind::Like).await.unwrap();
    assert!(!s.changed);
    assert_eq!(s.counters.like_count, 0);
}

#[tokio::test]
async fn one_user_liking_ten_times_at_once_counts_once() {
    let env = env().await;
    let repo = Arc::new(PgSocialRepository::new(env.pool.clone()));
    let owner = env.user("owner").await;
    let fan = env.user("fan").await;
    let p = project(&env, owner, "public").await;
    let likes = (0..10).map(|_| {
        let repo = repo.clone();
        tokio::spawn(async move { repo.react(p, fan, ReactionKind::Like).await.unwrap() })
    });
    let states: Vec<_> = futures::future::join_all(likes)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(states.iter().filter(|s| s.changed).count(), 1);
    assert_eq!(counter(&env, p, "like_count").await, 1);
    // a favorite is its own reaction and does not move the like counter
    repo.react(p, fan, ReactionKind::Favorite).await.unwrap();
    assert_eq!(counter(&env, p, "like_count").await, 1);
    // ten concurrent unlikes: one removes, the counter ends at zero
    let unlikes = (0..10).map(|_| {
        let repo = repo.clone();
        tokio::spawn(async move { repo.unreact(p, fan, ReactionKind::Like).await.unwrap() })
    });
    futures::future::join_all(unlikes).await;
    assert_eq!(counter(&env, p, "like_count").await, 0);
    let favs = repo
        .favorites(
            Viewer::owner(TenantId::default(), fan),
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(favs.total, 1);
    assert_eq!(favs.records[0].id, p.id);
}

#[tokio::test]
async fn comments_keep_their_counter_exact_through_hide_restore_and_delete() {
    let env = env().await;
    let repo = Arc::new(PgSocialRepository::new(env.pool.clone()));
    let owner = env.user("owner").await;
    let p = project(&env, owner, "public").await;
    let adds = (0..20).map(|i| {
        let repo = repo.clone();
        tokio::spawn(async move {
            repo.add_comment(p, owner, &format!("评论 {i}"))
                .await
                .unwrap()
        })
    });
    let comments: Vec<_> = futures::future::join_all(adds)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(counter(&env, p, "comment_count").await, 20);
    let page = repo
        .comments(p.id, None, PageRequest::new(1, 5).unwrap())
        .await
        .unwrap();
    assert_eq!((page.total, page.records.len()), (20, 5));
    assert!(page.records[0].created_at >= page.records[4].created_at);

    // a report threshold of 1 hides the comment at once; hiding lowers the counter once
    let reporter = env.user("reporter").await;
    let c0 = comments[0].id;
    let o = repo
        .report(
            TenantId::default(),
            reporter,
            TargetKind::Comment,
            c0,
            p.id,
            "mean",
            1,
        )
        .await
        .unwrap();
    assert!(o.created && o.hid_target);
    assert_eq!(counter(&env, p, "comment_count").await, 19);
    let visible = repo
        .comments(p.id, None, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(visible.total, 19, "hidden comments are left out for others");
    let as_author = repo
        .comments(p.id, Some((owner, false)), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(
        as_author.total, 20,
        "the author still sees their hidden comment"
    );
    // reporting again is the same report
    let again = repo
        .report(
            TenantId::default(),
            reporter,
            TargetKind::Comment,
            c0,
            p.id,
            "mean",
            1,
        )
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.report.id, o.report.id);

    // admin restores: counted again; resolving twice is refused
    let admin = env.user("admin").await;
    let restore = Resolution {
        action: ModerationAction::Restore,
        note: Some("fine".into()),
    };
    let r = repo
        .resolve(TenantId::default(), o.report.id, admin, &restore)
        .await
        .unwrap();
    let ResolveOutcome::Resolved(r) = r else {
        panic!("{r:?}")
    };
    assert_eq!(r.resolved_by, Some(admin));
    assert_eq!(r.action, Some(ModerationAction::Restore));
    assert!(r.resolved_at.is_some() && !r.target_hidden);
    assert_eq!(counter(&env, p, "comment_count").await, 20);
    assert!(matches!(
        repo.resolve(TenantId::default(), o.report.id, admin, &restore)
            .await
            .unwrap(),
        ResolveOutcome::AlreadyResolved(_)
    ));

    // concurrent deletes of the same comment lower the counter once
    let c1 = comments[1].id;
    let dels = (0..5).map(|_| {
        let repo = repo.clone();
        tokio::spawn(async move { repo.delete_comment(c1).await.unwrap() })
    });
    let deleted = futures::future::join_all(dels).await;
    assert_eq!(
        deleted.into_iter().filter(|d| *d.as_ref().unwrap()).count(),
        1
    );
    assert_eq!(counter(&env, p, "comment_count").await, 19);
}

#[tokio::test]
async fn views_count_once_per_viewer_and_window() {
    let env = env().await;
    let repo = Arc::new(PgSocialRepository::new(env.pool.clone()));
    let owner = env.user("owner").await;
    let viewer = env.user("viewer").await;
    let p = project(&env, owner, "public").await;
    let key = ViewerKey::User(viewer);
    let views = (0..10).map(|_| {
        let repo = repo.clone();
        let key = key.clone();
        tokio::spawn(async move { repo.record_view(p, &key, 86_400).await.unwrap() })
    });
    let counted = futures::future::join_all(views).await;
    assert_eq!(
        counted.into_iter().filter(|c| *c.as_ref().unwrap()).count(),
        1
    );
    let anon = ViewerKey::Anonymous("203.0.113.7".into());
    assert!(repo.record_view(p, &anon, 86_400).await.unwrap());
    assert!(!repo.record_view(p, &anon, 86_400).await.unwrap());
    assert_eq!(counter(&env, p, "view_count").await, 2);
    // a day later the same viewer counts again
    env.exec(&format!(
        "UPDATE project_views SET counted_at = now() - interval '25 hours' WHERE project_id = '{}'",
        p.id
    ))
    .await;
    assert!(repo.record_view(p, &key, 86_400).await.unwrap());
    assert_eq!(counter(&env, p, "view_count").await, 3);
    // housekeeping drops only the record past the window (the anonymous one); counts stay
    assert_eq!(repo.purge_views(86_400).await.unwrap(), 1);
    assert_eq!(repo.purge_views(86_400).await.unwrap(), 0);
    assert_eq!(counter(&env, p, "view_count").await, 3);
    assert!(!repo.record_view(p, &key, 86_400).await.unwrap());
    assert!(repo.record_view(p, &anon, 86_400).await.unwrap());
    assert_eq!(counter(&env, p, "view_count").await, 4);
}

#[tokio::test]
async fn the_read_rule_and_the_report_threshold_hide_a_project() {
    let env = env().await;
    let repo = PgSocialRepository::new(env.pool.clone());
    let t = TenantId::default();
    let owner = env.user("owner").await;
    let other = env.user("other").await;
    let private = project(&env, owner, "private").await;
    let unlisted = project(&env, owner, "unlisted").await;
    let me = Viewer::owner(t, other);
    let admin = Viewer { admin: true, ..me };
    assert!(repo
        .readable(Some(me), t, private.id)
        .await
        .unwrap()
        .is_none());
    assert!(repo.readable(None, t, private.id).await.unwrap().is_none());
    assert!(repo
        .readable(Some(admin), t, private.id)
        .await
        .unwrap()
        .is_some());
    assert!(repo
        .readable(Some(Viewer::owner(t, owner)), t, private.id)
        .await
        .unwrap()
        .is_some());
    assert!(repo.readable(None, t, unlisted.id).await.unwrap().is_some());
    let elsewhere = TenantId::from_uuid(Uuid::new_v4());
    assert!(repo
        .readable(None, elsewhere, unlisted.id)
        .await
        .unwrap()
        .is_none());

    // three distinct reporters hide it (the first two do not)
    for (i, name) in ["rep1", "rep2", "rep3"].into_iter().enumerate() {
        let u = env.user(name).await;
        let o = repo
            .report(
                t,
                u,
                TargetKind::Project,
                unlisted.id.as_uuid(),
                unlisted.id,
                "不合适",
                3,
            )
            .await
            .unwrap();
        assert_eq!(o.open_reports, i as i64 + 1);
        assert_eq!(o.hid_target, i == 2, "report {i}");
    }
    assert!(repo.readable(None, t, unlisted.id).await.unwrap().is_none());
    assert!(repo
        .readable(Some(Viewer::owner(t, owner)), t, unlisted.id)
        .await
        .unwrap()
        .is_some());
    let queue = repo.reports(t, None, PageRequest::default()).await.unwrap();
    assert_eq!(queue.total, 3);
    assert!(queue.records.iter().all(|r| r.target_hidden));
    let first = queue.records[0].id;
    let admin_id = env.user("moderator").await;
    let done = repo
        .resolve(
            t,
            first,
            admin_id,
            &Resolution {
                action: ModerationAction::Restore,
                note: None,
            },
        )
        .await
        .unwrap();
    assert!(matches!(done, ResolveOutcome::Resolved(_)));
    let open = repo
        .reports(
            t,
            Some(ingenio_social::ReportStatus::Open),
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        open.total, 0,
        "every open report on the item is resolved together"
    );
    assert!(repo.readable(None, t, unlisted.id).await.unwrap().is_some());
}

#[tokio::test]
async fn seeding_by_slug_is_idempotent_and_use_counts() {
    let env = env().await;
    let repo = PgSocialRepository::new(env.pool.clone());
    let t = TenantId::default();
    let draft = PromptDraft::validate(RawPromptDraft {
        slug: Some("quiz".into()),
        title: "测验".into(),
        prompt_template: "做一个{主题}的测验应用".into(),
        default_variables: serde_json::json!({"主题": "单词"}),
        age_group: "elementary".into(),
        category: "education".into(),
        ..Default::default()
    })
    .unwrap();
    let (a, inserted) = repo.upsert_by_slug(t, &draft).await.unwrap();
    assert!(inserted);
    let (b, inserted) = repo.upsert_by_slug(t, &draft).await.unwrap();
    assert!(!inserted);
    assert_eq!(a, b, "a second identical run writes nothing");
    assert!(repo.record_use(t, a.id).await.unwrap());
    let mut changed = draft.clone();
    changed.title = "新测验".into();
    let (c, inserted) = repo.upsert_by_slug(t, &changed).await.unwrap();
    assert!(!inserted);
    assert_eq!((c.id, c.title.as_str(), c.usage_count), (a.id, "新测验", 1));
    assert_eq!(c.slug.as_deref(), Some("quiz"));
    assert_eq!(
        c.default_variables.get("主题").map(String::as_str),
        Some("单词")
    );
}

/// The read rule is written twice: `Project::readable_by` in the projects domain, and the SQL
/// predicate the social repository filters with (the favorites listing needs it inside its
/// query). Every combination of visibility, status, moderation and viewer (anonymous, owner,
/// another user, an admin of the tenant, an admin and a user of another tenant) gets the same
/// answer from both.
#[tokio::test]
async fn the_sql_read_rule_agrees_with_the_domain_rule_in_every_case() {
    let env = env().await;
    let social = PgSocialRepository::new(env.pool.clone());
    let projects = PgProjectRepository::new(env.pool.clone());
    let tenant = TenantId::default();
    let owner = env.user("rule_owner").await;
    let other = env.user("rule_other").await;
    let boss = env.user("rule_boss").await;
    let foreign = env.user_in(other_tenant(), "rule_foreign").await;
    let as_user = |tenant, user, admin| {
        Some(Viewer {
            tenant,
            user,
            admin,
        })
    };
    let viewers = [
        None,
        as_user(tenant, owner, false),
        as_user(tenant, other, false),
        as_user(tenant, boss, true),
        as_user(other_tenant(), foreign, true),
        as_user(other_tenant(), foreign, false),
    ];
    let (mut checked, mut readable) = (0, 0);
    for visibility in ["private", "public", "unlisted"] {
        for status in ["draft", "published", "archived"] {
            for hidden in [false, true] {
                let id = Uuid::new_v4();
                env.exec(&format!(
                    "INSERT INTO projects (id, user_id, name, visibility, status, hidden_at) \
                     VALUES ('{id}', '{owner}', 'p', '{visibility}', '{status}', {})",
                    if hidden { "now()" } else { "NULL" }
                ))
                .await;
                let id = ProjectId::from_uuid(id);
                let project = projects.get(tenant, id).await.unwrap().unwrap();
                for v in viewers {
                    let domain = project.readable_by(v.as_ref(), TenantId::default());
                    let asked_in = v.map_or(TenantId::default(), |v| v.tenant);
                    let sql = social.readable(v, asked_in, id).await.unwrap().is_some();
                    assert_eq!(
                        sql, domain,
                        "{visibility} {status} hidden={hidden} viewer={v:?}"
                    );
                    checked += 1;
                    readable += usize::from(domain);
                }
            }
        }
    }
    assert_eq!(checked, 3 * 3 * 2 * viewers.len());
    // the owner and the tenant's admin always (18 each); anonymous and the other user when
    // public or unlisted and not hidden (6 each); the other tenant never
    assert_eq!(readable, 18 + 18 + 6 + 6);
}
