//! The current state of recently used aggregates, so that a command or a timer does not read
//! and fold the whole stream again. Only a shortcut: every commit still expects the exact
//! version its decision was made on, so a state that another writer (a second replica, an
//! import) has moved past fails with a conflict and is read again from the store.

use crate::aggregate::Aggregate;
use crate::context::Origin;
use lru::LruCache;
use std::num::NonZeroUsize;
use std::sync::Mutex;

/// An aggregate as of its latest event.
#[derive(Clone)]
pub struct Current<A> {
    pub state: A,
    /// The stream's version: the number of events folded.
    pub version: u64,
    /// What the stream's events carry from its first (none before the first).
    pub origin: Option<Origin>,
}

impl<A: Aggregate> Current<A> {
    /// The state before the first event.
    pub fn initial() -> Self {
        Self { state: A::initial(), version: 0, origin: None }
    }
}

pub struct StateCache<A: Aggregate>(Mutex<LruCache<A::Id, Current<A>>>);

impl<A: Aggregate> StateCache<A> {
    pub fn new(capacity: usize) -> Self {
        Self(Mutex::new(LruCache::new(NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN))))
    }

    pub fn get(&self, id: A::Id) -> Option<Current<A>> {
        self.0.lock().expect("state cache lock").get(&id).cloned()
    }

    pub fn put(&self, id: A::Id, current: Current<A>) {
        self.0.lock().expect("state cache lock").put(id, current);
    }

    pub fn forget(&self, id: A::Id) {
        self.0.lock().expect("state cache lock").pop(&id);
    }
}
