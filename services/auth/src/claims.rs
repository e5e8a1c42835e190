//! Which claims of a verified token carry the subject, the role, the area and the department, so
//! a city's identity provider maps onto gridloop's principals — e.g. Keycloak's
//! `realm_access.roles` with realm role `gridloop-grid-worker` mapped to `grid-worker`.

use gridloop_domain::access::{Principal, PrincipalError, Role};
use gridloop_domain::jurisdiction::AreaCode;
use serde_json::Value;
use std::collections::BTreeMap;

/// Claim names of the tokens gridloop mints itself (and the defaults for an identity provider).
pub const ROLE_CLAIM: &str = "role";
pub const AREA_CLAIM: &str = "area";
pub const DEPARTMENT_CLAIM: &str = "department";

/// Where the principal's parts are in a token's claims. Names may be dotted paths into nested
/// objects (`realm_access.roles`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMapping {
    pub subject: String,
    /// A string, or an array of strings of which exactly one must name a gridloop role.
    pub role: String,
    pub area: String,
    pub department: String,
    /// The identity provider's role names → gridloop roles. A value without an entry counts
    /// when it is a gridloop role's own spelling.
    pub role_map: BTreeMap<String, Role>,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        Self {
            subject: "sub".into(),
            role: ROLE_CLAIM.into(),
            area: AREA_CLAIM.into(),
            department: DEPARTMENT_CLAIM.into(),
            role_map: BTreeMap::new(),
        }
    }
}

/// Why a verified token does not make a principal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    #[error("claim {0} is missing or not a string")]
    NotAString(String),
    #[error("claim {claim} names no gridloop role")]
    NoRole { claim: String },
    #[error("claim {claim} names several gridloop roles ({roles}); a principal has one")]
    SeveralRoles { claim: String, roles: String },
    #[error("claim {claim}: {reason}")]
    BadArea { claim: String, reason: String },
    #[error(transparent)]
    Principal(#[from] PrincipalError),
}

/// `FROM=TO` for `--jwt-role-map`: an identity provider's role name and the gridloop role it means.
pub fn parse_role_mapping(text: &str) -> Result<(String, Role), String> {
    let (from, to) = text.split_once('=').ok_or_else(|| format!("{text:?} is not IDP_ROLE=GRIDLOOP_ROLE"))?;
    let role = to.trim().parse::<Role>().map_err(|e| e.to_string())?;
    Ok((from.trim().to_string(), role))
}

impl ClaimMapping {
    /// The principal `claims` describe.
    pub fn principal(&self, claims: &Value) -> Result<Principal, ClaimError> {
        let subject = lookup(claims, &self.subject)
            .and_then(Value::as_str)
            .ok_or_else(|| ClaimError::NotAString(self.subject.clone()))?;
        let role = self.role(claims)?;
        let area = match optional_string(claims, &self.area)? {
            None => None,
            Some(code) => Some(
                AreaCode::new(code)
                    .map_err(|e| ClaimError::BadArea { claim: self.area.clone(), reason: e.to_string() })?,
            ),
        };
        let department = optional_string(claims, &self.department)?.map(str::to_string);
        Ok(Principal::new(subject, role, area, department)?)
    }

    fn role(&self, claims: &Value) -> Result<Role, ClaimError> {
        let names: Vec<&str> = match lookup(claims, &self.role) {
            Some(Value::String(name)) => vec![name.as_str()],
            Some(Value::Array(values)) => values.iter().filter_map(Value::as_str).collect(),
            _ => return Err(ClaimError::NoRole { claim: self.role.clone() }),
        };
        let mut roles: Vec<Role> = names
            .into_iter()
            .filter_map(|name| self.role_map.get(name).copied().or_else(|| name.parse().ok()))
            .collect();
        roles.sort();
        roles.dedup();
        match roles.as_slice() {
            [] => Err(ClaimError::NoRole { claim: self.role.clone() }),
            [role] => Ok(*role),
            several => Err(ClaimError::SeveralRoles {
                claim: self.role.clone(),
                roles: several.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "),
            }),
        }
    }
}

fn lookup<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(claims, |value, key| value.get(key))
}

/// A claim that may be absent (or empty), but is a string when present.
fn optional_string<'a>(claims: &'a Value, path: &str) -> Result<Option<&'a str>, ClaimError> {
    match lookup(claims, path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ClaimError::NotAString(path.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_default_claims_make_a_principal() {
        let claims = json!({"sub": "zhang", "role": "grid-worker", "area": "321012001001001"});
        let principal = ClaimMapping::default().principal(&claims).unwrap();
        assert_eq!((principal.subject.as_str(), principal.role), ("zhang", Role::GridWorker));
        assert_eq!(principal.area.unwrap().as_str(), "321012001001001");
    }

    #[test]
    fn keycloak_realm_roles_map_onto_one_gridloop_role() {
        let mapping = ClaimMapping {
            role: "realm_access.roles".into(),
            area: "gridloop_area".into(),
            role_map: [parse_role_mapping("gridloop-street=street-office").unwrap()].into(),
            ..ClaimMapping::default()
        };
        let claims = json!({
            "sub": "f:1234", "gridloop_area": "321012001",
            "realm_access": {"roles": ["offline_access", "uma_authorization", "gridloop-street"]}
        });
        assert_eq!(mapping.principal(&claims).unwrap().role, Role::StreetOffice);

        let two =
            json!({"sub": "x", "gridloop_area": "321012001", "realm_access": {"roles": ["gridloop-street", "admin"]}});
        let error = mapping.principal(&two).unwrap_err().to_string();
        assert!(error.contains("several") && error.contains("street-office, admin"), "{error}");
        let none = json!({"sub": "x", "realm_access": {"roles": ["offline_access"]}});
        assert_eq!(mapping.principal(&none), Err(ClaimError::NoRole { claim: "realm_access.roles".into() }));
    }

    #[test]
    fn bad_claims_say_which() {
        let mapping = ClaimMapping::default();
        let error = mapping.principal(&json!({"sub": "x", "role": "street-office", "area": "12x"})).unwrap_err();
        assert!(error.to_string().starts_with("claim area:"), "{error}");
        let error = mapping.principal(&json!({"sub": "x", "role": "street-office"})).unwrap_err();
        assert_eq!(error.to_string(), "a street-office needs an area code");
        assert_eq!(mapping.principal(&json!({"role": "admin"})), Err(ClaimError::NotAString("sub".into())),);
        assert_eq!(
            mapping.principal(&json!({"sub": "x", "role": "admin", "area": 321012})),
            Err(ClaimError::NotAString("area".into()))
        );
        assert!(parse_role_mapping("no-equals").is_err());
        assert!(parse_role_mapping("x=chief").unwrap_err().contains("unknown role"));
    }
}
