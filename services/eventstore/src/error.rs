use sqlx::error::DatabaseError as _;
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
        self.unavailable().is_some()
    }

    /// Why the database cannot take work now, if that is what this error says (see
    /// [`StoreError::is_unavailable`]).
    pub fn unavailable(&self) -> Option<Unavailable> {
        match self {
            StoreError::Database(error) => unavailable(error),
            _ => None,
        }
    }
}

/// Why the database cannot take work now, if `error` says so.
pub(crate) fn unavailable(error: &sqlx::Error) -> Option<Unavailable> {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => Some(Unavailable::Unreachable),
        sqlx::Error::Database(error) => match error.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
            Some(sqlite) => sqlite.code().and_then(|code| code.parse().ok()).and_then(sqlite_unavailable),
            None => error.code().and_then(|code| postgres_unavailable(&code)),
        },
        _ => None,
    }
}

/// Why a database cannot take work for now: what an operator has to fix, in the words a log
/// line uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// No space left on the disk (SQLite's file system, Postgres's data directory).
    DiskFull,
    /// Writes are refused: a read-only file or mount, a Postgres standby or
    /// `default_transaction_read_only`.
    ReadOnly,
    /// The database cannot be reached or opened, or is shutting down or starting.
    Unreachable,
    /// Another writer holds the database's lock past the busy timeout.
    Busy,
    /// The disk or file system failed a read or a write.
    IoError,
    /// Out of memory or connections.
    OutOfResources,
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unavailable::DiskFull => "disk full",
            Unavailable::ReadOnly => "database read-only",
            Unavailable::Unreachable => "database unreachable",
            Unavailable::Busy => "database busy",
            Unavailable::IoError => "disk I/O error",
            Unavailable::OutOfResources => "database out of memory or connections",
        })
    }
}

/// SQLite result codes of a database that cannot do work now. sqlx reports the extended code,
/// whose low byte is the primary one (`SQLITE_READONLY_DBMOVED` = 1032 = 8 + 4 << 8).
fn sqlite_unavailable(extended: i32) -> Option<Unavailable> {
    Some(match extended & 0xff {
        // SQLITE_FULL: a write found no space (ENOSPC); the transaction is rolled back.
        13 => Unavailable::DiskFull,
        // SQLITE_READONLY and its kinds: a read-only file, directory or mount.
        8 => Unavailable::ReadOnly,
        // SQLITE_BUSY, SQLITE_LOCKED: another process kept the write lock past the busy timeout.
        5 | 6 => Unavailable::Busy,
        // SQLITE_IOERR: a failed read, write or sync (a disk going away, a full disk on some paths).
        10 => Unavailable::IoError,
        // SQLITE_CANTOPEN: the file or its directory is gone or not accessible.
        14 => Unavailable::Unreachable,
        // SQLITE_NOMEM.
        7 => Unavailable::OutOfResources,
        _ => return None,
    })
}

/// Postgres SQLSTATEs of a database that cannot do work now: connection exceptions (08…),
/// insufficient resources (53…: disk full, out of memory, too many connections), operator
/// intervention (57P0…: shutting down, restarting, not yet accepting connections) and a
/// read-only transaction (25006: a standby, or `default_transaction_read_only`).
fn postgres_unavailable(code: &str) -> Option<Unavailable> {
    Some(match code {
        "53100" => Unavailable::DiskFull,
        "25006" => Unavailable::ReadOnly,
        _ if code.starts_with("53") => Unavailable::OutOfResources,
        _ if code.starts_with("08") || code.starts_with("57P0") => Unavailable::Unreachable,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_going_away_is_unavailable_and_a_refused_statement_is_not() {
        for code in ["08006", "08001", "53100", "53300", "57P01", "57P02", "57P03", "25006"] {
            assert!(postgres_unavailable(code).is_some(), "{code}");
        }
        for code in ["23505", "42P01", "40001", "22P02"] {
            assert_eq!(postgres_unavailable(code), None, "{code}");
        }
        assert_eq!(postgres_unavailable("53100"), Some(Unavailable::DiskFull));
        assert_eq!(postgres_unavailable("25006"), Some(Unavailable::ReadOnly));
        assert!(StoreError::Database(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(!StoreError::Corrupt("bad row".into()).is_unavailable());
    }

    #[test]
    fn sqlite_codes_are_read_by_their_primary_code() {
        // SQLITE_FULL, SQLITE_READONLY_DBMOVED, SQLITE_IOERR_WRITE, SQLITE_BUSY_SNAPSHOT.
        assert_eq!(sqlite_unavailable(13), Some(Unavailable::DiskFull));
        assert_eq!(sqlite_unavailable(1032), Some(Unavailable::ReadOnly));
        assert_eq!(sqlite_unavailable(778), Some(Unavailable::IoError));
        assert_eq!(sqlite_unavailable(517), Some(Unavailable::Busy));
        // SQLITE_CONSTRAINT_UNIQUE, SQLITE_ERROR: this statement's fault.
        assert_eq!(sqlite_unavailable(2067), None);
        assert_eq!(sqlite_unavailable(1), None);
        assert_eq!(Unavailable::DiskFull.to_string(), "disk full");
    }
}
