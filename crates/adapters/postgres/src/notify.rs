//! Cross-instance wake-ups for generation jobs over PostgreSQL LISTEN/NOTIFY (migration 011).
//!
//! One dedicated connection per instance listens on `ingenio_job_events` (payload: the job id of a
//! new event) and `ingenio_jobs` (payload: the id of a new job). Event notifications wake only the
//! streams watching that job (a registry keyed by job id, so thousands of open streams cost nothing
//! per unrelated event); new-job notifications wake an idle worker. Notifications are
//! hints: readers still page the tables, and while the listener is down (it reconnects with
//! backoff) callers fall back to polling, which [`JobWakeups::is_listening`] tells them to do.

use futures::StreamExt;
use ingenio_kernel::uuid::Uuid;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tokio_postgres::AsyncMessage;

/// Channel carrying the job id of every new row in `generation_job_events`.
pub const EVENTS_CHANNEL: &str = "ingenio_job_events";
/// Channel carrying the id of every new row in `generation_jobs`.
pub const JOBS_CHANNEL: &str = "ingenio_jobs";

/// How often the listener checks that someone still holds the handle (it stops when none does).
const ALIVE_CHECK: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The streams watching each job: (watch key, its wake-up) per job id.
type Watchers = HashMap<Uuid, Vec<(u64, Arc<Notify>)>>;

struct Inner {
    watchers: Mutex<Watchers>,
    next_key: AtomicU64,
    jobs: Arc<Notify>,
    listening: AtomicBool,
}

impl Inner {
    fn watchers(&self) -> std::sync::MutexGuard<'_, Watchers> {
        self.watchers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes every watcher of `job` (a wake-up is stored if the watcher is not waiting yet).
    fn wake(&self, job: Uuid) {
        if let Some(list) = self.watchers().get(&job) {
            for (_, n) in list {
                n.notify_one();
            }
        }
    }
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
        Self {
            inner: Arc::new(Inner {
                watchers: Mutex::new(HashMap::new()),
                next_key: AtomicU64::new(0),
                jobs,
                listening: AtomicBool::new(false),
            }),
        }
    }

    /// Watches `job`: [`JobWatch::changed`] returns after a new event of it was written by any
    /// instance (while listening). Dropping the watch unregisters it.
    pub fn watch(&self, job: Uuid) -> JobWatch {
        let key = self.inner.next_key.fetch_add(1, Ordering::Relaxed);
        let notify = Arc::new(Notify::new());
        self.inner
            .watchers()
            .entry(job)
            .or_default()
            .push((key, notify.clone()));
        JobWatch {
            inner: self.inner.clone(),
            job,
            key,
            notify,
        }
    }

    /// How many streams are watching jobs on this instance.
    pub fn watching(&self) -> usize {
        self.inner.watchers().values().map(Vec::len).sum()
    }

    /// True while the LISTEN connection is up; when false, poll instead of waiting for hints.
    pub fn is_listening(&self) -> bool {
        self.inner.listening.load(Ordering::Relaxed)
    }
}

/// One stream's interest in one job; unregisters on drop.
pub struct JobWatch {
    inner: Arc<Inner>,
    job: Uuid,
    key: u64,
    notify: Arc<Notify>,
}

impl JobWatch {
    /// Returns after the next notification for the job (at once if one arrived since the last
    /// call). Never returns without one: wrap it in a timeout and poll as a safety net.
    pub async fn changed(&self) {
        self.notify.notified().await;
    }
}

impl Drop for JobWatch {
    fn drop(&mut self) {
        let mut all = self.inner.watchers();
        if let Some(list) = all.get_mut(&self.job) {
            list.retain(|(k, _)| *k != self.key);
            if list.is_empty() {
                all.remove(&self.job);
            }
        }
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
    let (client, mut connection) = crate::tls::connect(url).await?;
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
                        EVENTS_CHANNEL => i.wake(id),
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
