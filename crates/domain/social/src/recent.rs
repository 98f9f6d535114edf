//! Views this instance has just counted (or found already counted), so that a viewer reloading a
//! project does not cost a database write per page view. Only a shortcut: the window itself is
//! enforced by the store (`record_view`), and an entry here never outlives the window, so skipping
//! a view remembered here never loses one the store would have counted.

use ingenio_kernel::ProjectId;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a remembered view is trusted (shorter than any sensible window).
pub const DEFAULT_MEMO: Duration = Duration::from_secs(600);
/// Most remembered views; when full, expired ones go, then everything if still full.
pub const DEFAULT_CAPACITY: usize = 100_000;

pub struct RecentViews {
    ttl: Duration,
    capacity: usize,
    seen: Mutex<HashMap<(ProjectId, String), Instant>>,
}

impl RecentViews {
    /// Entries live `min(memo, window)`; a window of zero disables the memo.
    pub fn new(memo: Duration, window: Duration, capacity: usize) -> Self {
        Self {
            ttl: memo.min(window),
            capacity,
            seen: Mutex::new(HashMap::new()),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<(ProjectId, String), Instant>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `viewer`'s view of `project` was recorded here less than the memo's life ago.
    pub fn contains(&self, project: ProjectId, viewer: &str, now: Instant) -> bool {
        self.map()
            .get(&(project, viewer.to_owned()))
            .is_some_and(|at| now.saturating_duration_since(*at) < self.ttl)
    }

    /// Remembers that the store holds a view of `project` by `viewer` inside its window as of
    /// `now`.
    pub fn remember(&self, project: ProjectId, viewer: &str, now: Instant) {
        if self.ttl.is_zero() || self.capacity == 0 {
            return;
        }
        let mut map = self.map();
        if map.len() >= self.capacity {
            let ttl = self.ttl;
            map.retain(|_, at| now.saturating_duration_since(*at) < ttl);
            if map.len() >= self.capacity {
                map.clear();
            }
        }
        map.insert((project, viewer.to_owned()), now);
    }

    pub fn len(&self) -> usize {
        self.map().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ingenio_kernel::uuid::Uuid;

    #[test]
    fn entries_expire_with_the_shorter_of_memo_and_window_and_capacity_is_kept() {
        let p = ProjectId::from_uuid(Uuid::new_v4());
        let t0 = Instant::now();
        let r = RecentViews::new(Duration::from_secs(600), Duration::from_secs(60), 2);
        assert!(!r.contains(p, "ip:1", t0));
        r.remember(p, "ip:1", t0);
        assert!(r.contains(p, "ip:1", t0 + Duration::from_secs(59)));
        assert!(!r.contains(p, "ip:1", t0 + Duration::from_secs(60)));
        assert!(!r.contains(p, "ip:2", t0));
        r.remember(p, "ip:2", t0);
        r.remember(p, "ip:3", t0 + Duration::from_secs(61));
        assert!(r.len() <= 2, "{}", r.len());
        assert!(r.contains(p, "ip:3", t0 + Duration::from_secs(61)));
        let off = RecentViews::new(Duration::from_secs(600), Duration::ZERO, 10);
        off.remember(p, "ip:1", t0);
        assert!(!off.contains(p, "ip:1", t0));
    }
}
