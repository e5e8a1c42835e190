//! SQL helpers shared by both backends: placeholders, chunking, row decoding, time encoding.

use chrono::{DateTime, SubsecRound, Utc};
use futures::TryStreamExt;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::error::BoxDynError;
use sqlx::{Any, AnyConnection, Arguments, Either, Encode, Executor, Row, Type};
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

/// Longest query text kept prepared in the connection's statement cache (see
/// [`Batch::fetch_opening`]): 64 KiB, some seven full multi-row inserts of events.
const MAX_CACHED_QUERY_BYTES: usize = 64 * 1024;

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

    /// `sql`, written with `$1`, `$2`, ... (each once, in order), in this style.
    pub fn adapt(self, sql: &str) -> String {
        match self {
            Placeholders::Numbered => sql.to_owned(),
            Placeholders::Anonymous => {
                let mut adapted = String::with_capacity(sql.len());
                let mut chars = sql.chars().peekable();
                while let Some(c) = chars.next() {
                    if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
                        while chars.next_if(char::is_ascii_digit).is_some() {}
                        adapted.push('?');
                    } else {
                        adapted.push(c);
                    }
                }
                adapted
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

/// The statements of one step of a transaction, sent to the database together where it can
/// take them together. SQLite gets one multi-statement query: its anonymous `?` parameters
/// bind in order across the statements, so the batch costs one hand-off to the connection's
/// worker thread instead of one per statement (those hand-offs, not the SQL, were most of a
/// commit's cost). Postgres, which takes no parameters in a multi-statement query, runs them
/// one by one. Statements must use [`Placeholders`] of the batch's connection.
pub struct Batch<'q> {
    style: Placeholders,
    /// One multi-statement query (SQLite) or one entry per statement (Postgres).
    queries: Vec<(String, AnyArguments<'q>)>,
    statements: usize,
    /// The first value that failed to encode; reported when the batch runs.
    bind_error: Option<BoxDynError>,
}

/// Binds the parameters of one statement of a [`Batch`], in order.
pub struct Binds<'b, 'q> {
    arguments: &'b mut AnyArguments<'q>,
    error: &'b mut Option<BoxDynError>,
}

impl<'q> Binds<'_, 'q> {
    pub fn bind<T: 'q + Encode<'q, Any> + Type<Any>>(&mut self, value: T) -> &mut Self {
        if let Err(error) = self.arguments.add(value) {
            self.error.get_or_insert(error);
        }
        self
    }
}

impl<'q> Batch<'q> {
    pub fn new(style: Placeholders) -> Self {
        Self { style, queries: Vec::new(), statements: 0, bind_error: None }
    }

    pub fn style(&self) -> Placeholders {
        self.style
    }

    /// How many statements it holds: the index the next one's rows will have in
    /// [`Batch::fetch`]'s result.
    pub fn len(&self) -> usize {
        self.statements
    }

    pub fn is_empty(&self) -> bool {
        self.statements == 0
    }

    /// Adds a statement; bind its parameters, in order, on the returned [`Binds`].
    pub fn statement(&mut self, sql: &str) -> Binds<'_, 'q> {
        self.statements += 1;
        let fused = self.style == Placeholders::Anonymous && !self.queries.is_empty();
        if fused {
            let (text, _) = self.queries.last_mut().expect("a query");
            text.push_str(";\n");
            text.push_str(sql);
        } else {
            self.queries.push((sql.to_owned(), AnyArguments::default()));
        }
        let (_, arguments) = self.queries.last_mut().expect("a query");
        Binds { arguments, error: &mut self.bind_error }
    }

    /// Runs the statements in order.
    pub async fn execute(self, conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
        self.fetch(conn).await.map(drop)
    }

    /// Runs the statements in order and returns each one's rows.
    pub async fn fetch(self, conn: &mut AnyConnection) -> Result<Vec<Vec<AnyRow>>, sqlx::Error> {
        self.fetch_opening(conn, None).await
    }

    /// [`Batch::fetch`], after `opening` (a statement without parameters, such as `BEGIN`) in
    /// the same round trip where the backend allows; its result is not returned.
    pub(crate) async fn fetch_opening(
        mut self,
        conn: &mut AnyConnection,
        opening: Option<&str>,
    ) -> Result<Vec<Vec<AnyRow>>, sqlx::Error> {
        if let Some(error) = self.bind_error {
            return Err(sqlx::Error::Encode(error));
        }
        if let Some(opening) = opening {
            match (self.style, self.queries.first_mut()) {
                (Placeholders::Anonymous, Some((text, _))) => text.insert_str(0, &format!("{opening};\n")),
                _ => self.queries.insert(0, (opening.to_owned(), AnyArguments::default())),
            }
            self.statements += 1;
        }
        let mut results = Vec::with_capacity(self.statements);
        for (sql, arguments) in self.queries {
            // A query's text spells out its row counts, so a big one (a bulk load's commit) is
            // seldom run again: kept in the connection's statement cache, the prepared
            // statements of a hundred of them held hundreds of MB.
            let persistent = sql.len() <= MAX_CACHED_QUERY_BYTES;
            let mut stream = conn.fetch_many(sqlx::query_with(&sql, arguments).persistent(persistent));
            let mut rows = Vec::new();
            // Each statement's rows are followed by its result.
            while let Some(item) = stream.try_next().await? {
                match item {
                    Either::Left(_) => results.push(std::mem::take(&mut rows)),
                    Either::Right(row) => rows.push(row),
                }
            }
        }
        if results.len() != self.statements {
            return Err(sqlx::Error::Protocol(format!(
                "a batch of {} statements returned {} results",
                self.statements,
                results.len()
            )));
        }
        if opening.is_some() {
            results.remove(0);
        }
        Ok(results)
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

/// Decodes a row selected with [`event_columns!`], from sqlx's `Any` driver or a backend's own
/// (a native Postgres row skips the copy of every value `Any` makes).
pub(crate) fn decode_event<R: Row>(row: &R) -> Result<RecordedEvent, StoreError>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + Type<R::Database>,
{
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
        assert_eq!(Placeholders::Anonymous.adapt("a = $1 AND b IN ($2, $10)"), "a = ? AND b IN (?, ?)");
        assert_eq!(Placeholders::Numbered.adapt("a = $1"), "a = $1");
    }

    async fn sqlite_memory() -> AnyConnection {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        AnyConnection::connect("sqlite::memory:").await.unwrap()
    }

    #[tokio::test]
    async fn a_sqlite_batch_binds_in_order_across_statements_and_returns_each_ones_rows() {
        let mut conn = sqlite_memory().await;
        let mut batch = Batch::new(Placeholders::of(&conn));
        batch.statement("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)");
        batch.statement("INSERT INTO t (k, v) VALUES (?, ?), (?, ?)").bind("a").bind(1_i64).bind("b").bind(2_i64);
        batch.statement("SELECT v FROM t WHERE k = ?").bind("b");
        batch.statement("UPDATE t SET v = ? WHERE k = ?").bind(10_i64).bind("a");
        batch.statement("SELECT k, v FROM t ORDER BY k");
        // One query for the whole batch: one hand-off to the connection's thread.
        assert_eq!(batch.queries.len(), 1);
        let results = batch.fetch(&mut conn).await.unwrap();
        let counts: Vec<usize> = results.iter().map(Vec::len).collect();
        assert_eq!(counts, [0, 0, 1, 0, 2]);
        assert_eq!(results[2][0].try_get::<i64, _>(0).unwrap(), 2);
        let rows: Vec<(String, i64)> =
            results[4].iter().map(|row| (row.try_get(0).unwrap(), row.try_get(1).unwrap())).collect();
        assert_eq!(rows, [("a".to_string(), 10), ("b".to_string(), 2)]);
    }

    #[tokio::test]
    async fn a_failing_statement_fails_the_batch_and_an_empty_batch_runs_nothing() {
        let mut conn = sqlite_memory().await;
        assert!(Batch::new(Placeholders::Anonymous).fetch(&mut conn).await.unwrap().is_empty());
        let mut batch = Batch::new(Placeholders::of(&conn));
        batch.statement("CREATE TABLE t (k TEXT PRIMARY KEY)");
        batch.statement("INSERT INTO t (k) VALUES (?), (?)").bind("a").bind("a");
        batch.statement("INSERT INTO t (k) VALUES (?)").bind("c");
        let Err(error) = batch.fetch(&mut conn).await else { panic!("a duplicate key was inserted") };
        assert!(matches!(error, sqlx::Error::Database(ref db) if db.is_unique_violation()), "{error}");
        // Statements after the failing one did not run.
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t").fetch_one(&mut conn).await.unwrap();
        assert_eq!(count, 0);
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
