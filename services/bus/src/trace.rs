//! W3C trace context: every event carries its case's `traceparent`, and every span that handles
//! an event (in any service, in any process) joins that trace, so one case is one trace from
//! report to closure.

use gridloop_eventstore::RecordedEvent;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use uuid::Uuid;

/// Whether `value` is a W3C `traceparent`: `version-traceid-parentid-flags`, lower-case hex, a
/// version other than `ff`, ids not all zero.
pub fn is_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    matches!(parts.as_slice(), [version, trace, parent, flags]
        if hex(version, 2) && *version != "ff" && hex(trace, 32) && hex(parent, 16) && hex(flags, 2)
            && trace.bytes().any(|b| b != b'0') && parent.bytes().any(|b| b != b'0'))
}

/// A sampled `traceparent` of a new trace whose id is `trace_id` (a case's id, so that one case
/// is one trace across all services), with a fresh span id.
pub fn new_traceparent(trace_id: Uuid) -> String {
    let span = Uuid::now_v7().simple().to_string();
    format!("00-{}-{}-01", trace_id.simple(), &span[16..])
}

/// The remote parent a W3C `traceparent` (`00-<trace id>-<span id>-<flags>`) names, if valid.
pub fn parent_context(traceparent: &str) -> Option<opentelemetry::Context> {
    let mut parts = traceparent.split('-');
    let (Some("00"), Some(trace_id), Some(span_id), Some(flags), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if trace_id.len() != 32 || span_id.len() != 16 || flags.len() != 2 {
        return None;
    }
    let trace_id = TraceId::from_hex(trace_id).ok().filter(|id| *id != TraceId::INVALID)?;
    let span_id = SpanId::from_hex(span_id).ok().filter(|id| *id != SpanId::INVALID)?;
    let flags = TraceFlags::new(u8::from_str_radix(flags, 16).ok()?);
    let remote = SpanContext::new(trace_id, span_id, flags, true, TraceState::default());
    Some(opentelemetry::Context::new().with_remote_span_context(remote))
}

/// Make `span` a child of `traceparent`'s span (no-op when tracing export is off or the value
/// is not a valid traceparent).
pub fn join_trace(span: &tracing::Span, traceparent: &str) {
    if let Some(parent) = parent_context(traceparent) {
        let _ = span.set_parent(parent);
    }
}

/// The span a consumer handles `event` in: part of the event's case trace.
pub fn event_span(consumer: &str, event: &RecordedEvent) -> tracing::Span {
    let span = tracing::info_span!(
        "consume",
        consumer,
        event_type = %event.event_type,
        case_id = %event.correlation_id,
        event_id = %event.event_id,
    );
    join_trace(&span, &event.traceparent);
    span
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_traceparent_names_its_trace_and_span() {
        let parent = parent_context("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        let span = parent.span();
        let remote = span.span_context();
        assert_eq!(remote.trace_id(), TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap());
        assert_eq!(remote.span_id(), SpanId::from_hex("00f067aa0ba902b7").unwrap());
        assert!(remote.is_sampled() && remote.is_remote());
    }

    #[test]
    fn a_new_trace_is_named_after_its_case() {
        let case = Uuid::now_v7();
        let made = new_traceparent(case);
        assert!(is_traceparent(&made), "{made}");
        assert_eq!(&made[3..35], case.simple().to_string());
        assert!(parent_context(&made).is_some());
        assert!(!is_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"));
        assert!(!is_traceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    }

    #[test]
    fn malformed_traceparents_name_nothing() {
        for bad in [
            "",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert!(parent_context(bad).is_none(), "{bad}");
        }
    }
}
