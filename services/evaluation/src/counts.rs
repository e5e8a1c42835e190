//! The case projection counted per grid and state (`CountCases`): the cases at each step of the
//! loop now, and the open and overdue cases per grid a command centre's map is coloured by; and
//! counted per channel: the day's intake by hotline, patrol, resident app, platform ….

use gridloop_domain::case::Channel;
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

/// The cases in `area` opened at or after `from` (µs), per channel: every channel in the
/// enum's order, zeros included, then the rows projected without a channel, if any.
pub async fn intake(pool: &AnyPool, area: Option<&AreaCode>, from: i64) -> Result<Vec<pb::ChannelCount>, sqlx::Error> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT channel, COUNT(*) FROM evaluation_cases WHERE opened_at >= $1 AND grid_code LIKE $2 GROUP BY channel",
    )
    .bind(from)
    .bind(format!("{}%", area.map_or("", AreaCode::as_str)))
    .fetch_all(pool)
    .await?;
    Ok(per_channel(&rows))
}

fn per_channel(rows: &[(String, i64)]) -> Vec<pb::ChannelCount> {
    let count_of = |name: &str| rows.iter().find(|(n, _)| n == name).map_or(0, |(_, n)| u64::try_from(*n).unwrap_or(0));
    let mut counts: Vec<pb::ChannelCount> = Channel::ALL
        .into_iter()
        .map(|channel| pb::ChannelCount {
            channel: convert::channel(channel) as i32,
            count: count_of(channel.as_str()),
        })
        .collect();
    let unknown: u64 = rows
        .iter()
        .filter(|(name, _)| Channel::from_name(name).is_none())
        .map(|(_, n)| u64::try_from(*n).unwrap_or(0))
        .sum();
    if unknown > 0 {
        counts.push(pb::ChannelCount { channel: pb::Channel::Unspecified as i32, count: unknown });
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_channel_is_listed_in_order_and_rows_without_one_last() {
        let rows = [("hotline".to_string(), 3), ("patrol".to_string(), 2), (String::new(), 4)];
        let counts = per_channel(&rows);
        let listed: Vec<(pb::Channel, u64)> = counts.iter().map(|c| (c.channel(), c.count)).collect();
        assert_eq!(listed.len(), Channel::ALL.len() + 1);
        assert_eq!(listed[0], (pb::Channel::Patrol, 2));
        assert_eq!(listed[2], (pb::Channel::Hotline, 3));
        assert_eq!(listed[1], (pb::Channel::ResidentApp, 0), "zeros are listed too");
        assert_eq!(listed.last(), Some(&(pb::Channel::Unspecified, 4)));
        assert_eq!(per_channel(&[]).len(), Channel::ALL.len(), "no unspecified entry without such rows");
    }
}
