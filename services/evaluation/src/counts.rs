//! The case projection counted per grid and state (`CountCases`): the cases at each step of the
//! loop now, and the open and overdue cases per grid a command centre's map is coloured by.

use gridloop_domain::case_state::CaseState;
use gridloop_domain::jurisdiction::AreaCode;
use gridloop_proto::convert;
use gridloop_proto::v1 as pb;
use sqlx::AnyPool;

/// The states in which a deadline runs: to accept once dispatched, to resolve once accepted.
/// In the others it was met or missed already, or paused (mediation).
const DEADLINE_STATES: [CaseState; 2] = [CaseState::Dispatched, CaseState::Accepted];

/// Which cases to count, and against which instants (µs).
pub struct CountFilter<'a> {
    pub area: Option<&'a AreaCode>,
    /// Closed and rejected cases count only from this instant on.
    pub closed_from: Option<i64>,
    pub now: i64,
    /// Open deadlines before this instant (and not before `now`) are due soon.
    pub due_soon_before: i64,
}

#[derive(Debug, sqlx::FromRow)]
struct CountRow {
    grid_code: String,
    state: String,
    count: i64,
    overdue: i64,
    due_soon: i64,
}

/// One entry per grid and state holding at least one case, by grid then state.
pub async fn count(pool: &AnyPool, filter: &CountFilter<'_>) -> Result<Vec<pb::CaseCount>, sqlx::Error> {
    let rows: Vec<CountRow> = sqlx::query_as(
        "SELECT grid_code, state, COUNT(*) AS count, \
         COUNT(CASE WHEN state IN ($3, $4) AND due_at < $5 THEN 1 END) AS overdue, \
         COUNT(CASE WHEN state IN ($3, $4) AND due_at >= $5 AND due_at < $6 THEN 1 END) AS due_soon \
         FROM evaluation_cases \
         WHERE grid_code LIKE $1 AND (state NOT IN ($7, $8) OR COALESCE(closed_at, updated_at) >= $2) \
         GROUP BY grid_code, state ORDER BY grid_code, state",
    )
    .bind(format!("{}%", filter.area.map_or("", AreaCode::as_str)))
    .bind(filter.closed_from.unwrap_or(i64::MIN))
    .bind(DEADLINE_STATES[0].name())
    .bind(DEADLINE_STATES[1].name())
    .bind(filter.now)
    .bind(filter.due_soon_before)
    .bind(CaseState::Closed.name())
    .bind(CaseState::Rejected.name())
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(CountRow::entry).collect())
}

impl CountRow {
    fn entry(self) -> pb::CaseCount {
        let state = self.state.parse::<CaseState>().map_or(pb::CaseState::Unspecified, convert::case_state);
        let count = |n: i64| u64::try_from(n).unwrap_or_default();
        pb::CaseCount {
            grid_code: self.grid_code,
            state: state as i32,
            count: count(self.count),
            overdue: count(self.overdue),
            due_soon: count(self.due_soon),
        }
    }
}
