//! Failure handling: Redis down keeps login and cached project lists working (health shows redis
//! DOWN; the lists come from the database); PostgreSQL down
//! gives 503 everywhere, and the server recovers by itself when it comes back.

use ingenio_testkit::app::{free_port, TestApp};
use ingenio_testkit::db::TestDb;
use ingenio_testkit::proxy::TcpProxy;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// A server whose Redis is reached through a proxy the test can cut.
async fn app_behind_redis_proxy() -> (TcpProxy, TestApp) {
    let proxy = TcpProxy::start("127.0.0.1:6379".parse().unwrap())
        .await
        .unwrap();
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let app = TestApp::builder()
        .redis("127.0.0.1", proxy.port(), &prefix)
        .set("ingenio.rate-limit.requests-per-minute", 1000)
        .spawn()
        .await;
    (proxy, app)
}

#[tokio::test]
async fn redis_outage_degrades_but_login_still_works() {
    let (proxy, app) = app_behind_redis_proxy().await;
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

#[tokio::test]
async fn project_lists_stay_correct_while_redis_is_down() {
    let (proxy, app) = app_behind_redis_proxy().await;
    let (token, _) = app.register("cache_outage").await;
    let made = app
        .post("/api/v1/projects", &json!({"name": "before"}), Some(&token))
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    let id = made.data()["id"].as_str().unwrap().to_owned();
    let names = |a: &ingenio_testkit::app::Answer| -> Vec<String> {
        a.data()["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect()
    };
    // cached while Redis is up
    for _ in 0..2 {
        assert_eq!(
            names(&app.get("/api/v1/projects", Some(&token)).await),
            ["before"]
        );
    }

    proxy.set_down();
    let a = app
        .put(
            &format!("/api/v1/projects/{id}"),
            &json!({"name": "during"}),
            Some(&token),
        )
        .await;
    assert_eq!(
        a.status, 200,
        "a change while the cache is down: {}",
        a.text
    );
    for _ in 0..3 {
        let list = app.get("/api/v1/projects", Some(&token)).await;
        assert_eq!(list.status, 200, "{}", list.text);
        assert_eq!(names(&list), ["during"], "the database answers");
    }
    let g = app.get("/api/v1/projects/public", None).await;
    assert_eq!(g.status, 200, "{}", g.text);
    let prom = app.get("/api/actuator/prometheus", None).await.text;
    assert!(
        redis_fallbacks(&prom, "project_cache") >= 1.0,
        "cache fallbacks are counted"
    );

    // back up: the entry cached before the outage is never served again
    proxy.set_up();
    tokio::time::sleep(Duration::from_secs(6)).await;
    for _ in 0..3 {
        assert_eq!(
            names(&app.get("/api/v1/projects", Some(&token)).await),
            ["during"]
        );
    }
}
