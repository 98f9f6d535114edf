//! Ports of the app-specs domain: spec storage with the time machine, durable generation jobs
//! and their events, the AI quota and the rendering step. Each method documents what an adapter
//! MUST return.

use crate::agents::TokenUsage;
use crate::job::{
    GenerationJob, JobEvent, JobEventData, JobFailure, JobRequest, JobState, JobStatus, JobSummary,
    RenderedCode, VersionCheckpoint,
};
use crate::lifecycle::SpecStatus;
use async_trait::async_trait;
use ingenio_kernel::chrono::{DateTime, Utc};
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::{Page, PageRequest, StoreError, TenantId, UserId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// How a version came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeType {
    UserEdit,
    AiGeneration,
    Rollback,
    Fork,
}

impl ChangeType {
    pub fn as_str(&self) -> &'static str {
        match self {
            ChangeType::UserEdit => "user_edit",
            ChangeType::AiGeneration => "ai_generation",
            ChangeType::Rollback => "rollback",
            ChangeType::Fork => "fork",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user_edit" => Some(ChangeType::UserEdit),
            "ai_generation" => Some(ChangeType::AiGeneration),
            "rollback" => Some(ChangeType::Rollback),
            "fork" => Some(ChangeType::Fork),
            _ => None,
        }
    }
}

/// An `app_specs` row: the current state of a spec.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSpec {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub owner: UserId,
    pub content: Value,
    /// The latest version number.
    pub version: i32,
    /// The spec this one was forked from.
    pub parent_id: Option<Uuid>,
    pub status: SpecStatus,
    pub quality_score: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One entry of the time machine.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecVersion {
    pub id: Uuid,
    pub app_spec_id: Uuid,
    pub version_number: i32,
    pub snapshot: Value,
    pub generation_metadata: Option<Value>,
    pub change_description: Option<String>,
    pub change_type: ChangeType,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

/// One entry of the timeline as a listing shows it: everything but the snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecVersionSummary {
    pub id: Uuid,
    pub app_spec_id: Uuid,
    pub version_number: i32,
    pub generation_metadata: Option<Value>,
    pub change_description: Option<String>,
    pub change_type: ChangeType,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

impl From<SpecVersion> for SpecVersionSummary {
    fn from(v: SpecVersion) -> Self {
        Self {
            id: v.id,
            app_spec_id: v.app_spec_id,
            version_number: v.version_number,
            generation_metadata: v.generation_metadata,
            change_description: v.change_description,
            change_type: v.change_type,
            created_by: v.created_by,
            created_at: v.created_at,
        }
    }
}

/// A spec as a listing shows it: its state and the `appName` of its content, not the content.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecSummary {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub owner: UserId,
    /// The content's top-level `appName` as stored (any JSON value), `None` when absent.
    pub app_name: Option<Value>,
    pub version: i32,
    pub parent_id: Option<Uuid>,
    pub status: SpecStatus,
    pub quality_score: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<StoredSpec> for SpecSummary {
    fn from(s: StoredSpec) -> Self {
        Self {
            id: s.id,
            tenant_id: s.tenant_id,
            owner: s.owner,
            app_name: s.content.get("appName").cloned(),
            version: s.version,
            parent_id: s.parent_id,
            status: s.status,
            quality_score: s.quality_score,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// A version to write (the first of a new spec, or the next of an existing one).
#[derive(Debug, Clone, PartialEq)]
pub struct NewVersion {
    pub content: Value,
    pub generation_metadata: Option<Value>,
    pub change_description: Option<String>,
    pub change_type: ChangeType,
    pub created_by: UserId,
    /// The spec's status after this version.
    pub status: SpecStatus,
    pub quality_score: Option<i32>,
}

/// Whose specs a query may see: the owner's, or any in the tenant for an admin (kernel type).
pub use ingenio_kernel::Viewer;

/// The outcome of appending a version.
// A short-lived return value that is matched at once; boxing the common case buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum AppendOutcome {
    Appended(StoredSpec, SpecVersion),
    /// `expected_version` was given and is not the current version; nothing was written.
    Stale {
        current: i32,
    },
    NotFound,
}

/// Specs and their versions.
#[async_trait]
pub trait AppSpecRepository: Send + Sync {
    /// Inserts a spec and its version 1 in one transaction.
    async fn create(
        &self,
        tenant: TenantId,
        version: NewVersion,
    ) -> Result<(StoredSpec, SpecVersion), StoreError>;
    /// `Ok(None)` when the spec does not exist or the viewer may not see it.
    async fn get(&self, viewer: Viewer, id: Uuid) -> Result<Option<StoredSpec>, StoreError>;
    /// The viewer's own specs, newest first.
    async fn list(&self, viewer: Viewer, page: PageRequest)
        -> Result<Page<StoredSpec>, StoreError>;
    /// Appends the next version under a row lock: two concurrent appends get consecutive numbers
    /// and neither is lost. With `expected_version`, refuses (`Stale`) unless it is current.
    async fn append_version(
        &self,
        viewer: Viewer,
        id: Uuid,
        expected_version: Option<i32>,
        version: NewVersion,
    ) -> Result<AppendOutcome, StoreError>;
    /// Deletes a spec with its versions. `Ok(false)` when not visible.
    async fn delete(&self, viewer: Viewer, id: Uuid) -> Result<bool, StoreError>;
    /// The timeline, oldest first. `Ok(None)` when the spec is not visible.
    async fn versions(
        &self,
        viewer: Viewer,
        id: Uuid,
    ) -> Result<Option<Vec<SpecVersion>>, StoreError>;
    /// One version. Outer `None`: spec not visible; inner `None`: no such version.
    async fn version(
        &self,
        viewer: Viewer,
        id: Uuid,
        number: i32,
    ) -> Result<Option<Option<SpecVersion>>, StoreError>;
    /// The timeline without snapshots, oldest first; `Ok(None)` when the spec is not visible.
    /// An adapter over a real store MUST NOT read the snapshots (the default, for stores where
    /// reading them costs nothing, strips them from [`versions`](Self::versions)).
    async fn version_summaries(
        &self,
        viewer: Viewer,
        id: Uuid,
    ) -> Result<Option<Vec<SpecVersionSummary>>, StoreError> {
        Ok(self
            .versions(viewer, id)
            .await?
            .map(|vs| vs.into_iter().map(SpecVersionSummary::from).collect()))
    }
    /// The viewer's own specs, newest first, as [`list`](Self::list) orders them. An adapter
    /// over a real store MUST read only the content's `appName`, not the whole content.
    async fn list_summaries(
        &self,
        viewer: Viewer,
        page: PageRequest,
    ) -> Result<Page<SpecSummary>, StoreError> {
        Ok(self.list(viewer, page).await?.map(SpecSummary::from))
    }
    /// Moves a spec from `from` to `to` only while it is still at `version` with status `from`
    /// (so a concurrent edit wins), touching `updated_at`. Returns the updated spec, or `Ok(None)`
    /// when the spec is not visible or no longer matches. Callers check the lifecycle first.
    async fn set_status(
        &self,
        viewer: Viewer,
        id: Uuid,
        version: i32,
        from: SpecStatus,
        to: SpecStatus,
    ) -> Result<Option<StoredSpec>, StoreError>;
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub tenant: TenantId,
    pub user: UserId,
    pub request: JobRequest,
    pub idempotency_key: Option<String>,
    /// The quota reservation to refund if the job fails or is cancelled.
    pub quota_reservation: Option<String>,
    /// Checkpoints the job starts with (a render job starts with its version known).
    pub state: JobState,
}

/// `create` found an existing job with the same idempotency key, or made a new one.
#[derive(Debug, Clone, PartialEq)]
pub enum CreateJob {
    Created(GenerationJob),
    Existing(GenerationJob),
}

/// The result of a cancel request.
#[derive(Debug, Clone, PartialEq)]
pub enum CancelOutcome {
    /// The job moved to `cancelled` now (whoever runs it stops at its next step or heartbeat).
    Cancelled(GenerationJob),
    /// The job had already finished; nothing changed.
    AlreadyFinished(GenerationJob),
    NotFound,
}

/// Whether a worker still owns a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    Held,
    /// Another worker took the job over, or it reached a final status (e.g. cancelled).
    Lost,
}

/// What [`JobRepository::claim`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The job to run, leased to the caller, `attempts` incremented.
    Run(GenerationJob),
    /// The oldest runnable job had already been claimed `max_attempts` times: this call failed it
    /// for good (code `1000`, an `error` event) instead of handing it out again. The caller
    /// settles its quota reservation.
    GaveUp(GenerationJob),
}

/// The version a job writes once its spec passed validation, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct JobVersion {
    /// `Some` when regenerating an existing spec (append), `None` to create a new spec.
    pub target_spec: Option<Uuid>,
    pub version: NewVersion,
    pub usage: TokenUsage,
}

/// What [`JobRepository::write_version`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteVersionOutcome {
    /// The version was written and checkpointed (`state.version`, the job's spec id and number).
    Written(VersionCheckpoint),
    /// The target spec is gone: the job was failed with `3000` (the caller settles the quota).
    Failed(JobFailure),
    /// The lease was lost or the job is final: nothing was written.
    NotHeld,
}

/// How a job ends successfully.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The version the job produced or rendered.
    pub version: VersionCheckpoint,
    /// The rendered code to record (a `generated_code` row), when the job rendered.
    pub code: Option<RenderedCode>,
    /// The spec's status after completion when the move is allowed from its current status and
    /// the spec is still at `version` (a user edit meanwhile keeps its draft status).
    pub spec_status: SpecStatus,
    pub summary: JobSummary,
    pub usage: TokenUsage,
}

/// What [`JobRepository::complete`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum CompleteOutcome {
    /// The job completed; `code` is the recorded code (an existing record of the same version,
    /// renderer and content is reused rather than duplicated).
    Completed {
        version: VersionCheckpoint,
        code: Option<RenderedCode>,
    },
    /// The spec vanished before completion: the job was failed with `3000`.
    Failed(JobFailure),
    /// The lease was lost or the job is already final: nothing was written.
    NotHeld,
}

/// Durable generation jobs and their event log.
#[async_trait]
pub trait JobRepository: Send + Sync {
    /// Enqueues a job as `pending`. With an idempotency key already used by this user, returns the
    /// existing job and enqueues nothing.
    async fn create(&self, job: NewJob) -> Result<CreateJob, StoreError>;
    /// `Ok(None)` when the job does not exist or is not the viewer's (admins see all in the tenant).
    async fn get(&self, viewer: Viewer, id: Uuid) -> Result<Option<GenerationJob>, StoreError>;
    /// The viewer's own job created with `key` (idempotency keys are per user), if any.
    async fn find_by_key(
        &self,
        viewer: Viewer,
        key: &str,
    ) -> Result<Option<GenerationJob>, StoreError>;
    async fn list(
        &self,
        viewer: Viewer,
        status: Option<JobStatus>,
        page: PageRequest,
    ) -> Result<Page<GenerationJob>, StoreError>;
    /// Takes the oldest runnable job (pending, or running with an expired lease) with
    /// `FOR UPDATE SKIP LOCKED`: below `max_attempts` claims, leases it to `worker` for `lease`
    /// and increments `attempts` ([`Claim::Run`]); at `max_attempts` fails it for good
    /// ([`Claim::GaveUp`]).
    async fn claim(
        &self,
        worker: &str,
        lease: Duration,
        max_attempts: i32,
    ) -> Result<Option<Claim>, StoreError>;
    /// Extends the lease if `worker` still holds it and the job is not final.
    async fn renew(&self, id: Uuid, worker: &str, lease: Duration) -> Result<Lease, StoreError>;
    /// Deletes the events of jobs that finished before `finished_before` (the job rows, their
    /// results and the versions they wrote stay). Returns how many events were deleted.
    async fn purge_events(&self, finished_before: DateTime<Utc>) -> Result<u64, StoreError>;
    /// Gives the lease up early (a graceful shutdown that could not finish the job), so another
    /// instance claims it at once instead of after the lease; the checkpoints stay. `true` when
    /// `worker` held the job.
    async fn release(&self, id: Uuid, worker: &str) -> Result<bool, StoreError>;
    /// Records the status, progress and checkpoints (used to resume after a takeover) and, in the
    /// same transaction, appends `events`. Refuses final statuses (an `Unexpected` error).
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
    ) -> Result<Lease, StoreError>;
    /// Appends events in order; ids increase strictly per job (and globally). Returns the last id.
    async fn append_events(&self, id: Uuid, events: &[JobEventData]) -> Result<i64, StoreError>;
    /// Events with id > `after`, oldest first, at most `limit`.
    async fn events_after(
        &self,
        id: Uuid,
        after: i64,
        limit: i64,
    ) -> Result<Vec<JobEvent>, StoreError>;
    /// In ONE transaction, if `worker` holds the job and it is not final: writes the version (new
    /// spec or next version of `target_spec`), records it on the job (`app_spec_id`,
    /// `version_number`, `state.version`) with status `generating`. When the target spec vanished
    /// the job is failed with `3000` instead (nothing stored). Nothing is written when the lease
    /// was lost or the job was cancelled meanwhile.
    async fn write_version(
        &self,
        id: Uuid,
        worker: &str,
        version: JobVersion,
    ) -> Result<WriteVersionOutcome, StoreError>;
    /// In ONE transaction, if `worker` holds the job and it is not final: records the code
    /// (reusing an identical record of the same spec version and renderer), moves the spec to
    /// `spec_status` when allowed, completes the job and appends the `complete` event. Fails the
    /// job with `3000` when the spec vanished.
    async fn complete(
        &self,
        id: Uuid,
        worker: &str,
        completion: Completion,
    ) -> Result<CompleteOutcome, StoreError>;
    /// Marks the job failed (if `worker` holds it and it is not final) and appends the `error`
    /// event. Returns the job when this call made the transition (so the caller settles once).
    async fn fail(
        &self,
        id: Uuid,
        worker: &str,
        failure: &JobFailure,
        usage: &TokenUsage,
    ) -> Result<Option<GenerationJob>, StoreError>;
    /// Moves a non-final job to `cancelled` and appends an `error` event with code `cancelled`.
    async fn cancel(&self, viewer: Viewer, id: Uuid) -> Result<CancelOutcome, StoreError>;
}

/// A reservation of one unit of a quota, to hand back on refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation(pub String);

/// The state of a quota after a reservation attempt or a peek.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaState {
    pub allowed: bool,
    pub limit: u32,
    pub used: u32,
    pub reset_after: Duration,
}

/// The per-user AI quota (`ingenio.rate-limit.ai-calls-per-hour`), shared across instances.
#[async_trait]
pub trait AiQuota: Send + Sync {
    /// Reserves one generation; `(state, None)` when the quota is used up (nothing counted).
    async fn reserve(
        &self,
        user: UserId,
        limit: u32,
    ) -> anyhow::Result<(QuotaState, Option<Reservation>)>;
    /// Gives a reservation back (a failed or cancelled job). Refunding twice has no effect.
    async fn refund(&self, reservation: &Reservation) -> anyhow::Result<()>;
    /// The current state without reserving.
    async fn peek(&self, user: UserId, limit: u32) -> anyhow::Result<QuotaState>;
}

/// A spec version to render (SPEC §4 "Generated code and preview").
#[derive(Debug, Clone, PartialEq)]
pub struct BuildRequest {
    pub tenant: TenantId,
    pub app_spec_id: Uuid,
    pub version: i32,
    pub spec: Value,
    /// The renderer to use; the configured default when `None`.
    pub renderer: Option<String>,
}

/// One file written into an artifact (for `file` events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltFile {
    pub path: String,
    pub size: u64,
    /// The first path segment (`root` for top-level files), for `render` progress per group.
    pub group: String,
}

/// A rendered, stored artifact and the files in it.
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltCode {
    pub code: RenderedCode,
    pub files: Vec<BuiltFile>,
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// No renderer of that name (`1001` at the edge; `4000` in a job).
    #[error("unknown renderer {0:?}")]
    UnknownRenderer(String),
    /// The spec could not be rendered (`4000`).
    #[error("the spec could not be rendered: {0}")]
    Render(String),
    /// The object store could not take the artifact (`7000`).
    #[error("the object store is unavailable")]
    Storage(#[source] anyhow::Error),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// The pipeline's render step: renders a spec version into code and stores the zip, reusing an
/// identical stored artifact (same renderer version and content hash) instead of uploading it
/// again. Implemented by the code-generation domain.
#[async_trait]
pub trait CodeBuilder: Send + Sync {
    /// The renderer used when a request names none.
    fn default_renderer(&self) -> String;
    /// Whether `name` is a renderer this builder knows.
    fn knows(&self, name: &str) -> bool;
    async fn build(&self, request: BuildRequest) -> Result<BuiltCode, BuildError>;
}

/// Why CPU-heavy work did not give its result.
#[derive(Debug, thiserror::Error)]
pub enum CpuError {
    /// Every slot is taken and none freed up in time; nothing ran (503 with `Retry-After`).
    #[error("server busy, retry after {retry_after_secs} seconds")]
    Saturated { retry_after_secs: u64 },
    /// The work panicked or could not be joined.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// Runs CPU-heavy spec work (parse and validation of a large spec, the semantic diff) off the
/// async worker threads with a bound on how much runs at once: an adapter MUST run `work` to its
/// end once it has a slot (even if the caller is gone), and answer `Saturated` without running it
/// when no slot frees up within its wait.
#[async_trait]
pub trait CpuWork: Send + Sync {
    async fn run(&self, work: Box<dyn FnOnce() + Send>) -> Result<(), CpuError>;
}

/// Runs the work at once on the calling thread: for tests and callers already off the async
/// threads.
#[derive(Debug, Clone, Copy, Default)]
pub struct InlineWork;

#[async_trait]
impl CpuWork for InlineWork {
    async fn run(&self, work: Box<dyn FnOnce() + Send>) -> Result<(), CpuError> {
        work();
        Ok(())
    }
}

/// Told after a job completed and its version and code were recorded (the projects domain
/// evicts the owner's cached project list: the project made for a new spec, or the new preview
/// of a regenerated one). Infallible for the pipeline: a listener logs its own failures.
#[async_trait]
pub trait GenerationListener: Send + Sync {
    async fn completed(&self, tenant: TenantId, user: UserId, app_spec_id: Uuid);
}
