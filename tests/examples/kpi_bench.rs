//! `GetKpis` at a city's scale: the KPI query over the per-day counts against the count of every
//! case row it replaces, on the same read model.
//!
//!     cargo run --release -p gridloop-tests --example kpi_bench -- [CASES] [CALLS]
//!
//! Replays a synthetic history of CASES (default 300,000) cases of the default city, opened over
//! a year, into a fresh evaluation read model (SQLite in a temporary directory, or a fresh schema
//! of the Postgres at `GRIDLOOP_DATABASE_URL`, dropped at the end) — the projection and its day
//! counts are written as the live consumer writes them — then runs each query CALLS times
//! (default 30) both ways and prints p50 and p95 per query, after checking that both ways give
//! the same report.

use gridloop_domain::jurisdiction::AreaCode;
use gridloop_domain::kpi::{Period, Report};
use gridloop_domain::level::Level;
use gridloop_domain::policy::CityPolicy;
use gridloop_evaluation::kpi::CaseFilter;
use gridloop_evaluation::replay::Rebuild;
use gridloop_evaluation::{kpi_days, projection};
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
        // The count of every row is slow: fewer calls of it.
        for call in 0..calls {
            if call < calls.div_ceil(5) {
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
    if store.backend() == Backend::Postgres {
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(store.pool()).await.expect("drop schema");
    }
}
