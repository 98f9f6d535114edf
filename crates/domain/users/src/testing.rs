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
}

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
        let now = Utc::now();
        let u = User {
            id: UserId::new_random(),
            tenant_id: user.tenant_id,
            username: user.username.as_str().to_owned(),
            email: user.email.as_str().to_owned(),
            password_hash: user.password_hash,
            role: user.role,
            permissions: vec![],
            status: UserStatus::Active,
            display_name: None,
            avatar_url: None,
            bio: None,
            last_login_at: None,
            created_at: now,
            updated_at: now,
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
    async fn auth_state(&self, id: UserId, jti: Uuid) -> Result<Option<AuthState>, StoreError> {
        let revoked = self.revoked.lock().unwrap().contains(&jti);
        Ok(self.get(id).map(|u| AuthState {
            status: u.status,
            role: u.role,
            revoked,
        }))
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
    used: bool,
    revoked: bool,
}

/// A password-reset token: its user, when it expires, and whether it was used.
type ResetRow = (UserId, DateTime<Utc>, bool);

/// Session state kept in maps; access revocations are forwarded to the users fake.
pub struct InMemorySessions {
    refresh: Mutex<HashMap<Uuid, RefreshRow>>,
    resets: Mutex<HashMap<String, ResetRow>>,
    users: std::sync::Arc<InMemoryUsers>,
}

impl InMemorySessions {
    pub fn new(users: std::sync::Arc<InMemoryUsers>) -> Self {
        Self {
            refresh: Mutex::default(),
            resets: Mutex::default(),
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
                used: false,
                revoked: false,
            },
        );
        Ok(())
    }
    async fn consume_refresh(
        &self,
        jti: Uuid,
        now: DateTime<Utc>,
    ) -> Result<ConsumeOutcome, StoreError> {
        let mut map = self.refresh.lock().unwrap();
        let Some(row) = map.get_mut(&jti) else {
            return Ok(ConsumeOutcome::Invalid);
        };
        if row.revoked || row.record.expires_at <= now {
            return Ok(ConsumeOutcome::Invalid);
        }
        if row.used {
            return Ok(ConsumeOutcome::Replayed {
                user_id: row.record.user_id,
                family_id: row.record.family_id,
            });
        }
        row.used = true;
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
    ) -> Result<(), StoreError> {
        for r in self.refresh.lock().unwrap().values_mut() {
            if r.record.user_id == user_id {
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
}

/// "Hashes" as `plain:<password>`; hashes starting with `$2b$` verify but need a rehash.
pub struct PlainHasher;

#[async_trait]
impl PasswordHasher for PlainHasher {
    async fn hash(&self, password: &str) -> anyhow::Result<String> {
        Ok(format!("plain:{password}"))
    }
    async fn verify(&self, password: &str, hash: &str) -> anyhow::Result<PasswordCheck> {
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

/// Tokens of the form `kind|user|tenant|role|jti|exp_ts`, unsigned. For tests only.
pub struct FakeTokens {
    pub clock: std::sync::Arc<FixedClock>,
}

impl FakeTokens {
    fn sign(&self, kind: &str, user: &User, ttl: i64) -> SignedToken {
        let jti = Uuid::new_v4();
        let exp = self.clock.now() + Duration::seconds(ttl);
        SignedToken {
            token: format!(
                "{kind}|{}|{}|{}|{jti}|{}",
                user.id,
                user.tenant_id,
                user.role.as_str(),
                exp.timestamp()
            ),
            jti,
            expires_at: exp,
        }
    }
    fn parse(
        &self,
        kind: &str,
        token: &str,
    ) -> Result<(UserId, TenantId, Role, Uuid, DateTime<Utc>), TokenError> {
        let parts: Vec<&str> = token.split('|').collect();
        if parts.len() != 6 {
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
        if exp <= self.clock.now() {
            return Err(TokenError::Expired);
        }
        Ok((uid.into(), tid.into(), role, jti, exp))
    }
}

impl TokenService for FakeTokens {
    fn issue_access(&self, user: &User) -> anyhow::Result<SignedToken> {
        Ok(self.sign("access", user, 7200))
    }
    fn issue_refresh(&self, user: &User) -> anyhow::Result<SignedToken> {
        Ok(self.sign("refresh", user, 86400))
    }
    fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let (user_id, tenant_id, role, jti, expires_at) = self.parse("access", token)?;
        Ok(AccessClaims {
            user_id,
            tenant_id,
            role,
            jti,
            expires_at,
        })
    }
    fn verify_refresh(&self, token: &str) -> Result<RefreshClaims, TokenError> {
        let (user_id, tenant_id, _, jti, expires_at) = self.parse("refresh", token)?;
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
