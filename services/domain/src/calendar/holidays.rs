//! Published holiday schedules (the State Council's yearly notices): the public holidays and the
//! make-up working days (调休) of each year, read from TOML.

use super::{CalendarError, CHINA_MAINLAND_HOLIDAYS, MAX_HOLIDAY_RANGE_DAYS};
use chrono::NaiveDate;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

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

pub(super) fn check_range(from: NaiveDate, to: NaiveDate) -> Result<(), CalendarError> {
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
