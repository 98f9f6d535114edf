//! The envelope on every response, including actix's own errors, and the trace id header.

use ingenio_testkit::app::spawn_app;

#[tokio::test]
async fn malformed_json_gets_a_clean_400() {
    let app = spawn_app().await;
    let a = app
        .send(
            app.client
                .post(app.url("/api/v1/auth/login"))
                .header("content-type", "application/json")
                .body("{\"usernameOrEmail\": \"x\", "),
        )
        .await;
    assert_eq!(a.status, 400, "{}", a.text);
    assert_eq!(a.code(), "1001");
    assert_eq!(a.body["success"], false);
}

#[tokio::test]
async fn wrong_content_type_and_wrong_types_are_1001() {
    let app = spawn_app().await;
    let a = app
        .send(
            app.client
                .post(app.url("/api/v1/auth/login"))
                .header("content-type", "text/plain")
                .body("hi"),
        )
        .await;
    assert_eq!(a.status, 415);
    assert_eq!(a.code(), "1001");
    let b = app
        .post(
            "/api/v1/auth/login",
            &serde_json::json!({"usernameOrEmail": 5, "password": "x"}),
            None,
        )
        .await;
    assert_eq!(b.status, 400);
    assert_eq!(b.code(), "1001");
}

#[tokio::test]
async fn a_5_mib_body_is_refused_with_413() {
    let app = spawn_app().await;
    let big = format!(
        "{{\"usernameOrEmail\":\"{}\",\"password\":\"x\"}}",
        "a".repeat(5 * 1024 * 1024)
    );
    let a = app
        .send(
            app.client
                .post(app.url("/api/v1/auth/login"))
                .header("content-type", "application/json")
                .body(big),
        )
        .await;
    assert_eq!(a.status, 413, "{}", a.text);
    assert_eq!(a.code(), "1001");
    // the server is still fine afterwards
    assert_eq!(
        app.get("/api/actuator/health/liveness", None).await.status,
        200
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_get_envelopes() {
    let app = spawn_app().await;
    for path in ["/api/v1/nope", "/nothing", "/api/v1/auth/me/extra"] {
        let a = app.get(path, None).await;
        assert_eq!(a.status, 404, "{path}");
        assert_eq!(a.code(), "1002", "{path}: {}", a.text);
    }
    let m = app
        .send(app.client.delete(app.url("/api/v1/auth/login")))
        .await;
    assert!(m.status == 404 || m.status == 405, "{}", m.status);
    assert!(!m.code().is_empty(), "{}", m.text);
}

#[tokio::test]
async fn trace_id_is_echoed_or_generated() {
    let app = spawn_app().await;
    let a = app
        .send(
            app.client
                .get(app.url("/api/actuator/health/liveness"))
                .header("X-Trace-Id", "abc-123"),
        )
        .await;
    assert_eq!(a.header("x-trace-id"), Some("abc-123"));
    let b = app.get("/api/v1/nope", None).await;
    assert!(b.header("x-trace-id").is_some_and(|t| t.len() >= 16));
}

#[tokio::test]
async fn openapi_and_swagger_ui_are_served() {
    let app = spawn_app().await;
    let doc = app.get("/api/api-docs", None).await;
    assert_eq!(doc.status, 200);
    let paths = doc.body["paths"].as_object().unwrap();
    for p in [
        "/v1/auth/register",
        "/v1/auth/login",
        "/v1/auth/refresh",
        "/v1/auth/logout",
        "/v1/auth/me",
        "/v1/auth/reset-password/request",
        "/v1/auth/reset-password/confirm",
        "/v1/user/profile",
        "/v1/user/password",
        "/actuator/health",
        "/actuator/health/liveness",
        "/actuator/health/readiness",
        "/actuator/info",
        "/actuator/metrics",
        "/actuator/metrics/{name}",
        "/actuator/prometheus",
        "/actuator/loggers",
        "/actuator/loggers/{name}",
    ] {
        assert!(paths.contains_key(p), "OpenAPI lacks {p}");
    }
    let ui = app.send(app.client.get(app.url("/api/swagger-ui/"))).await;
    assert_eq!(ui.status, 200);
    assert!(ui.text.contains("swagger"), "swagger ui page");
    // the UI loads the document from the route above
    let init = app
        .send(
            app.client
                .get(app.url("/api/swagger-ui/swagger-initializer.js")),
        )
        .await;
    assert_eq!(init.status, 200);
    assert!(init.text.contains("/api/api-docs"), "{}", init.text);
    assert_eq!(doc.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn unparsable_path_and_query_parameters_are_400_envelopes() {
    let app = spawn_app().await;
    let (token, _) = app.register("parse_errors").await;
    for path in [
        "/api/v1/appspecs/not-a-uuid",
        "/api/v1/appspecs/00000000-0000-0000-0000-000000000001/versions/one",
        "/api/v1/generate/jobs/123",
    ] {
        let a = app.get(path, Some(&token)).await;
        assert_eq!(a.status, 400, "{path}: {}", a.text);
        assert_eq!(a.code(), "1001", "{path}: {}", a.text);
        assert_eq!(a.body["success"], false, "{path}");
        assert!(a.data()["path"].is_string(), "{path}: {}", a.text);
    }
    for query in ["current=minus", "size=-1", "current=99999999999"] {
        let a = app
            .get(&format!("/api/v1/appspecs?{query}"), Some(&token))
            .await;
        assert_eq!(a.status, 400, "{query}: {}", a.text);
        assert_eq!(a.code(), "1001", "{query}: {}", a.text);
        assert!(a.data()["query"].is_string(), "{query}: {}", a.text);
    }
    // anonymous callers learn nothing about the path: 401 comes first
    let a = app.get("/api/v1/appspecs/not-a-uuid", None).await;
    assert_eq!(a.status, 401, "{}", a.text);
}

/// A NUL anywhere a client can put text — query values, JSON strings, JSON keys — is a 400 naming
/// where it was, on public and authenticated routes alike, and changes nothing stored.
#[tokio::test]
async fn nul_in_any_text_is_a_400_and_changes_nothing() {
    let app = spawn_app().await;
    let (token, _) = app.register("nul_probe").await;
    let before = app.get("/api/v1/user/profile", Some(&token)).await;
    assert_eq!(before.status, 200, "{}", before.text);
    let bodies: &[(&str, &str, &str)] = &[
        (
            "POST",
            "/api/v1/auth/login",
            r#"{"usernameOrEmail":"nul_probe\u0000","password":"secret123"}"#,
        ),
        (
            "POST",
            "/api/v1/auth/reset-password/request",
            r#"{"email":"a\u0000@example.com"}"#,
        ),
        (
            "PUT",
            "/api/v1/user/profile",
            r#"{"displayName":"x\u0000y"}"#,
        ),
        (
            "POST",
            "/api/v1/projects",
            r#"{"name":"n\u0000","description":"d"}"#,
        ),
        (
            "POST",
            "/api/v1/generate",
            r#"{"requirement":"\u0000 做一个图书管理应用，可以借书和还书"}"#,
        ),
        (
            "POST",
            "/api/v1/appspecs",
            r#"{"specContent":{"k\u0000":1}}"#,
        ),
    ];
    for (method, path, body) in bodies {
        let req = match *method {
            "PUT" => app.client.put(app.url(path)),
            _ => app.client.post(app.url(path)),
        };
        let a = app
            .send(
                req.bearer_auth(&token)
                    .header("content-type", "application/json; charset=utf-8")
                    .body(body.to_string()),
            )
            .await;
        assert_eq!(a.status, 400, "{method} {path}: {}", a.text);
        assert_eq!(a.code(), "1001", "{method} {path}: {}", a.text);
        assert!(a.data()["body"].is_string(), "{}", a.text);
    }
    for path in [
        "/api/v1/projects/public?q=a%00b",
        "/api/v1/projects/public?current=1&q=%C3%A2%00",
        "/api/v1/appspecs?status=%00",
        "/api/v1/projects?keyword=x%00",
    ] {
        let a = app.get(path, Some(&token)).await;
        assert_eq!(a.status, 400, "{path}: {}", a.text);
        assert_eq!(a.code(), "1001", "{path}: {}", a.text);
    }
    // the text `\u0000` (an escaped backslash) is ordinary text, not NUL
    let a = app
        .send(
            app.client
                .put(app.url("/api/v1/user/profile"))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(r#"{"displayName":"back\\u0000slash"}"#),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.data()["displayName"], "back\\u0000slash", "{}", a.text);
    let after = app.get("/api/v1/user/profile", Some(&token)).await;
    assert_eq!(after.data()["username"], before.data()["username"]);
    assert_eq!(after.data()["email"], before.data()["email"]);
}
