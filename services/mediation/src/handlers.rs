//! What mediation does when dispatch asks for a session, and when a follow-up falls due: each
//! becomes a session command on the kit's command path.

use crate::MediationSvc;
use async_trait::async_trait;
use gridloop_bus::timers::TimerHandler;
use gridloop_bus::{EventHandler, HandlerError};
use gridloop_domain::case::CaseEvent;
use gridloop_domain::ids::{CaseId, MediationId};
use gridloop_domain::mediation::{MatterKind, MediationCommand, Origin, SessionLevel};
use gridloop_eventstore::{DueTimer, RecordedEvent};
use gridloop_proto::convert;
use uuid::Uuid;

#[async_trait]
impl EventHandler for MediationSvc {
    async fn handle(&self, source: &str, event: &RecordedEvent) -> Result<(), HandlerError> {
        let Ok(CaseEvent::MediationRequested { level, topic, convenor, register }) =
            convert::decode_case_event(&event.event_type, &event.payload)
        else {
            return Err(HandlerError::Poison(format!("{} is not a mediation request", event.event_type)));
        };
        let case_id = CaseId::parse(&event.correlation_id)
            .map_err(|_| HandlerError::Poison(format!("bad case id {:?}", event.correlation_id)))?;
        // The session id is derived from the request, so a redelivery names the same session.
        let id = MediationId(Uuid::new_v5(&Uuid::NAMESPACE_OID, event.event_id.as_bytes()));
        // The convenor the request named, else whoever asked (else the unit the case is with).
        let convenor = [convenor, event.actor.id.clone(), event.routing_key.clone()]
            .into_iter()
            .find(|name| !name.is_empty())
            .unwrap_or_default();
        let command = MediationCommand::Open {
            origin: Origin::Case { case_id },
            level: SessionLevel::for_case(level),
            topic,
            kind: MatterKind::Deliberation,
            professional: None,
            convenor,
            register,
        };
        self.sessions.consume(self.sessions.consumed(id, command, event, source)).await
    }
}

#[async_trait]
impl TimerHandler for MediationSvc {
    async fn fire(&self, timer: &DueTimer) -> Result<(), HandlerError> {
        self.sessions.fire(timer, |due| MediationCommand::FollowUpTimerFired { due }).await
    }
}
