//! Conversions between the domain's Rust types and the protobuf contract. The domain never sees
//! protobuf; services convert here, at the edge.

use crate::v1 as pb;
use chrono::{DateTime, Utc};
use gridloop_domain::case::{
    Assignment, CaseDetails, CaseEvent, Channel, EscalationReason, LinkedReport, Reporter, ReporterKind, Satisfaction,
};
use gridloop_domain::feedback::FeedbackEvent;
use gridloop_domain::ids::CaseId;
use gridloop_domain::level::Level;
use gridloop_domain::mediation::{MediationEvent, Outcome};
use prost::Message;

/// The fully qualified protobuf name of an event message.
pub fn event_type(short: &str) -> String {
    format!("gridloop.v1.{short}")
}

/// A payload that does not decode as the message its event type names.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("cannot decode {event_type}: {source}")]
    Protobuf { event_type: String, source: prost::DecodeError },
    #[error("{event_type} is not an event of this stream")]
    UnknownType { event_type: String },
    #[error("{event_type}: {reason}")]
    Invalid { event_type: String, reason: String },
}

pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: t.timestamp(), nanos: t.timestamp_subsec_nanos() as i32 }
}

pub fn from_timestamp(t: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?)
}

pub fn level(l: Level) -> pb::Level {
    match l {
        Level::Grid => pb::Level::Grid,
        Level::Community => pb::Level::Community,
        Level::Street => pb::Level::Street,
        Level::District => pb::Level::District,
    }
}

pub fn from_level(l: pb::Level) -> Option<Level> {
    match l {
        pb::Level::Unspecified => None,
        pb::Level::Grid => Some(Level::Grid),
        pb::Level::Community => Some(Level::Community),
        pb::Level::Street => Some(Level::Street),
        pb::Level::District => Some(Level::District),
    }
}

pub fn satisfaction(s: Satisfaction) -> pb::Satisfaction {
    match s {
        Satisfaction::Satisfied => pb::Satisfaction::Satisfied,
        Satisfaction::BasicallySatisfied => pb::Satisfaction::BasicallySatisfied,
        Satisfaction::Unsatisfied => pb::Satisfaction::Unsatisfied,
    }
}

pub fn from_satisfaction(s: pb::Satisfaction) -> Option<Satisfaction> {
    match s {
        pb::Satisfaction::Unspecified => None,
        pb::Satisfaction::Satisfied => Some(Satisfaction::Satisfied),
        pb::Satisfaction::BasicallySatisfied => Some(Satisfaction::BasicallySatisfied),
        pb::Satisfaction::Unsatisfied => Some(Satisfaction::Unsatisfied),
    }
}

pub fn channel(c: Channel) -> pb::Channel {
    match c {
        Channel::Patrol => pb::Channel::Patrol,
        Channel::ResidentApp => pb::Channel::ResidentApp,
        Channel::Hotline => pb::Channel::Hotline,
        Channel::SuggestionBox => pb::Channel::SuggestionBox,
        Channel::WalkIn => pb::Channel::WalkIn,
        Channel::Platform => pb::Channel::Platform,
    }
}

pub fn from_channel(c: pb::Channel) -> Option<Channel> {
    match c {
        pb::Channel::Unspecified => None,
        pb::Channel::Patrol => Some(Channel::Patrol),
        pb::Channel::ResidentApp => Some(Channel::ResidentApp),
        pb::Channel::Hotline => Some(Channel::Hotline),
        pb::Channel::SuggestionBox => Some(Channel::SuggestionBox),
        pb::Channel::WalkIn => Some(Channel::WalkIn),
        pb::Channel::Platform => Some(Channel::Platform),
    }
}

pub fn reporter(r: &Reporter) -> pb::Reporter {
    let kind = match r.kind {
        ReporterKind::Resident => pb::ReporterKind::Resident,
        ReporterKind::GridWorker => pb::ReporterKind::GridWorker,
        ReporterKind::Platform => pb::ReporterKind::Platform,
    };
    pb::Reporter { kind: kind as i32, id: r.id.clone(), name: r.name.clone(), phone: r.phone.clone() }
}

pub fn from_reporter(r: &pb::Reporter) -> Option<Reporter> {
    let kind = match r.kind() {
        pb::ReporterKind::Unspecified => return None,
        pb::ReporterKind::Resident => ReporterKind::Resident,
        pb::ReporterKind::GridWorker => ReporterKind::GridWorker,
        pb::ReporterKind::Platform => ReporterKind::Platform,
    };
    Some(Reporter { kind, id: r.id.clone(), name: r.name.clone(), phone: r.phone.clone() })
}

/// The intake event for a validated report.
pub fn case_reported(case_id: CaseId, details: &CaseDetails, client_key: &str) -> pb::CaseReported {
    pb::CaseReported {
        case_id: case_id.to_string(),
        category_code: details.category_code.clone(),
        location: Some(pb::GeoPoint { lat: details.lat, lon: details.lon }),
        grid_code: details.grid_code.clone(),
        description: details.description.clone(),
        reporter: Some(reporter(&details.reporter)),
        channel: channel(details.channel) as i32,
        discovered_at: Some(timestamp(details.discovered_at)),
        uploaded_at: Some(timestamp(details.uploaded_at)),
        client_key: client_key.to_string(),
        urgent: details.urgent,
    }
}

/// The event of a report linked to the existing case `case_id` (intake's report stream and
/// dispatch's case stream carry the same message).
pub fn case_report_linked(case_id: CaseId, report: &LinkedReport) -> pb::CaseReportLinked {
    let details = &report.details;
    pb::CaseReportLinked {
        case_id: case_id.to_string(),
        category_code: details.category_code.clone(),
        location: Some(pb::GeoPoint { lat: details.lat, lon: details.lon }),
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
    };
    let (case_id, details) = details_from_reported(&reported).map_err(|e| match e {
        DecodeError::Invalid { reason, .. } => invalid("gridloop.v1.CaseReportLinked", &reason),
        other => other,
    })?;
    Ok((case_id, LinkedReport { details, client_key: m.client_key, distance_m: m.distance_m, reason: m.reason }))
}

fn invalid(event_type: &str, reason: &str) -> DecodeError {
    DecodeError::Invalid { event_type: event_type.to_string(), reason: reason.to_string() }
}

/// The case id and details carried by an intake `CaseReported` event.
pub fn details_from_reported(m: &pb::CaseReported) -> Result<(CaseId, CaseDetails), DecodeError> {
    let ty = "gridloop.v1.CaseReported";
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
        },
    ))
}

/// Encode a case event: (fully qualified type, payload bytes).
pub fn encode_case_event(case_id: CaseId, event: &CaseEvent) -> (String, Vec<u8>) {
    let id = case_id.to_string();
    let bytes = match event {
        CaseEvent::Opened { details, .. } => pb::CaseOpened {
            case_id: id,
            category_code: details.category_code.clone(),
            location: Some(pb::GeoPoint { lat: details.lat, lon: details.lon }),
            grid_code: details.grid_code.clone(),
            description: details.description.clone(),
            reporter: Some(reporter(&details.reporter)),
            channel: channel(details.channel) as i32,
            discovered_at: Some(timestamp(details.discovered_at)),
            uploaded_at: Some(timestamp(details.uploaded_at)),
            urgent: details.urgent,
        }
        .encode_to_vec(),
        CaseEvent::Rejected { reason } => pb::CaseRejected { case_id: id, reason: reason.clone() }.encode_to_vec(),
        CaseEvent::Dispatched { to, rule } => pb::CaseDispatched {
            case_id: id,
            level: level(to.level) as i32,
            unit_code: to.unit.clone(),
            deadline: Some(timestamp(to.deadline)),
            rule: rule.clone(),
        }
        .encode_to_vec(),
        CaseEvent::Accepted { at, assignee } => pb::CaseAccepted {
            case_id: id,
            level: level(at.level) as i32,
            unit_code: at.unit.clone(),
            assignee: assignee.clone(),
            deadline: Some(timestamp(at.deadline)),
        }
        .encode_to_vec(),
        CaseEvent::Escalated { from, to, reason, note } => pb::CaseEscalated {
            case_id: id,
            from_level: level(*from) as i32,
            to_level: level(to.level) as i32,
            unit_code: to.unit.clone(),
            reason: match reason {
                EscalationReason::DeadlineMissed => pb::EscalationReason::DeadlineMissed,
                EscalationReason::Requested => pb::EscalationReason::Requested,
            } as i32,
            note: note.clone(),
            deadline: Some(timestamp(to.deadline)),
        }
        .encode_to_vec(),
        CaseEvent::DeadlineMissed { level: l, deadline, next_deadline } => pb::CaseDeadlineMissed {
            case_id: id,
            level: level(*l) as i32,
            deadline: Some(timestamp(*deadline)),
            next_deadline: Some(timestamp(*next_deadline)),
        }
        .encode_to_vec(),
        CaseEvent::Transferred { from_unit, to, reason } => pb::CaseTransferred {
            case_id: id,
            level: level(to.level) as i32,
            from_unit: from_unit.clone(),
            to_unit: to.unit.clone(),
            reason: reason.clone(),
            deadline: Some(timestamp(to.deadline)),
        }
        .encode_to_vec(),
        CaseEvent::MediationRequested { level: l, topic } => {
            pb::CaseMediationRequested { case_id: id, level: level(*l) as i32, topic: topic.clone() }.encode_to_vec()
        }
        CaseEvent::MediationAgreed { mediation_id, summary } => pb::CaseMediationConcluded {
            case_id: id,
            mediation_id: mediation_id.clone(),
            agreed: true,
            summary: summary.clone(),
            ..Default::default()
        }
        .encode_to_vec(),
        CaseEvent::MediationFailed { mediation_id, summary, back_to } => pb::CaseMediationConcluded {
            case_id: id,
            mediation_id: mediation_id.clone(),
            agreed: false,
            summary: summary.clone(),
            level: level(back_to.level) as i32,
            unit_code: back_to.unit.clone(),
            deadline: Some(timestamp(back_to.deadline)),
        }
        .encode_to_vec(),
        CaseEvent::Resolved { level: l, unit, summary } => {
            pb::CaseResolved { case_id: id, level: level(*l) as i32, unit_code: unit.clone(), summary: summary.clone() }
                .encode_to_vec()
        }
        CaseEvent::Evaluated { satisfaction: s, comment, defaulted } => pb::CaseEvaluated {
            case_id: id,
            satisfaction: satisfaction(*s) as i32,
            comment: comment.clone(),
            defaulted: *defaulted,
        }
        .encode_to_vec(),
        CaseEvent::Reopened { at, reason } => pb::CaseReopened {
            case_id: id,
            level: level(at.level) as i32,
            unit_code: at.unit.clone(),
            reason: reason.clone(),
            deadline: Some(timestamp(at.deadline)),
        }
        .encode_to_vec(),
        CaseEvent::Closed { level: l, satisfaction: s } => {
            pb::CaseClosed { case_id: id, level: level(*l) as i32, satisfaction: satisfaction(*s) as i32 }
                .encode_to_vec()
        }
        CaseEvent::ReportLinked { report } => case_report_linked(case_id, report).encode_to_vec(),
    };
    (event_type(event.type_name()), bytes)
}

/// Decode a stored case event.
pub fn decode_case_event(event_type: &str, payload: &[u8]) -> Result<CaseEvent, DecodeError> {
    fn msg<M: Message + Default>(ty: &str, payload: &[u8]) -> Result<M, DecodeError> {
        M::decode(payload).map_err(|source| DecodeError::Protobuf { event_type: ty.to_string(), source })
    }
    let ty = event_type;
    let lvl = |raw: i32| {
        pb::Level::try_from(raw).ok().and_then(from_level).ok_or_else(|| invalid(ty, "level missing or unknown"))
    };
    let time = |t: &Option<prost_types::Timestamp>| {
        t.as_ref().and_then(from_timestamp).ok_or_else(|| invalid(ty, "timestamp missing"))
    };
    let sat = |raw: i32| {
        pb::Satisfaction::try_from(raw)
            .ok()
            .and_then(from_satisfaction)
            .ok_or_else(|| invalid(ty, "satisfaction missing"))
    };
    let short = ty.strip_prefix("gridloop.v1.").unwrap_or(ty);
    Ok(match short {
        "CaseOpened" => {
            let m: pb::CaseOpened = msg(ty, payload)?;
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
            };
            let (case_id, details) = details_from_reported(&reported)?;
            CaseEvent::Opened { case_id, details }
        }
        "CaseRejected" => CaseEvent::Rejected { reason: msg::<pb::CaseRejected>(ty, payload)?.reason },
        "CaseDispatched" => {
            let m: pb::CaseDispatched = msg(ty, payload)?;
            CaseEvent::Dispatched {
                to: Assignment { level: lvl(m.level)?, unit: m.unit_code, deadline: time(&m.deadline)? },
                rule: m.rule,
            }
        }
        "CaseAccepted" => {
            let m: pb::CaseAccepted = msg(ty, payload)?;
            CaseEvent::Accepted {
                at: Assignment { level: lvl(m.level)?, unit: m.unit_code, deadline: time(&m.deadline)? },
                assignee: m.assignee,
            }
        }
        "CaseEscalated" => {
            let m: pb::CaseEscalated = msg(ty, payload)?;
            let reason = match m.reason() {
                pb::EscalationReason::DeadlineMissed => EscalationReason::DeadlineMissed,
                pb::EscalationReason::Requested => EscalationReason::Requested,
                pb::EscalationReason::Unspecified => return Err(invalid(ty, "reason missing")),
            };
            CaseEvent::Escalated {
                from: lvl(m.from_level)?,
                to: Assignment { level: lvl(m.to_level)?, unit: m.unit_code, deadline: time(&m.deadline)? },
                reason,
                note: m.note,
            }
        }
        "CaseDeadlineMissed" => {
            let m: pb::CaseDeadlineMissed = msg(ty, payload)?;
            CaseEvent::DeadlineMissed {
                level: lvl(m.level)?,
                deadline: time(&m.deadline)?,
                next_deadline: time(&m.next_deadline)?,
            }
        }
        "CaseTransferred" => {
            let m: pb::CaseTransferred = msg(ty, payload)?;
            CaseEvent::Transferred {
                from_unit: m.from_unit,
                to: Assignment { level: lvl(m.level)?, unit: m.to_unit, deadline: time(&m.deadline)? },
                reason: m.reason,
            }
        }
        "CaseMediationRequested" => {
            let m: pb::CaseMediationRequested = msg(ty, payload)?;
            CaseEvent::MediationRequested { level: lvl(m.level)?, topic: m.topic }
        }
        "CaseMediationConcluded" => {
            let m: pb::CaseMediationConcluded = msg(ty, payload)?;
            if m.agreed {
                CaseEvent::MediationAgreed { mediation_id: m.mediation_id, summary: m.summary }
            } else {
                CaseEvent::MediationFailed {
                    back_to: Assignment { level: lvl(m.level)?, unit: m.unit_code, deadline: time(&m.deadline)? },
                    mediation_id: m.mediation_id,
                    summary: m.summary,
                }
            }
        }
        "CaseResolved" => {
            let m: pb::CaseResolved = msg(ty, payload)?;
            CaseEvent::Resolved { level: lvl(m.level)?, unit: m.unit_code, summary: m.summary }
        }
        "CaseEvaluated" => {
            let m: pb::CaseEvaluated = msg(ty, payload)?;
            CaseEvent::Evaluated { satisfaction: sat(m.satisfaction)?, comment: m.comment, defaulted: m.defaulted }
        }
        "CaseReopened" => {
            let m: pb::CaseReopened = msg(ty, payload)?;
            CaseEvent::Reopened {
                at: Assignment { level: lvl(m.level)?, unit: m.unit_code, deadline: time(&m.deadline)? },
                reason: m.reason,
            }
        }
        "CaseClosed" => {
            let m: pb::CaseClosed = msg(ty, payload)?;
            CaseEvent::Closed { level: lvl(m.level)?, satisfaction: sat(m.satisfaction)? }
        }
        "CaseReportLinked" => {
            let (_, report) = linked_from_proto(msg(ty, payload)?)?;
            CaseEvent::ReportLinked { report }
        }
        _ => return Err(DecodeError::UnknownType { event_type: ty.to_string() }),
    })
}

pub fn encode_feedback_event(case_id: CaseId, event: &FeedbackEvent) -> (String, Vec<u8>) {
    let id = case_id.to_string();
    match event {
        FeedbackEvent::Requested { level: l, due_at } => (
            event_type("FeedbackRequested"),
            pb::FeedbackRequested { case_id: id, level: level(*l) as i32, due_at: Some(timestamp(*due_at)) }
                .encode_to_vec(),
        ),
        FeedbackEvent::Received { satisfaction: s, comment } => (
            event_type("FeedbackReceived"),
            pb::FeedbackReceived { case_id: id, satisfaction: satisfaction(*s) as i32, comment: comment.clone() }
                .encode_to_vec(),
        ),
        FeedbackEvent::Defaulted { satisfaction: s } => (
            event_type("FeedbackDefaulted"),
            pb::FeedbackDefaulted { case_id: id, satisfaction: satisfaction(*s) as i32 }.encode_to_vec(),
        ),
    }
}

pub fn decode_feedback_event(event_type: &str, payload: &[u8]) -> Result<FeedbackEvent, DecodeError> {
    let ty = event_type;
    let proto = |source| DecodeError::Protobuf { event_type: ty.to_string(), source };
    let sat = |raw: i32| {
        pb::Satisfaction::try_from(raw)
            .ok()
            .and_then(from_satisfaction)
            .ok_or_else(|| invalid(ty, "satisfaction missing"))
    };
    Ok(match ty.strip_prefix("gridloop.v1.").unwrap_or(ty) {
        "FeedbackRequested" => {
            let m = pb::FeedbackRequested::decode(payload).map_err(proto)?;
            FeedbackEvent::Requested {
                level: pb::Level::try_from(m.level).ok().and_then(from_level).ok_or_else(|| invalid(ty, "level"))?,
                due_at: m.due_at.as_ref().and_then(from_timestamp).ok_or_else(|| invalid(ty, "due_at missing"))?,
            }
        }
        "FeedbackReceived" => {
            let m = pb::FeedbackReceived::decode(payload).map_err(proto)?;
            FeedbackEvent::Received { satisfaction: sat(m.satisfaction)?, comment: m.comment }
        }
        "FeedbackDefaulted" => {
            let m = pb::FeedbackDefaulted::decode(payload).map_err(proto)?;
            FeedbackEvent::Defaulted { satisfaction: sat(m.satisfaction)? }
        }
        _ => return Err(DecodeError::UnknownType { event_type: ty.to_string() }),
    })
}

pub fn encode_mediation_event(mediation_id: &str, case_id: CaseId, event: &MediationEvent) -> (String, Vec<u8>) {
    match event {
        MediationEvent::Opened { level: l, topic, .. } => (
            event_type("MediationOpened"),
            pb::MediationOpened {
                mediation_id: mediation_id.to_string(),
                case_id: case_id.to_string(),
                level: level(*l) as i32,
                topic: topic.clone(),
            }
            .encode_to_vec(),
        ),
        MediationEvent::Concluded { outcome, summary, signed_by } => (
            event_type("MediationConcluded"),
            pb::MediationConcluded {
                mediation_id: mediation_id.to_string(),
                case_id: case_id.to_string(),
                outcome: match outcome {
                    Outcome::Agreed => pb::MediationOutcome::Agreed,
                    Outcome::Failed => pb::MediationOutcome::Failed,
                } as i32,
                summary: summary.clone(),
                signed_by: signed_by.clone(),
            }
            .encode_to_vec(),
        ),
    }
}

pub fn decode_mediation_event(event_type: &str, payload: &[u8]) -> Result<MediationEvent, DecodeError> {
    let ty = event_type;
    let proto = |source| DecodeError::Protobuf { event_type: ty.to_string(), source };
    Ok(match ty.strip_prefix("gridloop.v1.").unwrap_or(ty) {
        "MediationOpened" => {
            let m = pb::MediationOpened::decode(payload).map_err(proto)?;
            MediationEvent::Opened {
                case_id: CaseId::parse(&m.case_id).map_err(|_| invalid(ty, "case_id is not a UUID"))?,
                level: pb::Level::try_from(m.level).ok().and_then(from_level).ok_or_else(|| invalid(ty, "level"))?,
                topic: m.topic,
            }
        }
        "MediationConcluded" => {
            let m = pb::MediationConcluded::decode(payload).map_err(proto)?;
            let outcome = match m.outcome() {
                pb::MediationOutcome::Agreed => Outcome::Agreed,
                pb::MediationOutcome::Failed => Outcome::Failed,
                pb::MediationOutcome::Unspecified => return Err(invalid(ty, "outcome missing")),
            };
            MediationEvent::Concluded { outcome, summary: m.summary, signed_by: m.signed_by }
        }
        _ => return Err(DecodeError::UnknownType { event_type: ty.to_string() }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_linked_report_round_trips_on_the_case_stream() {
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap();
        let case_id = CaseId(uuid::Uuid::now_v7());
        let report = LinkedReport {
            details: CaseDetails {
                category_code: "env.debris".into(),
                grid_code: "321012001001001".into(),
                lat: 32.4043,
                lon: 119.5029,
                description: "又堆满了".into(),
                reporter: Reporter {
                    kind: ReporterKind::Resident,
                    id: "r-2".into(),
                    name: String::new(),
                    phone: String::new(),
                },
                channel: Channel::Hotline,
                discovered_at: at,
                uploaded_at: at,
                urgent: true,
            },
            client_key: "k-2".into(),
            distance_m: 12.5,
            reason: "same category within 13 m of case x, opened just now".into(),
        };
        let event = CaseEvent::ReportLinked { report };
        let (ty, bytes) = encode_case_event(case_id, &event);
        assert_eq!(ty, "gridloop.v1.CaseReportLinked");
        assert_eq!(decode_case_event(&ty, &bytes).unwrap(), event);
        let m = pb::CaseReportLinked::decode(bytes.as_slice()).unwrap();
        assert_eq!(linked_from_proto(m).unwrap().0, case_id);
    }
}
