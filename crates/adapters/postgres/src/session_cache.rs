//! Verified sessions kept in process, as fresh as the database on every request without a
//! round trip of their own (issue: authenticated reads at the database's own speed).
//!
//! What is kept: the answer of [`crate::users::PgUserRepository`]'s `auth_state` (and the account
//! itself for `GET /auth/me`) per (user, access-token `jti`).
//!
//! Why a kept answer is never stale:
//! - Migration 016 makes every change that can alter such an answer notify channel
//!   [`AUTH_CHANNEL`] in the changing transaction: any update or delete of a `users` row (role,
//!   status, password cut-off, profile), any revoked access token (payload: the user id), and a
//!   `TRUNCATE` of either table (payload `*`). That holds for changes made by any instance and
//!   straight in the database.
//! - PostgreSQL signals every listening backend before the committing client learns of the
//!   commit. So when a request arrives, every change its client could have seen is already
//!   signalled to this instance's LISTEN backend.
//! - Each thread that checks sessions (each HTTP worker) has its own cache and its own LISTEN
//!   connection on its own runtime ([`SessionCaches::local`]), so a round costs no thread hop.
//! - A kept answer is served only after a **sync round** on that LISTEN connection (an empty
//!   query) that was sent after the request arrived. The LISTEN backend reads that query after the
//!   signal, and it sends pending notifications before it answers anything it has read
//!   (`ProcessClientReadInterrupt`). The connection driver applies each notification inline,
//!   before it reads further, so by the time the round completes every such change has evicted
//!   its entries. The entry is then looked up again, and served only if it is the same one.
//! - One round serves every request that arrived before it was sent: under load a single empty
//!   query replaces dozens of session reads.
//! - An answer read from the database is kept only if no invalidation arrived while it was being
//!   read (an epoch) and the LISTEN connection it relies on is still the same one (a generation).
//!   While the listener is down, or a round fails or outlasts its timeout, requests read the
//!   database as before: revocation is never slower than without the cache.

use futures::StreamExt;
use ingenio_kernel::uuid::Uuid;
use ingenio_users::{AuthState, User};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};
use tokio_postgres::AsyncMessage;

/// Channel carrying the id of every user whose sessions may have changed (`*`: everyone's).
pub const AUTH_CHANNEL: &str = "ingenio_auth";

/// Session cache settings (`ingenio.auth.session-cache.*`).
#[derive(Debug, Clone)]
pub struct SessionCacheSettings {
    /// Off: every authenticated request reads its session from the database.
    pub enabled: bool,
    /// Most sessions kept; when full, the oldest half of users' entries is dropped.
    pub max_entries: usize,
    /// A kept answer older than this is read again (hygiene, not correctness).
    pub max_age: Duration,
    /// A sync round that takes longer fails: its requests read the database and the listener
    /// reconnects.
    pub sync_timeout: Duration,
}

impl Default for SessionCacheSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            max_entries: 10_000,
            max_age: Duration::from_secs(300),
            sync_timeout: Duration::from_secs(2),
        }
    }
}

/// A kept answer: the auth state, and the account when it was read with it.
#[derive(Debug, Clone)]
pub struct Kept {
    pub state: AuthState,
    pub user: Option<User>,
}

struct Entry {
    jti: Uuid,
    kept: Kept,
    serial: u64,
    at: Instant,
}

#[derive(Default)]
struct Entries {
    by_user: HashMap<Uuid, Vec<Entry>>,
    len: usize,
    /// Bumped by every invalidation.
    epoch: u64,
    /// Bumped whenever the LISTEN connection comes up or goes down.
    generation: u64,
    /// A LISTEN connection is up and listening on [`AUTH_CHANNEL`].
    up: bool,
    next_serial: u64,
}

impl Entries {
    fn find(&self, user: Uuid, jti: Uuid) -> Option<&Entry> {
        self.by_user.get(&user)?.iter().find(|e| e.jti == jti)
    }

    fn clear(&mut self) {
        self.by_user.clear();
        self.len = 0;
    }
}

/// Read before a database read; the answer is kept only if nothing moved meanwhile.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    epoch: u64,
    generation: u64,
}

#[derive(Default)]
struct Rounds {
    /// The highest round a waiter needs.
    requested: u64,
    /// The highest round sent.
    started: u64,
    /// No LISTEN connection: waiters fail at once.
    down: bool,
}

/// The last finished round and the last failed one (waiters of a round at or below it fail).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Finished {
    completed: u64,
    failed_through: u64,
}

/// Counters for the metrics endpoint.
#[derive(Debug, Default)]
pub struct SessionCacheStats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    /// Served by the database because the listener was down or a round failed.
    pub fallbacks: AtomicU64,
    pub rounds: AtomicU64,
}

/// The cache and its sync rounds; shared by the user repository (reads) and the LISTEN task
/// (invalidations, rounds).
pub struct SessionSync {
    settings: SessionCacheSettings,
    entries: Mutex<Entries>,
    rounds: Mutex<Rounds>,
    finished: watch::Sender<Finished>,
    /// Wakes the LISTEN task when a round is requested.
    pub(crate) kick: Notify,
    pub stats: SessionCacheStats,
}

impl SessionSync {
    pub fn new(settings: SessionCacheSettings) -> Self {
        Self {
            settings,
            entries: Mutex::new(Entries::default()),
            rounds: Mutex::new(Rounds {
                down: true,
                ..Rounds::default()
            }),
            finished: watch::Sender::new(Finished::default()),
            kick: Notify::new(),
            stats: SessionCacheStats::default(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.settings.enabled
    }

    pub(crate) fn sync_timeout(&self) -> Duration {
        self.settings.sync_timeout
    }

    fn entries(&self) -> MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn rounds(&self) -> MutexGuard<'_, Rounds> {
        self.rounds.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a LISTEN connection is up (kept answers can be served).
    pub fn is_up(&self) -> bool {
        self.entries().up
    }

    /// How many sessions are kept.
    pub fn len(&self) -> usize {
        self.entries().len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Taken before reading the database for an answer that may be kept.
    pub fn ticket(&self) -> Ticket {
        let e = self.entries();
        Ticket {
            epoch: e.epoch,
            generation: e.generation,
        }
    }

    /// Keeps an answer read from the database after `ticket` was taken, unless an invalidation
    /// or a change of LISTEN connection happened meanwhile.
    pub fn keep(&self, ticket: Ticket, user: Uuid, jti: Uuid, kept: Kept) {
        if !self.settings.enabled {
            return;
        }
        let mut e = self.entries();
        if !e.up || e.epoch != ticket.epoch || e.generation != ticket.generation {
            return;
        }
        if e.len >= self.settings.max_entries {
            // drop about half, oldest first by a cut-off instant (no per-access bookkeeping)
            let mut ats: Vec<Instant> = e.by_user.values().flatten().map(|x| x.at).collect();
            ats.sort_unstable();
            let cut = ats.get(ats.len() / 2).copied();
            if let Some(cut) = cut {
                e.by_user.retain(|_, list| {
                    list.retain(|x| x.at > cut);
                    !list.is_empty()
                });
            }
            e.len = e.by_user.values().map(Vec::len).sum();
            if e.len >= self.settings.max_entries {
                e.clear();
            }
        }
        e.next_serial += 1;
        let serial = e.next_serial;
        let entry = Entry {
            jti,
            kept,
            serial,
            at: Instant::now(),
        };
        let list = e.by_user.entry(user).or_default();
        let added = match list.iter_mut().find(|x| x.jti == jti) {
            Some(old) => {
                *old = entry;
                0
            }
            None => {
                list.push(entry);
                1
            }
        };
        e.len += added;
    }

    /// The kept answer for (`user`, `jti`), served only after a sync round that started after
    /// this call (module docs). `need_user`: the account must have been kept with it. `None`:
    /// read the database.
    pub async fn lookup(&self, user: Uuid, jti: Uuid, need_user: bool) -> Option<Kept> {
        if !self.settings.enabled {
            return None;
        }
        let (serial, kept) = {
            let e = self.entries();
            if !e.up {
                drop(e);
                self.stats.fallbacks.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            match e.find(user, jti) {
                Some(x)
                    if (!need_user || x.kept.user.is_some())
                        && x.at.elapsed() < self.settings.max_age =>
                {
                    (x.serial, x.kept.clone())
                }
                _ => {
                    drop(e);
                    self.stats.misses.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
            }
        };
        if !self.synced().await {
            self.stats.fallbacks.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let still = self
            .entries()
            .find(user, jti)
            .is_some_and(|x| x.serial == serial);
        if still {
            self.stats.hits.fetch_add(1, Ordering::Relaxed);
            Some(kept)
        } else {
            self.stats.misses.fetch_add(1, Ordering::Relaxed);
            None
        }
    }

    /// Waits for a sync round sent after this call; false when there is no listener or the round
    /// failed.
    pub async fn synced(&self) -> bool {
        let target = {
            let mut r = self.rounds();
            if r.down {
                return false;
            }
            let target = r.started + 1;
            r.requested = r.requested.max(target);
            target
        };
        let mut rx = self.finished.subscribe();
        self.kick.notify_one();
        let Ok(done) = rx.wait_for(|f| f.completed >= target).await else {
            return false;
        };
        done.failed_through < target
    }

    /// The next round to send, if a waiter needs one (called by the LISTEN task).
    pub(crate) fn next_round(&self) -> Option<u64> {
        let mut r = self.rounds();
        (r.requested > r.started && !r.down).then(|| {
            r.started = r.requested;
            r.started
        })
    }

    /// Round `round` came back: every waiter of it (and below) is served.
    pub(crate) fn round_done(&self, round: u64) {
        self.stats.rounds.fetch_add(1, Ordering::Relaxed);
        self.finished
            .send_modify(|f| f.completed = f.completed.max(round));
    }

    /// The LISTEN connection is up and listening: start afresh (nothing kept before can be
    /// trusted, notifications may have been missed).
    pub(crate) fn listening(&self) {
        let mut e = self.entries();
        e.clear();
        e.generation += 1;
        e.up = true;
        drop(e);
        self.rounds().down = false;
    }

    /// The LISTEN connection is gone: forget everything, fail every waiter.
    pub(crate) fn down(&self) {
        let mut e = self.entries();
        e.clear();
        e.generation += 1;
        e.up = false;
        drop(e);
        let mut r = self.rounds();
        r.down = true;
        let through = r.requested;
        r.started = through;
        drop(r);
        self.finished.send_modify(|f| {
            f.completed = f.completed.max(through);
            f.failed_through = f.failed_through.max(through);
        });
    }

    /// One notification on [`AUTH_CHANNEL`]: a user id, or `*` (or anything unreadable) for all.
    pub(crate) fn invalidate(&self, payload: &str) {
        let mut e = self.entries();
        e.epoch += 1;
        match payload.parse::<Uuid>() {
            Ok(user) => {
                if let Some(list) = e.by_user.remove(&user) {
                    e.len -= list.len();
                }
            }
            Err(_) => e.clear(),
        }
    }
}

/// How often a listener checks that its [`SessionCaches`] still exists (it stops when not).
const ALIVE_CHECK: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's cache of each [`SessionCaches`], by its id.
    static LOCAL: RefCell<Vec<(u64, Arc<SessionSync>)>> = const { RefCell::new(Vec::new()) };
}

/// The session caches of one server: one per thread that checks sessions, each with its own
/// LISTEN connection started on that thread's runtime at first use.
pub struct SessionCaches {
    id: u64,
    url: String,
    settings: SessionCacheSettings,
    all: Mutex<Vec<Weak<SessionSync>>>,
}

/// Counters summed over every thread's cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionTotals {
    pub hits: u64,
    pub misses: u64,
    pub fallbacks: u64,
    pub rounds: u64,
    pub entries: u64,
    /// Threads whose LISTEN connection is up.
    pub listening: u64,
}

impl SessionCaches {
    pub fn new(url: String, settings: SessionCacheSettings) -> Arc<Self> {
        Arc::new(Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            url,
            settings,
            all: Mutex::new(Vec::new()),
        })
    }

    pub fn enabled(&self) -> bool {
        self.settings.enabled
    }

    /// This thread's cache, started (with its listener, on this thread's Tokio runtime) on first
    /// use; `None` when caching is off or no runtime runs here.
    pub fn local(self: &Arc<Self>) -> Option<Arc<SessionSync>> {
        if !self.settings.enabled {
            return None;
        }
        LOCAL.with(|local| {
            let mut local = local.borrow_mut();
            if let Some((_, s)) = local.iter().find(|(id, _)| *id == self.id) {
                return Some(s.clone());
            }
            let runtime = tokio::runtime::Handle::try_current().ok()?;
            let sync = Arc::new(SessionSync::new(self.settings.clone()));
            self.all
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Arc::downgrade(&sync));
            runtime.spawn(listen(self.url.clone(), sync.clone(), Arc::downgrade(self)));
            local.push((self.id, sync.clone()));
            Some(sync)
        })
    }

    /// Every thread's counters, summed.
    pub fn totals(&self) -> SessionTotals {
        let mut t = SessionTotals::default();
        let mut all = self.all.lock().unwrap_or_else(PoisonError::into_inner);
        all.retain(|w| w.strong_count() > 0);
        for s in all.iter().filter_map(Weak::upgrade) {
            t.hits += s.stats.hits.load(Ordering::Relaxed);
            t.misses += s.stats.misses.load(Ordering::Relaxed);
            t.fallbacks += s.stats.fallbacks.load(Ordering::Relaxed);
            t.rounds += s.stats.rounds.load(Ordering::Relaxed);
            t.entries += s.len() as u64;
            t.listening += u64::from(s.is_up());
        }
        t
    }
}

/// Keeps one LISTEN connection for `sync` (reconnecting with backoff) until `owner` is dropped.
async fn listen(url: String, sync: Arc<SessionSync>, owner: Weak<SessionCaches>) {
    let mut backoff = Duration::from_millis(250);
    loop {
        let result = listen_once(&url, &sync, &owner).await;
        sync.down();
        match result {
            Ok(()) => return,
            Err(e) => tracing::debug!(error = %e, retry_in_ms = backoff.as_millis() as u64,
                "session listener down; sessions are read from the database meanwhile"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
        if owner.strong_count() == 0 {
            return;
        }
    }
}

/// One LISTEN connection: applies notifications inline and answers sync rounds, until it fails
/// (`Err`) or the owner is gone (`Ok`).
async fn listen_once(
    url: &str,
    sync: &Arc<SessionSync>,
    owner: &Weak<SessionCaches>,
) -> anyhow::Result<()> {
    let (client, mut connection) = crate::tls::connect(url).await?;
    let driven = sync.clone();
    // Notifications are applied here, before the next message is read: a round's answer is
    // never handed over ahead of a notification that came before it.
    let mut driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(m) = messages.next().await {
            match m {
                Ok(AsyncMessage::Notification(n)) => driven.invalidate(n.payload()),
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    });
    let result = async {
        client
            .batch_execute(&format!("LISTEN {AUTH_CHANNEL}"))
            .await?;
        sync.listening();
        let mut alive = tokio::time::interval(ALIVE_CHECK);
        loop {
            tokio::select! {
                () = sync.kick.notified() => {
                    while let Some(round) = sync.next_round() {
                        match tokio::time::timeout(sync.sync_timeout(), client.batch_execute("")).await {
                            Ok(Ok(())) => sync.round_done(round),
                            Ok(Err(e)) => return Err(e.into()),
                            Err(_) => anyhow::bail!("session sync round timed out"),
                        }
                    }
                }
                ended = &mut driver => {
                    anyhow::bail!("session listener connection ended: {ended:?}");
                }
                _ = alive.tick() => {
                    if owner.strong_count() == 0 {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ingenio_users::{Role, UserStatus};
    use std::sync::Arc;

    fn state() -> AuthState {
        AuthState {
            status: UserStatus::Active,
            role: Role::User,
            revoked: false,
            sessions_valid_after: None,
            kept_session: None,
        }
    }

    fn kept() -> Kept {
        Kept {
            state: state(),
            user: None,
        }
    }

    /// Answers rounds as the LISTEN task would, until dropped.
    fn rounds(s: &Arc<SessionSync>) -> tokio::task::JoinHandle<()> {
        let s = s.clone();
        tokio::spawn(async move {
            loop {
                s.kick.notified().await;
                while let Some(r) = s.next_round() {
                    tokio::task::yield_now().await;
                    s.round_done(r);
                }
            }
        })
    }

    #[tokio::test]
    async fn kept_answers_are_served_after_a_round_and_dropped_by_invalidations() {
        let s = Arc::new(SessionSync::new(SessionCacheSettings::default()));
        let (u, jti) = (Uuid::new_v4(), Uuid::new_v4());
        // no listener: nothing is kept, nothing served
        let t = s.ticket();
        s.keep(t, u, jti, kept());
        assert!(s.lookup(u, jti, false).await.is_none());
        assert!(!s.synced().await);
        s.listening();
        let task = rounds(&s);
        let t = s.ticket();
        s.keep(t, u, jti, kept());
        assert_eq!(s.len(), 1);
        assert!(s.lookup(u, jti, false).await.is_some());
        assert!(
            s.lookup(u, jti, true).await.is_none(),
            "kept without the account"
        );
        assert!(s.lookup(u, Uuid::new_v4(), false).await.is_none());
        // an invalidation of another user keeps it; of this user drops it
        s.invalidate(&Uuid::new_v4().to_string());
        assert!(s.lookup(u, jti, false).await.is_some());
        s.invalidate(&u.to_string());
        assert!(s.lookup(u, jti, false).await.is_none());
        // an answer read while an invalidation arrived is not kept
        let t = s.ticket();
        s.invalidate(&Uuid::new_v4().to_string());
        s.keep(t, u, jti, kept());
        assert!(s.is_empty());
        // `*` drops everything; a reconnect too, and an older ticket is refused after it
        let t = s.ticket();
        s.keep(t, u, jti, kept());
        s.invalidate("*");
        assert!(s.is_empty());
        let t = s.ticket();
        s.listening();
        s.keep(t, u, jti, kept());
        assert!(s.is_empty());
        // listener down: waiters fail, nothing is served
        let t = s.ticket();
        s.keep(t, u, jti, kept());
        s.down();
        assert!(s.lookup(u, jti, false).await.is_none());
        assert!(s.is_empty());
        task.abort();
    }

    #[tokio::test]
    async fn an_invalidation_during_the_round_is_honoured() {
        let s = Arc::new(SessionSync::new(SessionCacheSettings::default()));
        s.listening();
        let (u, jti) = (Uuid::new_v4(), Uuid::new_v4());
        s.keep(s.ticket(), u, jti, kept());
        // the round delivers the notification before it completes, as PostgreSQL does
        let listener = {
            let s = s.clone();
            tokio::spawn(async move {
                s.kick.notified().await;
                let r = s.next_round().unwrap();
                s.invalidate(&u.to_string());
                s.round_done(r);
            })
        };
        assert!(s.lookup(u, jti, false).await.is_none());
        listener.await.unwrap();
        // a waiter of a failed round fails, and one that comes after the failure too
        s.keep(s.ticket(), u, jti, kept());
        let waiter = {
            let s = s.clone();
            tokio::spawn(async move { s.synced().await })
        };
        tokio::task::yield_now().await;
        s.down();
        assert!(!waiter.await.unwrap());
        assert!(!s.synced().await);
    }

    #[tokio::test]
    async fn one_round_serves_every_waiter_that_came_before_it_was_sent() {
        let s = Arc::new(SessionSync::new(SessionCacheSettings::default()));
        s.listening();
        let waiters: Vec<_> = (0..20)
            .map(|_| {
                let s = s.clone();
                tokio::spawn(async move { s.synced().await })
            })
            .collect();
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
        let r = s.next_round().unwrap();
        assert!(s.next_round().is_none(), "one round for all of them");
        s.round_done(r);
        for w in waiters {
            assert!(w.await.unwrap());
        }
        // a waiter that arrives while a round is out needs the next one
        let late = {
            let s = s.clone();
            tokio::spawn(async move { s.synced().await })
        };
        tokio::task::yield_now().await;
        let next = s.next_round().unwrap();
        assert!(next > r);
        s.round_done(next);
        assert!(late.await.unwrap());
    }

    #[test]
    fn the_bound_holds() {
        let s = SessionSync::new(SessionCacheSettings {
            max_entries: 10,
            ..SessionCacheSettings::default()
        });
        s.listening();
        for _ in 0..100 {
            s.keep(s.ticket(), Uuid::new_v4(), Uuid::new_v4(), kept());
            assert!(s.len() <= 10);
        }
        assert!(!s.is_empty());
    }
}
