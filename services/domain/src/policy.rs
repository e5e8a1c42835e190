//! The city's routing policy: the responsibility list (catalog) over the jurisdiction tree, with
//! deadlines counted on the city's working-time calendar.

use crate::calendar::{Sla, WorkingCalendar, WorkingTime};
use crate::case::{RoutingPolicy, SummonedDepartment};
use crate::catalog::Catalog;
use crate::jurisdiction::{AreaCode, Department, Jurisdiction};
use crate::level::Level;
use crate::priority::CategoryPriority;
use crate::Timestamp;

/// Rule names recorded on `CaseDispatched`, so a replay knows why a case entered where it did.
pub const RULE_START_LEVEL: &str = "responsibility-list:start-level";
pub const RULE_URGENT_ENTRY: &str = "urgent-major:enter-at-street";

/// Accept and resolve SLA for a category missing from the catalog (cases are validated at
/// intake, so this only matters when a catalog shrinks under existing cases).
pub const FALLBACK_SLA: Sla = Sla::Working(WorkingTime::Days(1));
/// Feedback window for a case whose category is missing from the catalog.
pub const FALLBACK_FEEDBACK_SLA: Sla = Sla::Working(WorkingTime::Days(3));

/// What identifies the rules in force: a SHA-256 of each part of the policy. Recorded when it
/// changes (`PolicyConfigured`), so a replay knows which rules made each decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFingerprint {
    /// Of the jurisdiction file as [`Jurisdiction::to_toml`] writes it (tree, grids, units).
    pub jurisdiction: String,
    /// Of the responsibility list (categories, owners, priorities, SLAs).
    pub catalog: String,
    /// Of the working-time calendar (hours, weekends, holidays, make-up days).
    pub calendar: String,
}

fn sha256_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A responsibility list that does not fit the jurisdiction it is used with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The catalog names a department as the owner at `level`, but `unit` (at that level) has
    /// no department with that function code.
    #[error(
        "category {category} is owned by department {department} at {level} level, but {unit} has no such department"
    )]
    MissingDepartment { category: String, level: Level, unit: AreaCode, department: String },
}

pub struct CityPolicy {
    pub catalog: Catalog,
    pub jurisdiction: Jurisdiction,
    /// Working hours, weekends, holidays and make-up days: every working-time SLA is counted on
    /// it; wall-clock SLAs (emergencies) ignore it.
    pub calendar: WorkingCalendar,
}

impl CityPolicy {
    /// The policy's fingerprint. The catalog and calendar are hashed in their full `Debug` form,
    /// which names every field, so any change of a rule (or of how rules are represented) gives
    /// a new fingerprint.
    pub fn fingerprint(&self) -> PolicyFingerprint {
        PolicyFingerprint {
            jurisdiction: sha256_hex(&self.jurisdiction.to_toml()),
            catalog: sha256_hex(&format!("{:?}{:?}", self.catalog.classes(), self.catalog.categories())),
            calendar: sha256_hex(&format!("{:?}", self.calendar)),
        }
    }

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

    /// Checks that every department the responsibility list names exists in every unit of its
    /// level, so dispatch never records an owner that is not there. Run it when a city loads its
    /// own jurisdiction file.
    pub fn check_departments(&self) -> Result<(), PolicyError> {
        for category in self.catalog.categories() {
            for level in Level::ALL {
                let Some(department) = category.department_at(level) else { continue };
                if let Some(unit) = self
                    .jurisdiction
                    .units_at(level)
                    .find(|unit| self.jurisdiction.department(unit, department).is_none())
                {
                    return Err(PolicyError::MissingDepartment {
                        category: category.code.clone(),
                        level,
                        unit: unit.clone(),
                        department: department.to_string(),
                    });
                }
            }
        }
        Ok(())
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

    /// The catalog's check (its SLA on the calendar), above the grid only: a case the grid
    /// settled was handled by the grid worker who would verify it, so a check by the same person
    /// adds nothing.
    fn verify_deadline(&self, category_code: &str, level: Level, from: Timestamp) -> Option<Timestamp> {
        let sla = self.catalog.get(category_code)?.verification?;
        (level > Level::Grid).then(|| self.calendar.deadline(from, &sla))
    }

    fn category_priority(&self, category_code: &str) -> CategoryPriority {
        self.catalog.get(category_code).map_or(CategoryPriority::Routine, |c| c.priority)
    }

    fn department_for(&self, category_code: &str, unit: &str, level: Level) -> Option<Department> {
        let code = self.catalog.get(category_code)?.department_at(level)?;
        self.jurisdiction.department(&unit.parse().ok()?, code).cloned()
    }

    fn summonable(&self, holder: &str, reference: &str) -> Option<SummonedDepartment> {
        let holder: AreaCode = holder.parse().ok()?;
        let (area, code) = match reference.split_once('/') {
            Some((area, code)) => (Some(area.parse::<AreaCode>().ok()?), code),
            None => (None, reference),
        };
        // The holder itself first, then up the tree.
        Level::ALL
            .into_iter()
            .filter_map(|level| holder.ancestor(level))
            .filter(|unit| area.as_ref().is_none_or(|area| area == unit))
            .find_map(|unit| {
                let department = self.jurisdiction.department(&unit, code)?.clone();
                Some(SummonedDepartment { unit: unit.to_string(), department })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_is_stable_and_names_the_part_that_changed() {
        let city = CityPolicy::default_city();
        assert_eq!(city.fingerprint(), CityPolicy::default_city().fingerprint(), "no hidden map order");
        let mut renamed = CityPolicy::default_city();
        let text = renamed.jurisdiction.to_toml().replacen("江都区", "江都新区", 1);
        renamed.jurisdiction = Jurisdiction::from_toml(&text).unwrap();
        let (before, after) = (city.fingerprint(), renamed.fingerprint());
        assert_ne!(before.jurisdiction, after.jurisdiction);
        assert_eq!((before.catalog, before.calendar), (after.catalog, after.calendar));
        assert_eq!(after.jurisdiction.len(), 64);
    }
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
            reporter: Reporter {
                kind: ReporterKind::Resident,
                id: "r1".into(),
                name: "r".into(),
                phone: "".into(),
                sealed: None,
            },
            channel: Channel::ResidentApp,
            discovered_at: now,
            uploaded_at: now,
            urgent: false,
            special_groups: vec![],
            media_url: None,
        };
        let open = CaseCommand::Open { case_id: CaseId(uuid::Uuid::from_u128(1)), details };
        let events = decide(&Default::default(), &open, policy, now).unwrap();
        match &events[..] {
            [CaseEvent::Opened { .. }, CaseEvent::Dispatched { to, .. }] => (to.level, to.deadline),
            other => panic!("unexpected events {other:?}"),
        }
    }

    #[test]
    fn dispatch_names_the_owning_department_at_street_and_district() {
        // Given the default city, a street-vendor case (grid first, 城管 above),
        let policy = CityPolicy::default_city();
        policy.check_departments().unwrap();
        let grid = "321012003004005";
        assert_eq!(policy.department_for("order.street-vendor", grid, Level::Grid), None);
        assert_eq!(policy.department_for("order.street-vendor", "321012003004", Level::Community), None);
        // then the street's 城管中队 owns it at the street, the 城管局 at the district,
        let street = policy.department_for("order.street-vendor", "321012003", Level::Street).unwrap();
        assert_eq!((street.code.as_str(), street.name.as_str()), ("urban-management", "邵伯街道城管中队"));
        let district = policy.department_for("order.street-vendor", "321012", Level::District).unwrap();
        assert_eq!(district.name, "江都区城市管理局");
        // and unpermitted construction enters at the street with its planning office.
        let open = policy.department_for("construction.unpermitted", "321012003", Level::Street).unwrap();
        assert_eq!(open.name, "邵伯街道规划建设办公室");
        assert_eq!(policy.department_for("no.such-category", "321012003", Level::Street), None);
    }

    #[test]
    fn a_street_summons_its_own_departments_first_and_the_districts_by_code_or_explicitly() {
        let policy = CityPolicy::default_city();
        let street = "321012003";
        let own = policy.summonable(street, "market-regulation").unwrap();
        assert_eq!((own.unit.as_str(), own.department.name.as_str()), (street, "邵伯街道市场监管所"));
        // The street has no 生态环境局; the district has.
        let up = policy.summonable(street, "ecology-environment").unwrap();
        assert_eq!((up.unit.as_str(), up.department.name.as_str()), ("321012", "江都区生态环境局"));
        let explicit = policy.summonable(street, "321012/market-regulation").unwrap();
        assert_eq!(explicit.department.name, "江都区市场监督管理局");
        // Not a department anywhere above, another street's, or below the holder.
        assert_eq!(policy.summonable(street, "fire-brigade"), None);
        assert_eq!(policy.summonable(street, "321012004/market-regulation"), None);
        assert_eq!(policy.summonable(street, "321012003001/workstation"), None);
        assert_eq!(policy.summonable(street, "x/market-regulation"), None);
    }

    #[test]
    fn a_city_without_a_department_the_list_names_is_refused() {
        // Given the default catalog over a city whose street 002 has no 城管中队,
        let mut district = Jurisdiction::default_city().district().clone();
        district.streets[1].departments.retain(|d| d.code != "urban-management");
        let policy = CityPolicy::new(Catalog::default_catalog(), Jurisdiction::new(district).unwrap());
        // when checked, then the first category owned by it there is named.
        assert_eq!(
            policy.check_departments().unwrap_err(),
            PolicyError::MissingDepartment {
                category: "env.garbage".into(),
                level: Level::Street,
                unit: "321012002".parse().unwrap(),
                department: "urban-management".into(),
            }
        );
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
