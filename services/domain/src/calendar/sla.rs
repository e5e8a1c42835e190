//! Amounts of working time and SLAs: what a responsibility list says ("2 working hours", "15 min")
//! and how it reads and prints.

use super::CalendarError;
use chrono::Duration;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

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
