//! The write statements of a group: events, outbox, inbox, timers; checkpoints.

use std::collections::HashMap;

use sqlx::{Any, Executor};
use uuid::Uuid;

use crate::sql::{chunked, to_micros, Batch, Placeholders, EVENT_INSERT_COLUMNS};
use crate::{NewTimer, RecordedEvent};

pub(super) fn queue_events<'q>(batch: &mut Batch<'q>, events: &'q [RecordedEvent]) {
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
pub(super) fn inbox_insert(style: Placeholders, rows: usize) -> String {
    format!("INSERT INTO inbox (consumer, event_id, processed_at) VALUES {}", style.values_rows(rows, 3))
}

pub(super) fn queue_inbox<'q>(batch: &mut Batch<'q>, rows: &[(&'q str, Uuid)], processed_at: i64) {
    let style = batch.style();
    for chunk in chunked(rows) {
        let mut binds = batch.statement(&inbox_insert(style, chunk.len()));
        for (consumer, event_id) in chunk {
            binds.bind(*consumer).bind(event_id.to_string()).bind(processed_at);
        }
    }
}

pub(super) fn queue_timers<'q>(batch: &mut Batch<'q>, writes: &HashMap<&'q str, Option<(&'q NewTimer, i64)>>) {
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
