//! Conversions between the domain's Rust types and the protobuf contract. The domain never sees
//! protobuf; services convert here, at the edge. One module per concern: plain values (times,
//! levels, reporters), intake's report events, the case, feedback and mediation events, and the
//! routing policy's record. Everything is re-exported here.

mod agenda;
mod case;
mod feedback;
mod mediation;
mod policy;
mod register;
mod report;
mod values;

pub use agenda::*;
pub use case::*;
pub use feedback::*;
pub use mediation::*;
pub use policy::*;
pub use register::*;
pub use report::*;
pub use values::*;

/// What every event type name starts with: the protobuf package.
pub const TYPE_PREFIX: &str = "gridloop.v1.";

/// The fully qualified protobuf name of an event message (`CaseOpened` → `gridloop.v1.CaseOpened`).
pub fn event_type(short: &str) -> String {
    format!("{TYPE_PREFIX}{short}")
}

/// The message name of a fully qualified event type (`gridloop.v1.CaseOpened` → `CaseOpened`);
/// a name without the package is returned as it is.
pub fn short_type(event_type: &str) -> &str {
    event_type.strip_prefix(TYPE_PREFIX).unwrap_or(event_type)
}

/// A payload that does not decode as the message its event type names.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("cannot decode {event_type}: {source}")]
    Protobuf { event_type: String, source: prost::DecodeError },
    #[error("{event_type} is not an event of this stream")]
    UnknownType { event_type: String },
    #[error("{event_type}: {reason}")]
    Invalid { event_type: String, reason: String },
}

fn invalid(event_type: &str, reason: &str) -> DecodeError {
    DecodeError::Invalid { event_type: event_type.to_string(), reason: reason.to_string() }
}

/// The message `M` a payload of `event_type` carries.
fn message<M: prost::Message + Default>(event_type: &str, payload: &[u8]) -> Result<M, DecodeError> {
    M::decode(payload).map_err(|source| DecodeError::Protobuf { event_type: event_type.to_string(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_type_names_gain_and_lose_the_package() {
        assert_eq!(event_type("CaseOpened"), "gridloop.v1.CaseOpened");
        assert_eq!(short_type("gridloop.v1.CaseOpened"), "CaseOpened");
        assert_eq!(short_type("CaseOpened"), "CaseOpened");
    }
}
