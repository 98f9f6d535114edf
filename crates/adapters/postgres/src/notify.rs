//! Cross-instance wake-ups for generation jobs over PostgreSQL LISTEN/NOTIFY (migration 011).
//!
//! One dedicated connection per instance listens on `ingenio_job_events` (payload: the job id of a
//! new event) and `ingenio_jobs` (payload: the id of a new job). Event notifications fan out to SSE
//! streams through a broadcast channel; new-job notifications wake an idle worker. Notifications are
//! hints: readers still page the tables, and while the listener is down (it reconnects with
//! backoff) callers fall back to polling, which [`JobWakeups::is_listening`] tells them to do.

use futures::StreamExt;
use ingenio_kernel::uuid::Uuid;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, Notify};
use tokio_postgres::{AsyncMessage, NoTls};

/// Channel carrying the job id of every new row in `generation_job_events`.
pub const EVENTS_CHANNEL: &str = "ingenio_job_events";
/// Channel carrying the id of every new row in `generation_jobs`.
pub const JOBS_CHANNEL: &str = "ingenio_jobs";

/// How often the listener checks that someone still holds the handle (it stops when none does).
const ALIVE_CHECK: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

struct Inner {
    events: broadcast::Sender<Uuid>,
    jobs: Arc<Notify>,
    listening: AtomicBool,
}

/// Handle on this instance's listener; cheap to clone. The listener task ends when the last handle
/// is dropped.
#[derive(Clone)]
pub struct JobWakeups {
    inner: Arc<Inner>,
}

impl JobWakeups {
    /// Starts listening on `url` in the background; `jobs` is notified (one waiter) per new job.
    /// Must be called inside a Tokio runtime.
    pub fn start(url: String, jobs: Arc<Notify>) -> Self {
        let this = Self::detached(jobs);
        tokio::spawn(listen(url, Arc::downgrade(&this.inner)));
        this
    }

    /// A handle with no listener: callers poll. For configurations without a database listener.
    pub fn detached(jobs: Arc<Notify>) -> Self {
        let (events, _) = broadcast::channel(1024);
        Self {
            inner: Arc::new(Inner {
                events,
                jobs,
                listening: AtomicBool::new(false),
            }),
        }
    }

    /// Receives the job id of every event written by any instance while listening.
    pub fn subscribe(&self) -> broadcast::Receiver<Uuid> {
        self.inner.events.subscribe()
    }

    /// True while the LISTEN connection is up; when false, poll instead of waiting for hints.
    pub fn is_listening(&self) -> bool {
        self.inner.listening.load(Ordering::Relaxed)
    }
}

async fn listen(url: String, inner: Weak<Inner>) {
    let mut backoff = Duration::from_millis(250);
    loop {
        match listen_once(&url, &inner).await {
            Ok(()) => return, // every handle is gone
            Err(e) => {
                let Some(i) = inner.upgrade() else { return };
                i.listening.store(false, Ordering::Relaxed);
                drop(i);
                tracing::debug!(error = %e, retry_in_ms = backoff.as_millis() as u64, "job notification listener down; polling meanwhile");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
        if inner.strong_count() == 0 {
            return;
        }
    }
}

/// Runs one LISTEN connection until it fails (`Err`) or every handle is dropped (`Ok`).
async fn listen_once(url: &str, inner: &Weak<Inner>) -> anyhow::Result<()> {
    let (client, mut connection) = tokio_postgres::connect(url, NoTls).await?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    // The connection must be polled for the client's queries to make progress as well.
    let driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(m) = messages.next().await {
            match m {
                Ok(AsyncMessage::Notification(n)) => {
                    if tx.send(n).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    });
    let result = async {
        client
            .batch_execute(&format!("LISTEN {EVENTS_CHANNEL}; LISTEN {JOBS_CHANNEL}"))
            .await?;
        match inner.upgrade() {
            Some(i) => i.listening.store(true, Ordering::Relaxed),
            None => return Ok(()),
        }
        tracing::debug!("listening for job notifications");
        let mut alive = tokio::time::interval(ALIVE_CHECK);
        loop {
            tokio::select! {
                n = rx.recv() => {
                    let Some(n) = n else { anyhow::bail!("notification connection closed") };
                    let Some(i) = inner.upgrade() else { return Ok(()) };
                    let Ok(id) = n.payload().parse::<Uuid>() else { continue };
                    match n.channel() {
                        EVENTS_CHANNEL => {
                            let _ = i.events.send(id);
                        }
                        JOBS_CHANNEL => i.jobs.notify_one(),
                        _ => {}
                    }
                }
                _ = alive.tick() => {
                    if inner.strong_count() == 0 {
                        return Ok(());
                    }
                }
            }
        }
    }
    .await;
    driver.abort();
    drop(client);
    result
}
