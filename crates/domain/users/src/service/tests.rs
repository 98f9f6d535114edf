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
        UserServiceConfig {
            default_tenant: TenantId::default(),
            reset_token_ttl: Duration::minutes(30),
        },
    );
    Fx {
        svc,
        users,
        clock,
        notifier,
    }
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
    let t = f
        .svc
        .register("alice", "a@example.com", "secret123")
        .await
        .unwrap();
    let p = f.svc.authenticate(&t.access_token).await.unwrap();
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
