//! Priority ordering (item 4 of the routing policy): which open case a unit takes up first.
//!
//! A case's priority is a score with the reasons that make it up, so every decision event can
//! record both. The rules, in order of weight:
//!
//! - **urgent first**: an urgent or major report (急难重大) outranks every case that is not
//!   ([`URGENT_POINTS`] is larger than all other points together);
//! - **special groups** (特殊群体): a report concerning an elderly person living alone, a disabled
//!   person, a left-behind child or a family in hardship;
//! - **shared concern**: several residents reported the same matter (reports linked to the case
//!   as duplicates), up to [`SHARED_CONCERN_MAX_REPORTS`] extra reports;
//! - the **category's own priority** from the responsibility list.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// How pressing a category is by nature (the responsibility list's priority column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CategoryPriority {
    Routine,
    Important,
    Critical,
}

impl CategoryPriority {
    pub fn points(self) -> u32 {
        match self {
            CategoryPriority::Routine => 10,
            CategoryPriority::Important => 20,
            CategoryPriority::Critical => 30,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CategoryPriority::Routine => "routine",
            CategoryPriority::Important => "important",
            CategoryPriority::Critical => "critical",
        }
    }
}

/// A group of residents whose matters go first (特殊群体), flagged on a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpecialGroup {
    /// 独居老人
    ElderlyLivingAlone,
    /// 残疾人
    Disabled,
    /// 留守儿童
    LeftBehindChild,
    /// 困难家庭
    Hardship,
}

impl SpecialGroup {
    pub fn as_str(self) -> &'static str {
        match self {
            SpecialGroup::ElderlyLivingAlone => "elderly_living_alone",
            SpecialGroup::Disabled => "disabled",
            SpecialGroup::LeftBehindChild => "left_behind_child",
            SpecialGroup::Hardship => "hardship",
        }
    }
}

/// Points of an urgent or major case: more than every other rule together, so urgent is first.
pub const URGENT_POINTS: u32 = 100;
/// Points when any report of the case concerns a special group.
pub const SPECIAL_GROUP_POINTS: u32 = 20;
/// Points per report beyond the first (shared concern), up to the cap below.
pub const SHARED_CONCERN_POINTS: u32 = 10;
pub const SHARED_CONCERN_MAX_REPORTS: u32 = 3;

/// What the priority is assessed from: the case's first report and every report linked to it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PrioritySignals {
    /// Reports of the matter (1 for a case nobody else reported).
    pub reports: u32,
    /// Any of them urgent or major.
    pub urgent: bool,
    /// Special groups any of them concerns.
    pub special_groups: BTreeSet<SpecialGroup>,
}

impl PrioritySignals {
    /// Fold in one more report of the matter.
    pub fn add(&mut self, urgent: bool, special_groups: &[SpecialGroup]) {
        self.reports += 1;
        self.urgent |= urgent;
        self.special_groups.extend(special_groups.iter().copied());
    }
}

/// A case's priority: higher first; `reasons` say where each point came from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Priority {
    pub score: u32,
    pub reasons: Vec<String>,
}

/// The priority of a case of a `category` priority with these signals.
pub fn assess(category: CategoryPriority, signals: &PrioritySignals) -> Priority {
    let mut score = category.points();
    let mut reasons = vec![format!("category priority {} (+{})", category.as_str(), category.points())];
    if signals.urgent {
        score += URGENT_POINTS;
        reasons.push(format!("urgent or major (+{URGENT_POINTS})"));
    }
    if !signals.special_groups.is_empty() {
        score += SPECIAL_GROUP_POINTS;
        let groups: Vec<&str> = signals.special_groups.iter().map(|g| g.as_str()).collect();
        reasons.push(format!("special group: {} (+{SPECIAL_GROUP_POINTS})", groups.join(", ")));
    }
    let extra = signals.reports.saturating_sub(1).min(SHARED_CONCERN_MAX_REPORTS);
    if extra > 0 {
        let points = extra * SHARED_CONCERN_POINTS;
        score += points;
        reasons.push(format!("shared concern: {} reports (+{points})", signals.reports));
    }
    Priority { score, reasons }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signals(reports: u32, urgent: bool, groups: &[SpecialGroup]) -> PrioritySignals {
        PrioritySignals { reports, urgent, special_groups: groups.iter().copied().collect() }
    }

    #[test]
    fn a_plain_report_gets_its_categorys_priority_only() {
        let p = assess(CategoryPriority::Important, &signals(1, false, &[]));
        assert_eq!(p, Priority { score: 20, reasons: vec!["category priority important (+20)".into()] });
    }

    #[test]
    fn each_rule_adds_its_points_and_says_why() {
        let p = assess(CategoryPriority::Routine, &signals(3, true, &[SpecialGroup::Disabled]));
        assert_eq!(p.score, 10 + 100 + 20 + 20);
        assert_eq!(
            p.reasons,
            [
                "category priority routine (+10)",
                "urgent or major (+100)",
                "special group: disabled (+20)",
                "shared concern: 3 reports (+20)",
            ]
        );
    }

    #[test]
    fn shared_concern_is_capped() {
        let p = assess(CategoryPriority::Routine, &signals(10, false, &[]));
        assert_eq!(p.score, 10 + SHARED_CONCERN_MAX_REPORTS * SHARED_CONCERN_POINTS);
        assert_eq!(p.reasons[1], "shared concern: 10 reports (+30)");
    }

    #[test]
    fn urgent_outranks_everything_that_is_not_urgent() {
        let most_without = assess(
            CategoryPriority::Critical,
            &signals(99, false, &[SpecialGroup::ElderlyLivingAlone, SpecialGroup::Hardship]),
        );
        let least_urgent = assess(CategoryPriority::Routine, &signals(1, true, &[]));
        assert!(least_urgent.score > most_without.score, "{least_urgent:?} vs {most_without:?}");
    }

    #[test]
    fn signals_fold_linked_reports() {
        let mut s = PrioritySignals::default();
        s.add(false, &[SpecialGroup::ElderlyLivingAlone]);
        s.add(true, &[SpecialGroup::ElderlyLivingAlone, SpecialGroup::Disabled]);
        assert_eq!(s, signals(2, true, &[SpecialGroup::Disabled, SpecialGroup::ElderlyLivingAlone]));
    }
}
