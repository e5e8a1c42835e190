//! The group-commit writer task and the connection every write of a process runs on.

use std::sync::Arc;

use sqlx::postgres::PgConnectOptions;
use sqlx::{AnyConnection, AnyPool, Connection, Executor, PgConnection};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use super::group::{earliest_scheduled, single, Outcome, Sequencer};
use super::postgres::{self, Failure};
use super::sqlite::{self, Frame};
use super::Shared;
use crate::{Backend, Commit, Committed, StoreError};

/// Most commits one group transaction takes from the queue.
const MAX_GROUP: usize = 256;
/// Commits that may wait for the writer before `commit()` callers are held back.
const QUEUE_CAPACITY: usize = 4 * MAX_GROUP;
/// How often the writer yields, at most, to let the callers it answered queue their next commits.
const MAX_YIELDS: usize = 8;
/// Postgres: optimistic attempts at a group before it takes the sequencer's lock.
const OPTIMISTIC_ATTEMPTS: usize = 3;

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

    /// One group: every commit checked and applied, all in one transaction, on the writer's
    /// connection ([`WriterSlot`]). SQLite takes two round trips: `BEGIN IMMEDIATE` with the
    /// reads, then the writes with `COMMIT`. Postgres takes two as well, optimistically (see
    /// [`postgres`]). After an error, whatever transaction is open is rolled back.
    async fn run_group(&self, commits: &[Commit]) -> Result<(Vec<Outcome>, i64), sqlx::Error> {
        let events: usize = commits.iter().flat_map(|commit| &commit.appends).map(|append| append.events.len()).sum();
        let span = tracing::debug_span!("eventstore.commit", batch = commits.len(), events);
        async {
            let mut slot = self.write_lock.lock().await;
            let applied = match self.backend {
                Backend::Sqlite => {
                    let frame = Frame { begin: true, seq: None, commit: true };
                    match slot.conn(&self.pool).await {
                        Ok(conn) => sqlite::apply(conn, frame, commits).await,
                        Err(error) => Err(error),
                    }
                }
                Backend::Postgres => self.run_postgres_group(&mut slot, commits).await,
            };
            let (outcomes, seq) = match applied {
                Ok(applied) => applied,
                Err(error) => {
                    slot.recover(&error).await;
                    return Err(error);
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

    /// A group on Postgres: optimistic attempts first, on the writer's native connection; if
    /// other processes keep writing in between, a transaction under the sequencer's lock, which
    /// nobody can overtake.
    async fn run_postgres_group(
        &self,
        slot: &mut WriterSlot,
        commits: &[Commit],
    ) -> Result<(Vec<Outcome>, Sequencer), sqlx::Error> {
        let options = self.native.as_ref().expect("a Postgres store has native connect options");
        let mut reconnected = false;
        let mut attempts = 0;
        while attempts < OPTIMISTIC_ATTEMPTS {
            attempts += 1;
            let known = slot.known.take();
            match postgres::apply_native(slot.native(options).await?, commits, known).await {
                Ok(Some((outcomes, seq))) => {
                    slot.known = Some(seq);
                    return Ok((outcomes, seq));
                }
                Ok(None) => tracing::debug!(attempts, "another process wrote since the group's read"),
                // A connection that died while idle (the server restarted, say) fails on its next
                // read; nothing was written, so a fresh one may try again.
                Err(Failure::Reading(sqlx::Error::Io(error))) if !reconnected => {
                    tracing::info!(%error, "the writer's connection was lost; reconnecting");
                    slot.discard_native().await;
                    reconnected = true;
                    attempts -= 1;
                }
                Err(failure) => {
                    let error = sqlx::Error::from(failure);
                    if matches!(error, sqlx::Error::Io(_)) {
                        slot.discard_native().await;
                    }
                    return Err(error);
                }
            }
        }
        let conn = slot.locked(&self.pool).await?;
        let applied = postgres::apply(conn, commits)
            .await?
            .ok_or_else(|| sqlx::Error::Protocol("the sequencer's epoch changed under its lock".into()))?;
        conn.execute("COMMIT").await?;
        slot.known = Some(applied.1);
        Ok(applied)
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
        // they follow up with join it instead of trailing in a group of their own: while they
        // keep arriving (the callers run on every worker thread, not only this one).
        let mut queued = receiver.len();
        for _ in 0..MAX_YIELDS {
            tokio::task::yield_now().await;
            let now = receiver.len();
            if now == queued || now >= MAX_GROUP {
                break;
            }
            queued = now;
        }
    }
    let mut slot = shared.write_lock.lock().await;
    slot.discard().await;
    slot.discard_native().await;
}

/// The connection every write of this process runs on, kept by the writer lock: group commits
/// and [`StoreTx`](super::StoreTx)s. It stays out of the pool: no other connection of the
/// process writes, so SQLite's page cache stays warm, and a write neither waits for a pooled
/// connection nor pays the ping sqlx sends when one is acquired (Postgres) or returned
/// (SQLite), one more round trip each. A connection lost while idle is replaced when the next
/// write finds it so (see [`WriterSlot::locked`]).
#[derive(Default)]
pub(crate) struct WriterSlot {
    /// SQLite's writes; Postgres's [`StoreTx`](super::StoreTx)s, whose read-model statements
    /// need an `Any` connection.
    conn: Option<AnyConnection>,
    /// Postgres group commits, which bind binary arrays (see [`postgres`]).
    native: Option<PgConnection>,
    /// Postgres: the sequencer as this process's last write left it, if no [`StoreTx`](super::StoreTx) ran
    /// since (group commits presume it, see [`postgres`]).
    pub(super) known: Option<Sequencer>,
}

impl WriterSlot {
    /// The connection, taken from the pool (and kept out of it) on first use.
    pub(crate) async fn conn(&mut self, pool: &AnyPool) -> Result<&mut AnyConnection, sqlx::Error> {
        match self.conn {
            Some(ref mut conn) => Ok(conn),
            None => Ok(self.conn.insert(pool.acquire().await?.detach())),
        }
    }

    /// Postgres: the native connection for group commits, opened on first use.
    pub(super) async fn native(&mut self, options: &PgConnectOptions) -> Result<&mut PgConnection, sqlx::Error> {
        match self.native {
            Some(ref mut conn) => Ok(conn),
            None => Ok(self.native.insert(PgConnection::connect_with(options).await?)),
        }
    }

    /// Closes the native connection, after it failed; the next group opens a fresh one.
    async fn discard_native(&mut self) {
        self.known = None;
        if let Some(conn) = self.native.take() {
            let _ = conn.close().await;
        }
    }

    /// Postgres: the connection in a transaction that holds the sequencer's row lock
    /// ([`postgres::LOCK`]). A connection lost while idle is replaced once: nothing was done on it.
    pub(super) async fn locked(&mut self, pool: &AnyPool) -> Result<&mut AnyConnection, sqlx::Error> {
        match self.conn(pool).await?.execute(postgres::LOCK).await {
            Ok(_) => {}
            Err(sqlx::Error::Io(error)) => {
                tracing::info!(%error, "the writer's connection was lost; reconnecting");
                self.discard().await;
                self.conn(pool).await?.execute(postgres::LOCK).await?;
            }
            Err(error) => return Err(error),
        }
        self.conn(pool).await
    }

    /// Drops the connections without a word to the database (outside a runtime, where they
    /// cannot be closed properly); the database rolls back what they had open.
    pub(super) fn abandon(&mut self) {
        self.conn = None;
        self.native = None;
    }

    /// Closes the connection, after an error that may have left a transaction open: closing
    /// rolls it back, and the next write opens a fresh connection.
    pub(super) async fn discard(&mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = conn.close().await;
        }
    }

    /// After a failed write: roll back; and when the database could not take the write (full,
    /// read-only, going away), close the connections too, so that the next write opens fresh
    /// ones. A session opened while the database was read-only (a standby, or
    /// `default_transaction_read_only`) stays read-only after the database is writable again.
    pub(super) async fn recover(&mut self, error: &sqlx::Error) {
        if crate::error::unavailable(error).is_some() {
            self.discard().await;
            self.discard_native().await;
        } else {
            self.roll_back().await;
        }
    }

    /// Rolls back the transaction left open, if any (closing the connection if that fails).
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
