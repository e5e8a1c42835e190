//! 吹哨报到: a street (or the district) that has accepted a case summons departments for joint
//! handling — its own first, then the units above it — and each reports in (报到) when it arrives.
//! The case stays with its unit and deadline throughout.

use super::decide::{required, Decision};
use super::{CaseError, CaseEvent, CaseStatus, SummonedDepartment};
use crate::level::Level;

pub(super) fn summon(at: &Decision, departments: &[String], reason: &str) -> Result<Vec<CaseEvent>, CaseError> {
    let CaseStatus::Accepted { at: held, .. } = &at.case.status else {
        return Err(at.forbidden("only an accepted case can summon departments"));
    };
    if held.level < Level::Street {
        return Err(at.forbidden("only a street or the district summons departments (吹哨报到)"));
    }
    required("reason", reason)?;
    if departments.is_empty() {
        return Err(CaseError::Invalid { field: "departments", reason: "name at least one department".into() });
    }
    let mut summoned: Vec<SummonedDepartment> = Vec::with_capacity(departments.len());
    for reference in departments {
        let department = at.policy.summonable(&held.unit, reference).ok_or_else(|| CaseError::Invalid {
            field: "departments",
            reason: format!("{reference:?} is not a department of {} or a unit above it", held.unit),
        })?;
        let pending = at.case.summons.iter().any(|s| !s.reported_in && s.summoned == department);
        if pending || summoned.contains(&department) {
            return Err(CaseError::Invalid {
                field: "departments",
                reason: format!("{} is already summoned and has not reported in", department.department.name),
            });
        }
        summoned.push(department);
    }
    Ok(vec![CaseEvent::DepartmentsSummoned {
        level: held.level,
        unit: held.unit.clone(),
        departments: summoned,
        reason: reason.to_string(),
    }])
}

/// `department` is a function code ("market-regulation"), or `<area code>/<function code>` when
/// two summoned units have the same function.
pub(super) fn report_in(at: &Decision, department: &str, by: &str, note: &str) -> Result<Vec<CaseEvent>, CaseError> {
    if at.case.status.is_terminal() {
        return Err(at.forbidden("the case is over"));
    }
    required("department", department)?;
    required("by", by)?;
    let (unit, code) = match department.split_once('/') {
        Some((unit, code)) => (Some(unit), code),
        None => (None, department),
    };
    let summons = at
        .case
        .summons
        .iter()
        .find(|s| !s.reported_in && s.summoned.department.code == code && unit.is_none_or(|u| u == s.summoned.unit))
        .ok_or_else(|| at.forbidden("this department has no summons waiting for it"))?;
    Ok(vec![CaseEvent::DepartmentReportedIn {
        department: summons.summoned.clone(),
        by: by.to_string(),
        note: note.to_string(),
    }])
}

#[cfg(test)]
mod tests {
    use crate::case::{CaseError, CaseEvent, SummonedDepartment, Summons};
    use crate::jurisdiction::Department;
    use crate::level::Level;
    use crate::testing::case::*;

    #[test]
    fn given_a_case_accepted_at_the_street_when_it_summons_departments_then_they_are_summoned_and_the_case_stays() {
        let before = replay(&a_case_accepted_at(Level::Street));
        let case = given(&a_case_accepted_at(Level::Street))
            .when(summon(&["market-regulation", "ecology-environment"], "restaurant fumes: licence and emissions"))
            .then_expect(&[CaseEvent::DepartmentsSummoned {
                level: Level::Street,
                unit: STREET.into(),
                departments: vec![
                    SummonedDepartment {
                        unit: STREET.into(),
                        department: Department {
                            code: "market-regulation".into(),
                            name: format!("{STREET} market-regulation"),
                        },
                    },
                    SummonedDepartment {
                        unit: DISTRICT.into(),
                        department: Department {
                            code: "ecology-environment".into(),
                            name: format!("{DISTRICT} ecology-environment"),
                        },
                    },
                ],
                reason: "restaurant fumes: licence and emissions".into(),
            }]);
        assert_eq!(case.status, before.status, "the street keeps the case and its deadline");
        assert_eq!(case.summons.len(), 2);
        assert!(case.summons.iter().all(|s| !s.reported_in));
    }

    #[test]
    fn given_a_case_accepted_at_the_district_when_it_summons_then_it_may() {
        given(&a_case_accepted_at(Level::District))
            .when(summon(&["ecology-environment"], "joint inspection"))
            .then_expect(&[CaseEvent::DepartmentsSummoned {
                level: Level::District,
                unit: DISTRICT.into(),
                departments: vec![summoned(DISTRICT, "ecology-environment")],
                reason: "joint inspection".into(),
            }]);
    }

    #[test]
    fn given_a_case_below_the_street_when_it_summons_then_it_is_refused() {
        for history in [an_accepted_case(), a_case_accepted_at(Level::Community)] {
            given(&history).when(summon(&["ecology-environment"], "help")).then_refuse(
                |e| matches!(e, CaseError::Forbidden { reason, .. } if reason.contains("street or the district")),
            );
        }
    }

    #[test]
    fn given_a_case_not_accepted_at_the_street_when_it_summons_then_it_is_refused() {
        for history in [a_case_dispatched_at(Level::Street), a_case_resolved_at(Level::Street)] {
            given(&history)
                .when(summon(&["market-regulation"], "help"))
                .then_refuse(|e| matches!(e, CaseError::Forbidden { command: "summon_departments", .. }));
        }
    }

    #[test]
    fn given_a_case_accepted_at_the_street_when_the_summons_is_malformed_then_the_field_is_named() {
        let history = a_case_accepted_at(Level::Street);
        given(&history)
            .when(summon(&[], "help"))
            .then_refuse(|e| matches!(e, CaseError::Invalid { field: "departments", .. }));
        given(&history)
            .when(summon(&["market-regulation"], " "))
            .then_refuse(|e| matches!(e, CaseError::Invalid { field: "reason", .. }));
        given(&history).when(summon(&["fire-brigade"], "help")).then_refuse(
            |e| matches!(e, CaseError::Invalid { field: "departments", reason } if reason.contains("fire-brigade")),
        );
        given(&history)
            .when(summon(&["market-regulation", format!("{STREET}/market-regulation").as_str()], "help"))
            .then_refuse(
                |e| matches!(e, CaseError::Invalid { field: "departments", reason } if reason.contains("already")),
            );
    }

    #[test]
    fn given_summoned_departments_when_one_is_summoned_again_before_reporting_in_then_it_is_refused() {
        given(&a_case_with_summoned_departments())
            .when(summon(&["market-regulation"], "again"))
            .then_refuse(|e| matches!(e, CaseError::Invalid { field: "departments", .. }));
        // Once it has reported in, it may be summoned again.
        let mut history = a_case_with_summoned_departments();
        history.push(CaseEvent::DepartmentReportedIn {
            department: summoned(STREET, "market-regulation"),
            by: "officer-3".into(),
            note: String::new(),
        });
        given(&history).when(summon(&["market-regulation"], "second visit")).then_expect(&[
            CaseEvent::DepartmentsSummoned {
                level: Level::Street,
                unit: STREET.into(),
                departments: vec![summoned(STREET, "market-regulation")],
                reason: "second visit".into(),
            },
        ]);
    }

    #[test]
    fn given_summoned_departments_when_one_reports_in_then_its_summons_is_answered() {
        let before = replay(&a_case_with_summoned_departments());
        let case = given(&a_case_with_summoned_departments())
            .when(report_in("ecology-environment", "inspector-7"))
            .then_expect(&[CaseEvent::DepartmentReportedIn {
                department: summoned(STREET, "ecology-environment"),
                by: "inspector-7".into(),
                note: "on site".into(),
            }]);
        assert_eq!(case.status, before.status);
        assert_eq!(
            case.summons,
            vec![
                Summons { summoned: summoned(STREET, "market-regulation"), reported_in: false },
                Summons { summoned: summoned(STREET, "ecology-environment"), reported_in: true },
            ]
        );
        // The qualified reference works too, and a second report-in finds nothing waiting.
        let mut history = a_case_with_summoned_departments();
        history.push(CaseEvent::DepartmentReportedIn {
            department: summoned(STREET, "market-regulation"),
            by: "officer-3".into(),
            note: String::new(),
        });
        given(&history)
            .when(report_in(&format!("{STREET}/market-regulation"), "officer-3"))
            .then_refuse(|e| matches!(e, CaseError::Forbidden { command: "report_in", .. }));
        given(&history).when(report_in(&format!("{DISTRICT}/ecology-environment"), "inspector-7")).then_expect(&[
            CaseEvent::DepartmentReportedIn {
                department: summoned(STREET, "ecology-environment"),
                by: "inspector-7".into(),
                note: "on site".into(),
            },
        ]);
    }

    #[test]
    fn given_no_summons_or_a_closed_case_when_a_department_reports_in_then_it_is_refused() {
        given(&a_case_accepted_at(Level::Street))
            .when(report_in("market-regulation", "officer-3"))
            .then_refuse(|e| matches!(e, CaseError::Forbidden { command: "report_in", .. }));
        given(&a_case_with_summoned_departments())
            .when(report_in("market-regulation", ""))
            .then_refuse(|e| matches!(e, CaseError::Invalid { field: "by", .. }));
        given(&a_closed_case())
            .when(report_in("market-regulation", "officer-3"))
            .then_refuse(|e| matches!(e, CaseError::Forbidden { reason, .. } if reason.contains("over")));
    }
}
