//! The DeepSeek adapter against the fake DeepSeek server: answers, parsing tolerance, the
//! corrective retry, backoff, error classification, timeouts, concurrency and the wire format.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ingenio_app_specs::{AgeGroup, AgentError, GenerationInput, SpecGenerator};
use ingenio_deepseek::{DeepseekConfig, DeepseekGenerator};
use ingenio_testkit::deepseek::{good_plan, good_review, good_spec, FakeDeepseek, Reply};
use serde_json::{json, Value};

const KEY: &str = "sk-test-key";

fn config(fake: &FakeDeepseek) -> DeepseekConfig {
    let mut cfg = DeepseekConfig::new(KEY, fake.base_url(), "deepseek-chat");
    cfg.backoff_base = Duration::from_millis(10);
    cfg.backoff_max = Duration::from_millis(50);
    cfg.plan_timeout = Duration::from_secs(10);
    cfg.execute_timeout = Duration::from_secs(10);
    cfg.review_timeout = Duration::from_secs(10);
    cfg
}

fn generator(fake: &FakeDeepseek) -> DeepseekGenerator {
    DeepseekGenerator::new(config(fake)).unwrap()
}

fn input() -> GenerationInput {
    GenerationInput {
        requirement: "A quiz about animals for my class, with a score at the end".into(),
        age_group: Some(AgeGroup::Elementary),
        previous_spec: None,
    }
}

fn assert_usage_consistent(u: &ingenio_app_specs::TokenUsage) {
    assert!(u.prompt_tokens > 0 && u.completion_tokens > 0, "{u:?}");
    assert_eq!(u.total_tokens, u.prompt_tokens + u.completion_tokens);
    assert_eq!(
        u.prompt_tokens,
        u.prompt_cache_hit_tokens + u.prompt_cache_miss_tokens
    );
}

#[tokio::test]
async fn good_answers_for_all_three_agents_with_usage() {
    let fake = FakeDeepseek::start().await;
    let g = generator(&fake);
    assert_eq!(g.model_version(), "deepseek-chat");
    assert!(!g.is_offline());

    let plan = g.plan(&input()).await.unwrap();
    assert_eq!(plan.value, good_plan());
    assert!(plan.reasoning.contains("Three pages"), "{}", plan.reasoning);
    assert_eq!(plan.model, "deepseek-chat");
    assert_usage_consistent(&plan.usage);

    let spec = g.execute(&input(), &plan.value).await.unwrap();
    assert_eq!(spec.value, good_spec());
    assert_eq!(spec.reasoning, "3 pages, 1 data models");
    assert_usage_consistent(&spec.usage);
    // The good spec is what the rule pass accepts with full marks.
    let report = ingenio_app_specs::validation::validate_value(&spec.value);
    assert_eq!(report.rule_score, 100, "{:?}", report.findings);

    let review = g.review(&input(), &spec.value).await.unwrap();
    assert_eq!(review.value.score, 90);
    assert!(review.value.issues.is_empty());
    assert_eq!(review.reasoning, review.value.summary);
    assert_usage_consistent(&review.usage);

    // The plan went into the execute prompt, the spec into the review prompt.
    let reqs = fake.requests();
    let agents: Vec<_> = reqs.iter().map(|r| r.agent.clone().unwrap()).collect();
    assert_eq!(agents, ["plan", "execute", "review"]);
    assert!(reqs[1].prompt_text().contains("score-record"));
    assert!(reqs[2].prompt_text().contains("Animal Quiz"));

    let stats = g.stats();
    assert_eq!(stats.calls, 3);
    assert_eq!(stats.agent_calls, 3);
    assert_eq!(stats.retries, 0);
    assert_eq!(
        stats.usage.total_tokens,
        plan.usage.total_tokens + spec.usage.total_tokens + review.usage.total_tokens
    );
}

#[tokio::test]
async fn the_request_carries_json_mode_model_key_and_json_prompt() {
    let fake = FakeDeepseek::start().await;
    let g = generator(&fake);
    g.plan(&input()).await.unwrap();
    let req = &fake.requests()[0];
    assert_eq!(req.path, "/chat/completions");
    assert_eq!(req.authorization.as_deref(), Some("Bearer sk-test-key"));
    assert!(!req.stream);
    assert_eq!(req.body["response_format"], json!({"type": "json_object"}));
    assert_eq!(req.body["model"], "deepseek-chat");
    assert_eq!(req.body["max_tokens"], 8192);
    assert_eq!(req.body["stream"], false);
    let messages = req.body["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    assert_eq!(messages[1]["role"], "user");
    let system = messages[0]["content"].as_str().unwrap();
    assert!(system.starts_with("agent: plan\n"));
    assert!(system.contains("json"));
    let user = messages[1]["content"].as_str().unwrap();
    assert!(user.contains("A quiz about animals"));
    assert!(user.contains("elementary"));
}

#[tokio::test]
async fn base_url_with_v1_works() {
    let fake = FakeDeepseek::start().await;
    let mut cfg = config(&fake);
    cfg.base_url = format!("{}/v1/", fake.base_url());
    let g = DeepseekGenerator::new(cfg).unwrap();
    g.plan(&input()).await.unwrap();
    assert_eq!(fake.requests()[0].path, "/v1/chat/completions");
}

#[tokio::test]
async fn a_fenced_answer_parses() {
    let fake = FakeDeepseek::start().await;
    fake.push_for(
        "plan",
        Reply::Content(format!(
            "Here is the plan:\n```json\n{}\n```\nGood luck!",
            good_plan()
        )),
    );
    let g = generator(&fake);
    let plan = g.plan(&input()).await.unwrap();
    assert_eq!(plan.value, good_plan());
    assert_eq!(fake.calls(), 1);
}

#[tokio::test]
async fn leading_empty_lines_parse() {
    let fake = FakeDeepseek::start().await;
    // DeepSeek under load: blank keep-alive lines before the response body…
    fake.push(Reply::slow(
        Duration::from_millis(450),
        Reply::Json(good_spec()),
    ));
    // …and blank lines inside the content itself.
    fake.push(Reply::Content(format!("\n\n\n   {}\n", good_review(70))));
    let g = generator(&fake);
    let spec = g.execute(&input(), &good_plan()).await.unwrap();
    assert_eq!(spec.value, good_spec());
    let review = g.review(&input(), &spec.value).await.unwrap();
    assert_eq!(review.value.score, 70);
    assert_eq!(fake.calls(), 2);
    assert_eq!(g.stats().retries, 0);
}

#[tokio::test]
async fn one_malformed_answer_then_a_good_one_succeeds_with_usage_summed() {
    let fake = FakeDeepseek::start().await;
    fake.push(Reply::Content(
        "{\"appName\": \"Quiz\", \"pages\": [".into(),
    ));
    let g = generator(&fake);
    let spec = g.execute(&input(), &good_plan()).await.unwrap();
    assert_eq!(spec.value, good_spec());
    assert_eq!(fake.calls(), 2);

    // The corrective retry quoted the bad answer and the parse error.
    let second = &fake.requests()[1];
    let messages = second.body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 4);
    assert_eq!(messages[2]["role"], "assistant");
    assert_eq!(
        messages[2]["content"],
        "{\"appName\": \"Quiz\", \"pages\": ["
    );
    assert_eq!(messages[3]["role"], "user");
    let correction = messages[3]["content"].as_str().unwrap();
    assert!(correction.contains("invalid json"), "{correction}");
    assert!(correction.contains("valid json only"), "{correction}");

    // Usage is the sum of both answers (each at least the prompt of its request).
    let first_prompt = fake.requests()[0].prompt_text().len() as u64 / 4;
    assert!(spec.usage.prompt_tokens > first_prompt, "{:?}", spec.usage);
    assert_usage_consistent(&spec.usage);
    let stats = g.stats();
    assert_eq!(stats.calls, 2);
    assert_eq!(stats.corrective_retries, 1);
    assert_eq!(stats.usage, spec.usage);
}

#[tokio::test]
async fn wrong_shape_triggers_the_corrective_retry() {
    let fake = FakeDeepseek::start().await;
    fake.push(Reply::Json(json!({"score": "ninety", "summary": "fine"})));
    let g = generator(&fake);
    let review = g.review(&input(), &good_spec()).await.unwrap();
    assert_eq!(review.value.score, 90);
    assert_eq!(fake.calls(), 2);
    let correction = fake.requests()[1].body["messages"][3]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        correction.contains("\"score\" must be a number"),
        "{correction}"
    );
}

#[tokio::test]
async fn two_malformed_answers_are_invalid_output() {
    let fake = FakeDeepseek::start().await;
    fake.push(Reply::Content("not json at all".into()));
    fake.push(Reply::Json(json!({"modules": []})));
    let g = generator(&fake);
    let err = g.plan(&input()).await.unwrap_err();
    match err {
        AgentError::InvalidOutput(msg) => assert!(msg.contains("pages"), "{msg}"),
        other => panic!("expected InvalidOutput, got {other:?}"),
    }
    assert_eq!(fake.calls(), 2);
    assert_eq!(g.stats().invalid_outputs, 1);
}

#[tokio::test]
async fn empty_content_then_good_succeeds() {
    let fake = FakeDeepseek::start().await;
    fake.push(Reply::Empty);
    let g = generator(&fake);
    let plan = g.plan(&input()).await.unwrap();
    assert_eq!(plan.value, good_plan());
    assert_eq!(fake.calls(), 2);
    // No empty assistant message is sent back; the correction says the answer was empty.
    let messages = fake.requests()[1].body["messages"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(messages.len(), 3);
    assert!(messages[2]["content"].as_str().unwrap().contains("empty"));
}

#[tokio::test]
async fn a_truncated_answer_is_retried_and_twice_is_invalid() {
    let fake = FakeDeepseek::start().await;
    fake.push(Reply::Length(good_spec()));
    let g = generator(&fake);
    assert_eq!(
        g.execute(&input(), &good_plan()).await.unwrap().value,
        good_spec()
    );
    assert_eq!(fake.calls(), 2);
    let correction = fake.requests()[1].body["messages"][3]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(correction.contains("length"), "{correction}");

    fake.push(Reply::Length(good_spec()));
    fake.push(Reply::Length(good_spec()));
    let err = g.execute(&input(), &good_plan()).await.unwrap_err();
    assert!(
        matches!(err, AgentError::InvalidOutput(ref m) if m.contains("cut off")),
        "{err:?}"
    );
}

#[tokio::test]
async fn rate_limits_with_retry_after_are_honoured_then_succeed() {
    let fake = FakeDeepseek::start().await;
    fake.push(Reply::Status {
        status: 429,
        body: Value::Null,
        retry_after: Some(1),
    });
    fake.push(Reply::Status {
        status: 429,
        body: Value::Null,
        retry_after: Some(1),
    });
    let mut cfg = config(&fake);
    cfg.backoff_max = Duration::from_secs(5);
    let g = DeepseekGenerator::new(cfg).unwrap();
    let started = Instant::now();
    let plan = g.plan(&input()).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(plan.value, good_plan());
    assert_eq!(fake.calls(), 3);
    assert!(
        elapsed >= Duration::from_millis(1900),
        "Retry-After: 1 was not honoured twice: {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    let stats = g.stats();
    assert_eq!(stats.retries, 2);
    assert_eq!(stats.failures_by_status.get(&429), Some(&2));
}

#[tokio::test]
async fn retry_after_is_capped_by_backoff_max() {
    let fake = FakeDeepseek::start().await;
    fake.push(Reply::Status {
        status: 503,
        body: Value::Null,
        retry_after: Some(30),
    });
    let g = generator(&fake); // backoff_max 50 ms
    let started = Instant::now();
    g.plan(&input()).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fake.calls(), 2);
}

#[tokio::test]
async fn always_500_is_a_provider_error_within_bounded_time() {
    let fake = FakeDeepseek::start().await;
    fake.set_default(|_| Reply::status(500));
    let g = generator(&fake);
    let started = Instant::now();
    let err = g.execute(&input(), &good_plan()).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    match err {
        AgentError::Provider(msg) => {
            assert!(msg.contains("500"), "{msg}");
            assert!(msg.contains("Server Error"), "{msg}");
        }
        other => panic!("expected Provider, got {other:?}"),
    }
    // 1 attempt + max_retries (3).
    assert_eq!(fake.calls(), 4);
    assert_eq!(g.stats().failures_by_status.get(&500), Some(&4));
}

#[tokio::test]
async fn transport_errors_are_retried_then_provider() {
    // A port with nothing listening: connection refused on every attempt.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let mut cfg = DeepseekConfig::new(KEY, dead, "deepseek-chat");
    cfg.backoff_base = Duration::from_millis(5);
    cfg.backoff_max = Duration::from_millis(20);
    let g = DeepseekGenerator::new(cfg).unwrap();
    let err = g.plan(&input()).await.unwrap_err();
    assert!(
        matches!(err, AgentError::Provider(ref m) if m.contains("transport")),
        "{err:?}"
    );
    let stats = g.stats();
    assert_eq!(stats.transport_errors, 4);
    assert_eq!(stats.retries, 3);
}

#[tokio::test]
async fn unauthorized_fails_immediately_and_is_recorded() {
    let fake = FakeDeepseek::start().await;
    fake.push(Reply::status(401));
    let g = generator(&fake);
    let err = g.plan(&input()).await.unwrap_err();
    match err {
        AgentError::Provider(msg) => {
            assert!(msg.contains("401"), "{msg}");
            assert!(msg.contains("Authentication Fails"), "{msg}");
        }
        other => panic!("expected Provider, got {other:?}"),
    }
    assert_eq!(fake.calls(), 1);
    let stats = g.stats();
    assert_eq!(stats.retries, 0);
    assert_eq!(stats.failures_by_status.get(&401), Some(&1));
    assert!(stats.last_auth_error.as_deref().unwrap().contains("401"));

    // A later success clears the health warning.
    g.plan(&input()).await.unwrap();
    assert_eq!(g.stats().last_auth_error, None);
}

#[tokio::test]
async fn insufficient_balance_and_bad_requests_are_not_retried() {
    let fake = FakeDeepseek::start().await;
    fake.push(Reply::status(402));
    fake.push(Reply::Status {
        status: 422,
        body: json!({"error": {"message": "Invalid max_tokens value", "type": "invalid_request_error", "param": null, "code": "invalid_request_error"}}),
        retry_after: None,
    });
    fake.push(Reply::status(400));
    let g = generator(&fake);
    let e1 = g.plan(&input()).await.unwrap_err();
    assert!(
        matches!(e1, AgentError::Provider(ref m) if m.contains("402") && m.contains("Insufficient Balance")),
        "{e1:?}"
    );
    assert!(g.stats().last_auth_error.unwrap().contains("402"));
    let e2 = g.plan(&input()).await.unwrap_err();
    assert!(
        matches!(e2, AgentError::Provider(ref m) if m.contains("422") && m.contains("Invalid max_tokens value")),
        "{e2:?}"
    );
    let e3 = g.review(&input(), &good_spec()).await.unwrap_err();
    assert!(
        matches!(e3, AgentError::Provider(ref m) if m.contains("400")),
        "{e3:?}"
    );
    assert_eq!(fake.calls(), 3);
}

#[tokio::test]
async fn a_hang_past_the_timeout_is_a_timeout() {
    let fake = FakeDeepseek::start().await;
    fake.set_default(|_| Reply::Hang);
    let mut cfg = config(&fake);
    cfg.plan_timeout = Duration::from_millis(300);
    let g = DeepseekGenerator::new(cfg.clone()).unwrap();
    let started = Instant::now();
    let err = g.plan(&input()).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(err, AgentError::Timeout(1)), "{err:?}");
    // Retried once at most: two attempts, worst case = timeout × 2 + backoffs.
    assert_eq!(fake.calls(), 2);
    assert!(elapsed >= Duration::from_millis(550), "{elapsed:?}");
    assert!(
        elapsed <= cfg.worst_case(cfg.plan_timeout) + Duration::from_millis(500),
        "{elapsed:?}"
    );
    assert_eq!(g.stats().timeouts, 2);
}

#[tokio::test]
async fn one_timeout_then_an_answer_succeeds() {
    let fake = FakeDeepseek::start().await;
    fake.push(Reply::Hang);
    let mut cfg = config(&fake);
    cfg.review_timeout = Duration::from_millis(300);
    let g = DeepseekGenerator::new(cfg).unwrap();
    let review = g.review(&input(), &good_spec()).await.unwrap();
    assert_eq!(review.value.score, 90);
    assert_eq!(fake.calls(), 2);
}

#[tokio::test]
async fn a_slow_answer_within_the_timeout_is_fine() {
    let fake = FakeDeepseek::start().await;
    fake.push(Reply::slow(
        Duration::from_millis(700),
        Reply::Json(good_plan()),
    ));
    let mut cfg = config(&fake);
    cfg.plan_timeout = Duration::from_secs(3);
    let g = DeepseekGenerator::new(cfg).unwrap();
    assert_eq!(g.plan(&input()).await.unwrap().value, good_plan());
    assert_eq!(fake.calls(), 1);
}

#[tokio::test]
async fn concurrency_is_bounded_per_instance() {
    let fake = FakeDeepseek::start().await;
    fake.set_default(|req| {
        let answer = match req.agent.as_deref() {
            Some("review") => good_review(80),
            _ => good_plan(),
        };
        Reply::slow(Duration::from_millis(250), Reply::Json(answer))
    });
    let mut cfg = config(&fake);
    cfg.max_concurrency = 2;
    let g = DeepseekGenerator::new(cfg).unwrap();
    let inp = input();
    let calls = (0..6).map(|_| g.plan(&inp));
    let results = futures::future::join_all(calls).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(fake.calls(), 6);
    assert!(
        fake.max_in_flight() <= 2,
        "max in flight {}",
        fake.max_in_flight()
    );
    // The bound is reached, so the calls did run in parallel.
    assert_eq!(fake.max_in_flight(), 2);
}

#[tokio::test]
async fn regeneration_and_chinese_requirements_reach_the_prompt() {
    let fake = FakeDeepseek::start().await;
    let g = generator(&fake);
    let inp = GenerationInput {
        requirement: "做一个记录每天读书时间的小程序，可以看到一周的统计".into(),
        age_group: Some(AgeGroup::HighSchool),
        previous_spec: Some(good_spec()),
    };
    g.execute(&inp, &good_plan()).await.unwrap();
    let user = fake.requests()[0].body["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(user.contains("Simplified Chinese"));
    assert!(user.contains("high_school"));
    assert!(user.contains("Current spec"));
    assert!(user.contains("读书时间"));
}

#[tokio::test]
async fn the_reasoner_model_works_and_too_many_tokens_is_refused() {
    let fake = FakeDeepseek::start().await;
    let mut cfg = config(&fake);
    cfg.model = "deepseek-reasoner".into();
    let g = DeepseekGenerator::new(cfg.clone()).unwrap();
    let plan = g.plan(&input()).await.unwrap();
    assert_eq!(plan.value, good_plan());
    assert_eq!(plan.model, "deepseek-reasoner");
    let body = &fake.requests()[0].body;
    assert_eq!(body["model"], "deepseek-reasoner");
    assert!(body.get("temperature").is_none(), "{body}");

    // deepseek-chat takes at most 8192 tokens: DeepSeek answers 422, which is not retried.
    cfg.model = "deepseek-chat".into();
    cfg.max_tokens = 9000;
    let g = DeepseekGenerator::new(cfg).unwrap();
    let err = g.plan(&input()).await.unwrap_err();
    assert!(
        matches!(err, AgentError::Provider(ref m) if m.contains("422") && m.contains("max_tokens")),
        "{err:?}"
    );
    assert_eq!(fake.calls(), 2);
}
