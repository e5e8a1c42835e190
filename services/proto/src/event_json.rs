//! The one JSON form of an event: the proto3 JSON of its message in `events.proto`, decoded by
//! the type name in its envelope from the compiled descriptor set. `GetCase` history, `case show
//! --json` and the analysts' export all write this form, so one parser reads them all.
//!
//! The form: field names as in the .proto (snake_case, which proto3 JSON parsers accept too),
//! every field present even at its default (a stable shape), enums by their .proto names,
//! 64-bit integers as strings, keys in sorted order and no whitespace — the order a
//! `serde_json::Value` keeps, so the same event gives the same bytes wherever it is re-serialized.

use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};
use std::sync::OnceLock;

/// Decodes payloads by their fully qualified message name (`gridloop.v1.CaseReported`).
#[derive(Debug, Clone)]
pub struct EventJson {
    pool: DescriptorPool,
    options: SerializeOptions,
}

impl Default for EventJson {
    fn default() -> Self {
        Self::new()
    }
}

impl EventJson {
    pub fn new() -> Self {
        let pool = DescriptorPool::decode(crate::FILE_DESCRIPTOR_SET)
            .expect("the descriptor set compiled into gridloop-proto is valid");
        let options = SerializeOptions::new().use_proto_field_name(true).skip_default_fields(false);
        Self { pool, options }
    }

    /// The decoder built once for the process.
    pub fn shared() -> &'static EventJson {
        static SHARED: OnceLock<EventJson> = OnceLock::new();
        SHARED.get_or_init(EventJson::new)
    }

    /// The payload as a decoded message, or `None` if the type is unknown to this build or the
    /// bytes do not decode as it.
    pub fn decode(&self, event_type: &str, payload: &[u8]) -> Option<DynamicMessage> {
        let descriptor = self.pool.get_message_by_name(event_type)?;
        DynamicMessage::decode(descriptor, payload).ok()
    }

    /// The payload as a JSON value (see [`decode`](Self::decode)).
    pub fn to_value(&self, event_type: &str, payload: &[u8]) -> Option<serde_json::Value> {
        let message = self.decode(event_type, payload)?;
        message.serialize_with_options(serde_json::value::Serializer, &self.options).ok()
    }

    /// The payload in its canonical text form (see the module documentation).
    pub fn to_string(&self, event_type: &str, payload: &[u8]) -> Option<String> {
        self.to_value(event_type, payload).map(|value| value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::EventJson;
    use crate::v1 as pb;
    use prost::Message;

    fn evaluated() -> Vec<u8> {
        pb::CaseEvaluated {
            case_id: "c1".into(),
            satisfaction: pb::Satisfaction::Satisfied as i32,
            comment: "修好了".into(),
            defaulted: false,
            evaluated_by: None,
        }
        .encode_to_vec()
    }

    #[test]
    fn an_event_is_proto3_json_with_proto_names_enum_names_sorted_keys_and_defaults() {
        let text = EventJson::shared().to_string("gridloop.v1.CaseEvaluated", &evaluated()).unwrap();
        assert_eq!(
            text,
            r#"{"case_id":"c1","comment":"修好了","defaulted":false,"satisfaction":"SATISFACTION_SATISFIED"}"#
        );
        let reparsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(reparsed.to_string(), text, "re-serializing gives the same bytes");
    }

    #[test]
    fn an_unknown_type_or_undecodable_payload_has_no_json_form() {
        assert_eq!(EventJson::shared().to_string("gridloop.v1.NoSuchEvent", &evaluated()), None);
        assert_eq!(EventJson::shared().to_string("gridloop.v1.CaseEvaluated", &[0xff, 0xff]), None);
    }
}
