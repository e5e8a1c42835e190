//! Verify (核查): the grid worker checks a resolution on site. A pass lets the reporter be asked;
//! a failure sends the case back to the unit that resolved it, for rework under a new deadline.

use super::decide::{required, Decision};
use super::{CaseError, CaseEvent, CaseStatus};

pub(super) fn decide(at: &Decision, verifier: &str, passed: bool, note: &str) -> Result<Vec<CaseEvent>, CaseError> {
    let CaseStatus::AwaitingVerification { level, unit, .. } = &at.case.status else {
        return Err(at.forbidden("only a resolved case whose category requires it is verified"));
    };
    required("verifier", verifier)?;
    let verified =
        CaseEvent::Verified { level: *level, verifier: verifier.to_string(), passed, note: note.to_string() };
    if passed {
        return Ok(vec![verified]);
    }
    // 核查未通过: rework at the unit that resolved it, under a fresh deadline.
    if note.trim().is_empty() {
        return Err(CaseError::Invalid {
            field: "note",
            reason: "say what the verification found: it is the reason of the rework".into(),
        });
    }
    let reason = format!("核查未通过 (verification failed): {note}");
    let rework = at.assign(*level, unit.clone(), at.resolve_deadline(*level));
    Ok(vec![verified, CaseEvent::Reopened { at: rework, reason }])
}

#[cfg(test)]
mod tests {
    use crate::case::{Assignment, CaseCommand, CaseEvent, CaseStatus, OnTimeVerdict, Satisfaction};
    use crate::level::Level;
    use crate::testing::case::*;

    #[test]
    fn given_a_case_awaiting_verification_when_the_check_passes_then_it_waits_for_the_evaluation_and_closes_there() {
        let history = a_gas_leak_awaiting_verification();
        let case = given(&history)
            .when(verify(true, "no smell, valve sealed"))
            .then_expect(&[verified(true, "no smell, valve sealed")]);
        assert_eq!(
            case.status,
            CaseStatus::Resolved {
                level: Level::Community,
                unit: COMMUNITY.into(),
                assignee: "wang".into(),
                summary: "valve replaced".into()
            }
        );
        let mut history = history;
        history.push(verified(true, "no smell, valve sealed"));
        let case = given(&history).when(evaluate(Satisfaction::Satisfied, "thanks", false)).then_expect(&[
            CaseEvent::Evaluated {
                satisfaction: Satisfaction::Satisfied,
                comment: "thanks".into(),
                defaulted: false,
                evaluated_by: Some(the_hotline()),
            },
            CaseEvent::Closed {
                level: Level::Community,
                satisfaction: Some(Satisfaction::Satisfied),
                on_time: OnTimeVerdict::ByDeadline,
            },
        ]);
        assert!(case.status.is_terminal());
    }

    #[test]
    fn given_a_case_awaiting_verification_when_the_check_fails_then_the_resolving_unit_reworks_it_under_a_new_deadline()
    {
        let now = at(hours(30));
        let case = given(&a_gas_leak_awaiting_verification())
            .at(now)
            .when(verify(false, "still smells of gas"))
            .then_expect(&[
                verified(false, "still smells of gas"),
                CaseEvent::Reopened {
                    at: Assignment {
                        level: Level::Community,
                        unit: COMMUNITY.into(),
                        deadline: now + resolve_sla(Level::Community),
                        department: None,
                    },
                    reason: "核查未通过 (verification failed): still smells of gas".into(),
                },
            ]);
        assert_eq!(case.status.name(), "accepted");
        assert_eq!(case.status.deadline(), Some(now + resolve_sla(Level::Community)));
        assert_eq!((case.reopen_count, case.escalations), (1, 1), "rework, not an escalation");
        match &case.status {
            CaseStatus::Accepted { assignee, .. } => assert_eq!(assignee, "wang", "the same handler reworks it"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn given_a_case_awaiting_verification_when_a_failure_is_recorded_without_a_note_then_the_note_is_invalid() {
        given(&a_gas_leak_awaiting_verification()).when(verify(false, " ")).then_invalid("note");
        // A pass needs no note.
        given(&a_gas_leak_awaiting_verification()).when(verify(true, "")).then_expect(&[verified(true, "")]);
    }

    #[test]
    fn given_a_case_awaiting_verification_when_nobody_is_named_as_verifier_then_the_verifier_is_invalid() {
        let command = CaseCommand::Verify { verifier: "  ".into(), passed: true, note: "ok".into() };
        given(&a_gas_leak_awaiting_verification()).when(command).then_invalid("verifier");
    }

    #[test]
    fn given_a_case_not_awaiting_verification_when_it_is_verified_then_it_is_forbidden() {
        given(&a_resolved_case()).when(verify(true, "fine")).then_forbidden();
        given(&a_gas_leak_accepted_at_the_community()).when(verify(true, "fine")).then_forbidden();
        given(&a_closed_case()).when(verify(true, "fine")).then_forbidden();
    }
}
