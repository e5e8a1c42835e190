//! [`EventStore`]: connecting, migrating, reading, and the writes that are not commits.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::error::BoxDynError;
use sqlx::migrate::{MigrateError, Migration, MigrationSource, Migrator};
use sqlx::postgres::PgConnectOptions;
use sqlx::{AnyConnection, AnyPool, Connection, Executor, Row};
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

use crate::sql::{decode_event, event_columns, from_micros, to_micros, Batch};
use crate::write::{spawn_writer, upsert_checkpoint, Pending, Reader, Shared};
use crate::{Backend, Commit, Committed, DueTimer, Durability, RecordedEvent, StoreError, StoreOptions, StoreTx};

/// Migrations of other crates (read models) must use versions from here on; the event
/// store's own are below.
pub const FIRST_EXTRA_MIGRATION_VERSION: i64 = 1000;

/// How long a read waits for a pooled connection before it fails as unavailable. While Postgres
/// is down the pool keeps trying to connect until then: sqlx's default of 30 s equals the gRPC
/// servers' request timeout, which then cut such a command with CANCELLED instead of answering
/// UNAVAILABLE, which clients retry.
const POOL_ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Per-connection SQLite settings. `synchronous = FULL` makes every commit durable (the WAL
/// is synced at each commit); group commit amortizes that sync over many commits.
/// `secure_delete = FAST` zeroes what a deleted or shrunk row leaves in its page whenever that
/// page is written anyway (no extra I/O): an erased reporter's wrapped data key must not stay
/// behind in a page's free space.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000; \
     PRAGMA foreign_keys = ON; PRAGMA secure_delete = FAST;";

/// The same for a [`Durability::Relaxed`] store: no sync at commit (a process crash loses
/// nothing, the OS has the WAL; a machine crash may lose the last commits) and statement
/// journals in memory (a multi-row upsert inside a transaction keeps one, which otherwise
/// spills to a temporary file on disk).
const SQLITE_RELAXED_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; \
     PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;";

/// SQLite page cache of the writer's connection during a bulk load (KiB; see
/// [`EventStore::prepare_bulk_load`]).
const BULK_CACHE_KIB: u32 = 256 * 1024;
/// WAL pages between automatic checkpoints during a bulk load (4 KiB pages: 256 MiB).
const BULK_CHECKPOINT_PAGES: u32 = 64 * 1024;

/// An event store: events, outbox, checkpoints, inbox and timers of one service.
/// Cheap to clone; clones share the pool and the writer.
#[derive(Clone)]
pub struct EventStore {
    pub(crate) shared: Arc<Shared>,
    writer: mpsc::Sender<Pending>,
}

impl fmt::Debug for EventStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventStore")
            .field("backend", &self.shared.backend)
            .field("head", &self.shared.published_head())
            .finish_non_exhaustive()
    }
}

impl EventStore {
    /// Connects to `sqlite://path/file.db` (the file and its directory are created if
    /// missing) or `postgres://...`, and runs the store's migrations.
    pub async fn connect(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let pool_options =
            AnyPoolOptions::new().max_connections(options.max_connections.max(2)).acquire_timeout(POOL_ACQUIRE_TIMEOUT);
        let (backend, pool, native) = match backend_of(url)? {
            Backend::Sqlite => {
                let url = prepare_sqlite(url)?;
                let pragmas = match options.durability {
                    Durability::Full => SQLITE_PRAGMAS,
                    Durability::Relaxed => SQLITE_RELAXED_PRAGMAS,
                };
                // A SQLite connection is a file handle on a local worker thread: there is no link
                // to go stale, so the ping sqlx sends on every acquire would only add a round
                // trip to that thread per statement (a fifth of the simulator's thread wake-ups).
                let pool = pool_options
                    .test_before_acquire(false)
                    .after_connect(move |conn, _| {
                        Box::pin(async move {
                            conn.execute(pragmas).await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?;
                (Backend::Sqlite, pool, None)
            }
            Backend::Postgres => {
                // The group writer's statements have the same text whatever their arrays hold: a
                // generic plan serves them all, and spares a plan per execution.
                let mut native = PgConnectOptions::from_str(url)?.options([("plan_cache_mode", "force_generic_plan")]);
                let pool = match options.schema.as_deref() {
                    Some(schema) => {
                        let schema = quoted_schema(schema)?;
                        native = native.options([("search_path", schema.as_str())]);
                        let mut conn = AnyConnection::connect(url).await?;
                        conn.execute(format!("CREATE SCHEMA IF NOT EXISTS {schema}").as_str()).await?;
                        conn.close().await?;
                        let set_path: Arc<str> = format!("SET search_path TO {schema}").into();
                        pool_options
                            .after_connect(move |conn, _| {
                                let set_path = Arc::clone(&set_path);
                                Box::pin(async move {
                                    conn.execute(&*set_path).await?;
                                    Ok(())
                                })
                            })
                            .connect(url)
                            .await?
                    }
                    None => pool_options.connect(url).await?,
                };
                (Backend::Postgres, pool, Some(native))
            }
        };

        let mut migrator = match backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("migrations/postgres"),
        };
        migrator.set_ignore_missing(true);
        migrator.run(&pool).await?;

        let head = head_position(&pool).await?;
        let shared = Arc::new(Shared::new(pool, backend, native, head));
        let writer = spawn_writer(Arc::clone(&shared));
        Ok(Self { shared, writer })
    }

    pub fn backend(&self) -> Backend {
        self.shared.backend
    }

    /// The connection pool, for read-model queries of other crates. On Postgres its
    /// connections use the store's schema as `search_path`.
    pub fn pool(&self) -> &AnyPool {
        &self.shared.pool
    }

    /// Runs a read model's migrations: `sqlite` or `postgres`, whichever is this store's
    /// backend. They share the `_sqlx_migrations` table with the store's own, so their
    /// versions must be at least [`FIRST_EXTRA_MIGRATION_VERSION`]; migrations recorded by
    /// other migrators are ignored.
    pub async fn migrate_extra(&self, sqlite: &Migrator, postgres: &Migrator) -> Result<(), StoreError> {
        let source = match self.backend() {
            Backend::Sqlite => sqlite,
            Backend::Postgres => postgres,
        };
        if let Some(migration) = source.iter().find(|migration| migration.version < FIRST_EXTRA_MIGRATION_VERSION) {
            let message = format!(
                "migration {} uses a version reserved for the event store \
                 (below {FIRST_EXTRA_MIGRATION_VERSION})",
                migration.version
            );
            return Err(MigrateError::Source(message.into()).into());
        }
        let mut migrator = Migrator::new(Migrations(source.iter().cloned().collect())).await?;
        migrator.set_ignore_missing(true);
        let _writer = self.shared.lock_writes().await;
        migrator.run(&self.shared.pool).await?;
        Ok(())
    }

    /// Sets this process's writes up for loading a large batch of history in big commits (an
    /// import). SQLite: the writer's connection gets a page cache of 256 MiB, so that a
    /// big transaction keeps the pages it changes until it commits — with the default 2 MB, pages
    /// of the uuid-keyed indexes are spilled to the WAL and written again within the same
    /// transaction — and checkpoints the WAL every 256 MiB instead of every
    /// 4 MiB, so that a page changed by many transactions is copied into the database
    /// file once per checkpoint; and keeps its temporary files in memory: a multi-row insert
    /// into a table with unique indexes saves the index pages it changes in a statement journal
    /// (to undo the statement alone on a constraint error), which spills into a file on disk
    /// beyond 64 KiB and is written for every statement. Durability is unchanged (every commit
    /// still syncs the WAL).
    /// Postgres: nothing changes.
    pub async fn prepare_bulk_load(&self) -> Result<(), StoreError> {
        if self.backend() != Backend::Sqlite {
            return Ok(());
        }
        let mut slot = self.shared.lock_writes().await;
        let conn = slot.conn(self.pool()).await?;
        let pragmas = format!(
            "PRAGMA cache_size = -{BULK_CACHE_KIB}; PRAGMA wal_autocheckpoint = {BULK_CHECKPOINT_PAGES}; \
             PRAGMA temp_store = MEMORY;"
        );
        conn.execute(pragmas.as_str()).await?;
        Ok(())
    }

    /// Ends what [`prepare_bulk_load`](Self::prepare_bulk_load) began. SQLite: copies the WAL
    /// into the database file and truncates it (the load leaves the store compact, however long
    /// since the last checkpoint), and gives the writer's connection the default settings back.
    pub async fn finish_bulk_load(&self) -> Result<(), StoreError> {
        if self.backend() != Backend::Sqlite {
            return Ok(());
        }
        let mut slot = self.shared.lock_writes().await;
        let conn = slot.conn(self.pool()).await?;
        conn.execute(
            "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA cache_size = -2000; PRAGMA wal_autocheckpoint = 1000; \
             PRAGMA temp_store = DEFAULT;",
        )
        .await?;
        Ok(())
    }

    /// SQLite: copies the write-ahead log into the database file and truncates the log, so that
    /// page images from before the last commit (which may hold rows deleted since) are in no
    /// file of the store any more. Postgres: nothing (a deleted row's tuple stays in its page
    /// until VACUUM reuses the space; `VACUUM FULL` rewrites the table).
    pub async fn truncate_log(&self) -> Result<(), StoreError> {
        if self.backend() != Backend::Sqlite {
            return Ok(());
        }
        let mut slot = self.shared.lock_writes().await;
        let conn = slot.conn(self.pool()).await?;
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE);").await?;
        Ok(())
    }

    /// Applies a commit atomically, grouped with other concurrent commits into one
    /// transaction (see the crate docs). Once submitted, a commit is applied even if the
    /// caller stops waiting for it.
    pub async fn commit(&self, commit: Commit) -> Result<Committed, StoreError> {
        let (reply, result) = oneshot::channel();
        self.writer.send(Pending { commit, reply }).await.map_err(|_| sqlx::Error::WorkerCrashed)?;
        result.await.map_err(|_| sqlx::Error::WorkerCrashed)?
    }

    /// A connection for reads, returned when dropped (see [`Reader`]).
    pub async fn reader(&self) -> Result<Reader<'_>, StoreError> {
        Ok(self.shared.reader().await?)
    }

    /// Events of `stream` from `from_version` (inclusive; 1 = all), in stream order.
    pub async fn read_stream(&self, stream: &str, from_version: u64) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            event_columns!(),
            " FROM events e WHERE e.stream = $1 AND e.stream_version >= $2 \
             ORDER BY e.stream_version"
        ))
        .bind(stream)
        .bind(i64::try_from(from_version).unwrap_or(i64::MAX))
        .fetch_all(&mut *self.reader().await?)
        .await?;
        decode_events(&rows)
    }

    /// Current version of `stream`; 0 if it does not exist.
    pub async fn stream_version(&self, stream: &str) -> Result<u64, StoreError> {
        let version: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream = $1")
            .bind(stream)
            .fetch_one(self.pool())
            .await?;
        u64::try_from(version).map_err(|_| StoreError::Corrupt(format!("stream version {version}")))
    }

    /// Current versions of those of `streams` that exist (absent ones are left out), one query
    /// per 500 streams.
    pub async fn stream_versions(&self, streams: &[String]) -> Result<HashMap<String, u64>, StoreError> {
        let mut versions = HashMap::with_capacity(streams.len());
        for part in streams.chunks(500) {
            let placeholders: Vec<String> = (1..=part.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT stream, MAX(stream_version) FROM events WHERE stream IN ({}) GROUP BY stream",
                placeholders.join(", ")
            );
            let mut query = sqlx::query_as::<_, (String, i64)>(&sql);
            for stream in part {
                query = query.bind(stream);
            }
            for (stream, version) in query.fetch_all(self.pool()).await? {
                let version =
                    u64::try_from(version).map_err(|_| StoreError::Corrupt(format!("stream version {version}")))?;
                versions.insert(stream, version);
            }
        }
        Ok(versions)
    }

    /// Up to `limit` events after `after_position`, in global order. Positions are gapless
    /// and become visible in order, so a reader that advances to the last position it saw
    /// never skips an event.
    pub async fn read_all(&self, after_position: i64, limit: u32) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            event_columns!(),
            " FROM events e WHERE e.global_position > $1 ORDER BY e.global_position LIMIT $2"
        ))
        .bind(after_position)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        decode_events(&rows)
    }

    /// Position of the last committed event; 0 if there is none.
    pub async fn head_position(&self) -> Result<i64, StoreError> {
        head_position(self.pool()).await
    }

    /// Up to `limit` events not yet relayed (acknowledged) after position `after`, oldest first.
    /// A relay passes the last position it published, so events it has published but not yet
    /// acknowledged are not read again.
    ///
    /// The events this process committed last are remembered, so a relay keeping up gets its
    /// batch without a read. Acknowledgements of other processes sharing the outbox do not
    /// reach that memory: their relays' events may be published twice (consumers are
    /// idempotent either way).
    pub async fn outbox_batch(&self, after: i64, limit: u32) -> Result<Vec<RecordedEvent>, StoreError> {
        if let Some(batch) = self.shared.recent_after(after, limit as usize) {
            return Ok(batch);
        }
        // Ranges are disjoint: in the order of their first positions, their events are in
        // position order.
        let rows = sqlx::query(concat!(
            "SELECT ",
            event_columns!(),
            " FROM outbox o JOIN events e \
             ON e.global_position >= o.first_position AND e.global_position <= o.last_position \
             WHERE o.last_position > $1 AND e.global_position > $1 \
             ORDER BY o.first_position, e.global_position LIMIT $2"
        ))
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&mut *self.reader().await?)
        .await?;
        decode_events(&rows)
    }

    /// Removes relayed events from the outbox, in one transaction. Positions are merged into
    /// ranges first, so an ack of a contiguous batch is one cut of the outbox's ranges.
    pub async fn outbox_ack(&self, positions: &[i64]) -> Result<(), StoreError> {
        let ranges = position_ranges(positions);
        let Some(&(_, last)) = ranges.last() else { return Ok(()) };
        let tx = self.begin().await?;
        self.shared.forget_through(last);
        let mut batch = tx.batch();
        for (first, last) in ranges {
            queue_outbox_cut(&mut batch, first, last);
        }
        tx.commit_with(batch).await
    }

    /// Whether `consumer` has recorded handling `event_id` (its inbox entry committed with the
    /// effect). Lets a consumer tell a redelivered, already applied event from a bad one.
    pub async fn inbox_contains(&self, consumer: &str, event_id: Uuid) -> Result<bool, StoreError> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT event_id FROM inbox WHERE consumer = $1 AND event_id = $2")
                .bind(consumer)
                .bind(event_id.to_string())
                .fetch_optional(self.pool())
                .await?;
        Ok(found.is_some())
    }

    /// Forget the inbox entries recorded before `before` (wall clock, as the store stamps them);
    /// returns how many. The inbox only has to outlive any redelivery: JetStream redelivers within
    /// its backoff and `max_deliver`, the relay re-sends within minutes, the in-process bus from
    /// its last checkpoint. Deleted in chunks, each under the writer lock, so commits interleave.
    pub async fn prune_inbox(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        const CHUNK: i64 = 5_000;
        let mut pruned = 0;
        loop {
            let _writer = self.shared.lock_writes().await;
            let deleted = sqlx::query(
                "DELETE FROM inbox WHERE (consumer, event_id) IN \
                 (SELECT consumer, event_id FROM inbox WHERE processed_at < $1 LIMIT $2)",
            )
            .bind(to_micros(before))
            .bind(CHUNK)
            .execute(self.pool())
            .await?
            .rows_affected();
            pruned += deleted;
            if deleted < CHUNK as u64 {
                return Ok(pruned);
            }
        }
    }

    /// Number of events not yet relayed.
    pub async fn outbox_depth(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(last_position - first_position + 1), 0) AS BIGINT) FROM outbox",
        )
        .fetch_one(self.pool())
        .await?)
    }

    pub async fn load_checkpoint(&self, name: &str) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar("SELECT position FROM checkpoints WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?)
    }

    pub async fn save_checkpoint(&self, name: &str, position: i64) -> Result<(), StoreError> {
        let _writer = self.shared.lock_writes().await;
        upsert_checkpoint(self.pool(), name, position).await?;
        Ok(())
    }

    /// Up to `limit` timers with `due_at <= now`, earliest first. Reading does not claim
    /// them: fire one with `Commit::fire`, which succeeds for exactly one firer.
    pub async fn due_timers(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<DueTimer>, StoreError> {
        Ok(self.due_timers_and_next(now, limit).await?.0)
    }

    /// [`EventStore::due_timers`], and when the first timer not yet due is due, in one read:
    /// what a timer loop needs to fire and then to know how long to sleep.
    pub async fn due_timers_and_next(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<(Vec<DueTimer>, Option<DateTime<Utc>>), StoreError> {
        let rows = sqlx::query(
            "SELECT key, generation, due_at, kind, payload FROM \
             (SELECT key, generation, due_at, kind, payload FROM timers \
              WHERE due_at <= $1 ORDER BY due_at, key LIMIT $2) AS due \
             UNION ALL SELECT key, generation, due_at, kind, payload FROM \
             (SELECT key, generation, due_at, kind, payload FROM timers \
              WHERE due_at > $1 ORDER BY due_at, key LIMIT 1) AS later",
        )
        .bind(to_micros(now))
        .bind(i64::from(limit))
        .fetch_all(&mut *self.reader().await?)
        .await?;
        let timers = rows.iter().map(decode_timer).collect::<Result<Vec<_>, _>>()?;
        let (mut due, later): (Vec<DueTimer>, Vec<DueTimer>) = timers.into_iter().partition(|t| t.due_at <= now);
        // A union keeps no order of its own.
        due.sort_by(|a, b| (a.due_at, &a.key).cmp(&(b.due_at, &b.key)));
        Ok((due, later.first().map(|timer| timer.due_at)))
    }

    /// The head position, updated after every successful commit in this process, so relays
    /// and subscribers can wait for new events instead of polling.
    pub fn watch_head(&self) -> watch::Receiver<i64> {
        self.shared.subscribe_head()
    }

    /// Wakes when a commit of this process schedules a timer; [`EventStore::take_scheduled`]
    /// tells how early. Lets a timer loop sleep through commits that schedule nothing due
    /// before what it already waits for.
    pub fn watch_scheduled(&self) -> watch::Receiver<Option<DateTime<Utc>>> {
        self.shared.subscribe_scheduled()
    }

    /// The earliest due time among the timers this process's commits scheduled since the last
    /// call (`None`: none). Meant for the store's one timer loop: a second caller would take
    /// what the first has not seen.
    pub fn take_scheduled(&self) -> Option<DateTime<Utc>> {
        self.shared.take_scheduled()
    }

    /// Opens a write transaction for a read model, serialized with all other writes of
    /// this store (see [`StoreTx`]).
    pub async fn begin(&self) -> Result<StoreTx, StoreError> {
        StoreTx::begin(Arc::clone(&self.shared)).await
    }
}

async fn head_position(pool: &AnyPool) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT COALESCE(MAX(global_position), 0) FROM events").fetch_one(pool).await?)
}

fn decode_events(rows: &[AnyRow]) -> Result<Vec<RecordedEvent>, StoreError> {
    rows.iter().map(decode_event).collect()
}

fn decode_timer(row: &AnyRow) -> Result<DueTimer, StoreError> {
    Ok(DueTimer {
        key: row.try_get(0)?,
        generation: row.try_get(1)?,
        due_at: from_micros(row.try_get(2)?)?,
        kind: row.try_get(3)?,
        payload: row.try_get(4)?,
    })
}

/// Queues the removal of `first..=last` from the outbox's ranges: a range that holds it is
/// split, ranges it overlaps are shortened, ranges inside it deleted.
fn queue_outbox_cut(batch: &mut Batch<'_>, first: i64, last: i64) {
    let style = batch.style();
    batch
        .statement(&style.adapt(
            "INSERT INTO outbox (first_position, last_position) SELECT $1, last_position FROM outbox \
             WHERE first_position < $2 AND last_position > $3",
        ))
        .bind(last + 1)
        .bind(first)
        .bind(last);
    batch
        .statement(
            &style.adapt("UPDATE outbox SET last_position = $1 WHERE first_position < $2 AND last_position >= $3"),
        )
        .bind(first - 1)
        .bind(first)
        .bind(first);
    batch
        .statement(&style.adapt(
            "UPDATE outbox SET first_position = $1 \
             WHERE first_position >= $2 AND first_position <= $3 AND last_position > $4",
        ))
        .bind(last + 1)
        .bind(first)
        .bind(last)
        .bind(last);
    batch
        .statement(&style.adapt("DELETE FROM outbox WHERE first_position >= $1 AND last_position <= $2"))
        .bind(first)
        .bind(last);
}

/// Sorted, merged inclusive ranges covering `positions`.
fn position_ranges(positions: &[i64]) -> Vec<(i64, i64)> {
    let mut sorted = positions.to_vec();
    sorted.sort_unstable();
    let mut ranges: Vec<(i64, i64)> = Vec::new();
    for position in sorted {
        match ranges.last_mut() {
            Some((_, last)) if position <= *last + 1 => *last = (*last).max(position),
            _ => ranges.push((position, position)),
        }
    }
    ranges
}

fn backend_of(url: &str) -> Result<Backend, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else {
        let scheme = url.split(':').next().unwrap_or_default();
        Err(StoreError::InvalidUrl(format!(
            "unsupported scheme {scheme:?}: use sqlite://path/file.db or postgres://..."
        )))
    }
}

/// Creates the database file's directory and returns the URL with `mode=rwc` (create the
/// file if missing) unless it sets a mode itself.
fn prepare_sqlite(url: &str) -> Result<String, StoreError> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    let params = || query.into_iter().flat_map(|query| query.split('&'));
    if path.is_empty() || path == ":memory:" || params().any(|param| param == "mode=memory") {
        return Err(StoreError::InvalidUrl(
            "in-memory SQLite is not supported (each pooled connection would get its own \
             database): use a file path"
                .into(),
        ));
    }
    if let Some(dir) = Path::new(path).parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
        }
    }
    Ok(if params().any(|param| param.starts_with("mode=")) {
        url.to_owned()
    } else if query.is_some() {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    })
}

/// The schema name, validated and double-quoted for use in SQL.
fn quoted_schema(schema: &str) -> Result<String, StoreError> {
    let mut chars = schema.chars();
    let valid = schema.len() <= 63
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(format!("\"{schema}\""))
    } else {
        Err(StoreError::InvalidSchema(schema.to_owned()))
    }
}

/// Already resolved migrations, to rebuild a [`Migrator`] with `ignore_missing` set.
#[derive(Debug)]
struct Migrations(Vec<Migration>);

impl MigrationSource<'static> for Migrations {
    fn resolve(self) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        Box::pin(async move { Ok(self.0) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_positions_merge_into_ranges() {
        assert_eq!(position_ranges(&[]), []);
        assert_eq!(position_ranges(&[3, 1, 2, 2, 7, 9, 8]), [(1, 3), (7, 9)]);
        assert_eq!(position_ranges(&[5]), [(5, 5)]);
    }

    #[test]
    fn urls_select_the_backend() {
        assert_eq!(backend_of("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(backend_of("postgres://u@h/db").unwrap(), Backend::Postgres);
        assert_eq!(backend_of("postgresql://u@h/db").unwrap(), Backend::Postgres);
        assert!(matches!(
            backend_of("mysql://u:secret@h/db"),
            Err(StoreError::InvalidUrl(message)) if !message.contains("secret")
        ));
    }

    #[test]
    fn sqlite_urls_create_the_file_and_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a/b/store.db");
        let url = format!("sqlite://{}", file.display());
        assert_eq!(prepare_sqlite(&url).unwrap(), format!("{url}?mode=rwc"));
        assert!(file.parent().unwrap().is_dir());
        assert_eq!(prepare_sqlite(&format!("{url}?cache=private")).unwrap(), format!("{url}?cache=private&mode=rwc"));
        assert_eq!(prepare_sqlite(&format!("{url}?mode=ro")).unwrap(), format!("{url}?mode=ro"));
        assert!(prepare_sqlite("sqlite::memory:").is_err());
        assert!(prepare_sqlite("sqlite://x.db?mode=memory").is_err());
    }

    #[test]
    fn schema_names_must_be_identifiers() {
        assert_eq!(quoted_schema("dispatch").unwrap(), "\"dispatch\"");
        assert_eq!(quoted_schema("_t_1").unwrap(), "\"_t_1\"");
        for bad in ["", "1abc", "a-b", "a\"b", "a b", "a;drop", &"x".repeat(64)] {
            assert!(matches!(quoted_schema(bad), Err(StoreError::InvalidSchema(_))), "{bad:?}");
        }
    }
}
