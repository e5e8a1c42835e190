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
