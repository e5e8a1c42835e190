//! The case list (`ListCases`): a page of the case projection in one of two orders. Each filter
//! shape has its own statement, holding only the filters asked for, and a page starts after the
//! last case of the page before (keyset), so a deep page reads what the first one does.

use crate::kpi::CaseFilter;
use crate::projection::{self, CaseRow};
use gridloop_domain::case_state::CaseState;
use gridloop_domain::level::Level;
use sqlx::any::AnyArguments;
use sqlx::query::QueryAs;
use sqlx::{Any, AnyPool, Connection};

/// The order of a case list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Newest first (by opening time), then by case id.
    Newest,
    /// Highest priority first, oldest first within a priority, then by case id.
    Priority,
}

impl Order {
    fn by(self) -> &'static str {
        match self {
            Order::Newest => "opened_at DESC, case_id",
            Order::Priority => "priority DESC, opened_at, case_id",
        }
    }

    /// The leading key (descending) and the keys that order cases of one leading value
    /// (ascending): the split a page's start is written in.
    fn keys(self) -> (&'static str, &'static [&'static str]) {
        match self {
            Order::Newest => ("opened_at", &["case_id"]),
            Order::Priority => ("priority", &["opened_at", "case_id"]),
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Order::Newest => "n",
            Order::Priority => "p",
        }
    }
}

/// Which cases a list shows: the KPIs' filter (area, category, current level, opening window),
/// a state, and the resident who reported them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub cases: CaseFilter,
    pub state: Option<CaseState>,
    pub reporter: Option<String>,
}

/// Where a page ended: the sort key of its last case. The next page starts after it, so cases
/// opened or reordered meanwhile neither repeat nor push others off the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    order: Order,
    priority: i64,
    opened_at: i64,
    case_id: String,
}

impl Cursor {
    /// After `row` in `order`.
    pub fn after(row: &CaseRow, order: Order) -> Self {
        let priority = if order == Order::Priority { row.priority } else { 0 };
        Cursor { order, priority, opened_at: row.opened_at, case_id: row.case_id.clone() }
    }

    /// The page token: the order, then its keys.
    pub fn token(&self) -> String {
        match self.order {
            Order::Newest => format!("{}.{}.{}", self.order.tag(), self.opened_at, self.case_id),
            Order::Priority => {
                format!("{}.{}.{}.{}", self.order.tag(), self.priority, self.opened_at, self.case_id)
            }
        }
    }

    /// The cursor a token of a list in `order` names; `None` for anything else (a token of the
    /// other order, or none a page gave).
    pub fn parse(token: &str, order: Order) -> Option<Self> {
        let rest = token.strip_prefix(order.tag())?.strip_prefix('.')?;
        let (priority, rest) = match order {
            Order::Newest => (0, rest),
            Order::Priority => {
                let (priority, rest) = rest.split_once('.')?;
                (priority.parse().ok()?, rest)
            }
        };
        let (opened_at, case_id) = rest.split_once('.')?;
        let opened_at = opened_at.parse().ok()?;
        (!case_id.is_empty()).then(|| Cursor { order, priority, opened_at, case_id: case_id.to_string() })
    }

    fn lead(&self) -> i64 {
        match self.order {
            Order::Newest => self.opened_at,
            Order::Priority => self.priority,
        }
    }

    fn tail(&self) -> Vec<Value> {
        match self.order {
            Order::Newest => vec![Value::Text(self.case_id.clone())],
            Order::Priority => vec![Value::Int(self.opened_at), Value::Text(self.case_id.clone())],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Text(String),
    Int(i64),
}

/// A statement and its values, bound in order as `$1`, `$2`, ….
#[derive(Debug, Default, PartialEq, Eq)]
struct Statement {
    sql: String,
    values: Vec<Value>,
}

impl Statement {
    /// The placeholder of a new value.
    fn value(&mut self, value: Value) -> String {
        self.values.push(value);
        format!("${}", self.values.len())
    }
}

/// The index SQLite reads a list by. SQLite keeps no statistics here: it takes any equality on
/// an indexed column as selective and would read (say) every closed case by the state index
/// and sort them all. So the statement names one index by leaving its column bare and writes
/// the other filters `+column`, which no index serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Driver {
    /// The order's own index, walked until a page is found: a filter's share of the cases is
    /// unknown, but a walk that stops after a page reads a few hundred rows for common ones.
    Order,
    /// The codes index, for a community or grid: a few thousand cases in any city, gathered
    /// and sorted, where a walk would pass a hundred others for each of them.
    Area,
    /// The category index, in opening order: a walk within one category, newest first.
    Category,
    /// The reporter index: a resident's own cases are few.
    Reporter,
}

/// `name`, or on SQLite (a driver chosen) `+name` unless it is the column of an index one of
/// `serves` reads by.
fn bare_for(driver: Option<Driver>, name: &str, serves: &[Driver]) -> String {
    match driver {
        Some(driver) if !serves.contains(&driver) => format!("+{name}"),
        _ => name.to_string(),
    }
}

fn driver(filter: &ListFilter, order: Order) -> Driver {
    let small_area = filter.cases.area.as_ref().is_some_and(|area| area.level() <= Level::Community);
    if filter.reporter.is_some() {
        Driver::Reporter
    } else if small_area {
        Driver::Area
    } else if filter.cases.category.is_some() && order == Order::Newest {
        Driver::Category
    } else {
        Driver::Order
    }
}

/// The filter's conditions, each with its placeholders; on SQLite, with the column of every
/// index but the [`Driver`]'s written `+column`.
fn conditions(filter: &ListFilter, order: Order, driver: Option<Driver>, statement: &mut Statement) -> Vec<String> {
    let column = |name: &str, serves: &[Driver]| bare_for(driver, name, serves);
    // The opening time orders the newest-first walk and the category index.
    let opened = if order == Order::Newest { &[Driver::Order, Driver::Category][..] } else { &[] };
    let cases = &filter.cases;
    let mut out = Vec::new();
    if let Some(state) = filter.state {
        out.push(format!("{} = {}", column("state", &[]), statement.value(Value::Text(state.name().into()))));
    }
    if let Some(area) = &cases.area {
        let first = statement.value(Value::Text(area.as_str().into()));
        let last = statement.value(Value::Text(area.last_under().as_str().into()));
        out.push(format!("{} BETWEEN {first} AND {last}", column("grid_code", &[Driver::Area])));
    }
    if let Some(category) = &cases.category {
        let value = statement.value(Value::Text(category.clone()));
        out.push(format!("{} = {value}", column("category_code", &[Driver::Category])));
    }
    if let Some(level) = cases.level {
        out.push(format!("{} = {}", column("level", &[]), statement.value(Value::Text(level.as_str().into()))));
    }
    if let Some(from) = cases.from {
        out.push(format!("{} >= {}", column("opened_at", opened), statement.value(Value::Int(from))));
    }
    if let Some(to) = cases.to {
        out.push(format!("{} < {}", column("opened_at", opened), statement.value(Value::Int(to))));
    }
    if let Some(reporter) = &filter.reporter {
        out.push(format!("reporter_id = {}", statement.value(Value::Text(reporter.clone()))));
    }
    out
}

fn select(columns: &str, conditions: &[String], order_by: &str, limit: &str) -> String {
    let filter = if conditions.is_empty() { String::new() } else { format!(" WHERE {}", conditions.join(" AND ")) };
    format!("SELECT {columns} FROM evaluation_cases{filter} ORDER BY {order_by} LIMIT {limit}")
}

/// The statement of one page. After a cursor, the page is the cases tied with the cursor on
/// the leading key and after it on the others, then the cases past that key: two reads that
/// each start where the cursor is in an index of their order, instead of skipping the rows of
/// every page before.
fn statement(filter: &ListFilter, order: Order, limit: u32, after: Option<&Cursor>, sqlite: bool) -> Statement {
    let columns = projection::COLUMNS.join(", ");
    let mut statement = Statement::default();
    let driver = sqlite.then(|| driver(filter, order));
    let filters = conditions(filter, order, driver, &mut statement);
    let limit = statement.value(Value::Int(i64::from(limit)));
    let Some(cursor) = after else {
        statement.sql = select(&columns, &filters, order.by(), &limit);
        return statement;
    };
    // Where a walk of the order's index reads the page, it starts at the cursor; where one
    // index gathers the filter's cases, the cursor only filters them.
    let walks = if order == Order::Newest { &[Driver::Order, Driver::Category][..] } else { &[Driver::Order] };
    let (lead, tail) = order.keys();
    let lead_value = statement.value(Value::Int(cursor.lead()));
    let tail_values: Vec<String> = cursor.tail().into_iter().map(|v| statement.value(v)).collect();
    let lead = bare_for(driver, lead, walks);
    let tail_columns: Vec<String> = tail.iter().map(|column| bare_for(driver, column, walks)).collect();
    let mut tied = filters.clone();
    tied.push(format!("{lead} = {lead_value}"));
    tied.push(format!("({}) > ({})", tail_columns.join(", "), tail_values.join(", ")));
    let mut rest = filters;
    rest.push(format!("{lead} < {lead_value}"));
    statement.sql = format!(
        "SELECT {columns} FROM ({}) AS tied UNION ALL SELECT {columns} FROM ({}) AS rest ORDER BY {} LIMIT {limit}",
        select(&columns, &tied, &tail.join(", "), &limit),
        select(&columns, &rest, order.by(), &limit),
        order.by()
    );
    statement
}

fn bind<'q>(
    mut query: QueryAs<'q, Any, CaseRow, AnyArguments<'q>>,
    values: &'q [Value],
) -> QueryAs<'q, Any, CaseRow, AnyArguments<'q>> {
    for value in values {
        query = match value {
            Value::Text(text) => query.bind(text.as_str()),
            Value::Int(n) => query.bind(*n),
        };
    }
    query
}

/// Up to `limit` cases the filter selects, in `order`, after `after` (from the start without).
pub async fn list(
    pool: &AnyPool,
    filter: &ListFilter,
    order: Order,
    limit: u32,
    after: Option<&Cursor>,
) -> Result<Vec<CaseRow>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let postgres = conn.backend_name() == "PostgreSQL";
    let statement = statement(filter, order, limit, after, !postgres);
    let query = bind(sqlx::query_as::<_, CaseRow>(&statement.sql), &statement.values);
    if !postgres {
        return query.fetch_all(&mut *conn).await;
    }
    // The store's connections plan a statement once for any values, which serves its writers;
    // the best page plan depends on how many cases the values select — walk an index of the
    // order for a district's closed cases, gather and sort a grid's rejected ones — so this
    // one is planned for its values.
    let mut tx = conn.begin().await?;
    sqlx::query("SET LOCAL plan_cache_mode = force_custom_plan").execute(&mut *tx).await?;
    let rows = query.fetch_all(&mut *tx).await?;
    tx.commit().await?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridloop_domain::jurisdiction::AreaCode;

    fn row(priority: i64, opened_at: i64, case_id: &str) -> CaseRow {
        CaseRow {
            case_id: case_id.into(),
            version: 1,
            state: "dispatched".into(),
            level: None,
            category_code: "A01".into(),
            grid_code: "321012001001001".into(),
            description: String::new(),
            opened_at,
            updated_at: opened_at,
            closed_at: None,
            settled_level: None,
            satisfaction: None,
            escalations: 0,
            reopen_count: 0,
            linked_reports: 0,
            priority,
            priority_reasons: String::new(),
            dispatched_at: None,
            accepted_at: None,
            responded_on_time: None,
            resolved_at: None,
            due_at: None,
            deadline_misses: 0,
            mediations_requested: 0,
            mediations_agreed: 0,
            mediations_failed: 0,
            closed_on_time: None,
            reporter_id: None,
            imported: 0,
            channel: String::new(),
        }
    }

    #[test]
    fn a_token_names_its_order_and_keys_and_nothing_else_parses() {
        let newest = Cursor::after(&row(3, 1_700_000, "c-1"), Order::Newest);
        assert_eq!(newest.token(), "n.1700000.c-1");
        assert_eq!(Cursor::parse(&newest.token(), Order::Newest), Some(newest.clone()));
        let by_priority = Cursor::after(&row(3, -5, "c-2"), Order::Priority);
        assert_eq!(by_priority.token(), "p.3.-5.c-2");
        assert_eq!(Cursor::parse(&by_priority.token(), Order::Priority), Some(by_priority.clone()));
        for (token, order) in [
            (by_priority.token(), Order::Newest),
            (newest.token(), Order::Priority),
            ("950".into(), Order::Newest),
            ("n.x.c-1".into(), Order::Newest),
            ("n.5.".into(), Order::Newest),
            ("p.3.5".into(), Order::Priority),
        ] {
            assert_eq!(Cursor::parse(&token, order), None, "{token}");
        }
    }

    #[test]
    fn a_statement_holds_only_the_filters_asked_for() {
        let sql = |filter: &ListFilter, sqlite| statement(filter, Order::Newest, 50, None, sqlite).sql;
        let everything = sql(&ListFilter::default(), false);
        assert!(
            everything.ends_with("FROM evaluation_cases ORDER BY opened_at DESC, case_id LIMIT $1"),
            "{everything}"
        );
        let street = AreaCode::new("321012001").unwrap();
        let filter = ListFilter {
            cases: CaseFilter { area: Some(street), level: Some(Level::Grid), from: Some(7), ..CaseFilter::default() },
            state: Some(CaseState::Closed),
            reporter: None,
        };
        let built = statement(&filter, Order::Newest, 50, None, false);
        assert!(
            built.sql.contains(
                "WHERE state = $1 AND grid_code BETWEEN $2 AND $3 AND level = $4 AND opened_at >= $5 ORDER BY"
            ),
            "{}",
            built.sql
        );
        assert_eq!(built.values[1..3], [Value::Text("321012001".into()), Value::Text("321012001999999".into())]);
        assert!(!built.sql.contains("LIKE") && !built.sql.contains("OFFSET"));
        let on_sqlite = sql(&filter, true);
        assert!(
            on_sqlite.contains("WHERE +state = $1 AND +grid_code BETWEEN $2 AND $3 AND +level = $4"),
            "{on_sqlite}"
        );
        assert!(on_sqlite.contains("AND opened_at >= $5"), "the window narrows the walk: {on_sqlite}");
        let grid = AreaCode::new("321012001001001").unwrap();
        let in_a_grid = ListFilter { cases: CaseFilter { area: Some(grid), ..filter.cases.clone() }, ..filter };
        let gathered = sql(&in_a_grid, true);
        assert!(
            gathered.contains("AND grid_code BETWEEN $2 AND $3 AND +level = $4 AND +opened_at >= $5"),
            "{gathered}"
        );
    }

    #[test]
    fn a_page_after_a_cursor_reads_the_ties_then_the_rest() {
        let cursor = Cursor::after(&row(2, 90, "c-9"), Order::Priority);
        let filter = ListFilter { state: Some(CaseState::Accepted), ..ListFilter::default() };
        let built = statement(&filter, Order::Priority, 20, Some(&cursor), false);
        assert!(
            built.sql.contains("WHERE state = $1 AND priority = $3 AND (opened_at, case_id) > ($4, $5) ORDER BY opened_at, case_id LIMIT $2"),
            "{}",
            built.sql
        );
        assert!(built.sql.contains("WHERE state = $1 AND priority < $3 ORDER BY priority DESC"), "{}", built.sql);
        assert_eq!(
            built.values,
            [Value::Text("accepted".into()), Value::Int(20), Value::Int(2), Value::Int(90), Value::Text("c-9".into())]
        );
    }
}
