//! The write path: the sequencer, applying a group of commits in one transaction, the
//! group-commit writer task and [`StoreTx`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor, Row, Transaction};
use tokio::sync::{mpsc, oneshot, watch, Mutex, MutexGuard, OwnedMutexGuard};
use tracing::Instrument;
use uuid::Uuid;

use crate::sql::EVENT_INSERT_COLUMNS;
use crate::sql::{chunked, stored_time, to_micros, Batch, Placeholders};
use crate::{Backend, Commit, Committed, NewTimer, RecordedEvent, StoreError};

/// Most commits one group transaction takes from the queue.
const MAX_GROUP: usize = 256;
/// Commits that may wait for the writer before `commit()` callers are held back.
const QUEUE_CAPACITY: usize = 4 * MAX_GROUP;

/// Idle SQLite read connections a store keeps (more are closed when they come back).
const IDLE_READERS: usize = 8;

/// How a SQLite write transaction starts: with the database write lock, so that it never has
/// to upgrade a read lock (and fail with `SQLITE_BUSY`).
const BEGIN: &str = "BEGIN IMMEDIATE";

/// Events the store remembers for its relay (see [`Shared::recent_after`]).
const RECENT_EVENTS: usize = 4096;

/// Outcome of one commit of a group: its recorded events, or the precondition it failed.
type Outcome = Result<Vec<RecordedEvent>, StoreError>;

/// State shared by every clone of an [`EventStore`](crate::EventStore), its writer task and
/// its open [`StoreTx`]s.
pub(crate) struct Shared {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
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
    pub(crate) fn new(pool: AnyPool, backend: Backend, head: i64) -> Self {
        Self {
            pool,
            backend,
            write_lock: Arc::new(Mutex::new(WriterSlot::default())),
            head: watch::Sender::new(head),
            scheduled: watch::Sender::new(None),
            recent: std::sync::Mutex::new(VecDeque::with_capacity(RECENT_EVENTS)),
            readers: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// A connection for reads (see [`Reader`]).
    pub(crate) async fn reader(&self) -> Result<Reader<'_>, sqlx::Error> {
        let conn = match self.backend {
            Backend::Sqlite => {
                let idle = self.readers.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop();
                match idle {
                    Some(conn) => ReaderConn::Own(conn),
                    None => ReaderConn::Own(self.pool.acquire().await?.detach()),
                }
            }
            Backend::Postgres => ReaderConn::Pooled(self.pool.acquire().await?),
        };
        Ok(Reader { conn: Some(conn), shared: self })
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

/// The earliest due time among the timers `commits` schedule.
fn earliest_scheduled<'a>(commits: impl IntoIterator<Item = &'a Commit>) -> Option<DateTime<Utc>> {
    commits.into_iter().flat_map(|commit| &commit.schedule).map(|timer| timer.due_at).min()
}

/// The outcome of a one-commit group.
fn single(outcomes: &mut Vec<Outcome>) -> Outcome {
    outcomes.pop().expect("apply_commits returns one outcome per commit")
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

/// The one-row sequencer: last assigned global position and timer generation. Reading it
/// first in every write transaction (`FOR UPDATE` in Postgres) serializes writers, which is
/// what makes global positions gapless and visible in order.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Sequencer {
    position: i64,
    timer_generation: i64,
}

impl Sequencer {
    fn queue_lock(batch: &mut Batch<'_>, backend: Backend) {
        batch.statement(match backend {
            Backend::Postgres => "SELECT position, timer_generation FROM sequencer WHERE id = 1 FOR UPDATE",
            // BEGIN IMMEDIATE already holds the database write lock.
            Backend::Sqlite => "SELECT position, timer_generation FROM sequencer WHERE id = 1",
        });
    }

    fn from_rows(rows: Option<Vec<AnyRow>>) -> Result<Self, sqlx::Error> {
        let row = rows.and_then(|rows| rows.into_iter().next()).ok_or(sqlx::Error::RowNotFound)?;
        Ok(Self { position: row.try_get(0)?, timer_generation: row.try_get(1)? })
    }

    async fn lock(conn: &mut AnyConnection, backend: Backend) -> Result<Self, sqlx::Error> {
        let mut batch = Batch::new(Placeholders::of(conn));
        Self::queue_lock(&mut batch, backend);
        Self::from_rows(batch.fetch(conn).await?.pop())
    }

    fn queue_store(self, batch: &mut Batch<'_>) {
        let style = batch.style();
        let mut sql = String::from("UPDATE sequencer SET position = ");
        style.push(&mut sql, 1);
        sql.push_str(", timer_generation = ");
        style.push(&mut sql, 2);
        sql.push_str(" WHERE id = 1");
        batch.statement(&sql).bind(self.position).bind(self.timer_generation);
    }
}

/// How [`apply_commits`] stands to its transaction.
#[derive(Clone, Copy)]
struct Frame {
    /// Open it (`BEGIN IMMEDIATE`, SQLite) in the same round trip as the reads.
    begin: bool,
    /// The sequencer, if the transaction holds it already; else it is read (and locked) with
    /// the reads.
    seq: Option<Sequencer>,
    /// Commit it in the same round trip as the writes.
    commit: bool,
}

/// Checks and applies `commits` in order: one round trip for everything the checks read,
/// one for the writes (see [`Batch`]). A commit whose precondition fails gets its error and
/// writes nothing; a database error fails them all (the caller must then roll back). Returns
/// the outcomes and the sequencer after them.
async fn apply_commits(
    conn: &mut AnyConnection,
    backend: Backend,
    frame: Frame,
    commits: &[Commit],
) -> Result<(Vec<Outcome>, Sequencer), sqlx::Error> {
    let style = Placeholders::of(conn);
    let mut reads = Batch::new(style);
    if frame.seq.is_none() {
        Sequencer::queue_lock(&mut reads, backend);
    }
    let plan = GroupState::queue_reads(&mut reads, commits);
    let mut results = reads.fetch_opening(conn, frame.begin.then_some(BEGIN)).await?.into_iter();
    let mut seq = match frame.seq {
        Some(seq) => seq,
        None => Sequencer::from_rows(results.next())?,
    };
    let mut group = GroupState::from_rows(plan, &mut results)?;

    let recorded_at = stored_time(Utc::now());
    let before = seq;
    let mut events = Vec::new();
    let mut accepted = Vec::with_capacity(commits.len());
    for commit in commits {
        accepted.push(match group.check(commit) {
            Ok(()) => Ok(group.accept(commit, &mut seq, recorded_at, &mut events)),
            Err(error) => Err(error),
        });
    }

    let mut writes = Batch::new(style);
    queue_events(&mut writes, &events);
    if let (Some(first), Some(last)) = (events.first(), events.last()) {
        let mut sql = String::from(
            "INSERT INTO outbox (global_position) SELECT global_position FROM events WHERE global_position >= ",
        );
        style.push(&mut sql, 1);
        sql.push_str(" AND global_position <= ");
        style.push(&mut sql, 2);
        writes.statement(&sql).bind(first.global_position).bind(last.global_position);
    }
    queue_inbox(&mut writes, &group.inbox_rows, to_micros(recorded_at));
    queue_timers(&mut writes, &group.timer_writes);
    if seq != before {
        seq.queue_store(&mut writes);
    }
    if frame.commit {
        writes.statement("COMMIT");
    }
    writes.execute(conn).await?;

    let mut events = events.into_iter();
    let outcomes =
        accepted.into_iter().map(|accepted| accepted.map(|count| events.by_ref().take(count).collect())).collect();
    Ok((outcomes, seq))
}

/// What a group of commits sees: database state for everything the group touches, plus
/// the effects of the commits accepted so far.
struct GroupState<'a> {
    /// Current version of every stream the group appends to.
    versions: HashMap<&'a str, u64>,
    /// Inbox records among the group's claims.
    processed: HashSet<(&'a str, Uuid)>,
    /// Stored generation of every timer the group fires (absent: no such timer).
    stored_timers: HashMap<&'a str, i64>,
    /// Inbox rows to insert.
    inbox_rows: Vec<(&'a str, Uuid)>,
    /// Final state of every timer the accepted commits touched: upsert (timer and its new
    /// generation) or delete.
    timer_writes: HashMap<&'a str, Option<(&'a NewTimer, i64)>>,
}

/// The reads [`GroupState::queue_reads`] queued, in their order.
struct GroupReads<'a> {
    streams: Vec<&'a str>,
    claims: Vec<(&'a str, Vec<Uuid>)>,
    fired: Vec<&'a str>,
}

impl<'a> GroupState<'a> {
    /// Queues the reads that the checks of `commits` need.
    fn queue_reads(batch: &mut Batch<'a>, commits: &'a [Commit]) -> GroupReads<'a> {
        let style = batch.style();
        let streams: HashSet<&str> =
            commits.iter().flat_map(|commit| &commit.appends).map(|append| append.stream.as_str()).collect();
        let streams: Vec<&str> = streams.into_iter().collect();
        for chunk in chunked(&streams) {
            // One index probe per stream for its last version (a `GROUP BY` over an `IN`
            // list would read every event of the streams).
            let sql = format!(
                "SELECT v.column1, (SELECT COALESCE(MAX(e.stream_version), 0) FROM events e \
                 WHERE e.stream = v.column1) FROM (VALUES {}) AS v",
                style.values_rows(chunk.len(), 1)
            );
            let mut binds = batch.statement(&sql);
            for stream in chunk {
                binds.bind(*stream);
            }
        }

        let mut claims: HashMap<&str, Vec<Uuid>> = HashMap::new();
        for (consumer, event_id) in commits.iter().filter_map(|commit| commit.inbox.as_ref()) {
            claims.entry(consumer).or_default().push(*event_id);
        }
        let claims: Vec<(&str, Vec<Uuid>)> = claims.into_iter().collect();
        for (consumer, event_ids) in &claims {
            for chunk in chunked(event_ids) {
                let mut sql = String::from("SELECT event_id FROM inbox WHERE consumer = ");
                style.push(&mut sql, 1);
                sql.push_str(" AND event_id IN (");
                sql.push_str(&style.list(2, chunk.len()));
                sql.push(')');
                let mut binds = batch.statement(&sql);
                binds.bind(*consumer);
                for event_id in chunk {
                    binds.bind(event_id.to_string());
                }
            }
        }

        let fired: HashSet<&str> =
            commits.iter().filter_map(|commit| commit.fire.as_ref()).map(|(key, _)| key.as_str()).collect();
        let fired: Vec<&str> = fired.into_iter().collect();
        for chunk in chunked(&fired) {
            let sql = format!("SELECT key, generation FROM timers WHERE key IN ({})", style.list(1, chunk.len()));
            let mut binds = batch.statement(&sql);
            for key in chunk {
                binds.bind(*key);
            }
        }
        GroupReads { streams, claims, fired }
    }

    /// The state from the rows of the reads `plan` queued, taken from `results` in order.
    fn from_rows(plan: GroupReads<'a>, results: &mut impl Iterator<Item = Vec<AnyRow>>) -> Result<Self, sqlx::Error> {
        let mut next = || results.next().ok_or(sqlx::Error::RowNotFound);

        let mut versions: HashMap<&str, u64> = plan.streams.iter().map(|&s| (s, 0)).collect();
        for _ in chunked(&plan.streams) {
            for row in next()? {
                let stream: String = row.try_get(0)?;
                let version: i64 = row.try_get(1)?;
                if let Some(slot) = versions.get_mut(stream.as_str()) {
                    *slot = u64::try_from(version).map_err(|error| sqlx::Error::Decode(Box::new(error)))?;
                }
            }
        }

        let mut processed = HashSet::new();
        for (consumer, event_ids) in &plan.claims {
            for _ in chunked(event_ids) {
                for row in next()? {
                    let event_id: String = row.try_get(0)?;
                    let event_id = Uuid::parse_str(&event_id).map_err(|error| sqlx::Error::Decode(Box::new(error)))?;
                    processed.insert((*consumer, event_id));
                }
            }
        }

        let fired: HashSet<&str> = plan.fired.iter().copied().collect();
        let mut stored_timers = HashMap::new();
        for _ in chunked(&plan.fired) {
            for row in next()? {
                let key: String = row.try_get(0)?;
                let generation: i64 = row.try_get(1)?;
                if let Some(&key) = fired.get(key.as_str()) {
                    stored_timers.insert(key, generation);
                }
            }
        }

        Ok(Self { versions, processed, stored_timers, inbox_rows: Vec::new(), timer_writes: HashMap::new() })
    }

    /// Current generation of a timer, given the commits accepted so far.
    fn timer_generation(&self, key: &str) -> Option<i64> {
        match self.timer_writes.get(key) {
            Some(write) => write.map(|(_, generation)| generation),
            None => self.stored_timers.get(key).copied(),
        }
    }

    /// Checks a commit's preconditions against the state so far, without changing it.
    fn check(&self, commit: &Commit) -> Result<(), StoreError> {
        if let Some((key, generation)) = &commit.fire {
            if self.timer_generation(key) != Some(*generation) {
                return Err(StoreError::TimerGone { key: key.clone() });
            }
        }
        if let Some((consumer, event_id)) = &commit.inbox {
            if self.processed.contains(&(consumer.as_str(), *event_id)) {
                return Err(StoreError::AlreadyProcessed { consumer: consumer.clone(), event_id: *event_id });
            }
        }
        // Versions after this commit's earlier appends (a commit may append to a stream twice).
        let mut appended: HashMap<&str, u64> = HashMap::new();
        for append in &commit.appends {
            let stream = append.stream.as_str();
            let actual = appended.get(stream).or_else(|| self.versions.get(stream)).copied().unwrap_or(0);
            if !append.expected.matches(actual) {
                return Err(StoreError::Conflict { stream: append.stream.clone(), expected: append.expected, actual });
            }
            appended.insert(stream, actual + append.events.len() as u64);
        }
        Ok(())
    }

    /// Records the effects of a checked commit; its events are pushed to `events` with
    /// positions and versions assigned. Returns how many events it appended.
    fn accept(
        &mut self,
        commit: &'a Commit,
        seq: &mut Sequencer,
        recorded_at: chrono::DateTime<Utc>,
        events: &mut Vec<RecordedEvent>,
    ) -> usize {
        let first = events.len();
        for append in &commit.appends {
            let version = self.versions.entry(&append.stream).or_insert(0);
            for event in &append.events {
                *version += 1;
                seq.position += 1;
                events.push(RecordedEvent {
                    global_position: seq.position,
                    stream: append.stream.clone(),
                    stream_version: *version,
                    recorded_at,
                    event_id: event.event_id,
                    event_type: event.event_type.clone(),
                    occurred_at: stored_time(event.occurred_at),
                    correlation_id: event.correlation_id.clone(),
                    causation_id: event.causation_id.clone(),
                    actor: event.actor.clone(),
                    traceparent: event.traceparent.clone(),
                    schema_version: event.schema_version,
                    routing_key: event.routing_key.clone(),
                    payload: event.payload.clone(),
                });
            }
        }
        if let Some((consumer, event_id)) = &commit.inbox {
            self.processed.insert((consumer, *event_id));
            self.inbox_rows.push((consumer, *event_id));
        }
        if let Some((key, _)) = &commit.fire {
            self.timer_writes.insert(key, None);
        }
        for key in &commit.cancel {
            self.timer_writes.insert(key, None);
        }
        for timer in &commit.schedule {
            seq.timer_generation += 1;
            self.timer_writes.insert(&timer.key, Some((timer, seq.timer_generation)));
        }
        events.len() - first
    }
}

fn queue_events<'q>(batch: &mut Batch<'q>, events: &'q [RecordedEvent]) {
    let style = batch.style();
    for chunk in chunked(events) {
        let sql = format!(
            "INSERT INTO events (global_position, stream, stream_version, event_id, event_type, \
             occurred_at, recorded_at, correlation_id, causation_id, actor_role, actor_id, \
             actor_jurisdiction, traceparent, schema_version, routing_key, payload) VALUES {}",
            style.values_rows(chunk.len(), EVENT_INSERT_COLUMNS)
        );
        let mut binds = batch.statement(&sql);
        for event in chunk {
            binds
                .bind(event.global_position)
                .bind(event.stream.as_str())
                .bind(event.stream_version as i64)
                .bind(event.event_id.to_string())
                .bind(event.event_type.as_str())
                .bind(to_micros(event.occurred_at))
                .bind(to_micros(event.recorded_at))
                .bind(event.correlation_id.as_str())
                .bind(event.causation_id.as_str())
                .bind(event.actor.role.as_str())
                .bind(event.actor.id.as_str())
                .bind(event.actor.jurisdiction.as_str())
                .bind(event.traceparent.as_str())
                .bind(i64::from(event.schema_version))
                .bind(event.routing_key.as_str())
                .bind(event.payload.as_slice());
        }
    }
}

/// `INSERT INTO inbox (consumer, event_id, processed_at) VALUES ...` for `rows` rows.
fn inbox_insert(style: Placeholders, rows: usize) -> String {
    format!("INSERT INTO inbox (consumer, event_id, processed_at) VALUES {}", style.values_rows(rows, 3))
}

fn queue_inbox<'q>(batch: &mut Batch<'q>, rows: &[(&'q str, Uuid)], processed_at: i64) {
    let style = batch.style();
    for chunk in chunked(rows) {
        let mut binds = batch.statement(&inbox_insert(style, chunk.len()));
        for (consumer, event_id) in chunk {
            binds.bind(*consumer).bind(event_id.to_string()).bind(processed_at);
        }
    }
}

fn queue_timers<'q>(batch: &mut Batch<'q>, writes: &HashMap<&'q str, Option<(&'q NewTimer, i64)>>) {
    let style = batch.style();
    let mut upserts = Vec::new();
    let mut deletes = Vec::new();
    for (&key, write) in writes {
        match write {
            Some(upsert) => upserts.push(*upsert),
            None => deletes.push(key),
        }
    }
    for chunk in chunked(&upserts) {
        let sql = format!(
            "INSERT INTO timers (key, generation, due_at, kind, payload) VALUES {} \
             ON CONFLICT (key) DO UPDATE SET generation = excluded.generation, \
             due_at = excluded.due_at, kind = excluded.kind, payload = excluded.payload",
            style.values_rows(chunk.len(), 5)
        );
        let mut binds = batch.statement(&sql);
        for (timer, generation) in chunk {
            binds
                .bind(timer.key.as_str())
                .bind(*generation)
                .bind(to_micros(timer.due_at))
                .bind(timer.kind.as_str())
                .bind(timer.payload.as_slice());
        }
    }
    for chunk in chunked(&deletes) {
        let sql = format!("DELETE FROM timers WHERE key IN ({})", style.list(1, chunk.len()));
        let mut binds = batch.statement(&sql);
        for key in chunk {
            binds.bind(*key);
        }
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

    /// Closes the connection, after an error that may have left a transaction open: closing
    /// rolls it back, and the next write opens a fresh connection.
    async fn discard(&mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = conn.close().await;
        }
    }

    /// Rolls back the transaction a [`StoreTx`] left open.
    async fn roll_back(&mut self) {
        let rolled_back = match self.conn.as_mut() {
            Some(conn) => conn.execute("ROLLBACK").await.is_ok(),
            None => true,
        };
        if !rolled_back {
            self.discard().await;
        }
    }
}

/// A write transaction for read models, opened by [`EventStore::begin`](crate::EventStore::begin).
///
/// It holds the store's writer serialization (the in-process writer lock and the sequencer
/// row) until it is committed or dropped, so keep it short. While holding one, do not call the
/// store's other writing methods (`commit`, `save_checkpoint`, `outbox_ack`, `migrate_extra`,
/// `begin`) from the same task: they would wait for this transaction forever. Use
/// [`StoreTx::apply`] and [`StoreTx::save_checkpoint`] instead. Dropping it rolls back.
pub struct StoreTx {
    conn: TxConn,
    /// The sequencer, once read. Postgres reads (and locks) it at once: the row lock is what
    /// serializes read-model writers across processes. SQLite's `BEGIN IMMEDIATE` already
    /// holds the database write lock, so it is read with the first commit's reads, and a
    /// transaction that appends nothing (inbox claims, read-model rows) never reads it.
    seq: Option<Sequencer>,
    aborted: bool,
    /// The earliest due time among the timers the applied commits schedule.
    scheduled: Option<DateTime<Utc>>,
    /// The events the applied commits recorded, for the store to remember once committed.
    recorded: Vec<RecordedEvent>,
    shared: Arc<Shared>,
}

enum TxConn {
    /// Postgres: a pooled transaction. Field order is drop order: the transaction rolls back
    /// before the writer lock is freed.
    Pooled { tx: Transaction<'static, Any>, _writer: OwnedMutexGuard<WriterSlot> },
    /// SQLite: the writer's connection. The transaction begins in the same round trip as its
    /// first statements.
    Writer(WriterTx),
}

/// A transaction on the writer's connection (SQLite).
struct WriterTx {
    /// The writer lock with the connection; `None` once handed on (dropped).
    slot: Option<OwnedMutexGuard<WriterSlot>>,
    /// `BEGIN IMMEDIATE` has been sent and neither `COMMIT` nor `ROLLBACK`.
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
            Err(_) => slot.conn = None,
        }
    }
}

impl StoreTx {
    pub(crate) async fn begin(shared: Arc<Shared>) -> Result<Self, StoreError> {
        let writer = shared.write_lock.clone().lock_owned().await;
        let (conn, seq) = match shared.backend {
            Backend::Sqlite => (TxConn::Writer(WriterTx { slot: Some(writer), open: false }), None),
            Backend::Postgres => {
                let mut tx = shared.pool.begin().await?;
                let seq = Sequencer::lock(&mut tx, shared.backend).await?;
                (TxConn::Pooled { tx, _writer: writer }, Some(seq))
            }
        };
        Ok(Self { conn, seq, aborted: false, scheduled: None, recorded: Vec::new(), shared })
    }

    /// The connection and whether the transaction has yet to begin on it (SQLite: the caller
    /// sends `BEGIN IMMEDIATE` ahead of its statements, and it is taken as begun from here on,
    /// so that a failure rolls it back).
    async fn connection(&mut self) -> Result<(&mut AnyConnection, bool), sqlx::Error> {
        match &mut self.conn {
            TxConn::Pooled { tx, .. } => Ok((&mut **tx, false)),
            TxConn::Writer(writer) => {
                let begin = !writer.open;
                writer.open = true;
                let slot = writer.slot.as_mut().expect("the writer lock is held until the transaction ends");
                Ok((slot.conn(&self.shared.pool).await?, begin))
            }
        }
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
        let applied = match self.connection().await {
            Ok((conn, begin)) => {
                let frame = Frame { begin, seq, commit: false };
                apply_commits(conn, backend, frame, std::slice::from_ref(&commit)).await
            }
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
        let mut claims = 0;
        for chunk in chunked(event_ids) {
            let sql = format!(
                "{} ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id",
                inbox_insert(batch.style(), chunk.len())
            );
            let mut binds = batch.statement(&sql);
            for event_id in chunk {
                binds.bind(consumer).bind(event_id.to_string()).bind(processed_at);
            }
            claims += 1;
        }
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
        let StoreTx { conn, seq, scheduled, recorded, shared, .. } = self;
        // Still under the writer lock, so that the events are remembered in position order.
        let published = || {
            shared.remember(&recorded);
            if let Some(seq) = seq {
                shared.publish_head(seq.position);
            }
            shared.publish_scheduled(scheduled);
        };
        match conn {
            TxConn::Writer(mut writer) => {
                if writer.open || !batch.is_empty() {
                    let begin = !writer.open;
                    writer.open = true;
                    batch.statement("COMMIT");
                    let slot = writer.slot.as_mut().expect("the writer lock is held until the transaction ends");
                    batch.fetch_opening(slot.conn(&shared.pool).await?, begin.then_some(BEGIN)).await?;
                    writer.open = false;
                }
                published();
            }
            TxConn::Pooled { mut tx, _writer } => {
                batch.execute(&mut tx).await?;
                tx.commit().await?;
                published();
            }
        }
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

/// A connection for reads, from [`EventStore::reader`](crate::EventStore::reader); back to the
/// store when dropped. On SQLite it comes from a few connections the store keeps out of the
/// pool: sqlx pings a pooled connection each time it goes back (a round trip to its thread, as
/// dear as the read itself), which is worth it for a network connection that may have died
/// (Postgres readers are pooled) but not for a local file. Only for reads: a transaction left
/// open on it would stay open.
pub struct Reader<'s> {
    conn: Option<ReaderConn>,
    shared: &'s Shared,
}

enum ReaderConn {
    Own(AnyConnection),
    Pooled(sqlx::pool::PoolConnection<Any>),
}

impl std::ops::Deref for Reader<'_> {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match self.conn.as_ref().expect("a reader holds its connection until dropped") {
            ReaderConn::Own(conn) => conn,
            ReaderConn::Pooled(conn) => conn,
        }
    }
}

impl std::ops::DerefMut for Reader<'_> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self.conn.as_mut().expect("a reader holds its connection until dropped") {
            ReaderConn::Own(conn) => conn,
            ReaderConn::Pooled(conn) => conn,
        }
    }
}

impl Drop for Reader<'_> {
    /// A statement cut short (its future dropped) is no harm: the connection's thread runs the
    /// next one only after it.
    fn drop(&mut self) {
        if let Some(ReaderConn::Own(conn)) = self.conn.take() {
            let mut idle = self.shared.readers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if idle.len() < IDLE_READERS {
                idle.push(conn);
            }
        }
    }
}
