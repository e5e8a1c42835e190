//! Why a command failed, in three kinds a caller treats differently: the aggregate (or the
//! authorization check) refused it, a concurrent writer got there first (a conflict the client
//! may retry on fresh state), or the infrastructure failed (storage down: retry later; a stream
//! that cannot be decoded or does not fit its aggregate: nothing will ever fix it).

use gridloop_bus::HandlerError;
use gridloop_domain::decider::Misfit;
use gridloop_eventstore::{ExpectedVersion, StoreError};
use gridloop_proto::convert::DecodeError;

use crate::authorize::{Denied, Unauthorized};

#[derive(Debug, thiserror::Error)]
pub enum CommandError<R> {
    /// The aggregate refused the command in the state it was at `version`.
    #[error("{reason}")]
    Refused { reason: R, version: u64 },
    /// The caller may not run this command on this aggregate.
    #[error(transparent)]
    Denied(#[from] Denied),
    /// The caller decided on a version the stream has moved past.
    #[error("expected version {expected}, the stream is at version {actual}")]
    WrongVersion { expected: u64, actual: u64 },
    /// Concurrent writers kept getting there first (or the caller expected an exact version
    /// and one did).
    #[error("version conflict on {stream}: expected {expected:?}, found version {actual}; reload and retry")]
    Conflict { stream: String, expected: ExpectedVersion, actual: u64 },
    #[error(transparent)]
    Infrastructure(#[from] Infrastructure),
}

/// A failure of what the command path stands on, not of the command.
#[derive(Debug, thiserror::Error)]
pub enum Infrastructure {
    /// The store failed, or a precondition the caller added to the commit (an inbox entry, a
    /// timer to fire) was already spent.
    #[error(transparent)]
    Store(StoreError),
    /// A stored event does not decode.
    #[error("stored event is unreadable: {0}")]
    Decode(#[from] DecodeError),
    /// A stored (or just decided) event does not fit the aggregate's state.
    #[error("stored history is inconsistent: {0}")]
    Misfit(#[from] Misfit),
}

impl<R> From<StoreError> for CommandError<R> {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict { stream, expected, actual } => CommandError::Conflict { stream, expected, actual },
            other => CommandError::Infrastructure(Infrastructure::Store(other)),
        }
    }
}

impl<R> From<Unauthorized> for CommandError<R> {
    fn from(error: Unauthorized) -> Self {
        match error {
            Unauthorized::Denied(denied) => CommandError::Denied(denied),
            Unauthorized::Infrastructure(infrastructure) => CommandError::Infrastructure(infrastructure),
        }
    }
}

impl<R> From<DecodeError> for CommandError<R> {
    fn from(error: DecodeError) -> Self {
        CommandError::Infrastructure(error.into())
    }
}

impl<R> From<Misfit> for CommandError<R> {
    fn from(error: Misfit) -> Self {
        CommandError::Infrastructure(error.into())
    }
}

impl<R> CommandError<R> {
    /// Whether the commit found its inbox entry already recorded: the event was handled before.
    pub fn already_processed(&self) -> bool {
        matches!(self, CommandError::Infrastructure(Infrastructure::Store(StoreError::AlreadyProcessed { .. })))
    }

    /// Whether the timer the commit fires was already fired, cancelled or re-scheduled.
    pub fn timer_gone(&self) -> bool {
        matches!(self, CommandError::Infrastructure(Infrastructure::Store(StoreError::TimerGone { .. })))
    }
}

impl Infrastructure {
    /// Whether trying again can succeed: a store that failed may recover; an unreadable or
    /// inconsistent stream stays that way (poison).
    pub fn is_transient(&self) -> bool {
        matches!(self, Infrastructure::Store(error) if !matches!(error, StoreError::Corrupt(_)))
    }
}

/// For a consumer or a timer: a refusal, a stale version and a poisoned stream are poison (dead
/// letter); a conflict and a store failure are worth retrying, and a database that cannot take
/// work at all is unavailable (retried however long it lasts).
impl<R: std::fmt::Display> From<CommandError<R>> for HandlerError {
    fn from(error: CommandError<R>) -> HandlerError {
        if let CommandError::Infrastructure(Infrastructure::Store(store)) = &error {
            if let Some(why) = store.unavailable() {
                return HandlerError::Unavailable(format!("{why}: {error}"));
            }
        }
        let transient = match &error {
            CommandError::Conflict { .. } => true,
            CommandError::Infrastructure(infrastructure) => infrastructure.is_transient(),
            CommandError::Refused { .. } | CommandError::Denied(_) | CommandError::WrongVersion { .. } => false,
        };
        if transient {
            HandlerError::Transient(error.to_string())
        } else {
            HandlerError::Poison(error.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_and_misfit_failures_are_poison_and_storage_failures_transient() {
        let misfit = Misfit { aggregate: "mediation", event: "MediationFollowedUp", state: "new" };
        let poison = |e: CommandError<String>| matches!(HandlerError::from(e), HandlerError::Poison(_));
        assert!(poison(misfit.into()));
        assert!(poison(DecodeError::UnknownType { event_type: "gridloop.v1.Nonsense".into() }.into()));
        assert!(poison(StoreError::Corrupt("bad row".into()).into()));
        assert!(poison(CommandError::Refused { reason: "no".into(), version: 3 }));
        assert!(!poison(StoreError::Database(sqlx::Error::PoolTimedOut).into()));
        let conflict = StoreError::Conflict { stream: "s".into(), expected: ExpectedVersion::Exact(1), actual: 2 };
        assert!(matches!(CommandError::<String>::from(conflict), CommandError::Conflict { actual: 2, .. }));
    }
}
