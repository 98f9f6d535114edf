//! Project routes (SPEC §4 "Projects, forks, social, magic prompts"): my projects (CRUD, status
//! moves, stats), the public gallery, forks and lineage. Reads follow the read rule (404 `5000`
//! for what the caller may not read, never 403); changes need a writer role and ownership.

use crate::http::appspecs::{viewer, PageQuery};
use crate::http::envelope::{self, Envelope};
use crate::http::error::ApiError;
use crate::http::extract::{MaybeUser, WriterUser};
use crate::http::middleware::client_ip_of;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{delete, get, post, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use ingenio_kernel::{Page, PageRequest, ProjectId, Viewer};
use ingenio_projects::lineage::Lineage;
use ingenio_projects::models::{
    parse_cover_url, parse_description, parse_name, parse_search, parse_tags, AgeGroup,
    ForkRequest, GalleryQuery, GallerySort, MyProjectsQuery, NewProject, Project, ProjectStats,
    ProjectStatus, ProjectUpdate, Visibility, MAX_CUSTOMIZATIONS_BYTES,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// The largest gallery page (smaller than the general 100: gallery cards are heavy).
pub const MAX_GALLERY_PAGE_SIZE: u32 = 50;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // literal segments before `{id}`
    cfg.service(gallery)
        .service(stats)
        .service(create)
        .service(list_mine)
        .service(get_one)
        .service(update)
        .service(remove)
        .service(publish)
        .service(unpublish)
        .service(archive)
        .service(fork)
        .service(forks)
        .service(lineage);
}

/// A project as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectResponse {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cover_image_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_spec_id: Option<Uuid>,
    #[schema(example = "draft")]
    pub status: &'static str,
    #[schema(example = "private")]
    pub visibility: &'static str,
    pub view_count: i64,
    pub like_count: i64,
    pub fork_count: i64,
    pub comment_count: i64,
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "middle_school")]
    pub age_group: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set when moderation hid the project (only its owner and admins see it then).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden_at: Option<DateTime<Utc>>,
    /// The `generated_code` record of the spec's latest render.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_id: Option<Uuid>,
    /// The live preview of the spec's latest render.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview_url: Option<String>,
}

impl From<Project> for ProjectResponse {
    fn from(p: Project) -> Self {
        Self {
            id: p.id.as_uuid(),
            user_id: p.owner.as_uuid(),
            name: p.name,
            description: p.description,
            cover_image_url: p.cover_image_url,
            app_spec_id: p.app_spec_id.map(|a| a.as_uuid()),
            status: p.status.as_str(),
            visibility: p.visibility.as_str(),
            view_count: p.view_count,
            like_count: p.like_count,
            fork_count: p.fork_count,
            comment_count: p.comment_count,
            tags: p.tags,
            age_group: p.age_group.map(|a| a.as_str()),
            published_at: p.published_at,
            created_at: p.created_at,
            updated_at: p.updated_at,
            hidden_at: p.hidden_at,
            code_id: p.code_id.map(|c| c.as_uuid()),
            preview_url: p.preview_url,
        }
    }
}

/// A page of projects (the envelope of every paged listing).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectPage {
    pub records: Vec<ProjectResponse>,
    pub total: u64,
    pub current: u32,
    pub size: u32,
    pub pages: u64,
}

impl From<Page<Project>> for ProjectPage {
    fn from(p: Page<Project>) -> Self {
        let p = p.map(ProjectResponse::from);
        Self {
            records: p.records,
            total: p.total,
            current: p.current,
            size: p.size,
            pages: p.pages,
        }
    }
}

fn parse_enum<T>(
    field: &str,
    raw: &str,
    parse: fn(&str) -> Option<T>,
    all: &[&str],
) -> Result<T, ApiError> {
    parse(raw)
        .ok_or_else(|| ApiError::bad_param(field, format!("must be one of {}", all.join(", "))))
}

fn age_group(raw: &str) -> Result<AgeGroup, ApiError> {
    let all: Vec<&str> = AgeGroup::ALL.iter().map(|a| a.as_str()).collect();
    parse_enum("ageGroup", raw, AgeGroup::parse, &all)
}

fn visibility(raw: &str) -> Result<Visibility, ApiError> {
    let all: Vec<&str> = Visibility::ALL.iter().map(|a| a.as_str()).collect();
    parse_enum("visibility", raw, Visibility::parse, &all)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateProjectRequest {
    /// 1–200 characters.
    pub name: String,
    /// At most 5000 characters.
    pub description: Option<String>,
    /// An http(s) URL of at most 500 characters.
    pub cover_image_url: Option<String>,
    /// One of the caller's specs.
    pub app_spec_id: Option<Uuid>,
    /// `private` (default), `public` or `unlisted`.
    pub visibility: Option<String>,
    /// At most 10 tags of 1–50 characters.
    pub tags: Option<Vec<String>>,
    /// `elementary`, `middle_school`, `high_school` or `university`.
    pub age_group: Option<String>,
}

impl CreateProjectRequest {
    fn try_into_domain(self) -> Result<NewProject, ApiError> {
        Ok(NewProject {
            name: parse_name(&self.name)?,
            description: self
                .description
                .as_deref()
                .map(parse_description)
                .transpose()?
                .flatten(),
            cover_image_url: self
                .cover_image_url
                .as_deref()
                .map(parse_cover_url)
                .transpose()?
                .flatten(),
            app_spec_id: self.app_spec_id.map(Into::into),
            visibility: self
                .visibility
                .as_deref()
                .map(visibility)
                .transpose()?
                .unwrap_or(Visibility::Private),
            tags: parse_tags(self.tags.as_deref().unwrap_or_default())?,
            age_group: self.age_group.as_deref().map(age_group).transpose()?,
        })
    }
}

/// Fields to change; absent (or null) keeps a field, `""` clears `description`,
/// `coverImageUrl` and `ageGroup`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateProjectRequest {
    pub name: Option<String>,
    pub description: Option<String>,
    pub cover_image_url: Option<String>,
    pub visibility: Option<String>,
    pub tags: Option<Vec<String>>,
    pub age_group: Option<String>,
}

impl UpdateProjectRequest {
    fn try_into_domain(self) -> Result<ProjectUpdate, ApiError> {
        Ok(ProjectUpdate {
            name: self.name.as_deref().map(parse_name).transpose()?,
            description: self
                .description
                .as_deref()
                .map(parse_description)
                .transpose()?,
            cover_image_url: self
                .cover_image_url
                .as_deref()
                .map(parse_cover_url)
                .transpose()?,
            visibility: self.visibility.as_deref().map(visibility).transpose()?,
            tags: self.tags.as_deref().map(parse_tags).transpose()?,
            age_group: match self.age_group.as_deref().map(str::trim) {
                None => None,
                Some("") => Some(None),
                Some(a) => Some(Some(age_group(a)?)),
            },
        })
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MineQuery {
    /// `draft`, `published` or `archived`.
    pub status: Option<String>,
    /// Substring of the name or description (case-insensitive), at most 100 characters.
    pub keyword: Option<String>,
    pub current: Option<u32>,
    pub size: Option<u32>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct GalleryParams {
    /// Substring of the name or description (case-insensitive; Chinese text too).
    pub q: Option<String>,
    /// Comma-separated; projects with any of them.
    pub tags: Option<String>,
    pub age_group: Option<String>,
    /// `latest` (default), `popular`, `mostForked` or `mostViewed`.
    pub sort: Option<String>,
    pub current: Option<u32>,
    /// 1–50 (default 10); larger values are capped at 50.
    pub size: Option<u32>,
}

/// A fork request body (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForkBody {
    /// The fork's description (the source's when absent).
    pub description: Option<String>,
    /// What you mean to change (a JSON object of at most 16 KiB, kept with the fork).
    #[schema(value_type = Option<Object>)]
    pub customizations: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatsResponse {
    pub total: i64,
    pub draft: i64,
    pub published: i64,
    pub archived: i64,
    pub public: i64,
    pub private: i64,
    pub unlisted: i64,
    pub views: i64,
    pub likes: i64,
    pub forks: i64,
    pub comments: i64,
}

impl From<ProjectStats> for StatsResponse {
    fn from(s: ProjectStats) -> Self {
        Self {
            total: s.total,
            draft: s.draft,
            published: s.published,
            archived: s.archived,
            public: s.public,
            private: s.private,
            unlisted: s.unlisted,
            views: s.views,
            likes: s.likes,
            forks: s.forks,
            comments: s.comments,
        }
    }
}

/// An ancestor in a lineage; `project` is absent when `redacted`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AncestorResponse {
    /// 1 = the project it was forked from.
    pub depth: i32,
    pub redacted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<ProjectResponse>,
}

/// A descendant; `ref` is unique in the response (the project asked about is ref 0) and
/// `parentRef` names the node it was forked from. `project` is absent when `redacted`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DescendantResponse {
    #[serde(rename = "ref")]
    pub node_ref: u32,
    pub parent_ref: u32,
    pub depth: i32,
    pub redacted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<ProjectResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LineageResponse {
    pub project: ProjectResponse,
    /// Nearest first, up to the root.
    pub ancestors: Vec<AncestorResponse>,
    /// Breadth first.
    pub descendants: Vec<DescendantResponse>,
    /// Whether the walk stopped at `maxDepth` or `maxNodes`.
    pub truncated: bool,
    pub max_depth: i32,
    pub max_nodes: i64,
}

fn lineage_response(l: Lineage, max_depth: i32, max_nodes: i64) -> LineageResponse {
    LineageResponse {
        project: l.project.into(),
        ancestors: l
            .ancestors
            .into_iter()
            .map(|a| AncestorResponse {
                depth: a.depth,
                redacted: a.project.is_none(),
                project: a.project.map(Into::into),
            })
            .collect(),
        descendants: l
            .descendants
            .into_iter()
            .map(|d| DescendantResponse {
                node_ref: d.node_ref,
                parent_ref: d.parent_ref,
                depth: d.depth,
                redacted: d.project.is_none(),
                project: d.project.map(Into::into),
            })
            .collect(),
        truncated: l.truncated,
        max_depth,
        max_nodes,
    }
}

fn page_of(current: Option<u32>, size: Option<u32>) -> Result<PageRequest, ApiError> {
    PageQuery { current, size }.page()
}

fn project_id(id: Uuid) -> ProjectId {
    ProjectId::from_uuid(id)
}

fn maybe_viewer(u: &MaybeUser) -> Option<Viewer> {
    u.0.as_ref().map(viewer)
}

/// Create a project of mine (private draft unless told otherwise).
#[utoipa::path(post, path = "/v1/projects", tag = "projects", security(("bearer" = [])), request_body = CreateProjectRequest,
    responses(
        (status = 201, description = "Created", body = inline(Envelope<ProjectResponse>)),
        (status = 400, description = "1001 bad field (data names it)", body = inline(Envelope<Value>)),
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 403, description = "1004 the viewer role is read-only", body = inline(Envelope<Value>)),
        (status = 404, description = "3000 appSpecId is not one of your specs", body = inline(Envelope<Value>)),
        (status = 413, description = "1001 body too large", body = inline(Envelope<Value>)),
        (status = 429, description = "1005 too many requests", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 storage unavailable", body = inline(Envelope<Value>)),
    ))]
#[post("/projects")]
pub async fn create(
    state: web::Data<AppState>,
    WriterUser(p): WriterUser,
    body: web::Json<CreateProjectRequest>,
) -> Result<HttpResponse, ApiError> {
    let new = body.into_inner().try_into_domain()?;
    let project = state.projects.create(&viewer(&p), new).await?;
    Ok(envelope::with_status(
        StatusCode::CREATED,
        ProjectResponse::from(project),
    ))
}

/// My projects, newest first (cached; counters may lag by a few seconds).
#[utoipa::path(get, path = "/v1/projects", tag = "projects", security(("bearer" = [])), params(MineQuery),
    responses(
        (status = 200, description = "A page of my projects", body = inline(Envelope<ProjectPage>)),
        (status = 400, description = "1001 bad status, keyword or paging", body = inline(Envelope<Value>)),
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 429, description = "1005 too many requests", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 storage unavailable", body = inline(Envelope<Value>)),
    ))]
#[get("/projects")]
pub async fn list_mine(
    state: web::Data<AppState>,
    user: crate::http::extract::AuthUser,
    q: web::Query<MineQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let page = page_of(q.current, q.size)?;
    let status = match q.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => {
            let all: Vec<&str> = ProjectStatus::ALL.iter().map(|a| a.as_str()).collect();
            Some(parse_enum("status", s, ProjectStatus::parse, &all)?)
        }
        None => None,
    };
    let query = MyProjectsQuery {
        status,
        keyword: parse_search("keyword", q.keyword.as_deref())?,
    };
    let out = state
        .projects
        .list_mine(&viewer(&user.0), &query, page)
        .await?;
    Ok(envelope::ok(ProjectPage::from(out)))
}

/// Counts over my projects.
#[utoipa::path(get, path = "/v1/projects/stats", tag = "projects", security(("bearer" = [])),
    responses(
        (status = 200, description = "Counts by status and visibility, counter sums", body = inline(Envelope<StatsResponse>)),
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 429, description = "1005 too many requests", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 storage unavailable", body = inline(Envelope<Value>)),
    ))]
#[get("/projects/stats")]
pub async fn stats(
    state: web::Data<AppState>,
    user: crate::http::extract::AuthUser,
) -> Result<HttpResponse, ApiError> {
    let s = state.projects.stats(&viewer(&user.0)).await?;
    Ok(envelope::ok(StatsResponse::from(s)))
}

/// The community gallery: public + published projects (anonymous allowed). First pages of each
/// sort are cached for a few seconds.
#[utoipa::path(get, path = "/v1/projects/public", tag = "projects", params(GalleryParams),
    responses(
        (status = 200, description = "A page of the gallery", body = inline(Envelope<ProjectPage>)),
        (status = 400, description = "1001 bad filter, sort or paging", body = inline(Envelope<Value>)),
        (status = 401, description = "1003 a token was sent and is not valid", body = inline(Envelope<Value>)),
        (status = 429, description = "1005 too many requests", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 storage unavailable", body = inline(Envelope<Value>)),
    ))]
#[get("/projects/public")]
pub async fn gallery(
    state: web::Data<AppState>,
    user: MaybeUser,
    q: web::Query<GalleryParams>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let page = page_of(q.current, q.size.map(|s| s.min(MAX_GALLERY_PAGE_SIZE)))?;
    let sort = match q.sort.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => {
            let all: Vec<&str> = GallerySort::ALL.iter().map(|a| a.as_str()).collect();
            parse_enum("sort", s, GallerySort::parse, &all)?
        }
        None => GallerySort::Latest,
    };
    let tags: Vec<String> = q
        .tags
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    let query = GalleryQuery {
        q: parse_search("q", q.q.as_deref())?,
        tags: parse_tags(&tags)?,
        age_group: q
            .age_group
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(age_group)
            .transpose()?,
        sort,
    };
    let v = maybe_viewer(&user);
    let shared = state
        .projects
        .gallery_shared(v.as_ref(), &query, page)
        .await?;
    // a cached page is serialized once and its JSON kept beside it while it is cached
    let json = shared.rendered(|p| serde_json::to_vec(&ProjectPage::from(p.to_page())).ok());
    Ok(match json {
        Some(Some(json)) => envelope::ok_json(json),
        _ => envelope::ok(ProjectPage::from(shared.to_page())),
    })
}

const READ_404: &str =
    "5000 not found: no such project, or a private (or hidden) one of someone else";

/// One project: owner always; public and unlisted ones by anyone with the id (anonymous too).
/// Reading it counts a view, as `POST /v1/projects/{id}/view` does: at most once per viewer
/// (user, or client IP when anonymous) per `ingenio.social.view-window-hours`, never the owner's;
/// `viewCount` in the answer includes it.
#[utoipa::path(get, path = "/v1/projects/{id}", tag = "projects",
    params(("id" = Uuid, Path, description = "project id")),
    responses(
        (status = 200, description = "The project", body = inline(Envelope<ProjectResponse>)),
        (status = 401, description = "1003 a token was sent and is not valid", body = inline(Envelope<Value>)),
        (status = 404, description = READ_404, body = inline(Envelope<Value>)),
        (status = 429, description = "1005 too many requests", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 storage unavailable", body = inline(Envelope<Value>)),
    ))]
#[get("/projects/{id}")]
pub async fn get_one(
    state: web::Data<AppState>,
    user: MaybeUser,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let v = maybe_viewer(&user);
    let mut p = state.projects.get(v.as_ref(), project_id(*id)).await?;
    // Reading the page is a view (SPEC: once per viewer per window, never the owner's). A
    // failure to count it is logged and does not fail the read.
    let seen = ingenio_social::models::ProjectRef {
        id: p.id,
        tenant_id: p.tenant_id,
        owner: p.owner,
    };
    let ip = client_ip_of(&req, &state.settings.server);
    match state.social.count_view(seen, v, &ip).await {
        Ok(true) => p.view_count += 1,
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, project = %p.id, "view not counted"),
    }
    Ok(envelope::ok(ProjectResponse::from(p)))
}

/// Change my project (name, description, cover, visibility, tags, age group).
#[utoipa::path(put, path = "/v1/projects/{id}", tag = "projects", security(("bearer" = [])), request_body = UpdateProjectRequest,
    params(("id" = Uuid, Path, description = "project id")),
    responses(
        (status = 200, description = "The changed project", body = inline(Envelope<ProjectResponse>)),
        (status = 400, description = "1001 bad field (data names it)", body = inline(Envelope<Value>)),
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 403, description = "1004 the viewer role is read-only; 5001 someone else's (readable) project", body = inline(Envelope<Value>)),
        (status = 404, description = READ_404, body = inline(Envelope<Value>)),
        (status = 413, description = "1001 body too large", body = inline(Envelope<Value>)),
        (status = 429, description = "1005 too many requests", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 storage unavailable", body = inline(Envelope<Value>)),
    ))]
#[put("/projects/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    WriterUser(p): WriterUser,
    id: web::Path<Uuid>,
    body: web::Json<UpdateProjectRequest>,
) -> Result<HttpResponse, ApiError> {
    let change = body.into_inner().try_into_domain()?;
    let project = state
        .projects
        .update(&viewer(&p), project_id(*id), change)
        .await?;
    Ok(envelope::ok(ProjectResponse::from(project)))
}

/// Delete my project (its spec stays; forks of it stay, without the link).
#[utoipa::path(delete, path = "/v1/projects/{id}", tag = "projects", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id")),
    responses(
        (status = 200, description = "Deleted", body = inline(Envelope<Value>)),
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 403, description = "1004 the viewer role is read-only; 5001 someone else's (readable) project", body = inline(Envelope<Value>)),
        (status = 404, description = READ_404, body = inline(Envelope<Value>)),
        (status = 429, description = "1005 too many requests", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 storage unavailable", body = inline(Envelope<Value>)),
    ))]
#[delete("/projects/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    WriterUser(p): WriterUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state.projects.delete(&viewer(&p), project_id(*id)).await?;
    Ok(envelope::done("deleted"))
}

async fn status_move(
    state: &AppState,
    p: &ingenio_users::Principal,
    id: Uuid,
    to: ProjectStatus,
) -> Result<HttpResponse, ApiError> {
    let project = state
        .projects
        .withdraw(&viewer(p), project_id(id), to)
        .await?;
    Ok(envelope::ok(ProjectResponse::from(project)))
}

/// Publish: needs a spec with generated code; moves the spec to `published`; a private project
/// becomes public (an unlisted one stays unlisted).
#[utoipa::path(post, path = "/v1/projects/{id}/publish", tag = "projects", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id")),
    responses(
        (status = 200, description = "Published", body = inline(Envelope<ProjectResponse>)),
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 403, description = "1004 the viewer role is read-only; 5001 someone else's (readable) project", body = inline(Envelope<Value>)),
        (status = 404, description = READ_404, body = inline(Envelope<Value>)),
        (status = 409, description = "1001 no generated code, or the spec was edited since its last render", body = inline(Envelope<Value>)),
        (status = 429, description = "1005 too many requests", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 storage unavailable", body = inline(Envelope<Value>)),
    ))]
#[post("/projects/{id}/publish")]
pub async fn publish(
    state: web::Data<AppState>,
    WriterUser(p): WriterUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    status_move(&state, &p, *id, ProjectStatus::Published).await
}

/// Unpublish: back to `draft`, out of the gallery; a published spec goes back to `generated`.
#[utoipa::path(post, path = "/v1/projects/{id}/unpublish", tag = "projects", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id")),
    responses(
        (status = 200, description = "Now a draft", body = inline(Envelope<ProjectResponse>)),
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 403, description = "1004 the viewer role is read-only; 5001 someone else's (readable) project", body = inline(Envelope<Value>)),
        (status = 404, description = READ_404, body = inline(Envelope<Value>)),
        (status = 429, description = "1005 too many requests", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 storage unavailable", body = inline(Envelope<Value>)),
    ))]
#[post("/projects/{id}/unpublish")]
pub async fn unpublish(
    state: web::Data<AppState>,
    WriterUser(p): WriterUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    status_move(&state, &p, *id, ProjectStatus::Draft).await
}

/// Archive: out of the gallery, kept (still readable per its visibility); publish again to return.
#[utoipa::path(post, path = "/v1/projects/{id}/archive", tag = "projects", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id")),
    responses(
        (status = 200, description = "Archived", body = inline(Envelope<ProjectResponse>)),
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 403, description = "1004 the viewer role is read-only; 5001 someone else's (readable) project", body = inline(Envelope<Value>)),
        (status = 404, description = READ_404, body = inline(Envelope<Value>)),
        (status = 429, description = "1005 too many requests", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 storage unavailable", body = inline(Envelope<Value>)),
    ))]
#[post("/projects/{id}/archive")]
pub async fn archive(
    state: web::Data<AppState>,
    WriterUser(p): WriterUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    status_move(&state, &p, *id, ProjectStatus::Archived).await
}

/// Fork a project I can read and do not own: a private draft of mine with a deep copy of its spec
/// (version 1 of type `fork`). One fork per user per project. Body optional.
#[utoipa::path(post, path = "/v1/projects/{id}/fork", tag = "projects", security(("bearer" = [])), request_body = Option<ForkBody>,
    params(("id" = Uuid, Path, description = "project id")),
    responses(
        (status = 201, description = "The fork", body = inline(Envelope<ProjectResponse>)),
        (status = 400, description = "1001 bad body, or your own project (data.id)", body = inline(Envelope<Value>)),
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 403, description = "1004 the viewer role is read-only", body = inline(Envelope<Value>)),
        (status = 404, description = READ_404, body = inline(Envelope<Value>)),
        (status = 409, description = "5002 you already forked this project", body = inline(Envelope<Value>)),
        (status = 413, description = "1001 body too large", body = inline(Envelope<Value>)),
        (status = 429, description = "1005 too many requests", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 storage unavailable", body = inline(Envelope<Value>)),
    ))]
#[post("/projects/{id}/fork")]
pub async fn fork(
    state: web::Data<AppState>,
    WriterUser(p): WriterUser,
    id: web::Path<Uuid>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body: ForkBody = if body.iter().all(u8::is_ascii_whitespace) {
        ForkBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_param("body", format!("not a fork request: {e}")))?
    };
    let customizations = match body.customizations {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(v @ Value::Object(_)) => {
            if v.to_string().len() > MAX_CUSTOMIZATIONS_BYTES {
                return Err(ApiError::bad_param(
                    "customizations",
                    format!("must be at most {MAX_CUSTOMIZATIONS_BYTES} bytes of JSON"),
                ));
            }
            v
        }
        Some(_) => {
            return Err(ApiError::bad_param(
                "customizations",
                "must be a JSON object",
            ))
        }
    };
    let request = ForkRequest {
        description: body
            .description
            .as_deref()
            .map(parse_description)
            .transpose()?
            .flatten(),
        customizations,
    };
    let project = state
        .projects
        .fork(&viewer(&p), project_id(*id), request)
        .await?;
    Ok(envelope::with_status(
        StatusCode::CREATED,
        ProjectResponse::from(project),
    ))
}

/// Direct forks of a project I can read: public ones, mine, all for an admin; newest first.
#[utoipa::path(get, path = "/v1/projects/{id}/forks", tag = "projects",
    params(("id" = Uuid, Path, description = "project id"), PageQuery),
    responses(
        (status = 200, description = "A page of forks", body = inline(Envelope<ProjectPage>)),
        (status = 400, description = "1001 bad paging", body = inline(Envelope<Value>)),
        (status = 401, description = "1003 a token was sent and is not valid", body = inline(Envelope<Value>)),
        (status = 404, description = READ_404, body = inline(Envelope<Value>)),
        (status = 429, description = "1005 too many requests", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 storage unavailable", body = inline(Envelope<Value>)),
    ))]
#[get("/projects/{id}/forks")]
pub async fn forks(
    state: web::Data<AppState>,
    user: MaybeUser,
    id: web::Path<Uuid>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let v = maybe_viewer(&user);
    let out = state
        .projects
        .forks(v.as_ref(), project_id(*id), q.page()?)
        .await?;
    Ok(envelope::ok(ProjectPage::from(out)))
}

/// Ancestors up to the root and the descendant tree (bounded; `truncated` says when cut). Nodes
/// you may not list (others' private, unlisted or hidden projects) are `redacted`.
#[utoipa::path(get, path = "/v1/projects/{id}/lineage", tag = "projects",
    params(("id" = Uuid, Path, description = "project id")),
    responses(
        (status = 200, description = "The lineage", body = inline(Envelope<LineageResponse>)),
        (status = 401, description = "1003 a token was sent and is not valid", body = inline(Envelope<Value>)),
        (status = 404, description = READ_404, body = inline(Envelope<Value>)),
        (status = 429, description = "1005 too many requests", body = inline(Envelope<Value>)),
        (status = 503, description = "1000 storage unavailable", body = inline(Envelope<Value>)),
    ))]
#[get("/projects/{id}/lineage")]
pub async fn lineage(
    state: web::Data<AppState>,
    user: MaybeUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let v = maybe_viewer(&user);
    let l = state.projects.lineage(v.as_ref(), project_id(*id)).await?;
    let cfg = state.projects.config();
    Ok(envelope::ok(lineage_response(
        l,
        cfg.lineage_max_depth,
        cfg.lineage_max_nodes,
    )))
}
