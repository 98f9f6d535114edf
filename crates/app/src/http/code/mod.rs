//! Generated code routes (SPEC §4 "Generated code and preview"): render an existing version as a
//! job, list a spec's code with fresh download URLs, download a zip (streamed), the signed
//! download route of the local-directory store, and the live preview served from the stored zip.

pub mod preview;

use crate::http::appspecs::viewer;
use crate::http::envelope::{self, Envelope};
use crate::http::error::ApiError;
use crate::http::extract::{AuthUser, WriterUser};
use crate::state::AppState;
use crate::storage::Stores;
use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use ingenio_code_gen::service::CodeView;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(render)
        .service(list_code)
        .service(download)
        .service(artifact);
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RenderRequest {
    /// static-web | react-next | vue-vite (the configured default when absent).
    #[schema(example = "static-web")]
    pub renderer: Option<String>,
    /// The version to render (the current one when absent).
    pub version: Option<i32>,
}

/// A `generated_code` record with a fresh presigned download URL.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodeRecordView {
    pub id: Uuid,
    pub app_spec_id: Uuid,
    pub version_number: i32,
    #[schema(example = "static-web")]
    pub renderer: String,
    pub renderer_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub framework: Option<String>,
    pub project_key: String,
    pub storage_key: String,
    pub file_count: i32,
    pub total_size_bytes: i64,
    pub zip_size_bytes: i64,
    /// Lowercase hex SHA-256 of the zip: the same spec and renderer version give the same hash.
    pub content_hash: String,
    #[schema(example = "success")]
    pub build_status: String,
    /// The live preview (renderers whose output runs straight from its files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview_url: Option<String>,
    /// A presigned GET of the zip, valid for `ingenio.code-gen.presign-ttl-seconds`.
    pub download_url: String,
    pub created_at: DateTime<Utc>,
}

impl From<CodeView> for CodeRecordView {
    fn from(v: CodeView) -> Self {
        let r = v.record;
        Self {
            id: r.id,
            app_spec_id: r.app_spec_id,
            version_number: r.version_number,
            renderer: r.renderer,
            renderer_version: r.renderer_version,
            framework: r.framework,
            project_key: r.project_key,
            storage_key: r.storage_key,
            file_count: r.file_count,
            total_size_bytes: r.total_size_bytes,
            zip_size_bytes: r.zip_size_bytes,
            content_hash: r.content_hash,
            build_status: r.build_status,
            preview_url: r.preview_url,
            download_url: v.download_url,
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RenderAccepted {
    pub job_id: Uuid,
    #[schema(example = "pending")]
    pub status: &'static str,
}

fn check_renderer(state: &AppState, renderer: Option<String>) -> Result<Option<String>, ApiError> {
    match renderer.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(name) if state.code.knows_renderer(name) => Ok(Some(name.to_owned())),
        Some(_) => Err(ApiError::bad_param(
            "renderer",
            format!("must be one of {}", state.code.renderer_names().join(", ")),
        )),
    }
}

fn idempotency_key(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_owned())
}

/// Render an existing version of my spec (no AI call, no AI quota): a job like a generation,
/// followed with the same job and SSE routes. The same `Idempotency-Key` returns the same job.
#[utoipa::path(post, path = "/v1/appspecs/{id}/render", tag = "code", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "spec id"),
           ("Idempotency-Key" = Option<String>, Header, description = "1–200 characters; a repeat returns the first job")),
    request_body = RenderRequest,
    responses((status = 202, description = "Job accepted", body = inline(Envelope<RenderAccepted>)),
              (status = 200, description = "An earlier job with the same Idempotency-Key", body = inline(Envelope<RenderAccepted>)),
              (status = 400, description = "1001 bad renderer or version, or the version is over a size limit (`ingenio.spec-limits.*`, named in message and data)", body = inline(Envelope<Value>)),
              (status = 401, description = "1003", body = inline(Envelope<Value>)),
              (status = 403, description = "1004 the viewer role is read-only", body = inline(Envelope<Value>)),
              (status = 404, description = "3000 spec not found · 3002 version not found", body = inline(Envelope<Value>)),
              (status = 503, description = "1000 storage unavailable", body = inline(Envelope<Value>))))]
#[post("/appspecs/{id}/render")]
pub async fn render(
    state: web::Data<AppState>,
    WriterUser(p): WriterUser,
    id: web::Path<Uuid>,
    body: Option<web::Json<RenderRequest>>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let body = body.map(web::Json::into_inner).unwrap_or_default();
    let renderer = check_renderer(&state, body.renderer)?;
    if body.version.is_some_and(|v| v < 1) {
        return Err(ApiError::bad_param("version", "must be at least 1"));
    }
    let (job, new) = state
        .specs
        .submit_render(
            viewer(&p),
            *id,
            body.version,
            renderer,
            idempotency_key(&req),
        )
        .await?;
    if new {
        state.jobs_wakeup.notify_one();
    }
    let data = RenderAccepted {
        job_id: job.id,
        status: job.status.as_str(),
    };
    Ok(if new {
        envelope::with_status(actix_web::http::StatusCode::ACCEPTED, data)
    } else {
        envelope::ok(data)
    })
}

/// The code generated for my spec: one record per version and renderer, newest first, each with
/// a fresh presigned download URL and, for previewable renderers, the preview URL.
#[utoipa::path(get, path = "/v1/appspecs/{id}/code", tag = "code", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "spec id")),
    responses((status = 200, description = "Records", body = inline(Envelope<Vec<CodeRecordView>>)),
              (status = 401, description = "1003", body = inline(Envelope<Value>)),
              (status = 404, description = "3000 (also for other users' specs)", body = inline(Envelope<Value>)),
              (status = 503, description = "1000 / 7001 storage unavailable", body = inline(Envelope<Value>))))]
#[get("/appspecs/{id}/code")]
pub async fn list_code(
    state: web::Data<AppState>,
    AuthUser(p): AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let records = state.code.list(viewer(&p), *id).await?;
    let views: Vec<CodeRecordView> = records.into_iter().map(CodeRecordView::from).collect();
    Ok(envelope::ok(views))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DownloadQuery {
    /// The version (latest rendered when absent).
    pub version: Option<i32>,
    /// The renderer (the newest record of any renderer when absent).
    pub renderer: Option<String>,
    /// `redirect` answers 302 to the presigned URL instead of streaming.
    pub mode: Option<String>,
}

fn safe_file_name(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches('-');
    if trimmed.is_empty() {
        "app".to_owned()
    } else {
        trimmed.chars().take(60).collect()
    }
}

/// Download the zip of my spec's code, streamed from object storage (never buffered whole), or a
/// 302 to a presigned URL with `mode=redirect`.
#[utoipa::path(get, path = "/v1/appspecs/{id}/code/download", tag = "code", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "spec id"), DownloadQuery),
    responses((status = 200, description = "The zip", content_type = "application/zip", body = Vec<u8>),
              (status = 302, description = "Redirect to a presigned URL (mode=redirect)"),
              (status = 400, description = "1001", body = inline(Envelope<Value>)),
              (status = 401, description = "1003", body = inline(Envelope<Value>)),
              (status = 404, description = "3000 spec not found · 1002 no such code · 7002 object missing", body = inline(Envelope<Value>)),
              (status = 503, description = "7001 object store unavailable", body = inline(Envelope<Value>))))]
#[get("/appspecs/{id}/code/download")]
pub async fn download(
    state: web::Data<AppState>,
    AuthUser(p): AuthUser,
    id: web::Path<Uuid>,
    q: web::Query<DownloadQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let renderer = check_renderer(&state, q.renderer)?;
    let record = state
        .code
        .find(viewer(&p), *id, q.version, renderer.as_deref())
        .await?;
    if q.mode.as_deref() == Some("redirect") {
        let url = state.code.presign(&record).await?;
        return Ok(HttpResponse::Found()
            .insert_header((header::LOCATION, url))
            .finish());
    }
    let stream = state.code.open(&record).await?;
    let name = format!(
        "{}-v{}-{}.zip",
        safe_file_name(&record.project_key),
        record.version_number,
        record.renderer
    );
    Ok(HttpResponse::Ok()
        .content_type("application/zip")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .insert_header((header::ETAG, format!("\"{}\"", record.content_hash)))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .streaming(stream.map(|chunk| {
            chunk.map_err(|e| {
                tracing::error!(error = %e, "artifact stream failed mid-download");
                actix_web::error::ErrorServiceUnavailable("object store error")
            })
        })))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SignedQuery {
    pub expires: u64,
    pub signature: String,
}

/// Signed downloads of the local-directory store (what its presigned URLs point at). Anyone with
/// an unexpired URL may fetch; anything else is 404 (so keys don't leak).
#[utoipa::path(get, path = "/v1/artifacts/{key}", tag = "code",
    params(("key" = String, Path, description = "object key"), SignedQuery),
    responses((status = 200, description = "The object", content_type = "application/zip", body = Vec<u8>),
              (status = 404, description = "1002 unknown, expired or badly signed", body = inline(Envelope<Value>))))]
#[get("/artifacts/{key:.*}")]
pub async fn artifact(
    state: web::Data<AppState>,
    key: web::Path<String>,
    q: web::Query<SignedQuery>,
) -> Result<HttpResponse, ApiError> {
    let Stores::Local(local) = &state.stores else {
        return Err(ApiError::not_found("not found"));
    };
    if !local.verify_presigned(&key, q.expires, &q.signature, std::time::SystemTime::now()) {
        return Err(ApiError::not_found("not found"));
    }
    let stream = state
        .code
        .store()
        .get(&key)
        .await
        .map_err(ingenio_code_gen::service::CodeError::from)?;
    Ok(HttpResponse::Ok()
        .content_type("application/zip")
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .streaming(stream.map(|chunk| {
            chunk.map_err(|_| actix_web::error::ErrorServiceUnavailable("object store error"))
        })))
}
