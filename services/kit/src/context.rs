//! Who and what caused the events a command appends, and where they belong: built here, in one
//! place, for every command, consumer and timer of every service.

use gridloop_bus::trace::{is_traceparent, new_traceparent};
use gridloop_domain::access::Principal;
use gridloop_eventstore::{Actor, NewEvent, RecordedEvent};
use uuid::Uuid;

use gridloop_domain::Timestamp;

pub use gridloop_domain::access::IMPORT_ROLE;
pub use gridloop_proto::SCHEMA_VERSION;

/// Who asks for a command: the principal a request was authenticated as, or the service itself
/// for a consumed event or a timer. The actor recorded on the events is derived from it, never
/// from a request's `actor` field; the authorization check judges the principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The actor recorded on the events the command appends.
    pub actor: Actor,
    /// Whom the request was authenticated as; `None` for the service itself.
    pub principal: Option<Principal>,
}

impl Caller {
    /// The service itself acting (a consumer, a timer), as opposed to a person.
    pub fn system(service: &str) -> Self {
        Self { actor: system_actor(service), principal: None }
    }

    /// A person (or platform) acting as the edge authenticated them.
    pub fn from_principal(principal: Principal) -> Self {
        Self { actor: principal_actor(&principal), principal: Some(principal) }
    }

    /// The caller of a gRPC request: the principal the auth layer put on it. A request without
    /// one never passed the layer, and is refused.
    pub fn of<T>(request: &tonic::Request<T>) -> Result<Self, tonic::Status> {
        gridloop_auth::principal(request).cloned().map(Self::from_principal)
    }
}

/// The system itself acting (a timer, a consumer), as opposed to a person.
pub fn system_actor(service: &str) -> Actor {
    Actor { role: "system".into(), id: service.into(), jurisdiction: String::new() }
}

/// The actor a principal's events record: its role, subject and area code (empty city-wide).
pub fn principal_actor(principal: &Principal) -> Actor {
    Actor {
        role: principal.role.as_str().into(),
        id: principal.subject.clone(),
        jurisdiction: principal.area.as_ref().map_or_else(String::new, |area| area.as_str().to_string()),
    }
}

/// What every event of a stream carries from its first: the correlation (the case), the trace
/// and the routing key (the jurisdiction subject the events are published under).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub correlation_id: String,
    pub traceparent: String,
    pub routing_key: String,
}

impl Origin {
    /// The origin an event carries: a stream's first event fixes its stream's, a consumed
    /// event passes its own on to the events it causes.
    pub fn of(event: &RecordedEvent) -> Self {
        Self {
            correlation_id: event.correlation_id.clone(),
            traceparent: event.traceparent.clone(),
            routing_key: event.routing_key.clone(),
        }
    }
}

/// Who and what caused the events a command or handler is about to append.
#[derive(Debug, Clone)]
pub struct EventContext {
    pub actor: Actor,
    /// The case the events belong to.
    pub correlation_id: String,
    /// The event or command that caused them.
    pub causation_id: String,
    pub traceparent: String,
    pub occurred_at: Timestamp,
    /// The case's grid code: the jurisdiction subject the events are published under.
    pub routing_key: String,
}

impl EventContext {
    pub fn new(actor: Actor, origin: &Origin, causation_id: impl Into<String>, occurred_at: Timestamp) -> Self {
        Self {
            actor,
            correlation_id: origin.correlation_id.clone(),
            causation_id: causation_id.into(),
            traceparent: origin.traceparent.clone(),
            occurred_at,
            routing_key: origin.routing_key.clone(),
        }
    }

    /// Context for events caused by `cause` (a consumed event), acting as `actor`.
    pub fn caused_by(cause: &RecordedEvent, actor: Actor, occurred_at: Timestamp) -> Self {
        Self::new(actor, &Origin::of(cause), cause.event_id.to_string(), occurred_at)
    }

    /// The correlation, trace and routing this context gives its events.
    pub fn origin(&self) -> Origin {
        Origin {
            correlation_id: self.correlation_id.clone(),
            traceparent: self.traceparent.clone(),
            routing_key: self.routing_key.clone(),
        }
    }

    /// A new event of `(event_type, payload)` in this context.
    pub fn event(&self, (event_type, payload): (String, Vec<u8>)) -> NewEvent {
        NewEvent {
            event_id: Uuid::now_v7(),
            event_type,
            occurred_at: self.occurred_at,
            correlation_id: self.correlation_id.clone(),
            causation_id: self.causation_id.clone(),
            actor: self.actor.clone(),
            traceparent: self.traceparent.clone(),
            schema_version: SCHEMA_VERSION,
            routing_key: self.routing_key.clone(),
            payload,
        }
    }
}

/// The causation of events a caller's command appends.
pub fn command_causation(name: &str) -> String {
    format!("command:{name}")
}

/// The W3C `traceparent` a new stream starts: the caller's, when it sent a valid one, else a new
/// trace whose id is the stream's (a case's) id, so one case is one trace across all services.
pub fn request_traceparent(metadata: &tonic::metadata::MetadataMap, id: Uuid) -> String {
    metadata
        .get("traceparent")
        .and_then(|value| value.to_str().ok())
        .filter(|value| is_traceparent(value))
        .map_or_else(|| new_traceparent(id), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_principal_is_recorded_as_its_role_subject_and_area() {
        use gridloop_domain::access::Role;
        use gridloop_domain::jurisdiction::AreaCode;
        let area = AreaCode::new("321012001001001").unwrap();
        let worker = Principal::new("gw-1", Role::GridWorker, Some(area), None).unwrap();
        let caller = Caller::from_principal(worker.clone());
        assert_eq!(
            caller.actor,
            Actor { role: "grid-worker".into(), id: "gw-1".into(), jurisdiction: "321012001001001".into() }
        );
        assert_eq!(caller.principal, Some(worker));
        let admin = Principal::new("ops", Role::Admin, None, None).unwrap();
        assert_eq!(principal_actor(&admin).jurisdiction, "", "city-wide");
        assert_eq!(Caller::system("dispatch").principal, None, "the service itself is judged by no policy");
    }

    #[test]
    fn a_request_without_a_principal_never_passed_the_auth_layer() {
        let refused = Caller::of(&tonic::Request::new(())).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    }

    #[test]
    fn a_valid_incoming_traceparent_is_kept() {
        let mut metadata = tonic::metadata::MetadataMap::new();
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        metadata.insert("traceparent", incoming.parse().unwrap());
        assert_eq!(request_traceparent(&metadata, Uuid::nil()), incoming);
    }

    #[test]
    fn without_a_valid_one_the_case_id_is_the_trace_id() {
        let case = Uuid::now_v7();
        let mut metadata = tonic::metadata::MetadataMap::new();
        metadata.insert("traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01".parse().unwrap());
        let made = request_traceparent(&metadata, case);
        assert!(is_traceparent(&made), "{made}");
        assert_eq!(&made[3..35], case.simple().to_string());
        assert_eq!(request_traceparent(&tonic::metadata::MetadataMap::new(), case)[3..35], case.simple().to_string());
    }

    #[test]
    fn events_caused_by_an_event_carry_its_case_trace_and_routing() {
        let cause = RecordedEvent {
            global_position: 7,
            stream: "report-1".into(),
            stream_version: 1,
            recorded_at: Timestamp::default(),
            event_id: Uuid::now_v7(),
            event_type: "gridloop.v1.CaseReported".into(),
            occurred_at: Timestamp::default(),
            correlation_id: "case-1".into(),
            causation_id: "report:k".into(),
            actor: Actor::default(),
            traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
            schema_version: SCHEMA_VERSION,
            routing_key: "321012001001001".into(),
            payload: vec![],
        };
        let context = EventContext::caused_by(&cause, system_actor("dispatch"), Timestamp::default());
        let event = context.event(("gridloop.v1.CaseOpened".into(), vec![1]));
        assert_eq!(event.causation_id, cause.event_id.to_string());
        assert_eq!(Origin::of(&cause), context.origin());
        assert_eq!((event.actor.role.as_str(), event.actor.id.as_str()), ("system", "dispatch"));
        assert_eq!((event.schema_version, event.payload), (SCHEMA_VERSION, vec![1]));
    }
}
