//! Social, moderation and magic prompts end to end: the catalogue and `/use`, generation from a
//! prompt, admin-only CRUD, likes / favorites / comments / views on projects with the read rule
//! (404 for what you cannot read), blocked words, reports hiding an item and the admin decision.

use diesel_async::SimpleAsyncConnection;
use ingenio_testkit::app::{spawn_app, TestApp};
use ingenio_users::Role;
use serde_json::{json, Value};

async fn user_id(app: &TestApp, token: &str) -> String {
    let me = app.get("/api/v1/auth/me", Some(token)).await;
    me.data()["id"].as_str().unwrap().to_owned()
}

async fn admin(app: &TestApp) -> String {
    app.state
        .users
        .create_user("mod_admin", "mod@example.com", "adminpass1", Role::Admin)
        .await
        .unwrap();
    let a = app
        .post(
            "/api/v1/auth/login",
            &json!({"usernameOrEmail":"mod_admin","password":"adminpass1"}),
            None,
        )
        .await;
    a.data()["token"].as_str().unwrap().to_owned()
}

/// A project row (the projects domain owns creation; the social routes only need the row).
async fn project(app: &TestApp, owner: &str, visibility: &str) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    let mut c = app.db.connect().await.unwrap();
    c.batch_execute(&format!(
        "INSERT INTO projects (id, user_id, name, visibility, status) \
         VALUES ('{id}', '{owner}', '作品', '{visibility}', 'published')"
    ))
    .await
    .unwrap();
    id
}

async fn seed(app: &TestApp) -> (usize, usize) {
    let tenant = ingenio_kernel::TenantId::default();
    ingenio_server::seed::seed_magic_prompts(&app.state.social, tenant)
        .await
        .unwrap()
}

#[tokio::test]
async fn magic_prompts_catalogue_use_generate_and_admin_crud() {
    let app = spawn_app().await;
    let (inserted, kept) = seed(&app).await;
    assert!(inserted >= 12 && kept == 0);
    assert_eq!(
        seed(&app).await,
        (0, inserted),
        "seeding again changes nothing"
    );

    let all = app.get("/api/v1/magic-prompts?size=100", None).await;
    assert_eq!(all.status, 200, "{}", all.text);
    assert_eq!(all.data()["total"], inserted as u64);
    let elementary = app
        .get(
            "/api/v1/magic-prompts?ageGroup=elementary&category=game",
            None,
        )
        .await;
    let recs = elementary.data()["records"].as_array().unwrap();
    assert!(!recs.is_empty());
    assert!(recs
        .iter()
        .all(|r| r["ageGroup"] == "elementary" && r["category"] == "game"));
    let found = app
        .get("/api/v1/magic-prompts?q=%E5%8D%95%E8%AF%8D", None)
        .await; // 单词
    assert!(
        found.data()["total"].as_u64().unwrap() >= 2,
        "{}",
        found.text
    );
    let bad = app.get("/api/v1/magic-prompts?sort=random", None).await;
    assert_eq!((bad.status.as_u16(), bad.code()), (400, "1001"));

    let quiz = recs[0].clone();
    let id = quiz["id"].as_str().unwrap();
    let vars = quiz["variables"].as_array().unwrap();
    assert!(!vars.is_empty());
    // unknown variables are named
    let unknown = app
        .post(
            &format!("/api/v1/magic-prompts/{id}/use"),
            &json!({"variables": {"nosuch": "x"}}),
            None,
        )
        .await;
    assert_eq!(unknown.status, 400, "{}", unknown.text);
    assert!(unknown.body["message"].as_str().unwrap().contains("nosuch"));
    let first = vars[0].as_str().unwrap();
    let used = app
        .post(
            &format!("/api/v1/magic-prompts/{id}/use"),
            &json!({"variables": {first: "{x}鲸鱼"}}),
            None,
        )
        .await;
    assert_eq!(used.status, 200, "{}", used.text);
    let requirement = used.data()["requirement"].as_str().unwrap();
    assert!(
        requirement.contains("{x}鲸鱼"),
        "values are copied literally"
    );
    assert_eq!(used.data()["usageCount"], 1);

    // generate from the prompt: the template is filled and the use counted when accepted
    let (token, _) = app.register("prompter").await;
    let job = app
        .post(
            "/api/v1/generate",
            &json!({"magicPromptId": id, "variables": {first: "海豚"}}),
            Some(&token),
        )
        .await;
    assert_eq!(job.status, 202, "{}", job.text);
    assert!(job.data()["requirement"].as_str().unwrap().contains("海豚"));
    let missing = app
        .post(
            "/api/v1/generate",
            &json!({"magicPromptId": uuid::Uuid::new_v4()}),
            Some(&token),
        )
        .await;
    assert_eq!(missing.status, 404, "{}", missing.text);
    let after = app.get(&format!("/api/v1/magic-prompts/{id}"), None).await;
    assert_eq!(after.data()["usageCount"], 2);

    // admin CRUD: 403 for others
    let body = json!({"title": "草稿提示", "promptTemplate": "做一个{thing}的小应用吧", "ageGroup": "university",
                      "category": "creative", "status": "draft", "defaultVariables": {"thing": "相册"}});
    let refused = app
        .post("/api/v1/admin/magic-prompts", &body, Some(&token))
        .await;
    assert_eq!((refused.status.as_u16(), refused.code()), (403, "1004"));
    let admin = admin(&app).await;
    let created = app
        .post("/api/v1/admin/magic-prompts", &body, Some(&admin))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let draft_id = created.data()["id"].as_str().unwrap().to_owned();
    let dup = app
        .post("/api/v1/admin/magic-prompts", &body, Some(&admin))
        .await;
    assert_eq!(dup.status, 409, "{}", dup.text);
    let stray = app
        .post(
            "/api/v1/admin/magic-prompts",
            &json!({"title": "x", "promptTemplate": "做一个{a}的应用", "ageGroup": "university",
                    "category": "game", "defaultVariables": {"b": "1"}}),
            Some(&admin),
        )
        .await;
    assert_eq!(stray.status, 400, "{}", stray.text);
    // drafts are invisible to the public
    let hidden = app
        .get(&format!("/api/v1/magic-prompts/{draft_id}"), None)
        .await;
    assert_eq!(hidden.status, 404);
    let listed = app
        .get("/api/v1/admin/magic-prompts?status=draft", Some(&admin))
        .await;
    assert_eq!(listed.data()["total"], 1, "{}", listed.text);
    let mut update = body.clone();
    update["status"] = json!("active");
    let updated = app
        .put(
            &format!("/api/v1/admin/magic-prompts/{draft_id}"),
            &update,
            Some(&admin),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(
        app.get(&format!("/api/v1/magic-prompts/{draft_id}"), None)
            .await
            .status,
        200
    );
    let gone = app
        .send(
            app.client
                .delete(app.url(&format!("/api/v1/admin/magic-prompts/{draft_id}")))
                .bearer_auth(&admin),
        )
        .await;
    assert_eq!(gone.status, 200, "{}", gone.text);
}

#[tokio::test]
async fn likes_comments_views_and_the_read_rule() {
    let app = spawn_app().await;
    let (owner, _) = app.register("owner_one").await;
    let (fan, _) = app.register("fan_one").await;
    let owner_id = user_id(&app, &owner).await;
    let public = project(&app, &owner_id, "public").await;
    let private = project(&app, &owner_id, "private").await;

    // like twice = one like; unlike twice = zero
    for _ in 0..2 {
        let l = app
            .post(
                &format!("/api/v1/projects/{public}/like"),
                &json!({}),
                Some(&fan),
            )
            .await;
        assert_eq!(l.status, 200, "{}", l.text);
        assert_eq!(l.data()["counters"]["likeCount"], 1);
    }
    let fav = app
        .post(
            &format!("/api/v1/projects/{public}/favorite"),
            &json!({}),
            Some(&fan),
        )
        .await;
    assert_eq!(fav.data()["active"], true);
    let favs = app.get("/api/v1/user/favorites", Some(&fan)).await;
    assert_eq!(favs.data()["total"], 1, "{}", favs.text);
    for _ in 0..2 {
        let u = app
            .send(
                app.client
                    .delete(app.url(&format!("/api/v1/projects/{public}/like")))
                    .bearer_auth(&fan),
            )
            .await;
        assert_eq!(u.data()["counters"]["likeCount"], 0, "{}", u.text);
    }

    // a private project is 404 (5000) on everything for others, never 403
    let probes = [
        ("POST", format!("/api/v1/projects/{private}/like")),
        ("POST", format!("/api/v1/projects/{private}/favorite")),
        ("GET", format!("/api/v1/projects/{private}/comments")),
        ("POST", format!("/api/v1/projects/{private}/comments")),
        ("POST", format!("/api/v1/projects/{private}/view")),
        ("POST", format!("/api/v1/projects/{private}/report")),
    ];
    for (method, path) in &probes {
        let body = json!({"content": "你好", "reason": "spam"});
        let a = if *method == "GET" {
            app.get(path, Some(&fan)).await
        } else {
            app.post(path, &body, Some(&fan)).await
        };
        assert_eq!(
            (a.status.as_u16(), a.code()),
            (404, "5000"),
            "{method} {path}: {}",
            a.text
        );
    }
    let own = app
        .get(
            &format!("/api/v1/projects/{private}/comments"),
            Some(&owner),
        )
        .await;
    assert_eq!(own.status, 200);

    // comments: trimmed, bounded in characters, blank refused
    let c = app
        .post(
            &format!("/api/v1/projects/{public}/comments"),
            &json!({"content": "  做得真好！ "}),
            Some(&fan),
        )
        .await;
    assert_eq!(c.status, 201, "{}", c.text);
    assert_eq!(c.data()["content"], "做得真好！");
    let comment_id = c.data()["id"].as_str().unwrap().to_owned();
    for content in ["   ", &"好".repeat(1001)] {
        let r = app
            .post(
                &format!("/api/v1/projects/{public}/comments"),
                &json!({ "content": content }),
                Some(&fan),
            )
            .await;
        assert_eq!((r.status.as_u16(), r.code()), (400, "1001"), "{}", r.text);
    }
    let ok_long = app
        .post(
            &format!("/api/v1/projects/{public}/comments"),
            &json!({ "content": "好".repeat(1000) }),
            Some(&owner),
        )
        .await;
    assert_eq!(
        ok_long.status, 201,
        "1000 characters are 3000 bytes but allowed"
    );
    let listed = app
        .get(&format!("/api/v1/projects/{public}/comments"), None)
        .await;
    assert_eq!(listed.data()["total"], 2);
    assert_eq!(
        listed.data()["records"][0]["content"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        1000,
        "newest first"
    );
    // someone else cannot delete the fan's comment; the project owner can
    let (stranger, _) = app.register("stranger1").await;
    let del = |t: &str| {
        app.client
            .delete(app.url(&format!("/api/v1/comments/{comment_id}")))
            .bearer_auth(t.to_owned())
    };
    let refused = app.send(del(&stranger)).await;
    assert_eq!((refused.status.as_u16(), refused.code()), (403, "1004"));
    let deleted = app.send(del(&owner)).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    let again = app.send(del(&owner)).await;
    assert_eq!(again.status, 404);

    // views: never the owner's, once per viewer, anonymous by client IP
    let path = format!("/api/v1/projects/{public}/view");
    let counted = [Some(&owner), Some(&fan), Some(&fan), None, None];
    let mut last = None;
    for (i, t) in counted.into_iter().enumerate() {
        let a = app.post(&path, &json!({}), t.map(String::as_str)).await;
        assert_eq!(a.status, 200, "{}", a.text);
        let expected = i == 1 || i == 3;
        assert_eq!(a.data()["counted"], expected, "view {i}: {}", a.text);
        last = Some(a);
    }
    let last = last.unwrap();
    assert_eq!(last.data()["counted"], false);
    assert_eq!(last.data()["viewCount"], 2);

    // reading the page is a view too, under the same rule, and its answer includes it
    let (reader, _) = app.register("reader1").await;
    let page = format!("/api/v1/projects/{public}");
    let expected = [
        (Some(&reader), 3),
        (Some(&reader), 3),
        (Some(&owner), 3),
        (Some(&fan), 3),
    ];
    for (i, (t, count)) in expected.into_iter().enumerate() {
        let a = app.get(&page, t.map(String::as_str)).await;
        assert_eq!(a.status, 200, "{}", a.text);
        assert_eq!(a.data()["viewCount"], count, "read {i}: {}", a.text);
    }
    let again = app.post(&path, &json!({}), Some(&reader)).await;
    assert_eq!(again.data()["counted"], false, "{}", again.text);
    assert_eq!(again.data()["viewCount"], 3, "{}", again.text);
}

#[tokio::test]
async fn blocked_words_reports_hide_and_admins_resolve() {
    let app = TestApp::builder()
        .set("ingenio.moderation.blocked-words", "笨蛋,stupid")
        .set("ingenio.moderation.report-threshold", 2)
        .spawn()
        .await;
    let (owner, _) = app.register("maker_one").await;
    let owner_id = user_id(&app, &owner).await;
    let p = project(&app, &owner_id, "public").await;
    let (a, _) = app.register("kid_a").await;
    let (b, _) = app.register("kid_b").await;

    let blocked = app
        .post(
            &format!("/api/v1/projects/{p}/comments"),
            &json!({"content": "你是 笨 蛋"}),
            Some(&a),
        )
        .await;
    assert_eq!((blocked.status.as_u16(), blocked.code()), (400, "1001"));
    assert!(
        !blocked.text.contains("笨"),
        "the word is not echoed: {}",
        blocked.text
    );
    let shouty = app
        .post(
            &format!("/api/v1/projects/{p}/comments"),
            &json!({"content": "ＳＴＵＰＩＤ"}),
            Some(&a),
        )
        .await;
    assert_eq!(shouty.status, 400, "full-width letters are folded");

    // two distinct reporters hide the project from everyone but its owner and admins
    let own_report = app
        .post(
            &format!("/api/v1/projects/{p}/report"),
            &json!({"reason": "x"}),
            Some(&owner),
        )
        .await;
    assert_eq!(own_report.status, 400);
    let blank = app
        .post(
            &format!("/api/v1/projects/{p}/report"),
            &json!({"reason": " "}),
            Some(&a),
        )
        .await;
    assert_eq!(blank.status, 400);
    let r1 = app
        .post(
            &format!("/api/v1/projects/{p}/report"),
            &json!({"reason": "不适合小朋友"}),
            Some(&a),
        )
        .await;
    assert_eq!(r1.status, 201, "{}", r1.text);
    let r1_again = app
        .post(
            &format!("/api/v1/projects/{p}/report"),
            &json!({"reason": "再次"}),
            Some(&a),
        )
        .await;
    assert_eq!(r1_again.status, 200);
    assert_eq!(r1_again.data()["created"], false);
    assert_eq!(
        app.get(&format!("/api/v1/projects/{p}/comments"), Some(&b))
            .await
            .status,
        200,
        "one reporter does not hide it"
    );
    let r2 = app
        .post(
            &format!("/api/v1/projects/{p}/report"),
            &json!({"reason": "广告"}),
            Some(&b),
        )
        .await;
    assert_eq!(r2.status, 201);
    let hidden = app
        .get(&format!("/api/v1/projects/{p}/comments"), Some(&b))
        .await;
    assert_eq!(hidden.status, 404, "{}", hidden.text);
    assert_eq!(
        app.get(&format!("/api/v1/projects/{p}/comments"), Some(&owner))
            .await
            .status,
        200
    );

    // the queue is admin-only; resolving restores and records who/when/why
    assert_eq!(app.get("/api/v1/admin/reports", Some(&a)).await.status, 403);
    let admin = admin(&app).await;
    let queue = app
        .get("/api/v1/admin/reports?status=open", Some(&admin))
        .await;
    assert_eq!(queue.data()["total"], 2, "{}", queue.text);
    let report_id = queue.data()["records"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(queue.data()["records"][0]["targetHidden"], true);
    let bad = app
        .post(
            &format!("/api/v1/admin/reports/{report_id}/resolve"),
            &json!({"action": "ignore"}),
            Some(&admin),
        )
        .await;
    assert_eq!(bad.status, 400);
    let resolved = app
        .post(
            &format!("/api/v1/admin/reports/{report_id}/resolve"),
            &json!({"action": "restore", "note": "误报"}),
            Some(&admin),
        )
        .await;
    assert_eq!(resolved.status, 200, "{}", resolved.text);
    let r: &Value = resolved.data();
    assert_eq!(
        (
            r["status"].as_str(),
            r["action"].as_str(),
            r["note"].as_str()
        ),
        (Some("resolved"), Some("restore"), Some("误报"))
    );
    assert!(r["resolvedBy"].is_string() && r["resolvedAt"].is_string());
    let twice = app
        .post(
            &format!("/api/v1/admin/reports/{report_id}/resolve"),
            &json!({"action": "hide"}),
            Some(&admin),
        )
        .await;
    assert_eq!(twice.status, 409);
    assert_eq!(
        app.get(&format!("/api/v1/projects/{p}/comments"), Some(&b))
            .await
            .status,
        200,
        "restored"
    );
    let open = app
        .get("/api/v1/admin/reports?status=open", Some(&admin))
        .await;
    assert_eq!(open.data()["total"], 0, "both reports resolved together");
}
