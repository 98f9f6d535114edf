//! Failure handling: Redis down keeps login working (health shows redis DOWN); PostgreSQL down
//! gives 503 everywhere, and the server recovers by itself when it comes back.

use ingenio_testkit::app::{free_port, TestApp};
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

/// The value of `ingenio_redis_fallback_total{component="…"}` in a Prometheus exposition.
fn redis_fallbacks(prometheus: &str, component: &str) -> f64 {
    let series = format!("ingenio_redis_fallback_total{{component=\"{component}\"}} ");
    prometheus
        .lines()
        .find_map(|l| l.strip_prefix(series.as_str()))
        .unwrap_or_else(|| panic!("no {series}in {prometheus}"))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn requests_served_by_the_fallback_while_redis_is_unreachable_are_counted() {
    // nothing listens there: every Redis call fails (or is skipped by the open breaker)
    let closed = free_port();
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let app = TestApp::builder()
        .redis("127.0.0.1", closed, &prefix)
        .set("ingenio.rate-limit.requests-per-minute", 1000)
        .spawn()
        .await;
    let before = app.get("/api/actuator/prometheus", None).await.text;
    let (limiter0, quota0) = (
        redis_fallbacks(&before, "rate_limiter"),
        redis_fallbacks(&before, "ai_quota"),
    );
    let (token, _) = app.register("fallback_user").await;
    for _ in 0..3 {
        let q = app.get("/api/v1/user/quota", Some(&token)).await;
        assert_eq!(q.status, 200, "served without Redis: {}", q.text);
        assert!(
            q.header("ratelimit-limit").is_some(),
            "the embedded limiter answered"
        );
    }
    let after = app.get("/api/actuator/prometheus", None).await.text;
    let limited = redis_fallbacks(&after, "rate_limiter") - limiter0;
    // the registration and the three quota reads each went through the in-process limiter
    assert!(limited >= 4.0, "rate limiter fallbacks: {limited}");
    let quota = redis_fallbacks(&after, "ai_quota") - quota0;
    assert!(
        quota >= 3.0,
        "each quota read used the in-process AI quota: {quota}"
    );
}
