//! Extractors: the authenticated caller (`AuthUser`), an optional caller, and the admin guard.

use crate::http::error::ApiError;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures::future::LocalBoxFuture;
use ingenio_users::Principal;

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

/// An authenticated administrator; others get 403 `1004` (anonymous: 401 `1003`).
#[derive(Debug, Clone)]
pub struct AdminUser(pub Principal);

impl FromRequest for AdminUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let fut = AuthUser::from_request(req, payload);
        Box::pin(async move {
            let AuthUser(p) = fut.await?;
            if !p.is_admin() {
                return Err(ApiError::forbidden("administrator role required"));
            }
            Ok(AdminUser(p))
        })
    }
}
