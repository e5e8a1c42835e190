//! `GetKpis`, `GetLevelDistribution` and `ListCases` at a city's scale: the KPI query and the
//! 4321 distribution over the per-day counts against the count of every case row they replace,
//! and pages of the case list, on the same read model.
//!
//!     cargo run --release -p gridloop-tests --example kpi_bench -- [CASES] [CALLS] [ROW_CALLS]
//!
//! Replays a synthetic history of CASES (default 300,000) cases of the default city, opened over
//! a year, into a fresh evaluation read model (SQLite in a temporary directory, or a fresh schema
//! of the Postgres at `GRIDLOOP_DATABASE_URL`, dropped at the end) — the projection and its day
//! counts are written as the live consumer writes them — then runs each query CALLS times
//! (default 30; the count of every row ROW_CALLS times, default a fifth of CALLS) both ways and prints p50 and p95 per query, after checking that both ways give
//! the same report; then the 4321 distribution both ways, and case-list pages, CALLS times each.

use gridloop_domain::jurisdiction::AreaCode;
use gridloop_domain::kpi::{Period, Report};
use gridloop_domain::level::Level;
use gridloop_domain::policy::CityPolicy;
use gridloop_evaluation::kpi::CaseFilter;
use gridloop_evaluation::replay::Rebuild;
use gridloop_evaluation::{kpi_days, projection, settled};
use gridloop_eventstore::{Backend, EventStore, StoreOptions};
use gridloop_tests::history::SyntheticCity;
use std::time::{Duration, Instant};

fn micros(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap().timestamp_micros()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let cases: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(300_000);
    let calls: usize = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(30);
    // The count of every row takes seconds a call at a million cases: fewer calls of it.
    let row_calls: usize = std::env::args().nth(3).and_then(|a| a.parse().ok()).unwrap_or(calls.div_ceil(5));
    let dir = tempfile::tempdir().unwrap();
    let database_url = std::env::var("GRIDLOOP_DATABASE_URL").ok();
    let schema = format!("kpi_bench_{}", uuid::Uuid::now_v7().simple());
    let (url, options) = match &database_url {
        Some(url) => {
            (url.clone(), StoreOptions { schema: Some(schema.clone()), max_connections: 4, ..StoreOptions::default() })
        }
        None => (format!("sqlite://{}", dir.path().join("evaluation.db").display()), StoreOptions::default()),
    };
    let store = EventStore::connect(&url, options).await.expect("store");
    println!("backend: {:?}, {cases} cases", store.backend());

    let started = Instant::now();
    let mut city = SyntheticCity::new(cases);
    let mut rebuild =
        Rebuild::new(store.clone(), false, CityPolicy::default_city().calendar.zone()).await.expect("fresh read model");
    let mut events = 0;
    for first in (0..cases).step_by(2_000) {
        let batch = city.events(first..(first + 2_000).min(cases));
        events += batch.len();
        for page in batch.chunks(10_000) {
            rebuild.apply(page).await.expect("replay");
        }
    }
    let (days,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM evaluation_kpi_days").fetch_one(store.pool()).await.unwrap();
    println!("replayed {events} events in {:.1} s; {days} day counts", started.elapsed().as_secs_f64());

    let zone = CityPolicy::default_city().calendar.zone();
    let policy = CityPolicy::default_city();
    let street = policy.jurisdiction.grids().next().unwrap().code.ancestor(Level::Street).unwrap();
    let grid = policy.jurisdiction.grids().nth(3).unwrap().code.clone();
    let category = policy.catalog.categories()[0].code.clone();
    let area = |code: &AreaCode| Some(code.clone());
    let queries: Vec<(&str, Period, CaseFilter)> = vec![
        ("everything, monthly", Period::Month, CaseFilter::default()),
        ("everything, daily", Period::Day, CaseFilter::default()),
        ("a street, weekly", Period::Week, CaseFilter { area: area(&street), ..CaseFilter::default() }),
        ("a grid, monthly", Period::Month, CaseFilter { area: area(&grid), ..CaseFilter::default() }),
        (
            "a category, monthly",
            Period::Month,
            CaseFilter { category: Some(category.clone()), ..CaseFilter::default() },
        ),
        ("a level, quarterly", Period::Quarter, CaseFilter { level: Some(Level::Street), ..CaseFilter::default() }),
        (
            "street+category+level, March",
            Period::Week,
            CaseFilter {
                area: area(&street),
                category: Some(category),
                level: Some(Level::Grid),
                from: Some(micros("2025-03-01T00:00:00+08:00")),
                to: Some(micros("2025-04-01T00:00:00+08:00")),
            },
        ),
        (
            "everything, UTC dates (cut days)",
            Period::Month,
            CaseFilter {
                from: Some(micros("2025-03-01T00:00:00Z")),
                to: Some(micros("2025-06-01T00:00:00Z")),
                ..CaseFilter::default()
            },
        ),
    ];
    println!("{:<34} {:>12} {:>12} {:>12} {:>12}", "query", "rows p50 ms", "rows p95 ms", "days p50 ms", "days p95 ms");
    for (name, period, filter) in &queries {
        let mut by_rows = Report::new(*period, zone);
        projection::report(store.pool(), filter, &mut by_rows).await.unwrap();
        let mut by_days = Report::new(*period, zone);
        kpi_days::report(store.pool(), filter, &mut by_days).await.unwrap();
        assert_eq!(by_days, by_rows, "{name}: the day counts give another report");
        let mut timings = [Vec::new(), Vec::new()];
        for call in 0..calls {
            if call < row_calls {
                let started = Instant::now();
                let mut report = Report::new(*period, zone);
                projection::report(store.pool(), filter, &mut report).await.unwrap();
                timings[0].push(started.elapsed());
            }
            let started = Instant::now();
            let mut report = Report::new(*period, zone);
            kpi_days::report(store.pool(), filter, &mut report).await.unwrap();
            timings[1].push(started.elapsed());
        }
        for t in &mut timings {
            t.sort();
        }
        println!(
            "{name:<34} {:>12.1} {:>12.1} {:>12.2} {:>12.2}",
            percentile(&timings[0], 0.5),
            percentile(&timings[0], 0.95),
            percentile(&timings[1], 0.5),
            percentile(&timings[1], 0.95)
        );
    }
    distributions(&store, &street, &grid, calls, row_calls).await;
    case_lists(&store, &street, &grid, calls).await;
    if store.backend() == Backend::Postgres {
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(store.pool()).await.expect("drop schema");
    }
}

/// Times `run` `calls` times; p50 and p95 in ms.
async fn timed<F, Fut>(calls: usize, mut run: F) -> (f64, f64)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut timings = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        run().await;
        timings.push(started.elapsed());
    }
    timings.sort();
    (percentile(&timings, 0.5), percentile(&timings, 0.95))
}

/// A named area and closure window (micros).
type Window<'a> = (&'static str, Option<&'a AreaCode>, Option<i64>, Option<i64>);

/// A named case list: state, area, order and offset.
type List<'a> =
    (&'static str, Option<gridloop_domain::case_state::CaseState>, Option<&'a AreaCode>, projection::Order, i64);

/// `GetLevelDistribution`'s query from the per-day level counts against the count of every
/// closed row (`projection::settled_counts`), after checking both give the same counts.
async fn distributions(store: &EventStore, street: &AreaCode, grid: &AreaCode, calls: usize, row_calls: usize) {
    let windows: [Window; 4] = [
        ("4321, everything, all time", None, None, None),
        (
            "4321, a street, a quarter (local)",
            Some(street),
            Some(micros("2025-04-01T00:00:00+08:00")),
            Some(micros("2025-07-01T00:00:00+08:00")),
        ),
        (
            "4321, a grid, a year",
            Some(grid),
            Some(micros("2025-01-01T00:00:00+08:00")),
            Some(micros("2026-01-01T00:00:00+08:00")),
        ),
        ("4321, everything, one day", None, Some(micros("2025-06-03T00:00:00Z")), Some(micros("2025-06-04T00:00:00Z"))),
    ];
    let pool = store.pool();
    for (name, area, from, to) in windows {
        let by_rows = projection::settled_counts(pool, area, from, to).await.unwrap();
        let by_days = settled::counts(pool, area, from, to).await.unwrap();
        let by_rows = Level::ALL.map(|level| (level, by_rows.iter().find(|(l, _)| *l == level).map_or(0, |c| c.1)));
        assert_eq!(by_days, by_rows, "{name}: the level counts give other figures");
        let rows = timed(row_calls, || async move {
            projection::settled_counts(pool, area, from, to).await.unwrap();
        })
        .await;
        let days = timed(calls, || async move {
            settled::counts(pool, area, from, to).await.unwrap();
        })
        .await;
        println!("{name:<34} {:>12.1} {:>12.1} {:>12.2} {:>12.2}", rows.0, rows.1, days.0, days.1);
    }
}

/// `ListCases`' query: the first page (50 rows) of the newest cases, of a street's open cases, of
/// a grid's closed cases, and the 20th page of everything (an offset of 950).
async fn case_lists(store: &EventStore, street: &AreaCode, grid: &AreaCode, calls: usize) {
    use gridloop_domain::case_state::CaseState;
    use projection::{Order, Within};
    let lists: [List; 5] = [
        ("list, newest", None, None, Order::Newest, 0),
        ("list, a street's dispatched", Some(CaseState::Dispatched), Some(street), Order::Newest, 0),
        ("list, a grid's closed", Some(CaseState::Closed), Some(grid), Order::Newest, 0),
        ("list, by priority", None, None, Order::Priority, 0),
        ("list, newest, page 20", None, None, Order::Newest, 950),
    ];
    for (name, state, area, order, offset) in lists {
        let rows = projection::list(store.pool(), state, Within::Area(area), order, 50, offset).await.unwrap();
        let (p50, p95) = timed(calls, || async move {
            projection::list(store.pool(), state, Within::Area(area), order, 50, offset).await.unwrap();
        })
        .await;
        println!("{name:<34} {:>12} {:>12} {:>12.2} {:>12.2}   ({} rows)", "", "", p50, p95, rows.len());
    }
}
