//! The city's routing policy: the responsibility list (catalog) over the jurisdiction tree.

use crate::case::RoutingPolicy;
use crate::catalog::Catalog;
use crate::jurisdiction::{AreaCode, Jurisdiction};
use crate::level::Level;
use chrono::Duration;

/// Rule names recorded on `CaseDispatched`, so a replay knows why a case entered where it did.
pub const RULE_START_LEVEL: &str = "responsibility-list:start-level";
pub const RULE_URGENT_ENTRY: &str = "urgent-major:enter-at-street";

/// Fallback SLA for a category missing from the catalog (cases are validated at intake, so this
/// only matters when a catalog shrinks under existing cases).
const FALLBACK_SLA_HOURS: i64 = 24;

pub struct CityPolicy {
    pub catalog: Catalog,
    pub jurisdiction: Jurisdiction,
}

impl CityPolicy {
    pub fn new(catalog: Catalog, jurisdiction: Jurisdiction) -> Self {
        Self { catalog, jurisdiction }
    }

    /// The default city shipped for `gridloop up`.
    pub fn default_city() -> Self {
        Self::new(Catalog::default_catalog(), Jurisdiction::default_city())
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

    fn accept_sla(&self, category_code: &str, _level: Level) -> Duration {
        self.catalog.get(category_code).map_or(Duration::hours(FALLBACK_SLA_HOURS), |c| c.accept_sla)
    }

    fn resolve_sla(&self, category_code: &str, level: Level) -> Duration {
        self.catalog.get(category_code).map_or(Duration::hours(FALLBACK_SLA_HOURS), |c| c.resolve_sla_at(level))
    }

    fn mediable(&self, category_code: &str) -> bool {
        self.catalog.get(category_code).is_some_and(|c| c.mediable)
    }
}
