//! Caching of project listings (deployment guide §9.3): a user's list per query for 30 minutes,
//! evicted by bumping a per-user generation counter that is part of every key (one `INCR`), and
//! the first pages of each gallery sort for a few seconds. Entries carry a schema version in
//! their key prefix, so a new release never reads an old shape. Every cache failure (backend down,
//! unreadable entry) falls back to the database and is reported to the observer, never to the
//! caller.

use crate::models::{GalleryQuery, MyProjectsQuery, Project};
use crate::ports::ProjectCache;
use ingenio_kernel::chrono::{DateTime, Utc};
use ingenio_kernel::{Page, PageRequest, TenantId, UserId};
use serde::{Deserialize, Serialize};
use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// The shape version of cached entries; bump it whenever [`CachedPage`] or [`Project`] changes.
pub const CACHE_SCHEMA: u32 = 1;

/// Which listing a cache event is about (metric label `cache`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheKind {
    MyProjects,
    Gallery,
}

impl CacheKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            CacheKind::MyProjects => "my_projects",
            CacheKind::Gallery => "gallery",
        }
    }
}

/// What happened on a cache access (metric label `result`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheResult {
    Hit,
    Miss,
    /// The backend failed or an entry was unreadable: the database answered instead.
    Fallback,
}

impl CacheResult {
    pub fn as_str(&self) -> &'static str {
        match self {
            CacheResult::Hit => "hit",
            CacheResult::Miss => "miss",
            CacheResult::Fallback => "fallback",
        }
    }
}

/// Told about every cache access (the app turns it into metrics and rate-limited warnings).
pub type CacheObserver = Arc<dyn Fn(CacheKind, CacheResult, Option<&anyhow::Error>) + Send + Sync>;

/// Cache settings.
#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// How long a user's list stays cached (30 minutes by the guide).
    pub my_projects_ttl: Duration,
    /// How long a gallery page stays cached.
    pub gallery_ttl: Duration,
    /// Gallery pages `1..=gallery_pages` (without a text or tag filter) are cached.
    pub gallery_pages: u32,
    /// Live fields (counters, moderation, latest render) of a cached list older than this are
    /// re-read from the database, so they lag by at most this much.
    pub live_fields_max_age: Duration,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            my_projects_ttl: Duration::from_secs(30 * 60),
            gallery_ttl: Duration::from_secs(5),
            gallery_pages: 3,
            live_fields_max_age: Duration::from_secs(5),
        }
    }
}

/// A cached page.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedPage {
    pub records: Vec<Project>,
    pub total: u64,
    pub cached_at: DateTime<Utc>,
}

impl CachedPage {
    pub fn into_page(self, request: PageRequest) -> Page<Project> {
        Page::new(self.records, self.total, request)
    }
}

/// A gallery page shared by every request that reads it while it is cached in process, with
/// one rendering of it that the caller may keep beside it (the HTTP layer keeps its JSON, so a
/// hit neither copies the projects nor serializes them again).
pub struct SharedPage {
    page: CachedPage,
    request: PageRequest,
    rendered: OnceLock<Box<dyn Any + Send + Sync>>,
}

impl SharedPage {
    pub fn new(page: CachedPage, request: PageRequest) -> Self {
        Self {
            page,
            request,
            rendered: OnceLock::new(),
        }
    }

    pub fn cached(&self) -> &CachedPage {
        &self.page
    }

    /// A copy as a [`Page`].
    pub fn to_page(&self) -> Page<Project> {
        Page::new(self.page.records.clone(), self.page.total, self.request)
    }

    /// The rendering kept with this page, made by `render` on first use. `None` only when a
    /// rendering of another type was kept first.
    pub fn rendered<T: Any + Send + Sync>(&self, render: impl FnOnce(&Self) -> T) -> Option<&T> {
        self.rendered
            .get_or_init(|| Box::new(render(self)))
            .downcast_ref::<T>()
    }
}

/// The caching rules over a [`ProjectCache`] backend (absent: no caching).
pub struct ListCache {
    backend: Option<Arc<dyn ProjectCache>>,
    settings: CacheSettings,
    observer: Option<CacheObserver>,
    /// Set when an eviction failed: this instance reads users' lists from the database until
    /// then, since an entry it could not evict may still be in the cache.
    bypass_until: Mutex<Option<Instant>>,
    /// Gallery pages this instance wrote or read, each until the moment its shared entry expires
    /// (`cached_at + gallery_ttl`): a hit here serves nothing the shared cache would not have
    /// served, without its round trip and parse. Gallery entries are never evicted early, only
    /// expire, so this adds no staleness.
    local: Mutex<HashMap<String, (Instant, Arc<SharedPage>)>>,
}

/// Most gallery pages kept in process (sorts × age groups × cached pages × sizes in use).
const LOCAL_PAGES: usize = 512;

impl ListCache {
    pub fn new(
        backend: Option<Arc<dyn ProjectCache>>,
        settings: CacheSettings,
        observer: Option<CacheObserver>,
    ) -> Self {
        Self {
            backend,
            settings,
            observer,
            bypass_until: Mutex::new(None),
            local: Mutex::new(HashMap::new()),
        }
    }

    /// No caching at all.
    pub fn disabled() -> Self {
        Self::new(None, CacheSettings::default(), None)
    }

    pub fn settings(&self) -> &CacheSettings {
        &self.settings
    }

    fn observe(&self, kind: CacheKind, result: CacheResult, err: Option<&anyhow::Error>) {
        if let Some(o) = &self.observer {
            o(kind, result, err);
        }
    }

    fn bypassing(&self) -> bool {
        let mut b = self
            .bypass_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match *b {
            Some(until) if Instant::now() < until => true,
            Some(_) => {
                *b = None;
                false
            }
            None => false,
        }
    }

    fn generation_key(tenant: TenantId, user: UserId) -> String {
        // not versioned: instances of two releases evict each other's entries during a rollout
        format!("projects:gen:{tenant}:{user}")
    }

    /// The key of one list of `user` at generation `generation`.
    pub fn my_key(
        tenant: TenantId,
        user: UserId,
        generation: u64,
        query: &MyProjectsQuery,
        page: PageRequest,
    ) -> String {
        format!(
            "projects:v{CACHE_SCHEMA}:mine:{tenant}:{user}:g{generation}:{}:{:?}:{}:{}",
            query.status.map_or("-", |s| s.as_str()),
            query.keyword.as_deref().unwrap_or(""),
            page.current(),
            page.size()
        )
    }

    /// The key of a gallery page, when that page is cached at all.
    pub fn gallery_key(
        &self,
        tenant: TenantId,
        query: &GalleryQuery,
        page: PageRequest,
    ) -> Option<String> {
        (self.backend.is_some()
            && query.q.is_none()
            && query.tags.is_empty()
            && page.current() <= self.settings.gallery_pages)
            .then(|| {
                format!(
                    "projects:v{CACHE_SCHEMA}:gallery:{tenant}:{}:{}:{}:{}",
                    query.sort.as_str(),
                    query.age_group.map_or("-", |a| a.as_str()),
                    page.current(),
                    page.size()
                )
            })
    }

    /// The key for `user`'s list, or `None` when lists are not cached right now (no backend,
    /// bypassing after a failed eviction, or the generation could not be read).
    pub async fn my_list_key(
        &self,
        tenant: TenantId,
        user: UserId,
        query: &MyProjectsQuery,
        page: PageRequest,
    ) -> Option<String> {
        let backend = self.backend.as_ref()?;
        if self.bypassing() {
            return None;
        }
        match backend.counter(&Self::generation_key(tenant, user)).await {
            Ok(g) => Some(Self::my_key(tenant, user, g, query, page)),
            Err(e) => {
                self.observe(CacheKind::MyProjects, CacheResult::Fallback, Some(&e));
                None
            }
        }
    }

    fn local_get(&self, key: &str) -> Option<Arc<SharedPage>> {
        let mut local = self.local.lock().unwrap_or_else(PoisonError::into_inner);
        match local.get(key) {
            Some((until, page)) if Instant::now() < *until => Some(Arc::clone(page)),
            Some(_) => {
                local.remove(key);
                None
            }
            None => None,
        }
    }

    /// Keeps a gallery page in process until its shared entry expires.
    fn local_put(&self, key: &str, page: &Arc<SharedPage>) {
        let age = (Utc::now() - page.page.cached_at)
            .to_std()
            .unwrap_or_default();
        let Some(left) = self.settings.gallery_ttl.checked_sub(age) else {
            return;
        };
        let now = Instant::now();
        let mut local = self.local.lock().unwrap_or_else(PoisonError::into_inner);
        if local.len() >= LOCAL_PAGES {
            local.retain(|_, (until, _)| now < *until);
            if local.len() >= LOCAL_PAGES {
                local.clear();
            }
        }
        local.insert(key.to_owned(), (now + left, Arc::clone(page)));
    }

    /// A cached page, or `None` (miss, or a failure that was counted). Gallery pages go through
    /// [`ListCache::read_gallery`], which keeps them in process.
    pub async fn read(&self, kind: CacheKind, key: &str) -> Option<CachedPage> {
        let backend = self.backend.as_ref()?;
        match backend.get(key).await {
            Ok(Some(raw)) => match serde_json::from_str::<CachedPage>(&raw) {
                Ok(page) => {
                    self.observe(kind, CacheResult::Hit, None);
                    Some(page)
                }
                Err(e) => {
                    let e = anyhow::Error::new(e).context("unreadable cache entry");
                    self.observe(kind, CacheResult::Fallback, Some(&e));
                    None
                }
            },
            Ok(None) => {
                self.observe(kind, CacheResult::Miss, None);
                None
            }
            Err(e) => {
                self.observe(kind, CacheResult::Fallback, Some(&e));
                None
            }
        }
    }

    /// A cached gallery page (`request` is the page its key names): from this process while
    /// its shared entry lives, else from the shared cache (then kept in process).
    pub async fn read_gallery(&self, key: &str, request: PageRequest) -> Option<Arc<SharedPage>> {
        self.backend.as_ref()?;
        if let Some(page) = self.local_get(key) {
            self.observe(CacheKind::Gallery, CacheResult::Hit, None);
            return Some(page);
        }
        let page = Arc::new(SharedPage::new(
            self.read(CacheKind::Gallery, key).await?,
            request,
        ));
        self.local_put(key, &page);
        Some(page)
    }

    /// Stores a gallery page in the shared cache and in process, and returns it shared.
    pub async fn write_gallery(
        &self,
        key: &str,
        page: CachedPage,
        request: PageRequest,
    ) -> Arc<SharedPage> {
        let page = Arc::new(SharedPage::new(page, request));
        if self.backend.is_some() {
            self.local_put(key, &page);
            self.write(CacheKind::Gallery, key, &page.page).await;
        }
        page
    }

    /// Stores a page (failures are counted, never returned).
    pub async fn write(&self, kind: CacheKind, key: &str, page: &CachedPage) {
        let Some(backend) = self.backend.as_ref() else {
            return;
        };
        let ttl = match kind {
            CacheKind::MyProjects => self.settings.my_projects_ttl,
            CacheKind::Gallery => self.settings.gallery_ttl,
        };
        let result = match serde_json::to_string(page) {
            Ok(raw) => backend.put(key, &raw, ttl).await,
            Err(e) => Err(anyhow::Error::new(e).context("serialize a cache entry")),
        };
        if let Err(e) = result {
            self.observe(kind, CacheResult::Fallback, Some(&e));
        }
    }

    /// Evicts every cached list of `user` (one counter bump). When that fails, this instance
    /// stops reading users' lists from the cache for one TTL.
    pub async fn evict_user(&self, tenant: TenantId, user: UserId) {
        let Some(backend) = self.backend.as_ref() else {
            return;
        };
        if let Err(e) = backend.bump(&Self::generation_key(tenant, user)).await {
            *self
                .bypass_until
                .lock()
                .unwrap_or_else(PoisonError::into_inner) =
                Some(Instant::now() + self.settings.my_projects_ttl);
            self.observe(CacheKind::MyProjects, CacheResult::Fallback, Some(&e));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use async_trait::async_trait;
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[derive(Default)]
    struct Fake {
        entries: Mutex<HashMap<String, String>>,
        down: AtomicBool,
    }

    impl Fake {
        fn check(&self) -> anyhow::Result<()> {
            if self.down.load(Ordering::SeqCst) {
                anyhow::bail!("connection refused")
            }
            Ok(())
        }
    }

    #[async_trait]
    impl ProjectCache for Fake {
        async fn get(&self, key: &str) -> anyhow::Result<Option<String>> {
            self.check()?;
            Ok(self.entries.lock().unwrap().get(key).cloned())
        }
        async fn put(&self, key: &str, value: &str, _ttl: Duration) -> anyhow::Result<()> {
            self.check()?;
            self.entries
                .lock()
                .unwrap()
                .insert(key.into(), value.into());
            Ok(())
        }
        async fn counter(&self, key: &str) -> anyhow::Result<u64> {
            self.check()?;
            Ok(self
                .entries
                .lock()
                .unwrap()
                .get(key)
                .map_or(0, |v| v.parse().unwrap()))
        }
        async fn bump(&self, key: &str) -> anyhow::Result<u64> {
            self.check()?;
            let mut e = self.entries.lock().unwrap();
            let n = e.get(key).map_or(0, |v| v.parse::<u64>().unwrap()) + 1;
            e.insert(key.into(), n.to_string());
            Ok(n)
        }
        fn backend(&self) -> &'static str {
            "fake"
        }
    }

    type Seen = Arc<Mutex<Vec<(CacheKind, CacheResult)>>>;

    fn cache() -> (Arc<Fake>, ListCache, Seen) {
        let fake = Arc::new(Fake::default());
        let seen: Seen = Arc::default();
        let s = seen.clone();
        let observer: CacheObserver = Arc::new(move |k, r, _| s.lock().unwrap().push((k, r)));
        let c = ListCache::new(Some(fake.clone()), CacheSettings::default(), Some(observer));
        (fake, c, seen)
    }

    fn entry() -> CachedPage {
        CachedPage {
            records: vec![],
            total: 3,
            cached_at: Utc::now(),
        }
    }

    #[tokio::test]
    async fn eviction_moves_every_key_of_the_user_and_only_theirs() {
        let (_, c, seen) = cache();
        let (t, me, you) = (
            TenantId::default(),
            UserId::new_random(),
            UserId::new_random(),
        );
        let (q, page) = (MyProjectsQuery::default(), PageRequest::default());
        let key = c.my_list_key(t, me, &q, page).await.unwrap();
        assert!(
            key.starts_with(&format!("projects:v{CACHE_SCHEMA}:")),
            "{key}"
        );
        let yours = c.my_list_key(t, you, &q, page).await.unwrap();
        c.write(CacheKind::MyProjects, &key, &entry()).await;
        assert_eq!(c.read(CacheKind::MyProjects, &key).await.unwrap().total, 3);
        c.evict_user(t, me).await;
        let after = c.my_list_key(t, me, &q, page).await.unwrap();
        assert_ne!(after, key, "a new generation");
        assert!(c.read(CacheKind::MyProjects, &after).await.is_none());
        assert_eq!(c.my_list_key(t, you, &q, page).await.unwrap(), yours);
        let seen = seen.lock().unwrap().clone();
        assert_eq!(
            seen,
            [
                (CacheKind::MyProjects, CacheResult::Hit),
                (CacheKind::MyProjects, CacheResult::Miss)
            ]
        );
    }

    #[tokio::test]
    async fn failures_and_bad_entries_fall_back_and_a_failed_eviction_bypasses() {
        let (fake, c, seen) = cache();
        let (t, me) = (TenantId::default(), UserId::new_random());
        let (q, page) = (MyProjectsQuery::default(), PageRequest::default());
        let key = c.my_list_key(t, me, &q, page).await.unwrap();
        fake.entries
            .lock()
            .unwrap()
            .insert(key.clone(), "{not json".into());
        assert!(c.read(CacheKind::MyProjects, &key).await.is_none());
        fake.down.store(true, Ordering::SeqCst);
        assert!(c.my_list_key(t, me, &q, page).await.is_none());
        c.evict_user(t, me).await; // fails: this instance stops trusting cached lists
        fake.down.store(false, Ordering::SeqCst);
        assert!(
            c.my_list_key(t, me, &q, page).await.is_none(),
            "an entry that could not be evicted is never read"
        );
        let fallbacks = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, r)| *r == CacheResult::Fallback)
            .count();
        assert_eq!(fallbacks, 3);
        // the gallery keys only the first pages without text or tag filters
        let g = GalleryQuery {
            q: None,
            tags: vec![],
            age_group: None,
            sort: crate::models::GallerySort::Popular,
        };
        assert!(c.gallery_key(t, &g, page).is_some());
        assert!(c
            .gallery_key(t, &g, PageRequest::new(4, 10).unwrap())
            .is_none());
        let text = GalleryQuery {
            q: Some("单词".into()),
            ..g
        };
        assert!(c.gallery_key(t, &text, page).is_none());
    }

    #[tokio::test]
    async fn gallery_pages_are_kept_in_process_until_their_shared_entry_expires() {
        let fake = Arc::new(Fake::default());
        let settings = CacheSettings {
            gallery_ttl: Duration::from_millis(1000),
            ..CacheSettings::default()
        };
        let c = ListCache::new(Some(fake.clone()), settings, None);
        let key = "projects:v1:gallery:t:popular:-:1:10";
        let page = PageRequest::new(1, 10).unwrap();
        let written = c.write_gallery(key, entry(), page).await;
        // served from the process: the shared cache is not asked, and the very same page (with
        // what was rendered of it) comes back
        fake.down.store(true, Ordering::SeqCst);
        assert_eq!(written.rendered(|p| p.cached().total * 2), Some(&6));
        let hit = c.read_gallery(key, page).await.unwrap();
        assert!(Arc::ptr_eq(&hit, &written));
        assert_eq!(hit.rendered(|_| 0u64), Some(&6), "rendered once");
        assert_eq!(hit.rendered(|_| "other type"), None);
        assert_eq!(hit.to_page().total, 3);
        // a page read from the shared cache is kept only for what is left of its life
        fake.down.store(false, Ordering::SeqCst);
        let other = "projects:v1:gallery:t:latest:-:1:10";
        let mut old = entry();
        old.cached_at = Utc::now() - ingenio_kernel::chrono::Duration::milliseconds(900);
        old.total = 7;
        fake.entries
            .lock()
            .unwrap()
            .insert(other.into(), serde_json::to_string(&old).unwrap());
        assert_eq!(c.read_gallery(other, page).await.unwrap().cached().total, 7);
        fake.entries.lock().unwrap().clear();
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(
            c.read_gallery(other, page).await.is_none(),
            "expired with its entry"
        );
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert!(
            c.read_gallery(key, page).await.is_none(),
            "expired after the ttl"
        );
        // users' lists are never kept in process (they are evicted, not only expired)
        let mine = "projects:v1:mine:t:u:g0:-:\"\":1:10";
        c.write(CacheKind::MyProjects, mine, &entry()).await;
        fake.entries.lock().unwrap().clear();
        assert!(c.read(CacheKind::MyProjects, mine).await.is_none());
    }
}
