//! Helpers shared by dispatch's integration tests.

use chrono::{DateTime, Utc};
use gridloop_domain::case::{CaseDetails, Channel, Reporter, ReporterKind};

/// A resident's hotline report of `category` in `grid`, made and uploaded at `now`.
pub fn details(category: &str, grid: &str, now: DateTime<Utc>) -> CaseDetails {
    CaseDetails {
        category_code: category.into(),
        grid_code: grid.into(),
        lat: 0.0,
        lon: 0.0,
        description: "dispatch test".into(),
        reporter: Reporter {
            kind: ReporterKind::Resident,
            id: "r".into(),
            name: String::new(),
            phone: String::new(),
            sealed: None,
        },
        channel: Channel::Hotline,
        discovered_at: now,
        uploaded_at: now,
        urgent: false,
        special_groups: vec![],
        media_url: None,
    }
}
