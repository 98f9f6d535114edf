//! In-memory fakes of the app-specs ports for domain unit tests and other crates' tests: spec and
//! job storage that behave like the PostgreSQL adapter (viewer scoping, sequential versions, leases,
//! atomic completion, the event log), a manual clock, a counting AI quota and a scriptable
//! `SpecGenerator`.
//!
//! Semantics mirrored from `ingenio-postgres` (`app_specs.rs`, `jobs.rs`):
//! - a spec or job the viewer may not see (other tenant, or another user's unless admin) is
//!   `None` / `NotFound` / `false`, never an error; listings are the viewer's own rows only;
//! - versions are numbered 1, 2, 3 … per spec; a stale `expected_version` writes nothing;
//! - deleting a spec deletes its versions and clears `app_spec_id` on jobs (`ON DELETE SET NULL`);
//! - `claim` takes the oldest non-final job without a live lease (`lease_expires_at` unset or in the
//!   past), sets the lease, increments `attempts` and keeps the first `started_at`;
//! - `renew`, `checkpoint`, `complete` and `fail` act only when `worker` is the lease owner and the
//!   job is not final (`complete` writes the version and completes the job under one lock);
//! - `cancel` moves any visible non-final job to `cancelled` (the lease is left as is, so its worker
//!   finds out at its next checkpoint, heartbeat or completion);
//! - event ids come from one global sequence; event kinds are limited to the table's CHECK list.
//!
//! Time comes from a [`ManualClock`] that only moves when a test moves it. Rows created at the same
//! instant keep their insertion order (PostgreSQL's `now()` differs between statements in practice).

use crate::agents::{
    AgentError, AgentOutput, AiReview, GenerationInput, SpecGenerator, TokenUsage,
};
use crate::job::{
    FailureCode, GenerationJob, JobEvent, JobEventData, JobFailure, JobState, JobStatus,
    RenderedCode, Step, VersionCheckpoint,
};
use crate::ports::{
    AiQuota, AppSpecRepository, AppendOutcome, BuildError, BuildRequest, BuiltCode, BuiltFile,
    CancelOutcome, Claim, CodeBuilder, CompleteOutcome, Completion, CreateJob, JobRepository,
    JobVersion, Lease, NewJob, NewVersion, QuotaState, Reservation, SpecVersion, StoredSpec,
    Viewer, WriteVersionOutcome,
};
use async_trait::async_trait;
use ingenio_kernel::chrono::{DateTime, TimeDelta, Utc};
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::{Clock, Page, PageRequest, StoreError, TenantId, UserId};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Locks a mutex, ignoring poisoning (a panicking test must not cascade into unrelated asserts).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `at + d`, saturating at the largest representable instant.
fn plus(at: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(d)
        .ok()
        .and_then(|d| at.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

// ---------------------------------------------------------------------------------------------
// clock

/// A clock that stands still until a test moves it.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// 2025-01-01T00:00:00Z.
    pub fn new() -> Self {
        Self::at(DateTime::<Utc>::from_timestamp(1_735_689_600, 0).unwrap_or_default())
    }
    pub fn at(now: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(now),
        }
    }
    pub fn advance(&self, d: Duration) {
        let mut now = lock(&self.now);
        *now = plus(*now, d);
    }
    pub fn set(&self, at: DateTime<Utc>) {
        *lock(&self.now) = at;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *lock(&self.now)
    }
}

// ---------------------------------------------------------------------------------------------
// storage

/// A row with its insertion sequence (tie-break for equal timestamps).
#[derive(Debug, Clone)]
struct Row<T> {
    seq: u64,
    value: T,
}

#[derive(Debug, Default)]
struct Db {
    specs: HashMap<Uuid, Row<StoredSpec>>,
    /// Per spec, oldest first.
    versions: HashMap<Uuid, Vec<SpecVersion>>,
    jobs: HashMap<Uuid, Row<GenerationJob>>,
    /// All jobs' events, in id order.
    events: Vec<JobEvent>,
    /// Recorded code per spec (the `generated_code` rows), oldest first.
    codes: HashMap<Uuid, Vec<(i32, RenderedCode)>>,
    seq: u64,
    last_event_id: i64,
}

impl Db {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }
}

struct Shared {
    db: Mutex<Db>,
    clock: ManualClock,
    unavailable: AtomicBool,
}

fn visible_spec(s: &StoredSpec, v: Viewer) -> bool {
    s.tenant_id == v.tenant && (s.owner == v.user || v.admin)
}

fn visible_job(j: &GenerationJob, v: Viewer) -> bool {
    j.tenant_id == v.tenant && (j.user_id == v.user || v.admin)
}

/// Newest first (ties: the later insert first), then the requested page.
fn page_of<T: Clone>(
    mut rows: Vec<Row<T>>,
    page: PageRequest,
    created_at: impl Fn(&T) -> DateTime<Utc>,
) -> Page<T> {
    rows.sort_by(|a, b| {
        created_at(&b.value)
            .cmp(&created_at(&a.value))
            .then(b.seq.cmp(&a.seq))
    });
    let total = u64::try_from(rows.len()).unwrap_or(u64::MAX);
    let offset = usize::try_from(page.offset()).unwrap_or(usize::MAX);
    let size = usize::try_from(page.size()).unwrap_or(usize::MAX);
    let records = rows
        .into_iter()
        .skip(offset)
        .take(size)
        .map(|r| r.value)
        .collect();
    Page::new(records, total, page)
}

fn insert_version(
    db: &mut Db,
    spec: &StoredSpec,
    number: i32,
    v: &NewVersion,
    now: DateTime<Utc>,
) -> SpecVersion {
    let version = SpecVersion {
        id: Uuid::new_v4(),
        app_spec_id: spec.id,
        version_number: number,
        snapshot: v.content.clone(),
        generation_metadata: v.generation_metadata.clone(),
        change_description: v.change_description.clone(),
        change_type: v.change_type,
        created_by: Some(v.created_by),
        created_at: now,
    };
    db.versions
        .entry(spec.id)
        .or_default()
        .push(version.clone());
    version
}

/// Inserts a spec and its version 1.
fn insert_spec(
    db: &mut Db,
    tenant: TenantId,
    v: &NewVersion,
    now: DateTime<Utc>,
) -> (StoredSpec, SpecVersion) {
    let spec = StoredSpec {
        id: Uuid::new_v4(),
        tenant_id: tenant,
        owner: v.created_by,
        content: v.content.clone(),
        version: 1,
        parent_id: None,
        status: v.status,
        quality_score: v.quality_score,
        created_at: now,
        updated_at: now,
    };
    let seq = db.next_seq();
    db.specs.insert(
        spec.id,
        Row {
            seq,
            value: spec.clone(),
        },
    );
    let version = insert_version(db, &spec, 1, v, now);
    (spec, version)
}

/// Checks visibility and `expected`, appends the next version and moves the spec to it.
fn append_locked(
    db: &mut Db,
    viewer: Viewer,
    id: Uuid,
    expected: Option<i32>,
    v: &NewVersion,
    now: DateTime<Utc>,
) -> Result<AppendOutcome, StoreError> {
    let Some(current) = db
        .specs
        .get(&id)
        .map(|r| r.value.clone())
        .filter(|s| visible_spec(s, viewer))
    else {
        return Ok(AppendOutcome::NotFound);
    };
    if let Some(expected) = expected {
        if expected != current.version {
            return Ok(AppendOutcome::Stale {
                current: current.version,
            });
        }
    }
    // like the PostgreSQL adapter's guarded update: an illegal status is never written
    current.status.write_version(v.status).map_err(illegal)?;
    let next = current.version + 1;
    let version = insert_version(db, &current, next, v, now);
    let Some(row) = db.specs.get_mut(&id) else {
        return Ok(AppendOutcome::NotFound);
    };
    let spec = &mut row.value;
    spec.content = v.content.clone();
    spec.version = next;
    spec.status = v.status;
    spec.quality_score = v.quality_score;
    spec.updated_at = now;
    Ok(AppendOutcome::Appended(spec.clone(), version))
}

/// A write the lifecycle forbids: a bug of the caller, refused like the database refuses it.
fn illegal(e: crate::lifecycle::LifecycleError) -> StoreError {
    StoreError::Unexpected(anyhow::Error::new(e).context("illegal status write refused"))
}

/// A new spec may start only as a draft or validated.
fn check_start(v: &NewVersion) -> Result<(), StoreError> {
    if v.status.can_start() {
        Ok(())
    } else {
        Err(illegal(crate::lifecycle::LifecycleError {
            from: "nothing",
            to: v.status.as_str(),
        }))
    }
}

fn insert_event(db: &mut Db, id: Uuid, data: &JobEventData, now: DateTime<Utc>) -> i64 {
    db.last_event_id += 1;
    let event = JobEvent {
        id: db.last_event_id,
        job_id: id,
        kind: data.kind(),
        data: data.to_value(),
        created_at: now,
    };
    db.events.push(event);
    db.last_event_id
}

/// The job if `worker` owns its lease and it is not final.
fn held<'a>(db: &'a mut Db, id: Uuid, worker: &str) -> Option<&'a mut GenerationJob> {
    db.jobs
        .get_mut(&id)
        .map(|r| &mut r.value)
        .filter(|j| j.lease_owner.as_deref() == Some(worker) && !j.status.is_final())
}

/// Fails a held job and appends the `error` event; the job when this call made the transition.
fn mark_failed(
    db: &mut Db,
    id: Uuid,
    worker: &str,
    failure: &JobFailure,
    usage: &TokenUsage,
    now: DateTime<Utc>,
) -> Option<GenerationJob> {
    let job = held(db, id, worker)?;
    job.status = JobStatus::Failed;
    job.error_code = Some(failure.code);
    job.error_message = Some(failure.message.clone());
    job.token_usage = *usage;
    job.finished_at = Some(now);
    job.lease_owner = None;
    job.lease_expires_at = None;
    job.updated_at = now;
    let job = job.clone();
    let error = JobEventData::Error {
        code: failure.code,
        message: failure.message.clone(),
    };
    insert_event(db, id, &error, now);
    Some(job)
}

/// One in-memory database shared by [`InMemoryAppSpecs`] and [`InMemoryJobs`] (a job's completion
/// writes a spec version), with a [`ManualClock`] and an outage switch. Cheap to clone.
#[derive(Clone)]
pub struct InMemoryStore {
    shared: Arc<Shared>,
}

impl Default for InMemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl InMemoryStore {
    pub fn new() -> Self {
        Self {
            shared: Arc::new(Shared {
                db: Mutex::new(Db::default()),
                clock: ManualClock::new(),
                unavailable: AtomicBool::new(false),
            }),
        }
    }

    /// The `AppSpecRepository` over this store.
    pub fn specs(&self) -> InMemoryAppSpecs {
        InMemoryAppSpecs(self.clone())
    }

    /// The `JobRepository` over this store.
    pub fn jobs(&self) -> InMemoryJobs {
        InMemoryJobs(self.clone())
    }

    pub fn clock(&self) -> &ManualClock {
        &self.shared.clock
    }

    /// While set, every port method answers `StoreError::Unavailable` and changes nothing.
    pub fn set_unavailable(&self, down: bool) {
        self.shared.unavailable.store(down, Ordering::SeqCst);
    }

    fn now(&self) -> DateTime<Utc> {
        self.shared.clock.now()
    }

    fn db(&self) -> Result<MutexGuard<'_, Db>, StoreError> {
        if self.shared.unavailable.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable(anyhow::anyhow!(
                "the in-memory store is switched off"
            )));
        }
        Ok(lock(&self.shared.db))
    }

    // -- inspection, unscoped (what a test would read straight from the tables) --

    /// A spec regardless of viewer.
    pub fn spec(&self, id: Uuid) -> Option<StoredSpec> {
        lock(&self.shared.db)
            .specs
            .get(&id)
            .map(|r| r.value.clone())
    }

    /// Every spec, oldest first.
    pub fn all_specs(&self) -> Vec<StoredSpec> {
        let db = lock(&self.shared.db);
        let mut rows: Vec<_> = db.specs.values().cloned().collect();
        rows.sort_by_key(|r| r.seq);
        rows.into_iter().map(|r| r.value).collect()
    }

    /// All versions of a spec, oldest first (empty when none).
    pub fn versions_of(&self, id: Uuid) -> Vec<SpecVersion> {
        lock(&self.shared.db)
            .versions
            .get(&id)
            .cloned()
            .unwrap_or_default()
    }

    /// The number of version rows over all specs.
    pub fn version_count(&self) -> usize {
        lock(&self.shared.db).versions.values().map(Vec::len).sum()
    }

    /// A job regardless of viewer.
    pub fn job(&self, id: Uuid) -> Option<GenerationJob> {
        lock(&self.shared.db).jobs.get(&id).map(|r| r.value.clone())
    }

    /// Changes a job row directly (to set up a state a test needs, e.g. a checkpoint from an
    /// earlier attempt). `false` when there is no such job.
    pub fn update_job(&self, id: Uuid, f: impl FnOnce(&mut GenerationJob)) -> bool {
        match lock(&self.shared.db).jobs.get_mut(&id) {
            Some(r) => {
                f(&mut r.value);
                true
            }
            None => false,
        }
    }

    /// The code recorded for a spec (`generated_code` rows), oldest first, with version numbers.
    pub fn codes(&self, spec: Uuid) -> Vec<(i32, RenderedCode)> {
        lock(&self.shared.db)
            .codes
            .get(&spec)
            .cloned()
            .unwrap_or_default()
    }

    /// All events of a job, oldest first.
    pub fn events(&self, id: Uuid) -> Vec<JobEvent> {
        lock(&self.shared.db)
            .events
            .iter()
            .filter(|e| e.job_id == id)
            .cloned()
            .collect()
    }
}

/// `AppSpecRepository` over an [`InMemoryStore`].
#[derive(Clone, Default)]
pub struct InMemoryAppSpecs(pub InMemoryStore);

/// The failure of a job claimed too often.
pub fn gave_up(attempts: i32) -> JobFailure {
    JobFailure::new(
        FailureCode::System,
        format!("gave up after {attempts} attempts"),
    )
}

/// `JobRepository` over an [`InMemoryStore`].
#[derive(Clone, Default)]
pub struct InMemoryJobs(pub InMemoryStore);

#[async_trait]
impl AppSpecRepository for InMemoryAppSpecs {
    async fn create(
        &self,
        tenant: TenantId,
        version: NewVersion,
    ) -> Result<(StoredSpec, SpecVersion), StoreError> {
        let now = self.0.now();
        let mut db = self.0.db()?;
        check_start(&version)?;
        Ok(insert_spec(&mut db, tenant, &version, now))
    }

    async fn get(&self, viewer: Viewer, id: Uuid) -> Result<Option<StoredSpec>, StoreError> {
        let db = self.0.db()?;
        Ok(db
            .specs
            .get(&id)
            .map(|r| r.value.clone())
            .filter(|s| visible_spec(s, viewer)))
    }

    async fn list(
        &self,
        viewer: Viewer,
        page: PageRequest,
    ) -> Result<Page<StoredSpec>, StoreError> {
        let db = self.0.db()?;
        let mine: Vec<_> = db
            .specs
            .values()
            .filter(|r| r.value.tenant_id == viewer.tenant && r.value.owner == viewer.user)
            .cloned()
            .collect();
        Ok(page_of(mine, page, |s| s.created_at))
    }

    async fn append_version(
        &self,
        viewer: Viewer,
        id: Uuid,
        expected_version: Option<i32>,
        version: NewVersion,
    ) -> Result<AppendOutcome, StoreError> {
        let now = self.0.now();
        let mut db = self.0.db()?;
        append_locked(&mut db, viewer, id, expected_version, &version, now)
    }

    async fn delete(&self, viewer: Viewer, id: Uuid) -> Result<bool, StoreError> {
        let now = self.0.now();
        let mut db = self.0.db()?;
        if !db
            .specs
            .get(&id)
            .is_some_and(|r| visible_spec(&r.value, viewer))
        {
            return Ok(false);
        }
        db.specs.remove(&id);
        db.versions.remove(&id);
        for r in db.jobs.values_mut() {
            if r.value.app_spec_id == Some(id) {
                r.value.app_spec_id = None;
                r.value.updated_at = now;
            }
        }
        Ok(true)
    }

    async fn versions(
        &self,
        viewer: Viewer,
        id: Uuid,
    ) -> Result<Option<Vec<SpecVersion>>, StoreError> {
        let db = self.0.db()?;
        if !db
            .specs
            .get(&id)
            .is_some_and(|r| visible_spec(&r.value, viewer))
        {
            return Ok(None);
        }
        let mut all = db.versions.get(&id).cloned().unwrap_or_default();
        all.sort_by_key(|v| v.version_number);
        Ok(Some(all))
    }

    async fn set_status(
        &self,
        viewer: Viewer,
        id: Uuid,
        version: i32,
        from: crate::lifecycle::SpecStatus,
        to: crate::lifecycle::SpecStatus,
    ) -> Result<Option<StoredSpec>, StoreError> {
        from.transition(to).map_err(illegal)?;
        let now = self.0.now();
        let mut db = self.0.db()?;
        let Some(row) = db.specs.get_mut(&id) else {
            return Ok(None);
        };
        let s = &mut row.value;
        if !visible_spec(s, viewer) || s.version != version || s.status != from {
            return Ok(None);
        }
        s.status = to;
        s.updated_at = now;
        Ok(Some(s.clone()))
    }

    async fn version(
        &self,
        viewer: Viewer,
        id: Uuid,
        number: i32,
    ) -> Result<Option<Option<SpecVersion>>, StoreError> {
        let db = self.0.db()?;
        if !db
            .specs
            .get(&id)
            .is_some_and(|r| visible_spec(&r.value, viewer))
        {
            return Ok(None);
        }
        Ok(Some(db.versions.get(&id).and_then(|vs| {
            vs.iter().find(|v| v.version_number == number).cloned()
        })))
    }
}

#[async_trait]
impl JobRepository for InMemoryJobs {
    async fn create(&self, job: NewJob) -> Result<CreateJob, StoreError> {
        let now = self.0.now();
        let mut db = self.0.db()?;
        if let Some(key) = job.idempotency_key.as_deref() {
            if let Some(existing) = db.jobs.values().find(|r| {
                r.value.user_id == job.user && r.value.idempotency_key.as_deref() == Some(key)
            }) {
                return Ok(CreateJob::Existing(existing.value.clone()));
            }
        }
        let created = GenerationJob {
            id: Uuid::new_v4(),
            tenant_id: job.tenant,
            user_id: job.user,
            status: JobStatus::Pending,
            progress: 0,
            request: job.request,
            idempotency_key: job.idempotency_key,
            state: job.state,
            result: None,
            app_spec_id: None,
            version_number: None,
            token_usage: TokenUsage::default(),
            error_code: None,
            error_message: None,
            attempts: 0,
            quota_reservation: job.quota_reservation,
            lease_owner: None,
            lease_expires_at: None,
            created_at: now,
            updated_at: now,
            started_at: None,
            finished_at: None,
        };
        let seq = db.next_seq();
        db.jobs.insert(
            created.id,
            Row {
                seq,
                value: created.clone(),
            },
        );
        Ok(CreateJob::Created(created))
    }

    async fn get(&self, viewer: Viewer, id: Uuid) -> Result<Option<GenerationJob>, StoreError> {
        let db = self.0.db()?;
        Ok(db
            .jobs
            .get(&id)
            .map(|r| r.value.clone())
            .filter(|j| visible_job(j, viewer)))
    }

    async fn find_by_key(
        &self,
        viewer: Viewer,
        key: &str,
    ) -> Result<Option<GenerationJob>, StoreError> {
        let db = self.0.db()?;
        Ok(db
            .jobs
            .values()
            .map(|r| &r.value)
            .find(|j| {
                j.tenant_id == viewer.tenant
                    && j.user_id == viewer.user
                    && j.idempotency_key.as_deref() == Some(key)
            })
            .cloned())
    }

    async fn list(
        &self,
        viewer: Viewer,
        status: Option<JobStatus>,
        page: PageRequest,
    ) -> Result<Page<GenerationJob>, StoreError> {
        let db = self.0.db()?;
        let mine: Vec<_> = db
            .jobs
            .values()
            .filter(|r| {
                r.value.tenant_id == viewer.tenant
                    && r.value.user_id == viewer.user
                    && status.is_none_or(|s| r.value.status == s)
            })
            .cloned()
            .collect();
        Ok(page_of(mine, page, |j| j.created_at))
    }

    async fn claim(
        &self,
        worker: &str,
        lease: Duration,
        max_attempts: i32,
    ) -> Result<Option<Claim>, StoreError> {
        let now = self.0.now();
        let mut db = self.0.db()?;
        let next = db
            .jobs
            .values()
            .filter(|r| {
                !r.value.status.is_final() && r.value.lease_expires_at.is_none_or(|at| at < now)
            })
            .min_by(|a, b| {
                a.value
                    .created_at
                    .cmp(&b.value.created_at)
                    .then(a.seq.cmp(&b.seq))
            })
            .map(|r| r.value.id);
        let Some(job) = next.and_then(|id| db.jobs.get_mut(&id)) else {
            return Ok(None);
        };
        let job = &mut job.value;
        if job.attempts >= max_attempts {
            let id = job.id;
            job.lease_owner = Some(worker.to_owned());
            let failure = gave_up(job.attempts);
            let usage = job.token_usage;
            return Ok(mark_failed(&mut db, id, worker, &failure, &usage, now).map(Claim::GaveUp));
        }
        job.lease_owner = Some(worker.to_owned());
        job.lease_expires_at = Some(plus(now, lease));
        job.attempts += 1;
        job.started_at = job.started_at.or(Some(now));
        job.updated_at = now;
        Ok(Some(Claim::Run(job.clone())))
    }

    async fn renew(&self, id: Uuid, worker: &str, lease: Duration) -> Result<Lease, StoreError> {
        let now = self.0.now();
        let mut db = self.0.db()?;
        Ok(match held(&mut db, id, worker) {
            Some(job) => {
                job.lease_expires_at = Some(plus(now, lease));
                job.updated_at = now;
                Lease::Held
            }
            None => Lease::Lost,
        })
    }

    async fn purge_events(&self, finished_before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut db = self.0.db()?;
        let old: std::collections::HashSet<Uuid> = db
            .jobs
            .values()
            .map(|r| &r.value)
            .filter(|j| j.finished_at.is_some_and(|at| at < finished_before))
            .map(|j| j.id)
            .collect();
        let before = db.events.len();
        db.events.retain(|e| !old.contains(&e.job_id));
        Ok((before - db.events.len()) as u64)
    }

    async fn release(&self, id: Uuid, worker: &str) -> Result<bool, StoreError> {
        let now = self.0.now();
        let mut db = self.0.db()?;
        Ok(match held(&mut db, id, worker) {
            Some(job) => {
                job.lease_expires_at = None;
                job.updated_at = now;
                true
            }
            None => false,
        })
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
            return Err(StoreError::Unexpected(anyhow::anyhow!(
                "checkpoint cannot move job {id} to the final status {}",
                status.as_str()
            )));
        }
        let now = self.0.now();
        let mut db = self.0.db()?;
        Ok(match held(&mut db, id, worker) {
            Some(job) => {
                job.status = status;
                job.progress = progress.min(100);
                job.state = state.clone();
                job.token_usage = *usage;
                job.updated_at = now;
                for e in events {
                    insert_event(&mut db, id, e, now);
                }
                Lease::Held
            }
            None => Lease::Lost,
        })
    }

    async fn append_events(&self, id: Uuid, events: &[JobEventData]) -> Result<i64, StoreError> {
        let now = self.0.now();
        let mut db = self.0.db()?;
        if !db.jobs.contains_key(&id) {
            return Err(StoreError::Unexpected(anyhow::anyhow!(
                "generation job {id} does not exist"
            )));
        }
        let mut last = db.last_event_id;
        for e in events {
            last = insert_event(&mut db, id, e, now);
        }
        Ok(last)
    }

    async fn events_after(
        &self,
        id: Uuid,
        after: i64,
        limit: i64,
    ) -> Result<Vec<JobEvent>, StoreError> {
        let db = self.0.db()?;
        Ok(db
            .events
            .iter()
            .filter(|e| e.job_id == id && e.id > after)
            .take(usize::try_from(limit.max(0)).unwrap_or(usize::MAX))
            .cloned()
            .collect())
    }

    async fn write_version(
        &self,
        id: Uuid,
        worker: &str,
        version: JobVersion,
    ) -> Result<WriteVersionOutcome, StoreError> {
        let now = self.0.now();
        let mut db = self.0.db()?;
        let Some(job) = held(&mut db, id, worker).map(|j| j.clone()) else {
            return Ok(WriteVersionOutcome::NotHeld);
        };
        let (spec_id, number) = match version.target_spec {
            Some(target) => {
                let owner = Viewer::owner(job.tenant_id, job.user_id);
                match append_locked(&mut db, owner, target, None, &version.version, now)? {
                    AppendOutcome::Appended(spec, v) => (spec.id, v.version_number),
                    AppendOutcome::Stale { .. } | AppendOutcome::NotFound => {
                        let failure = JobFailure::spec_gone();
                        mark_failed(&mut db, id, worker, &failure, &version.usage, now);
                        return Ok(WriteVersionOutcome::Failed(failure));
                    }
                }
            }
            None => {
                check_start(&version.version)?;
                let (spec, v) = insert_spec(&mut db, job.tenant_id, &version.version, now);
                (spec.id, v.version_number)
            }
        };
        let written = VersionCheckpoint {
            app_spec_id: spec_id,
            version_number: number,
        };
        if let Some(j) = held(&mut db, id, worker) {
            j.status = JobStatus::Generating;
            j.progress = 90;
            j.app_spec_id = Some(spec_id);
            j.version_number = Some(number);
            j.state.version = Some(written);
            j.token_usage = version.usage;
            j.updated_at = now;
        }
        Ok(WriteVersionOutcome::Written(written))
    }

    async fn complete(
        &self,
        id: Uuid,
        worker: &str,
        completion: Completion,
    ) -> Result<CompleteOutcome, StoreError> {
        let now = self.0.now();
        let mut db = self.0.db()?;
        if held(&mut db, id, worker).is_none() {
            return Ok(CompleteOutcome::NotHeld);
        }
        let v = completion.version;
        let Some(spec) = db.specs.get_mut(&v.app_spec_id).map(|r| &mut r.value) else {
            let failure = JobFailure::spec_gone();
            mark_failed(&mut db, id, worker, &failure, &completion.usage, now);
            return Ok(CompleteOutcome::Failed(failure));
        };
        if spec.version == v.version_number && spec.status.can_transition(completion.spec_status) {
            spec.status = completion.spec_status;
            spec.updated_at = now;
        }
        let code = completion.code.map(|code| {
            let codes = db.codes.entry(v.app_spec_id).or_default();
            let same = codes.iter().find(|(n, c)| {
                *n == v.version_number
                    && c.renderer == code.renderer
                    && c.content_hash == code.content_hash
            });
            match same {
                Some((_, c)) => c.clone(),
                None => {
                    codes.push((v.version_number, code.clone()));
                    code
                }
            }
        });
        let mut summary = completion.summary;
        summary.code = code.clone();
        if let Some(row) = db.jobs.get_mut(&id) {
            let j = &mut row.value;
            j.status = JobStatus::Completed;
            j.progress = 100;
            j.app_spec_id = Some(v.app_spec_id);
            j.version_number = Some(v.version_number);
            j.token_usage = completion.usage;
            j.result = Some(summary.clone());
            j.finished_at = Some(now);
            j.lease_owner = None;
            j.lease_expires_at = None;
            j.updated_at = now;
        }
        let done = JobEventData::Complete {
            app_spec_id: v.app_spec_id,
            version_number: v.version_number,
            quality_score: summary.quality_score,
            usage: completion.usage,
            code: code.clone(),
        };
        insert_event(&mut db, id, &done, now);
        Ok(CompleteOutcome::Completed { version: v, code })
    }

    async fn fail(
        &self,
        id: Uuid,
        worker: &str,
        failure: &JobFailure,
        usage: &TokenUsage,
    ) -> Result<Option<GenerationJob>, StoreError> {
        let now = self.0.now();
        let mut db = self.0.db()?;
        Ok(mark_failed(&mut db, id, worker, failure, usage, now))
    }

    async fn cancel(&self, viewer: Viewer, id: Uuid) -> Result<CancelOutcome, StoreError> {
        let now = self.0.now();
        let mut db = self.0.db()?;
        let Some(job) = db
            .jobs
            .get_mut(&id)
            .map(|r| &mut r.value)
            .filter(|j| visible_job(j, viewer))
        else {
            return Ok(CancelOutcome::NotFound);
        };
        if job.status.is_final() {
            return Ok(CancelOutcome::AlreadyFinished(job.clone()));
        }
        job.status = JobStatus::Cancelled;
        job.finished_at = Some(now);
        job.error_message = Some("cancelled by user".to_owned());
        job.updated_at = now;
        let job = job.clone();
        let cancelled = JobEventData::Error {
            code: FailureCode::Cancelled,
            message: "cancelled by user".to_owned(),
        };
        insert_event(&mut db, id, &cancelled, now);
        Ok(CancelOutcome::Cancelled(job))
    }
}

// ---------------------------------------------------------------------------------------------
// quota

#[derive(Debug, Default)]
struct QuotaBook {
    used: HashMap<UserId, u32>,
    /// Open reservations and whose they are.
    open: HashMap<String, UserId>,
    seq: u64,
    reserved: u32,
    refunded: u32,
}

/// The AI quota as a per-user counter (one window that never resets). Refunding a reservation
/// twice, or an unknown one, has no effect (like the Redis adapter's reservation set).
#[derive(Default)]
pub struct InMemoryQuota {
    book: Mutex<QuotaBook>,
    failing: AtomicBool,
}

/// What `reset_after` every state of [`InMemoryQuota`] reports.
pub const QUOTA_RESET_AFTER: Duration = Duration::from_secs(1800);

impl InMemoryQuota {
    pub fn new() -> Self {
        Self::default()
    }

    /// While set, every method fails (Redis down).
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.failing.load(Ordering::SeqCst) {
            anyhow::bail!("the in-memory quota is switched off");
        }
        Ok(())
    }

    /// Units the user holds now.
    pub fn used(&self, user: UserId) -> u32 {
        lock(&self.book).used.get(&user).copied().unwrap_or(0)
    }

    /// Successful reservations so far (refunds do not lower it).
    pub fn reservations_made(&self) -> u32 {
        lock(&self.book).reserved
    }

    /// Reservations actually given back.
    pub fn refunds(&self) -> u32 {
        lock(&self.book).refunded
    }

    /// Reservations neither refunded nor expired.
    pub fn open_reservations(&self) -> Vec<Reservation> {
        lock(&self.book)
            .open
            .keys()
            .cloned()
            .map(Reservation)
            .collect()
    }
}

#[async_trait]
impl AiQuota for InMemoryQuota {
    async fn reserve(
        &self,
        user: UserId,
        limit: u32,
    ) -> anyhow::Result<(QuotaState, Option<Reservation>)> {
        self.check()?;
        let mut book = lock(&self.book);
        let used = book.used.get(&user).copied().unwrap_or(0);
        if used >= limit {
            let state = QuotaState {
                allowed: false,
                limit,
                used,
                reset_after: QUOTA_RESET_AFTER,
            };
            return Ok((state, None));
        }
        book.seq += 1;
        let id = format!("r:{user}:{}", book.seq);
        book.used.insert(user, used + 1);
        book.open.insert(id.clone(), user);
        book.reserved += 1;
        let state = QuotaState {
            allowed: true,
            limit,
            used: used + 1,
            reset_after: QUOTA_RESET_AFTER,
        };
        Ok((state, Some(Reservation(id))))
    }

    async fn refund(&self, reservation: &Reservation) -> anyhow::Result<()> {
        self.check()?;
        let mut book = lock(&self.book);
        if let Some(user) = book.open.remove(&reservation.0) {
            if let Some(used) = book.used.get_mut(&user) {
                *used = used.saturating_sub(1);
            }
            book.refunded += 1;
        }
        Ok(())
    }

    async fn peek(&self, user: UserId, limit: u32) -> anyhow::Result<QuotaState> {
        self.check()?;
        let used = self.used(user);
        Ok(QuotaState {
            allowed: used < limit,
            limit,
            used,
            reset_after: QUOTA_RESET_AFTER,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// generator

/// Token usage of `prompt` + `completion` tokens (all prompt tokens cache misses).
pub fn usage(prompt: u64, completion: u64) -> TokenUsage {
    TokenUsage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        prompt_cache_hit_tokens: 0,
        prompt_cache_miss_tokens: prompt,
    }
}

/// An agent answer with this value and usage.
pub fn answer<T>(value: T, usage: TokenUsage) -> AgentOutput<T> {
    AgentOutput {
        value,
        usage,
        reasoning: "scripted".to_owned(),
        model: SCRIPTED_MODEL.to_owned(),
    }
}

/// An AI review with this score and no issues.
pub fn review(score: u8) -> AiReview {
    AiReview {
        score,
        issues: vec![],
        summary: format!("scripted review ({score})"),
    }
}

/// The model name [`ScriptedGenerator`] reports.
pub const SCRIPTED_MODEL: &str = "scripted-v1";

/// The plan [`ScriptedGenerator`] answers when its plan queue is empty.
pub fn default_plan() -> Value {
    json!({
        "modules": ["quiz"],
        "pages": ["home", "quiz", "results"],
        "dataModels": ["Word", "Result"],
        "complexity": "simple",
        "reasoning": "a three-page quiz",
    })
}

/// Usage of the default answers: plan, execute and review.
pub const DEFAULT_USAGE: [(u64, u64); 3] = [(100, 20), (200, 300), (150, 10)];

/// A hook run at every agent call (before the answer is taken), e.g. to cancel the job or take it
/// over while a step runs.
pub type CallHook = Arc<dyn Fn(Step) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A `SpecGenerator` answering from per-agent queues. An empty queue answers a good default
/// (`default_plan()`, `fixtures::sample()`, a review of 90, usages from [`DEFAULT_USAGE`]), or in
/// strict mode an `Unexpected` error. Every call is recorded with its input.
pub struct ScriptedGenerator {
    plans: Mutex<VecDeque<Result<AgentOutput<Value>, AgentError>>>,
    executes: Mutex<VecDeque<Result<AgentOutput<Value>, AgentError>>>,
    reviews: Mutex<VecDeque<Result<AgentOutput<AiReview>, AgentError>>>,
    /// Agent, input, and the plan (execute) or spec (review) it was given.
    calls: Mutex<Vec<(Step, GenerationInput, Value)>>,
    hook: Mutex<Option<CallHook>>,
    strict: bool,
    offline: bool,
}

impl Default for ScriptedGenerator {
    fn default() -> Self {
        Self::new()
    }
}

impl ScriptedGenerator {
    /// Good default answers when a queue is empty.
    pub fn new() -> Self {
        Self {
            plans: Mutex::default(),
            executes: Mutex::default(),
            reviews: Mutex::default(),
            calls: Mutex::default(),
            hook: Mutex::default(),
            strict: false,
            offline: false,
        }
    }

    /// An error (`AgentError::Unexpected`) when a queue is empty.
    pub fn strict() -> Self {
        Self {
            strict: true,
            ..Self::new()
        }
    }

    /// Reports itself as the offline generator.
    pub fn offline(mut self) -> Self {
        self.offline = true;
        self
    }

    pub fn push_plan(&self, a: Result<AgentOutput<Value>, AgentError>) -> &Self {
        lock(&self.plans).push_back(a);
        self
    }
    pub fn push_execute(&self, a: Result<AgentOutput<Value>, AgentError>) -> &Self {
        lock(&self.executes).push_back(a);
        self
    }
    pub fn push_review(&self, a: Result<AgentOutput<AiReview>, AgentError>) -> &Self {
        lock(&self.reviews).push_back(a);
        self
    }

    /// Runs `hook` at every later call, before the answer is taken.
    pub fn on_call(&self, hook: CallHook) {
        *lock(&self.hook) = Some(hook);
    }

    /// Calls of one agent so far (`Step::Validate` is the review).
    pub fn calls(&self, step: Step) -> usize {
        lock(&self.calls)
            .iter()
            .filter(|(s, _, _)| *s == step)
            .count()
    }

    /// Every call so far, in order.
    pub fn call_log(&self) -> Vec<Step> {
        lock(&self.calls).iter().map(|(s, _, _)| *s).collect()
    }

    /// The inputs one agent was called with.
    pub fn inputs(&self, step: Step) -> Vec<GenerationInput> {
        lock(&self.calls)
            .iter()
            .filter(|(s, _, _)| *s == step)
            .map(|(_, i, _)| i.clone())
            .collect()
    }

    /// What one agent was given besides the input: the plan (execute), the spec (review), `null`
    /// (plan).
    pub fn args(&self, step: Step) -> Vec<Value> {
        lock(&self.calls)
            .iter()
            .filter(|(s, _, _)| *s == step)
            .map(|(_, _, a)| a.clone())
            .collect()
    }

    async fn called(&self, step: Step, input: &GenerationInput, arg: &Value) {
        lock(&self.calls).push((step, input.clone(), arg.clone()));
        let hook = lock(&self.hook).clone();
        if let Some(hook) = hook {
            hook(step).await;
        }
    }

    fn take<T>(
        &self,
        queue: &Mutex<VecDeque<Result<AgentOutput<T>, AgentError>>>,
        step: Step,
        default: impl FnOnce() -> T,
        usage_of: (u64, u64),
    ) -> Result<AgentOutput<T>, AgentError> {
        if let Some(a) = lock(queue).pop_front() {
            return a;
        }
        if self.strict {
            return Err(AgentError::Unexpected(anyhow::anyhow!(
                "no scripted {} answer left",
                step.as_str()
            )));
        }
        Ok(answer(default(), usage(usage_of.0, usage_of.1)))
    }
}

#[async_trait]
impl SpecGenerator for ScriptedGenerator {
    fn model_version(&self) -> String {
        if self.offline {
            "offline-scripted-v1".to_owned()
        } else {
            SCRIPTED_MODEL.to_owned()
        }
    }

    fn is_offline(&self) -> bool {
        self.offline
    }

    async fn plan(&self, input: &GenerationInput) -> Result<AgentOutput<Value>, AgentError> {
        self.called(Step::Plan, input, &Value::Null).await;
        self.take(&self.plans, Step::Plan, default_plan, DEFAULT_USAGE[0])
    }

    async fn execute(
        &self,
        input: &GenerationInput,
        plan: &Value,
    ) -> Result<AgentOutput<Value>, AgentError> {
        self.called(Step::Execute, input, plan).await;
        self.take(
            &self.executes,
            Step::Execute,
            crate::spec::fixtures::sample,
            DEFAULT_USAGE[1],
        )
    }

    async fn review(
        &self,
        input: &GenerationInput,
        spec: &Value,
    ) -> Result<AgentOutput<AiReview>, AgentError> {
        self.called(Step::Validate, input, spec).await;
        self.take(
            &self.reviews,
            Step::Validate,
            || review(90),
            DEFAULT_USAGE[2],
        )
    }
}

// ---------------------------------------------------------------------------------------------
// code builder

/// A `CodeBuilder` that renders a spec into one file per page plus `index.html` (content derived
/// from the spec, so the hash identifies it), remembers what it stored, and can simulate an object
/// store outage, a render error or a panic.
#[derive(Default)]
pub struct FakeBuilder {
    builds: Mutex<Vec<BuildRequest>>,
    uploads: Mutex<Vec<String>>,
    stored: Mutex<std::collections::HashSet<String>>,
    store_down: AtomicBool,
    render_error: Mutex<Option<String>>,
    panic: AtomicBool,
}

impl FakeBuilder {
    pub fn new() -> Self {
        Self::default()
    }
    /// Makes every upload fail as if the object store were down.
    pub fn set_store_down(&self, down: bool) {
        self.store_down.store(down, Ordering::SeqCst);
    }
    /// Makes every render fail with this message.
    pub fn set_render_error(&self, message: Option<&str>) {
        *lock(&self.render_error) = message.map(str::to_owned);
    }
    /// Makes the next builds panic.
    pub fn set_panic(&self, panic: bool) {
        self.panic.store(panic, Ordering::SeqCst);
    }
    /// Build requests so far.
    pub fn builds(&self) -> Vec<BuildRequest> {
        lock(&self.builds).clone()
    }
    /// Content hashes uploaded so far (a reused artifact is not uploaded again).
    pub fn uploads(&self) -> Vec<String> {
        lock(&self.uploads).clone()
    }
}

#[async_trait]
impl CodeBuilder for FakeBuilder {
    fn default_renderer(&self) -> String {
        "static-web".to_owned()
    }

    fn knows(&self, name: &str) -> bool {
        matches!(name, "static-web" | "react-next" | "vue-vite")
    }

    async fn build(&self, request: BuildRequest) -> Result<BuiltCode, BuildError> {
        lock(&self.builds).push(request.clone());
        if self.panic.load(Ordering::SeqCst) {
            panic!("the fake renderer was told to panic");
        }
        let renderer = request
            .renderer
            .clone()
            .unwrap_or_else(|| self.default_renderer());
        if !self.knows(&renderer) {
            return Err(BuildError::UnknownRenderer(renderer));
        }
        if let Some(m) = lock(&self.render_error).clone() {
            return Err(BuildError::Render(m));
        }
        let mut files = vec![BuiltFile {
            path: "index.html".to_owned(),
            size: 100,
            group: "root".to_owned(),
        }];
        let pages = request.spec["pages"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for p in &pages {
            let id = p["id"].as_str().unwrap_or("page");
            files.push(BuiltFile {
                path: format!("pages/{id}.html"),
                size: 10,
                group: "pages".to_owned(),
            });
        }
        let text = format!("{renderer}:{}", request.spec);
        let hash = format!("{:016x}{:016x}", fnv(text.as_bytes()), text.len());
        let reused = lock(&self.stored).contains(&hash);
        if !reused {
            if self.store_down.load(Ordering::SeqCst) {
                return Err(BuildError::Storage(anyhow::anyhow!("connection refused")));
            }
            lock(&self.stored).insert(hash.clone());
            lock(&self.uploads).push(hash.clone());
        }
        let project_key = format!("p_{}", Uuid::new_v4().simple());
        Ok(BuiltCode {
            code: RenderedCode {
                renderer: renderer.clone(),
                renderer_version: "1.0.0".to_owned(),
                framework: "html".to_owned(),
                storage_key: format!("artifacts/{hash}.zip"),
                preview_url: Some(format!("http://preview.test/{project_key}/")),
                project_key,
                content_hash: hash,
                file_count: u32::try_from(files.len()).unwrap_or(u32::MAX),
                total_size_bytes: files.iter().map(|f| f.size).sum(),
                zip_size_bytes: 64,
                reused,
            },
            files,
        })
    }
}

/// FNV-1a, a stable hash for the fake's content hashes.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}
