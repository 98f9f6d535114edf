//! Unit tests of the users service against the in-memory fakes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::testing::*;
use ingenio_kernel::chrono::Duration;
use std::sync::Arc;

struct Fx {
    svc: UserService,
    users: Arc<InMemoryUsers>,
    clock: Arc<FixedClock>,
    notifier: Arc<CapturingNotifier>,
}

fn fx() -> Fx {
    let users = Arc::new(InMemoryUsers::default());
    let sessions = Arc::new(InMemorySessions::new(users.clone()));
    let clock = Arc::new(FixedClock::new());
    let notifier = Arc::new(CapturingNotifier::default());
    let svc = UserService::new(
        users.clone(),
        sessions,
        Arc::new(PlainHasher),
        Arc::new(FakeTokens {
            clock: clock.clone(),
        }),
        notifier.clone(),
        clock.clone(),
        UserServiceConfig::with_defaults(TenantId::default()),
    );
    Fx {
        svc,
        users,
        clock,
        notifier,
    }
}

/// Registers alice (password `secret123`) and returns her first session.
async fn alice(f: &Fx) -> AuthTokens {
    f.svc
        .register("alice", "a@example.com", "secret123")
        .await
        .unwrap()
}

#[tokio::test]
async fn register_then_login_by_username_or_email() {
    let f = fx();
    let t = f
        .svc
        .register("alice", "Alice@Example.com", "secret123")
        .await
        .unwrap();
    assert_eq!(t.user.email, "alice@example.com");
    assert!(f.svc.login("ALICE", "secret123").await.is_ok());
    assert!(f.svc.login("alice@example.com", "secret123").await.is_ok());
    assert!(f.users.get(t.user.id).unwrap().last_login_at.is_some());
}

#[tokio::test]
async fn duplicates_are_refused() {
    let f = fx();
    f.svc
        .register("alice", "a@example.com", "secret123")
        .await
        .unwrap();
    assert!(matches!(
        f.svc.register("Alice", "b@example.com", "secret123").await,
        Err(UserError::UsernameTaken)
    ));
    assert!(matches!(
        f.svc.register("bob", "A@example.com", "secret123").await,
        Err(UserError::EmailTaken)
    ));
}

#[tokio::test]
async fn unknown_user_and_bad_password_are_the_same_error() {
    let f = fx();
    f.svc
        .register("alice", "a@example.com", "secret123")
        .await
        .unwrap();
    assert!(matches!(
        f.svc.login("alice", "wrong1234").await,
        Err(UserError::BadCredentials)
    ));
    assert!(matches!(
        f.svc.login("nobody", "wrong1234").await,
        Err(UserError::BadCredentials)
    ));
}

#[tokio::test]
async fn refresh_rotates_and_replay_revokes_the_family() {
    let f = fx();
    let t = f
        .svc
        .register("alice", "a@example.com", "secret123")
        .await
        .unwrap();
    let t2 = f.svc.refresh(&t.refresh_token).await.unwrap();
    f.clock.advance(Duration::seconds(11));
    assert!(matches!(
        f.svc.refresh(&t.refresh_token).await,
        Err(UserError::Unauthenticated(_))
    ));
    // the replay revoked the family, so the newer token is dead too
    assert!(matches!(
        f.svc.refresh(&t2.refresh_token).await,
        Err(UserError::Unauthenticated(_))
    ));
}

#[tokio::test]
async fn access_token_is_not_a_refresh_token() {
    let f = fx();
    let t = f
        .svc
        .register("alice", "a@example.com", "secret123")
        .await
        .unwrap();
    assert!(f.svc.refresh(&t.access_token).await.is_err());
    assert!(f.svc.authenticate(&t.refresh_token).await.is_err());
}

#[tokio::test]
async fn logout_revokes_access_and_refresh() {
    let f = fx();
    let t = f
        .svc
        .register("alice", "a@example.com", "secret123")
        .await
        .unwrap();
    let p = f
        .svc
        .authenticate(&format!("Bearer {}", t.access_token))
        .await
        .unwrap();
    f.svc.logout(&p, Some(&t.refresh_token)).await.unwrap();
    assert!(matches!(
        f.svc.authenticate(&t.access_token).await,
        Err(UserError::Unauthenticated(_))
    ));
    assert!(f.svc.refresh(&t.refresh_token).await.is_err());
}

#[tokio::test]
async fn suspended_users_are_locked_out() {
    let f = fx();
    let t = f
        .svc
        .register("alice", "a@example.com", "secret123")
        .await
        .unwrap();
    f.users.set_status(t.user.id, UserStatus::Suspended);
    assert!(matches!(
        f.svc.authenticate(&t.access_token).await,
        Err(UserError::AccountDisabled)
    ));
    assert!(matches!(
        f.svc.login("alice", "secret123").await,
        Err(UserError::AccountDisabled)
    ));
    assert!(matches!(
        f.svc.refresh(&t.refresh_token).await,
        Err(UserError::AccountDisabled)
    ));
    // a wrong password on a suspended account does not reveal the suspension
    assert!(matches!(
        f.svc.login("alice", "nope12345").await,
        Err(UserError::BadCredentials)
    ));
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let f = fx();
    let t = f
        .svc
        .register("alice", "a@example.com", "secret123")
        .await
        .unwrap();
    f.clock.advance(Duration::hours(3));
    assert!(matches!(
        f.svc.authenticate(&t.access_token).await,
        Err(UserError::Unauthenticated(_))
    ));
}

#[tokio::test]
async fn legacy_hash_is_upgraded_on_login() {
    let f = fx();
    let t = f
        .svc
        .register("alice", "a@example.com", "secret123")
        .await
        .unwrap();
    f.users
        .set_password_hash(t.user.id, "$2b$secret123")
        .await
        .unwrap();
    f.svc.login("alice", "secret123").await.unwrap();
    assert_eq!(
        f.users.get(t.user.id).unwrap().password_hash,
        "plain:secret123"
    );
}

#[tokio::test]
async fn change_password_checks_old_and_revokes_refresh_tokens() {
    let f = fx();
    let mine = f
        .svc
        .register("alice", "a@example.com", "secret123")
        .await
        .unwrap();
    let t = f.svc.login("alice", "secret123").await.unwrap();
    let p = f.svc.authenticate(&mine.access_token).await.unwrap();
    assert!(matches!(
        f.svc.change_password(&p, "wrong", "newpass123").await,
        Err(UserError::Invalid { field, .. }) if field == "oldPassword"
    ));
    f.svc
        .change_password(&p, "secret123", "newpass123")
        .await
        .unwrap();
    assert!(f.svc.refresh(&t.refresh_token).await.is_err());
    assert!(f.svc.login("alice", "newpass123").await.is_ok());
}

#[tokio::test]
async fn password_reset_is_single_use_and_silent_for_unknown_emails() {
    let f = fx();
    f.svc
        .register("alice", "a@example.com", "secret123")
        .await
        .unwrap();
    f.svc
        .request_password_reset("nobody@example.com")
        .await
        .unwrap();
    assert!(f.notifier.sent.lock().unwrap().is_empty());
    f.svc.request_password_reset("a@example.com").await.unwrap();
    let token = f.notifier.sent.lock().unwrap()[0].1.clone();
    f.svc
        .confirm_password_reset(&token, "reset1234")
        .await
        .unwrap();
    assert!(f
        .svc
        .confirm_password_reset(&token, "again1234")
        .await
        .is_err());
    assert!(f.svc.login("alice", "reset1234").await.is_ok());
}

#[tokio::test]
async fn reset_token_expires() {
    let f = fx();
    f.svc
        .register("alice", "a@example.com", "secret123")
        .await
        .unwrap();
    f.svc.request_password_reset("a@example.com").await.unwrap();
    let token = f.notifier.sent.lock().unwrap()[0].1.clone();
    f.clock.advance(Duration::minutes(31));
    assert!(f
        .svc
        .confirm_password_reset(&token, "reset1234")
        .await
        .is_err());
}

#[tokio::test]
async fn logout_without_a_body_ends_the_session_refresh_token_too() {
    let f = fx();
    let t = alice(&f).await;
    let other = f.svc.login("alice", "secret123").await.unwrap();
    let p = f.svc.authenticate(&t.access_token).await.unwrap();
    assert!(p.session_id.is_some());
    f.svc.logout(&p, None).await.unwrap();
    assert!(f.svc.authenticate(&t.access_token).await.is_err());
    assert!(matches!(
        f.svc.refresh(&t.refresh_token).await,
        Err(UserError::Unauthenticated(_))
    ));
    // another session of the same user lives on
    assert!(f.svc.refresh(&other.refresh_token).await.is_ok());
}

#[tokio::test]
async fn password_change_ends_other_sessions_at_once_but_keeps_the_callers() {
    let f = fx();
    let mine = alice(&f).await;
    let other = f.svc.login("alice", "secret123").await.unwrap();
    let p = f.svc.authenticate(&mine.access_token).await.unwrap();
    f.clock.advance(Duration::milliseconds(1));
    f.svc
        .change_password(&p, "secret123", "newpass123")
        .await
        .unwrap();
    // the other session's access token is refused at once, its refresh token too
    assert!(matches!(
        f.svc.authenticate(&other.access_token).await,
        Err(UserError::Unauthenticated(_))
    ));
    assert!(f.svc.refresh(&other.refresh_token).await.is_err());
    // the caller's session goes on, and refreshes
    assert!(f.svc.authenticate(&mine.access_token).await.is_ok());
    let next = f.svc.refresh(&mine.refresh_token).await.unwrap();
    assert!(f.svc.authenticate(&next.access_token).await.is_ok());
    // a login after the change works
    let fresh = f.svc.login("alice", "newpass123").await.unwrap();
    assert!(f.svc.authenticate(&fresh.access_token).await.is_ok());
}

#[tokio::test]
async fn password_reset_ends_every_session_access_tokens_included() {
    let f = fx();
    let t = alice(&f).await;
    f.svc.request_password_reset("a@example.com").await.unwrap();
    let token = f.notifier.sent.lock().unwrap()[0].1.clone();
    f.clock.advance(Duration::milliseconds(5));
    f.svc
        .confirm_password_reset(&token, "reset1234")
        .await
        .unwrap();
    assert!(f.svc.authenticate(&t.access_token).await.is_err());
    let fresh = f.svc.login("alice", "reset1234").await.unwrap();
    assert!(f.svc.authenticate(&fresh.access_token).await.is_ok());
}

#[tokio::test]
async fn failed_logins_lock_the_name_whether_or_not_it_exists() {
    let f = fx();
    alice(&f).await;
    for name in ["alice", "nobody"] {
        for _ in 0..5 {
            assert!(matches!(
                f.svc.login(name, "wrong1234").await,
                Err(UserError::BadCredentials)
            ));
        }
        // locked: even the right password is refused, the same way for both names
        let locked = f.svc.login(name, "secret123").await;
        assert!(
            matches!(
                locked,
                Err(UserError::TooManyAttempts {
                    retry_after_secs: 30
                })
            ),
            "{name}: {locked:?}"
        );
    }
    // the lock ends; a failure after it doubles the lock
    f.clock.advance(Duration::seconds(31));
    assert!(matches!(
        f.svc.login("ALICE", "wrong1234").await,
        Err(UserError::BadCredentials)
    ));
    assert!(matches!(
        f.svc.login("alice", "secret123").await,
        Err(UserError::TooManyAttempts {
            retry_after_secs: 60
        })
    ));
    // a success resets the count
    f.clock.advance(Duration::seconds(61));
    assert!(f.svc.login("alice", "secret123").await.is_ok());
    for _ in 0..4 {
        let _ = f.svc.login("alice", "wrong1234").await;
    }
    assert!(f.svc.login("alice", "secret123").await.is_ok());
    // other names are not affected
    assert!(f.svc.login("a@example.com", "secret123").await.is_ok());
}

#[tokio::test]
async fn a_refresh_race_gets_one_pair_and_a_late_replay_revokes_the_session() {
    let f = fx();
    let t = alice(&f).await;
    let first = f.svc.refresh(&t.refresh_token).await.unwrap();
    f.clock.advance(Duration::seconds(3));
    let second = f.svc.refresh(&t.refresh_token).await.unwrap();
    assert_eq!(first.access_token, second.access_token);
    assert_eq!(first.refresh_token, second.refresh_token);
    assert!(f.svc.authenticate(&second.access_token).await.is_ok());
    // past the grace window the same token is a replay: the session ends
    f.clock.advance(Duration::seconds(10));
    assert!(matches!(
        f.svc.refresh(&t.refresh_token).await,
        Err(UserError::Unauthenticated(_))
    ));
    assert!(f.svc.refresh(&first.refresh_token).await.is_err());
}

#[tokio::test]
async fn viewers_cannot_write() {
    let f = fx();
    let t = alice(&f).await;
    let p = f.svc.authenticate(&t.access_token).await.unwrap();
    assert!(p.can_write());
    f.svc.set_role("alice", Role::Viewer).await.unwrap();
    let p = f.svc.authenticate(&t.access_token).await.unwrap();
    assert!(!p.can_write());
}
