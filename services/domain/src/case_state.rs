//! The names of the states a case goes through: one list for the aggregate, the read models that
//! store a case's state as text, and the wire contract.

use crate::case::CaseStatus;
use std::fmt;
use std::str::FromStr;

/// Where a case is, without the data of its [`CaseStatus`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CaseState {
    New,
    Reported,
    Rejected,
    Dispatched,
    Accepted,
    InMediation,
    AwaitingVerification,
    Resolved,
    Closed,
}

impl CaseState {
    pub const ALL: [CaseState; 9] = [
        CaseState::New,
        CaseState::Reported,
        CaseState::Rejected,
        CaseState::Dispatched,
        CaseState::Accepted,
        CaseState::InMediation,
        CaseState::AwaitingVerification,
        CaseState::Resolved,
        CaseState::Closed,
    ];

    /// The state's name, as read models store it.
    pub fn name(self) -> &'static str {
        match self {
            CaseState::New => "new",
            CaseState::Reported => "reported",
            CaseState::Rejected => "rejected",
            CaseState::Dispatched => "dispatched",
            CaseState::Accepted => "accepted",
            CaseState::InMediation => "in_mediation",
            CaseState::AwaitingVerification => "awaiting_verification",
            CaseState::Resolved => "resolved",
            CaseState::Closed => "closed",
        }
    }
}

impl fmt::Display for CaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a case state's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not the name of a case state")]
pub struct UnknownCaseState(pub String);

impl FromStr for CaseState {
    type Err = UnknownCaseState;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        CaseState::ALL.into_iter().find(|state| state.name() == name).ok_or_else(|| UnknownCaseState(name.into()))
    }
}

impl CaseStatus {
    /// The state this status is in.
    pub fn state(&self) -> CaseState {
        match self {
            CaseStatus::New => CaseState::New,
            CaseStatus::Reported => CaseState::Reported,
            CaseStatus::Rejected { .. } => CaseState::Rejected,
            CaseStatus::Dispatched { .. } => CaseState::Dispatched,
            CaseStatus::Accepted { .. } => CaseState::Accepted,
            CaseStatus::InMediation { .. } => CaseState::InMediation,
            CaseStatus::AwaitingVerification { .. } => CaseState::AwaitingVerification,
            CaseStatus::Resolved { .. } => CaseState::Resolved,
            CaseStatus::Closed { .. } => CaseState::Closed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_name_reads_back_as_its_state() {
        for state in CaseState::ALL {
            assert_eq!(state.name().parse::<CaseState>(), Ok(state));
        }
        assert_eq!("escalated".parse::<CaseState>(), Err(UnknownCaseState("escalated".into())));
        assert_eq!(CaseStatus::default().name(), "new");
    }
}
