//! Request rate limiting shared by two instances through Redis, and per-IP for anonymous calls.

use ingenio_testkit::app::TestApp;
use serde_json::json;
use std::future::Future;
use std::sync::Arc;

/// The embedded limiter's current one-minute window: windows are aligned to whole minutes since
/// the epoch, on the clock this test shares with the server.
fn window_index() -> i64 {
    chrono::Utc::now().timestamp_millis().div_euclid(60_000)
}

/// Runs `sequence` until one run falls inside a single window of the embedded limiter, and
/// returns what that run observed. A run that crossed a window boundary had its count reset
/// half-way, so it proves nothing and is repeated; `sequence` spawns its own app, so a repeat
/// starts from empty counters. The caller asserts on the returned observations, never inside
/// `sequence`, so a rolled-over run cannot fail the test.
async fn in_one_window<T, F, Fut>(mut sequence: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    for _ in 0..3 {
        let before = window_index();
        let seen = sequence().await;
        if window_index() == before {
            return seen;
        }
    }
    panic!("three runs in a row crossed a one-minute window boundary");
}

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
    let (statuses, code, retry_after, reset) = in_one_window(|| async {
        let app = TestApp::builder()
            .set("ingenio.rate-limit.requests-per-minute", 3)
            .spawn()
            .await;
        let body = json!({"usernameOrEmail":"nobody","password":"whatever1"});
        let mut statuses = Vec::new();
        for _ in 0..3 {
            statuses.push(app.post("/api/v1/auth/login", &body, None).await.status);
        }
        let r = app.post("/api/v1/auth/login", &body, None).await;
        statuses.push(r.status);
        (
            statuses,
            r.code().to_owned(),
            r.header("retry-after").map(str::to_owned),
            r.header("ratelimit-reset").map(str::to_owned),
        )
    })
    .await;
    assert_eq!(statuses, vec![401, 401, 401, 429]);
    assert_eq!(code, "1005");
    let retry: u64 = retry_after.expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_eq!(reset, Some(retry.to_string()));
}

/// A login attempt from this test client, with forwarded headers and an optional token.
async fn login_via(app: &TestApp, forwarded_for: &str, token: Option<&str>) -> u16 {
    let body = json!({"usernameOrEmail":"nobody","password":"whatever1"});
    let mut req = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", forwarded_for)
        .json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    app.send(req).await.status.as_u16()
}

/// The statuses of five anonymous login attempts, the i-th with `X-Forwarded-For: hops(i)`.
async fn five_logins(app: &TestApp, hops: impl Fn(u8) -> String) -> Vec<u16> {
    let mut statuses = Vec::new();
    for i in 0..5 {
        statuses.push(login_via(app, &hops(i), None).await);
    }
    statuses
}

#[tokio::test]
async fn forwarded_hops_written_by_the_client_do_not_pick_the_key() {
    // loopback is a trusted proxy by default: the hop it appended is the client
    let (statuses, other_client) = in_one_window(|| async {
        let app = TestApp::builder()
            .set("server.forward-headers", true)
            .set("ingenio.rate-limit.requests-per-minute", 3)
            .spawn()
            .await;
        // a client that rotates the leftmost hop it writes
        let statuses = five_logins(&app, |i| format!("10.9.8.{i}, 203.0.113.9")).await;
        // the proxy's hop names another client: its own budget
        (
            statuses,
            login_via(&app, "10.9.8.1, 203.0.113.10", None).await,
        )
    })
    .await;
    assert_eq!(statuses, vec![401, 401, 401, 429, 429]);
    assert_eq!(other_client, 401);

    // headers from a peer that is not a trusted proxy are ignored
    let statuses = in_one_window(|| async {
        let direct = TestApp::builder()
            .set("server.forward-headers", true)
            .set("server.forward-headers-trusted-proxies", "10.0.0.0/8")
            .set("ingenio.rate-limit.requests-per-minute", 3)
            .spawn()
            .await;
        five_logins(&direct, |i| format!("198.51.100.{i}")).await
    })
    .await;
    assert_eq!(statuses, vec![401, 401, 401, 429, 429]);
}

#[tokio::test]
async fn credential_routes_are_counted_per_ip_even_with_a_valid_token() {
    let (statuses, text) = in_one_window(|| async {
        let app = TestApp::builder()
            .set("ingenio.rate-limit.requests-per-minute", 3)
            .spawn()
            .await;
        // registering spends one request of this IP's budget
        let (token, _) = app.register("tokenholder").await;
        let mut statuses = vec![
            login_via(&app, "", Some(&token)).await,
            login_via(&app, "", Some(&token)).await,
        ];
        let r = app
            .post(
                "/api/v1/auth/reset-password/request",
                &json!({"email": "tokenholder@example.com"}),
                Some(&token),
            )
            .await;
        statuses.push(r.status.as_u16());
        statuses.push(login_via(&app, "", Some(&token)).await);
        // the user's own budget for other routes is untouched
        statuses.push(
            app.get("/api/v1/auth/me", Some(&token))
                .await
                .status
                .as_u16(),
        );
        (statuses, r.text)
    })
    .await;
    assert_eq!(statuses, vec![401, 401, 429, 429, 200], "{text}");
}

/// Seconds from now until the RFC 3339 time `at`.
fn seconds_until(at: &serde_json::Value) -> i64 {
    let at = chrono::DateTime::parse_from_rfc3339(at.as_str().unwrap()).unwrap();
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds()
}

#[tokio::test]
async fn the_quota_shows_both_limits_with_use_and_reset() {
    // the request counts below hold within one window of the embedded limiter
    let (first, job, second) = in_one_window(|| async {
        let app = TestApp::builder()
            .set("ingenio.rate-limit.requests-per-minute", 10)
            .set("ingenio.rate-limit.ai-calls-per-hour", 5)
            .set("ingenio.generation.workers", 0)
            .spawn()
            .await;
        let (token, _) = app.register("counter").await;
        for _ in 0..2 {
            assert_eq!(app.get("/api/v1/auth/me", Some(&token)).await.status, 200);
        }
        let first = app.get("/api/v1/user/quota", Some(&token)).await;
        let job = app
            .post(
                "/api/v1/generate",
                &json!({"requirement": "a vocabulary quiz for primary school pupils"}),
                Some(&token),
            )
            .await;
        let second = app.get("/api/v1/user/quota", Some(&token)).await;
        (first, job, second)
    })
    .await;
    let q = first;
    assert_eq!(q.status, 200, "{}", q.text);
    let r = &q.data()["requests"];
    // two reads and this one; registering counted against the IP, not the user
    assert_eq!(
        (
            r["limit"].as_u64(),
            r["used"].as_u64(),
            r["remaining"].as_u64()
        ),
        (Some(10), Some(3), Some(7))
    );
    assert_eq!(r["windowSeconds"], 60);
    let reset = r["resetInSeconds"].as_u64().unwrap();
    assert!((1..=60).contains(&reset), "{reset}");
    assert!((-1..=61).contains(&seconds_until(&r["resetAt"])));
    assert_eq!(q.header("ratelimit-remaining"), Some("7"));

    let a = &q.data()["aiCalls"];
    assert_eq!(
        (
            a["limit"].as_u64(),
            a["used"].as_u64(),
            a["remaining"].as_u64()
        ),
        (Some(5), Some(0), Some(5))
    );
    assert_eq!(a["windowSeconds"], 3600);
    assert_eq!(job.status, 202, "{}", job.text);
    let q = second;
    let a = &q.data()["aiCalls"];
    assert_eq!(
        (a["used"].as_u64(), a["remaining"].as_u64()),
        (Some(1), Some(4))
    );
    let reset = a["resetInSeconds"].as_u64().unwrap();
    assert!((1..=3600).contains(&reset), "{reset}");
    assert!((-1..=3601).contains(&seconds_until(&a["resetAt"])));
    assert_eq!(q.data()["requests"]["used"], 5);
}
