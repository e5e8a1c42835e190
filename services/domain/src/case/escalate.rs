//! Escalate (提请): the unit holding the case asks the level above to take it. The same step
//! up the ladder follows a missed deadline and a council's referral (三提).

use super::decide::{required, Decision};
use super::{Assignment, CaseError, CaseEvent, CaseStatus, EscalationReason};

pub(super) fn on_request(at: &Decision, reason: &str) -> Result<Vec<CaseEvent>, CaseError> {
    match &at.case.status {
        CaseStatus::Dispatched { at: held } | CaseStatus::Accepted { at: held, .. } => {
            required("reason", reason)?;
            one_level_up(at, held, EscalationReason::Requested, reason)
        }
        _ => Err(at.forbidden("only a dispatched or accepted case can be escalated")),
    }
}

/// The case held by `held` goes one level up, to accept under a fresh deadline there.
pub(super) fn one_level_up(
    at: &Decision,
    held: &Assignment,
    reason: EscalationReason,
    note: &str,
) -> Result<Vec<CaseEvent>, CaseError> {
    let details = at.case.details.as_ref().ok_or(CaseError::NotFound)?;
    let to_level = held.level.up().ok_or_else(|| at.forbidden("the district is the top of the ladder"))?;
    // The level above the unit that holds the case: after a transfer (一转) to a community of
    // another street, that street takes it, not the street of the reported grid.
    let unit = at
        .policy
        .unit_for(&held.unit, to_level)
        .or_else(|| at.policy.unit_for(&details.grid_code, to_level))
        .ok_or_else(|| CaseError::Invalid {
            field: "grid_code",
            reason: format!("no {to_level} unit for this grid"),
        })?;
    Ok(vec![CaseEvent::Escalated {
        from: held.level,
        to: at.assign(to_level, unit, at.accept_deadline(to_level)),
        reason,
        note: note.to_string(),
    }])
}

#[cfg(test)]
mod tests {
    use crate::case::{Assignment, CaseEvent, CaseStatus, EscalationReason};
    use crate::level::Level;
    use crate::testing::case::*;
    use chrono::Duration;

    #[test]
    fn given_a_dispatched_case_when_the_grid_asks_to_escalate_then_it_is_escalated_to_the_community() {
        let now = at(hours(1));
        let case = given(&a_dispatched_case()).at(now).when(escalate("the grid cannot settle it")).then_expect(&[
            CaseEvent::Escalated {
                from: Level::Grid,
                to: Assignment {
                    level: Level::Community,
                    unit: COMMUNITY.into(),
                    deadline: now + Duration::hours(4),
                    department: department(Level::Community, COMMUNITY),
                },
                reason: EscalationReason::Requested,
                note: "the grid cannot settle it".into(),
            },
        ]);
        assert_eq!(case.status, CaseStatus::Dispatched { at: assignment(Level::Community, now + Duration::hours(4)) });
        assert_eq!(case.escalations, 1);
    }

    #[test]
    fn given_a_case_accepted_at_the_community_when_it_asks_to_escalate_then_it_is_dispatched_to_the_street() {
        let now = at(hours(11));
        let case =
            given(&a_case_accepted_at(Level::Community)).at(now).when(escalate("needs the street")).then_expect(&[
                CaseEvent::Escalated {
                    from: Level::Community,
                    to: Assignment {
                        level: Level::Street,
                        unit: STREET.into(),
                        deadline: now + Duration::hours(8),
                        department: department(Level::Street, STREET),
                    },
                    reason: EscalationReason::Requested,
                    note: "needs the street".into(),
                },
            ]);
        assert_eq!(case.status, CaseStatus::Dispatched { at: assignment(Level::Street, now + Duration::hours(8)) });
        assert_eq!(case.escalations, 2);
    }

    #[test]
    fn given_a_case_accepted_at_the_street_when_it_asks_to_escalate_then_the_district_takes_it() {
        let now = at(hours(11));
        given(&a_case_accepted_at(Level::Street)).at(now).when(escalate("departments needed")).then_expect(&[
            CaseEvent::Escalated {
                from: Level::Street,
                to: Assignment {
                    level: Level::District,
                    unit: DISTRICT.into(),
                    deadline: now + Duration::hours(24),
                    department: department(Level::District, DISTRICT),
                },
                reason: EscalationReason::Requested,
                note: "departments needed".into(),
            },
        ]);
    }

    #[test]
    fn given_a_dispatched_case_when_it_asks_to_escalate_without_a_reason_then_the_reason_is_invalid() {
        given(&a_dispatched_case()).when(escalate("")).then_invalid("reason");
    }

    #[test]
    fn given_a_case_at_the_district_when_it_asks_to_escalate_then_it_is_forbidden_at_the_top_of_the_ladder() {
        let reason = given(&a_case_dispatched_at(Level::District)).when(escalate("higher please")).then_forbidden();
        assert!(reason.contains("top of the ladder"), "{reason}");
        let reason = given(&a_case_accepted_at(Level::District)).when(escalate("higher please")).then_forbidden();
        assert!(reason.contains("top of the ladder"), "{reason}");
        let refusal = given(&a_case_accepted_at(Level::District)).when(escalate("higher please")).then_refuse(|_| true);
        assert!(refusal.to_string().starts_with(&reason), "the cause first: {refusal}");
    }

    #[test]
    fn given_a_case_in_mediation_when_it_asks_to_escalate_then_it_is_forbidden() {
        given(&a_case_in_mediation()).when(escalate("no progress")).then_forbidden();
    }

    #[test]
    fn given_a_resolved_case_when_it_asks_to_escalate_then_it_is_forbidden() {
        given(&a_resolved_case()).when(escalate("no progress")).then_forbidden();
    }

    #[test]
    fn given_a_closed_case_when_it_asks_to_escalate_then_it_is_forbidden() {
        given(&a_closed_case()).when(escalate("no progress")).then_forbidden();
    }

    /// An escalation goes to the level above the unit that holds the case, not above the reported
    /// grid: after a transfer to a community of another street, that street takes it.
    #[test]
    fn given_a_case_transferred_to_a_community_of_another_street_when_it_is_escalated_then_that_street_takes_it() {
        let history = a_case_transferred_to(FAR_COMMUNITY, Level::Community);
        let now = at(hours(3));
        let escalation = CaseEvent::Escalated {
            from: Level::Community,
            to: Assignment {
                level: Level::Street,
                unit: FAR_STREET.into(),
                deadline: now + accept_sla(Level::Street),
                department: department(Level::Street, FAR_STREET),
            },
            reason: EscalationReason::Requested,
            note: "cannot settle".into(),
        };
        let case =
            given(&history).at(now).when(escalate("cannot settle")).then_expect(std::slice::from_ref(&escalation));
        assert_eq!(case.status.unit(), Some(FAR_STREET));
        // From there, on to the district over that street (the same district).
        let mut history = history;
        history.push(escalation);
        let now = at(hours(4));
        given(&history).at(now).when(escalate("departments needed")).then_expect(&[CaseEvent::Escalated {
            from: Level::Street,
            to: Assignment {
                level: Level::District,
                unit: DISTRICT.into(),
                deadline: now + accept_sla(Level::District),
                department: department(Level::District, DISTRICT),
            },
            reason: EscalationReason::Requested,
            note: "departments needed".into(),
        }]);
    }

    #[test]
    fn given_a_case_transferred_to_a_community_of_another_street_when_its_deadline_expires_then_that_street_takes_it() {
        let mut history = a_case_transferred_to(FAR_COMMUNITY, Level::Community);
        let deadline = at(hours(3)) + resolve_sla(Level::Community);
        history.push(CaseEvent::Accepted {
            at: Assignment {
                level: Level::Community,
                unit: FAR_COMMUNITY.into(),
                deadline,
                department: department(Level::Community, FAR_COMMUNITY),
            },
            assignee: "sun".into(),
        });
        given(&history).at(deadline).when(expire(deadline)).then_expect(&[CaseEvent::Escalated {
            from: Level::Community,
            to: Assignment {
                level: Level::Street,
                unit: FAR_STREET.into(),
                deadline: deadline + accept_sla(Level::Street),
                department: department(Level::Street, FAR_STREET),
            },
            reason: EscalationReason::DeadlineMissed,
            note: "deadline missed".into(),
        }]);
    }

    #[test]
    fn given_a_case_transferred_to_a_grid_of_another_community_when_it_is_escalated_then_that_community_takes_it() {
        let other_grid = "321012001002003";
        let history = a_case_transferred_to(other_grid, Level::Grid);
        let now = at(hours(3));
        given(&history).at(now).when(escalate("cannot settle")).then_expect(&[CaseEvent::Escalated {
            from: Level::Grid,
            to: Assignment {
                level: Level::Community,
                unit: OTHER_COMMUNITY.into(),
                deadline: now + accept_sla(Level::Community),
                department: department(Level::Community, OTHER_COMMUNITY),
            },
            reason: EscalationReason::Requested,
            note: "cannot settle".into(),
        }]);
    }

    #[test]
    fn given_a_case_transferred_to_a_community_of_the_same_street_when_it_is_escalated_then_the_same_street_takes_it() {
        let history = a_case_transferred_to(OTHER_COMMUNITY, Level::Community);
        let now = at(hours(3));
        given(&history).at(now).when(escalate("cannot settle")).then_expect(&[CaseEvent::Escalated {
            from: Level::Community,
            to: Assignment {
                level: Level::Street,
                unit: STREET.into(),
                deadline: now + accept_sla(Level::Street),
                department: department(Level::Street, STREET),
            },
            reason: EscalationReason::Requested,
            note: "cannot settle".into(),
        }]);
    }

    /// A holder whose code the policy cannot place (e.g. recorded by an older version) falls back to
    /// the unit above the reported grid.
    #[test]
    fn given_a_case_held_by_a_unit_the_policy_cannot_place_when_it_is_escalated_then_the_reported_grids_unit_takes_it()
    {
        let history = a_case_transferred_to("community-desk", Level::Community);
        let now = at(hours(3));
        given(&history).at(now).when(escalate("cannot settle")).then_expect(&[CaseEvent::Escalated {
            from: Level::Community,
            to: Assignment {
                level: Level::Street,
                unit: STREET.into(),
                deadline: now + accept_sla(Level::Street),
                department: department(Level::Street, STREET),
            },
            reason: EscalationReason::Requested,
            note: "cannot settle".into(),
        }]);
    }
}
