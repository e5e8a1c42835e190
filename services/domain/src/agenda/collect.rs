//! 议题征集: a registered resident proposes a topic; the convenor merges a duplicate into the
//! topic it repeats, keeping its priorities.

use super::{invalid, refused, Agenda, AgendaCommand, AgendaError, AgendaEvent};

pub(super) fn propose(agenda: &Agenda, command: &AgendaCommand) -> Result<Vec<AgendaEvent>, AgendaError> {
    let AgendaCommand::Propose { title, proposer, collected_from, priorities, registered } = command else {
        unreachable!("propose is given a proposal")
    };
    if title.trim().is_empty() {
        return Err(invalid("title", "must not be empty"));
    }
    if !registered {
        return Err(refused(agenda, command, format!("{proposer} is not a registered resident of the area")));
    }
    let number = agenda.topics.len() as u32 + 1;
    Ok(vec![AgendaEvent::TopicProposed {
        number,
        title: title.trim().to_string(),
        proposer: proposer.clone(),
        collected_from: collected_from.clone(),
        priorities: *priorities,
    }])
}

pub(super) fn merge(
    agenda: &Agenda,
    command: &AgendaCommand,
    duplicate: u32,
    into: u32,
) -> Result<Vec<AgendaEvent>, AgendaError> {
    if agenda.round.is_some() {
        return Err(refused(agenda, command, "topics are merged before the ranking opens"));
    }
    if duplicate == into {
        return Err(invalid("duplicate", "a topic cannot be merged into itself"));
    }
    for (field, number) in [("duplicate", duplicate), ("into", into)] {
        match agenda.topic(number) {
            None => return Err(invalid(field, format!("no topic {number}"))),
            Some(topic) if topic.merged_into.is_some() => {
                return Err(invalid(field, format!("topic {number} was merged already")))
            }
            Some(_) => {}
        }
    }
    Ok(vec![AgendaEvent::TopicsMerged { duplicate, into }])
}

#[cfg(test)]
mod tests {
    use crate::agenda::fixtures::*;
    use crate::agenda::{AgendaCommand, AgendaError, Method, Priorities};

    fn propose(title: &str, registered: bool) -> AgendaCommand {
        AgendaCommand::Propose {
            title: title.into(),
            proposer: "r9".into(),
            collected_from: "留言板".into(),
            priorities: Priorities { urgent: true, ..Default::default() },
            registered,
        }
    }

    #[test]
    fn given_topics_when_a_registered_resident_proposes_one_then_it_is_numbered_next() {
        let mut events = four_topics();
        run(&mut events, propose(" 楼道照明 ", true)).unwrap();
        let topic = agenda(&events).topic(5).cloned().unwrap();
        assert_eq!((topic.title.as_str(), topic.proposer.as_str()), ("楼道照明", "r9"));
        assert!(topic.priorities.urgent);
    }

    #[test]
    fn given_an_agenda_when_an_unregistered_resident_or_an_empty_title_is_proposed_then_it_is_refused() {
        let mut events = four_topics();
        assert!(matches!(run(&mut events, propose("x", false)), Err(AgendaError::Refused { .. })));
        assert!(matches!(run(&mut events, propose(" ", true)), Err(AgendaError::Invalid { field: "title", .. })));
    }

    #[test]
    fn given_a_duplicate_when_the_convenor_merges_it_then_its_priorities_join_the_topic_it_repeats() {
        let mut events = four_topics();
        run(&mut events, AgendaCommand::Merge { duplicate: 4, into: 2 }).unwrap();
        let after = agenda(&events);
        assert_eq!(after.topic(4).unwrap().merged_into, Some(2));
        assert!(after.topic(2).unwrap().priorities.urgent);
        assert_eq!(after.open_topics().count(), 3);
        let again = run(&mut events, AgendaCommand::Merge { duplicate: 4, into: 1 });
        assert!(matches!(again, Err(AgendaError::Invalid { field: "duplicate", .. })));
        let itself = run(&mut events, AgendaCommand::Merge { duplicate: 1, into: 1 });
        assert!(matches!(itself, Err(AgendaError::Invalid { .. })));
        let unknown = run(&mut events, AgendaCommand::Merge { duplicate: 9, into: 1 });
        assert!(matches!(unknown, Err(AgendaError::Invalid { field: "duplicate", .. })));
    }

    #[test]
    fn given_a_ranking_under_way_when_topics_are_merged_then_it_is_refused() {
        let mut events = ranking_open(Method::Points531);
        let merge = run(&mut events, AgendaCommand::Merge { duplicate: 4, into: 2 });
        assert!(matches!(merge, Err(AgendaError::Refused { state: "ranking", .. })));
    }
}
