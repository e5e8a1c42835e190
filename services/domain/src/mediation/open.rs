//! 提议: a session opens on one topic (one matter per session), for a case or on a topic
//! collected from residents, chaired by its convenor. A building's or courtyard's matter names
//! that group's register: its residents are the ones concerned.

use super::decide::{invalid, required};
use super::{MatterKind, MediationError, MediationEvent, Origin, Role, SessionLevel};
use crate::register::Group;

pub(super) fn decide(
    origin: &Origin,
    level: SessionLevel,
    topic: &str,
    kind: MatterKind,
    professional: Option<Role>,
    convenor: &str,
    register: Option<&Group>,
) -> Result<Vec<MediationEvent>, MediationError> {
    required("topic", topic)?;
    required("convenor", convenor)?;
    if let Origin::CollectedTopic { collected_from, .. } = origin {
        required("collected_from", collected_from)?;
    }
    if professional.is_some_and(|role| !role.is_professional()) {
        return Err(invalid(
            "professional",
            "must be a legal worker, property company, grid police or social organisation",
        ));
    }
    Ok(vec![MediationEvent::Opened {
        origin: origin.clone(),
        level,
        topic: topic.to_string(),
        kind,
        professional,
        convenor: convenor.to_string(),
        register: register.cloned(),
    }])
}

#[cfg(test)]
mod tests {
    use crate::ids::CaseId;
    use crate::mediation::{MatterKind, MediationCommand, Origin, Participant, Role, SessionLevel};
    use crate::testing::mediation::*;
    use uuid::Uuid;

    #[test]
    fn given_nothing_when_a_session_opens_then_it_is_proposed_with_its_convenor_and_a_redelivery_adds_nothing() {
        let cmd = MediationCommand::Open {
            origin: Origin::Case { case_id: CaseId(Uuid::nil()) },
            level: SessionLevel::Grid,
            topic: "noise from the shop below".into(),
            kind: MatterKind::Deliberation,
            professional: None,
            convenor: "Chair".into(),
            register: None,
        };
        let events = given(&[]).when(cmd.clone()).then_accept();
        assert_eq!(events, vec![opened()]);
        let state = state_of(&events);
        assert_eq!(state.state_name(), "proposed");
        assert_eq!(
            state.session().unwrap().participants,
            vec![Participant { name: "Chair".into(), role: Role::Convenor }]
        );
        given(&events).when(cmd).then_expect(&[]);
    }

    #[test]
    fn given_nothing_when_a_collected_topic_opens_a_building_session_then_it_has_no_case() {
        let cmd = MediationCommand::Open {
            origin: Origin::CollectedTopic { collected_from: "痛点箱".into(), agenda_topic: None },
            level: SessionLevel::Building,
            topic: "charging points for e-bikes".into(),
            kind: MatterKind::Consultation,
            professional: None,
            convenor: "Chair".into(),
            register: None,
        };
        let state = state_of(&given(&[]).when(cmd).then_accept());
        assert_eq!(state.session().unwrap().origin.case_id(), None);
        assert_eq!(state.session().unwrap().level, SessionLevel::Building);
    }

    #[test]
    fn given_nothing_when_a_session_opens_without_topic_convenor_or_with_a_lay_professional_then_it_is_invalid() {
        let open = |topic: &str, convenor: &str, professional| MediationCommand::Open {
            origin: Origin::Case { case_id: CaseId(Uuid::nil()) },
            level: SessionLevel::Grid,
            topic: topic.into(),
            kind: MatterKind::Deliberation,
            professional,
            convenor: convenor.into(),
            register: None,
        };
        given(&[]).when(open(" ", "Chair", None)).then_invalid("topic");
        given(&[]).when(open("noise", "", None)).then_invalid("convenor");
        given(&[]).when(open("noise", "Chair", Some(Role::Party))).then_invalid("professional");
    }
}
