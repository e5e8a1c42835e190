//! "About to be overdue" (即将超时): an open deadline with less than two *working* hours left on
//! the calendar the SLAs run on. A deadline set in working time ("4 working hours") is reached
//! through working time only, so the wall clock misjudges it: on Friday at 17:00 a deadline on
//! Monday at 10:00 is two working hours away, not 65 hours, and one at 09:30 on Monday is
//! already closer than two.

use crate::calendar::WorkingCalendar;
use crate::{Duration, Timestamp};

/// How little working time left makes an open deadline about to be overdue: two hours.
pub fn window() -> Duration {
    Duration::hours(2)
}

/// The first deadline at or after `now` that is *not* about to be overdue: every deadline in
/// `[now, cutoff)` has less than `window` of working time left. Working time only grows with
/// the deadline, so one instant cuts the deadlines in two, and a query can compare against it.
pub fn cutoff(calendar: &WorkingCalendar, now: Timestamp, window: Duration) -> Timestamp {
    calendar.add_duration(now, window)
}

/// Whether a deadline not yet passed at `now` has less than `window` of working time left.
pub fn is_due_soon(calendar: &WorkingCalendar, now: Timestamp, deadline: Timestamp, window: Duration) -> bool {
    now <= deadline && deadline < cutoff(calendar, now, window)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, TimeZone, Utc};

    /// An instant in Beijing time.
    fn bj(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Timestamp {
        FixedOffset::east_opt(8 * 3600).unwrap().with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap().with_timezone(&Utc)
    }

    fn calendar() -> WorkingCalendar {
        WorkingCalendar::china_mainland()
    }

    #[test]
    fn on_friday_afternoon_the_window_runs_into_monday_morning() {
        // 2026-12-04 is a Friday: one working hour left that day (17:00–18:00), one on Monday.
        let now = bj(2026, 12, 4, 17, 0);
        assert_eq!(cutoff(&calendar(), now, window()), bj(2026, 12, 7, 10, 0));
        assert!(is_due_soon(&calendar(), now, bj(2026, 12, 7, 9, 30), window()), "65 wall-clock hours, 1.5 working");
        assert!(!is_due_soon(&calendar(), now, bj(2026, 12, 7, 10, 0), window()), "exactly two working hours left");
        assert!(is_due_soon(&calendar(), now, bj(2026, 12, 5, 12, 0), window()), "Saturday: one working hour left");
    }

    #[test]
    fn the_lunch_break_does_not_count() {
        // 11:00 + 2 working hours: 11:00–12:00, then 13:30–14:30.
        let now = bj(2026, 12, 2, 11, 0);
        assert_eq!(cutoff(&calendar(), now, window()), bj(2026, 12, 2, 14, 30));
        assert!(is_due_soon(&calendar(), now, bj(2026, 12, 2, 14, 0), window()), "3 wall-clock hours away");
    }

    #[test]
    fn a_public_holiday_does_not_count() {
        // The National Day holiday runs 2026-10-01 to 10-07: from 17:00 on 30 September the second
        // working hour is on 8 October.
        let now = bj(2026, 9, 30, 17, 0);
        assert_eq!(cutoff(&calendar(), now, window()), bj(2026, 10, 8, 10, 0));
        assert!(is_due_soon(&calendar(), now, bj(2026, 10, 7, 23, 0), window()));
    }

    #[test]
    fn a_passed_deadline_is_overdue_not_due_soon() {
        let now = bj(2026, 12, 2, 10, 0);
        assert!(!is_due_soon(&calendar(), now, bj(2026, 12, 2, 9, 59), window()));
        assert!(is_due_soon(&calendar(), now, now, window()), "due this instant: not yet passed");
        assert!(!is_due_soon(&calendar(), now, bj(2026, 12, 2, 13, 30), window()), "10:00–12:00 is two hours");
    }
}
