//! Append and scan throughput of the event store against a raw baseline.
//!
//! ```text
//! cargo run --release -p gridloop-eventstore --example append_bench -- <url> [events] [rounds]
//! ```
//!
//! `url` is `sqlite://path/bench.db` (use a fresh file) or `postgres://...` (the bench works
//! in a schema of its own and drops it at the end). Each round measures, for `events` events
//! (default 16000) with 256-byte payloads:
//! (a) raw multi-row `INSERT`s of rows shaped like `events` into a scratch table, 100 rows
//!     per transaction;
//! (b) `commit()` of the same number of events, 100 events per commit;
//! (c) single-event `commit()`s from 64 concurrent tasks (group commit).
//! A round takes them in slices of 1,600 events, (a), (b) and (c) in turn, so that a noisy
//! neighbour (another build, a disk busy syncing) slows all three alike; the bench prints each
//! round's rates and ratios, then the medians of the rounds (default 5). Last, (d) a
//! `read_all` scan of the whole log, against a raw scan of the scratch table.

use std::time::{Duration, Instant};

use chrono::Utc;
use gridloop_eventstore::{Actor, Backend, Commit, EventStore, ExpectedVersion, NewEvent, Placeholders, StoreOptions};
use sqlx::{AnyPool, Row};
use uuid::Uuid;

const BATCH: usize = 100;
const TASKS: usize = 64;
/// Events per slice: 16 commits of 100, or 25 single-event commits from each of 64 tasks.
const SLICE: usize = 1600;
const PAGE: u32 = 1000;
const PAYLOAD: usize = 256;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or("usage: append_bench <sqlite://path/bench.db | postgres://...> [events] [rounds]")?;
    let total: usize = args.next().map_or(Ok(16_000), |n| n.parse())?;
    let rounds: usize = args.next().map_or(Ok(5), |n| n.parse())?;
    let slices = total.div_ceil(SLICE);
    let total = slices * SLICE;

    let schema = format!("bench_{}", Uuid::now_v7().simple());
    let options = StoreOptions { schema: Some(schema.clone()), max_connections: 8, ..StoreOptions::default() };
    let store = EventStore::connect(&url, options).await?;
    let backend = store.backend();
    println!("backend {backend:?}, {total} events of {PAYLOAD} B payload per measurement, {rounds} rounds");
    create_raw_table(store.pool(), backend).await?;

    let rate = |d: Duration| total as f64 / d.as_secs_f64();
    let mut rates: [Vec<f64>; 3] = Default::default();
    let mut ratios: [Vec<f64>; 2] = Default::default();
    for round in 0..rounds {
        let mut elapsed = [Duration::ZERO; 3];
        for slice in round * slices..(round + 1) * slices {
            elapsed[0] += raw_insert(store.pool(), backend, slice).await?;
            elapsed[1] += commit_batches(&store, slice).await?;
            elapsed[2] += commit_concurrently(&store, slice).await?;
        }
        let [raw, batched, grouped] = elapsed.map(rate);
        println!(
            "round {round}: (a) {raw:>7.0}  (b) {batched:>7.0}  (c) {grouped:>7.0} events/s   \
             (b)/(a) {:.2}  (c)/(a) {:.2}",
            batched / raw,
            grouped / raw
        );
        for (rates, value) in rates.iter_mut().zip([raw, batched, grouped]) {
            rates.push(value);
        }
        ratios[0].push(batched / raw);
        ratios[1].push(grouped / raw);
    }
    println!("medians of {rounds} rounds:");
    let labels = [
        "(a) raw multi-row INSERT, 100 rows/tx",
        "(b) commit(), 100 events/commit",
        "(c) commit(), 1 event/commit, 64 tasks",
    ];
    for (label, rates) in labels.iter().zip(&mut rates) {
        println!("{label:<42} {:>10.0} events/s", median(rates));
    }

    let (scanned, read_all) = scan_read_all(&store).await?;
    report("(d) read_all scan, 1000/page", scanned, read_all);
    let (raw_scanned, raw_scan) = raw_scan(store.pool()).await?;
    report("    raw scan, 1000/page", raw_scanned, raw_scan);

    println!(
        "ratios (medians): (b)/(a) = {:.2}, (c)/(a) = {:.2}, (d)/raw scan = {:.2}",
        median(&mut ratios[0]),
        median(&mut ratios[1]),
        (scanned as f64 / read_all.as_secs_f64()) / (raw_scanned as f64 / raw_scan.as_secs_f64()),
    );

    sqlx::query("DROP TABLE bench_raw").execute(store.pool()).await?;
    if backend == Backend::Postgres {
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(store.pool()).await?;
    }
    Ok(())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn report(label: &str, events: usize, elapsed: Duration) {
    println!("{label:<42} {:>10.0} events/s  ({events} in {:.2?})", events as f64 / elapsed.as_secs_f64(), elapsed);
}

fn event(n: usize) -> NewEvent {
    NewEvent {
        event_id: Uuid::now_v7(),
        event_type: "gridloop.v1.CaseOpened".into(),
        occurred_at: Utc::now(),
        correlation_id: format!("case-{n}"),
        causation_id: Uuid::now_v7().to_string(),
        actor: Actor { role: "citizen".into(), id: format!("user-{n}"), jurisdiction: "110101001001001".into() },
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
        schema_version: 1,
        routing_key: "110101001001001".into(),
        payload: vec![(n % 251) as u8; PAYLOAD],
    }
}

/// The scratch table (a) writes to: `events`' columns, keys and indexes.
async fn create_raw_table(pool: &AnyPool, backend: Backend) -> Result<(), Error> {
    let (int, blob) = match backend {
        Backend::Sqlite => ("INTEGER", "BLOB"),
        Backend::Postgres => ("BIGINT", "BYTEA"),
    };
    sqlx::query(&format!(
        "CREATE TABLE bench_raw (global_position {int} PRIMARY KEY, stream TEXT NOT NULL, \
         stream_version {int} NOT NULL, event_id TEXT NOT NULL UNIQUE, event_type TEXT NOT NULL, \
         occurred_at {int} NOT NULL, recorded_at {int} NOT NULL, correlation_id TEXT NOT NULL, \
         causation_id TEXT NOT NULL, actor_role TEXT NOT NULL, actor_id TEXT NOT NULL, \
         actor_jurisdiction TEXT NOT NULL, traceparent TEXT NOT NULL, \
         schema_version {int} NOT NULL, routing_key TEXT NOT NULL, payload {blob} NOT NULL, \
         UNIQUE (stream, stream_version))"
    ))
    .execute(pool)
    .await?;
    Ok(())
}

/// (a) for one slice: the same rows as `events`, one multi-row INSERT per transaction.
async fn raw_insert(pool: &AnyPool, backend: Backend, slice: usize) -> Result<Duration, Error> {
    // The parameter style the store itself uses: anonymous `?` on SQLite, `$n` on Postgres.
    let style = match backend {
        Backend::Sqlite => Placeholders::Anonymous,
        Backend::Postgres => Placeholders::Numbered,
    };
    let sql = format!("INSERT INTO bench_raw VALUES {}", style.values_rows(BATCH, 16));
    let batches = batches(slice);

    let start = Instant::now();
    for (b, batch) in batches.iter().enumerate() {
        let mut tx = pool.begin().await?;
        let mut query = sqlx::query(&sql);
        for (i, e) in batch.iter().enumerate() {
            let position = (slice * SLICE + b * BATCH + i + 1) as i64;
            query = query
                .bind(position)
                .bind(format!("raw-{slice}-{b}"))
                .bind(i as i64 + 1)
                .bind(e.event_id.to_string())
                .bind(e.event_type.as_str())
                .bind(e.occurred_at.timestamp_micros())
                .bind(Utc::now().timestamp_micros())
                .bind(e.correlation_id.as_str())
                .bind(e.causation_id.as_str())
                .bind(e.actor.role.as_str())
                .bind(e.actor.id.as_str())
                .bind(e.actor.jurisdiction.as_str())
                .bind(e.traceparent.as_str())
                .bind(i64::from(e.schema_version))
                .bind(e.routing_key.as_str())
                .bind(e.payload.as_slice());
        }
        query.execute(&mut *tx).await?;
        tx.commit().await?;
    }
    Ok(start.elapsed())
}

/// A slice's events in batches of 100, made before the clock starts.
fn batches(slice: usize) -> Vec<Vec<NewEvent>> {
    (0..SLICE / BATCH).map(|b| (0..BATCH).map(|i| event(slice * SLICE + b * BATCH + i)).collect()).collect()
}

/// (b) for one slice: one commit per 100 events, one at a time.
async fn commit_batches(store: &EventStore, slice: usize) -> Result<Duration, Error> {
    let batches = batches(slice);
    let start = Instant::now();
    for (b, events) in batches.into_iter().enumerate() {
        let commit = Commit::append(format!("batch-{slice}-{b}"), ExpectedVersion::NoStream, events);
        store.commit(commit).await?;
    }
    Ok(start.elapsed())
}

/// (c) for one slice: 64 tasks, each committing single events to its own stream.
async fn commit_concurrently(store: &EventStore, slice: usize) -> Result<Duration, Error> {
    let per_task = SLICE / TASKS;
    let start = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                for version in 0..per_task {
                    let commit = Commit::append(
                        format!("task-{slice}-{task}"),
                        ExpectedVersion::Exact(version as u64),
                        vec![event(version)],
                    );
                    store.commit(commit).await?;
                }
                Ok::<_, gridloop_eventstore::StoreError>(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(start.elapsed())
}

/// (d): the whole log through `read_all`.
async fn scan_read_all(store: &EventStore) -> Result<(usize, Duration), Error> {
    let start = Instant::now();
    let (mut after, mut scanned) = (0, 0);
    loop {
        let page = store.read_all(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.global_position;
        scanned += page.len();
    }
    Ok((scanned, start.elapsed()))
}

/// Baseline for (d): the scratch table, same paging, every column decoded.
async fn raw_scan(pool: &AnyPool) -> Result<(usize, Duration), Error> {
    let start = Instant::now();
    let (mut after, mut scanned) = (0i64, 0);
    loop {
        let rows = sqlx::query("SELECT * FROM bench_raw WHERE global_position > $1 ORDER BY global_position LIMIT $2")
            .bind(after)
            .bind(i64::from(PAGE))
            .fetch_all(pool)
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.try_get(0)?;
        for row in &rows {
            let decoded: (i64, String, i64, String, String, i64, i64, String) = (
                row.try_get(0)?,
                row.try_get(1)?,
                row.try_get(2)?,
                row.try_get(3)?,
                row.try_get(4)?,
                row.try_get(5)?,
                row.try_get(6)?,
                row.try_get(7)?,
            );
            let rest: (String, String, String, String, String, i64, String, Vec<u8>) = (
                row.try_get(8)?,
                row.try_get(9)?,
                row.try_get(10)?,
                row.try_get(11)?,
                row.try_get(12)?,
                row.try_get(13)?,
                row.try_get(14)?,
                row.try_get(15)?,
            );
            std::hint::black_box((decoded, rest));
        }
        scanned += rows.len();
    }
    Ok((scanned, start.elapsed()))
}
