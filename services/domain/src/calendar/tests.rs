use super::*;
use chrono::FixedOffset;
use serde::{Deserialize, Serialize};

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
    let utc = WorkingCalendar::builder().zone(chrono_tz::UTC).build().unwrap();
    let start = Utc.with_ymd_and_hms(2025, 3, 14, 16, 0, 0).unwrap();
    assert_eq!(utc.add(start, hours(4)), Utc.with_ymd_and_hms(2025, 3, 17, 11, 0, 0).unwrap());
    // And a round-the-clock calendar adds plain hours on working days.
    let all_day = WorkingCalendar::builder().working_hours([("00:00", "24:00")]).build().unwrap();
    assert_eq!(all_day.add(bj(2025, 3, 13, 10, 0), hours(30)), bj(2025, 3, 14, 16, 0));
    assert_eq!(all_day.add(bj(2025, 3, 14, 10, 0), hours(30)), bj(2025, 3, 17, 16, 0));
}

#[test]
fn working_hours_are_local_clock_times_across_daylight_saving() {
    // Given New York's calendar (no holiday data, so weekdays only), whose clocks go forward on
    // Sunday 2026-03-08,
    let ny = crate::clock::parse_zone("America/New_York").unwrap();
    let c = WorkingCalendar::builder().zone(ny).build().unwrap();
    let local = |d: u32, h: u32, mi: u32| ny.with_ymd_and_hms(2026, 3, d, h, mi, 0).unwrap().with_timezone(&Utc);
    // 4 working hours from Friday 16:00 (EST) end Monday 11:00 (EDT): 2 h on Friday and 2 h on
    // Monday, local clock times, over a weekend one wall-clock hour short.
    assert_eq!(c.add(local(6, 16, 0), hours(4)), local(9, 11, 0));
    assert_eq!(local(9, 11, 0) - local(6, 16, 0), Duration::hours(66));
    // One working day from Friday is Monday's close of business at 18:00 local (22:00 UTC, not 23:00).
    assert_eq!(c.add(local(6, 10, 0), WorkingTime::Days(1)), Utc.with_ymd_and_hms(2026, 3, 9, 22, 0, 0).unwrap());
    assert_eq!(c.working_time_between(local(6, 16, 0), local(9, 11, 0)), Duration::hours(4));
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
    let every_day = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];
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
        let local = deadline.with_timezone(&c.zone());
        prop_assert_eq!(local.time(), NaiveTime::from_hms_opt(18, 0, 0).unwrap());
        let first = start.with_timezone(&c.zone()).date_naive().succ_opt().unwrap();
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
