//! SQL helpers shared by both backends: placeholders, chunking, row decoding, time encoding.

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use crate::{Actor, RecordedEvent, StoreError};

/// Columns of `events` (aliased `e`) in the order [`decode_event`] reads them, as a literal
/// for `concat!` so that read queries are `&'static str`.
macro_rules! event_columns {
    () => {
        "e.global_position, e.stream, e.stream_version, e.event_id, e.event_type, \
         e.occurred_at, e.recorded_at, e.correlation_id, e.causation_id, e.actor_role, \
         e.actor_id, e.actor_jurisdiction, e.traceparent, e.schema_version, e.routing_key, \
         e.payload"
    };
}
pub(crate) use event_columns;

/// Number of columns inserted per event row.
pub(crate) const EVENT_INSERT_COLUMNS: usize = 16;

/// Most rows (or list items) per multi-row statement: 256 rows × 16 columns stays far
/// below the bind-parameter limits of SQLite (32766) and Postgres (65535).
const MAX_ROWS_PER_STATEMENT: usize = 256;

/// Splits `items` into chunks of at most [`MAX_ROWS_PER_STATEMENT`].
pub(crate) fn chunked<T>(items: &[T]) -> std::slice::Chunks<'_, T> {
    items.chunks(MAX_ROWS_PER_STATEMENT)
}

/// Bind parameters of generated statements (multi-row inserts, `IN` lists): anonymous `?` in
/// SQLite, where sqlx looks each named `$n` up by name — a linear scan per parameter, so
/// quadratic in a statement of thousands (it took half of an append's and 90% of a replay's
/// time) — and `$n` in Postgres. Only for statements whose parameters are all bound in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholders {
    Anonymous,
    Numbered,
}

impl Placeholders {
    pub fn of(conn: &AnyConnection) -> Self {
        if conn.backend_name() == "SQLite" {
            Placeholders::Anonymous
        } else {
            Placeholders::Numbered
        }
    }

    /// Append the `n`th parameter (from 1).
    pub fn push(self, sql: &mut String, n: usize) {
        match self {
            Placeholders::Anonymous => sql.push('?'),
            Placeholders::Numbered => {
                use std::fmt::Write;
                write!(sql, "${n}").expect("writing to a String");
            }
        }
    }

    /// `($1, $2), ($3, $4), ...` for `rows` rows of `cols` columns.
    pub fn values_rows(self, rows: usize, cols: usize) -> String {
        let mut sql = String::with_capacity(rows * cols * 6);
        for row in 0..rows {
            sql.push_str(if row == 0 { "(" } else { ", (" });
            self.push_list(&mut sql, row * cols + 1, cols);
            sql.push(')');
        }
        sql
    }

    /// `$first, $first+1, ...` with `count` parameters.
    pub fn list(self, first: usize, count: usize) -> String {
        let mut sql = String::with_capacity(count * 6);
        self.push_list(&mut sql, first, count);
        sql
    }

    fn push_list(self, sql: &mut String, first: usize, count: usize) {
        for n in first..first + count {
            if n > first {
                sql.push_str(", ");
            }
            self.push(sql, n);
        }
    }
}

/// Timestamps are stored as unix microseconds.
pub(crate) fn to_micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

pub(crate) fn from_micros(micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp out of range: {micros}")))
}

/// `at` as it reads back from the store.
pub(crate) fn stored_time(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

/// Decodes a row selected with [`event_columns!`].
pub(crate) fn decode_event(row: &AnyRow) -> Result<RecordedEvent, StoreError> {
    let event_id: String = row.try_get(3)?;
    let stream_version: i64 = row.try_get(2)?;
    let schema_version: i64 = row.try_get(13)?;
    Ok(RecordedEvent {
        global_position: row.try_get(0)?,
        stream: row.try_get(1)?,
        stream_version: u64::try_from(stream_version)
            .map_err(|_| StoreError::Corrupt(format!("stream version {stream_version}")))?,
        event_id: Uuid::parse_str(&event_id).map_err(|e| StoreError::Corrupt(format!("event id {event_id:?}: {e}")))?,
        event_type: row.try_get(4)?,
        occurred_at: from_micros(row.try_get(5)?)?,
        recorded_at: from_micros(row.try_get(6)?)?,
        correlation_id: row.try_get(7)?,
        causation_id: row.try_get(8)?,
        actor: Actor { role: row.try_get(9)?, id: row.try_get(10)?, jurisdiction: row.try_get(11)? },
        traceparent: row.try_get(12)?,
        schema_version: u32::try_from(schema_version)
            .map_err(|_| StoreError::Corrupt(format!("schema version {schema_version}")))?,
        routing_key: row.try_get(14)?,
        payload: row.try_get(15)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_stay_below_the_row_limit() {
        let items: Vec<usize> = (0..600).collect();
        let sizes: Vec<usize> = chunked(&items).map(<[usize]>::len).collect();
        assert_eq!(sizes, [256, 256, 88]);
        assert_eq!(chunked::<u8>(&[]).count(), 0);
    }

    #[test]
    fn placeholders_are_numbered_across_rows_or_anonymous() {
        assert_eq!(Placeholders::Numbered.values_rows(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(Placeholders::Numbered.list(3, 2), "$3, $4");
        assert_eq!(Placeholders::Anonymous.values_rows(2, 2), "(?, ?), (?, ?)");
        assert_eq!(Placeholders::Anonymous.list(3, 3), "?, ?, ?");
        assert_eq!(Placeholders::Numbered.list(1, 0), "");
    }

    #[test]
    fn times_round_trip_at_microsecond_precision() {
        let at = DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap();
        let stored = from_micros(to_micros(at)).unwrap();
        assert_eq!(stored, stored_time(at));
        assert_eq!(stored.timestamp_subsec_nanos(), 123_456_000);
        let before_epoch = DateTime::from_timestamp(-5, 999_999_999).unwrap();
        assert_eq!(from_micros(to_micros(before_epoch)).unwrap(), stored_time(before_epoch));
    }
}
