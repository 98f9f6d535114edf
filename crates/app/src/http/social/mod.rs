//! Social and moderation routes (SPEC §4 "Projects, forks, social"): like / favorite
//! (idempotent), my favorites, comments, views, reports and the admin report queue. Everything
//! on a project the caller cannot read answers 404 `5000`, never 403.

use crate::http::appspecs::{viewer, PageQuery};
use crate::http::envelope::{self, Envelope};
use crate::http::error::ApiError;
use crate::http::extract::{AdminUser, AuthUser, WriterUser};
use crate::http::magic_prompts::caller;
use crate::http::middleware::client_ip_of;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use ingenio_kernel::{ProjectId, Viewer};
use ingenio_social::{
    Comment, Counters, ProjectCard, ReactionKind, ReactionState, Report, ReportOutcome,
    ReportStatus,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(like)
        .service(unlike)
        .service(favorite)
        .service(unfavorite)
        .service(favorites)
        .service(list_comments)
        .service(add_comment)
        .service(delete_comment)
        .service(view)
        .service(report_project)
        .service(report_comment)
        .service(admin_reports)
        .service(resolve_report);
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CountersResponse {
    pub like_count: i32,
    pub comment_count: i32,
    pub view_count: i32,
}

impl From<Counters> for CountersResponse {
    fn from(c: Counters) -> Self {
        Self {
            like_count: c.like_count,
            comment_count: c.comment_count,
            view_count: c.view_count,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReactionResponse {
    pub project_id: Uuid,
    #[schema(example = "like")]
    pub kind: &'static str,
    /// Whether the caller now has this reaction.
    pub active: bool,
    /// Whether this call changed anything (false when repeated).
    pub changed: bool,
    pub counters: CountersResponse,
}

fn reaction(project: Uuid, s: ReactionState) -> HttpResponse {
    envelope::ok(ReactionResponse {
        project_id: project,
        kind: s.kind.as_str(),
        active: s.active,
        changed: s.changed,
        counters: s.counters.into(),
    })
}

async fn react(
    state: &AppState,
    v: Viewer,
    id: Uuid,
    kind: ReactionKind,
    add: bool,
) -> Result<HttpResponse, ApiError> {
    let project = ProjectId::from_uuid(id);
    let s = if add {
        state.social.react(v, project, kind).await?
    } else {
        state.social.unreact(v, project, kind).await?
    };
    Ok(reaction(id, s))
}

/// Like a project (idempotent: a second like changes nothing).
#[utoipa::path(post, path = "/v1/projects/{id}/like", tag = "social", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id")),
    responses(
        (status = 200, description = "Liked", body = inline(Envelope<ReactionResponse>)),
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 403, description = "1004 the viewer role is read-only", body = inline(Envelope<Value>)),
        (status = 404, description = "5000 no such project you can read", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 database unavailable", body = inline(Envelope<Value>)),
    ))]
#[post("/projects/{id}/like")]
pub async fn like(
    state: web::Data<AppState>,
    WriterUser(p): WriterUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    react(&state, viewer(&p), *id, ReactionKind::Like, true).await
}

/// Remove my like (idempotent).
#[utoipa::path(delete, path = "/v1/projects/{id}/like", tag = "social", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id")),
    responses(
        (status = 200, description = "Not liked", body = inline(Envelope<ReactionResponse>)),
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 403, description = "1004 the viewer role is read-only", body = inline(Envelope<Value>)),
        (status = 404, description = "5000 no such project you can read", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 database unavailable", body = inline(Envelope<Value>)),
    ))]
#[delete("/projects/{id}/like")]
pub async fn unlike(
    state: web::Data<AppState>,
    WriterUser(p): WriterUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    react(&state, viewer(&p), *id, ReactionKind::Like, false).await
}

/// Favorite a project (idempotent).
#[utoipa::path(post, path = "/v1/projects/{id}/favorite", tag = "social", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id")),
    responses(
        (status = 200, description = "In my favorites", body = inline(Envelope<ReactionResponse>)),
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 403, description = "1004 the viewer role is read-only", body = inline(Envelope<Value>)),
        (status = 404, description = "5000 no such project you can read", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 database unavailable", body = inline(Envelope<Value>)),
    ))]
#[post("/projects/{id}/favorite")]
pub async fn favorite(
    state: web::Data<AppState>,
    WriterUser(p): WriterUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    react(&state, viewer(&p), *id, ReactionKind::Favorite, true).await
}

/// Remove a project from my favorites (idempotent).
#[utoipa::path(delete, path = "/v1/projects/{id}/favorite", tag = "social", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id")),
    responses(
        (status = 200, description = "Not in my favorites", body = inline(Envelope<ReactionResponse>)),
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 403, description = "1004 the viewer role is read-only", body = inline(Envelope<Value>)),
        (status = 404, description = "5000 no such project you can read", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 database unavailable", body = inline(Envelope<Value>)),
    ))]
#[delete("/projects/{id}/favorite")]
pub async fn unfavorite(
    state: web::Data<AppState>,
    WriterUser(p): WriterUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    react(&state, viewer(&p), *id, ReactionKind::Favorite, false).await
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FavoriteResponse {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cover_image_url: Option<String>,
    pub status: String,
    pub visibility: String,
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_group: Option<String>,
    pub view_count: i32,
    pub like_count: i32,
    pub fork_count: i32,
    pub comment_count: i32,
    pub favorited_at: DateTime<Utc>,
}

impl From<ProjectCard> for FavoriteResponse {
    fn from(c: ProjectCard) -> Self {
        Self {
            id: c.id.as_uuid(),
            user_id: c.owner.as_uuid(),
            name: c.name,
            description: c.description,
            cover_image_url: c.cover_image_url,
            status: c.status,
            visibility: c.visibility,
            tags: c.tags,
            age_group: c.age_group,
            view_count: c.view_count,
            like_count: c.like_count,
            fork_count: c.fork_count,
            comment_count: c.comment_count,
            favorited_at: c.favorited_at,
        }
    }
}

/// My favorite projects that I can still read, most recently favorited first.
#[utoipa::path(get, path = "/v1/user/favorites", tag = "social", security(("bearer" = [])), params(PageQuery),
    responses(
        (status = 200, description = "A page of projects", body = inline(Envelope<Value>)),
        (status = 400, description = "1001 bad paging", body = inline(Envelope<Value>)),
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 database unavailable", body = inline(Envelope<Value>)),
    ))]
#[get("/user/favorites")]
pub async fn favorites(
    state: web::Data<AppState>,
    AuthUser(p): AuthUser,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = state.social.favorites(viewer(&p), q.page()?).await?;
    Ok(envelope::ok(page.map(FavoriteResponse::from)))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommentResponse {
    pub id: Uuid,
    pub project_id: Uuid,
    pub user_id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author_name: Option<String>,
    pub content: String,
    /// Hidden by moderation (only its author and admins still see it).
    pub hidden: bool,
    pub created_at: DateTime<Utc>,
}

impl From<Comment> for CommentResponse {
    fn from(c: Comment) -> Self {
        Self {
            id: c.id,
            project_id: c.project_id.as_uuid(),
            user_id: c.author.as_uuid(),
            author_name: c.author_name,
            content: c.content,
            hidden: c.hidden,
            created_at: c.created_at,
        }
    }
}

/// A project's comments, newest first (anonymous allowed on projects anyone can read). Hidden
/// comments are left out except for their author and admins.
#[utoipa::path(get, path = "/v1/projects/{id}/comments", tag = "social",
    params(("id" = Uuid, Path, description = "project id"), PageQuery),
    responses(
        (status = 200, description = "A page of comments", body = inline(Envelope<Value>)),
        (status = 400, description = "1001 bad paging", body = inline(Envelope<Value>)),
        (status = 404, description = "5000 no such project you can read", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 database unavailable", body = inline(Envelope<Value>)),
    ))]
#[get("/projects/{id}/comments")]
pub async fn list_comments(
    state: web::Data<AppState>,
    user: Option<AuthUser>,
    id: web::Path<Uuid>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let (v, tenant) = caller(&state, user.as_ref());
    let page = state
        .social
        .comments(v, tenant, ProjectId::from_uuid(*id), q.page()?)
        .await?;
    Ok(envelope::ok(page.map(CommentResponse::from)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CommentRequest {
    /// 1–1000 characters after trimming (`ingenio.social.comment-max-chars`); blocked words are
    /// refused.
    pub content: String,
}

/// Comment on a project.
#[utoipa::path(post, path = "/v1/projects/{id}/comments", tag = "social", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id")), request_body = CommentRequest,
    responses(
        (status = 201, description = "Created", body = inline(Envelope<CommentResponse>)),
        (status = 400, description = "1001 blank, too long, or containing blocked words (never echoed)", body = inline(Envelope<Value>)),
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 403, description = "1004 the viewer role is read-only", body = inline(Envelope<Value>)),
        (status = 404, description = "5000 no such project you can read", body = inline(Envelope<Value>)),
        (status = 413, description = "1001 body too large", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 database unavailable", body = inline(Envelope<Value>)),
    ))]
#[post("/projects/{id}/comments")]
pub async fn add_comment(
    state: web::Data<AppState>,
    WriterUser(p): WriterUser,
    id: web::Path<Uuid>,
    body: web::Json<CommentRequest>,
) -> Result<HttpResponse, ApiError> {
    let c = state
        .social
        .add_comment(viewer(&p), ProjectId::from_uuid(*id), &body.content)
        .await?;
    Ok(envelope::with_status(
        StatusCode::CREATED,
        CommentResponse::from(c),
    ))
}

/// Delete a comment: its author, the project's owner or an admin.
#[utoipa::path(delete, path = "/v1/comments/{id}", tag = "social", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "comment id")),
    responses(
        (status = 200, description = "Deleted", body = inline(Envelope<Value>)),
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 403, description = "1004 not the author, the project's owner or an admin (or the viewer role)", body = inline(Envelope<Value>)),
        (status = 404, description = "1002 no such comment you can see", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 database unavailable", body = inline(Envelope<Value>)),
    ))]
#[delete("/comments/{id}")]
pub async fn delete_comment(
    state: web::Data<AppState>,
    WriterUser(p): WriterUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state.social.delete_comment(viewer(&p), *id).await?;
    Ok(envelope::done("comment deleted"))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ViewResponse {
    pub project_id: Uuid,
    /// Whether this view counted (not the owner's, not a repeat within the window).
    pub counted: bool,
    pub view_count: i32,
}

/// Count a view of a project (anonymous allowed, keyed by the trusted client IP). The owner's
/// views never count; one viewer counts at most once per `ingenio.social.view-window-hours` (24).
#[utoipa::path(post, path = "/v1/projects/{id}/view", tag = "social",
    params(("id" = Uuid, Path, description = "project id")),
    responses(
        (status = 200, description = "Whether the view counted", body = inline(Envelope<ViewResponse>)),
        (status = 404, description = "5000 no such project you can read", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 database unavailable", body = inline(Envelope<Value>)),
    ))]
#[post("/projects/{id}/view")]
pub async fn view(
    state: web::Data<AppState>,
    user: Option<AuthUser>,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (v, tenant) = caller(&state, user.as_ref());
    let ip = client_ip_of(&req, &state.settings.server);
    let (counted, counters) = state
        .social
        .view(v, tenant, ProjectId::from_uuid(*id), &ip)
        .await?;
    Ok(envelope::ok(ViewResponse {
        project_id: *id,
        counted,
        view_count: counters.view_count,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReportRequest {
    /// Why (1–500 characters).
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportResponse {
    pub id: Uuid,
    pub reporter_id: Uuid,
    #[schema(example = "project")]
    pub target_kind: &'static str,
    pub target_id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<Uuid>,
    pub reason: String,
    #[schema(example = "open")]
    pub status: &'static str,
    /// hide | restore | delete, once resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The project's name or the comment's text (admin queue), while it exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_summary: Option<String>,
    pub target_hidden: bool,
}

impl From<Report> for ReportResponse {
    fn from(r: Report) -> Self {
        Self {
            id: r.id,
            reporter_id: r.reporter.as_uuid(),
            target_kind: r.target_kind.as_str(),
            target_id: r.target_id,
            project_id: r.project_id,
            reason: r.reason,
            status: r.status.as_str(),
            action: r.action.map(|a| a.as_str()),
            note: r.note,
            resolved_by: r.resolved_by.map(|u| u.as_uuid()),
            resolved_at: r.resolved_at,
            created_at: r.created_at,
            target_summary: r.target_summary,
            target_hidden: r.target_hidden,
        }
    }
}

/// What the reporter learns: their report, and whether it was new. Not the other reports.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FiledReportResponse {
    pub id: Uuid,
    #[schema(example = "project")]
    pub target_kind: &'static str,
    pub target_id: Uuid,
    pub reason: String,
    #[schema(example = "open")]
    pub status: &'static str,
    /// False when you had already reported this item (your first report is kept).
    pub created: bool,
    pub created_at: DateTime<Utc>,
}

fn filed(o: ReportOutcome) -> HttpResponse {
    let status = if o.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    envelope::with_status(
        status,
        FiledReportResponse {
            id: o.report.id,
            target_kind: o.report.target_kind.as_str(),
            target_id: o.report.target_id,
            reason: o.report.reason,
            status: o.report.status.as_str(),
            created: o.created,
            created_at: o.report.created_at,
        },
    )
}

/// Report a project (any signed-in user, the viewer role included; one report per user per
/// project). Reports from `ingenio.moderation.report-threshold` (3) distinct users hide it until
/// an admin reviews them.
#[utoipa::path(post, path = "/v1/projects/{id}/report", tag = "moderation", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id")), request_body = ReportRequest,
    responses(
        (status = 201, description = "Reported", body = inline(Envelope<FiledReportResponse>)),
        (status = 200, description = "Already reported by you (the first report is kept)", body = inline(Envelope<FiledReportResponse>)),
        (status = 400, description = "1001 blank or over-long reason, or your own project", body = inline(Envelope<Value>)),
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 404, description = "5000 no such project you can read", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 database unavailable", body = inline(Envelope<Value>)),
    ))]
#[post("/projects/{id}/report")]
pub async fn report_project(
    state: web::Data<AppState>,
    AuthUser(p): AuthUser,
    id: web::Path<Uuid>,
    body: web::Json<ReportRequest>,
) -> Result<HttpResponse, ApiError> {
    let o = state
        .social
        .report_project(
            viewer(&p),
            ProjectId::from_uuid(*id),
            body.reason.as_deref(),
        )
        .await?;
    Ok(filed(o))
}

/// Report a comment (any signed-in user; one report per user per comment).
#[utoipa::path(post, path = "/v1/comments/{id}/report", tag = "moderation", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "comment id")), request_body = ReportRequest,
    responses(
        (status = 201, description = "Reported", body = inline(Envelope<FiledReportResponse>)),
        (status = 200, description = "Already reported by you (the first report is kept)", body = inline(Envelope<FiledReportResponse>)),
        (status = 400, description = "1001 blank or over-long reason, or your own comment", body = inline(Envelope<Value>)),
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 404, description = "1002 no such comment you can see", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 database unavailable", body = inline(Envelope<Value>)),
    ))]
#[post("/comments/{id}/report")]
pub async fn report_comment(
    state: web::Data<AppState>,
    AuthUser(p): AuthUser,
    id: web::Path<Uuid>,
    body: web::Json<ReportRequest>,
) -> Result<HttpResponse, ApiError> {
    let o = state
        .social
        .report_comment(viewer(&p), *id, body.reason.as_deref())
        .await?;
    Ok(filed(o))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ReportsQuery {
    /// open | resolved (default: both, open first).
    pub status: Option<String>,
    pub current: Option<u32>,
    pub size: Option<u32>,
}

/// The report queue (admin): open reports first, oldest first; then resolved ones, most
/// recently resolved first.
#[utoipa::path(get, path = "/v1/admin/reports", tag = "moderation", security(("bearer" = [])), params(ReportsQuery),
    responses(
        (status = 200, description = "A page of reports", body = inline(Envelope<Value>)),
        (status = 400, description = "1001 bad status or paging", body = inline(Envelope<Value>)),
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 403, description = "1004 administrator role required", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 database unavailable", body = inline(Envelope<Value>)),
    ))]
#[get("/admin/reports")]
pub async fn admin_reports(
    state: web::Data<AppState>,
    AdminUser(p): AdminUser,
    q: web::Query<ReportsQuery>,
) -> Result<HttpResponse, ApiError> {
    let status = match q.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(ReportStatus::parse(s).ok_or_else(|| {
            ApiError::bad_param("status", format!("must be {}", ReportStatus::choices()))
        })?),
    };
    let page = PageQuery {
        current: q.current,
        size: q.size,
    }
    .page()?;
    let page = state.social.reports(viewer(&p), status, page).await?;
    Ok(envelope::ok(page.map(ReportResponse::from)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ResolveRequest {
    /// hide (keep it hidden) | restore (show it again) | delete (remove the item)
    pub action: String,
    /// Why (up to 500 characters), kept with the decision.
    pub note: Option<String>,
}

/// Resolve a report (admin): applies the action to the reported item and resolves every open
/// report on it, recording who, when and why.
#[utoipa::path(post, path = "/v1/admin/reports/{id}/resolve", tag = "moderation", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "report id")), request_body = ResolveRequest,
    responses(
        (status = 200, description = "Resolved", body = inline(Envelope<ReportResponse>)),
        (status = 400, description = "1001 bad action or note", body = inline(Envelope<Value>)),
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 403, description = "1004 administrator role required", body = inline(Envelope<Value>)),
        (status = 404, description = "1002 no such report", body = inline(Envelope<Value>)),
        (status = 409, description = "1001 already resolved", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 database unavailable", body = inline(Envelope<Value>)),
    ))]
#[post("/admin/reports/{id}/resolve")]
pub async fn resolve_report(
    state: web::Data<AppState>,
    AdminUser(p): AdminUser,
    id: web::Path<Uuid>,
    body: web::Json<ResolveRequest>,
) -> Result<HttpResponse, ApiError> {
    let r = state
        .social
        .resolve(viewer(&p), *id, &body.action, body.note.as_deref())
        .await?;
    Ok(envelope::ok(ReportResponse::from(r)))
}
