//! Informal mediation (入户商, 现场商): the parties settle, or fail to, without the council
//! voting and publishing. A session the council reconsidered (复议) after residents objected
//! cannot end that way: the objection is answered only by sitting, voting and publishing again,
//! or by recording that no agreement was reached.

use super::decide::{invalid, required, Step};
use super::{MediationError, MediationEvent, Outcome, Referral, Stage};

pub(super) fn conclude(
    at: &Step,
    agreed: bool,
    summary: &str,
    signed_by: &[String],
) -> Result<Vec<MediationEvent>, MediationError> {
    if !matches!(at.stage, Stage::Proposed | Stage::Notified | Stage::Deliberating { .. }) {
        return Err(at.refused("a council that decided concludes through its notice or its referral"));
    }
    if at.session.reconsiderations > 0 {
        return Err(at.refused(
            "residents objected and the council reconsiders: it must sit, vote and publish again \
             (or record that no agreement was reached)",
        ));
    }
    required("summary", summary)?;
    if agreed && signed_by.iter().all(|s| s.trim().is_empty()) {
        return Err(invalid("signed_by", "an agreement must be signed by the parties"));
    }
    let outcome = if agreed { Outcome::Agreed } else { Outcome::Failed(Referral::BackToUnit) };
    Ok(vec![MediationEvent::Concluded { outcome, summary: summary.to_string(), signed_by: signed_by.to_vec() }])
}

#[cfg(test)]
mod tests {
    use crate::mediation::{MediationCommand, MediationError, MediationEvent, Outcome, Referral, Statement};
    use crate::testing::mediation::*;
    use crate::Duration;

    fn conclude(agreed: bool, signed_by: &[&str]) -> MediationCommand {
        MediationCommand::Conclude { agreed, summary: "quiet hours agreed".into(), signed_by: names(signed_by) }
    }

    /// Residents objected by one fifth and the council decided to reconsider (复议).
    fn reconsidering() -> Vec<MediationEvent> {
        let mut events = contested();
        events.push(MediationEvent::Reconsidered { reason: "复议会".into() });
        events
    }

    #[test]
    fn given_an_open_session_when_the_parties_sign_then_it_concludes_agreed() {
        let events = given(&[opened()]).when(conclude(true, &["Zhang", "Li"])).then_accept();
        assert!(
            matches!(&events[..], [MediationEvent::Concluded { outcome: Outcome::Agreed, signed_by, .. }] if signed_by.len() == 2)
        );
    }

    #[test]
    fn given_an_open_session_when_an_agreement_has_no_signatures_then_it_is_refused() {
        given(&[opened()]).when(conclude(true, &[])).then_invalid("signed_by");
    }

    #[test]
    fn given_an_open_session_when_it_fails_then_the_case_goes_back_to_its_unit() {
        let events = given(&[opened()]).when(conclude(false, &[])).then_accept();
        assert!(matches!(
            &events[..],
            [MediationEvent::Concluded { outcome: Outcome::Failed(Referral::BackToUnit), .. }]
        ));
    }

    #[test]
    fn given_a_decided_or_concluded_session_when_it_is_concluded_informally_then_it_is_refused() {
        given(&decided()).when(conclude(false, &[])).then_forbidden_in("decided", "notice or its referral");
        let done = MediationEvent::Concluded {
            outcome: Outcome::Failed(Referral::BackToUnit),
            summary: "x".into(),
            signed_by: vec![],
        };
        given(&[opened(), done]).when(conclude(false, &[])).then_refuse(|e| *e == MediationError::AlreadyConcluded);
    }

    #[test]
    fn given_a_reconsidered_session_when_it_is_concluded_as_agreed_then_it_is_refused() {
        assert_eq!(stage_of(&reconsidering()), "notified");
        given(&reconsidering())
            .at(t0() + Duration::days(8))
            .when(conclude(true, &["Zhang", "Li"]))
            .then_forbidden_in("notified", "sit, vote and publish again");
        given(&reconsidering()).when(conclude(false, &[])).then_forbidden_in("notified", "sit, vote and publish again");
    }

    #[test]
    fn given_a_reconsidered_session_sitting_again_when_it_is_concluded_as_agreed_then_it_is_refused() {
        let mut events = reconsidering();
        events.push(MediationEvent::DeliberationOpened { present: names(&["Chair", "Zhang", "Li"]) });
        given(&events).when(conclude(true, &["Zhang", "Li"])).then_forbidden_in("deliberating", "vote and publish");
    }

    #[test]
    fn given_a_reconsidered_session_when_it_sits_votes_and_publishes_again_then_the_agreement_is_executed() {
        let mut events = reconsidering();
        events.push(MediationEvent::DeliberationOpened { present: names(&["Chair", "Zhang", "Li"]) });
        let say = MediationCommand::MakeStatement {
            statement: Statement { speaker: "Li".into(), text: "weekends too".into() },
        };
        events.extend(given(&events).when(say).then_accept());
        let vote = MediationCommand::PutMotion {
            motion: "quiet hours from 22:00, weekends too".into(),
            yes: names(&["Chair", "Zhang", "Li"]),
            no: vec![],
            abstain: vec![],
        };
        events.extend(given(&events).when(vote).then_accept());
        let sign = MediationCommand::SignAgreement { signed_by: names(&["Zhang", "Li"]), residents_concerned: 10 };
        events.extend(given(&events).when(sign).then_accept());
        assert_eq!(stage_of(&events), "in_notice");
        let executed = given(&events).at(t0() + Duration::days(7)).when(MediationCommand::Execute).then_accept();
        assert!(matches!(&executed[0], MediationEvent::Concluded { outcome: Outcome::Agreed, .. }));
    }
}
