//! 云票选: once the matter was discussed, the council opens a ballot on a motion; everyone
//! invited but the chair (who stays neutral) votes once, from their own device, until the
//! convenor closes it. The ballot is quorate when the council's quorum share of those eligible
//! voted, and carries on a simple majority of those who voted. Those invited to speak for the
//! residents (居民代表) vote only if the register of the residents concerned — the area's, or the
//! building's or courtyard's the session names — holds them, when one is kept: a building's
//! matter is voted by its own residents.

use super::decide::{required, Step};
use super::{Choice, MediationError, MediationEvent, Participant, Role, Stage};
use crate::register::Register;

/// Whether `participant` may vote in the session's ballot, given the register of the residents
/// concerned (none kept: everyone invited votes). The chair stays neutral.
fn eligible(participant: &Participant, concerned: Option<&Register>) -> bool {
    match participant.role {
        Role::Convenor => false,
        Role::ResidentRepresentative => concerned.is_none_or(|register| register.contains(&participant.name)),
        _ => true,
    }
}

pub(super) fn open(
    at: &Step,
    motion: &str,
    secret: bool,
    concerned: Option<&Register>,
) -> Result<Vec<MediationEvent>, MediationError> {
    let Stage::Deliberating { statements, ballot, .. } = at.stage else {
        return Err(at.refused("a ballot is opened while the session sits"));
    };
    required("motion", motion)?;
    if !at.session.kind.votes() {
        return Err(at.refused("a consultation or hearing is recorded, not voted"));
    }
    if ballot.is_some() {
        return Err(at.refused("a ballot is open already"));
    }
    if statements.is_empty() {
        return Err(at.refused("the matter must be discussed before the vote"));
    }
    let eligible: Vec<String> = (at.session.participants.iter())
        .filter(|p| p.name != at.session.convenor && eligible(p, concerned))
        .map(|p| p.name.clone())
        .collect();
    Ok(vec![MediationEvent::BallotOpened { motion: motion.to_string(), secret, eligible }])
}

pub(super) fn cast(at: &Step, voter: &str, choice: Choice) -> Result<Vec<MediationEvent>, MediationError> {
    let Stage::Deliberating { ballot: Some(ballot), .. } = at.stage else {
        return Err(at.refused("no ballot is open"));
    };
    if !ballot.eligible.iter().any(|name| name == voter) {
        let invited = at.session.invited(voter).is_some_and(|p| p.role == Role::ResidentRepresentative);
        return Err(at.refused(if invited {
            format!("{voter} is not registered among the residents concerned")
        } else {
            format!("{voter} is not invited to vote")
        }));
    }
    if ballot.cast.iter().any(|(name, _)| name == voter) {
        return Err(at.refused(format!("{voter} has voted already")));
    }
    Ok(vec![MediationEvent::BallotCast { voter: voter.to_string(), choice }])
}

pub(super) fn close(at: &Step) -> Result<Vec<MediationEvent>, MediationError> {
    let Stage::Deliberating { ballot: Some(ballot), .. } = at.stage else {
        return Err(at.refused("no ballot is open"));
    };
    let (yes, no, abstain) = ballot.tally();
    let (cast, eligible) = (ballot.cast.len() as u64, ballot.eligible.len() as u64);
    let quorate = cast > 0 && cast * 100 >= u64::from(at.rules.quorum_percent) * eligible;
    let carried = quorate && u64::from(yes) * 2 > cast;
    Ok(vec![MediationEvent::BallotClosed {
        motion: ballot.motion.clone(),
        yes,
        no,
        abstain,
        eligible: eligible as u32,
        quorate,
        carried,
    }])
}

#[cfg(test)]
mod tests {
    use crate::mediation::{Choice, MediationCommand, MediationEvent, Role};
    use crate::register::Register;
    use crate::testing::mediation::*;

    /// A sitting session with six residents invited besides the parties and the professionals:
    /// ten eligible voters.
    fn ballot_open(secret: bool) -> Vec<MediationEvent> {
        let mut events = notified();
        events.truncate(events.len() - 1);
        for i in 1..=6 {
            events.push(invited(&format!("r{i}"), Role::ResidentRepresentative));
        }
        events.push(MediationEvent::Notified);
        events.push(MediationEvent::DeliberationOpened { present: names(&["Chair", "Zhang", "Li", "Wang", "Zhao"]) });
        events.push(MediationEvent::StatementMade {
            statement: crate::mediation::Statement { speaker: "Zhang".into(), text: "x".into() },
        });
        let open = MediationCommand::OpenBallot { motion: "quiet hours from 22:00".into(), secret, concerned: None };
        events.extend(given(&events).when(open).then_accept());
        events
    }

    fn vote(events: &mut Vec<MediationEvent>, voter: &str, choice: Choice) {
        let cast = MediationCommand::CastBallot { voter: voter.into(), choice };
        events.extend(given(events).when(cast).then_accept());
    }

    fn closed(events: &[MediationEvent]) -> MediationEvent {
        given(events).when(MediationCommand::CloseBallot).then_accept().remove(0)
    }

    #[test]
    fn given_a_session_when_a_ballot_opens_then_everyone_invited_but_the_chair_may_vote() {
        let events = ballot_open(false);
        let Some(MediationEvent::BallotOpened { eligible, .. }) = events.last() else { panic!("{events:?}") };
        assert_eq!(eligible.len(), 10);
        assert!(!eligible.contains(&"Chair".to_string()), "the chair stays neutral");
    }

    #[test]
    fn given_an_open_ballot_when_a_simple_majority_of_voters_says_yes_then_the_motion_carries() {
        let mut events = ballot_open(true);
        for (voter, choice) in [("r1", Choice::Yes), ("r2", Choice::Yes), ("r3", Choice::Yes), ("r4", Choice::No)] {
            vote(&mut events, voter, choice);
        }
        vote(&mut events, "r5", Choice::Abstain);
        let close = closed(&events);
        assert_eq!(
            close,
            MediationEvent::BallotClosed {
                motion: "quiet hours from 22:00".into(),
                yes: 3,
                no: 1,
                abstain: 1,
                eligible: 10,
                quorate: true,
                carried: true
            }
        );
        events.push(close);
        assert_eq!(stage_of(&events), "decided");
        // The parties sign the carried motion as after a show of hands.
        given(&events).when(sign(&["Zhang", "Li"], 50)).then_accept();
    }

    #[test]
    fn given_an_open_ballot_when_half_say_yes_then_it_fails_and_the_session_sits_on() {
        let mut events = ballot_open(false);
        for (voter, choice) in [("r1", Choice::Yes), ("r2", Choice::Yes), ("r3", Choice::No), ("r4", Choice::No)] {
            vote(&mut events, voter, choice);
        }
        vote(&mut events, "r5", Choice::Abstain);
        vote(&mut events, "r6", Choice::Yes);
        let close = closed(&events);
        assert!(matches!(close, MediationEvent::BallotClosed { quorate: true, carried: false, yes: 3, .. }));
        events.push(close);
        assert_eq!(stage_of(&events), "deliberating");
        let again =
            MediationCommand::OpenBallot { motion: "quiet hours from 23:00".into(), secret: false, concerned: None };
        given(&events).when(again).then_accept();
    }

    #[test]
    fn given_an_open_ballot_when_fewer_than_the_quorum_vote_then_even_unanimous_yes_does_not_carry() {
        let mut events = ballot_open(false);
        for voter in ["r1", "r2", "r3", "r4"] {
            vote(&mut events, voter, Choice::Yes);
        }
        // 4 of 10 eligible is under the 50% quorum.
        assert!(matches!(closed(&events), MediationEvent::BallotClosed { quorate: false, carried: false, .. }));
        vote(&mut events, "r5", Choice::Yes);
        assert!(matches!(closed(&events), MediationEvent::BallotClosed { quorate: true, carried: true, .. }));
    }

    #[test]
    fn given_an_open_ballot_when_someone_votes_twice_or_is_not_invited_then_it_is_refused() {
        let mut events = ballot_open(false);
        vote(&mut events, "r1", Choice::Yes);
        let twice = MediationCommand::CastBallot { voter: "r1".into(), choice: Choice::No };
        given(&events).when(twice).then_forbidden_in("deliberating", "voted already");
        let stranger = MediationCommand::CastBallot { voter: "r99".into(), choice: Choice::Yes };
        given(&events).when(stranger).then_forbidden_in("deliberating", "not invited");
        let chair = MediationCommand::CastBallot { voter: "Chair".into(), choice: Choice::Yes };
        given(&events).when(chair).then_forbidden_in("deliberating", "not invited");
        let second = MediationCommand::OpenBallot { motion: "another".into(), secret: false, concerned: None };
        given(&events).when(second).then_forbidden_in("deliberating", "open already");
    }

    #[test]
    fn given_a_building_session_when_a_ballot_opens_then_only_the_representatives_its_register_holds_vote() {
        let mut events = ballot_open(false);
        events.pop();
        let building: Register = names(&["r1", "r2", "r3"]).into_iter().collect();
        let open = MediationCommand::OpenBallot { motion: "m".into(), secret: false, concerned: Some(building) };
        let opened = given(&events).when(open).then_accept();
        let [MediationEvent::BallotOpened { eligible, .. }] = &opened[..] else { panic!("{opened:?}") };
        assert_eq!(
            eligible,
            &names(&["Zhang", "Li", "Wang", "Zhao", "r1", "r2", "r3"]),
            "parties and professionals too"
        );
        events.extend(opened);
        vote(&mut events, "r3", Choice::Yes);
        let outsider = MediationCommand::CastBallot { voter: "r4".into(), choice: Choice::Yes };
        given(&events).when(outsider).then_forbidden_in("deliberating", "not registered among the residents concerned");
    }

    #[test]
    fn given_a_closed_ballot_or_none_when_a_vote_is_cast_or_it_is_closed_then_it_is_refused() {
        let cast = MediationCommand::CastBallot { voter: "r1".into(), choice: Choice::Yes };
        given(&sitting()).when(cast.clone()).then_forbidden_in("deliberating", "no ballot");
        given(&sitting()).when(MediationCommand::CloseBallot).then_forbidden_in("deliberating", "no ballot");
        let mut events = ballot_open(false);
        vote(&mut events, "r1", Choice::Yes);
        events.push(closed(&events));
        given(&events)
            .when(MediationCommand::CastBallot { voter: "r2".into(), choice: Choice::Yes })
            .then_refuse(|_| true);
        let unsaid = MediationCommand::OpenBallot { motion: "m".into(), secret: false, concerned: None };
        given(&sitting_in_three()).when(unsaid).then_forbidden_in("deliberating", "discussed");
    }
}
