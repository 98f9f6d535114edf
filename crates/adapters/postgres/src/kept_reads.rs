//! Reads kept in process, as fresh as the database on every request without a round trip of
//! their own: verified sessions (the answer of `auth_state`, and the account for
//! `GET /auth/me`, per user and access-token `jti`) and projects (per id and tenant).
//!
//! Why a kept read is never stale:
//! - Migration 016 makes every change that can alter such a read notify in the changing
//!   transaction: channel [`AUTH_CHANNEL`] for any update or delete of a `users` row (role,
//!   status, password cut-off, profile) and any revoked access token (payload: the user id);
//!   channel [`PROJECTS_CHANNEL`] for any update or delete of a `projects` row (counters,
//!   publication, moderation, latest render; payload: the project id); payload `*` for a
//!   `TRUNCATE`. That holds for changes made by any instance and straight in the database.
//! - PostgreSQL signals every listening backend before the committing client learns of the
//!   commit. So when a request arrives, every change its client could have seen is already
//!   signalled to this instance's LISTEN backends.
//! - Each thread that reads (each HTTP worker) has its own kept reads and its own LISTEN
//!   connection on its own runtime ([`KeptReadCaches::local`]), so a round costs no thread hop.
//! - A kept read is served only after a **sync round** on that LISTEN connection (an empty query)
//!   that was sent after the request arrived. The LISTEN backend reads that query after the
//!   signal, and it sends pending notifications before it answers anything it has read
//!   (`ProcessClientReadInterrupt`). The connection driver applies each notification inline,
//!   before it reads further, so by the time the round completes every such change has evicted
//!   its entries. The entry is then looked up again, and served only if it is the same one.
//! - One round serves every request that arrived before it was sent: under load a single empty
//!   query replaces dozens of reads.
//! - A row read from the database is kept only if no invalidation arrived while it was being
//!   read (an epoch) and the LISTEN connection it relies on is still the same one (a generation).
//!   While the listener is down, or a round fails or outlasts its timeout, requests read the
//!   database as before: a revocation is never slower than without the cache.

use futures::StreamExt;
use ingenio_kernel::uuid::Uuid;
use ingenio_projects::Project;
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
/// Channel carrying the id of every changed or deleted project (`*`: every project).
pub const PROJECTS_CHANNEL: &str = "ingenio_projects";

/// Settings (`ingenio.kept-reads.*`).
#[derive(Debug, Clone)]
pub struct KeptReadSettings {
    /// Off: every request reads its session and project from the database.
    pub enabled: bool,
    /// Most reads kept per kind and thread; when full, the older half is dropped.
    pub max_entries: usize,
    /// A kept read older than this is read again (hygiene, not correctness).
    pub max_age: Duration,
    /// A sync round that takes longer fails: its requests read the database and the listener
    /// reconnects.
    pub sync_timeout: Duration,
}

impl Default for KeptReadSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            max_entries: 10_000,
            max_age: Duration::from_secs(300),
            sync_timeout: Duration::from_secs(2),
        }
    }
}

/// A kept session: the auth state, and the account when it was read with it.
#[derive(Debug, Clone)]
pub struct Kept {
    pub state: AuthState,
    pub user: Option<User>,
}

/// What is kept (metric label `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeptKind {
    Session,
    Project,
}

impl KeptKind {
    pub const ALL: [KeptKind; 2] = [KeptKind::Session, KeptKind::Project];

    pub fn as_str(&self) -> &'static str {
        match self {
            KeptKind::Session => "session",
            KeptKind::Project => "project",
        }
    }
}

struct Slot<V> {
    sub: Uuid,
    value: V,
    serial: u64,
    at: Instant,
}

/// Values by key (user id, project id), each with sub-keys (jti, tenant).
struct KeptMap<V> {
    by_key: HashMap<Uuid, Vec<Slot<V>>>,
    len: usize,
}

impl<V> Default for KeptMap<V> {
    fn default() -> Self {
        Self {
            by_key: HashMap::new(),
            len: 0,
        }
    }
}

impl<V> KeptMap<V> {
    fn find(&self, key: Uuid, sub: Uuid) -> Option<&Slot<V>> {
        self.by_key.get(&key)?.iter().find(|s| s.sub == sub)
    }

    fn clear(&mut self) {
        self.by_key.clear();
        self.len = 0;
    }

    fn remove(&mut self, key: Uuid) {
        if let Some(list) = self.by_key.remove(&key) {
            self.len -= list.len();
        }
    }

    fn insert(&mut self, key: Uuid, slot: Slot<V>, max_entries: usize) {
        if self.len >= max_entries {
            // drop about half, oldest first by a cut-off instant (no per-access bookkeeping)
            let mut ats: Vec<Instant> = self.by_key.values().flatten().map(|x| x.at).collect();
            ats.sort_unstable();
            if let Some(cut) = ats.get(ats.len() / 2).copied() {
                self.by_key.retain(|_, list| {
                    list.retain(|x| x.at > cut);
                    !list.is_empty()
                });
            }
            self.len = self.by_key.values().map(Vec::len).sum();
            if self.len >= max_entries {
                self.clear();
            }
        }
        let list = self.by_key.entry(key).or_default();
        match list.iter_mut().find(|x| x.sub == slot.sub) {
            Some(old) => *old = slot,
            None => {
                list.push(slot);
                self.len += 1;
            }
        }
    }
}

#[derive(Default)]
struct Entries {
    sessions: KeptMap<Kept>,
    projects: KeptMap<Project>,
    /// Bumped by every invalidation.
    epoch: u64,
    /// Bumped whenever the LISTEN connection comes up or goes down.
    generation: u64,
    /// A LISTEN connection is up and listening.
    up: bool,
    next_serial: u64,
}

impl Entries {
    fn clear(&mut self) {
        self.sessions.clear();
        self.projects.clear();
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

/// Lookups of one kind by outcome.
#[derive(Debug, Default)]
pub struct KindStats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    /// Read from the database because the listener was down or a round failed.
    pub fallbacks: AtomicU64,
}

/// Counters for the metrics endpoint.
#[derive(Debug, Default)]
pub struct KeptStats {
    pub sessions: KindStats,
    pub projects: KindStats,
    pub rounds: AtomicU64,
}

impl KeptStats {
    pub fn of(&self, kind: KeptKind) -> &KindStats {
        match kind {
            KeptKind::Session => &self.sessions,
            KeptKind::Project => &self.projects,
        }
    }
}

/// One thread's kept reads and its sync rounds; shared by the repositories (reads) and the LISTEN
/// task (invalidations, rounds).
pub struct KeptReads {
    settings: KeptReadSettings,
    entries: Mutex<Entries>,
    rounds: Mutex<Rounds>,
    finished: watch::Sender<Finished>,
    /// Wakes the LISTEN task when a round is requested.
    kick: Notify,
    pub stats: KeptStats,
}

impl KeptReads {
    pub fn new(settings: KeptReadSettings) -> Self {
        Self {
            settings,
            entries: Mutex::new(Entries::default()),
            rounds: Mutex::new(Rounds {
                down: true,
                ..Rounds::default()
            }),
            finished: watch::Sender::new(Finished::default()),
            kick: Notify::new(),
            stats: KeptStats::default(),
        }
    }

    fn entries(&self) -> MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn rounds(&self) -> MutexGuard<'_, Rounds> {
        self.rounds.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a LISTEN connection is up (kept reads can be served).
    pub fn is_up(&self) -> bool {
        self.entries().up
    }

    /// How many reads of `kind` are kept.
    pub fn len(&self, kind: KeptKind) -> usize {
        let e = self.entries();
        match kind {
            KeptKind::Session => e.sessions.len,
            KeptKind::Project => e.projects.len,
        }
    }

    /// Taken before reading the database for a row that may be kept.
    pub fn ticket(&self) -> Ticket {
        let e = self.entries();
        Ticket {
            epoch: e.epoch,
            generation: e.generation,
        }
    }

    /// Keeps a value read from the database after `ticket` was taken, unless an invalidation
    /// or a change of LISTEN connection happened meanwhile.
    fn keep_in<V>(
        &self,
        ticket: Ticket,
        map: fn(&mut Entries) -> &mut KeptMap<V>,
        key: Uuid,
        sub: Uuid,
        value: V,
    ) {
        if !self.settings.enabled {
            return;
        }
        let mut e = self.entries();
        if !e.up || e.epoch != ticket.epoch || e.generation != ticket.generation {
            return;
        }
        e.next_serial += 1;
        let slot = Slot {
            sub,
            value,
            serial: e.next_serial,
            at: Instant::now(),
        };
        map(&mut e).insert(key, slot, self.settings.max_entries);
    }

    /// The kept value for (`key`, `sub`) if `usable`, served only after a sync round that started
    /// after this call (module docs). `None`: read the database.
    async fn lookup_in<V: Clone>(
        &self,
        kind: KeptKind,
        map: fn(&Entries) -> &KeptMap<V>,
        key: Uuid,
        sub: Uuid,
        usable: impl Fn(&V) -> bool,
    ) -> Option<V> {
        if !self.settings.enabled {
            return None;
        }
        let stats = self.stats.of(kind);
        let (serial, value) = {
            let e = self.entries();
            if !e.up {
                drop(e);
                stats.fallbacks.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            match map(&e).find(key, sub) {
                Some(x) if usable(&x.value) && x.at.elapsed() < self.settings.max_age => {
                    (x.serial, x.value.clone())
                }
                _ => {
                    drop(e);
                    stats.misses.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
            }
        };
        if !self.synced().await {
            stats.fallbacks.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let still = map(&self.entries())
            .find(key, sub)
            .is_some_and(|x| x.serial == serial);
        if still {
            stats.hits.fetch_add(1, Ordering::Relaxed);
            Some(value)
        } else {
            stats.misses.fetch_add(1, Ordering::Relaxed);
            None
        }
    }

    /// Keeps a session answer (see [`KeptReads::ticket`]).
    pub fn keep(&self, ticket: Ticket, user: Uuid, jti: Uuid, kept: Kept) {
        self.keep_in(ticket, |e| &mut e.sessions, user, jti, kept);
    }

    /// The kept session answer for (`user`, `jti`); `need_user`: the account must have been kept
    /// with it.
    pub async fn lookup(&self, user: Uuid, jti: Uuid, need_user: bool) -> Option<Kept> {
        self.lookup_in(
            KeptKind::Session,
            |e| &e.sessions,
            user,
            jti,
            |k| !need_user || k.user.is_some(),
        )
        .await
    }

    /// Keeps a project as read in `tenant`.
    pub fn keep_project(&self, ticket: Ticket, tenant: Uuid, project: Project) {
        self.keep_in(
            ticket,
            |e| &mut e.projects,
            project.id.as_uuid(),
            tenant,
            project,
        );
    }

    /// The kept project `id` as read in `tenant`.
    pub async fn lookup_project(&self, tenant: Uuid, id: Uuid) -> Option<Project> {
        self.lookup_in(KeptKind::Project, |e| &e.projects, id, tenant, |_| true)
            .await
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
    fn next_round(&self) -> Option<u64> {
        let mut r = self.rounds();
        (r.requested > r.started && !r.down).then(|| {
            r.started = r.requested;
            r.started
        })
    }

    /// Round `round` came back: every waiter of it (and below) is served.
    fn round_done(&self, round: u64) {
        self.stats.rounds.fetch_add(1, Ordering::Relaxed);
        self.finished
            .send_modify(|f| f.completed = f.completed.max(round));
    }

    /// The LISTEN connection is up and listening: start afresh (nothing kept before can be
    /// trusted, notifications may have been missed).
    fn listening(&self) {
        let mut e = self.entries();
        e.clear();
        e.generation += 1;
        e.up = true;
        drop(e);
        self.rounds().down = false;
    }

    /// The LISTEN connection is gone: forget everything, fail every waiter.
    fn down(&self) {
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

    /// One notification: an id on [`AUTH_CHANNEL`] or [`PROJECTS_CHANNEL`], or `*` (or anything
    /// unreadable, or another channel) for everything.
    fn invalidate(&self, channel: &str, payload: &str) {
        let mut e = self.entries();
        e.epoch += 1;
        match (channel, payload.parse::<Uuid>()) {
            (AUTH_CHANNEL, Ok(user)) => e.sessions.remove(user),
            (PROJECTS_CHANNEL, Ok(project)) => e.projects.remove(project),
            (AUTH_CHANNEL, Err(_)) => e.sessions.clear(),
            (PROJECTS_CHANNEL, Err(_)) => e.projects.clear(),
            _ => e.clear(),
        }
    }
}

/// Migration 016's triggers: kept reads are served only while all of them exist.
const REQUIRED_TRIGGERS: [&str; 6] = [
    "trg_users_notify_auth",
    "trg_users_truncate_notify_auth",
    "trg_revoked_access_tokens_notify_auth",
    "trg_revoked_access_tokens_truncate_notify_auth",
    "trg_projects_notify_kept",
    "trg_projects_truncate_notify_kept",
];
/// How often a listener checks that its [`KeptReadCaches`] still exists (it stops when not).
const ALIVE_CHECK: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's kept reads of each [`KeptReadCaches`], by its id.
    static LOCAL: RefCell<Vec<(u64, Arc<KeptReads>)>> = const { RefCell::new(Vec::new()) };
}

/// The kept reads of one server: one [`KeptReads`] per thread that reads, each with its own
/// LISTEN connection started on that thread's runtime at first use.
pub struct KeptReadCaches {
    id: u64,
    url: String,
    settings: KeptReadSettings,
    all: Mutex<Vec<Weak<KeptReads>>>,
}

/// Counters of one kind summed over every thread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindTotals {
    pub hits: u64,
    pub misses: u64,
    pub fallbacks: u64,
    pub entries: u64,
}

/// Counters summed over every thread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeptTotals {
    pub sessions: KindTotals,
    pub projects: KindTotals,
    pub rounds: u64,
    /// Threads whose LISTEN connection is up.
    pub listening: u64,
}

impl KeptTotals {
    pub fn of(&self, kind: KeptKind) -> &KindTotals {
        match kind {
            KeptKind::Session => &self.sessions,
            KeptKind::Project => &self.projects,
        }
    }
}

impl KeptReadCaches {
    pub fn new(url: String, settings: KeptReadSettings) -> Arc<Self> {
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

    /// This thread's kept reads, started (with their listener, on this thread's Tokio runtime)
    /// on first use; `None` when off or no runtime runs here.
    pub fn local(self: &Arc<Self>) -> Option<Arc<KeptReads>> {
        if !self.settings.enabled {
            return None;
        }
        LOCAL.with(|local| {
            let mut local = local.borrow_mut();
            if let Some((_, s)) = local.iter().find(|(id, _)| *id == self.id) {
                return Some(s.clone());
            }
            let runtime = tokio::runtime::Handle::try_current().ok()?;
            let kept = Arc::new(KeptReads::new(self.settings.clone()));
            self.all
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Arc::downgrade(&kept));
            runtime.spawn(listen(self.url.clone(), kept.clone(), Arc::downgrade(self)));
            local.push((self.id, kept.clone()));
            Some(kept)
        })
    }

    /// Every thread's counters, summed.
    pub fn totals(&self) -> KeptTotals {
        let mut t = KeptTotals::default();
        let mut all = self.all.lock().unwrap_or_else(PoisonError::into_inner);
        all.retain(|w| w.strong_count() > 0);
        for s in all.iter().filter_map(Weak::upgrade) {
            for (kind, sum) in [
                (KeptKind::Session, &mut t.sessions),
                (KeptKind::Project, &mut t.projects),
            ] {
                let k = s.stats.of(kind);
                sum.hits += k.hits.load(Ordering::Relaxed);
                sum.misses += k.misses.load(Ordering::Relaxed);
                sum.fallbacks += k.fallbacks.load(Ordering::Relaxed);
                sum.entries += s.len(kind) as u64;
            }
            t.rounds += s.stats.rounds.load(Ordering::Relaxed);
            t.listening += u64::from(s.is_up());
        }
        t
    }
}

/// Keeps one LISTEN connection for `kept` (reconnecting with backoff) until `owner` is dropped.
async fn listen(url: String, kept: Arc<KeptReads>, owner: Weak<KeptReadCaches>) {
    let mut backoff = Duration::from_millis(250);
    loop {
        let result = listen_once(&url, &kept, &owner).await;
        kept.down();
        match result {
            Ok(()) => return,
            Err(e) => tracing::debug!(error = %e, retry_in_ms = backoff.as_millis() as u64,
                "kept-reads listener down; sessions and projects are read from the database meanwhile"),
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
    kept: &Arc<KeptReads>,
    owner: &Weak<KeptReadCaches>,
) -> anyhow::Result<()> {
    let (client, mut connection) = crate::tls::connect(url).await?;
    let driven = kept.clone();
    // Notifications are applied here, before the next message is read: a round's answer is
    // never handed over ahead of a notification that came before it.
    let mut driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(m) = messages.next().await {
            match m {
                Ok(AsyncMessage::Notification(n)) => driven.invalidate(n.channel(), n.payload()),
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    });
    let result = async {
        client
            .batch_execute(&format!("LISTEN {AUTH_CHANNEL}; LISTEN {PROJECTS_CHANNEL}"))
            .await?;
        // Without migration 016's triggers no change would ever evict a kept read: until they
        // exist (a database not migrated yet), stay down and let reads go to the database.
        let names = REQUIRED_TRIGGERS.map(|t| format!("'{t}'")).join(", ");
        let present: i64 = client
            .query_one(
                &format!(
                    "SELECT count(DISTINCT tgname) FROM pg_trigger \
                     WHERE NOT tgisinternal AND tgname IN ({names})"
                ),
                &[],
            )
            .await?
            .try_get(0)?;
        if present != REQUIRED_TRIGGERS.len() as i64 {
            tracing::warn!(
                found = present,
                "the kept-reads triggers (migration 016) are missing: sessions and projects are read from the database until they exist"
            );
            anyhow::bail!("migration 016's triggers are missing");
        }
        kept.listening();
        let mut alive = tokio::time::interval(ALIVE_CHECK);
        loop {
            tokio::select! {
                () = kept.kick.notified() => {
                    while let Some(round) = kept.next_round() {
                        let sync = client.batch_execute("");
                        match tokio::time::timeout(kept.settings.sync_timeout, sync).await {
                            Ok(Ok(())) => kept.round_done(round),
                            Ok(Err(e)) => return Err(e.into()),
                            Err(_) => anyhow::bail!("sync round timed out"),
                        }
                    }
                }
                ended = &mut driver => {
                    anyhow::bail!("LISTEN connection ended: {ended:?}");
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
    fn rounds(s: &Arc<KeptReads>) -> tokio::task::JoinHandle<()> {
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
        let s = Arc::new(KeptReads::new(KeptReadSettings::default()));
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
        assert_eq!(s.len(KeptKind::Session), 1);
        assert!(s.lookup(u, jti, false).await.is_some());
        assert!(
            s.lookup(u, jti, true).await.is_none(),
            "kept without the account"
        );
        assert!(s.lookup(u, Uuid::new_v4(), false).await.is_none());
        // a project's notification, or another user's, keeps it; this user's drops it
        s.invalidate(PROJECTS_CHANNEL, &u.to_string());
        s.invalidate(PROJECTS_CHANNEL, "*");
        assert!(s.lookup(u, jti, false).await.is_some());
        s.invalidate(AUTH_CHANNEL, &Uuid::new_v4().to_string());
        assert!(s.lookup(u, jti, false).await.is_some());
        s.invalidate(AUTH_CHANNEL, &u.to_string());
        assert!(s.lookup(u, jti, false).await.is_none());
        // an answer read while an invalidation arrived is not kept
        let t = s.ticket();
        s.invalidate(AUTH_CHANNEL, &Uuid::new_v4().to_string());
        s.keep(t, u, jti, kept());
        assert_eq!(s.len(KeptKind::Session), 0);
        // `*` drops everything; a reconnect too, and an older ticket is refused after it
        let t = s.ticket();
        s.keep(t, u, jti, kept());
        s.invalidate(AUTH_CHANNEL, "*");
        assert_eq!(s.len(KeptKind::Session), 0);
        let t = s.ticket();
        s.listening();
        s.keep(t, u, jti, kept());
        assert_eq!(s.len(KeptKind::Session), 0);
        // listener down: waiters fail, nothing is served
        let t = s.ticket();
        s.keep(t, u, jti, kept());
        s.down();
        assert!(s.lookup(u, jti, false).await.is_none());
        assert_eq!(s.len(KeptKind::Session), 0);
        task.abort();
    }

    #[tokio::test]
    async fn an_invalidation_during_the_round_is_honoured() {
        let s = Arc::new(KeptReads::new(KeptReadSettings::default()));
        s.listening();
        let (u, jti) = (Uuid::new_v4(), Uuid::new_v4());
        s.keep(s.ticket(), u, jti, kept());
        // the round delivers the notification before it completes, as PostgreSQL does
        let listener = {
            let s = s.clone();
            tokio::spawn(async move {
                s.kick.notified().await;
                let r = s.next_round().unwrap();
                s.invalidate(AUTH_CHANNEL, &u.to_string());
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
        let s = Arc::new(KeptReads::new(KeptReadSettings::default()));
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
        let s = KeptReads::new(KeptReadSettings {
            max_entries: 10,
            ..KeptReadSettings::default()
        });
        s.listening();
        for _ in 0..100 {
            s.keep(s.ticket(), Uuid::new_v4(), Uuid::new_v4(), kept());
            assert!(s.len(KeptKind::Session) <= 10);
        }
        assert!(s.len(KeptKind::Session) > 0);
    }
}
