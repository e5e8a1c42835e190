//! 531 scoring: each resident names up to three topics in order of preference; the first gets 5
//! points, the second 3, the third 1.

use super::ranking::Tally;
use super::{invalid, AgendaError};
use std::collections::BTreeMap;

/// The points of a first, second and third choice.
pub const POINTS: [i64; 3] = [5, 3, 1];

pub(super) fn check(choices: &[u32], topics: &[u32]) -> Result<(), AgendaError> {
    if choices.is_empty() || choices.len() > POINTS.len() {
        return Err(invalid("choices", "one to three topics, in order of preference"));
    }
    for (i, topic) in choices.iter().enumerate() {
        if !topics.contains(topic) {
            return Err(invalid("choices", format!("topic {topic} is not being ranked")));
        }
        if choices[..i].contains(topic) {
            return Err(invalid("choices", format!("topic {topic} chosen twice")));
        }
    }
    Ok(())
}

pub(super) fn count(tally: &mut BTreeMap<u32, Tally>, choices: &[u32]) {
    for (topic, points) in choices.iter().zip(POINTS) {
        let entry = tally.entry(*topic).or_default();
        entry.score += points;
        entry.plus += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_second_and_third_choices_score_five_three_and_one() {
        let mut tally = BTreeMap::new();
        count(&mut tally, &[2, 1, 3]);
        count(&mut tally, &[1, 2]);
        assert_eq!(tally[&1], Tally { score: 8, plus: 2, minus: 0 });
        assert_eq!(tally[&2], Tally { score: 8, plus: 2, minus: 0 });
        assert_eq!(tally[&3], Tally { score: 1, plus: 1, minus: 0 });
    }

    #[test]
    fn a_531_ballot_names_one_to_three_distinct_ranked_topics() {
        let topics = &[1, 2, 3, 4];
        assert!(check(&[4], topics).is_ok());
        assert!(check(&[1, 2, 3], topics).is_ok());
        for bad in [&[][..], &[1, 2, 3, 4], &[1, 1], &[7]] {
            assert!(matches!(check(bad, topics), Err(AgendaError::Invalid { field: "choices", .. })), "{bad:?}");
        }
    }
}
