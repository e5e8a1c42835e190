//! gridloop's pure domain: no IO, no async. Adapters live in the service crates.

pub mod access;
pub mod agenda;
pub mod calendar;
pub mod case;
pub mod case_state;
pub mod catalog;
pub mod clock;
pub mod datum;
pub mod decider;
pub mod drift;
pub mod due_soon;
pub mod duplicates;
pub mod feedback;
pub mod ids;
pub mod jurisdiction;
pub mod kpi;
pub mod level;
pub mod mediation;
pub mod personal;
pub mod policy;
pub mod priority;
pub mod register;

pub use chrono::{DateTime, Duration, Utc};

/// A point in time. Domain functions take `now` as an argument; the clock lives at the edge.
pub type Timestamp = DateTime<Utc>;

#[cfg(any(test, feature = "testing"))]
pub mod testing;
