//! The one way CPU-heavy work leaves the async worker threads: `spawn_blocking` behind a
//! semaphore, so at most `max_concurrent` such jobs of one kind run at once per instance. Callers
//! either wait for a slot at most `wait` and are answered `Saturated` (503 with `Retry-After` at
//! the edge: password hashing, spec validation and diffs), or queue for one (`wait = None`: the
//! render step of background jobs). A slot is held by the blocking task until the work ends, even
//! if the caller that asked for it is gone.

use async_trait::async_trait;
use ingenio_app_specs::ports::{CpuError, CpuWork};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Seconds a saturated caller is told to wait (`Retry-After`).
pub const RETRY_AFTER_SECS: u64 = 1;

/// Why offloaded work gave no result.
#[derive(Debug, thiserror::Error)]
pub enum OffloadError {
    /// No slot freed up within the wait; nothing ran.
    #[error("{what} saturated; retry after {retry_after_secs} seconds")]
    Saturated {
        what: &'static str,
        retry_after_secs: u64,
    },
    /// The work panicked; the payload, for the caller to contain or re-raise.
    #[error("{what} panicked")]
    Panicked {
        what: &'static str,
        payload: Box<dyn std::any::Any + Send + 'static>,
    },
    /// The blocking task was cancelled (the runtime is shutting down) or the semaphore closed.
    #[error("{what}: {cause}")]
    Failed {
        what: &'static str,
        cause: anyhow::Error,
    },
}

/// A bounded pool of CPU-heavy work of one kind (`what` names it in logs and errors).
#[derive(Debug, Clone)]
pub struct Offload {
    what: &'static str,
    permits: Arc<Semaphore>,
    wait: Option<Duration>,
}

impl Offload {
    /// At most `max_concurrent` at once (0 = two per core); callers wait at most `wait` for a
    /// slot (`None`: as long as it takes).
    pub fn new(what: &'static str, max_concurrent: usize, wait: Option<Duration>) -> Self {
        let max = match max_concurrent {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get() * 2),
            n => n,
        };
        Self {
            what,
            permits: Arc::new(Semaphore::new(max)),
            wait,
        }
    }

    /// Free slots right now.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }

    /// A slot, or `Saturated` after the wait.
    pub async fn permit(&self) -> Result<OwnedSemaphorePermit, OffloadError> {
        let acquire = self.permits.clone().acquire_owned();
        let got = match self.wait {
            None => acquire.await,
            Some(wait) => match tokio::time::timeout(wait, acquire).await {
                Ok(got) => got,
                Err(_) => {
                    tracing::warn!(
                        what = self.what,
                        wait_ms = wait.as_millis(),
                        "offloaded work saturated; answering 503"
                    );
                    return Err(OffloadError::Saturated {
                        what: self.what,
                        retry_after_secs: RETRY_AFTER_SECS,
                    });
                }
            },
        };
        got.map_err(|closed| OffloadError::Failed {
            what: self.what,
            cause: anyhow::Error::new(closed).context("wait for a slot"),
        })
    }

    /// Runs `work` on the blocking pool once a slot is free.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, OffloadError> {
        let permit = self.permit().await?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|e| match e.try_into_panic() {
            Ok(payload) => OffloadError::Panicked {
                what: self.what,
                payload,
            },
            Err(e) => OffloadError::Failed {
                what: self.what,
                cause: anyhow::Error::new(e).context("join the blocking task"),
            },
        })
    }
}

/// Spec work (validation, diffs) of the app-specs service: a panic is an internal error of that
/// request, never a crashed worker thread.
#[async_trait]
impl CpuWork for Offload {
    async fn run(&self, work: Box<dyn FnOnce() + Send>) -> Result<(), CpuError> {
        Offload::run(self, work).await.map_err(|e| match e {
            OffloadError::Saturated {
                retry_after_secs, ..
            } => CpuError::Saturated { retry_after_secs },
            OffloadError::Panicked { what, .. } => {
                CpuError::Failed(anyhow::anyhow!("{what} panicked"))
            }
            OffloadError::Failed { cause, .. } => CpuError::Failed(cause),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[tokio::test]
    async fn runs_off_the_async_thread_and_gives_the_slot_back() {
        let pool = Offload::new("test work", 1, Some(Duration::from_millis(50)));
        let caller = std::thread::current().id();
        let ran_on = pool.run(|| std::thread::current().id()).await.unwrap();
        assert_ne!(ran_on, caller);
        assert_eq!(pool.available(), 1);
    }

    #[tokio::test]
    async fn a_saturated_pool_answers_after_the_wait_and_recovers() {
        let pool = Offload::new("test work", 1, Some(Duration::from_millis(20)));
        let held = pool.permit().await.unwrap();
        let started = std::time::Instant::now();
        let err = pool.run(|| 1).await.unwrap_err();
        assert!(
            matches!(
                err,
                OffloadError::Saturated {
                    what: "test work",
                    retry_after_secs: RETRY_AFTER_SECS
                }
            ),
            "{err:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        let busy = CpuWork::run(&pool, Box::new(|| {})).await.unwrap_err();
        assert!(matches!(
            busy,
            CpuError::Saturated {
                retry_after_secs: 1
            }
        ));
        drop(held);
        assert_eq!(pool.run(|| 2).await.unwrap(), 2);
    }

    #[tokio::test]
    async fn a_panic_is_handed_back_not_raised() {
        let pool = Offload::new("test work", 1, None);
        let err = pool.run(|| -> u8 { panic!("boom") }).await.unwrap_err();
        assert!(matches!(err, OffloadError::Panicked { .. }), "{err:?}");
        let err = CpuWork::run(&pool, Box::new(|| panic!("boom")))
            .await
            .unwrap_err();
        assert!(matches!(err, CpuError::Failed(_)), "{err:?}");
        assert_eq!(pool.available(), 1, "the slot is back after a panic");
    }
}
