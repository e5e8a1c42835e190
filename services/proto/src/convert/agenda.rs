//! An area's agenda (`agenda-<id>` streams, routed to their area): topics and their rankings.

use super::{event_type, invalid, message, short_type, DecodeError};
use crate::v1 as pb;
use gridloop_domain::agenda::{AgendaEvent, Ballot, Method, Priorities, Ranked};
use prost::Message;

pub fn priorities(p: Priorities) -> pb::TopicPriorities {
    pb::TopicPriorities { shared_concern: p.shared_concern, special_groups: p.special_groups, urgent: p.urgent }
}

pub fn from_priorities(p: Option<&pb::TopicPriorities>) -> Priorities {
    p.map_or_else(Priorities::default, |p| Priorities {
        shared_concern: p.shared_concern,
        special_groups: p.special_groups,
        urgent: p.urgent,
    })
}

pub fn ranked(r: &Ranked) -> pb::RankedTopic {
    pb::RankedTopic {
        number: r.number,
        title: r.title.clone(),
        score: r.score,
        plus: r.plus,
        minus: r.minus,
        priorities: Some(priorities(r.priorities)),
        tied: r.tied,
    }
}

fn from_ranked(r: pb::RankedTopic) -> Ranked {
    Ranked {
        priorities: from_priorities(r.priorities.as_ref()),
        number: r.number,
        title: r.title,
        score: r.score,
        plus: r.plus,
        minus: r.minus,
        tied: r.tied,
    }
}

/// The method's wire enum and its D21 plus votes (0 for 531).
pub fn method(m: Method) -> (pb::RankingMethod, u32) {
    match m {
        Method::D21 { plus_votes } => (pb::RankingMethod::D21, plus_votes),
        Method::Points531 => (pb::RankingMethod::Points531, 0),
    }
}

/// The method named on the wire; D21 with no plus votes given takes the default two.
pub fn from_method(m: pb::RankingMethod, plus_votes: u32) -> Option<Method> {
    match m {
        pb::RankingMethod::Unspecified => None,
        pb::RankingMethod::D21 if plus_votes == 0 => Some(Method::D21_DEFAULT),
        pb::RankingMethod::D21 => Some(Method::D21 { plus_votes }),
        pb::RankingMethod::Points531 => Some(Method::Points531),
    }
}

pub fn encode_agenda_event(event: &AgendaEvent) -> (String, Vec<u8>) {
    let payload = match event {
        AgendaEvent::TopicProposed { number, title, proposer, collected_from, priorities: p } => {
            pb::AgendaTopicProposed {
                number: *number,
                title: title.clone(),
                proposer: proposer.clone(),
                collected_from: collected_from.clone(),
                priorities: Some(priorities(*p)),
            }
            .encode_to_vec()
        }
        AgendaEvent::TopicsMerged { duplicate, into } => {
            pb::AgendaTopicsMerged { duplicate: *duplicate, into: *into }.encode_to_vec()
        }
        AgendaEvent::RankingOpened { method: m, topics } => {
            let (m, plus_votes) = method(*m);
            pb::AgendaRankingOpened { method: m as i32, plus_votes, topics: topics.clone() }.encode_to_vec()
        }
        AgendaEvent::TopicsRanked { voter, ballot } => {
            let mut m = pb::AgendaTopicsRanked { voter: voter.clone(), ..Default::default() };
            match ballot {
                Ballot::D21 { plus, minus } => {
                    m.method = pb::RankingMethod::D21 as i32;
                    m.plus = plus.clone();
                    m.minus = minus.unwrap_or(0);
                }
                Ballot::Points531 { choices } => {
                    m.method = pb::RankingMethod::Points531 as i32;
                    m.choices = choices.clone();
                }
            }
            m.encode_to_vec()
        }
        AgendaEvent::RankingClosed { ballots, order } => {
            pb::AgendaRankingClosed { ballots: *ballots, order: order.iter().map(ranked).collect() }.encode_to_vec()
        }
    };
    (event_type(event.type_name()), payload)
}

pub fn decode_agenda_event(event_type: &str, payload: &[u8]) -> Result<AgendaEvent, DecodeError> {
    let ty = event_type;
    Ok(match short_type(ty) {
        "AgendaTopicProposed" => {
            let m: pb::AgendaTopicProposed = message(ty, payload)?;
            AgendaEvent::TopicProposed {
                priorities: from_priorities(m.priorities.as_ref()),
                number: m.number,
                title: m.title,
                proposer: m.proposer,
                collected_from: m.collected_from,
            }
        }
        "AgendaTopicsMerged" => {
            let m: pb::AgendaTopicsMerged = message(ty, payload)?;
            AgendaEvent::TopicsMerged { duplicate: m.duplicate, into: m.into }
        }
        "AgendaRankingOpened" => {
            let m: pb::AgendaRankingOpened = message(ty, payload)?;
            let method = from_method(m.method(), m.plus_votes).ok_or_else(|| invalid(ty, "method missing"))?;
            AgendaEvent::RankingOpened { method, topics: m.topics }
        }
        "AgendaTopicsRanked" => {
            let m: pb::AgendaTopicsRanked = message(ty, payload)?;
            let ballot = match m.method() {
                pb::RankingMethod::D21 => Ballot::D21 { minus: (m.minus != 0).then_some(m.minus), plus: m.plus },
                pb::RankingMethod::Points531 => Ballot::Points531 { choices: m.choices },
                pb::RankingMethod::Unspecified => return Err(invalid(ty, "method missing")),
            };
            AgendaEvent::TopicsRanked { voter: m.voter, ballot }
        }
        "AgendaRankingClosed" => {
            let m: pb::AgendaRankingClosed = message(ty, payload)?;
            AgendaEvent::RankingClosed { ballots: m.ballots, order: m.order.into_iter().map(from_ranked).collect() }
        }
        _ => return Err(DecodeError::UnknownType { event_type: ty.to_string() }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_agenda_event_round_trips() {
        let urgent = Priorities { urgent: true, ..Default::default() };
        let events = [
            AgendaEvent::TopicProposed {
                number: 1,
                title: "加装电梯".into(),
                proposer: "r1".into(),
                collected_from: "痛点箱".into(),
                priorities: urgent,
            },
            AgendaEvent::TopicsMerged { duplicate: 2, into: 1 },
            AgendaEvent::RankingOpened { method: Method::D21 { plus_votes: 3 }, topics: vec![1, 3] },
            AgendaEvent::RankingOpened { method: Method::Points531, topics: vec![1, 3] },
            AgendaEvent::TopicsRanked { voter: "r1".into(), ballot: Ballot::D21 { plus: vec![1, 3], minus: Some(4) } },
            AgendaEvent::TopicsRanked { voter: "r2".into(), ballot: Ballot::D21 { plus: vec![1], minus: None } },
            AgendaEvent::TopicsRanked { voter: "r3".into(), ballot: Ballot::Points531 { choices: vec![3, 1] } },
            AgendaEvent::RankingClosed {
                ballots: 3,
                order: vec![Ranked {
                    number: 1,
                    title: "加装电梯".into(),
                    score: -2,
                    plus: 1,
                    minus: 3,
                    priorities: urgent,
                    tied: true,
                }],
            },
        ];
        for event in events {
            let (ty, payload) = encode_agenda_event(&event);
            assert_eq!(decode_agenda_event(&ty, &payload).unwrap(), event, "{ty}");
        }
    }
}
