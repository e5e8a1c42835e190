//! Read your own writes. A client's write answers with the version its stream reached; a later
//! read or command that names that version waits here until this process has applied it —
//! woken by whatever applies it (a commit of the command path, a projection's batch), not by
//! reading the store in a loop — and gives up after a bounded wait, so the client can retry.
//!
//! Only the streams someone is waiting for have a watch: a commit that nobody awaits costs one
//! map lookup. A version applied by another process (a second replica) is not announced here,
//! so a waiter also asks the store again every [`RECHECK`].

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::watch;

/// How long a read or command waits for the version it names before it is refused as unavailable.
pub const CATCH_UP_WAIT: Duration = Duration::from_secs(5);

/// How often a waiter asks the store itself, for versions another process applied.
pub const RECHECK: Duration = Duration::from_millis(250);

/// The version was not applied within the wait.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{stream} has not caught up with version {wanted} within {waited:?} (it is at version {applied})")]
pub struct Behind {
    pub stream: String,
    pub wanted: u64,
    pub applied: u64,
    pub waited: Duration,
}

/// The versions this process applies, announced to whoever waits for one.
pub struct Progress<K> {
    watched: Mutex<HashMap<K, watch::Sender<u64>>>,
}

impl<K> Default for Progress<K> {
    fn default() -> Self {
        Self { watched: Mutex::new(HashMap::new()) }
    }
}

impl<K: Hash + Eq + Clone + std::fmt::Display> Progress<K> {
    /// `key`'s stream is applied (committed) up to `version`.
    pub fn advance(&self, key: &K, version: u64) {
        let watched = self.watched.lock().expect("progress lock");
        if let Some(sender) = watched.get(key) {
            sender.send_if_modified(|applied| {
                let newer = version > *applied;
                if newer {
                    *applied = version;
                }
                newer
            });
        }
    }

    /// Wait until `key` is applied up to `wanted`, for at most `within`. `applied` reads the
    /// version applied so far from the store: once before waiting (a version applied before the
    /// wait began), and every [`RECHECK`].
    pub async fn wait_for<F, Fut, E>(
        &self,
        key: &K,
        wanted: u64,
        within: Duration,
        applied: F,
    ) -> Result<(), WaitError<E>>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<u64, E>>,
    {
        if wanted == 0 {
            return Ok(());
        }
        // Watch before reading the store, so that nothing applied in between is missed.
        let mut announced = self.watch(key);
        let outcome = self.await_version(&mut announced, key, wanted, within, applied).await;
        drop(announced);
        self.unwatch(key);
        outcome
    }

    async fn await_version<F, Fut, E>(
        &self,
        announced: &mut watch::Receiver<u64>,
        key: &K,
        wanted: u64,
        within: Duration,
        applied: F,
    ) -> Result<(), WaitError<E>>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<u64, E>>,
    {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let stored = applied().await.map_err(WaitError::Store)?;
            if stored >= wanted {
                return Ok(());
            }
            let recheck = (tokio::time::Instant::now() + RECHECK).min(deadline);
            // Only whether it came: the watch's value is borrowed under a lock.
            let announced_in_time =
                tokio::time::timeout_at(recheck, announced.wait_for(|version| *version >= wanted)).await.is_ok();
            if announced_in_time {
                return Ok(());
            }
            if recheck < deadline {
                continue;
            }
            let stored = applied().await.map_err(WaitError::Store)?;
            if stored >= wanted {
                return Ok(());
            }
            return Err(WaitError::Behind(Behind { stream: key.to_string(), wanted, applied: stored, waited: within }));
        }
    }

    fn watch(&self, key: &K) -> watch::Receiver<u64> {
        let mut watched = self.watched.lock().expect("progress lock");
        watched.entry(key.clone()).or_insert_with(|| watch::channel(0).0).subscribe()
    }

    /// Forget `key`'s watch once nobody waits on it any more.
    fn unwatch(&self, key: &K) {
        let mut watched = self.watched.lock().expect("progress lock");
        if watched.get(key).is_some_and(|sender| sender.receiver_count() == 0) {
            watched.remove(key);
        }
    }

    /// How many streams someone waits for (for tests).
    pub fn watched(&self) -> usize {
        self.watched.lock().expect("progress lock").len()
    }
}

/// Why a wait ended without the version.
#[derive(Debug, thiserror::Error)]
pub enum WaitError<E> {
    #[error(transparent)]
    Behind(Behind),
    /// Reading the applied version failed.
    #[error(transparent)]
    Store(E),
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    type Never = std::convert::Infallible;

    #[tokio::test]
    async fn a_waiter_is_woken_by_the_version_it_waits_for() {
        let progress = Arc::new(Progress::<String>::default());
        let stored = Arc::new(AtomicU64::new(1));
        let key = "case-1".to_string();
        let waiter = {
            let (progress, stored, key) = (progress.clone(), stored.clone(), key.clone());
            tokio::spawn(async move {
                let read = || {
                    let stored = stored.clone();
                    async move { Ok::<_, Never>(stored.load(Ordering::SeqCst)) }
                };
                progress.wait_for(&key, 3, Duration::from_secs(60), read).await
            })
        };
        while progress.watched() == 0 {
            tokio::task::yield_now().await;
        }
        progress.advance(&key, 2);
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!waiter.is_finished(), "version 2 does not satisfy a wait for 3");
        // Applied by this process: the announcement is enough, the store still says 1.
        progress.advance(&key, 3);
        waiter.await.unwrap().unwrap();
        assert_eq!(progress.watched(), 0, "no watch outlives its waiters");
    }

    #[tokio::test]
    async fn a_version_already_applied_needs_no_wait_and_zero_never_waits() {
        let progress = Progress::<String>::default();
        let read = || async { Ok::<_, Never>(7) };
        progress.wait_for(&"s".to_string(), 7, Duration::ZERO, read).await.unwrap();
        let unread = || async { panic!("a zero version reads nothing") };
        progress.wait_for::<_, _, Never>(&"s".to_string(), 0, Duration::ZERO, unread).await.unwrap();
        assert_eq!(progress.watched(), 0);
    }

    #[tokio::test]
    async fn a_version_never_applied_is_behind_after_the_wait() {
        let progress = Progress::<String>::default();
        let read = || async { Ok::<_, Never>(2) };
        let within = Duration::from_millis(300);
        let error = progress.wait_for(&"case-9".to_string(), 5, within, read).await.unwrap_err();
        let WaitError::Behind(behind) = error;
        assert_eq!((behind.wanted, behind.applied, behind.waited), (5, 2, within));
        assert_eq!(progress.watched(), 0);
    }

    #[tokio::test]
    async fn a_version_another_process_applied_is_found_in_the_store() {
        let progress = Progress::<String>::default();
        let reads = AtomicU64::new(0);
        // The store has it from the third read on: nobody in this process announced it.
        let read = || {
            let n = reads.fetch_add(1, Ordering::SeqCst);
            async move { Ok::<_, Never>(if n >= 2 { 4 } else { 1 }) }
        };
        progress.wait_for(&"case-2".to_string(), 4, CATCH_UP_WAIT, read).await.unwrap();
        assert_eq!(reads.load(Ordering::SeqCst), 3);
    }
}
