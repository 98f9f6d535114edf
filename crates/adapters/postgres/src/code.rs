//! PostgreSQL implementation of the code-gen `CodeRepository` (the `generated_code` table) and the
//! insert the job adapter runs inside a job's completion transaction.

use crate::pool::{conn, store_err, DbPool};
use async_trait::async_trait;
use diesel::result::Error as DieselError;
use diesel::sql_types::{
    BigInt, Bool, Integer, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid, Varchar,
};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ingenio_app_specs::job::RenderedCode;
use ingenio_code_gen::ports::{CodeRecord, CodeRepository};
use ingenio_kernel::chrono::{DateTime, Utc};
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::{StoreError, TenantId, Viewer};
use serde_json::{json, Value};

/// A `generated_code` row as read (renderer version and zip size live in `metadata`).
#[derive(Debug, Clone, QueryableByName)]
pub struct CodeRow {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub tenant_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub app_spec_id: Uuid,
    #[diesel(sql_type = Integer)]
    pub app_spec_version_number: i32,
    #[diesel(sql_type = Varchar)]
    pub project_key: String,
    #[diesel(sql_type = Varchar)]
    pub renderer_type: String,
    #[diesel(sql_type = Nullable<Varchar>)]
    pub framework: Option<String>,
    #[diesel(sql_type = Varchar)]
    pub storage_key: String,
    #[diesel(sql_type = Integer)]
    pub file_count: i32,
    #[diesel(sql_type = BigInt)]
    pub total_size_bytes: i64,
    #[diesel(sql_type = Varchar)]
    pub content_hash: String,
    #[diesel(sql_type = Varchar)]
    pub build_status: String,
    #[diesel(sql_type = Nullable<Varchar>)]
    pub preview_url: Option<String>,
    #[diesel(sql_type = Jsonb)]
    pub metadata: Value,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, tenant_id, app_spec_id, app_spec_version_number, project_key, \
    renderer_type, framework, storage_key, file_count, total_size_bytes, content_hash, \
    build_status, preview_url, metadata, created_at";

impl From<CodeRow> for CodeRecord {
    fn from(r: CodeRow) -> Self {
        let meta_str = |k: &str| {
            r.metadata
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        CodeRecord {
            id: r.id,
            tenant_id: TenantId::from(r.tenant_id),
            app_spec_id: r.app_spec_id,
            version_number: r.app_spec_version_number,
            renderer_version: meta_str("rendererVersion"),
            zip_size_bytes: r
                .metadata
                .get("zipSizeBytes")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            project_key: r.project_key,
            renderer: r.renderer_type,
            framework: r.framework,
            storage_key: r.storage_key,
            file_count: r.file_count,
            total_size_bytes: r.total_size_bytes,
            content_hash: r.content_hash,
            build_status: r.build_status,
            preview_url: r.preview_url,
            created_at: r.created_at,
        }
    }
}

impl CodeRow {
    /// The job-model view of a recorded artifact.
    pub fn rendered(&self) -> RenderedCode {
        let record = CodeRecord::from(self.clone());
        RenderedCode {
            renderer: record.renderer,
            renderer_version: record.renderer_version,
            framework: record.framework.unwrap_or_default(),
            project_key: record.project_key,
            storage_key: record.storage_key,
            content_hash: record.content_hash,
            file_count: u32::try_from(record.file_count).unwrap_or(0),
            total_size_bytes: u64::try_from(record.total_size_bytes).unwrap_or(0),
            zip_size_bytes: u64::try_from(record.zip_size_bytes).unwrap_or(0),
            preview_url: record.preview_url,
            reused: false,
        }
    }
}

/// Records `code` for version `version` of `spec` inside the caller's transaction, unless the same
/// version already has a record of the same renderer and content (that record is returned then).
pub(crate) async fn record_code(
    c: &mut AsyncPgConnection,
    tenant: Uuid,
    spec: Uuid,
    version: i32,
    code: &RenderedCode,
) -> Result<CodeRow, DieselError> {
    let metadata = json!({
        "rendererVersion": code.renderer_version,
        "zipSizeBytes": code.zip_size_bytes,
        "reusedObject": code.reused,
    });
    // the record of the same render if there is one, else a new one: one statement
    crate::sql::query(format!(
        "WITH existing AS ( \
           SELECT {COLUMNS} FROM generated_code WHERE app_spec_id = $2 \
           AND app_spec_version_number = $3 AND renderer_type = $5 AND content_hash = $10 \
           ORDER BY created_at LIMIT 1), \
         ins AS ( \
           INSERT INTO generated_code (tenant_id, app_spec_id, app_spec_version_number, project_key, \
           renderer_type, framework, storage_key, file_count, total_size_bytes, content_hash, \
           build_status, preview_url, metadata) \
           SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'success', $11, $12 \
           WHERE NOT EXISTS (SELECT 1 FROM existing) RETURNING {COLUMNS}) \
         SELECT * FROM existing UNION ALL SELECT * FROM ins"
    ))
    .bind::<SqlUuid, _>(tenant)
    .bind::<SqlUuid, _>(spec)
    .bind::<Integer, _>(version)
    .bind::<Text, _>(&code.project_key)
    .bind::<Text, _>(&code.renderer)
    .bind::<Nullable<Text>, _>(Some(code.framework.as_str()).filter(|f| !f.is_empty()))
    .bind::<Text, _>(&code.storage_key)
    .bind::<Integer, _>(i32::try_from(code.file_count).unwrap_or(i32::MAX))
    .bind::<BigInt, _>(i64::try_from(code.total_size_bytes).unwrap_or(i64::MAX))
    .bind::<Text, _>(&code.content_hash)
    .bind::<Nullable<Text>, _>(code.preview_url.as_deref())
    .bind::<Jsonb, _>(&metadata)
    .get_result(c)
    .await
}

/// `.optional()` for `sql::query` results.
pub(crate) trait OptionalRow<T> {
    fn optional_row(self) -> Result<Option<T>, DieselError>;
}

impl<T> OptionalRow<T> for Result<T, DieselError> {
    fn optional_row(self) -> Result<Option<T>, DieselError> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(DieselError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// `generated_code` records stored in PostgreSQL.
#[derive(Clone)]
pub struct PgCodeRepository {
    pool: DbPool,
}

impl PgCodeRepository {
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl CodeRepository for PgCodeRepository {
    async fn list_for_spec(
        &self,
        viewer: Viewer,
        app_spec_id: Uuid,
    ) -> Result<Option<Vec<CodeRecord>>, StoreError> {
        let mut c = conn(&self.pool).await?;
        #[derive(QueryableByName)]
        struct Visible {
            #[diesel(sql_type = Bool)]
            visible: bool,
        }
        let v: Visible = crate::sql::query(
            "SELECT EXISTS (SELECT 1 FROM app_specs WHERE id = $1 AND tenant_id = $2 \
             AND (created_by_user_id = $3 OR $4)) AS visible",
        )
        .bind::<SqlUuid, _>(app_spec_id)
        .bind::<SqlUuid, _>(viewer.tenant.as_uuid())
        .bind::<SqlUuid, _>(viewer.user.as_uuid())
        .bind::<Bool, _>(viewer.admin)
        .get_result(&mut c)
        .await
        .map_err(store_err)?;
        if !v.visible {
            return Ok(None);
        }
        let rows: Vec<CodeRow> = crate::sql::query(format!(
            "SELECT {COLUMNS} FROM generated_code WHERE app_spec_id = $1 \
             ORDER BY app_spec_version_number DESC, created_at DESC, id"
        ))
        .bind::<SqlUuid, _>(app_spec_id)
        .load(&mut c)
        .await
        .map_err(store_err)?;
        Ok(Some(rows.into_iter().map(CodeRecord::from).collect()))
    }

    async fn by_project_key(&self, project_key: &str) -> Result<Option<CodeRecord>, StoreError> {
        let mut c = conn(&self.pool).await?;
        let row: Option<CodeRow> = crate::sql::query(format!(
            "SELECT {COLUMNS} FROM generated_code WHERE project_key = $1"
        ))
        .bind::<Text, _>(project_key)
        .get_result(&mut c)
        .await
        .optional_row()
        .map_err(store_err)?;
        Ok(row.map(CodeRecord::from))
    }

    async fn stored_object(&self, content_hash: &str) -> Result<Option<String>, StoreError> {
        let mut c = conn(&self.pool).await?;
        let row: Option<CodeRow> = crate::sql::query(format!(
            "SELECT {COLUMNS} FROM generated_code WHERE content_hash = $1 \
             AND build_status = 'success' ORDER BY created_at LIMIT 1"
        ))
        .bind::<Text, _>(content_hash)
        .get_result(&mut c)
        .await
        .optional_row()
        .map_err(store_err)?;
        Ok(row.map(|r| r.storage_key))
    }
}
