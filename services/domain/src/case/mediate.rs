//! Mediation (接诉即商, 商定即办): an accepted dispute goes to a mediation / deliberation session,
//! which suspends its deadline; the session's conclusion resolves the case (a signed agreement),
//! hands it back to its unit, or sends it one level up (三提).

use super::decide::{required, Decision};
use super::escalate::one_level_up;
use super::{CaseError, CaseEvent, CaseStatus, EscalationReason, MediationVerdict};
use crate::register::Group;

pub(super) fn request(
    at: &Decision,
    topic: &str,
    convenor: &str,
    register: Option<&Group>,
) -> Result<Vec<CaseEvent>, CaseError> {
    let CaseStatus::Accepted { at: held, .. } = &at.case.status else {
        return Err(at.forbidden("only an accepted case can go to mediation"));
    };
    required("topic", topic)?;
    if !at.policy.mediable(at.category) {
        return Err(at.forbidden("this category is not a matter for mediation"));
    }
    let (topic, convenor) = (topic.to_string(), convenor.trim().to_string());
    Ok(vec![CaseEvent::MediationRequested { level: held.level, topic, convenor, register: register.cloned() }])
}

pub(super) fn conclude(
    at: &Decision,
    mediation_id: &str,
    verdict: MediationVerdict,
    summary: &str,
) -> Result<Vec<CaseEvent>, CaseError> {
    let CaseStatus::InMediation { level, unit, .. } = &at.case.status else {
        return Err(at.forbidden("no mediation is open"));
    };
    required("summary", summary)?;
    let (mediation_id, summary) = (mediation_id.to_string(), summary.to_string());
    if verdict == MediationVerdict::Agreed {
        // 商定即办: the signed agreement resolves the case. The parties' signatures (签字确认) are
        // the confirmation, so no on-site verification comes in between.
        return Ok(vec![
            CaseEvent::MediationAgreed { mediation_id, summary: summary.clone() },
            CaseEvent::Resolved { level: *level, unit: unit.clone(), summary, verify_by: None },
        ]);
    }
    let back_to = at.assign(*level, unit.clone(), at.resolve_deadline(*level));
    let mut events = vec![];
    if verdict == MediationVerdict::EscalateOneLevel {
        // 三提: the council could not settle it; the level above takes the case.
        let note = format!("三提: the {level} council reached no agreement: {summary}");
        events = one_level_up(at, &back_to, EscalationReason::Requested, &note)?;
    }
    events.insert(0, CaseEvent::MediationFailed { mediation_id, summary, back_to });
    Ok(events)
}

#[cfg(test)]
mod tests {
    use crate::case::{Assignment, CaseCommand, CaseEvent, CaseStatus, EscalationReason, MediationVerdict};
    use crate::level::Level;
    use crate::register::{Group, GroupKind};
    use crate::testing::case::*;
    use chrono::Duration;

    #[test]
    fn given_an_accepted_dispute_when_mediation_is_requested_with_a_convenor_then_the_request_names_them() {
        let request = CaseCommand::RequestMediation {
            topic: "noise at night".into(),
            convenor: " 李书记 ".into(),
            register: None,
        };
        given(&an_accepted_case()).when(request).then_expect(&[CaseEvent::MediationRequested {
            level: Level::Grid,
            topic: "noise at night".into(),
            convenor: "李书记".into(),
            register: None,
        }]);
    }

    #[test]
    fn given_an_accepted_dispute_of_one_building_when_mediation_is_requested_then_the_request_names_its_register() {
        let building = Group::new(GroupKind::Building, "3号楼").unwrap();
        let request = CaseCommand::RequestMediation {
            topic: "3号楼外墙渗水".into(),
            convenor: String::new(),
            register: Some(building.clone()),
        };
        given(&an_accepted_case()).when(request).then_expect(&[CaseEvent::MediationRequested {
            level: Level::Grid,
            topic: "3号楼外墙渗水".into(),
            convenor: String::new(),
            register: Some(building),
        }]);
    }

    #[test]
    fn given_an_accepted_dispute_when_mediation_is_requested_then_it_is_in_mediation_without_a_deadline() {
        let case = given(&an_accepted_case()).when(request_mediation("noise at night")).then_expect(&[
            CaseEvent::MediationRequested {
                level: Level::Grid,
                topic: "noise at night".into(),
                convenor: String::new(),
                register: None,
            },
        ]);
        assert_eq!(
            case.status,
            CaseStatus::InMediation {
                level: Level::Grid,
                unit: GRID.into(),
                assignee: "wang".into(),
                topic: "noise at night".into()
            }
        );
        assert_eq!(case.status.deadline(), None);
        assert_eq!(case.status.level(), Some(Level::Grid));
        assert_eq!(case.status.unit(), Some(GRID));
    }

    #[test]
    fn given_an_accepted_case_when_mediation_is_requested_without_a_topic_then_the_topic_is_invalid() {
        given(&an_accepted_case()).when(request_mediation("")).then_invalid("topic");
    }

    #[test]
    fn given_an_accepted_gas_leak_when_mediation_is_requested_then_it_is_forbidden_as_not_mediable() {
        let history = vec![
            opened_as(GAS_LEAK),
            dispatched(Level::Grid, t0() + Duration::minutes(30)),
            accepted(Level::Grid, at(hours(1)) + resolve_sla(Level::Grid)),
        ];
        let reason = given(&history).when(request_mediation("who pays")).then_forbidden();
        assert!(reason.contains("mediation"), "{reason}");
    }

    #[test]
    fn given_a_dispatched_case_when_mediation_is_requested_then_it_is_forbidden() {
        given(&a_dispatched_case()).when(request_mediation("noise")).then_forbidden();
    }

    #[test]
    fn given_a_case_in_mediation_when_mediation_is_requested_again_then_it_is_forbidden() {
        given(&a_case_in_mediation()).when(request_mediation("noise")).then_forbidden();
    }

    #[test]
    fn given_a_case_in_mediation_when_the_parties_agree_then_it_is_resolved_where_it_was_mediated() {
        let mut history = a_case_accepted_at(Level::Community);
        history.push(mediation_requested(Level::Community));
        let case = given(&history).when(conclude_mediation(true, "quiet hours 22:00-07:00, signed")).then_expect(&[
            CaseEvent::MediationAgreed {
                mediation_id: "med-1".into(),
                summary: "quiet hours 22:00-07:00, signed".into(),
            },
            CaseEvent::Resolved {
                level: Level::Community,
                unit: COMMUNITY.into(),
                summary: "quiet hours 22:00-07:00, signed".into(),
                verify_by: None,
            },
        ]);
        assert_eq!(
            case.status,
            CaseStatus::Resolved {
                level: Level::Community,
                unit: COMMUNITY.into(),
                assignee: "wang".into(),
                summary: "quiet hours 22:00-07:00, signed".into()
            }
        );
    }

    #[test]
    fn given_a_case_in_mediation_when_the_parties_do_not_agree_then_it_is_back_with_its_unit_under_a_new_deadline() {
        let now = at(hours(30));
        let case =
            given(&a_case_in_mediation()).at(now).when(conclude_mediation(false, "no agreement")).then_expect(&[
                CaseEvent::MediationFailed {
                    mediation_id: "med-1".into(),
                    summary: "no agreement".into(),
                    back_to: Assignment {
                        level: Level::Grid,
                        unit: GRID.into(),
                        deadline: now + Duration::days(1),
                        department: department(Level::Grid, GRID),
                    },
                },
            ]);
        assert_eq!(
            case.status,
            CaseStatus::Accepted { at: assignment(Level::Grid, now + Duration::days(1)), assignee: "wang".into() }
        );
    }

    #[test]
    fn given_a_case_in_mediation_when_the_council_refers_it_up_then_it_is_escalated_one_level() {
        let now = at(hours(30));
        let command = CaseCommand::ConcludeMediation {
            mediation_id: "med-1".into(),
            verdict: MediationVerdict::EscalateOneLevel,
            summary: "no agreement".into(),
        };
        let case = given(&a_case_in_mediation()).at(now).when(command).then_expect(&[
            CaseEvent::MediationFailed {
                mediation_id: "med-1".into(),
                summary: "no agreement".into(),
                back_to: assignment(Level::Grid, now + Duration::days(1)),
            },
            CaseEvent::Escalated {
                from: Level::Grid,
                to: assignment(Level::Community, now + Duration::hours(4)),
                reason: EscalationReason::Requested,
                note: "三提: the grid council reached no agreement: no agreement".into(),
            },
        ]);
        assert_eq!(case.status, CaseStatus::Dispatched { at: assignment(Level::Community, now + Duration::hours(4)) });
    }

    #[test]
    fn given_a_case_in_mediation_when_an_agreement_without_a_summary_is_recorded_then_the_summary_is_invalid() {
        given(&a_case_in_mediation()).when(conclude_mediation(true, "")).then_invalid("summary");
        given(&a_case_in_mediation()).when(conclude_mediation(true, "  ")).then_invalid("summary");
    }

    #[test]
    fn given_a_case_in_mediation_when_a_failure_without_a_summary_is_recorded_then_the_summary_is_invalid() {
        given(&a_case_in_mediation()).when(conclude_mediation(false, "")).then_invalid("summary");
        given(&a_case_in_mediation()).when(conclude_mediation(false, " ")).then_invalid("summary");
    }

    #[test]
    fn given_an_accepted_case_when_a_mediation_is_concluded_then_it_is_forbidden() {
        given(&an_accepted_case()).when(conclude_mediation(true, "agreed")).then_forbidden();
    }

    #[test]
    fn given_a_resolved_case_when_a_mediation_is_concluded_then_it_is_forbidden() {
        given(&a_resolved_case()).when(conclude_mediation(false, "no agreement")).then_forbidden();
    }
}
