//! Auth and user routes (SPEC §4 "Auth and users"): register, login, refresh, logout, me,
//! profile, password change and reset.

use crate::http::envelope::{self, Envelope};
use crate::http::error::ApiError;
use crate::http::extract::{authenticate_with_account, AuthUser};
use crate::state::AppState;
use actix_web::{get, post, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use ingenio_users::{AuthTokens, ProfileUpdate, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(register)
        .service(login)
        .service(refresh)
        .service(logout)
        .service(me)
        .service(reset_request)
        .service(reset_confirm)
        .service(get_profile)
        .service(update_profile)
        .service(change_password);
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// 3–20 letters, digits or underscores.
    #[schema(example = "xiaoming_01")]
    pub username: String,
    #[schema(example = "xiaoming@example.com")]
    pub email: String,
    /// 8–128 characters with a letter and a digit.
    #[schema(example = "secret123")]
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginRequest {
    /// A username or an email address.
    #[schema(example = "xiaoming_01")]
    pub username_or_email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogoutRequest {
    /// Also revoke this refresh token.
    #[serde(default)]
    pub refresh_token: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetRequest {
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResetConfirm {
    pub token: String,
    pub new_password: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileRequest {
    /// Absent: unchanged; empty string: cleared.
    pub display_name: Option<String>,
    pub avatar_url: Option<String>,
    pub bio: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordRequest {
    pub old_password: String,
    pub new_password: String,
}

/// Tokens returned by register, login and refresh.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    pub token: String,
    pub refresh_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub user_id: uuid::Uuid,
    pub username: String,
    pub email: String,
    #[schema(example = "user")]
    pub role: &'static str,
}

impl From<AuthTokens> for TokenResponse {
    fn from(t: AuthTokens) -> Self {
        Self {
            token: t.access_token,
            refresh_token: t.refresh_token,
            token_type: "Bearer",
            expires_in: t.expires_in,
            user_id: t.user.id.as_uuid(),
            username: t.user.username,
            email: t.user.email,
            role: t.user.role.as_str(),
        }
    }
}

/// A user as the API shows it (never the password hash).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserResponse {
    pub id: uuid::Uuid,
    pub tenant_id: uuid::Uuid,
    pub username: String,
    pub email: String,
    pub role: &'static str,
    pub status: &'static str,
    pub permissions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bio: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<User> for UserResponse {
    fn from(u: User) -> Self {
        Self {
            id: u.id.as_uuid(),
            tenant_id: u.tenant_id.as_uuid(),
            username: u.username,
            email: u.email,
            role: u.role.as_str(),
            status: u.status.as_str(),
            permissions: u.permissions,
            display_name: u.display_name,
            avatar_url: u.avatar_url,
            bio: u.bio,
            last_login_at: u.last_login_at,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// Create an account and log it in.
#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 200, description = "Registered and logged in", body = inline(Envelope<TokenResponse>)),
        (status = 400, description = "1001 invalid field (data names it)", body = inline(Envelope<serde_json::Value>)),
        (status = 409, description = "2001 username or email taken", body = inline(Envelope<serde_json::Value>)),
        (status = 503, description = "1000 password hashing saturated (Retry-After) or storage unavailable", body = inline(Envelope<serde_json::Value>)),
    ))]
#[post("/auth/register")]
pub async fn register(
    state: web::Data<AppState>,
    body: web::Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let t = state
        .users
        .register(&body.username, &body.email, &body.password)
        .await?;
    Ok(envelope::ok(TokenResponse::from(t)))
}

/// Log in by username or email.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = inline(Envelope<TokenResponse>)),
        (status = 401, description = "2002 bad credentials (also for unknown accounts)", body = inline(Envelope<serde_json::Value>)),
        (status = 403, description = "2003 account disabled", body = inline(Envelope<serde_json::Value>)),
        (status = 429, description = "1005 too many failed logins for this name (the same for unknown names); Retry-After says when to retry", body = inline(Envelope<serde_json::Value>)),
        (status = 503, description = "1000 password hashing saturated (Retry-After) or storage unavailable", body = inline(Envelope<serde_json::Value>)),
    ))]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let t = state
        .users
        .login(&body.username_or_email, &body.password)
        .await?;
    Ok(envelope::ok(TokenResponse::from(t)))
}

/// Trade a refresh token for a new pair; the old refresh token stops working (presented again
/// within the refresh grace it returns the same pair; later it ends the session).
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = inline(Envelope<TokenResponse>)),
        (status = 401, description = "1003 invalid, expired, revoked or already used", body = inline(Envelope<serde_json::Value>)),
    ))]
#[post("/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let t = state.users.refresh(&body.refresh_token).await?;
    Ok(envelope::ok(TokenResponse::from(t)))
}

/// End the session: the access token and the session's refresh token (the body is optional).
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", request_body(content = LogoutRequest, description = "optional"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Logged out", body = inline(Envelope<serde_json::Value>)),
        (status = 401, description = "1003 not authenticated", body = inline(Envelope<serde_json::Value>)),
    ))]
#[post("/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    AuthUser(p): AuthUser,
    body: Option<web::Json<LogoutRequest>>,
) -> Result<HttpResponse, ApiError> {
    let refresh_token = body.and_then(|b| b.into_inner().refresh_token);
    state.users.logout(&p, refresh_token.as_deref()).await?;
    Ok(envelope::done("logged out"))
}

/// The caller's account.
#[utoipa::path(get, path = "/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = inline(Envelope<UserResponse>)),
        (status = 401, description = "1003 not authenticated", body = inline(Envelope<serde_json::Value>)),
        (status = 403, description = "2003 account disabled", body = inline(Envelope<serde_json::Value>)),
        (status = 404, description = "2000 the account is not in the token's tenant", body = inline(Envelope<serde_json::Value>)),
        (status = 503, description = "1000 storage unavailable", body = inline(Envelope<serde_json::Value>)),
    ))]
#[get("/auth/me")]
pub async fn me(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    // the session check and the read of the account in one round trip
    let (_, u) = authenticate_with_account(&req).await?;
    Ok(envelope::ok(UserResponse::from(u)))
}

/// Ask for a password-reset token (always 200, so accounts cannot be probed).
#[utoipa::path(post, path = "/v1/auth/reset-password/request", tag = "auth", request_body = ResetRequest,
    responses(
        (status = 200, description = "If the account exists a token was sent", body = inline(Envelope<serde_json::Value>)),
        (status = 400, description = "1001 malformed email", body = inline(Envelope<serde_json::Value>)),
    ))]
#[post("/auth/reset-password/request")]
pub async fn reset_request(
    state: web::Data<AppState>,
    body: web::Json<ResetRequest>,
) -> Result<HttpResponse, ApiError> {
    state.users.request_password_reset(&body.email).await?;
    Ok(envelope::done(
        "if an account with that email exists, a reset token has been sent",
    ))
}

/// Set a new password with a reset token (single use; every session ends at once, access tokens
/// included).
#[utoipa::path(post, path = "/v1/auth/reset-password/confirm", tag = "auth", request_body = ResetConfirm,
    responses(
        (status = 200, description = "Password changed", body = inline(Envelope<serde_json::Value>)),
        (status = 400, description = "1001 invalid or expired token, weak password", body = inline(Envelope<serde_json::Value>)),
        (status = 503, description = "1000 password hashing saturated (Retry-After) or storage unavailable", body = inline(Envelope<serde_json::Value>)),
    ))]
#[post("/auth/reset-password/confirm")]
pub async fn reset_confirm(
    state: web::Data<AppState>,
    body: web::Json<ResetConfirm>,
) -> Result<HttpResponse, ApiError> {
    state
        .users
        .confirm_password_reset(&body.token, &body.new_password)
        .await?;
    Ok(envelope::done("password has been reset"))
}

/// The caller's profile.
#[utoipa::path(get, path = "/v1/user/profile", tag = "user", security(("bearer" = [])),
    responses((status = 200, description = "Profile", body = inline(Envelope<UserResponse>))))]
#[get("/user/profile")]
pub async fn get_profile(
    state: web::Data<AppState>,
    AuthUser(p): AuthUser,
) -> Result<HttpResponse, ApiError> {
    let u = state.users.me(&p).await?;
    Ok(envelope::ok(UserResponse::from(u)))
}

/// Update display name, avatar and bio.
#[utoipa::path(put, path = "/v1/user/profile", tag = "user", security(("bearer" = [])), request_body = ProfileRequest,
    responses(
        (status = 200, description = "Updated profile", body = inline(Envelope<UserResponse>)),
        (status = 400, description = "1001 invalid field", body = inline(Envelope<serde_json::Value>)),
    ))]
#[put("/user/profile")]
pub async fn update_profile(
    state: web::Data<AppState>,
    AuthUser(p): AuthUser,
    body: web::Json<ProfileRequest>,
) -> Result<HttpResponse, ApiError> {
    let update = ProfileUpdate::parse(
        body.display_name.as_deref(),
        body.avatar_url.as_deref(),
        body.bio.as_deref(),
    )?;
    let u = state.users.update_profile(&p, update).await?;
    Ok(envelope::ok(UserResponse::from(u)))
}

/// Change the password; every other session ends at once (access tokens included), the caller's
/// stays logged in.
#[utoipa::path(put, path = "/v1/user/password", tag = "user", security(("bearer" = [])), request_body = PasswordRequest,
    responses(
        (status = 200, description = "Password changed", body = inline(Envelope<serde_json::Value>)),
        (status = 400, description = "1001 wrong old password or weak new one", body = inline(Envelope<serde_json::Value>)),
        (status = 503, description = "1000 password hashing saturated (Retry-After) or storage unavailable", body = inline(Envelope<serde_json::Value>)),
    ))]
#[put("/user/password")]
pub async fn change_password(
    state: web::Data<AppState>,
    AuthUser(p): AuthUser,
    body: web::Json<PasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    state
        .users
        .change_password(&p, &body.old_password, &body.new_password)
        .await?;
    Ok(envelope::done("password changed"))
}
