//! Measurements run by `cargo xtask bench` (ignored by `cargo test`): they print numbers and
//! assert only that the work succeeded, never how fast it was.

use ingenio_testkit::app::TestApp;
use ingenio_testkit::deepseek::{good_review, FakeDeepseek, Reply};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

const REQ: &str = "a vocabulary quiz for primary school pupils";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// On a two-thread runtime like the server binary's (`new_multi_thread`, one thread per core):
/// the job workers run on the runtime they are spawned on, and a current-thread test runtime
/// would put them, the AI stand-in and the client on one thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run by cargo xtask bench"]
async fn bench_generation_job_latency() {
    let fake = FakeDeepseek::start().await;
    let app = TestApp::builder()
        .deepseek(&fake.base_url())
        .set("ingenio.rate-limit.enabled", false)
        .set("ingenio.generation.poll-interval-ms", 500)
        .spawn()
        .await;
    let (token, _) = app.register("bench_user").await;
    let n = 100;
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        let id = submit(&app, &token).await;
        // the stream pushes `complete` as soon as it is written (no client-side polling)
        let events = app
            .sse(&id, &token, None, Duration::from_secs(30), |e| {
                e.event == "complete" || e.event == "error"
            })
            .await;
        assert_eq!(events.last().map(|e| e.event.as_str()), Some("complete"));
        times.push(start.elapsed());
    }
    let p90 = {
        let mut t = times.clone();
        t.sort();
        t[n * 9 / 10]
    };
    let median = median(times);
    println!("BENCH generation job end-to-end (instant stand-in, {n} jobs, sequential, POST to the SSE `complete` event): median {median:?}, p90 {p90:?}");
    bench_json(
        "generationSequential",
        "generation job, POST to SSE `complete`, instant AI stand-in (100 one by one)",
        format!("median {median:?}, p90 {p90:?} (aim median ≤ 20 ms)"),
        json!({"jobs": n, "medianMs": ms(median), "p90Ms": ms(p90)}),
    );
}

/// 100 jobs submitted at once (each POST in its own task): every one must complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run by cargo xtask bench"]
async fn bench_generation_jobs_at_once() {
    let fake = FakeDeepseek::start().await;
    let app = Arc::new(
        TestApp::builder()
            .deepseek(&fake.base_url())
            .set("ingenio.rate-limit.enabled", false)
            .set("ingenio.generation.poll-interval-ms", 500)
            .spawn()
            .await,
    );
    let (token, _) = app.register("bench_burst").await;
    let n = 100;
    let start = Instant::now();
    // every POST at once; then one poller (100 concurrent pollers would measure the pool, not
    // the jobs)
    let posts: Vec<_> = (0..n)
        .map(|_| {
            let (app, token) = (app.clone(), token.clone());
            tokio::spawn(async move { submit(&app, &token).await })
        })
        .collect();
    let mut ids = Vec::with_capacity(n);
    for p in posts {
        ids.push(p.await.unwrap());
    }
    let accepted = start.elapsed();
    for id in &ids {
        let done = app.wait_final(id, &token, Duration::from_secs(120)).await;
        assert_eq!(done["status"], "completed", "{done}");
    }
    let all = start.elapsed();
    println!("BENCH {n} generation jobs submitted at once: accepted after {accepted:?}, all completed after {all:?}");
    bench_json(
        "generationBurst",
        "100 generation jobs submitted at once, all completed",
        format!("accepted after {accepted:?}, all completed after {all:?}, none lost"),
        json!({"jobs": n, "completed": n, "acceptedMs": ms(accepted), "allMs": ms(all)}),
    );
}

/// Submits a generation job; returns its id.
async fn submit(app: &TestApp, token: &str) -> String {
    let a = app
        .post(
            "/api/v1/generate",
            &json!({"requirement": REQ}),
            Some(token),
        )
        .await;
    assert_eq!(a.status, 202, "{}", a.text);
    a.data()["jobId"].as_str().unwrap().to_owned()
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// One `BENCH-JSON <key> {…}` line for `cargo xtask bench` (its table row and its JSON report).
fn bench_json(key: &str, what: &str, figure: String, mut figures: serde_json::Value) {
    figures["what"] = json!(what);
    figures["figure"] = json!(figure);
    println!("BENCH-JSON {key} {figures}");
}

#[tokio::test]
#[ignore = "measurement; run by cargo xtask bench"]
async fn bench_takeover_after_crash() {
    let fake = FakeDeepseek::start().await;
    fake.set_default(|r| match r.agent.as_deref() {
        Some("execute") => Reply::slow(
            Duration::from_secs(2),
            Reply::Json(ingenio_testkit::deepseek::good_spec()),
        ),
        Some("plan") => Reply::Json(ingenio_testkit::deepseek::good_plan()),
        _ => Reply::Json(good_review(90)),
    });
    let lease = 10;
    let first = TestApp::builder()
        .deepseek(&fake.base_url())
        .set("ingenio.generation.lease-seconds", lease)
        .spawn()
        .await;
    let (token, _) = first.register("bench_crash").await;
    let a = first
        .post(
            "/api/v1/generate",
            &json!({"requirement": REQ}),
            Some(&token),
        )
        .await;
    let id = a.data()["jobId"].as_str().unwrap().to_owned();
    first
        .wait_job(&id, &token, Duration::from_secs(10), |j| {
            j["status"] == "executing"
        })
        .await;
    first.crash().await;
    let crashed = Instant::now();
    let second = TestApp::builder()
        .db(Arc::clone(&first.db))
        .deepseek(&fake.base_url())
        .set("ingenio.generation.lease-seconds", lease)
        .spawn()
        .await;
    let resumed = second
        .wait_job(&id, &token, Duration::from_secs(60), |j| {
            j["attempts"].as_i64().unwrap_or(0) >= 2
        })
        .await;
    let taken_over = crashed.elapsed();
    assert!(resumed["attempts"].as_i64().unwrap() >= 2);
    let done = second
        .wait_final(&id, &token, Duration::from_secs(60))
        .await;
    assert_eq!(done["status"], "completed");
    println!(
        "BENCH takeover after a crash (lease {lease} s): claimed by the new instance after {:?}, completed after {:?} (execute answer takes 2 s)",
        taken_over,
        crashed.elapsed()
    );
}
