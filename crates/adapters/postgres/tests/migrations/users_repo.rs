//! Tests of `PgUserRepository` and `PgSessionStore` against a migrated database: a password change
//! ends sessions in the auth lookup, a refresh race gets the winner's pair within the grace and a
//! replay after it, revoking all but one family, and the per-name login failure count and lock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::env;
use ingenio_kernel::chrono::{Duration, Utc};
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::UserId;
use ingenio_postgres::users::{PgSessionStore, PgUserRepository};
use ingenio_users::{ConsumeOutcome, Grant, RefreshRecord, SessionStore, UserRepository};

fn record(user: UserId, family: Uuid) -> RefreshRecord {
    RefreshRecord {
        jti: Uuid::new_v4(),
        user_id: user,
        family_id: family,
        expires_at: Utc::now() + Duration::days(1),
    }
}

#[tokio::test]
async fn password_change_sets_the_session_cut_off_read_by_auth_state() {
    let env = env().await;
    let alice = env.user("alice").await;
    let repo = PgUserRepository::new(env.pool.clone());
    let before = repo
        .auth_state(alice, Uuid::new_v4())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(before.sessions_valid_after, None);
    assert!(!before.revoked);
    let at = Utc::now();
    let kept = Uuid::new_v4();
    assert!(repo
        .set_password_ending_sessions(alice, "h2", at, Some(kept))
        .await
        .unwrap());
    let after = repo
        .auth_state(alice, Uuid::new_v4())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        after.sessions_valid_after.map(|t| t.timestamp_micros()),
        Some(at.timestamp_micros())
    );
    assert_eq!(after.kept_session, Some(kept));
    assert!(!repo
        .set_password_ending_sessions(UserId::new_random(), "h", at, None)
        .await
        .unwrap());
}

#[tokio::test]
async fn a_spent_token_yields_its_successor_within_the_grace_then_is_a_replay() {
    let env = env().await;
    let alice = env.user("alice").await;
    let store = PgSessionStore::new(env.pool.clone());
    let family = Uuid::new_v4();
    let r = record(alice, family);
    store.store_refresh(r.clone()).await.unwrap();
    let now = Utc::now();
    let successor = (Uuid::new_v4(), Uuid::new_v4());
    let grace = Duration::seconds(10);
    assert_eq!(
        store
            .consume_refresh(r.jti, now, successor, grace)
            .await
            .unwrap(),
        ConsumeOutcome::Consumed {
            user_id: alice,
            family_id: family
        }
    );
    let other = (Uuid::new_v4(), Uuid::new_v4());
    let raced = store
        .consume_refresh(r.jti, now + Duration::seconds(2), other, grace)
        .await
        .unwrap();
    let ConsumeOutcome::Raced { user_id, grant } = raced else {
        panic!("{raced:?}");
    };
    assert_eq!(user_id, alice);
    assert_eq!(
        grant,
        Grant {
            session_id: family,
            access_jti: successor.0,
            refresh_jti: successor.1,
            issued_at: grant.issued_at,
        }
    );
    assert_eq!(grant.issued_at.timestamp_micros(), now.timestamp_micros());
    assert_eq!(
        store
            .consume_refresh(r.jti, now + Duration::seconds(11), other, grace)
            .await
            .unwrap(),
        ConsumeOutcome::Replayed {
            user_id: alice,
            family_id: family
        }
    );
    // a revoked family is neither raced nor replayed
    store.revoke_family(family, now).await.unwrap();
    assert_eq!(
        store
            .consume_refresh(r.jti, now + Duration::seconds(1), other, grace)
            .await
            .unwrap(),
        ConsumeOutcome::Invalid
    );
}

#[tokio::test]
async fn revoking_all_refresh_tokens_keeps_one_family() {
    let env = env().await;
    let alice = env.user("alice").await;
    let store = PgSessionStore::new(env.pool.clone());
    let kept = Uuid::new_v4();
    let (mine, theirs) = (record(alice, kept), record(alice, Uuid::new_v4()));
    store.store_refresh(mine.clone()).await.unwrap();
    store.store_refresh(theirs.clone()).await.unwrap();
    let now = Utc::now();
    store
        .revoke_all_refresh(alice, now, Some(kept))
        .await
        .unwrap();
    let next = (Uuid::new_v4(), Uuid::new_v4());
    let grace = Duration::seconds(10);
    assert_eq!(
        store
            .consume_refresh(theirs.jti, now, next, grace)
            .await
            .unwrap(),
        ConsumeOutcome::Invalid
    );
    assert!(matches!(
        store
            .consume_refresh(mine.jti, now, next, grace)
            .await
            .unwrap(),
        ConsumeOutcome::Consumed { .. }
    ));
}

#[tokio::test]
async fn login_failures_count_per_name_lock_and_start_over() {
    let env = env().await;
    let store = PgSessionStore::new(env.pool.clone());
    let now = Utc::now();
    let window = Duration::minutes(15);
    for expected in 1..=3 {
        let n = store
            .record_login_failure("名字@example.com", now, window)
            .await
            .unwrap();
        assert_eq!(n, expected);
    }
    assert_eq!(
        store
            .record_login_failure("other", now, window)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .login_locked_until("名字@example.com", now)
            .await
            .unwrap(),
        None
    );
    let until = now + Duration::seconds(30);
    store.lock_login("名字@example.com", until).await.unwrap();
    // a concurrent, shorter lock does not shorten it
    store
        .lock_login("名字@example.com", now + Duration::seconds(5))
        .await
        .unwrap();
    let locked = store
        .login_locked_until("名字@example.com", now)
        .await
        .unwrap();
    assert_eq!(
        locked.map(|t| t.timestamp_micros()),
        Some(until.timestamp_micros())
    );
    assert_eq!(
        store
            .login_locked_until("名字@example.com", until + Duration::seconds(1))
            .await
            .unwrap(),
        None
    );
    // names are stored hashed, never in clear
    assert_eq!(
        env.count("SELECT COUNT(*) AS n FROM login_failures WHERE login_hash LIKE '%example%'")
            .await,
        0
    );
    // a window older than `window` starts over and drops its lock
    let later = now + Duration::minutes(16);
    assert_eq!(
        store
            .record_login_failure("名字@example.com", later, window)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .login_locked_until("名字@example.com", later)
            .await
            .unwrap(),
        None
    );
    store.clear_login_failures("other").await.unwrap();
    assert_eq!(
        store
            .record_login_failure("other", now, window)
            .await
            .unwrap(),
        1
    );
    // purge forgets day-old counts
    assert!(store.purge_expired(now + Duration::days(2)).await.unwrap() >= 2);
    assert_eq!(
        env.count("SELECT COUNT(*) AS n FROM login_failures").await,
        0
    );
}
