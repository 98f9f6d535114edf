//! The app-specs service: spec CRUD, the time machine (timeline, versions, diff, rollback) and
//! the acceptance side of generation (quota reservation, idempotent enqueue, cancel).

use crate::diff::{diff, SpecDiff};
use crate::errors::AppSpecError;
use crate::jobs::{
    settle_quota, FailureCode, GenerationJob, JobEvent, JobKind, JobRequest, JobState, JobStatus,
    VersionCheckpoint,
};
use crate::lifecycle::SpecStatus;
use crate::limits::SpecLimits;
use crate::ports::{
    AiQuota, AppSpecRepository, AppendOutcome, CancelOutcome, ChangeType, CpuError, CpuWork,
    CreateJob, InlineWork, JobRepository, NewJob, NewVersion, QuotaState, Reservation, SpecSummary,
    SpecVersion, SpecVersionSummary, StoredSpec, Viewer,
};
use crate::spec::AppSpec;
use crate::validation::{validate, validate_value, ValidationReport};
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::{Page, PageRequest};
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// How many events one [`AppSpecService::events_after`] call returns at most.
pub const EVENTS_PAGE: i64 = 200;

/// Settings of the service (from configuration).
#[derive(Debug, Clone)]
pub struct AppSpecConfig {
    /// Whether the AI quota is enforced (`ingenio.rate-limit.enabled`).
    pub quota_enabled: bool,
    /// `ingenio.rate-limit.ai-calls-per-hour`.
    pub ai_calls_per_hour: u32,
    /// `ingenio.spec-limits.*`: checked on every spec a request carries or restores, before any
    /// parse, validation or diff.
    pub limits: SpecLimits,
}

/// App-spec use cases. Cheap to clone.
#[derive(Clone)]
pub struct AppSpecService {
    specs: Arc<dyn AppSpecRepository>,
    jobs: Arc<dyn JobRepository>,
    quota: Arc<dyn AiQuota>,
    config: AppSpecConfig,
    /// Where parse + validation and diffs run (off the async threads in the server).
    cpu: Arc<dyn CpuWork>,
}

/// What [`AppSpecService::validate_spec`] did.
#[derive(Debug, Clone)]
pub struct Validated {
    /// The spec as it is now, with the rule pass of its content.
    pub view: SpecView,
    /// Whether this call moved it from `draft` to `validated`.
    pub moved: bool,
}

/// A spec with the rule pass of its current content.
#[derive(Debug, Clone)]
pub struct SpecView {
    pub spec: StoredSpec,
    pub report: ValidationReport,
}

fn parse(content: &Value) -> Result<AppSpec, AppSpecError> {
    AppSpec::parse(content).map_err(|e| AppSpecError::InvalidSpec {
        path: e.path,
        message: e.message,
    })
}

/// Parses and validates `content` (moved in and handed back, so it can run on another thread).
fn checked(content: Value) -> Result<(Value, ValidationReport), AppSpecError> {
    let spec = parse(&content)?;
    let report = validate(&spec);
    Ok((content, report))
}

fn description(d: Option<String>) -> Result<Option<String>, AppSpecError> {
    match d.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) {
        Some(s) if s.chars().count() > 500 => Err(AppSpecError::invalid(
            "changeDescription",
            "must be at most 500 characters",
        )),
        other => Ok(other),
    }
}

fn check_idempotency_key(key: Option<&str>) -> Result<(), AppSpecError> {
    match key {
        Some(k) if k.is_empty() || k.len() > 200 => Err(AppSpecError::invalid(
            "Idempotency-Key",
            "must be 1 to 200 characters",
        )),
        _ => Ok(()),
    }
}

impl AppSpecService {
    pub fn new(
        specs: Arc<dyn AppSpecRepository>,
        jobs: Arc<dyn JobRepository>,
        quota: Arc<dyn AiQuota>,
        config: AppSpecConfig,
    ) -> Self {
        Self {
            specs,
            jobs,
            quota,
            config,
            cpu: Arc::new(InlineWork),
        }
    }

    /// Runs parse + validation and diffs through `cpu` (the server's bounded blocking pool)
    /// instead of on the calling thread.
    pub fn with_cpu(mut self, cpu: Arc<dyn CpuWork>) -> Self {
        self.cpu = cpu;
        self
    }

    /// The size limits in force.
    pub fn limits(&self) -> &SpecLimits {
        &self.config.limits
    }

    /// Runs `f` through the CPU port and hands its result back.
    async fn offload<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppSpecError> {
        let slot: Arc<Mutex<Option<T>>> = Arc::new(Mutex::new(None));
        let out = slot.clone();
        self.cpu
            .run(Box::new(move || {
                let value = f();
                *out.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
            }))
            .await
            .map_err(|e| match e {
                CpuError::Saturated { retry_after_secs } => AppSpecError::Busy { retry_after_secs },
                CpuError::Failed(e) => AppSpecError::Unexpected(e.context("spec work failed")),
            })?;
        let value = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        value.ok_or_else(|| AppSpecError::Unexpected(anyhow::anyhow!("spec work gave no result")))
    }

    /// The limits first (cheap, on this thread), then parse + validation off it.
    async fn check_content(
        &self,
        content: Value,
    ) -> Result<(Value, ValidationReport), AppSpecError> {
        self.config.limits.check(&content)?;
        self.offload(move || checked(content)).await?
    }

    /// The rule pass of stored content, off this thread.
    async fn report_of(&self, spec: StoredSpec) -> Result<SpecView, AppSpecError> {
        self.offload(move || {
            let report = validate_value(&spec.content);
            SpecView { spec, report }
        })
        .await
    }

    /// Creates a spec from user-supplied content: version 1 (`user_edit`), status draft.
    pub async fn create(
        &self,
        viewer: Viewer,
        content: Value,
        change: Option<String>,
    ) -> Result<(SpecView, SpecVersion), AppSpecError> {
        let change = description(change)?;
        let (content, report) = self.check_content(content).await?;
        let (stored, version) = self
            .specs
            .create(
                viewer.tenant,
                NewVersion {
                    content,
                    generation_metadata: None,
                    change_description: change.or_else(|| Some("Created".to_owned())),
                    change_type: ChangeType::UserEdit,
                    created_by: viewer.user,
                    status: SpecStatus::Draft,
                    quality_score: Some(i32::from(report.rule_score)),
                },
            )
            .await?;
        Ok((
            SpecView {
                spec: stored,
                report,
            },
            version,
        ))
    }

    pub async fn list(
        &self,
        viewer: Viewer,
        page: PageRequest,
    ) -> Result<Page<StoredSpec>, AppSpecError> {
        Ok(self.specs.list(viewer, page).await?)
    }

    /// The viewer's own specs as a listing shows them (names, not contents), newest first.
    pub async fn list_summaries(
        &self,
        viewer: Viewer,
        page: PageRequest,
    ) -> Result<Page<SpecSummary>, AppSpecError> {
        Ok(self.specs.list_summaries(viewer, page).await?)
    }

    pub async fn get(&self, viewer: Viewer, id: Uuid) -> Result<SpecView, AppSpecError> {
        let spec = self
            .specs
            .get(viewer, id)
            .await?
            .ok_or(AppSpecError::NotFound)?;
        self.report_of(spec).await
    }

    /// A user edit: a new `user_edit` version; status back to draft. With `if_match`, refused
    /// (`Stale`) unless it names the current version.
    pub async fn edit(
        &self,
        viewer: Viewer,
        id: Uuid,
        if_match: Option<i32>,
        content: Value,
        change: Option<String>,
    ) -> Result<(SpecView, SpecVersion), AppSpecError> {
        let change = description(change)?;
        let (content, report) = self.check_content(content).await?;
        let version = NewVersion {
            content,
            generation_metadata: None,
            change_description: change.or_else(|| Some("Edited".to_owned())),
            change_type: ChangeType::UserEdit,
            created_by: viewer.user,
            status: SpecStatus::Draft,
            quality_score: Some(i32::from(report.rule_score)),
        };
        match self
            .specs
            .append_version(viewer, id, if_match, version)
            .await?
        {
            AppendOutcome::Appended(spec, v) => Ok((SpecView { spec, report }, v)),
            AppendOutcome::Stale { current } => Err(AppSpecError::Stale {
                expected: if_match.unwrap_or_default(),
                current,
            }),
            AppendOutcome::NotFound => Err(AppSpecError::NotFound),
        }
    }

    pub async fn delete(&self, viewer: Viewer, id: Uuid) -> Result<(), AppSpecError> {
        if self.specs.delete(viewer, id).await? {
            Ok(())
        } else {
            Err(AppSpecError::NotFound)
        }
    }

    /// The timeline, oldest first; history is never deleted.
    pub async fn versions(
        &self,
        viewer: Viewer,
        id: Uuid,
    ) -> Result<Vec<SpecVersion>, AppSpecError> {
        self.specs
            .versions(viewer, id)
            .await?
            .ok_or(AppSpecError::NotFound)
    }

    /// The timeline without snapshots, oldest first.
    pub async fn timeline(
        &self,
        viewer: Viewer,
        id: Uuid,
    ) -> Result<Vec<SpecVersionSummary>, AppSpecError> {
        self.specs
            .version_summaries(viewer, id)
            .await?
            .ok_or(AppSpecError::NotFound)
    }

    /// Runs the rule pass on one of the caller's own specs (an admin too may validate only their
    /// own: the move is the owner's decision) and moves a `draft` with no rule error to
    /// `validated` through the lifecycle. Any other status is left as it is. A concurrent edit
    /// wins: the spec is then reported as that edit left it.
    pub async fn validate_spec(&self, viewer: Viewer, id: Uuid) -> Result<Validated, AppSpecError> {
        let own = Viewer {
            admin: false,
            ..viewer
        };
        let spec = self
            .specs
            .get(own, id)
            .await?
            .ok_or(AppSpecError::NotFound)?;
        let SpecView { spec, report } = self.report_of(spec).await?;
        if !report.is_valid() || spec.status != SpecStatus::Draft {
            return Ok(Validated {
                view: SpecView { spec, report },
                moved: false,
            });
        }
        let to = spec.status.transition(SpecStatus::Validated)?;
        if let Some(moved) = self
            .specs
            .set_status(own, id, spec.version, spec.status, to)
            .await?
        {
            return Ok(Validated {
                view: SpecView {
                    spec: moved,
                    report,
                },
                moved: true,
            });
        }
        let view = self.get(own, id).await?;
        Ok(Validated { view, moved: false })
    }

    pub async fn version(
        &self,
        viewer: Viewer,
        id: Uuid,
        number: i32,
    ) -> Result<SpecVersion, AppSpecError> {
        self.specs
            .version(viewer, id, number)
            .await?
            .ok_or(AppSpecError::NotFound)?
            .ok_or(AppSpecError::VersionNotFound(number))
    }

    /// Semantic diff between two versions of one spec.
    pub async fn diff(
        &self,
        viewer: Viewer,
        id: Uuid,
        from: i32,
        to: i32,
    ) -> Result<SpecDiff, AppSpecError> {
        let a = self.version(viewer, id, from).await?;
        let b = self.version(viewer, id, to).await?;
        self.offload(move || -> Result<SpecDiff, AppSpecError> {
            Ok(diff(&parse(&a.snapshot)?, &parse(&b.snapshot)?))
        })
        .await?
    }

    /// Appends a `rollback` version that copies version `number`; nothing is deleted.
    pub async fn rollback(
        &self,
        viewer: Viewer,
        id: Uuid,
        number: i32,
    ) -> Result<(SpecView, SpecVersion), AppSpecError> {
        let target = self.version(viewer, id, number).await?;
        // a version stored before the limits (or under looser ones) is not restored past them
        self.config.limits.check(&target.snapshot)?;
        let (content, report) = self
            .offload(move || {
                let report = validate_value(&target.snapshot);
                (target.snapshot, report)
            })
            .await?;
        let version = NewVersion {
            content,
            generation_metadata: None,
            change_description: Some(format!("Rolled back to version {number}")),
            change_type: ChangeType::Rollback,
            created_by: viewer.user,
            status: SpecStatus::Draft,
            quality_score: Some(i32::from(report.rule_score)),
        };
        match self.specs.append_version(viewer, id, None, version).await? {
            AppendOutcome::Appended(spec, v) => Ok((SpecView { spec, report }, v)),
            AppendOutcome::Stale { .. } | AppendOutcome::NotFound => Err(AppSpecError::NotFound),
        }
    }

    /// Accepts a generation request: checks the target spec (the caller's own: a regeneration
    /// writes a version as its owner, so an admin cannot regenerate someone else's spec), reserves
    /// one unit of AI quota and enqueues the job (idempotently per key: a repeated key returns the
    /// existing job before any quota is asked for, so a retry at the limit is not refused).
    /// Returns the job and whether it is new.
    pub async fn submit(
        &self,
        viewer: Viewer,
        mut request: JobRequest,
        idempotency_key: Option<String>,
    ) -> Result<(GenerationJob, bool), AppSpecError> {
        if let Some(id) = request.app_spec_id {
            self.specs
                .get(viewer, id)
                .await?
                .filter(|s| s.owner == viewer.user)
                .ok_or(AppSpecError::NotFound)?;
        }
        if request.quality_threshold > 100 {
            return Err(AppSpecError::invalid(
                "qualityThreshold",
                "must be between 0 and 100",
            ));
        }
        check_idempotency_key(idempotency_key.as_deref())?;
        request.requirement = request.requirement.trim().to_owned();
        if let Some(key) = &idempotency_key {
            if let Some(job) = self.jobs.find_by_key(viewer, key).await? {
                return Ok((job, false));
            }
        }
        let reservation = self.reserve(viewer).await?;
        let created = self
            .jobs
            .create(NewJob {
                tenant: viewer.tenant,
                user: viewer.user,
                request,
                idempotency_key,
                quota_reservation: reservation.as_ref().map(|r| r.0.clone()),
                state: JobState::default(),
            })
            .await;
        match created {
            Ok(CreateJob::Created(job)) => Ok((job, true)),
            Ok(CreateJob::Existing(job)) => {
                self.refund(reservation.as_ref()).await;
                Ok((job, false))
            }
            Err(e) => {
                self.refund(reservation.as_ref()).await;
                Err(e.into())
            }
        }
    }

    /// Accepts a render job for version `version` (the current one when `None`) of the caller's
    /// own spec with `renderer` (validated by the caller): no AI, no quota. Idempotent per key like
    /// [`Self::submit`]. Returns the job and whether it is new.
    pub async fn submit_render(
        &self,
        viewer: Viewer,
        id: Uuid,
        version: Option<i32>,
        renderer: Option<String>,
        idempotency_key: Option<String>,
    ) -> Result<(GenerationJob, bool), AppSpecError> {
        check_idempotency_key(idempotency_key.as_deref())?;
        let spec = self
            .specs
            .get(viewer, id)
            .await?
            .filter(|s| s.owner == viewer.user)
            .ok_or(AppSpecError::NotFound)?;
        let number = version.unwrap_or(spec.version);
        let target = self.version(viewer, id, number).await?;
        self.config.limits.check(&target.snapshot)?;
        if let Some(key) = &idempotency_key {
            if let Some(job) = self.jobs.find_by_key(viewer, key).await? {
                return Ok((job, false));
            }
        }
        let request = JobRequest {
            kind: JobKind::Render,
            requirement: String::new(),
            age_group: None,
            magic_prompt_id: None,
            variables: Value::Null,
            app_spec_id: Some(id),
            version: Some(number),
            renderer,
            quality_threshold: 0,
        };
        let state = JobState {
            version: Some(VersionCheckpoint {
                app_spec_id: id,
                version_number: number,
            }),
            ..JobState::default()
        };
        let created = self
            .jobs
            .create(NewJob {
                tenant: viewer.tenant,
                user: viewer.user,
                request,
                idempotency_key,
                quota_reservation: None,
                state,
            })
            .await?;
        Ok(match created {
            CreateJob::Created(job) => (job, true),
            CreateJob::Existing(job) => (job, false),
        })
    }

    async fn reserve(&self, viewer: Viewer) -> Result<Option<Reservation>, AppSpecError> {
        if !self.config.quota_enabled {
            return Ok(None);
        }
        let limit = self.config.ai_calls_per_hour;
        let (state, reservation) = self.quota.reserve(viewer.user, limit).await?;
        match reservation {
            Some(r) => Ok(Some(r)),
            None => Err(AppSpecError::QuotaExceeded {
                limit,
                retry_after_secs: state.reset_after.as_secs().max(1),
            }),
        }
    }

    /// Gives a reservation back; failures are logged by the adapter and never fail the caller.
    pub async fn refund(&self, reservation: Option<&Reservation>) {
        if let Some(r) = reservation {
            let _ = self.quota.refund(r).await;
        }
    }

    pub async fn job(&self, viewer: Viewer, id: Uuid) -> Result<GenerationJob, AppSpecError> {
        self.jobs
            .get(viewer, id)
            .await?
            .ok_or(AppSpecError::JobNotFound)
    }

    pub async fn jobs(
        &self,
        viewer: Viewer,
        status: Option<JobStatus>,
        page: PageRequest,
    ) -> Result<Page<GenerationJob>, AppSpecError> {
        Ok(self.jobs.list(viewer, status, page).await?)
    }

    /// Cancels a job that has not finished; nothing more is stored. The quota reservation is
    /// refunded unless the AI had already answered (the user chose to throw that work away).
    pub async fn cancel(&self, viewer: Viewer, id: Uuid) -> Result<GenerationJob, AppSpecError> {
        match self.jobs.cancel(viewer, id).await? {
            CancelOutcome::Cancelled(job) => {
                settle_quota(&*self.quota, &job, FailureCode::Cancelled).await;
                Ok(job)
            }
            CancelOutcome::AlreadyFinished(job) => Ok(job),
            CancelOutcome::NotFound => Err(AppSpecError::JobNotFound),
        }
    }

    /// Events after `after` of a job the viewer may see (checked by the caller once per stream).
    /// Up to [`EVENTS_PAGE`] events of a job after event id `after`, oldest first.
    pub async fn events_after(&self, id: Uuid, after: i64) -> Result<Vec<JobEvent>, AppSpecError> {
        Ok(self.jobs.events_after(id, after, EVENTS_PAGE).await?)
    }

    /// What is left of the caller's AI quota.
    pub async fn quota(&self, viewer: Viewer) -> Result<QuotaState, AppSpecError> {
        Ok(self
            .quota
            .peek(viewer.user, self.config.ai_calls_per_hour)
            .await?)
    }
}

#[cfg(test)]
mod tests;
