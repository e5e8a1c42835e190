//! `gridloop stats kpi`: the KPIs per period, from the evaluation service, or "as of" a past
//! instant folded from the event log.

use crate::client::output::{emit, enum_arg, enum_json, parse_from, parse_to, time, Bound};
use crate::client::rpc::Server;
use crate::client::Global;
use crate::replay::{kpis_as_of, HistoryArgs};
use anyhow::Result;
use clap::{Args, ValueEnum};
use gridloop_evaluation::kpi::{filter_from, period_of};
use gridloop_proto::v1 as pb;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PeriodArg {
    /// 日巡查: the daily check.
    Day,
    /// 周例会: the weekly meeting (ISO weeks).
    Week,
    /// 月调度: monthly scheduling.
    Month,
    /// 季分析: the quarterly analysis.
    Quarter,
    /// 年总结: the annual summary.
    Year,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LevelArg {
    Grid,
    Community,
    Street,
    District,
}

#[derive(Debug, Args)]
pub struct KpiArgs {
    /// Jurisdiction code prefix [default: everything].
    #[arg(long)]
    pub area: Option<String>,
    /// Only this category (a catalog code).
    #[arg(long)]
    pub category: Option<String>,
    /// Only cases held (or settled) at this level.
    #[arg(long, value_enum)]
    pub level: Option<LevelArg>,
    /// One row per day, week, month, quarter or year.
    #[arg(long, value_enum, default_value = "month")]
    pub period: PeriodArg,
    /// Cases opened at or after (RFC 3339, or YYYY-MM-DD = that day's local midnight, --time-zone).
    #[arg(long, value_parser = parse_from)]
    pub from: Option<Bound>,
    /// Cases opened before (RFC 3339, or YYYY-MM-DD = that whole local day included).
    #[arg(long, value_parser = parse_to)]
    pub to: Option<Bound>,
    /// With --as-of (or --jetstream) the KPIs are folded from dispatch's event log as they stood
    /// then, instead of asked from the evaluation service.
    #[command(flatten)]
    pub history: HistoryArgs,
}

pub async fn run(global: &Global, args: KpiArgs) -> Result<()> {
    let request = pb::GetKpisRequest {
        area: args.area.unwrap_or_default(),
        category_code: args.category.unwrap_or_default(),
        level: args.level.map_or(0, |l| enum_arg::<pb::Level>(&l)),
        period: enum_arg::<pb::ReportPeriod>(&args.period),
        from: args.from.map(|bound| time(bound.at(global.time_zone))),
        to: args.to.map(|bound| time(bound.at(global.time_zone))),
    };
    let response = if args.history.until.is_some() || args.history.jetstream {
        // The same validation as the service's, and the periods cut in --time-zone.
        let filter = filter_from(&request).map_err(|status| anyhow::anyhow!("{}", status.message()))?;
        kpis_as_of(&args.history, &filter, period_of(request.period()), global.time_zone).await?
    } else {
        let server = Server::connect(&global.addresses()).await?;
        server.evaluation().get_kpis(request).await.map_err(server.fail("GetKpis"))?.into_inner()
    };
    emit(global.json, || kpis_json(&response), || kpis_text(&response))
}

fn entry_json(p: &pb::KpiPeriod) -> Value {
    let c = p.counts.unwrap_or_default();
    let r = p.rates.clone().unwrap_or_default();
    let levels: Vec<Value> = r
        .levels
        .iter()
        .map(|l| json!({"level": enum_json::<pb::Level>(l.level), "count": l.count, "share": l.share, "target": l.target}))
        .collect();
    json!({
        "label": p.label,
        "start_date": p.start_date,
        "end_date": p.end_date,
        "counts": {
            "reported": c.reported,
            "rejected": c.rejected,
            "dispatched": c.dispatched,
            "responded_on_time": c.responded_on_time,
            "resolved": c.resolved,
            "closed": c.closed,
            "closed_on_time": c.closed_on_time,
            "evaluated": c.evaluated,
            "satisfied": c.satisfied,
            "reopened": c.reopened,
            "mediations_agreed": c.mediations_agreed,
            "mediations_failed": c.mediations_failed,
            "response_unknown": c.response_unknown,
            "on_time_unknown": c.on_time_unknown,
        },
        "rates": {
            "response_rate": r.response_rate,
            "resolution_rate": r.resolution_rate,
            "satisfaction_rate": r.satisfaction_rate,
            "on_time_rate": r.on_time_rate,
            "rework_rate": r.rework_rate,
            "attainment_4321": r.attainment_4321,
            "mediation_success_rate": r.mediation_success_rate,
        },
        "levels": levels,
    })
}

pub fn kpis_json(r: &pb::GetKpisResponse) -> Value {
    json!({
        "period": enum_json::<pb::ReportPeriod>(r.period),
        "utc_offset": r.utc_offset,
        "time_zone": r.time_zone,
        "periods": r.periods.iter().map(entry_json).collect::<Vec<_>>(),
        "total": r.total.as_ref().map(entry_json),
    })
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "-".into(), |r| format!("{:.1}%", r * 100.0))
}

pub fn kpis_text(r: &pb::GetKpisResponse) -> String {
    let mut out = format!(
        "{:<10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}\n",
        "period",
        "reported",
        "response",
        "resolved",
        "satisfy",
        "on time",
        "rework",
        "4321",
        "mediate",
        "grid/com/str/dis"
    );
    for p in r.periods.iter().chain(r.total.as_ref()) {
        let c = p.counts.unwrap_or_default();
        let rates = p.rates.clone().unwrap_or_default();
        out.push_str(&format!(
            "{:<10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {}/{}/{}/{}\n",
            p.label,
            c.reported,
            percent(rates.response_rate),
            percent(rates.resolution_rate),
            percent(rates.satisfaction_rate),
            percent(rates.on_time_rate),
            percent(rates.rework_rate),
            percent(rates.attainment_4321),
            percent(rates.mediation_success_rate),
            c.settled_grid,
            c.settled_community,
            c.settled_street,
            c.settled_district,
        ));
    }
    out.push_str(&format!(
        "periods cut at local midnight, {}; cases count in the period they were opened\n",
        r.time_zone
    ));
    out
}
