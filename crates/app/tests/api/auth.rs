//! Auth and users: register, login, refresh rotation (and its race grace), logout, rotation of
//! the signing key, suspension, profile, password change and reset ending other sessions, the
//! per-name login lock and the bound on password hashing.

use diesel_async::SimpleAsyncConnection;
use ingenio_testkit::app::{spawn_app, TestApp};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;

#[tokio::test]
async fn register_login_me_refresh_logout() {
    // no grace: an immediate reuse of a spent refresh token is a replay
    let app = TestApp::builder()
        .set("ingenio.auth.refresh-grace", 0)
        .spawn()
        .await;
    let reg = app
        .post(
            "/api/v1/auth/register",
            &json!({"username":"alice_1","email":"Alice@Example.com","password":"secret123"}),
            None,
        )
        .await;
    assert_eq!(reg.status, 200, "{}", reg.text);
    assert_eq!(reg.code(), "0000");
    assert_eq!(reg.body["success"], true);
    assert!(reg.body["timestamp"].as_i64().unwrap() > 0);
    let d = reg.data();
    assert_eq!(d["tokenType"], "Bearer");
    assert_eq!(d["expiresIn"], 7200);
    assert_eq!(d["username"], "alice_1");
    assert_eq!(d["email"], "alice@example.com");
    assert_eq!(d["role"], "user");

    // login by username and by email
    for login in ["alice_1", "ALICE@example.com"] {
        let a = app
            .post(
                "/api/v1/auth/login",
                &json!({"usernameOrEmail": login, "password":"secret123"}),
                None,
            )
            .await;
        assert_eq!(a.status, 200, "{login}: {}", a.text);
    }
    let login = app
        .post(
            "/api/v1/auth/login",
            &json!({"usernameOrEmail":"alice_1","password":"secret123"}),
            None,
        )
        .await;
    let token = login.data()["token"].as_str().unwrap().to_owned();
    let refresh = login.data()["refreshToken"].as_str().unwrap().to_owned();

    let me = app.get("/api/v1/auth/me", Some(&token)).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.data()["username"], "alice_1");
    assert!(
        me.data()["lastLoginAt"].is_string(),
        "last_login_at is set on login"
    );
    assert!(me.data().get("passwordHash").is_none());

    // a raw token without the Bearer prefix is accepted too
    let raw = app
        .send(
            app.client
                .get(app.url("/api/v1/auth/me"))
                .header("Authorization", &token),
        )
        .await;
    assert_eq!(raw.status, 200);

    // refresh rotates: the new pair works, the used refresh token is refused
    let r = app
        .post(
            "/api/v1/auth/refresh",
            &json!({"refreshToken": refresh}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let new_token = r.data()["token"].as_str().unwrap().to_owned();
    let new_refresh = r.data()["refreshToken"].as_str().unwrap().to_owned();
    assert_ne!(new_refresh, refresh);
    let reused = app
        .post(
            "/api/v1/auth/refresh",
            &json!({"refreshToken": refresh}),
            None,
        )
        .await;
    assert_eq!(reused.status, 401);
    assert_eq!(reused.code(), "1003");
    // the replay revoked the whole family, so the rotated token is dead as well
    let after = app
        .post(
            "/api/v1/auth/refresh",
            &json!({"refreshToken": new_refresh}),
            None,
        )
        .await;
    assert_eq!(after.status, 401);

    // logout revokes the access token
    let out = app
        .post("/api/v1/auth/logout", &json!({}), Some(&new_token))
        .await;
    assert_eq!(out.status, 200, "{}", out.text);
    let revoked = app.get("/api/v1/auth/me", Some(&new_token)).await;
    assert_eq!(revoked.status, 401);
    assert_eq!(revoked.code(), "1003");
    // the other session's token is unaffected
    assert_eq!(app.get("/api/v1/auth/me", Some(&token)).await.status, 200);
}

#[tokio::test]
async fn logout_with_refresh_token_revokes_it() {
    let app = spawn_app().await;
    let (token, refresh) = app.register("bob_22").await;
    let out = app
        .post(
            "/api/v1/auth/logout",
            &json!({"refreshToken": refresh}),
            Some(&token),
        )
        .await;
    assert_eq!(out.status, 200);
    let r = app
        .post(
            "/api/v1/auth/refresh",
            &json!({"refreshToken": refresh}),
            None,
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), "1003");
}

#[tokio::test]
async fn credential_errors_do_not_reveal_accounts() {
    let app = spawn_app().await;
    app.register("carol").await;
    let bad = app
        .post(
            "/api/v1/auth/login",
            &json!({"usernameOrEmail":"carol","password":"wrongpass1"}),
            None,
        )
        .await;
    let unknown = app
        .post(
            "/api/v1/auth/login",
            &json!({"usernameOrEmail":"nobody","password":"wrongpass1"}),
            None,
        )
        .await;
    for a in [&bad, &unknown] {
        assert_eq!(a.status, 401);
        assert_eq!(a.code(), "2002");
        assert_eq!(a.body["success"], false);
    }
    assert_eq!(bad.body["message"], unknown.body["message"]);
}

#[tokio::test]
async fn registration_validation_and_conflicts() {
    let app = spawn_app().await;
    app.register("dave").await;
    let dup = app
        .post(
            "/api/v1/auth/register",
            &json!({"username":"DAVE","email":"other@example.com","password":"secret123"}),
            None,
        )
        .await;
    assert_eq!(dup.status, 409);
    assert_eq!(dup.code(), "2001");
    let dup_mail = app
        .post(
            "/api/v1/auth/register",
            &json!({"username":"dave2","email":"dave@example.com","password":"secret123"}),
            None,
        )
        .await;
    assert_eq!(dup_mail.status, 409);
    assert_eq!(dup_mail.code(), "2001");
    assert!(dup_mail.data()["email"].is_string());

    let bad_email = app
        .post(
            "/api/v1/auth/register",
            &json!({"username":"erin","email":"not-an-email","password":"secret123"}),
            None,
        )
        .await;
    assert_eq!(bad_email.status, 400);
    assert_eq!(bad_email.code(), "1001");
    assert!(bad_email.data()["email"].is_string(), "{}", bad_email.text);

    let bad_name = app
        .post(
            "/api/v1/auth/register",
            &json!({"username":"x y","email":"xy@example.com","password":"secret123"}),
            None,
        )
        .await;
    assert_eq!(bad_name.status, 400);
    assert!(bad_name.data()["username"].is_string());

    let weak = app
        .post(
            "/api/v1/auth/register",
            &json!({"username":"frank","email":"f@example.com","password":"short"}),
            None,
        )
        .await;
    assert_eq!(weak.status, 400);
    assert!(weak.data()["password"].is_string());

    let missing = app
        .post(
            "/api/v1/auth/register",
            &json!({"username":"gina","email":"g@example.com"}),
            None,
        )
        .await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.code(), "1001");
    assert!(missing.data()["password"].is_string(), "{}", missing.text);
}

#[tokio::test]
async fn garbage_and_missing_tokens_are_401_1003() {
    let app = spawn_app().await;
    for token in [Some("garbage"), Some("Bearer a.b.c"), None] {
        let a = app.get("/api/v1/auth/me", token).await;
        assert_eq!(a.status, 401, "{token:?}");
        assert_eq!(a.code(), "1003");
    }
    // a refresh token is not an access token
    let (_, refresh) = app.register("henry").await;
    assert_eq!(app.get("/api/v1/auth/me", Some(&refresh)).await.status, 401);
}

#[tokio::test]
async fn tokens_signed_with_the_previous_secret_survive_a_rotation() {
    let old_secret = "old-secret-0123456789-0123456789-abc";
    let new_secret = "new-secret-0123456789-0123456789-xyz";
    let before = TestApp::builder()
        .set("ingenio.jwt.secret", old_secret)
        .spawn()
        .await;
    let (token, refresh) = before.register("rotor").await;

    let after = TestApp::builder()
        .db(before.db.clone())
        .set("ingenio.jwt.secret", new_secret)
        .set("ingenio.jwt.secret-previous", old_secret)
        .spawn()
        .await;
    assert_eq!(after.get("/api/v1/auth/me", Some(&token)).await.status, 200);
    // refreshing gives tokens signed with the new key
    let r = after
        .post(
            "/api/v1/auth/refresh",
            &json!({"refreshToken": refresh}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let fresh = r.data()["token"].as_str().unwrap().to_owned();

    let only_new = TestApp::builder()
        .db(Arc::clone(&before.db))
        .set("ingenio.jwt.secret", new_secret)
        .spawn()
        .await;
    assert_eq!(
        only_new.get("/api/v1/auth/me", Some(&token)).await.status,
        401
    );
    assert_eq!(
        only_new.get("/api/v1/auth/me", Some(&fresh)).await.status,
        200
    );
}

#[tokio::test]
async fn suspended_users_are_locked_out() {
    let app = spawn_app().await;
    let (token, refresh) = app.register("ivan").await;
    let mut c = app.db.connect().await.unwrap();
    c.batch_execute("UPDATE users SET status = 'suspended' WHERE username = 'ivan'")
        .await
        .unwrap();
    let me = app.get("/api/v1/auth/me", Some(&token)).await;
    assert_eq!(me.status, 403);
    assert_eq!(me.code(), "2003");
    let login = app
        .post(
            "/api/v1/auth/login",
            &json!({"usernameOrEmail":"ivan","password":"secret123"}),
            None,
        )
        .await;
    assert_eq!(login.code(), "2003");
    let r = app
        .post(
            "/api/v1/auth/refresh",
            &json!({"refreshToken": refresh}),
            None,
        )
        .await;
    assert_eq!(r.code(), "2003");
}

#[tokio::test]
async fn bcrypt_hashes_are_upgraded_on_login() {
    let app = spawn_app().await;
    app.register("judy").await;
    let legacy = bcrypt::hash("legacy123", 4).unwrap();
    let mut c = app.db.connect().await.unwrap();
    c.batch_execute(&format!(
        "UPDATE users SET password_hash = '{legacy}' WHERE username = 'judy'"
    ))
    .await
    .unwrap();
    let a = app
        .post(
            "/api/v1/auth/login",
            &json!({"usernameOrEmail":"judy","password":"legacy123"}),
            None,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let hash: Vec<String> = {
        use diesel_async::RunQueryDsl;
        diesel::sql_query("SELECT password_hash AS h FROM users WHERE username = 'judy'")
            .load::<HashRow>(&mut c)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.h)
            .collect()
    };
    assert!(hash[0].starts_with("$argon2id$"), "{}", hash[0]);
}

#[derive(diesel::QueryableByName)]
struct HashRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    h: String,
}

#[tokio::test]
async fn profile_and_password_change() {
    let app = spawn_app().await;
    let (token, refresh) = app.register("kate").await;
    let p = app
        .put(
            "/api/v1/user/profile",
            &json!({"displayName":"小凯","bio":"I like quizzes"}),
            Some(&token),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.text);
    assert_eq!(p.data()["displayName"], "小凯");
    let bad = app
        .put(
            "/api/v1/user/profile",
            &json!({"avatarUrl":"javascript:x"}),
            Some(&token),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.data()["avatarUrl"].is_string());
    let got = app.get("/api/v1/user/profile", Some(&token)).await;
    assert_eq!(got.data()["bio"], "I like quizzes");

    let wrong = app
        .put(
            "/api/v1/user/password",
            &json!({"oldPassword":"nope","newPassword":"brandnew123"}),
            Some(&token),
        )
        .await;
    assert_eq!(wrong.status, 400);
    assert!(wrong.data()["oldPassword"].is_string());
    let ok = app
        .put(
            "/api/v1/user/password",
            &json!({"oldPassword":"secret123","newPassword":"brandnew123"}),
            Some(&token),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    // the session that changed the password goes on
    assert_eq!(app.get("/api/v1/auth/me", Some(&token)).await.status, 200);
    assert_eq!(
        app.post(
            "/api/v1/auth/refresh",
            &json!({"refreshToken": refresh}),
            None
        )
        .await
        .status,
        200
    );
    let login = app
        .post(
            "/api/v1/auth/login",
            &json!({"usernameOrEmail":"kate","password":"brandnew123"}),
            None,
        )
        .await;
    assert_eq!(login.status, 200);
}

#[tokio::test]
async fn password_reset_by_token() {
    let app = spawn_app().await;
    let (old_token, old_refresh) = app.register("leo").await;
    // unknown emails get the same answer
    let unknown = app
        .post(
            "/api/v1/auth/reset-password/request",
            &json!({"email":"ghost@example.com"}),
            None,
        )
        .await;
    let known = app
        .post(
            "/api/v1/auth/reset-password/request",
            &json!({"email":"leo@example.com"}),
            None,
        )
        .await;
    assert_eq!(unknown.status, 200);
    assert_eq!(known.status, 200);
    assert_eq!(unknown.body["message"], known.body["message"]);

    // the token is delivered out of band; plant one we know, as the mailer would have sent it
    let token = "f".repeat(64);
    let hash = hex::encode(Sha256::digest(token.as_bytes()));
    let mut c = app.db.connect().await.unwrap();
    c.batch_execute(&format!(
        "INSERT INTO password_reset_tokens (token_hash, user_id, expires_at) \
         SELECT '{hash}', id, now() + interval '10 minutes' FROM users WHERE username = 'leo'"
    ))
    .await
    .unwrap();
    let confirm = app
        .post(
            "/api/v1/auth/reset-password/confirm",
            &json!({"token": token, "newPassword":"resetpass9"}),
            None,
        )
        .await;
    assert_eq!(confirm.status, 200, "{}", confirm.text);
    // every session ended at once, its access token included
    let me = app.get("/api/v1/auth/me", Some(&old_token)).await;
    assert_eq!(me.status, 401, "{}", me.text);
    assert_eq!(me.code(), "1003");
    let r = app
        .post(
            "/api/v1/auth/refresh",
            &json!({"refreshToken": old_refresh}),
            None,
        )
        .await;
    assert_eq!(r.status, 401);
    let again = app
        .post(
            "/api/v1/auth/reset-password/confirm",
            &json!({"token": token, "newPassword":"resetpass8"}),
            None,
        )
        .await;
    assert_eq!(again.status, 400);
    assert!(again.data()["token"].is_string());
    let login = app
        .post(
            "/api/v1/auth/login",
            &json!({"usernameOrEmail":"leo","password":"resetpass9"}),
            None,
        )
        .await;
    assert_eq!(login.status, 200);
}

async fn login(app: &TestApp, name: &str, password: &str) -> ingenio_testkit::app::Answer {
    app.post(
        "/api/v1/auth/login",
        &json!({"usernameOrEmail": name, "password": password}),
        None,
    )
    .await
}

async fn refresh(app: &TestApp, token: &str) -> ingenio_testkit::app::Answer {
    app.post(
        "/api/v1/auth/refresh",
        &json!({"refreshToken": token}),
        None,
    )
    .await
}

#[tokio::test]
async fn logout_without_a_body_ends_the_sessions_refresh_token() {
    let app = spawn_app().await;
    let (token, refresh_token) = app.register("nina").await;
    let other = login(&app, "nina", "secret123").await;
    let out = app
        .send(
            app.client
                .post(app.url("/api/v1/auth/logout"))
                .bearer_auth(&token),
        )
        .await;
    assert_eq!(out.status, 200, "{}", out.text);
    assert_eq!(app.get("/api/v1/auth/me", Some(&token)).await.status, 401);
    let r = refresh(&app, &refresh_token).await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.code(), "1003");
    // the user's other session is untouched
    let other_refresh = other.data()["refreshToken"].as_str().unwrap();
    assert_eq!(refresh(&app, other_refresh).await.status, 200);
}

#[tokio::test]
async fn password_change_ends_every_other_session_at_once() {
    let app = spawn_app().await;
    let (mine, mine_refresh) = app.register("olga").await;
    let other = login(&app, "olga", "secret123").await;
    let theirs = other.data()["token"].as_str().unwrap().to_owned();
    let theirs_refresh = other.data()["refreshToken"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/api/v1/auth/me", Some(&theirs)).await.status, 200);
    let ok = app
        .put(
            "/api/v1/user/password",
            &json!({"oldPassword":"secret123","newPassword":"brandnew123"}),
            Some(&mine),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    // the other session's access token is refused now, not when it expires
    let me = app.get("/api/v1/auth/me", Some(&theirs)).await;
    assert_eq!(me.status, 401, "{}", me.text);
    assert_eq!(me.code(), "1003");
    assert_eq!(refresh(&app, &theirs_refresh).await.status, 401);
    // the caller stays logged in and can refresh; a new login works
    assert_eq!(app.get("/api/v1/auth/me", Some(&mine)).await.status, 200);
    let r = refresh(&app, &mine_refresh).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let next = r.data()["token"].as_str().unwrap();
    assert_eq!(app.get("/api/v1/auth/me", Some(next)).await.status, 200);
    let fresh = login(&app, "olga", "brandnew123").await;
    assert_eq!(fresh.status, 200);
    let fresh = fresh.data()["token"].as_str().unwrap();
    assert_eq!(app.get("/api/v1/auth/me", Some(fresh)).await.status, 200);
}

#[tokio::test]
async fn saturated_password_hashing_answers_503_with_retry_after() {
    let app = TestApp::builder()
        .set("ingenio.auth.hash-max-concurrent", 1)
        .set("ingenio.auth.hash-wait-ms", 1)
        .spawn()
        .await;
    app.register("paul").await;
    let answers = futures::future::join_all((0..8).map(|_| login(&app, "paul", "secret123"))).await;
    let busy: Vec<_> = answers.iter().filter(|a| a.status == 503).collect();
    assert!(!busy.is_empty(), "no request was refused");
    assert!(answers.iter().any(|a| a.status == 200), "none got through");
    for a in &answers {
        assert!(
            a.status == 200 || a.status == 503,
            "{}: {}",
            a.status,
            a.text
        );
    }
    for a in busy {
        assert_eq!(a.code(), "1000");
        assert_eq!(a.header("retry-after"), Some("1"));
    }
    // once the burst is over, logins work again
    assert_eq!(login(&app, "paul", "secret123").await.status, 200);
}

/// `s` with every run of digits replaced by `#`: two answers a clock tick apart ("retry after 30
/// seconds" / "retry after 29 seconds") compare equal, any other difference still shows.
fn digits_blurred(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if !c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('#') {
            out.push('#');
        }
    }
    out
}

#[test]
fn blurring_digits_keeps_everything_else() {
    assert_eq!(
        digits_blurred("retry after 30 seconds"),
        digits_blurred("retry after 9 seconds")
    );
    assert_ne!(
        digits_blurred("retry after 30 seconds"),
        digits_blurred("retry after 30 minutes")
    );
}

#[tokio::test]
async fn failed_logins_lock_a_name_whether_or_not_the_account_exists() {
    let app = spawn_app().await;
    app.register("quinn").await;
    let mut locked = Vec::new();
    for name in ["quinn", "no_such_user"] {
        for i in 0..5 {
            let a = login(&app, name, "wrongpass1").await;
            assert_eq!(a.status, 401, "{name} #{i}: {}", a.text);
            assert_eq!(a.code(), "2002");
        }
        // locked: even the right password is refused, without checking it
        let a = login(&app, name, "secret123").await;
        assert_eq!(a.status, 429, "{name}: {}", a.text);
        assert_eq!(a.code(), "1005");
        let wait: u64 = a.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=30).contains(&wait), "{name}: Retry-After {wait}");
        locked.push(a);
    }
    // the lock does not tell an existing account from an unknown one: the same answer, up to
    // the clock ticking a second between the two
    assert_eq!(
        digits_blurred(&locked[0].body.to_string()),
        digits_blurred(&locked[1].body.to_string())
    );
    assert!(
        locked[0].body["message"]
            .as_str()
            .is_some_and(|m| m.chars().any(|c| c.is_ascii_digit())),
        "the message names the wait: {}",
        locked[0].text
    );
    let waits: Vec<i64> = locked
        .iter()
        .map(|a| a.header("retry-after").unwrap().parse().unwrap())
        .collect();
    assert!(
        (waits[0] - waits[1]).abs() <= 1,
        "Retry-After {waits:?} differ by more than a clock tick"
    );
    // the account's other name (its email) is counted apart
    assert_eq!(
        login(&app, "quinn@example.com", "secret123").await.status,
        200
    );
}

#[tokio::test]
async fn a_successful_login_resets_the_failure_count() {
    let app = spawn_app().await;
    app.register("rita").await;
    for _ in 0..4 {
        assert_eq!(login(&app, "rita", "wrongpass1").await.status, 401);
    }
    assert_eq!(login(&app, "rita", "secret123").await.status, 200);
    for _ in 0..4 {
        assert_eq!(login(&app, "rita", "wrongpass1").await.status, 401);
    }
    assert_eq!(login(&app, "rita", "secret123").await.status, 200);
}

#[tokio::test]
async fn concurrent_refreshes_get_one_pair_and_a_late_replay_ends_the_session() {
    let app = TestApp::builder()
        .set("ingenio.auth.refresh-grace", 1)
        .spawn()
        .await;
    let (_, refresh_token) = app.register("sam").await;
    let (a, b) = tokio::join!(refresh(&app, &refresh_token), refresh(&app, &refresh_token));
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(b.status, 200, "{}", b.text);
    assert_eq!(a.data()["token"], b.data()["token"]);
    assert_eq!(a.data()["refreshToken"], b.data()["refreshToken"]);
    let token = a.data()["token"].as_str().unwrap().to_owned();
    let next = a.data()["refreshToken"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/api/v1/auth/me", Some(&token)).await.status, 200);
    // after the grace the same token is a replay: the whole session ends
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let replay = refresh(&app, &refresh_token).await;
    assert_eq!(replay.status, 401, "{}", replay.text);
    assert_eq!(refresh(&app, &next).await.status, 401);
}

/// Two instances on one database: a logout, a password change, a role change and a suspension
/// made through one (or straight in the database) are honoured by the other on its very next
/// request, on `/auth/me` (session check and account read in one query) and on every other route.
#[tokio::test]
async fn session_changes_on_one_instance_hold_on_another_at_once() {
    let a = spawn_app().await;
    let b = TestApp::builder().db(Arc::clone(&a.db)).spawn().await;
    let (first, _) = a.register("wanda").await;
    for app in [&a, &b] {
        assert_eq!(app.get("/api/v1/auth/me", Some(&first)).await.status, 200);
        assert_eq!(
            app.get("/api/v1/user/profile", Some(&first)).await.status,
            200
        );
    }
    // logout on A
    let out = a
        .post("/api/v1/auth/logout", &json!({}), Some(&first))
        .await;
    assert_eq!(out.status, 200, "{}", out.text);
    for path in ["/api/v1/auth/me", "/api/v1/user/profile"] {
        let r = b.get(path, Some(&first)).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (401, "1003"),
            "{path}: {}",
            r.text
        );
    }

    // a password change on B ends the session opened on A
    let second = login(&a, "wanda", "secret123").await;
    let second = second.data()["token"].as_str().unwrap().to_owned();
    let third = login(&b, "wanda", "secret123").await;
    let third = third.data()["token"].as_str().unwrap().to_owned();
    assert_eq!(a.get("/api/v1/auth/me", Some(&second)).await.status, 200);
    let changed = b
        .put(
            "/api/v1/user/password",
            &json!({"oldPassword":"secret123","newPassword":"brandnew123"}),
            Some(&third),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    for path in ["/api/v1/auth/me", "/api/v1/user/profile"] {
        let r = a.get(path, Some(&second)).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (401, "1003"),
            "{path}: {}",
            r.text
        );
    }

    // a role change in the database: the very next request sees the new role
    let me = a.get("/api/v1/auth/me", Some(&third)).await;
    assert_eq!(me.data()["role"], "user", "{}", me.text);
    let mut c = a.db.connect().await.unwrap();
    c.batch_execute("UPDATE users SET role = 'viewer' WHERE username = 'wanda'")
        .await
        .unwrap();
    let me = a.get("/api/v1/auth/me", Some(&third)).await;
    assert_eq!(me.data()["role"], "viewer", "{}", me.text);
    let spec = b
        .post(
            "/api/v1/appspecs",
            &json!({"specContent": {"pages": []}}),
            Some(&third),
        )
        .await;
    assert_eq!(spec.status, 403, "{}", spec.text);

    // a suspension in the database: refused at once on both
    c.batch_execute("UPDATE users SET status = 'suspended' WHERE username = 'wanda'")
        .await
        .unwrap();
    for app in [&a, &b] {
        for path in ["/api/v1/auth/me", "/api/v1/user/profile"] {
            let r = app.get(path, Some(&third)).await;
            assert_eq!(
                (r.status.as_u16(), r.code()),
                (403, "2003"),
                "{path}: {}",
                r.text
            );
        }
    }
}

/// The value of `ingenio_kept_reads_lookups{kind="session",result}` on `app`.
async fn session_lookups(app: &TestApp, result: &str) -> f64 {
    let name = format!("ingenio_kept_reads_lookups{{kind=\"session\",result=\"{result}\"}}");
    crate::sample(app, &name).await
}

/// Sessions kept in process are served (the cache is really used), yet a change made straight in
/// the database, or through either instance, shows on the very next request on both, round after
/// round; with the LISTEN connections killed, checks fall back to the database and stay exact;
/// with the cache off nothing is kept.
#[tokio::test]
async fn kept_sessions_are_served_and_never_outlive_a_change() {
    let a = spawn_app().await;
    let b = TestApp::builder().db(Arc::clone(&a.db)).spawn().await;
    let (token, _) = a.register("kept_kim").await;
    let mut c = a.db.connect().await.unwrap();
    let before = session_lookups(&a, "hit").await + session_lookups(&b, "hit").await;
    for i in 0..25 {
        let name = format!("kim {i}");
        c.batch_execute(&format!(
            "UPDATE users SET display_name = '{name}' WHERE username = 'kept_kim'"
        ))
        .await
        .unwrap();
        for app in [&a, &b, &a, &b] {
            let me = app.get("/api/v1/auth/me", Some(&token)).await;
            assert_eq!(me.status, 200, "{}", me.text);
            assert_eq!(me.data()["displayName"], name.as_str(), "round {i}");
            let p = app.get("/api/v1/user/profile", Some(&token)).await;
            assert_eq!(p.data()["displayName"], name.as_str(), "round {i}");
        }
        // through the API on one instance, read on the other at once
        let bio = format!("bio {i}");
        let put = [&a, &b][i % 2]
            .put("/api/v1/user/profile", &json!({"bio": bio}), Some(&token))
            .await;
        assert_eq!(put.status, 200, "{}", put.text);
        let me = [&b, &a][i % 2].get("/api/v1/auth/me", Some(&token)).await;
        assert_eq!(me.data()["bio"], bio.as_str(), "round {i}: {}", me.text);
    }
    let after = session_lookups(&a, "hit").await + session_lookups(&b, "hit").await;
    assert!(
        after - before >= 25.0,
        "kept sessions were served: {before} → {after}"
    );

    // the listeners are killed: checks read the database until they are back, and stay exact
    c.batch_execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() \
         AND (query LIKE 'LISTEN%' OR query = '')",
    )
    .await
    .unwrap();
    c.batch_execute("UPDATE users SET role = 'viewer' WHERE username = 'kept_kim'")
        .await
        .unwrap();
    for app in [&a, &b] {
        let me = app.get("/api/v1/auth/me", Some(&token)).await;
        assert_eq!(me.data()["role"], "viewer", "{}", me.text);
    }
    c.batch_execute("UPDATE users SET status = 'suspended' WHERE username = 'kept_kim'")
        .await
        .unwrap();
    for app in [&a, &b] {
        let r = app.get("/api/v1/user/profile", Some(&token)).await;
        assert_eq!((r.status.as_u16(), r.code()), (403, "2003"), "{}", r.text);
    }

    // off: every check reads the database
    let off = TestApp::builder()
        .db(Arc::clone(&a.db))
        .set("ingenio.kept-reads.enabled", false)
        .spawn()
        .await;
    let (other, _) = off.register("kept_lee").await;
    for _ in 0..3 {
        assert_eq!(off.get("/api/v1/auth/me", Some(&other)).await.status, 200);
    }
    assert_eq!(session_lookups(&off, "hit").await, 0.0);
    assert_eq!(session_lookups(&off, "miss").await, 0.0);
}
