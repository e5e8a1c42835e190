//! Analytics IO: export of the event log and of the case table for analysts (Parquet, NDJSON),
//! and import of another platform's case history (CSV) as case events.
//!
//! The pure parts — filters, row layout, CSV row parsing, the events an imported row becomes —
//! are plain functions; the store is read and written only in [`export`] and
//! [`import::import_csv`] loops, page by page, so memory stays flat however long the history.

#[cfg(feature = "io")]
pub mod cases;
#[cfg(feature = "io")]
pub mod export;
pub mod filter;
pub mod import;
pub mod personal;

pub use filter::{EventFilter, FilterError};

/// Output format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Apache Parquet (snappy-compressed, bounded row groups).
    Parquet,
    /// One JSON object per line.
    Ndjson,
}

/// How far an export has got, for a progress bar.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Events (or rows) read from the store so far.
    pub read: u64,
    /// Of those, written to the output (they passed the filters).
    pub written: u64,
}

/// What an export did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportStats {
    pub read: u64,
    pub written: u64,
}

/// Why an export failed.
#[cfg(feature = "io")]
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("reading the {service} store: {source}")]
    Store {
        service: String,
        #[source]
        source: gridloop_eventstore::StoreError,
    },
    #[error("reading the case table: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("writing Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("building Arrow columns: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    #[error("writing the output: {0}")]
    Io(#[from] std::io::Error),
    #[error("writing JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("opening a reporter's contact: {0}")]
    Personal(String),
}
