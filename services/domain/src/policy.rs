//! The city's routing policy: the responsibility list (catalog) over the jurisdiction tree, with
//! deadlines counted on the city's working-time calendar (design §6).

use crate::calendar::{Sla, WorkingCalendar, WorkingTime};
use crate::case::RoutingPolicy;
use crate::catalog::Catalog;
use crate::jurisdiction::{AreaCode, Jurisdiction};
use crate::level::Level;
use crate::Timestamp;

/// Rule names recorded on `CaseDispatched`, so a replay knows why a case entered where it did.
pub const RULE_START_LEVEL: &str = "responsibility-list:start-level";
pub const RULE_URGENT_ENTRY: &str = "urgent-major:enter-at-street";

/// Accept and resolve SLA for a category missing from the catalog (cases are validated at
/// intake, so this only matters when a catalog shrinks under existing cases).
pub const FALLBACK_SLA: Sla = Sla::Working(WorkingTime::Days(1));
/// Feedback window for a case whose category is missing from the catalog.
pub const FALLBACK_FEEDBACK_SLA: Sla = Sla::Working(WorkingTime::Days(3));

pub struct CityPolicy {
    pub catalog: Catalog,
    pub jurisdiction: Jurisdiction,
    /// Working hours, weekends, holidays and make-up days: every working-time SLA is counted on
    /// it; wall-clock SLAs (emergencies) ignore it.
    pub calendar: WorkingCalendar,
}

impl CityPolicy {
    /// A city on mainland China's calendar ([`WorkingCalendar::china_mainland`]).
    pub fn new(catalog: Catalog, jurisdiction: Jurisdiction) -> Self {
        Self::with_calendar(catalog, jurisdiction, WorkingCalendar::china_mainland())
    }

    /// A city with its own working hours or holidays.
    pub fn with_calendar(catalog: Catalog, jurisdiction: Jurisdiction, calendar: WorkingCalendar) -> Self {
        Self { catalog, jurisdiction, calendar }
    }

    /// The default city shipped for `gridloop up`.
    pub fn default_city() -> Self {
        Self::new(Catalog::default_catalog(), Jurisdiction::default_city())
    }

    /// The SLA that sets the accept deadline of a `category_code` case (the same at every level),
    /// or [`FALLBACK_SLA`] for a category the catalog does not know.
    pub fn accept_sla(&self, category_code: &str) -> Sla {
        self.catalog.get(category_code).map_or(FALLBACK_SLA, |c| c.accept_sla)
    }

    /// The SLA that sets the resolve deadline at `level`, or [`FALLBACK_SLA`].
    pub fn resolve_sla(&self, category_code: &str, level: Level) -> Sla {
        self.catalog.get(category_code).map_or(FALLBACK_SLA, |c| *c.resolve_sla_at(level))
    }

    /// The SLA that sets the feedback deadline (办完即反), or [`FALLBACK_FEEDBACK_SLA`].
    pub fn feedback_sla(&self, category_code: &str) -> Sla {
        self.catalog.get(category_code).map_or(FALLBACK_FEEDBACK_SLA, |c| c.feedback_sla)
    }
}

impl RoutingPolicy for CityPolicy {
    fn entry_level(&self, category_code: &str, urgent: bool) -> Option<(Level, &'static str)> {
        let category = self.catalog.get(category_code)?;
        // 急难重大: urgent or major cases skip the lower levels and enter at the street.
        if urgent && category.start_level < Level::Street {
            Some((Level::Street, RULE_URGENT_ENTRY))
        } else {
            Some((category.start_level, RULE_START_LEVEL))
        }
    }

    fn unit_for(&self, code: &str, level: Level) -> Option<String> {
        let code: AreaCode = code.parse().ok()?;
        self.jurisdiction.unit_for(&code, level).map(|unit| unit.as_str().to_string())
    }

    fn is_unit_at(&self, unit: &str, level: Level) -> bool {
        unit.parse::<AreaCode>().is_ok_and(|code| code.level() == level && self.jurisdiction.contains_code(&code))
    }

    fn accept_deadline(&self, category_code: &str, _level: Level, from: Timestamp) -> Timestamp {
        self.calendar.deadline(from, &self.accept_sla(category_code))
    }

    fn resolve_deadline(&self, category_code: &str, level: Level, from: Timestamp) -> Timestamp {
        self.calendar.deadline(from, &self.resolve_sla(category_code, level))
    }

    fn feedback_deadline(&self, category_code: &str, from: Timestamp) -> Timestamp {
        self.calendar.deadline(from, &self.feedback_sla(category_code))
    }

    fn mediable(&self, category_code: &str) -> bool {
        self.catalog.get(category_code).is_some_and(|c| c.mediable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{decide, CaseCommand, CaseDetails, CaseEvent, Channel, Reporter, ReporterKind};
    use crate::ids::CaseId;
    use chrono::{Duration, FixedOffset, TimeZone, Utc};

    /// An instant given in Beijing time (UTC+8).
    fn bj(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Timestamp {
        FixedOffset::east_opt(8 * 3600).unwrap().with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap().with_timezone(&Utc)
    }

    /// A grid of the default city, and the `CaseDispatched` a report of `category` there gets at `now`.
    fn dispatch(policy: &CityPolicy, category: &str, now: Timestamp) -> (Level, Timestamp) {
        let grid = policy.jurisdiction.grids().next().expect("the default city has grids").code.as_str().to_string();
        let details = CaseDetails {
            category_code: category.to_string(),
            grid_code: grid,
            lat: 0.0,
            lon: 0.0,
            description: "test".into(),
            reporter: Reporter { kind: ReporterKind::Resident, id: "r1".into(), name: "r".into(), phone: "".into() },
            channel: Channel::ResidentApp,
            discovered_at: now,
            uploaded_at: now,
            urgent: false,
        };
        let open = CaseCommand::Open { case_id: CaseId(uuid::Uuid::from_u128(1)), details };
        let events = decide(&Default::default(), &open, policy, now).unwrap();
        match &events[..] {
            [CaseEvent::Opened { .. }, CaseEvent::Dispatched { to, .. }] => (to.level, to.deadline),
            other => panic!("unexpected events {other:?}"),
        }
    }

    #[test]
    fn a_grid_case_dispatched_friday_evening_must_be_accepted_by_monday_morning() {
        // Given the default city and env.debris (a grid matter, 2 working hours to accept),
        let policy = CityPolicy::default_city();
        assert_eq!(policy.accept_sla("env.debris").to_string(), "2 working hours");
        // when it is reported on Friday 14 March 2025 at 17:00 Beijing time,
        let (level, deadline) = dispatch(&policy, "env.debris", bj(2025, 3, 14, 17, 0));
        // then the grid has 17:00–18:00 on Friday and 09:00–10:00 on Monday: Monday 10:00.
        assert_eq!(level, Level::Grid);
        assert_eq!(deadline, bj(2025, 3, 17, 10, 0));
        // Once accepted at Monday 09:30, resolving takes 2 working days: Wednesday's close.
        let resolve = policy.resolve_deadline("env.debris", Level::Grid, bj(2025, 3, 17, 9, 30));
        assert_eq!(resolve, bj(2025, 3, 19, 18, 0));
    }

    #[test]
    fn working_time_deadlines_skip_the_national_day_break() {
        let policy = CityPolicy::default_city();
        // Dispatched Tuesday 30 September 2025 at 17:00, the eve of the 1–8 October break: one
        // working hour that day, the second on Thursday 9 October.
        assert_eq!(policy.accept_deadline("env.debris", Level::Grid, bj(2025, 9, 30, 17, 0)), bj(2025, 10, 9, 10, 0));
        // 2 working days to resolve from 30 September: 9 October (1), 10 October (2).
        assert_eq!(policy.resolve_deadline("env.debris", Level::Grid, bj(2025, 9, 30, 17, 0)), bj(2025, 10, 10, 18, 0));
        // 3 working days of feedback from Friday 10 October: Saturday 11th is a make-up working
        // day (调休), so Sat 11 (1), Mon 13 (2), Tue 14 (3).
        assert_eq!(policy.feedback_deadline("env.debris", bj(2025, 10, 10, 16, 0)), bj(2025, 10, 14, 18, 0));
    }

    #[test]
    fn emergencies_run_on_the_wall_clock() {
        let policy = CityPolicy::default_city();
        // A pipe burst reported on Friday at 17:00 before the National Day break: 15 minutes to
        // accept, 2 hours to resolve at the grid, 4 at the community, and a day of feedback, all
        // through the evening and the holiday.
        let friday = bj(2025, 9, 26, 17, 0);
        let (level, deadline) = dispatch(&policy, "emergency.pipe-burst", friday);
        assert_eq!((level, deadline), (Level::Community, friday + Duration::minutes(15)));
        let holiday = bj(2025, 10, 1, 23, 0);
        assert_eq!(policy.accept_deadline("emergency.pipe-burst", Level::Street, holiday), bj(2025, 10, 1, 23, 15));
        assert_eq!(policy.resolve_deadline("emergency.pipe-burst", Level::Community, holiday), bj(2025, 10, 2, 3, 0));
        assert_eq!(policy.feedback_deadline("emergency.pipe-burst", holiday), bj(2025, 10, 2, 23, 0));
    }

    #[test]
    fn a_city_calendar_and_the_fallback_for_an_unknown_category() {
        // Given a city working 08:30–17:30 with no lunch break,
        let calendar = WorkingCalendar::builder().working_hours([("08:30", "17:30")]).build().unwrap();
        let policy = CityPolicy::with_calendar(Catalog::default_catalog(), Jurisdiction::default_city(), calendar);
        // the 2 working hours from Friday 17:00 end Monday 10:00 there too (17:00–17:30, 08:30–10:00).
        assert_eq!(policy.accept_deadline("env.debris", Level::Grid, bj(2025, 3, 14, 17, 0)), bj(2025, 3, 17, 10, 0));
        // A category missing from the catalog gets the fallbacks, in working days.
        assert_eq!(policy.accept_sla("gone.category"), FALLBACK_SLA);
        assert_eq!(policy.feedback_sla(""), FALLBACK_FEEDBACK_SLA);
        assert_eq!(policy.feedback_deadline("", bj(2025, 3, 14, 17, 0)), bj(2025, 3, 19, 17, 30));
    }
}
