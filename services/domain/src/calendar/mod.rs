//! The working-time calendar: working hours, weekends, public holidays and the make-up working
//! days (调休) of mainland China, and SLA arithmetic on top of them.
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
//! - Local time is the city's IANA zone (default Asia/Shanghai, which has no DST). Where daylight
//!   saving skips or repeats a local time, it maps to one instant as [`crate::clock::instant_of`]
//!   says; working hours are local clock times, so a working day keeps its length.
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

mod holidays;
mod hours;
mod sla;
#[cfg(test)]
mod tests;

pub use holidays::{HolidayPeriod, HolidaySchedule, YearSchedule};
pub use hours::WorkingInterval;
pub use sla::{Sla, WorkingTime};

use holidays::check_range;
use std::collections::BTreeSet;

use crate::clock::{self, Tz};
use chrono::{DateTime, Datelike, Days, Duration, NaiveDate, NaiveTime, Offset, TimeZone, Timelike, Utc, Weekday};

const NANOS_PER_SEC: i128 = 1_000_000_000;
const SECS_PER_DAY: u32 = 86_400;
const NANOS_PER_DAY: i128 = SECS_PER_DAY as i128 * NANOS_PER_SEC;

/// A holiday range longer than this is almost certainly a typo (2025 → 2052).
const MAX_HOLIDAY_RANGE_DAYS: i64 = 366;

/// Default working hours of Chinese government offices.
const DEFAULT_HOURS: [(&str, &str); 2] = [("09:00", "12:00"), ("13:30", "18:00")];

/// The shipped State Council schedules.
const CHINA_MAINLAND_HOLIDAYS: &str = include_str!("../../data/china_mainland_holidays.toml");

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
// The calendar
// ---------------------------------------------------------------------------------------------

/// Working hours, weekends, holidays and make-up days in one local time zone. Build one with
/// [`WorkingCalendar::builder`] or take [`WorkingCalendar::china_mainland`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingCalendar {
    zone: Tz,
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

/// Builds a [`WorkingCalendar`]. Starts from Asia/Shanghai, 09:00–12:00 and 13:30–18:00, Saturday and
/// Sunday off and no holidays; everything is validated by [`build`](Self::build).
#[derive(Debug, Clone)]
pub struct WorkingCalendarBuilder {
    zone: Tz,
    hours: Vec<(String, String)>,
    weekends: Vec<Weekday>,
    holiday_ranges: Vec<(NaiveDate, NaiveDate)>,
    make_up_days: Vec<NaiveDate>,
    known_years: BTreeSet<i32>,
}

impl Default for WorkingCalendarBuilder {
    fn default() -> Self {
        WorkingCalendarBuilder {
            zone: clock::DEFAULT_ZONE,
            hours: DEFAULT_HOURS.iter().map(|&(s, e)| (s.to_string(), e.to_string())).collect(),
            weekends: vec![Weekday::Sat, Weekday::Sun],
            holiday_ranges: Vec::new(),
            make_up_days: Vec::new(),
            known_years: BTreeSet::new(),
        }
    }
}

impl WorkingCalendarBuilder {
    /// The city's time zone.
    pub fn zone(mut self, zone: Tz) -> Self {
        self.zone = zone;
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
        if let Some(pair) = intervals.windows(2).find(|pair| pair[1].start_secs() < pair[0].end_secs()) {
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
            zone: self.zone,
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
    /// Mainland China: Asia/Shanghai, 09:00–12:00 and 13:30–18:00, Saturday and Sunday off, and the
    /// shipped State Council schedules (2025, 2026).
    pub fn china_mainland() -> Self {
        Self::builder().schedule(&HolidaySchedule::china_mainland()).build().expect("the built-in calendar is valid")
    }

    pub fn builder() -> WorkingCalendarBuilder {
        WorkingCalendarBuilder::default()
    }

    /// The city's time zone: local dates and times are read in it.
    pub fn zone(&self) -> Tz {
        self.zone
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
        // Checked, unlike `with_timezone`, at the ends of chrono's range.
        let offset = self.zone.offset_from_utc_datetime(&at.naive_utc()).fix();
        let local = at.naive_utc().checked_add_signed(Duration::seconds(i64::from(offset.local_minus_utc())))?;
        Some((local.date(), nanos_of_day(local.time())))
    }

    /// The instant at `tod` nanoseconds (0..=24h) after local midnight of `date`.
    fn utc(&self, date: NaiveDate, tod: i128) -> Option<DateTime<Utc>> {
        let secs = i64::try_from(tod / NANOS_PER_SEC).ok()?;
        let nanos = i64::try_from(tod % NANOS_PER_SEC).ok()?;
        let local =
            date.and_time(NaiveTime::MIN).checked_add_signed(Duration::seconds(secs) + Duration::nanoseconds(nanos))?;
        clock::instant_of(self.zone, local)
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
