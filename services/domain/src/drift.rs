//! The 4321 drift alert: when the share of cases an area settled at each level over a recent
//! window moves out of a tolerance around 40/30/20/10, an alert is raised once; when it comes
//! back within the tolerance, the alert is cleared once. Between crossings nothing is raised, so
//! an area that stays out of tolerance does not alert on every case it closes.

use chrono::Duration;
use serde::{Deserialize, Serialize};

use crate::level::Level;

/// When an area counts as drifted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DriftPolicy {
    /// The largest allowed deviation of any level's share from its target, as a fraction
    /// (0.10 = ±10 percentage points). 0 disables the monitor.
    pub tolerance: f64,
    /// Cases closed on the whole days of this window before the latest closure's day count.
    pub window: Duration,
    /// Fewer closed cases than this in the window say nothing either way (no alert, no clearing).
    pub min_cases: u64,
}

impl DriftPolicy {
    pub const DEFAULT_TOLERANCE_PP: f64 = 10.0;
    pub const DEFAULT_WINDOW_DAYS: i64 = 30;
    pub const DEFAULT_MIN_CASES: u64 = 20;

    pub fn disabled() -> Self {
        DriftPolicy { tolerance: 0.0, window: Duration::zero(), min_cases: 0 }
    }

    pub fn is_enabled(&self) -> bool {
        self.tolerance > 0.0 && self.window > Duration::zero()
    }
}

/// Closed cases per settled level (grid, community, street, district) over the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Distribution(pub [u64; 4]);

impl Distribution {
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Each level's share of the total (all 0 for no cases).
    pub fn shares(&self) -> [f64; 4] {
        let total = self.total();
        self.0.map(|n| if total == 0 { 0.0 } else { n as f64 / total as f64 })
    }

    /// The largest distance of a level's share from its 4321 target.
    pub fn deviation(&self) -> f64 {
        let shares = self.shares();
        Level::ALL.iter().map(|level| (shares[*level as usize] - level.target_share()).abs()).fold(0.0, f64::max)
    }
}

/// A crossing of the tolerance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftChange {
    /// The area moved out of tolerance.
    Detected,
    /// The area is back within tolerance.
    Cleared,
}

/// Whether an area that was (or was not) `drifted` crosses the tolerance with `distribution`.
pub fn assess(policy: &DriftPolicy, drifted: bool, distribution: &Distribution) -> Option<DriftChange> {
    if !policy.is_enabled() || distribution.total() < policy.min_cases.max(1) {
        return None;
    }
    // A hair of slack so that exactly 10 pp (e.g. 50% at the grid) is within a 10 pp tolerance
    // despite floating-point rounding.
    let out = distribution.deviation() > policy.tolerance + 1e-9;
    match (drifted, out) {
        (false, true) => Some(DriftChange::Detected),
        (true, false) => Some(DriftChange::Cleared),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> DriftPolicy {
        DriftPolicy { tolerance: 0.10, window: Duration::days(30), min_cases: 10 }
    }

    #[test]
    fn the_4321_distribution_itself_does_not_drift() {
        let d = Distribution([40, 30, 20, 10]);
        assert!(d.deviation() < 1e-12);
        assert_eq!(assess(&policy(), false, &d), None);
    }

    #[test]
    fn out_of_tolerance_is_detected_once_and_cleared_once() {
        // 60% at the grid: 20 pp over the 40% target.
        let out = Distribution([60, 20, 10, 10]);
        assert!((out.deviation() - 0.20).abs() < 1e-12);
        assert_eq!(assess(&policy(), false, &out), Some(DriftChange::Detected));
        assert_eq!(assess(&policy(), true, &out), None, "still out: no second alert");
        let back = Distribution([45, 30, 15, 10]);
        assert_eq!(assess(&policy(), true, &back), Some(DriftChange::Cleared));
        assert_eq!(assess(&policy(), false, &back), None);
    }

    #[test]
    fn exactly_at_the_tolerance_is_within() {
        assert_eq!(assess(&policy(), false, &Distribution([50, 20, 20, 10])), None);
        assert_eq!(assess(&policy(), false, &Distribution([51, 19, 20, 10])), Some(DriftChange::Detected));
    }

    #[test]
    fn too_few_cases_or_a_disabled_monitor_say_nothing() {
        let skewed = Distribution([9, 0, 0, 0]);
        assert_eq!(assess(&policy(), false, &skewed), None, "9 cases < min 10");
        assert_eq!(assess(&policy(), true, &Distribution([0, 0, 0, 0])), None, "an empty window does not clear");
        assert_eq!(assess(&DriftPolicy::disabled(), false, &Distribution([100, 0, 0, 0])), None);
        assert!(!DriftPolicy::disabled().is_enabled());
    }
}
