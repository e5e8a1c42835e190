use uuid::Uuid;

use crate::ExpectedVersion;

/// Errors of the event store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An append's expected version did not match the stream's current version.
    #[error("version conflict on stream {stream:?}: expected {expected:?}, actual {actual}")]
    Conflict { stream: String, expected: ExpectedVersion, actual: u64 },
    /// The consumer already recorded this event in its inbox.
    #[error("event {event_id} was already processed by consumer {consumer:?}")]
    AlreadyProcessed { consumer: String, event_id: Uuid },
    /// The timer being fired no longer exists with that generation (fired, cancelled or
    /// re-scheduled).
    #[error("timer {key:?} is gone (already fired, cancelled or re-scheduled)")]
    TimerGone { key: String },
    /// The database URL is not a supported `sqlite:` or `postgres:` URL.
    #[error("invalid database url: {0}")]
    InvalidUrl(String),
    /// The Postgres schema name is not a plain identifier.
    #[error("invalid schema name {0:?}: use ASCII letters, digits and '_', not starting with a digit")]
    InvalidSchema(String),
    /// A `StoreTx` was used after one of its statements failed; it has been rolled back.
    #[error("the transaction was aborted by an earlier error and rolled back")]
    Aborted,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value could not be decoded.
    #[error("corrupt data: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether the database is out of reach or refusing work for now (down, restarting,
    /// read-only, out of connections or disk) rather than refusing this request: the caller may
    /// retry once it is back.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)) => true,
            StoreError::Database(sqlx::Error::Database(error)) => {
                error.code().is_some_and(|code| unavailable_sqlstate(&code))
            }
            _ => false,
        }
    }
}

/// Postgres SQLSTATEs of a database that cannot do work now: connection exceptions (08…),
/// insufficient resources (53…: disk full, out of memory, too many connections), operator
/// intervention (57P0…: shutting down, restarting, not yet accepting connections) and a
/// read-only transaction (25006: a standby, or `default_transaction_read_only`).
fn unavailable_sqlstate(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("53") || code.starts_with("57P0") || code == "25006"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_going_away_is_unavailable_and_a_refused_statement_is_not() {
        for code in ["08006", "08001", "53100", "53300", "57P01", "57P02", "57P03", "25006"] {
            assert!(unavailable_sqlstate(code), "{code}");
        }
        for code in ["23505", "42P01", "40001", "22P02"] {
            assert!(!unavailable_sqlstate(code), "{code}");
        }
        assert!(StoreError::Database(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(!StoreError::Corrupt("bad row".into()).is_unavailable());
    }
}
