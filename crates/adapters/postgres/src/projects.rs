//! PostgreSQL implementation of `ProjectRepository`: projects with their spec's latest render,
//! the gallery (pg_trgm substring search, sort indexes of migration 013), forks as one
//! transaction with the exact counter, and lineage walks as bounded, cycle-safe recursive CTEs.

use crate::kept_reads::KeptReadCaches;
use crate::pool::{conn, store_err, DbPool};
use async_trait::async_trait;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{
    Array, BigInt, Bool, Integer, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel::QueryableByName;
use diesel_async::scoped_futures::ScopedFutureExt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ingenio_app_specs::SpecStatus;
use ingenio_kernel::chrono::{DateTime, Utc};
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::{Page, PageRequest, ProjectId, StoreError, TenantId, UserId, Viewer};
use ingenio_projects::models::{
    like_pattern, AgeGroup, ForkMetadata, ForkRequest, GalleryQuery, GallerySort, LiveFields,
    MyProjectsQuery, NewProject, Project, ProjectStats, ProjectStatus, ProjectUpdate, Visibility,
};
use ingenio_projects::ports::{
    CreateOutcome, ForkOutcome, LineageRow, LineageRows, ProjectRepository, PublishOutcome,
};
use std::sync::Arc;

/// The columns of a project read (`p`), with its spec's latest render (kept on the row by the
/// triggers of migration 015).
const COLUMNS: &str = "p.id, p.tenant_id, p.user_id, p.name::text AS name, p.description, \
    p.cover_image_url::text AS cover_image_url, p.app_spec_id, p.status::text AS status, \
    p.visibility::text AS visibility, p.view_count, p.like_count, p.fork_count, p.comment_count, \
    p.tags::text[] AS tags, p.age_group::text AS age_group, p.published_at, p.created_at, \
    p.updated_at, p.hidden_at, p.code_id, p.preview_url::text AS preview_url";

/// A project row as read with [`COLUMNS`].
#[derive(Debug, QueryableByName)]
struct ProjectRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    tenant_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Nullable<Text>)]
    description: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    cover_image_url: Option<String>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    app_spec_id: Option<Uuid>,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Text)]
    visibility: String,
    #[diesel(sql_type = Integer)]
    view_count: i32,
    #[diesel(sql_type = Integer)]
    like_count: i32,
    #[diesel(sql_type = Integer)]
    fork_count: i32,
    #[diesel(sql_type = Integer)]
    comment_count: i32,
    #[diesel(sql_type = Array<Text>)]
    tags: Vec<String>,
    #[diesel(sql_type = Nullable<Text>)]
    age_group: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    published_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    updated_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    hidden_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    code_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    preview_url: Option<String>,
}

fn unknown(what: &str, value: &str) -> StoreError {
    StoreError::Unexpected(anyhow::anyhow!(
        "projects row has an unknown {what} {value:?}"
    ))
}

impl TryFrom<ProjectRow> for Project {
    type Error = StoreError;
    fn try_from(r: ProjectRow) -> Result<Self, StoreError> {
        let status = ProjectStatus::parse(&r.status).ok_or_else(|| unknown("status", &r.status))?;
        let visibility =
            Visibility::parse(&r.visibility).ok_or_else(|| unknown("visibility", &r.visibility))?;
        let age_group = match r.age_group.as_deref() {
            Some(a) => Some(AgeGroup::parse(a).ok_or_else(|| unknown("age_group", a))?),
            None => None,
        };
        Ok(Project {
            id: r.id.into(),
            tenant_id: r.tenant_id.into(),
            owner: r.user_id.into(),
            name: r.name,
            description: r.description,
            cover_image_url: r.cover_image_url,
            app_spec_id: r.app_spec_id.map(Into::into),
            status,
            visibility,
            view_count: i64::from(r.view_count),
            like_count: i64::from(r.like_count),
            fork_count: i64::from(r.fork_count),
            comment_count: i64::from(r.comment_count),
            tags: r.tags,
            age_group,
            published_at: r.published_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
            hidden_at: r.hidden_at,
            code_id: r.code_id.map(Into::into),
            preview_url: r.preview_url,
        })
    }
}

/// A lineage row: a project, the project it was forked from and its distance.
#[derive(Debug, QueryableByName)]
struct LineageDbRow {
    #[diesel(embed)]
    project: ProjectRow,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    parent_id: Option<Uuid>,
    #[diesel(sql_type = Integer)]
    depth: i32,
}

#[derive(Debug, QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(Debug, QueryableByName)]
struct IdRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

#[derive(Debug, QueryableByName)]
struct StatsRow {
    #[diesel(sql_type = BigInt)]
    total: i64,
    #[diesel(sql_type = BigInt)]
    draft: i64,
    #[diesel(sql_type = BigInt)]
    published: i64,
    #[diesel(sql_type = BigInt)]
    archived: i64,
    #[diesel(sql_type = BigInt)]
    public: i64,
    #[diesel(sql_type = BigInt)]
    private: i64,
    #[diesel(sql_type = BigInt)]
    unlisted: i64,
    #[diesel(sql_type = BigInt)]
    views: i64,
    #[diesel(sql_type = BigInt)]
    likes: i64,
    #[diesel(sql_type = BigInt)]
    forks: i64,
    #[diesel(sql_type = BigInt)]
    comments: i64,
}

#[derive(Debug, QueryableByName)]
struct LiveRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Integer)]
    view_count: i32,
    #[diesel(sql_type = Integer)]
    like_count: i32,
    #[diesel(sql_type = Integer)]
    fork_count: i32,
    #[diesel(sql_type = Integer)]
    comment_count: i32,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    hidden_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    code_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    preview_url: Option<String>,
}

/// The spec row a publish or a fork reads.
#[derive(Debug, QueryableByName)]
struct SpecStateRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Jsonb)]
    spec_content: serde_json::Value,
    #[diesel(sql_type = Integer)]
    version: i32,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<Integer>)]
    quality_score: Option<i32>,
    #[diesel(sql_type = Bool)]
    has_code: bool,
}

/// `.optional()` for `sql::query` results.
fn optional<T>(r: Result<T, DieselError>) -> Result<Option<T>, DieselError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(DieselError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

fn rows_to<T, R>(rows: Vec<R>) -> Result<Vec<T>, StoreError>
where
    T: TryFrom<R, Error = StoreError>,
{
    rows.into_iter().map(T::try_from).collect()
}

fn page_of(
    rows: Vec<ProjectRow>,
    total: i64,
    page: PageRequest,
) -> Result<Page<Project>, StoreError> {
    Ok(Page::new(
        rows_to(rows)?,
        u64::try_from(total).unwrap_or(0),
        page,
    ))
}

/// The ORDER BY of a gallery sort, over `alias`, always ending with the id.
fn gallery_order(sort: GallerySort, alias: &str) -> String {
    let column = match sort {
        GallerySort::Latest => "published_at",
        GallerySort::Popular => "like_count",
        GallerySort::MostForked => "fork_count",
        GallerySort::MostViewed => "view_count",
    };
    format!("{alias}.{column} DESC, {alias}.id DESC")
}

/// The gallery's WHERE (over `projects` aliased `q`): $1 tenant, $2 age group, $3 tags, $4 pattern.
const GALLERY_WHERE: &str = "q.tenant_id = $1 AND q.status = 'published' \
    AND q.visibility = 'public' AND q.hidden_at IS NULL \
    AND ($2::text IS NULL OR q.age_group = $2) \
    AND (cardinality($3::text[]) = 0 OR q.tags && $3::varchar[]) \
    AND ($4::text IS NULL OR q.name ILIKE $4 OR q.description ILIKE $4)";

/// "My projects" WHERE (over `projects` aliased `q`): $1 tenant, $2 owner, $3 status, $4 pattern.
const MINE_WHERE: &str = "q.tenant_id = $1 AND q.user_id = $2 \
    AND ($3::text IS NULL OR q.status = $3) \
    AND ($4::text IS NULL OR q.name ILIKE $4 OR q.description ILIKE $4)";

/// Runs a listing: the count, then the page with the same leading binds followed by `LIMIT` and
/// `OFFSET`; evaluates to the `Page<Project>`.
macro_rules! paged {
    ($c:expr, $page:expr, $count_sql:expr, $rows_sql:expr, $(($ty:ty, $val:expr)),+ $(,)?) => {{
        let total: CountRow = crate::sql::query($count_sql)
            $(.bind::<$ty, _>($val))+
            .get_result($c)
            .await
            .map_err(store_err)?;
        let rows: Vec<ProjectRow> = crate::sql::query($rows_sql)
            $(.bind::<$ty, _>($val))+
            .bind::<BigInt, _>($page.limit())
            .bind::<BigInt, _>($page.offset())
            .load($c)
            .await
            .map_err(store_err)?;
        page_of(rows, total.n, $page)
    }};
}

async fn load_one(
    c: &mut AsyncPgConnection,
    tenant: Uuid,
    id: Uuid,
) -> Result<Option<ProjectRow>, DieselError> {
    optional(
        crate::sql::query(format!(
            "SELECT {COLUMNS} FROM projects p WHERE p.id = $1 AND p.tenant_id = $2"
        ))
        .bind::<SqlUuid, _>(id)
        .bind::<SqlUuid, _>(tenant)
        .get_result(c)
        .await,
    )
}

/// Projects stored in PostgreSQL.
#[derive(Clone)]
pub struct PgProjectRepository {
    pool: DbPool,
    kept: Option<Arc<KeptReadCaches>>,
}

impl PgProjectRepository {
    pub fn new(pool: DbPool) -> Self {
        Self { pool, kept: None }
    }

    /// Single-project reads (`get`) answered from `kept` when it can vouch for them (see
    /// [`crate::kept_reads`]), from the database otherwise.
    pub fn with_kept_reads(pool: DbPool, kept: Arc<KeptReadCaches>) -> Self {
        Self {
            pool,
            kept: kept.enabled().then_some(kept),
        }
    }

    async fn reload(&self, tenant: TenantId, id: Uuid) -> Result<Option<Project>, StoreError> {
        let mut c = conn(&self.pool).await?;
        load_one(&mut c, tenant.as_uuid(), id)
            .await
            .map_err(store_err)?
            .map(Project::try_from)
            .transpose()
    }
}

fn is_unique_violation(e: &DieselError) -> bool {
    matches!(
        e,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}

#[async_trait]
impl ProjectRepository for PgProjectRepository {
    async fn create(
        &self,
        tenant: TenantId,
        owner: UserId,
        project: &NewProject,
    ) -> Result<CreateOutcome, StoreError> {
        let mut c = conn(&self.pool).await?;
        let row: Option<IdRow> = optional(
            crate::sql::query(
                "INSERT INTO projects (tenant_id, user_id, name, description, cover_image_url, \
                 app_spec_id, visibility, tags, age_group) \
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8::varchar[], $9 \
                 WHERE $6::uuid IS NULL OR EXISTS (SELECT 1 FROM app_specs a \
                   WHERE a.id = $6 AND a.tenant_id = $1 AND a.created_by_user_id = $2) \
                 RETURNING id",
            )
            .bind::<SqlUuid, _>(tenant.as_uuid())
            .bind::<SqlUuid, _>(owner.as_uuid())
            .bind::<Text, _>(&project.name)
            .bind::<Nullable<Text>, _>(project.description.as_deref())
            .bind::<Nullable<Text>, _>(project.cover_image_url.as_deref())
            .bind::<Nullable<SqlUuid>, _>(project.app_spec_id.map(|a| a.as_uuid()))
            .bind::<Text, _>(project.visibility.as_str())
            .bind::<Array<Text>, _>(&project.tags)
            .bind::<Nullable<Text>, _>(project.age_group.map(|a| a.as_str()))
            .get_result(&mut c)
            .await,
        )
        .map_err(store_err)?;
        let Some(row) = row else {
            return Ok(CreateOutcome::SpecNotFound);
        };
        drop(c);
        match self.reload(tenant, row.id).await? {
            Some(p) => Ok(CreateOutcome::Created(Box::new(p))),
            None => Err(StoreError::Unexpected(anyhow::anyhow!(
                "project {} vanished right after its insert",
                row.id
            ))),
        }
    }

    async fn get(&self, tenant: TenantId, id: ProjectId) -> Result<Option<Project>, StoreError> {
        let Some(kept) = self.kept.as_ref().and_then(KeptReadCaches::local) else {
            return self.reload(tenant, id.as_uuid()).await;
        };
        if let Some(p) = kept.lookup_project(tenant.as_uuid(), id.as_uuid()).await {
            return Ok(Some(p));
        }
        let ticket = kept.ticket();
        let found = self.reload(tenant, id.as_uuid()).await?;
        if let Some(p) = &found {
            kept.keep_project(ticket, tenant.as_uuid(), p.clone());
        }
        Ok(found)
    }

    async fn list_mine(
        &self,
        tenant: TenantId,
        owner: UserId,
        query: &MyProjectsQuery,
        page: PageRequest,
    ) -> Result<Page<Project>, StoreError> {
        let pattern = query.keyword.as_deref().map(like_pattern);
        let status = query.status.map(|s| s.as_str());
        let mut c = conn(&self.pool).await?;
        paged!(
            &mut c,
            page,
            format!("SELECT count(*) AS n FROM projects q WHERE {MINE_WHERE}"),
            format!(
                "SELECT {COLUMNS} FROM (SELECT q.* FROM projects q WHERE {MINE_WHERE} \
                 ORDER BY q.created_at DESC, q.id DESC LIMIT $5 OFFSET $6) p \
                 ORDER BY p.created_at DESC, p.id DESC"
            ),
            (SqlUuid, tenant.as_uuid()),
            (SqlUuid, owner.as_uuid()),
            (Nullable<Text>, status),
            (Nullable<Text>, pattern.as_deref()),
        )
    }

    async fn live_fields(
        &self,
        tenant: TenantId,
        ids: &[ProjectId],
    ) -> Result<Vec<LiveFields>, StoreError> {
        let ids: Vec<Uuid> = ids.iter().map(|i| i.as_uuid()).collect();
        let mut c = conn(&self.pool).await?;
        let rows: Vec<LiveRow> = crate::sql::query(
            "SELECT p.id, p.view_count, p.like_count, p.fork_count, p.comment_count, p.hidden_at, \
             p.code_id, p.preview_url::text AS preview_url \
             FROM projects p WHERE p.id = ANY($1) AND p.tenant_id = $2",
        )
        .bind::<Array<SqlUuid>, _>(&ids)
        .bind::<SqlUuid, _>(tenant.as_uuid())
        .load(&mut c)
        .await
        .map_err(store_err)?;
        Ok(rows
            .into_iter()
            .map(|r| LiveFields {
                id: r.id.into(),
                view_count: i64::from(r.view_count),
                like_count: i64::from(r.like_count),
                fork_count: i64::from(r.fork_count),
                comment_count: i64::from(r.comment_count),
                hidden_at: r.hidden_at,
                code_id: r.code_id.map(Into::into),
                preview_url: r.preview_url,
            })
            .collect())
    }

    async fn update(
        &self,
        tenant: TenantId,
        id: ProjectId,
        u: &ProjectUpdate,
    ) -> Result<Option<Project>, StoreError> {
        let mut c = conn(&self.pool).await?;
        let row: Option<IdRow> = optional(
            crate::sql::query(
                "UPDATE projects SET name = COALESCE($3, name), \
                 description = CASE WHEN $4 THEN $5 ELSE description END, \
                 cover_image_url = CASE WHEN $6 THEN $7 ELSE cover_image_url END, \
                 visibility = COALESCE($8, visibility), \
                 tags = COALESCE($9::varchar[], tags), \
                 age_group = CASE WHEN $10 THEN $11 ELSE age_group END \
                 WHERE id = $1 AND tenant_id = $2 RETURNING id",
            )
            .bind::<SqlUuid, _>(id.as_uuid())
            .bind::<SqlUuid, _>(tenant.as_uuid())
            .bind::<Nullable<Text>, _>(u.name.as_deref())
            .bind::<Bool, _>(u.description.is_some())
            .bind::<Nullable<Text>, _>(u.description.clone().flatten())
            .bind::<Bool, _>(u.cover_image_url.is_some())
            .bind::<Nullable<Text>, _>(u.cover_image_url.clone().flatten())
            .bind::<Nullable<Text>, _>(u.visibility.map(|v| v.as_str()))
            .bind::<Nullable<Array<Text>>, _>(u.tags.as_ref())
            .bind::<Bool, _>(u.age_group.is_some())
            .bind::<Nullable<Text>, _>(u.age_group.flatten().map(|a| a.as_str()))
            .get_result(&mut c)
            .await,
        )
        .map_err(store_err)?;
        drop(c);
        match row {
            Some(r) => self.reload(tenant, r.id).await,
            None => Ok(None),
        }
    }

    async fn delete(&self, tenant: TenantId, id: ProjectId) -> Result<bool, StoreError> {
        let mut c = conn(&self.pool).await?;
        let id = id.as_uuid();
        c.transaction::<_, DieselError, _>(|c| {
            async move {
                // the source keeps an exact count of its existing forks
                crate::sql::query(
                    "UPDATE projects SET fork_count = fork_count - 1 \
                     WHERE fork_count > 0 AND id IN (SELECT f.source_project_id FROM forks f \
                       JOIN projects fp ON fp.id = f.forked_project_id \
                       WHERE f.forked_project_id = $1 AND fp.tenant_id = $2)",
                )
                .bind::<SqlUuid, _>(id)
                .bind::<SqlUuid, _>(tenant.as_uuid())
                .execute(c)
                .await?;
                let n = crate::sql::query("DELETE FROM projects WHERE id = $1 AND tenant_id = $2")
                    .bind::<SqlUuid, _>(id)
                    .bind::<SqlUuid, _>(tenant.as_uuid())
                    .execute(c)
                    .await?;
                Ok(n == 1)
            }
            .scope_boxed()
        })
        .await
        .map_err(store_err)
    }

    async fn publish(&self, tenant: TenantId, id: ProjectId) -> Result<PublishOutcome, StoreError> {
        let mut c = conn(&self.pool).await?;
        let id = id.as_uuid();
        let outcome = c
            .transaction::<_, DieselError, _>(|c| {
                async move {
                    #[derive(QueryableByName)]
                    struct Locked {
                        #[diesel(sql_type = Nullable<SqlUuid>)]
                        app_spec_id: Option<Uuid>,
                    }
                    let locked: Option<Locked> = optional(
                        crate::sql::query(
                            "SELECT app_spec_id FROM projects WHERE id = $1 AND tenant_id = $2 \
                             FOR UPDATE",
                        )
                        .bind::<SqlUuid, _>(id)
                        .bind::<SqlUuid, _>(tenant.as_uuid())
                        .get_result(c)
                        .await,
                    )?;
                    let Some(locked) = locked else {
                        return Ok(Some(PublishOutcome::NotFound));
                    };
                    let Some(spec_id) = locked.app_spec_id else {
                        return Ok(Some(PublishOutcome::NoCode));
                    };
                    let spec: Option<SpecStateRow> = optional(
                        crate::sql::query(
                            "SELECT a.id, a.spec_content, a.version, a.status::text AS status, \
                             a.quality_score, EXISTS (SELECT 1 FROM generated_code g \
                               WHERE g.app_spec_id = a.id AND g.build_status = 'success') AS has_code \
                             FROM app_specs a WHERE a.id = $1 FOR UPDATE",
                        )
                        .bind::<SqlUuid, _>(spec_id)
                        .get_result(c)
                        .await,
                    )?;
                    let Some(spec) = spec.filter(|s| s.has_code) else {
                        return Ok(Some(PublishOutcome::NoCode));
                    };
                    // the app-specs lifecycle decides whether the spec may be published
                    let status = SpecStatus::parse(&spec.status);
                    let allowed = status.is_some_and(|s| {
                        s == SpecStatus::Published || s.can_transition(SpecStatus::Published)
                    });
                    if !allowed {
                        return Ok(Some(PublishOutcome::SpecNotReady {
                            status: spec.status,
                        }));
                    }
                    crate::sql::query(
                        "UPDATE app_specs SET status = 'published' \
                         WHERE id = $1 AND status <> 'published'",
                    )
                    .bind::<SqlUuid, _>(spec.id)
                    .execute(c)
                    .await?;
                    crate::sql::query(
                        "UPDATE projects SET status = 'published', published_at = now(), \
                         visibility = CASE WHEN visibility = 'private' THEN 'public' \
                           ELSE visibility END \
                         WHERE id = $1",
                    )
                    .bind::<SqlUuid, _>(id)
                    .execute(c)
                    .await?;
                    Ok(None)
                }
                .scope_boxed()
            })
            .await
            .map_err(store_err)?;
        if let Some(refused) = outcome {
            return Ok(refused);
        }
        drop(c);
        Ok(match self.reload(tenant, id).await? {
            Some(p) => PublishOutcome::Published(Box::new(p)),
            None => PublishOutcome::NotFound,
        })
    }

    async fn withdraw(
        &self,
        tenant: TenantId,
        id: ProjectId,
        to: ProjectStatus,
    ) -> Result<Option<Project>, StoreError> {
        let mut c = conn(&self.pool).await?;
        let id = id.as_uuid();
        let found = c
            .transaction::<_, DieselError, _>(|c| {
                async move {
                    #[derive(QueryableByName)]
                    struct Moved {
                        #[diesel(sql_type = Nullable<SqlUuid>)]
                        app_spec_id: Option<Uuid>,
                    }
                    let moved: Option<Moved> = optional(
                        crate::sql::query(
                            "UPDATE projects SET status = $3 WHERE id = $1 AND tenant_id = $2 \
                             RETURNING app_spec_id",
                        )
                        .bind::<SqlUuid, _>(id)
                        .bind::<SqlUuid, _>(tenant.as_uuid())
                        .bind::<Text, _>(to.as_str())
                        .get_result(c)
                        .await,
                    )?;
                    let Some(moved) = moved else {
                        return Ok(false);
                    };
                    if let Some(spec) = moved.app_spec_id {
                        // published → generated (the lifecycle's unpublish) unless another
                        // published project still shows this spec
                        crate::sql::query(
                            "UPDATE app_specs SET status = 'generated' \
                             WHERE id = $1 AND status = 'published' AND NOT EXISTS ( \
                               SELECT 1 FROM projects WHERE app_spec_id = $1 \
                                 AND status = 'published' AND id <> $2)",
                        )
                        .bind::<SqlUuid, _>(spec)
                        .bind::<SqlUuid, _>(id)
                        .execute(c)
                        .await?;
                    }
                    Ok(true)
                }
                .scope_boxed()
            })
            .await
            .map_err(store_err)?;
        drop(c);
        if !found {
            return Ok(None);
        }
        self.reload(tenant, id).await
    }

    async fn stats(&self, tenant: TenantId, owner: UserId) -> Result<ProjectStats, StoreError> {
        let mut c = conn(&self.pool).await?;
        let r: StatsRow = crate::sql::query(
            "SELECT count(*) AS total, \
             count(*) FILTER (WHERE status = 'draft') AS draft, \
             count(*) FILTER (WHERE status = 'published') AS published, \
             count(*) FILTER (WHERE status = 'archived') AS archived, \
             count(*) FILTER (WHERE visibility = 'public') AS public, \
             count(*) FILTER (WHERE visibility = 'private') AS private, \
             count(*) FILTER (WHERE visibility = 'unlisted') AS unlisted, \
             COALESCE(sum(view_count), 0)::bigint AS views, \
             COALESCE(sum(like_count), 0)::bigint AS likes, \
             COALESCE(sum(fork_count), 0)::bigint AS forks, \
             COALESCE(sum(comment_count), 0)::bigint AS comments \
             FROM projects WHERE tenant_id = $1 AND user_id = $2",
        )
        .bind::<SqlUuid, _>(tenant.as_uuid())
        .bind::<SqlUuid, _>(owner.as_uuid())
        .get_result(&mut c)
        .await
        .map_err(store_err)?;
        Ok(ProjectStats {
            total: r.total,
            draft: r.draft,
            published: r.published,
            archived: r.archived,
            public: r.public,
            private: r.private,
            unlisted: r.unlisted,
            views: r.views,
            likes: r.likes,
            forks: r.forks,
            comments: r.comments,
        })
    }

    async fn gallery(
        &self,
        tenant: TenantId,
        query: &GalleryQuery,
        page: PageRequest,
    ) -> Result<Page<Project>, StoreError> {
        let pattern = query.q.as_deref().map(like_pattern);
        let age = query.age_group.map(|a| a.as_str());
        let mut c = conn(&self.pool).await?;
        // the page's ids come from the sort index alone; only they are joined afterwards
        paged!(
            &mut c,
            page,
            format!("SELECT count(*) AS n FROM projects q WHERE {GALLERY_WHERE}"),
            format!(
                "SELECT {COLUMNS} FROM (SELECT q.id FROM projects q WHERE {GALLERY_WHERE} \
                 ORDER BY {inner} LIMIT $5 OFFSET $6) ids \
                 JOIN projects p ON p.id = ids.id ORDER BY {outer}",
                inner = gallery_order(query.sort, "q"),
                outer = gallery_order(query.sort, "p"),
            ),
            (SqlUuid, tenant.as_uuid()),
            (Nullable<Text>, age),
            (Array<Text>, &query.tags),
            (Nullable<Text>, pattern.as_deref()),
        )
    }

    async fn fork(
        &self,
        viewer: Viewer,
        source: &Project,
        request: &ForkRequest,
    ) -> Result<ForkOutcome, StoreError> {
        let mut c = conn(&self.pool).await?;
        let (source, request) = (source, request);
        let result = c
            .transaction::<_, DieselError, _>(|c| {
                async move {
                    let tenant = source.tenant_id.as_uuid();
                    // exact under concurrency; the row lock also orders concurrent forks
                    let bumped = crate::sql::query(
                        "UPDATE projects SET fork_count = fork_count + 1 \
                         WHERE id = $1 AND tenant_id = $2",
                    )
                    .bind::<SqlUuid, _>(source.id.as_uuid())
                    .bind::<SqlUuid, _>(tenant)
                    .execute(c)
                    .await?;
                    if bumped == 0 {
                        return Ok(None);
                    }
                    let spec: Option<SpecStateRow> = match source.app_spec_id {
                        Some(spec) => optional(
                            crate::sql::query(
                                "SELECT a.id, a.spec_content, a.version, \
                                 a.status::text AS status, a.quality_score, FALSE AS has_code \
                                 FROM app_specs a WHERE a.id = $1",
                            )
                            .bind::<SqlUuid, _>(spec.as_uuid())
                            .get_result(c)
                            .await,
                        )?,
                        None => None,
                    };
                    let copy = match &spec {
                        Some(s) => Some(copy_spec(c, viewer, source, s).await?),
                        None => None,
                    };
                    let new: IdRow = crate::sql::query(
                        "INSERT INTO projects (tenant_id, user_id, name, description, \
                         cover_image_url, app_spec_id, status, visibility, tags, age_group) \
                         SELECT $1, $2, name, COALESCE($3, description), cover_image_url, $4, \
                           'draft', 'private', tags, age_group \
                         FROM projects WHERE id = $5 RETURNING id",
                    )
                    .bind::<SqlUuid, _>(tenant)
                    .bind::<SqlUuid, _>(viewer.user.as_uuid())
                    .bind::<Nullable<Text>, _>(request.description.as_deref())
                    .bind::<Nullable<SqlUuid>, _>(copy)
                    .bind::<SqlUuid, _>(source.id.as_uuid())
                    .get_result(c)
                    .await?;
                    crate::sql::query(
                        "INSERT INTO forks (source_project_id, forked_project_id, \
                         forked_by_tenant_id, forked_by_user_id, source_app_spec_version, \
                         customizations, fork_description) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind::<SqlUuid, _>(source.id.as_uuid())
                    .bind::<SqlUuid, _>(new.id)
                    .bind::<SqlUuid, _>(viewer.tenant.as_uuid())
                    .bind::<SqlUuid, _>(viewer.user.as_uuid())
                    .bind::<Nullable<Integer>, _>(spec.as_ref().map(|s| s.version))
                    .bind::<Jsonb, _>(&request.customizations)
                    .bind::<Nullable<Text>, _>(request.description.as_deref())
                    .execute(c)
                    .await?;
                    Ok(Some(new.id))
                }
                .scope_boxed()
            })
            .await;
        let new_id = match result {
            Ok(Some(id)) => id,
            Ok(None) => return Ok(ForkOutcome::SourceGone),
            Err(e) if is_unique_violation(&e) => return Ok(ForkOutcome::AlreadyForked),
            Err(e) => return Err(store_err(e)),
        };
        drop(c);
        match self.reload(viewer.tenant, new_id).await? {
            Some(p) => Ok(ForkOutcome::Forked(Box::new(p))),
            None => Err(StoreError::Unexpected(anyhow::anyhow!(
                "fork {new_id} vanished right after its insert"
            ))),
        }
    }

    async fn forks(
        &self,
        tenant: TenantId,
        viewer: Option<Viewer>,
        id: ProjectId,
        page: PageRequest,
    ) -> Result<Page<Project>, StoreError> {
        const WHERE: &str = "f.source_project_id = $1 AND q.tenant_id = $2 \
            AND ($3 OR q.user_id = $4 OR (q.visibility = 'public' AND q.hidden_at IS NULL))";
        let admin = viewer.is_some_and(|v| v.admin && v.tenant == tenant);
        let me = viewer.map_or(Uuid::nil(), |v| v.user.as_uuid());
        let mut c = conn(&self.pool).await?;
        paged!(
            &mut c,
            page,
            format!(
                "SELECT count(*) AS n FROM forks f JOIN projects q ON q.id = f.forked_project_id \
                 WHERE {WHERE}"
            ),
            format!(
                "SELECT {COLUMNS} FROM (SELECT q.*, f.created_at AS forked_at FROM forks f \
                 JOIN projects q ON q.id = f.forked_project_id WHERE {WHERE} \
                 ORDER BY f.created_at DESC, q.id DESC LIMIT $5 OFFSET $6) p \
                 ORDER BY p.forked_at DESC, p.id DESC"
            ),
            (SqlUuid, id.as_uuid()),
            (SqlUuid, tenant.as_uuid()),
            (Bool, admin),
            (SqlUuid, me),
        )
    }

    async fn lineage(
        &self,
        tenant: TenantId,
        id: ProjectId,
        max_depth: i32,
        max_nodes: i64,
    ) -> Result<LineageRows, StoreError> {
        let mut c = conn(&self.pool).await?;
        // one level past the bound tells whether the walk was cut
        let ancestors: Vec<LineageDbRow> = crate::sql::query(format!(
            "WITH RECURSIVE up (id, depth, path) AS ( \
               SELECT f.source_project_id, 1, ARRAY[$1::uuid, f.source_project_id] \
               FROM forks f WHERE f.forked_project_id = $1 \
               UNION ALL \
               SELECT f.source_project_id, up.depth + 1, up.path || f.source_project_id \
               FROM up JOIN forks f ON f.forked_project_id = up.id \
               WHERE up.depth <= $2 AND NOT f.source_project_id = ANY(up.path)) \
             SELECT {COLUMNS}, NULL::uuid AS parent_id, up.depth \
             FROM up JOIN projects p ON p.id = up.id \
             WHERE p.tenant_id = $3 ORDER BY up.depth"
        ))
        .bind::<SqlUuid, _>(id.as_uuid())
        .bind::<Integer, _>(max_depth)
        .bind::<SqlUuid, _>(tenant.as_uuid())
        .load(&mut c)
        .await
        .map_err(store_err)?;
        // breadth first: a recursive CTE yields level by level, so the LIMIT stops the walk
        let descendants: Vec<LineageDbRow> = crate::sql::query(format!(
            "WITH RECURSIVE down (id, parent, depth, path, forked_at) AS ( \
               SELECT f.forked_project_id, f.source_project_id, 1, \
                 ARRAY[$1::uuid, f.forked_project_id], f.created_at \
               FROM forks f WHERE f.source_project_id = $1 \
               UNION ALL \
               SELECT f.forked_project_id, f.source_project_id, d.depth + 1, \
                 d.path || f.forked_project_id, f.created_at \
               FROM down d JOIN forks f ON f.source_project_id = d.id \
               WHERE d.depth <= $2 AND NOT f.forked_project_id = ANY(d.path)) \
             SELECT {COLUMNS}, d.parent AS parent_id, d.depth \
             FROM (SELECT * FROM down LIMIT $4) d JOIN projects p ON p.id = d.id \
             WHERE p.tenant_id = $3 ORDER BY d.depth, d.forked_at, p.id"
        ))
        .bind::<SqlUuid, _>(id.as_uuid())
        .bind::<Integer, _>(max_depth)
        .bind::<SqlUuid, _>(tenant.as_uuid())
        .bind::<BigInt, _>(max_nodes.saturating_add(1))
        .load(&mut c)
        .await
        .map_err(store_err)?;
        let convert = |rows: Vec<LineageDbRow>| -> Result<(Vec<LineageRow>, bool), StoreError> {
            let mut cut = false;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                if r.depth > max_depth {
                    cut = true;
                    continue;
                }
                out.push(LineageRow {
                    project: Project::try_from(r.project)?,
                    parent: r.parent_id.map(Into::into),
                    depth: r.depth,
                });
            }
            Ok((out, cut))
        };
        let (ancestors, up_cut) = convert(ancestors)?;
        let (mut descendants, down_cut) = convert(descendants)?;
        let over = usize::try_from(max_nodes).unwrap_or(usize::MAX);
        let too_many = descendants.len() > over;
        descendants.truncate(over);
        Ok(LineageRows {
            ancestors,
            descendants,
            truncated: up_cut || down_cut || too_many,
        })
    }
}

/// Deep-copies the source's spec for `viewer`: a new spec (parent = the source spec) whose
/// version 1 is of type `fork`, recording the source spec and version. Returns its id.
async fn copy_spec(
    c: &mut AsyncPgConnection,
    viewer: Viewer,
    source: &Project,
    spec: &SpecStateRow,
) -> Result<Uuid, DieselError> {
    // a copy of validated content stays validated; it has no code until it is rendered
    let status = match SpecStatus::parse(&spec.status) {
        Some(SpecStatus::Draft) | None => SpecStatus::Draft,
        Some(_) => SpecStatus::Validated,
    };
    let copy: IdRow = crate::sql::query(
        "INSERT INTO app_specs (tenant_id, created_by_user_id, spec_content, version, \
         parent_version_id, status, quality_score) VALUES ($1, $2, $3, 1, $4, $5, $6) RETURNING id",
    )
    .bind::<SqlUuid, _>(viewer.tenant.as_uuid())
    .bind::<SqlUuid, _>(viewer.user.as_uuid())
    .bind::<Jsonb, _>(&spec.spec_content)
    .bind::<SqlUuid, _>(spec.id)
    .bind::<Text, _>(status.as_str())
    .bind::<Nullable<Integer>, _>(spec.quality_score)
    .get_result(c)
    .await?;
    let metadata = ForkMetadata {
        source_project_id: source.id,
        source_spec_id: spec.id.into(),
        source_version: spec.version,
        forked_by: viewer.user,
    };
    let metadata = serde_json::to_value(&metadata)
        .map_err(|e| DieselError::SerializationError(Box::new(e)))?;
    crate::sql::query(
        "INSERT INTO app_spec_versions (tenant_id, app_spec_id, version_number, snapshot_content, \
         generation_metadata, change_description, change_type, created_by_user_id) \
         VALUES ($1, $2, 1, $3, $4, $5, 'fork', $6)",
    )
    .bind::<SqlUuid, _>(viewer.tenant.as_uuid())
    .bind::<SqlUuid, _>(copy.id)
    .bind::<Jsonb, _>(&spec.spec_content)
    .bind::<Jsonb, _>(&metadata)
    .bind::<Text, _>(format!(
        "Forked from version {} of project {}",
        spec.version, source.id
    ))
    .bind::<SqlUuid, _>(viewer.user.as_uuid())
    .execute(c)
    .await?;
    Ok(copy.id)
}
