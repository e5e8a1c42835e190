//! gridloop-eventstore: the event store each gridloop service owns.
//!
//! In the embedded mode a service keeps one SQLite file (e.g. `./gridloop-data/dispatch.db`);
//! in production one Postgres schema (e.g. `dispatch`). One SQL code path serves both through
//! [`sqlx::Any`] for reads and read models; a group commit's statements are each backend's own
//! (see "Group commit").
//!
//! # Tables
//!
//! `events` (the log), `outbox` (ranges of positions not yet relayed to the bus), `checkpoints`
//! (subscriber positions), `inbox` (events a consumer has handled), `timers` (scheduled
//! work) and `sequencer` (one row: the last global position and timer generation; in Postgres
//! also the epoch, see below).
//! Timestamps are unix microseconds in `BIGINT`/`INTEGER` columns. The store's migrations
//! use versions below [`FIRST_EXTRA_MIGRATION_VERSION`]; read models add theirs with
//! [`EventStore::migrate_extra`] into the same `_sqlx_migrations` table.
//!
//! # Global order without gaps
//!
//! A reader following [`EventStore::read_all`] by position must never skip an event whose
//! transaction commits late. With a plain sequence or auto-increment that happens: T1 takes
//! position 5, T2 takes 6 and commits first, a reader sees 6 and moves past 5 before T1
//! commits. Here positions come from the one-row `sequencer`, and every write of the store's
//! state holds its lock: in SQLite every write transaction starts with `BEGIN IMMEDIATE`,
//! which takes the database write lock; in Postgres a transaction locks the row
//! (`SELECT ... FOR UPDATE`), and a group commit sets the row's new position *if its `epoch` is
//! still the one the group read* (a compare-and-set that takes the row lock; every write of
//! the store's state bumps the epoch). The lock is held until the transaction ends, so writers
//! are serialized: a transaction can only take positions after the previous one has committed
//! (and is visible) or rolled back (and its positions are reused). Positions therefore start
//! at 1, are contiguous, and become visible in order: whatever a reader sees is always a
//! prefix `1..=n`. This holds across processes sharing the database too. Within a process,
//! all writes additionally go through one async mutex, so transactions of the same store never
//! wait on each other inside the database (and SQLite never returns `SQLITE_BUSY` between
//! them).
//!
//! # Group commit
//!
//! [`EventStore::commit`] hands the [`Commit`] to a single writer task. The writer takes
//! every commit waiting (up to 256) and applies them in one transaction: it reads in one go
//! the sequencer, the current versions of all streams, the inbox records and the timer
//! generations the group refers to, then checks each commit's preconditions in order against
//! that state plus the effects of the commits accepted before it in the group. A commit whose
//! precondition fails gets its own error ([`StoreError::Conflict`],
//! [`StoreError::AlreadyProcessed`], [`StoreError::TimerGone`]) and writes nothing; the others
//! are written together and committed with one sync.
//!
//! - SQLite: two round trips to the connection's thread, `BEGIN IMMEDIATE` with all the reads,
//!   then all the writes with `COMMIT`, each sent as one multi-statement query of multi-row
//!   statements. (Those hand-offs, not the SQL, were most of a commit's cost.)
//! - Postgres: one statement reads the state, one writes everything (events, outbox, inbox,
//!   timers, sequencer) with the rows as one array per column, on a native connection that
//!   binds them in binary. Neither takes the sequencer's lock in advance: the write's
//!   compare-and-set of the epoch tells whether another process wrote since the read, and then
//!   the group is read again (after three such races, it runs under the lock). Most groups skip
//!   the read: their commits say what they expect, and the write statement checks that
//!   presumption itself, so a group is one round trip.
//!
//! All writes of a process, group commits and [`StoreTx`]s alike, run on connections that the
//! writer lock keeps out of the pool, so no pooled connection is pinged on their way; a
//! `StoreTx` begins in the round trip of its first statements (SQLite) or with the
//! sequencer's lock (Postgres). If the database rejects the group (say a duplicate event id),
//! each of its commits is retried on its own, so only the offending commit fails; other
//! database errors fail every commit of the group. After answering a group, the writer yields
//! while the callers it woke queue their next commits, so that those join the following group.
//!
//! # Timers
//!
//! A timer's generation comes from a store-wide counter in the sequencer, so it grows with
//! every scheduling, also when a key is cancelled and scheduled again or across restarts: a
//! stale [`DueTimer`] can never fire a newer scheduling of its key. [`EventStore::due_timers`]
//! is a plain read that claims nothing; firing exactly once is guaranteed by
//! [`Commit::fire`], which checks the `(key, generation)` under the writer lock and deletes the
//! timer in the same transaction (so concurrent firers, in this process or others, get
//! [`StoreError::TimerGone`] except one).
//!
//! # Durability
//!
//! SQLite runs in WAL mode with `synchronous = FULL` (every commit syncs the WAL) and a busy
//! timeout of 10 s. Postgres uses its defaults. A store opened with [`Durability::Relaxed`]
//! (the simulator's, which nobody recovers after a crash) does not sync at all and keeps its
//! statement journals in memory: a process crash still loses nothing committed, a machine
//! crash may.
//!
//! # Features
//!
//! `store` (default): the store itself. Without it only the plain types remain ([`NewEvent`],
//! [`RecordedEvent`], …), so decoders and planners of events build without a database driver.

#[cfg(feature = "store")]
mod error;
#[cfg(feature = "store")]
mod scan;
#[cfg(feature = "store")]
mod sql;
#[cfg(feature = "store")]
mod store;
#[cfg(feature = "store")]
pub mod testing;
mod types;
#[cfg(feature = "store")]
mod write;

#[cfg(feature = "store")]
pub use error::{StoreError, Unavailable};
#[cfg(feature = "store")]
pub use scan::Pages;
#[cfg(feature = "store")]
pub use sql::{Batch, Binds, Placeholders};
#[cfg(feature = "store")]
pub use store::{EventStore, FIRST_EXTRA_MIGRATION_VERSION};
pub use types::{
    Actor, Backend, Commit, Committed, DueTimer, Durability, ExpectedVersion, NewEvent, NewTimer, RecordedEvent,
    StoreOptions, StreamAppend,
};
#[cfg(feature = "store")]
pub use write::{Reader, StoreTx};
