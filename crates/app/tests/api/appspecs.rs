//! App specs and the time machine: ETag/If-Match, timeline, diff, rollback, isolation between
//! users, concurrent edits.

use ingenio_testkit::app::{spawn_app, TestAppBuilder};
use serde_json::{json, Value};

/// A valid spec with two pages, a model and a flow (also the tenant matrix's fixture).
pub fn spec() -> Value {
    json!({
        "version": "1.0.0",
        "appName": "Word Quiz",
        "x-theme": {"color": "blue"},
        "pages": [{
            "id": "home", "name": "Home", "path": "/",
            "components": [
                {"id": "title", "type": "Text", "props": {"text": "Welcome"}, "children": []},
                {"id": "start", "type": "Button", "props": {"label": "Start", "onClick": "go-quiz"}, "children": []}
            ]
        }, {
            "id": "quiz", "name": "Quiz", "path": "/quiz",
            "components": [{"id": "q", "type": "List", "props": {"dataModel": "word"}, "children": []}]
        }],
        "dataModels": [{"id": "word", "name": "Word", "fields": [
            {"name": "text", "type": "string", "required": true},
            {"name": "meaning", "type": "string", "required": true}
        ]}],
        "flows": [{"id": "go-quiz", "name": "Go to quiz", "trigger": "start.click",
                   "actions": [{"type": "navigate", "config": {"to": "/quiz"}}]}],
        "permissions": {"roles": ["student"], "rules": [{"resource": "word", "actions": ["read"], "roles": ["student"]}]}
    })
}

#[tokio::test]
async fn edit_diff_rollback_and_the_timeline() {
    let app = spawn_app().await;
    let (token, _) = app.register("timetraveller").await;
    let created = app
        .post(
            "/api/v1/appspecs",
            &json!({"specContent": spec()}),
            Some(&token),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.header("etag"), Some("\"1\""));
    let id = created.data()["id"].as_str().unwrap().to_owned();
    assert_eq!(created.data()["status"], "draft");
    assert_eq!(
        created.data()["specContent"]["x-theme"]["color"],
        "blue",
        "unknown keys are kept"
    );
    assert_eq!(
        created.data()["validation"]["errors"],
        0,
        "{}",
        created.text
    );

    // add a page with the right If-Match
    let mut v2 = spec();
    v2["pages"].as_array_mut().unwrap().push(json!({
        "id": "results", "name": "Results", "path": "/results",
        "components": [{"id": "score", "type": "Text", "props": {"text": "Your score"}, "children": []}]
    }));
    let edited = app
        .send(
            app.client
                .put(app.url(&format!("/api/v1/appspecs/{id}")))
                .bearer_auth(&token)
                .header("If-Match", "\"1\"")
                .json(&json!({"specContent": v2, "changeDescription": "add results"})),
        )
        .await;
    assert_eq!(edited.status, 200, "{}", edited.text);
    assert_eq!(edited.header("etag"), Some("\"2\""));

    // a stale If-Match is refused and writes nothing
    let stale = app
        .send(
            app.client
                .put(app.url(&format!("/api/v1/appspecs/{id}")))
                .bearer_auth(&token)
                .header("If-Match", "\"1\"")
                .json(&json!({"specContent": spec()})),
        )
        .await;
    assert_eq!(stale.status, 412, "{}", stale.text);
    let now = app
        .get(&format!("/api/v1/appspecs/{id}"), Some(&token))
        .await;
    assert_eq!(now.data()["version"], 2);

    let diff = app
        .get(
            &format!("/api/v1/appspecs/{id}/diff?from=1&to=2"),
            Some(&token),
        )
        .await;
    assert_eq!(diff.status, 200, "{}", diff.text);
    let changes = diff.data()["changes"].as_array().unwrap();
    assert!(
        changes
            .iter()
            .any(|c| c["kind"] == "added" && c["entity"] == "page" && c["id"] == "results"),
        "{}",
        diff.text
    );
    assert!(
        diff.data()["summary"].as_str().unwrap().contains("Results"),
        "{}",
        diff.text
    );

    let rb = app
        .post(
            &format!("/api/v1/appspecs/{id}/rollback/1"),
            &json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(rb.status, 200, "{}", rb.text);
    assert_eq!(rb.data()["version"], 3);
    assert_eq!(
        rb.data()["specContent"]["pages"].as_array().unwrap().len(),
        2
    );

    let timeline = app
        .get(&format!("/api/v1/appspecs/{id}/versions"), Some(&token))
        .await;
    let types: Vec<&str> = timeline
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["changeType"].as_str().unwrap())
        .collect();
    assert_eq!(types, vec!["user_edit", "user_edit", "rollback"]);
    let v3 = app
        .get(&format!("/api/v1/appspecs/{id}/versions/3"), Some(&token))
        .await;
    assert_eq!(v3.data()["snapshotContent"], spec());
    let missing = app
        .get(&format!("/api/v1/appspecs/{id}/versions/9"), Some(&token))
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.code(), "3002");
}

#[tokio::test]
async fn other_users_get_404_never_403() {
    let app = spawn_app().await;
    let (mine, _) = app.register("owner_1").await;
    let (theirs, _) = app.register("stranger").await;
    let created = app
        .post(
            "/api/v1/appspecs",
            &json!({"specContent": spec()}),
            Some(&mine),
        )
        .await;
    let id = created.data()["id"].as_str().unwrap().to_owned();
    for path in [
        format!("/api/v1/appspecs/{id}"),
        format!("/api/v1/appspecs/{id}/versions"),
        format!("/api/v1/appspecs/{id}/versions/1"),
        format!("/api/v1/appspecs/{id}/diff?from=1&to=1"),
    ] {
        let a = app.get(&path, Some(&theirs)).await;
        assert_eq!(a.status, 404, "{path}: {}", a.text);
        assert_eq!(a.code(), "3000", "{path}");
    }
    let put = app
        .put(
            &format!("/api/v1/appspecs/{id}"),
            &json!({"specContent": spec()}),
            Some(&theirs),
        )
        .await;
    assert_eq!(put.status, 404);
    let del = app
        .send(
            app.client
                .delete(app.url(&format!("/api/v1/appspecs/{id}")))
                .bearer_auth(&theirs),
        )
        .await;
    assert_eq!(del.status, 404);
    let rb = app
        .post(
            &format!("/api/v1/appspecs/{id}/rollback/1"),
            &json!({}),
            Some(&theirs),
        )
        .await;
    assert_eq!(rb.status, 404);
    // the owner still has it, untouched
    let mine_now = app
        .get(&format!("/api/v1/appspecs/{id}"), Some(&mine))
        .await;
    assert_eq!(mine_now.data()["version"], 1);
    let list = app.get("/api/v1/appspecs", Some(&theirs)).await;
    assert_eq!(list.data()["total"], 0);
}

#[tokio::test]
async fn concurrent_edits_get_distinct_versions() {
    let app = spawn_app().await;
    let (token, _) = app.register("racer").await;
    let created = app
        .post(
            "/api/v1/appspecs",
            &json!({"specContent": spec()}),
            Some(&token),
        )
        .await;
    let id = created.data()["id"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for i in 0..10 {
        let mut s = spec();
        s["appName"] = json!(format!("Quiz {i}"));
        let req = app
            .client
            .put(app.url(&format!("/api/v1/appspecs/{id}")))
            .bearer_auth(&token)
            .json(&json!({"specContent": s}));
        tasks.push(tokio::spawn(async move {
            req.send().await.unwrap().status().as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let timeline = app
        .get(&format!("/api/v1/appspecs/{id}/versions"), Some(&token))
        .await;
    let numbers: Vec<i64> = timeline
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["versionNumber"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, (1..=11).collect::<Vec<_>>());
}

#[tokio::test]
async fn invalid_specs_are_refused_with_3001() {
    let app = spawn_app().await;
    let (token, _) = app.register("sloppy").await;
    let a = app
        .post(
            "/api/v1/appspecs",
            &json!({"specContent": {"pages": "nope"}}),
            Some(&token),
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.text);
    assert_eq!(a.code(), "3001");
    let b = app
        .post("/api/v1/appspecs", &json!({"specContent": 5}), Some(&token))
        .await;
    assert_eq!(b.code(), "3001");
    let list = app.get("/api/v1/appspecs", Some(&token)).await;
    assert_eq!(list.data()["total"], 0);
}

/// The keys of a JSON object, sorted.
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[tokio::test]
async fn validate_moves_a_clean_draft_and_reports_rule_errors() {
    let app = spawn_app().await;
    let (token, _) = app.register("validator").await;
    let (other, _) = app.register("bystander").await;
    let created = app
        .post(
            "/api/v1/appspecs",
            &json!({"specContent": spec()}),
            Some(&token),
        )
        .await;
    let id = created.data()["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/appspecs/{id}/validate");

    assert_eq!(app.post(&path, &json!({}), None).await.status, 401);
    let foreign = app.post(&path, &json!({}), Some(&other)).await;
    assert_eq!((foreign.status.as_u16(), foreign.code()), (404, "3000"));

    let v = app.post(&path, &json!({}), Some(&token)).await;
    assert_eq!(v.status, 200, "{}", v.text);
    assert_eq!(v.data()["status"], "validated");
    assert_eq!(v.data()["statusChanged"], true);
    assert_eq!(v.data()["version"], 1);
    assert_eq!(v.data()["validation"]["errors"], 0);
    assert_eq!(v.header("etag"), Some("\"1\""));
    let again = app.post(&path, &json!({}), Some(&token)).await;
    assert_eq!(again.data()["statusChanged"], false);
    assert_eq!(again.data()["status"], "validated");
    let read = app
        .get(&format!("/api/v1/appspecs/{id}"), Some(&token))
        .await;
    assert_eq!(read.data()["status"], "validated");

    // a rule error keeps a draft a draft, and the report names it
    let bid = create(&app, &token, broken()).await;
    let r = app
        .post(
            &format!("/api/v1/appspecs/{bid}/validate"),
            &json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["status"], "draft");
    assert_eq!(r.data()["statusChanged"], false);
    assert!(r.data()["validation"]["errors"].as_u64().unwrap() > 0);
    assert!(r.data()["validation"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["severity"] == "error"));

    // the listings keep their shapes
    let list = app.get("/api/v1/appspecs", Some(&token)).await;
    let records = list.data()["records"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    for r in records {
        assert_eq!(
            keys(r),
            [
                "appName",
                "createdAt",
                "id",
                "qualityScore",
                "status",
                "updatedAt",
                "version"
            ]
        );
        assert_eq!(r["appName"], "Word Quiz");
    }
    let timeline = app
        .get(&format!("/api/v1/appspecs/{id}/versions"), Some(&token))
        .await;
    let entry = &timeline.data()[0];
    assert_eq!(
        keys(entry),
        [
            "appSpecId",
            "changeDescription",
            "changeType",
            "createdAt",
            "createdByUserId",
            "id",
            "versionNumber"
        ]
    );
}

/// Creates a spec (201) and returns its id.
async fn create(app: &ingenio_testkit::app::TestApp, token: &str, content: Value) -> String {
    let created = app
        .post(
            "/api/v1/appspecs",
            &json!({"specContent": content}),
            Some(token),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    created.data()["id"].as_str().unwrap().to_owned()
}

/// A spec whose second page repeats the first page's id (a rule error).
fn broken() -> Value {
    let mut broken = spec();
    broken["pages"][1]["id"] = json!("home");
    broken
}

async fn status_of(app: &ingenio_testkit::app::TestApp, id: &str, token: &str) -> String {
    let read = app
        .get(&format!("/api/v1/appspecs/{id}"), Some(token))
        .await;
    assert_eq!(read.status, 200, "{}", read.text);
    read.data()["status"].as_str().unwrap().to_owned()
}

async fn render_done(app: &ingenio_testkit::app::TestApp, id: &str, token: &str) {
    let a = app
        .post(
            &format!("/api/v1/appspecs/{id}/render"),
            &json!({}),
            Some(token),
        )
        .await;
    assert_eq!(a.status, 202, "{}", a.text);
    let job = a.data()["jobId"].as_str().unwrap().to_owned();
    let done = app
        .wait_final(&job, token, std::time::Duration::from_secs(30))
        .await;
    assert_eq!(done["status"], "completed", "{done}");
}

/// draft → validated → generated, and every shortcut refused: a render of a draft leaves it a
/// draft (draft → generated is not a step), validating a generated spec leaves it generated,
/// an edit or a rollback of a validated or generated spec sends it back to draft.
#[tokio::test]
async fn the_lifecycle_holds_on_every_path() {
    let app = spawn_app().await;
    let (token, _) = app.register("lifecycle").await;
    let id = create(&app, &token, spec()).await;
    let validate = format!("/api/v1/appspecs/{id}/validate");

    // draft → generated is refused: the code is built, the status stays
    render_done(&app, &id, &token).await;
    assert_eq!(status_of(&app, &id, &token).await, "draft");

    let v = app.post(&validate, &json!({}), Some(&token)).await;
    assert_eq!(v.data()["status"], "validated", "{}", v.text);
    render_done(&app, &id, &token).await;
    assert_eq!(status_of(&app, &id, &token).await, "generated");

    // generated → validated is refused: validating reports, never moves back
    let v = app.post(&validate, &json!({}), Some(&token)).await;
    assert_eq!(v.status, 200, "{}", v.text);
    assert_eq!(
        (
            v.data()["status"].as_str(),
            v.data()["statusChanged"].as_bool()
        ),
        (Some("generated"), Some(false))
    );
    assert_eq!(status_of(&app, &id, &token).await, "generated");

    // an edit of a generated spec: back to draft
    let edited = app
        .put(
            &format!("/api/v1/appspecs/{id}"),
            &json!({"specContent": spec(), "changeDescription": "same again"}),
            Some(&token),
        )
        .await;
    assert_eq!(edited.status, 200, "{}", edited.text);
    assert_eq!(edited.data()["status"], "draft");

    // a rollback of a validated spec: back to draft
    let v = app.post(&validate, &json!({}), Some(&token)).await;
    assert_eq!(v.data()["status"], "validated");
    let rolled = app
        .post(
            &format!("/api/v1/appspecs/{id}/rollback/1"),
            &json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(rolled.status, 200, "{}", rolled.text);
    assert_eq!(rolled.data()["status"], "draft");

    // a spec with a rule error never leaves draft, whatever is tried
    let bid = create(&app, &token, broken()).await;
    let r = app
        .post(
            &format!("/api/v1/appspecs/{bid}/validate"),
            &json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(r.data()["status"], "draft");
    render_done(&app, &bid, &token).await;
    assert_eq!(status_of(&app, &bid, &token).await, "draft");
}

/// Specs over a size limit answer 400 naming the limit, on create, edit and rollback; nothing
/// is stored. A document nested past the JSON parser's depth is a 400 too, never a crash.
#[tokio::test]
async fn specs_over_the_size_limits_are_refused_with_400() {
    let app = TestAppBuilder::default()
        .set("ingenio.spec-limits.max-pages", 3)
        .spawn()
        .await;
    let (token, _) = app.register("limits").await;
    let id = create(&app, &token, spec()).await;

    let mut many = spec();
    for i in 0..2 {
        many["pages"]
            .as_array_mut()
            .unwrap()
            .push(json!({"id": format!("p{i}"), "name": "P", "path": format!("/p{i}")}));
    }
    let a = app
        .post(
            "/api/v1/appspecs",
            &json!({"specContent": many}),
            Some(&token),
        )
        .await;
    assert_eq!((a.status.as_u16(), a.code()), (400, "1001"), "{}", a.text);
    assert_eq!(
        a.body["message"],
        "spec has 4 pages; the limit is 3 (ingenio.spec-limits.max-pages)"
    );
    assert_eq!(a.data()["limit"], "ingenio.spec-limits.max-pages");
    assert_eq!(
        (a.data()["max"].as_u64(), a.data()["actual"].as_u64()),
        (Some(3), Some(4))
    );

    // components nested 17 deep (the default max-depth is 16) on an edit
    let mut deep = json!({"id": "c17", "type": "Card"});
    for d in (1..17).rev() {
        deep = json!({"id": format!("c{d}"), "type": "Card", "children": [deep]});
    }
    let mut nested = spec();
    nested["pages"][0]["components"] = json!([deep]);
    let e = app
        .put(
            &format!("/api/v1/appspecs/{id}"),
            &json!({"specContent": nested}),
            Some(&token),
        )
        .await;
    assert_eq!((e.status.as_u16(), e.code()), (400, "1001"), "{}", e.text);
    assert_eq!(e.data()["limit"], "ingenio.spec-limits.max-depth");

    // bytes first: one long string in an unknown key, over 256 KiB
    let mut fat = spec();
    fat["x-notes"] = json!("n".repeat(300 * 1024));
    let f = app
        .post(
            "/api/v1/appspecs",
            &json!({"specContent": fat}),
            Some(&token),
        )
        .await;
    assert_eq!((f.status.as_u16(), f.code()), (400, "1001"), "{}", f.text);
    assert_eq!(f.data()["limit"], "ingenio.spec-limits.max-bytes");

    // 10,000 levels of arrays: the JSON parser's own depth limit answers, the server lives on
    let body = format!(
        "{{\"specContent\": {}{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let r = app
        .send(
            app.client
                .post(app.url("/api/v1/appspecs"))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(body),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "1001"), "{}", r.text);

    // nothing of the above was stored
    let versions = app
        .get(&format!("/api/v1/appspecs/{id}/versions"), Some(&token))
        .await;
    assert_eq!(versions.data().as_array().unwrap().len(), 1);
    let list = app.get("/api/v1/appspecs", Some(&token)).await;
    assert_eq!(list.data()["total"], 1);
}
