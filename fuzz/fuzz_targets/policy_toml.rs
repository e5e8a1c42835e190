//! The city's policy files as an operator (or a typo) writes them: the jurisdiction tree with
//! its grid polygons, the catalog, the holiday schedule, and an import mapping. The first byte
//! picks the file, the rest is its text.
//!
//! Invariants: nothing panics; a jurisdiction or catalog that parses writes TOML that parses back
//! to the same value; a schedule that parses builds a calendar on which deadlines are counted.
#![no_main]

use gridloop_analytics::import::Importer;
use gridloop_domain::calendar::{HolidaySchedule, WorkingCalendar};
use gridloop_domain::catalog::Catalog;
use gridloop_domain::jurisdiction::Jurisdiction;
use gridloop_domain::level::Level;
use gridloop_domain::policy::CityPolicy;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn default_city() -> &'static CityPolicy {
    static CITY: OnceLock<CityPolicy> = OnceLock::new();
    CITY.get_or_init(CityPolicy::default_city)
}

fn jurisdiction(text: &str) {
    let Ok(parsed) = Jurisdiction::from_toml(text) else { return };
    let written = parsed.to_toml();
    let again = Jurisdiction::from_toml(&written).expect("a jurisdiction's own TOML parses");
    assert_eq!(again.district(), parsed.district());
}

fn catalog(text: &str) {
    let Ok(parsed) = Catalog::from_toml(text) else { return };
    let written = parsed.to_toml();
    assert_eq!(Catalog::from_toml(&written).expect("a catalog's own TOML parses"), parsed);
}

fn holidays(text: &str) {
    let Ok(schedule) = HolidaySchedule::from_toml(text) else { return };
    let Ok(calendar) = WorkingCalendar::builder().schedule(&schedule).build() else { return };
    let city = default_city();
    let policy = CityPolicy::with_calendar(city.catalog.clone(), city.jurisdiction.clone(), calendar);
    for (year, _) in schedule.years() {
        let Some(start) = chrono::NaiveDate::from_ymd_opt(year, 1, 1).and_then(|d| d.and_hms_opt(9, 0, 0)) else {
            continue;
        };
        let start = start.and_utc();
        for category in policy.catalog.categories().iter().take(3) {
            let deadline = policy.calendar.deadline(start, &policy.resolve_sla(&category.code, Level::Grid));
            assert!(deadline >= start, "a deadline is never before its start");
        }
    }
}

fn mapping(text: &str) {
    let _ = Importer::from_toml(text, default_city());
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    match pick % 4 {
        0 => jurisdiction(text),
        1 => catalog(text),
        2 => holidays(text),
        _ => mapping(text),
    }
});
