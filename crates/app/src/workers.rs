//! Generation workers: every instance runs a few; each claims one job at a time with
//! `FOR UPDATE SKIP LOCKED`, keeps its lease alive with a heartbeat, and runs the pipeline. A job
//! whose instance dies is claimed again after its lease expires and resumes from its last step.

use crate::state::AppState;
use ingenio_app_specs::jobs::{GenerationJob, Pipeline, RunOutcome, MAX_ATTEMPTS};
use ingenio_app_specs::ports::{Claim, JobRepository, Lease};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The job a worker is running, if any (read at shutdown to hand it over).
type Current = Arc<std::sync::Mutex<Option<uuid::Uuid>>>;

/// Running workers; stop them with `shutdown`.
pub struct Workers {
    stop: watch::Sender<bool>,
    handles: Vec<JoinHandle<()>>,
    /// (worker id, its current job) per worker.
    current: Vec<(String, Current)>,
    jobs: Arc<dyn JobRepository>,
}

impl Workers {
    /// Asks workers to stop claiming, waits up to `grace` for jobs in flight, then aborts the rest
    /// and releases their leases, so another instance resumes them from their last checkpoint at
    /// once instead of after the lease.
    pub async fn shutdown(mut self, grace: Duration) {
        let _ = self.stop.send(true);
        let all = futures::future::join_all(self.handles.iter_mut().map(|h| async {
            let _ = h.await;
        }));
        if tokio::time::timeout(grace, all).await.is_ok() {
            return;
        }
        for h in &self.handles {
            h.abort();
        }
        for (worker, current) in &self.current {
            let job = *current.lock().unwrap_or_else(|e| e.into_inner());
            let Some(job) = job else { continue };
            match self.jobs.release(job, worker).await {
                Ok(true) => tracing::info!(%job, %worker, "generation job handed over at shutdown"),
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(%job, error = %e, "could not release the job; its lease will expire")
                }
            }
        }
    }

    /// Handles that kill the workers at once without any cleanup, as a crash would (tests).
    pub fn abort_handles(&self) -> Vec<tokio::task::AbortHandle> {
        self.handles.iter().map(JoinHandle::abort_handle).collect()
    }
}

/// Starts `count` workers on this instance.
pub fn start(
    state: &AppState,
    pipeline: Arc<Pipeline>,
    jobs: Arc<dyn JobRepository>,
    count: usize,
) -> Workers {
    let (stop, stop_rx) = watch::channel(false);
    let instance = format!(
        "{}-{}-{}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "ingenio".to_owned()),
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let mut current = Vec::with_capacity(count);
    let handles = (0..count)
        .map(|n| {
            let worker = Worker {
                id: format!("{instance}-w{n}"),
                state: state.clone(),
                pipeline: pipeline.clone(),
                jobs: jobs.clone(),
                stop: stop_rx.clone(),
                current: Current::default(),
            };
            current.push((worker.id.clone(), worker.current.clone()));
            tokio::spawn(worker.run())
        })
        .collect();
    Workers {
        stop,
        handles,
        current,
        jobs,
    }
}

struct Worker {
    id: String,
    state: AppState,
    pipeline: Arc<Pipeline>,
    jobs: Arc<dyn JobRepository>,
    stop: watch::Receiver<bool>,
    current: Current,
}

impl Worker {
    fn set_current(&self, job: Option<uuid::Uuid>) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = job;
    }

    fn lease(&self) -> Duration {
        Duration::from_secs(self.state.settings.ingenio.generation.lease_seconds.max(2))
    }

    async fn run(mut self) {
        let poll = Duration::from_millis(
            self.state
                .settings
                .ingenio
                .generation
                .poll_interval_ms
                .max(20),
        );
        tracing::debug!(worker = %self.id, "generation worker started");
        loop {
            if *self.stop.borrow() {
                break;
            }
            match self.jobs.claim(&self.id, self.lease(), MAX_ATTEMPTS).await {
                Ok(Some(Claim::Run(job))) => {
                    self.set_current(Some(job.id));
                    self.process(job).await;
                    self.set_current(None);
                    continue;
                }
                Ok(Some(Claim::GaveUp(job))) => {
                    tracing::warn!(job = %job.id, attempts = job.attempts, "generation job given up after too many attempts");
                    self.count("gave_up");
                    self.pipeline.gave_up(&job).await;
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::debug!(worker = %self.id, error = %e, "claim failed; retrying"),
            }
            tokio::select! {
                _ = self.state.jobs_wakeup.notified() => {}
                _ = tokio::time::sleep(poll) => {}
                _ = self.stop.changed() => {}
            }
        }
        tracing::debug!(worker = %self.id, "generation worker stopped");
    }

    fn count(&self, outcome: &str) {
        self.state.metrics.inc_counter(
            "ingenio_generation_jobs_total",
            "Generation jobs by outcome",
            &[("outcome", outcome)],
        );
    }

    async fn process(&self, job: GenerationJob) {
        let started = std::time::Instant::now();
        tracing::info!(worker = %self.id, job = %job.id, attempt = job.attempts, "generation job claimed");
        let heartbeat = async {
            let every = self.lease() / 3;
            loop {
                tokio::time::sleep(every).await;
                match self.jobs.renew(job.id, &self.id, self.lease()).await {
                    Ok(Lease::Held) => {}
                    Ok(Lease::Lost) => return,
                    Err(e) => tracing::warn!(job = %job.id, error = %e, "lease renewal failed"),
                }
            }
        };
        let outcome = tokio::select! {
            r = self.pipeline.run_claimed(&job, &self.id) => Some(r),
            () = heartbeat => None,
        };
        match outcome {
            Some(RunOutcome::Completed {
                app_spec_id,
                version,
                code,
            }) => {
                let elapsed = started.elapsed();
                tracing::info!(job = %job.id, %app_spec_id, version, renderer = code.as_ref().map(|c| c.renderer.as_str()), reused = code.as_ref().is_some_and(|c| c.reused), elapsed_ms = elapsed.as_millis() as u64, "generation job completed");
                self.count("completed");
                self.state.metrics.observe_seconds(
                    "ingenio_generation_job_seconds",
                    "Time from claim to completion",
                    &[],
                    elapsed.as_secs_f64(),
                );
            }
            Some(RunOutcome::Failed { failure, cause }) => {
                match cause {
                    Some(cause) => {
                        tracing::warn!(job = %job.id, code = failure.code.as_str(), message = %failure.message, %cause, "generation job failed")
                    }
                    None => {
                        tracing::info!(job = %job.id, code = failure.code.as_str(), message = %failure.message, "generation job failed")
                    }
                }
                self.count("failed");
            }
            Some(RunOutcome::Abandoned) | None => {
                tracing::info!(job = %job.id, "generation job left (cancelled or taken over)");
            }
            Some(RunOutcome::Interrupted { cause }) => {
                // infrastructure trouble (database down, ...): the lease expires and a worker retries
                tracing::warn!(job = %job.id, attempt = job.attempts, %cause, "generation job interrupted; it will be retried");
            }
        }
    }
}
