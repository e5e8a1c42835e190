//! 云议事: residents who follow a sitting online speak to it from their own device. Only a
//! resident the register of the session's area holds may, only while the session sits, within
//! the turns every participant has (限时限次) and within a length a sitting can read out.

use super::decide::{invalid, required, Step};
use super::{MediationError, MediationEvent, Stage};

/// The longest statement a resident submits, in characters: about a minute read out, the time a
/// participant's turn takes.
pub const RESIDENT_STATEMENT_MAX_CHARS: usize = 300;

pub(super) fn submit(
    at: &Step,
    resident: &str,
    text: &str,
    registered: bool,
) -> Result<Vec<MediationEvent>, MediationError> {
    let Stage::Deliberating { residents_said, .. } = at.stage else {
        return Err(at.refused("residents speak while the session sits"));
    };
    required("resident", resident)?;
    required("text", text)?;
    let length = text.trim().chars().count();
    if length > RESIDENT_STATEMENT_MAX_CHARS {
        return Err(invalid("text", format!("{length} characters, at most {RESIDENT_STATEMENT_MAX_CHARS}")));
    }
    if !registered {
        return Err(at.refused(format!("{resident} is not registered among the residents concerned")));
    }
    let turns = residents_said.iter().filter(|s| s.speaker == resident).count() as u64;
    let max_turns = at.rules.max_turns;
    if turns >= u64::from(max_turns) {
        return Err(at.refused(format!("{resident} has used all {max_turns} turns")));
    }
    Ok(vec![MediationEvent::ResidentStatementSubmitted {
        resident: resident.to_string(),
        text: text.trim().to_string(),
    }])
}

#[cfg(test)]
mod tests {
    use super::RESIDENT_STATEMENT_MAX_CHARS;
    use crate::mediation::{Mediation, MediationCommand, MediationEvent, Stage, Statement};
    use crate::testing::mediation::*;

    fn submit(resident: &str, text: &str) -> MediationCommand {
        MediationCommand::SubmitResidentStatement { resident: resident.into(), text: text.into(), registered: true }
    }

    #[test]
    fn given_a_sitting_session_when_a_registered_resident_speaks_then_the_statement_is_theirs_in_the_record() {
        let said = given(&sitting()).when(submit("居民07", "  晚上十点后请停止施工 ")).then_accept();
        let expected = MediationEvent::ResidentStatementSubmitted {
            resident: "居民07".into(),
            text: "晚上十点后请停止施工".into(),
        };
        assert_eq!(said, vec![expected]);
        let mut events = sitting();
        events.extend(said);
        let Mediation::Open { stage: Stage::Deliberating { residents_said, statements, .. }, .. } = state_of(&events)
        else {
            panic!("not sitting")
        };
        assert_eq!(residents_said, vec![Statement { speaker: "居民07".into(), text: "晚上十点后请停止施工".into() }]);
        assert!(statements.iter().all(|s| s.speaker != "居民07"), "a resident is not a participant");
    }

    #[test]
    fn given_a_sitting_session_when_an_unregistered_resident_speaks_then_it_is_refused() {
        let stranger = MediationCommand::SubmitResidentStatement {
            resident: "外人".into(),
            text: "我也有话说".into(),
            registered: false,
        };
        given(&sitting()).when(stranger).then_forbidden_in("deliberating", "not registered");
    }

    #[test]
    fn given_a_sitting_session_when_a_statement_is_empty_or_too_long_then_it_is_invalid() {
        given(&sitting()).when(submit("居民07", "  ")).then_invalid("text");
        let longest = "话".repeat(RESIDENT_STATEMENT_MAX_CHARS);
        given(&sitting()).when(submit("居民07", &longest)).then_accept();
        given(&sitting()).when(submit("居民07", &format!("{longest}。"))).then_invalid("text");
        given(&sitting()).when(submit(" ", "有话说")).then_invalid("resident");
    }

    #[test]
    fn given_a_resident_who_spoke_every_turn_when_they_speak_again_then_it_is_refused_but_others_may() {
        let mut events = sitting();
        for _ in 0..rules().max_turns {
            events.extend(given(&events).when(submit("居民07", "再说一句")).then_accept());
        }
        given(&events).when(submit("居民07", "还有")).then_forbidden_in("deliberating", "all 3 turns");
        given(&events).when(submit("居民08", "我说一句")).then_accept();
    }

    #[test]
    fn given_a_session_not_sitting_when_a_resident_speaks_then_it_is_refused() {
        given(&notified()).when(submit("居民07", "早了")).then_forbidden_in("notified", "while the session sits");
        given(&decided()).when(submit("居民07", "晚了")).then_forbidden_in("decided", "while the session sits");
        given(&in_notice()).when(submit("居民07", "晚了")).then_forbidden_in("in_notice", "while the session sits");
        let concluded = given(&executed()).when(submit("居民07", "晚了")).then_refuse(|_| true);
        assert_eq!(concluded.to_string(), "the mediation is already concluded");
    }
}
