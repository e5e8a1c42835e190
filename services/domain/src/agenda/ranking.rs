//! The ranking: the convenor opens it on the topics standing, each registered resident ranks
//! them once by the method chosen, and closing it records the order — by score, a tie broken by
//! the seeds' priorities (more of them first) and then by the order the topics were proposed.

use super::{
    d21, invalid, points531, refused, Agenda, AgendaCommand, AgendaError, AgendaEvent, Ballot, Method, Ranked,
};
use std::collections::BTreeMap;

/// A topic's count so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    pub score: i64,
    pub plus: u32,
    pub minus: u32,
}

pub(super) fn open(agenda: &Agenda, command: &AgendaCommand, method: Method) -> Result<Vec<AgendaEvent>, AgendaError> {
    if agenda.round.is_some() {
        return Err(refused(agenda, command, "a ranking is under way"));
    }
    if let Method::D21 { plus_votes: 0 } = method {
        return Err(invalid("plus_votes", "at least one plus vote"));
    }
    let topics: Vec<u32> = agenda.open_topics().map(|t| t.number).collect();
    if topics.len() < 2 {
        return Err(refused(agenda, command, "a ranking needs at least two topics"));
    }
    Ok(vec![AgendaEvent::RankingOpened { method, topics }])
}

pub(super) fn rank(
    agenda: &Agenda,
    command: &AgendaCommand,
    voter: &str,
    ballot: &Ballot,
    registered: bool,
) -> Result<Vec<AgendaEvent>, AgendaError> {
    let Some(round) = &agenda.round else {
        return Err(refused(agenda, command, "no ranking is open"));
    };
    if !registered {
        return Err(refused(agenda, command, format!("{voter} is not a registered resident of the area")));
    }
    if round.ballots.iter().any(|(who, _)| who == voter) {
        return Err(refused(agenda, command, format!("{voter} has ranked already")));
    }
    match (round.method, ballot) {
        (Method::D21 { plus_votes }, Ballot::D21 { plus, minus }) => {
            d21::check(plus, *minus, plus_votes, &round.topics)?
        }
        (Method::Points531, Ballot::Points531 { choices }) => points531::check(choices, &round.topics)?,
        _ => return Err(invalid("ballot", "the ballot is not of the ranking's method")),
    }
    Ok(vec![AgendaEvent::TopicsRanked { voter: voter.to_string(), ballot: ballot.clone() }])
}

pub(super) fn close(agenda: &Agenda, command: &AgendaCommand) -> Result<Vec<AgendaEvent>, AgendaError> {
    let Some(round) = &agenda.round else {
        return Err(refused(agenda, command, "no ranking is open"));
    };
    if round.ballots.is_empty() {
        return Err(refused(agenda, command, "no resident has ranked yet"));
    }
    Ok(vec![AgendaEvent::RankingClosed { ballots: round.ballots.len() as u32, order: order(agenda) }])
}

/// The topics of the open ranking in the order of the ballots so far (empty when none is open).
pub fn order(agenda: &Agenda) -> Vec<Ranked> {
    let Some(round) = &agenda.round else { return vec![] };
    let mut tally: BTreeMap<u32, Tally> = round.topics.iter().map(|n| (*n, Tally::default())).collect();
    for (_, ballot) in &round.ballots {
        match ballot {
            Ballot::D21 { plus, minus } => d21::count(&mut tally, plus, *minus),
            Ballot::Points531 { choices } => points531::count(&mut tally, choices),
        }
    }
    let mut ranked: Vec<Ranked> = tally
        .into_iter()
        .filter_map(|(number, t)| {
            let topic = agenda.topic(number)?;
            Some(Ranked {
                number,
                title: topic.title.clone(),
                score: t.score,
                plus: t.plus,
                minus: t.minus,
                priorities: topic.priorities,
                tied: false,
            })
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.score.cmp(&a.score).then(b.priorities.count().cmp(&a.priorities.count())).then(a.number.cmp(&b.number))
    });
    for i in 1..ranked.len() {
        ranked[i].tied = ranked[i].score == ranked[i - 1].score;
    }
    ranked
}

#[cfg(test)]
mod tests {
    use crate::agenda::fixtures::*;
    use crate::agenda::{AgendaCommand, AgendaError, AgendaEvent, Method, Ranked};

    fn closed_order(events: &mut Vec<AgendaEvent>) -> Vec<Ranked> {
        run(events, AgendaCommand::CloseRanking).unwrap();
        match events.last() {
            Some(AgendaEvent::RankingClosed { order, .. }) => order.clone(),
            other => panic!("{other:?}"),
        }
    }

    fn numbers(order: &[Ranked]) -> Vec<(u32, i64)> {
        order.iter().map(|r| (r.number, r.score)).collect()
    }

    #[test]
    fn given_d21_ballots_when_the_ranking_closes_then_topics_are_ordered_by_pluses_less_minuses() {
        let mut events = ranking_open(Method::D21_DEFAULT);
        run(&mut events, rank("a", d21(&[2, 3], Some(1)))).unwrap();
        run(&mut events, rank("b", d21(&[2, 4], None))).unwrap();
        run(&mut events, rank("c", d21(&[3], None))).unwrap();
        let order = closed_order(&mut events);
        // 2: +2; 3: +2 (tie, but topic 3 serves special groups); 4: +1; 1: -1.
        assert_eq!(numbers(&order), vec![(3, 2), (2, 2), (4, 1), (1, -1)]);
        assert!(order[1].tied && !order[0].tied && !order[2].tied);
        assert!(order[0].priorities.special_groups, "the priorities are shown beside the score");
        assert_eq!((order[3].plus, order[3].minus), (0, 1));
        assert_eq!(agenda(&events).last_order, order);
        assert_eq!(agenda(&events).state_name(), "collecting");
    }

    #[test]
    fn given_a_tie_without_priorities_then_the_topic_proposed_first_comes_first() {
        let mut events = ranking_open(Method::Points531);
        run(&mut events, rank("a", points(&[2]))).unwrap();
        run(&mut events, rank("b", points(&[1]))).unwrap();
        let order = closed_order(&mut events);
        // 1 and 2 both score 5; 1 carries the shared-concern priority and was proposed first.
        assert_eq!(numbers(&order)[..2], [(1, 5), (2, 5)]);
        assert!(order[1].tied);
        // 3 (special groups) and 4 (urgent) tie at 0 with one priority each: proposal order.
        assert_eq!(numbers(&order)[2..], [(3, 0), (4, 0)]);
    }

    #[test]
    fn given_531_ballots_when_the_ranking_closes_then_points_decide_the_order() {
        let mut events = ranking_open(Method::Points531);
        run(&mut events, rank("a", points(&[4, 2, 1]))).unwrap();
        run(&mut events, rank("b", points(&[2, 4, 3]))).unwrap();
        run(&mut events, rank("c", points(&[2, 1]))).unwrap();
        let order = closed_order(&mut events);
        assert_eq!(numbers(&order), vec![(2, 13), (4, 8), (1, 4), (3, 1)]);
    }

    #[test]
    fn given_a_ranking_when_a_resident_ranks_twice_or_is_not_registered_then_it_is_refused() {
        let mut events = ranking_open(Method::D21_DEFAULT);
        run(&mut events, rank("a", d21(&[1, 2], None))).unwrap();
        let twice = run(&mut events, rank("a", d21(&[3], None)));
        assert!(matches!(twice, Err(AgendaError::Refused { reason, .. }) if reason.contains("ranked already")));
        let stranger = AgendaCommand::Rank { voter: "x".into(), ballot: d21(&[1], None), registered: false };
        assert!(matches!(run(&mut events, stranger), Err(AgendaError::Refused { .. })));
        let minus_first = run(&mut events, rank("b", d21(&[1], Some(2))));
        assert!(matches!(minus_first, Err(AgendaError::Invalid { field: "minus", .. })));
        let other_method = run(&mut events, rank("b", points(&[1])));
        assert!(matches!(other_method, Err(AgendaError::Invalid { field: "ballot", .. })));
    }

    #[test]
    fn given_no_ranking_or_no_ballots_when_it_is_closed_or_opened_again_then_it_is_refused() {
        let mut events = four_topics();
        assert!(matches!(run(&mut events, AgendaCommand::CloseRanking), Err(AgendaError::Refused { .. })));
        assert!(matches!(run(&mut events, rank("a", d21(&[1], None))), Err(AgendaError::Refused { .. })));
        run(&mut events, AgendaCommand::OpenRanking { method: Method::D21_DEFAULT }).unwrap();
        assert!(matches!(run(&mut events, AgendaCommand::CloseRanking), Err(AgendaError::Refused { .. })));
        let again = run(&mut events, AgendaCommand::OpenRanking { method: Method::Points531 });
        assert!(matches!(again, Err(AgendaError::Refused { .. })));
    }

    #[test]
    fn given_merged_topics_when_the_ranking_opens_then_only_the_topics_standing_are_ranked() {
        let mut events = four_topics();
        run(&mut events, AgendaCommand::Merge { duplicate: 4, into: 2 }).unwrap();
        run(&mut events, AgendaCommand::OpenRanking { method: Method::D21 { plus_votes: 3 } }).unwrap();
        assert_eq!(agenda(&events).round.unwrap().topics, vec![1, 2, 3]);
        let on_merged = run(&mut events, rank("a", d21(&[4], None)));
        assert!(matches!(on_merged, Err(AgendaError::Invalid { field: "plus", .. })));
        let zero = AgendaCommand::OpenRanking { method: Method::D21 { plus_votes: 0 } };
        assert!(matches!(run(&mut four_topics(), zero), Err(AgendaError::Invalid { .. })));
    }
}
