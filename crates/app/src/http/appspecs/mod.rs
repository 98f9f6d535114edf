//! App-spec routes (SPEC §4 "App specs and the time machine"): CRUD with ETag/If-Match, the
//! version timeline, one version, semantic diff and non-destructive rollback.

use crate::http::envelope::{self, Envelope};
use crate::http::error::ApiError;
use crate::http::extract::{AuthUser, WriterUser};
use crate::state::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{delete, get, post, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use ingenio_app_specs::ports::{SpecVersion, SpecVersionSummary, Viewer};
use ingenio_app_specs::service::SpecView;
use ingenio_app_specs::validation::ValidationReport;
use ingenio_kernel::PageRequest;
use ingenio_users::Principal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(create)
        .service(list)
        .service(get_one)
        .service(update)
        .service(remove)
        .service(versions)
        .service(version)
        .service(diff)
        .service(rollback)
        .service(validate);
}

/// The caller as the app-specs domain sees it.
pub fn viewer(p: &Principal) -> Viewer {
    Viewer {
        tenant: p.tenant_id,
        user: p.user_id,
        admin: p.is_admin(),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpecRequest {
    /// The AppSpec JSON (SPEC §4 shape; unknown keys are kept).
    #[schema(value_type = Object)]
    pub spec_content: Value,
    pub change_description: Option<String>,
}

/// The rule pass of the current content.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidationSummary {
    pub rule_score: u8,
    pub errors: u32,
    pub warnings: u32,
    #[schema(value_type = Vec<Object>)]
    pub findings: Value,
}

impl From<&ValidationReport> for ValidationSummary {
    fn from(r: &ValidationReport) -> Self {
        Self {
            rule_score: r.rule_score,
            errors: r.errors,
            warnings: r.warnings,
            findings: serde_json::to_value(&r.findings).unwrap_or(Value::Null),
        }
    }
}

/// The answer of `POST /v1/appspecs/{id}/validate`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidateResponse {
    pub id: Uuid,
    /// The current version (also the ETag); validating writes no version.
    pub version: i32,
    /// The status after this call.
    #[schema(example = "validated")]
    pub status: &'static str,
    /// Whether this call moved the spec from `draft` to `validated`.
    pub status_changed: bool,
    pub validation: ValidationSummary,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppSpecResponse {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub created_by_user_id: Uuid,
    #[schema(value_type = Object)]
    pub spec_content: Value,
    /// The latest version number (also the ETag).
    pub version: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_version_id: Option<Uuid>,
    #[schema(example = "draft")]
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality_score: Option<i32>,
    pub validation: ValidationSummary,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<SpecView> for AppSpecResponse {
    fn from(v: SpecView) -> Self {
        let s = v.spec;
        Self {
            id: s.id,
            tenant_id: s.tenant_id.as_uuid(),
            created_by_user_id: s.owner.as_uuid(),
            spec_content: s.content,
            version: s.version,
            parent_version_id: s.parent_id,
            status: s.status.as_str(),
            quality_score: s.quality_score,
            validation: ValidationSummary::from(&v.report),
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// One entry of the timeline (`snapshotContent` only when a single version is asked for).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionResponse {
    pub id: Uuid,
    pub app_spec_id: Uuid,
    pub version_number: i32,
    #[schema(example = "ai_generation")]
    pub change_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by_user_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub generation_metadata: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub snapshot_content: Option<Value>,
}

impl From<SpecVersionSummary> for VersionResponse {
    fn from(v: SpecVersionSummary) -> Self {
        Self {
            id: v.id,
            app_spec_id: v.app_spec_id,
            version_number: v.version_number,
            change_type: v.change_type.as_str(),
            change_description: v.change_description,
            created_by_user_id: v.created_by.map(|u| u.as_uuid()),
            created_at: v.created_at,
            generation_metadata: v.generation_metadata,
            snapshot_content: None,
        }
    }
}

/// One version with its snapshot.
fn version_response(mut v: SpecVersion) -> VersionResponse {
    let snapshot = std::mem::take(&mut v.snapshot);
    VersionResponse {
        snapshot_content: Some(snapshot),
        ..VersionResponse::from(SpecVersionSummary::from(v))
    }
}

fn with_etag(status: StatusCode, view: SpecView) -> HttpResponse {
    let number = view.spec.version;
    tag_version(
        envelope::with_status(status, AppSpecResponse::from(view)),
        number,
    )
}

/// Adds `ETag: "<version>"`.
fn tag_version(mut r: HttpResponse, number: i32) -> HttpResponse {
    if let Ok(v) = header::HeaderValue::from_str(&format!("\"{number}\"")) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

/// `If-Match: "3"` (also `W/"3"`, `3`); `*` or absent means no check.
fn if_match(req: &HttpRequest) -> Result<Option<i32>, ApiError> {
    let Some(raw) = req.headers().get(header::IF_MATCH) else {
        return Ok(None);
    };
    let raw = raw
        .to_str()
        .map_err(|_| ApiError::bad_param("If-Match", "must be an ETag such as \"3\""))?
        .trim();
    if raw == "*" {
        return Ok(None);
    }
    raw.trim_start_matches("W/")
        .trim_matches('"')
        .parse::<i32>()
        .map(Some)
        .map_err(|_| ApiError::bad_param("If-Match", "must be an ETag such as \"3\""))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PageQuery {
    /// 1-based page number (default 1).
    pub current: Option<u32>,
    /// Page size, 1–100 (default 10).
    pub size: Option<u32>,
}

impl PageQuery {
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        let current = self.current.unwrap_or(1);
        let size = self.size.unwrap_or(10);
        PageRequest::new(current, size).map_err(|e| match e {
            ingenio_kernel::PageRequestError::Current => {
                ApiError::bad_param("current", e.to_string())
            }
            ingenio_kernel::PageRequestError::Size => ApiError::bad_param("size", e.to_string()),
        })
    }
}

/// Create a spec from content (version 1, status draft).
#[utoipa::path(post, path = "/v1/appspecs", tag = "appspecs", security(("bearer" = [])), request_body = SpecRequest,
    responses(
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 403, description = "1004 the viewer role is read-only", body = inline(Envelope<Value>)),
        (status = 201, description = "Created; ETag is the version", body = inline(Envelope<AppSpecResponse>)),
        (status = 400, description = "1001 over a size limit (`ingenio.spec-limits.*`: message and data name the limit)", body = inline(Envelope<Value>)),
        (status = 422, description = "3001 not a valid AppSpec (data names the path)", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 server busy with spec work (Retry-After)", body = inline(Envelope<Value>)),
    ))]
#[post("/appspecs")]
pub async fn create(
    state: web::Data<AppState>,
    WriterUser(p): WriterUser,
    body: web::Json<SpecRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let (view, _) = state
        .specs
        .create(viewer(&p), body.spec_content, body.change_description)
        .await?;
    Ok(with_etag(StatusCode::CREATED, view))
}

/// My specs, newest first.
#[utoipa::path(get, path = "/v1/appspecs", tag = "appspecs", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, description = "A page of specs", body = inline(Envelope<Value>))))]
#[get("/appspecs")]
pub async fn list(
    state: web::Data<AppState>,
    AuthUser(p): AuthUser,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = state.specs.list_summaries(viewer(&p), q.page()?).await?;
    Ok(envelope::ok(page.map(|s| {
        serde_json::json!({
            "id": s.id, "version": s.version, "status": s.status.as_str(),
            "qualityScore": s.quality_score,
            "appName": s.app_name.unwrap_or(Value::Null),
            "createdAt": s.created_at, "updatedAt": s.updated_at,
        })
    })))
}

/// One spec (ETag = its version).
#[utoipa::path(get, path = "/v1/appspecs/{id}", tag = "appspecs", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "spec id")),
    responses((status = 200, description = "The spec", body = inline(Envelope<AppSpecResponse>)),
              (status = 404, description = "3000 not found (also for other users' specs)", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 server busy with spec work (Retry-After)", body = inline(Envelope<Value>)),
    ))]
#[get("/appspecs/{id}")]
pub async fn get_one(
    state: web::Data<AppState>,
    AuthUser(p): AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let view = state.specs.get(viewer(&p), *id).await?;
    Ok(with_etag(StatusCode::OK, view))
}

/// Edit: a new `user_edit` version; status back to draft. `If-Match` with the ETag → 412 when stale.
#[utoipa::path(put, path = "/v1/appspecs/{id}", tag = "appspecs", security(("bearer" = [])), request_body = SpecRequest,
    params(("id" = Uuid, Path, description = "spec id"), ("If-Match" = Option<String>, Header, description = "the ETag you read, e.g. \"3\"")),
    responses(
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 403, description = "1004 the viewer role is read-only", body = inline(Envelope<Value>)),
        (status = 200, description = "Edited; the status is back to draft", body = inline(Envelope<AppSpecResponse>)),
        (status = 400, description = "1001 over a size limit (`ingenio.spec-limits.*`: message and data name the limit)", body = inline(Envelope<Value>)),
        (status = 404, description = "3000 not found", body = inline(Envelope<Value>)),
              (status = 412, description = "stale If-Match", body = inline(Envelope<Value>)),
              (status = 422, description = "3001 invalid spec", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 server busy with spec work (Retry-After)", body = inline(Envelope<Value>)),
    ))]
#[put("/appspecs/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    WriterUser(p): WriterUser,
    id: web::Path<Uuid>,
    req: HttpRequest,
    body: web::Json<SpecRequest>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&req)?;
    let body = body.into_inner();
    let (view, _) = state
        .specs
        .edit(
            viewer(&p),
            *id,
            expected,
            body.spec_content,
            body.change_description,
        )
        .await?;
    Ok(with_etag(StatusCode::OK, view))
}

/// Delete a spec with its history.
#[utoipa::path(delete, path = "/v1/appspecs/{id}", tag = "appspecs", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "spec id")),
    responses(
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 403, description = "1004 the viewer role is read-only", body = inline(Envelope<Value>)),
        (status = 200, description = "Deleted", body = inline(Envelope<Value>)), (status = 404, description = "3000", body = inline(Envelope<Value>))))]
#[delete("/appspecs/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    WriterUser(p): WriterUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state.specs.delete(viewer(&p), *id).await?;
    Ok(envelope::done("deleted"))
}

/// The time machine: every version, oldest first.
#[utoipa::path(get, path = "/v1/appspecs/{id}/versions", tag = "appspecs", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "spec id")),
    responses((status = 200, description = "Timeline", body = inline(Envelope<Vec<VersionResponse>>))))]
#[get("/appspecs/{id}/versions")]
pub async fn versions(
    state: web::Data<AppState>,
    AuthUser(p): AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let vs = state.specs.timeline(viewer(&p), *id).await?;
    let out: Vec<VersionResponse> = vs.into_iter().map(VersionResponse::from).collect();
    Ok(envelope::ok(out))
}

/// One version with its snapshot and generation metadata.
#[utoipa::path(get, path = "/v1/appspecs/{id}/versions/{n}", tag = "appspecs", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "spec id"), ("n" = i32, Path, description = "version number")),
    responses((status = 200, description = "The version", body = inline(Envelope<VersionResponse>)),
              (status = 404, description = "3000 / 3002", body = inline(Envelope<Value>))))]
#[get("/appspecs/{id}/versions/{n}")]
pub async fn version(
    state: web::Data<AppState>,
    AuthUser(p): AuthUser,
    path: web::Path<(Uuid, i32)>,
) -> Result<HttpResponse, ApiError> {
    let (id, n) = path.into_inner();
    let v = state.specs.version(viewer(&p), id, n).await?;
    Ok(envelope::ok(version_response(v)))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DiffQuery {
    pub from: i32,
    pub to: i32,
}

/// Semantic diff between two versions (pages, components, data models, fields, flows, permission
/// rules matched by id) with a short summary.
#[utoipa::path(get, path = "/v1/appspecs/{id}/diff", tag = "appspecs", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "spec id"), DiffQuery),
    responses((status = 200, description = "Changes and summary", body = inline(Envelope<Value>)),
        (status = 404, description = "3000 / 3002", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 server busy with spec work (Retry-After)", body = inline(Envelope<Value>)),
    ))]
#[get("/appspecs/{id}/diff")]
pub async fn diff(
    state: web::Data<AppState>,
    AuthUser(p): AuthUser,
    id: web::Path<Uuid>,
    q: web::Query<DiffQuery>,
) -> Result<HttpResponse, ApiError> {
    let d = state.specs.diff(viewer(&p), *id, q.from, q.to).await?;
    let mut v = serde_json::to_value(&d).map_err(anyhow::Error::from)?;
    v["from"] = q.from.into();
    v["to"] = q.to.into();
    Ok(envelope::ok(v))
}

/// Append a `rollback` version copying version n (history is never deleted).
#[utoipa::path(post, path = "/v1/appspecs/{id}/rollback/{n}", tag = "appspecs", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "spec id"), ("n" = i32, Path, description = "version to restore")),
    responses(
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 403, description = "1004 the viewer role is read-only", body = inline(Envelope<Value>)),
        (status = 200, description = "The spec at its new version (status draft)", body = inline(Envelope<AppSpecResponse>)),
        (status = 400, description = "1001 over a size limit (`ingenio.spec-limits.*`: message and data name the limit)", body = inline(Envelope<Value>)),
              (status = 404, description = "3000 / 3002", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 server busy with spec work (Retry-After)", body = inline(Envelope<Value>)),
    ))]
#[post("/appspecs/{id}/rollback/{n}")]
pub async fn rollback(
    state: web::Data<AppState>,
    WriterUser(p): WriterUser,
    path: web::Path<(Uuid, i32)>,
) -> Result<HttpResponse, ApiError> {
    let (id, n) = path.into_inner();
    let (view, _) = state.specs.rollback(viewer(&p), id, n).await?;
    Ok(with_etag(StatusCode::OK, view))
}

/// Runs the rule pass on the current content and, when the spec is a `draft` with no rule error,
/// moves it to `validated` (the next step of the lifecycle). Other statuses are left as they are;
/// a spec with errors stays a draft and the report says why. The owner's own specs only.
#[utoipa::path(post, path = "/v1/appspecs/{id}/validate", tag = "appspecs", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "spec id")),
    responses((status = 200, description = "The report and the status after it", body = inline(Envelope<ValidateResponse>)),
              (status = 401, description = "1003", body = inline(Envelope<Value>)),
              (status = 403, description = "1004 the viewer role is read-only", body = inline(Envelope<Value>)),
        (status = 404, description = "3000 not found (also for other users' specs)", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 server busy with spec work (Retry-After)", body = inline(Envelope<Value>)),
    ))]
#[post("/appspecs/{id}/validate")]
pub async fn validate(
    state: web::Data<AppState>,
    WriterUser(p): WriterUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let done = state.specs.validate_spec(viewer(&p), *id).await?;
    let spec = &done.view.spec;
    let body = ValidateResponse {
        id: spec.id,
        version: spec.version,
        status: spec.status.as_str(),
        status_changed: done.moved,
        validation: ValidationSummary::from(&done.view.report),
    };
    Ok(tag_version(envelope::ok(body), spec.version))
}
