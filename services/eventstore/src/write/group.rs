//! Checking a group of commits against the database and applying it in one transaction.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use super::statements::{queue_events, queue_inbox, queue_timers};
use super::BEGIN;
use crate::sql::{chunked, stored_time, to_micros, Batch, Placeholders};
use crate::{Backend, Commit, NewTimer, RecordedEvent, StoreError};

/// Outcome of one commit of a group: its recorded events, or the precondition it failed.
pub(super) type Outcome = Result<Vec<RecordedEvent>, StoreError>;

/// The earliest due time among the timers `commits` schedule.
pub(super) fn earliest_scheduled<'a>(commits: impl IntoIterator<Item = &'a Commit>) -> Option<DateTime<Utc>> {
    commits.into_iter().flat_map(|commit| &commit.schedule).map(|timer| timer.due_at).min()
}

/// The outcome of a one-commit group.
pub(super) fn single(outcomes: &mut Vec<Outcome>) -> Outcome {
    outcomes.pop().expect("apply_commits returns one outcome per commit")
}

/// The one-row sequencer: last assigned global position and timer generation. Reading it
/// first in every write transaction (`FOR UPDATE` in Postgres) serializes writers, which is
/// what makes global positions gapless and visible in order.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Sequencer {
    pub(super) position: i64,
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

    pub(super) async fn lock(conn: &mut AnyConnection, backend: Backend) -> Result<Self, sqlx::Error> {
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
pub(super) struct Frame {
    /// Open it (`BEGIN IMMEDIATE`, SQLite) in the same round trip as the reads.
    pub(super) begin: bool,
    /// The sequencer, if the transaction holds it already; else it is read (and locked) with
    /// the reads.
    pub(super) seq: Option<Sequencer>,
    /// Commit it in the same round trip as the writes.
    pub(super) commit: bool,
}

/// Checks and applies `commits` in order: one round trip for everything the checks read,
/// one for the writes (see [`Batch`]). A commit whose precondition fails gets its error and
/// writes nothing; a database error fails them all (the caller must then roll back). Returns
/// the outcomes and the sequencer after them.
pub(super) async fn apply_commits(
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
