//! Glue every service needs at its edge: building event envelopes, and mapping domain and store
//! errors to precise gRPC statuses (never everything → INTERNAL).

use crate::convert::{from_timestamp, timestamp};
use crate::v1 as pb;
use chrono::{DateTime, Utc};
use gridloop_eventstore::{Actor, NewEvent, RecordedEvent, StoreError};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use uuid::Uuid;

/// Version of the event payload schema written by this build.
pub const SCHEMA_VERSION: u32 = 1;

/// Who and what caused the events a command or handler is about to append.
#[derive(Debug, Clone)]
pub struct EventContext {
    pub actor: Actor,
    /// The case the events belong to.
    pub correlation_id: String,
    /// The event or command that caused them.
    pub causation_id: String,
    pub traceparent: String,
    pub occurred_at: DateTime<Utc>,
    /// The case's grid code: the jurisdiction subject the events are published under.
    pub routing_key: String,
}

impl EventContext {
    /// Context for events caused by `cause` (a consumed event), acting as `actor`.
    pub fn caused_by(cause: &RecordedEvent, actor: Actor, occurred_at: DateTime<Utc>) -> Self {
        Self {
            actor,
            correlation_id: cause.correlation_id.clone(),
            causation_id: cause.event_id.to_string(),
            traceparent: cause.traceparent.clone(),
            occurred_at,
            routing_key: cause.routing_key.clone(),
        }
    }

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

/// The actor role of history imported from another platform (`gridloop import`): evaluation
/// does not ask such cases for feedback.
pub const IMPORT_ROLE: &str = "import";

/// The system itself acting (a timer, a consumer), as opposed to a person.
pub fn system_actor(service: &str) -> Actor {
    Actor { role: "system".into(), id: service.into(), jurisdiction: String::new() }
}

pub fn actor_from(actor: Option<&pb::Actor>) -> Actor {
    actor.map_or_else(
        || Actor { role: "anonymous".into(), ..Actor::default() },
        |a| Actor { role: a.role.clone(), id: a.id.clone(), jurisdiction: a.jurisdiction.clone() },
    )
}

pub fn envelope(e: &RecordedEvent, source: &str) -> pb::EventEnvelope {
    pb::EventEnvelope {
        event_id: e.event_id.to_string(),
        stream: e.stream.clone(),
        stream_version: e.stream_version,
        global_position: u64::try_from(e.global_position).unwrap_or_default(),
        event_type: e.event_type.clone(),
        occurred_at: Some(timestamp(e.occurred_at)),
        recorded_at: Some(timestamp(e.recorded_at)),
        correlation_id: e.correlation_id.clone(),
        causation_id: e.causation_id.clone(),
        actor: Some(pb::Actor {
            role: e.actor.role.clone(),
            id: e.actor.id.clone(),
            jurisdiction: e.actor.jurisdiction.clone(),
        }),
        traceparent: e.traceparent.clone(),
        schema_version: e.schema_version,
        payload: e.payload.clone(),
        source: source.to_string(),
        routing_key: e.routing_key.clone(),
    }
}

/// Why an envelope received from the bus cannot be turned back into an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid event envelope: {0}")]
pub struct EnvelopeError(&'static str);

/// The event an [`envelope`] carries, and its producing service: the inverse of [`envelope`].
pub fn from_envelope(envelope: pb::EventEnvelope) -> Result<(String, RecordedEvent), EnvelopeError> {
    let event_id = Uuid::parse_str(&envelope.event_id).map_err(|_| EnvelopeError("event_id is not a UUID"))?;
    let occurred_at = envelope.occurred_at.as_ref().and_then(from_timestamp).ok_or(EnvelopeError("occurred_at"))?;
    let recorded_at = envelope.recorded_at.as_ref().and_then(from_timestamp).ok_or(EnvelopeError("recorded_at"))?;
    let global_position = i64::try_from(envelope.global_position).map_err(|_| EnvelopeError("global_position"))?;
    if envelope.source.is_empty() || envelope.event_type.is_empty() || envelope.stream.is_empty() {
        return Err(EnvelopeError("source, event_type and stream are required"));
    }
    let actor = envelope.actor.unwrap_or_default();
    let event = RecordedEvent {
        global_position,
        stream: envelope.stream,
        stream_version: envelope.stream_version,
        recorded_at,
        event_id,
        event_type: envelope.event_type,
        occurred_at,
        correlation_id: envelope.correlation_id,
        causation_id: envelope.causation_id,
        actor: Actor { role: actor.role, id: actor.id, jurisdiction: actor.jurisdiction },
        traceparent: envelope.traceparent,
        schema_version: envelope.schema_version,
        routing_key: envelope.routing_key,
        payload: envelope.payload,
    };
    Ok((envelope.source, event))
}

/// Collects field violations so a request reports every bad field at once.
#[derive(Debug, Default)]
pub struct Violations(Vec<(String, String)>);

impl Violations {
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push((field.into(), description.into()));
    }

    pub fn check(&mut self, ok: bool, field: &str, description: &str) {
        if !ok {
            self.add(field, description);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok` when no field is bad, else INVALID_ARGUMENT with a `BadRequest` detail per field.
    pub fn into_result(self) -> Result<(), Status> {
        if self.0.is_empty() {
            return Ok(());
        }
        let message = self.0.iter().map(|(f, d)| format!("{f}: {d}")).collect::<Vec<_>>().join("; ");
        let mut details = ErrorDetails::new();
        for (field, description) in self.0 {
            details.add_bad_request_violation(field, description);
        }
        Err(Status::with_error_details(Code::InvalidArgument, message, details))
    }
}

pub fn invalid_argument(field: &str, description: impl Into<String>) -> Status {
    let mut v = Violations::default();
    v.add(field, description);
    v.into_result().expect_err("one violation")
}

/// A transition the state forbids: FAILED_PRECONDITION with a `PreconditionFailure` detail.
pub fn failed_precondition(subject: &str, kind: &str, description: impl Into<String>) -> Status {
    let description = description.into();
    let details = ErrorDetails::with_precondition_failure_violation(kind, subject, description.clone());
    Status::with_error_details(Code::FailedPrecondition, description, details)
}

pub fn store_error(error: StoreError) -> Status {
    match error {
        StoreError::Conflict { stream, expected, actual } => Status::aborted(format!(
            "version conflict on {stream}: expected {expected:?}, found version {actual}; reload and retry"
        )),
        StoreError::AlreadyProcessed { .. } | StoreError::TimerGone { .. } => Status::aborted(error.to_string()),
        StoreError::Database(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed) => {
            Status::unavailable(format!("storage unavailable: {error}"))
        }
        other => {
            tracing::error!(error = %other, "storage failure");
            Status::internal(format!("storage failure: {other}"))
        }
    }
}

pub fn parse_uuid(field: &str, value: &str) -> Result<Uuid, Status> {
    if value.trim().is_empty() {
        return Err(invalid_argument(field, "required"));
    }
    Uuid::parse_str(value).map_err(|_| invalid_argument(field, format!("{value:?} is not a UUID")))
}

/// Durable timers that belong to one aggregate (a case, a mediation session): key
/// `<kind>:<id>`, payload the exact instant the timer stands for. The store keeps due times in microseconds; the payload keeps the deadline
/// exactly, so the handler can tell a timer left over from an earlier assignment (stale) from the
/// running one.
pub mod case_timer {
    use super::*;
    use crate::convert::from_timestamp;
    use gridloop_eventstore::{DueTimer, NewTimer};
    use prost::Message;

    pub fn key(kind: &str, id: impl std::fmt::Display) -> String {
        format!("{kind}:{id}")
    }

    /// The timer writes that arm `kind` for `id` at `at`, or disarm it: (schedule, cancel).
    pub fn arm(kind: &str, id: impl std::fmt::Display, at: Option<DateTime<Utc>>) -> (Vec<NewTimer>, Vec<String>) {
        let key = key(kind, id);
        match at {
            Some(due_at) => (
                vec![NewTimer { key, due_at, kind: kind.to_string(), payload: timestamp(due_at).encode_to_vec() }],
                vec![],
            ),
            None => (vec![], vec![key]),
        }
    }

    /// The aggregate (`CaseId`, `MediationId`) and the exact instant of a due timer of `kind`.
    pub fn parse<I: From<Uuid>>(kind: &str, timer: &DueTimer) -> Result<(I, DateTime<Utc>), String> {
        let id = timer
            .key
            .strip_prefix(kind)
            .and_then(|rest| rest.strip_prefix(':'))
            .and_then(|id| Uuid::parse_str(id).ok())
            .map(I::from)
            .ok_or_else(|| format!("{} is not a {kind} timer", timer.key))?;
        let at = prost_types::Timestamp::decode(timer.payload.as_slice())
            .ok()
            .as_ref()
            .and_then(from_timestamp)
            .ok_or_else(|| format!("timer {} carries no instant", timer.key))?;
        Ok((id, at))
    }
}

/// The W3C `traceparent` of a new case: the caller's, when it sent a valid one, else a new
/// trace whose id is the case id, so one case is one trace across all services.
pub fn case_traceparent(metadata: &tonic::metadata::MetadataMap, case_id: Uuid) -> String {
    metadata
        .get("traceparent")
        .and_then(|value| value.to_str().ok())
        .filter(|value| is_traceparent(value))
        .map(str::to_string)
        .unwrap_or_else(|| {
            let span = Uuid::now_v7().simple().to_string();
            format!("00-{}-{}-01", case_id.simple(), &span[16..])
        })
}

/// `version-traceid-parentid-flags`, lower-case hex, ids not all zero (W3C Trace Context).
fn is_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    matches!(parts.as_slice(), [version, trace, parent, flags]
        if hex(version, 2) && *version != "ff" && hex(trace, 32) && hex(parent, 16) && hex(flags, 2)
            && trace.bytes().any(|b| b != b'0') && parent.bytes().any(|b| b != b'0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_envelope_carries_the_whole_event_and_its_source() {
        let at = DateTime::parse_from_rfc3339("2026-05-06T07:08:09.123456Z").unwrap().with_timezone(&Utc);
        let event = RecordedEvent {
            global_position: 42,
            stream: "case-1".into(),
            stream_version: 3,
            recorded_at: at,
            event_id: Uuid::now_v7(),
            event_type: "gridloop.v1.CaseAccepted".into(),
            occurred_at: at - chrono::Duration::seconds(5),
            correlation_id: "c1".into(),
            causation_id: "e0".into(),
            actor: Actor {
                role: "grid_worker".into(), id: "张三\r\n".into(), jurisdiction: "321012001001001".into()
            },
            traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
            schema_version: 1,
            routing_key: "321012001001001".into(),
            payload: vec![1, 2, 3],
        };
        let (source, back) = from_envelope(envelope(&event, "dispatch")).unwrap();
        assert_eq!(source, "dispatch");
        assert_eq!(back, event);
        let broken = pb::EventEnvelope { event_id: "nope".into(), ..envelope(&event, "dispatch") };
        assert_eq!(from_envelope(broken).unwrap_err(), EnvelopeError("event_id is not a UUID"));
    }

    #[test]
    fn a_valid_incoming_traceparent_is_kept() {
        let mut metadata = tonic::metadata::MetadataMap::new();
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        metadata.insert("traceparent", incoming.parse().unwrap());
        assert_eq!(case_traceparent(&metadata, Uuid::nil()), incoming);
    }

    #[test]
    fn without_a_valid_one_the_case_id_is_the_trace_id() {
        let case = Uuid::now_v7();
        let mut metadata = tonic::metadata::MetadataMap::new();
        metadata.insert("traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01".parse().unwrap());
        let made = case_traceparent(&metadata, case);
        assert!(is_traceparent(&made), "{made}");
        assert_eq!(&made[3..35], case.simple().to_string());
        assert_eq!(case_traceparent(&tonic::metadata::MetadataMap::new(), case)[3..35], case.simple().to_string());
    }
}
