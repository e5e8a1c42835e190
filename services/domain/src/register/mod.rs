//! The register of residents concerned (居民名册) of one building, courtyard, grid or community:
//! who may propose and rank topics, vote in a ballot they are invited to and object to a
//! published decision there. Each resident is a token subject and counts once, however often
//! they are imported, so "one fifth of the residents concerned" is computed from it.
//!
//! ```text
//! Register ─ResidentsRegistered (the new ones of an import)→ Register
//! Register ─ResidentRemoved→ Register
//! ```

use crate::decider::{Decider, Misfit};
use crate::jurisdiction::AreaCode;
use crate::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use uuid::Uuid;

/// The register of one area: its stream is named after the area code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RegisterId(pub Uuid);

impl RegisterId {
    /// Every register of `area` is the same stream, whoever asks first.
    pub fn of(area: &AreaCode) -> RegisterId {
        RegisterId(Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("register:{area}").as_bytes()))
    }
}

impl From<Uuid> for RegisterId {
    fn from(id: Uuid) -> Self {
        RegisterId(id)
    }
}

impl std::fmt::Display for RegisterId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Register {
    residents: BTreeSet<String>,
}

impl Register {
    pub fn contains(&self, resident: &str) -> bool {
        self.residents.contains(resident)
    }

    /// How many residents are concerned: each counts once.
    pub fn len(&self) -> u32 {
        self.residents.len() as u32
    }

    pub fn is_empty(&self) -> bool {
        self.residents.is_empty()
    }

    pub fn residents(&self) -> impl Iterator<Item = &String> {
        self.residents.iter()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RegisterEvent {
    /// Residents entered the register (those of an import who were not in it yet).
    ResidentsRegistered {
        residents: Vec<String>,
    },
    ResidentRemoved {
        resident: String,
    },
}

impl RegisterEvent {
    /// The protobuf message name of this event (`gridloop.v1.<name>`).
    pub fn type_name(&self) -> &'static str {
        match self {
            RegisterEvent::ResidentsRegistered { .. } => "RegisterResidentsRegistered",
            RegisterEvent::ResidentRemoved { .. } => "RegisterResidentRemoved",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterCommand {
    /// Enter residents (a community's list, or one at a time); those already in it are skipped.
    Register {
        residents: Vec<String>,
    },
    Remove {
        resident: String,
    },
}

impl RegisterCommand {
    pub fn name(&self) -> &'static str {
        match self {
            RegisterCommand::Register { .. } => "register_residents",
            RegisterCommand::Remove { .. } => "remove_resident",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("{0} is not in the register")]
    NotRegistered(String),
}

/// What a command does to the register. Pure.
pub fn decide(register: &Register, command: &RegisterCommand) -> Result<Vec<RegisterEvent>, RegisterError> {
    match command {
        RegisterCommand::Register { residents } => {
            let mut new: Vec<String> = Vec::new();
            for resident in residents {
                let resident = resident.trim();
                if resident.is_empty() {
                    return Err(RegisterError::Invalid { field: "residents", reason: "a name is empty".into() });
                }
                if !register.contains(resident) && !new.iter().any(|r| r == resident) {
                    new.push(resident.to_string());
                }
            }
            // An import repeated is nothing new.
            Ok(if new.is_empty() { vec![] } else { vec![RegisterEvent::ResidentsRegistered { residents: new }] })
        }
        RegisterCommand::Remove { resident } if register.contains(resident) => {
            Ok(vec![RegisterEvent::ResidentRemoved { resident: resident.clone() }])
        }
        RegisterCommand::Remove { resident } => Err(RegisterError::NotRegistered(resident.clone())),
    }
}

pub fn evolve(mut register: Register, event: &RegisterEvent) -> Result<Register, Misfit> {
    match event {
        RegisterEvent::ResidentsRegistered { residents } => register.residents.extend(residents.iter().cloned()),
        RegisterEvent::ResidentRemoved { resident } => {
            if !register.residents.remove(resident) {
                return Err(Misfit { aggregate: "register", event: event.type_name(), state: "without them" });
            }
        }
    }
    Ok(register)
}

impl Decider for Register {
    type Id = RegisterId;
    type Command = RegisterCommand;
    type Event = RegisterEvent;
    type Error = RegisterError;
    type Policy = ();

    fn initial() -> Self {
        Register::default()
    }

    fn stream_name(id: RegisterId) -> String {
        format!("register-{id}")
    }

    fn decide(&self, command: &RegisterCommand, _: &(), _: Timestamp) -> Result<Vec<RegisterEvent>, RegisterError> {
        decide(self, command)
    }

    fn evolve(self, event: &RegisterEvent) -> Result<Self, Misfit> {
        evolve(self, event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn registered(list: &[&str]) -> Register {
        let events = decide(&Register::default(), &RegisterCommand::Register { residents: names(list) }).unwrap();
        Register::default().fold(&events).unwrap()
    }

    #[test]
    fn given_an_import_when_a_resident_is_listed_twice_or_again_then_they_count_once() {
        let register = registered(&["r1", "r2", "r1", " r3 "]);
        assert_eq!(register.len(), 3);
        assert!(register.contains("r3"), "names are trimmed");
        let again = RegisterCommand::Register { residents: names(&["r2", "r4"]) };
        assert_eq!(
            decide(&register, &again).unwrap(),
            vec![RegisterEvent::ResidentsRegistered { residents: names(&["r4"]) }]
        );
        let same = RegisterCommand::Register { residents: names(&["r1", "r2"]) };
        assert_eq!(decide(&register, &same).unwrap(), vec![], "a repeated import is nothing new");
    }

    #[test]
    fn given_a_register_when_a_resident_is_removed_then_they_no_longer_count() {
        let register = registered(&["r1", "r2"]);
        let events = decide(&register, &RegisterCommand::Remove { resident: "r1".into() }).unwrap();
        let after = register.fold(&events).unwrap();
        assert_eq!(after.len(), 1);
        assert!(!after.contains("r1"));
        assert_eq!(
            decide(&after, &RegisterCommand::Remove { resident: "r1".into() }),
            Err(RegisterError::NotRegistered("r1".into()))
        );
    }

    #[test]
    fn given_an_import_with_an_empty_name_then_it_is_invalid() {
        let command = RegisterCommand::Register { residents: names(&["r1", " "]) };
        assert!(matches!(
            decide(&Register::default(), &command),
            Err(RegisterError::Invalid { field: "residents", .. })
        ));
    }

    #[test]
    fn the_register_of_an_area_is_one_stream() {
        let area = AreaCode::new("321012001001").unwrap();
        assert_eq!(RegisterId::of(&area), RegisterId::of(&area));
        assert_ne!(RegisterId::of(&area), RegisterId::of(&AreaCode::new("321012001002").unwrap()));
    }
}
