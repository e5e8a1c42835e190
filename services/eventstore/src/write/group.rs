//! Deciding a group of commits: each commit's preconditions checked in order against the store's
//! state plus the effects of the commits accepted before it, and what the accepted ones write.
//! The same on both backends; how the state is read and the writes travel is in [`sqlite`] and
//! [`postgres`].
//!
//! [`sqlite`]: super::sqlite
//! [`postgres`]: super::postgres

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::sql::stored_time;
use crate::{Commit, NewTimer, RecordedEvent, StoreError};

/// Outcome of one commit of a group: its recorded events, or the precondition it failed.
pub(super) type Outcome = Result<Vec<RecordedEvent>, StoreError>;

/// The one-row sequencer: last assigned global position and timer generation, and the epoch
/// every Postgres write of the store's state bumps (see [`postgres`](super::postgres); SQLite
/// leaves it at 0). Reading it under its lock serializes writers, which is what makes global
/// positions gapless and visible in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Sequencer {
    pub(super) position: i64,
    pub(super) timer_generation: i64,
    pub(super) epoch: i64,
}

/// The keys a group's checks read: the streams it appends to, the inbox entries it claims and
/// the timers it fires, each once.
pub(super) struct Keys<'a> {
    pub(super) streams: Vec<&'a str>,
    pub(super) claims: Vec<(&'a str, Uuid)>,
    pub(super) fired: Vec<&'a str>,
}

impl<'a> Keys<'a> {
    pub(super) fn of(commits: &'a [Commit]) -> Self {
        let streams: HashSet<&str> =
            commits.iter().flat_map(|commit| &commit.appends).map(|append| append.stream.as_str()).collect();
        let claims: HashSet<(&str, Uuid)> = commits
            .iter()
            .filter_map(|commit| commit.inbox.as_ref())
            .map(|(consumer, event_id)| (consumer.as_str(), *event_id))
            .collect();
        let fired: HashSet<&str> =
            commits.iter().filter_map(|commit| commit.fire.as_ref()).map(|(key, _)| key.as_str()).collect();
        Self {
            streams: streams.into_iter().collect(),
            claims: claims.into_iter().collect(),
            fired: fired.into_iter().collect(),
        }
    }
}

/// A batch consumer's claim of events in its inbox (see [`StoreTx::claim_inbox`]).
///
/// [`StoreTx::claim_inbox`]: super::StoreTx::claim_inbox
#[derive(Clone, Copy)]
pub(super) struct Claim<'q, 'e> {
    pub(super) consumer: &'q str,
    pub(super) event_ids: &'e [Uuid],
    /// When the claim is recorded (unix microseconds).
    pub(super) processed_at: i64,
}

/// The store's state at a group's [`Keys`], as read at the start of the group.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Snapshot {
    /// Current version of every stream of the keys (0: no such stream).
    pub(super) versions: HashMap<String, u64>,
    /// The claimed inbox entries already recorded, by consumer.
    pub(super) processed: HashMap<String, HashSet<Uuid>>,
    /// Stored generation of every fired timer that exists.
    pub(super) timers: HashMap<String, i64>,
}

impl Snapshot {
    /// A snapshot where every stream of `keys` is new; the reads fill in what exists.
    pub(super) fn of(keys: &Keys<'_>) -> Self {
        Self { versions: keys.streams.iter().map(|stream| (stream.to_string(), 0)).collect(), ..Self::default() }
    }

    pub(super) fn set_version(&mut self, stream: &str, version: i64) -> Result<(), sqlx::Error> {
        let version = u64::try_from(version).map_err(|error| sqlx::Error::Decode(Box::new(error)))?;
        if let Some(slot) = self.versions.get_mut(stream) {
            *slot = version;
        }
        Ok(())
    }

    pub(super) fn mark_processed(&mut self, consumer: String, event_id: &str) -> Result<(), sqlx::Error> {
        let event_id = Uuid::parse_str(event_id).map_err(|error| sqlx::Error::Decode(Box::new(error)))?;
        self.processed.entry(consumer).or_default().insert(event_id);
        Ok(())
    }
}

/// What the accepted commits of a group write, in one transaction.
pub(super) struct Writes<'a> {
    /// Appended events, positions and versions assigned; each also goes to the outbox.
    pub(super) events: Vec<RecordedEvent>,
    /// When the group was written: the events' `recorded_at`, the inbox rows' `processed_at`.
    pub(super) recorded_at: DateTime<Utc>,
    /// Inbox entries to record.
    pub(super) inbox: Vec<(&'a str, Uuid)>,
    /// Timers to upsert, each with its new generation.
    pub(super) scheduled: Vec<(&'a NewTimer, i64)>,
    /// Timers to delete (fired or cancelled).
    pub(super) deleted: Vec<&'a str>,
    /// The sequencer the group started from, and after it.
    pub(super) before: Sequencer,
    pub(super) after: Sequencer,
}

impl Writes<'_> {
    /// Whether the group changes the store's state at all.
    pub(super) fn is_empty(&self) -> bool {
        self.events.is_empty() && self.inbox.is_empty() && self.scheduled.is_empty() && self.deleted.is_empty()
    }
}

/// How the commits of a group fared: per commit, the number of events it appended or the
/// precondition it failed, and what the group writes.
pub(super) struct Decision<'a> {
    accepted: Vec<Result<usize, StoreError>>,
    pub(super) writes: Writes<'a>,
}

impl Decision<'_> {
    /// Each commit's outcome (the events are those of `writes`, handed out in commit order),
    /// and the sequencer as the written group left it.
    pub(super) fn outcomes(self, after: Sequencer) -> (Vec<Outcome>, Sequencer) {
        let Decision { accepted, writes } = self;
        let mut events = writes.events.into_iter();
        let outcomes =
            accepted.into_iter().map(|accepted| accepted.map(|count| events.by_ref().take(count).collect())).collect();
        (outcomes, after)
    }
}

/// Checks `commits` in order against `snapshot` (taken when the sequencer read `seq`) and the
/// effects of the commits accepted before each, and gathers what the accepted ones write.
pub(super) fn decide(commits: &[Commit], snapshot: Snapshot, seq: Sequencer) -> Decision<'_> {
    let recorded_at = stored_time(Utc::now());
    let mut group = GroupState { snapshot, inbox: Vec::new(), timer_writes: HashMap::new() };
    let mut after = seq;
    let mut events = Vec::new();
    let accepted = commits
        .iter()
        .map(|commit| group.check(commit).map(|()| group.accept(commit, &mut after, recorded_at, &mut events)))
        .collect();
    let mut scheduled = Vec::new();
    let mut deleted = Vec::new();
    for (key, write) in group.timer_writes {
        match write {
            Some(upsert) => scheduled.push(upsert),
            None => deleted.push(key),
        }
    }
    let writes = Writes { events, recorded_at, inbox: group.inbox, scheduled, deleted, before: seq, after };
    Decision { accepted, writes }
}

/// What a group of commits sees: the state read for everything the group touches, plus the
/// effects of the commits accepted so far.
struct GroupState<'a> {
    snapshot: Snapshot,
    /// Inbox rows to insert.
    inbox: Vec<(&'a str, Uuid)>,
    /// Final state of every timer the accepted commits touched: upsert (timer and its new
    /// generation) or delete.
    timer_writes: HashMap<&'a str, Option<(&'a NewTimer, i64)>>,
}

impl<'a> GroupState<'a> {
    /// Current generation of a timer, given the commits accepted so far.
    fn timer_generation(&self, key: &str) -> Option<i64> {
        match self.timer_writes.get(key) {
            Some(write) => write.map(|(_, generation)| generation),
            None => self.snapshot.timers.get(key).copied(),
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
            if self.snapshot.processed.get(consumer).is_some_and(|handled| handled.contains(event_id)) {
                return Err(StoreError::AlreadyProcessed { consumer: consumer.clone(), event_id: *event_id });
            }
        }
        // Versions after this commit's earlier appends (a commit may append to a stream twice).
        let mut appended: HashMap<&str, u64> = HashMap::new();
        for append in &commit.appends {
            let stream = append.stream.as_str();
            let actual = appended.get(stream).or_else(|| self.snapshot.versions.get(stream)).copied().unwrap_or(0);
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
        recorded_at: DateTime<Utc>,
        events: &mut Vec<RecordedEvent>,
    ) -> usize {
        let first = events.len();
        for append in &commit.appends {
            let version = self.snapshot.versions.entry(append.stream.clone()).or_insert(0);
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
            self.snapshot.processed.entry(consumer.clone()).or_default().insert(*event_id);
            self.inbox.push((consumer, *event_id));
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

/// The earliest due time among the timers `commits` schedule.
pub(super) fn earliest_scheduled<'a>(commits: impl IntoIterator<Item = &'a Commit>) -> Option<DateTime<Utc>> {
    commits.into_iter().flat_map(|commit| &commit.schedule).map(|timer| timer.due_at).min()
}

/// The outcome of a one-commit group.
pub(super) fn single(outcomes: &mut Vec<Outcome>) -> Outcome {
    outcomes.pop().expect("a group has one outcome per commit")
}
