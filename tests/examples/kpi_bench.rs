//! `GetKpis`, `GetLevelDistribution` and `ListCases` at a city's scale: the KPI query and the
//! 4321 distribution over the per-day counts against the count of every case row they replace,
//! and pages of the case list, on the same read model.
//!
//!     cargo run --release -p gridloop-tests --example kpi_bench -- [CASES] [CALLS] [ROW_CALLS]
//!
//! Replays a synthetic history of CASES (default 300,000) cases of the default city, opened over
//! a year, into a fresh evaluation read model (SQLite in a temporary directory, or a fresh schema
//! of the Postgres at `GRIDLOOP_DATABASE_URL`, dropped at the end unless `KPI_BENCH_KEEP_SCHEMA`
//! is set, to EXPLAIN its queries) — the projection and its day
//! counts are written as the live consumer writes them — then runs each query CALLS times
//! (default 30; the count of every row ROW_CALLS times, default a fifth of CALLS) both ways and prints p50 and p95 per query, after checking that both ways give
//! the same report; then the 4321 distribution both ways, and pages of 50 of case lists of every
//! filter shape, first and deep pages, by page token and by the offset statement they replaced,
//! CALLS times each.

use gridloop_domain::case_state::CaseState;
use gridloop_domain::jurisdiction::AreaCode;
use gridloop_domain::kpi::{Period, Report};
use gridloop_domain::level::Level;
use gridloop_domain::policy::CityPolicy;
use gridloop_evaluation::case_list::{self, Cursor, ListFilter, Order};
use gridloop_evaluation::kpi::CaseFilter;
use gridloop_evaluation::replay::Rebuild;
use gridloop_evaluation::{kpi_days, projection, settled};
use gridloop_eventstore::{Backend, EventStore, StoreOptions};
use gridloop_tests::history::SyntheticCity;
use sqlx::AnyPool;
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
                category: Some(category.clone()),
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
    println!("{:<42} {:>12} {:>12} {:>12} {:>12}", "query", "rows p50 ms", "rows p95 ms", "days p50 ms", "days p95 ms");
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
            "{name:<42} {:>12.1} {:>12.1} {:>12.2} {:>12.2}",
            percentile(&timings[0], 0.5),
            percentile(&timings[0], 0.95),
            percentile(&timings[1], 0.5),
            percentile(&timings[1], 0.95)
        );
    }
    distributions(&store, &street, &grid, calls, row_calls).await;
    println!(
        "{:<42} {:>12} {:>12} {:>12} {:>12}",
        "case list (page of 50)", "offset p50", "offset p95", "token p50", "token p95"
    );
    case_lists(&store, &street, &grid, &category, calls).await;
    if std::env::var_os("KPI_BENCH_KEEP_SCHEMA").is_some() {
        println!("kept {schema} (or {}) for EXPLAIN", dir.keep().display());
    } else if store.backend() == Backend::Postgres {
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
        println!("{name:<42} {:>12.1} {:>12.1} {:>12.2} {:>12.2}", rows.0, rows.1, days.0, days.1);
    }
}

/// A named case list: its filter, order, and the pages before the one timed.
struct List {
    name: &'static str,
    filter: ListFilter,
    order: Order,
    pages_before: usize,
}

const PAGE: u32 = 50;

/// The one statement the list had for every filter, its `LIKE` and "(no filter) OR" pattern
/// carried to the filters it has since, paged by offset: the "before" of each list.
async fn list_by_offset(pool: &AnyPool, filter: &ListFilter, order: Order, offset: i64) -> Vec<String> {
    let order_by = match order {
        Order::Newest => "opened_at DESC, case_id",
        Order::Priority => "priority DESC, opened_at, case_id",
    };
    let cases = &filter.cases;
    sqlx::query_scalar(&format!(
        "SELECT case_id FROM evaluation_cases \
         WHERE ($1 = '' OR state = $1) AND grid_code LIKE $2 AND ($3 = '' OR category_code = $3) \
         AND ($4 = '' OR level = $4) AND opened_at >= $5 AND opened_at < $6 \
         ORDER BY {order_by} LIMIT $7 OFFSET $8"
    ))
    .bind(filter.state.map_or("", CaseState::name))
    .bind(format!("{}%", cases.area.as_ref().map_or("", AreaCode::as_str)))
    .bind(cases.category.clone().unwrap_or_default())
    .bind(cases.level.map(Level::as_str).unwrap_or_default())
    .bind(cases.from.unwrap_or(i64::MIN))
    .bind(cases.to.unwrap_or(i64::MAX))
    .bind(i64::from(PAGE))
    .bind(offset)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The cursor after `pages` pages of `list`, paged by token as `ListCases` pages.
async fn cursor_after(pool: &AnyPool, list: &List) -> Option<Cursor> {
    let mut after = None;
    for _ in 0..list.pages_before {
        let page = case_list::list(pool, &list.filter, list.order, PAGE, after.as_ref()).await.unwrap();
        after = Some(Cursor::after(page.last()?, list.order));
    }
    after
}

fn lists(street: &AreaCode, grid: &AreaCode, category: &str) -> Vec<List> {
    let district = street.ancestor(Level::District).unwrap();
    let community = grid.ancestor(Level::Community).unwrap();
    let month = (Some(micros("2025-03-01T00:00:00+08:00")), Some(micros("2025-04-01T00:00:00+08:00")));
    let filter = |state: Option<CaseState>, area: Option<&AreaCode>, category: Option<&str>, level, window| {
        let (from, to) = window;
        ListFilter {
            cases: CaseFilter { area: area.cloned(), category: category.map(str::to_string), level, from, to },
            state,
            reporter: None,
        }
    };
    let all = (None, None);
    use CaseState::*;
    use Order::*;
    let list = |name, filter, order, pages_before| List { name, filter, order, pages_before };
    vec![
        list("list, newest", filter(None, None, None, None, all), Newest, 0),
        list("list, newest, page 201", filter(None, None, None, None, all), Newest, 200),
        list("list, a district's closed", filter(Some(Closed), Some(&district), None, None, all), Newest, 0),
        list("list, a street's dispatched", filter(Some(Dispatched), Some(street), None, None, all), Newest, 0),
        list(
            "list, a community's accepted, a cat.",
            filter(Some(Accepted), Some(&community), Some(category), None, all),
            Newest,
            0,
        ),
        list("list, a grid's closed", filter(Some(Closed), Some(grid), None, None, all), Newest, 0),
        list(
            "list, a grid's rejected, a category",
            filter(Some(Rejected), Some(grid), Some(category), None, all),
            Newest,
            0,
        ),
        list("list, a category", filter(None, None, Some(category), None, all), Newest, 0),
        list("list, at the street level", filter(None, None, None, Some(Level::Street), all), Newest, 0),
        list("list, a month", filter(None, None, None, None, month), Newest, 0),
        list(
            "list, street+state+cat.+level, a month",
            filter(Some(Closed), Some(street), Some(category), Some(Level::Grid), month),
            Newest,
            0,
        ),
        list("list, a street's closed, page 101", filter(Some(Closed), Some(street), None, None, all), Newest, 100),
        list("list, by priority", filter(None, None, None, None, all), Priority, 0),
        list("list, by priority, page 201", filter(None, None, None, None, all), Priority, 200),
        list("list, a grid's dispatched, by prio.", filter(Some(Dispatched), Some(grid), None, None, all), Priority, 0),
        list(
            "list, a street's accepted, a cat., prio.",
            filter(Some(Accepted), Some(street), Some(category), None, all),
            Priority,
            0,
        ),
        list(
            "list, a district's closed, a month, prio.",
            filter(Some(Closed), Some(&district), None, None, month),
            Priority,
            0,
        ),
        list(
            "list, a street's closed, prio., page 101",
            filter(Some(Closed), Some(street), None, None, all),
            Priority,
            100,
        ),
    ]
}

/// `ListCases`' query: a page of 50 of each list, by the statement per filter shape and token
/// (after its pages before, fetched untimed), against the one statement by offset it replaced,
/// after checking both give the same cases.
async fn case_lists(store: &EventStore, street: &AreaCode, grid: &AreaCode, category: &str, calls: usize) {
    let pool = store.pool();
    for list in lists(street, grid, category) {
        let offset = (list.pages_before as i64) * i64::from(PAGE);
        let after = cursor_after(pool, &list).await;
        let by_token = case_list::list(pool, &list.filter, list.order, PAGE, after.as_ref()).await.unwrap();
        let ids: Vec<String> = by_token.iter().map(|row| row.case_id.clone()).collect();
        assert_eq!(ids, list_by_offset(pool, &list.filter, list.order, offset).await, "{}: other cases", list.name);
        let (filter, order, after) = (&list.filter, list.order, after.as_ref());
        let before = timed(calls, || async move {
            list_by_offset(pool, filter, order, offset).await;
        })
        .await;
        let now = timed(calls, || async move {
            case_list::list(pool, filter, order, PAGE, after).await.unwrap();
        })
        .await;
        println!(
            "{:<42} {:>12.1} {:>12.1} {:>12.2} {:>12.2}   ({} rows)",
            list.name,
            before.0,
            before.1,
            now.0,
            now.1,
            ids.len()
        );
    }
}
