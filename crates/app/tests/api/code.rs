//! Generated code end to end: a generation renders, stores and records the app; the SSE stream
//! shows the render; the code is listed, downloaded (streamed, and by signed URL) and previewed
//! from the stored zip with isolation headers; render jobs re-render without AI quota and reuse
//! identical artifacts; an object store that is down fails the job with 7000 and refunds.

use ingenio_code_gen::archive::ZipIndex;
use ingenio_testkit::app::TestApp;
use ingenio_testkit::s3::S3Server;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Duration;

const REQ: &str = "a vocabulary quiz for primary school pupils";

async fn app() -> TestApp {
    TestApp::builder()
        .set("ingenio.generation.poll-interval-ms", 50)
        .spawn()
        .await
}

/// Starts a generation and waits for its end; returns the final job.
async fn generate(app: &TestApp, token: &str, body: Value) -> Value {
    let a = app.post("/api/v1/generate", &body, Some(token)).await;
    assert_eq!(a.status, 202, "{}", a.text);
    let id = a.data()["jobId"].as_str().unwrap().to_owned();
    app.wait_final(&id, token, Duration::from_secs(30)).await
}

async fn render(app: &TestApp, token: &str, spec: &str, body: Value) -> Value {
    let a = app
        .post(
            &format!("/api/v1/appspecs/{spec}/render"),
            &body,
            Some(token),
        )
        .await;
    assert_eq!(a.status, 202, "{}", a.text);
    let id = a.data()["jobId"].as_str().unwrap().to_owned();
    app.wait_final(&id, token, Duration::from_secs(30)).await
}

async fn bytes(app: &TestApp, url: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let r = app.client.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.bytes().await.unwrap().to_vec())
}

fn sha256(b: &[u8]) -> String {
    hex_lower(&Sha256::digest(b))
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[tokio::test]
async fn a_generation_renders_stores_lists_downloads_and_previews_its_app() {
    let app = app().await;
    let (token, _) = app.register("code_happy").await;
    let job = generate(&app, &token, json!({"requirement": REQ})).await;
    assert_eq!(job["status"], "completed", "{job}");
    let spec = job["appSpecId"].as_str().unwrap().to_owned();
    let code = &job["code"];
    assert_eq!(code["renderer"], "static-web");
    let hash = code["contentHash"].as_str().unwrap().to_owned();
    assert_eq!(hash.len(), 64);
    let preview = code["previewUrl"].as_str().unwrap().to_owned();
    assert!(preview.ends_with('/'), "{preview}");

    // the spec moved to generated
    let s = app
        .get(&format!("/api/v1/appspecs/{spec}"), Some(&token))
        .await;
    assert_eq!(s.data()["status"], "generated");

    // the SSE stream shows the render: a progress event per group, a file event per file
    let events = app
        .sse(
            job["jobId"].as_str().unwrap(),
            &token,
            None,
            Duration::from_secs(10),
            |e| e.event == "complete",
        )
        .await;
    let files: Vec<&Value> = events
        .iter()
        .filter(|e| e.event == "file")
        .map(|e| &e.data["data"])
        .collect();
    assert_eq!(files.len() as u64, code["fileCount"].as_u64().unwrap());
    assert!(files.iter().any(|f| f["path"] == "index.html"));
    assert!(events.iter().any(|e| e.event == "progress"
        && e.data["data"]["step"] == "render"
        && e.data["data"]["group"].is_string()));
    let complete = events.last().unwrap();
    assert_eq!(complete.event, "complete");
    assert_eq!(
        complete.data["data"]["code"]["previewUrl"],
        preview.as_str()
    );

    // listed with a fresh download URL
    let list = app
        .get(&format!("/api/v1/appspecs/{spec}/code"), Some(&token))
        .await;
    assert_eq!(list.status, 200, "{}", list.text);
    let records = list.data().as_array().unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["versionNumber"], 1);
    assert_eq!(records[0]["buildStatus"], "success");
    assert_eq!(records[0]["contentHash"], hash.as_str());

    // the download is the zip whose hash is the content hash, with every file inside
    let (status, headers, zip) = bytes(
        &app,
        &app.url(&format!("/api/v1/appspecs/{spec}/code/download")),
    )
    .await;
    assert_eq!(status, 401, "the owner only");
    let r = app
        .client
        .get(app.url(&format!(
            "/api/v1/appspecs/{spec}/code/download?version=1&renderer=static-web"
        )))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/zip");
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let zip_bytes = r.bytes().await.unwrap().to_vec();
    assert_eq!(sha256(&zip_bytes), hash);
    let index = ZipIndex::new(zip_bytes.clone()).unwrap();
    assert!(index.contains("index.html"));
    drop((headers, zip));

    // the signed URL works without credentials; a tampered one does not
    let url = records[0]["downloadUrl"].as_str().unwrap();
    let (status, _, signed) = bytes(&app, url).await;
    assert_eq!(status, 200, "{url}");
    assert_eq!(signed, zip_bytes);
    let tampered = url.replace("signature=", "signature=00");
    assert_eq!(bytes(&app, &tampered).await.0, 404);

    // the preview serves the app from the zip with its isolation headers
    let (status, headers, html) = bytes(&app, &preview).await;
    assert_eq!(status, 200);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let csp = headers["content-security-policy"].to_str().unwrap();
    for d in [
        "default-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "object-src 'none'",
    ] {
        assert!(csp.contains(d), "{csp}");
    }
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers.get("set-cookie").is_none());
    assert_eq!(html, index.get("index.html").unwrap());
    let tag = headers["etag"].to_str().unwrap().to_owned();
    assert!(
        tag.contains(&hash[..16]),
        "ETag keyed on the content hash: {tag}"
    );
    let again = app
        .client
        .get(&preview)
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    // every file of the zip is served with its bytes; scripts and styles by type
    for name in index.names().map(str::to_owned).collect::<Vec<_>>() {
        let (status, headers, body) = bytes(&app, &format!("{preview}{name}")).await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(body, index.get(&name).unwrap(), "{name}");
        let ct = headers["content-type"].to_str().unwrap();
        if name.ends_with(".js") {
            assert!(ct.starts_with("text/javascript"), "{name}: {ct}");
        }
        if name.ends_with(".css") {
            assert!(ct.starts_with("text/css"), "{name}: {ct}");
        }
    }
    // without the trailing slash: a redirect to the directory
    let bare = preview.trim_end_matches('/');
    let r = app.client.get(bare).send().await.unwrap();
    assert_eq!(r.status(), 301);
    assert!(r.headers()["location"].to_str().unwrap().ends_with('/'));
}

#[tokio::test]
async fn previews_refuse_traversal_unknown_keys_and_ignore_credentials() {
    let app = app().await;
    let (token, _) = app.register("code_preview").await;
    let job = generate(&app, &token, json!({"requirement": REQ})).await;
    let preview = job["code"]["previewUrl"].as_str().unwrap().to_owned();
    let base = preview.trim_end_matches('/').to_owned();
    for bad in [
        "/../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2fetc%2fpasswd",
        "/a/..%5c..%5cwin.ini",
        "/.%2e/index.html",
        "/index.html%00.js",
    ] {
        // reqwest normalises plain `..`; send the raw path through a raw request line
        let status = raw_get(&app, &format!("{}{bad}", path_of(&base))).await;
        assert!(status == 400 || status == 404, "{bad}: {status}");
    }
    assert_eq!(bytes(&app, &format!("{preview}nope.html")).await.0, 404);
    let unknown = app.url("/api/preview/20260101000000_0123456789abcdef0123456789abcdef/");
    assert_eq!(bytes(&app, &unknown).await.0, 404);
    assert_eq!(
        bytes(&app, &app.url("/api/preview/..%2f..%2f/")).await.0,
        404
    );

    // a token or a cookie changes nothing: the same bytes, no cookie set
    let (_, _, plain) = bytes(&app, &preview).await;
    let r = app
        .client
        .get(&preview)
        .bearer_auth(&token)
        .header("cookie", "session=abc")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("set-cookie").is_none());
    assert_eq!(r.bytes().await.unwrap().to_vec(), plain);
}

fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    rest.find('/')
        .map(|i| rest[i..].to_owned())
        .unwrap_or_default()
}

/// A GET with the path sent exactly as given (no client-side normalisation); the status.
async fn raw_get(app: &TestApp, path: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let head = String::from_utf8_lossy(&buf);
    head.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn render_jobs_use_no_quota_reuse_identical_artifacts_and_are_owner_only() {
    let app = TestApp::builder()
        .set("ingenio.generation.poll-interval-ms", 50)
        .set("ingenio.rate-limit.ai-calls-per-hour", 1)
        .spawn()
        .await;
    let (token, _) = app.register("code_render").await;
    let (other, _) = app.register("code_other").await;
    let first = generate(&app, &token, json!({"requirement": REQ})).await;
    assert_eq!(first["status"], "completed", "{first}");
    let spec = first["appSpecId"].as_str().unwrap().to_owned();
    let hash = first["code"]["contentHash"].as_str().unwrap().to_owned();
    // the AI quota is used up, a render still runs
    let a = app
        .post(
            "/api/v1/generate",
            &json!({"requirement": REQ}),
            Some(&token),
        )
        .await;
    assert_eq!(a.status, 429, "{}", a.text);
    let again = render(&app, &token, &spec, json!({})).await;
    assert_eq!(again["status"], "completed", "{again}");
    assert_eq!(again["kind"], "render");
    assert_eq!(
        again["code"]["contentHash"],
        hash.as_str(),
        "same spec, same bytes"
    );
    assert_eq!(again["code"]["reused"], true);
    let list = app
        .get(&format!("/api/v1/appspecs/{spec}/code"), Some(&token))
        .await;
    assert_eq!(
        list.data().as_array().unwrap().len(),
        1,
        "no duplicate record: {}",
        list.text
    );

    // a user edit renders without a new AI call; its record is new, the spec stays a draft
    let current = app
        .get(&format!("/api/v1/appspecs/{spec}"), Some(&token))
        .await;
    let mut content = current.data()["specContent"].clone();
    content["appName"] = json!("单词小测验 <b>v2</b>");
    let put = app
        .put(
            &format!("/api/v1/appspecs/{spec}"),
            &json!({"specContent": content}),
            Some(&token),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    let edited = render(&app, &token, &spec, json!({"renderer": "static-web"})).await;
    assert_eq!(edited["status"], "completed", "{edited}");
    assert_eq!(edited["versionNumber"], 2);
    assert_ne!(edited["code"]["contentHash"], hash.as_str());
    let s = app
        .get(&format!("/api/v1/appspecs/{spec}"), Some(&token))
        .await;
    assert_eq!(
        s.data()["status"],
        "draft",
        "a draft is not promoted by rendering"
    );
    let (_, _, html) = bytes(&app, edited["code"]["previewUrl"].as_str().unwrap()).await;
    let html = String::from_utf8(html).unwrap();
    assert!(html.contains("单词小测验"), "Chinese text renders");
    assert!(
        !html.contains("<b>v2</b>"),
        "spec text never becomes markup"
    );
    // an older version renders on request
    let old = render(&app, &token, &spec, json!({"version": 1})).await;
    assert_eq!(old["versionNumber"], 1);
    assert_eq!(old["code"]["contentHash"], hash.as_str());

    // refusals
    let bad = app
        .post(
            &format!("/api/v1/appspecs/{spec}/render"),
            &json!({"renderer": "cobol"}),
            Some(&token),
        )
        .await;
    assert_eq!(
        (bad.status.as_u16(), bad.code()),
        (400, "1001"),
        "{}",
        bad.text
    );
    let missing = app
        .post(
            &format!("/api/v1/appspecs/{spec}/render"),
            &json!({"version": 99}),
            Some(&token),
        )
        .await;
    assert_eq!(
        (missing.status.as_u16(), missing.code()),
        (404, "3002"),
        "{}",
        missing.text
    );
    for (method, path) in [
        ("post", format!("/api/v1/appspecs/{spec}/render")),
        ("get", format!("/api/v1/appspecs/{spec}/code")),
        ("get", format!("/api/v1/appspecs/{spec}/code/download")),
    ] {
        let a = if method == "post" {
            app.post(&path, &json!({}), Some(&other)).await
        } else {
            app.get(&path, Some(&other)).await
        };
        assert_eq!(a.status, 404, "{path}: {}", a.text);
        assert_eq!(a.code(), "3000");
    }
}

#[tokio::test]
async fn artifacts_go_to_s3_and_an_object_store_outage_fails_the_job_with_7000_and_refunds() {
    let s3 = S3Server::start().await.unwrap();
    let bucket = S3Server::random_bucket();
    let app = TestApp::builder()
        .set("ingenio.generation.poll-interval-ms", 50)
        .set("ingenio.minio.request-timeout", 2)
        .s3(&s3, &bucket)
        .spawn()
        .await;
    let (token, _) = app.register("code_s3").await;
    let job = generate(&app, &token, json!({"requirement": REQ})).await;
    assert_eq!(job["status"], "completed", "{job}");
    let spec = job["appSpecId"].as_str().unwrap().to_owned();
    let key = job["code"]["storageKey"].as_str().unwrap().to_owned();
    assert!(
        s3.root().join(&bucket).join(&key).exists(),
        "the zip is in the bucket"
    );
    let health = app.get("/api/actuator/health", None).await;
    assert_eq!(
        health.body["components"]["objectStorage"]["status"], "UP",
        "{}",
        health.text
    );
    assert_eq!(
        health.body["components"]["objectStorage"]["details"]["backend"],
        "s3"
    );
    // the presigned URL is S3's own
    let list = app
        .get(&format!("/api/v1/appspecs/{spec}/code"), Some(&token))
        .await;
    let url = list.data()[0]["downloadUrl"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&s3.endpoint), "{url}");
    let (status, _, zip) = bytes(&app, &url).await;
    assert_eq!(status, 200);
    assert_eq!(sha256(&zip), job["code"]["contentHash"].as_str().unwrap());
    // served from S3 through the preview too
    let (status, _, _) = bytes(&app, job["code"]["previewUrl"].as_str().unwrap()).await;
    assert_eq!(status, 200);

    // the store goes away: the next generation writes its version, then fails with 7000
    drop(s3);
    let used_before =
        app.get("/api/v1/user/quota", Some(&token)).await.data()["aiCalls"]["used"].clone();
    let failed = generate(&app, &token, json!({"requirement": REQ, "appSpecId": spec})).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["errorCode"], "7000");
    let msg = failed["errorMessage"].as_str().unwrap();
    assert!(
        !msg.to_lowercase().contains("connect"),
        "no internals: {msg}"
    );
    let versions = app
        .get(&format!("/api/v1/appspecs/{spec}/versions"), Some(&token))
        .await;
    assert_eq!(
        versions.data().as_array().unwrap().len(),
        2,
        "the version written before the failure stays"
    );
    // listing still works (presigning is local), downloading says the store is unavailable
    let list = app
        .get(&format!("/api/v1/appspecs/{spec}/code"), Some(&token))
        .await;
    assert_eq!(list.status, 200, "{}", list.text);
    let down = app
        .get(
            &format!("/api/v1/appspecs/{spec}/code/download"),
            Some(&token),
        )
        .await;
    assert_eq!(
        (down.status.as_u16(), down.code()),
        (503, "7001"),
        "{}",
        down.text
    );
    for _ in 0..50 {
        let q = app.get("/api/v1/user/quota", Some(&token)).await;
        if q.data()["aiCalls"]["used"] == used_before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let q = app.get("/api/v1/user/quota", Some(&token)).await;
    assert_eq!(
        q.data()["aiCalls"]["used"],
        used_before,
        "refunded: {}",
        q.text
    );
    let health = app.get("/api/actuator/health", None).await;
    assert_eq!(health.status, 200, "DEGRADED, not DOWN");
    assert_eq!(health.body["status"], "DEGRADED");
    assert_eq!(health.body["components"]["objectStorage"]["status"], "DOWN");
    let metrics = app.get("/api/actuator/prometheus", None).await.text;
    assert!(
        metrics.contains("ingenio_artifact_uploads_total{outcome=\"success\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("ingenio_artifact_operations_failed_total{"),
        "failed store calls are counted: {metrics}"
    );
}

#[tokio::test]
async fn a_preview_listener_serves_previews_on_its_own_origin() {
    let app = TestApp::builder()
        .set("ingenio.generation.poll-interval-ms", 50)
        .set("ingenio.preview.port", 0)
        .spawn()
        .await;
    assert!(app.preview_port.is_none());
    app.stop().await;
    drop(app);
    let port = free_port();
    let app = TestApp::builder()
        .set("ingenio.generation.poll-interval-ms", 50)
        .set("ingenio.preview.port", port)
        .set(
            "ingenio.preview.base-url",
            format!("http://127.0.0.1:{port}"),
        )
        .spawn()
        .await;
    assert_eq!(app.preview_port, Some(port));
    let (token, _) = app.register("code_origin").await;
    let job = generate(&app, &token, json!({"requirement": REQ})).await;
    let preview = job["code"]["previewUrl"].as_str().unwrap().to_owned();
    assert!(
        preview.starts_with(&format!("http://127.0.0.1:{port}/")),
        "{preview}"
    );
    let (status, headers, _) = bytes(&app, &preview).await;
    assert_eq!(status, 200);
    assert!(headers.contains_key("content-security-policy"));
    // the preview origin serves no API
    let api = bytes(&app, &format!("http://127.0.0.1:{port}/api/v1/auth/me")).await;
    assert_eq!(api.0, 404);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn the_viewer_role_reads_but_cannot_write_specs_generate_or_render() {
    use diesel_async::SimpleAsyncConnection;
    let app = app().await;
    let (token, _) = app.register("code_viewer").await;
    let job = generate(&app, &token, json!({"requirement": REQ})).await;
    let spec = job["appSpecId"].as_str().unwrap().to_owned();
    let mut c = app.db.connect().await.unwrap();
    c.batch_execute("UPDATE users SET role = 'viewer' WHERE username = 'code_viewer'")
        .await
        .unwrap();
    // the role is read from the token: log in again as a viewer
    let login = app
        .post(
            "/api/v1/auth/login",
            &json!({"usernameOrEmail": "code_viewer", "password": "secret123"}),
            None,
        )
        .await;
    assert_eq!(login.status, 200, "{}", login.text);
    let viewer = login.data()["token"].as_str().unwrap().to_owned();
    let content = app
        .get(&format!("/api/v1/appspecs/{spec}"), Some(&viewer))
        .await;
    assert_eq!(content.status, 200, "reads work: {}", content.text);
    let code = app
        .get(&format!("/api/v1/appspecs/{spec}/code"), Some(&viewer))
        .await;
    assert_eq!(code.status, 200);
    for (path, body) in [
        ("/api/v1/generate".to_owned(), json!({"requirement": REQ})),
        (
            "/api/v1/appspecs".to_owned(),
            json!({"specContent": content.data()["specContent"]}),
        ),
        (format!("/api/v1/appspecs/{spec}/render"), json!({})),
        (format!("/api/v1/appspecs/{spec}/rollback/1"), json!({})),
    ] {
        let a = app.post(&path, &body, Some(&viewer)).await;
        assert_eq!(
            (a.status.as_u16(), a.code()),
            (403, "1004"),
            "{path}: {}",
            a.text
        );
    }
}
