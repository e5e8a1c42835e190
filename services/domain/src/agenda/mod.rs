//! The agenda of one area (议题征集): residents propose topics through the collection channels
//! (留言板, 意见箱, 痛点箱), the convenor merges duplicates, and the residents rank the topics —
//! with D21 (several plus votes, at most one minus, the minus only after two pluses) or 531
//! scoring (5, 3 and 1 points for a first, second and third choice). Closing a ranking records
//! the order in which the topics are deliberated, the seeds' priorities (shared concern, special
//! groups, urgent) shown beside each score.
//!
//! ```text
//! Collecting ─TopicProposed*→ ─TopicsMerged*→ ─RankingOpened→ Ranking
//! Ranking ─TopicProposed*→ ─TopicRanked* (one ballot per resident)→ ─RankingClosed(order)→ Collecting
//! ```
//!
//! `collect` holds proposing and merging, `ranking` opening, ranking and closing; the two
//! methods count in `d21` and `points531`.

mod collect;
mod d21;
mod points531;
mod ranking;

pub use ranking::order;

use crate::decider::{Decider, Misfit};
use crate::jurisdiction::AreaCode;
use crate::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The agenda of one area: its stream is named after the area code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AgendaId(pub Uuid);

impl AgendaId {
    pub fn of(area: &AreaCode) -> AgendaId {
        AgendaId(Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("agenda:{area}").as_bytes()))
    }
}

impl From<Uuid> for AgendaId {
    fn from(id: Uuid) -> Self {
        AgendaId(id)
    }
}

impl std::fmt::Display for AgendaId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The seeds' three priorities: 居民共同关注优先, 特殊群体需求优先, 急难重大事项优先.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Priorities {
    pub shared_concern: bool,
    pub special_groups: bool,
    pub urgent: bool,
}

impl Priorities {
    pub fn count(self) -> u32 {
        u32::from(self.shared_concern) + u32::from(self.special_groups) + u32::from(self.urgent)
    }

    /// Both topics' priorities: a merged topic keeps every flag of its duplicate.
    pub fn union(self, other: Priorities) -> Priorities {
        Priorities {
            shared_concern: self.shared_concern || other.shared_concern,
            special_groups: self.special_groups || other.special_groups,
            urgent: self.urgent || other.urgent,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topic {
    /// 1, 2, … in the order proposed.
    pub number: u32,
    pub title: String,
    pub proposer: String,
    pub priorities: Priorities,
    /// The topic this one was merged into as a duplicate.
    pub merged_into: Option<u32>,
}

/// How the residents rank the topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Method {
    /// D21: up to `plus_votes` plus votes on distinct topics, and one minus after two pluses.
    D21 { plus_votes: u32 },
    /// 531: 5, 3 and 1 points for a first, second and third choice.
    Points531,
}

impl Method {
    /// D21 with the seeds' two plus votes per resident.
    pub const D21_DEFAULT: Method = Method::D21 { plus_votes: 2 };
}

/// One resident's ranking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Ballot {
    D21 {
        plus: Vec<u32>,
        minus: Option<u32>,
    },
    /// The topics in order of preference, at most three.
    Points531 {
        choices: Vec<u32>,
    },
}

/// A topic's place in a closed ranking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ranked {
    pub number: u32,
    pub title: String,
    /// D21: pluses minus minuses; 531: points.
    pub score: i64,
    /// How many ballots named the topic favourably, and (D21) against it.
    pub plus: u32,
    pub minus: u32,
    pub priorities: Priorities,
    /// The same score as the topic above it: the priorities, then the order proposed, broke the tie.
    pub tied: bool,
}

/// A ranking under way: the topics put to it and who ranked them how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Round {
    pub method: Method,
    pub topics: Vec<u32>,
    pub ballots: Vec<(String, Ballot)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Agenda {
    pub topics: Vec<Topic>,
    pub round: Option<Round>,
    /// The order the last ranking closed with.
    pub last_order: Vec<Ranked>,
}

impl Agenda {
    pub fn topic(&self, number: u32) -> Option<&Topic> {
        self.topics.iter().find(|t| t.number == number)
    }

    /// Topics still standing on their own (not merged into another).
    pub fn open_topics(&self) -> impl Iterator<Item = &Topic> {
        self.topics.iter().filter(|t| t.merged_into.is_none())
    }

    pub fn state_name(&self) -> &'static str {
        if self.round.is_some() {
            "ranking"
        } else {
            "collecting"
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgendaEvent {
    TopicProposed {
        number: u32,
        title: String,
        proposer: String,
        collected_from: String,
        priorities: Priorities,
    },
    /// The convenor merged a duplicate into the topic it repeats.
    TopicsMerged {
        duplicate: u32,
        into: u32,
    },
    RankingOpened {
        method: Method,
        topics: Vec<u32>,
    },
    TopicsRanked {
        voter: String,
        ballot: Ballot,
    },
    /// The order in which the topics are deliberated.
    RankingClosed {
        ballots: u32,
        order: Vec<Ranked>,
    },
}

impl AgendaEvent {
    pub fn type_name(&self) -> &'static str {
        match self {
            AgendaEvent::TopicProposed { .. } => "AgendaTopicProposed",
            AgendaEvent::TopicsMerged { .. } => "AgendaTopicsMerged",
            AgendaEvent::RankingOpened { .. } => "AgendaRankingOpened",
            AgendaEvent::TopicsRanked { .. } => "AgendaTopicsRanked",
            AgendaEvent::RankingClosed { .. } => "AgendaRankingClosed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgendaCommand {
    /// A resident of the area proposes a topic; `registered`: whether the area's register holds them.
    Propose {
        title: String,
        proposer: String,
        collected_from: String,
        priorities: Priorities,
        registered: bool,
    },
    Merge {
        duplicate: u32,
        into: u32,
    },
    OpenRanking {
        method: Method,
    },
    Rank {
        voter: String,
        ballot: Ballot,
        registered: bool,
    },
    CloseRanking,
}

impl AgendaCommand {
    pub fn name(&self) -> &'static str {
        match self {
            AgendaCommand::Propose { .. } => "propose_agenda_topic",
            AgendaCommand::Merge { .. } => "merge_topics",
            AgendaCommand::OpenRanking { .. } => "open_ranking",
            AgendaCommand::Rank { .. } => "rank_topics",
            AgendaCommand::CloseRanking => "close_ranking",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgendaError {
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("cannot {command} while {state}: {reason}")]
    Refused { command: &'static str, state: &'static str, reason: String },
}

pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> AgendaError {
    AgendaError::Invalid { field, reason: reason.into() }
}

pub(crate) fn refused(agenda: &Agenda, command: &AgendaCommand, reason: impl Into<String>) -> AgendaError {
    AgendaError::Refused { command: command.name(), state: agenda.state_name(), reason: reason.into() }
}

/// What a command does to the agenda. Pure.
pub fn decide(agenda: &Agenda, command: &AgendaCommand) -> Result<Vec<AgendaEvent>, AgendaError> {
    match command {
        AgendaCommand::Propose { .. } => collect::propose(agenda, command),
        AgendaCommand::Merge { duplicate, into } => collect::merge(agenda, command, *duplicate, *into),
        AgendaCommand::OpenRanking { method } => ranking::open(agenda, command, *method),
        AgendaCommand::Rank { voter, ballot, registered } => ranking::rank(agenda, command, voter, ballot, *registered),
        AgendaCommand::CloseRanking => ranking::close(agenda, command),
    }
}

pub fn evolve(mut agenda: Agenda, event: &AgendaEvent) -> Result<Agenda, Misfit> {
    let misfit = |agenda: &Agenda| Misfit { aggregate: "agenda", event: event.type_name(), state: agenda.state_name() };
    match event {
        AgendaEvent::TopicProposed { number, title, proposer, priorities, .. } => agenda.topics.push(Topic {
            number: *number,
            title: title.clone(),
            proposer: proposer.clone(),
            priorities: *priorities,
            merged_into: None,
        }),
        AgendaEvent::TopicsMerged { duplicate, into } => {
            let (Some(flags), Some(_)) = (agenda.topic(*duplicate).map(|t| t.priorities), agenda.topic(*into)) else {
                return Err(misfit(&agenda));
            };
            for topic in agenda.topics.iter_mut() {
                if topic.number == *into {
                    topic.priorities = topic.priorities.union(flags);
                } else if topic.number == *duplicate {
                    topic.merged_into = Some(*into);
                }
            }
        }
        AgendaEvent::RankingOpened { method, topics } if agenda.round.is_none() => {
            agenda.round = Some(Round { method: *method, topics: topics.clone(), ballots: vec![] })
        }
        AgendaEvent::TopicsRanked { voter, ballot } => match agenda.round.as_mut() {
            Some(round) => round.ballots.push((voter.clone(), ballot.clone())),
            None => return Err(misfit(&agenda)),
        },
        AgendaEvent::RankingClosed { order, .. } if agenda.round.is_some() => {
            agenda.round = None;
            agenda.last_order = order.clone();
        }
        AgendaEvent::RankingOpened { .. } | AgendaEvent::RankingClosed { .. } => return Err(misfit(&agenda)),
    }
    Ok(agenda)
}

impl Decider for Agenda {
    type Id = AgendaId;
    type Command = AgendaCommand;
    type Event = AgendaEvent;
    type Error = AgendaError;
    type Policy = ();

    fn initial() -> Self {
        Agenda::default()
    }

    fn stream_name(id: AgendaId) -> String {
        format!("agenda-{id}")
    }

    fn decide(&self, command: &AgendaCommand, _: &(), _: Timestamp) -> Result<Vec<AgendaEvent>, AgendaError> {
        decide(self, command)
    }

    fn evolve(self, event: &AgendaEvent) -> Result<Self, Misfit> {
        evolve(self, event)
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    /// The agenda after `events`.
    pub fn agenda(events: &[AgendaEvent]) -> Agenda {
        Agenda::default().fold(events).expect("the test's history fits")
    }

    /// Apply `command` to the agenda after `events`, appending what it decided.
    pub fn run(events: &mut Vec<AgendaEvent>, command: AgendaCommand) -> Result<(), AgendaError> {
        let decided = decide(&agenda(events), &command)?;
        events.extend(decided);
        Ok(())
    }

    pub fn proposed(number: u32, title: &str, priorities: Priorities) -> AgendaEvent {
        AgendaEvent::TopicProposed {
            number,
            title: title.into(),
            proposer: format!("r{number}"),
            collected_from: "痛点箱".into(),
            priorities,
        }
    }

    /// Four topics proposed: lifts (shared concern), parking, the elderly canteen (special
    /// groups) and a leaking roof (urgent).
    pub fn four_topics() -> Vec<AgendaEvent> {
        let none = Priorities::default();
        vec![
            proposed(1, "加装电梯", Priorities { shared_concern: true, ..none }),
            proposed(2, "停车难", none),
            proposed(3, "老年食堂", Priorities { special_groups: true, ..none }),
            proposed(4, "屋顶漏水", Priorities { urgent: true, ..none }),
        ]
    }

    pub fn ranking_open(method: Method) -> Vec<AgendaEvent> {
        let mut events = four_topics();
        events.push(AgendaEvent::RankingOpened { method, topics: vec![1, 2, 3, 4] });
        events
    }

    pub fn rank(voter: &str, ballot: Ballot) -> AgendaCommand {
        AgendaCommand::Rank { voter: voter.into(), ballot, registered: true }
    }

    pub fn d21(plus: &[u32], minus: Option<u32>) -> Ballot {
        Ballot::D21 { plus: plus.to_vec(), minus }
    }

    pub fn points(choices: &[u32]) -> Ballot {
        Ballot::Points531 { choices: choices.to_vec() }
    }
}
