//! Working hours: the intervals of local time, the same on every working day, in which working
//! time runs.

use super::{CalendarError, NANOS_PER_SEC};
use chrono::Duration;
use std::fmt;

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

    pub(super) fn start_ns(self) -> i128 {
        i128::from(self.start) * NANOS_PER_SEC
    }

    pub(super) fn end_ns(self) -> i128 {
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
