//! Identifiers. Ids are generated at the edge (UUIDv7) and passed into the domain.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CaseId(pub Uuid);

impl CaseId {
    pub fn parse(s: &str) -> Result<Self, uuid::Error> {
        Uuid::parse_str(s).map(CaseId)
    }
    /// The dispatch stream of this case.
    pub fn stream(&self) -> String {
        format!("case-{}", self.0)
    }
}

impl From<Uuid> for CaseId {
    fn from(id: Uuid) -> Self {
        CaseId(id)
    }
}

impl std::fmt::Display for CaseId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MediationId(pub Uuid);

impl MediationId {
    pub fn stream(&self) -> String {
        format!("mediation-{}", self.0)
    }
}

impl From<Uuid> for MediationId {
    fn from(id: Uuid) -> Self {
        MediationId(id)
    }
}

impl std::fmt::Display for MediationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
