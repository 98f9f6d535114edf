//! PostgreSQL implementation of `JobRepository`: durable generation jobs (idempotent enqueue,
//! `FOR UPDATE SKIP LOCKED` claiming with leases, checkpoints, atomic completion) and their event log.

use crate::app_specs::{append_locked, check_start, RawAppend};
use crate::code::record_code;
use crate::pool::{conn, store_err, DbPool};
use crate::schema::{generation_job_events, generation_jobs};
use async_trait::async_trait;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{
    Array, BigInt, Bool, Double, Jsonb, Nullable, SmallInt, Text, Uuid as SqlUuid,
};
use diesel::IntoSql;
use diesel_async::scoped_futures::ScopedFutureExt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ingenio_app_specs::job::{
    EventKind, FailureCode, GenerationJob, JobEvent, JobEventData, JobFailure, JobRequest,
    JobState, JobStatus, JobSummary, VersionCheckpoint,
};
use ingenio_app_specs::ports::{
    CancelOutcome, Claim, CompleteOutcome, Completion, CreateJob, JobRepository, JobVersion, Lease,
    NewJob, Viewer, WriteVersionOutcome,
};
use ingenio_app_specs::{SpecStatus, TokenUsage};
use ingenio_kernel::chrono::{DateTime, Utc};
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::{Page, PageRequest, StoreError, TenantId};
use serde_json::{json, Value};
use std::time::Duration;

/// A `generation_jobs` row as stored (without `metadata`).
#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = generation_jobs, check_for_backend(diesel::pg::Pg))]
pub struct JobRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub status: String,
    pub progress: i16,
    pub request: Value,
    pub idempotency_key: Option<String>,
    pub state: Value,
    pub result: Option<Value>,
    pub app_spec_id: Option<Uuid>,
    pub version_number: Option<i32>,
    pub token_usage: Value,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub attempts: i32,
    pub quota_reservation: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Reads `token_usage`: the serialized `TokenUsage`, tolerating `{}` and missing or odd fields.
fn usage_from_json(v: &Value) -> TokenUsage {
    if let Ok(u) = serde_json::from_value::<TokenUsage>(v.clone()) {
        return u;
    }
    let field = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    TokenUsage {
        prompt_tokens: field("promptTokens"),
        completion_tokens: field("completionTokens"),
        total_tokens: field("totalTokens"),
        prompt_cache_hit_tokens: field("promptCacheHitTokens"),
        prompt_cache_miss_tokens: field("promptCacheMissTokens"),
    }
}

fn usage_to_json(u: &TokenUsage) -> Result<Value, StoreError> {
    serde_json::to_value(u).map_err(|e| {
        StoreError::Unexpected(anyhow::Error::new(e).context("serializing token usage"))
    })
}

impl TryFrom<JobRow> for GenerationJob {
    type Error = StoreError;
    fn try_from(r: JobRow) -> Result<Self, StoreError> {
        let status = JobStatus::parse(&r.status).ok_or_else(|| {
            StoreError::Unexpected(anyhow::anyhow!(
                "generation_jobs row has an unknown status {:?}",
                r.status
            ))
        })?;
        let request: JobRequest = serde_json::from_value(r.request).map_err(|e| {
            StoreError::Unexpected(
                anyhow::Error::new(e).context(format!("reading the request of job {}", r.id)),
            )
        })?;
        Ok(GenerationJob {
            id: r.id,
            tenant_id: r.tenant_id.into(),
            user_id: r.user_id.into(),
            status,
            progress: u8::try_from(r.progress.clamp(0, 100)).unwrap_or(0),
            request,
            idempotency_key: r.idempotency_key,
            state: JobState::from_stored(&r.state),
            result: r.result.as_ref().map(JobSummary::from_stored),
            app_spec_id: r.app_spec_id,
            version_number: r.version_number,
            token_usage: usage_from_json(&r.token_usage),
            error_code: r.error_code.as_deref().map(FailureCode::parse),
            error_message: r.error_message,
            attempts: r.attempts,
            quota_reservation: r.quota_reservation,
            lease_owner: r.lease_owner,
            lease_expires_at: r.lease_expires_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
        })
    }
}

/// A `generation_job_events` row as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = generation_job_events, check_for_backend(diesel::pg::Pg))]
pub struct EventRow {
    pub id: i64,
    pub job_id: Uuid,
    pub kind: String,
    pub data: Value,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<EventRow> for JobEvent {
    type Error = StoreError;
    fn try_from(r: EventRow) -> Result<Self, StoreError> {
        let kind = EventKind::parse(&r.kind).ok_or_else(|| {
            StoreError::Unexpected(anyhow::anyhow!(
                "event {} has an unknown kind {:?}",
                r.id,
                r.kind
            ))
        })?;
        Ok(JobEvent {
            id: r.id,
            job_id: r.job_id,
            kind,
            data: r.data,
            created_at: r.created_at,
        })
    }
}

#[derive(QueryableByName)]
#[allow(dead_code)] // read only to learn whether a row came back
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// What a single-statement write of a job and its events did: whether the job row matched (`held`)
/// and the last event id it inserted (0 when none).
#[derive(QueryableByName)]
struct EventWrite {
    #[diesel(sql_type = Bool)]
    held: bool,
    #[diesel(sql_type = BigInt)]
    last: i64,
}

/// Events as the two arrays `unnest($k::text[], $d::jsonb[]) WITH ORDINALITY` reads, in order.
fn event_arrays(events: &[JobEventData]) -> (Vec<&'static str>, Vec<Value>) {
    events
        .iter()
        .map(|e| (e.kind().as_str(), e.to_value()))
        .unzip()
}

/// The part of a statement that inserts the events of arrays `$kinds`, `$datas` for each job id
/// of CTE `src` (at most one), in array order, after `src` locked the job row: the ids are drawn
/// under the lock, so a job's events commit in id order. Ends with CTE `ins` (the ids).
fn insert_events_cte(src: &str, kinds: u8, datas: u8) -> String {
    format!(
        "ins AS (INSERT INTO generation_job_events (job_id, kind, data) \
           SELECT {src}.id, e.kind, e.data FROM {src} \
           CROSS JOIN unnest(${kinds}::text[], ${datas}::jsonb[]) WITH ORDINALITY AS e(kind, data, n) \
           ORDER BY e.n \
           RETURNING id)"
    )
}

fn one(row: Option<JobRow>) -> Result<Option<GenerationJob>, StoreError> {
    row.map(GenerationJob::try_from).transpose()
}

/// True for `completed`, `failed`, `cancelled` (and, to be safe, for anything unknown).
fn is_final_status(s: &str) -> bool {
    JobStatus::parse(s).is_none_or(|st| st.is_final())
}

/// Inserts events in order, in one statement, inside the caller's transaction (which already
/// holds the job's row lock, so a job's events commit in id order). Returns the last id (0 when
/// there were none).
async fn insert_events(
    c: &mut AsyncPgConnection,
    id: Uuid,
    events: &[JobEventData],
) -> Result<i64, DieselError> {
    if events.is_empty() {
        return Ok(0);
    }
    // the same encoding as the single-statement writes (`insert_events_cte`)
    let (kinds, datas) = event_arrays(events);
    let w: EventWrite = crate::sql::query(format!(
        "WITH job AS (SELECT $1::uuid AS id), {} \
         SELECT TRUE AS held, COALESCE((SELECT max(id) FROM ins), 0) AS last",
        insert_events_cte("job", 2, 3)
    ))
    .bind::<SqlUuid, _>(id)
    .bind::<Array<Text>, _>(&kinds)
    .bind::<Array<Jsonb>, _>(&datas)
    .get_result(c)
    .await?;
    Ok(w.last)
}

/// Marks a job failed and clears its lease if `worker` holds it and it is not final, appending
/// the `error` event in the caller's transaction. Returns the row when this call made the transition.
async fn mark_failed(
    c: &mut AsyncPgConnection,
    id: Uuid,
    worker: &str,
    failure: &JobFailure,
    usage: &Value,
) -> Result<Option<JobRow>, DieselError> {
    let row: Option<JobRow> = crate::sql::query(
        "UPDATE generation_jobs SET status = 'failed', error_code = $3, error_message = $4, \
         token_usage = $5, finished_at = now(), lease_owner = NULL, lease_expires_at = NULL \
         WHERE id = $1 AND lease_owner = $2 \
           AND status NOT IN ('completed', 'failed', 'cancelled') \
         RETURNING *",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<Text, _>(worker)
    .bind::<Text, _>(failure.code.as_str())
    .bind::<Text, _>(&failure.message)
    .bind::<Jsonb, _>(usage)
    .get_result(c)
    .await
    .optional()?;
    if row.is_some() {
        let error = JobEventData::Error {
            code: failure.code,
            message: failure.message.clone(),
        };
        insert_events(c, id, &[error]).await?;
    }
    Ok(row)
}

/// The generation hook of the projects domain, in the completing statement: a generate job
/// that created a NEW spec gives its owner a private draft project named from the spec's
/// `appName` (`Untitled app` when blank), with the request's age group. Regenerations and
/// render jobs keep the existing project; a spec never gets a second automatic project.
/// `$1` is the spec, `$6` the job; the completing statement appends its own condition.
const NEW_SPEC_PROJECT: &str = "INSERT INTO projects (tenant_id, user_id, name, app_spec_id, age_group) \
     SELECT a.tenant_id, a.created_by_user_id, \
       COALESCE(NULLIF(btrim(left(btrim(a.spec_content ->> 'appName'), 200)), ''), 'Untitled app'), \
       a.id, \
       CASE WHEN j.request ->> 'ageGroup' IN ('elementary', 'middle_school', 'high_school', 'university') \
         THEN j.request ->> 'ageGroup' END \
     FROM app_specs a JOIN generation_jobs j ON j.id = $6 \
     WHERE a.id = $1 AND j.request ->> 'appSpecId' IS NULL \
       AND COALESCE(j.request ->> 'kind', 'generate') = 'generate' \
       AND NOT EXISTS (SELECT 1 FROM projects p WHERE p.app_spec_id = $1)";

/// Locks the job row if `worker` holds it and it is not final (inside the caller's transaction).
async fn lock_held(
    c: &mut AsyncPgConnection,
    id: Uuid,
    worker: &str,
) -> Result<Option<JobRow>, DieselError> {
    let job: Option<JobRow> = generation_jobs::table
        .filter(generation_jobs::id.eq(id))
        .select(JobRow::as_select())
        .for_update()
        .first(c)
        .await
        .optional()?;
    Ok(job.filter(|j| j.lease_owner.as_deref() == Some(worker) && !is_final_status(&j.status)))
}

/// [`JobRepository::write_version`] of a new spec in one statement: the lease check (with the
/// job's row lock), the spec, its version 1 and the job's checkpoint, where the transaction took
/// six round trips. The spec's id is drawn here so the checkpoint is known before the write.
async fn write_new_spec(
    c: &mut AsyncPgConnection,
    id: Uuid,
    worker: &str,
    v: &ingenio_app_specs::ports::NewVersion,
    usage: &serde_json::Value,
) -> Result<WriteVersionOutcome, StoreError> {
    check_start(v).map_err(store_err)?;
    let written = VersionCheckpoint {
        app_spec_id: Uuid::new_v4(),
        version_number: 1,
    };
    let checkpoint = json!({ "version": written });
    #[derive(QueryableByName)]
    struct Written {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let row: Written = crate::sql::query(
        "WITH job AS ( \
           SELECT id, tenant_id FROM generation_jobs \
           WHERE id = $1 AND lease_owner = $2 AND status NOT IN ('completed', 'failed', 'cancelled') \
           FOR UPDATE), \
         spec AS ( \
           INSERT INTO app_specs (id, tenant_id, created_by_user_id, spec_content, version, status, \
             quality_score) \
           SELECT $3, job.tenant_id, $4, $5, 1, $6, $7 FROM job RETURNING id, tenant_id), \
         ver AS ( \
           INSERT INTO app_spec_versions (tenant_id, app_spec_id, version_number, snapshot_content, \
             generation_metadata, change_description, change_type, created_by_user_id) \
           SELECT spec.tenant_id, spec.id, 1, $5, $8, $9, $10, $4 FROM spec RETURNING app_spec_id), \
         upd AS ( \
           UPDATE generation_jobs SET status = 'generating', progress = 90, app_spec_id = $3, \
             version_number = 1, token_usage = $11, state = state || $12 \
           WHERE id = $1 AND EXISTS (SELECT 1 FROM ver) RETURNING id) \
         SELECT count(*) AS n FROM upd",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<Text, _>(worker)
    .bind::<SqlUuid, _>(written.app_spec_id)
    .bind::<SqlUuid, _>(v.created_by.as_uuid())
    .bind::<Jsonb, _>(&v.content)
    .bind::<Text, _>(v.status.as_str())
    .bind::<Nullable<diesel::sql_types::Integer>, _>(v.quality_score)
    .bind::<Nullable<Jsonb>, _>(v.generation_metadata.as_ref())
    .bind::<Nullable<Text>, _>(v.change_description.as_deref())
    .bind::<Text, _>(v.change_type.as_str())
    .bind::<Jsonb, _>(usage)
    .bind::<Jsonb, _>(&checkpoint)
    .get_result(c)
    .await
    .map_err(store_err)?;
    Ok(if row.n == 1 {
        WriteVersionOutcome::Written(written)
    } else {
        WriteVersionOutcome::NotHeld
    })
}

fn lease_secs(lease: Duration) -> f64 {
    lease.as_secs_f64()
}

/// Generation jobs and their events stored in PostgreSQL.
#[derive(Clone)]
pub struct PgJobRepository {
    pool: DbPool,
}

impl PgJobRepository {
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

/// The viewer's own jobs (listing is "mine", also for admins), optionally with one status.
fn mine(viewer: Viewer, status: Option<JobStatus>) -> generation_jobs::BoxedQuery<'static, Pg> {
    let q = generation_jobs::table
        .filter(generation_jobs::tenant_id.eq(viewer.tenant.as_uuid()))
        .filter(generation_jobs::user_id.eq(viewer.user.as_uuid()))
        .into_boxed();
    match status {
        Some(s) => q.filter(generation_jobs::status.eq(s.as_str())),
        None => q,
    }
}

/// The user's job created with idempotency key `key` (keys are unique per user).
async fn by_key(
    c: &mut AsyncPgConnection,
    viewer: Viewer,
    key: &str,
) -> Result<Option<JobRow>, StoreError> {
    mine(viewer, None)
        .filter(generation_jobs::idempotency_key.eq(key))
        .select(JobRow::as_select())
        .first(c)
        .await
        .optional()
        .map_err(store_err)
}

#[async_trait]
impl JobRepository for PgJobRepository {
    async fn create(&self, job: NewJob) -> Result<CreateJob, StoreError> {
        let request = serde_json::to_value(&job.request).map_err(|e| {
            StoreError::Unexpected(anyhow::Error::new(e).context("serializing the job request"))
        })?;
        // The checkpoints the job starts with (a render job's version) are stored with it.
        let state = job.state.to_stored();
        let mut c = conn(&self.pool).await?;
        // A concurrent creator with the same key waits on the unique index, then does nothing; the
        // SELECT (a new snapshot) then sees its row. Retried in case that row vanished meanwhile.
        for _ in 0..3 {
            let inserted: Option<JobRow> = crate::sql::query(
                "INSERT INTO generation_jobs (tenant_id, user_id, request, idempotency_key, quota_reservation, state) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING \
                 RETURNING *",
            )
            .bind::<SqlUuid, _>(job.tenant.as_uuid())
            .bind::<SqlUuid, _>(job.user.as_uuid())
            .bind::<Jsonb, _>(&request)
            .bind::<Nullable<Text>, _>(job.idempotency_key.as_deref())
            .bind::<Nullable<Text>, _>(job.quota_reservation.as_deref())
            .bind::<Jsonb, _>(&state)
            .get_result(&mut c)
            .await
            .optional()
            .map_err(store_err)?;
            if let Some(row) = inserted {
                return Ok(CreateJob::Created(row.try_into()?));
            }
            let Some(key) = job.idempotency_key.as_deref() else {
                return Err(StoreError::Unexpected(anyhow::anyhow!(
                    "inserting a generation job without idempotency key returned no row"
                )));
            };
            let owner = Viewer {
                tenant: job.tenant,
                user: job.user,
                admin: false,
            };
            if let Some(row) = by_key(&mut c, owner, key).await? {
                return Ok(CreateJob::Existing(row.try_into()?));
            }
        }
        Err(StoreError::Unexpected(anyhow::anyhow!(
            "generation job with idempotency key kept conflicting and vanishing"
        )))
    }

    async fn get(&self, viewer: Viewer, id: Uuid) -> Result<Option<GenerationJob>, StoreError> {
        let mut c = conn(&self.pool).await?;
        let row: Option<JobRow> = generation_jobs::table
            .filter(generation_jobs::id.eq(id))
            .filter(generation_jobs::tenant_id.eq(viewer.tenant.as_uuid()))
            .filter(
                generation_jobs::user_id
                    .eq(viewer.user.as_uuid())
                    .or(viewer.admin.into_sql::<Bool>()),
            )
            .select(JobRow::as_select())
            .first(&mut c)
            .await
            .optional()
            .map_err(store_err)?;
        one(row)
    }

    async fn find_by_key(
        &self,
        viewer: Viewer,
        key: &str,
    ) -> Result<Option<GenerationJob>, StoreError> {
        let mut c = conn(&self.pool).await?;
        one(by_key(&mut c, viewer, key).await?)
    }

    async fn list(
        &self,
        viewer: Viewer,
        status: Option<JobStatus>,
        page: PageRequest,
    ) -> Result<Page<GenerationJob>, StoreError> {
        let mut c = conn(&self.pool).await?;
        let total: i64 = mine(viewer, status)
            .count()
            .get_result(&mut c)
            .await
            .map_err(store_err)?;
        let rows: Vec<JobRow> = mine(viewer, status)
            .order((
                generation_jobs::created_at.desc(),
                generation_jobs::id.asc(),
            ))
            .limit(i64::from(page.size()))
            .offset(page.offset())
            .select(JobRow::as_select())
            .load(&mut c)
            .await
            .map_err(store_err)?;
        let records = rows
            .into_iter()
            .map(GenerationJob::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::new(records, u64::try_from(total).unwrap_or(0), page))
    }

    async fn claim(
        &self,
        worker: &str,
        lease: Duration,
        max_attempts: i32,
    ) -> Result<Option<Claim>, StoreError> {
        let mut c = conn(&self.pool).await?;
        c.transaction::<_, DieselError, _>(|c| {
            async move {
                // Runnable: not final and without a live lease (a claimed job stays `pending`
                // until its first checkpoint, so a pending job with a live lease is running). A
                // runnable job already claimed `max_attempts` times is failed here for good.
                let row: Option<JobRow> = crate::sql::query(
                    "WITH next AS ( \
                       SELECT id, attempts >= $3 AS give_up FROM generation_jobs \
                       WHERE status NOT IN ('completed', 'failed', 'cancelled') \
                         AND (lease_expires_at IS NULL OR lease_expires_at < now()) \
                       ORDER BY created_at, id \
                       LIMIT 1 \
                       FOR UPDATE SKIP LOCKED) \
                     UPDATE generation_jobs j SET \
                       lease_owner = CASE WHEN next.give_up THEN NULL ELSE $1 END, \
                       lease_expires_at = CASE WHEN next.give_up THEN NULL \
                         ELSE now() + make_interval(secs => $2) END, \
                       attempts = CASE WHEN next.give_up THEN j.attempts ELSE j.attempts + 1 END, \
                       status = CASE WHEN next.give_up THEN 'failed' ELSE j.status END, \
                       error_code = CASE WHEN next.give_up THEN '1000' ELSE j.error_code END, \
                       error_message = CASE WHEN next.give_up \
                         THEN 'gave up after ' || j.attempts || ' attempts' ELSE j.error_message END, \
                       finished_at = CASE WHEN next.give_up THEN now() ELSE j.finished_at END, \
                       started_at = COALESCE(j.started_at, now()) \
                     FROM next WHERE j.id = next.id \
                     RETURNING j.*",
                )
                .bind::<Text, _>(worker)
                .bind::<Double, _>(lease_secs(lease))
                .bind::<diesel::sql_types::Integer, _>(max_attempts)
                .get_result(c)
                .await
                .optional()?;
                let Some(row) = row else { return Ok(None) };
                if row.status == JobStatus::Failed.as_str() {
                    let error = JobEventData::Error {
                        code: FailureCode::System,
                        message: row.error_message.clone().unwrap_or_default(),
                    };
                    insert_events(c, row.id, &[error]).await?;
                    return Ok(Some((row, true)));
                }
                Ok(Some((row, false)))
            }
            .scope_boxed()
        })
        .await
        .map_err(store_err)?
        .map(|(row, gave_up)| {
            GenerationJob::try_from(row).map(|job| if gave_up { Claim::GaveUp(job) } else { Claim::Run(job) })
        })
        .transpose()
    }

    async fn renew(&self, id: Uuid, worker: &str, lease: Duration) -> Result<Lease, StoreError> {
        let mut c = conn(&self.pool).await?;
        let n = crate::sql::query(
            "UPDATE generation_jobs SET lease_expires_at = now() + make_interval(secs => $3) \
             WHERE id = $1 AND lease_owner = $2 AND status NOT IN ('completed', 'failed', 'cancelled')",
        )
        .bind::<SqlUuid, _>(id)
        .bind::<Text, _>(worker)
        .bind::<Double, _>(lease_secs(lease))
        .execute(&mut c)
        .await
        .map_err(store_err)?;
        Ok(if n == 1 { Lease::Held } else { Lease::Lost })
    }

    async fn purge_events(&self, finished_before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut c = conn(&self.pool).await?;
        let n = crate::sql::query(
            "DELETE FROM generation_job_events e USING generation_jobs j \
             WHERE e.job_id = j.id AND j.finished_at < $1",
        )
        .bind::<diesel::sql_types::Timestamptz, _>(finished_before)
        .execute(&mut c)
        .await
        .map_err(store_err)?;
        Ok(n as u64)
    }

    async fn release(&self, id: Uuid, worker: &str) -> Result<bool, StoreError> {
        let mut c = conn(&self.pool).await?;
        // The owner stays recorded (for the logs); an expired lease is what makes a job claimable.
        // The notification wakes an idle worker on every instance (delivered at commit).
        let rows: Vec<IdRow> = crate::sql::query(
            "WITH released AS ( \
               UPDATE generation_jobs SET lease_expires_at = now() - interval '1 second' \
               WHERE id = $1 AND lease_owner = $2 \
                 AND status NOT IN ('completed', 'failed', 'cancelled') \
               RETURNING id) \
             SELECT 0::bigint AS id FROM released \
             CROSS JOIN LATERAL (SELECT pg_notify('ingenio_jobs', released.id::text)) AS n",
        )
        .bind::<SqlUuid, _>(id)
        .bind::<Text, _>(worker)
        .load(&mut c)
        .await
        .map_err(store_err)?;
        Ok(!rows.is_empty())
    }

    #[allow(clippy::too_many_arguments)]
    async fn checkpoint(
        &self,
        id: Uuid,
        worker: &str,
        status: JobStatus,
        progress: u8,
        state: &JobState,
        usage: &TokenUsage,
        events: &[JobEventData],
    ) -> Result<Lease, StoreError> {
        if status.is_final() {
            // Final statuses go through complete / fail / cancel, which also set finished_at,
            // clear the lease and append the closing event.
            return Err(StoreError::Unexpected(anyhow::anyhow!(
                "checkpoint cannot move job {id} to the final status {}",
                status.as_str()
            )));
        }
        let usage = usage_to_json(usage)?;
        let state = state.to_stored();
        let (kinds, datas) = event_arrays(events);
        let mut c = conn(&self.pool).await?;
        // One statement (no BEGIN/COMMIT round trips): the update locks the row, then the events
        // are inserted, all or nothing.
        let w: EventWrite = crate::sql::query(format!(
            "WITH upd AS ( \
               UPDATE generation_jobs SET status = $3, progress = $4, state = $5, token_usage = $6 \
               WHERE id = $1 AND lease_owner = $2 AND status NOT IN ('completed', 'failed', 'cancelled') \
               RETURNING id), \
             {} \
             SELECT EXISTS (SELECT 1 FROM upd) AS held, COALESCE((SELECT max(id) FROM ins), 0) AS last",
            insert_events_cte("upd", 7, 8)
        ))
        .bind::<SqlUuid, _>(id)
        .bind::<Text, _>(worker)
        .bind::<Text, _>(status.as_str())
        .bind::<SmallInt, _>(i16::from(progress.min(100)))
        .bind::<Jsonb, _>(&state)
        .bind::<Jsonb, _>(&usage)
        .bind::<Array<Text>, _>(&kinds)
        .bind::<Array<Jsonb>, _>(&datas)
        .get_result(&mut c)
        .await
        .map_err(store_err)?;
        Ok(if w.held { Lease::Held } else { Lease::Lost })
    }

    async fn append_events(&self, id: Uuid, events: &[JobEventData]) -> Result<i64, StoreError> {
        let (kinds, datas) = event_arrays(events);
        let mut c = conn(&self.pool).await?;
        // One statement: the job's row lock is taken before the ids are drawn and held until the
        // statement commits, so a job's events commit in id order and a reader paging with
        // `events_after` never skips one.
        let w: EventWrite = crate::sql::query(format!(
            "WITH locked AS MATERIALIZED ( \
               SELECT id FROM generation_jobs WHERE id = $1 FOR NO KEY UPDATE), \
             {} \
             SELECT EXISTS (SELECT 1 FROM locked) AS held, COALESCE((SELECT max(id) FROM ins), 0) AS last",
            insert_events_cte("locked", 2, 3)
        ))
        .bind::<SqlUuid, _>(id)
        .bind::<Array<Text>, _>(&kinds)
        .bind::<Array<Jsonb>, _>(&datas)
        .get_result(&mut c)
        .await
        .map_err(store_err)?;
        if !w.held {
            return Err(StoreError::Unexpected(anyhow::anyhow!(
                "generation job {id} does not exist"
            )));
        }
        Ok(w.last)
    }

    async fn events_after(
        &self,
        id: Uuid,
        after: i64,
        limit: i64,
    ) -> Result<Vec<JobEvent>, StoreError> {
        let mut c = conn(&self.pool).await?;
        let rows: Vec<EventRow> = generation_job_events::table
            .filter(generation_job_events::job_id.eq(id))
            .filter(generation_job_events::id.gt(after))
            .order(generation_job_events::id.asc())
            .limit(limit.max(0))
            .select(EventRow::as_select())
            .load(&mut c)
            .await
            .map_err(store_err)?;
        rows.into_iter().map(JobEvent::try_from).collect()
    }

    async fn write_version(
        &self,
        id: Uuid,
        worker: &str,
        version: JobVersion,
    ) -> Result<WriteVersionOutcome, StoreError> {
        let usage = usage_to_json(&version.usage)?;
        let mut c = conn(&self.pool).await?;
        let Some(target) = version.target_spec else {
            return write_new_spec(&mut c, id, worker, &version.version, &usage).await;
        };
        let (usage, version) = (&usage, &version);
        c.transaction::<_, DieselError, _>(|c| {
            async move {
                let Some(job) = lock_held(c, id, worker).await? else {
                    return Ok(WriteVersionOutcome::NotHeld);
                };
                let owner = Viewer::owner(TenantId::from(job.tenant_id), job.user_id.into());
                let (spec_id, number) =
                    match append_locked(c, owner, target, None, &version.version).await? {
                        RawAppend::Appended(spec, v) => (spec.id, v.version_number),
                        RawAppend::Stale(_) | RawAppend::NotFound => {
                            let failure = JobFailure::spec_gone();
                            mark_failed(c, id, worker, &failure, usage).await?;
                            return Ok(WriteVersionOutcome::Failed(failure));
                        }
                    };
                let written = VersionCheckpoint {
                    app_spec_id: spec_id,
                    version_number: number,
                };
                let checkpoint = json!({"version": written});
                crate::sql::query(
                    "UPDATE generation_jobs SET status = 'generating', progress = 90, \
                     app_spec_id = $2, version_number = $3, token_usage = $4, state = state || $5 \
                     WHERE id = $1",
                )
                .bind::<SqlUuid, _>(id)
                .bind::<SqlUuid, _>(spec_id)
                .bind::<diesel::sql_types::Integer, _>(number)
                .bind::<Jsonb, _>(usage)
                .bind::<Jsonb, _>(&checkpoint)
                .execute(c)
                .await?;
                Ok(WriteVersionOutcome::Written(written))
            }
            .scope_boxed()
        })
        .await
        .map_err(store_err)
    }

    async fn complete(
        &self,
        id: Uuid,
        worker: &str,
        completion: Completion,
    ) -> Result<CompleteOutcome, StoreError> {
        let usage = usage_to_json(&completion.usage)?;
        let mut c = conn(&self.pool).await?;
        let (usage, completion) = (&usage, &completion);
        c.transaction::<_, DieselError, _>(|c| {
            async move {
                let Some(job) = lock_held(c, id, worker).await? else {
                    return Ok(CompleteOutcome::NotHeld);
                };
                let v = completion.version;
                // The spec row lock orders this against a concurrent edit: the status moves only
                // when the spec is still at the rendered version and the lifecycle allows it.
                let sources: Vec<&str> = SpecStatus::ALL
                    .into_iter()
                    .filter(|s| s.can_transition(completion.spec_status))
                    .map(|s| s.as_str())
                    .collect();
                // ...and, in the same statement, a new spec gets its owner's project
                let spec: Option<IdRow> = crate::sql::query(format!(
                    "WITH locked AS (SELECT id, version, status FROM app_specs \
                       WHERE id = $1 AND tenant_id = $2 FOR UPDATE), \
                     moved AS (UPDATE app_specs a SET status = $4 FROM locked \
                       WHERE a.id = locked.id AND locked.version = $3 \
                         AND locked.status = ANY($5) AND locked.status <> $4 RETURNING a.id), \
                     project AS ({NEW_SPEC_PROJECT} AND EXISTS (SELECT 1 FROM locked)) \
                     SELECT 0::bigint AS id FROM locked"
                ))
                .bind::<SqlUuid, _>(v.app_spec_id)
                .bind::<SqlUuid, _>(job.tenant_id)
                .bind::<diesel::sql_types::Integer, _>(v.version_number)
                .bind::<Text, _>(completion.spec_status.as_str())
                .bind::<diesel::sql_types::Array<Text>, _>(&sources)
                .bind::<SqlUuid, _>(id)
                .get_result(c)
                .await
                .optional()?;
                if spec.is_none() {
                    let failure = JobFailure::spec_gone();
                    mark_failed(c, id, worker, &failure, usage).await?;
                    return Ok(CompleteOutcome::Failed(failure));
                }
                let code = match &completion.code {
                    Some(code) => {
                        let row = record_code(c, job.tenant_id, v.app_spec_id, v.version_number, code).await?;
                        let mut recorded = row.rendered();
                        recorded.reused = code.reused;
                        Some(recorded)
                    }
                    None => None,
                };
                let mut summary = completion.summary.clone();
                summary.code = code.clone();
                let summary_json = serde_json::to_value(&summary)
                    .map_err(|e| DieselError::SerializationError(Box::new(e)))?;
                let done = JobEventData::Complete {
                    app_spec_id: v.app_spec_id,
                    version_number: v.version_number,
                    quality_score: summary.quality_score,
                    usage: completion.usage,
                    code: code.clone(),
                };
                let (kinds, datas) = event_arrays(std::slice::from_ref(&done));
                // the job row is locked (lock_held): its update and the closing event in one statement
                let _: EventWrite = crate::sql::query(format!(
                    "WITH upd AS ( \
                       UPDATE generation_jobs SET status = 'completed', progress = 100, app_spec_id = $2, \
                       version_number = $3, token_usage = $4, result = $5, finished_at = now(), \
                       lease_owner = NULL, lease_expires_at = NULL \
                       WHERE id = $1 RETURNING id), \
                     {} \
                     SELECT EXISTS (SELECT 1 FROM upd) AS held, COALESCE((SELECT max(id) FROM ins), 0) AS last",
                    insert_events_cte("upd", 6, 7)
                ))
                .bind::<SqlUuid, _>(id)
                .bind::<SqlUuid, _>(v.app_spec_id)
                .bind::<diesel::sql_types::Integer, _>(v.version_number)
                .bind::<Jsonb, _>(usage)
                .bind::<Jsonb, _>(&summary_json)
                .bind::<Array<Text>, _>(&kinds)
                .bind::<Array<Jsonb>, _>(&datas)
                .get_result(c)
                .await?;
                Ok(CompleteOutcome::Completed { version: v, code })
            }
            .scope_boxed()
        })
        .await
        .map_err(store_err)
    }

    async fn fail(
        &self,
        id: Uuid,
        worker: &str,
        failure: &JobFailure,
        usage: &TokenUsage,
    ) -> Result<Option<GenerationJob>, StoreError> {
        let usage = usage_to_json(usage)?;
        let mut c = conn(&self.pool).await?;
        let usage = &usage;
        let row = c
            .transaction::<_, DieselError, _>(|c| {
                async move { mark_failed(c, id, worker, failure, usage).await }.scope_boxed()
            })
            .await
            .map_err(store_err)?;
        one(row)
    }

    async fn cancel(&self, viewer: Viewer, id: Uuid) -> Result<CancelOutcome, StoreError> {
        let mut c = conn(&self.pool).await?;
        let cancelled = c
            .transaction::<_, DieselError, _>(|c| {
                async move {
                    let row: Option<JobRow> = crate::sql::query(
                        "UPDATE generation_jobs SET status = 'cancelled', finished_at = now(), \
                         error_message = 'cancelled by user' \
                         WHERE id = $1 AND tenant_id = $2 AND (user_id = $3 OR $4) \
                           AND status NOT IN ('completed', 'failed', 'cancelled') \
                         RETURNING *",
                    )
                    .bind::<SqlUuid, _>(id)
                    .bind::<SqlUuid, _>(viewer.tenant.as_uuid())
                    .bind::<SqlUuid, _>(viewer.user.as_uuid())
                    .bind::<Bool, _>(viewer.admin)
                    .get_result(c)
                    .await
                    .optional()?;
                    if row.is_some() {
                        let cancelled = JobEventData::Error {
                            code: FailureCode::Cancelled,
                            message: "cancelled by user".to_owned(),
                        };
                        insert_events(c, id, &[cancelled]).await?;
                    }
                    Ok(row)
                }
                .scope_boxed()
            })
            .await
            .map_err(store_err)?;
        if let Some(row) = cancelled {
            return Ok(CancelOutcome::Cancelled(row.try_into()?));
        }
        drop(c);
        Ok(match self.get(viewer, id).await? {
            Some(job) => CancelOutcome::AlreadyFinished(job),
            None => CancelOutcome::NotFound,
        })
    }
}
