//! Failure handling: Redis down keeps login working (health shows redis DOWN); PostgreSQL down
//! gives 503 everywhere, and the server recovers by itself when it comes back.

use ingenio_testkit::app::TestApp;
use ingenio_testkit::db::TestDb;
use ingenio_testkit::proxy::TcpProxy;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn redis_outage_degrades_but_login_still_works() {
    let proxy = TcpProxy::start("127.0.0.1:6379".parse().unwrap())
        .await
        .unwrap();
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let app = TestApp::builder()
        .redis("127.0.0.1", proxy.port(), &prefix)
        .set("ingenio.rate-limit.requests-per-minute", 1000)
        .spawn()
        .await;
    app.register("survivor").await;
    let h = app.get("/api/actuator/health", None).await;
    assert_eq!(h.body["components"]["redis"]["status"], "UP", "{}", h.text);

    proxy.set_down();
    let login = json!({"usernameOrEmail":"survivor","password":"secret123"});
    for _ in 0..3 {
        let a = app.post("/api/v1/auth/login", &login, None).await;
        assert_eq!(a.status, 200, "login during a redis outage: {}", a.text);
        assert!(
            a.header("ratelimit-limit").is_some(),
            "the embedded limiter took over"
        );
    }
    let h = app.get("/api/actuator/health", None).await;
    assert_eq!(h.status, 200);
    assert_eq!(h.body["components"]["redis"]["status"], "DOWN");
    assert_eq!(h.body["components"]["db"]["status"], "UP");
    assert_eq!(h.body["status"], "DEGRADED");

    proxy.set_up();
    let mut up = false;
    for _ in 0..50 {
        if app.get("/api/actuator/health", None).await.body["components"]["redis"]["status"] == "UP"
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "redis came back");
}

#[tokio::test]
async fn database_outage_is_a_clean_503_and_recovers_without_restart() {
    let db = Arc::new(TestDb::new().await.unwrap());
    let proxy = TcpProxy::start("127.0.0.1:5432".parse().unwrap())
        .await
        .unwrap();
    let url = db.url.replace(":5432/", &format!(":{}/", proxy.port()));
    assert_ne!(url, db.url, "database url goes through the proxy");
    let app = TestApp::builder()
        .db(db.clone())
        .set("spring.datasource.url", url)
        .spawn()
        .await;
    let (token, _) = app.register("patient").await;

    proxy.set_down();
    let h = app.get("/api/actuator/health", None).await;
    assert_eq!(h.status, 503, "{}", h.text);
    assert_eq!(h.body["status"], "DOWN");
    assert_eq!(h.body["components"]["db"]["status"], "DOWN");
    assert_eq!(
        app.get("/api/actuator/health/readiness", None).await.status,
        503
    );
    assert_eq!(
        app.get("/api/actuator/health/liveness", None).await.status,
        200
    );
    let me = app.get("/api/v1/auth/me", Some(&token)).await;
    assert_eq!(me.status, 503, "{}", me.text);
    assert_eq!(me.code(), "1000");
    assert!(
        !me.text.to_lowercase().contains("connection refused"),
        "no internals leak: {}",
        me.text
    );

    proxy.set_up();
    let mut recovered = false;
    for _ in 0..50 {
        if app.get("/api/v1/auth/me", Some(&token)).await.status == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the server recovers when the database is back");
    assert_eq!(app.get("/api/actuator/health", None).await.status, 200);
}
