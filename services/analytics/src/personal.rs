//! Residents' personal data in an export. By default an export carries none in the clear: the
//! reporters' contacts stay sealed (ciphertext) as the events hold them, and phone and ID-card
//! numbers typed into descriptions are masked, in `payload` and `payload_json` alike. Only an
//! admin's explicit choice ([`PersonalData::Included`]) decrypts the contacts into extra columns,
//! marked as personal data by their `personal_` prefix and, in Parquet, by field metadata.

use async_trait::async_trait;
use gridloop_domain::personal::{mask_free_text, Contact, SealedContact};
use gridloop_eventstore::RecordedEvent;
use gridloop_proto::convert::{from_sealed_contact, short_type};
use gridloop_proto::v1 as pb;
use prost::Message;

/// The columns that carry decrypted contacts, in this order.
pub const PERSONAL_COLUMNS: [&str; 3] = ["personal_reporter_id", "personal_reporter_name", "personal_reporter_phone"];
/// The Parquet field metadata that marks a column as personal data.
pub const PERSONAL_MARK: (&str, &str) = ("gridloop.personal_data", "true");

/// Opens sealed contacts: `None` when the reporter's data key was erased.
#[async_trait]
pub trait ContactSource: Send + Sync {
    async fn open(&self, sealed: &SealedContact) -> Result<Option<Contact>, String>;
}

/// What an export carries of residents' personal data.
#[derive(Clone, Copy)]
pub enum PersonalData<'a> {
    /// Nothing in the clear (the default).
    Withheld,
    /// Contacts decrypted into the marked `personal_*` columns, descriptions as typed.
    Included(&'a dyn ContactSource),
}

/// `event` with the phone and ID-card numbers in its description masked, or `None` when it has
/// no description or nothing in it to mask.
pub fn masked(event: &RecordedEvent) -> Option<RecordedEvent> {
    fn remask<M: Message + Default>(payload: &[u8], description: impl Fn(&mut M) -> &mut String) -> Option<Vec<u8>> {
        let mut message = M::decode(payload).ok()?;
        let text = description(&mut message);
        let shown = mask_free_text(text);
        if shown == *text {
            return None;
        }
        *text = shown;
        Some(message.encode_to_vec())
    }
    let payload = match short_type(&event.event_type) {
        "CaseReported" => remask(&event.payload, |m: &mut pb::CaseReported| &mut m.description),
        "CaseOpened" => remask(&event.payload, |m: &mut pb::CaseOpened| &mut m.description),
        "CaseReportLinked" => remask(&event.payload, |m: &mut pb::CaseReportLinked| &mut m.description),
        _ => None,
    }?;
    Some(RecordedEvent { payload, ..event.clone() })
}

/// The sealed contact an event carries, if it is a report (reported, opened or linked).
pub fn sealed_contact(event: &RecordedEvent) -> Option<SealedContact> {
    let reporter = match short_type(&event.event_type) {
        "CaseReported" => pb::CaseReported::decode(event.payload.as_slice()).ok()?.reporter,
        "CaseOpened" => pb::CaseOpened::decode(event.payload.as_slice()).ok()?.reporter,
        "CaseReportLinked" => pb::CaseReportLinked::decode(event.payload.as_slice()).ok()?.reporter,
        _ => None,
    }?;
    reporter.sealed.as_ref().map(from_sealed_contact)
}

/// The contact of each event: `None` for an event without one or whose key was erased.
pub async fn contacts(source: &dyn ContactSource, events: &[&RecordedEvent]) -> Result<Vec<Option<Contact>>, String> {
    let mut contacts = Vec::with_capacity(events.len());
    for event in events {
        contacts.push(match sealed_contact(event) {
            Some(sealed) => source.open(&sealed).await?,
            None => None,
        });
    }
    Ok(contacts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridloop_eventstore::Actor;

    fn event(event_type: &str, payload: Vec<u8>) -> RecordedEvent {
        RecordedEvent {
            global_position: 1,
            event_id: uuid::Uuid::nil(),
            stream: "case-x".into(),
            stream_version: 1,
            event_type: format!("gridloop.v1.{event_type}"),
            occurred_at: chrono::DateTime::UNIX_EPOCH,
            recorded_at: chrono::DateTime::UNIX_EPOCH,
            correlation_id: "x".into(),
            causation_id: String::new(),
            actor: Actor { role: "system".into(), id: "dispatch".into(), jurisdiction: String::new() },
            routing_key: String::new(),
            schema_version: 1,
            traceparent: String::new(),
            payload,
        }
    }

    #[test]
    fn a_description_with_a_phone_number_is_masked_and_nothing_else_changes() {
        let opened =
            pb::CaseOpened { case_id: "x".into(), description: "电话13800138000".into(), ..Default::default() };
        let shown = masked(&event("CaseOpened", opened.encode_to_vec())).expect("masked");
        let decoded = pb::CaseOpened::decode(shown.payload.as_slice()).unwrap();
        assert_eq!(decoded.description, "电话138****8000");
        assert_eq!(decoded.case_id, "x");
        let plain = pb::CaseOpened { description: "楼道堆物".into(), ..Default::default() };
        assert!(masked(&event("CaseOpened", plain.encode_to_vec())).is_none(), "nothing to mask");
        assert!(masked(&event("CaseClosed", vec![])).is_none(), "no description");
    }
}
