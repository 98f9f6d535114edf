//! `spawn_app()`: the production `Application` on port 0 against a fresh database, with a
//! reqwest client and small helpers for envelope-shaped JSON calls.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::db::TestDb;
use ingenio_server::config::{self, ConfigSources, Settings};
use ingenio_server::telemetry::LogControl;
use ingenio_server::{AppState, Application};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The repository root (for `config/`, `migrations/`, scripts).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// A port free right now on 127.0.0.1 (for a second listener, or a closed port to point at).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind an ephemeral port")
        .local_addr()
        .expect("read the ephemeral port")
        .port()
}

/// A running server for one test.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub address: String,
    pub port: u16,
    pub db: Arc<TestDb>,
    pub client: reqwest::Client,
    pub state: AppState,
    /// The preview-only listener's port (`ingenio.preview.port`), when configured.
    pub preview_port: Option<u16>,
    /// The actuator-only listener's port (`management.server.port`), when configured.
    pub management_port: Option<u16>,
    handle: actix_web::dev::ServerHandle,
    workers: Vec<tokio::task::AbortHandle>,
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub id: i64,
    pub event: String,
    pub data: Value,
}

/// An HTTP answer: status, headers and the parsed JSON body (`Value::Null` if not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Builds a `TestApp` with overrides.
#[derive(Default)]
pub struct TestAppBuilder {
    db: Option<Arc<TestDb>>,
    sets: Vec<(String, String)>,
    redis: Option<(String, u16, String)>,
}

impl TestAppBuilder {
    /// Share a database with another instance (scale-out tests).
    pub fn db(mut self, db: Arc<TestDb>) -> Self {
        self.db = Some(db);
        self
    }
    /// Any configuration override, as `--set key=value` would.
    pub fn set(mut self, key: &str, value: impl ToString) -> Self {
        self.sets.push((key.to_owned(), value.to_string()));
        self
    }
    /// Point the DeepSeek adapter at a stand-in (e.g. the testkit's fake server).
    pub fn deepseek(self, base_url: &str) -> Self {
        self.set("ingenio.deepseek.api-key", "sk-test-0123456789")
            .set("ingenio.deepseek.base-url", base_url)
    }
    /// Keep artifacts in an S3 server (e.g. the testkit's in-process one) under `bucket`.
    pub fn s3(self, server: &crate::s3::S3Server, bucket: &str) -> Self {
        self.set("ingenio.minio.endpoint", &server.endpoint)
            .set("ingenio.minio.access-key", &server.access_key)
            .set("ingenio.minio.secret-key", &server.secret_key)
            .set("ingenio.minio.region", &server.region)
            .set("ingenio.minio.bucket", bucket)
    }
    /// Mail password-reset tokens to the testkit's SMTP sink (plain SMTP, no credentials).
    pub fn smtp(self, sink: &crate::smtp::SmtpSink) -> Self {
        self.set("spring.mail.host", sink.host())
            .set("spring.mail.port", sink.port())
            .set("ingenio.mail.starttls", "none")
            .set("ingenio.mail.from", "Ingenio <noreply@ingenio.test>")
    }
    /// Use Redis at host:port with a key prefix (unique per test so tests never share counters).
    pub fn redis(mut self, host: &str, port: u16, key_prefix: &str) -> Self {
        self.redis = Some((host.to_owned(), port, key_prefix.to_owned()));
        self
    }

    pub async fn spawn(self) -> TestApp {
        let db = match self.db {
            Some(db) => db,
            None => Arc::new(TestDb::new().await.expect("test database")),
        };
        let mut sets = vec![
            ("server.port".to_owned(), "0".to_owned()),
            ("server.address".to_owned(), "127.0.0.1".to_owned()),
            ("server.workers".to_owned(), "2".to_owned()),
            ("spring.datasource.url".to_owned(), db.url.clone()),
            (
                "ingenio.database.create-if-missing".to_owned(),
                "false".to_owned(),
            ),
            (
                "ingenio.database.migrate-on-startup".to_owned(),
                "false".to_owned(),
            ),
            // instances of one test share a database, so they must share the signing key
            (
                "ingenio.jwt.secret".to_owned(),
                "testkit-shared-secret-0123456789abcdef".to_owned(),
            ),
            // previews and signed downloads on this instance's own port
            ("ingenio.preview.base-url".to_owned(), String::new()),
            // artifacts of one database's instances in one directory of their own
            (
                "ingenio.code-gen.local-dir".to_owned(),
                artifact_dir(&db.url).display().to_string(),
            ),
        ];
        match &self.redis {
            Some((host, port, prefix)) => {
                sets.push(("spring.data.redis.host".into(), host.clone()));
                sets.push(("spring.data.redis.port".into(), port.to_string()));
                sets.push(("spring.data.redis.key-prefix".into(), prefix.clone()));
            }
            None => sets.push(("spring.data.redis.host".into(), String::new())),
        }
        // the builder's own overrides win over the defaults above
        sets.retain(|(k, _)| !self.sets.iter().any(|(own, _)| own == k));
        sets.extend(self.sets);
        let settings = test_settings(sets);
        let levels = settings.logging.level.clone();
        let app = Application::build(settings, LogControl::detached(&levels))
            .await
            .expect("build application");
        let port = app.port();
        let state = app.state().clone();
        let handle = app.handle();
        let preview_port = app.preview_port();
        let management_port = app.management_port();
        let workers = app.worker_abort_handles();
        tokio::spawn(app.run_until_stopped());
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            port,
            db,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("http client"),
            state,
            handle,
            workers,
            preview_port,
            management_port,
        }
    }
}

/// The local artifact directory of the instances sharing database `url` (under the target dir,
/// so `cargo clean` removes it).
fn artifact_dir(url: &str) -> PathBuf {
    let name = url.rsplit('/').next().unwrap_or("db");
    repo_root().join("target").join("test-artifacts").join(name)
}

/// Settings of the `test` profile from the repository's `config/`, with overrides and an empty
/// environment (tests never depend on the machine's variables).
pub fn test_settings(sets: Vec<(String, String)>) -> Settings {
    let sources = ConfigSources {
        config_dir: Some(repo_root().join("config")),
        profile: Some("test".to_owned()),
        sets,
        env: HashMap::new(),
        dotenv: false,
    };
    config::load(&sources).expect("test settings").settings
}

/// A server on a fresh database with the embedded rate limiter.
pub async fn spawn_app() -> TestApp {
    TestApp::builder().spawn().await
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder::default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Sends a request and parses the answer.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut r = self.client.get(self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        self.send(r).await
    }

    pub async fn post(&self, path: &str, body: &Value, token: Option<&str>) -> Answer {
        let mut r = self.client.post(self.url(path)).json(body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        self.send(r).await
    }

    pub async fn put(&self, path: &str, body: &Value, token: Option<&str>) -> Answer {
        let mut r = self.client.put(self.url(path)).json(body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        self.send(r).await
    }

    /// Registers `username` (email `<username>@example.com`, password `secret123`) and returns
    /// the access token and the refresh token.
    pub async fn register(&self, username: &str) -> (String, String) {
        let a = self
            .post(
                "/api/v1/auth/register",
                &serde_json::json!({"username": username, "email": format!("{username}@example.com"), "password": "secret123"}),
                None,
            )
            .await;
        assert_eq!(a.status, 200, "register {username}: {}", a.text);
        (
            a.data()["token"].as_str().unwrap().to_owned(),
            a.data()["refreshToken"].as_str().unwrap().to_owned(),
        )
    }

    /// Logs `username` in (password `secret123`) and returns the access token, e.g. after a test
    /// changed the account's role (the role is read from the token).
    pub async fn login(&self, username: &str) -> String {
        let a = self
            .post(
                "/api/v1/auth/login",
                &serde_json::json!({"usernameOrEmail": username, "password": "secret123"}),
                None,
            )
            .await;
        assert_eq!(a.status, 200, "login {username}: {}", a.text);
        a.data()["token"].as_str().unwrap().to_owned()
    }

    /// Simulates `kill -9`: generation workers vanish mid-step (no cleanup, leases left to expire)
    /// and the HTTP server stops without draining.
    pub async fn crash(&self) {
        for w in &self.workers {
            w.abort();
        }
        self.handle.stop(false).await;
    }

    /// Polls a job until `done(job)` or the timeout; returns the last job JSON seen.
    pub async fn wait_job(
        &self,
        id: &str,
        token: &str,
        timeout: std::time::Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let start = std::time::Instant::now();
        loop {
            let a = self
                .get(&format!("/api/v1/generate/jobs/{id}"), Some(token))
                .await;
            assert_eq!(a.status, 200, "job {id}: {}", a.text);
            if done(a.data()) || start.elapsed() > timeout {
                return a.data().clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Waits until the job is in a final status.
    pub async fn wait_final(&self, id: &str, token: &str, timeout: std::time::Duration) -> Value {
        self.wait_job(id, token, timeout, |j| {
            matches!(
                j["status"].as_str(),
                Some("completed" | "failed" | "cancelled")
            )
        })
        .await
    }

    /// Reads a job's SSE stream (resuming after `last_event_id`) until `stop(event)` is true, the
    /// stream ends or the timeout passes.
    pub async fn sse(
        &self,
        job: &str,
        token: &str,
        last_event_id: Option<i64>,
        timeout: std::time::Duration,
        stop: impl Fn(&SseEvent) -> bool,
    ) -> Vec<SseEvent> {
        read_sse(
            &self.client,
            &self.address,
            job,
            token,
            last_event_id,
            timeout,
            stop,
        )
        .await
    }

    /// Stops the server (like a shutdown of the instance).
    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let h = self.handle.clone();
        // stop without waiting; the runtime may already be shutting down
        drop(h.stop(false));
    }
}

/// Reads a job's SSE stream from the server at `base_url` (e.g. `http://127.0.0.1:8080`),
/// resuming after `last_event_id`, until `stop(event)` is true, the stream ends or the timeout
/// passes.
pub async fn read_sse(
    client: &reqwest::Client,
    base_url: &str,
    job: &str,
    token: &str,
    last_event_id: Option<i64>,
    timeout: std::time::Duration,
    stop: impl Fn(&SseEvent) -> bool,
) -> Vec<SseEvent> {
    let mut req = client
        .get(format!("{base_url}/api/v1/generate/jobs/{job}/events"))
        .bearer_auth(token);
    if let Some(id) = last_event_id {
        req = req.header("Last-Event-ID", id.to_string());
    }
    let mut res = req.send().await.expect("sse request");
    assert_eq!(res.status(), 200, "sse status");
    let mut buf = String::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let chunk = match tokio::time::timeout_at(deadline, res.chunk()).await {
            Ok(Ok(Some(c))) => c,
            _ => return events,
        };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            let mut id = None;
            let mut event = String::new();
            let mut data = String::new();
            for line in frame.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    id = v.trim().parse().ok();
                } else if let Some(v) = line.strip_prefix("event: ") {
                    event = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data.push_str(v);
                }
            }
            if let Some(id) = id {
                let e = SseEvent {
                    id,
                    event,
                    data: serde_json::from_str(&data).unwrap_or(Value::Null),
                };
                let last = stop(&e);
                events.push(e);
                if last {
                    return events;
                }
            }
        }
    }
}
