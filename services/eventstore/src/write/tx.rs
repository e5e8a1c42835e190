//! [`StoreTx`]: a read model's write transaction.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Executor, Row};
use tokio::sync::OwnedMutexGuard;
use uuid::Uuid;

use super::group::{earliest_scheduled, single, Claim, Sequencer};
use super::postgres;
use super::sqlite::{self, Frame};
use super::writer::WriterSlot;
use super::{upsert_checkpoint, Shared, BEGIN};
use crate::sql::{stored_time, to_micros, Batch, Placeholders};
use crate::{Backend, Commit, RecordedEvent, StoreError};

/// A write transaction for read models, opened by [`EventStore::begin`](crate::EventStore::begin).
///
/// It holds the store's writer serialization (the in-process writer lock and the sequencer
/// row) until it is committed or dropped, so keep it short. While holding one, do not call the
/// store's other writing methods (`commit`, `save_checkpoint`, `outbox_ack`, `migrate_extra`,
/// `begin`) from the same task: they would wait for this transaction forever. Use
/// [`StoreTx::apply`] and [`StoreTx::save_checkpoint`] instead. Dropping it rolls back.
pub struct StoreTx {
    writer: WriterTx,
    /// The sequencer as the applied commits left it. SQLite's `BEGIN IMMEDIATE` holds the
    /// database write lock, so it is read once, with the first commit's reads, and a
    /// transaction that appends nothing (inbox claims, read-model rows) never reads it.
    seq: Option<Sequencer>,
    aborted: bool,
    /// The earliest due time among the timers the applied commits schedule.
    scheduled: Option<DateTime<Utc>>,
    /// The events the applied commits recorded, for the store to remember once committed.
    recorded: Vec<RecordedEvent>,
    shared: Arc<Shared>,
}

/// A transaction on the writer's connection.
struct WriterTx {
    /// The writer lock with the connection; `None` once handed on (dropped).
    slot: Option<OwnedMutexGuard<WriterSlot>>,
    /// The transaction has begun, and neither committed nor rolled back.
    open: bool,
}

impl Drop for WriterTx {
    /// An open transaction is rolled back before the writer lock is freed, by a task that takes
    /// the lock with it (outside a runtime, the connection is closed, which rolls back).
    fn drop(&mut self) {
        let Some(mut slot) = self.slot.take() else { return };
        if !self.open {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move { slot.roll_back().await });
            }
            Err(_) => slot.abandon(),
        }
    }
}

impl WriterTx {
    /// After a failed statement: when the database could not take it (full, read-only, going
    /// away), close the connection now (which rolls back) rather than keep a session that may
    /// stay read-only (see `WriterSlot::recover`); otherwise dropping rolls back.
    async fn fail(&mut self, error: &sqlx::Error) {
        if crate::error::unavailable(error).is_none() {
            return;
        }
        if let Some(slot) = self.slot.as_mut() {
            slot.recover(error).await;
            self.open = false;
        }
    }
}

impl StoreTx {
    /// Takes the writer lock. Postgres begins at once, with the sequencer's row lock: that is what
    /// serializes read-model writers across processes. SQLite begins in the same round trip as
    /// the transaction's first statements.
    pub(crate) async fn begin(shared: Arc<Shared>) -> Result<Self, StoreError> {
        let mut slot = shared.write_lock.clone().lock_owned().await;
        // It may move the sequencer's epoch: the group writer reads the state next time.
        slot.known = None;
        let open = match shared.backend {
            Backend::Sqlite => false,
            Backend::Postgres => {
                if let Err(error) = slot.locked(&shared.pool).await {
                    slot.recover(&error).await;
                    return Err(error.into());
                }
                true
            }
        };
        let writer = WriterTx { slot: Some(slot), open };
        Ok(Self { writer, seq: None, aborted: false, scheduled: None, recorded: Vec::new(), shared })
    }

    /// The connection and whether the transaction has yet to begin on it (SQLite: the caller
    /// sends `BEGIN IMMEDIATE` ahead of its statements, and it is taken as begun from here on,
    /// so that a failure rolls it back).
    async fn connection(&mut self) -> Result<(&mut AnyConnection, bool), sqlx::Error> {
        let writer = &mut self.writer;
        let begin = !writer.open;
        writer.open = true;
        let slot = writer.slot.as_mut().expect("the writer lock is held until the transaction ends");
        Ok((slot.conn(&self.shared.pool).await?, begin))
    }

    /// The transaction's connection, to run the caller's own read-model SQL inside it.
    /// If such a statement fails, drop this `StoreTx` (Postgres aborts the transaction).
    pub async fn conn(&mut self) -> Result<&mut AnyConnection, StoreError> {
        self.usable()?;
        let (conn, begin) = self.connection().await?;
        if begin {
            conn.execute(BEGIN).await?;
        }
        Ok(conn)
    }

    /// Applies a commit inside this transaction, with the same semantics as
    /// [`EventStore::commit`](crate::EventStore::commit): a failed precondition returns its
    /// error and writes nothing (the transaction stays usable); a database error aborts the
    /// transaction ([`StoreError::Aborted`] from then on).
    pub async fn apply(&mut self, commit: Commit) -> Result<Vec<RecordedEvent>, StoreError> {
        self.usable()?;
        let (seq, backend) = (self.seq, self.shared.backend);
        let commits = std::slice::from_ref(&commit);
        let applied = match self.connection().await {
            Ok((conn, begin)) => match backend {
                Backend::Sqlite => sqlite::apply(conn, Frame { begin, seq, commit: false }, commits).await,
                // Under the sequencer's lock, the epoch cannot have moved.
                Backend::Postgres => {
                    postgres::apply(conn, commits).await.map_err(sqlx::Error::from).and_then(|applied| {
                        applied
                            .ok_or_else(|| sqlx::Error::Protocol("the sequencer's epoch changed under its lock".into()))
                    })
                }
            },
            Err(error) => Err(error),
        };
        match applied {
            Ok((mut outcomes, seq)) => {
                self.seq = Some(seq);
                let outcome = single(&mut outcomes);
                if let Ok(events) = &outcome {
                    self.scheduled = self.scheduled.into_iter().chain(earliest_scheduled([&commit])).min();
                    self.recorded.extend_from_slice(events);
                }
                outcome
            }
            Err(error) => {
                self.aborted = true;
                self.writer.fail(&error).await;
                Err(error.into())
            }
        }
    }

    /// Records in the inbox that `consumer` handled `event_ids` and returns those it had not
    /// handled before: a batch consumer's idempotency in one statement, not two per event.
    pub async fn claim_inbox(&mut self, consumer: &str, event_ids: &[Uuid]) -> Result<HashSet<Uuid>, StoreError> {
        Ok(self.claim_inbox_and(consumer, event_ids, |_| {}).await?.0)
    }

    /// [`StoreTx::claim_inbox`], and the statements `queue` adds (the reads the consumer needs
    /// next, say) in the same round trip; returns their rows after the claimed ids.
    pub async fn claim_inbox_and<'q>(
        &mut self,
        consumer: &'q str,
        event_ids: &[Uuid],
        queue: impl FnOnce(&mut Batch<'q>),
    ) -> Result<(HashSet<Uuid>, Vec<Vec<AnyRow>>), StoreError> {
        self.usable()?;
        let processed_at = to_micros(stored_time(Utc::now()));
        let mut batch = self.batch();
        let claim = Claim { consumer, event_ids, processed_at };
        let claims = match self.shared.backend {
            Backend::Sqlite => sqlite::queue_claim(&mut batch, claim),
            Backend::Postgres => postgres::queue_claim(&mut batch, claim),
        };
        queue(&mut batch);
        let mut results = self.run(batch).await?;
        let rest = results.split_off(claims);
        let mut fresh = HashSet::new();
        for row in results.iter().flatten() {
            let event_id: String = row.try_get(0)?;
            fresh.insert(Uuid::parse_str(&event_id).map_err(|e| StoreError::Corrupt(format!("inbox event id: {e}")))?);
        }
        Ok((fresh, rest))
    }

    /// Saves a checkpoint inside this transaction (atomically with the read model's writes).
    pub async fn save_checkpoint(&mut self, name: &str, position: i64) -> Result<(), StoreError> {
        let result = match self.conn().await {
            Ok(conn) => upsert_checkpoint(conn, name, position).await.map_err(StoreError::from),
            Err(error) => Err(error),
        };
        self.aborted = result.is_err();
        result
    }

    /// Statements for [`StoreTx::run`] or [`StoreTx::commit_with`], placeholders in the style of
    /// this store's backend.
    pub fn batch<'q>(&self) -> Batch<'q> {
        Batch::new(match self.shared.backend {
            Backend::Sqlite => Placeholders::Anonymous,
            Backend::Postgres => Placeholders::Numbered,
        })
    }

    /// Runs `batch` in this transaction and returns each statement's rows: on SQLite in one
    /// round trip, with the transaction's `BEGIN` if it is the first thing it runs. A failure
    /// aborts the transaction.
    pub async fn run(&mut self, batch: Batch<'_>) -> Result<Vec<Vec<AnyRow>>, StoreError> {
        self.usable()?;
        let result = match self.connection().await {
            Ok((conn, begin)) => batch.fetch_opening(conn, begin.then_some(BEGIN)).await,
            Err(error) => Err(error),
        };
        self.aborted = result.is_err();
        Ok(result?)
    }

    /// Commits, then advances [`EventStore::watch_head`](crate::EventStore::watch_head).
    pub async fn commit(self) -> Result<(), StoreError> {
        let batch = self.batch();
        self.commit_with(batch).await
    }

    /// Runs `batch` (the transaction's last writes), then commits: on SQLite in one round trip.
    pub async fn commit_with(self, mut batch: Batch<'_>) -> Result<(), StoreError> {
        self.usable()?;
        let StoreTx { mut writer, seq, scheduled, recorded, shared, .. } = self;
        if writer.open || !batch.is_empty() {
            let begin = !writer.open;
            writer.open = true;
            let slot = writer.slot.as_mut().expect("the writer lock is held until the transaction ends");
            let committed = match slot.conn(&shared.pool).await {
                Ok(conn) => match shared.backend {
                    Backend::Sqlite => {
                        batch.statement("COMMIT");
                        batch.fetch_opening(conn, begin.then_some(BEGIN)).await.map(drop)
                    }
                    Backend::Postgres => match batch.execute(conn).await {
                        Ok(_) => conn.execute("COMMIT").await.map(drop),
                        Err(error) => Err(error),
                    },
                },
                Err(error) => Err(error),
            };
            if let Err(error) = committed {
                writer.fail(&error).await;
                return Err(error.into());
            }
            writer.open = false;
        }
        // Still under the writer lock, so that the events are remembered in position order.
        shared.remember(&recorded);
        if let Some(seq) = seq {
            shared.publish_head(seq.position);
        }
        shared.publish_scheduled(scheduled);
        Ok(())
    }

    fn usable(&self) -> Result<(), StoreError> {
        if self.aborted {
            Err(StoreError::Aborted)
        } else {
            Ok(())
        }
    }
}
