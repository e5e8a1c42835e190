//! Transfer (一转): the case goes to another unit at the same level, which must accept it anew.

use super::decide::Decision;
use super::{CaseError, CaseEvent, CaseStatus};

pub(super) fn decide(at: &Decision, to_unit: &str, reason: &str) -> Result<Vec<CaseEvent>, CaseError> {
    let (CaseStatus::Dispatched { at: held } | CaseStatus::Accepted { at: held, .. }) = &at.case.status else {
        return Err(at.forbidden("only a dispatched or accepted case can be transferred"));
    };
    // Every bad field at once, so that one correction is enough.
    let mut invalid = Vec::new();
    if to_unit.trim().is_empty() {
        invalid.push(("to_unit", "must not be empty".to_string()));
    } else if to_unit == held.unit {
        invalid.push(("to_unit", "the case is already with this unit".to_string()));
    } else if !at.policy.is_unit_at(to_unit, held.level) {
        invalid.push(("to_unit", format!("{to_unit} is not a {} unit", held.level)));
    }
    if reason.trim().is_empty() {
        invalid.push(("reason", "must not be empty".to_string()));
    }
    CaseError::check_fields(invalid)?;
    Ok(vec![CaseEvent::Transferred {
        from_unit: held.unit.clone(),
        to: at.assign(held.level, to_unit.to_string(), at.accept_deadline(held.level)),
        reason: reason.to_string(),
    }])
}

#[cfg(test)]
mod tests {
    use crate::case::{Assignment, CaseError, CaseEvent, CaseStatus};
    use crate::level::Level;
    use crate::testing::case::*;
    use chrono::Duration;

    #[test]
    fn given_a_case_dispatched_to_the_community_when_it_is_transferred_to_another_community_then_that_community_has_it()
    {
        let now = at(hours(2));
        let case = given(&a_case_dispatched_at(Level::Community))
            .at(now)
            .when(transfer(OTHER_COMMUNITY, "the building belongs to the next community"))
            .then_expect(&[CaseEvent::Transferred {
                from_unit: COMMUNITY.into(),
                to: Assignment {
                    level: Level::Community,
                    unit: OTHER_COMMUNITY.into(),
                    deadline: now + Duration::hours(4),
                    department: department(Level::Community, OTHER_COMMUNITY),
                },
                reason: "the building belongs to the next community".into(),
            }]);
        assert_eq!(
            case.status,
            CaseStatus::Dispatched {
                at: Assignment {
                    level: Level::Community,
                    unit: OTHER_COMMUNITY.into(),
                    deadline: now + Duration::hours(4),
                    department: department(Level::Community, OTHER_COMMUNITY),
                }
            }
        );
        assert_eq!(case.escalations, 1, "a transfer is not an escalation (the one escalation is grid → community)");
    }

    #[test]
    fn given_an_accepted_case_when_it_is_transferred_then_the_new_unit_must_accept_it() {
        let now = at(hours(3));
        let other_grid = "321012001001002";
        let case = given(&an_accepted_case()).at(now).when(transfer(other_grid, "wrong grid")).then_expect(&[
            CaseEvent::Transferred {
                from_unit: GRID.into(),
                to: Assignment {
                    level: Level::Grid,
                    unit: other_grid.into(),
                    deadline: now + Duration::hours(2),
                    department: department(Level::Grid, other_grid),
                },
                reason: "wrong grid".into(),
            },
        ]);
        assert_eq!(case.status.name(), "dispatched");
        assert_eq!(case.status.unit(), Some(other_grid));
        assert_eq!(case.status.level(), Some(Level::Grid));
    }

    #[test]
    fn given_a_dispatched_case_when_it_is_transferred_to_its_own_unit_then_the_target_unit_is_invalid() {
        given(&a_dispatched_case()).when(transfer(GRID, "again")).then_invalid("to_unit");
    }

    #[test]
    fn given_a_dispatched_case_when_it_is_transferred_to_a_unit_at_another_level_then_the_target_unit_is_invalid() {
        given(&a_dispatched_case()).when(transfer(COMMUNITY, "let the community do it")).then_invalid("to_unit");
        given(&a_case_dispatched_at(Level::Community)).when(transfer(STREET, "up")).then_invalid("to_unit");
    }

    #[test]
    fn given_a_dispatched_case_when_it_is_transferred_without_a_target_or_reason_then_it_is_invalid() {
        given(&a_dispatched_case()).when(transfer("", "wrong grid")).then_invalid("to_unit");
        given(&a_dispatched_case()).when(transfer("321012001001002", "")).then_invalid("reason");
    }

    #[test]
    fn given_a_dispatched_case_when_it_is_transferred_with_a_bad_target_and_no_reason_then_both_are_refused() {
        given(&a_dispatched_case()).when(transfer(COMMUNITY, "")).then_refuse(|e| {
            matches!(e, CaseError::InvalidFields(fields)
                if fields.iter().map(|(field, _)| *field).collect::<Vec<_>>() == ["to_unit", "reason"])
        });
    }

    #[test]
    fn given_a_resolved_case_when_it_is_transferred_then_it_is_forbidden() {
        given(&a_resolved_case()).when(transfer("321012001001002", "wrong grid")).then_forbidden();
    }

    #[test]
    fn given_a_closed_case_when_it_is_transferred_then_it_is_forbidden() {
        given(&a_closed_case()).when(transfer("321012001001002", "wrong grid")).then_forbidden();
    }

    #[test]
    fn given_a_case_in_mediation_when_it_is_transferred_then_it_is_forbidden() {
        given(&a_case_in_mediation()).when(transfer("321012001001002", "wrong grid")).then_forbidden();
    }
}
