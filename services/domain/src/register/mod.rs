//! The register of residents concerned (居民名册) of one building, courtyard, grid or community:
//! who may propose and rank topics, vote in a ballot they are invited to and object to a
//! published decision there. Each resident is a token subject and counts once, however often
//! they are imported, so "one fifth of the residents concerned" is computed from it. A building
//! (楼栋) or a courtyard (院落) has no jurisdiction code: its register is a group below its grid,
//! a stream of its own named after the grid and the group, so one fifth can be of a building.
//!
//! ```text
//! Register ─ResidentsRegistered (the new ones of an import)→ Register
//! Register ─ResidentRemoved→ Register
//! ```

use crate::decider::{Decider, Misfit};
use crate::jurisdiction::AreaCode;
use crate::level::Level;
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

/// The longest name of a building or courtyard, in characters (`3号楼`, `幸福里院落`).
pub const GROUP_NAME_MAX_CHARS: usize = 40;

/// What kind of group below a grid a register is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    /// 楼栋
    Building,
    /// 院落
    Courtyard,
}

impl GroupKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupKind::Building => "building",
            GroupKind::Courtyard => "courtyard",
        }
    }
}

/// A building or courtyard of a grid, named as its community names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Group {
    kind: GroupKind,
    name: String,
}

impl Group {
    /// `name` trimmed; refused when empty or longer than [`GROUP_NAME_MAX_CHARS`].
    pub fn new(kind: GroupKind, name: &str) -> Result<Group, RegisterError> {
        let name = name.trim();
        let invalid = |reason: String| RegisterError::Invalid { field: "group", reason };
        if name.is_empty() {
            return Err(invalid(format!("a {} needs a name", kind.as_str())));
        }
        if name.chars().count() > GROUP_NAME_MAX_CHARS {
            return Err(invalid(format!("a name of at most {GROUP_NAME_MAX_CHARS} characters")));
        }
        Ok(Group { kind, name: name.to_string() })
    }

    pub fn kind(&self) -> GroupKind {
        self.kind
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl RegisterId {
    /// The register of `group` in `grid`: its own stream, apart from the grid's. Groups lie
    /// below a grid only — a community's buildings belong to its grids.
    pub fn of_group(grid: &AreaCode, group: &Group) -> Result<RegisterId, RegisterError> {
        if grid.level() != Level::Grid {
            return Err(RegisterError::Invalid {
                field: "area_code",
                reason: format!("a {} lies in a grid; {grid} is not one", group.kind.as_str()),
            });
        }
        let name = format!("register:{grid}/{}:{}", group.kind.as_str(), group.name);
        Ok(RegisterId(Uuid::new_v5(&Uuid::NAMESPACE_OID, name.as_bytes())))
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

/// A register as it stands holding `residents` (each once), e.g. to decide who of those invited
/// to a session its register holds.
impl FromIterator<String> for Register {
    fn from_iter<I: IntoIterator<Item = String>>(residents: I) -> Self {
        Register { residents: residents.into_iter().collect() }
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
    fn a_building_of_a_grid_has_a_register_of_its_own_and_one_fifth_is_of_it() {
        let grid = AreaCode::new("321012001001001").unwrap();
        let building = Group::new(GroupKind::Building, " 3号楼 ").unwrap();
        assert_eq!(building.name(), "3号楼", "names are trimmed");
        let id = RegisterId::of_group(&grid, &building).unwrap();
        assert_eq!(id, RegisterId::of_group(&grid, &Group::new(GroupKind::Building, "3号楼").unwrap()).unwrap());
        assert_ne!(id, RegisterId::of(&grid), "apart from the grid's register");
        let courtyard = Group::new(GroupKind::Courtyard, "3号楼").unwrap();
        assert_ne!(id, RegisterId::of_group(&grid, &courtyard).unwrap(), "a courtyard is not a building");
        let other_grid = AreaCode::new("321012001001002").unwrap();
        assert_ne!(id, RegisterId::of_group(&other_grid, &building).unwrap(), "nor another grid's 3号楼");

        let twelve: Vec<String> = (1..=12).map(|n| format!("r{n}")).collect();
        let register = registered(&twelve.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(crate::mediation::fifth_of(register.len()), 3, "one fifth of the building's 12");
    }

    #[test]
    fn a_group_is_named_and_lies_below_a_grid() {
        assert!(matches!(Group::new(GroupKind::Courtyard, " "), Err(RegisterError::Invalid { field: "group", .. })));
        let long = "楼".repeat(GROUP_NAME_MAX_CHARS + 1);
        assert!(Group::new(GroupKind::Building, &long).is_err());
        let building = Group::new(GroupKind::Building, "1号楼").unwrap();
        let community = AreaCode::new("321012001001").unwrap();
        let refused = RegisterId::of_group(&community, &building).unwrap_err();
        assert!(refused.to_string().contains("is not one"), "{refused}");
    }

    #[test]
    fn the_register_of_an_area_is_one_stream() {
        let area = AreaCode::new("321012001001").unwrap();
        assert_eq!(RegisterId::of(&area), RegisterId::of(&area));
        assert_ne!(RegisterId::of(&area), RegisterId::of(&AreaCode::new("321012001002").unwrap()));
    }
}
