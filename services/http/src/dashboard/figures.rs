//! The figures the page draws: the loop now (cases per step, today's intake, overdue), the grid
//! map's counts, the 4321 distribution with its drift alerts, and the KPI ranking and trend —
//! each the answer of a service query under the caller's token, reshaped, never recomputed.

use super::wire::{self, level_share, rates, state_name};
use super::{DashError, Session};
use axum::extract::Query;
use axum::Json;
use chrono::{DateTime, Duration, FixedOffset, NaiveTime, Utc};
use futures::future::try_join_all;
use gridloop_proto::convert;
use gridloop_proto::v1 as pb;
use serde_json::{json, Map, Value};

/// Less working time than this left before its deadline makes an open case "about to be
/// overdue": two working hours on the city's SLA calendar, which the service applies.
pub const DUE_SOON_WORKING_SECONDS: u32 = 2 * 60 * 60;
/// The newest cases the loop view lists.
const LATEST: u32 = 8;
/// The trend's length in periods.
const TREND_WEEKS: i64 = 12;
const TREND_MONTHS: i64 = 6;

/// The area a view is of (a jurisdiction code prefix; empty: all the caller may read), its
/// window in days (0: all time) and its reporting period (`week` or `month`).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ViewQuery {
    pub area: String,
    pub days: u32,
    pub period: String,
}

fn grpc_failed(status: tonic::Status) -> DashError {
    DashError::from_status(&status)
}

fn days_ago(days: u32) -> Option<prost_types::Timestamp> {
    (days > 0).then(|| convert::timestamp(Utc::now() - Duration::days(i64::from(days))))
}

/// The jurisdiction's units with their grid polygons (`[lon, lat]` rings), for the map.
pub async fn jurisdiction(session: Session) -> Result<Json<Value>, DashError> {
    let request = session.request(pb::GetJurisdictionRequest {})?;
    let nodes = session.backend.intake().get_jurisdiction(request).await.map_err(grpc_failed)?.into_inner().nodes;
    let point = |p: &pb::GeoPoint| json!([p.lon, p.lat]);
    let nodes: Vec<Value> = nodes
        .iter()
        .map(|node| {
            json!({
                "code": node.code,
                "name": node.name,
                "level": wire::level_name(node.level),
                "parent": node.parent_code,
                "boundary": node.boundary.iter().map(point).collect::<Vec<_>>(),
                "center": node.interior_point.as_ref().map(point),
            })
        })
        .collect();
    Ok(Json(json!({ "nodes": nodes })))
}

/// The loop now in `query.area`.
pub async fn loop_now(session: Session, Query(query): Query<ViewQuery>) -> Result<Json<Value>, DashError> {
    Ok(Json(loop_snapshot(&session, &query.area).await?))
}

/// Today in the city's time: its first instant, and its label as GetKpis names days.
fn today(utc_offset: &str, now: DateTime<Utc>) -> (DateTime<Utc>, String) {
    let offset: FixedOffset = utc_offset.parse().unwrap_or_else(|_| FixedOffset::east_opt(0).expect("UTC"));
    let local_day = now.with_timezone(&offset).date_naive();
    let start = local_day.and_time(NaiveTime::MIN) - Duration::seconds(i64::from(offset.local_minus_utc()));
    (start.and_utc(), local_day.format("%Y-%m-%d").to_string())
}

/// Cases per step (closed and rejected: today), today's intake, overdue and due-soon counts,
/// open and overdue cases per grid, and the newest cases: CountCases, GetKpis and ListCases.
pub async fn loop_snapshot(session: &Session, area: &str) -> Result<Value, DashError> {
    let now = Utc::now();
    let kpis = pb::GetKpisRequest {
        area: area.to_string(),
        period: pb::ReportPeriod::Day as i32,
        from: Some(convert::timestamp(now - Duration::hours(48))),
        ..Default::default()
    };
    let kpis = session.backend.evaluation().get_kpis(session.request(kpis)?).await.map_err(grpc_failed)?.into_inner();
    let (day_start, label) = today(&kpis.utc_offset, now);
    let intake_today =
        kpis.periods.iter().find(|p| p.label == label).and_then(|p| p.counts.as_ref()).map_or(0, |c| c.reported);

    let counts = pb::CountCasesRequest {
        area: area.to_string(),
        closed_from: Some(convert::timestamp(day_start)),
        opened_from: Some(convert::timestamp(day_start)),
        due_within_working_seconds: DUE_SOON_WORKING_SECONDS,
        ..Default::default()
    };
    let counts =
        session.backend.evaluation().count_cases(session.request(counts)?).await.map_err(grpc_failed)?.into_inner();
    let latest = pb::ListCasesRequest { area: area.to_string(), page_size: LATEST, ..Default::default() };
    let latest =
        session.backend.evaluation().list_cases(session.request(latest)?).await.map_err(grpc_failed)?.into_inner();

    let mut snapshot = tally(&counts.counts);
    snapshot["area"] = json!(area);
    snapshot["today"] = json!(label);
    snapshot["intake_today"] = json!(intake_today);
    snapshot["intake_by_channel"] = json!(counts.intake.iter().map(wire::channel_count).collect::<Vec<_>>());
    snapshot["latest"] = json!(latest.cases.iter().map(wire::case_summary).collect::<Vec<_>>());
    Ok(snapshot)
}

/// The steps of the loop and the grids' open and overdue cases, summed from CountCases' rows.
fn tally(rows: &[pb::CaseCount]) -> Value {
    let mut steps: Map<String, Value> = Map::new();
    for step in [
        "reported",
        "dispatched",
        "accepted",
        "in_mediation",
        "awaiting_verification",
        "resolved",
        "closed",
        "rejected",
    ] {
        steps.insert(step.into(), json!(0u64));
    }
    let mut grids: Map<String, Value> = Map::new();
    let (mut overdue, mut due_soon) = (0u64, 0u64);
    for row in rows {
        let state = state_name(row.state);
        let step = steps.entry(state.clone()).or_insert(json!(0u64));
        *step = json!(step.as_u64().unwrap_or(0) + row.count);
        overdue += row.overdue;
        due_soon += row.due_soon;
        if state != "closed" && state != "rejected" {
            let grid = grids.entry(row.grid_code.clone()).or_insert(json!({ "open": 0u64, "overdue": 0u64 }));
            grid["open"] = json!(grid["open"].as_u64().unwrap_or(0) + row.count);
            grid["overdue"] = json!(grid["overdue"].as_u64().unwrap_or(0) + row.overdue);
        }
    }
    json!({ "steps": steps, "overdue": overdue, "due_soon": due_soon, "grids": grids })
}

/// The 4321 distribution of the area's cases closed in the last `days` (0: ever) against
/// 40/30/20/10, with the drift monitor's alerts.
pub async fn distribution(session: Session, Query(query): Query<ViewQuery>) -> Result<Json<Value>, DashError> {
    let request = pb::GetLevelDistributionRequest { area: query.area.clone(), from: days_ago(query.days), to: None };
    let evaluation = session.backend.evaluation();
    let shares = evaluation.clone().get_level_distribution(session.request(request)?).await.map_err(grpc_failed)?;
    let alerts = pb::ListDriftAlertsRequest { area: query.area, include_cleared: false };
    let alerts = evaluation.clone().list_drift_alerts(session.request(alerts)?).await.map_err(grpc_failed)?;
    let (shares, alerts) = (shares.into_inner(), alerts.into_inner());
    let alert = |a: &pb::DriftAlert| {
        json!({
            "area": a.area,
            "drifted": a.drifted,
            "changed_at": wire::time(a.changed_at.as_ref()),
            "deviation": a.deviation,
            "closed_total": a.closed_total,
        })
    };
    Ok(Json(json!({
        "closed_total": shares.closed_total,
        "levels": shares.levels.iter().map(level_share).collect::<Vec<_>>(),
        "alerts": alerts.alerts.iter().map(alert).collect::<Vec<_>>(),
        "tolerance": alerts.tolerance,
        "window_days": alerts.window_days,
    })))
}

/// The 三率, on-time and rework rates of each unit directly below the area over the trend's
/// window, and the area's own trend per week or month: GetKpis per unit and for the area.
pub async fn ranking(session: Session, Query(query): Query<ViewQuery>) -> Result<Json<Value>, DashError> {
    let (period, from) = match query.period.as_str() {
        "week" | "" => (pb::ReportPeriod::Week, Utc::now() - Duration::weeks(TREND_WEEKS)),
        "month" => (pb::ReportPeriod::Month, Utc::now() - Duration::days(31 * TREND_MONTHS)),
        other => return Err(DashError::BadRequest(format!("period {other:?}: week or month"))),
    };
    let request = session.request(pb::GetJurisdictionRequest {})?;
    let nodes = session.backend.intake().get_jurisdiction(request).await.map_err(grpc_failed)?.into_inner().nodes;
    let mut units: Vec<&pb::JurisdictionNode> = nodes.iter().filter(|n| n.parent_code == query.area).collect();
    if units.is_empty() {
        units = nodes.iter().filter(|n| n.code == query.area).collect();
    }
    let kpis = |area: &str| {
        let request = pb::GetKpisRequest {
            area: area.to_string(),
            period: period as i32,
            from: Some(convert::timestamp(from)),
            ..Default::default()
        };
        let mut evaluation = session.backend.evaluation();
        let request = session.request(request);
        async move { evaluation.get_kpis(request?).await.map(|r| r.into_inner()).map_err(grpc_failed) }
    };
    let per_unit = try_join_all(units.iter().map(|unit| kpis(&unit.code))).await?;
    let trend = kpis(&query.area).await?;
    let ranked: Vec<Value> = units
        .iter()
        .zip(&per_unit)
        .map(|(unit, kpis)| {
            let total = kpis.total.as_ref();
            json!({
                "code": unit.code,
                "name": unit.name,
                "reported": total.and_then(|t| t.counts.as_ref()).map_or(0, |c| c.reported),
                "rates": rates(total.and_then(|t| t.rates.as_ref())),
            })
        })
        .collect();
    let trend: Vec<Value> =
        trend.periods.iter().map(|p| json!({ "label": p.label, "rates": rates(p.rates.as_ref()) })).collect();
    Ok(Json(json!({ "units": ranked, "trend": trend })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn today_is_cut_at_the_citys_midnight() {
        let now = "2026-12-05T17:30:00Z".parse::<DateTime<Utc>>().unwrap();
        let (start, label) = today("+08:00", now);
        assert_eq!(label, "2026-12-06", "01:30 in Beijing is the next day");
        assert_eq!(start, "2026-12-05T16:00:00Z".parse::<DateTime<Utc>>().unwrap());
    }

    #[test]
    fn the_tally_sums_steps_and_colours_only_open_cases_on_the_map() {
        let row = |grid: &str, state: pb::CaseState, count, overdue| pb::CaseCount {
            grid_code: grid.into(),
            state: state as i32,
            count,
            overdue,
            due_soon: 0,
        };
        let rows = [
            row("g1", pb::CaseState::Dispatched, 3, 1),
            row("g1", pb::CaseState::Closed, 5, 0),
            row("g2", pb::CaseState::Dispatched, 2, 2),
            row("g2", pb::CaseState::Accepted, 4, 0),
        ];
        let tally = tally(&rows);
        assert_eq!(tally["steps"]["dispatched"], 5);
        assert_eq!(tally["steps"]["closed"], 5);
        assert_eq!(tally["steps"]["reported"], 0);
        assert_eq!(tally["overdue"], 3);
        assert_eq!(tally["grids"]["g1"], json!({ "open": 3, "overdue": 1 }));
        assert_eq!(tally["grids"]["g2"], json!({ "open": 6, "overdue": 2 }));
    }
}
