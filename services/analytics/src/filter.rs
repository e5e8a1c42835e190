//! Export filters: a time window, a jurisdiction area and event types.

use chrono::{DateTime, Utc};
use gridloop_domain::jurisdiction::{AreaCode, AreaCodeError};
use gridloop_eventstore::RecordedEvent;
use gridloop_proto::convert::{event_type, short_type};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("area: {0}")]
    Area(#[from] AreaCodeError),
    #[error("event type {0:?} is not a type name (e.g. CaseOpened or gridloop.v1.CaseOpened)")]
    Type(String),
    #[error("--from {from} is not before --to {to}")]
    EmptyWindow { from: DateTime<Utc>, to: DateTime<Utc> },
}

/// Which events (or cases) an export keeps. `from` is inclusive, `to` exclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Jurisdiction code prefix matched against the routing key (the case's grid code).
    pub area: Option<AreaCode>,
    /// Fully qualified event types; empty keeps every type.
    pub types: Vec<String>,
}

impl EventFilter {
    /// A validated filter: the area must be a 6/9/12/15-digit code, types are qualified with
    /// `gridloop.v1.` when given without it.
    pub fn new(
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        area: Option<&str>,
        types: &[String],
    ) -> Result<Self, FilterError> {
        if let (Some(from), Some(to)) = (from, to) {
            if from >= to {
                return Err(FilterError::EmptyWindow { from, to });
            }
        }
        let area = match area.map(str::trim) {
            None | Some("") => None,
            Some(code) => Some(AreaCode::new(code)?),
        };
        let types = types
            .iter()
            .map(|t| {
                let t = t.trim();
                let short = short_type(t);
                if short.is_empty() || !short.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    return Err(FilterError::Type(t.to_string()));
                }
                Ok(event_type(short))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { from, to, area, types })
    }

    /// Whether `at` is inside the time window.
    pub fn in_window(&self, at: DateTime<Utc>) -> bool {
        self.from.is_none_or(|from| at >= from) && self.to.is_none_or(|to| at < to)
    }

    /// Whether a jurisdiction code (routing key, grid code) is inside the area.
    pub fn in_area(&self, code: &str) -> bool {
        self.area.as_ref().is_none_or(|area| code.starts_with(area.as_str()))
    }

    pub fn matches(&self, event: &RecordedEvent) -> bool {
        self.in_window(event.occurred_at)
            && self.in_area(&event.routing_key)
            && (self.types.is_empty() || self.types.contains(&event.event_type))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_must_be_codes_and_types_are_qualified() {
        let f =
            EventFilter::new(None, None, Some("321012001"), &["CaseOpened".into(), "gridloop.v1.CaseClosed".into()])
                .unwrap();
        assert_eq!(f.types, vec!["gridloop.v1.CaseOpened", "gridloop.v1.CaseClosed"]);
        assert!(f.in_area("321012001002003"));
        assert!(!f.in_area("321012002002003"));
        assert!(matches!(EventFilter::new(None, None, Some("3210"), &[]), Err(FilterError::Area(_))));
        assert!(matches!(EventFilter::new(None, None, Some("32101200100a"), &[]), Err(FilterError::Area(_))));
        assert!(matches!(EventFilter::new(None, None, None, &["Case Opened".into()]), Err(FilterError::Type(_))));
        let day: DateTime<Utc> = "2024-05-01T00:00:00Z".parse().unwrap();
        assert!(matches!(EventFilter::new(Some(day), Some(day), None, &[]), Err(FilterError::EmptyWindow { .. })));
    }
}
