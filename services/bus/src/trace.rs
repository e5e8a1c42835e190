//! W3C trace context: every event carries its case's `traceparent`, and every span that handles
//! an event (in any service, in any process) joins that trace, so one case is one trace from
//! report to closure.

use gridloop_eventstore::RecordedEvent;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use tracing_opentelemetry::OpenTelemetrySpanExt;

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
