//! The KPI query at the gRPC edge: request filters in, [`Report`] out as `GetKpisResponse`.
//! The figures themselves are computed by the pure [`gridloop_domain::kpi`].

use crate::grpc::time_window;
use crate::level_shares;
use chrono::{DateTime, Offset, Utc};
use gridloop_domain::jurisdiction::AreaCode;
use gridloop_domain::kpi::{Period, PeriodReport, Rates, Report, Tally};
use gridloop_domain::level::Level;
use gridloop_proto::convert;
use gridloop_proto::status::{invalid_argument, optional_area};
use gridloop_proto::v1 as pb;
use tonic::Status;

/// Which cases a KPI query counts (all optional; times in µs, on the opening time).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseFilter {
    pub area: Option<AreaCode>,
    pub category: Option<String>,
    pub level: Option<Level>,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl CaseFilter {
    /// The same filter applied to a row in memory (for "as of" reports folded from the log).
    pub fn matches(&self, row: &crate::CaseRow) -> bool {
        self.area.as_ref().is_none_or(|area| row.grid_code.starts_with(area.as_str()))
            && self.category.as_deref().is_none_or(|c| row.category_code == c)
            && self.level.is_none_or(|level| row.level.as_deref() == Some(level.as_str()))
            && self.from.is_none_or(|from| row.opened_at >= from)
            && self.to.is_none_or(|to| row.opened_at < to)
    }
}

pub fn filter_from(r: &pb::GetKpisRequest) -> Result<CaseFilter, Status> {
    let area = optional_area("area", &r.area)?;
    if r.category_code.len() > 64 {
        return Err(invalid_argument("category_code", "at most 64 characters"));
    }
    let level = match r.level() {
        pb::Level::Unspecified => None,
        other => Some(convert::from_level(other).ok_or_else(|| invalid_argument("level", "not a level"))?),
    };
    let (from, to) = time_window(r.from.as_ref(), r.to.as_ref())?;
    let category = (!r.category_code.is_empty()).then(|| r.category_code.clone());
    Ok(CaseFilter { area, category, level, from, to })
}

pub fn period_of(period: pb::ReportPeriod) -> Period {
    match period {
        pb::ReportPeriod::Day => Period::Day,
        pb::ReportPeriod::Week => Period::Week,
        pb::ReportPeriod::Unspecified | pb::ReportPeriod::Month => Period::Month,
        pb::ReportPeriod::Quarter => Period::Quarter,
        pb::ReportPeriod::Year => Period::Year,
    }
}

pub fn report_period(period: Period) -> pb::ReportPeriod {
    match period {
        Period::Day => pb::ReportPeriod::Day,
        Period::Week => pb::ReportPeriod::Week,
        Period::Month => pb::ReportPeriod::Month,
        Period::Quarter => pb::ReportPeriod::Quarter,
        Period::Year => pb::ReportPeriod::Year,
    }
}

fn counts(t: &Tally) -> pb::KpiCounts {
    pb::KpiCounts {
        reported: t.reported,
        rejected: t.rejected,
        dispatched: t.dispatched,
        responded_on_time: t.responded_on_time,
        resolved: t.resolved,
        closed: t.closed,
        closed_on_time: t.closed_on_time,
        evaluated: t.evaluated,
        satisfied: t.satisfied,
        reopened: t.reopened,
        settled_grid: t.settled[0],
        settled_community: t.settled[1],
        settled_street: t.settled[2],
        settled_district: t.settled[3],
        mediations_agreed: t.mediations_agreed,
        mediations_failed: t.mediations_failed,
        response_unknown: t.response_unknown,
        on_time_unknown: t.on_time_unknown,
    }
}

fn rates(t: &Tally, r: &Rates) -> pb::KpiRates {
    pb::KpiRates {
        response_rate: r.response_rate,
        resolution_rate: r.resolution_rate,
        satisfaction_rate: r.satisfaction_rate,
        on_time_rate: r.on_time_rate,
        rework_rate: r.rework_rate,
        attainment_4321: r.attainment_4321,
        mediation_success_rate: r.mediation_success_rate,
        levels: level_shares(t.settled),
    }
}

fn period_entry(p: &PeriodReport) -> pb::KpiPeriod {
    pb::KpiPeriod {
        label: p.label.clone(),
        start_date: p.start.to_string(),
        end_date: p.end.to_string(),
        counts: Some(counts(&p.tally)),
        rates: Some(rates(&p.tally, &p.rates)),
    }
}

/// The report as the gRPC answer (also printed by `gridloop stats kpi --as-of`), `now` giving the
/// zone's current UTC offset.
pub fn response(period: Period, report: &Report, now: DateTime<Utc>) -> pb::GetKpisResponse {
    let periods = report.periods();
    let total = report.total();
    pb::GetKpisResponse {
        period: report_period(period) as i32,
        total: Some(pb::KpiPeriod {
            label: "total".into(),
            start_date: periods.first().map(|p| p.start.to_string()).unwrap_or_default(),
            end_date: periods.last().map(|p| p.end.to_string()).unwrap_or_default(),
            counts: Some(counts(total)),
            rates: Some(rates(total, &total.rates())),
        }),
        periods: periods.iter().map(period_entry).collect(),
        utc_offset: now.with_timezone(&report.zone()).offset().fix().to_string(),
        time_zone: report.zone().name().to_string(),
    }
}
