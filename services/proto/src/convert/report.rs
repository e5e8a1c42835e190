//! Intake's report events: a new report (`CaseReported`) and one linked to an open case
//! (`CaseReportLinked`, carried by intake's report stream and dispatch's case stream alike).

use super::{event_type, invalid, values::*, DecodeError};
use crate::v1 as pb;
use gridloop_domain::case::{CaseDetails, LinkedReport};
use gridloop_domain::ids::CaseId;

/// The intake event for a validated report.
pub fn case_reported(case_id: CaseId, details: &CaseDetails, client_key: &str) -> pb::CaseReported {
    pb::CaseReported {
        case_id: case_id.to_string(),
        category_code: details.category_code.clone(),
        location: Some(pb::GeoPoint::wgs84(details.lat, details.lon)),
        grid_code: details.grid_code.clone(),
        description: details.description.clone(),
        reporter: Some(reporter(&details.reporter)),
        channel: channel(details.channel) as i32,
        discovered_at: Some(timestamp(details.discovered_at)),
        uploaded_at: Some(timestamp(details.uploaded_at)),
        client_key: client_key.to_string(),
        urgent: details.urgent,
        special_groups: special_groups(&details.special_groups),
        // Intake adds what the reporter sent when it was in another datum.
        reported_location: None,
        media_url: details.media_url.clone().unwrap_or_default(),
    }
}

/// The event of a report linked to the existing case `case_id` (intake's report stream and
/// dispatch's case stream carry the same message).
pub fn case_report_linked(case_id: CaseId, report: &LinkedReport) -> pb::CaseReportLinked {
    let details = &report.details;
    pb::CaseReportLinked {
        case_id: case_id.to_string(),
        category_code: details.category_code.clone(),
        location: Some(pb::GeoPoint::wgs84(details.lat, details.lon)),
        grid_code: details.grid_code.clone(),
        description: details.description.clone(),
        reporter: Some(reporter(&details.reporter)),
        channel: channel(details.channel) as i32,
        discovered_at: Some(timestamp(details.discovered_at)),
        uploaded_at: Some(timestamp(details.uploaded_at)),
        client_key: report.client_key.clone(),
        distance_m: report.distance_m,
        reason: report.reason.clone(),
        urgent: details.urgent,
        special_groups: special_groups(&details.special_groups),
        // Intake adds what the reporter sent when it was in another datum.
        reported_location: None,
    }
}

/// The case id and the linked report carried by a `CaseReportLinked` event.
pub fn linked_from_proto(m: pb::CaseReportLinked) -> Result<(CaseId, LinkedReport), DecodeError> {
    let reported = pb::CaseReported {
        case_id: m.case_id,
        category_code: m.category_code,
        location: m.location,
        grid_code: m.grid_code,
        description: m.description,
        reporter: m.reporter,
        channel: m.channel,
        discovered_at: m.discovered_at,
        uploaded_at: m.uploaded_at,
        client_key: String::new(),
        urgent: m.urgent,
        special_groups: m.special_groups,
        reported_location: m.reported_location,
        media_url: String::new(),
    };
    let (case_id, details) = details_from_reported(&reported).map_err(|e| match e {
        DecodeError::Invalid { reason, .. } => invalid(&event_type("CaseReportLinked"), &reason),
        other => other,
    })?;
    Ok((case_id, LinkedReport { details, client_key: m.client_key, distance_m: m.distance_m, reason: m.reason }))
}

/// The case id and details carried by an intake `CaseReported` event.
pub fn details_from_reported(m: &pb::CaseReported) -> Result<(CaseId, CaseDetails), DecodeError> {
    let ty = &event_type("CaseReported");
    let case_id = CaseId::parse(&m.case_id).map_err(|_| invalid(ty, "case_id is not a UUID"))?;
    let location = m.location.as_ref().ok_or_else(|| invalid(ty, "location missing"))?;
    let time = |t: &Option<prost_types::Timestamp>, what: &str| {
        t.as_ref().and_then(from_timestamp).ok_or_else(|| invalid(ty, &format!("{what} missing")))
    };
    Ok((
        case_id,
        CaseDetails {
            category_code: m.category_code.clone(),
            grid_code: m.grid_code.clone(),
            lat: location.lat,
            lon: location.lon,
            description: m.description.clone(),
            reporter: m.reporter.as_ref().and_then(from_reporter).ok_or_else(|| invalid(ty, "reporter missing"))?,
            channel: from_channel(m.channel()).ok_or_else(|| invalid(ty, "channel missing"))?,
            discovered_at: time(&m.discovered_at, "discovered_at")?,
            uploaded_at: time(&m.uploaded_at, "uploaded_at")?,
            urgent: m.urgent,
            special_groups: from_special_groups(&m.special_groups)
                .map_err(|v| invalid(ty, &format!("special group {v} is not one this build knows")))?,
            media_url: Some(m.media_url.clone()).filter(|url| !url.is_empty()),
        },
    ))
}
