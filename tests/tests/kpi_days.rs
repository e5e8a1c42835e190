//! The KPIs from the per-day counts equal the count of every case row, whatever the filter and
//! period, on SQLite and Postgres: a synthetic history folded by the live consumer (batch after
//! batch, so rows change under their day counts) and by a replay, which must agree with it. The
//! history is imported, so the 4321 monitor counts its closures but alerts on none; and its
//! per-day level counts give the 4321 distribution the closed rows give.

use chrono::DateTime;
use gridloop_bus::{BatchHandler, ManualClock};
use gridloop_domain::clock::Tz;
use gridloop_domain::drift::DriftPolicy;
use gridloop_domain::jurisdiction::AreaCode;
use gridloop_domain::kpi::{Period, Report};
use gridloop_domain::level::Level;
use gridloop_domain::policy::CityPolicy;
use gridloop_evaluation::kpi::CaseFilter;
use gridloop_evaluation::replay::{self, Rebuild};
use gridloop_evaluation::{kpi_days, projection, settled, Evaluation};
use gridloop_eventstore::testing::{backend_missing, postgres_url};
use gridloop_eventstore::{EventStore, RecordedEvent, StoreOptions};
use gridloop_tests::history::SyntheticCity;
use std::sync::Arc;

const CASES: usize = 3_000;

fn micros(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().timestamp_micros()
}

fn zone() -> Tz {
    CityPolicy::default_city().calendar.zone()
}

/// Filters of every kind: areas at each level, a category, a level, windows on local midnight
/// and across it, open on either side, and one inside a single day.
fn filters() -> Vec<CaseFilter> {
    let policy = CityPolicy::default_city();
    let grid = policy.jurisdiction.grids().nth(2).unwrap().code.clone();
    let areas: Vec<Option<AreaCode>> = std::iter::once(None)
        .chain(Level::ALL.iter().rev().map(|level| grid.ancestor(*level)))
        .chain([Some(AreaCode::new("999999").unwrap())])
        .collect();
    let category = policy.catalog.categories()[1].code.clone();
    let windows = [
        (None, None),
        (Some(micros("2025-03-01T00:00:00+08:00")), Some(micros("2025-05-01T00:00:00+08:00"))),
        (Some(micros("2025-03-01T00:00:00Z")), Some(micros("2025-05-01T00:00:00Z"))),
        (Some(micros("2025-02-10T13:17:00+08:00")), None),
        (None, Some(micros("2025-07-04T05:00:00+08:00"))),
        (Some(micros("2025-06-03T09:00:00+08:00")), Some(micros("2025-06-03T18:00:00+08:00"))),
    ];
    let mut out = Vec::new();
    for area in &areas {
        for (from, to) in windows {
            out.push(CaseFilter { area: area.clone(), from, to, ..CaseFilter::default() });
        }
    }
    for (from, to) in windows {
        out.push(CaseFilter { category: Some(category.clone()), from, to, ..CaseFilter::default() });
        out.push(CaseFilter { level: Some(Level::Community), from, to, ..CaseFilter::default() });
        out.push(CaseFilter {
            area: grid.ancestor(Level::Street),
            category: Some(category.clone()),
            level: Some(Level::Grid),
            from,
            to,
        });
    }
    out
}

async fn assert_reports_agree(store: &EventStore, zone: Tz) {
    let mut compared = 0;
    for filter in filters() {
        for period in Period::ALL {
            let mut by_rows = Report::new(period, zone);
            projection::report(store.pool(), &filter, &mut by_rows).await.unwrap();
            let mut by_days = Report::new(period, zone);
            kpi_days::report(store.pool(), &filter, &mut by_days).await.unwrap();
            assert_eq!(by_days, by_rows, "{filter:?} per {period:?}");
            compared += by_rows.total().reported;
        }
    }
    assert!(compared > 10 * CASES as u64, "the filters select cases: {compared}");
}

/// The 4321 distribution from the per-day level counts equals the count of every closed row, for
/// every area (and none) and windows on UTC midnight, across it and inside one day.
async fn assert_distributions_agree(store: &EventStore) {
    let grid = CityPolicy::default_city().jurisdiction.grids().nth(2).unwrap().code.clone();
    let areas: Vec<Option<AreaCode>> = std::iter::once(None)
        .chain(Level::ALL.iter().rev().map(|level| grid.ancestor(*level)))
        .chain([Some(AreaCode::new("999999").unwrap())])
        .collect();
    let windows = [
        (None, None),
        (Some(micros("2025-03-01T00:00:00Z")), Some(micros("2025-05-01T00:00:00Z"))),
        (Some(micros("2025-03-01T00:00:00+08:00")), Some(micros("2025-05-01T00:00:00+08:00"))),
        (Some(micros("2025-02-10T13:17:00+08:00")), None),
        (None, Some(micros("2025-07-04T05:00:00+08:00"))),
        (Some(micros("2025-06-03T09:00:00+08:00")), Some(micros("2025-06-03T18:00:00+08:00"))),
    ];
    let mut compared = 0;
    for area in &areas {
        for (from, to) in windows {
            let by_days = settled::counts(store.pool(), area.as_ref(), from, to).await.unwrap();
            let by_rows = projection::settled_counts(store.pool(), area.as_ref(), from, to).await.unwrap();
            let by_rows = Level::ALL.map(|level| (level, by_rows.iter().find(|(l, _)| *l == level).map_or(0, |c| c.1)));
            assert_eq!(by_days, by_rows, "{area:?} from {from:?} to {to:?}");
            compared += by_rows.iter().map(|c| c.1).sum::<u64>();
        }
    }
    assert!(compared > CASES as u64, "the windows select closures: {compared}");
}

/// The live consumer's batches: 200 events each, in log order.
async fn consume(evaluation: &Evaluation, events: &[RecordedEvent]) {
    for batch in events.chunks(200) {
        let refs: Vec<&RecordedEvent> = batch.iter().collect();
        evaluation.handle_batch("dispatch", &refs).await.expect("batch applied");
    }
}

async fn check(live: EventStore, rebuilt: EventStore) {
    let policy = Arc::new(CityPolicy::default_city());
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    // A monitor that would alert at once: the history is imported, so it alerts on none of it.
    let drift = DriftPolicy { tolerance: 0.01, window: chrono::Duration::days(30), min_cases: 1 };
    let evaluation = Evaluation::new(live.clone(), policy, drift, clock).await.unwrap();
    let mut rebuild = Rebuild::new(rebuilt.clone(), false, zone()).await.unwrap();
    let mut city = SyntheticCity::new(CASES);
    // In two parts, each in the consumer's batches of 200 events: a case's row changes over
    // several batches, other cases' events in between.
    for range in [0..CASES / 2, CASES / 2..CASES] {
        let events = city.events(range);
        consume(&evaluation, &events).await;
        for page in events.chunks(1_000) {
            rebuild.apply(page).await.unwrap();
        }
    }
    let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM evaluation_cases").fetch_one(live.pool()).await.unwrap();
    assert_eq!(rows, CASES as i64);
    let (alerts,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM evaluation_drift").fetch_one(live.pool()).await.unwrap();
    let (counted,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM evaluation_level_counts").fetch_one(live.pool()).await.unwrap();
    assert_eq!(alerts, 0, "imported closures raise no drift alert");
    assert!(counted > 0, "but count in the monitor's windows");
    assert_reports_agree(&live, zone()).await;
    assert_distributions_agree(&live).await;
    assert_eq!(replay::dump(rebuilt.pool()).await.unwrap(), replay::dump(live.pool()).await.unwrap());

    // An installation upgraded with closures counted per area only gets the installation's own
    // counts summed from its districts' by the migration, equal to the ones kept as it went.
    let kept = sqlx::query_as::<_, (i64, String, i64)>(
        "SELECT day, level, n FROM evaluation_level_counts WHERE area = '' ORDER BY day, level",
    );
    let everywhere = kept.fetch_all(live.pool()).await.unwrap();
    sqlx::query("DELETE FROM evaluation_level_counts WHERE area = ''").execute(live.pool()).await.unwrap();
    let migration = include_str!("../../services/evaluation/migrations/1014_level_counts_everywhere.sql");
    sqlx::raw_sql(migration).execute(live.pool()).await.unwrap();
    let summed = sqlx::query_as::<_, (i64, String, i64)>(
        "SELECT day, level, n FROM evaluation_level_counts WHERE area = '' ORDER BY day, level",
    );
    assert_eq!(summed.fetch_all(live.pool()).await.unwrap(), everywhere);
    assert!(!everywhere.is_empty());
    assert!(replay::same_read_model(live.pool(), rebuilt.pool()).await.unwrap(), "compared a page at a time");

    // A projection whose day counts were never built (an installation upgraded with cases) gets
    // them built from its rows when the service starts, equal to the ones kept as it went.
    let kept = kpi_days::dump(live.pool()).await.unwrap();
    sqlx::query("DELETE FROM evaluation_kpi_days").execute(live.pool()).await.unwrap();
    sqlx::query("DELETE FROM evaluation_kpi_days_offset").execute(live.pool()).await.unwrap();
    let mut unbuilt = Report::new(Period::Month, zone());
    kpi_days::report(live.pool(), &CaseFilter::default(), &mut unbuilt).await.unwrap();
    assert_eq!(unbuilt.total().reported, CASES as u64, "unbuilt: counted from the rows");
    assert!(kpi_days::ensure(live.pool(), zone()).await.unwrap());
    assert!(!kpi_days::ensure(live.pool(), zone()).await.unwrap(), "built once");
    assert_eq!(kpi_days::dump(live.pool()).await.unwrap(), kept);

    // A city on daylight saving time: the counts are cut again at New York's midnights (days of
    // 23 and 25 hours in March and November 2025) and still give what the rows give.
    let new_york = gridloop_domain::clock::parse_zone("America/New_York").unwrap();
    assert!(kpi_days::ensure(live.pool(), new_york).await.unwrap(), "another zone: built again");
    assert_ne!(kpi_days::dump(live.pool()).await.unwrap(), kept, "cut at other midnights");
    assert_reports_agree(&live, new_york).await;
    let mut across = Report::new(Period::Day, new_york);
    let spring_forward = CaseFilter {
        from: Some(micros("2025-03-08T12:00:00-05:00")),
        to: Some(micros("2025-03-10T12:00:00-04:00")),
        ..CaseFilter::default()
    };
    kpi_days::report(live.pool(), &spring_forward, &mut across).await.unwrap();
    let labels: Vec<String> = across.periods().into_iter().map(|p| p.label).collect();
    assert_eq!(labels, ["2025-03-08", "2025-03-09", "2025-03-10"], "the synthetic city opens cases every day");
    assert!(kpi_days::ensure(live.pool(), zone()).await.unwrap(), "back to the city's zone");
    assert_eq!(kpi_days::dump(live.pool()).await.unwrap(), kept);
    // One count off, and the read models differ.
    sqlx::query("UPDATE evaluation_kpi_days SET closed = closed + 1 WHERE area = '' AND scope = 0 AND day = (SELECT MAX(day) FROM evaluation_kpi_days)")
        .execute(live.pool())
        .await
        .unwrap();
    assert!(!replay::same_read_model(live.pool(), rebuilt.pool()).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_the_day_counts_give_the_reports_the_rows_give() {
    let dir = tempfile::tempdir().unwrap();
    let connect = |name: &str| {
        let url = format!("sqlite://{}", dir.path().join(name).display());
        async move { EventStore::connect(&url, StoreOptions::default()).await.unwrap() }
    };
    check(connect("live.db").await, connect("rebuilt.db").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_the_day_counts_give_the_reports_the_rows_give() {
    let Some(url) = postgres_url() else { return backend_missing("Postgres") };
    let schema = format!("kpi_days_{}", uuid::Uuid::now_v7().simple());
    let connect = |suffix: &str| {
        let options =
            StoreOptions { schema: Some(format!("{schema}_{suffix}")), max_connections: 4, ..StoreOptions::default() };
        let url = url.clone();
        async move { EventStore::connect(&url, options).await.unwrap() }
    };
    let (live, rebuilt) = (connect("live").await, connect("rebuilt").await);
    check(live.clone(), rebuilt).await;
    for suffix in ["live", "rebuilt"] {
        sqlx::query(&format!("DROP SCHEMA {schema}_{suffix} CASCADE")).execute(live.pool()).await.unwrap();
    }
}
