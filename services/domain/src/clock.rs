//! The city's clock: an IANA time zone, daylight saving included. Local dates (KPI periods,
//! `--from`/`--to` days, working days) and local times (working hours, deadlines shown to people)
//! are read in it; instants stay UTC everywhere else.
//!
//! A local time can be missing (skipped when clocks go forward) or happen twice (when they go
//! back). [`instant_of`] takes the first of two, and reads a skipped time with the offset in force
//! before the jump, which lands just after it (02:30 on a spring-forward night in New York is
//! 03:30 daylight time), so every local time has exactly one instant and later local times never
//! have earlier instants.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc};
pub use chrono_tz::Tz;

/// Mainland China's zone, the default city's (no daylight saving since 1991).
pub const DEFAULT_ZONE: Tz = chrono_tz::Asia::Shanghai;

/// The zone's IANA name is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("time zone {0:?} is not an IANA zone name such as \"Asia/Shanghai\" or \"America/New_York\"")]
pub struct UnknownZone(pub String);

/// The zone named `name` (an IANA name, e.g. `Asia/Shanghai`; `UTC` too).
pub fn parse_zone(name: &str) -> Result<Tz, UnknownZone> {
    name.trim().parse::<Tz>().map_err(|_| UnknownZone(name.to_string()))
}

/// The local date of an instant.
pub fn local_date(at: DateTime<Utc>, zone: Tz) -> NaiveDate {
    at.with_timezone(&zone).date_naive()
}

/// The instant of a local date and time (see the module docs for missing and repeated times).
/// `None` only outside chrono's range.
pub fn instant_of(zone: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => Some(at.with_timezone(&Utc)),
        LocalResult::None => {
            // Skipped: the offset in force a day earlier is the one before the jump.
            let before = zone.offset_from_utc_datetime(&local.checked_sub_signed(Duration::days(1))?).fix();
            let naive_utc = local.checked_sub_signed(Duration::seconds(i64::from(before.local_minus_utc())))?;
            Some(Utc.from_utc_datetime(&naive_utc))
        }
    }
}

/// The first instant of a local date: its midnight, or the end of the jump when midnight is
/// skipped.
pub fn start_of_day(date: NaiveDate, zone: Tz) -> Option<DateTime<Utc>> {
    instant_of(zone, date.and_time(NaiveTime::MIN))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_york() -> Tz {
        parse_zone("America/New_York").unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_spring_forward_day_has_23_hours_and_a_fall_back_day_25() {
        let zone = new_york();
        let length = |d: NaiveDate| start_of_day(d.succ_opt().unwrap(), zone).unwrap() - start_of_day(d, zone).unwrap();
        assert_eq!(length(date(2026, 3, 8)), Duration::hours(23));
        assert_eq!(length(date(2026, 11, 1)), Duration::hours(25));
        assert_eq!(length(date(2026, 6, 1)), Duration::hours(24));
        let shanghai = DEFAULT_ZONE;
        assert_eq!(start_of_day(date(2026, 3, 8), shanghai).unwrap().to_rfc3339(), "2026-03-07T16:00:00+00:00");
    }

    #[test]
    fn skipped_times_land_after_the_jump_and_repeated_times_take_the_first() {
        let zone = new_york();
        let skipped = date(2026, 3, 8).and_hms_opt(2, 30, 0).unwrap();
        assert_eq!(instant_of(zone, skipped).unwrap().to_rfc3339(), "2026-03-08T07:30:00+00:00", "03:30 EDT");
        let twice = date(2026, 11, 1).and_hms_opt(1, 30, 0).unwrap();
        assert_eq!(instant_of(zone, twice).unwrap().to_rfc3339(), "2026-11-01T05:30:00+00:00", "01:30 EDT");
    }

    #[test]
    fn local_dates_follow_daylight_saving() {
        let zone = new_york();
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        // 04:30 UTC is 23:30 the day before in winter (UTC-5) but 00:30 in summer (UTC-4).
        assert_eq!(local_date(at("2026-01-15T04:30:00Z"), zone), date(2026, 1, 14));
        assert_eq!(local_date(at("2026-07-15T04:30:00Z"), zone), date(2026, 7, 15));
    }

    #[test]
    fn unknown_names_are_refused_with_the_name() {
        assert_eq!(parse_zone("Asia/Shanghai"), Ok(DEFAULT_ZONE));
        assert_eq!(parse_zone("UTC"), Ok(chrono_tz::UTC));
        let error = parse_zone("+08:00").unwrap_err();
        assert!(error.to_string().contains("\"+08:00\""), "{error}");
    }
}
