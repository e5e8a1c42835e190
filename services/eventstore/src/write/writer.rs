//! The group-commit writer task and the connection SQLite writes run on.

use std::sync::Arc;

use sqlx::{AnyConnection, AnyPool, Connection, Executor};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use super::group::{apply_commits, earliest_scheduled, single, Frame, Outcome};
use super::Shared;
use crate::{Backend, Commit, Committed, StoreError};

/// Most commits one group transaction takes from the queue.
const MAX_GROUP: usize = 256;
/// Commits that may wait for the writer before `commit()` callers are held back.
const QUEUE_CAPACITY: usize = 4 * MAX_GROUP;

impl Shared {
    /// Applies `commits` in one transaction; on a database error that one of them may have
    /// caused (a constraint violation, say), retries each in its own transaction so only the
    /// offending commit fails.
    async fn commit_group(&self, commits: &[Commit]) -> Vec<Result<Committed, StoreError>> {
        match self.run_group(commits).await {
            Ok((outcomes, head)) => {
                outcomes.into_iter().map(|outcome| outcome.map(|events| Committed { events, head })).collect()
            }
            Err(sqlx::Error::Database(error)) if commits.len() > 1 => {
                tracing::warn!(%error, commits = commits.len(), "group commit failed; retrying its commits one by one");
                let mut results = Vec::with_capacity(commits.len());
                for commit in commits {
                    let result = match self.run_group(std::slice::from_ref(commit)).await {
                        Ok((mut outcomes, head)) => single(&mut outcomes).map(|events| Committed { events, head }),
                        Err(error) => Err(error.into()),
                    };
                    results.push(result);
                }
                results
            }
            Err(error) => {
                let mut results: Vec<Result<Committed, StoreError>> =
                    (1..commits.len()).map(|_| Err(replicate(&error).into())).collect();
                results.insert(0, Err(error.into()));
                results
            }
        }
    }

    /// One group transaction: lock the sequencer, check and apply every commit, commit.
    ///
    /// SQLite runs it on the writer's connection ([`WriterSlot`]) in two round trips:
    /// `BEGIN IMMEDIATE` with the reads, then the writes with `COMMIT`. After an error the
    /// connection is closed, which rolls back whatever the transaction had done. Postgres runs
    /// it in a pooled transaction, the sequencer row locked `FOR UPDATE`.
    async fn run_group(&self, commits: &[Commit]) -> Result<(Vec<Outcome>, i64), sqlx::Error> {
        let events: usize = commits.iter().flat_map(|commit| &commit.appends).map(|append| append.events.len()).sum();
        let span = tracing::debug_span!("eventstore.commit", batch = commits.len(), events);
        async {
            let mut slot = self.write_lock.lock().await;
            let (outcomes, seq) = match self.backend {
                Backend::Sqlite => {
                    let frame = Frame { begin: true, seq: None, commit: true };
                    let result = apply_commits(slot.conn(&self.pool).await?, self.backend, frame, commits).await;
                    if result.is_err() {
                        slot.discard().await;
                    }
                    result?
                }
                Backend::Postgres => {
                    let mut tx = self.pool.begin().await?;
                    let frame = Frame { begin: false, seq: None, commit: false };
                    let applied = apply_commits(&mut tx, self.backend, frame, commits).await?;
                    tx.commit().await?;
                    applied
                }
            };
            self.remember(outcomes.iter().flatten().flatten());
            self.publish_head(seq.position);
            self.publish_scheduled(earliest_scheduled(
                commits.iter().zip(&outcomes).filter(|(_, o)| o.is_ok()).map(|(c, _)| c),
            ));
            tracing::debug!(head = seq.position, "group committed");
            Ok((outcomes, seq.position))
        }
        .instrument(span)
        .await
    }
}

/// A stand-in for `error` for the other callers of a failed group (`sqlx::Error` is not Clone).
fn replicate(error: &sqlx::Error) -> sqlx::Error {
    match error {
        sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
        sqlx::Error::PoolClosed => sqlx::Error::PoolClosed,
        sqlx::Error::WorkerCrashed => sqlx::Error::WorkerCrashed,
        sqlx::Error::Io(io) => sqlx::Error::Io(std::io::Error::new(io.kind(), io.to_string())),
        other => sqlx::Error::Protocol(format!("group commit failed: {other}")),
    }
}

/// A commit waiting for the writer task.
pub(crate) struct Pending {
    pub(crate) commit: Commit,
    pub(crate) reply: oneshot::Sender<Result<Committed, StoreError>>,
}

/// Starts the group-commit writer; it stops when every returned sender is dropped.
pub(crate) fn spawn_writer(shared: Arc<Shared>) -> mpsc::Sender<Pending> {
    let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
    tokio::spawn(writer_loop(shared, receiver));
    sender
}

/// Takes every pending commit (up to [`MAX_GROUP`]) and applies them in one transaction.
async fn writer_loop(shared: Arc<Shared>, mut receiver: mpsc::Receiver<Pending>) {
    let mut pending = Vec::with_capacity(MAX_GROUP);
    while receiver.recv_many(&mut pending, MAX_GROUP).await > 0 {
        let (commits, replies): (Vec<Commit>, Vec<_>) =
            pending.drain(..).map(|Pending { commit, reply }| (commit, reply)).unzip();
        let results = shared.commit_group(&commits).await;
        for (reply, result) in replies.into_iter().zip(results) {
            // The caller may have stopped waiting; the commit stands either way.
            let _ = reply.send(result);
        }
        // Let the callers just answered run before taking the next group, so that the commits
        // they follow up with join it instead of trailing in a group of their own.
        tokio::task::yield_now().await;
    }
    shared.write_lock.lock().await.discard().await;
}

/// The connection SQLite writes of this process run on, kept by the writer lock: group
/// commits, [`StoreTx`]s, acknowledgements. No other connection of the process writes, so its
/// page cache stays warm, and a write takes no pooled connection (sqlx pings a pooled
/// connection on its way back, one more round trip to its thread).
#[derive(Default)]
pub(crate) struct WriterSlot {
    conn: Option<AnyConnection>,
}

impl WriterSlot {
    /// The connection, taken from the pool (and kept out of it) on first use.
    pub(crate) async fn conn(&mut self, pool: &AnyPool) -> Result<&mut AnyConnection, sqlx::Error> {
        match self.conn {
            Some(ref mut conn) => Ok(conn),
            None => Ok(self.conn.insert(pool.acquire().await?.detach())),
        }
    }

    /// Drops the connection without a word to the database (outside a runtime, where it cannot
    /// be closed properly); the database rolls back what it had open.
    pub(super) fn abandon(&mut self) {
        self.conn = None;
    }

    /// Closes the connection, after an error that may have left a transaction open: closing
    /// rolls it back, and the next write opens a fresh connection.
    pub(super) async fn discard(&mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = conn.close().await;
        }
    }

    /// Rolls back the transaction a [`StoreTx`] left open.
    pub(super) async fn roll_back(&mut self) {
        let rolled_back = match self.conn.as_mut() {
            Some(conn) => conn.execute("ROLLBACK").await.is_ok(),
            None => true,
        };
        if !rolled_back {
            self.discard().await;
        }
    }
}
