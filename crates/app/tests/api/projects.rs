//! Projects end to end: CRUD and the read rule (404 `5000`, never 403, for what you may not
//! read), the project a generation creates, publishing, the gallery (filters, Chinese substring
//! search, sorts, paging, hidden projects), forks (one per user even under a race, deep copy,
//! lineage over three generations with redaction) and the cached "my projects" list.

use diesel_async::SimpleAsyncConnection;
use ingenio_testkit::app::{Answer, TestApp};
use serde_json::{json, Value};
use std::time::Duration;

const REQ: &str = "a vocabulary quiz for primary school pupils";

async fn app() -> TestApp {
    TestApp::builder()
        .set("ingenio.generation.poll-interval-ms", 50)
        .set("ingenio.rate-limit.requests-per-minute", 10000)
        .spawn()
        .await
}

async fn sql(app: &TestApp, statement: &str) {
    let mut c = app.db.connect().await.unwrap();
    c.batch_execute(statement).await.unwrap();
}

async fn delete(app: &TestApp, path: &str, token: Option<&str>) -> Answer {
    let mut r = app.client.delete(app.url(path));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    app.send(r).await
}

/// Starts a generation and waits for its end; returns the final job.
async fn generate(app: &TestApp, token: &str, body: Value) -> Value {
    let a = app.post("/api/v1/generate", &body, Some(token)).await;
    assert_eq!(a.status, 202, "{}", a.text);
    let id = a.data()["jobId"].as_str().unwrap().to_owned();
    let job = app.wait_final(&id, token, Duration::from_secs(60)).await;
    assert_eq!(job["status"], "completed", "{job}");
    job
}

async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let a = app.post("/api/v1/projects", &body, Some(token)).await;
    assert_eq!(a.status, 201, "{}", a.text);
    a.data().clone()
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

fn names(page: &Answer) -> Vec<String> {
    page.data()["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn crud_follows_the_read_rule_and_never_says_forbidden_for_what_you_cannot_read() {
    let app = app().await;
    let (alice, _) = app.register("proj_alice").await;
    let (bob, _) = app.register("proj_bob").await;

    let p = create(
        &app,
        &alice,
        json!({"name": "  背单词小游戏 ", "description": "练习单词", "tags": ["语文", " 语文", "game"], "ageGroup": "elementary"}),
    )
    .await;
    assert_eq!(p["name"], "背单词小游戏");
    assert_eq!(p["tags"], json!(["语文", "game"]));
    assert_eq!(
        (p["status"].as_str(), p["visibility"].as_str()),
        (Some("draft"), Some("private"))
    );
    let id = id_of(&p);
    let path = format!("/api/v1/projects/{id}");

    for (body, field) in [
        (json!({"name": "  "}), "name"),
        (json!({"name": "x", "ageGroup": "toddler"}), "ageGroup"),
        (json!({"name": "x", "visibility": "secret"}), "visibility"),
        (
            json!({"name": "x", "coverImageUrl": "javascript:alert(1)"}),
            "coverImageUrl",
        ),
    ] {
        let a = app.post("/api/v1/projects", &body, Some(&alice)).await;
        assert_eq!((a.status.as_u16(), a.code()), (400, "1001"), "{}", a.text);
        assert!(a.data().get(field).is_some(), "{field}: {}", a.text);
    }
    let foreign_spec = json!({"name": "x", "appSpecId": uuid::Uuid::new_v4()});
    let a = app
        .post("/api/v1/projects", &foreign_spec, Some(&alice))
        .await;
    assert_eq!((a.status.as_u16(), a.code()), (404, "3000"), "{}", a.text);
    assert_eq!(
        app.post("/api/v1/projects", &json!({"name": "x"}), None)
            .await
            .status,
        401
    );

    // private: others (and anonymous readers) get 404 5000 on read and write alike
    for token in [Some(bob.as_str()), None] {
        let a = app.get(&path, token).await;
        assert_eq!((a.status.as_u16(), a.code()), (404, "5000"), "{}", a.text);
    }
    let a = app
        .put(&path, &json!({"name": "mine now"}), Some(&bob))
        .await;
    assert_eq!((a.status.as_u16(), a.code()), (404, "5000"), "{}", a.text);
    assert_eq!(app.get(&path, Some(&alice)).await.status, 200);

    // unlisted: readable with the id, still only the owner changes it
    let a = app
        .put(
            &path,
            &json!({"visibility": "unlisted", "description": ""}),
            Some(&alice),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(a.data().get("description").is_none(), "cleared: {}", a.text);
    assert_eq!(app.get(&path, Some(&bob)).await.status, 200);
    assert_eq!(app.get(&path, None).await.status, 200);
    let a = app
        .put(&path, &json!({"name": "mine now"}), Some(&bob))
        .await;
    assert_eq!((a.status.as_u16(), a.code()), (403, "5001"), "{}", a.text);
    let a = delete(&app, &path, Some(&bob)).await;
    assert_eq!((a.status.as_u16(), a.code()), (403, "5001"), "{}", a.text);

    // my list: filters and keyword (wildcards match themselves)
    create(&app, &alice, json!({"name": "Math Quest"})).await;
    let all = app.get("/api/v1/projects", Some(&alice)).await;
    assert_eq!(all.data()["total"], 2, "{}", all.text);
    assert_eq!(names(&all), ["Math Quest", "背单词小游戏"], "newest first");
    let kw = app
        .get("/api/v1/projects?keyword=%E5%8D%95%E8%AF%8D", Some(&alice))
        .await;
    assert_eq!(names(&kw), ["背单词小游戏"], "{}", kw.text);
    let wild = app.get("/api/v1/projects?keyword=%25", Some(&alice)).await;
    assert_eq!(wild.data()["total"], 0, "{}", wild.text);
    let published = app
        .get("/api/v1/projects?status=published", Some(&alice))
        .await;
    assert_eq!(published.data()["total"], 0);
    let bad = app.get("/api/v1/projects?status=gone", Some(&alice)).await;
    assert_eq!((bad.status.as_u16(), bad.code()), (400, "1001"));
    assert_eq!(
        app.get("/api/v1/projects", Some(&bob)).await.data()["total"],
        0
    );
    let stats = app.get("/api/v1/projects/stats", Some(&alice)).await;
    assert_eq!(stats.data()["total"], 2, "{}", stats.text);
    assert_eq!(stats.data()["draft"], 2);
    assert_eq!(stats.data()["unlisted"], 1);

    // a project without generated code cannot be published
    let a = app
        .post(&format!("{path}/publish"), &json!({}), Some(&alice))
        .await;
    assert_eq!((a.status.as_u16(), a.code()), (409, "1001"), "{}", a.text);

    // the viewer role reads but cannot write
    sql(
        &app,
        "UPDATE users SET role = 'viewer' WHERE username = 'proj_bob'",
    )
    .await;
    let bob_viewer = app.login("proj_bob").await;
    assert_eq!(app.get(&path, Some(&bob_viewer)).await.status, 200);
    let a = app
        .post("/api/v1/projects", &json!({"name": "x"}), Some(&bob_viewer))
        .await;
    assert_eq!((a.status.as_u16(), a.code()), (403, "1004"), "{}", a.text);

    let a = delete(&app, &path, Some(&alice)).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(app.get(&path, Some(&alice)).await.status, 404);
    assert_eq!(
        app.get("/api/v1/projects", Some(&alice)).await.data()["total"],
        1
    );
}

#[tokio::test]
async fn a_generation_creates_the_project_regeneration_keeps_it_and_publishing_shows_it() {
    let app = app().await;
    let (alice, _) = app.register("gen_owner").await;
    let job = generate(
        &app,
        &alice,
        json!({"requirement": REQ, "ageGroup": "middle_school"}),
    )
    .await;
    let spec = job["appSpecId"].as_str().unwrap().to_owned();
    let mine = app.get("/api/v1/projects", Some(&alice)).await;
    assert_eq!(mine.data()["total"], 1, "{}", mine.text);
    let p = mine.data()["records"][0].clone();
    let spec_body = app
        .get(&format!("/api/v1/appspecs/{spec}"), Some(&alice))
        .await;
    assert_eq!(p["name"], spec_body.data()["specContent"]["appName"], "{p}");
    assert_eq!(p["appSpecId"], spec.as_str());
    assert_eq!(p["ageGroup"], "middle_school");
    assert_eq!(
        (p["status"].as_str(), p["visibility"].as_str()),
        (Some("draft"), Some("private"))
    );
    assert!(
        p["previewUrl"].as_str().unwrap().contains("/preview/"),
        "{p}"
    );
    assert!(p["codeId"].is_string(), "{p}");
    let id = id_of(&p);

    generate(&app, &alice, json!({"requirement": REQ, "appSpecId": spec})).await;
    let again = app.get("/api/v1/projects", Some(&alice)).await;
    assert_eq!(
        again.data()["total"],
        1,
        "regenerating keeps the project: {}",
        again.text
    );
    assert_eq!(again.data()["records"][0]["id"], id.as_str());
    assert_ne!(
        again.data()["records"][0]["codeId"],
        p["codeId"],
        "the latest render"
    );

    let pubd = app
        .post(
            &format!("/api/v1/projects/{id}/publish"),
            &json!({}),
            Some(&alice),
        )
        .await;
    assert_eq!(pubd.status, 200, "{}", pubd.text);
    assert_eq!(pubd.data()["status"], "published");
    assert_eq!(
        pubd.data()["visibility"],
        "public",
        "publishing shares a private project"
    );
    assert!(pubd.data()["publishedAt"].is_string());
    let s = app
        .get(&format!("/api/v1/appspecs/{spec}"), Some(&alice))
        .await;
    assert_eq!(s.data()["status"], "published");
    let g = app.get("/api/v1/projects/public", None).await;
    assert_eq!(g.status, 200, "{}", g.text);
    assert_eq!(g.data()["records"][0]["id"], id.as_str(), "{}", g.text);
    assert!(g.data()["records"][0]["previewUrl"].is_string());

    let un = app
        .post(
            &format!("/api/v1/projects/{id}/unpublish"),
            &json!({}),
            Some(&alice),
        )
        .await;
    assert_eq!(un.data()["status"], "draft", "{}", un.text);
    let s = app
        .get(&format!("/api/v1/appspecs/{spec}"), Some(&alice))
        .await;
    assert_eq!(
        s.data()["status"],
        "generated",
        "unpublish moves the spec back"
    );
    // another page size is another (uncached) gallery page
    let g = app.get("/api/v1/projects/public?size=11", None).await;
    assert_eq!(g.data()["total"], 0, "{}", g.text);

    // an edit sends the spec back to draft: publishing waits for a new render
    let content = s.data()["specContent"].clone();
    let edit = app
        .put(
            &format!("/api/v1/appspecs/{spec}"),
            &json!({"specContent": content}),
            Some(&alice),
        )
        .await;
    assert_eq!(edit.status, 200, "{}", edit.text);
    let a = app
        .post(
            &format!("/api/v1/projects/{id}/publish"),
            &json!({}),
            Some(&alice),
        )
        .await;
    assert_eq!((a.status.as_u16(), a.code()), (409, "1001"), "{}", a.text);
    let arch = app
        .post(
            &format!("/api/v1/projects/{id}/archive"),
            &json!({}),
            Some(&alice),
        )
        .await;
    assert_eq!(arch.data()["status"], "archived", "{}", arch.text);
}

/// A public, published project made directly in the database (no generation needed).
async fn published(app: &TestApp, token: &str, body: Value, extra_sql: &str) -> String {
    let p = create(app, token, body).await;
    let id = id_of(&p);
    sql(
        app,
        &format!(
            "UPDATE projects SET status = 'published', visibility = 'public', \
             published_at = now() WHERE id = '{id}'"
        ),
    )
    .await;
    if let Some(extra) = extra_sql.strip_prefix(", ") {
        sql(
            app,
            &format!("UPDATE projects SET {extra} WHERE id = '{id}'"),
        )
        .await;
    }
    id
}

#[tokio::test]
async fn the_gallery_filters_searches_sorts_pages_and_hides() {
    let app = app().await;
    let (alice, _) = app.register("gallery_a").await;
    let (bob, _) = app.register("gallery_b").await;
    let words = published(
        &app,
        &alice,
        json!({"name": "背单词小游戏", "tags": ["语文"], "ageGroup": "elementary"}),
        ", like_count = 5, published_at = now() - interval '3 hours'",
    )
    .await;
    let math = published(
        &app,
        &alice,
        json!({"name": "Math Quest", "description": "Practice fractions", "tags": ["math"], "ageGroup": "high_school"}),
        ", like_count = 9, fork_count = 2, published_at = now() - interval '2 hours'",
    )
    .await;
    let fun = published(
        &app,
        &bob,
        json!({"name": "100% fun_game"}),
        ", like_count = 5, view_count = 40, published_at = now() - interval '1 hour'",
    )
    .await;
    let hidden = published(
        &app,
        &bob,
        json!({"name": "背单词隐藏版"}),
        ", hidden_at = now()",
    )
    .await;
    create(
        &app,
        &alice,
        json!({"name": "单词草稿", "visibility": "public"}),
    )
    .await; // draft

    let get = |q: &'static str| {
        let app = &app;
        async move {
            let a = app.get(&format!("/api/v1/projects/public{q}"), None).await;
            assert_eq!(a.status, 200, "{q}: {}", a.text);
            a
        }
    };
    assert_eq!(
        names(&get("?q=%E5%8D%95%E8%AF%8D").await),
        ["背单词小游戏"],
        "单词 finds 背单词小游戏"
    );
    assert_eq!(names(&get("?q=QUEST").await), ["Math Quest"]);
    assert_eq!(
        names(&get("?q=fractions").await),
        ["Math Quest"],
        "descriptions too"
    );
    assert_eq!(
        names(&get("?q=%25").await),
        ["100% fun_game"],
        "% matches itself"
    );
    assert_eq!(
        names(&get("?q=_").await),
        ["100% fun_game"],
        "_ matches itself"
    );
    assert_eq!(names(&get("?tags=math,%E8%AF%AD%E6%96%87").await).len(), 2);
    assert_eq!(names(&get("?ageGroup=high_school").await), ["Math Quest"]);
    assert_eq!(
        names(&get("?sort=latest").await),
        ["100% fun_game", "Math Quest", "背单词小游戏"],
        "hidden and draft projects are not listed"
    );
    assert_eq!(names(&get("?sort=mostForked").await)[0], "Math Quest");
    assert_eq!(names(&get("?sort=mostViewed").await)[0], "100% fun_game");
    // equal likes: the id decides, the same way every time
    let popular = names(&get("?sort=popular").await);
    assert_eq!(popular[0], "Math Quest");
    let (hi, lo) = if fun > words {
        ("100% fun_game", "背单词小游戏")
    } else {
        ("背单词小游戏", "100% fun_game")
    };
    assert_eq!(popular[1..], [hi, lo], "ties broken by id descending");
    let p2 = get("?sort=popular&size=1&current=2").await;
    assert_eq!(names(&p2), [hi]);
    assert_eq!(
        (p2.data()["total"].as_u64(), p2.data()["pages"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(
        get("?size=1000").await.data()["size"],
        50,
        "page size capped"
    );
    for bad in ["?sort=best", "?ageGroup=toddler", "?current=0"] {
        let a = app
            .get(&format!("/api/v1/projects/public{bad}"), None)
            .await;
        assert_eq!(
            (a.status.as_u16(), a.code()),
            (400, "1001"),
            "{bad}: {}",
            a.text
        );
    }

    // a hidden project: its owner and admins read it, others get 404
    let hpath = format!("/api/v1/projects/{hidden}");
    assert_eq!(app.get(&hpath, Some(&bob)).await.status, 200);
    assert_eq!(app.get(&hpath, Some(&alice)).await.status, 404);
    assert_eq!(app.get(&hpath, None).await.status, 404);
    sql(
        &app,
        "UPDATE users SET role = 'admin' WHERE username = 'gallery_a'",
    )
    .await;
    let admin = app.login("gallery_a").await;
    assert_eq!(app.get(&hpath, Some(&admin)).await.status, 200);
    let _ = math;
}

async fn fork(app: &TestApp, token: &str, id: &str) -> Answer {
    app.post(
        &format!("/api/v1/projects/{id}/fork"),
        &json!({"description": "我的改编", "customizations": {"theme": "dark"}}),
        Some(token),
    )
    .await
}

#[tokio::test]
async fn forks_are_deep_copies_once_per_user_with_a_three_generation_lineage() {
    let app = app().await;
    let (alice, _) = app.register("fork_alice").await;
    let (bob, _) = app.register("fork_bob").await;
    let (carol, _) = app.register("fork_carol").await;
    let job = generate(&app, &alice, json!({"requirement": REQ})).await;
    let spec = job["appSpecId"].as_str().unwrap().to_owned();
    let mine = app.get("/api/v1/projects", Some(&alice)).await;
    let p1 = mine.data()["records"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        fork(&app, &bob, &p1).await.code(),
        "5000",
        "private: not found"
    );
    let a = app
        .post(
            &format!("/api/v1/projects/{p1}/publish"),
            &json!({}),
            Some(&alice),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);

    // two concurrent forks by one user: one 201, one 409 5002
    let (x, y) = tokio::join!(fork(&app, &bob, &p1), fork(&app, &bob, &p1));
    let mut statuses = [x.status.as_u16(), y.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409], "{} / {}", x.text, y.text);
    let (won, lost) = if x.status == 201 { (x, y) } else { (y, x) };
    assert_eq!(lost.code(), "5002");
    let f1 = won.data().clone();
    assert_eq!(
        (f1["status"].as_str(), f1["visibility"].as_str()),
        (Some("draft"), Some("private"))
    );
    assert_eq!(f1["description"], "我的改编");
    let src = app.get(&format!("/api/v1/projects/{p1}"), None).await;
    assert_eq!(src.data()["forkCount"], 1, "exact counter: {}", src.text);
    let a = fork(&app, &alice, &p1).await;
    assert_eq!(
        (a.status.as_u16(), a.code()),
        (400, "1001"),
        "own project: {}",
        a.text
    );

    // a deep copy: version 1 of type fork that records the source
    let f1_spec = f1["appSpecId"].as_str().unwrap().to_owned();
    assert_ne!(f1_spec, spec);
    let v1 = app
        .get(
            &format!("/api/v1/appspecs/{f1_spec}/versions/1"),
            Some(&bob),
        )
        .await;
    assert_eq!(v1.data()["changeType"], "fork", "{}", v1.text);
    let source_spec = app
        .get(&format!("/api/v1/appspecs/{spec}"), Some(&alice))
        .await;
    let meta = &v1.data()["generationMetadata"];
    assert_eq!(meta["sourceSpecId"], spec.as_str(), "{meta}");
    assert_eq!(meta["sourceVersion"], source_spec.data()["version"]);
    assert_eq!(meta["sourceProjectId"], p1.as_str());
    let copy = app
        .get(&format!("/api/v1/appspecs/{f1_spec}"), Some(&bob))
        .await;
    assert_eq!(copy.data()["parentVersionId"], spec.as_str());
    // editing the fork never touches the source
    let mut edited = copy.data()["specContent"].clone();
    edited["appName"] = json!("Bob's remix");
    let e = app
        .put(
            &format!("/api/v1/appspecs/{f1_spec}"),
            &json!({"specContent": edited}),
            Some(&bob),
        )
        .await;
    assert_eq!(e.status, 200, "{}", e.text);
    let after = app
        .get(&format!("/api/v1/appspecs/{spec}"), Some(&alice))
        .await;
    assert_eq!(
        after.data()["specContent"],
        source_spec.data()["specContent"]
    );
    assert_eq!(after.data()["version"], source_spec.data()["version"]);
    let f1_id = id_of(&f1);
    let a = app
        .put(
            &format!("/api/v1/projects/{f1_id}"),
            &json!({"name": "Remix"}),
            Some(&bob),
        )
        .await;
    assert_eq!(a.status, 200);
    assert_ne!(
        app.get(&format!("/api/v1/projects/{p1}"), None)
            .await
            .data()["name"],
        "Remix"
    );

    // third generation: carol forks bob's fork once it is public
    assert_eq!(fork(&app, &carol, &f1_id).await.code(), "5000");
    app.put(
        &format!("/api/v1/projects/{f1_id}"),
        &json!({"visibility": "public"}),
        Some(&bob),
    )
    .await;
    let f2 = fork(&app, &carol, &f1_id).await;
    assert_eq!(f2.status, 201, "{}", f2.text);
    let f2_id = id_of(f2.data());

    let l = app
        .get(&format!("/api/v1/projects/{f2_id}/lineage"), Some(&carol))
        .await;
    assert_eq!(l.status, 200, "{}", l.text);
    let ancestors: Vec<&str> = l.data()["ancestors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["project"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ancestors,
        [f1_id.as_str(), p1.as_str()],
        "nearest first, up to the root"
    );
    let l = app
        .get(&format!("/api/v1/projects/{p1}/lineage"), Some(&alice))
        .await;
    let d = l.data()["descendants"].as_array().unwrap().clone();
    assert_eq!(d.len(), 2, "{}", l.text);
    assert_eq!(
        (d[0]["depth"].as_i64(), d[0]["parentRef"].as_i64()),
        (Some(1), Some(0))
    );
    assert_eq!(d[0]["project"]["id"], f1_id.as_str());
    assert_eq!(d[1]["depth"], 2);
    assert_eq!(d[1]["parentRef"], d[0]["ref"]);
    assert_eq!(
        d[1]["redacted"], true,
        "carol's private fork is not alice's to see"
    );
    assert!(d[1].get("project").is_none());
    assert_eq!(l.data()["truncated"], false);

    // bob makes his fork private again: others see a redacted node, carol still sees her own
    app.put(
        &format!("/api/v1/projects/{f1_id}"),
        &json!({"visibility": "private"}),
        Some(&bob),
    )
    .await;
    let l = app
        .get(&format!("/api/v1/projects/{p1}/lineage"), Some(&carol))
        .await;
    let d = l.data()["descendants"].as_array().unwrap().clone();
    assert_eq!(d[0]["redacted"], true, "{}", l.text);
    assert_eq!(d[1]["project"]["id"], f2_id.as_str());
    assert!(!l.text.contains(&f1_id), "a redacted id never leaks");
    let forks = app
        .get(&format!("/api/v1/projects/{p1}/forks"), Some(&carol))
        .await;
    assert_eq!(forks.data()["total"], 0, "{}", forks.text);
    let forks = app
        .get(&format!("/api/v1/projects/{p1}/forks"), Some(&bob))
        .await;
    assert_eq!(forks.data()["total"], 1, "{}", forks.text);
    let l = app
        .get(&format!("/api/v1/projects/{f1_id}/lineage"), Some(&carol))
        .await;
    assert_eq!(l.code(), "5000", "no lineage of what you cannot read");

    // deleting the fork keeps the counter exact
    assert_eq!(
        delete(&app, &format!("/api/v1/projects/{f1_id}"), Some(&bob))
            .await
            .status,
        200
    );
    let src = app.get(&format!("/api/v1/projects/{p1}"), None).await;
    assert_eq!(src.data()["forkCount"], 0);
}

/// `ingenio_cache_requests_total{cache,result}` from a Prometheus exposition.
pub fn cache_count(prometheus: &str, cache: &str, result: &str) -> f64 {
    let series = format!("ingenio_cache_requests_total{{cache=\"{cache}\",result=\"{result}\"}} ");
    prometheus
        .lines()
        .find_map(|l| l.strip_prefix(series.as_str()))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn the_cached_list_shows_an_update_at_once_and_counters_within_seconds() {
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let app = TestApp::builder()
        .redis("127.0.0.1", 6379, &prefix)
        .set("ingenio.rate-limit.requests-per-minute", 10000)
        .spawn()
        .await;
    let (alice, _) = app.register("cache_alice").await;
    let id = id_of(&create(&app, &alice, json!({"name": "first"})).await);
    assert_eq!(
        names(&app.get("/api/v1/projects", Some(&alice)).await),
        ["first"]
    );
    assert_eq!(
        names(&app.get("/api/v1/projects", Some(&alice)).await),
        ["first"]
    );
    let prom = app.get("/api/actuator/prometheus", None).await.text;
    assert!(cache_count(&prom, "my_projects", "hit") >= 1.0, "{prom}");

    let a = app
        .put(
            &format!("/api/v1/projects/{id}"),
            &json!({"name": "second"}),
            Some(&alice),
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        names(&app.get("/api/v1/projects", Some(&alice)).await),
        ["second"],
        "evicted at once"
    );
    create(&app, &alice, json!({"name": "third"})).await;
    assert_eq!(
        names(&app.get("/api/v1/projects", Some(&alice)).await),
        ["third", "second"]
    );

    // a counter changed by someone else shows within a few seconds
    sql(
        &app,
        &format!("UPDATE projects SET like_count = 7 WHERE id = '{id}'"),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let list = app.get("/api/v1/projects", Some(&alice)).await;
    assert_eq!(list.data()["records"][1]["likeCount"], 7, "{}", list.text);

    // a bad entry is a miss that falls back to the database, never an error
    let keys: Vec<String> = {
        let pool = app.state.redis.clone().unwrap();
        let mut cmd = ingenio_redis::redis::cmd("KEYS");
        cmd.arg(format!("{prefix}projects:v*:mine:*"));
        let keys: Vec<String> = pool.query(&cmd).await.unwrap();
        for k in &keys {
            let mut set = ingenio_redis::redis::cmd("SET");
            set.arg(k).arg("{not json");
            let _: () = pool.query(&set).await.unwrap();
        }
        keys
    };
    assert!(!keys.is_empty());
    let list = app.get("/api/v1/projects", Some(&alice)).await;
    assert_eq!(list.status, 200);
    assert_eq!(names(&list), ["third", "second"]);
    let prom = app.get("/api/actuator/prometheus", None).await.text;
    assert!(
        cache_count(&prom, "my_projects", "fallback") >= 1.0,
        "{prom}"
    );
}

/// The value of `ingenio_kept_reads_lookups{kind="project",result}` on `app`.
async fn project_lookups(app: &TestApp, result: &str) -> f64 {
    let name = format!("ingenio_kept_reads_lookups{{kind=\"project\",result=\"{result}\"}}");
    crate::sample(app, &name).await
}

/// Projects kept in process are served (the cache is really used), yet a change made straight in
/// the database, or a like through either instance, shows on the very next read on both, round
/// after round; turning a project private hides it at once everywhere, also with the LISTEN
/// connections killed.
#[tokio::test]
async fn kept_projects_are_served_and_never_outlive_a_change() {
    let a = app().await;
    let b = TestApp::builder()
        .db(std::sync::Arc::clone(&a.db))
        .set("ingenio.rate-limit.requests-per-minute", 10000)
        .spawn()
        .await;
    let (alice, _) = a.register("kept_alice").await;
    let (bob, _) = a.register("kept_bob").await;
    let id = published(&a, &alice, json!({"name": "kept card"}), "").await;
    let path = format!("/api/v1/projects/{id}");
    let before = project_lookups(&a, "hit").await + project_lookups(&b, "hit").await;
    for i in 0..20 {
        let name = format!("kept card {i}");
        sql(
            &a,
            &format!("UPDATE projects SET name = '{name}' WHERE id = '{id}'"),
        )
        .await;
        for app in [&a, &b, &a, &b] {
            for token in [None, Some(bob.as_str()), Some(alice.as_str())] {
                let r = app.get(&path, token).await;
                assert_eq!(r.status, 200, "{}", r.text);
                assert_eq!(r.data()["name"], name.as_str(), "round {i}");
            }
        }
        // a like (or unlike) through one instance shows in the next read on the other
        let like = format!("/api/v1/projects/{id}/like");
        let (liker, reader) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let r = if i % 2 == 0 {
            liker.post(&like, &json!({}), Some(&bob)).await
        } else {
            delete(liker, &like, Some(&bob)).await
        };
        assert_eq!(r.status, 200, "{}", r.text);
        let seen = reader.get(&path, Some(&alice)).await;
        assert_eq!(seen.data()["likeCount"], i64::from(i % 2 == 0), "round {i}");
    }
    let after = project_lookups(&a, "hit").await + project_lookups(&b, "hit").await;
    assert!(
        after - before >= 20.0,
        "kept projects were served: {before} → {after}"
    );

    // private: 404 on both at once, for everyone but the owner
    sql(
        &a,
        &format!("UPDATE projects SET visibility = 'private' WHERE id = '{id}'"),
    )
    .await;
    for app in [&a, &b] {
        for token in [None, Some(bob.as_str())] {
            let r = app.get(&path, token).await;
            assert_eq!((r.status.as_u16(), r.code()), (404, "5000"), "{}", r.text);
        }
        assert_eq!(app.get(&path, Some(&alice)).await.status, 200);
    }
    // with the listeners killed, reads go to the database and stay exact
    sql(
        &a,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() \
         AND (query LIKE 'LISTEN%' OR query = '')",
    )
    .await;
    sql(
        &a,
        &format!("UPDATE projects SET visibility = 'public' WHERE id = '{id}'"),
    )
    .await;
    for app in [&a, &b] {
        assert_eq!(app.get(&path, Some(&bob)).await.status, 200);
    }
    sql(&a, &format!("DELETE FROM projects WHERE id = '{id}'")).await;
    for app in [&a, &b] {
        let r = app.get(&path, Some(&alice)).await;
        assert_eq!((r.status.as_u16(), r.code()), (404, "5000"), "{}", r.text);
    }
}
