//! Magic prompt routes (SPEC §4 "magic prompts"): the public catalogue (active prompts,
//! anonymous allowed), filling a prompt (`/use`, counts a use) and admin CRUD under
//! `/v1/admin/magic-prompts`.

use crate::http::appspecs::{viewer, PageQuery};
use crate::http::envelope::{self, Envelope};
use crate::http::error::ApiError;
use crate::http::extract::{AdminUser, AuthUser};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{delete, get, post, put, web, HttpResponse};
use chrono::{DateTime, Utc};
use ingenio_kernel::{TenantId, Viewer};
use ingenio_social::{
    AgeGroup, Category, Difficulty, MagicPrompt, PromptFilter, PromptSort, PromptStatus,
    RawPromptDraft,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(get_one)
        .service(use_prompt)
        .service(admin_list)
        .service(admin_create)
        .service(admin_get)
        .service(admin_update)
        .service(admin_delete);
}

/// The caller's viewer (if signed in) and tenant (the default tenant when anonymous).
pub fn caller(state: &AppState, user: Option<&AuthUser>) -> (Option<Viewer>, TenantId) {
    match user {
        Some(AuthUser(p)) => (Some(viewer(p)), p.tenant_id),
        None => (
            None,
            TenantId::from_uuid(state.settings.ingenio.tenant.default_id),
        ),
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MagicPromptResponse {
    pub id: Uuid,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cover_image_url: Option<String>,
    /// The template; `{name}` marks a placeholder.
    #[schema(example = "帮我做一个{主题}的小测验")]
    pub prompt_template: String,
    /// The placeholders of the template, in order.
    pub variables: Vec<String>,
    pub default_variables: BTreeMap<String, String>,
    #[schema(example = "elementary")]
    pub age_group: &'static str,
    #[schema(example = "education")]
    pub category: &'static str,
    #[schema(example = "beginner")]
    pub difficulty_level: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example_project_id: Option<Uuid>,
    pub usage_count: i32,
    pub like_count: i32,
    #[schema(example = "active")]
    pub status: &'static str,
    pub tags: Vec<String>,
    /// The stable key of a seeded prompt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<MagicPrompt> for MagicPromptResponse {
    fn from(p: MagicPrompt) -> Self {
        Self {
            variables: p.variables(),
            id: p.id,
            title: p.title,
            description: p.description,
            cover_image_url: p.cover_image_url,
            prompt_template: p.prompt_template,
            default_variables: p.default_variables,
            age_group: p.age_group.as_str(),
            category: p.category.as_str(),
            difficulty_level: p.difficulty.as_str(),
            example_project_id: p.example_project_id,
            usage_count: p.usage_count,
            like_count: p.like_count,
            status: p.status.as_str(),
            tags: p.tags,
            slug: p.slug,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct PromptQuery {
    /// elementary | middle_school | high_school | university
    pub age_group: Option<String>,
    /// education | game | productivity | creative | social
    pub category: Option<String>,
    /// beginner | intermediate | advanced
    pub difficulty: Option<String>,
    /// Prompts carrying this tag.
    pub tag: Option<String>,
    /// Text found in the title or description (substring, case-insensitive).
    pub q: Option<String>,
    /// popular (default: most used first) | latest | title
    pub sort: Option<String>,
    /// Admin listing only: draft | active | archived (default: every status).
    pub status: Option<String>,
    pub current: Option<u32>,
    pub size: Option<u32>,
}

fn parse_opt<T>(
    field: &str,
    v: Option<&str>,
    parse: fn(&str) -> Option<T>,
    choices: String,
) -> Result<Option<T>, ApiError> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => parse(s)
            .map(Some)
            .ok_or_else(|| ApiError::bad_param(field, format!("must be {choices}"))),
    }
}

impl PromptQuery {
    fn filter(&self, any_status: bool) -> Result<PromptFilter, ApiError> {
        Ok(PromptFilter {
            age_group: parse_opt(
                "ageGroup",
                self.age_group.as_deref(),
                AgeGroup::parse,
                AgeGroup::choices(),
            )?,
            category: parse_opt(
                "category",
                self.category.as_deref(),
                Category::parse,
                Category::choices(),
            )?,
            difficulty: parse_opt(
                "difficulty",
                self.difficulty.as_deref(),
                Difficulty::parse,
                Difficulty::choices(),
            )?,
            tag: self.tag.clone(),
            q: self.q.clone(),
            status: if any_status {
                parse_opt(
                    "status",
                    self.status.as_deref(),
                    PromptStatus::parse,
                    PromptStatus::choices(),
                )?
            } else {
                None
            },
            any_status,
            sort: parse_opt(
                "sort",
                self.sort.as_deref(),
                PromptSort::parse,
                PromptSort::choices(),
            )?,
        })
    }

    fn page(&self) -> Result<ingenio_kernel::PageRequest, ApiError> {
        PageQuery {
            current: self.current,
            size: self.size,
        }
        .page()
    }
}

/// The active magic prompts (anonymous allowed), filtered and sorted, paged.
#[utoipa::path(get, path = "/v1/magic-prompts", tag = "magic-prompts", params(PromptQuery),
    responses(
        (status = 200, description = "A page of prompts", body = inline(Envelope<Value>)),
        (status = 400, description = "1001 bad filter, sort or paging", body = inline(Envelope<Value>)),
        (status = 429, description = "1005 too many requests", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 database unavailable", body = inline(Envelope<Value>)),
    ))]
#[get("/magic-prompts")]
pub async fn list(
    state: web::Data<AppState>,
    user: Option<AuthUser>,
    q: web::Query<PromptQuery>,
) -> Result<HttpResponse, ApiError> {
    let (_, tenant) = caller(&state, user.as_ref());
    let page = state
        .social
        .prompts(None, tenant, q.filter(false)?, q.page()?)
        .await?;
    Ok(envelope::ok(page.map(MagicPromptResponse::from)))
}

/// One active magic prompt (anonymous allowed).
#[utoipa::path(get, path = "/v1/magic-prompts/{id}", tag = "magic-prompts",
    params(("id" = Uuid, Path, description = "prompt id")),
    responses(
        (status = 200, description = "The prompt", body = inline(Envelope<MagicPromptResponse>)),
        (status = 404, description = "1002 no such active prompt", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 database unavailable", body = inline(Envelope<Value>)),
    ))]
#[get("/magic-prompts/{id}")]
pub async fn get_one(
    state: web::Data<AppState>,
    user: Option<AuthUser>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (_, tenant) = caller(&state, user.as_ref());
    let p = state.social.prompt(None, tenant, *id).await?;
    Ok(envelope::ok(MagicPromptResponse::from(p)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UseRequest {
    /// Values for the template's placeholders (text, numbers or booleans); missing ones take
    /// the prompt's defaults.
    #[schema(value_type = Option<Object>)]
    pub variables: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UseResponse {
    pub prompt_id: Uuid,
    /// The filled requirement, ready for `POST /v1/generate`.
    pub requirement: String,
    pub age_group: &'static str,
    pub usage_count: i32,
}

/// Fill a prompt's placeholders (over its defaults) and count a use. Unknown variables and
/// placeholders left without a value answer 400 naming them.
#[utoipa::path(post, path = "/v1/magic-prompts/{id}/use", tag = "magic-prompts",
    params(("id" = Uuid, Path, description = "prompt id")), request_body = UseRequest,
    responses(
        (status = 200, description = "The requirement text", body = inline(Envelope<UseResponse>)),
        (status = 400, description = "1001 unknown or missing variables (data.variables names them)", body = inline(Envelope<Value>)),
        (status = 404, description = "1002 no such active prompt", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 database unavailable", body = inline(Envelope<Value>)),
    ))]
#[post("/magic-prompts/{id}/use")]
pub async fn use_prompt(
    state: web::Data<AppState>,
    user: Option<AuthUser>,
    id: web::Path<Uuid>,
    body: Option<web::Json<UseRequest>>,
) -> Result<HttpResponse, ApiError> {
    let (_, tenant) = caller(&state, user.as_ref());
    let vars = body
        .and_then(|b| b.into_inner().variables)
        .unwrap_or(Value::Null);
    let filled = state.social.use_prompt(tenant, *id, &vars).await?;
    Ok(envelope::ok(UseResponse {
        prompt_id: filled.prompt.id,
        requirement: filled.requirement,
        age_group: filled.prompt.age_group.as_str(),
        usage_count: filled.prompt.usage_count,
    }))
}

/// What an admin writes (PUT replaces every field; counters are kept).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromptRequest {
    pub title: String,
    pub description: Option<String>,
    pub cover_image_url: Option<String>,
    /// `{name}` placeholders (letters of any script, digits, `_`, `-`).
    pub prompt_template: String,
    /// Default values, keyed by placeholder name.
    #[schema(value_type = Option<Object>)]
    pub default_variables: Option<Value>,
    pub age_group: String,
    pub category: String,
    /// beginner (default) | intermediate | advanced
    pub difficulty_level: Option<String>,
    pub example_project_id: Option<Uuid>,
    /// active (default) | draft | archived
    pub status: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

impl From<PromptRequest> for RawPromptDraft {
    fn from(r: PromptRequest) -> Self {
        RawPromptDraft {
            slug: None,
            title: r.title,
            description: r.description,
            cover_image_url: r.cover_image_url,
            prompt_template: r.prompt_template,
            default_variables: r.default_variables.unwrap_or(Value::Null),
            age_group: r.age_group,
            category: r.category,
            difficulty_level: r.difficulty_level,
            example_project_id: r.example_project_id,
            status: r.status,
            tags: r.tags,
        }
    }
}

/// Every prompt of the tenant, any status (admin).
#[utoipa::path(get, path = "/v1/admin/magic-prompts", tag = "magic-prompts", security(("bearer" = [])), params(PromptQuery),
    responses(
        (status = 200, description = "A page of prompts", body = inline(Envelope<Value>)),
        (status = 400, description = "1001 bad filter", body = inline(Envelope<Value>)),
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 403, description = "1004 administrator role required", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 database unavailable", body = inline(Envelope<Value>)),
    ))]
#[get("/admin/magic-prompts")]
pub async fn admin_list(
    state: web::Data<AppState>,
    AdminUser(p): AdminUser,
    q: web::Query<PromptQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = state
        .social
        .prompts(Some(viewer(&p)), p.tenant_id, q.filter(true)?, q.page()?)
        .await?;
    Ok(envelope::ok(page.map(MagicPromptResponse::from)))
}

/// Create a prompt (admin).
#[utoipa::path(post, path = "/v1/admin/magic-prompts", tag = "magic-prompts", security(("bearer" = [])), request_body = PromptRequest,
    responses(
        (status = 201, description = "Created", body = inline(Envelope<MagicPromptResponse>)),
        (status = 400, description = "1001 bad field", body = inline(Envelope<Value>)),
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 403, description = "1004 administrator role required", body = inline(Envelope<Value>)),
        (status = 409, description = "1001 another prompt has this title", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 database unavailable", body = inline(Envelope<Value>)),
    ))]
#[post("/admin/magic-prompts")]
pub async fn admin_create(
    state: web::Data<AppState>,
    AdminUser(p): AdminUser,
    body: web::Json<PromptRequest>,
) -> Result<HttpResponse, ApiError> {
    let created = state
        .social
        .create_prompt(viewer(&p), body.into_inner().into())
        .await?;
    Ok(envelope::with_status(
        StatusCode::CREATED,
        MagicPromptResponse::from(created),
    ))
}

/// One prompt, any status (admin).
#[utoipa::path(get, path = "/v1/admin/magic-prompts/{id}", tag = "magic-prompts", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "prompt id")),
    responses(
        (status = 200, description = "The prompt", body = inline(Envelope<MagicPromptResponse>)),
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 403, description = "1004 administrator role required", body = inline(Envelope<Value>)),
        (status = 404, description = "1002 not found", body = inline(Envelope<Value>)),
    ))]
#[get("/admin/magic-prompts/{id}")]
pub async fn admin_get(
    state: web::Data<AppState>,
    AdminUser(p): AdminUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let found = state
        .social
        .prompt(Some(viewer(&p)), p.tenant_id, *id)
        .await?;
    Ok(envelope::ok(MagicPromptResponse::from(found)))
}

/// Replace a prompt's fields (admin); counters are kept.
#[utoipa::path(put, path = "/v1/admin/magic-prompts/{id}", tag = "magic-prompts", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "prompt id")), request_body = PromptRequest,
    responses(
        (status = 200, description = "Updated", body = inline(Envelope<MagicPromptResponse>)),
        (status = 400, description = "1001 bad field", body = inline(Envelope<Value>)),
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 403, description = "1004 administrator role required", body = inline(Envelope<Value>)),
        (status = 404, description = "1002 not found", body = inline(Envelope<Value>)),
        (status = 409, description = "1001 another prompt has this title", body = inline(Envelope<Value>)),
    ))]
#[put("/admin/magic-prompts/{id}")]
pub async fn admin_update(
    state: web::Data<AppState>,
    AdminUser(p): AdminUser,
    id: web::Path<Uuid>,
    body: web::Json<PromptRequest>,
) -> Result<HttpResponse, ApiError> {
    let updated = state
        .social
        .update_prompt(viewer(&p), *id, body.into_inner().into())
        .await?;
    Ok(envelope::ok(MagicPromptResponse::from(updated)))
}

/// Delete a prompt (admin).
#[utoipa::path(delete, path = "/v1/admin/magic-prompts/{id}", tag = "magic-prompts", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "prompt id")),
    responses(
        (status = 200, description = "Deleted", body = inline(Envelope<Value>)),
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 403, description = "1004 administrator role required", body = inline(Envelope<Value>)),
        (status = 404, description = "1002 not found", body = inline(Envelope<Value>)),
    ))]
#[delete("/admin/magic-prompts/{id}")]
pub async fn admin_delete(
    state: web::Data<AppState>,
    AdminUser(p): AdminUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state.social.delete_prompt(viewer(&p), *id).await?;
    Ok(envelope::done("magic prompt deleted"))
}
