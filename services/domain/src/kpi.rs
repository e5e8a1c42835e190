//! Key performance indicators of the closed loop: the 三率 (response, resolution and satisfaction
//! rates), on-time closure, rework, 4321 attainment and mediation success, per reporting period.
//!
//! Cases are counted in the period in which they were opened (a cohort): "of the cases reported
//! this week, how many were responded to in time, resolved, closed on time…". The periods are
//! the rhythm of supervision: daily check (日巡查), weekly meeting (周例会), monthly
//! scheduling (月调度), quarterly analysis (季分析) and annual summary (年总结), in the city's
//! local time.

use crate::case::Satisfaction;
use crate::clock::{self, Tz};
use crate::level::Level;
use crate::Timestamp;
use chrono::{Datelike, Duration, NaiveDate};
use serde::Serialize;

/// What the KPIs need to know about one case.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseFacts {
    pub opened_at: Timestamp,
    pub rejected: bool,
    pub dispatched: bool,
    /// The first acceptance came within the deadline then in force (`None`: never accepted).
    pub responded_on_time: Option<bool>,
    pub resolved: bool,
    pub closed: bool,
    /// Closed with its last resolution on time and no deadline ever missed (`None`: not closed).
    pub closed_on_time: Option<bool>,
    /// The evaluation the case closed with (`None`: open, or imported history without one).
    pub satisfaction: Option<Satisfaction>,
    pub reopened: bool,
    pub settled_level: Option<Level>,
    pub mediations_agreed: u32,
    pub mediations_failed: u32,
    /// History imported from another platform, which recorded no response: unless it was
    /// accepted in gridloop since, its response is not known.
    pub imported: bool,
}

/// A reporting period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// 日巡查
    Day,
    /// 周例会 (weeks start on Monday)
    Week,
    /// 月调度
    Month,
    /// 季分析
    Quarter,
    /// 年总结
    Year,
}

impl Period {
    pub const ALL: [Period; 5] = [Period::Day, Period::Week, Period::Month, Period::Quarter, Period::Year];

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
            Period::Quarter => "quarter",
            Period::Year => "year",
        }
    }

    /// The first day of the period holding `date`.
    pub fn start_of(self, date: NaiveDate) -> NaiveDate {
        let first_of_month = |month: u32| NaiveDate::from_ymd_opt(date.year(), month, 1).expect("valid month");
        match self {
            Period::Day => date,
            Period::Week => date - Duration::days(i64::from(date.weekday().num_days_from_monday())),
            Period::Month => first_of_month(date.month()),
            Period::Quarter => first_of_month((date.month() - 1) / 3 * 3 + 1),
            Period::Year => first_of_month(1),
        }
    }

    /// The first day of the next period after the one starting on `start`.
    pub fn next_start(self, start: NaiveDate) -> NaiveDate {
        match self {
            Period::Day => start + Duration::days(1),
            Period::Week => start + Duration::days(7),
            Period::Month => start.checked_add_months(chrono::Months::new(1)).expect("in range"),
            Period::Quarter => start.checked_add_months(chrono::Months::new(3)).expect("in range"),
            Period::Year => start.checked_add_months(chrono::Months::new(12)).expect("in range"),
        }
    }

    /// A human label for the period starting on `start`: 2026-11-21, 2026-W47, 2026-11, 2026-Q4, 2026.
    pub fn label(self, start: NaiveDate) -> String {
        match self {
            Period::Day => start.format("%Y-%m-%d").to_string(),
            Period::Week => {
                let week = start.iso_week();
                format!("{}-W{:02}", week.year(), week.week())
            }
            Period::Month => start.format("%Y-%m").to_string(),
            Period::Quarter => format!("{}-Q{}", start.year(), (start.month() - 1) / 3 + 1),
            Period::Year => start.year().to_string(),
        }
    }
}

impl std::str::FromStr for Period {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Period::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown period {s:?}: day, week, month, quarter or year"))
    }
}

/// Counts over a set of cases, from which the rates follow.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub reported: u64,
    pub rejected: u64,
    pub dispatched: u64,
    pub responded_on_time: u64,
    pub resolved: u64,
    pub closed: u64,
    pub closed_on_time: u64,
    pub evaluated: u64,
    /// Satisfied or basically satisfied.
    pub satisfied: u64,
    pub reopened: u64,
    /// Closed cases by settled level: grid, community, street, district.
    pub settled: [u64; 4],
    pub mediations_agreed: u64,
    pub mediations_failed: u64,
    /// Dispatched cases whose response is not known (imported history never accepted here):
    /// left out of the response rate.
    pub response_unknown: u64,
    /// Closed cases not judged on time or late (imported history without a deadline or a
    /// verdict): left out of the on-time rate.
    pub on_time_unknown: u64,
}

/// The rates; `None` where nothing was there to measure (no case dispatched, closed, …).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rates {
    /// 响应率: dispatched cases accepted within the deadline then in force (of those whose
    /// response is known).
    pub response_rate: Option<f64>,
    /// 解决率: dispatched cases resolved.
    pub resolution_rate: Option<f64>,
    /// 满意率: evaluations that were satisfied or basically satisfied.
    pub satisfaction_rate: Option<f64>,
    /// Closed cases whose resolution met its deadline, with no deadline missed on the way (of
    /// those judged).
    pub on_time_rate: Option<f64>,
    /// Resolved cases reopened at least once (不满意再处置).
    pub rework_rate: Option<f64>,
    /// Share of closed cases settled at each level: grid, community, street, district.
    pub settled_shares: Option<[f64; 4]>,
    /// 4321 attainment: 1 − half the total absolute deviation from 40/30/20/10 (1 = exactly on
    /// target, 0 = everything at the wrong levels).
    pub attainment_4321: Option<f64>,
    /// Mediations concluded with a signed agreement, of all concluded.
    pub mediation_success_rate: Option<f64>,
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

impl Tally {
    pub fn add(&mut self, case: &CaseFacts) {
        let flag = |b: bool| u64::from(b);
        self.reported += 1;
        self.rejected += flag(case.rejected);
        self.dispatched += flag(case.dispatched);
        self.responded_on_time += flag(case.responded_on_time == Some(true));
        self.resolved += flag(case.resolved);
        self.closed += flag(case.closed);
        self.closed_on_time += flag(case.closed_on_time == Some(true));
        if let Some(satisfaction) = case.satisfaction {
            self.evaluated += 1;
            self.satisfied += flag(satisfaction.closes());
        }
        self.reopened += flag(case.reopened);
        if let (true, Some(level)) = (case.closed, case.settled_level) {
            self.settled[level_index(level)] += 1;
        }
        self.mediations_agreed += u64::from(case.mediations_agreed);
        self.mediations_failed += u64::from(case.mediations_failed);
        self.response_unknown += flag(case.dispatched && case.imported && case.responded_on_time.is_none());
        self.on_time_unknown += flag(case.closed && case.closed_on_time.is_none());
    }

    /// Add another tally's counts (cases counted elsewhere, e.g. a day's stored counts).
    pub fn merge(&mut self, other: &Tally) {
        self.reported += other.reported;
        self.rejected += other.rejected;
        self.dispatched += other.dispatched;
        self.responded_on_time += other.responded_on_time;
        self.resolved += other.resolved;
        self.closed += other.closed;
        self.closed_on_time += other.closed_on_time;
        self.evaluated += other.evaluated;
        self.satisfied += other.satisfied;
        self.reopened += other.reopened;
        for (mine, theirs) in self.settled.iter_mut().zip(other.settled) {
            *mine += theirs;
        }
        self.mediations_agreed += other.mediations_agreed;
        self.mediations_failed += other.mediations_failed;
        self.response_unknown += other.response_unknown;
        self.on_time_unknown += other.on_time_unknown;
    }

    pub fn rates(&self) -> Rates {
        let settled_total: u64 = self.settled.iter().sum();
        let settled_shares = (settled_total > 0).then(|| self.settled.map(|n| n as f64 / settled_total as f64));
        let attainment_4321 = settled_shares.map(|shares| {
            let deviation: f64 =
                Level::ALL.iter().zip(shares).map(|(level, share)| (share - level.target_share()).abs()).sum();
            1.0 - deviation / 2.0
        });
        Rates {
            response_rate: ratio(self.responded_on_time, self.dispatched.saturating_sub(self.response_unknown)),
            resolution_rate: ratio(self.resolved, self.dispatched),
            satisfaction_rate: ratio(self.satisfied, self.evaluated),
            on_time_rate: ratio(self.closed_on_time, self.closed.saturating_sub(self.on_time_unknown)),
            rework_rate: ratio(self.reopened, self.resolved),
            settled_shares,
            attainment_4321,
            mediation_success_rate: ratio(self.mediations_agreed, self.mediations_agreed + self.mediations_failed),
        }
    }
}

fn level_index(level: Level) -> usize {
    Level::ALL.iter().position(|l| *l == level).expect("every level is in ALL")
}

/// One period's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodReport {
    pub label: String,
    /// First day of the period (local date).
    pub start: NaiveDate,
    /// First day after it.
    pub end: NaiveDate,
    pub tally: Tally,
    pub rates: Rates,
}

/// The report over many cases: one row per period that holds a case, in order, and the total.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    period: Period,
    zone: Tz,
    periods: std::collections::BTreeMap<NaiveDate, Tally>,
    total: Tally,
}

impl Report {
    /// Periods are cut at local midnight in `zone` (the city's time zone), so a day can last 23
    /// or 25 hours where daylight saving changes.
    pub fn new(period: Period, zone: Tz) -> Self {
        Self { period, zone, periods: Default::default(), total: Tally::default() }
    }

    /// The city's time zone the periods are cut in.
    pub fn zone(&self) -> Tz {
        self.zone
    }

    pub fn add(&mut self, case: &CaseFacts) {
        let local = clock::local_date(case.opened_at, self.zone);
        self.periods.entry(self.period.start_of(local)).or_default().add(case);
        self.total.add(case);
    }

    /// Add the cases opened on the local `date`, already tallied: the same figures as adding
    /// each case, from counts kept per day.
    pub fn add_day(&mut self, date: NaiveDate, tally: &Tally) {
        self.periods.entry(self.period.start_of(date)).or_default().merge(tally);
        self.total.merge(tally);
    }

    pub fn periods(&self) -> Vec<PeriodReport> {
        self.periods
            .iter()
            .map(|(start, tally)| PeriodReport {
                label: self.period.label(*start),
                start: *start,
                end: self.period.next_start(*start),
                tally: tally.clone(),
                rates: tally.rates(),
            })
            .collect()
    }

    pub fn total(&self) -> &Tally {
        &self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn beijing() -> Tz {
        clock::DEFAULT_ZONE
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// A case opened at local Beijing time, closed on time at the grid and satisfied.
    fn settled(local: (i32, u32, u32, u32), level: Level) -> CaseFacts {
        let (y, m, d, h) = local;
        CaseFacts {
            opened_at: beijing().with_ymd_and_hms(y, m, d, h, 0, 0).unwrap().with_timezone(&chrono::Utc),
            rejected: false,
            dispatched: true,
            responded_on_time: Some(true),
            resolved: true,
            closed: true,
            closed_on_time: Some(true),
            satisfaction: Some(Satisfaction::Satisfied),
            reopened: false,
            settled_level: Some(level),
            mediations_agreed: 0,
            mediations_failed: 0,
            imported: false,
        }
    }

    #[test]
    fn period_starts_and_labels_follow_the_calendar() {
        let d = date(2026, 11, 21); // a Saturday
        assert_eq!(Period::Day.start_of(d), d);
        assert_eq!(Period::Week.start_of(d), date(2026, 11, 16));
        assert_eq!(Period::Week.label(date(2026, 11, 16)), "2026-W47");
        assert_eq!(Period::Month.start_of(d), date(2026, 11, 1));
        assert_eq!(Period::Quarter.start_of(d), date(2026, 10, 1));
        assert_eq!(Period::Quarter.label(date(2026, 10, 1)), "2026-Q4");
        assert_eq!(Period::Quarter.next_start(date(2026, 10, 1)), date(2027, 1, 1));
        assert_eq!(Period::Year.start_of(d), date(2026, 1, 1));
        assert_eq!(Period::Month.next_start(date(2026, 1, 1)), date(2026, 2, 1));
        // ISO week 1 of 2027 starts on Monday 4 January; 1 January 2027 is in 2026-W53.
        assert_eq!(Period::Week.label(Period::Week.start_of(date(2027, 1, 1))), "2026-W53");
        assert_eq!("quarter".parse::<Period>(), Ok(Period::Quarter));
        assert!("fortnight".parse::<Period>().unwrap_err().contains("day, week, month, quarter or year"));
    }

    #[test]
    fn given_cases_around_local_midnight_when_reported_daily_then_each_falls_on_its_local_day() {
        let mut report = Report::new(Period::Day, beijing());
        // 23:00 on the 20th and 07:00 on the 21st, Beijing time: 15:00 and 23:00 UTC on the 20th.
        report.add(&settled((2026, 11, 20, 23), Level::Grid));
        report.add(&settled((2026, 11, 21, 7), Level::Grid));
        let labels: Vec<_> = report.periods().iter().map(|p| (p.label.clone(), p.tally.reported)).collect();
        assert_eq!(labels, vec![("2026-11-20".to_string(), 1), ("2026-11-21".to_string(), 1)]);
        assert_eq!(report.total().reported, 2);
    }

    #[test]
    fn given_a_daylight_saving_zone_when_reported_then_days_and_weeks_are_cut_at_local_midnight() {
        let ny = clock::parse_zone("America/New_York").unwrap();
        let opened = |utc: &str| CaseFacts {
            opened_at: chrono::DateTime::parse_from_rfc3339(utc).unwrap().with_timezone(&chrono::Utc),
            ..settled((2026, 3, 1, 10), Level::Grid)
        };
        // 04:30 UTC is 23:30 on the 7th (EST, UTC-5) but 00:30 on the 9th (EDT, UTC-4): the
        // 8th, a day of 23 hours, runs from 05:00 to 04:00 UTC.
        let cases = [opened("2026-03-08T04:30:00Z"), opened("2026-03-09T03:30:00Z"), opened("2026-03-09T04:30:00Z")];
        let mut daily = Report::new(Period::Day, ny);
        let mut weekly = Report::new(Period::Week, ny);
        for case in &cases {
            daily.add(case);
            weekly.add(case);
        }
        let rows = |r: &Report| r.periods().iter().map(|p| (p.label.clone(), p.tally.reported)).collect::<Vec<_>>();
        assert_eq!(
            rows(&daily),
            [("2026-03-07".to_string(), 1), ("2026-03-08".to_string(), 1), ("2026-03-09".to_string(), 1)]
        );
        // The week of Monday 2 March holds Saturday 7th and Sunday 8th; Monday 9th starts the next.
        assert_eq!(rows(&weekly), [("2026-W10".to_string(), 2), ("2026-W11".to_string(), 1)]);
        // In Beijing the same instants fall on the 8th (12:30), the 9th (11:30) and the 9th (12:30).
        let mut beijing_daily = Report::new(Period::Day, beijing());
        cases.iter().for_each(|case| beijing_daily.add(case));
        assert_eq!(rows(&beijing_daily), [("2026-03-08".to_string(), 1), ("2026-03-09".to_string(), 2)]);
    }

    #[test]
    fn given_a_mix_of_outcomes_when_tallied_then_each_rate_has_its_own_denominator() {
        let mut tally = Tally::default();
        let on_time = settled((2026, 11, 2, 10), Level::Grid);
        tally.add(&on_time);
        // Accepted late, resolved, closed late and unsatisfied once (reopened), then basically satisfied.
        tally.add(&CaseFacts {
            responded_on_time: Some(false),
            closed_on_time: Some(false),
            satisfaction: Some(Satisfaction::BasicallySatisfied),
            reopened: true,
            settled_level: Some(Level::Street),
            mediations_agreed: 1,
            mediations_failed: 1,
            ..on_time.clone()
        });
        // Still open: dispatched, never accepted.
        tally.add(&CaseFacts {
            responded_on_time: None,
            resolved: false,
            closed: false,
            closed_on_time: None,
            satisfaction: None,
            settled_level: None,
            ..on_time.clone()
        });
        // Rejected at intake: never dispatched.
        tally.add(&CaseFacts {
            rejected: true,
            dispatched: false,
            responded_on_time: None,
            resolved: false,
            closed: false,
            closed_on_time: None,
            satisfaction: None,
            settled_level: None,
            ..on_time
        });
        let rates = tally.rates();
        assert_eq!((tally.reported, tally.rejected, tally.dispatched), (4, 1, 3));
        assert_eq!(rates.response_rate, Some(1.0 / 3.0));
        assert_eq!(rates.resolution_rate, Some(2.0 / 3.0));
        assert_eq!(rates.satisfaction_rate, Some(1.0));
        assert_eq!(rates.on_time_rate, Some(0.5));
        assert_eq!(rates.rework_rate, Some(0.5));
        assert_eq!(rates.settled_shares, Some([0.5, 0.0, 0.5, 0.0]));
        // |0.5-0.4| + |0-0.3| + |0.5-0.2| + |0-0.1| = 0.8 → 1 - 0.4
        assert!((rates.attainment_4321.unwrap() - 0.6).abs() < 1e-12);
        assert_eq!(rates.mediation_success_rate, Some(0.5));
    }

    #[test]
    fn given_cases_tallied_per_day_when_added_as_days_then_the_report_equals_adding_each_case() {
        let cases = [
            settled((2026, 11, 20, 23), Level::Grid),
            settled((2026, 11, 21, 7), Level::Street),
            CaseFacts { closed_on_time: Some(false), ..settled((2026, 11, 21, 9), Level::Grid) },
            settled((2026, 12, 1, 9), Level::District),
        ];
        let mut each = Report::new(Period::Month, beijing());
        let mut days: std::collections::BTreeMap<NaiveDate, Tally> = Default::default();
        for case in &cases {
            each.add(case);
            days.entry(clock::local_date(case.opened_at, beijing())).or_default().add(case);
        }
        let mut by_day = Report::new(Period::Month, beijing());
        for (date, tally) in &days {
            by_day.add_day(*date, tally);
        }
        assert_eq!(by_day, each);
        assert_eq!(by_day.periods().len(), 2);
        assert_eq!(by_day.total().settled, [2, 0, 1, 1]);
    }

    #[test]
    fn given_exactly_4321_when_tallied_then_attainment_is_one_and_nothing_measured_is_none() {
        let mut tally = Tally::default();
        for (level, n) in [(Level::Grid, 4), (Level::Community, 3), (Level::Street, 2), (Level::District, 1)] {
            for _ in 0..n {
                tally.add(&settled((2026, 3, 2, 9), level));
            }
        }
        assert!((tally.rates().attainment_4321.unwrap() - 1.0).abs() < 1e-12);
        let empty = Tally::default().rates();
        assert_eq!((empty.response_rate, empty.attainment_4321, empty.mediation_success_rate), (None, None, None));
    }

    #[test]
    fn given_imported_history_without_response_or_deadline_then_those_rates_are_not_known() {
        let mut tally = Tally::default();
        let imported = CaseFacts {
            imported: true,
            responded_on_time: None,
            closed_on_time: None,
            satisfaction: None,
            ..settled((2024, 6, 3, 9), Level::Street)
        };
        tally.add(&imported);
        tally.add(&imported);
        let rates = tally.rates();
        assert_eq!((tally.dispatched, tally.response_unknown, tally.closed, tally.on_time_unknown), (2, 2, 2, 2));
        assert_eq!((rates.response_rate, rates.on_time_rate, rates.satisfaction_rate), (None, None, None));
        assert_eq!(rates.resolution_rate, Some(1.0), "resolution is known: the file says closed");
        // The platform's own verdict counts; a live case never accepted counts as not in time.
        tally.add(&CaseFacts { closed_on_time: Some(false), ..imported.clone() });
        tally.add(&CaseFacts { responded_on_time: None, ..settled((2024, 6, 3, 9), Level::Grid) });
        let rates = tally.rates();
        assert_eq!(rates.on_time_rate, Some(0.5), "1 of the 2 judged: the live case and the verdict");
        assert_eq!(rates.response_rate, Some(0.0), "the live case not accepted");
    }

    #[test]
    fn given_imported_history_without_evaluation_then_it_counts_for_closure_but_not_satisfaction() {
        let mut tally = Tally::default();
        tally.add(&CaseFacts { satisfaction: None, ..settled((2025, 6, 3, 9), Level::Street) });
        assert_eq!((tally.closed, tally.closed_on_time, tally.evaluated), (1, 1, 0));
        assert_eq!(tally.rates().satisfaction_rate, None);
    }
}
