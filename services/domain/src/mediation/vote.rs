//! 决策: a motion is put to the vote by a show of hands once the matter was discussed, and carries
//! on a simple majority of those present. Consultations and hearings are recorded, not voted.

use super::decide::{check_names, required, Step};
use super::{MediationError, MediationEvent, Stage};

pub(super) fn decide(
    at: &Step,
    motion: &str,
    yes: &[String],
    no: &[String],
    abstain: &[String],
) -> Result<Vec<MediationEvent>, MediationError> {
    let Stage::Deliberating { present, statements, .. } = at.stage else {
        return Err(at.refused("a motion is put while the session sits"));
    };
    required("motion", motion)?;
    if !at.session.kind.votes() {
        return Err(at.refused("a consultation or hearing is recorded, not voted"));
    }
    if statements.is_empty() {
        return Err(at.refused("the matter must be discussed before the vote"));
    }
    check_names("votes", yes.iter().chain(no).chain(abstain), present, "present")?;
    // Simple majority of those present: silence is not a yes.
    let carried = yes.len() * 2 > present.len();
    Ok(vec![MediationEvent::MotionVoted {
        motion: motion.to_string(),
        yes: yes.to_vec(),
        no: no.to_vec(),
        abstain: abstain.to_vec(),
        carried,
    }])
}

#[cfg(test)]
mod tests {
    use crate::mediation::{MatterKind, MediationCommand, MediationEvent, Outcome, Statement};
    use crate::testing::mediation::*;
    use crate::Duration;

    #[test]
    fn given_a_sitting_session_when_a_simple_majority_of_those_present_votes_yes_then_the_motion_carries() {
        // 5 present: 3 yes carries.
        let events = given(&sitting()).when(motion(&["Chair", "Zhang", "Li"], &["Wang"])).then_accept();
        assert!(matches!(&events[..], [MediationEvent::MotionVoted { carried: true, .. }]));
        let mut after = sitting();
        after.extend(events);
        assert_eq!(stage_of(&after), "decided");
    }

    #[test]
    fn given_a_sitting_session_when_half_of_those_present_vote_yes_then_the_motion_fails_and_it_sits_on() {
        // 5 present: 2 yes and 2 abstentions by silence is not a majority.
        let events = given(&sitting()).when(motion(&["Zhang", "Li"], &["Wang"])).then_accept();
        assert!(matches!(&events[..], [MediationEvent::MotionVoted { carried: false, .. }]));
        let mut after = sitting();
        after.extend(events);
        assert_eq!(stage_of(&after), "deliberating");
    }

    #[test]
    fn given_a_sitting_session_when_an_absent_or_double_voter_is_counted_then_it_is_invalid() {
        let mut events = sitting_in_three();
        events.push(MediationEvent::StatementMade { statement: Statement { speaker: "Li".into(), text: "x".into() } });
        given(&events).when(motion(&["Chair", "Wang"], &[])).then_invalid("votes");
        given(&events).when(motion(&["Chair", "Zhang"], &["Zhang"])).then_invalid("votes");
    }

    #[test]
    fn given_a_sitting_session_without_statements_when_a_motion_is_put_then_it_is_refused() {
        let events = sitting_in_three();
        given(&events).when(motion(&["Chair", "Zhang", "Li"], &[])).then_forbidden_in("deliberating", "discussed");
    }

    #[test]
    fn given_a_consultation_when_a_motion_is_put_then_it_is_refused_and_its_result_is_recorded_instead() {
        let mut events = vec![opened_with(MatterKind::Consultation, None)];
        events.extend(sitting().into_iter().skip(1));
        given(&events).when(motion(&["Chair", "Zhang", "Li"], &[])).then_forbidden_in("deliberating", "not voted");
        let recorded =
            given(&events).when(MediationCommand::RecordConsultation { summary: "views heard".into() }).then_accept();
        assert_eq!(
            recorded[1..],
            [MediationEvent::FollowUpScheduled { due: t0() + Duration::days(30) }],
            "a consultation is followed up monthly"
        );
        assert!(matches!(&recorded[0], MediationEvent::Concluded { outcome: Outcome::Consultation, .. }));
    }

    #[test]
    fn given_a_notified_session_when_a_motion_is_put_then_it_is_refused() {
        given(&notified()).when(motion(&["Chair"], &[])).then_forbidden_in("notified", "while the session sits");
    }
}
