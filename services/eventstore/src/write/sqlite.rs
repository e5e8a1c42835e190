//! A group's statements on SQLite: the transaction's reads as one multi-statement query (with
//! its `BEGIN IMMEDIATE`), its writes as another (with its `COMMIT`), so a group is two round
//! trips to the connection's thread (see [`Batch`]). Multi-row statements bind anonymous `?`
//! parameters (see [`Placeholders`]) in chunks of at most 256 rows.

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use super::group::{decide, Claim, Keys, Outcome, Sequencer, Snapshot, Writes};
use super::BEGIN;
use crate::sql::{chunked, to_micros, Batch, Placeholders, EVENT_INSERT_COLUMNS};
use crate::Commit;

const STYLE: Placeholders = Placeholders::Anonymous;

/// How [`apply`] stands to its transaction.
#[derive(Clone, Copy)]
pub(super) struct Frame {
    /// Open it (`BEGIN IMMEDIATE`) in the same round trip as the reads.
    pub(super) begin: bool,
    /// The sequencer, if the transaction has read it already (no other writer can change it
    /// while the transaction holds the database's write lock).
    pub(super) seq: Option<Sequencer>,
    /// Commit it in the same round trip as the writes.
    pub(super) commit: bool,
}

/// Checks and applies `commits` in order: one round trip for everything the checks read, one
/// for the writes. A commit whose precondition fails gets its error and writes nothing; a
/// database error fails them all (the caller must then roll back). Returns the outcomes and
/// the sequencer after them.
pub(super) async fn apply(
    conn: &mut AnyConnection,
    frame: Frame,
    commits: &[Commit],
) -> Result<(Vec<Outcome>, Sequencer), sqlx::Error> {
    let keys = Keys::of(commits);
    let mut reads = Batch::new(STYLE);
    if frame.seq.is_none() {
        reads.statement("SELECT position, timer_generation FROM sequencer WHERE id = 1");
    }
    queue_reads(&mut reads, &keys);
    let mut results = reads.fetch_opening(conn, frame.begin.then_some(BEGIN)).await?.into_iter();
    let seq = match frame.seq {
        Some(seq) => seq,
        None => {
            let row = results.next().and_then(|rows| rows.into_iter().next()).ok_or(sqlx::Error::RowNotFound)?;
            Sequencer { position: row.try_get(0)?, timer_generation: row.try_get(1)?, epoch: 0 }
        }
    };
    let snapshot = decode_reads(&keys, &mut results)?;

    let decision = decide(commits, snapshot, seq);
    let mut writes = Batch::new(STYLE);
    queue_writes(&mut writes, &decision.writes);
    if frame.commit {
        writes.statement("COMMIT");
    }
    writes.execute(conn).await?;
    let after = decision.writes.after;
    Ok(decision.outcomes(after))
}

/// Queues the reads of the state at `keys`: the last version of each stream, the recorded
/// inbox entries among the claims, the generations of the fired timers.
fn queue_reads<'q>(batch: &mut Batch<'q>, keys: &Keys<'q>) {
    for chunk in chunked(&keys.streams) {
        // One index probe per stream for its last version (a `GROUP BY` over an `IN` list
        // would read every event of the streams).
        let sql = format!(
            "SELECT v.column1, (SELECT COALESCE(MAX(e.stream_version), 0) FROM events e \
             WHERE e.stream = v.column1) FROM (VALUES {}) AS v",
            STYLE.values_rows(chunk.len(), 1)
        );
        let mut binds = batch.statement(&sql);
        for stream in chunk {
            binds.bind(*stream);
        }
    }
    for (consumer, event_ids) in claims_by_consumer(keys) {
        for chunk in chunked(&event_ids) {
            let sql = format!(
                "SELECT consumer, event_id FROM inbox WHERE consumer = ? AND event_id IN ({})",
                STYLE.list(2, chunk.len())
            );
            let mut binds = batch.statement(&sql);
            binds.bind(consumer);
            for event_id in chunk {
                binds.bind(event_id.to_string());
            }
        }
    }
    for chunk in chunked(&keys.fired) {
        let sql = format!("SELECT key, generation FROM timers WHERE key IN ({})", STYLE.list(1, chunk.len()));
        let mut binds = batch.statement(&sql);
        for key in chunk {
            binds.bind(*key);
        }
    }
}

/// The claimed event ids of each consumer, in a stable order (the reads and their decoding
/// must agree on it).
fn claims_by_consumer<'a>(keys: &Keys<'a>) -> BTreeMap<&'a str, Vec<Uuid>> {
    let mut claims: BTreeMap<&str, Vec<Uuid>> = BTreeMap::new();
    for (consumer, event_id) in &keys.claims {
        claims.entry(consumer).or_default().push(*event_id);
    }
    claims
}

/// The state from the rows of the reads [`queue_reads`] queued, taken from `results` in order.
fn decode_reads(keys: &Keys<'_>, results: &mut impl Iterator<Item = Vec<AnyRow>>) -> Result<Snapshot, sqlx::Error> {
    let mut snapshot = Snapshot::of(keys);
    let mut next = || results.next().ok_or(sqlx::Error::RowNotFound);
    for _ in chunked(&keys.streams) {
        for row in next()? {
            snapshot.set_version(&row.try_get::<String, _>(0)?, row.try_get(1)?)?;
        }
    }
    for (_, event_ids) in claims_by_consumer(keys) {
        for _ in chunked(&event_ids) {
            for row in next()? {
                snapshot.mark_processed(row.try_get(0)?, &row.try_get::<String, _>(1)?)?;
            }
        }
    }
    for _ in chunked(&keys.fired) {
        for row in next()? {
            snapshot.timers.insert(row.try_get(0)?, row.try_get(1)?);
        }
    }
    Ok(snapshot)
}

/// Queues the group's writes: events and their outbox rows, inbox, timers, the sequencer.
fn queue_writes<'q>(batch: &mut Batch<'q>, writes: &'q Writes<'q>) {
    for chunk in chunked(&writes.events) {
        let sql = format!(
            "INSERT INTO events (global_position, stream, stream_version, event_id, event_type, \
             occurred_at, recorded_at, correlation_id, causation_id, actor_role, actor_id, \
             actor_jurisdiction, traceparent, schema_version, routing_key, payload) VALUES {}",
            STYLE.values_rows(chunk.len(), EVENT_INSERT_COLUMNS)
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
    if let (Some(first), Some(last)) = (writes.events.first(), writes.events.last()) {
        // A group's positions are contiguous: one range.
        batch
            .statement("INSERT INTO outbox (first_position, last_position) VALUES (?, ?)")
            .bind(first.global_position)
            .bind(last.global_position);
    }
    let processed_at = to_micros(writes.recorded_at);
    for chunk in chunked(&writes.inbox) {
        let mut binds = batch.statement(&inbox_insert(chunk.len()));
        for (consumer, event_id) in chunk {
            binds.bind(*consumer).bind(event_id.to_string()).bind(processed_at);
        }
    }
    for chunk in chunked(&writes.scheduled) {
        let sql = format!(
            "INSERT INTO timers (key, generation, due_at, kind, payload) VALUES {} \
             ON CONFLICT (key) DO UPDATE SET generation = excluded.generation, \
             due_at = excluded.due_at, kind = excluded.kind, payload = excluded.payload",
            STYLE.values_rows(chunk.len(), 5)
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
    for chunk in chunked(&writes.deleted) {
        let sql = format!("DELETE FROM timers WHERE key IN ({})", STYLE.list(1, chunk.len()));
        let mut binds = batch.statement(&sql);
        for key in chunk {
            binds.bind(*key);
        }
    }
    if writes.after != writes.before {
        batch
            .statement("UPDATE sequencer SET position = ?, timer_generation = ? WHERE id = 1")
            .bind(writes.after.position)
            .bind(writes.after.timer_generation);
    }
}

/// `INSERT INTO inbox (consumer, event_id, processed_at) VALUES ...` for `rows` rows.
fn inbox_insert(rows: usize) -> String {
    format!("INSERT INTO inbox (consumer, event_id, processed_at) VALUES {}", STYLE.values_rows(rows, 3))
}

/// Queues the claim of `event_ids` for `consumer` in its inbox: the statements return the ids
/// it had not recorded before. Returns how many statements it queued.
pub(super) fn queue_claim<'q>(
    batch: &mut Batch<'q>,
    Claim { consumer, event_ids, processed_at }: Claim<'q, '_>,
) -> usize {
    let mut statements = 0;
    for chunk in chunked(event_ids) {
        let sql =
            format!("{} ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id", inbox_insert(chunk.len()));
        let mut binds = batch.statement(&sql);
        for event_id in chunk {
            binds.bind(consumer).bind(event_id.to_string()).bind(processed_at);
        }
        statements += 1;
    }
    statements
}
