//! The users service: the only place with the rules for registering, logging in, sessions,
//! profiles and passwords.

use crate::errors::UserError;
use crate::models::{
    AuthTokens, Email, NewPassword, NewUser, Principal, ProfileUpdate, Role, User, UserStatus,
    Username,
};
use crate::ports::{
    AccessClaims, AuthState, ConsumeOutcome, CreateUserError, Grant, PasswordCheck, PasswordHasher,
    RefreshRecord, ResetNotifier, SessionStore, TokenError, TokenService, UserRepository,
};
use ingenio_kernel::chrono::{DateTime, Duration, Utc};
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::{Clock, TenantId, UserId};
use std::sync::Arc;

/// Settings the service needs (taken from configuration by the server).
#[derive(Debug, Clone)]
pub struct UserServiceConfig {
    /// The tenant new accounts join.
    pub default_tenant: TenantId,
    /// Lifetime of a password-reset token.
    pub reset_token_ttl: Duration,
    /// Failed logins per name within `login_failure_window` after which the name is locked.
    pub login_max_failures: u32,
    /// How long failures are remembered (from the first one).
    pub login_failure_window: Duration,
    /// The first lock; each further failure doubles it, up to `login_failure_window`.
    pub login_lock: Duration,
    /// How long a spent refresh token still yields the pair it was traded for (two tabs
    /// refreshing at once); a replay after that revokes the session.
    pub refresh_grace: Duration,
}

impl UserServiceConfig {
    /// The documented defaults: 5 failures in 15 minutes lock a name for 30 s, doubling up to
    /// 15 minutes; a 10 s refresh grace; reset tokens live 30 minutes.
    pub fn with_defaults(default_tenant: TenantId) -> Self {
        Self {
            default_tenant,
            reset_token_ttl: Duration::minutes(30),
            login_max_failures: 5,
            login_failure_window: Duration::minutes(15),
            login_lock: Duration::seconds(30),
            refresh_grace: Duration::seconds(10),
        }
    }
}

/// Users use cases. Cheap to clone.
#[derive(Clone)]
pub struct UserService {
    users: Arc<dyn UserRepository>,
    sessions: Arc<dyn SessionStore>,
    hasher: Arc<dyn PasswordHasher>,
    tokens: Arc<dyn TokenService>,
    notifier: Arc<dyn ResetNotifier>,
    clock: Arc<dyn Clock>,
    config: UserServiceConfig,
}

/// Hash verified against unknown accounts so that "no such user" costs as much time as "wrong password".
const DUMMY_ARGON2: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0lLLWD0BjRnV2QOWu2fJQ7sTrhCuWnG4rwFoBcNKzQk";

impl UserService {
    pub fn new(
        users: Arc<dyn UserRepository>,
        sessions: Arc<dyn SessionStore>,
        hasher: Arc<dyn PasswordHasher>,
        tokens: Arc<dyn TokenService>,
        notifier: Arc<dyn ResetNotifier>,
        clock: Arc<dyn Clock>,
        config: UserServiceConfig,
    ) -> Self {
        Self {
            users,
            sessions,
            hasher,
            tokens,
            notifier,
            clock,
            config,
        }
    }

    /// Creates an account with role `user` and logs it in.
    pub async fn register(
        &self,
        username: &str,
        email: &str,
        password: &str,
    ) -> Result<AuthTokens, UserError> {
        let user = self
            .create_user(username, email, password, Role::User)
            .await?;
        self.start_session(user).await
    }

    /// Creates an account with the given role without logging in (admin bootstrap, seeding).
    pub async fn create_user(
        &self,
        username: &str,
        email: &str,
        password: &str,
        role: Role,
    ) -> Result<User, UserError> {
        let username = Username::parse(username)?;
        let email = Email::parse(email)?;
        let password = NewPassword::parse("password", password)?;
        let password_hash = self.hasher.hash(password.expose()).await?;
        let new = NewUser {
            tenant_id: self.config.default_tenant,
            username,
            email,
            password_hash,
            role,
        };
        match self.users.create(new).await {
            Ok(user) => Ok(user),
            Err(CreateUserError::UsernameTaken) => Err(UserError::UsernameTaken),
            Err(CreateUserError::EmailTaken) => Err(UserError::EmailTaken),
            Err(CreateUserError::Store(e)) => Err(e.into()),
        }
    }

    /// Logs in by username or email. Unknown account and wrong password are the same error, and
    /// cost the same time. A correct password on a disabled account is `AccountDisabled`.
    /// After `login_max_failures` failures for one name (whether or not an account has it) the
    /// name is locked: `TooManyAttempts` without checking the password, until the lock ends.
    pub async fn login(
        &self,
        username_or_email: &str,
        password: &str,
    ) -> Result<AuthTokens, UserError> {
        let login = username_or_email.trim();
        if login.is_empty() {
            return Err(UserError::invalid("usernameOrEmail", "must not be blank"));
        }
        if password.is_empty() {
            return Err(UserError::invalid("password", "must not be blank"));
        }
        let key = login.to_lowercase();
        let now = self.clock.now();
        if let Some(until) = self.sessions.login_locked_until(&key, now).await? {
            return Err(UserError::TooManyAttempts {
                retry_after_secs: seconds_until(until, now),
            });
        }
        if password.chars().count() > 1024 {
            return Err(self.login_failed(&key, now).await);
        }
        let found = self
            .users
            .find_by_login(self.config.default_tenant, login)
            .await?;
        let Some(user) = found else {
            // costs as much as a wrong password, and is refused the same way when saturated
            self.hasher.verify(password, DUMMY_ARGON2).await?;
            return Err(self.login_failed(&key, now).await);
        };
        let check = self.hasher.verify(password, &user.password_hash).await?;
        let PasswordCheck::Valid { needs_rehash } = check else {
            return Err(self.login_failed(&key, now).await);
        };
        self.sessions.clear_login_failures(&key).await?;
        if user.status != UserStatus::Active {
            return Err(UserError::AccountDisabled);
        }
        if needs_rehash {
            let fresh = self.hasher.hash(password).await?;
            self.users.set_password_hash(user.id, &fresh).await?;
        }
        self.users.touch_last_login(user.id, now).await?;
        self.start_session(user).await
    }

    /// Counts a failed login for `key`, locks the name once it has failed too often (the lock
    /// doubles with each further failure, capped at the failure window) and returns the error to
    /// answer: `BadCredentials`, or a storage error.
    async fn login_failed(&self, key: &str, now: DateTime<Utc>) -> UserError {
        let c = &self.config;
        let failures = match self
            .sessions
            .record_login_failure(key, now, c.login_failure_window)
            .await
        {
            Ok(n) => n,
            Err(e) => return e.into(),
        };
        if failures >= c.login_max_failures.max(1) {
            let doublings = (failures - c.login_max_failures.max(1)).min(20);
            let lock = c
                .login_lock
                .checked_mul(1 << doublings)
                .unwrap_or(c.login_failure_window)
                .min(c.login_failure_window);
            if let Err(e) = self.sessions.lock_login(key, now + lock).await {
                return e.into();
            }
        }
        UserError::BadCredentials
    }

    async fn start_session(&self, user: User) -> Result<AuthTokens, UserError> {
        let grant = self.new_grant(Uuid::new_v4());
        self.issue_tokens(user, grant).await
    }

    /// New ids for a pair of the session `session_id`, issued now.
    fn new_grant(&self, session_id: Uuid) -> Grant {
        Grant {
            session_id,
            access_jti: Uuid::new_v4(),
            refresh_jti: Uuid::new_v4(),
            issued_at: to_millis(self.clock.now()),
        }
    }

    /// Signs the pair of `grant` and records its refresh token.
    async fn issue_tokens(&self, user: User, grant: Grant) -> Result<AuthTokens, UserError> {
        let (tokens, refresh_expires_at) = self.sign_pair(user, &grant)?;
        self.sessions
            .store_refresh(RefreshRecord {
                jti: grant.refresh_jti,
                user_id: tokens.user.id,
                family_id: grant.session_id,
                expires_at: refresh_expires_at,
            })
            .await?;
        Ok(tokens)
    }

    /// Signs the pair of `grant` (deterministic: the same grant gives the same tokens) and returns
    /// it with the refresh token's expiry.
    fn sign_pair(
        &self,
        user: User,
        grant: &Grant,
    ) -> Result<(AuthTokens, DateTime<Utc>), UserError> {
        let access = self.tokens.issue_access(&user, grant)?;
        let refresh = self.tokens.issue_refresh(&user, grant)?;
        Ok((
            AuthTokens {
                access_token: access.token,
                refresh_token: refresh.token,
                expires_in: self.tokens.access_ttl_seconds(),
                user,
            },
            refresh.expires_at,
        ))
    }

    /// The active account a refresh token names; a disabled one ends the session.
    async fn refreshing_user(
        &self,
        tenant: TenantId,
        user_id: UserId,
        family_id: Uuid,
    ) -> Result<User, UserError> {
        let user = self
            .users
            .find_by_id(tenant, user_id)
            .await?
            .ok_or(UserError::Unauthenticated("account no longer exists"))?;
        if user.status != UserStatus::Active {
            self.sessions
                .revoke_family(family_id, self.clock.now())
                .await?;
            return Err(UserError::AccountDisabled);
        }
        Ok(user)
    }

    /// Trades a refresh token for a new pair. The presented token is spent; presenting it again
    /// within `refresh_grace` (a refresh race between two tabs) gives the same new pair, and
    /// later revokes its whole family (it was stolen or replayed).
    pub async fn refresh(&self, refresh_token: &str) -> Result<AuthTokens, UserError> {
        let claims = self
            .tokens
            .verify_refresh(strip_bearer(refresh_token))
            .map_err(token_error)?;
        let now = self.clock.now();
        let fresh = self.new_grant(Uuid::nil());
        let outcome = self
            .sessions
            .consume_refresh(
                claims.jti,
                fresh.issued_at,
                (fresh.access_jti, fresh.refresh_jti),
                self.config.refresh_grace,
            )
            .await?;
        match outcome {
            ConsumeOutcome::Consumed { user_id, family_id } => {
                let user = self
                    .refreshing_user(claims.tenant_id, user_id, family_id)
                    .await?;
                let grant = Grant {
                    session_id: family_id,
                    ..fresh
                };
                self.issue_tokens(user, grant).await
            }
            ConsumeOutcome::Raced { user_id, grant } => {
                let user = self
                    .refreshing_user(claims.tenant_id, user_id, grant.session_id)
                    .await?;
                Ok(self.sign_pair(user, &grant)?.0)
            }
            ConsumeOutcome::Replayed { family_id, .. } => {
                self.sessions.revoke_family(family_id, now).await?;
                Err(UserError::Unauthenticated("refresh token was already used"))
            }
            ConsumeOutcome::Invalid => {
                Err(UserError::Unauthenticated("refresh token is not valid"))
            }
        }
    }

    /// Verifies an access token and checks, in one storage round trip, that it is not revoked and
    /// that its account is still active.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, UserError> {
        let claims = self.verified(token)?;
        let state = self
            .users
            .auth_state(claims.user_id, claims.jti)
            .await?
            .ok_or(UserError::Unauthenticated("account no longer exists"))?;
        admit(&claims, &state)
    }

    /// [`Self::authenticate`] and [`Self::me`] in one storage round trip (`GET /auth/me`): the
    /// same checks, in the same order, then the account itself.
    pub async fn authenticate_me(&self, token: &str) -> Result<(Principal, User), UserError> {
        let claims = self.verified(token)?;
        let (state, user) = self
            .users
            .auth_state_with_user(claims.user_id, claims.jti)
            .await?
            .ok_or(UserError::Unauthenticated("account no longer exists"))?;
        let principal = admit(&claims, &state)?;
        if user.tenant_id != principal.tenant_id {
            return Err(UserError::NotFound);
        }
        Ok((principal, user))
    }

    fn verified(&self, token: &str) -> Result<AccessClaims, UserError> {
        self.tokens
            .verify_access(strip_bearer(token))
            .map_err(token_error)
    }

    /// Ends the caller's session: revokes the access token and every refresh token of its
    /// session, with or without the refresh token in the body (a given refresh token of the caller
    /// is revoked too, for tokens issued before sessions were named).
    pub async fn logout(
        &self,
        principal: &Principal,
        refresh_token: Option<&str>,
    ) -> Result<(), UserError> {
        let now = self.clock.now();
        self.sessions
            .revoke_access(principal.jti, principal.user_id, principal.expires_at)
            .await?;
        if let Some(session) = principal.session_id {
            self.sessions.revoke_family(session, now).await?;
        }
        if let Some(token) = refresh_token.filter(|t| !t.trim().is_empty()) {
            if let Ok(claims) = self.tokens.verify_refresh(strip_bearer(token)) {
                if claims.user_id == principal.user_id {
                    self.sessions.revoke_refresh(claims.jti, now).await?;
                }
            }
        }
        Ok(())
    }

    /// The caller's account.
    pub async fn me(&self, principal: &Principal) -> Result<User, UserError> {
        self.users
            .find_by_id(principal.tenant_id, principal.user_id)
            .await?
            .ok_or(UserError::NotFound)
    }

    pub async fn update_profile(
        &self,
        principal: &Principal,
        update: ProfileUpdate,
    ) -> Result<User, UserError> {
        self.users
            .update_profile(principal.tenant_id, principal.user_id, &update)
            .await?
            .ok_or(UserError::NotFound)
    }

    /// Changes the password after checking the old one; every other session of the account ends
    /// at once (access and refresh tokens), the caller's own session stays logged in.
    pub async fn change_password(
        &self,
        principal: &Principal,
        old_password: &str,
        new_password: &str,
    ) -> Result<(), UserError> {
        let new_password = NewPassword::parse("newPassword", new_password)?;
        let user = self.me(principal).await?;
        match self
            .hasher
            .verify(old_password, &user.password_hash)
            .await?
        {
            PasswordCheck::Valid { .. } => {}
            PasswordCheck::Invalid => {
                return Err(UserError::invalid("oldPassword", "is not correct"));
            }
        }
        if old_password == new_password.expose() {
            return Err(UserError::invalid(
                "newPassword",
                "must differ from the current password",
            ));
        }
        let hash = self.hasher.hash(new_password.expose()).await?;
        self.end_sessions(user.id, &hash, principal.session_id)
            .await?;
        Ok(())
    }

    /// Stores a new password hash and ends every session but `keep`: tokens issued before now are
    /// refused by [`Self::authenticate`], refresh tokens are revoked. `Ok(false)`: no such user.
    async fn end_sessions(
        &self,
        user_id: UserId,
        hash: &str,
        keep: Option<Uuid>,
    ) -> Result<bool, UserError> {
        let now = to_millis(self.clock.now());
        if !self
            .users
            .set_password_ending_sessions(user_id, hash, now, keep)
            .await?
        {
            return Ok(false);
        }
        self.sessions.revoke_all_refresh(user_id, now, keep).await?;
        Ok(true)
    }

    /// Starts a password reset. Always succeeds for a well-formed email so accounts cannot be
    /// probed; a token is only created and sent when an active account has that email.
    pub async fn request_password_reset(&self, email: &str) -> Result<(), UserError> {
        let email = Email::parse(email)?;
        let Some(user) = self
            .users
            .find_by_login(self.config.default_tenant, email.as_str())
            .await?
        else {
            return Ok(());
        };
        if user.status != UserStatus::Active || user.email != email.as_str() {
            return Ok(());
        }
        let (token, hash) = self.tokens.new_reset_token();
        let expires_at = self.clock.now() + self.config.reset_token_ttl;
        self.sessions
            .store_reset_token(&hash, user.id, expires_at)
            .await?;
        self.notifier.send_reset(&user, &token).await?;
        Ok(())
    }

    /// Sets a new password with a reset token (single use) and revokes every session.
    pub async fn confirm_password_reset(
        &self,
        token: &str,
        new_password: &str,
    ) -> Result<(), UserError> {
        let new_password = NewPassword::parse("newPassword", new_password)?;
        let token = token.trim();
        if token.is_empty() {
            return Err(UserError::invalid("token", "must not be blank"));
        }
        let now = self.clock.now();
        let hash = self.tokens.hash_reset_token(token);
        let user_id = self
            .sessions
            .consume_reset_token(&hash, now)
            .await?
            .ok_or_else(|| UserError::invalid("token", "is invalid or has expired"))?;
        let password_hash = self.hasher.hash(new_password.expose()).await?;
        if !self.end_sessions(user_id, &password_hash, None).await? {
            return Err(UserError::invalid("token", "is invalid or has expired"));
        }
        Ok(())
    }

    /// Grants a role (and activates) an existing account: used to make the first admin.
    pub async fn set_role(&self, login: &str, role: Role) -> Result<User, UserError> {
        let user = self
            .users
            .find_by_login(self.config.default_tenant, login)
            .await?
            .ok_or(UserError::NotFound)?;
        self.users
            .set_role_and_status(user.id, role, UserStatus::Active)
            .await?;
        self.users
            .find_by_id(user.tenant_id, user.id)
            .await?
            .ok_or(UserError::NotFound)
    }

    /// Looks up a user by id within the default tenant (admin tooling).
    pub async fn find(&self, id: UserId) -> Result<Option<User>, UserError> {
        Ok(self
            .users
            .find_by_id(self.config.default_tenant, id)
            .await?)
    }
}

/// The session rules applied to a verified token and its account's state: not revoked, not
/// ended by a password change (unless it is the session that made it), account active.
fn admit(claims: &AccessClaims, state: &AuthState) -> Result<Principal, UserError> {
    if state.revoked {
        return Err(UserError::Unauthenticated("token has been revoked"));
    }
    if let Some(after) = state.sessions_valid_after {
        let kept = claims.session_id.is_some() && claims.session_id == state.kept_session;
        if claims.issued_at < after && !kept {
            return Err(UserError::Unauthenticated(
                "session ended by a password change",
            ));
        }
    }
    if state.status != UserStatus::Active {
        return Err(UserError::AccountDisabled);
    }
    Ok(Principal {
        user_id: claims.user_id,
        tenant_id: claims.tenant_id,
        role: state.role,
        jti: claims.jti,
        expires_at: claims.expires_at,
        session_id: claims.session_id,
    })
}

/// `t` truncated to whole milliseconds, the precision of a token's issue time.
fn to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

/// Whole seconds from `now` until `until`, rounded up, at least 1 (for `Retry-After`).
fn seconds_until(until: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    let ms = (until - now).num_milliseconds().max(0);
    u64::try_from((ms + 999) / 1000).unwrap_or(1).max(1)
}

fn strip_bearer(token: &str) -> &str {
    let t = token.trim();
    match t.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("bearer ") => t[7..].trim(),
        _ => t,
    }
}

fn token_error(e: TokenError) -> UserError {
    match e {
        TokenError::Invalid => UserError::Unauthenticated("token is invalid"),
        TokenError::Expired => UserError::Unauthenticated("token has expired"),
        TokenError::WrongKind => UserError::Unauthenticated("token is of the wrong kind"),
    }
}

#[cfg(test)]
mod tests;
