//! Password reset by mail, end to end: the token travels through the SMTP adapter to the
//! testkit's sink, is read back from the message and completes the reset; unknown emails get the
//! same answer and no mail; a dead mail server changes nothing for the client and is counted.

use ingenio_testkit::app::{free_port, TestApp};
use ingenio_testkit::smtp::{CapturedMail, SmtpSink};
use serde_json::json;
use std::time::{Duration, Instant};

const REQUEST: &str = "/api/v1/auth/reset-password/request";

/// The 64-hex-digit token in the mail body.
fn token_in(mail: &CapturedMail) -> String {
    mail.text()
        .lines()
        .map(str::trim)
        .find(|l| l.len() == 64 && l.chars().all(|c| c.is_ascii_hexdigit()))
        .unwrap_or_else(|| panic!("no token in {}", mail.data))
        .to_owned()
}

async fn prometheus_line(app: &TestApp, outcome: &str) -> String {
    let p = app.get("/api/actuator/prometheus", None).await;
    let prefix = format!("ingenio_reset_mail_total{{outcome=\"{outcome}\"}} ");
    p.text
        .lines()
        .find_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
        .unwrap_or_default()
}

#[tokio::test]
async fn the_mailed_token_resets_the_password() {
    let sink = SmtpSink::start().await.unwrap();
    let app = TestApp::builder()
        .smtp(&sink)
        .set("ingenio.mail.reset-url", "https://app.ingenio.test/reset")
        .spawn()
        .await;
    app.register("mia").await;
    let asked = app
        .post(REQUEST, &json!({"email": "MIA@example.com "}), None)
        .await;
    assert_eq!(asked.status, 200, "{}", asked.text);

    let mail = sink
        .wait_for("mia@example.com", Duration::from_secs(10))
        .await
        .expect("a reset mail");
    assert_eq!(mail.to, vec!["mia@example.com"]);
    assert_eq!(mail.from, "noreply@ingenio.test");
    assert!(mail
        .header("from")
        .unwrap()
        .contains("noreply@ingenio.test"));
    assert!(mail
        .header("content-type")
        .unwrap()
        .contains("charset=utf-8"));
    assert!(mail.header("subject").unwrap().starts_with("=?utf-8?"));
    let body = mail.text();
    assert!(
        body.contains("您好") && body.contains("Hello mia"),
        "{body}"
    );
    let token = token_in(&mail);
    assert!(
        body.contains(&format!("https://app.ingenio.test/reset?token={token}")),
        "{body}"
    );

    let confirm = app
        .post(
            "/api/v1/auth/reset-password/confirm",
            &json!({"token": token, "newPassword": "mailed-pass1"}),
            None,
        )
        .await;
    assert_eq!(confirm.status, 200, "{}", confirm.text);
    let login = |password: &'static str| {
        let app = &app;
        async move {
            app.post(
                "/api/v1/auth/login",
                &json!({"usernameOrEmail": "mia", "password": password}),
                None,
            )
            .await
        }
    };
    assert_eq!(login("mailed-pass1").await.status, 200);
    assert_eq!(login("secret123").await.status, 401);
    // single use
    let again = app
        .post(
            "/api/v1/auth/reset-password/confirm",
            &json!({"token": token, "newPassword": "mailed-pass2"}),
            None,
        )
        .await;
    assert_eq!(again.status, 400);
    assert_eq!(sink.mails().len(), 1);
    assert_eq!(prometheus_line(&app, "sent").await, "1");
}

#[tokio::test]
async fn an_unknown_email_gets_the_same_answer_and_no_mail() {
    let sink = SmtpSink::start().await.unwrap();
    let app = TestApp::builder().smtp(&sink).spawn().await;
    app.register("noah").await;
    let unknown = app
        .post(REQUEST, &json!({"email": "ghost@example.com"}), None)
        .await;
    let known = app
        .post(REQUEST, &json!({"email": "noah@example.com"}), None)
        .await;
    assert_eq!(unknown.status, 200, "{}", unknown.text);
    assert_eq!(known.status, unknown.status);
    for field in ["code", "message", "data"] {
        assert_eq!(unknown.body[field], known.body[field], "{field}");
    }
    // once the known account's mail is in, the unknown one would have been too
    assert!(sink
        .wait_for("noah@example.com", Duration::from_secs(10))
        .await
        .is_some());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(sink.mails_to("ghost@example.com").is_empty());
    assert_eq!(sink.mails().len(), 1);
}

#[tokio::test]
async fn a_dead_mail_server_changes_nothing_for_the_client_and_is_counted() {
    // nothing listens on this port: every send fails at connect
    let app = TestApp::builder()
        .set("spring.mail.host", "127.0.0.1")
        .set("spring.mail.port", free_port())
        .set("ingenio.mail.starttls", "none")
        .set("ingenio.mail.from", "noreply@ingenio.test")
        .set("ingenio.mail.timeout", 2)
        .spawn()
        .await;
    app.register("olga").await;
    let start = Instant::now();
    let known = app
        .post(REQUEST, &json!({"email": "olga@example.com"}), None)
        .await;
    let unknown = app
        .post(REQUEST, &json!({"email": "ghost@example.com"}), None)
        .await;
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(known.status, 200, "{}", known.text);
    assert_eq!(known.body["message"], unknown.body["message"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while prometheus_line(&app, "failed").await != "1" {
        assert!(Instant::now() < deadline, "the failure was not counted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(prometheus_line(&app, "sent").await, "0");
}
