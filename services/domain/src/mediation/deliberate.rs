//! 协商: the session sits with a quorum of those invited, the convenor in the chair and, for a
//! professional matter, the professional present; each present participant speaks within the
//! limited turns (限时限次).

use super::decide::{check_names, invalid, required, Step};
use super::{MediationError, MediationEvent, Stage, Statement};

pub(super) fn sit(at: &Step, present: &[String]) -> Result<Vec<MediationEvent>, MediationError> {
    if *at.stage != Stage::Notified {
        return Err(at.refused("the session sits once its participants are notified"));
    }
    if present.is_empty() {
        return Err(invalid("present", "must name who attended"));
    }
    let session = at.session;
    let invited = at.invited();
    check_names("present", present, &invited, "invited")?;
    if !present.contains(&session.convenor) {
        return Err(at.refused("the convenor must chair the session"));
    }
    let quorum = at.rules.quorum_percent;
    if (present.len() as u64) * 100 < u64::from(quorum) * invited.len() as u64 {
        let (present, invited) = (present.len(), invited.len());
        return Err(at.refused(format!("no quorum: {present} of {invited} invited present, {quorum}% needed")));
    }
    if let Some(role) = session.professional {
        let there = present.iter().any(|name| session.invited(name).is_some_and(|p| p.role == role));
        if !there {
            return Err(at.refused(format!("a professional matter needs a {role:?} present")));
        }
    }
    Ok(vec![MediationEvent::DeliberationOpened { present: present.to_vec() }])
}

pub(super) fn speak(at: &Step, statement: &Statement) -> Result<Vec<MediationEvent>, MediationError> {
    let Stage::Deliberating { present, statements, .. } = at.stage else {
        return Err(at.refused("statements are made while the session sits"));
    };
    required("text", &statement.text)?;
    check_names("speaker", [&statement.speaker], present, "present")?;
    let turns = statements.iter().filter(|s| s.speaker == statement.speaker).count() as u64;
    let max_turns = at.rules.max_turns;
    if turns >= u64::from(max_turns) {
        return Err(at.refused(format!("{} has used all {max_turns} turns", statement.speaker)));
    }
    Ok(vec![MediationEvent::StatementMade { statement: statement.clone() }])
}

#[cfg(test)]
mod tests {
    use crate::mediation::{MatterKind, MediationCommand, MediationEvent, MediationRules, Role};
    use crate::testing::mediation::*;

    #[test]
    fn given_a_notified_session_when_a_quorum_attends_then_it_sits() {
        let present = names(&["Chair", "Zhang", "Li"]);
        let cmd = MediationCommand::OpenDeliberation { present: present.clone() };
        given(&notified()).when(cmd).then_expect(&[MediationEvent::DeliberationOpened { present }]);
    }

    #[test]
    fn given_a_notified_session_when_fewer_than_the_quorum_attend_then_it_is_refused() {
        // 2 of 5 invited is 40%, under the 50% quorum.
        let cmd = MediationCommand::OpenDeliberation { present: names(&["Chair", "Zhang"]) };
        given(&notified()).when(cmd.clone()).then_forbidden_in("notified", "no quorum");
        // The quorum is configurable: at 40% the same attendance sits.
        let lower = MediationRules { quorum_percent: 40, ..rules() };
        given_under(&council(lower), &notified()).when(cmd).then_accept();
    }

    #[test]
    fn given_a_notified_session_when_the_convenor_is_absent_or_a_stranger_attends_then_it_is_refused() {
        let absent_chair = MediationCommand::OpenDeliberation { present: names(&["Zhang", "Li", "Wang"]) };
        given(&notified()).when(absent_chair).then_forbidden_in("notified", "convenor");
        let stranger = MediationCommand::OpenDeliberation { present: names(&["Chair", "Zhang", "Stranger"]) };
        given(&notified()).when(stranger).then_invalid("present");
        let twice = MediationCommand::OpenDeliberation { present: names(&["Chair", "Zhang", "Zhang"]) };
        given(&notified()).when(twice).then_invalid("present");
    }

    #[test]
    fn given_a_professional_matter_when_the_professional_is_absent_then_it_does_not_sit() {
        let mut events = vec![opened_with(MatterKind::Decision, Some(Role::LegalWorker))];
        events.extend(notified().into_iter().skip(1));
        let without = MediationCommand::OpenDeliberation { present: names(&["Chair", "Zhang", "Li"]) };
        given(&events).when(without).then_forbidden_in("notified", "LegalWorker present");
        let with = MediationCommand::OpenDeliberation { present: names(&["Chair", "Zhang", "Zhao"]) };
        given(&events).when(with).then_accept();
    }

    #[test]
    fn given_a_proposed_session_when_it_sits_before_notice_then_it_is_refused() {
        let cmd = MediationCommand::OpenDeliberation { present: names(&["Chair"]) };
        given(&[opened()]).when(cmd).then_forbidden_in("proposed", "notified");
    }

    #[test]
    fn given_a_sitting_session_when_a_present_participant_speaks_then_the_statement_is_recorded() {
        let events = given(&sitting()).when(statement("Li")).then_accept();
        assert!(matches!(&events[..], [MediationEvent::StatementMade { statement }] if statement.speaker == "Li"));
    }

    #[test]
    fn given_a_sitting_session_when_an_absent_participant_or_one_out_of_turns_speaks_then_it_is_refused() {
        let mut events = sitting_in_three();
        given(&events).when(statement("Wang")).then_invalid("speaker");
        for _ in 0..rules().max_turns {
            events.extend(given(&events).when(statement("Zhang")).then_accept());
        }
        given(&events).when(statement("Zhang")).then_forbidden_in("deliberating", "all 3 turns");
        let refusal = given(&events).when(statement("Zhang")).then_refuse(|_| true);
        assert!(refusal.to_string().starts_with("Zhang has used all 3 turns"), "the cause first: {refusal}");
    }

    #[test]
    fn given_a_notified_session_when_someone_speaks_then_it_is_refused() {
        given(&notified()).when(statement("Zhang")).then_forbidden_in("notified", "while the session sits");
    }
}
