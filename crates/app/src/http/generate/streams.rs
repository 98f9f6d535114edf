//! The open SSE streams of this instance, counted per user and in all, so that neither one user
//! nor a crowd can hold an unbounded number of long-lived connections.

use ingenio_kernel::UserId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Open streams by user, and in all. Cheap to share: clone the `Arc`.
#[derive(Debug, Default)]
pub struct OpenStreams {
    inner: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_user: HashMap<UserId, usize>,
}

/// Why a stream could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamRefused {
    /// The user already holds the most streams one user may hold.
    User,
    /// The instance already serves the most streams it may serve.
    Instance,
}

/// One open stream; dropping it (when the stream ends or its client goes away) frees the slot.
#[derive(Debug)]
pub struct StreamSlot {
    streams: Arc<OpenStreams>,
    user: UserId,
}

impl OpenStreams {
    /// Takes a slot for `user` when both caps allow it.
    pub fn open(
        self: &Arc<Self>,
        user: UserId,
        per_user: usize,
        per_instance: usize,
    ) -> Result<StreamSlot, StreamRefused> {
        let mut c = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if c.total >= per_instance {
            return Err(StreamRefused::Instance);
        }
        let mine = c.by_user.entry(user).or_insert(0);
        if *mine >= per_user {
            return Err(StreamRefused::User);
        }
        *mine += 1;
        c.total += 1;
        Ok(StreamSlot {
            streams: Arc::clone(self),
            user,
        })
    }

    /// Streams open now (all users).
    pub fn total(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }

    /// Streams `user` holds open now.
    pub fn of(&self, user: UserId) -> usize {
        let c = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        c.by_user.get(&user).copied().unwrap_or(0)
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut c = self
            .streams
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.by_user.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.by_user.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn caps_hold_and_dropped_slots_are_freed() {
        let s = Arc::new(OpenStreams::default());
        let (a, b) = (UserId::new_random(), UserId::new_random());
        let a1 = s.open(a, 2, 3).unwrap();
        let _a2 = s.open(a, 2, 3).unwrap();
        assert_eq!(s.open(a, 2, 3).unwrap_err(), StreamRefused::User);
        let _b1 = s.open(b, 2, 3).unwrap();
        assert_eq!(s.open(b, 2, 3).unwrap_err(), StreamRefused::Instance);
        drop(a1);
        assert_eq!(s.of(a), 1);
        let _b2 = s.open(b, 2, 3).unwrap();
        assert_eq!(s.total(), 3);
    }

    proptest! {
        /// Any sequence of opens and closes keeps both counts within their caps and equal to the
        /// slots held.
        #[test]
        fn counts_match_the_slots_held(
            ops in proptest::collection::vec((0usize..4, any::<bool>()), 0..200),
            per_user in 0usize..4,
            per_instance in 0usize..8,
        ) {
            let s = Arc::new(OpenStreams::default());
            let users: Vec<UserId> = (0..4).map(|_| UserId::new_random()).collect();
            let mut held: Vec<Vec<StreamSlot>> = (0..4).map(|_| Vec::new()).collect();
            for (u, open) in ops {
                if open {
                    let total: usize = held.iter().map(Vec::len).sum();
                    match s.open(users[u], per_user, per_instance) {
                        Ok(slot) => held[u].push(slot),
                        Err(StreamRefused::Instance) => prop_assert!(total >= per_instance),
                        Err(StreamRefused::User) => prop_assert!(held[u].len() >= per_user),
                    }
                } else {
                    held[u].pop();
                }
                for (i, h) in held.iter().enumerate() {
                    prop_assert_eq!(s.of(users[i]), h.len());
                    prop_assert!(h.len() <= per_user);
                }
                prop_assert_eq!(s.total(), held.iter().map(Vec::len).sum::<usize>());
                prop_assert!(s.total() <= per_instance);
            }
        }
    }
}
