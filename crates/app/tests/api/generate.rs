//! Durable generation through a stand-in DeepSeek: 202 at once, SSE progress to `complete`,
//! quality gate, retries, provider errors and timeouts, idempotency, cancel, crash takeover with
//! SSE resume, isolation, the AI quota over two instances, and the offline generator.

use ingenio_testkit::app::{SseEvent, TestApp};
use ingenio_testkit::deepseek::{good_review, FakeDeepseek, Reply};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const REQ: &str = "a vocabulary quiz for primary school pupils";

async fn ai_app(fake: &FakeDeepseek) -> TestApp {
    TestApp::builder()
        .deepseek(&fake.base_url())
        .set("ingenio.generation.poll-interval-ms", 50)
        .set("ingenio.deepseek.plan-timeout", 5)
        .set("ingenio.deepseek.execute-timeout", 5)
        .set("ingenio.deepseek.review-timeout", 5)
        .spawn()
        .await
}

async fn start_job(app: &TestApp, token: &str, body: Value) -> String {
    let a = app.post("/api/v1/generate", &body, Some(token)).await;
    assert_eq!(a.status, 202, "{}", a.text);
    a.data()["jobId"].as_str().unwrap().to_owned()
}

/// The refund of a failed job happens right after its status changes; wait for it.
async fn wait_quota_used(app: &TestApp, token: &str, used: u64) {
    for _ in 0..100 {
        let q = app.get("/api/v1/user/quota", Some(token)).await;
        if q.data()["aiCalls"]["used"] == used {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("quota never reached {used} used");
}

fn is_end(e: &SseEvent) -> bool {
    e.event == "complete" || e.event == "error"
}

#[tokio::test]
async fn a_job_runs_plan_execute_validate_and_stores_version_1() {
    let fake = FakeDeepseek::start().await;
    let app = ai_app(&fake).await;
    let (token, _) = app.register("gen_happy").await;
    let started = Instant::now();
    let a = app
        .post(
            "/api/v1/generate",
            &json!({"requirement": REQ, "ageGroup": "elementary"}),
            Some(&token),
        )
        .await;
    assert_eq!(a.status, 202, "{}", a.text);
    assert!(started.elapsed() < Duration::from_secs(2), "202 at once");
    assert!(a
        .header("location")
        .unwrap()
        .ends_with(a.data()["jobId"].as_str().unwrap()));
    let id = a.data()["jobId"].as_str().unwrap().to_owned();

    let events = app
        .sse(&id, &token, None, Duration::from_secs(30), is_end)
        .await;
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(kinds.last(), Some(&"complete"), "{kinds:?}");
    assert!(kinds.contains(&"progress") && kinds.contains(&"agent"));
    let agents: Vec<&str> = events
        .iter()
        .filter(|e| e.event == "agent" && e.data["data"]["state"] == "completed")
        .map(|e| e.data["data"]["agent"].as_str().unwrap())
        .collect();
    assert_eq!(agents, vec!["plan", "execute", "validate"]);
    assert!(events.windows(2).all(|w| w[0].id < w[1].id), "ids increase");
    // Reconnecting after the final event: nothing is repeated and the stream ends by itself.
    let final_id = events.last().unwrap().id;
    let again = Instant::now();
    let after = app
        .sse(&id, &token, Some(final_id), Duration::from_secs(30), |_| {
            true
        })
        .await;
    assert!(after.is_empty(), "{after:?}");
    assert!(
        again.elapsed() < Duration::from_secs(30),
        "the stream closed"
    );
    // From the start, the whole stream is replayed in order and ends with `complete`.
    let replay = app
        .sse(&id, &token, None, Duration::from_secs(30), |_| false)
        .await;
    assert_eq!(
        replay.iter().map(|e| e.id).collect::<Vec<_>>(),
        events.iter().map(|e| e.id).collect::<Vec<_>>()
    );
    // A browser EventSource cannot set headers: token and resume point go in the query.
    let path = format!("/api/v1/generate/jobs/{id}/events");
    let browser = app
        .send(app.client.get(app.url(&format!(
            "{path}?access_token={token}&lastEventId={}",
            events[0].id
        ))))
        .await;
    assert_eq!(browser.status, 200, "{}", browser.text);
    assert!(
        !browser.text.contains(&format!("id: {}\n", events[0].id)),
        "resumed after it"
    );
    assert!(browser.text.contains("event: complete"), "{}", browser.text);
    let anonymous = app.send(app.client.get(app.url(&path))).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.code(), "1003");
    let forged = app
        .send(
            app.client
                .get(app.url(&format!("{path}?access_token=garbage"))),
        )
        .await;
    assert_eq!(forged.status, 401);
    assert_eq!(forged.code(), "1003");

    let job = app
        .get(&format!("/api/v1/generate/jobs/{id}"), Some(&token))
        .await;
    let job = job.data();
    assert_eq!(job["status"], "completed");
    assert_eq!(job["progress"], 100);
    assert!(
        job["tokenUsage"]["totalTokens"].as_u64().unwrap() > 0,
        "{job}"
    );
    assert_eq!(job["agents"]["plan"]["state"], "completed");
    let spec_id = job["appSpecId"].as_str().unwrap();
    assert_eq!(job["versionNumber"], 1);

    let v1 = app
        .get(
            &format!("/api/v1/appspecs/{spec_id}/versions/1"),
            Some(&token),
        )
        .await;
    assert_eq!(v1.data()["changeType"], "ai_generation");
    let meta = &v1.data()["generationMetadata"];
    assert_eq!(meta["modelVersion"], "deepseek-chat");
    assert_eq!(meta["userInput"], REQ);
    assert!(
        meta["plan"]["reasoning"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{meta}"
    );
    assert!(meta["validate"]["finalScore"].as_u64().unwrap() >= 80);
    assert!(meta["tokenUsage"]["totalTokens"].as_u64().unwrap() > 0);
    let spec = app
        .get(&format!("/api/v1/appspecs/{spec_id}"), Some(&token))
        .await;
    // validated by the pipeline, then rendered: generated
    assert_eq!(spec.data()["status"], "generated");
}

#[tokio::test]
async fn below_the_quality_gate_fails_with_3003_and_stores_nothing() {
    let fake = FakeDeepseek::start().await;
    fake.push_for("review", Reply::Json(good_review(10)));
    let app = ai_app(&fake).await;
    let (token, _) = app.register("gen_gate").await;
    let id = start_job(&app, &token, json!({"requirement": REQ})).await;
    let job = app.wait_final(&id, &token, Duration::from_secs(30)).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["errorCode"], "3003");
    // a spec with rule errors fails with 3004
    let mut broken = ingenio_testkit::deepseek::good_spec();
    broken["pages"] = json!([]);
    fake.push_for("execute", Reply::Json(broken));
    let id = start_job(&app, &token, json!({"requirement": REQ})).await;
    let job = app.wait_final(&id, &token, Duration::from_secs(30)).await;
    assert_eq!(job["errorCode"], "3004", "{job}");
    let list = app.get("/api/v1/appspecs", Some(&token)).await;
    assert_eq!(list.data()["total"], 0, "nothing stored");
}

#[tokio::test]
async fn rate_limited_twice_then_success_completes() {
    let fake = FakeDeepseek::start().await;
    for _ in 0..2 {
        fake.push_for("plan", Reply::Status { status: 429, body: json!({"error": {"message": "Rate limit reached", "type": "rate_limit", "code": "rate_limit"}}), retry_after: Some(1) });
    }
    let app = ai_app(&fake).await;
    let (token, _) = app.register("gen_429").await;
    let id = start_job(&app, &token, json!({"requirement": REQ})).await;
    let job = app.wait_final(&id, &token, Duration::from_secs(40)).await;
    assert_eq!(job["status"], "completed", "{job}");
    let plans = fake
        .requests()
        .iter()
        .filter(|r| r.agent.as_deref() == Some("plan"))
        .count();
    assert_eq!(plans, 3);
}

#[tokio::test]
async fn one_malformed_answer_is_corrected_by_the_retry() {
    let fake = FakeDeepseek::start().await;
    fake.push_for(
        "execute",
        Reply::Content("Sure! Here is your app: {not json".to_owned()),
    );
    let app = ai_app(&fake).await;
    let (token, _) = app.register("gen_fix").await;
    let id = start_job(&app, &token, json!({"requirement": REQ})).await;
    let job = app.wait_final(&id, &token, Duration::from_secs(30)).await;
    assert_eq!(job["status"], "completed", "{job}");
    let executes = fake
        .requests()
        .iter()
        .filter(|r| r.agent.as_deref() == Some("execute"))
        .count();
    assert_eq!(executes, 2);
}

#[tokio::test]
async fn a_provider_that_always_fails_gives_6003_in_bounded_time_and_a_hang_gives_6004() {
    let fake = FakeDeepseek::start().await;
    fake.set_default(|_| Reply::Status { status: 500, body: json!({"error": {"message": "Server error", "type": "server_error", "code": "server_error"}}), retry_after: None });
    let app = TestApp::builder()
        .deepseek(&fake.base_url())
        .set("ingenio.generation.poll-interval-ms", 50)
        .set("ingenio.deepseek.max-retries", 2)
        .set("ingenio.deepseek.plan-timeout", 1)
        .spawn()
        .await;
    let (token, _) = app.register("gen_500").await;
    let started = Instant::now();
    let id = start_job(&app, &token, json!({"requirement": REQ})).await;
    let job = app.wait_final(&id, &token, Duration::from_secs(60)).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["errorCode"], "6003");
    assert!(started.elapsed() < Duration::from_secs(60));

    fake.set_default(|_| Reply::Hang);
    let id = start_job(&app, &token, json!({"requirement": REQ})).await;
    let job = app.wait_final(&id, &token, Duration::from_secs(30)).await;
    assert_eq!(job["errorCode"], "6004", "{job}");
    // failed jobs are refunded: the quota shows nothing used
    wait_quota_used(&app, &token, 0).await;
}

#[tokio::test]
async fn idempotency_key_returns_the_same_job_and_cancel_stores_nothing() {
    let fake = FakeDeepseek::start().await;
    fake.set_default(|r| match r.agent.as_deref() {
        Some("plan") => Reply::Slow {
            delay: Duration::from_secs(20),
            reply: Box::new(Reply::Json(ingenio_testkit::deepseek::good_plan())),
        },
        Some("execute") => Reply::Json(ingenio_testkit::deepseek::good_spec()),
        _ => Reply::Json(good_review(90)),
    });
    let app = ai_app(&fake).await;
    let (token, _) = app.register("gen_idem").await;
    let send = || {
        app.send(
            app.client
                .post(app.url("/api/v1/generate"))
                .bearer_auth(&token)
                .header("Idempotency-Key", "same-key-1")
                .json(&json!({"requirement": REQ})),
        )
    };
    let a = send().await;
    let b = send().await;
    assert_eq!(a.status, 202);
    assert_eq!(a.data()["jobId"], b.data()["jobId"]);
    let id = a.data()["jobId"].as_str().unwrap().to_owned();
    let q = app.get("/api/v1/user/quota", Some(&token)).await;
    assert_eq!(
        q.data()["aiCalls"]["used"],
        1,
        "one reservation for one job"
    );

    app.wait_job(&id, &token, Duration::from_secs(10), |j| {
        j["status"] == "planning"
    })
    .await;
    let c = app
        .post(
            &format!("/api/v1/generate/jobs/{id}/cancel"),
            &json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(c.status, 200, "{}", c.text);
    assert_eq!(c.data()["status"], "cancelled");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let job = app
        .get(&format!("/api/v1/generate/jobs/{id}"), Some(&token))
        .await;
    assert_eq!(job.data()["status"], "cancelled");
    assert_eq!(
        app.get("/api/v1/appspecs", Some(&token)).await.data()["total"],
        0
    );
    let q = app.get("/api/v1/user/quota", Some(&token)).await;
    assert_eq!(q.data()["aiCalls"]["used"], 0, "cancel refunds");
    let events = app
        .sse(&id, &token, None, Duration::from_secs(5), is_end)
        .await;
    assert_eq!(events.last().map(|e| e.event.as_str()), Some("error"));
}

#[tokio::test]
async fn a_crashed_instance_is_taken_over_and_sse_resumes_without_repeats() {
    let fake = FakeDeepseek::start().await;
    fake.set_default(|r| match r.agent.as_deref() {
        Some("execute") => Reply::Slow {
            delay: Duration::from_secs(3),
            reply: Box::new(Reply::Json(ingenio_testkit::deepseek::good_spec())),
        },
        Some("plan") => Reply::Json(ingenio_testkit::deepseek::good_plan()),
        _ => Reply::Json(good_review(90)),
    });
    let first = TestApp::builder()
        .deepseek(&fake.base_url())
        .set("ingenio.generation.lease-seconds", 2)
        .set("ingenio.generation.poll-interval-ms", 50)
        .spawn()
        .await;
    let (token, _) = first.register("gen_crash").await;
    let id = start_job(&first, &token, json!({"requirement": REQ})).await;
    let seen = first
        .sse(&id, &token, None, Duration::from_secs(10), |e| {
            e.event == "agent" && e.data["data"]["agent"] == "execute"
        })
        .await;
    let last_seen = seen.last().unwrap().id;
    first.crash().await;

    let crashed_at = Instant::now();
    let second = TestApp::builder()
        .db(Arc::clone(&first.db))
        .deepseek(&fake.base_url())
        .set("ingenio.generation.lease-seconds", 2)
        .set("ingenio.generation.poll-interval-ms", 50)
        .spawn()
        .await;
    let rest = second
        .sse(
            &id,
            &token,
            Some(last_seen),
            Duration::from_secs(30),
            is_end,
        )
        .await;
    assert_eq!(
        rest.last().map(|e| e.event.as_str()),
        Some("complete"),
        "{rest:?}"
    );
    assert!(rest.iter().all(|e| e.id > last_seen), "no repeats");
    let mut all: Vec<i64> = seen.iter().chain(rest.iter()).map(|e| e.id).collect();
    let n = all.len();
    all.dedup();
    assert_eq!(all.len(), n);
    let job = second
        .get(&format!("/api/v1/generate/jobs/{id}"), Some(&token))
        .await;
    assert_eq!(job.data()["status"], "completed");
    assert_eq!(job.data()["attempts"], 2);
    // the plan step was resumed from its checkpoint, not asked again
    let plans = fake
        .requests()
        .iter()
        .filter(|r| r.agent.as_deref() == Some("plan"))
        .count();
    assert_eq!(plans, 1);
    eprintln!("takeover to completion: {:?}", crashed_at.elapsed());
}

#[tokio::test]
async fn a_graceful_shutdown_hands_its_job_over_before_the_lease_expires() {
    let fake = FakeDeepseek::start().await;
    fake.set_default(|r| match r.agent.as_deref() {
        Some("execute") => Reply::Slow {
            delay: Duration::from_secs(4),
            reply: Box::new(Reply::Json(ingenio_testkit::deepseek::good_spec())),
        },
        Some("plan") => Reply::Json(ingenio_testkit::deepseek::good_plan()),
        _ => Reply::Json(good_review(90)),
    });
    // A lease far longer than the test waits: only the release at shutdown can hand the job over.
    let instance = |db: Option<Arc<ingenio_testkit::db::TestDb>>| {
        let mut b = TestApp::builder()
            .deepseek(&fake.base_url())
            .set("ingenio.generation.lease-seconds", 300)
            .set("ingenio.generation.poll-interval-ms", 50)
            .set("server.shutdown-timeout", 1);
        if let Some(db) = db {
            b = b.db(db);
        }
        b.spawn()
    };
    let first = instance(None).await;
    let (token, _) = first.register("gen_handover").await;
    let id = start_job(&first, &token, json!({"requirement": REQ})).await;
    first
        .sse(&id, &token, None, Duration::from_secs(10), |e| {
            e.event == "agent" && e.data["data"]["agent"] == "execute"
        })
        .await;
    let second = instance(Some(Arc::clone(&first.db))).await;
    first.stop().await;
    let done = second
        .wait_final(&id, &token, Duration::from_secs(60))
        .await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["attempts"], 2);
}

#[tokio::test]
async fn other_users_cannot_see_my_job_or_its_events() {
    let fake = FakeDeepseek::start().await;
    let app = ai_app(&fake).await;
    let (mine, _) = app.register("gen_owner").await;
    let (theirs, _) = app.register("gen_other").await;
    let id = start_job(&app, &mine, json!({"requirement": REQ})).await;
    for path in [
        format!("/api/v1/generate/jobs/{id}"),
        format!("/api/v1/generate/jobs/{id}/events"),
    ] {
        let a = app.get(&path, Some(&theirs)).await;
        assert_eq!(a.status, 404, "{path}");
    }
    let c = app
        .post(
            &format!("/api/v1/generate/jobs/{id}/cancel"),
            &json!({}),
            Some(&theirs),
        )
        .await;
    assert_eq!(c.status, 404);
    let job = app.wait_final(&id, &mine, Duration::from_secs(30)).await;
    let spec = job["appSpecId"].as_str().unwrap();
    assert_eq!(
        app.get(
            &format!("/api/v1/appspecs/{spec}/versions/1"),
            Some(&theirs)
        )
        .await
        .status,
        404
    );
    assert_eq!(
        app.get("/api/v1/generate/jobs", Some(&theirs)).await.data()["total"],
        0
    );
}

#[tokio::test]
async fn ai_quota_is_shared_by_two_instances_and_refunded_on_failure() {
    let fake = FakeDeepseek::start().await;
    fake.push_for("plan", Reply::Status { status: 400, body: json!({"error": {"message": "Invalid format", "type": "invalid_request_error", "code": "invalid_request_error"}}), retry_after: None });
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let a = TestApp::builder()
        .deepseek(&fake.base_url())
        .redis("127.0.0.1", 6379, &prefix)
        .set("ingenio.rate-limit.ai-calls-per-hour", 2)
        .set("ingenio.generation.poll-interval-ms", 50)
        .spawn()
        .await;
    let b = TestApp::builder()
        .db(Arc::clone(&a.db))
        .deepseek(&fake.base_url())
        .redis("127.0.0.1", 6379, &prefix)
        .set("ingenio.rate-limit.ai-calls-per-hour", 2)
        .set("ingenio.generation.poll-interval-ms", 50)
        .spawn()
        .await;
    let (token, _) = a.register("gen_quota").await;
    let failed = start_job(&a, &token, json!({"requirement": REQ})).await;
    let job = a.wait_final(&failed, &token, Duration::from_secs(30)).await;
    assert_eq!(job["errorCode"], "6003", "{job}");
    wait_quota_used(&a, &token, 0).await;
    start_job(&b, &token, json!({"requirement": REQ})).await;
    start_job(&a, &token, json!({"requirement": REQ})).await;
    let third = b
        .post(
            "/api/v1/generate",
            &json!({"requirement": REQ}),
            Some(&token),
        )
        .await;
    assert_eq!(third.status, 429, "{}", third.text);
    assert_eq!(third.code(), "1005");
    assert!(third.header("retry-after").is_some());
    let q = b.get("/api/v1/user/quota", Some(&token)).await;
    assert_eq!(q.data()["aiCalls"]["limit"], 2);
    assert_eq!(q.data()["aiCalls"]["remaining"], 0);
}

#[tokio::test]
async fn without_a_key_the_offline_generator_completes() {
    let app = TestApp::builder()
        .set("ingenio.generation.poll-interval-ms", 50)
        .spawn()
        .await;
    let (token, _) = app.register("gen_offline").await;
    let id = start_job(&app, &token, json!({"requirement": REQ})).await;
    let job = app.wait_final(&id, &token, Duration::from_secs(30)).await;
    assert_eq!(job["status"], "completed", "{job}");
    let spec = job["appSpecId"].as_str().unwrap();
    let v = app
        .get(&format!("/api/v1/appspecs/{spec}/versions/1"), Some(&token))
        .await;
    assert!(v.data()["generationMetadata"]["modelVersion"]
        .as_str()
        .unwrap()
        .starts_with("offline"));
    let s = app
        .get(&format!("/api/v1/appspecs/{spec}"), Some(&token))
        .await;
    assert_eq!(s.data()["validation"]["errors"], 0, "{}", s.text);
}

#[tokio::test]
async fn bad_generate_requests_are_1001() {
    let app = TestApp::builder().spawn().await;
    let (token, _) = app.register("gen_bad").await;
    for (body, field) in [
        (json!({"requirement": "short"}), "requirement"),
        (
            json!({"requirement": REQ, "ageGroup": "toddler"}),
            "ageGroup",
        ),
        (json!({"requirement": REQ, "renderer": "cobol"}), "renderer"),
    ] {
        let a = app.post("/api/v1/generate", &body, Some(&token)).await;
        assert_eq!(a.status, 400, "{body}");
        assert!(a.data()[field].is_string(), "{}", a.text);
    }
    let missing = app
        .post(
            "/api/v1/generate",
            &json!({"requirement": REQ, "appSpecId": uuid::Uuid::new_v4()}),
            Some(&token),
        )
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.code(), "3000");
}

/// Opens a job's event stream with `token`; returns the response with its body unread.
async fn open_stream(app: &TestApp, job: &str, token: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/api/v1/generate/jobs/{job}/events")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Whether the stream's body ends within `limit`.
async fn ends_within(mut res: reqwest::Response, limit: Duration) -> bool {
    let start = Instant::now();
    while let Some(left) = limit.checked_sub(start.elapsed()) {
        match tokio::time::timeout(left, res.chunk()).await {
            Ok(Ok(Some(_))) => continue,
            Ok(Ok(None) | Err(_)) => return true,
            Err(_) => return false,
        }
    }
    false
}

async fn login(app: &TestApp, user: &str) -> String {
    let a = app
        .post(
            "/api/v1/auth/login",
            &json!({"usernameOrEmail": user, "password": "secret123"}),
            None,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    a.data()["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn event_streams_are_capped_and_end_with_their_session() {
    // no workers: the job stays pending and its stream stays open
    let app = TestApp::builder()
        .set("ingenio.generation.workers", 0)
        .set("ingenio.generation.sse-max-streams-per-user", 2)
        .set("ingenio.generation.sse-session-check-seconds", 1)
        .spawn()
        .await;
    let (t0, _) = app.register("streamer").await;
    let (t1, t2) = (login(&app, "streamer").await, login(&app, "streamer").await);
    let job = start_job(&app, &t0, json!({"requirement": REQ})).await;

    let a = open_stream(&app, &job, &t1).await;
    let b = open_stream(&app, &job, &t2).await;
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
    let refused = open_stream(&app, &job, &t0).await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().get("retry-after").is_some());
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "1005");

    // logging out one session ends its stream and frees its place
    let out = app.post("/api/v1/auth/logout", &json!({}), Some(&t1)).await;
    assert_eq!(out.status, 200, "{}", out.text);
    assert!(
        ends_within(a, Duration::from_secs(10)).await,
        "stream outlived its logout"
    );
    let c = open_stream(&app, &job, &t0).await;
    assert_eq!(c.status(), 200);

    // suspending the account ends every stream it holds
    let mut db = app.db.connect().await.unwrap();
    diesel_async::SimpleAsyncConnection::batch_execute(
        &mut db,
        "UPDATE users SET status = 'suspended' WHERE username = 'streamer'",
    )
    .await
    .unwrap();
    let (b_ended, c_ended) = tokio::join!(
        ends_within(b, Duration::from_secs(10)),
        ends_within(c, Duration::from_secs(10))
    );
    assert!(b_ended && c_ended, "streams outlived the suspension");
}

#[tokio::test]
async fn an_instance_serves_at_most_its_stream_cap() {
    let app = TestApp::builder()
        .set("ingenio.generation.workers", 0)
        .set("ingenio.generation.sse-max-streams-per-instance", 1)
        .spawn()
        .await;
    let (ta, _) = app.register("first_streamer").await;
    let (tb, _) = app.register("second_streamer").await;
    let ja = start_job(&app, &ta, json!({"requirement": REQ})).await;
    let jb = start_job(&app, &tb, json!({"requirement": REQ})).await;
    let a = open_stream(&app, &ja, &ta).await;
    assert_eq!(a.status(), 200);
    assert_eq!(open_stream(&app, &jb, &tb).await.status(), 429);
    // another user's job is still 404 before any cap is counted
    assert_eq!(open_stream(&app, &ja, &tb).await.status(), 404);
    drop(a);
}
