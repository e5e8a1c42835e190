//! The case list, page after page by token, shows exactly the cases its filter selects, in its
//! order, each once — for every filter shape (state, area at each level, category, level,
//! opening window, reporter) in both orders, on SQLite and Postgres; also when many cases share
//! an opening time, so pages end inside a run of equal keys.

use chrono::DateTime;
use gridloop_domain::case_state::CaseState;
use gridloop_domain::jurisdiction::AreaCode;
use gridloop_domain::level::Level;
use gridloop_domain::policy::CityPolicy;
use gridloop_evaluation::case_list::{self, Cursor, ListFilter, Order};
use gridloop_evaluation::kpi::CaseFilter;
use gridloop_evaluation::projection::{CaseRow, COLUMNS};
use gridloop_evaluation::replay::Rebuild;
use gridloop_eventstore::testing::{backend_missing, postgres_url};
use gridloop_eventstore::{EventStore, StoreOptions};
use gridloop_tests::history::SyntheticCity;
use std::cmp::Reverse;

const CASES: usize = 2_000;
const PAGE: u32 = 13;

fn micros(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().timestamp_micros()
}

/// Filters of every shape, alone and together.
fn filters() -> Vec<ListFilter> {
    let policy = CityPolicy::default_city();
    let grid = policy.jurisdiction.grids().nth(2).unwrap().code.clone();
    let category = policy.catalog.categories()[1].code.clone();
    let march = (Some(micros("2025-03-01T00:00:00+08:00")), Some(micros("2025-04-01T00:00:00+08:00")));
    let cases = |area: Option<AreaCode>, category: Option<&String>, level, (from, to)| CaseFilter {
        area,
        category: category.cloned(),
        level,
        from,
        to,
    };
    let mut out: Vec<ListFilter> = std::iter::once(None)
        .chain(Level::ALL.iter().map(|level| grid.ancestor(*level)))
        .chain([Some(AreaCode::new("999999").unwrap())])
        .map(|area| ListFilter { cases: cases(area, None, None, (None, None)), ..ListFilter::default() })
        .collect();
    for state in [CaseState::Closed, CaseState::Dispatched, CaseState::Rejected] {
        out.push(ListFilter { state: Some(state), ..ListFilter::default() });
    }
    out.extend([
        ListFilter { cases: cases(None, Some(&category), None, (None, None)), ..ListFilter::default() },
        ListFilter { cases: cases(None, None, Some(Level::Street), (None, None)), ..ListFilter::default() },
        ListFilter { cases: cases(None, None, None, march), ..ListFilter::default() },
        ListFilter { cases: cases(None, None, None, (march.0, None)), ..ListFilter::default() },
        ListFilter {
            cases: cases(grid.ancestor(Level::Street), Some(&category), Some(Level::Grid), march),
            state: Some(CaseState::Closed),
            reporter: None,
        },
        ListFilter {
            cases: cases(grid.ancestor(Level::Community), None, None, (None, None)),
            state: Some(CaseState::Closed),
            reporter: None,
        },
        ListFilter { reporter: Some("r17".into()), ..ListFilter::default() },
        ListFilter { reporter: Some("nobody".into()), ..ListFilter::default() },
    ]);
    out
}

fn selects(filter: &ListFilter, row: &CaseRow) -> bool {
    filter.cases.matches(row)
        && filter.state.is_none_or(|state| row.state == state.name())
        && filter.reporter.as_ref().is_none_or(|reporter| row.reporter_id.as_ref() == Some(reporter))
}

fn sorted(mut rows: Vec<CaseRow>, order: Order) -> Vec<String> {
    match order {
        Order::Newest => {
            rows.sort_by(|a, b| (Reverse(a.opened_at), &a.case_id).cmp(&(Reverse(b.opened_at), &b.case_id)))
        }
        Order::Priority => rows.sort_by(|a, b| {
            (Reverse(a.priority), a.opened_at, &a.case_id).cmp(&(Reverse(b.priority), b.opened_at, &b.case_id))
        }),
    }
    rows.into_iter().map(|row| row.case_id).collect()
}

/// Every page of the list, following each page's cursor (checked to survive its token).
async fn paged(store: &EventStore, filter: &ListFilter, order: Order) -> Vec<String> {
    let mut out = Vec::new();
    let mut after: Option<Cursor> = None;
    loop {
        let page = case_list::list(store.pool(), filter, order, PAGE, after.as_ref()).await.unwrap();
        out.extend(page.iter().map(|row| row.case_id.clone()));
        let Some(last) = page.last().filter(|_| page.len() == PAGE as usize) else { return out };
        let cursor = Cursor::after(last, order);
        assert_eq!(Cursor::parse(&cursor.token(), order).as_ref(), Some(&cursor));
        after = Some(cursor);
    }
}

async fn assert_lists_agree(store: &EventStore) {
    let sql = format!("SELECT {} FROM evaluation_cases", COLUMNS.join(", "));
    let rows: Vec<CaseRow> = sqlx::query_as(&sql).fetch_all(store.pool()).await.unwrap();
    let mut listed = 0;
    for filter in filters() {
        for order in [Order::Newest, Order::Priority] {
            let expected = sorted(rows.iter().filter(|row| selects(&filter, row)).cloned().collect(), order);
            assert_eq!(paged(store, &filter, order).await, expected, "{filter:?} by {order:?}");
            listed += expected.len();
        }
    }
    assert!(listed > 4 * CASES, "the filters select cases: {listed}");
}

async fn check(store: EventStore) {
    let mut rebuild = Rebuild::new(store.clone(), false, CityPolicy::default_city().calendar.zone()).await.unwrap();
    let mut city = SyntheticCity::new(CASES);
    for page in city.events(0..CASES).chunks(2_000) {
        rebuild.apply(page).await.unwrap();
    }
    assert_lists_agree(&store).await;
    // Imported history often knows only the day a case was opened: cases opened on the same
    // UTC day tie on their opening time (about six a day here).
    let day = 86_400_000_000_i64;
    sqlx::query(&format!("UPDATE evaluation_cases SET opened_at = opened_at - opened_at % {day}"))
        .execute(store.pool())
        .await
        .unwrap();
    assert_lists_agree(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_every_page_by_token_lists_what_the_filter_selects_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("evaluation.db").display());
    check(EventStore::connect(&url, StoreOptions::default()).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_every_page_by_token_lists_what_the_filter_selects_in_order() {
    let Some(url) = postgres_url() else { return backend_missing("Postgres") };
    let schema = format!("case_list_{}", uuid::Uuid::now_v7().simple());
    let options = StoreOptions { schema: Some(schema.clone()), max_connections: 4, ..StoreOptions::default() };
    let store = EventStore::connect(&url, options).await.unwrap();
    check(store.clone()).await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(store.pool()).await.unwrap();
}
