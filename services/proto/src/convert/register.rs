//! The register of residents concerned (`register-<id>` streams, routed to their area).

use super::{event_type, message, short_type, DecodeError};
use crate::v1 as pb;
use gridloop_domain::register::{Group, GroupKind, RegisterError, RegisterEvent};
use prost::Message;

/// A building or courtyard of a grid as the API names it.
pub fn register_group(group: &Group) -> pb::RegisterGroup {
    let kind = match group.kind() {
        GroupKind::Building => pb::RegisterGroupKind::Building,
        GroupKind::Courtyard => pb::RegisterGroupKind::Courtyard,
    };
    pb::RegisterGroup { kind: kind as i32, name: group.name().to_string() }
}

/// The building or courtyard a request names: a kind and a name, checked as the register checks
/// them.
pub fn from_register_group(group: &pb::RegisterGroup) -> Result<Group, RegisterError> {
    let kind = match pb::RegisterGroupKind::try_from(group.kind) {
        Ok(pb::RegisterGroupKind::Building) => GroupKind::Building,
        Ok(pb::RegisterGroupKind::Courtyard) => GroupKind::Courtyard,
        _ => return Err(RegisterError::Invalid { field: "group.kind", reason: "a building or a courtyard".into() }),
    };
    Group::new(kind, &group.name)
}

pub fn encode_register_event(event: &RegisterEvent) -> (String, Vec<u8>) {
    let payload = match event {
        RegisterEvent::ResidentsRegistered { residents } => {
            pb::RegisterResidentsRegistered { residents: residents.clone() }.encode_to_vec()
        }
        RegisterEvent::ResidentRemoved { resident } => {
            pb::RegisterResidentRemoved { resident: resident.clone() }.encode_to_vec()
        }
    };
    (event_type(event.type_name()), payload)
}

pub fn decode_register_event(event_type: &str, payload: &[u8]) -> Result<RegisterEvent, DecodeError> {
    Ok(match short_type(event_type) {
        "RegisterResidentsRegistered" => {
            let m: pb::RegisterResidentsRegistered = message(event_type, payload)?;
            RegisterEvent::ResidentsRegistered { residents: m.residents }
        }
        "RegisterResidentRemoved" => {
            let m: pb::RegisterResidentRemoved = message(event_type, payload)?;
            RegisterEvent::ResidentRemoved { resident: m.resident }
        }
        _ => return Err(DecodeError::UnknownType { event_type: event_type.to_string() }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_register_event_round_trips() {
        for event in [
            RegisterEvent::ResidentsRegistered { residents: vec!["r1".into(), "r2".into()] },
            RegisterEvent::ResidentRemoved { resident: "r1".into() },
        ] {
            let (ty, payload) = encode_register_event(&event);
            assert_eq!(decode_register_event(&ty, &payload).unwrap(), event, "{ty}");
        }
    }
}
