//! Extractors: the authenticated caller (`AuthUser`), an optional caller (`MaybeUser`), the writer guard
//! (`WriterUser`: every role but `viewer`) and the admin guard.

use crate::http::error::ApiError;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures::future::LocalBoxFuture;
use ingenio_users::{Principal, User};

/// The bearer token of a request: `Authorization: Bearer <t>`, or the raw token without prefix.
pub fn bearer_token(req: &HttpRequest) -> Option<String> {
    let raw = req
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let token = match raw.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("bearer ") => raw[7..].trim(),
        _ => raw,
    };
    (!token.is_empty()).then(|| token.to_owned())
}

/// The verified caller. Missing or bad token → 401 `1003`; disabled account → 403 `2003`.
#[derive(Debug, Clone)]
pub struct AuthUser(pub Principal);

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req, bearer_token(&req)).await.map(AuthUser) })
    }
}

/// Verifies `token` (once per request: the principal is cached in the request's extensions).
async fn authenticate(req: &HttpRequest, token: Option<String>) -> Result<Principal, ApiError> {
    if let Some(p) = req.extensions().get::<Principal>() {
        return Ok(p.clone());
    }
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal(&anyhow::anyhow!("app state missing")))?;
    let token = token.ok_or_else(|| ApiError::unauthenticated("authentication required"))?;
    let principal = state.users.authenticate(&token).await?;
    req.extensions_mut().insert(principal.clone());
    Ok(principal)
}

/// The verified caller when a token was sent, `None` for an anonymous request (routes that
/// anonymous readers may use). A token that was sent but does not verify is still 401 `1003`.
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<Principal>);

impl FromRequest for MaybeUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match bearer_token(&req) {
                None => Ok(MaybeUser(None)),
                token => authenticate(&req, token).await.map(|p| MaybeUser(Some(p))),
            }
        })
    }
}

/// The verified caller and their account, read in one round trip (`GET /auth/me`); the principal
/// is cached in the request's extensions like [`AuthUser`]'s.
pub async fn authenticate_with_account(req: &HttpRequest) -> Result<(Principal, User), ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal(&anyhow::anyhow!("app state missing")))?;
    let token =
        bearer_token(req).ok_or_else(|| ApiError::unauthenticated("authentication required"))?;
    let (principal, user) = state.users.authenticate_me(&token).await?;
    req.extensions_mut().insert(principal.clone());
    Ok((principal, user))
}

/// The verified caller of an event stream: like [`AuthUser`], but a browser `EventSource`, which
/// cannot set headers, may pass the access token as `?access_token=` instead. Only the path is
/// ever logged, never the query.
#[derive(Debug, Clone)]
pub struct StreamUser(pub Principal);

impl FromRequest for StreamUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let token = bearer_token(&req).or_else(|| {
                web::Query::<std::collections::HashMap<String, String>>::from_query(
                    req.query_string(),
                )
                .ok()
                .and_then(|q| q.get("access_token").map(|t| t.trim().to_owned()))
                .filter(|t| !t.is_empty())
            });
            authenticate(&req, token).await.map(StreamUser)
        })
    }
}

/// The verified caller when `allowed` says yes; otherwise 403 `1004` with `refusal`.
fn guarded<T: 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
    allowed: fn(&Principal) -> bool,
    refusal: &'static str,
    wrap: fn(Principal) -> T,
) -> LocalBoxFuture<'static, Result<T, ApiError>> {
    let fut = AuthUser::from_request(req, payload);
    Box::pin(async move {
        let AuthUser(p) = fut.await?;
        if !allowed(&p) {
            return Err(ApiError::forbidden(refusal));
        }
        Ok(wrap(p))
    })
}

/// An authenticated caller who may create or change content: every role but `viewer`, which is
/// read-only and gets 403 `1004` (anonymous: 401 `1003`). Use it on every handler that generates,
/// creates, edits, validates, publishes, renders or deletes.
#[derive(Debug, Clone)]
pub struct WriterUser(pub Principal);

impl FromRequest for WriterUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        guarded(
            req,
            payload,
            Principal::can_write,
            "the viewer role is read-only: it cannot generate, create or edit",
            WriterUser,
        )
    }
}

/// An authenticated administrator; others get 403 `1004` (anonymous: 401 `1003`).
#[derive(Debug, Clone)]
pub struct AdminUser(pub Principal);

impl FromRequest for AdminUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        guarded(
            req,
            payload,
            Principal::is_admin,
            "administrator role required",
            AdminUser,
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use actix_web::test::TestRequest;
    use ingenio_kernel::{TenantId, UserId};
    use ingenio_users::Role;

    /// A request whose caller is already verified (the cache `authenticate` reads first).
    fn request_as(role: Role) -> HttpRequest {
        let req = TestRequest::default().to_http_request();
        req.extensions_mut().insert(Principal {
            user_id: UserId::new_random(),
            tenant_id: TenantId::default(),
            role,
            jti: uuid::Uuid::new_v4(),
            expires_at: chrono::Utc::now(),
            session_id: None,
        });
        req
    }

    #[actix_web::test]
    async fn viewers_are_refused_writes_others_pass() {
        let refused = WriterUser::from_request(&request_as(Role::Viewer), &mut Payload::None).await;
        let e = refused.unwrap_err();
        assert_eq!(e.status, actix_web::http::StatusCode::FORBIDDEN);
        assert_eq!(e.code, "1004");
        for role in [Role::User, Role::Admin] {
            let ok = WriterUser::from_request(&request_as(role), &mut Payload::None).await;
            assert_eq!(ok.unwrap().0.role, role);
        }
    }
}
