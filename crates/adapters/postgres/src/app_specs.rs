//! PostgreSQL implementation of `AppSpecRepository`: specs and their time machine, with the
//! row-locked version append shared with the job repository's `complete`.

use crate::pool::{conn, store_err, DbPool};
use crate::schema::{app_spec_versions, app_specs};
use async_trait::async_trait;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{Bool, Jsonb, Nullable};
use diesel::IntoSql;
use diesel_async::scoped_futures::ScopedFutureExt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ingenio_app_specs::lifecycle::LifecycleError;
use ingenio_app_specs::ports::{
    AppSpecRepository, AppendOutcome, ChangeType, NewVersion, SpecSummary, SpecVersion,
    SpecVersionSummary, StoredSpec, Viewer,
};
use ingenio_app_specs::SpecStatus;
use ingenio_kernel::chrono::{DateTime, Utc};
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::{Page, PageRequest, StoreError, TenantId};

/// An `app_specs` row as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = app_specs, check_for_backend(diesel::pg::Pg))]
pub struct SpecRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub created_by_user_id: Uuid,
    pub spec_content: serde_json::Value,
    pub version: i32,
    pub parent_version_id: Option<Uuid>,
    pub status: String,
    pub quality_score: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn parse_status(status: &str) -> Result<SpecStatus, StoreError> {
    SpecStatus::parse(status).ok_or_else(|| {
        StoreError::Unexpected(anyhow::anyhow!(
            "app_specs row has an unknown status {status:?}"
        ))
    })
}

fn parse_change_type(change_type: &str) -> Result<ChangeType, StoreError> {
    ChangeType::parse(change_type).ok_or_else(|| {
        StoreError::Unexpected(anyhow::anyhow!(
            "app_spec_versions row has an unknown change_type {change_type:?}"
        ))
    })
}

impl TryFrom<SpecRow> for StoredSpec {
    type Error = StoreError;
    fn try_from(r: SpecRow) -> Result<Self, StoreError> {
        let status = parse_status(&r.status)?;
        Ok(StoredSpec {
            id: r.id,
            tenant_id: r.tenant_id.into(),
            owner: r.created_by_user_id.into(),
            content: r.spec_content,
            version: r.version,
            parent_id: r.parent_version_id,
            status,
            quality_score: r.quality_score,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// An `app_spec_versions` row as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = app_spec_versions, check_for_backend(diesel::pg::Pg))]
pub struct VersionRow {
    pub id: Uuid,
    pub app_spec_id: Uuid,
    pub version_number: i32,
    pub snapshot_content: serde_json::Value,
    pub generation_metadata: Option<serde_json::Value>,
    pub change_description: Option<String>,
    pub change_type: String,
    pub created_by_user_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<VersionRow> for SpecVersion {
    type Error = StoreError;
    fn try_from(r: VersionRow) -> Result<Self, StoreError> {
        let change_type = parse_change_type(&r.change_type)?;
        Ok(SpecVersion {
            id: r.id,
            app_spec_id: r.app_spec_id,
            version_number: r.version_number,
            snapshot: r.snapshot_content,
            generation_metadata: r.generation_metadata,
            change_description: r.change_description,
            change_type,
            created_by: r.created_by_user_id.map(Into::into),
            created_at: r.created_at,
        })
    }
}

/// A spec row as a listing reads it: the content's `appName` instead of the content.
#[derive(Debug, Clone, Queryable)]
struct SummaryRow {
    id: Uuid,
    tenant_id: Uuid,
    created_by_user_id: Uuid,
    app_name: Option<serde_json::Value>,
    version: i32,
    parent_version_id: Option<Uuid>,
    status: String,
    quality_score: Option<i32>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<SummaryRow> for SpecSummary {
    type Error = StoreError;
    fn try_from(r: SummaryRow) -> Result<Self, StoreError> {
        Ok(SpecSummary {
            id: r.id,
            tenant_id: r.tenant_id.into(),
            owner: r.created_by_user_id.into(),
            app_name: r.app_name,
            version: r.version,
            parent_id: r.parent_version_id,
            status: parse_status(&r.status)?,
            quality_score: r.quality_score,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// A version row as the timeline reads it: no snapshot.
#[derive(Debug, Clone, Queryable)]
struct VersionSummaryRow {
    id: Uuid,
    app_spec_id: Uuid,
    version_number: i32,
    generation_metadata: Option<serde_json::Value>,
    change_description: Option<String>,
    change_type: String,
    created_by_user_id: Option<Uuid>,
    created_at: DateTime<Utc>,
}

impl TryFrom<VersionSummaryRow> for SpecVersionSummary {
    type Error = StoreError;
    fn try_from(r: VersionSummaryRow) -> Result<Self, StoreError> {
        Ok(SpecVersionSummary {
            id: r.id,
            app_spec_id: r.app_spec_id,
            version_number: r.version_number,
            generation_metadata: r.generation_metadata,
            change_description: r.change_description,
            change_type: parse_change_type(&r.change_type)?,
            created_by: r.created_by_user_id.map(Into::into),
            created_at: r.created_at,
        })
    }
}

/// What the shared append helper did, in rows (converted after the transaction).
#[allow(clippy::large_enum_variant)] // short-lived, never stored
pub(crate) enum RawAppend {
    Appended(SpecRow, VersionRow),
    Stale(i32),
    NotFound,
}

/// Inserts a spec and its version 1. Runs inside the caller's transaction.
/// A status write the lifecycle forbids: refused (and the transaction rolled back).
fn illegal(e: LifecycleError) -> DieselError {
    DieselError::QueryBuilderError(Box::new(e))
}

/// A new spec may start in `v.status` (the lifecycle's first states only).
pub(crate) fn check_start(v: &NewVersion) -> Result<(), DieselError> {
    if v.status.can_start() {
        Ok(())
    } else {
        Err(illegal(LifecycleError {
            from: "nothing",
            to: v.status.as_str(),
        }))
    }
}

pub(crate) async fn insert_spec(
    c: &mut AsyncPgConnection,
    tenant: TenantId,
    v: &NewVersion,
) -> Result<(SpecRow, VersionRow), DieselError> {
    check_start(v)?;
    let spec: SpecRow = diesel::insert_into(app_specs::table)
        .values((
            app_specs::tenant_id.eq(tenant.as_uuid()),
            app_specs::created_by_user_id.eq(v.created_by.as_uuid()),
            app_specs::spec_content.eq(&v.content),
            app_specs::version.eq(1),
            app_specs::status.eq(v.status.as_str()),
            app_specs::quality_score.eq(v.quality_score),
        ))
        .returning(SpecRow::as_returning())
        .get_result(c)
        .await?;
    let version = insert_version(c, &spec, 1, v).await?;
    Ok((spec, version))
}

async fn insert_version(
    c: &mut AsyncPgConnection,
    spec: &SpecRow,
    number: i32,
    v: &NewVersion,
) -> Result<VersionRow, DieselError> {
    diesel::insert_into(app_spec_versions::table)
        .values((
            app_spec_versions::tenant_id.eq(spec.tenant_id),
            app_spec_versions::app_spec_id.eq(spec.id),
            app_spec_versions::version_number.eq(number),
            app_spec_versions::snapshot_content.eq(&v.content),
            app_spec_versions::generation_metadata.eq(v.generation_metadata.as_ref()),
            app_spec_versions::change_description.eq(v.change_description.as_deref()),
            app_spec_versions::change_type.eq(v.change_type.as_str()),
            app_spec_versions::created_by_user_id.eq(Some(v.created_by.as_uuid())),
        ))
        .returning(VersionRow::as_returning())
        .get_result(c)
        .await
}

/// Locks the visible spec row (`FOR UPDATE`), checks `expected`, inserts the next version and
/// moves the spec to it. Runs inside the caller's transaction.
pub(crate) async fn append_locked(
    c: &mut AsyncPgConnection,
    viewer: Viewer,
    id: Uuid,
    expected: Option<i32>,
    v: &NewVersion,
) -> Result<RawAppend, DieselError> {
    let current: Option<SpecRow> = app_specs::table
        .filter(app_specs::id.eq(id))
        .filter(app_specs::tenant_id.eq(viewer.tenant.as_uuid()))
        .filter(
            app_specs::created_by_user_id
                .eq(viewer.user.as_uuid())
                .or(viewer.admin.into_sql::<Bool>()),
        )
        .select(SpecRow::as_select())
        .for_update()
        .first(c)
        .await
        .optional()?;
    let Some(current) = current else {
        return Ok(RawAppend::NotFound);
    };
    if let Some(expected) = expected {
        if expected != current.version {
            return Ok(RawAppend::Stale(current.version));
        }
    }
    let next = current.version + 1;
    let version = insert_version(c, &current, next, v).await?;
    // Guarded by the lifecycle: the row moves only from a status new content may be written over
    // with `v.status`; otherwise the transaction (and the version above) is rolled back.
    let sources: Vec<&str> = SpecStatus::version_sources_of(v.status)
        .into_iter()
        .map(|s| s.as_str())
        .collect();
    let spec: Option<SpecRow> = diesel::update(
        app_specs::table
            .filter(app_specs::id.eq(current.id))
            .filter(app_specs::status.eq_any(&sources)),
    )
    .set((
        app_specs::spec_content.eq(&v.content),
        app_specs::version.eq(next),
        app_specs::status.eq(v.status.as_str()),
        app_specs::quality_score.eq(v.quality_score),
    ))
    .returning(SpecRow::as_returning())
    .get_result(c)
    .await
    .optional()?;
    let Some(spec) = spec else {
        return Err(illegal(LifecycleError {
            from: SpecStatus::parse(&current.status).map_or("unknown", |s| s.as_str()),
            to: v.status.as_str(),
        }));
    };
    Ok(RawAppend::Appended(spec, version))
}

/// Specs and versions stored in PostgreSQL.
#[derive(Clone)]
pub struct PgAppSpecRepository {
    pool: DbPool,
}

impl PgAppSpecRepository {
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }

    /// The id of the spec if the viewer may see it.
    async fn visible_id(
        &self,
        c: &mut AsyncPgConnection,
        viewer: Viewer,
        id: Uuid,
    ) -> Result<bool, StoreError> {
        let found: Option<Uuid> = app_specs::table
            .filter(app_specs::id.eq(id))
            .filter(app_specs::tenant_id.eq(viewer.tenant.as_uuid()))
            .filter(
                app_specs::created_by_user_id
                    .eq(viewer.user.as_uuid())
                    .or(viewer.admin.into_sql::<Bool>()),
            )
            .select(app_specs::id)
            .first(c)
            .await
            .optional()
            .map_err(store_err)?;
        Ok(found.is_some())
    }
}

/// How many specs the viewer owns.
async fn own_count(c: &mut AsyncPgConnection, viewer: Viewer) -> Result<i64, StoreError> {
    app_specs::table
        .filter(app_specs::tenant_id.eq(viewer.tenant.as_uuid()))
        .filter(app_specs::created_by_user_id.eq(viewer.user.as_uuid()))
        .count()
        .get_result(c)
        .await
        .map_err(store_err)
}

/// One page of the viewer's own specs, newest first (the order of every listing).
fn own_page(viewer: Viewer, page: PageRequest) -> app_specs::BoxedQuery<'static, Pg> {
    app_specs::table
        .filter(app_specs::tenant_id.eq(viewer.tenant.as_uuid()))
        .filter(app_specs::created_by_user_id.eq(viewer.user.as_uuid()))
        .order((app_specs::created_at.desc(), app_specs::id.asc()))
        .limit(i64::from(page.size()))
        .offset(page.offset())
        .into_boxed()
}

/// The versions of spec `id`, oldest first.
fn timeline_of(id: Uuid) -> app_spec_versions::BoxedQuery<'static, Pg> {
    app_spec_versions::table
        .filter(app_spec_versions::app_spec_id.eq(id))
        .order(app_spec_versions::version_number.asc())
        .into_boxed()
}

/// Rows of one page converted, with the total they came from.
fn page_of<R, T>(rows: Vec<R>, total: i64, page: PageRequest) -> Result<Page<T>, StoreError>
where
    T: TryFrom<R, Error = StoreError>,
{
    let records = rows
        .into_iter()
        .map(T::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::new(records, u64::try_from(total).unwrap_or(0), page))
}

fn pair(spec: SpecRow, version: VersionRow) -> Result<(StoredSpec, SpecVersion), StoreError> {
    Ok((StoredSpec::try_from(spec)?, SpecVersion::try_from(version)?))
}

#[async_trait]
impl AppSpecRepository for PgAppSpecRepository {
    async fn create(
        &self,
        tenant: TenantId,
        version: NewVersion,
    ) -> Result<(StoredSpec, SpecVersion), StoreError> {
        let mut c = conn(&self.pool).await?;
        let v = &version;
        let (spec, first) = c
            .transaction::<_, DieselError, _>(|c| {
                async move { insert_spec(c, tenant, v).await }.scope_boxed()
            })
            .await
            .map_err(store_err)?;
        pair(spec, first)
    }

    async fn get(&self, viewer: Viewer, id: Uuid) -> Result<Option<StoredSpec>, StoreError> {
        let mut c = conn(&self.pool).await?;
        let row: Option<SpecRow> = app_specs::table
            .filter(app_specs::id.eq(id))
            .filter(app_specs::tenant_id.eq(viewer.tenant.as_uuid()))
            .filter(
                app_specs::created_by_user_id
                    .eq(viewer.user.as_uuid())
                    .or(viewer.admin.into_sql::<Bool>()),
            )
            .select(SpecRow::as_select())
            .first(&mut c)
            .await
            .optional()
            .map_err(store_err)?;
        row.map(StoredSpec::try_from).transpose()
    }

    async fn list(
        &self,
        viewer: Viewer,
        page: PageRequest,
    ) -> Result<Page<StoredSpec>, StoreError> {
        let mut c = conn(&self.pool).await?;
        let total = own_count(&mut c, viewer).await?;
        let rows: Vec<SpecRow> = own_page(viewer, page)
            .select(SpecRow::as_select())
            .load(&mut c)
            .await
            .map_err(store_err)?;
        page_of(rows, total, page)
    }

    async fn append_version(
        &self,
        viewer: Viewer,
        id: Uuid,
        expected_version: Option<i32>,
        version: NewVersion,
    ) -> Result<AppendOutcome, StoreError> {
        let mut c = conn(&self.pool).await?;
        let v = &version;
        let raw = c
            .transaction::<_, DieselError, _>(|c| {
                async move { append_locked(c, viewer, id, expected_version, v).await }.scope_boxed()
            })
            .await
            .map_err(store_err)?;
        Ok(match raw {
            RawAppend::Appended(spec, version) => {
                let (spec, version) = pair(spec, version)?;
                AppendOutcome::Appended(spec, version)
            }
            RawAppend::Stale(current) => AppendOutcome::Stale { current },
            RawAppend::NotFound => AppendOutcome::NotFound,
        })
    }

    async fn delete(&self, viewer: Viewer, id: Uuid) -> Result<bool, StoreError> {
        let mut c = conn(&self.pool).await?;
        let n = diesel::delete(
            app_specs::table
                .filter(app_specs::id.eq(id))
                .filter(app_specs::tenant_id.eq(viewer.tenant.as_uuid()))
                .filter(
                    app_specs::created_by_user_id
                        .eq(viewer.user.as_uuid())
                        .or(viewer.admin.into_sql::<Bool>()),
                ),
        )
        .execute(&mut c)
        .await
        .map_err(store_err)?;
        Ok(n == 1)
    }

    async fn versions(
        &self,
        viewer: Viewer,
        id: Uuid,
    ) -> Result<Option<Vec<SpecVersion>>, StoreError> {
        let mut c = conn(&self.pool).await?;
        if !self.visible_id(&mut c, viewer, id).await? {
            return Ok(None);
        }
        let rows: Vec<VersionRow> = timeline_of(id)
            .select(VersionRow::as_select())
            .load(&mut c)
            .await
            .map_err(store_err)?;
        rows.into_iter()
            .map(SpecVersion::try_from)
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    async fn version(
        &self,
        viewer: Viewer,
        id: Uuid,
        number: i32,
    ) -> Result<Option<Option<SpecVersion>>, StoreError> {
        let mut c = conn(&self.pool).await?;
        if !self.visible_id(&mut c, viewer, id).await? {
            return Ok(None);
        }
        let row: Option<VersionRow> = app_spec_versions::table
            .filter(app_spec_versions::app_spec_id.eq(id))
            .filter(app_spec_versions::version_number.eq(number))
            .select(VersionRow::as_select())
            .first(&mut c)
            .await
            .optional()
            .map_err(store_err)?;
        row.map(SpecVersion::try_from).transpose().map(Some)
    }

    async fn version_summaries(
        &self,
        viewer: Viewer,
        id: Uuid,
    ) -> Result<Option<Vec<SpecVersionSummary>>, StoreError> {
        let mut c = conn(&self.pool).await?;
        if !self.visible_id(&mut c, viewer, id).await? {
            return Ok(None);
        }
        let rows: Vec<VersionSummaryRow> = timeline_of(id)
            .select((
                app_spec_versions::id,
                app_spec_versions::app_spec_id,
                app_spec_versions::version_number,
                app_spec_versions::generation_metadata,
                app_spec_versions::change_description,
                app_spec_versions::change_type,
                app_spec_versions::created_by_user_id,
                app_spec_versions::created_at,
            ))
            .load(&mut c)
            .await
            .map_err(store_err)?;
        rows.into_iter()
            .map(SpecVersionSummary::try_from)
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    async fn list_summaries(
        &self,
        viewer: Viewer,
        page: PageRequest,
    ) -> Result<Page<SpecSummary>, StoreError> {
        let mut c = conn(&self.pool).await?;
        let total = own_count(&mut c, viewer).await?;
        let rows: Vec<SummaryRow> = own_page(viewer, page)
            .select((
                app_specs::id,
                app_specs::tenant_id,
                app_specs::created_by_user_id,
                // only the name leaves the database, never the whole document
                diesel::dsl::sql::<Nullable<Jsonb>>("app_specs.spec_content -> 'appName'"),
                app_specs::version,
                app_specs::parent_version_id,
                app_specs::status,
                app_specs::quality_score,
                app_specs::created_at,
                app_specs::updated_at,
            ))
            .load(&mut c)
            .await
            .map_err(store_err)?;
        page_of(rows, total, page)
    }

    async fn set_status(
        &self,
        viewer: Viewer,
        id: Uuid,
        version: i32,
        from: SpecStatus,
        to: SpecStatus,
    ) -> Result<Option<StoredSpec>, StoreError> {
        from.transition(to).map_err(|e| store_err(illegal(e)))?;
        // `status = from` with `from → to` allowed: the database never takes an illegal move
        let sources: Vec<&str> = SpecStatus::sources_of(to)
            .into_iter()
            .filter(|s| *s == from)
            .map(|s| s.as_str())
            .collect();
        let mut c = conn(&self.pool).await?;
        let row: Option<SpecRow> = diesel::update(
            app_specs::table
                .filter(app_specs::id.eq(id))
                .filter(app_specs::tenant_id.eq(viewer.tenant.as_uuid()))
                .filter(
                    app_specs::created_by_user_id
                        .eq(viewer.user.as_uuid())
                        .or(viewer.admin.into_sql::<Bool>()),
                )
                .filter(app_specs::version.eq(version))
                .filter(app_specs::status.eq_any(&sources)),
        )
        .set((
            app_specs::status.eq(to.as_str()),
            app_specs::updated_at.eq(diesel::dsl::now),
        ))
        .returning(SpecRow::as_returning())
        .get_result(&mut c)
        .await
        .optional()
        .map_err(store_err)?;
        row.map(StoredSpec::try_from).transpose()
    }
}
