//! The users service: the only place with the rules for registering, logging in, sessions,
//! profiles and passwords.

use crate::errors::UserError;
use crate::models::{
    AuthTokens, Email, NewPassword, NewUser, Principal, ProfileUpdate, Role, User, UserStatus,
    Username,
};
use crate::ports::{
    ConsumeOutcome, CreateUserError, PasswordCheck, PasswordHasher, RefreshRecord, ResetNotifier,
    SessionStore, TokenError, TokenService, UserRepository,
};
use ingenio_kernel::chrono::Duration;
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
        if password.chars().count() > 1024 {
            return Err(UserError::BadCredentials);
        }
        let found = self
            .users
            .find_by_login(self.config.default_tenant, login)
            .await?;
        let Some(user) = found else {
            let _ = self.hasher.verify(password, DUMMY_ARGON2).await;
            return Err(UserError::BadCredentials);
        };
        let check = self.hasher.verify(password, &user.password_hash).await?;
        let PasswordCheck::Valid { needs_rehash } = check else {
            return Err(UserError::BadCredentials);
        };
        if user.status != UserStatus::Active {
            return Err(UserError::AccountDisabled);
        }
        if needs_rehash {
            let fresh = self.hasher.hash(password).await?;
            self.users.set_password_hash(user.id, &fresh).await?;
        }
        self.users
            .touch_last_login(user.id, self.clock.now())
            .await?;
        self.start_session(user).await
    }

    async fn start_session(&self, user: User) -> Result<AuthTokens, UserError> {
        self.issue_tokens(user, Uuid::new_v4()).await
    }

    async fn issue_tokens(&self, user: User, family_id: Uuid) -> Result<AuthTokens, UserError> {
        let access = self.tokens.issue_access(&user)?;
        let refresh = self.tokens.issue_refresh(&user)?;
        self.sessions
            .store_refresh(RefreshRecord {
                jti: refresh.jti,
                user_id: user.id,
                family_id,
                expires_at: refresh.expires_at,
            })
            .await?;
        Ok(AuthTokens {
            access_token: access.token,
            refresh_token: refresh.token,
            expires_in: self.tokens.access_ttl_seconds(),
            user,
        })
    }

    /// Trades a refresh token for a new pair. The presented token is spent; presenting a spent
    /// token again revokes its whole family (it was stolen or replayed).
    pub async fn refresh(&self, refresh_token: &str) -> Result<AuthTokens, UserError> {
        let claims = self
            .tokens
            .verify_refresh(strip_bearer(refresh_token))
            .map_err(token_error)?;
        let now = self.clock.now();
        match self.sessions.consume_refresh(claims.jti, now).await? {
            ConsumeOutcome::Consumed { user_id, family_id } => {
                let user = self
                    .users
                    .find_by_id(claims.tenant_id, user_id)
                    .await?
                    .ok_or(UserError::Unauthenticated("account no longer exists"))?;
                if user.status != UserStatus::Active {
                    self.sessions.revoke_family(family_id, now).await?;
                    return Err(UserError::AccountDisabled);
                }
                self.issue_tokens(user, family_id).await
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
        let claims = self
            .tokens
            .verify_access(strip_bearer(token))
            .map_err(token_error)?;
        let state = self
            .users
            .auth_state(claims.user_id, claims.jti)
            .await?
            .ok_or(UserError::Unauthenticated("account no longer exists"))?;
        if state.revoked {
            return Err(UserError::Unauthenticated("token has been revoked"));
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
        })
    }

    /// Revokes the caller's access token and, if given and theirs, the refresh token.
    pub async fn logout(
        &self,
        principal: &Principal,
        refresh_token: Option<&str>,
    ) -> Result<(), UserError> {
        let now = self.clock.now();
        self.sessions
            .revoke_access(principal.jti, principal.user_id, principal.expires_at)
            .await?;
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

    /// Changes the password after checking the old one; every refresh token of the account is
    /// revoked so other devices must log in again.
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
        self.users.set_password_hash(user.id, &hash).await?;
        self.sessions
            .revoke_all_refresh(user.id, self.clock.now())
            .await?;
        Ok(())
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
        if !self
            .users
            .set_password_hash(user_id, &password_hash)
            .await?
        {
            return Err(UserError::invalid("token", "is invalid or has expired"));
        }
        self.sessions.revoke_all_refresh(user_id, now).await?;
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
