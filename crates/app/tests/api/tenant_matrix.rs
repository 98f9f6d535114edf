//! The tenant matrix, generated from the served OpenAPI document so no route can be forgotten:
//! for every operation whose path names a resource (`{id}`, `{n}`, ...), user A creates the real
//! resource through a fixture, then user B calling the operation gets 404 (403 on admin paths) and
//! an anonymous client 401 where the operation is authenticated. A parameter kind without a
//! fixture fails the test, naming the entry to add to [`FIXTURES`].

use diesel_async::SimpleAsyncConnection;
use futures::future::BoxFuture;
use ingenio_testkit::app::{Answer, TestApp};
use ingenio_users::Role;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

/// A parameter kind: the path segment before the parameter and the parameter, e.g.
/// `appspecs/{id}` or `versions/{n}`; the same kind means the same sort of value.
type Kind = String;

/// Makes (as user A) a real resource of one kind and returns the path value naming it.
type Fixture = for<'a> fn(&'a mut World<'_>) -> BoxFuture<'a, String>;

/// One entry per parameter kind. A new resource route adds its kind here.
const FIXTURES: &[(&str, Fixture)] = &[
    ("appspecs/{id}", spec_id),
    ("versions/{n}", first_version),
    ("rollback/{n}", first_version),
    ("jobs/{id}", job_id),
    ("loggers/{name}", root_logger),
    ("projects/{id}", project_id),
    ("comments/{id}", comment_id),
    ("magic-prompts/{id}", magic_prompt_id),
    ("reports/{id}", report_id),
];

/// Operations that are public by design, with the reason; they are not part of the matrix.
const PUBLIC_BY_DESIGN: &[(&str, &str)] = &[
    (
        "GET /v1/artifacts/{key}",
        "signed download: the signature in the query is the capability, not the caller",
    ),
    (
        "GET /actuator/metrics/{name}",
        "metric names are operational, not tenant data (move the actuator to the management port \
         to keep it private)",
    ),
    (
        "GET /v1/magic-prompts/{id}",
        "the magic prompt catalogue is shared by everyone of the tenant (drafts answer 404)",
    ),
    (
        "POST /v1/magic-prompts/{id}/use",
        "filling in a catalogue prompt reads nothing private and changes only its usage count",
    ),
];

/// Paths under these prefixes need an administrator: other users get 403, not 404.
const ADMIN_PREFIXES: &[&str] = &["/v1/admin/", "/actuator/loggers"];

/// A valid body per request schema, so B's call fails on ownership and not on parsing. A new
/// body schema without an entry gets `{}`; if that does not parse, the test says to add one.
fn body_for(schema: &str) -> Value {
    match schema {
        "SpecRequest" => json!({"specContent": crate::appspecs::spec()}),
        "LoggerLevelRequest" => json!({"configuredLevel": "INFO"}),
        "UpdateProjectRequest" => json!({"name": "另一个名字", "visibility": "public"}),
        "CommentRequest" => json!({"content": "看到了"}),
        "ReportRequest" => json!({"reason": "不合适"}),
        "ResolveRequest" => json!({"action": "delete"}),
        "PromptRequest" => prompt_body(),
        _ => json!({}),
    }
}

/// User A's world: the app, A's token and the values made so far (one resource per kind).
struct World<'t> {
    app: &'t TestApp,
    token: String,
    made: HashMap<Kind, String>,
}

impl World<'_> {
    /// The value of `kind`, made once.
    async fn value(&mut self, kind: &str) -> Option<String> {
        if let Some(v) = self.made.get(kind) {
            return Some(v.clone());
        }
        let (_, fixture) = FIXTURES.iter().find(|(k, _)| *k == kind)?;
        let v = fixture(self).await;
        self.made.insert(kind.to_owned(), v.clone());
        Some(v)
    }
}

fn spec_id<'a>(w: &'a mut World<'_>) -> BoxFuture<'a, String> {
    Box::pin(async move {
        let a = w
            .app
            .post(
                "/api/v1/appspecs",
                &json!({"specContent": crate::appspecs::spec()}),
                Some(&w.token),
            )
            .await;
        assert_eq!(a.status, 201, "fixture appspecs/{{id}}: {}", a.text);
        a.data()["id"].as_str().unwrap().to_owned()
    })
}

fn first_version<'a>(w: &'a mut World<'_>) -> BoxFuture<'a, String> {
    Box::pin(async move {
        // a version of the spec the same path names
        w.value("appspecs/{id}").await.unwrap();
        "1".to_owned()
    })
}

fn job_id<'a>(w: &'a mut World<'_>) -> BoxFuture<'a, String> {
    Box::pin(async move {
        let spec = w.value("appspecs/{id}").await.unwrap();
        let a = w
            .app
            .post(
                &format!("/api/v1/appspecs/{spec}/render"),
                &json!({"renderer": "static-web"}),
                Some(&w.token),
            )
            .await;
        assert_eq!(a.status, 202, "fixture jobs/{{id}}: {}", a.text);
        let id = a.data()["jobId"].as_str().unwrap().to_owned();
        w.app
            .wait_final(&id, &w.token, Duration::from_secs(30))
            .await;
        id
    })
}

/// A magic prompt an administrator may create.
fn prompt_body() -> Value {
    json!({"title": "矩阵提示", "promptTemplate": "做一个{thing}的小应用", "ageGroup": "elementary",
           "category": "game", "defaultVariables": {"thing": "计算器"}})
}

/// The id of the user signed in with `token`.
async fn user_id(app: &TestApp, token: &str) -> String {
    let me = app.get("/api/v1/auth/me", Some(token)).await;
    assert_eq!(me.status, 200, "{}", me.text);
    me.data()["id"].as_str().unwrap().to_owned()
}

/// A's private draft project.
fn project_id<'a>(w: &'a mut World<'_>) -> BoxFuture<'a, String> {
    Box::pin(async move {
        let a = w
            .app
            .post(
                "/api/v1/projects",
                &json!({"name": "矩阵作品", "visibility": "private"}),
                Some(&w.token),
            )
            .await;
        assert_eq!(a.status, 201, "fixture projects/{{id}}: {}", a.text);
        assert_eq!(a.data()["visibility"], "private", "{}", a.text);
        a.data()["id"].as_str().unwrap().to_owned()
    })
}

/// A's comment on A's private project.
fn comment_id<'a>(w: &'a mut World<'_>) -> BoxFuture<'a, String> {
    Box::pin(async move {
        let project = w.value("projects/{id}").await.unwrap();
        let a = w
            .app
            .post(
                &format!("/api/v1/projects/{project}/comments"),
                &json!({"content": "我自己的评论"}),
                Some(&w.token),
            )
            .await;
        assert_eq!(a.status, 201, "fixture comments/{{id}}: {}", a.text);
        a.data()["id"].as_str().unwrap().to_owned()
    })
}

/// Signs in an administrator (made once) and returns its token.
async fn admin_token(app: &TestApp) -> String {
    let _ = app
        .state
        .users
        .create_user(
            "matrix_admin",
            "matrix_admin@example.com",
            "adminpass1",
            Role::Admin,
        )
        .await;
    let a = app
        .post(
            "/api/v1/auth/login",
            &json!({"usernameOrEmail": "matrix_admin", "password": "adminpass1"}),
            None,
        )
        .await;
    assert_eq!(a.status, 200, "admin login: {}", a.text);
    a.data()["token"].as_str().unwrap().to_owned()
}

/// An active magic prompt created by an administrator (the catalogue is shared; only the admin
/// routes on it are in the matrix).
fn magic_prompt_id<'a>(w: &'a mut World<'_>) -> BoxFuture<'a, String> {
    Box::pin(async move {
        let admin = admin_token(w.app).await;
        let a = w
            .app
            .post("/api/v1/admin/magic-prompts", &prompt_body(), Some(&admin))
            .await;
        assert_eq!(a.status, 201, "fixture magic-prompts/{{id}}: {}", a.text);
        a.data()["id"].as_str().unwrap().to_owned()
    })
}

/// A's open report on another user's published public project.
fn report_id<'a>(w: &'a mut World<'_>) -> BoxFuture<'a, String> {
    Box::pin(async move {
        let (third, _) = w.app.register("matrix_third").await;
        let owner = user_id(w.app, &third).await;
        let project = uuid::Uuid::new_v4();
        let mut c = w.app.db.connect().await.unwrap();
        c.batch_execute(&format!(
            "INSERT INTO projects (id, user_id, name, visibility, status) \
             VALUES ('{project}', '{owner}', '公开作品', 'public', 'published')"
        ))
        .await
        .unwrap();
        let a = w
            .app
            .post(
                &format!("/api/v1/projects/{project}/report"),
                &json!({"reason": "矩阵举报"}),
                Some(&w.token),
            )
            .await;
        assert_eq!(a.status, 201, "fixture reports/{{id}}: {}", a.text);
        a.data()["id"].as_str().unwrap().to_owned()
    })
}

fn root_logger<'a>(_: &'a mut World<'_>) -> BoxFuture<'a, String> {
    Box::pin(async { "ROOT".to_owned() })
}

/// One operation of the document that names a resource in its path.
struct Op {
    method: String,
    path: String,
    authenticated: bool,
    body: Option<Value>,
    /// Required query parameters with a value of their type.
    query: Vec<(String, String)>,
}

impl Op {
    fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// The kinds of the path's parameters, in order: `/v1/appspecs/{id}/versions/{n}` →
/// `[("id", "appspecs/{id}"), ("n", "versions/{n}")]`.
fn kinds(path: &str) -> Vec<(String, Kind)> {
    let segments: Vec<&str> = path.split('/').collect();
    segments
        .iter()
        .enumerate()
        .filter(|(_, s)| s.starts_with('{') && s.ends_with('}'))
        .map(|(i, s)| {
            let before = if i > 0 { segments[i - 1] } else { "" };
            (s[1..s.len() - 1].to_owned(), format!("{before}/{s}"))
        })
        .collect()
}

fn sample(schema: &Value) -> String {
    if let Some(e) = schema.get("example") {
        return e.as_str().map_or_else(|| e.to_string(), str::to_owned);
    }
    if let Some(first) = schema["enum"].get(0) {
        return first.as_str().unwrap_or_default().to_owned();
    }
    match schema["type"].as_str() {
        Some("integer" | "number") => "1".to_owned(),
        Some("boolean") => "false".to_owned(),
        _ => "x".to_owned(),
    }
}

/// Every operation with a path parameter, from the served document.
fn resource_ops(doc: &Value) -> Vec<Op> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if kinds(path).is_empty() {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            let body = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .map(|r| body_for(r.rsplit('/').next().unwrap()));
            let query = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query" && p["required"] == true)
                .map(|p| (p["name"].as_str().unwrap().to_owned(), sample(&p["schema"])))
                .collect();
            out.push(Op {
                method: method.to_uppercase(),
                path: path.clone(),
                authenticated: op["security"].as_array().is_some_and(|s| !s.is_empty()),
                body,
                query,
            });
        }
    }
    out
}

async fn call(app: &TestApp, op: &Op, url_path: &str, token: Option<&str>) -> Answer {
    let method = reqwest::Method::from_bytes(op.method.as_bytes()).unwrap();
    let mut req = app
        .client
        .request(method, app.url(&format!("/api{url_path}")))
        .query(&op.query);
    if let Some(b) = &op.body {
        req = req.json(b);
    }
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    app.send(req).await
}

#[tokio::test]
async fn another_user_never_reaches_a_resource_and_anonymous_callers_must_log_in() {
    let app = TestApp::builder()
        .set("ingenio.rate-limit.enabled", false)
        .spawn()
        .await;
    let doc = app.get("/api/api-docs", None).await.body;
    let ops = resource_ops(&doc);
    assert!(
        ops.len() >= 12,
        "only {} resource operations found",
        ops.len()
    );

    let (token_a, _) = app.register("matrix_owner").await;
    let (token_b, _) = app.register("matrix_other").await;
    let mut world = World {
        app: &app,
        token: token_a.clone(),
        made: HashMap::new(),
    };

    let mut failures = Vec::new();
    for op in &ops {
        if PUBLIC_BY_DESIGN.iter().any(|(name, _)| *name == op.name()) {
            continue;
        }
        let mut url_path = op.path.clone();
        let mut missing = None;
        for (param, kind) in kinds(&op.path) {
            match world.value(&kind).await {
                Some(v) => url_path = url_path.replace(&format!("{{{param}}}"), &v),
                None => missing = Some(kind),
            }
        }
        if let Some(kind) = missing {
            failures.push(format!(
                "{}: no fixture makes a `{kind}`; add one to FIXTURES in \
                 crates/app/tests/api/tenant_matrix.rs (or list the operation in PUBLIC_BY_DESIGN \
                 with a reason)",
                op.name()
            ));
            continue;
        }

        let admin = ADMIN_PREFIXES.iter().any(|p| op.path.starts_with(p));
        let expected_b = if admin { 403 } else { 404 };
        let b = call(&app, op, &url_path, Some(&token_b)).await;
        if b.status.as_u16() != expected_b || b.body["success"] != false {
            let hint = if b.status == 400 {
                " (the request did not parse: add a valid body to body_for)"
            } else {
                ""
            };
            failures.push(format!(
                "{} as another user: expected {expected_b}, got {}{hint}: {}",
                op.name(),
                b.status,
                b.text
            ));
        }
        let anonymous = call(&app, op, &url_path, None).await;
        let expected_anonymous = if op.authenticated { 401 } else { 404 };
        if anonymous.status.as_u16() != expected_anonymous {
            failures.push(format!(
                "{} anonymously: expected {expected_anonymous}, got {}: {}",
                op.name(),
                anonymous.status,
                anonymous.text
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // B's writes changed nothing of A's
    let spec = world.value("appspecs/{id}").await.unwrap();
    let a = app
        .get(&format!("/api/v1/appspecs/{spec}"), Some(&token_a))
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.data()["version"], 1, "{}", a.text);
    let job = world.value("jobs/{id}").await.unwrap();
    let j = app
        .get(&format!("/api/v1/generate/jobs/{job}"), Some(&token_a))
        .await;
    assert_eq!(j.data()["status"], "completed", "{}", j.text);
    let project = world.value("projects/{id}").await.unwrap();
    let p = app
        .get(&format!("/api/v1/projects/{project}"), Some(&token_a))
        .await;
    assert_eq!(p.status, 200, "{}", p.text);
    assert_eq!(
        (p.data()["name"].as_str(), p.data()["visibility"].as_str()),
        (Some("矩阵作品"), Some("private")),
        "{}",
        p.text
    );
    let comments = app
        .get(
            &format!("/api/v1/projects/{project}/comments"),
            Some(&token_a),
        )
        .await;
    assert_eq!(comments.data()["total"], 1, "{}", comments.text);
    let admin = admin_token(&app).await;
    let reports = app
        .get("/api/v1/admin/reports?status=open", Some(&admin))
        .await;
    assert_eq!(reports.data()["total"], 1, "{}", reports.text);
    let prompt = world.value("magic-prompts/{id}").await.unwrap();
    let p = app
        .get(&format!("/api/v1/magic-prompts/{prompt}"), None)
        .await;
    assert_eq!(p.status, 200, "{}", p.text);
}

#[test]
fn kinds_name_the_segment_before_each_parameter() {
    assert_eq!(
        kinds("/v1/appspecs/{id}/versions/{n}"),
        vec![
            ("id".to_owned(), "appspecs/{id}".to_owned()),
            ("n".to_owned(), "versions/{n}".to_owned())
        ]
    );
    assert!(kinds("/v1/appspecs").is_empty());
}
