//! Invitations and 告知: participants are invited by role while the topic is proposed, then told
//! the topic, time and place once. A dispute needs its parties, a professional matter its
//! professional, and the chair stays neutral.

use super::decide::{invalid, required, Step};
use super::{MediationError, MediationEvent, Participant, Role, Stage};

pub(super) fn invite(at: &Step, participant: &Participant) -> Result<Vec<MediationEvent>, MediationError> {
    if !matches!(at.stage, Stage::Proposed | Stage::Notified) {
        return Err(at.refused("participants are invited before the session sits"));
    }
    required("name", &participant.name)?;
    if participant.role == Role::Convenor {
        return Err(invalid("role", "the session has its convenor already"));
    }
    if let Some(existing) = at.session.invited(&participant.name) {
        if existing.role == Role::Convenor && participant.role == Role::Party {
            return Err(at.refused("the chair is neutral: the convenor cannot be a party"));
        }
        return Err(at.refused(format!("{} is invited already", participant.name)));
    }
    Ok(vec![MediationEvent::Invited { participant: participant.clone() }])
}

pub(super) fn notify(at: &Step) -> Result<Vec<MediationEvent>, MediationError> {
    if *at.stage != Stage::Proposed {
        return Err(at.refused("participants are notified once, after the topic is proposed"));
    }
    let session = at.session;
    if session.origin.case_id().is_some() && session.parties().next().is_none() {
        return Err(at.refused("a dispute needs its parties invited"));
    }
    if let Some(role) = session.professional {
        if !session.participants.iter().any(|p| p.role == role) {
            return Err(at.refused(format!("a professional matter needs a {role:?} invited")));
        }
    }
    if session.participants.len() < 2 {
        return Err(at.refused("nobody is invited besides the convenor"));
    }
    Ok(vec![MediationEvent::Notified])
}

#[cfg(test)]
mod tests {
    use crate::mediation::{MatterKind, MediationCommand, MediationEvent, Role};
    use crate::testing::mediation::*;

    #[test]
    fn given_a_proposed_session_when_participants_are_invited_then_they_join_by_role() {
        let state = given(&[opened()]).when(invite("Zhang", Role::Party)).then_expect(&[invited("Zhang", Role::Party)]);
        assert_eq!(state.session().unwrap().participants.len(), 2);
    }

    #[test]
    fn given_a_proposed_session_when_someone_is_invited_twice_or_the_convenor_as_a_party_then_it_is_refused() {
        let events = [opened(), invited("Zhang", Role::Party)];
        given(&events).when(invite("Zhang", Role::GridWorker)).then_forbidden_in("proposed", "invited already");
        given(&events).when(invite("Chair", Role::Party)).then_forbidden_in("proposed", "neutral");
        given(&events).when(invite("Other", Role::Convenor)).then_invalid("role");
        given(&events).when(invite(" ", Role::GridWorker)).then_invalid("name");
    }

    #[test]
    fn given_a_sitting_session_when_someone_is_invited_then_it_is_refused() {
        let late = invite("Late", Role::CppccMember);
        given(&sitting()).when(late).then_forbidden_in("deliberating", "before the session sits");
    }

    #[test]
    fn given_invited_parties_when_participants_are_notified_then_the_session_is_notified() {
        let events = &notified()[..5];
        given(events).when(MediationCommand::Notify).then_expect(&[MediationEvent::Notified]);
        assert_eq!(stage_of(&notified()), "notified");
    }

    #[test]
    fn given_a_dispute_without_parties_when_notified_then_it_is_refused() {
        let events = [opened(), invited("Wang", Role::GridWorker)];
        given(&events).when(MediationCommand::Notify).then_forbidden_in("proposed", "parties");
    }

    #[test]
    fn given_a_professional_matter_without_the_professional_invited_when_notified_then_it_is_refused() {
        let events =
            [opened_with(MatterKind::Deliberation, Some(Role::PropertyCompany)), invited("Zhang", Role::Party)];
        given(&events).when(MediationCommand::Notify).then_forbidden_in("proposed", "PropertyCompany invited");
    }

    #[test]
    fn given_a_notified_session_when_notified_again_then_it_is_refused() {
        given(&notified()).when(MediationCommand::Notify).then_forbidden_in("notified", "once");
    }
}
