//! Conversions between the domain's Rust types and the protobuf contract. The domain never sees
//! protobuf; services convert here, at the edge.

use crate::v1 as pb;
use chrono::{DateTime, Utc};
use gridloop_domain::case::{
    Assignment, CaseDetails, CaseEvent, Channel, EscalationReason, LinkedReport, Reporter, ReporterKind, Satisfaction,
    SummonedDepartment,
};
use gridloop_domain::feedback::FeedbackEvent;
use gridloop_domain::ids::CaseId;
use gridloop_domain::jurisdiction::Department;
use gridloop_domain::level::Level;
use gridloop_domain::mediation::{
    MatterKind, MediationEvent, Origin, Outcome, Participant, Referral, Role, SessionLevel, Statement,
};
use gridloop_domain::priority::{Priority, SpecialGroup};
use prost::Message;

/// The fully qualified protobuf name of an event message.
pub fn event_type(short: &str) -> String {
    format!("gridloop.v1.{short}")
}

/// The `PolicyConfigured` event of `policy` (its `changed` list left for the recorder to fill).
pub fn policy_configured(policy: &gridloop_domain::policy::CityPolicy) -> pb::PolicyConfigured {
    let fingerprint = policy.fingerprint();
    pb::PolicyConfigured {
        jurisdiction_sha256: fingerprint.jurisdiction,
        catalog_sha256: fingerprint.catalog,
        calendar_sha256: fingerprint.calendar,
        district_code: policy.jurisdiction.district().code.as_str().to_string(),
        grids: u32::try_from(policy.jurisdiction.grids().count()).unwrap_or(u32::MAX),
        categories: u32::try_from(policy.catalog.categories().len()).unwrap_or(u32::MAX),
        jurisdiction_toml: policy.jurisdiction.to_toml(),
        changed: Vec::new(),
    }
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

pub fn special_group(g: SpecialGroup) -> pb::SpecialGroup {
    match g {
        SpecialGroup::ElderlyLivingAlone => pb::SpecialGroup::ElderlyLivingAlone,
        SpecialGroup::Disabled => pb::SpecialGroup::Disabled,
        SpecialGroup::LeftBehindChild => pb::SpecialGroup::LeftBehindChild,
        SpecialGroup::Hardship => pb::SpecialGroup::Hardship,
    }
}

pub fn from_special_group(g: pb::SpecialGroup) -> Option<SpecialGroup> {
    match g {
        pb::SpecialGroup::Unspecified => None,
        pb::SpecialGroup::ElderlyLivingAlone => Some(SpecialGroup::ElderlyLivingAlone),
        pb::SpecialGroup::Disabled => Some(SpecialGroup::Disabled),
        pb::SpecialGroup::LeftBehindChild => Some(SpecialGroup::LeftBehindChild),
        pb::SpecialGroup::Hardship => Some(SpecialGroup::Hardship),
    }
}

/// Special groups as protobuf enum values.
pub fn special_groups(groups: &[SpecialGroup]) -> Vec<i32> {
    groups.iter().map(|g| special_group(*g) as i32).collect()
}

/// Special groups from protobuf enum values, or the first value that names none.
pub fn from_special_groups(raw: &[i32]) -> Result<Vec<SpecialGroup>, i32> {
    raw.iter().map(|&v| pb::SpecialGroup::try_from(v).ok().and_then(from_special_group).ok_or(v)).collect()
}

pub fn summoned_department(d: &SummonedDepartment) -> pb::SummonedDepartment {
    pb::SummonedDepartment {
        unit_code: d.unit.clone(),
        department_code: d.department.code.clone(),
        department_name: d.department.name.clone(),
    }
}

fn from_summoned_department(d: pb::SummonedDepartment) -> SummonedDepartment {
    SummonedDepartment {
        unit: d.unit_code,
        department: Department { code: d.department_code, name: d.department_name },
    }
}

/// The function code of an assignment's department, empty for none.
pub fn department_code(department: &Option<Department>) -> String {
    department.as_ref().map(|d| d.code.clone()).unwrap_or_default()
}

/// The name of an assignment's department, empty for none.
pub fn department_name(department: &Option<Department>) -> String {
    department.as_ref().map(|d| d.name.clone()).unwrap_or_default()
}

/// The department carried by an event's `department_code`/`department_name` (none when empty).
fn department_from(code: String, name: String) -> Option<Department> {
    (!code.is_empty()).then_some(Department { code, name })
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
        special_groups: special_groups(&details.special_groups),
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
        special_groups: special_groups(&details.special_groups),
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
            special_groups: from_special_groups(&m.special_groups)
                .map_err(|v| invalid(ty, &format!("special group {v} is not one this build knows")))?,
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
            special_groups: special_groups(&details.special_groups),
        }
        .encode_to_vec(),
        CaseEvent::Rejected { reason } => pb::CaseRejected { case_id: id, reason: reason.clone() }.encode_to_vec(),
        CaseEvent::Dispatched { to, rule, priority } => pb::CaseDispatched {
            case_id: id,
            level: level(to.level) as i32,
            unit_code: to.unit.clone(),
            deadline: Some(timestamp(to.deadline)),
            rule: rule.clone(),
            department_code: department_code(&to.department),
            department_name: department_name(&to.department),
            priority: priority.score,
            priority_reasons: priority.reasons.clone(),
        }
        .encode_to_vec(),
        CaseEvent::Accepted { at, assignee } => pb::CaseAccepted {
            case_id: id,
            level: level(at.level) as i32,
            unit_code: at.unit.clone(),
            assignee: assignee.clone(),
            deadline: Some(timestamp(at.deadline)),
            department_code: department_code(&at.department),
            department_name: department_name(&at.department),
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
            department_code: department_code(&to.department),
            department_name: department_name(&to.department),
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
            department_code: department_code(&to.department),
            department_name: department_name(&to.department),
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
            department_code: department_code(&back_to.department),
            department_name: department_name(&back_to.department),
        }
        .encode_to_vec(),
        CaseEvent::Resolved { level: l, unit, summary, verify_by } => pb::CaseResolved {
            case_id: id,
            level: level(*l) as i32,
            unit_code: unit.clone(),
            summary: summary.clone(),
            verification_required: verify_by.is_some(),
            verify_by: verify_by.map(timestamp),
        }
        .encode_to_vec(),
        CaseEvent::VerificationOverdue { deadline, next_deadline } => pb::CaseVerificationOverdue {
            case_id: id,
            deadline: Some(timestamp(*deadline)),
            next_deadline: Some(timestamp(*next_deadline)),
        }
        .encode_to_vec(),
        CaseEvent::Verified { level: l, verifier, passed, note } => pb::CaseVerified {
            case_id: id,
            verifier: verifier.clone(),
            passed: *passed,
            note: note.clone(),
            level: level(*l) as i32,
        }
        .encode_to_vec(),
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
            department_code: department_code(&at.department),
            department_name: department_name(&at.department),
        }
        .encode_to_vec(),
        CaseEvent::Closed { level: l, satisfaction: s } => pb::CaseClosed {
            case_id: id,
            level: level(*l) as i32,
            satisfaction: s.map_or(pb::Satisfaction::Unspecified, satisfaction) as i32,
        }
        .encode_to_vec(),
        CaseEvent::ReportLinked { report } => case_report_linked(case_id, report).encode_to_vec(),
        CaseEvent::PriorityChanged { priority } => {
            pb::CasePriorityChanged { case_id: id, priority: priority.score, reasons: priority.reasons.clone() }
                .encode_to_vec()
        }
        CaseEvent::DepartmentsSummoned { level: l, unit, departments, reason } => pb::CaseDepartmentsSummoned {
            case_id: id,
            level: level(*l) as i32,
            unit_code: unit.clone(),
            departments: departments.iter().map(summoned_department).collect(),
            reason: reason.clone(),
        }
        .encode_to_vec(),
        CaseEvent::DepartmentReportedIn { department, by, note } => pb::DepartmentReportedIn {
            case_id: id,
            department: Some(summoned_department(department)),
            by: by.clone(),
            note: note.clone(),
        }
        .encode_to_vec(),
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
                special_groups: m.special_groups,
            };
            let (case_id, details) = details_from_reported(&reported)?;
            CaseEvent::Opened { case_id, details }
        }
        "CaseRejected" => CaseEvent::Rejected { reason: msg::<pb::CaseRejected>(ty, payload)?.reason },
        "CaseDispatched" => {
            let m: pb::CaseDispatched = msg(ty, payload)?;
            CaseEvent::Dispatched {
                to: Assignment {
                    level: lvl(m.level)?,
                    unit: m.unit_code,
                    deadline: time(&m.deadline)?,
                    department: department_from(m.department_code, m.department_name),
                },
                rule: m.rule,
                priority: Priority { score: m.priority, reasons: m.priority_reasons },
            }
        }
        "CaseAccepted" => {
            let m: pb::CaseAccepted = msg(ty, payload)?;
            CaseEvent::Accepted {
                at: Assignment {
                    level: lvl(m.level)?,
                    unit: m.unit_code,
                    deadline: time(&m.deadline)?,
                    department: department_from(m.department_code, m.department_name),
                },
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
                to: Assignment {
                    level: lvl(m.to_level)?,
                    unit: m.unit_code,
                    deadline: time(&m.deadline)?,
                    department: department_from(m.department_code, m.department_name),
                },
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
                to: Assignment {
                    level: lvl(m.level)?,
                    unit: m.to_unit,
                    deadline: time(&m.deadline)?,
                    department: department_from(m.department_code, m.department_name),
                },
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
                    back_to: Assignment {
                        level: lvl(m.level)?,
                        unit: m.unit_code,
                        deadline: time(&m.deadline)?,
                        department: department_from(m.department_code, m.department_name),
                    },
                    mediation_id: m.mediation_id,
                    summary: m.summary,
                }
            }
        }
        "CaseResolved" => {
            let m: pb::CaseResolved = msg(ty, payload)?;
            // An event that asked for a check always carries its deadline.
            let verify_by = if m.verification_required { Some(time(&m.verify_by)?) } else { None };
            CaseEvent::Resolved { level: lvl(m.level)?, unit: m.unit_code, summary: m.summary, verify_by }
        }
        "CaseVerificationOverdue" => {
            let m: pb::CaseVerificationOverdue = msg(ty, payload)?;
            CaseEvent::VerificationOverdue { deadline: time(&m.deadline)?, next_deadline: time(&m.next_deadline)? }
        }
        "CaseVerified" => {
            let m: pb::CaseVerified = msg(ty, payload)?;
            CaseEvent::Verified { level: lvl(m.level)?, verifier: m.verifier, passed: m.passed, note: m.note }
        }
        "CaseEvaluated" => {
            let m: pb::CaseEvaluated = msg(ty, payload)?;
            CaseEvent::Evaluated { satisfaction: sat(m.satisfaction)?, comment: m.comment, defaulted: m.defaulted }
        }
        "CaseReopened" => {
            let m: pb::CaseReopened = msg(ty, payload)?;
            CaseEvent::Reopened {
                at: Assignment {
                    level: lvl(m.level)?,
                    unit: m.unit_code,
                    deadline: time(&m.deadline)?,
                    department: department_from(m.department_code, m.department_name),
                },
                reason: m.reason,
            }
        }
        "CaseClosed" => {
            let m: pb::CaseClosed = msg(ty, payload)?;
            CaseEvent::Closed {
                level: lvl(m.level)?,
                satisfaction: pb::Satisfaction::try_from(m.satisfaction).ok().and_then(from_satisfaction),
            }
        }
        "CaseReportLinked" => {
            let (_, report) = linked_from_proto(msg(ty, payload)?)?;
            CaseEvent::ReportLinked { report }
        }
        "CasePriorityChanged" => {
            let m: pb::CasePriorityChanged = msg(ty, payload)?;
            CaseEvent::PriorityChanged { priority: Priority { score: m.priority, reasons: m.reasons } }
        }
        "CaseDepartmentsSummoned" => {
            let m: pb::CaseDepartmentsSummoned = msg(ty, payload)?;
            CaseEvent::DepartmentsSummoned {
                level: lvl(m.level)?,
                unit: m.unit_code,
                departments: m.departments.into_iter().map(from_summoned_department).collect(),
                reason: m.reason,
            }
        }
        "DepartmentReportedIn" => {
            let m: pb::DepartmentReportedIn = msg(ty, payload)?;
            let department = m.department.ok_or_else(|| invalid(ty, "department missing"))?;
            CaseEvent::DepartmentReportedIn { department: from_summoned_department(department), by: m.by, note: m.note }
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

pub fn session_level(l: SessionLevel) -> pb::SessionLevel {
    match l {
        SessionLevel::Building => pb::SessionLevel::Building,
        SessionLevel::Grid => pb::SessionLevel::Grid,
        SessionLevel::Community => pb::SessionLevel::Community,
        SessionLevel::Street => pb::SessionLevel::Street,
    }
}

pub fn from_session_level(l: pb::SessionLevel) -> Option<SessionLevel> {
    match l {
        pb::SessionLevel::Unspecified => None,
        pb::SessionLevel::Building => Some(SessionLevel::Building),
        pb::SessionLevel::Grid => Some(SessionLevel::Grid),
        pb::SessionLevel::Community => Some(SessionLevel::Community),
        pb::SessionLevel::Street => Some(SessionLevel::Street),
    }
}

pub fn matter_kind(k: MatterKind) -> pb::MatterKind {
    match k {
        MatterKind::Deliberation => pb::MatterKind::Deliberation,
        MatterKind::Decision => pb::MatterKind::Decision,
        MatterKind::Consultation => pb::MatterKind::Consultation,
        MatterKind::Hearing => pb::MatterKind::Hearing,
    }
}

pub fn from_matter_kind(k: pb::MatterKind) -> Option<MatterKind> {
    match k {
        pb::MatterKind::Unspecified => None,
        pb::MatterKind::Deliberation => Some(MatterKind::Deliberation),
        pb::MatterKind::Decision => Some(MatterKind::Decision),
        pb::MatterKind::Consultation => Some(MatterKind::Consultation),
        pb::MatterKind::Hearing => Some(MatterKind::Hearing),
    }
}

pub fn role(r: Role) -> pb::ParticipantRole {
    match r {
        Role::Convenor => pb::ParticipantRole::Convenor,
        Role::GridWorker => pb::ParticipantRole::GridWorker,
        Role::PropertyCompany => pb::ParticipantRole::PropertyCompany,
        Role::OwnersCommittee => pb::ParticipantRole::OwnersCommittee,
        Role::CppccMember => pb::ParticipantRole::CppccMember,
        Role::GridPolice => pb::ParticipantRole::GridPolice,
        Role::LegalWorker => pb::ParticipantRole::LegalWorker,
        Role::ResidentRepresentative => pb::ParticipantRole::ResidentRepresentative,
        Role::SocialOrganisation => pb::ParticipantRole::SocialOrganisation,
        Role::Party => pb::ParticipantRole::Party,
    }
}

pub fn from_role(r: pb::ParticipantRole) -> Option<Role> {
    Some(match r {
        pb::ParticipantRole::Unspecified => return None,
        pb::ParticipantRole::Convenor => Role::Convenor,
        pb::ParticipantRole::GridWorker => Role::GridWorker,
        pb::ParticipantRole::PropertyCompany => Role::PropertyCompany,
        pb::ParticipantRole::OwnersCommittee => Role::OwnersCommittee,
        pb::ParticipantRole::CppccMember => Role::CppccMember,
        pb::ParticipantRole::GridPolice => Role::GridPolice,
        pb::ParticipantRole::LegalWorker => Role::LegalWorker,
        pb::ParticipantRole::ResidentRepresentative => Role::ResidentRepresentative,
        pb::ParticipantRole::SocialOrganisation => Role::SocialOrganisation,
        pb::ParticipantRole::Party => Role::Party,
    })
}

pub fn referral(r: Referral) -> pb::MediationReferral {
    match r {
        Referral::BackToUnit => pb::MediationReferral::Unspecified,
        Referral::EscalateOneLevel => pb::MediationReferral::EscalateOneLevel,
        Referral::Litigation => pb::MediationReferral::Litigation,
    }
}

fn from_referral(r: pb::MediationReferral) -> Referral {
    match r {
        pb::MediationReferral::Unspecified => Referral::BackToUnit,
        pb::MediationReferral::EscalateOneLevel => Referral::EscalateOneLevel,
        pb::MediationReferral::Litigation => Referral::Litigation,
    }
}

/// The ladder level a council sits at (a building session belongs to its grid).
pub fn ladder_level(l: SessionLevel) -> Level {
    match l {
        SessionLevel::Building | SessionLevel::Grid => Level::Grid,
        SessionLevel::Community => Level::Community,
        SessionLevel::Street => Level::Street,
    }
}

/// Encode a mediation event; `case_id` is the session's case, empty for a collected topic.
pub fn encode_mediation_event(mediation_id: &str, case_id: &str, event: &MediationEvent) -> (String, Vec<u8>) {
    let id = mediation_id.to_string();
    match event {
        MediationEvent::Opened { origin, level: l, topic, kind, professional, convenor } => (
            event_type("MediationOpened"),
            pb::MediationOpened {
                mediation_id: id,
                case_id: case_id.to_string(),
                level: level(ladder_level(*l)) as i32,
                topic: topic.clone(),
                session_level: session_level(*l) as i32,
                kind: matter_kind(*kind) as i32,
                professional: professional.map_or(pb::ParticipantRole::Unspecified, role) as i32,
                convenor: convenor.clone(),
                collected_from: match origin {
                    Origin::Case { .. } => String::new(),
                    Origin::CollectedTopic { collected_from } => collected_from.clone(),
                },
            }
            .encode_to_vec(),
        ),
        MediationEvent::Invited { participant } => (
            event_type("MediationParticipantInvited"),
            pb::MediationParticipantInvited {
                mediation_id: id,
                name: participant.name.clone(),
                role: role(participant.role) as i32,
            }
            .encode_to_vec(),
        ),
        MediationEvent::Notified => (
            event_type("MediationParticipantsNotified"),
            pb::MediationParticipantsNotified { mediation_id: id }.encode_to_vec(),
        ),
        MediationEvent::DeliberationOpened { present } => (
            event_type("MediationDeliberationOpened"),
            pb::MediationDeliberationOpened { mediation_id: id, present: present.clone() }.encode_to_vec(),
        ),
        MediationEvent::StatementMade { statement } => (
            event_type("MediationStatementMade"),
            pb::MediationStatementMade {
                mediation_id: id,
                speaker: statement.speaker.clone(),
                text: statement.text.clone(),
            }
            .encode_to_vec(),
        ),
        MediationEvent::MotionVoted { motion, yes, no, abstain, carried } => (
            event_type("MediationMotionVoted"),
            pb::MediationMotionVoted {
                mediation_id: id,
                motion: motion.clone(),
                yes: yes.clone(),
                no: no.clone(),
                abstain: abstain.clone(),
                carried: *carried,
            }
            .encode_to_vec(),
        ),
        MediationEvent::AgreementSigned { signed_by, notice_until, residents_concerned } => (
            event_type("MediationAgreementSigned"),
            pb::MediationAgreementSigned {
                mediation_id: id,
                signed_by: signed_by.clone(),
                notice_until: Some(timestamp(*notice_until)),
                residents_concerned: *residents_concerned,
            }
            .encode_to_vec(),
        ),
        MediationEvent::ObjectionRaised { residents, threshold_reached } => (
            event_type("MediationObjectionRaised"),
            pb::MediationObjectionRaised {
                mediation_id: id,
                residents: residents.clone(),
                threshold_reached: *threshold_reached,
            }
            .encode_to_vec(),
        ),
        MediationEvent::Reconsidered { reason } => (
            event_type("MediationReconsidered"),
            pb::MediationReconsidered { mediation_id: id, reason: reason.clone() }.encode_to_vec(),
        ),
        MediationEvent::ExecutionSuspended { reason } => (
            event_type("MediationExecutionSuspended"),
            pb::MediationExecutionSuspended { mediation_id: id, reason: reason.clone() }.encode_to_vec(),
        ),
        MediationEvent::FollowUpScheduled { due } => (
            event_type("MediationFollowUpScheduled"),
            pb::MediationFollowUpScheduled { mediation_id: id, due: Some(timestamp(*due)) }.encode_to_vec(),
        ),
        MediationEvent::FollowUpOverdue { due, next_due } => (
            event_type("MediationFollowUpOverdue"),
            pb::MediationFollowUpOverdue {
                mediation_id: id,
                due: Some(timestamp(*due)),
                next_due: Some(timestamp(*next_due)),
            }
            .encode_to_vec(),
        ),
        MediationEvent::FollowedUp { note, next_due } => (
            event_type("MediationFollowedUp"),
            pb::MediationFollowedUp { mediation_id: id, note: note.clone(), next_due: next_due.map(timestamp) }
                .encode_to_vec(),
        ),
        MediationEvent::Concluded { outcome, summary, signed_by } => (
            event_type("MediationConcluded"),
            pb::MediationConcluded {
                mediation_id: id,
                case_id: case_id.to_string(),
                outcome: match outcome {
                    Outcome::Agreed => pb::MediationOutcome::Agreed,
                    Outcome::Failed(_) => pb::MediationOutcome::Failed,
                    Outcome::Consultation => pb::MediationOutcome::Consultation,
                } as i32,
                summary: summary.clone(),
                signed_by: signed_by.clone(),
                referral: match outcome {
                    Outcome::Failed(r) => referral(*r),
                    Outcome::Agreed | Outcome::Consultation => pb::MediationReferral::Unspecified,
                } as i32,
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
            let origin = if m.case_id.is_empty() {
                Origin::CollectedTopic { collected_from: m.collected_from.clone() }
            } else {
                Origin::Case { case_id: CaseId::parse(&m.case_id).map_err(|_| invalid(ty, "case_id is not a UUID"))? }
            };
            // Sessions recorded before the council procedure carry only the ladder level.
            let level = match from_session_level(m.session_level()) {
                Some(l) => l,
                None => SessionLevel::for_case(from_level(m.level()).ok_or_else(|| invalid(ty, "level"))?),
            };
            MediationEvent::Opened {
                origin,
                level,
                kind: from_matter_kind(m.kind()).unwrap_or(MatterKind::Deliberation),
                professional: from_role(m.professional()),
                convenor: m.convenor,
                topic: m.topic,
            }
        }
        "MediationParticipantInvited" => {
            let m = pb::MediationParticipantInvited::decode(payload).map_err(proto)?;
            let role = from_role(m.role()).ok_or_else(|| invalid(ty, "role missing"))?;
            MediationEvent::Invited { participant: Participant { name: m.name, role } }
        }
        "MediationParticipantsNotified" => MediationEvent::Notified,
        "MediationDeliberationOpened" => {
            let m = pb::MediationDeliberationOpened::decode(payload).map_err(proto)?;
            MediationEvent::DeliberationOpened { present: m.present }
        }
        "MediationStatementMade" => {
            let m = pb::MediationStatementMade::decode(payload).map_err(proto)?;
            MediationEvent::StatementMade { statement: Statement { speaker: m.speaker, text: m.text } }
        }
        "MediationMotionVoted" => {
            let m = pb::MediationMotionVoted::decode(payload).map_err(proto)?;
            MediationEvent::MotionVoted {
                motion: m.motion,
                yes: m.yes,
                no: m.no,
                abstain: m.abstain,
                carried: m.carried,
            }
        }
        "MediationAgreementSigned" => {
            let m = pb::MediationAgreementSigned::decode(payload).map_err(proto)?;
            MediationEvent::AgreementSigned {
                signed_by: m.signed_by,
                notice_until: m
                    .notice_until
                    .as_ref()
                    .and_then(from_timestamp)
                    .ok_or_else(|| invalid(ty, "notice_until missing"))?,
                residents_concerned: m.residents_concerned,
            }
        }
        "MediationObjectionRaised" => {
            let m = pb::MediationObjectionRaised::decode(payload).map_err(proto)?;
            MediationEvent::ObjectionRaised { residents: m.residents, threshold_reached: m.threshold_reached }
        }
        "MediationReconsidered" => {
            let m = pb::MediationReconsidered::decode(payload).map_err(proto)?;
            MediationEvent::Reconsidered { reason: m.reason }
        }
        "MediationExecutionSuspended" => {
            let m = pb::MediationExecutionSuspended::decode(payload).map_err(proto)?;
            MediationEvent::ExecutionSuspended { reason: m.reason }
        }
        "MediationFollowUpScheduled" => {
            let m = pb::MediationFollowUpScheduled::decode(payload).map_err(proto)?;
            MediationEvent::FollowUpScheduled {
                due: m.due.as_ref().and_then(from_timestamp).ok_or_else(|| invalid(ty, "due missing"))?,
            }
        }
        "MediationFollowUpOverdue" => {
            let m = pb::MediationFollowUpOverdue::decode(payload).map_err(proto)?;
            MediationEvent::FollowUpOverdue {
                due: m.due.as_ref().and_then(from_timestamp).ok_or_else(|| invalid(ty, "due missing"))?,
                next_due: m
                    .next_due
                    .as_ref()
                    .and_then(from_timestamp)
                    .ok_or_else(|| invalid(ty, "next_due missing"))?,
            }
        }
        "MediationFollowedUp" => {
            let m = pb::MediationFollowedUp::decode(payload).map_err(proto)?;
            MediationEvent::FollowedUp { note: m.note, next_due: m.next_due.as_ref().and_then(from_timestamp) }
        }
        "MediationConcluded" => {
            let m = pb::MediationConcluded::decode(payload).map_err(proto)?;
            let outcome = match m.outcome() {
                pb::MediationOutcome::Agreed => Outcome::Agreed,
                pb::MediationOutcome::Failed => Outcome::Failed(from_referral(m.referral())),
                pb::MediationOutcome::Consultation => Outcome::Consultation,
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
    fn every_mediation_event_round_trips() {
        let at = Utc.with_ymd_and_hms(2026, 3, 9, 1, 0, 0).unwrap();
        let names = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let events = [
            MediationEvent::Opened {
                origin: Origin::CollectedTopic { collected_from: "痛点箱".into() },
                level: SessionLevel::Building,
                topic: "e-bike charging".into(),
                kind: MatterKind::Hearing,
                professional: Some(Role::PropertyCompany),
                convenor: "Chair".into(),
            },
            MediationEvent::Invited { participant: Participant { name: "Zhang".into(), role: Role::Party } },
            MediationEvent::Notified,
            MediationEvent::DeliberationOpened { present: names(&["Chair", "Zhang"]) },
            MediationEvent::StatementMade { statement: Statement { speaker: "Zhang".into(), text: "t".into() } },
            MediationEvent::MotionVoted {
                motion: "m".into(),
                yes: names(&["Chair"]),
                no: names(&["Zhang"]),
                abstain: vec![],
                carried: false,
            },
            MediationEvent::AgreementSigned { signed_by: names(&["Zhang"]), notice_until: at, residents_concerned: 40 },
            MediationEvent::ObjectionRaised { residents: names(&["r1"]), threshold_reached: true },
            MediationEvent::Reconsidered { reason: "复议".into() },
            MediationEvent::ExecutionSuspended { reason: "暂缓".into() },
            MediationEvent::Concluded {
                outcome: Outcome::Failed(Referral::Litigation),
                summary: "s".into(),
                signed_by: vec![],
            },
            MediationEvent::Concluded { outcome: Outcome::Consultation, summary: "s".into(), signed_by: vec![] },
            MediationEvent::FollowUpScheduled { due: at },
            MediationEvent::FollowUpOverdue { due: at, next_due: at + chrono::Duration::days(15) },
            MediationEvent::FollowedUp { note: "n".into(), next_due: Some(at) },
            MediationEvent::FollowedUp { note: "settled".into(), next_due: None },
        ];
        for event in events {
            let (ty, payload) = encode_mediation_event("m1", "", &event);
            assert_eq!(decode_mediation_event(&ty, &payload).unwrap(), event, "{ty}");
        }
    }

    #[test]
    fn a_session_opened_before_the_council_procedure_decodes_at_its_ladder_level() {
        let case_id = CaseId(uuid::Uuid::nil());
        let old = pb::MediationOpened {
            mediation_id: "m1".into(),
            case_id: case_id.to_string(),
            level: pb::Level::District as i32,
            topic: "noise".into(),
            ..Default::default()
        };
        let event = decode_mediation_event("gridloop.v1.MediationOpened", &old.encode_to_vec()).unwrap();
        assert_eq!(
            event,
            MediationEvent::Opened {
                origin: Origin::Case { case_id },
                level: SessionLevel::Street,
                topic: "noise".into(),
                kind: MatterKind::Deliberation,
                professional: None,
                convenor: String::new(),
            }
        );
    }

    #[test]
    fn dispatch_with_department_and_priority_round_trips() {
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap();
        let case_id = CaseId(uuid::Uuid::now_v7());
        let department = Department { code: "urban-management".into(), name: "邵伯街道城管中队".into() };
        let to =
            Assignment { level: Level::Street, unit: "321012003".into(), deadline: at, department: Some(department) };
        let priority = Priority { score: 30, reasons: vec!["a (+10)".into(), "b (+20)".into()] };
        for event in [
            CaseEvent::Dispatched { to: to.clone(), rule: "r".into(), priority: priority.clone() },
            CaseEvent::Accepted { at: Assignment { department: None, ..to.clone() }, assignee: "wang".into() },
            CaseEvent::Escalated {
                from: Level::Community,
                to: to.clone(),
                reason: EscalationReason::Requested,
                note: "n".into(),
            },
            CaseEvent::Transferred { from_unit: "321012002".into(), to: to.clone(), reason: "r".into() },
            CaseEvent::Reopened { at: to.clone(), reason: "r".into() },
            CaseEvent::MediationFailed { mediation_id: "m".into(), summary: "s".into(), back_to: to.clone() },
            CaseEvent::PriorityChanged { priority: priority.clone() },
            CaseEvent::DepartmentsSummoned {
                level: Level::Street,
                unit: "321012003".into(),
                departments: vec![SummonedDepartment {
                    unit: "321012".into(),
                    department: Department {
                        code: "ecology-environment".into(), name: "江都区生态环境局".into()
                    },
                }],
                reason: "油烟".into(),
            },
            CaseEvent::DepartmentReportedIn {
                department: SummonedDepartment {
                    unit: "321012".into(),
                    department: Department {
                        code: "ecology-environment".into(), name: "江都区生态环境局".into()
                    },
                },
                by: "inspector-7".into(),
                note: "到场".into(),
            },
        ] {
            let (ty, bytes) = encode_case_event(case_id, &event);
            assert_eq!(decode_case_event(&ty, &bytes).unwrap(), event, "{ty}");
        }
        let (_, bytes) = encode_case_event(case_id, &CaseEvent::Dispatched { to, rule: "r".into(), priority });
        let m = pb::CaseDispatched::decode(bytes.as_slice()).unwrap();
        assert_eq!((m.department_code.as_str(), m.department_name.as_str()), ("urban-management", "邵伯街道城管中队"));
        assert_eq!((m.priority, m.priority_reasons.len()), (30, 2));
    }

    #[test]
    fn an_unknown_special_group_is_named() {
        assert_eq!(from_special_groups(&[1, 2]), Ok(vec![SpecialGroup::ElderlyLivingAlone, SpecialGroup::Disabled]));
        assert_eq!(from_special_groups(&[1, 0]), Err(0));
        assert_eq!(from_special_groups(&[99]), Err(99));
    }

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
                special_groups: vec![SpecialGroup::Disabled, SpecialGroup::ElderlyLivingAlone],
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
