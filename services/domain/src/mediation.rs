//! The Mediation aggregate: a mediation / deliberation session opened for a case (调解, 议事会).
//! This is the minimal session the loop needs (open → agreed | failed); the full procedure of the
//! seeds (participants, six steps, votes, public notice) grows from here.

use crate::ids::CaseId;
use crate::level::Level;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Agreement reached and signed by the parties (签字确认).
    Agreed,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MediationEvent {
    Opened { case_id: CaseId, level: Level, topic: String },
    Concluded { outcome: Outcome, summary: String, signed_by: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Mediation {
    #[default]
    New,
    Open {
        case_id: CaseId,
        level: Level,
        topic: String,
    },
    Concluded {
        case_id: CaseId,
        level: Level,
        topic: String,
        outcome: Outcome,
        summary: String,
        signed_by: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum MediationCommand {
    Open { case_id: CaseId, level: Level, topic: String },
    Conclude { outcome: Outcome, summary: String, signed_by: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MediationError {
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: &'static str },
    #[error("mediation not found")]
    NotFound,
    #[error("the mediation is already concluded")]
    AlreadyConcluded,
}

pub fn decide(state: &Mediation, command: &MediationCommand) -> Result<Vec<MediationEvent>, MediationError> {
    match (command, state) {
        (MediationCommand::Open { case_id, level, topic }, Mediation::New) => {
            Ok(vec![MediationEvent::Opened { case_id: *case_id, level: *level, topic: topic.clone() }])
        }
        // Opening an existing session again is a redelivery: nothing new.
        (MediationCommand::Open { .. }, _) => Ok(vec![]),
        (MediationCommand::Conclude { .. }, Mediation::New) => Err(MediationError::NotFound),
        (MediationCommand::Conclude { .. }, Mediation::Concluded { .. }) => Err(MediationError::AlreadyConcluded),
        (MediationCommand::Conclude { outcome, summary, signed_by }, Mediation::Open { .. }) => {
            if summary.trim().is_empty() {
                return Err(MediationError::Invalid { field: "summary", reason: "must not be empty" });
            }
            if *outcome == Outcome::Agreed && signed_by.iter().all(|s| s.trim().is_empty()) {
                return Err(MediationError::Invalid {
                    field: "signed_by",
                    reason: "an agreement must be signed by the parties",
                });
            }
            Ok(vec![MediationEvent::Concluded {
                outcome: *outcome,
                summary: summary.clone(),
                signed_by: signed_by.clone(),
            }])
        }
    }
}

pub fn evolve(state: Mediation, event: &MediationEvent) -> Mediation {
    match (event, state) {
        (MediationEvent::Opened { case_id, level, topic }, _) => {
            Mediation::Open { case_id: *case_id, level: *level, topic: topic.clone() }
        }
        (MediationEvent::Concluded { outcome, summary, signed_by }, Mediation::Open { case_id, level, topic }) => {
            Mediation::Concluded {
                case_id,
                level,
                topic,
                outcome: *outcome,
                summary: summary.clone(),
                signed_by: signed_by.clone(),
            }
        }
        (_, state) => state,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn opened() -> MediationEvent {
        MediationEvent::Opened { case_id: CaseId(Uuid::nil()), level: Level::Grid, topic: "noise".into() }
    }

    fn given(events: &[MediationEvent]) -> Mediation {
        events.iter().fold(Mediation::default(), evolve)
    }

    fn conclude(outcome: Outcome, signed_by: &[&str]) -> MediationCommand {
        MediationCommand::Conclude {
            outcome,
            summary: "quiet hours agreed".into(),
            signed_by: signed_by.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn given_nothing_when_a_session_opens_then_it_is_opened_and_a_redelivery_adds_nothing() {
        let cmd = MediationCommand::Open { case_id: CaseId(Uuid::nil()), level: Level::Grid, topic: "noise".into() };
        assert_eq!(decide(&given(&[]), &cmd), Ok(vec![opened()]));
        assert_eq!(decide(&given(&[opened()]), &cmd), Ok(vec![]));
    }

    #[test]
    fn given_an_open_session_when_the_parties_sign_then_it_concludes_agreed() {
        let events = decide(&given(&[opened()]), &conclude(Outcome::Agreed, &["Zhang", "Li"])).unwrap();
        assert!(
            matches!(&events[..], [MediationEvent::Concluded { outcome: Outcome::Agreed, signed_by, .. }] if signed_by.len() == 2)
        );
    }

    #[test]
    fn given_an_open_session_when_an_agreement_has_no_signatures_then_it_is_refused() {
        let refused = decide(&given(&[opened()]), &conclude(Outcome::Agreed, &[]));
        assert_eq!(
            refused,
            Err(MediationError::Invalid { field: "signed_by", reason: "an agreement must be signed by the parties" })
        );
    }

    #[test]
    fn given_an_open_session_when_it_fails_then_no_signature_is_needed() {
        let events = decide(&given(&[opened()]), &conclude(Outcome::Failed, &[])).unwrap();
        assert!(matches!(&events[..], [MediationEvent::Concluded { outcome: Outcome::Failed, .. }]));
    }

    #[test]
    fn given_a_concluded_or_missing_session_when_it_is_concluded_then_it_is_refused() {
        let done = MediationEvent::Concluded { outcome: Outcome::Failed, summary: "x".into(), signed_by: vec![] };
        assert_eq!(
            decide(&given(&[opened(), done]), &conclude(Outcome::Failed, &[])),
            Err(MediationError::AlreadyConcluded)
        );
        assert_eq!(decide(&given(&[]), &conclude(Outcome::Failed, &[])), Err(MediationError::NotFound));
    }
}
