//! PostgreSQL implementation of `JobRepository`: durable generation jobs (idempotent enqueue,
//! `FOR UPDATE SKIP LOCKED` claiming with leases, checkpoints, atomic completion) and their event log.

use crate::app_specs::{append_locked, insert_spec, RawAppend};
use crate::pool::{conn, store_err, DbPool};
use crate::schema::{generation_job_events, generation_jobs};
use async_trait::async_trait;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{BigInt, Bool, Double, Jsonb, Nullable, SmallInt, Text, Uuid as SqlUuid};
use diesel::IntoSql;
use diesel_async::scoped_futures::ScopedFutureExt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ingenio_app_specs::jobs::{GenerationJob, JobEvent, JobRequest, JobStatus};
use ingenio_app_specs::ports::{
    CancelOutcome, CompleteOutcome, CreateJob, JobRepository, JobResult, Lease, NewJob, Viewer,
};
use ingenio_app_specs::{JobFailure, TokenUsage};
use ingenio_kernel::chrono::{DateTime, Utc};
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::{Page, PageRequest, StoreError, TenantId};
use serde_json::{json, Value};
use std::time::Duration;

/// The `error_code` column's width.
const ERROR_CODE_MAX: usize = 10;

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
            state: r.state,
            result: r.result,
            app_spec_id: r.app_spec_id,
            version_number: r.version_number,
            token_usage: usage_from_json(&r.token_usage),
            error_code: r.error_code,
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

impl From<EventRow> for JobEvent {
    fn from(r: EventRow) -> Self {
        JobEvent {
            id: r.id,
            job_id: r.job_id,
            kind: r.kind,
            data: r.data,
            created_at: r.created_at,
        }
    }
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

fn one(row: Option<JobRow>) -> Result<Option<GenerationJob>, StoreError> {
    row.map(GenerationJob::try_from).transpose()
}

/// True for `completed`, `failed`, `cancelled` (and, to be safe, for anything unknown).
fn is_final_status(s: &str) -> bool {
    JobStatus::parse(s).is_none_or(|st| st.is_final())
}

fn truncated(code: &str) -> &str {
    match code.char_indices().nth(ERROR_CODE_MAX) {
        Some((i, _)) => &code[..i],
        None => code,
    }
}

/// Inserts an event inside the caller's transaction (which already holds the job's row lock).
async fn insert_event(
    c: &mut AsyncPgConnection,
    id: Uuid,
    kind: &str,
    data: &Value,
) -> Result<i64, DieselError> {
    diesel::insert_into(generation_job_events::table)
        .values((
            generation_job_events::job_id.eq(id),
            generation_job_events::kind.eq(kind),
            generation_job_events::data.eq(data),
        ))
        .returning(generation_job_events::id)
        .get_result(c)
        .await
}

/// Marks a job failed and clears its lease if `worker` holds it and it is not final, appending
/// the `error` event in the caller's transaction. Returns the row when this call made the transition.
async fn mark_failed(
    c: &mut AsyncPgConnection,
    id: Uuid,
    worker: &str,
    code: &str,
    message: &str,
    usage: &Value,
) -> Result<Option<JobRow>, DieselError> {
    let row: Option<JobRow> = diesel::sql_query(
        "UPDATE generation_jobs SET status = 'failed', error_code = $3, error_message = $4, \
         token_usage = $5, finished_at = now(), lease_owner = NULL, lease_expires_at = NULL \
         WHERE id = $1 AND lease_owner = $2 \
           AND status NOT IN ('completed', 'failed', 'cancelled') \
         RETURNING *",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<Text, _>(worker)
    .bind::<Text, _>(truncated(code))
    .bind::<Text, _>(message)
    .bind::<Jsonb, _>(usage)
    .get_result(c)
    .await
    .optional()?;
    if row.is_some() {
        insert_event(c, id, "error", &json!({"code": code, "message": message})).await?;
    }
    Ok(row)
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
        let mut c = conn(&self.pool).await?;
        // A concurrent creator with the same key waits on the unique index, then does nothing; the
        // SELECT (a new snapshot) then sees its row. Retried in case that row vanished meanwhile.
        for _ in 0..3 {
            let inserted: Option<JobRow> = diesel::sql_query(
                "INSERT INTO generation_jobs (tenant_id, user_id, request, idempotency_key, quota_reservation) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING \
                 RETURNING *",
            )
            .bind::<SqlUuid, _>(job.tenant.as_uuid())
            .bind::<SqlUuid, _>(job.user.as_uuid())
            .bind::<Jsonb, _>(&request)
            .bind::<Nullable<Text>, _>(job.idempotency_key.as_deref())
            .bind::<Nullable<Text>, _>(job.quota_reservation.as_deref())
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
    ) -> Result<Option<GenerationJob>, StoreError> {
        let mut c = conn(&self.pool).await?;
        // Runnable: not final and without a live lease (a claimed job stays `pending` until its
        // first checkpoint, so a pending job with a live lease is running, not runnable).
        let row: Option<JobRow> = diesel::sql_query(
            "UPDATE generation_jobs SET lease_owner = $1, \
             lease_expires_at = now() + make_interval(secs => $2), \
             attempts = attempts + 1, started_at = COALESCE(started_at, now()) \
             WHERE id = ( \
               SELECT id FROM generation_jobs \
               WHERE status NOT IN ('completed', 'failed', 'cancelled') \
                 AND (lease_expires_at IS NULL OR lease_expires_at < now()) \
               ORDER BY created_at, id \
               LIMIT 1 \
               FOR UPDATE SKIP LOCKED) \
             RETURNING *",
        )
        .bind::<Text, _>(worker)
        .bind::<Double, _>(lease_secs(lease))
        .get_result(&mut c)
        .await
        .optional()
        .map_err(store_err)?;
        one(row)
    }

    async fn renew(&self, id: Uuid, worker: &str, lease: Duration) -> Result<Lease, StoreError> {
        let mut c = conn(&self.pool).await?;
        let n = diesel::sql_query(
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
        let n = diesel::sql_query(
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
        let rows: Vec<IdRow> = diesel::sql_query(
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

    async fn checkpoint(
        &self,
        id: Uuid,
        worker: &str,
        status: JobStatus,
        progress: u8,
        state: &Value,
        usage: &TokenUsage,
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
        let mut c = conn(&self.pool).await?;
        let n = diesel::sql_query(
            "UPDATE generation_jobs SET status = $3, progress = $4, state = $5, token_usage = $6 \
             WHERE id = $1 AND lease_owner = $2 AND status NOT IN ('completed', 'failed', 'cancelled')",
        )
        .bind::<SqlUuid, _>(id)
        .bind::<Text, _>(worker)
        .bind::<Text, _>(status.as_str())
        .bind::<SmallInt, _>(i16::from(progress.min(100)))
        .bind::<Jsonb, _>(state)
        .bind::<Jsonb, _>(&usage)
        .execute(&mut c)
        .await
        .map_err(store_err)?;
        Ok(if n == 1 { Lease::Held } else { Lease::Lost })
    }

    async fn append_event(&self, id: Uuid, kind: &str, data: &Value) -> Result<i64, StoreError> {
        let mut c = conn(&self.pool).await?;
        // The job's row lock is held from before the id is drawn until commit, so a job's events
        // commit in id order and a reader paging with `events_after` never skips one.
        let row: Option<IdRow> = diesel::sql_query(
            "INSERT INTO generation_job_events (job_id, kind, data) \
             SELECT id, $2, $3 FROM generation_jobs WHERE id = $1 FOR NO KEY UPDATE \
             RETURNING id",
        )
        .bind::<SqlUuid, _>(id)
        .bind::<Text, _>(kind)
        .bind::<Jsonb, _>(data)
        .get_result(&mut c)
        .await
        .optional()
        .map_err(store_err)?;
        row.map(|r| r.id).ok_or_else(|| {
            StoreError::Unexpected(anyhow::anyhow!("generation job {id} does not exist"))
        })
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
        Ok(rows.into_iter().map(JobEvent::from).collect())
    }

    async fn complete(
        &self,
        id: Uuid,
        worker: &str,
        result: JobResult,
    ) -> Result<CompleteOutcome, StoreError> {
        let usage = usage_to_json(&result.usage)?;
        let mut c = conn(&self.pool).await?;
        let (usage, result) = (&usage, &result);
        c.transaction::<_, DieselError, _>(|c| {
            async move {
                let job: Option<JobRow> = generation_jobs::table
                    .filter(generation_jobs::id.eq(id))
                    .select(JobRow::as_select())
                    .for_update()
                    .first(c)
                    .await
                    .optional()?;
                let Some(job) = job else {
                    return Ok(CompleteOutcome::NotHeld);
                };
                if job.lease_owner.as_deref() != Some(worker) || is_final_status(&job.status) {
                    return Ok(CompleteOutcome::NotHeld);
                }
                let (spec_id, number) = match result.target_spec {
                    Some(target) => {
                        let viewer = Viewer {
                            tenant: TenantId::from(job.tenant_id),
                            user: job.user_id.into(),
                            admin: false,
                        };
                        match append_locked(c, viewer, target, None, &result.version).await? {
                            RawAppend::Appended(spec, version) => (spec.id, version.version_number),
                            RawAppend::Stale(_) | RawAppend::NotFound => {
                                mark_failed(c, id, worker, "3000", "app spec not found", usage).await?;
                                return Ok(CompleteOutcome::Failed(JobFailure::new(
                                    "3000",
                                    "app spec not found",
                                )));
                            }
                        }
                    }
                    None => {
                        let (spec, version) = insert_spec(c, TenantId::from(job.tenant_id), &result.version).await?;
                        (spec.id, version.version_number)
                    }
                };
                diesel::sql_query(
                    "UPDATE generation_jobs SET status = 'completed', progress = 100, app_spec_id = $2, \
                     version_number = $3, token_usage = $4, result = $5, finished_at = now(), \
                     lease_owner = NULL, lease_expires_at = NULL \
                     WHERE id = $1",
                )
                .bind::<SqlUuid, _>(id)
                .bind::<SqlUuid, _>(spec_id)
                .bind::<diesel::sql_types::Integer, _>(number)
                .bind::<Jsonb, _>(usage)
                .bind::<Jsonb, _>(&result.summary)
                .execute(c)
                .await?;
                let data = json!({
                    "appSpecId": spec_id,
                    "versionNumber": number,
                    "qualityScore": result.summary.get("qualityScore").cloned().unwrap_or(Value::Null),
                    "tokenUsage": usage,
                });
                insert_event(c, id, "complete", &data).await?;
                Ok(CompleteOutcome::Completed {
                    app_spec_id: spec_id,
                    version: number,
                })
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
        code: &str,
        message: &str,
        usage: &TokenUsage,
    ) -> Result<Option<GenerationJob>, StoreError> {
        let usage = usage_to_json(usage)?;
        let mut c = conn(&self.pool).await?;
        let usage = &usage;
        let row = c
            .transaction::<_, DieselError, _>(|c| {
                async move {
                    let row = mark_failed(c, id, worker, code, message, usage).await?;
                    Ok(row)
                }
                .scope_boxed()
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
                    let row: Option<JobRow> = diesel::sql_query(
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
                        insert_event(
                            c,
                            id,
                            "error",
                            &json!({"code": "cancelled", "message": "cancelled by user"}),
                        )
                        .await?;
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
