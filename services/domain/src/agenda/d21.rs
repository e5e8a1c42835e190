//! D21 (the Janeček method): each resident has several plus votes for distinct topics and at
//! most one minus vote, which they may cast only after using two pluses. A topic scores its
//! pluses less its minuses.

use super::ranking::Tally;
use super::{invalid, AgendaError};
use std::collections::BTreeMap;

/// A resident's D21 ballot against the topics put to the ranking and the pluses allowed.
pub(super) fn check(plus: &[u32], minus: Option<u32>, plus_votes: u32, topics: &[u32]) -> Result<(), AgendaError> {
    if plus.is_empty() {
        return Err(invalid("plus", "at least one plus vote"));
    }
    if plus.len() > plus_votes as usize {
        return Err(invalid("plus", format!("at most {plus_votes} plus votes")));
    }
    for (i, topic) in plus.iter().enumerate() {
        if !topics.contains(topic) {
            return Err(invalid("plus", format!("topic {topic} is not being ranked")));
        }
        if plus[..i].contains(topic) {
            return Err(invalid("plus", format!("one plus per topic: {topic} twice")));
        }
    }
    let Some(minus) = minus else { return Ok(()) };
    if plus.len() < 2 {
        return Err(invalid("minus", "a minus vote only after two plus votes"));
    }
    if !topics.contains(&minus) {
        return Err(invalid("minus", format!("topic {minus} is not being ranked")));
    }
    if plus.contains(&minus) {
        return Err(invalid("minus", format!("topic {minus} has a plus on the same ballot")));
    }
    Ok(())
}

/// Add one ballot to the tally.
pub(super) fn count(tally: &mut BTreeMap<u32, Tally>, plus: &[u32], minus: Option<u32>) {
    for topic in plus {
        let entry = tally.entry(*topic).or_default();
        entry.score += 1;
        entry.plus += 1;
    }
    if let Some(topic) = minus {
        let entry = tally.entry(topic).or_default();
        entry.score -= 1;
        entry.minus += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPICS: &[u32] = &[1, 2, 3, 4];

    #[test]
    fn a_minus_vote_needs_two_pluses_first() {
        assert!(check(&[1, 2], Some(3), 2, TOPICS).is_ok());
        assert_eq!(check(&[1], Some(3), 2, TOPICS), Err(invalid("minus", "a minus vote only after two plus votes")));
        assert!(check(&[1], None, 2, TOPICS).is_ok(), "pluses alone are fine");
    }

    #[test]
    fn pluses_are_limited_distinct_and_on_ranked_topics() {
        assert!(matches!(check(&[1, 2, 3], None, 2, TOPICS), Err(AgendaError::Invalid { field: "plus", .. })));
        assert!(check(&[1, 2, 3], Some(4), 3, TOPICS).is_ok(), "the number of pluses is configurable");
        assert!(matches!(check(&[1, 1], None, 2, TOPICS), Err(AgendaError::Invalid { field: "plus", .. })));
        assert!(matches!(check(&[], None, 2, TOPICS), Err(AgendaError::Invalid { field: "plus", .. })));
        assert!(matches!(check(&[9], None, 2, TOPICS), Err(AgendaError::Invalid { field: "plus", .. })));
        assert!(matches!(check(&[1, 2], Some(2), 2, TOPICS), Err(AgendaError::Invalid { field: "minus", .. })));
        assert!(matches!(check(&[1, 2], Some(9), 2, TOPICS), Err(AgendaError::Invalid { field: "minus", .. })));
    }

    #[test]
    fn a_topic_scores_its_pluses_less_its_minuses() {
        let mut tally = BTreeMap::new();
        count(&mut tally, &[1, 2], Some(3));
        count(&mut tally, &[1, 3], Some(2));
        count(&mut tally, &[1], None);
        assert_eq!(tally[&1], Tally { score: 3, plus: 3, minus: 0 });
        assert_eq!(tally[&2], Tally { score: 0, plus: 1, minus: 1 });
        assert_eq!(tally[&3], Tally { score: 0, plus: 1, minus: 1 });
    }
}
