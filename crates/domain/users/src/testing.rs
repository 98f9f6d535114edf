//! In-memory fakes of every users port, for domain unit tests and other crates' tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::models::{NewUser, ProfileUpdate, Role, User, UserStatus};
use crate::ports::*;
use async_trait::async_trait;
use ingenio_kernel::chrono::{DateTime, Duration, Utc};
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::{Clock, StoreError, TenantId, UserId};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// Users kept in a map.
#[derive(Default)]
pub struct InMemoryUsers {
    users: Mutex<HashMap<UserId, User>>,
    revoked: Mutex<HashSet<Uuid>>,
    /// Per user: sessions issued before this instant ended, except the kept one.
    ended: Mutex<HashMap<UserId, SessionCutOff>>,
}

/// Sessions issued before this instant ended, except the kept one.
type SessionCutOff = (DateTime<Utc>, Option<Uuid>);

impl InMemoryUsers {
    pub fn set_status(&self, id: UserId, status: UserStatus) {
        if let Some(u) = self.users.lock().unwrap().get_mut(&id) {
            u.status = status;
        }
    }
    pub fn get(&self, id: UserId) -> Option<User> {
        self.users.lock().unwrap().get(&id).cloned()
    }
    /// Shares the access deny-list with an `InMemorySessions`.
    pub fn revoke(&self, jti: Uuid) {
        self.revoked.lock().unwrap().insert(jti);
    }
}

#[async_trait]
impl UserRepository for InMemoryUsers {
    async fn create(&self, user: NewUser) -> Result<User, CreateUserError> {
        let mut map = self.users.lock().unwrap();
        if map
            .values()
            .any(|u| u.username.eq_ignore_ascii_case(user.username.as_str()))
        {
            return Err(CreateUserError::UsernameTaken);
        }
        if map.values().any(|u| u.email == user.email.as_str()) {
            return Err(CreateUserError::EmailTaken);
        }
        let u = User {
            tenant_id: user.tenant_id,
            password_hash: user.password_hash,
            role: user.role,
            ..active_user(user.username.as_str(), user.email.as_str())
        };
        map.insert(u.id, u.clone());
        Ok(u)
    }
    async fn find_by_id(&self, tenant: TenantId, id: UserId) -> Result<Option<User>, StoreError> {
        Ok(self.get(id).filter(|u| u.tenant_id == tenant))
    }
    async fn find_by_login(
        &self,
        tenant: TenantId,
        login: &str,
    ) -> Result<Option<User>, StoreError> {
        let l = login.to_lowercase();
        Ok(self
            .users
            .lock()
            .unwrap()
            .values()
            .find(|u| u.tenant_id == tenant && (u.username.to_lowercase() == l || u.email == l))
            .cloned())
    }
    async fn set_password_hash(&self, id: UserId, hash: &str) -> Result<bool, StoreError> {
        Ok(match self.users.lock().unwrap().get_mut(&id) {
            Some(u) => {
                u.password_hash = hash.to_owned();
                true
            }
            None => false,
        })
    }
    async fn touch_last_login(&self, id: UserId, at: DateTime<Utc>) -> Result<(), StoreError> {
        if let Some(u) = self.users.lock().unwrap().get_mut(&id) {
            u.last_login_at = Some(at);
        }
        Ok(())
    }
    async fn update_profile(
        &self,
        tenant: TenantId,
        id: UserId,
        update: &ProfileUpdate,
    ) -> Result<Option<User>, StoreError> {
        let mut map = self.users.lock().unwrap();
        let Some(u) = map.get_mut(&id).filter(|u| u.tenant_id == tenant) else {
            return Ok(None);
        };
        if let Some(v) = &update.display_name {
            u.display_name = v.clone();
        }
        if let Some(v) = &update.avatar_url {
            u.avatar_url = v.clone();
        }
        if let Some(v) = &update.bio {
            u.bio = v.clone();
        }
        Ok(Some(u.clone()))
    }
    async fn set_password_ending_sessions(
        &self,
        id: UserId,
        hash: &str,
        at: DateTime<Utc>,
        keep: Option<Uuid>,
    ) -> Result<bool, StoreError> {
        if !self.set_password_hash(id, hash).await? {
            return Ok(false);
        }
        self.ended.lock().unwrap().insert(id, (at, keep));
        Ok(true)
    }
    async fn auth_state(&self, id: UserId, jti: Uuid) -> Result<Option<AuthState>, StoreError> {
        let revoked = self.revoked.lock().unwrap().contains(&jti);
        let ended = self.ended.lock().unwrap().get(&id).copied();
        Ok(self.get(id).map(|u| AuthState {
            status: u.status,
            role: u.role,
            revoked,
            sessions_valid_after: ended.map(|e| e.0),
            kept_session: ended.and_then(|e| e.1),
        }))
    }
    async fn auth_state_with_user(
        &self,
        id: UserId,
        jti: Uuid,
    ) -> Result<Option<(AuthState, User)>, StoreError> {
        let state = self.auth_state(id, jti).await?;
        Ok(state.zip(self.get(id)))
    }
    async fn set_role_and_status(
        &self,
        id: UserId,
        role: Role,
        status: UserStatus,
    ) -> Result<bool, StoreError> {
        Ok(match self.users.lock().unwrap().get_mut(&id) {
            Some(u) => {
                u.role = role;
                u.status = status;
                true
            }
            None => false,
        })
    }
}

#[derive(Debug, Clone)]
struct RefreshRow {
    record: RefreshRecord,
    /// When it was spent and the (access, refresh) ids it was traded for.
    used: Option<(DateTime<Utc>, (Uuid, Uuid))>,
    revoked: bool,
}

/// Failed logins of one name: count, start of the window, lock end.
type FailureRow = (u32, DateTime<Utc>, Option<DateTime<Utc>>);

/// A password-reset token: its user, when it expires, and whether it was used.
type ResetRow = (UserId, DateTime<Utc>, bool);

/// Session state kept in maps; access revocations are forwarded to the users fake.
pub struct InMemorySessions {
    refresh: Mutex<HashMap<Uuid, RefreshRow>>,
    resets: Mutex<HashMap<String, ResetRow>>,
    failures: Mutex<HashMap<String, FailureRow>>,
    users: std::sync::Arc<InMemoryUsers>,
}

impl InMemorySessions {
    pub fn new(users: std::sync::Arc<InMemoryUsers>) -> Self {
        Self {
            refresh: Mutex::default(),
            resets: Mutex::default(),
            failures: Mutex::default(),
            users,
        }
    }
}

#[async_trait]
impl SessionStore for InMemorySessions {
    async fn store_refresh(&self, record: RefreshRecord) -> Result<(), StoreError> {
        self.refresh.lock().unwrap().insert(
            record.jti,
            RefreshRow {
                record,
                used: None,
                revoked: false,
            },
        );
        Ok(())
    }
    async fn consume_refresh(
        &self,
        jti: Uuid,
        now: DateTime<Utc>,
        successor: (Uuid, Uuid),
        grace: Duration,
    ) -> Result<ConsumeOutcome, StoreError> {
        let mut map = self.refresh.lock().unwrap();
        let Some(row) = map.get_mut(&jti) else {
            return Ok(ConsumeOutcome::Invalid);
        };
        if row.revoked || row.record.expires_at <= now {
            return Ok(ConsumeOutcome::Invalid);
        }
        if let Some((used_at, (access_jti, refresh_jti))) = row.used {
            if used_at >= now - grace {
                return Ok(ConsumeOutcome::Raced {
                    user_id: row.record.user_id,
                    grant: Grant {
                        session_id: row.record.family_id,
                        access_jti,
                        refresh_jti,
                        issued_at: used_at,
                    },
                });
            }
            return Ok(ConsumeOutcome::Replayed {
                user_id: row.record.user_id,
                family_id: row.record.family_id,
            });
        }
        row.used = Some((now, successor));
        Ok(ConsumeOutcome::Consumed {
            user_id: row.record.user_id,
            family_id: row.record.family_id,
        })
    }
    async fn revoke_refresh(&self, jti: Uuid, _now: DateTime<Utc>) -> Result<(), StoreError> {
        if let Some(r) = self.refresh.lock().unwrap().get_mut(&jti) {
            r.revoked = true;
        }
        Ok(())
    }
    async fn revoke_family(&self, family_id: Uuid, _now: DateTime<Utc>) -> Result<(), StoreError> {
        for r in self.refresh.lock().unwrap().values_mut() {
            if r.record.family_id == family_id {
                r.revoked = true;
            }
        }
        Ok(())
    }
    async fn revoke_all_refresh(
        &self,
        user_id: UserId,
        _now: DateTime<Utc>,
        keep: Option<Uuid>,
    ) -> Result<(), StoreError> {
        for r in self.refresh.lock().unwrap().values_mut() {
            if r.record.user_id == user_id && Some(r.record.family_id) != keep {
                r.revoked = true;
            }
        }
        Ok(())
    }
    async fn revoke_access(
        &self,
        jti: Uuid,
        _user_id: UserId,
        _exp: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.users.revoke(jti);
        Ok(())
    }
    async fn store_reset_token(
        &self,
        hash: &str,
        user_id: UserId,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.resets
            .lock()
            .unwrap()
            .insert(hash.to_owned(), (user_id, expires_at, false));
        Ok(())
    }
    async fn consume_reset_token(
        &self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<UserId>, StoreError> {
        let mut map = self.resets.lock().unwrap();
        match map.get_mut(hash) {
            Some((user, exp, used)) if !*used && *exp > now => {
                *used = true;
                Ok(Some(*user))
            }
            _ => Ok(None),
        }
    }
    async fn login_locked_until(
        &self,
        login: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self
            .failures
            .lock()
            .unwrap()
            .get(login)
            .and_then(|r| r.2)
            .filter(|until| *until > now))
    }
    async fn record_login_failure(
        &self,
        login: &str,
        now: DateTime<Utc>,
        window: Duration,
    ) -> Result<u32, StoreError> {
        let mut map = self.failures.lock().unwrap();
        let row = map.entry(login.to_owned()).or_insert((0, now, None));
        if row.1 <= now - window {
            *row = (0, now, None);
        }
        row.0 += 1;
        Ok(row.0)
    }
    async fn lock_login(&self, login: &str, until: DateTime<Utc>) -> Result<(), StoreError> {
        if let Some(r) = self.failures.lock().unwrap().get_mut(login) {
            r.2 = Some(r.2.map_or(until, |t| t.max(until)));
        }
        Ok(())
    }
    async fn clear_login_failures(&self, login: &str) -> Result<(), StoreError> {
        self.failures.lock().unwrap().remove(login);
        Ok(())
    }
}

/// "Hashes" as `plain:<password>`; hashes starting with `$2b$` verify but need a rehash.
pub struct PlainHasher;

#[async_trait]
impl PasswordHasher for PlainHasher {
    async fn hash(&self, password: &str) -> Result<String, HashError> {
        Ok(format!("plain:{password}"))
    }
    async fn verify(&self, password: &str, hash: &str) -> Result<PasswordCheck, HashError> {
        if let Some(legacy) = hash.strip_prefix("$2b$") {
            return Ok(if legacy == password {
                PasswordCheck::Valid { needs_rehash: true }
            } else {
                PasswordCheck::Invalid
            });
        }
        Ok(if hash == format!("plain:{password}") {
            PasswordCheck::Valid {
                needs_rehash: false,
            }
        } else {
            PasswordCheck::Invalid
        })
    }
}

/// Tokens of the form `kind|user|tenant|role|jti|exp_ts|iat_ms|session`, unsigned. For tests
/// only.
pub struct FakeTokens {
    pub clock: std::sync::Arc<FixedClock>,
}

/// What a fake token says.
type FakeClaims = (
    UserId,
    TenantId,
    Role,
    Uuid,
    DateTime<Utc>,
    DateTime<Utc>,
    Uuid,
);

impl FakeTokens {
    fn sign(&self, kind: &str, user: &User, grant: &Grant, ttl: i64) -> SignedToken {
        let jti = if kind == "access" {
            grant.access_jti
        } else {
            grant.refresh_jti
        };
        let exp = grant.issued_at + Duration::seconds(ttl);
        SignedToken {
            token: format!(
                "{kind}|{}|{}|{}|{jti}|{}|{}|{}",
                user.id,
                user.tenant_id,
                user.role.as_str(),
                exp.timestamp(),
                grant.issued_at.timestamp_millis(),
                grant.session_id
            ),
            jti,
            expires_at: exp,
        }
    }
    fn parse(&self, kind: &str, token: &str) -> Result<FakeClaims, TokenError> {
        let parts: Vec<&str> = token.split('|').collect();
        if parts.len() != 8 {
            return Err(TokenError::Invalid);
        }
        if parts[0] != kind {
            return Err(TokenError::WrongKind);
        }
        let uid = Uuid::parse_str(parts[1]).map_err(|_| TokenError::Invalid)?;
        let tid = Uuid::parse_str(parts[2]).map_err(|_| TokenError::Invalid)?;
        let role = Role::parse(parts[3]).map_err(|_| TokenError::Invalid)?;
        let jti = Uuid::parse_str(parts[4]).map_err(|_| TokenError::Invalid)?;
        let exp = parts[5].parse::<i64>().map_err(|_| TokenError::Invalid)?;
        let exp = DateTime::from_timestamp(exp, 0).ok_or(TokenError::Invalid)?;
        let iat = parts[6].parse::<i64>().map_err(|_| TokenError::Invalid)?;
        let iat = DateTime::from_timestamp_millis(iat).ok_or(TokenError::Invalid)?;
        let sid = Uuid::parse_str(parts[7]).map_err(|_| TokenError::Invalid)?;
        if exp <= self.clock.now() {
            return Err(TokenError::Expired);
        }
        Ok((uid.into(), tid.into(), role, jti, exp, iat, sid))
    }
}

impl TokenService for FakeTokens {
    fn issue_access(&self, user: &User, grant: &Grant) -> anyhow::Result<SignedToken> {
        Ok(self.sign("access", user, grant, 7200))
    }
    fn issue_refresh(&self, user: &User, grant: &Grant) -> anyhow::Result<SignedToken> {
        Ok(self.sign("refresh", user, grant, 86400))
    }
    fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let (user_id, tenant_id, role, jti, expires_at, issued_at, sid) =
            self.parse("access", token)?;
        Ok(AccessClaims {
            user_id,
            tenant_id,
            role,
            jti,
            expires_at,
            issued_at,
            session_id: Some(sid),
        })
    }
    fn verify_refresh(&self, token: &str) -> Result<RefreshClaims, TokenError> {
        let (user_id, tenant_id, _, jti, expires_at, _, _) = self.parse("refresh", token)?;
        Ok(RefreshClaims {
            user_id,
            tenant_id,
            jti,
            expires_at,
        })
    }
    fn access_ttl_seconds(&self) -> u64 {
        7200
    }
    fn new_reset_token(&self) -> (String, String) {
        let t = Uuid::new_v4().simple().to_string();
        let h = format!("h:{t}");
        (t, h)
    }
    fn hash_reset_token(&self, token: &str) -> String {
        format!("h:{token}")
    }
}

/// An active `user` account of the default tenant, created now, with no password.
pub fn active_user(username: &str, email: &str) -> User {
    let now = Utc::now();
    User {
        id: UserId::new_random(),
        tenant_id: TenantId::default(),
        username: username.to_owned(),
        email: email.to_owned(),
        password_hash: String::new(),
        role: Role::User,
        permissions: vec![],
        status: UserStatus::Active,
        display_name: None,
        avatar_url: None,
        bio: None,
        last_login_at: None,
        created_at: now,
        updated_at: now,
    }
}

/// Remembers every reset token it was asked to send.
#[derive(Default)]
pub struct CapturingNotifier {
    pub sent: Mutex<Vec<(String, String)>>,
}

#[async_trait]
impl ResetNotifier for CapturingNotifier {
    async fn send_reset(&self, user: &User, token: &str) -> anyhow::Result<()> {
        self.sent
            .lock()
            .unwrap()
            .push((user.email.clone(), token.to_owned()));
        Ok(())
    }
}

/// A clock that only moves when told to.
pub struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    pub fn new() -> Self {
        Self(Mutex::new(Utc::now()))
    }
    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Default for FixedClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}
