//! How a council ends: an agreement executed after its notice period (商定即办), no agreement
//! (escalated one level, 三提, or referred to litigation), or a consultation recorded.
//! Agreements and consultations are followed up (监督). Informal mediation is in `informal`.

use super::decide::{invalid, required, Step};
use super::{MediationError, MediationEvent, Outcome, Referral, Stage};

pub(super) fn execute(at: &Step) -> Result<Vec<MediationEvent>, MediationError> {
    let notice = match at.stage {
        Stage::InNotice(notice) => notice,
        Stage::Contested(_) | Stage::Suspended { .. } => {
            return Err(at.refused("residents objected: the council must reconsider first"))
        }
        _ => return Err(at.refused("only a signed and published agreement is executed")),
    };
    if at.now < notice.until {
        return Err(at.refused(format!("execution waits for the notice period (until {})", notice.until)));
    }
    Ok(vec![
        MediationEvent::Concluded {
            outcome: Outcome::Agreed,
            summary: notice.motion.clone(),
            signed_by: notice.signed_by.clone(),
        },
        at.follow_up_scheduled(),
    ])
}

pub(super) fn without_agreement(
    at: &Step,
    referral: Referral,
    summary: &str,
) -> Result<Vec<MediationEvent>, MediationError> {
    if !matches!(at.stage, Stage::Deliberating { .. } | Stage::Decided { .. }) {
        return Err(at.refused("a session without agreement is recorded after it sat"));
    }
    required("summary", summary)?;
    match referral {
        Referral::BackToUnit => {
            return Err(invalid("referral", "a council without agreement escalates or refers to litigation"))
        }
        Referral::EscalateOneLevel if at.session.level.up().is_none() => {
            return Err(at.refused("the street council is the highest; refer to litigation"))
        }
        _ => {}
    }
    let outcome = Outcome::Failed(referral);
    Ok(vec![MediationEvent::Concluded { outcome, summary: summary.to_string(), signed_by: vec![] }])
}

pub(super) fn consultation(at: &Step, summary: &str) -> Result<Vec<MediationEvent>, MediationError> {
    if !matches!(at.stage, Stage::Deliberating { .. }) {
        return Err(at.refused("a consultation is recorded while it sits"));
    }
    required("summary", summary)?;
    if at.session.kind.votes() {
        return Err(at.refused("a deliberation or decision matter ends in a vote"));
    }
    Ok(vec![
        MediationEvent::Concluded { outcome: Outcome::Consultation, summary: summary.to_string(), signed_by: vec![] },
        at.follow_up_scheduled(),
    ])
}

#[cfg(test)]
mod tests {
    use crate::ids::CaseId;
    use crate::mediation::{
        MatterKind, MediationCommand, MediationError, MediationEvent, Origin, Outcome, Referral, SessionLevel,
    };
    use crate::testing::mediation::*;
    use crate::Duration;
    use uuid::Uuid;

    #[test]
    fn given_a_deliberation_matter_when_it_is_recorded_as_a_consultation_then_it_is_refused() {
        let cmd = MediationCommand::RecordConsultation { summary: "views heard".into() };
        given(&sitting()).when(cmd).then_forbidden_in("deliberating", "ends in a vote");
    }

    #[test]
    fn given_an_agreement_in_notice_when_the_notice_period_is_over_then_it_is_executed_as_agreed() {
        let now = t0() + Duration::days(7);
        let events = given(&in_notice()).at(now).when(MediationCommand::Execute).then_accept();
        assert_eq!(
            events,
            vec![
                MediationEvent::Concluded {
                    outcome: Outcome::Agreed,
                    summary: "quiet hours from 22:00".into(),
                    signed_by: names(&["Zhang", "Li"]),
                },
                MediationEvent::FollowUpScheduled { due: now + Duration::days(15) },
            ]
        );
        let mut after = in_notice();
        after.extend(events);
        assert_eq!(stage_of(&after), "concluded");
        given(&after).when(MediationCommand::Execute).then_refuse(|e| *e == MediationError::AlreadyConcluded);
    }

    #[test]
    fn given_an_agreement_in_notice_when_executed_before_the_notice_period_ends_then_it_is_refused() {
        let early = t0() + Duration::days(7) - Duration::seconds(1);
        given(&in_notice())
            .at(early)
            .when(MediationCommand::Execute)
            .then_forbidden_in("in_notice", "waits for the notice period");
    }

    #[test]
    fn given_a_contested_agreement_when_executed_then_it_is_refused() {
        given(&contested())
            .at(t0() + Duration::days(8))
            .when(MediationCommand::Execute)
            .then_forbidden_in("contested", "reconsider");
    }

    #[test]
    fn given_a_sitting_session_when_executed_then_it_is_refused() {
        given(&sitting()).when(MediationCommand::Execute).then_forbidden_in("deliberating", "signed and published");
    }

    #[test]
    fn given_a_session_without_agreement_when_it_escalates_or_refers_to_litigation_then_it_concludes_failed() {
        for referral in [Referral::EscalateOneLevel, Referral::Litigation] {
            let cmd = MediationCommand::RecordNoAgreement { referral, summary: "no agreement".into() };
            let events = given(&sitting()).when(cmd.clone()).then_accept();
            assert!(
                matches!(&events[..], [MediationEvent::Concluded { outcome: Outcome::Failed(r), .. }] if *r == referral)
            );
            // Parties who will not sign a carried motion end the same way.
            given(&decided()).when(cmd).then_accept();
        }
    }

    #[test]
    fn given_a_street_session_without_agreement_when_it_escalates_then_it_is_refused() {
        let mut events = sitting();
        events[0] = MediationEvent::Opened {
            origin: Origin::Case { case_id: CaseId(Uuid::nil()) },
            level: SessionLevel::Street,
            topic: "noise".into(),
            kind: MatterKind::Deliberation,
            professional: None,
            convenor: "Chair".into(),
            register: None,
        };
        let cmd = MediationCommand::RecordNoAgreement { referral: Referral::EscalateOneLevel, summary: "x".into() };
        given(&events).when(cmd).then_forbidden_in("deliberating", "highest");
        let back = MediationCommand::RecordNoAgreement { referral: Referral::BackToUnit, summary: "x".into() };
        given(&events).when(back).then_invalid("referral");
    }

    #[test]
    fn given_a_notified_session_when_no_agreement_is_recorded_then_it_is_refused() {
        let cmd = MediationCommand::RecordNoAgreement { referral: Referral::Litigation, summary: "x".into() };
        given(&notified()).when(cmd).then_forbidden_in("notified", "after it sat");
    }
}
