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
use gridloop_eventstore::{Commit, ExpectedVersion, StoreTx, StreamAppend};
use gridloop_proto::convert;
use gridloop_proto::edge::EventContext;
use gridloop_proto::v1 as pb;
use prost::Message;
use sqlx::AnyPool;

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

/// Count a closure at `level` of a case in `grid_code` at `closed_at` for every area above it,
/// and record a crossing of the tolerance for any of them. `context` is the closure's.
pub async fn on_closed(
    tx: &mut StoreTx,
    policy: &DriftPolicy,
    grid_code: &str,
    level: Level,
    closed_at: DateTime<Utc>,
    context: &EventContext,
) -> Result<(), HandlerError> {
    let Ok(grid) = grid_code.parse::<AreaCode>() else { return Ok(()) };
    if !policy.is_enabled() {
        return Ok(());
    }
    let day = closed_at.timestamp().div_euclid(DAY_SECONDS);
    let first_day = day - policy.window.num_days().max(1) + 1;
    let areas: Vec<AreaCode> = Level::ALL.iter().filter_map(|l| grid.ancestor(*l)).collect();
    // Three statements for all the areas at once (not three per area): this runs on every
    // closure, inside the consumer's transaction.
    let values = (0..areas.len()).map(|i| format!("(${}, $1, $2, 1)", i + 3)).collect::<Vec<_>>().join(", ");
    let upsert = format!(
        "INSERT INTO evaluation_level_counts (area, day, level, n) VALUES {values} \
         ON CONFLICT (area, day, level) DO UPDATE SET n = evaluation_level_counts.n + 1"
    );
    let mut query = sqlx::query(&upsert).bind(day).bind(level.as_str());
    for area in &areas {
        query = query.bind(area.as_str());
    }
    query.execute(&mut *tx.conn()).await.map_err(transient)?;

    let in_areas = (0..areas.len()).map(|i| format!("${}", i + 3)).collect::<Vec<_>>().join(", ");
    let sum = format!(
        "SELECT area, level, CAST(SUM(n) AS BIGINT) FROM evaluation_level_counts \
         WHERE day >= $1 AND day <= $2 AND area IN ({in_areas}) GROUP BY area, level"
    );
    let mut query = sqlx::query_as::<_, (String, String, i64)>(&sum).bind(first_day).bind(day);
    for area in &areas {
        query = query.bind(area.as_str());
    }
    let counts = query.fetch_all(&mut *tx.conn()).await.map_err(transient)?;

    let in_drift = (0..areas.len()).map(|i| format!("${}", i + 1)).collect::<Vec<_>>().join(", ");
    let select_drifted = format!("SELECT area FROM evaluation_drift WHERE drifted <> 0 AND area IN ({in_drift})");
    let mut query = sqlx::query_as::<_, (String,)>(&select_drifted);
    for area in &areas {
        query = query.bind(area.as_str());
    }
    let drifted = query.fetch_all(&mut *tx.conn()).await.map_err(transient)?;

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
    .execute(&mut *tx.conn())
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
