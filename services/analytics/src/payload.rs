//! Rendering event payloads (protobuf bytes) as proto3 JSON, by the type name in the envelope,
//! from the compiled descriptor set of `proto/gridloop/v1`.

use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};

/// Decodes payloads by their fully qualified message name.
#[derive(Debug, Clone)]
pub struct PayloadDecoder {
    pool: DescriptorPool,
    options: SerializeOptions,
}

impl Default for PayloadDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl PayloadDecoder {
    pub fn new() -> Self {
        let pool = DescriptorPool::decode(gridloop_proto::FILE_DESCRIPTOR_SET)
            .expect("the descriptor set compiled into gridloop-proto is valid");
        // Field names as in the .proto (snake_case, which proto3 JSON parsers accept too), and
        // every field present even at its default, so analysts see a stable shape.
        let options = SerializeOptions::new().use_proto_field_name(true).skip_default_fields(false);
        Self { pool, options }
    }

    /// The payload as a decoded message, or `None` if the type is unknown to this build or the
    /// bytes do not decode as it.
    pub fn decode(&self, event_type: &str, payload: &[u8]) -> Option<DynamicMessage> {
        let descriptor = self.pool.get_message_by_name(event_type)?;
        DynamicMessage::decode(descriptor, payload).ok()
    }

    /// The payload as a JSON value (see [`decode`](Self::decode)).
    pub fn to_json_value(&self, event_type: &str, payload: &[u8]) -> Option<serde_json::Value> {
        let message = self.decode(event_type, payload)?;
        message.serialize_with_options(serde_json::value::Serializer, &self.options).ok()
    }

    /// The payload as a JSON string (see [`decode`](Self::decode)).
    pub fn to_json(&self, event_type: &str, payload: &[u8]) -> Option<String> {
        let message = self.decode(event_type, payload)?;
        let mut out = Vec::with_capacity(payload.len() * 2 + 16);
        let mut serializer = serde_json::Serializer::new(&mut out);
        message.serialize_with_options(&mut serializer, &self.options).ok()?;
        String::from_utf8(out).ok()
    }
}
