//! The 4321 drift monitor's adapter: counts each closure per area, day and level, and records a
//! `DistributionDriftDetected` / `DistributionDriftCleared` on the area's `drift-<area>` stream
//! when the area's distribution over the window crosses the tolerance (domain: `drift::assess`).
//! Everything happens in the transaction that applies the `CaseClosed`, so a redelivered event
//! neither counts twice nor alerts twice.

use chrono::{DateTime, Utc};
use gridloop_bus::HandlerError;
use gridloop_domain::drift::{self, Distribution, DriftChange, DriftPolicy};
use gridloop_domain::jurisdiction::AreaCode;
use gridloop_domain::level::Level;
use gridloop_eventstore::{Commit, ExpectedVersion, Placeholders, StoreTx, StreamAppend};
use gridloop_proto::convert;
use gridloop_proto::edge::EventContext;
use gridloop_proto::v1 as pb;
use prost::Message;
use sqlx::{AnyConnection, AnyPool};

const DAY_SECONDS: i64 = 86_400;

fn transient(e: impl std::fmt::Display) -> HandlerError {
    HandlerError::Transient(e.to_string())
}

/// A row of `evaluation_drift`: an area's last crossing.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DriftRow {
    pub area: String,
    pub drifted: i64,
    pub changed_at: i64,
    pub grid_share: f64,
    pub community_share: f64,
    pub street_share: f64,
    pub district_share: f64,
    pub deviation: f64,
    pub closed_total: i64,
}

impl DriftRow {
    pub fn alert(&self) -> pb::DriftAlert {
        let shares = [self.grid_share, self.community_share, self.street_share, self.district_share];
        let closed_total = u64::try_from(self.closed_total).unwrap_or_default();
        pb::DriftAlert {
            area: self.area.clone(),
            drifted: self.drifted != 0,
            changed_at: DateTime::from_timestamp_micros(self.changed_at).map(convert::timestamp),
            levels: Level::ALL
                .iter()
                .map(|level| {
                    let share = shares[*level as usize];
                    pb::LevelShare {
                        level: convert::level(*level) as i32,
                        count: (share * closed_total as f64).round() as u64,
                        share,
                        target: level.target_share(),
                        deviation: share - level.target_share(),
                    }
                })
                .collect(),
            deviation: self.deviation,
            closed_total,
        }
    }
}

/// One row of `evaluation_level_counts`: closures settled at `level` on UTC `day` in `area`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct LevelCountKey {
    pub area: String,
    pub day: i64,
    pub level: &'static str,
}

/// The counts a closure at `level` of a case in `grid_code` at `closed_at` adds to: one per area
/// above it (district, street, community, grid). None when the grid code is not an area code.
pub fn level_count_keys(grid_code: &str, level: Level, closed_at: DateTime<Utc>) -> Option<Vec<LevelCountKey>> {
    let grid = grid_code.parse::<AreaCode>().ok()?;
    let day = closed_at.timestamp().div_euclid(DAY_SECONDS);
    let keys = Level::ALL
        .iter()
        .filter_map(|l| grid.ancestor(*l))
        .map(|area| LevelCountKey { area: area.as_str().to_string(), day, level: level.as_str() })
        .collect();
    Some(keys)
}

/// Add `counts` to `evaluation_level_counts` (a live closure, or a replayed batch of them).
pub async fn add_level_counts(conn: &mut AnyConnection, counts: &[(LevelCountKey, i64)]) -> Result<(), sqlx::Error> {
    // 4 parameters per row: far below every bind-parameter limit.
    for chunk in counts.chunks(1000) {
        let sql = format!(
            "INSERT INTO evaluation_level_counts (area, day, level, n) VALUES {} \
             ON CONFLICT (area, day, level) DO UPDATE SET n = evaluation_level_counts.n + excluded.n",
            Placeholders::of(conn).values_rows(chunk.len(), 4)
        );
        let mut query = sqlx::query(&sql);
        for (key, n) in chunk {
            query = query.bind(key.area.as_str()).bind(key.day).bind(key.level).bind(*n);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Every level count, in key order (part of the read model a replay must reproduce).
pub async fn level_counts(pool: &AnyPool) -> Result<Vec<(LevelCountKey, i64)>, sqlx::Error> {
    let rows: Vec<(String, i64, String, i64)> =
        sqlx::query_as("SELECT area, day, level, n FROM evaluation_level_counts ORDER BY area, day, level")
            .fetch_all(pool)
            .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(area, day, level, n)| {
            let level = level.parse::<Level>().ok()?.as_str();
            Some((LevelCountKey { area, day, level }, n))
        })
        .collect())
}

/// Count a closure at `level` of a case in `grid_code` at `closed_at` for every area above it,
/// and, when the monitor is on, record a crossing of the tolerance for any of them. `context`
/// is the closure's. The counts are kept either way: they are the projection `gridloop replay`
/// rebuilds, whatever the alert settings.
pub async fn on_closed(
    tx: &mut StoreTx,
    policy: &DriftPolicy,
    grid_code: &str,
    level: Level,
    closed_at: DateTime<Utc>,
    context: &EventContext,
) -> Result<(), HandlerError> {
    let Some(keys) = level_count_keys(grid_code, level, closed_at) else { return Ok(()) };
    let Some(day) = keys.first().map(|key| key.day) else { return Ok(()) };
    let areas: Vec<AreaCode> = keys.iter().filter_map(|key| key.area.parse().ok()).collect();
    let added: Vec<(LevelCountKey, i64)> = keys.into_iter().map(|key| (key, 1)).collect();
    add_level_counts(tx.conn().await.map_err(transient)?, &added).await.map_err(transient)?;
    if !policy.is_enabled() {
        return Ok(());
    }
    let first_day = day - policy.window.num_days().max(1) + 1;

    // A handful of parameters after the literal `$1`/`$2`: numbered on every backend.
    let in_areas = Placeholders::Numbered.list(3, areas.len());
    let sum = format!(
        "SELECT area, level, CAST(SUM(n) AS BIGINT) FROM evaluation_level_counts \
         WHERE day >= $1 AND day <= $2 AND area IN ({in_areas}) GROUP BY area, level"
    );
    let mut query = sqlx::query_as::<_, (String, String, i64)>(&sum).bind(first_day).bind(day);
    for area in &areas {
        query = query.bind(area.as_str());
    }
    let counts = query.fetch_all(tx.conn().await.map_err(transient)?).await.map_err(transient)?;

    let in_drift = Placeholders::Numbered.list(1, areas.len());
    let select_drifted = format!("SELECT area FROM evaluation_drift WHERE drifted <> 0 AND area IN ({in_drift})");
    let mut query = sqlx::query_as::<_, (String,)>(&select_drifted);
    for area in &areas {
        query = query.bind(area.as_str());
    }
    let drifted = query.fetch_all(tx.conn().await.map_err(transient)?).await.map_err(transient)?;

    for area in &areas {
        let mut distribution = Distribution::default();
        for (_, name, n) in counts.iter().filter(|(a, _, _)| a == area.as_str()) {
            if let Ok(l) = name.parse::<Level>() {
                distribution.0[l as usize] = u64::try_from(*n).unwrap_or_default();
            }
        }
        let was_drifted = drifted.iter().any(|(a,)| a == area.as_str());
        let Some(change) = drift::assess(policy, was_drifted, &distribution) else { continue };
        let window_from = DateTime::from_timestamp(first_day * DAY_SECONDS, 0);
        record(tx, policy, area, change, &distribution, closed_at, window_from, context).await?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn record(
    tx: &mut StoreTx,
    policy: &DriftPolicy,
    area: &AreaCode,
    change: DriftChange,
    distribution: &Distribution,
    at: DateTime<Utc>,
    window_from: Option<DateTime<Utc>>,
    context: &EventContext,
) -> Result<(), HandlerError> {
    let [grid_share, community_share, street_share, district_share] = distribution.shares();
    let deviation = distribution.deviation();
    let detected = pb::DistributionDriftDetected {
        area: area.to_string(),
        grid_share,
        community_share,
        street_share,
        district_share,
        deviation,
        tolerance: policy.tolerance,
        closed_total: distribution.total(),
        window_from: window_from.map(convert::timestamp),
        window_to: Some(convert::timestamp(at)),
    };
    let (short, payload) = match change {
        DriftChange::Detected => ("DistributionDriftDetected", detected.encode_to_vec()),
        DriftChange::Cleared => {
            let d = detected;
            let cleared = pb::DistributionDriftCleared {
                area: d.area,
                grid_share,
                community_share,
                street_share,
                district_share,
                deviation,
                tolerance: d.tolerance,
                closed_total: d.closed_total,
                window_from: d.window_from,
                window_to: d.window_to,
            };
            ("DistributionDriftCleared", cleared.encode_to_vec())
        }
    };
    let context = EventContext {
        correlation_id: format!("drift-{area}"),
        routing_key: area.to_string(),
        occurred_at: at,
        ..context.clone()
    };
    let commit = Commit {
        appends: vec![StreamAppend {
            stream: format!("drift-{area}"),
            expected: ExpectedVersion::Any,
            events: vec![context.event((convert::event_type(short), payload))],
        }],
        ..Commit::default()
    };
    tx.apply(commit).await.map_err(transient)?;
    sqlx::query(
        "INSERT INTO evaluation_drift (area, drifted, changed_at, grid_share, community_share, street_share, \
         district_share, deviation, closed_total) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (area) DO UPDATE SET drifted = excluded.drifted, changed_at = excluded.changed_at, \
         grid_share = excluded.grid_share, community_share = excluded.community_share, \
         street_share = excluded.street_share, district_share = excluded.district_share, \
         deviation = excluded.deviation, closed_total = excluded.closed_total",
    )
    .bind(area.as_str())
    .bind(i64::from(change == DriftChange::Detected))
    .bind(at.timestamp_micros())
    .bind(grid_share)
    .bind(community_share)
    .bind(street_share)
    .bind(district_share)
    .bind(deviation)
    .bind(i64::try_from(distribution.total()).unwrap_or(i64::MAX))
    .execute(tx.conn().await.map_err(transient)?)
    .await
    .map_err(transient)?;
    Ok(())
}

/// Areas under `area` (a code prefix) with a recorded crossing; only those out of tolerance now
/// unless `include_cleared`. Most deviant first.
pub async fn list(pool: &AnyPool, area: Option<&str>, include_cleared: bool) -> Result<Vec<DriftRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT area, drifted, changed_at, grid_share, community_share, street_share, district_share, deviation, \
         closed_total FROM evaluation_drift WHERE area LIKE $1 AND (drifted = 1 OR $2 = 1) \
         ORDER BY drifted DESC, deviation DESC, area",
    )
    .bind(format!("{}%", area.unwrap_or_default()))
    .bind(i64::from(include_cleared))
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_closure_counts_once_for_each_area_above_its_grid_on_its_utc_day() {
        // 2026-03-02 23:30 UTC is already 3 March in the city (UTC+8): counts are per UTC day.
        let closed_at = Utc.with_ymd_and_hms(2026, 3, 2, 23, 30, 0).unwrap();
        let keys = level_count_keys("321012001002003", Level::Community, closed_at).unwrap();
        let day = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap().timestamp() / DAY_SECONDS;
        let areas: Vec<&str> = keys.iter().map(|k| k.area.as_str()).collect();
        assert_eq!(areas, ["321012001002003", "321012001002", "321012001", "321012"]);
        assert!(keys.iter().all(|k| k.day == day && k.level == "community"), "{keys:?}");
        let before_epoch = Utc.with_ymd_and_hms(1969, 12, 31, 12, 0, 0).unwrap();
        assert_eq!(level_count_keys("321012001002003", Level::Grid, before_epoch).unwrap()[0].day, -1);
        assert_eq!(level_count_keys("not-a-grid", Level::Grid, closed_at), None);
    }
}
