//! Ports of the users domain. Each method documents the errors an adapter MUST return; adapters
//! map their own failures onto these and never leak driver error types.

use crate::models::{NewUser, ProfileUpdate, Role, User, UserStatus};
use async_trait::async_trait;
use ingenio_kernel::chrono::{DateTime, Duration, Utc};
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::{StoreError, TenantId, UserId};

/// Why an insert of a new user was refused.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("username taken")]
    UsernameTaken,
    #[error("email taken")]
    EmailTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the authentication check needs to know about a token's user, in one round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthState {
    pub status: UserStatus,
    pub role: Role,
    /// The access token's `jti` has been revoked (logout).
    pub revoked: bool,
    /// Tokens issued before this instant are no longer valid (set by a password change or reset)…
    pub sessions_valid_after: Option<DateTime<Utc>>,
    /// …except those of this session (the one that changed the password).
    pub kept_session: Option<Uuid>,
}

/// Storage of user accounts.
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Inserts a user. MUST return `UsernameTaken` / `EmailTaken` on a (case-insensitive) duplicate,
    /// `Store(Unavailable)` when the database cannot be reached.
    async fn create(&self, user: NewUser) -> Result<User, CreateUserError>;
    /// `Ok(None)` when no such user exists in the tenant.
    async fn find_by_id(&self, tenant: TenantId, id: UserId) -> Result<Option<User>, StoreError>;
    /// Looks a user up by username or email (case-insensitive). `Ok(None)` when unknown.
    async fn find_by_login(
        &self,
        tenant: TenantId,
        username_or_email: &str,
    ) -> Result<Option<User>, StoreError>;
    /// Replaces the password hash. `Ok(false)` when the user does not exist.
    async fn set_password_hash(&self, id: UserId, hash: &str) -> Result<bool, StoreError>;
    /// Records a successful login.
    async fn touch_last_login(&self, id: UserId, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Applies a profile change and returns the updated user; `Ok(None)` when the user is gone.
    async fn update_profile(
        &self,
        tenant: TenantId,
        id: UserId,
        update: &ProfileUpdate,
    ) -> Result<Option<User>, StoreError>;
    /// Replaces the password hash and, in the same write, ends every session issued before `at`
    /// except `keep` (see [`AuthState::sessions_valid_after`]). `Ok(false)` when the user does not
    /// exist.
    async fn set_password_ending_sessions(
        &self,
        id: UserId,
        hash: &str,
        at: DateTime<Utc>,
        keep: Option<Uuid>,
    ) -> Result<bool, StoreError>;
    /// Status, role, whether `jti` is revoked and since when sessions are valid, in one round trip
    /// (an indexed lookup); `Ok(None)` when the user no longer exists.
    async fn auth_state(&self, id: UserId, jti: Uuid) -> Result<Option<AuthState>, StoreError>;
    /// [`Self::auth_state`] and the user itself (whatever its tenant), in the same single round
    /// trip, for requests whose answer is the caller's own account; `Ok(None)` when the user no
    /// longer exists.
    async fn auth_state_with_user(
        &self,
        id: UserId,
        jti: Uuid,
    ) -> Result<Option<(AuthState, User)>, StoreError>;
    /// Changes role and status (admin operations, first-admin bootstrap).
    async fn set_role_and_status(
        &self,
        id: UserId,
        role: Role,
        status: UserStatus,
    ) -> Result<bool, StoreError>;
}

/// A refresh token as stored (only its id; the token itself is signed and never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    pub jti: Uuid,
    pub user_id: UserId,
    /// All tokens descending from one login share a family; reuse of a spent token revokes it.
    pub family_id: Uuid,
    pub expires_at: DateTime<Utc>,
}

/// The ids and issue time of one access + refresh pair. Signing the same grant again with the same
/// key yields the same tokens, which is how a refresh race gets one pair twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// The session (refresh-token family) both tokens belong to.
    pub session_id: Uuid,
    pub access_jti: Uuid,
    pub refresh_jti: Uuid,
    pub issued_at: DateTime<Utc>,
}

/// The outcome of spending a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumeOutcome {
    /// It was unspent and unexpired; it is now spent and `successor` recorded as its replacement.
    Consumed { user_id: UserId, family_id: Uuid },
    /// It was spent less than the grace period ago (two tabs refreshing at once): the pair issued
    /// then is `grant`, to be signed again.
    Raced { user_id: UserId, grant: Grant },
    /// It had been spent before: a replay. The caller revokes the family.
    Replayed { user_id: UserId, family_id: Uuid },
    /// Unknown, revoked or expired.
    Invalid,
}

/// Server-side session state: refresh tokens, revoked access tokens, password-reset tokens.
#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn store_refresh(&self, record: RefreshRecord) -> Result<(), StoreError>;
    /// Atomically marks the token spent at `now` and records `successor` (the ids of the pair
    /// about to be issued). Two concurrent calls for one token: exactly one gets `Consumed`; the
    /// other gets `Raced` with the winner's successor when the token was spent at most `grace` ago
    /// (and its family is not revoked), `Replayed` otherwise.
    async fn consume_refresh(
        &self,
        jti: Uuid,
        now: DateTime<Utc>,
        successor: (Uuid, Uuid),
        grace: Duration,
    ) -> Result<ConsumeOutcome, StoreError>;
    /// Revokes one refresh token (logout). Unknown ids are ignored.
    async fn revoke_refresh(&self, jti: Uuid, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Revokes every unexpired token of a family (replay detected).
    async fn revoke_family(&self, family_id: Uuid, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Revokes every refresh token of a user (password change or reset) except those of the
    /// family `keep`.
    async fn revoke_all_refresh(
        &self,
        user_id: UserId,
        now: DateTime<Utc>,
        keep: Option<Uuid>,
    ) -> Result<(), StoreError>;
    /// Puts an access token's `jti` on the deny-list until it would have expired anyway.
    async fn revoke_access(
        &self,
        jti: Uuid,
        user_id: UserId,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Stores the hash of a password-reset token.
    async fn store_reset_token(
        &self,
        token_hash: &str,
        user_id: UserId,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Spends a reset token; returns its user when it was unspent and unexpired.
    async fn consume_reset_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<UserId>, StoreError>;
    /// Until when logins with this (normalised) name are refused; `None` when they are not.
    /// Kept per name whether or not an account has it, so the lock reveals nothing.
    async fn login_locked_until(
        &self,
        login: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// Counts a failed login for this name and returns the failures in the current window (a
    /// window starts at the first failure and lasts `window`; an older count starts over).
    async fn record_login_failure(
        &self,
        login: &str,
        now: DateTime<Utc>,
        window: Duration,
    ) -> Result<u32, StoreError>;
    /// Refuses logins with this name until `until` (or a later lock already set: concurrent
    /// failures never shorten a lock).
    async fn lock_login(&self, login: &str, until: DateTime<Utc>) -> Result<(), StoreError>;
    /// Forgets the failures of this name (a successful login).
    async fn clear_login_failures(&self, login: &str) -> Result<(), StoreError>;
}

/// The result of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCheck {
    Invalid,
    /// Correct; `needs_rehash` when the hash uses an outdated scheme (bcrypt) or parameters.
    Valid {
        needs_rehash: bool,
    },
}

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every hashing slot stayed busy for the adapter's whole wait: try again in `retry_after_secs`.
    #[error("password hashing is saturated")]
    Saturated { retry_after_secs: u64 },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Password hashing (argon2id, with bcrypt hashes still verifiable). Adapters bound how many
/// hashes run at once and answer `Saturated` rather than queue without limit.
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    async fn hash(&self, password: &str) -> Result<String, HashError>;
    /// A malformed stored hash is `Invalid`, not an error.
    async fn verify(&self, password: &str, hash: &str) -> Result<PasswordCheck, HashError>;
}

/// Claims of a verified access token.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessClaims {
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub role: Role,
    pub jti: Uuid,
    pub expires_at: DateTime<Utc>,
    /// When it was issued (millisecond precision).
    pub issued_at: DateTime<Utc>,
    /// The session (refresh-token family) it belongs to; `None` for tokens issued before sessions
    /// were named.
    pub session_id: Option<Uuid>,
}

/// Claims of a verified refresh token.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshClaims {
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub jti: Uuid,
    pub expires_at: DateTime<Utc>,
}

/// A freshly signed token.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedToken {
    pub token: String,
    pub jti: Uuid,
    pub expires_at: DateTime<Utc>,
}

/// Why a token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is malformed or its signature is invalid")]
    Invalid,
    #[error("token has expired")]
    Expired,
    #[error("token is of the wrong kind")]
    WrongKind,
}

/// Issuing and verifying tokens (JWT HS256 with key rotation in the server crate).
pub trait TokenService: Send + Sync {
    /// Signs the access token of `grant`; the same user and grant give the same token.
    fn issue_access(&self, user: &User, grant: &Grant) -> anyhow::Result<SignedToken>;
    /// Signs the refresh token of `grant`; the same user and grant give the same token.
    fn issue_refresh(&self, user: &User, grant: &Grant) -> anyhow::Result<SignedToken>;
    fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError>;
    fn verify_refresh(&self, token: &str) -> Result<RefreshClaims, TokenError>;
    /// Access token lifetime in seconds.
    fn access_ttl_seconds(&self) -> u64;
    /// A new random password-reset token and the hash under which it is stored.
    fn new_reset_token(&self) -> (String, String);
    /// The storage hash of a reset token presented by a client.
    fn hash_reset_token(&self, token: &str) -> String;
}

/// Delivers a password-reset token to its owner (mail in prod, the log in dev).
///
/// The service awaits it inside the reset request, and an error becomes that request's answer;
/// so a slow or failing transport must be wrapped to deliver in the background (the server crate
/// does), or the answer would tell which emails have accounts.
#[async_trait]
pub trait ResetNotifier: Send + Sync {
    async fn send_reset(&self, user: &User, token: &str) -> anyhow::Result<()>;
}

/// One plain-text mail to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The recipient's address.
    pub to: String,
    pub subject: String,
    /// UTF-8 text body (several languages may share it).
    pub text: String,
}

/// Sends mail (SMTP in the mail adapter). `Err` when the transport refused or failed; the sender
/// address and the transport's timeouts are the adapter's configuration.
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: &Mail) -> anyhow::Result<()>;
}
