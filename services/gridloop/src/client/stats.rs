//! `gridloop stats`: key figures from the evaluation service — the 4321 distribution of settled
//! levels, the drift alerts, and the KPIs per period (`kpi`).

mod kpi;

use super::output::{emit, enum_json, enum_text, opt_str, rfc3339, time_json, time_text, Table};
use super::rpc::Server;
use super::{AreaWindow, Global};
use anyhow::Result;
use clap::{Args, Subcommand};
use gridloop_domain::clock::Tz;
use gridloop_proto::v1 as pb;
use serde_json::{json, Value};

#[derive(Debug, Args)]
pub struct StatsArgs {
    #[command(subcommand)]
    pub command: StatsCommand,
    #[command(flatten)]
    pub global: Global,
}

#[derive(Debug, Subcommand)]
pub enum StatsCommand {
    /// Cases closed per settled level vs the 4321 targets (40% grid, 30% community, 20% street, 10% district);
    /// --from/--to bound the closure time.
    #[command(name = "4321")]
    Levels(AreaWindow),
    /// Key performance indicators per period: response, resolution and satisfaction rates (三率),
    /// on-time closure, rework, 4321 attainment and mediation success. `--period` day, week,
    /// month, quarter or year gives the daily check, weekly meeting, monthly scheduling,
    /// quarterly analysis or annual summary; `--as-of` the figures as they stood on a past date.
    Kpi(Box<kpi::KpiArgs>),
    /// Areas whose 4321 distribution drifted out of the server's tolerance (DistributionDriftDetected).
    Drift {
        /// Jurisdiction code prefix [default: everything].
        #[arg(long)]
        area: Option<String>,
        /// Also list areas that have come back within the tolerance.
        #[arg(long)]
        include_cleared: bool,
    },
}

pub async fn run(StatsArgs { command, global }: StatsArgs) -> Result<()> {
    match command {
        StatsCommand::Levels(window) => levels(&global, &window).await,
        StatsCommand::Kpi(args) => kpi::run(&global, *args).await,
        StatsCommand::Drift { area, include_cleared } => drift(&global, area, include_cleared).await,
    }
}

async fn drift(global: &Global, area: Option<String>, include_cleared: bool) -> Result<()> {
    let server = Server::connect(&global.addresses()).await?;
    let request = pb::ListDriftAlertsRequest { area: area.unwrap_or_default(), include_cleared };
    let response =
        server.evaluation().list_drift_alerts(request).await.map_err(server.fail("ListDriftAlerts"))?.into_inner();
    emit(global.json, || drift_json(&response), || drift_text(&response, global.time_zone))
}

async fn levels(global: &Global, window: &AreaWindow) -> Result<()> {
    let server = Server::connect(&global.addresses()).await?;
    let (area, from, to) = window.request_parts(global.time_zone);
    let request = pb::GetLevelDistributionRequest { area, from, to };
    let response = server
        .evaluation()
        .get_level_distribution(request.clone())
        .await
        .map_err(server.fail("GetLevelDistribution"))?
        .into_inner();
    emit(global.json, || distribution_json(&request, &response), || distribution_text(&request, &response))
}

fn distribution_json(request: &pb::GetLevelDistributionRequest, r: &pb::GetLevelDistributionResponse) -> Value {
    let levels: Vec<Value> = r
        .levels
        .iter()
        .map(|l| {
            json!({
                "level": enum_json::<pb::Level>(l.level),
                "count": l.count,
                "share": l.share,
                "target": l.target,
                "deviation": l.deviation,
            })
        })
        .collect();
    json!({
        "area": opt_str(&request.area),
        "from": time_json(request.from.as_ref()),
        "to": time_json(request.to.as_ref()),
        "closed_total": r.closed_total,
        "levels": levels,
    })
}

fn distribution_text(request: &pb::GetLevelDistributionRequest, r: &pb::GetLevelDistributionResponse) -> String {
    let area = if request.area.is_empty() { "all areas".to_string() } else { format!("area {}", request.area) };
    let bound = |t: Option<&prost_types::Timestamp>| rfc3339(t).unwrap_or_else(|| "…".into());
    let mut out = format!(
        "4321 distribution · {area} · closed {} – {} · {} closed cases\n",
        bound(request.from.as_ref()),
        bound(request.to.as_ref()),
        r.closed_total
    );
    let percent = |x: f64| format!("{:.1}%", x * 100.0);
    let mut table = Table::new(&["level", "count", "share", "target", "deviation"]).right_align(&[1, 2, 3, 4]);
    for l in &r.levels {
        table.row(vec![
            enum_text::<pb::Level>(l.level),
            l.count.to_string(),
            percent(l.share),
            percent(l.target),
            format!("{:+.1} pp", l.deviation * 100.0),
        ]);
    }
    out.push_str(&table.render());
    out
}

fn drift_json(r: &pb::ListDriftAlertsResponse) -> Value {
    let alerts: Vec<Value> = r
        .alerts
        .iter()
        .map(|a| {
            let shares: serde_json::Map<String, Value> =
                a.levels.iter().map(|l| (enum_text::<pb::Level>(l.level), json!(l.share))).collect();
            json!({
                "area": a.area,
                "drifted": a.drifted,
                "changed_at": time_json(a.changed_at.as_ref()),
                "shares": shares,
                "deviation": a.deviation,
                "closed_total": a.closed_total,
            })
        })
        .collect();
    json!({ "tolerance": r.tolerance, "window_days": r.window_days, "alerts": alerts })
}

fn drift_text(r: &pb::ListDriftAlertsResponse, zone: Tz) -> String {
    let percent = |x: f64| format!("{:.1}%", x * 100.0);
    if r.tolerance == 0.0 {
        return "the 4321 drift alert is off on this server (--drift-tolerance-pp 0)".into();
    }
    let mut out = format!("4321 drift · tolerance ±{:.1} pp · window {} days\n", r.tolerance * 100.0, r.window_days);
    if r.alerts.is_empty() {
        out.push_str("no area out of tolerance\n");
        return out;
    }
    let mut table =
        Table::new(&["area", "state", "since", "grid", "community", "street", "district", "deviation", "closed"])
            .right_align(&[3, 4, 5, 6, 7, 8]);
    for a in &r.alerts {
        let mut row = vec![
            a.area.clone(),
            if a.drifted { "drifted" } else { "cleared" }.to_string(),
            time_text(a.changed_at.as_ref(), zone),
        ];
        row.extend(a.levels.iter().map(|l| percent(l.share)));
        row.push(format!("{:.1} pp", a.deviation * 100.0));
        row.push(a.closed_total.to_string());
        table.row(row);
    }
    out.push_str(&table.render());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::testing::parse;
    use crate::client::ClientCommand;
    use gridloop_domain::clock;

    #[test]
    fn the_4321_window_parses_dates_as_whole_local_days() {
        let ClientCommand::Stats(StatsArgs { command: StatsCommand::Levels(window), global }) =
            parse(&["stats", "4321", "--area", "110105", "--from", "2025-01-01", "--to", "2025-03-31", "--json"])
                .unwrap()
        else {
            panic!("not stats 4321")
        };
        assert!(global.json);
        assert_eq!(global.time_zone, clock::DEFAULT_ZONE, "the default city's clock");
        let (area, from, to) = window.request_parts(global.time_zone);
        assert_eq!(area, "110105");
        let utc = |t: Option<prost_types::Timestamp>| rfc3339(t.as_ref()).unwrap();
        assert_eq!(utc(from), "2024-12-31T16:00:00Z", "midnight in Beijing");
        assert_eq!(utc(to), "2025-03-31T16:00:00Z");
        let ClientCommand::Stats(StatsArgs { command: StatsCommand::Levels(window), global }) =
            parse(&["stats", "4321", "--from", "2026-03-08", "--to", "2026-03-08", "--time-zone", "America/New_York"])
                .unwrap()
        else {
            panic!("not stats 4321")
        };
        let (_, from, to) = window.request_parts(global.time_zone);
        assert_eq!((utc(from), utc(to)), ("2026-03-08T05:00:00Z".into(), "2026-03-09T04:00:00Z".into()), "23 hours");
        assert!(parse(&["stats", "4321", "--time-zone", "+08:00"]).is_err());
        assert!(parse(&["stats", "4321", "--from", "last week"]).is_err());
    }

    #[test]
    fn drift_alerts_render_and_parse() {
        let ClientCommand::Stats(StatsArgs { command: StatsCommand::Drift { area, include_cleared }, .. }) =
            parse(&["stats", "drift", "--area", "321012001", "--include-cleared"]).unwrap()
        else {
            panic!("not stats drift")
        };
        assert_eq!((area.as_deref(), include_cleared), (Some("321012001"), true));
        let share = |level: pb::Level, share: f64| pb::LevelShare { level: level as i32, share, ..Default::default() };
        let response = pb::ListDriftAlertsResponse {
            alerts: vec![pb::DriftAlert {
                area: "321012001".into(),
                drifted: true,
                changed_at: Some(prost_types::Timestamp { seconds: 1_740_787_200, nanos: 0 }),
                levels: vec![
                    share(pb::Level::Grid, 0.6),
                    share(pb::Level::Community, 0.2),
                    share(pb::Level::Street, 0.1),
                    share(pb::Level::District, 0.1),
                ],
                deviation: 0.2,
                closed_total: 40,
            }],
            tolerance: 0.1,
            window_days: 30,
        };
        let value = drift_json(&response);
        assert_eq!(value["alerts"][0]["shares"]["grid"], 0.6);
        assert_eq!((value["tolerance"].as_f64(), value["alerts"][0]["drifted"].as_bool()), (Some(0.1), Some(true)));
        let text = drift_text(&response, clock::DEFAULT_ZONE);
        assert!(text.contains("tolerance ±10.0 pp · window 30 days"), "{text}");
        assert!(text.contains("60.0%") && text.contains("20.0 pp"), "{text}");
        let off = drift_text(&pb::ListDriftAlertsResponse::default(), clock::DEFAULT_ZONE);
        assert!(off.contains("off"), "{off}");
    }

    #[test]
    fn distribution_renders_percentages() {
        let request = pb::GetLevelDistributionRequest { area: "110105".into(), from: None, to: None };
        let response = pb::GetLevelDistributionResponse {
            closed_total: 10,
            levels: vec![pb::LevelShare {
                level: pb::Level::Grid as i32,
                count: 5,
                share: 0.5,
                target: 0.4,
                deviation: 0.1,
            }],
        };
        let text = distribution_text(&request, &response);
        assert!(text.contains("grid       5  50.0%   40.0%   +10.0 pp"), "{text}");
        let value = distribution_json(&request, &response);
        assert_eq!(value["levels"][0]["level"], "grid");
        assert_eq!(value["closed_total"], 10);
        assert_eq!(value["from"], Value::Null);
    }
}
