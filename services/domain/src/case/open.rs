//! Open (上报 → 派单): a report becomes a case, dispatched at once to the lowest responsible level
//! for its category (or higher, when urgent) with its priority.

use super::decide::Decision;
use super::{CaseDetails, CaseError, CaseEvent, CaseStatus};
use crate::ids::CaseId;
use crate::priority::{self, PrioritySignals};

pub(super) fn decide(at: &Decision, case_id: CaseId, details: &CaseDetails) -> Result<Vec<CaseEvent>, CaseError> {
    if at.case.status != CaseStatus::New {
        return Err(CaseError::AlreadyOpened);
    }
    let policy = at.policy;
    let (level, rule) = policy
        .entry_level(&details.category_code, details.urgent)
        .ok_or_else(|| CaseError::Invalid { field: "category_code", reason: "unknown category".into() })?;
    let unit = policy
        .unit_for(&details.grid_code, level)
        .ok_or_else(|| CaseError::Invalid { field: "grid_code", reason: "no unit for this grid".into() })?;
    let deadline = at.accept_deadline(level);
    let mut signals = PrioritySignals::default();
    signals.add(details.urgent, &details.special_groups);
    let priority = priority::assess(policy.category_priority(at.category), &signals);
    Ok(vec![
        CaseEvent::Opened { case_id, details: details.clone() },
        CaseEvent::Dispatched { to: at.assign(level, unit, deadline), rule: rule.to_string(), priority },
    ])
}

#[cfg(test)]
mod tests {
    use crate::case::{Assignment, CaseCommand, CaseError, CaseEvent, CaseStatus};
    use crate::level::Level;
    use crate::priority::SpecialGroup;
    use crate::testing::case::*;
    use chrono::Duration;

    #[test]
    fn given_no_case_when_a_report_is_opened_then_it_is_dispatched_to_the_grid_with_an_accept_deadline() {
        let case = given_no_case().at(t0()).when(open(DISPUTE, false)).then_expect(&[
            CaseEvent::Opened { case_id: case_id(), details: details(DISPUTE, false) },
            CaseEvent::Dispatched {
                to: Assignment {
                    level: Level::Grid,
                    unit: GRID.into(),
                    deadline: t0() + Duration::hours(2),
                    department: department(Level::Grid, GRID),
                },
                rule: RULE_START.into(),
                priority: routine(),
            },
        ]);
        assert_eq!(case.id, Some(case_id()));
        assert_eq!(case.details, Some(details(DISPUTE, false)));
        assert_eq!(case.status, CaseStatus::Dispatched { at: assignment(Level::Grid, t0() + Duration::hours(2)) });
        assert_eq!(case.version, 2);
    }

    #[test]
    fn given_no_case_when_a_category_that_starts_at_the_community_is_opened_then_it_is_dispatched_to_the_community() {
        given_no_case().at(t0()).when(open(PROPERTY_FEE, false)).then_expect(&[
            CaseEvent::Opened { case_id: case_id(), details: details(PROPERTY_FEE, false) },
            CaseEvent::Dispatched {
                to: Assignment {
                    level: Level::Community,
                    unit: COMMUNITY.into(),
                    deadline: t0() + Duration::hours(4),
                    department: department(Level::Community, COMMUNITY),
                },
                rule: RULE_START.into(),
                priority: priority(20, &["category priority important (+20)"]),
            },
        ]);
    }

    #[test]
    fn given_no_case_when_a_report_is_opened_then_the_accept_deadline_uses_the_category_sla() {
        given_no_case().at(t0()).when(open(GAS_LEAK, false)).then_expect(&[
            CaseEvent::Opened { case_id: case_id(), details: details(GAS_LEAK, false) },
            CaseEvent::Dispatched {
                to: Assignment {
                    level: Level::Grid,
                    unit: GRID.into(),
                    deadline: t0() + Duration::minutes(30),
                    department: department(Level::Grid, GRID),
                },
                rule: RULE_START.into(),
                priority: priority(30, &["category priority critical (+30)"]),
            },
        ]);
    }

    #[test]
    fn given_no_case_when_an_urgent_report_is_opened_then_it_enters_at_the_street_under_the_urgent_rule() {
        let case = given_no_case().at(t0()).when(open(DISPUTE, true)).then_expect(&[
            CaseEvent::Opened { case_id: case_id(), details: details(DISPUTE, true) },
            CaseEvent::Dispatched {
                to: Assignment {
                    level: Level::Street,
                    unit: STREET.into(),
                    deadline: t0() + Duration::hours(8),
                    department: department(Level::Street, STREET),
                },
                rule: RULE_URGENT.into(),
                priority: priority(110, &["category priority routine (+10)", "urgent or major (+100)"]),
            },
        ]);
        assert_eq!(case.status.level(), Some(Level::Street));
        assert_eq!(case.escalations, 0, "entering higher up is not an escalation");
    }

    #[test]
    fn given_no_case_when_a_report_for_a_special_group_is_opened_then_its_priority_says_so() {
        let mut report = details(DISPUTE, false);
        report.special_groups = vec![SpecialGroup::ElderlyLivingAlone, SpecialGroup::Disabled];
        let events = given_no_case()
            .at(t0())
            .when(CaseCommand::Open { case_id: case_id(), details: report.clone() })
            .then_expect(&[
                CaseEvent::Opened { case_id: case_id(), details: report },
                CaseEvent::Dispatched {
                    to: assignment(Level::Grid, t0() + Duration::hours(2)),
                    rule: RULE_START.into(),
                    priority: priority(
                        30,
                        &["category priority routine (+10)", "special group: elderly_living_alone, disabled (+20)"],
                    ),
                },
            ]);
        assert_eq!(events.priority.score, 30);
        assert_eq!(events.signals.special_groups.len(), 2);
    }

    #[test]
    fn given_an_opened_case_when_it_is_opened_again_then_it_is_refused_as_already_opened() {
        given(&a_dispatched_case()).when(open(DISPUTE, false)).then_refuse(|e| *e == CaseError::AlreadyOpened);
    }

    #[test]
    fn given_a_closed_case_when_it_is_opened_again_then_it_is_refused_as_already_opened() {
        given(&a_closed_case()).when(open(DISPUTE, false)).then_refuse(|e| *e == CaseError::AlreadyOpened);
    }

    #[test]
    fn given_no_case_when_a_report_of_an_unknown_category_is_opened_then_the_category_code_is_invalid() {
        given_no_case().when(open("no.such.category", false)).then_invalid("category_code");
    }

    #[test]
    fn given_no_case_when_a_report_from_a_grid_without_units_is_opened_then_the_grid_code_is_invalid() {
        let mut details = details(DISPUTE, false);
        details.grid_code = "not-a-grid".into();
        given_no_case().when(CaseCommand::Open { case_id: case_id(), details }).then_invalid("grid_code");
    }

    #[test]
    fn given_no_case_when_any_other_command_is_sent_then_the_case_is_not_found() {
        for command in every_command(at(hours(2))).into_iter().filter(|c| c.name() != "open") {
            given_no_case().when(command).then_refuse(|e| *e == CaseError::NotFound);
        }
    }
}
