//! Plain data types of the store's public API.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The database behind an [`EventStore`](crate::EventStore).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// One SQLite file per service (embedded mode).
    Sqlite,
    /// One Postgres schema per service (production).
    Postgres,
}

/// Connection options for [`EventStore::connect`](crate::EventStore::connect).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    /// Postgres schema holding this store's tables (created if absent). Ignored by SQLite.
    /// Must be an identifier: ASCII letters, digits and `_`, not starting with a digit.
    pub schema: Option<String>,
    /// Size of the connection pool; at least 2 are used, since a [`StoreTx`](crate::StoreTx)
    /// holds one while its owner may still read through another.
    pub max_connections: u32,
    /// What a commit survives. Ignored by Postgres.
    pub durability: Durability,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self { schema: None, max_connections: 8, durability: Durability::Full }
    }
}

/// What a committed transaction survives (SQLite).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// A crash of the process or of the machine: every commit syncs the WAL.
    #[default]
    Full,
    /// A crash of the process only, for stores that are thrown away or rebuilt rather than
    /// recovered (the simulator's city): commits are not synced, statement journals and
    /// temporary tables stay in memory.
    Relaxed,
}

/// Who caused an event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Actor {
    pub role: String,
    pub id: String,
    pub jurisdiction: String,
}

/// An event to append. The envelope is stored in columns; the payload is opaque bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    /// UUIDv7 chosen by the caller; unique across the store.
    pub event_id: Uuid,
    /// Fully qualified type name, e.g. `gridloop.v1.CaseOpened`.
    pub event_type: String,
    /// Stored with microsecond precision.
    pub occurred_at: DateTime<Utc>,
    /// The case id.
    pub correlation_id: String,
    pub causation_id: String,
    pub actor: Actor,
    pub traceparent: String,
    pub schema_version: u32,
    /// Jurisdiction code of the case, used for subject routing.
    pub routing_key: String,
    /// Protobuf bytes; opaque to the store.
    pub payload: Vec<u8>,
}

/// An event as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedEvent {
    /// Position in the store-wide order: starts at 1, contiguous.
    pub global_position: i64,
    pub stream: String,
    /// Position within the stream: starts at 1, contiguous.
    pub stream_version: u64,
    /// When the event was written (microsecond precision).
    pub recorded_at: DateTime<Utc>,
    pub event_id: Uuid,
    pub event_type: String,
    /// Microsecond precision.
    pub occurred_at: DateTime<Utc>,
    pub correlation_id: String,
    pub causation_id: String,
    pub actor: Actor,
    pub traceparent: String,
    pub schema_version: u32,
    pub routing_key: String,
    pub payload: Vec<u8>,
}

/// Optimistic concurrency precondition of a [`StreamAppend`]. Versions are 1-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream must not exist yet (same as `Exact(0)`).
    NoStream,
    /// The stream's current version must be exactly this (0 = the stream does not exist).
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream currently at `actual` satisfies this expectation.
    pub fn matches(self, actual: u64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::Exact(expected) => actual == expected,
        }
    }
}

/// Events to append to one stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamAppend {
    pub stream: String,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
}

/// A timer to schedule (upserted by key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTimer {
    pub key: String,
    /// Stored with microsecond precision.
    pub due_at: DateTime<Utc>,
    pub kind: String,
    pub payload: Vec<u8>,
}

/// A scheduled timer whose due time has come.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueTimer {
    pub key: String,
    /// Identifies this scheduling of the key; fire with `Commit::fire = Some((key, generation))`.
    pub generation: i64,
    pub due_at: DateTime<Utc>,
    pub kind: String,
    pub payload: Vec<u8>,
}

/// Everything one command or handler does, applied in one transaction: all or nothing.
///
/// Preconditions (`fire`, `inbox`, each append's `expected`) are checked before anything is
/// written; if one fails, the commit gets that error and writes nothing. Effects are applied in
/// this order: appends (to `events` and `outbox`), inbox record, fired timer deleted, `cancel`,
/// `schedule` — so a handler may fire a timer and re-schedule the same key in one commit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Commit {
    /// Events go to `events` and to `outbox` in the same transaction.
    pub appends: Vec<StreamAppend>,
    /// Upsert by key; re-scheduling an existing key gives it a new, higher generation.
    pub schedule: Vec<NewTimer>,
    /// Delete timers by key, if present.
    pub cancel: Vec<String>,
    /// `(key, generation)` of the timer being fired: it must still exist with that generation,
    /// else [`StoreError::TimerGone`](crate::StoreError::TimerGone). It is deleted in the
    /// transaction, so a timer never fires twice, also across restarts and processes.
    pub fire: Option<(String, i64)>,
    /// `(consumer, event id)` being handled: if already recorded,
    /// [`StoreError::AlreadyProcessed`](crate::StoreError::AlreadyProcessed); else recorded.
    pub inbox: Option<(String, Uuid)>,
}

impl Commit {
    /// A commit that appends `events` to one stream and does nothing else.
    pub fn append(stream: impl Into<String>, expected: ExpectedVersion, events: Vec<NewEvent>) -> Self {
        Self { appends: vec![StreamAppend { stream: stream.into(), expected, events }], ..Self::default() }
    }
}

/// Result of a successful [`EventStore::commit`](crate::EventStore::commit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    /// The appended events, in append order.
    pub events: Vec<RecordedEvent>,
    /// The store's head position right after the transaction that carried this commit
    /// (it may carry other commits too, so `head` can exceed this commit's last position).
    pub head: i64,
}
