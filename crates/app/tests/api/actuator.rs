//! Actuator: health shape, liveness/readiness, info, Prometheus names, metrics detail and
//! run-time log levels (admin only).

use ingenio_testkit::app::{free_port, spawn_app, TestApp};
use ingenio_users::Role;
use serde_json::json;

#[tokio::test]
async fn health_reports_components() {
    let app = spawn_app().await;
    let h = app.get("/api/actuator/health", None).await;
    assert_eq!(h.status, 200, "{}", h.text);
    assert_eq!(h.body["status"], "UP");
    assert_eq!(h.body["components"]["db"]["status"], "UP");
    let notifications = &h.body["components"]["db"]["details"]["jobNotifications"];
    assert!(
        notifications == "listening" || notifications == "polling",
        "{notifications}"
    );
    assert_eq!(h.body["components"]["redis"]["status"], "UP");
    assert_eq!(h.body["components"]["diskSpace"]["status"], "UP");
    assert!(
        h.body["components"]["diskSpace"]["details"]["free"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert_eq!(
        app.get("/api/actuator/health/liveness", None).await.body["status"],
        "UP"
    );
    assert_eq!(
        app.get("/api/actuator/health/readiness", None).await.body["status"],
        "UP"
    );
    let info = app.get("/api/actuator/info", None).await;
    assert_eq!(info.body["app"]["name"], "ingenio-backend");
    assert_eq!(info.body["runtime"]["profile"], "test");
}

#[tokio::test]
async fn prometheus_uses_micrometer_names_with_route_templates() {
    let app = spawn_app().await;
    let (token, _) = app.register("metric_user").await;
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/auth/me", Some(&token)).await.status, 200);
    }
    app.get("/api/v1/does-not-exist", None).await;
    let p = app.get("/api/actuator/prometheus", None).await;
    assert_eq!(p.status, 200);
    assert!(p.header("content-type").unwrap().starts_with("text/plain"));
    let line = p
        .text
        .lines()
        .find(|l| {
            l.starts_with("http_server_requests_seconds_count{")
                && l.contains("uri=\"/api/v1/auth/me\"")
        })
        .unwrap_or_else(|| panic!("no count line for /api/v1/auth/me in\n{}", p.text));
    assert!(
        line.contains("method=\"GET\"")
            && line.contains("status=\"200\"")
            && line.contains("outcome=\"SUCCESS\""),
        "{line}"
    );
    assert!(line.ends_with(" 3"), "{line}");
    assert!(p.text.contains("http_server_requests_seconds_bucket{"));
    assert!(p.text.contains("http_server_requests_seconds_sum{"));
    assert!(p.text.contains("hikaricp_connections_active"));
    assert!(p.text.contains("process_resident_memory_bytes"));
    assert!(
        p.text.contains("ingenio_generation_event_streams 0"),
        "no stream is open"
    );
    assert!(p
        .text
        .contains("ingenio_generation_notifications_listening "));
    // unmatched paths do not create a label per path
    assert!(!p.text.contains("does-not-exist"));

    let names = app.get("/api/actuator/metrics", None).await;
    assert!(names.body["names"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n == "http.server.requests"));
    let m = app
        .get(
            "/api/actuator/metrics/http.server.requests?tag=uri:/api/v1/auth/me",
            None,
        )
        .await;
    assert_eq!(m.status, 200, "{}", m.text);
    let count = m.body["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["statistic"] == "COUNT")
        .unwrap()["value"]
        .as_f64()
        .unwrap();
    assert_eq!(count, 3.0);
    assert_eq!(
        app.get("/api/actuator/metrics/no.such.metric", None)
            .await
            .status,
        404
    );
}

async fn admin_token(app: &TestApp) -> String {
    app.state
        .users
        .create_user("root_admin", "root@example.com", "adminpass1", Role::Admin)
        .await
        .unwrap();
    let a = app
        .post(
            "/api/v1/auth/login",
            &json!({"usernameOrEmail":"root_admin","password":"adminpass1"}),
            None,
        )
        .await;
    a.data()["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn only_admins_change_log_levels() {
    let app = spawn_app().await;
    let body = json!({"configuredLevel":"DEBUG"});
    let anon = app
        .post("/api/actuator/loggers/ingenio_users", &body, None)
        .await;
    assert_eq!(anon.status, 401);
    assert_eq!(anon.code(), "1003");
    let (user, _) = app.register("plain_user").await;
    let denied = app
        .post("/api/actuator/loggers/ingenio_users", &body, Some(&user))
        .await;
    assert_eq!(denied.status, 403);
    assert_eq!(denied.code(), "1004");
    assert_eq!(app.get("/api/actuator/loggers", None).await.status, 401);

    let admin = admin_token(&app).await;
    let ok = app
        .post("/api/actuator/loggers/ingenio_users", &body, Some(&admin))
        .await;
    assert_eq!(ok.status, 204, "{}", ok.text);
    let l = app.get("/api/actuator/loggers", Some(&admin)).await;
    assert_eq!(l.status, 200);
    assert_eq!(
        l.body["loggers"]["ingenio_users"]["configuredLevel"],
        "DEBUG"
    );
    assert_eq!(
        l.body["loggers"]["ingenio_users"]["effectiveLevel"],
        "DEBUG"
    );
    let one = app
        .get("/api/actuator/loggers/ingenio_users", Some(&admin))
        .await;
    assert_eq!(one.body["configuredLevel"], "DEBUG");
    let bad = app
        .post(
            "/api/actuator/loggers/ingenio_users",
            &json!({"configuredLevel":"LOUD"}),
            Some(&admin),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.code(), "1001");
}

#[tokio::test]
async fn a_management_port_takes_metrics_and_loggers_off_the_api_port() {
    let app = spawn_app().await;
    assert!(app.management_port.is_none());
    let p = app.get("/api/actuator/prometheus", None).await;
    assert_eq!(p.status, 200, "without a management port nothing moves");
    app.stop().await;
    drop(app);

    let port = free_port();
    let app = TestApp::builder()
        .set("management.server.port", port)
        .spawn()
        .await;
    assert_eq!(app.management_port, Some(port));
    let admin = admin_token(&app).await;
    for path in [
        "/api/actuator/prometheus",
        "/api/actuator/metrics",
        "/api/actuator/metrics/http.server.requests",
        "/api/actuator/loggers",
        "/api/actuator/loggers/ingenio_users",
    ] {
        let a = app.get(path, Some(&admin)).await;
        assert_eq!(a.status, 404, "{path} left the API port: {}", a.text);
        assert_eq!(a.code(), "1002", "{path}: the envelope's not-found code");
    }
    // load balancer probes stay where they were
    for path in [
        "/api/actuator/health",
        "/api/actuator/health/liveness",
        "/api/actuator/health/readiness",
        "/api/actuator/info",
    ] {
        assert_eq!(app.get(path, None).await.status, 200, "{path}");
    }

    let mgmt = format!("http://127.0.0.1:{port}");
    for prefix in ["/actuator", "/api/actuator"] {
        let p = app
            .send(app.client.get(format!("{mgmt}{prefix}/prometheus")))
            .await;
        assert_eq!(p.status, 200, "{prefix}: {}", p.text);
        assert!(
            p.text.contains("http_server_requests_seconds_count{"),
            "{}",
            p.text
        );
        let h = app
            .send(app.client.get(format!("{mgmt}{prefix}/health")))
            .await;
        assert_eq!(h.body["status"], "UP", "{}", h.text);
        let anon = app
            .send(app.client.get(format!("{mgmt}{prefix}/loggers")))
            .await;
        assert_eq!(anon.status, 401, "loggers stay admin-only: {}", anon.text);
        let l = app
            .send(
                app.client
                    .get(format!("{mgmt}{prefix}/loggers"))
                    .bearer_auth(&admin),
            )
            .await;
        assert_eq!(l.status, 200, "{}", l.text);
    }
    // the management port serves nothing but the actuator
    let api = app
        .send(app.client.get(format!("{mgmt}/api/v1/auth/me")))
        .await;
    assert_eq!(api.status, 404);
}
