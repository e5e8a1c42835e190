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
use gridloop_eventstore::{Batch, Commit, ExpectedVersion, Placeholders, StoreTx, StreamAppend};
use gridloop_kit::{EventContext, Origin};
use gridloop_proto::convert;
use gridloop_proto::v1 as pb;
use prost::Message;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};
use std::collections::{HashMap, HashSet};

const DAY_SECONDS: i64 = 86_400;

fn store_failure(e: impl Into<gridloop_eventstore::StoreError>) -> HandlerError {
    HandlerError::store(e)
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

/// The area of the counts over the whole installation, every district together: what the 4321
/// distribution without an area reads (the monitor judges areas, never this).
pub const EVERYWHERE: &str = "";

/// The counts a closure at `level` of a case in `grid_code` at `closed_at` adds to: one per area
/// above it (grid, community, street, district) and one for the whole installation. None when
/// the grid code is not an area code.
pub fn level_count_keys(grid_code: &str, level: Level, closed_at: DateTime<Utc>) -> Option<Vec<LevelCountKey>> {
    let grid = grid_code.parse::<AreaCode>().ok()?;
    let day = closed_at.timestamp().div_euclid(DAY_SECONDS);
    let keys = Level::ALL
        .iter()
        .filter_map(|l| grid.ancestor(*l))
        .map(|area| area.as_str().to_string())
        .chain([EVERYWHERE.to_string()])
        .map(|area| LevelCountKey { area, day, level: level.as_str() })
        .collect();
    Some(keys)
}

/// Add `counts` to `evaluation_level_counts` (a replayed batch of closures).
pub async fn add_level_counts(conn: &mut AnyConnection, counts: &[(LevelCountKey, i64)]) -> Result<(), sqlx::Error> {
    let mut batch = Batch::new(Placeholders::of(conn));
    queue_level_counts(&mut batch, counts);
    batch.execute(conn).await
}

fn queue_level_counts<'q>(batch: &mut Batch<'q>, counts: &'q [(LevelCountKey, i64)]) {
    let style = batch.style();
    // 4 parameters per row: far below every bind-parameter limit.
    for chunk in counts.chunks(1000) {
        let sql = format!(
            "INSERT INTO evaluation_level_counts (area, day, level, n) VALUES {} \
             ON CONFLICT (area, day, level) DO UPDATE SET n = evaluation_level_counts.n + excluded.n",
            style.values_rows(chunk.len(), 4)
        );
        let mut binds = batch.statement(&sql);
        for (key, n) in chunk {
            binds.bind(key.area.as_str()).bind(key.day).bind(key.level).bind(*n);
        }
    }
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

/// A closure at `level` of a case in `grid_code` at `closed_at`, to count for every area above
/// it and, when the monitor is on, to assess for a crossing of the tolerance in any of them. The
/// counts are kept either way: they are the projection `gridloop replay` rebuilds, whatever the
/// alert settings.
pub struct Closure {
    areas: Vec<AreaCode>,
    counts: Vec<(LevelCountKey, i64)>,
    day: i64,
    closed_at: DateTime<Utc>,
}

impl Closure {
    /// None when the grid code is not an area code (nothing to count).
    pub fn new(grid_code: &str, level: Level, closed_at: DateTime<Utc>) -> Option<Self> {
        let keys = level_count_keys(grid_code, level, closed_at)?;
        let day = keys.first()?.day;
        let judged = keys.iter().filter(|key| key.area != EVERYWHERE);
        let areas = judged.filter_map(|key| key.area.parse().ok()).collect();
        Some(Self { areas, counts: keys.into_iter().map(|key| (key, 1)).collect(), day, closed_at })
    }

    /// The window an assessment judges: the whole UTC days before the closure's own day. The
    /// closure's day is still filling, and closures of one instant arrive in whatever order the
    /// consumers deliver them; judging the finished days only makes each crossing (and so every
    /// alert) a function of the closures, not of their arrival order.
    fn judged_days(&self, policy: &DriftPolicy) -> (i64, i64) {
        (self.day - policy.window.num_days().max(1), self.day - 1)
    }
}

/// Where a queued closure's reads are in the batch's results.
pub struct QueuedClosure {
    /// The areas' counts over the window, then (next statement) which of them stand drifted.
    reads: Option<usize>,
}

/// Queue a closure's counts and, when the monitor is on, the reads its assessment needs (the
/// finished days of its window, which no closure of the batch changes).
pub fn queue_closure<'q>(batch: &mut Batch<'q>, policy: &DriftPolicy, closure: &'q Closure) -> QueuedClosure {
    queue_level_counts(batch, &closure.counts);
    if !policy.is_enabled() {
        return QueuedClosure { reads: None };
    }
    let style = batch.style();
    let reads = batch.len();
    let mut sum = String::from("SELECT area, level, CAST(SUM(n) AS BIGINT) FROM evaluation_level_counts WHERE day >= ");
    style.push(&mut sum, 1);
    sum.push_str(" AND day <= ");
    style.push(&mut sum, 2);
    sum.push_str(&format!(" AND area IN ({}) GROUP BY area, level", style.list(3, closure.areas.len())));
    let mut binds = batch.statement(&sum);
    let (first_day, last_day) = closure.judged_days(policy);
    binds.bind(first_day).bind(last_day);
    for area in &closure.areas {
        binds.bind(area.as_str());
    }
    let drifted = format!(
        "SELECT area FROM evaluation_drift WHERE drifted <> 0 AND area IN ({})",
        style.list(1, closure.areas.len())
    );
    let mut binds = batch.statement(&drifted);
    for area in &closure.areas {
        binds.bind(area.as_str());
    }
    QueuedClosure { reads: Some(reads) }
}

/// Assesses the closures of one batch, in their order, after the batch ran.
pub struct Assessor<'p> {
    policy: &'p DriftPolicy,
    /// Areas whose state a crossing recorded here changed (drifted or not), which reads queued
    /// before the recording do not show.
    recorded: HashMap<String, bool>,
}

impl<'p> Assessor<'p> {
    pub fn new(policy: &'p DriftPolicy) -> Self {
        Self { policy, recorded: HashMap::new() }
    }

    /// Assess `closure` from its reads in `results` and record each crossing. `context` is the
    /// closure's.
    pub async fn assess(
        &mut self,
        tx: &mut StoreTx,
        closure: &Closure,
        queued: &QueuedClosure,
        results: &[Vec<AnyRow>],
        context: &EventContext,
    ) -> Result<(), HandlerError> {
        let Some(at) = queued.reads else { return Ok(()) };
        let rows =
            |i: usize| results.get(i).ok_or_else(|| HandlerError::Transient("a drift read returned no result".into()));
        let mut counts = Vec::new();
        for row in rows(at)? {
            let (area, level, n): (String, String, i64) = (
                row.try_get(0).map_err(store_failure)?,
                row.try_get(1).map_err(store_failure)?,
                row.try_get(2).map_err(store_failure)?,
            );
            counts.push((area, level, n));
        }
        let mut drifted = HashSet::new();
        for row in rows(at + 1)? {
            drifted.insert(row.try_get::<String, _>(0).map_err(store_failure)?);
        }
        let (first_day, last_day) = closure.judged_days(self.policy);
        let window_from = DateTime::from_timestamp(first_day * DAY_SECONDS, 0);
        let window_to = DateTime::from_timestamp((last_day + 1) * DAY_SECONDS, 0);
        for area in &closure.areas {
            let mut distribution = Distribution::default();
            for (_, name, n) in counts.iter().filter(|(a, _, _)| a == area.as_str()) {
                if let Ok(l) = name.parse::<Level>() {
                    distribution.0[l as usize] = u64::try_from(*n).unwrap_or_default();
                }
            }
            let was_drifted =
                self.recorded.get(area.as_str()).copied().unwrap_or_else(|| drifted.contains(area.as_str()));
            let Some(change) = drift::assess(self.policy, was_drifted, &distribution) else { continue };
            let window = (window_from, window_to);
            record(tx, self.policy, area, change, &distribution, closure.closed_at, window, context).await?;
            self.recorded.insert(area.to_string(), change == DriftChange::Detected);
        }
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)]
async fn record(
    tx: &mut StoreTx,
    policy: &DriftPolicy,
    area: &AreaCode,
    change: DriftChange,
    distribution: &Distribution,
    at: DateTime<Utc>,
    (window_from, window_to): (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
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
        window_to: window_to.map(convert::timestamp),
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
    // The alert belongs to the area's own stream, routed by the area, in the trace of the closure
    // that caused it.
    let origin = Origin {
        correlation_id: format!("drift-{area}"),
        traceparent: context.traceparent.clone(),
        routing_key: area.to_string(),
    };
    let context = EventContext::new(context.actor.clone(), &origin, context.causation_id.clone(), at);
    let commit = Commit {
        appends: vec![StreamAppend {
            stream: format!("drift-{area}"),
            expected: ExpectedVersion::Any,
            events: vec![context.event((convert::event_type(short), payload))],
        }],
        ..Commit::default()
    };
    tx.apply(commit).await.map_err(store_failure)?;
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
    .execute(tx.conn().await.map_err(store_failure)?)
    .await
    .map_err(store_failure)?;
    Ok(())
}

/// Areas under `area` (a code prefix) with a recorded crossing; only those out of tolerance now
/// unless `include_cleared`. Most deviant first.
pub async fn list(
    pool: &AnyPool,
    area: Option<&AreaCode>,
    include_cleared: bool,
) -> Result<Vec<DriftRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT area, drifted, changed_at, grid_share, community_share, street_share, district_share, deviation, \
         closed_total FROM evaluation_drift WHERE area LIKE $1 AND (drifted = 1 OR $2 = 1) \
         ORDER BY drifted DESC, deviation DESC, area",
    )
    .bind(format!("{}%", area.map_or("", AreaCode::as_str)))
    .bind(i64::from(include_cleared))
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use gridloop_eventstore::{Actor, EventStore};

    #[test]
    fn a_closure_counts_once_for_each_area_above_its_grid_on_its_utc_day() {
        // 2026-03-02 23:30 UTC is already 3 March in the city (UTC+8): counts are per UTC day.
        let closed_at = Utc.with_ymd_and_hms(2026, 3, 2, 23, 30, 0).unwrap();
        let keys = level_count_keys("321012001002003", Level::Community, closed_at).unwrap();
        let day = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap().timestamp() / DAY_SECONDS;
        let areas: Vec<&str> = keys.iter().map(|k| k.area.as_str()).collect();
        assert_eq!(areas, ["321012001002003", "321012001002", "321012001", "321012", EVERYWHERE]);
        assert!(keys.iter().all(|k| k.day == day && k.level == "community"), "{keys:?}");
        let before_epoch = Utc.with_ymd_and_hms(1969, 12, 31, 12, 0, 0).unwrap();
        assert_eq!(level_count_keys("321012001002003", Level::Grid, before_epoch).unwrap()[0].day, -1);
        assert_eq!(level_count_keys("not-a-grid", Level::Grid, closed_at), None);
    }

    /// Closures that one relay batch brings are counted and read in one round trip, before any
    /// of them is assessed: a crossing recorded for the first must still hold for the next.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closures_assessed_together_alert_once_per_crossing() {
        // Given a monitor judging areas from 3 closures, with a 10 pp tolerance,
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("evaluation.db").display());
        let store = EventStore::connect(&url, Default::default()).await.unwrap();
        store.migrate_extra(&crate::MIGRATOR, &crate::MIGRATOR).await.unwrap();
        let policy = DriftPolicy { tolerance: 0.1, window: chrono::Duration::days(30), min_cases: 3 };
        let grid = "321012001001001";
        let context = EventContext {
            actor: Actor { role: "system".into(), id: "evaluation".into(), jurisdiction: String::new() },
            correlation_id: "case".into(),
            causation_id: "closed".into(),
            traceparent: String::new(),
            occurred_at: DateTime::from_timestamp(1_772_413_200, 0).unwrap(),
            routing_key: grid.into(),
        };

        // when five cases of one grid settled at the grid (100% vs 40%) come in one batch,
        let closures: Vec<Closure> = (0..5)
            .map(|day| Closure::new(grid, Level::Grid, context.occurred_at + chrono::Duration::days(day)).unwrap())
            .collect();
        let mut tx = store.begin().await.unwrap();
        let mut batch = tx.batch();
        let queued: Vec<QueuedClosure> = closures.iter().map(|c| queue_closure(&mut batch, &policy, c)).collect();
        let results = tx.run(batch).await.unwrap();
        let mut assessor = Assessor::new(&policy);
        for (closure, queued) in closures.iter().zip(&queued) {
            assessor.assess(&mut tx, closure, queued, &results, &context).await.unwrap();
        }
        tx.commit().await.unwrap();

        // then each area above the grid, and the grid, is alerted once: at the fourth closure, the
        // first whose finished days hold three.
        let alerts = store.read_all(0, 100).await.unwrap();
        let mut streams: Vec<&str> = alerts.iter().map(|event| event.stream.as_str()).collect();
        streams.sort();
        let expected: Vec<String> = [6, 9, 12, 15].iter().map(|n| format!("drift-{}", &grid[..*n])).collect();
        assert_eq!(streams, expected);
        for alert in &alerts {
            assert_eq!(alert.event_type, convert::event_type("DistributionDriftDetected"));
            let detected = pb::DistributionDriftDetected::decode(alert.payload.as_slice()).unwrap();
            assert_eq!(detected.closed_total, 3, "{detected:?}");
        }
        // Every closure is counted, for every area.
        let counts = level_counts(store.pool()).await.unwrap();
        assert_eq!(counts.len(), 5 * 5, "the four areas and everywhere, on each of five days");
        assert!(counts.iter().all(|(key, n)| *n == 1 && key.level == "grid"), "{counts:?}");
    }
}
