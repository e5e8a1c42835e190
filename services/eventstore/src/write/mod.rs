//! The write path: state shared by a store's clones and writers ([`Shared`]), the group-commit
//! writer task ([`writer`]), deciding a group of commits ([`group`]) and each backend's
//! statements for it ([`sqlite`], [`postgres`]), read-model transactions ([`StoreTx`]) and kept
//! read connections ([`Reader`]).

mod group;
mod postgres;
mod reader;
mod sqlite;
mod tx;
mod writer;

use std::collections::VecDeque;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Any, AnyConnection, AnyPool, Executor};
use tokio::sync::{watch, Mutex, MutexGuard};

pub use reader::Reader;
pub use tx::StoreTx;
use writer::WriterSlot;
pub(crate) use writer::{spawn_writer, Pending};

use crate::{Backend, RecordedEvent};

/// Idle SQLite read connections a store keeps (more are closed when they come back).
const IDLE_READERS: usize = 8;

/// How a SQLite write transaction starts: with the database write lock, so that it never has
/// to upgrade a read lock (and fail with `SQLITE_BUSY`).
const BEGIN: &str = "BEGIN IMMEDIATE";

/// Events the store remembers for its relay (see [`Shared::recent_after`]).
const RECENT_EVENTS: usize = 4096;

/// State shared by every clone of an [`EventStore`](crate::EventStore), its writer task and
/// its open [`StoreTx`]s.
pub(crate) struct Shared {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
    /// Postgres: how the group writer opens its native connection (see [`WriterSlot`]).
    native: Option<PgConnectOptions>,
    /// Serializes all writes of this process (see the crate docs), and holds the connection
    /// SQLite writes run on.
    write_lock: Arc<Mutex<WriterSlot>>,
    head: watch::Sender<i64>,
    /// The earliest due time among timers this process's commits scheduled since the timer
    /// loop last took it (see [`EventStore::take_scheduled`](crate::EventStore::take_scheduled)).
    scheduled: watch::Sender<Option<DateTime<Utc>>>,
    /// The events this process committed last, oldest first, all after every position ever
    /// acknowledged from the outbox (so none has been relayed).
    recent: std::sync::Mutex<VecDeque<RecordedEvent>>,
    /// SQLite: idle connections for reads, most recently used last (see [`Reader`]).
    readers: std::sync::Mutex<Vec<AnyConnection>>,
}

impl Shared {
    pub(crate) fn new(pool: AnyPool, backend: Backend, native: Option<PgConnectOptions>, head: i64) -> Self {
        Self {
            pool,
            backend,
            native,
            write_lock: Arc::new(Mutex::new(WriterSlot::default())),
            head: watch::Sender::new(head),
            scheduled: watch::Sender::new(None),
            recent: std::sync::Mutex::new(VecDeque::with_capacity(RECENT_EVENTS)),
            readers: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Postgres: how to open a connection of the store's own driver (not sqlx's `Any`).
    pub(crate) fn native_options(&self) -> Option<&PgConnectOptions> {
        self.native.as_ref()
    }

    /// After a commit, under the writer lock (so in position order): remember its events.
    fn remember<'e>(&self, events: impl IntoIterator<Item = &'e RecordedEvent>) {
        let mut recent = self.recent.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for event in events {
            if recent.len() == RECENT_EVENTS {
                recent.pop_front();
            }
            recent.push_back(event.clone());
        }
    }

    /// The outbox batch after `after`, from memory, when this process committed all of it: up
    /// to `limit` remembered events from `after + 1` on with no position missing (an event
    /// another process wrote leaves a gap, and then the outbox must be read). `None`: read it.
    pub(crate) fn recent_after(&self, after: i64, limit: usize) -> Option<Vec<RecordedEvent>> {
        let recent = self.recent.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let start = recent.binary_search_by_key(&(after + 1), |event| event.global_position).ok()?;
        let mut batch: Vec<RecordedEvent> = Vec::with_capacity(limit.min(recent.len() - start));
        for event in recent.range(start..) {
            if batch.len() == limit {
                break;
            }
            let expected = batch.last().map_or(after + 1, |last| last.global_position + 1);
            if event.global_position != expected {
                return None;
            }
            batch.push(event.clone());
        }
        Some(batch)
    }

    /// Before an outbox acknowledgement: forget the events up to the highest position in it.
    pub(crate) fn forget_through(&self, position: i64) {
        let mut recent = self.recent.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        while recent.front().is_some_and(|event| event.global_position <= position) {
            recent.pop_front();
        }
    }

    pub(crate) fn subscribe_scheduled(&self) -> watch::Receiver<Option<DateTime<Utc>>> {
        self.scheduled.subscribe()
    }

    /// Takes the earliest due time scheduled since the last take, without waking receivers.
    pub(crate) fn take_scheduled(&self) -> Option<DateTime<Utc>> {
        let mut taken = None;
        self.scheduled.send_if_modified(|pending| {
            taken = pending.take();
            false
        });
        taken
    }

    /// After a commit: wake the timer loop if it scheduled timers.
    fn publish_scheduled(&self, earliest: Option<DateTime<Utc>>) {
        if let Some(due) = earliest {
            self.scheduled.send_modify(|pending| *pending = Some(pending.map_or(due, |p| p.min(due))));
        }
    }

    /// Takes the in-process writer lock, for writes outside a commit (acks, checkpoints).
    pub(crate) async fn lock_writes(&self) -> MutexGuard<'_, WriterSlot> {
        self.write_lock.lock().await
    }

    pub(crate) fn subscribe_head(&self) -> watch::Receiver<i64> {
        self.head.subscribe()
    }

    /// The last head published by this process.
    pub(crate) fn published_head(&self) -> i64 {
        *self.head.borrow()
    }

    fn publish_head(&self, head: i64) {
        self.head.send_if_modified(|current| {
            let advanced = head > *current;
            if advanced {
                *current = head;
            }
            advanced
        });
    }
}

/// Upserts a checkpoint.
pub(crate) async fn upsert_checkpoint<'c, E>(executor: E, name: &str, position: i64) -> Result<(), sqlx::Error>
where
    E: Executor<'c, Database = Any>,
{
    sqlx::query(
        "INSERT INTO checkpoints (name, position) VALUES ($1, $2) \
         ON CONFLICT (name) DO UPDATE SET position = excluded.position",
    )
    .bind(name)
    .bind(position)
    .execute(executor)
    .await?;
    Ok(())
}
