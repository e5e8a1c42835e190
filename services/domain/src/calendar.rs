//! The working-time calendar (design §6): working hours, weekends, public holidays and the
//! make-up working days (调休) of mainland China, and SLA arithmetic on top of them.
//!
//! City manuals set deadlines such as "4 working hours" or "7 working days". A [`WorkingCalendar`]
//! turns those into instants:
//!
//! - Working hours are one or more half-open intervals of local time, `[start, end)`, the same on
//!   every working day (default 09:00–12:00 and 13:30–18:00). An instant at an interval's end
//!   (12:00, 18:00) is outside working time; an instant at its start is inside.
//! - A date is a working day unless it is a weekend day (default Saturday and Sunday) or a public
//!   holiday, except that a make-up working day is always a working day. A date cannot be both a
//!   holiday and a make-up day.
//! - Local time is a fixed offset from UTC (default UTC+8; mainland China has no DST), so every
//!   local date and time maps to exactly one instant.
//!
//! # Amounts of working time
//!
//! [`WorkingTime::Hours`] and [`WorkingTime::Minutes`] count working time only, starting at
//! `start` or, if `start` is outside working time, at the next working interval. The result is the
//! instant the amount runs out, which may be an interval's end: 3 working hours from 09:00 end at
//! 12:00, not at 13:30. [`WorkingCalendar::working_time_between`] is the inverse: it measures the
//! working time in `[from, to)`.
//!
//! [`WorkingTime::Days`] follows the statutory way of counting days (民法典 第二百零一条、第二百零三条):
//! the day the period starts is not counted, whatever the time of day; counting starts on the
//! next day, only working days count, and the deadline is the close of business (the end of the
//! last working interval) on the n-th working day. So `Days(1)` from Monday 08:00 and from Monday
//! 23:00 are both Tuesday 18:00, and from Saturday it is Monday 18:00. Every `Days(n)` deadline
//! leaves at least n whole working days. A zero amount of any unit means "no working time": the
//! result is the first working instant at or after `start`.
//!
//! # Holiday data
//!
//! The State Council publishes each year's schedule in the November before. The schedules for 2025
//! and 2026 ship in `data/china_mainland_holidays.toml` (see [`HolidaySchedule::china_mainland`]);
//! a city can load later years from TOML text of the same shape. For a year without data the
//! calendar knows weekends only ([`WorkingCalendar::has_holiday_data`] tells which years are
//! covered, so callers can warn).
//!
//! # Cost and limits
//!
//! Arithmetic steps over whole intervals and days, and over whole weeks where no holiday or
//! make-up day intervenes, so a 30-working-day SLA takes a few dozen steps and even
//! `Minutes(u32::MAX)` takes a few hundred. Results that would fall outside chrono's range
//! (about ±262,000 years) saturate at [`DateTime::<Utc>::MAX_UTC`] (see
//! [`WorkingCalendar::checked_add`] for the non-saturating form).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Days, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone, Timelike, Utc, Weekday};
use serde::{Deserialize, Serialize};

const NANOS_PER_SEC: i128 = 1_000_000_000;
const SECS_PER_DAY: u32 = 86_400;
const NANOS_PER_DAY: i128 = SECS_PER_DAY as i128 * NANOS_PER_SEC;

/// A holiday range longer than this is almost certainly a typo (2025 → 2052).
const MAX_HOLIDAY_RANGE_DAYS: i64 = 366;

/// UTC+8, mainland China's local time (Asia/Shanghai has had no DST since 1991).
const CHINA_OFFSET_SECS: i32 = 8 * 3600;

/// Default working hours of Chinese government offices.
const DEFAULT_HOURS: [(&str, &str); 2] = [("09:00", "12:00"), ("13:30", "18:00")];

/// The shipped State Council schedules.
const CHINA_MAINLAND_HOLIDAYS: &str = include_str!("../data/china_mainland_holidays.toml");

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why a calendar, a holiday schedule or a working-time amount is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// Not `HH:MM` or `HH:MM:SS`, or outside 00:00–24:00.
    #[error("time of day {0:?} must be HH:MM or HH:MM:SS between 00:00 and 24:00")]
    InvalidTimeOfDay(String),
    #[error("working interval {start}-{end}: the end must be after the start")]
    EmptyInterval { start: String, end: String },
    #[error("working intervals {first} and {second} overlap")]
    OverlappingIntervals { first: WorkingInterval, second: WorkingInterval },
    #[error("no working hours: at least one working interval is needed")]
    NoWorkingHours,
    /// Every day of the week is a weekend day, so (beyond the make-up days) no day is a working
    /// day and no deadline could ever be reached.
    #[error("every day of the week is a weekend day, so there are no working days")]
    NoWorkingDays,
    #[error("holiday range {from} to {to}: the end is before the start")]
    InvertedHolidayRange { from: NaiveDate, to: NaiveDate },
    #[error("holiday range {from} to {to} is longer than {MAX_HOLIDAY_RANGE_DAYS} days")]
    HolidayRangeTooLong { from: NaiveDate, to: NaiveDate },
    #[error("{0} is both a public holiday and a make-up working day")]
    HolidayAndMakeUpDay(NaiveDate),
    #[error("working time {0:?} must be a whole number followed by h, m or d, e.g. \"4h\", \"30m\", \"7d\"")]
    InvalidWorkingTime(String),
    #[error(
        "SLA {0:?} must be a positive whole number and a unit: \"2 working hours\", \"5 working days\", \
         \"30 working minutes\" (working time) or \"15 min\", \"4 hours\", \"1 day\", \"90 s\" (wall clock)"
    )]
    InvalidSla(String),
    /// The holiday schedule TOML does not parse or does not have the documented shape.
    #[error("holiday schedule: {0}")]
    Schedule(String),
}

// ---------------------------------------------------------------------------------------------
// Amounts and SLAs
// ---------------------------------------------------------------------------------------------

/// An amount of working time. Serialized as `"4h"`, `"30m"` or `"7d"`.
///
/// Hours and minutes count time inside working intervals; days count whole working days and end
/// at close of business (see the module docs for the exact rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkingTime {
    Hours(u32),
    Minutes(u32),
    Days(u32),
}

impl WorkingTime {
    pub fn is_zero(self) -> bool {
        matches!(self, WorkingTime::Hours(0) | WorkingTime::Minutes(0) | WorkingTime::Days(0))
    }
}

impl fmt::Display for WorkingTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkingTime::Hours(h) => write!(f, "{h}h"),
            WorkingTime::Minutes(m) => write!(f, "{m}m"),
            WorkingTime::Days(d) => write!(f, "{d}d"),
        }
    }
}

impl FromStr for WorkingTime {
    type Err = CalendarError;

    /// Parses `"4h"`, `"30m"` or `"7d"`: ASCII digits then one unit letter, nothing else.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || CalendarError::InvalidWorkingTime(s.to_string());
        let (number, unit): (&str, fn(u32) -> WorkingTime) = if let Some(n) = s.strip_suffix('h') {
            (n, WorkingTime::Hours)
        } else if let Some(n) = s.strip_suffix('m') {
            (n, WorkingTime::Minutes)
        } else if let Some(n) = s.strip_suffix('d') {
            (n, WorkingTime::Days)
        } else {
            return Err(err());
        };
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        number.parse().map(unit).map_err(|_| err())
    }
}

impl Serialize for WorkingTime {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for WorkingTime {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What a category's SLA is: wall-clock time, or working time on the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sla {
    /// Counted on the wall clock, nights and holidays included (emergencies).
    Calendar(Duration),
    /// Counted on the working-time calendar.
    Working(WorkingTime),
}

impl Sla {
    /// Whether the SLA gives any time at all: a positive wall-clock duration or a non-zero
    /// amount of working time.
    pub fn is_positive(&self) -> bool {
        match *self {
            Sla::Calendar(d) => d > Duration::zero(),
            Sla::Working(amount) => !amount.is_zero(),
        }
    }

    /// The SLA's nominal length: the duration itself for [`Sla::Calendar`]; for working time,
    /// the amount read as if it were wall-clock time (`Hours(2)` → 2 h, `Days(5)` → 5 × 24 h).
    /// Only for display and for clients that predate the human strings: the real deadline comes
    /// from [`WorkingCalendar::deadline`].
    pub fn nominal(&self) -> Duration {
        match *self {
            Sla::Calendar(d) => d,
            Sla::Working(WorkingTime::Hours(h)) => Duration::hours(i64::from(h)),
            Sla::Working(WorkingTime::Minutes(m)) => Duration::minutes(i64::from(m)),
            Sla::Working(WorkingTime::Days(d)) => Duration::days(i64::from(d)),
        }
    }
}

/// Human text, as a city manual would put it: `"2 working hours"`, `"5 working days"`,
/// `"30 working minutes"` for working time; `"15 min"`, `"4 hours"`, `"1 day"` for wall-clock
/// time (in the largest unit that divides it exactly; seconds as a last resort).
impl fmt::Display for Sla {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: u64| if n == 1 { "" } else { "s" };
        match *self {
            Sla::Working(WorkingTime::Hours(n)) => write!(f, "{n} working hour{}", plural(n.into())),
            Sla::Working(WorkingTime::Minutes(n)) => write!(f, "{n} working minute{}", plural(n.into())),
            Sla::Working(WorkingTime::Days(n)) => write!(f, "{n} working day{}", plural(n.into())),
            Sla::Calendar(d) => {
                let (sign, d) = if d < Duration::zero() { ("-", -d) } else { ("", d) };
                let secs = d.num_seconds().unsigned_abs();
                if secs == 0 || d.subsec_nanos() != 0 {
                    return write!(f, "{sign}{} s", d.as_seconds_f64());
                }
                let n = |unit: u64| secs / unit;
                if secs % 86_400 == 0 {
                    write!(f, "{sign}{} day{}", n(86_400), plural(n(86_400)))
                } else if secs % 3_600 == 0 {
                    write!(f, "{sign}{} hour{}", n(3_600), plural(n(3_600)))
                } else if secs % 60 == 0 {
                    write!(f, "{sign}{} min", n(60))
                } else {
                    write!(f, "{sign}{secs} s")
                }
            }
        }
    }
}

/// Parses the text [`Sla`]'s `Display` writes (singular or plural units), so a responsibility
/// list in a file reads like the city's manual.
impl std::str::FromStr for Sla {
    type Err = CalendarError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || CalendarError::InvalidSla(text.to_string());
        let (amount, unit) = text.trim().split_once(' ').ok_or_else(invalid)?;
        let n: u32 = amount.parse().ok().filter(|n| *n > 0).ok_or_else(invalid)?;
        let sla = match unit.trim() {
            "working minute" | "working minutes" => Sla::Working(WorkingTime::Minutes(n)),
            "working hour" | "working hours" => Sla::Working(WorkingTime::Hours(n)),
            "working day" | "working days" => Sla::Working(WorkingTime::Days(n)),
            "s" => Sla::Calendar(Duration::seconds(i64::from(n))),
            "min" => Sla::Calendar(Duration::minutes(i64::from(n))),
            "hour" | "hours" => Sla::Calendar(Duration::hours(i64::from(n))),
            "day" | "days" => Sla::Calendar(Duration::days(i64::from(n))),
            _ => return Err(invalid()),
        };
        Ok(sla)
    }
}

// ---------------------------------------------------------------------------------------------
// Working intervals
// ---------------------------------------------------------------------------------------------

/// One interval of working hours, `[start, end)` in local time, within 00:00–24:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkingInterval {
    /// Seconds after local midnight.
    start: u32,
    /// Seconds after local midnight, `start < end <= 86_400`.
    end: u32,
}

impl WorkingInterval {
    /// Parses an interval from `HH:MM` (or `HH:MM:SS`) times; `24:00` is allowed as an end.
    pub fn parse(start: &str, end: &str) -> Result<Self, CalendarError> {
        let (s, e) = (parse_time_of_day(start)?, parse_time_of_day(end)?);
        if e <= s {
            return Err(CalendarError::EmptyInterval { start: start.to_string(), end: end.to_string() });
        }
        Ok(WorkingInterval { start: s, end: e })
    }

    /// Start, in seconds after local midnight.
    pub fn start_secs(self) -> u32 {
        self.start
    }

    /// End, in seconds after local midnight (86,400 for 24:00).
    pub fn end_secs(self) -> u32 {
        self.end
    }

    pub fn length(self) -> Duration {
        Duration::seconds(i64::from(self.end - self.start))
    }

    fn start_ns(self) -> i128 {
        i128::from(self.start) * NANOS_PER_SEC
    }

    fn end_ns(self) -> i128 {
        i128::from(self.end) * NANOS_PER_SEC
    }
}

impl fmt::Display for WorkingInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", TimeOfDay(self.start), TimeOfDay(self.end))
    }
}

/// Seconds after midnight, displayed as `HH:MM` (or `HH:MM:SS` when the seconds are not zero).
struct TimeOfDay(u32);

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (h, m, s) = (self.0 / 3600, self.0 / 60 % 60, self.0 % 60);
        if s == 0 {
            write!(f, "{h:02}:{m:02}")
        } else {
            write!(f, "{h:02}:{m:02}:{s:02}")
        }
    }
}

/// `HH:MM` or `HH:MM:SS` (two digits each) → seconds after midnight, 0..=86_400.
fn parse_time_of_day(text: &str) -> Result<u32, CalendarError> {
    let err = || CalendarError::InvalidTimeOfDay(text.to_string());
    let parts: Vec<&str> = text.split(':').collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit())) {
        return Err(err());
    }
    let number = |i: usize| parts.get(i).map_or(Ok(0), |p| p.parse::<u32>()).map_err(|_| err());
    let (h, m, s) = (number(0)?, number(1)?, number(2)?);
    if m >= 60 || s >= 60 || h > 24 || (h == 24 && (m, s) != (0, 0)) {
        return Err(err());
    }
    Ok(h * 3600 + m * 60 + s)
}

// ---------------------------------------------------------------------------------------------
// Holiday schedules
// ---------------------------------------------------------------------------------------------

/// Published holiday schedules, by year: the shape of `data/china_mainland_holidays.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HolidaySchedule {
    years: BTreeMap<i32, YearSchedule>,
}

/// One year's schedule, as one notice publishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearSchedule {
    /// Where the schedule comes from (the notice's title and date).
    pub source: Option<String>,
    pub periods: Vec<HolidayPeriod>,
}

/// A run of days off, `from` to `to` inclusive (weekend days folded into the break included), and
/// the weekend days that become working days in exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolidayPeriod {
    pub name: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub make_up: Vec<NaiveDate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    #[serde(default)]
    years: BTreeMap<String, RawYear>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawYear {
    source: Option<String>,
    #[serde(default)]
    periods: Vec<RawPeriod>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPeriod {
    name: String,
    from: toml::value::Datetime,
    /// Defaults to `from` (a one-day holiday).
    to: Option<toml::value::Datetime>,
    #[serde(default)]
    make_up: Vec<toml::value::Datetime>,
}

fn plain_date(value: &toml::value::Datetime, context: &str) -> Result<NaiveDate, CalendarError> {
    let date = match (value.date, value.time, value.offset) {
        (Some(date), None, None) => {
            NaiveDate::from_ymd_opt(i32::from(date.year), u32::from(date.month), u32::from(date.day))
        }
        _ => None,
    };
    date.ok_or_else(|| CalendarError::Schedule(format!("{context}: {value} is not a plain date (YYYY-MM-DD)")))
}

fn check_range(from: NaiveDate, to: NaiveDate) -> Result<(), CalendarError> {
    if to < from {
        return Err(CalendarError::InvertedHolidayRange { from, to });
    }
    if (to - from).num_days() >= MAX_HOLIDAY_RANGE_DAYS {
        return Err(CalendarError::HolidayRangeTooLong { from, to });
    }
    Ok(())
}

impl HolidaySchedule {
    /// The State Council schedules shipped with gridloop (2025 and 2026).
    pub fn china_mainland() -> Self {
        Self::from_toml(CHINA_MAINLAND_HOLIDAYS).expect("the shipped holiday schedule is valid")
    }

    /// Parses and validates a schedule:
    ///
    /// ```toml
    /// [years.2027]
    /// source = "国务院办公厅关于2027年部分节假日安排的通知"
    /// periods = [
    ///     { name = "元旦", from = 2027-01-01, to = 2027-01-03 },
    ///     { name = "春节", from = 2027-02-05, to = 2027-02-13, make_up = [2027-01-31] },
    /// ]
    /// ```
    ///
    /// `to` defaults to `from`; `make_up` to none. Refuses unknown keys, non-year keys under
    /// `years`, dates with a time or offset, inverted or over-long ranges and a date that is both
    /// a holiday and a make-up day.
    pub fn from_toml(text: &str) -> Result<Self, CalendarError> {
        let raw: RawSchedule = toml::from_str(text).map_err(|e| CalendarError::Schedule(e.to_string()))?;
        let mut years = BTreeMap::new();
        let (mut holidays, mut make_up_days) = (BTreeSet::new(), BTreeSet::new());
        for (key, raw_year) in raw.years {
            let year: i32 = key
                .parse()
                .ok()
                .filter(|y| (1..=9999).contains(y))
                .ok_or_else(|| CalendarError::Schedule(format!("years.{key}: the key must be a year")))?;
            let mut periods = Vec::with_capacity(raw_year.periods.len());
            for raw_period in raw_year.periods {
                let context = format!("years.{year} {}", raw_period.name);
                let from = plain_date(&raw_period.from, &context)?;
                let to = raw_period.to.as_ref().map_or(Ok(from), |to| plain_date(to, &context))?;
                check_range(from, to)?;
                let make_up =
                    raw_period.make_up.iter().map(|d| plain_date(d, &context)).collect::<Result<Vec<_>, _>>()?;
                holidays.extend(from.iter_days().take_while(|d| *d <= to));
                make_up_days.extend(make_up.iter().copied());
                periods.push(HolidayPeriod { name: raw_period.name, from, to, make_up });
            }
            years.insert(year, YearSchedule { source: raw_year.source, periods });
        }
        if let Some(&date) = holidays.intersection(&make_up_days).next() {
            return Err(CalendarError::HolidayAndMakeUpDay(date));
        }
        Ok(HolidaySchedule { years })
    }

    /// The years covered, in order, with their schedules.
    pub fn years(&self) -> impl Iterator<Item = (i32, &YearSchedule)> + '_ {
        self.years.iter().map(|(&year, schedule)| (year, schedule))
    }

    pub fn year(&self, year: i32) -> Option<&YearSchedule> {
        self.years.get(&year)
    }
}

// ---------------------------------------------------------------------------------------------
// The calendar
// ---------------------------------------------------------------------------------------------

/// Working hours, weekends, holidays and make-up days in one local time zone. Build one with
/// [`WorkingCalendar::builder`] or take [`WorkingCalendar::china_mainland`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingCalendar {
    offset: FixedOffset,
    /// Sorted and disjoint.
    intervals: Vec<WorkingInterval>,
    /// Indexed by `Weekday::num_days_from_monday`.
    weekend: [bool; 7],
    holidays: BTreeSet<NaiveDate>,
    make_up_days: BTreeSet<NaiveDate>,
    /// `holidays ∪ make_up_days`: the dates where the weekly pattern does not hold.
    exceptions: BTreeSet<NaiveDate>,
    known_years: BTreeSet<i32>,
    /// Working time in one working day.
    day_ns: i128,
    /// Weekdays that are not weekend days (1..=7).
    working_weekdays: i64,
}

/// Builds a [`WorkingCalendar`]. Starts from UTC+8, 09:00–12:00 and 13:30–18:00, Saturday and
/// Sunday off and no holidays; everything is validated by [`build`](Self::build).
#[derive(Debug, Clone)]
pub struct WorkingCalendarBuilder {
    offset: FixedOffset,
    hours: Vec<(String, String)>,
    weekends: Vec<Weekday>,
    holiday_ranges: Vec<(NaiveDate, NaiveDate)>,
    make_up_days: Vec<NaiveDate>,
    known_years: BTreeSet<i32>,
}

impl Default for WorkingCalendarBuilder {
    fn default() -> Self {
        WorkingCalendarBuilder {
            offset: FixedOffset::east_opt(CHINA_OFFSET_SECS).expect("UTC+8 is a valid offset"),
            hours: DEFAULT_HOURS.iter().map(|&(s, e)| (s.to_string(), e.to_string())).collect(),
            weekends: vec![Weekday::Sat, Weekday::Sun],
            holiday_ranges: Vec::new(),
            make_up_days: Vec::new(),
            known_years: BTreeSet::new(),
        }
    }
}

impl WorkingCalendarBuilder {
    /// The local time zone, as a fixed offset from UTC.
    pub fn offset(mut self, offset: FixedOffset) -> Self {
        self.offset = offset;
        self
    }

    /// Replaces the working hours: `(start, end)` pairs of `HH:MM` local times, e.g.
    /// `[("08:30", "17:30")]`. Order does not matter; intervals must not overlap.
    pub fn working_hours<I, S>(mut self, intervals: I) -> Self
    where
        I: IntoIterator<Item = (S, S)>,
        S: Into<String>,
    {
        self.hours = intervals.into_iter().map(|(s, e)| (s.into(), e.into())).collect();
        self
    }

    /// Replaces the weekend days.
    pub fn weekends(mut self, days: impl IntoIterator<Item = Weekday>) -> Self {
        self.weekends = days.into_iter().collect();
        self
    }

    /// Adds a public holiday.
    pub fn holiday(self, date: NaiveDate) -> Self {
        self.holiday_range(date, date)
    }

    /// Adds the public holidays `from` to `to`, inclusive.
    pub fn holiday_range(mut self, from: NaiveDate, to: NaiveDate) -> Self {
        self.holiday_ranges.push((from, to));
        self
    }

    /// Adds a make-up working day (调休上班), a working day even if it is a weekend day.
    pub fn make_up_day(mut self, date: NaiveDate) -> Self {
        self.make_up_days.push(date);
        self
    }

    /// Adds every holiday and make-up day of `schedule`, and marks its years as covered.
    pub fn schedule(mut self, schedule: &HolidaySchedule) -> Self {
        for (year, year_schedule) in schedule.years() {
            self.known_years.insert(year);
            for period in &year_schedule.periods {
                self.holiday_ranges.push((period.from, period.to));
                self.make_up_days.extend(period.make_up.iter().copied());
            }
        }
        self
    }

    pub fn build(self) -> Result<WorkingCalendar, CalendarError> {
        let mut intervals =
            self.hours.iter().map(|(s, e)| WorkingInterval::parse(s, e)).collect::<Result<Vec<_>, _>>()?;
        if intervals.is_empty() {
            return Err(CalendarError::NoWorkingHours);
        }
        intervals.sort();
        if let Some(pair) = intervals.windows(2).find(|pair| pair[1].start < pair[0].end) {
            return Err(CalendarError::OverlappingIntervals { first: pair[0], second: pair[1] });
        }

        let mut weekend = [false; 7];
        for day in &self.weekends {
            weekend[day.num_days_from_monday() as usize] = true;
        }
        let working_weekdays = weekend.iter().filter(|&&off| !off).count() as i64;
        if working_weekdays == 0 {
            return Err(CalendarError::NoWorkingDays);
        }

        let mut holidays = BTreeSet::new();
        for &(from, to) in &self.holiday_ranges {
            check_range(from, to)?;
            holidays.extend(from.iter_days().take_while(|d| *d <= to));
        }
        let make_up_days: BTreeSet<NaiveDate> = self.make_up_days.into_iter().collect();
        if let Some(&date) = holidays.intersection(&make_up_days).next() {
            return Err(CalendarError::HolidayAndMakeUpDay(date));
        }
        let exceptions = holidays.union(&make_up_days).copied().collect();
        let day_ns = intervals.iter().map(|iv| iv.end_ns() - iv.start_ns()).sum();

        Ok(WorkingCalendar {
            offset: self.offset,
            intervals,
            weekend,
            holidays,
            make_up_days,
            exceptions,
            known_years: self.known_years,
            day_ns,
            working_weekdays,
        })
    }
}

impl WorkingCalendar {
    /// Mainland China: UTC+8, 09:00–12:00 and 13:30–18:00, Saturday and Sunday off, and the
    /// shipped State Council schedules (2025, 2026).
    pub fn china_mainland() -> Self {
        Self::builder().schedule(&HolidaySchedule::china_mainland()).build().expect("the built-in calendar is valid")
    }

    pub fn builder() -> WorkingCalendarBuilder {
        WorkingCalendarBuilder::default()
    }

    pub fn offset(&self) -> FixedOffset {
        self.offset
    }

    /// The working intervals, sorted.
    pub fn intervals(&self) -> &[WorkingInterval] {
        &self.intervals
    }

    /// The working time in one working day (7.5 hours by default).
    pub fn working_day_length(&self) -> Duration {
        duration_from_ns(self.day_ns)
    }

    /// Whether a holiday schedule for `year` was loaded. Without one, only weekends are off that
    /// year, which is wrong for any year with public holidays: callers should warn.
    pub fn has_holiday_data(&self, year: i32) -> bool {
        self.known_years.contains(&year)
    }

    pub fn is_weekend(&self, day: Weekday) -> bool {
        self.weekend[day.num_days_from_monday() as usize]
    }

    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        self.holidays.contains(&date)
    }

    pub fn is_make_up_day(&self, date: NaiveDate) -> bool {
        self.make_up_days.contains(&date)
    }

    /// Whether the local date `date` is a working day.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        if self.make_up_days.contains(&date) {
            return true;
        }
        !self.holidays.contains(&date) && !self.is_weekend(date.weekday())
    }

    /// Whether `at` falls inside a working interval of a working day.
    pub fn is_working_time(&self, at: DateTime<Utc>) -> bool {
        let Some((date, tod)) = self.local(at) else { return false };
        self.is_working_day(date) && self.intervals.iter().any(|iv| iv.start_ns() <= tod && tod < iv.end_ns())
    }

    /// The first working instant at or after `at`.
    pub fn next_working_instant(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        self.add_ns(at, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// The instant `amount` of working time after `start` (see the module docs for the rules).
    /// Saturates at [`DateTime::<Utc>::MAX_UTC`].
    pub fn add(&self, start: DateTime<Utc>, amount: WorkingTime) -> DateTime<Utc> {
        self.checked_add(start, amount).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// [`add`](Self::add), or `None` if the result is outside chrono's range.
    pub fn checked_add(&self, start: DateTime<Utc>, amount: WorkingTime) -> Option<DateTime<Utc>> {
        match amount {
            WorkingTime::Hours(h) => self.add_ns(start, i128::from(h) * 3600 * NANOS_PER_SEC),
            WorkingTime::Minutes(m) => self.add_ns(start, i128::from(m) * 60 * NANOS_PER_SEC),
            WorkingTime::Days(0) => self.add_ns(start, 0),
            WorkingTime::Days(n) => {
                let (date, _) = self.local(start)?;
                let last = self.nth_working_day_after(date, n)?;
                let close = self.intervals.last().expect("a calendar has working hours").end_ns();
                self.utc(last, close)
            }
        }
    }

    /// The instant `working` of working time after `start`, to the nanosecond; like
    /// [`add`](Self::add) with hours or minutes. A negative amount counts as zero.
    pub fn add_duration(&self, start: DateTime<Utc>, working: Duration) -> DateTime<Utc> {
        let ns = i128::from(working.num_seconds()) * NANOS_PER_SEC + i128::from(working.subsec_nanos());
        self.add_ns(start, ns.max(0)).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// When an SLA started at `start` runs out: `start + d` on the wall clock for
    /// [`Sla::Calendar`], [`add`](Self::add) for [`Sla::Working`]. Saturates at chrono's range.
    pub fn deadline(&self, start: DateTime<Utc>, sla: &Sla) -> DateTime<Utc> {
        match *sla {
            Sla::Calendar(d) => start.checked_add_signed(d).unwrap_or(if d < Duration::zero() {
                DateTime::<Utc>::MIN_UTC
            } else {
                DateTime::<Utc>::MAX_UTC
            }),
            Sla::Working(amount) => self.add(start, amount),
        }
    }

    /// The working time in `[from, to)`; zero if `to` is not after `from`. For any start `s` and
    /// hours or minutes `w`, `working_time_between(s, add(s, w)) == w`.
    pub fn working_time_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        if to <= from {
            return Duration::zero();
        }
        let (Some((d0, t0)), Some((d1, t1))) = (self.local(clamp(from)), self.local(clamp(to))) else {
            return Duration::zero();
        };
        let ns = if d0 == d1 {
            self.working_ns_on(d0, t0, t1)
        } else {
            let first = self.working_ns_on(d0, t0, NANOS_PER_DAY);
            let last = self.working_ns_on(d1, 0, t1);
            let middle = d0.succ_opt().map_or(0, |next| self.working_days_in(next, d1));
            first + i128::from(middle) * self.day_ns + last
        };
        duration_from_ns(ns)
    }

    // --- internals ---------------------------------------------------------------------------

    /// Local date and nanoseconds after local midnight of `at`.
    fn local(&self, at: DateTime<Utc>) -> Option<(NaiveDate, i128)> {
        let local = at.naive_utc().checked_add_signed(Duration::seconds(i64::from(self.offset.local_minus_utc())))?;
        Some((local.date(), nanos_of_day(local.time())))
    }

    /// The instant at `tod` nanoseconds (0..=24h) after local midnight of `date`.
    fn utc(&self, date: NaiveDate, tod: i128) -> Option<DateTime<Utc>> {
        let secs = i64::try_from(tod / NANOS_PER_SEC).ok()?;
        let nanos = i64::try_from(tod % NANOS_PER_SEC).ok()?;
        let local =
            date.and_time(NaiveTime::MIN).checked_add_signed(Duration::seconds(secs) + Duration::nanoseconds(nanos))?;
        let naive_utc = local.checked_sub_signed(Duration::seconds(i64::from(self.offset.local_minus_utc())))?;
        Some(Utc.from_utc_datetime(&naive_utc))
    }

    /// Working nanoseconds of `date` within `[lo, hi)` (nanoseconds after local midnight).
    fn working_ns_on(&self, date: NaiveDate, lo: i128, hi: i128) -> i128 {
        if !self.is_working_day(date) {
            return 0;
        }
        self.intervals.iter().map(|iv| (iv.end_ns().min(hi) - iv.start_ns().max(lo)).max(0)).sum()
    }

    /// The number of working days in `[from, to)`, without walking the days.
    fn working_days_in(&self, from: NaiveDate, to: NaiveDate) -> i64 {
        if to <= from {
            return 0;
        }
        let days = (to - from).num_days();
        let mut count = days / 7 * self.working_weekdays;
        // The last `days % 7` days before `to` are not whole weeks: look at their weekdays.
        let mut weekday = to.weekday();
        for _ in 0..days % 7 {
            weekday = weekday.pred();
            if !self.is_weekend(weekday) {
                count += 1;
            }
        }
        // Make-up days turn weekend days into working days; holidays the other way round (a date
        // is never both).
        count += self.make_up_days.range(from..to).filter(|d| self.is_weekend(d.weekday())).count() as i64;
        count -= self.holidays.range(from..to).filter(|d| !self.is_weekend(d.weekday())).count() as i64;
        count
    }

    /// Whole weeks starting at `date` that contain no holiday or make-up day, so that they follow
    /// the weekly pattern exactly.
    fn plain_weeks_from(&self, date: NaiveDate) -> i64 {
        self.exceptions.range(date..).next().map_or(i64::MAX, |next| (*next - date).num_days() / 7)
    }

    /// Core of `add`: `remaining` nanoseconds of working time after `start`. With `remaining ==
    /// 0` this is the first working instant at or after `start`.
    fn add_ns(&self, start: DateTime<Utc>, mut remaining: i128) -> Option<DateTime<Utc>> {
        let week_ns = self.day_ns * i128::from(self.working_weekdays);
        let (mut date, mut tod) = self.local(start)?;
        loop {
            if tod == 0 && remaining > week_ns {
                // Jump whole weeks, leaving at least one nanosecond to find within a day's
                // intervals below.
                let weeks = ((remaining - 1) / week_ns).min(i128::from(self.plain_weeks_from(date)));
                if weeks > 0 {
                    date = date.checked_add_days(Days::new(u64::try_from(weeks * 7).ok()?))?;
                    remaining -= weeks * week_ns;
                }
            }
            if self.is_working_day(date) {
                for iv in &self.intervals {
                    if iv.end_ns() <= tod {
                        continue;
                    }
                    let begin = iv.start_ns().max(tod);
                    let available = iv.end_ns() - begin;
                    if remaining <= available {
                        return self.utc(date, begin + remaining);
                    }
                    remaining -= available;
                }
            }
            date = date.succ_opt()?;
            tod = 0;
        }
    }

    /// The `n`-th working day after `date` (`date` itself not counted), `n >= 1`.
    fn nth_working_day_after(&self, date: NaiveDate, n: u32) -> Option<NaiveDate> {
        let mut remaining = i64::from(n);
        let mut day = date;
        loop {
            let next = day.succ_opt()?;
            if remaining > self.working_weekdays {
                // Jump whole weeks starting at `next`, leaving at least one working day to find.
                let weeks = ((remaining - 1) / self.working_weekdays).min(self.plain_weeks_from(next));
                if weeks > 0 {
                    day = day.checked_add_days(Days::new(u64::try_from(weeks * 7).ok()?))?;
                    remaining -= weeks * self.working_weekdays;
                    continue;
                }
            }
            day = next;
            if self.is_working_day(day) {
                remaining -= 1;
                if remaining == 0 {
                    return Some(day);
                }
            }
        }
    }
}

fn nanos_of_day(time: NaiveTime) -> i128 {
    // A leap second's nanosecond field runs past 10^9; count it as the second's last instant.
    i128::from(time.num_seconds_from_midnight()) * NANOS_PER_SEC + i128::from(time.nanosecond().min(999_999_999))
}

fn duration_from_ns(ns: i128) -> Duration {
    let secs = i64::try_from(ns.div_euclid(NANOS_PER_SEC)).unwrap_or(i64::MAX);
    let nanos = ns.rem_euclid(NANOS_PER_SEC) as u32;
    Duration::new(secs, nanos).unwrap_or(Duration::MAX)
}

/// Keeps an instant a day inside chrono's range, so that its local time exists.
fn clamp(at: DateTime<Utc>) -> DateTime<Utc> {
    let lo = DateTime::<Utc>::MIN_UTC + Duration::days(1);
    let hi = DateTime::<Utc>::MAX_UTC - Duration::days(1);
    at.clamp(lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slas_read_back_what_they_print_and_refuse_anything_else() {
        let slas = [
            Sla::Working(WorkingTime::Hours(1)),
            Sla::Working(WorkingTime::Hours(2)),
            Sla::Working(WorkingTime::Minutes(30)),
            Sla::Working(WorkingTime::Days(7)),
            Sla::Calendar(Duration::minutes(15)),
            Sla::Calendar(Duration::hours(4)),
            Sla::Calendar(Duration::days(1)),
            Sla::Calendar(Duration::seconds(90)),
        ];
        for sla in slas {
            assert_eq!(sla.to_string().parse::<Sla>(), Ok(sla), "{sla}");
        }
        assert_eq!("1 working days".parse::<Sla>(), Ok(Sla::Working(WorkingTime::Days(1))));
        for bad in ["", "2", "2 weeks", "0 working days", "-1 hour", "1.5 hours", "two hours"] {
            assert_eq!(bad.parse::<Sla>(), Err(CalendarError::InvalidSla(bad.into())), "{bad:?}");
        }
    }
    use proptest::prelude::*;

    fn cal() -> WorkingCalendar {
        WorkingCalendar::china_mainland()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// An instant given in Beijing time (UTC+8).
    fn bj(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        FixedOffset::east_opt(8 * 3600).unwrap().with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap().with_timezone(&Utc)
    }

    fn hours(h: u32) -> WorkingTime {
        WorkingTime::Hours(h)
    }

    #[test]
    fn four_working_hours_from_friday_afternoon_end_monday_late_morning() {
        // Given Friday 14 March 2025, 16:00 (an ordinary week),
        let start = bj(2025, 3, 14, 16, 0);
        assert_eq!(date(2025, 3, 14).weekday(), Weekday::Fri);
        // when 4 working hours are added, then 2 h are used on Friday (16:00–18:00), the weekend
        // is skipped and the other 2 h run 09:00–11:00 on Monday.
        assert_eq!(cal().add(start, hours(4)), bj(2025, 3, 17, 11, 0));
        assert_eq!(cal().working_time_between(start, bj(2025, 3, 17, 11, 0)), Duration::hours(4));
    }

    #[test]
    fn the_lunch_break_is_not_working_time() {
        let c = cal();
        // Given Friday 11:00, when 4 working hours are added, then one hour is used before lunch
        // and three after it (13:30–16:30).
        assert_eq!(c.add(bj(2025, 3, 14, 11, 0), hours(4)), bj(2025, 3, 14, 16, 30));
        // Given 11:30, one working hour ends at 14:00, not 12:30.
        assert_eq!(c.add(bj(2025, 3, 14, 11, 30), hours(1)), bj(2025, 3, 14, 14, 0));
        // An amount that runs out exactly at 12:00 ends at 12:00, not at 13:30.
        assert_eq!(c.add(bj(2025, 3, 14, 9, 0), hours(3)), bj(2025, 3, 14, 12, 0));
        assert!(c.is_working_time(bj(2025, 3, 14, 11, 59)));
        assert!(!c.is_working_time(bj(2025, 3, 14, 12, 0)));
        assert!(!c.is_working_time(bj(2025, 3, 14, 13, 29)));
        assert!(c.is_working_time(bj(2025, 3, 14, 13, 30)));
        assert!(!c.is_working_time(bj(2025, 3, 14, 18, 0)));
    }

    #[test]
    fn a_start_during_lunch_counts_from_13_30() {
        let c = cal();
        // Given Wednesday 12 March 2025, 12:30 (lunch),
        let start = bj(2025, 3, 12, 12, 30);
        assert!(!c.is_working_time(start));
        // when 4 working hours are added, then they run 13:30–17:30;
        assert_eq!(c.add(start, hours(4)), bj(2025, 3, 12, 17, 30));
        // 5 working hours run over into Thursday: 4.5 h until 18:00, then 09:00–09:30.
        assert_eq!(c.add(start, hours(5)), bj(2025, 3, 13, 9, 30));
        assert_eq!(c.add(bj(2025, 3, 12, 12, 45), WorkingTime::Minutes(30)), bj(2025, 3, 12, 14, 0));
        assert_eq!(c.next_working_instant(start), bj(2025, 3, 12, 13, 30));
    }

    #[test]
    fn a_start_at_night_or_at_the_weekend_counts_from_the_next_working_morning() {
        let c = cal();
        // Given Tuesday 22:00 or Wednesday 03:00, 4 working hours end Wednesday 14:30 (3 h before
        // lunch, 1 h after).
        assert_eq!(c.add(bj(2025, 3, 11, 22, 0), hours(4)), bj(2025, 3, 12, 14, 30));
        assert_eq!(c.add(bj(2025, 3, 12, 3, 0), hours(4)), bj(2025, 3, 12, 14, 30));
        // Given Saturday 10:00, one working hour ends Monday 10:00.
        assert_eq!(c.add(bj(2025, 3, 15, 10, 0), hours(1)), bj(2025, 3, 17, 10, 0));
        // Given the evening, nothing is counted until the morning.
        assert_eq!(c.working_time_between(bj(2025, 3, 11, 18, 0), bj(2025, 3, 12, 9, 0)), Duration::zero());
    }

    #[test]
    fn seven_working_days_across_national_day_2025() {
        let c = cal();
        // Given Sunday 28 September 2025, a make-up working day before the 1–8 October break,
        assert!(c.is_working_day(date(2025, 9, 28)));
        assert!(c.is_working_day(date(2025, 10, 11)), "Saturday 11 October is a make-up day");
        assert!(!c.is_working_day(date(2025, 10, 8)), "Wednesday 8 October is a holiday");
        assert!(!c.is_working_day(date(2025, 10, 12)), "Sunday 12 October is an ordinary Sunday");
        // when 7 working days are added, the start day is not counted: Mon 29 Sep (1), Tue 30 Sep
        // (2), [1–8 Oct off], Thu 9 (3), Fri 10 (4), Sat 11 (5, make-up), [Sun 12 off], Mon 13 (6),
        // Tue 14 (7), so the deadline is Tuesday 14 October at 18:00.
        assert_eq!(c.add(bj(2025, 9, 28, 10, 0), WorkingTime::Days(7)), bj(2025, 10, 14, 18, 0));
        // Given Tuesday 30 September: Thu 9 Oct (1), Fri 10 (2), Sat 11 (3), Mon 13 (4),
        // Tue 14 (5), Wed 15 (6), Thu 16 (7) → Thursday 16 October, 18:00.
        assert_eq!(c.add(bj(2025, 9, 30, 15, 0), WorkingTime::Days(7)), bj(2025, 10, 16, 18, 0));
        // And 2 working hours from Tuesday 30 September 17:00: 1 h that day, 1 h on Thursday 9th.
        assert_eq!(c.add(bj(2025, 9, 30, 17, 0), hours(2)), bj(2025, 10, 9, 10, 0));
        assert_eq!(c.working_time_between(bj(2025, 9, 30, 17, 0), bj(2025, 10, 9, 10, 0)), Duration::hours(2));
    }

    #[test]
    fn spring_festival_2026_with_its_saturday_make_up_days() {
        let c = cal();
        assert!(c.is_working_day(date(2026, 2, 14)) && c.is_working_day(date(2026, 2, 28)));
        assert!((15..=23).all(|d| !c.is_working_day(date(2026, 2, d))));
        // Given Friday 13 February 2026, 17:00, 4 working hours: 1 h on Friday, 3 h on the
        // make-up Saturday 14th (09:00–12:00).
        assert_eq!(c.add(bj(2026, 2, 13, 17, 0), hours(4)), bj(2026, 2, 14, 12, 0));
        // Given Saturday 14th, 17:00, 2 working hours: 1 h that day, then 09:00–10:00 on Tuesday
        // 24th, the first working day after the 15–23 break.
        assert_eq!(c.add(bj(2026, 2, 14, 17, 0), hours(2)), bj(2026, 2, 24, 10, 0));
        // Given Friday 13th, 7 working days: Sat 14 (1), Tue 24 (2), Wed 25 (3), Thu 26 (4),
        // Fri 27 (5), Sat 28 (6, make-up), [Sun 1 Mar off], Mon 2 Mar (7).
        assert_eq!(c.add(bj(2026, 2, 13, 10, 0), WorkingTime::Days(7)), bj(2026, 3, 2, 18, 0));
        // Given Thursday 26th, 2 working days: Fri 27 (1), Sat 28 (2).
        assert_eq!(c.add(bj(2026, 2, 26, 10, 0), WorkingTime::Days(2)), bj(2026, 2, 28, 18, 0));
    }

    #[test]
    fn working_days_never_count_the_start_day() {
        let c = cal();
        // Given Monday 17 March 2025 before opening, after closing, or at noon, then Days(1) is
        // Tuesday's close of business;
        for h in [8, 12, 23] {
            assert_eq!(c.add(bj(2025, 3, 17, h, 0), WorkingTime::Days(1)), bj(2025, 3, 18, 18, 0), "from {h}:00");
        }
        // given Saturday, it is Monday's close of business;
        assert_eq!(c.add(bj(2025, 3, 15, 10, 0), WorkingTime::Days(1)), bj(2025, 3, 17, 18, 0));
        // the local date decides: 23:30 UTC on Sunday is already Monday 07:30 in Beijing.
        let sunday_utc = Utc.with_ymd_and_hms(2025, 3, 16, 23, 30, 0).unwrap();
        assert_eq!(c.add(sunday_utc, WorkingTime::Days(1)), bj(2025, 3, 18, 18, 0));
        // Days(0), like any zero amount, is the first working instant at or after the start.
        assert_eq!(c.add(bj(2025, 3, 15, 10, 0), WorkingTime::Days(0)), bj(2025, 3, 17, 9, 0));
        assert_eq!(c.add(bj(2025, 3, 17, 10, 0), WorkingTime::Hours(0)), bj(2025, 3, 17, 10, 0));
        // Thirty working days from Friday 26 September 2025 (across National Day): Sun 28 Sep
        // (make-up), 29, 30 Sep (3); 9, 10, 11 (make-up), 13–17, 20–24, 27–31 Oct (21);
        // 3–7 Nov (26), 10–13 Nov (30) → Thursday 13 November.
        assert_eq!(c.add(bj(2025, 9, 26, 10, 0), WorkingTime::Days(30)), bj(2025, 11, 13, 18, 0));
    }

    #[test]
    fn custom_continuous_hours_and_time_zone() {
        // Given a calendar with 08:30–17:30 and no lunch break,
        let c = WorkingCalendar::builder().working_hours([("08:30", "17:30")]).build().unwrap();
        assert_eq!(c.working_day_length(), Duration::hours(9));
        // 4 working hours from Friday 16:00 end Monday 11:00 (1.5 h + 2.5 h), and lunch counts.
        assert_eq!(c.add(bj(2025, 3, 14, 16, 0), hours(4)), bj(2025, 3, 17, 11, 0));
        assert_eq!(c.add(bj(2025, 3, 14, 11, 0), hours(2)), bj(2025, 3, 14, 13, 0));
        assert_eq!(c.add(bj(2025, 3, 14, 11, 0), WorkingTime::Days(1)), bj(2025, 3, 17, 17, 30));
        // Given a UTC calendar, the same wall times are 8 hours later as instants.
        let utc = WorkingCalendar::builder().offset(FixedOffset::east_opt(0).unwrap()).build().unwrap();
        let start = Utc.with_ymd_and_hms(2025, 3, 14, 16, 0, 0).unwrap();
        assert_eq!(utc.add(start, hours(4)), Utc.with_ymd_and_hms(2025, 3, 17, 11, 0, 0).unwrap());
        // And a round-the-clock calendar adds plain hours on working days.
        let all_day = WorkingCalendar::builder().working_hours([("00:00", "24:00")]).build().unwrap();
        assert_eq!(all_day.add(bj(2025, 3, 13, 10, 0), hours(30)), bj(2025, 3, 14, 16, 0));
        assert_eq!(all_day.add(bj(2025, 3, 14, 10, 0), hours(30)), bj(2025, 3, 17, 16, 0));
    }

    #[test]
    fn deadlines_follow_the_kind_of_sla() {
        let c = cal();
        let start = bj(2025, 3, 14, 16, 0);
        // A calendar SLA runs through the night; a working one does not.
        assert_eq!(c.deadline(start, &Sla::Calendar(Duration::hours(4))), bj(2025, 3, 14, 20, 0));
        assert_eq!(c.deadline(start, &Sla::Working(hours(4))), bj(2025, 3, 17, 11, 0));
        assert_eq!(c.deadline(start, &Sla::Calendar(Duration::MAX)), DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn slas_read_as_a_manual_states_them() {
        let cases = [
            (Sla::Working(hours(2)), "2 working hours", Duration::hours(2)),
            (Sla::Working(hours(1)), "1 working hour", Duration::hours(1)),
            (Sla::Working(WorkingTime::Minutes(30)), "30 working minutes", Duration::minutes(30)),
            (Sla::Working(WorkingTime::Days(5)), "5 working days", Duration::days(5)),
            (Sla::Working(WorkingTime::Days(1)), "1 working day", Duration::days(1)),
            (Sla::Calendar(Duration::minutes(15)), "15 min", Duration::minutes(15)),
            (Sla::Calendar(Duration::hours(4)), "4 hours", Duration::hours(4)),
            (Sla::Calendar(Duration::hours(24)), "1 day", Duration::days(1)),
            (Sla::Calendar(Duration::minutes(90)), "90 min", Duration::minutes(90)),
            (Sla::Calendar(Duration::seconds(45)), "45 s", Duration::seconds(45)),
            (Sla::Calendar(-Duration::hours(1)), "-1 hour", -Duration::hours(1)),
        ];
        for (sla, text, nominal) in cases {
            assert_eq!(sla.to_string(), text);
            assert_eq!(sla.nominal(), nominal, "{text}");
        }
        assert!(Sla::Working(hours(1)).is_positive() && Sla::Calendar(Duration::seconds(1)).is_positive());
        assert!(!Sla::Working(WorkingTime::Days(0)).is_positive());
        assert!(!Sla::Calendar(Duration::zero()).is_positive() && !Sla::Calendar(-Duration::hours(1)).is_positive());
    }

    #[test]
    fn builder_refuses_bad_calendars() {
        let b = WorkingCalendar::builder;
        assert_eq!(
            b().working_hours([("09:00", "12:00"), ("11:00", "14:00")]).build().unwrap_err(),
            CalendarError::OverlappingIntervals {
                first: WorkingInterval::parse("09:00", "12:00").unwrap(),
                second: WorkingInterval::parse("11:00", "14:00").unwrap(),
            }
        );
        // Touching intervals are fine, in any order.
        assert!(b().working_hours([("13:00", "18:00"), ("09:00", "13:00")]).build().is_ok());
        assert!(matches!(b().working_hours([("12:00", "09:00")]).build(), Err(CalendarError::EmptyInterval { .. })));
        assert!(matches!(b().working_hours([("09:00", "09:00")]).build(), Err(CalendarError::EmptyInterval { .. })));
        for bad in ["25:00", "24:30", "09:60", "9:00", "09h00", "-01:00", "09:00:60", ""] {
            assert_eq!(
                b().working_hours([("08:00", bad)]).build().unwrap_err(),
                CalendarError::InvalidTimeOfDay(bad.to_string()),
                "{bad:?}"
            );
        }
        assert_eq!(b().working_hours(Vec::<(&str, &str)>::new()).build().unwrap_err(), CalendarError::NoWorkingHours);
        let every_day =
            [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];
        assert_eq!(b().weekends(every_day).build().unwrap_err(), CalendarError::NoWorkingDays);
        assert_eq!(
            b().holiday_range(date(2025, 10, 1), date(2025, 10, 8)).make_up_day(date(2025, 10, 4)).build().unwrap_err(),
            CalendarError::HolidayAndMakeUpDay(date(2025, 10, 4))
        );
        assert_eq!(
            b().holiday_range(date(2025, 10, 8), date(2025, 10, 1)).build().unwrap_err(),
            CalendarError::InvertedHolidayRange { from: date(2025, 10, 8), to: date(2025, 10, 1) }
        );
        assert!(matches!(
            b().holiday_range(date(2025, 10, 1), date(2052, 10, 1)).build(),
            Err(CalendarError::HolidayRangeTooLong { .. })
        ));
    }

    #[test]
    fn a_year_without_data_has_weekends_only() {
        let c = cal();
        // Given the shipped calendar, 2027 and 2030 are not covered,
        assert!(c.has_holiday_data(2025) && c.has_holiday_data(2026));
        assert!(!c.has_holiday_data(2027) && !c.has_holiday_data(2030));
        // so Tuesday 1 October 2030 is an ordinary working day and weekends are still off;
        assert!(c.is_working_day(date(2030, 10, 1)));
        assert!(!c.is_working_day(date(2030, 10, 5)));
        // 7 working days from Monday 30 September 2030 end Wednesday 9 October.
        assert_eq!(c.add(bj(2030, 9, 30, 10, 0), WorkingTime::Days(7)), bj(2030, 10, 9, 18, 0));
        assert_eq!(c.add(bj(2030, 10, 4, 16, 0), hours(4)), bj(2030, 10, 7, 11, 0));
        // Far in the future and at the edges of time nothing panics; results saturate.
        assert_eq!(c.add(bj(9000, 1, 3, 10, 0), WorkingTime::Days(5)), bj(9000, 1, 10, 18, 0));
        assert_eq!(c.add(bj(2025, 1, 1, 0, 0), WorkingTime::Days(u32::MAX)), DateTime::<Utc>::MAX_UTC);
        assert_eq!(c.add(bj(2025, 1, 1, 0, 0), WorkingTime::Hours(u32::MAX)), DateTime::<Utc>::MAX_UTC);
        assert!(c.add(bj(2025, 1, 1, 0, 0), WorkingTime::Minutes(u32::MAX)) > bj(20_000, 1, 1, 0, 0));
        for edge in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
            let _ = c.add(edge, hours(4));
            let _ = c.add(edge, WorkingTime::Days(7));
            let _ = c.is_working_time(edge);
            let _ = c.working_time_between(DateTime::<Utc>::MIN_UTC, edge);
        }
    }

    #[test]
    fn the_shipped_schedules_match_the_notices() {
        let schedule = HolidaySchedule::china_mainland();
        assert_eq!(schedule.years().map(|(y, _)| y).collect::<Vec<_>>(), [2025, 2026]);
        // "共N天" of each period, in order, and every make-up day is a weekend day.
        let expected_days = [(2025, vec![1, 8, 3, 5, 3, 8]), (2026, vec![3, 9, 3, 5, 3, 3, 7])];
        for (year, days) in expected_days {
            let periods = &schedule.year(year).unwrap().periods;
            let got: Vec<i64> = periods.iter().map(|p| (p.to - p.from).num_days() + 1).collect();
            assert_eq!(got, days, "{year}");
            for p in periods {
                assert!(p.make_up.iter().all(|d| d.weekday().num_days_from_monday() >= 5), "{year} {}", p.name);
            }
        }
        let c = cal();
        let make_up: Vec<NaiveDate> = c.make_up_days.iter().copied().collect();
        let want = [
            date(2025, 1, 26),
            date(2025, 2, 8),
            date(2025, 4, 27),
            date(2025, 9, 28),
            date(2025, 10, 11),
            date(2026, 1, 4),
            date(2026, 2, 14),
            date(2026, 2, 28),
            date(2026, 5, 9),
            date(2026, 9, 20),
            date(2026, 10, 10),
        ];
        assert_eq!(make_up, want);
        assert_eq!(c.holidays.len(), 28 + 33);
    }

    #[test]
    fn holiday_schedules_from_toml_are_validated() {
        let ok = "[years.2027]\nperiods = [{ name = \"x\", from = 2027-01-01 }]\n";
        let s = HolidaySchedule::from_toml(ok).unwrap();
        assert_eq!(s.year(2027).unwrap().periods[0].to, date(2027, 1, 1));
        let bad = [
            "[years.next]\nperiods = []\n",
            "[years.2027]\nperiods = [{ name = \"x\", from = 2027-01-01T09:00:00 }]\n",
            "[years.2027]\nperiods = [{ name = \"x\", from = \"2027-01-01\" }]\n",
            "[years.2027]\nperiods = [{ name = \"x\", from = 2027-01-01, until = 2027-01-02 }]\n",
        ];
        for text in bad {
            assert!(matches!(HolidaySchedule::from_toml(text), Err(CalendarError::Schedule(_))), "{text}");
        }
        let both =
            "[years.2027]\nperiods = [{ name = \"x\", from = 2027-01-01, to = 2027-01-03, make_up = [2027-01-02] }]\n";
        assert_eq!(HolidaySchedule::from_toml(both).unwrap_err(), CalendarError::HolidayAndMakeUpDay(date(2027, 1, 2)));
    }

    #[test]
    fn working_time_amounts_read_and_write_as_short_strings() {
        for (text, amount) in [("4h", hours(4)), ("30m", WorkingTime::Minutes(30)), ("7d", WorkingTime::Days(7))] {
            assert_eq!(text.parse::<WorkingTime>().unwrap(), amount);
            assert_eq!(amount.to_string(), text);
        }
        for bad in ["", "h", "4", "4x", "-4h", "+4h", "4 h", " 4h", "4.5h", "99999999999h", "4時"] {
            assert_eq!(bad.parse::<WorkingTime>().unwrap_err(), CalendarError::InvalidWorkingTime(bad.to_string()));
        }
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Row {
            sla: WorkingTime,
        }
        let text = toml::to_string(&Row { sla: WorkingTime::Days(7) }).unwrap();
        assert_eq!(text.trim(), "sla = \"7d\"");
        assert_eq!(toml::from_str::<Row>(&text).unwrap(), Row { sla: WorkingTime::Days(7) });
        assert!(toml::from_str::<Row>("sla = \"7w\"").is_err());
    }

    /// Instants between December 2024 and March 2027: both shipped years and one without data.
    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        let lo = bj(2024, 12, 1, 0, 0).timestamp();
        let hi = bj(2027, 3, 1, 0, 0).timestamp();
        (lo..hi).prop_map(|secs| DateTime::from_timestamp(secs, 0).unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn between_measures_what_add_added(start in instant(), minutes in 0u32..60_000) {
            let c = cal();
            let end = c.add(start, WorkingTime::Minutes(minutes));
            prop_assert!(end >= start);
            prop_assert_eq!(c.working_time_between(start, end), Duration::minutes(i64::from(minutes)));
        }

        #[test]
        fn add_undoes_between_up_to_the_last_working_instant(a in instant(), b in instant()) {
            let c = cal();
            let (from, to) = if a <= b { (a, b) } else { (b, a) };
            let back = c.add_duration(from, c.working_time_between(from, to));
            // `back` is `to` itself when `to` is working time, otherwise the end of the last
            // working stretch before it: no working time lies between the two.
            prop_assert!(back <= to.max(c.next_working_instant(from)));
            prop_assert_eq!(c.working_time_between(back, to), Duration::zero());
            if c.is_working_time(to) {
                prop_assert_eq!(back, to);
            }
        }

        #[test]
        fn between_is_additive(a in instant(), b in instant(), m in instant()) {
            let c = cal();
            let (from, to) = if a <= b { (a, b) } else { (b, a) };
            let mid = m.clamp(from, to);
            prop_assert_eq!(
                c.working_time_between(from, mid) + c.working_time_between(mid, to),
                c.working_time_between(from, to)
            );
        }

        #[test]
        fn days_end_at_close_of_business_on_the_nth_working_day_after(start in instant(), n in 1u32..40) {
            let c = cal();
            let deadline = c.add(start, WorkingTime::Days(n));
            let local = deadline.with_timezone(&c.offset());
            prop_assert_eq!(local.time(), NaiveTime::from_hms_opt(18, 0, 0).unwrap());
            let first = start.with_timezone(&c.offset()).date_naive().succ_opt().unwrap();
            let counted = first.iter_days().take_while(|d| *d <= local.date_naive()).filter(|d| c.is_working_day(*d)).count();
            prop_assert_eq!(counted, n as usize);
            prop_assert!(c.is_working_day(local.date_naive()));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// Checks the stepping arithmetic against counting minute by minute.
        #[test]
        fn between_agrees_with_counting_minutes(start in instant(), minutes in 0i64..(4 * 24 * 60)) {
            let c = cal();
            let start = DateTime::from_timestamp(start.timestamp() / 60 * 60, 0).unwrap();
            let counted = (0..minutes).filter(|&i| c.is_working_time(start + Duration::minutes(i))).count();
            prop_assert_eq!(c.working_time_between(start, start + Duration::minutes(minutes)), Duration::minutes(counted as i64));
        }
    }
}
