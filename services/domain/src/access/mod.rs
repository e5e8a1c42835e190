//! The trust model: who is calling (a [`Principal`]: subject, [`Role`], area, department), which
//! RPCs each role may call and under which scope rule ([`policy`]), and the pure checks the edge
//! and the command path apply — no IO, no tokens (authentication lives at the edge).

pub mod object;
pub mod policy;
pub mod rpc;

pub use object::{agenda_rpc, case_facts, case_rpc, feedback_rpc, register_rpc, session_facts, session_rpc};
pub use policy::{confine_query, may_act_on_case, rpc_scope, CaseFacts, Denied, QueryScope, Scope, UnitDepartment};
pub use rpc::{Rpc, Service};

use crate::jurisdiction::AreaCode;
use crate::level::Level;
use std::fmt;
use std::str::FromStr;

/// The actor role of history imported from another platform (`gridloop import`): evaluation
/// does not ask such cases for feedback.
pub const IMPORT_ROLE: &str = "import";

/// The start of the `rule` of the dispatch that opens history imported from another platform:
/// `import:<source>`.
pub const IMPORT_RULE_PREFIX: &str = "import:";

/// What a principal is in the city's organisation. One spelling, kebab case, on the wire (token
/// claims, flags, events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Reports; reads and evaluates only the cases they reported.
    Resident,
    /// A grid's worker (网格员): acts on the cases its grid holds, verifies on site.
    GridWorker,
    /// A community's office (社区): acts on the cases it holds, reads its subtree.
    CommunityOffice,
    /// A street's office (街道): acts on the cases it holds, summons departments, reads its subtree.
    StreetOffice,
    /// The district's office (区): acts on the cases it holds, summons departments, reads everything under it.
    DistrictOffice,
    /// A unit's department (城管中队, 住建局 …): reports in for its summons, reads the cases it is summoned to.
    Department,
    /// Runs the council procedure (议事会, 调解) of the sessions in its area.
    Mediator,
    /// The 12345 hotline: reports on behalf of residents, records their evaluation from a callback (回访).
    Hotline,
    /// A city platform integrating over gRPC: like the hotline, for its area.
    Platform,
    /// Reads lists, KPIs, the 4321 distribution, drift alerts and mediation figures of its area; changes nothing.
    Supervisor,
    /// Operates the installation: every RPC except recording a resident's satisfaction.
    Admin,
}

impl Role {
    pub const ALL: [Role; 11] = [
        Role::Resident,
        Role::GridWorker,
        Role::CommunityOffice,
        Role::StreetOffice,
        Role::DistrictOffice,
        Role::Department,
        Role::Mediator,
        Role::Hotline,
        Role::Platform,
        Role::Supervisor,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Resident => "resident",
            Role::GridWorker => "grid-worker",
            Role::CommunityOffice => "community-office",
            Role::StreetOffice => "street-office",
            Role::DistrictOffice => "district-office",
            Role::Department => "department",
            Role::Mediator => "mediator",
            Role::Hotline => "hotline",
            Role::Platform => "platform",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    /// Which area this role needs: an office is its unit, so its area sits at exactly that level.
    pub fn area_rule(self) -> AreaRule {
        match self {
            Role::GridWorker => AreaRule::AtLevel(Level::Grid),
            Role::CommunityOffice => AreaRule::AtLevel(Level::Community),
            Role::StreetOffice => AreaRule::AtLevel(Level::Street),
            Role::DistrictOffice => AreaRule::AtLevel(Level::District),
            // Departments belong to a community, a street or the district, never to a grid.
            Role::Department => AreaRule::AboveGrid,
            Role::Mediator => AreaRule::Any,
            Role::Resident | Role::Hotline | Role::Platform | Role::Supervisor | Role::Admin => {
                AreaRule::OptionalCityWide
            }
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}; one of: resident, grid-worker, community-office, street-office, district-office, department, mediator, hotline, platform, supervisor, admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|role| role.as_str() == s).ok_or_else(|| UnknownRole(s.to_string()))
    }
}

/// The area a role must (or may) carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AreaRule {
    /// Exactly one unit at this level.
    AtLevel(Level),
    /// A community, street or district unit.
    AboveGrid,
    /// Any area.
    Any,
    /// An area narrows the reach; none means the whole city.
    OptionalCityWide,
}

/// Who is calling, as authenticated at the edge. The area's subtree is the principal's reach;
/// `None` is the whole city (only for roles whose [`AreaRule`] allows it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    /// Who (the token's subject, or the name a client certificate is mapped to).
    pub subject: String,
    pub role: Role,
    pub area: Option<AreaCode>,
    /// The department's function code (`urban-management`, …) for [`Role::Department`].
    pub department: Option<String>,
}

/// Why a principal cannot be formed from what a token or certificate says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrincipalError {
    #[error("the subject is empty")]
    NoSubject,
    #[error("a {role} needs an area code")]
    AreaMissing { role: Role },
    #[error("a {role} acts for a {expected} unit, but {area} is a {actual}")]
    AreaLevel { role: Role, expected: Level, actual: Level, area: AreaCode },
    #[error("a department belongs to a community, street or district, not to the grid {area}")]
    DepartmentInGrid { area: AreaCode },
    #[error("a department principal needs its department (function code)")]
    DepartmentMissing,
}

impl Principal {
    /// Checks the area and department against the role's [`AreaRule`].
    pub fn new(
        subject: impl Into<String>,
        role: Role,
        area: Option<AreaCode>,
        department: Option<String>,
    ) -> Result<Principal, PrincipalError> {
        let subject = subject.into();
        if subject.trim().is_empty() {
            return Err(PrincipalError::NoSubject);
        }
        match (role.area_rule(), &area) {
            (AreaRule::OptionalCityWide, _) => {}
            (_, None) => return Err(PrincipalError::AreaMissing { role }),
            (AreaRule::AtLevel(expected), Some(code)) if code.level() != expected => {
                return Err(PrincipalError::AreaLevel { role, expected, actual: code.level(), area: code.clone() })
            }
            (AreaRule::AboveGrid, Some(code)) if code.level() == Level::Grid => {
                return Err(PrincipalError::DepartmentInGrid { area: code.clone() })
            }
            _ => {}
        }
        let department = department.filter(|d| !d.trim().is_empty());
        if role == Role::Department && department.is_none() {
            return Err(PrincipalError::DepartmentMissing);
        }
        Ok(Principal { subject, role, area, department })
    }

    /// Whether `area` lies in this principal's reach (its area's subtree, or the whole city).
    pub fn reaches(&self, area: &AreaCode) -> bool {
        self.area.as_ref().is_none_or(|own| own.contains(area))
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}", self.subject, self.role)?;
        match &self.area {
            Some(area) => write!(f, " of {area}")?,
            None => f.write_str(", city-wide")?,
        }
        if let Some(department) = &self.department {
            write!(f, ", department {department}")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> Option<AreaCode> {
        Some(AreaCode::new(s).unwrap())
    }

    #[test]
    fn roles_round_trip_through_their_one_spelling() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("grid_worker".parse::<Role>().is_err(), "one spelling: kebab case");
        assert!("随便什么角色".parse::<Role>().unwrap_err().to_string().contains("grid-worker"));
    }

    #[test]
    fn an_office_is_its_unit_and_a_city_wide_reach_is_for_city_roles_only() {
        assert!(Principal::new("w", Role::GridWorker, code("321012001001001"), None).is_ok());
        assert_eq!(
            Principal::new("w", Role::GridWorker, code("321012001"), None),
            Err(PrincipalError::AreaLevel {
                role: Role::GridWorker,
                expected: Level::Grid,
                actual: Level::Street,
                area: AreaCode::new("321012001").unwrap()
            })
        );
        assert_eq!(
            Principal::new("s", Role::StreetOffice, None, None),
            Err(PrincipalError::AreaMissing { role: Role::StreetOffice })
        );
        assert!(Principal::new("m", Role::Mediator, code("321012001001"), None).is_ok());
        for role in [Role::Resident, Role::Hotline, Role::Platform, Role::Supervisor, Role::Admin] {
            assert!(Principal::new("x", role, None, None).unwrap().reaches(&AreaCode::new("320000").unwrap()));
        }
        assert_eq!(Principal::new(" ", Role::Admin, None, None), Err(PrincipalError::NoSubject));
    }

    #[test]
    fn a_department_names_its_function_and_sits_above_the_grid() {
        let street = code("321012001");
        assert_eq!(Principal::new("d", Role::Department, street.clone(), None), Err(PrincipalError::DepartmentMissing));
        assert!(Principal::new("d", Role::Department, street, Some("urban-management".into())).is_ok());
        assert!(matches!(
            Principal::new("d", Role::Department, code("321012001001001"), Some("x".into())),
            Err(PrincipalError::DepartmentInGrid { .. })
        ));
    }

    #[test]
    fn the_reach_is_the_areas_subtree() {
        let office = Principal::new("s", Role::StreetOffice, code("321012001"), None).unwrap();
        assert!(office.reaches(&AreaCode::new("321012001").unwrap()));
        assert!(office.reaches(&AreaCode::new("321012001002003").unwrap()));
        assert!(!office.reaches(&AreaCode::new("321012002001001").unwrap()));
        assert!(!office.reaches(&AreaCode::new("321012").unwrap()), "not the district above it");
    }
}
