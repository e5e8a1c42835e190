//! Resolve (办结): the unit that accepted the case reports it done. Where the category requires
//! it, the grid worker checks the resolution on site (核查) before the reporter is asked.

use super::decide::{required, Decision};
use super::{CaseError, CaseEvent, CaseStatus};

pub(super) fn decide(at: &Decision, summary: &str) -> Result<Vec<CaseEvent>, CaseError> {
    let CaseStatus::Accepted { at: held, .. } = &at.case.status else {
        return Err(at.forbidden("only an accepted case can be resolved"));
    };
    required("summary", summary)?;
    Ok(vec![CaseEvent::Resolved {
        level: held.level,
        unit: held.unit.clone(),
        summary: summary.to_string(),
        verify_by: at.policy.verify_deadline(at.category, held.level, at.now),
    }])
}

#[cfg(test)]
mod tests {
    use crate::case::{CaseEvent, CaseStatus};
    use crate::level::Level;
    use crate::testing::case::*;

    #[test]
    fn given_an_accepted_case_when_it_is_resolved_then_it_waits_for_the_evaluation() {
        let case =
            given(&an_accepted_case()).when(resolve("talked to both families")).then_expect(&[CaseEvent::Resolved {
                level: Level::Grid,
                unit: GRID.into(),
                summary: "talked to both families".into(),
                verify_by: None,
            }]);
        assert_eq!(
            case.status,
            CaseStatus::Resolved {
                level: Level::Grid,
                unit: GRID.into(),
                assignee: "wang".into(),
                summary: "talked to both families".into()
            }
        );
        assert_eq!(case.status.deadline(), None);
    }

    #[test]
    fn given_a_case_accepted_at_the_street_when_it_is_resolved_then_it_is_resolved_at_the_street() {
        given(&a_case_accepted_at(Level::Street)).when(resolve("departments summoned (吹哨报到)")).then_expect(&[
            CaseEvent::Resolved {
                level: Level::Street,
                unit: STREET.into(),
                summary: "departments summoned (吹哨报到)".into(),
                verify_by: None,
            },
        ]);
    }

    #[test]
    fn given_an_accepted_case_when_it_is_resolved_without_a_summary_then_the_summary_is_invalid() {
        given(&an_accepted_case()).when(resolve(" ")).then_invalid("summary");
    }

    #[test]
    fn given_a_dispatched_case_when_it_is_resolved_then_it_is_forbidden_until_accepted() {
        let reason = given(&a_dispatched_case()).when(resolve("done")).then_forbidden();
        assert!(reason.contains("accepted"), "{reason}");
    }

    #[test]
    fn given_a_case_in_mediation_when_it_is_resolved_then_it_is_forbidden() {
        given(&a_case_in_mediation()).when(resolve("done")).then_forbidden();
    }

    #[test]
    fn given_a_resolved_case_when_it_is_resolved_again_then_it_is_forbidden() {
        given(&a_resolved_case()).when(resolve("done")).then_forbidden();
    }

    #[test]
    fn given_a_gas_leak_accepted_at_the_community_when_it_is_resolved_then_it_waits_for_the_verification() {
        let case = given(&a_gas_leak_accepted_at_the_community()).when(resolve("valve replaced")).then_expect(&[
            CaseEvent::Resolved {
                level: Level::Community,
                unit: COMMUNITY.into(),
                summary: "valve replaced".into(),
                verify_by: Some(verify_by()),
            },
        ]);
        assert_eq!(
            case.status,
            CaseStatus::AwaitingVerification {
                level: Level::Community,
                unit: COMMUNITY.into(),
                assignee: "wang".into(),
                summary: "valve replaced".into(),
                deadline: verify_by(),
            }
        );
        assert_eq!(case.status.deadline(), Some(verify_by()), "the check's deadline is watched");
        assert_eq!((case.status.level(), case.status.unit()), (Some(Level::Community), Some(COMMUNITY)));
    }

    #[test]
    fn given_a_gas_leak_fixed_by_the_grid_itself_when_it_is_resolved_then_no_verification_is_needed() {
        let mut history = an_accepted_case();
        history[0] = opened_as(GAS_LEAK);
        let resolved_at_grid = CaseEvent::Resolved {
            level: Level::Grid,
            unit: GRID.into(),
            summary: "valve closed".into(),
            verify_by: None,
        };
        let case = given(&history).when(resolve("valve closed")).then_expect(std::slice::from_ref(&resolved_at_grid));
        assert_eq!(case.status.name(), "resolved");
        history.push(resolved_at_grid);
        given(&history).when(verify(true, "fine")).then_forbidden();
    }
}
