//! The real `ingenio-server` binary: configuration from the guide's environment variables,
//! migrations at start, log files, SIGTERM shutdown, the prod JWT_SECRET rule, and a generation
//! job that survives `kill -9` of its process.

use ingenio_testkit::app::{read_sse, repo_root};
use ingenio_testkit::db::TestDb;
use ingenio_testkit::deepseek::{good_plan, good_review, good_spec, FakeDeepseek, Reply};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn scratch_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("ingenio-bin-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn server() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ingenio-server"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("INGENIO_CONFIG_DIR", repo_root().join("config"))
        .stdin(Stdio::null());
    c
}

/// The binary in `dir`, configured like the guide's `.env` (profile dev) for `db` and `port`.
fn guide_server(db: &TestDb, port: u16, dir: &std::path::Path) -> Command {
    let mut c = server();
    c.current_dir(dir)
        .env("SPRING_PROFILES_ACTIVE", "dev")
        .env("DB_HOST", "127.0.0.1")
        .env("DB_PORT", "5432")
        .env("DB_NAME", &db.name)
        .env("DB_USER", "postgres")
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

#[tokio::test]
async fn binary_serves_with_guide_env_writes_logs_and_stops_on_sigterm() {
    let db = TestDb::empty().await.unwrap();
    let dir = scratch_dir();
    let port = free_port();
    let mut child = guide_server(&db, port, &dir)
        .env("INGENIO_RATE_LIMIT_REQUESTS_PER_MINUTE", "7")
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/api/actuator/health");
    let start = Instant::now();
    let mut health = None;
    while start.elapsed() < Duration::from_secs(60) {
        if let Ok(r) = client.get(&url).send().await {
            health = Some((r.status(), r.json::<serde_json::Value>().await.unwrap()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, body) = health.expect("server answered");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "UP");
    assert_eq!(body["components"]["db"]["status"], "UP");

    // migrations ran at start (dev profile), so registering works; relaxed binding set the limit
    let reg = client
        .post(format!("http://127.0.0.1:{port}/api/v1/auth/register"))
        .json(&serde_json::json!({"username":"bin_user","email":"bin@example.com","password":"secret123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reg.status(), 200);
    assert_eq!(reg.headers()["ratelimit-limit"], "7");

    let log = dir.join("logs/ingenio-backend.log");
    let mut written = false;
    for _ in 0..50 {
        if std::fs::metadata(&log)
            .map(|m| m.len() > 0)
            .unwrap_or(false)
        {
            written = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(written, "logs/ingenio-backend.log is written");
    assert!(
        dir.join("logs/error.log").exists() || !written,
        "error log file is set up"
    );

    let code = stop_with_sigterm(&mut child).await;
    assert!(code.success(), "clean exit after SIGTERM: {code:?}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("ingenio-server listening"), "{text}");
    // One access line per response, the route as its template.
    assert!(
        text.contains("status=200 method=POST route=/api/v1/auth/register duration_ms="),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sends SIGTERM and waits (at most 20 s) for the process to end; returns its exit status.
async fn stop_with_sigterm(child: &mut Child) -> std::process::ExitStatus {
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "server stops after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// In `prod` (root WARN, as in the guide) the guide's `grep "status=500" logs/ingenio-backend.log`
/// habit works: every response leaves an INFO line with its status in the main log file.
#[tokio::test]
async fn prod_log_file_has_one_status_line_per_response() {
    let db = TestDb::empty().await.unwrap();
    let dir = scratch_dir();
    let port = free_port();
    let mut child = guide_server(&db, port, &dir)
        .env("SPRING_PROFILES_ACTIVE", "prod")
        .env("JWT_SECRET", "0123456789abcdef0123456789abcdef-prod-test")
        .env("INGENIO_DATABASE_MIGRATE_ON_STARTUP", "true")
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&client, &base).await;
    let missing = client
        .get(format!("{base}/api/v1/no-such-thing"))
        .header("x-trace-id", "grep-me-404")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    stop_with_sigterm(&mut child).await;
    let text = std::fs::read_to_string(dir.join("logs/ingenio-backend.log")).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("status=404")).collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(lines[0].contains(" INFO "), "{}", lines[0]);
    assert!(
        lines[0].contains("method=GET route=NOT_FOUND"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("trace_id=grep-me-404"), "{}", lines[0]);
    assert!(
        text.contains("status=200 method=GET route=/api/actuator/health"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `ingenio-server` on `port` against `db`, pointed at a DeepSeek stand-in by the guide's
/// variables, with a short lease so a takeover after `kill -9` is quick.
fn generation_server(db: &TestDb, port: u16, deepseek: &str, dir: &std::path::Path) -> Child {
    guide_server(db, port, dir)
        .env("JWT_SECRET", "binary-test-secret-0123456789abcdef0123")
        .env("DEEPSEEK_API_KEY", "sk-test-0123456789")
        .env("DEEPSEEK_BASE_URL", deepseek)
        .env("INGENIO_GENERATION_LEASE_SECONDS", "2")
        .env("INGENIO_GENERATION_POLL_INTERVAL_MS", "100")
        .spawn()
        .unwrap()
}

async fn wait_healthy(client: &reqwest::Client, base: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if let Ok(r) = client
            .get(format!("{base}/api/actuator/health"))
            .send()
            .await
        {
            if r.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{base} never became healthy");
}

#[tokio::test]
async fn kill_9_mid_job_then_a_new_process_finishes_it_and_sse_resumes() {
    let fake = FakeDeepseek::start().await;
    fake.set_default(|r| match r.agent.as_deref() {
        Some("execute") => Reply::Slow {
            delay: Duration::from_secs(4),
            reply: Box::new(Reply::Json(good_spec())),
        },
        Some("plan") => Reply::Json(good_plan()),
        _ => Reply::Json(good_review(90)),
    });
    let db = TestDb::empty().await.unwrap();
    let dir = scratch_dir();
    let client = reqwest::Client::new();
    let (port_a, port_b) = (free_port(), free_port());
    let (a, b) = (
        format!("http://127.0.0.1:{port_a}"),
        format!("http://127.0.0.1:{port_b}"),
    );
    let mut first = generation_server(&db, port_a, &fake.base_url(), &dir);
    wait_healthy(&client, &a).await;
    let reg: serde_json::Value = client
        .post(format!("{a}/api/v1/auth/register"))
        .json(&serde_json::json!({"username":"kill9","email":"kill9@example.com","password":"secret123"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = reg["data"]["token"].as_str().unwrap().to_owned();
    let accepted = client
        .post(format!("{a}/api/v1/generate"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"requirement": "a vocabulary quiz for primary school pupils"}))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 202);
    let job: serde_json::Value = accepted.json().await.unwrap();
    let id = job["data"]["jobId"].as_str().unwrap().to_owned();
    // Follow the stream until the slow execute step is under way, then SIGKILL the process.
    let seen = read_sse(
        &client,
        &a,
        &id,
        &token,
        None,
        Duration::from_secs(20),
        |e| e.event == "agent" && e.data["data"]["agent"] == "execute",
    )
    .await;
    let last_seen = seen.last().expect("events before the kill").id;
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();

    let mut second = generation_server(&db, port_b, &fake.base_url(), &dir);
    wait_healthy(&client, &b).await;
    let rest = read_sse(
        &client,
        &b,
        &id,
        &token,
        Some(last_seen),
        Duration::from_secs(60),
        |e| e.event == "complete" || e.event == "error",
    )
    .await;
    let _ = second.kill();
    let _ = second.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        rest.last().map(|e| e.event.as_str()),
        Some("complete"),
        "{rest:?}"
    );
    assert!(
        rest.iter().all(|e| e.id > last_seen),
        "no repeats: {rest:?}"
    );
    let ids: Vec<i64> = rest.iter().map(|e| e.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order: {ids:?}");
    let plans = fake
        .requests()
        .iter()
        .filter(|r| r.agent.as_deref() == Some("plan"))
        .count();
    assert_eq!(plans, 1, "the plan checkpoint was resumed, not asked again");
}

#[test]
fn prod_refuses_a_short_jwt_secret_and_names_the_variable() {
    let dir = scratch_dir();
    let out = server()
        .current_dir(&dir)
        .env("SPRING_PROFILES_ACTIVE", "prod")
        .env("JWT_SECRET", "too-short")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("JWT_SECRET"), "{err}");
    let missing = server()
        .current_dir(&dir)
        .args(["--profile", "prod"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("JWT_SECRET"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn prod_refuses_to_log_reset_tokens_and_names_the_key() {
    let dir = scratch_dir();
    for how in ["env", "set"] {
        let mut cmd = server();
        cmd.current_dir(&dir)
            .env("SPRING_PROFILES_ACTIVE", "prod")
            .env("JWT_SECRET", "0123456789abcdef0123456789abcdef-prod-test")
            // the database is never reached: configuration is refused first
            .env("DB_HOST", "127.0.0.1")
            .env("DB_PORT", "1");
        match how {
            "env" => cmd.env("INGENIO_AUTH_LOG_RESET_TOKENS", "true"),
            _ => cmd.args(["--set", "ingenio.auth.log-reset-tokens=true"]),
        };
        let out = cmd.output().unwrap();
        assert!(!out.status.success(), "{how}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("ingenio.auth.log-reset-tokens"),
            "{how}: {err}"
        );
        assert!(err.contains("prod"), "{how}: {err}");
        assert!(err.contains("MAIL_HOST"), "{how}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn openapi_command_prints_the_document() {
    let out = server().arg("openapi").output().unwrap();
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["paths"]["/v1/auth/login"].is_object());
}
