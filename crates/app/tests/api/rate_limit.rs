//! Request rate limiting shared by two instances through Redis, and per-IP for anonymous calls.

use ingenio_testkit::app::TestApp;
use serde_json::json;
use std::sync::Arc;

fn prefix() -> String {
    format!("test:{}:", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn two_instances_share_one_limit_through_redis() {
    let p = prefix();
    let a = TestApp::builder()
        .redis("127.0.0.1", 6379, &p)
        .set("ingenio.rate-limit.requests-per-minute", 5)
        .spawn()
        .await;
    let b = TestApp::builder()
        .db(Arc::clone(&a.db))
        .redis("127.0.0.1", 6379, &p)
        .set("ingenio.rate-limit.requests-per-minute", 5)
        .spawn()
        .await;
    // registering is an anonymous request counted against this client's IP, not the user
    let (token, _) = a.register("limited").await;
    let mut statuses = Vec::new();
    for i in 0..7 {
        let app = if i % 2 == 0 { &a } else { &b };
        let r = app.get("/api/v1/auth/me", Some(&token)).await;
        statuses.push(r.status.as_u16());
        if i < 5 {
            assert_eq!(r.status, 200, "request {i}: {}", r.text);
            assert_eq!(r.header("ratelimit-limit"), Some("5"));
            assert_eq!(
                r.header("ratelimit-remaining"),
                Some((4 - i).to_string().as_str())
            );
        } else {
            assert_eq!(r.status, 429, "request {i}");
            assert_eq!(r.code(), "1005");
            let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
            assert!((1..=60).contains(&retry));
            assert_eq!(r.header("ratelimit-remaining"), Some("0"));
        }
    }
    assert_eq!(statuses, vec![200, 200, 200, 200, 200, 429, 429]);
    // actuator endpoints are never limited
    assert_eq!(
        a.get("/api/actuator/health/liveness", None).await.status,
        200
    );
    // another user has their own budget
    let c = TestApp::builder()
        .db(Arc::clone(&a.db))
        .redis("127.0.0.1", 6379, &p)
        .set("ingenio.rate-limit.requests-per-minute", 100)
        .spawn()
        .await;
    let (other, _) = c.register("unlimited").await;
    assert_eq!(b.get("/api/v1/auth/me", Some(&other)).await.status, 200);
}

#[tokio::test]
async fn anonymous_callers_are_limited_per_ip_with_the_embedded_limiter() {
    let app = TestApp::builder()
        .set("ingenio.rate-limit.requests-per-minute", 3)
        .spawn()
        .await;
    let body = json!({"usernameOrEmail":"nobody","password":"whatever1"});
    for _ in 0..3 {
        assert_eq!(
            app.post("/api/v1/auth/login", &body, None).await.status,
            401
        );
    }
    let r = app.post("/api/v1/auth/login", &body, None).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.code(), "1005");
    assert!(r.header("retry-after").is_some());
}
