//! What dispatch does when another service's event arrives or one of its deadlines falls due:
//! each becomes a case command on the kit's command path.

use crate::Dispatch;
use async_trait::async_trait;
use gridloop_bus::timers::TimerHandler;
use gridloop_bus::{EventHandler, HandlerError};
use gridloop_domain::access::Role;
use gridloop_domain::case::{CaseCommand, Evaluator, MediationVerdict};
use gridloop_domain::feedback::FeedbackEvent;
use gridloop_domain::ids::CaseId;
use gridloop_domain::mediation::{MediationEvent, Outcome, Referral};
use gridloop_eventstore::{Actor, DueTimer, RecordedEvent};
use gridloop_proto::convert::{self, short_type, DecodeError};
use gridloop_proto::v1 as pb;
use prost::Message;

#[async_trait]
impl EventHandler for Dispatch {
    async fn handle(&self, source: &str, event: &RecordedEvent) -> Result<(), HandlerError> {
        let Some((case_id, command)) = command_for(event)? else { return Ok(()) };
        self.cases.consume(self.cases.consumed(case_id, command, event, source)).await
    }
}

#[async_trait]
impl TimerHandler for Dispatch {
    async fn fire(&self, timer: &DueTimer) -> Result<(), HandlerError> {
        self.cases.fire(timer, |deadline| CaseCommand::DeadlineExpired { deadline }).await
    }
}

/// The case command an event of another service asks for, if any; an event that does not
/// decode is poison.
fn command_for(event: &RecordedEvent) -> Result<Option<(CaseId, CaseCommand)>, HandlerError> {
    let poison = |e: DecodeError| HandlerError::Poison(e.to_string());
    Ok(Some(match short_type(&event.event_type) {
        "CaseReported" => {
            let reported = pb::CaseReported::decode(event.payload.as_slice())
                .map_err(|e| HandlerError::Poison(format!("undecodable CaseReported: {e}")))?;
            let (case_id, details) = convert::details_from_reported(&reported).map_err(poison)?;
            (case_id, CaseCommand::Open { case_id, details })
        }
        "CaseReportLinked" => {
            let linked = pb::CaseReportLinked::decode(event.payload.as_slice())
                .map_err(|e| HandlerError::Poison(format!("undecodable CaseReportLinked: {e}")))?;
            let (case_id, report) = convert::linked_from_proto(linked).map_err(poison)?;
            (case_id, CaseCommand::LinkReport { report })
        }
        "MediationConcluded" => {
            let concluded = pb::MediationConcluded::decode(event.payload.as_slice())
                .map_err(|e| HandlerError::Poison(format!("undecodable MediationConcluded: {e}")))?;
            if concluded.case_id.is_empty() {
                return Ok(None); // a session on a collected topic: no case to move
            }
            let case_id = case_of(event)?;
            let mediation_id = event.stream.strip_prefix("mediation-").unwrap_or(&event.stream).to_string();
            let MediationEvent::Concluded { outcome, summary, .. } =
                convert::decode_mediation_event(&event.event_type, &event.payload).map_err(poison)?
            else {
                return Err(HandlerError::Poison(format!("{} is not a conclusion", event.event_type)));
            };
            let verdict = match outcome {
                Outcome::Agreed => MediationVerdict::Agreed,
                Outcome::Failed(Referral::EscalateOneLevel) => MediationVerdict::EscalateOneLevel,
                Outcome::Failed(Referral::BackToUnit | Referral::Litigation) | Outcome::Consultation => {
                    MediationVerdict::BackToUnit
                }
            };
            (case_id, CaseCommand::ConcludeMediation { mediation_id, verdict, summary })
        }
        "FeedbackReceived" | "FeedbackDefaulted" => {
            let case_id = case_of(event)?;
            let command = match convert::decode_feedback_event(&event.event_type, &event.payload).map_err(poison)? {
                FeedbackEvent::Received { satisfaction, comment } => CaseCommand::RecordEvaluation {
                    satisfaction,
                    comment,
                    defaulted: false,
                    evaluated_by: Some(evaluator(&event.actor)),
                },
                FeedbackEvent::Defaulted { satisfaction } => CaseCommand::RecordEvaluation {
                    satisfaction,
                    comment: String::new(),
                    defaulted: true,
                    evaluated_by: None,
                },
                FeedbackEvent::Requested { .. } => return Ok(None),
            };
            (case_id, command)
        }
        _ => return Ok(None),
    }))
}

/// Who answered, as the evaluation service recorded the answer: the principal on its envelope.
/// A resident's subject is their reporter id, which the case's events keep sealed, so a
/// resident is named by role alone.
fn evaluator(actor: &Actor) -> Evaluator {
    let id = if actor.role == Role::Resident.as_str() { String::new() } else { actor.id.clone() };
    Evaluator { role: actor.role.clone(), id, area: actor.jurisdiction.clone() }
}

fn case_of(event: &RecordedEvent) -> Result<CaseId, HandlerError> {
    CaseId::parse(&event.correlation_id)
        .map_err(|_| HandlerError::Poison(format!("correlation id {:?} is not a case id", event.correlation_id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: &str, id: &str, area: &str) -> Actor {
        Actor { role: role.into(), id: id.into(), jurisdiction: area.into() }
    }

    #[test]
    fn the_evaluator_is_the_principal_that_answered_and_a_resident_is_named_by_role_alone() {
        let hotline = evaluator(&actor("hotline", "12345-hotline", ""));
        assert_eq!(hotline, Evaluator { role: "hotline".into(), id: "12345-hotline".into(), area: String::new() });
        let office = evaluator(&actor("community-office", "li", "321012001001"));
        assert_eq!((office.id.as_str(), office.area.as_str()), ("li", "321012001001"));
        let resident = evaluator(&actor("resident", "r-13900000000", ""));
        assert_eq!(resident, Evaluator { role: "resident".into(), id: String::new(), area: String::new() });
    }
}
