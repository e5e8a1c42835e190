//! The envelope a stored event travels in between services (`gridloop.v1.EventEnvelope`): the
//! event with its whole envelope, and the service that produced it. Pure, so bytes off the bus
//! can be decoded (and fuzzed) without a broker or a store.

use crate::convert::{from_timestamp, timestamp};
use crate::v1 as pb;
use gridloop_eventstore::{Actor, RecordedEvent};
use uuid::Uuid;

/// The envelope of `e`, produced by `source`.
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

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
}
