//! Bytes off the bus and out of the store: the event envelope, and every event payload under
//! every event type name, through each decoder that reads them (the domain's case, mediation,
//! feedback, register and agenda events, intake's reports, and the one JSON form).
//!
//! Invariants: nothing panics; an envelope that decodes re-encodes to the same event; a case
//! event that decodes re-encodes to the same event; a JSON form re-parses to the same text.
#![no_main]

use gridloop_domain::case::CaseEvent;
use gridloop_domain::ids::CaseId;
use gridloop_eventstore::RecordedEvent;
use gridloop_proto::convert;
use gridloop_proto::envelope::{envelope, from_envelope};
use gridloop_proto::event_json::EventJson;
use gridloop_proto::v1 as pb;
use libfuzzer_sys::fuzz_target;
use prost::Message;
use std::sync::OnceLock;

/// Every message of the `gridloop.v1` package by its fully qualified name: the event types and,
/// so that a decoder is also handed a type it does not own, every other message too.
fn message_names() -> &'static [String] {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let set = prost_types::FileDescriptorSet::decode(gridloop_proto::FILE_DESCRIPTOR_SET).unwrap();
        set.file
            .iter()
            .filter(|file| file.package() == "gridloop.v1")
            .flat_map(|file| file.message_type.iter().map(|m| convert::event_type(m.name())))
            .collect()
    })
}

/// The event an envelope carries, when the bytes are one.
fn check_envelope(data: &[u8]) -> Option<RecordedEvent> {
    let received = pb::EventEnvelope::decode(data).ok()?;
    let (source, event) = from_envelope(received).ok()?;
    let (source_again, event_again) =
        from_envelope(envelope(&event, &source)).expect("the envelope of a decoded event decodes");
    assert_eq!(source_again, source);
    assert_eq!(event_again, event);
    Some(event)
}

fn check_payload(event_type: &str, payload: &[u8]) {
    if let Ok(event) = convert::decode_case_event(event_type, payload) {
        // The case id is the stream's: only an opened event carries it in its payload too.
        let case_id = match &event {
            CaseEvent::Opened { case_id, .. } => *case_id,
            _ => CaseId(uuid::Uuid::nil()),
        };
        let (encoded_type, encoded) = convert::encode_case_event(case_id, &event);
        assert_eq!(encoded_type, event_type);
        let again = convert::decode_case_event(&encoded_type, &encoded).expect("an encoded case event decodes");
        // Debug text, not `==`: a NaN coordinate is the same event but never equal to itself.
        assert_eq!(format!("{again:?}"), format!("{event:?}"));
    }
    let _ = convert::decode_mediation_event(event_type, payload);
    let _ = convert::decode_feedback_event(event_type, payload);
    let _ = convert::decode_register_event(event_type, payload);
    let _ = convert::decode_agenda_event(event_type, payload);
    if let Ok(reported) = pb::CaseReported::decode(payload) {
        let _ = convert::details_from_reported(&reported);
    }
    if let Ok(linked) = pb::CaseReportLinked::decode(payload) {
        let _ = convert::linked_from_proto(linked);
    }
    if let Some(text) = EventJson::shared().to_string(event_type, payload) {
        let reparsed: serde_json::Value = serde_json::from_str(&text).expect("the JSON form parses");
        assert_eq!(reparsed.to_string(), text);
    }
}

fuzz_target!(|data: &[u8]| {
    // An envelope, and its payload under its own type; and the bytes after a first byte that
    // picks a type, as a payload of that type.
    if let Some(event) = check_envelope(data) {
        check_payload(&event.event_type, &event.payload);
    }
    let Some((&pick, payload)) = data.split_first() else { return };
    let names = message_names();
    check_payload(&names[usize::from(pick) % names.len()], payload);
});
