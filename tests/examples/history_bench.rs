//! Export and replay throughput on a long history, against the raw read rate of the same
//! store measured in the same run.
//!
//!     cargo run --release -p gridloop-tests --example history_bench -- [EVENTS]
//!
//! Writes a synthetic history of EVENTS (default 1,000,000) case events — closed cases of four
//! events each (opened, dispatched, resolved, closed), real protobuf payloads, spread over the
//! default city's grids and categories — into dispatch's store (SQLite in a temporary directory,
//! or a fresh schema of the Postgres at `GRIDLOOP_DATABASE_URL`, dropped at the end), then
//! measures: a raw scan of the events table with sqlx (and `COPY … TO STDOUT` on Postgres),
//! `read_all` in pages and the store's `scan`, export to Parquet and to NDJSON, and the case
//! projection replayed into a fresh read model and into the scratch read model behind "as of"
//! reports. Each line gives events/s, the ratio to the raw scan, and the peak RSS of that phase
//! (VmHWM after resetting it through /proc/self/clear_refs) with the RSS it started from, which
//! shows whether memory stays flat.
//!
//! With `HISTORY_BENCH_KEEP=DIR` the history stays for the `gridloop` commands to be measured on:
//! SQLite in `DIR/dispatch.db` (a data dir), Postgres in the schema `<prefix>dispatch`, whose
//! prefix is printed (`--schema-prefix`).

use chrono::{Duration, TimeZone, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};
use gridloop_analytics::export::{export_events, Source, PAGE_SIZE};
use gridloop_analytics::import::{ImportedCase, Importer};
use gridloop_analytics::{EventFilter, Format};
use gridloop_domain::kpi::{Period, Report};
use gridloop_domain::policy::CityPolicy;
use gridloop_evaluation::kpi::CaseFilter;
use gridloop_evaluation::replay::{Rebuild, ReplayStats, Scratch};
use gridloop_eventstore::{Backend, Commit, EventStore, ExpectedVersion, StoreOptions, StreamAppend};
use sqlx::Row;
use std::future::Future;
use std::time::Instant;

const MAPPING: &str = r#"
source = "bench"
[columns]
case_id = "id"
opened = "opened"
category = "category"
"#;

/// A figure of this process's /proc status in MB (Linux only): `VmHWM` the peak resident set
/// since the last reset, `VmRSS` the current one.
fn status_mb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status.lines().find(|l| l.starts_with(field))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The events a replay read, after checking that each was counted once: applied, skipped (none
/// here: the history is whole) or policy.
fn adds_up(stats: ReplayStats) -> u64 {
    assert_eq!(stats.skipped, 0, "{stats:?}");
    assert_eq!(stats.applied + stats.skipped + stats.policy, stats.events, "{stats:?}");
    stats.events
}

/// Runs the measurements and prints one line each.
struct Bench {
    raw_rate: Option<f64>,
}

impl Bench {
    /// Time `run` (which returns how many events it handled) and print its line. The first
    /// phase marked `raw` sets the reference rate for the ratios.
    async fn phase<F, Fut>(&mut self, name: &str, raw: bool, run: F) -> f64
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = u64>,
    {
        reset_peak_rss();
        let before = status_mb("VmRSS:");
        let started = Instant::now();
        let events = run().await;
        let secs = started.elapsed().as_secs_f64();
        let rate = events as f64 / secs;
        if raw && self.raw_rate.is_none() {
            self.raw_rate = Some(rate);
        }
        let ratio = self.raw_rate.map_or(String::new(), |r| format!("{:>6.1}% of raw", 100.0 * rate / r));
        let rss = status_mb("VmHWM:")
            .zip(before)
            .map_or(String::new(), |(peak, before)| format!("peak RSS {peak:>7.1} MB (from {before:.1})"));
        println!("{name:<28} {events:>9} events {secs:>7.2} s {rate:>11.0} ev/s  {ratio}  {rss}");
        rate
    }
}

/// Read every column of a scanned row (so the scan pays for decoding, as a reader would).
macro_rules! touch {
    ($name:ident, $row:ty) => {
        fn $name(row: &$row) {
            let mut size = 0usize;
            for i in [1, 3, 4, 7, 8, 9, 10, 11, 12, 14] {
                size += row.try_get::<String, _>(i).map(|s| s.len()).unwrap_or_default();
            }
            for i in [0, 2, 5, 6, 13] {
                size += row.try_get::<i64, _>(i).map(|v| v as usize & 1).unwrap_or_default();
            }
            size += row.try_get::<Vec<u8>, _>(15).expect("payload").len();
            std::hint::black_box(size);
        }
    };
}
touch!(touch_sqlite, sqlx::sqlite::SqliteRow);
touch!(touch_pg, sqlx::postgres::PgRow);

#[tokio::main]
async fn main() {
    let total: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let keep = std::env::var_os("HISTORY_BENCH_KEEP").map(std::path::PathBuf::from);
    let database_url = std::env::var("GRIDLOOP_DATABASE_URL").ok();
    let prefix = format!("history_bench_{}_", uuid::Uuid::now_v7().simple());
    let schema = format!("{prefix}dispatch");
    let (url, options) = match &database_url {
        Some(url) => {
            (url.clone(), StoreOptions { schema: Some(schema.clone()), max_connections: 8, ..StoreOptions::default() })
        }
        None => {
            let store_dir = keep.clone().unwrap_or_else(|| dir.path().to_path_buf());
            (format!("sqlite://{}", store_dir.join("dispatch.db").display()), StoreOptions::default())
        }
    };
    let store = EventStore::connect(&url, options).await.expect("store");
    println!("backend: {:?}, {total} events", store.backend());
    if keep.is_some() && database_url.is_some() {
        println!("kept: --schema-prefix {prefix}");
    }

    // The history: closed cases of four events each, committed concurrently (group commit).
    let policy = CityPolicy::default_city();
    let importer = Importer::from_toml(MAPPING, &policy).unwrap();
    let grids: Vec<String> = policy.jurisdiction.grids().map(|g| g.code.as_str().to_string()).collect();
    let categories: Vec<String> = policy.catalog.categories().iter().map(|c| c.code.clone()).collect();
    let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    let cases = total / 4;
    let case_count = cases;
    let mut bench = Bench { raw_rate: None };
    let importer = &importer;
    let (grids, categories) = (&grids, &categories);
    let store_ref = &store;
    // 50 cases per commit, 8 commits in flight: the history is set-up, not what is measured.
    let chunks: Vec<Vec<usize>> = (0..cases).collect::<Vec<_>>().chunks(50).map(<[usize]>::to_vec).collect();
    bench
        .phase("write history (commit)", false, || async move {
            stream::iter(chunks)
                .map(|chunk| async move {
                    let appends = chunk
                        .into_iter()
                        .map(|i| {
                            let opened = start + Duration::seconds(i as i64 * 30);
                            let case = ImportedCase {
                                row_id: i.to_string(),
                                case_id: importer.case_id(&i.to_string()),
                                opened,
                                due: Some(opened + Duration::days(3)),
                                due_from_sla: false,
                                closed: Some(opened + Duration::hours(20 + (i % 80) as i64)),
                                on_time: None,
                                status: "closed".into(),
                                category_code: categories[i % categories.len()].clone(),
                                grid_code: grids[(i * 7) % grids.len()].clone(),
                                lat: 32.4,
                                lon: 119.5,
                                department: None,
                                description: format!("synthetic case {i}"),
                            };
                            StreamAppend {
                                stream: case.case_id.stream(),
                                expected: ExpectedVersion::NoStream,
                                events: importer.plan(&case).into_iter().map(|(event, _)| event).collect(),
                            }
                        })
                        .collect();
                    store_ref.commit(Commit { appends, ..Commit::default() }).await
                })
                .buffer_unordered(8)
                .try_for_each(|_| async { Ok(()) })
                .await
                .expect("commit");
            cases as u64 * 4
        })
        .await;

    const SCAN: &str =
        "SELECT global_position, stream, stream_version, event_id, event_type, occurred_at, recorded_at, \
                        correlation_id, causation_id, actor_role, actor_id, actor_jurisdiction, traceparent, \
                        schema_version, routing_key, payload FROM events ORDER BY global_position";
    // The raw limit: the same scan through sqlx's native driver, every column read.
    match &database_url {
        None => {
            let url = url.clone();
            bench
                .phase("raw scan (sqlx sqlite)", true, || async move {
                    let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect(&url).await.unwrap();
                    let mut rows = sqlx::query(SCAN).fetch(&pool);
                    let mut n = 0u64;
                    while let Some(row) = rows.try_next().await.expect("scan") {
                        touch_sqlite(&row);
                        n += 1;
                    }
                    n
                })
                .await;
        }
        Some(url) => {
            let (url, schema) = (url.clone(), schema.clone());
            bench
                .phase("raw scan (sqlx postgres)", true, || async move {
                    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
                    let mut conn = pool.acquire().await.unwrap();
                    sqlx::query(&format!("SET search_path TO {schema}")).execute(&mut *conn).await.unwrap();
                    let mut rows = sqlx::query(SCAN).fetch(&mut *conn);
                    let mut n = 0u64;
                    while let Some(row) = rows.try_next().await.expect("scan") {
                        touch_pg(&row);
                        n += 1;
                    }
                    n
                })
                .await;
        }
    }
    let pool = store.pool().clone();
    bench
        .phase("raw scan (sqlx Any)", false, || async {
            let mut rows = sqlx::query(SCAN).fetch(&pool);
            let (mut n, mut bytes) = (0u64, 0usize);
            while let Some(row) = rows.try_next().await.expect("scan") {
                let payload: Vec<u8> = row.try_get("payload").expect("payload");
                let _: i64 = row.try_get("global_position").expect("position");
                bytes += payload.len();
                n += 1;
            }
            assert!(bytes > 0);
            n
        })
        .await;
    if store.backend() == Backend::Postgres {
        let url = database_url.clone().unwrap();
        let schema = schema.clone();
        bench
            .phase("raw COPY TO STDOUT (pg)", false, || async move {
                use sqlx::postgres::PgPoolOptions;
                let pg = PgPoolOptions::new().max_connections(1).connect(&url).await.expect("pg");
                let mut conn = pg.acquire().await.unwrap();
                let mut out = conn
                    .copy_out_raw(&format!("COPY (SELECT * FROM {schema}.events ORDER BY global_position) TO STDOUT"))
                    .await
                    .expect("copy");
                let mut lines = 0u64;
                while let Some(chunk) = out.try_next().await.expect("copy chunk") {
                    lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
                }
                lines
            })
            .await;
    }
    bench
        .phase("read_all (10k pages)", false, || async {
            let (mut after, mut n) = (0i64, 0u64);
            loop {
                let page = store.read_all(after, PAGE_SIZE).await.expect("read_all");
                let Some(last) = page.last() else { break };
                after = last.global_position;
                n += page.len() as u64;
            }
            n
        })
        .await;
    let head = store.head_position().await.expect("head");
    bench
        .phase("scan (10k pages, ahead)", false, || async {
            let (mut pages, mut n) = (store.scan(0, head, PAGE_SIZE), 0u64);
            while let Some(page) = pages.recv().await {
                n += page.expect("scan").len() as u64;
            }
            n
        })
        .await;
    let sources = [Source { service: "dispatch".into(), store: store.clone() }];
    for (name, format, file) in
        [("export parquet", Format::Parquet, "events.parquet"), ("export ndjson", Format::Ndjson, "events.ndjson")]
    {
        let path = dir.path().join(file);
        let sources = &sources;
        bench
            .phase(name, false, || async move {
                let out = std::fs::File::create(&path).unwrap();
                let stats =
                    export_events(sources, &EventFilter::default(), format, out, &mut |_| {}).await.expect("export");
                let size = std::fs::metadata(&path).unwrap().len();
                eprintln!("  ({} bytes, {:.1} bytes/event)", size, size as f64 / stats.written.max(1) as f64);
                stats.written
            })
            .await;
    }
    // Replay: the case projection rebuilt into a fresh read model (what `gridloop replay --into`
    // does), and into a scratch SQLite file (what `gridloop stats kpi --as-of` does).
    let (target_url, target_options) = match &database_url {
        Some(url) => (
            url.clone(),
            StoreOptions { schema: Some(format!("{prefix}replay")), max_connections: 4, ..StoreOptions::default() },
        ),
        None => (format!("sqlite://{}", dir.path().join("replay/evaluation.db").display()), StoreOptions::default()),
    };
    let target = EventStore::connect(&target_url, target_options).await.expect("replay target");
    let replay_target = target.clone();
    bench
        .phase("replay into fresh read model", false, || async {
            let mut rebuild =
                Rebuild::new(replay_target, false, gridloop_domain::clock::DEFAULT_ZONE).await.expect("fresh target");
            let mut pages = store.scan(0, head, PAGE_SIZE);
            while let Some(page) = pages.recv().await {
                rebuild.apply(&page.expect("scan")).await.expect("replay");
            }
            adds_up(rebuild.stats())
        })
        .await;
    bench
        .phase("replay as of (scratch file)", false, || async {
            let zone = gridloop_domain::clock::DEFAULT_ZONE;
            let mut scratch = Scratch::new(zone).await.expect("scratch read model");
            let mut pages = store.scan(0, head, PAGE_SIZE);
            while let Some(page) = pages.recv().await {
                scratch.apply(&page.expect("scan")).await.expect("fold");
            }
            let mut report = Report::new(Period::Month, zone);
            scratch.report(&CaseFilter::default(), &mut report).await.expect("report");
            assert_eq!(report.total().reported, case_count as u64);
            adds_up(scratch.stats())
        })
        .await;

    if store.backend() == Backend::Postgres {
        sqlx::query(&format!("DROP SCHEMA {prefix}replay CASCADE")).execute(store.pool()).await.expect("drop schema");
        if keep.is_none() {
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(store.pool()).await.expect("drop schema");
        }
    }
}
