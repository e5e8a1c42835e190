//! Accept (接单): the unit the case was dispatched to takes it, and the resolve deadline starts.

use super::decide::{required, Decision};
use super::{Assignment, CaseError, CaseEvent, CaseStatus};

pub(super) fn decide(at: &Decision, assignee: &str) -> Result<Vec<CaseEvent>, CaseError> {
    let CaseStatus::Dispatched { at: assignment } = &at.case.status else {
        return Err(at.forbidden("only a dispatched case can be accepted"));
    };
    required("assignee", assignee)?;
    let deadline = at.resolve_deadline(assignment.level);
    Ok(vec![CaseEvent::Accepted { at: Assignment { deadline, ..assignment.clone() }, assignee: assignee.to_string() }])
}

#[cfg(test)]
mod tests {
    use crate::case::{Assignment, CaseEvent, CaseStatus};
    use crate::level::Level;
    use crate::testing::case::*;
    use chrono::Duration;

    #[test]
    fn given_a_dispatched_case_when_the_grid_accepts_then_it_is_accepted_with_a_resolve_deadline() {
        let now = at(hours(1));
        let case = given(&a_dispatched_case()).at(now).when(accept("wang")).then_expect(&[CaseEvent::Accepted {
            at: Assignment {
                level: Level::Grid,
                unit: GRID.into(),
                deadline: now + Duration::days(1),
                department: department(Level::Grid, GRID),
            },
            assignee: "wang".into(),
        }]);
        assert_eq!(
            case.status,
            CaseStatus::Accepted { at: assignment(Level::Grid, now + Duration::days(1)), assignee: "wang".into() }
        );
    }

    #[test]
    fn given_a_case_dispatched_to_the_street_when_the_street_accepts_then_the_resolve_deadline_is_the_streets() {
        let now = at(hours(3));
        given(&a_case_dispatched_at(Level::Street)).at(now).when(accept("zhao")).then_expect(&[CaseEvent::Accepted {
            at: assignment(Level::Street, now + Duration::days(3)),
            assignee: "zhao".into(),
        }]);
    }

    #[test]
    fn given_a_dispatched_case_when_it_is_accepted_without_an_assignee_then_the_assignee_is_invalid() {
        given(&a_dispatched_case()).when(accept("")).then_invalid("assignee");
    }

    #[test]
    fn given_an_accepted_case_when_it_is_accepted_again_then_it_is_forbidden() {
        given(&an_accepted_case()).when(accept("wang")).then_forbidden();
    }

    #[test]
    fn given_a_resolved_case_when_it_is_accepted_then_it_is_forbidden() {
        given(&a_resolved_case()).when(accept("wang")).then_forbidden();
    }

    #[test]
    fn given_a_closed_case_when_it_is_accepted_then_it_is_forbidden() {
        given(&a_closed_case()).when(accept("wang")).then_forbidden();
    }

    #[test]
    fn given_a_rejected_case_when_it_is_accepted_then_it_is_forbidden() {
        given(&a_rejected_case()).when(accept("wang")).then_forbidden();
    }

    #[test]
    fn given_a_case_in_mediation_when_it_is_accepted_then_it_is_forbidden() {
        given(&a_case_in_mediation()).when(accept("wang")).then_forbidden();
    }
}
