//! The case's events (dispatch's `case-<id>` streams) and its state on the wire.

use super::mediation::{register_from_names, register_names};
use super::{event_type, invalid, message, report::*, short_type, values::*, DecodeError};
use crate::v1 as pb;
use gridloop_domain::case::{Assignment, CaseEvent, EscalationReason, Evaluator};
use gridloop_domain::case_state::CaseState;
use gridloop_domain::ids::CaseId;
use gridloop_domain::priority::Priority;
use prost::Message;

/// Encode a case event: (fully qualified type, payload bytes).
pub fn encode_case_event(case_id: CaseId, event: &CaseEvent) -> (String, Vec<u8>) {
    let id = case_id.to_string();
    let bytes = match event {
        CaseEvent::Opened { details, .. } => pb::CaseOpened {
            case_id: id,
            category_code: details.category_code.clone(),
            location: Some(pb::GeoPoint::wgs84(details.lat, details.lon)),
            grid_code: details.grid_code.clone(),
            description: details.description.clone(),
            reporter: Some(reporter(&details.reporter)),
            channel: channel(details.channel) as i32,
            discovered_at: Some(timestamp(details.discovered_at)),
            uploaded_at: Some(timestamp(details.uploaded_at)),
            urgent: details.urgent,
            special_groups: special_groups(&details.special_groups),
            media_url: details.media_url.clone().unwrap_or_default(),
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
        CaseEvent::MediationRequested { level: l, topic, convenor, register } => {
            let (register_building, register_courtyard) = register_names(register.as_ref());
            pb::CaseMediationRequested {
                case_id: id,
                level: level(*l) as i32,
                topic: topic.clone(),
                convenor: convenor.clone(),
                register_building,
                register_courtyard,
            }
            .encode_to_vec()
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
        CaseEvent::Evaluated { satisfaction: s, comment, defaulted, evaluated_by } => pb::CaseEvaluated {
            case_id: id,
            satisfaction: satisfaction(*s) as i32,
            comment: comment.clone(),
            defaulted: *defaulted,
            evaluated_by: evaluated_by.as_ref().map(|e| pb::Actor {
                role: e.role.clone(),
                id: e.id.clone(),
                jurisdiction: e.area.clone(),
            }),
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
        CaseEvent::Closed { level: l, satisfaction: s, on_time } => pb::CaseClosed {
            case_id: id,
            level: level(*l) as i32,
            satisfaction: s.map_or(pb::Satisfaction::Unspecified, satisfaction) as i32,
            on_time: on_time_verdict(*on_time) as i32,
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
        CaseEvent::NoteAdded { text, author } => {
            pb::CaseNoteAdded { case_id: id, text: text.clone(), author: author.clone() }.encode_to_vec()
        }
    };
    (event_type(event.type_name()), bytes)
}

/// Decode a stored case event.
pub fn decode_case_event(event_type: &str, payload: &[u8]) -> Result<CaseEvent, DecodeError> {
    let ty = event_type;
    let lvl = |raw: i32| {
        pb::Level::try_from(raw).ok().and_then(from_level).ok_or_else(|| invalid(ty, "level missing or unknown"))
    };
    let time = |t: &Option<prost_types::Timestamp>| {
        t.as_ref().and_then(from_timestamp).ok_or_else(|| invalid(ty, "timestamp missing"))
    };
    // Who holds the case and until when, as the events that assign it carry it.
    let assignment = |level: i32, unit: String, deadline: &Option<prost_types::Timestamp>, (code, name)| {
        Ok::<_, DecodeError>(Assignment {
            level: lvl(level)?,
            unit,
            deadline: time(deadline)?,
            department: department_from(code, name),
        })
    };
    let sat = |raw: i32| {
        pb::Satisfaction::try_from(raw)
            .ok()
            .and_then(from_satisfaction)
            .ok_or_else(|| invalid(ty, "satisfaction missing"))
    };
    Ok(match short_type(ty) {
        "CaseOpened" => {
            let m: pb::CaseOpened = message(ty, payload)?;
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
                reported_location: None,
                media_url: m.media_url,
            };
            let (case_id, details) = details_from_reported(&reported)?;
            CaseEvent::Opened { case_id, details }
        }
        "CaseRejected" => CaseEvent::Rejected { reason: message::<pb::CaseRejected>(ty, payload)?.reason },
        "CaseDispatched" => {
            let m: pb::CaseDispatched = message(ty, payload)?;
            CaseEvent::Dispatched {
                to: assignment(m.level, m.unit_code, &m.deadline, (m.department_code, m.department_name))?,
                rule: m.rule,
                priority: Priority { score: m.priority, reasons: m.priority_reasons },
            }
        }
        "CaseAccepted" => {
            let m: pb::CaseAccepted = message(ty, payload)?;
            CaseEvent::Accepted {
                at: assignment(m.level, m.unit_code, &m.deadline, (m.department_code, m.department_name))?,
                assignee: m.assignee,
            }
        }
        "CaseEscalated" => {
            let m: pb::CaseEscalated = message(ty, payload)?;
            let reason = match m.reason() {
                pb::EscalationReason::DeadlineMissed => EscalationReason::DeadlineMissed,
                pb::EscalationReason::Requested => EscalationReason::Requested,
                pb::EscalationReason::Unspecified => return Err(invalid(ty, "reason missing")),
            };
            CaseEvent::Escalated {
                from: lvl(m.from_level)?,
                to: assignment(m.to_level, m.unit_code, &m.deadline, (m.department_code, m.department_name))?,
                reason,
                note: m.note,
            }
        }
        "CaseDeadlineMissed" => {
            let m: pb::CaseDeadlineMissed = message(ty, payload)?;
            CaseEvent::DeadlineMissed {
                level: lvl(m.level)?,
                deadline: time(&m.deadline)?,
                next_deadline: time(&m.next_deadline)?,
            }
        }
        "CaseTransferred" => {
            let m: pb::CaseTransferred = message(ty, payload)?;
            CaseEvent::Transferred {
                from_unit: m.from_unit,
                to: assignment(m.level, m.to_unit, &m.deadline, (m.department_code, m.department_name))?,
                reason: m.reason,
            }
        }
        "CaseMediationRequested" => {
            let m: pb::CaseMediationRequested = message(ty, payload)?;
            let register = register_from_names(ty, &m.register_building, &m.register_courtyard)?;
            CaseEvent::MediationRequested { level: lvl(m.level)?, topic: m.topic, convenor: m.convenor, register }
        }
        "CaseMediationConcluded" => {
            let m: pb::CaseMediationConcluded = message(ty, payload)?;
            if m.agreed {
                CaseEvent::MediationAgreed { mediation_id: m.mediation_id, summary: m.summary }
            } else {
                CaseEvent::MediationFailed {
                    back_to: assignment(m.level, m.unit_code, &m.deadline, (m.department_code, m.department_name))?,
                    mediation_id: m.mediation_id,
                    summary: m.summary,
                }
            }
        }
        "CaseResolved" => {
            let m: pb::CaseResolved = message(ty, payload)?;
            // An event that asked for a check always carries its deadline.
            let verify_by = if m.verification_required { Some(time(&m.verify_by)?) } else { None };
            CaseEvent::Resolved { level: lvl(m.level)?, unit: m.unit_code, summary: m.summary, verify_by }
        }
        "CaseVerificationOverdue" => {
            let m: pb::CaseVerificationOverdue = message(ty, payload)?;
            CaseEvent::VerificationOverdue { deadline: time(&m.deadline)?, next_deadline: time(&m.next_deadline)? }
        }
        "CaseVerified" => {
            let m: pb::CaseVerified = message(ty, payload)?;
            CaseEvent::Verified { level: lvl(m.level)?, verifier: m.verifier, passed: m.passed, note: m.note }
        }
        "CaseEvaluated" => {
            let m: pb::CaseEvaluated = message(ty, payload)?;
            let evaluated_by = m.evaluated_by.map(|a| Evaluator { role: a.role, id: a.id, area: a.jurisdiction });
            CaseEvent::Evaluated {
                satisfaction: sat(m.satisfaction)?,
                comment: m.comment,
                defaulted: m.defaulted,
                evaluated_by,
            }
        }
        "CaseReopened" => {
            let m: pb::CaseReopened = message(ty, payload)?;
            CaseEvent::Reopened {
                at: assignment(m.level, m.unit_code, &m.deadline, (m.department_code, m.department_name))?,
                reason: m.reason,
            }
        }
        "CaseClosed" => {
            let m: pb::CaseClosed = message(ty, payload)?;
            CaseEvent::Closed {
                level: lvl(m.level)?,
                satisfaction: pb::Satisfaction::try_from(m.satisfaction).ok().and_then(from_satisfaction),
                on_time: from_on_time_verdict(m.on_time()),
            }
        }
        "CaseReportLinked" => {
            let (_, report) = linked_from_proto(message(ty, payload)?)?;
            CaseEvent::ReportLinked { report }
        }
        "CasePriorityChanged" => {
            let m: pb::CasePriorityChanged = message(ty, payload)?;
            CaseEvent::PriorityChanged { priority: Priority { score: m.priority, reasons: m.reasons } }
        }
        "CaseDepartmentsSummoned" => {
            let m: pb::CaseDepartmentsSummoned = message(ty, payload)?;
            CaseEvent::DepartmentsSummoned {
                level: lvl(m.level)?,
                unit: m.unit_code,
                departments: m.departments.into_iter().map(from_summoned_department).collect(),
                reason: m.reason,
            }
        }
        "DepartmentReportedIn" => {
            let m: pb::DepartmentReportedIn = message(ty, payload)?;
            let department = m.department.ok_or_else(|| invalid(ty, "department missing"))?;
            CaseEvent::DepartmentReportedIn { department: from_summoned_department(department), by: m.by, note: m.note }
        }
        "CaseNoteAdded" => {
            let m: pb::CaseNoteAdded = message(ty, payload)?;
            CaseEvent::NoteAdded { text: m.text, author: m.author }
        }
        _ => return Err(DecodeError::UnknownType { event_type: ty.to_string() }),
    })
}

pub fn case_state(state: CaseState) -> pb::CaseState {
    match state {
        CaseState::New => pb::CaseState::Unspecified,
        CaseState::Reported => pb::CaseState::Reported,
        CaseState::Rejected => pb::CaseState::Rejected,
        CaseState::Dispatched => pb::CaseState::Dispatched,
        CaseState::Accepted => pb::CaseState::Accepted,
        CaseState::InMediation => pb::CaseState::InMediation,
        CaseState::AwaitingVerification => pb::CaseState::AwaitingVerification,
        CaseState::Resolved => pb::CaseState::Resolved,
        CaseState::Closed => pb::CaseState::Closed,
    }
}

/// The case state a wire value names; none for `UNSPECIFIED`.
pub fn from_case_state(state: pb::CaseState) -> Option<CaseState> {
    CaseState::ALL.into_iter().find(|s| *s != CaseState::New && case_state(*s) == state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use gridloop_domain::case::{CaseDetails, Channel, LinkedReport, Reporter, ReporterKind, SummonedDepartment};
    use gridloop_domain::jurisdiction::Department;
    use gridloop_domain::level::Level;
    use gridloop_domain::priority::SpecialGroup;

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
            CaseEvent::NoteAdded { text: "上门走访，业主不在家".into(), author: "gw-1".into() },
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
                    sealed: None,
                },
                channel: Channel::Hotline,
                discovered_at: at,
                uploaded_at: at,
                urgent: true,
                special_groups: vec![SpecialGroup::Disabled, SpecialGroup::ElderlyLivingAlone],
                media_url: None,
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

    #[test]
    fn every_case_state_but_new_has_its_wire_value() {
        for state in CaseState::ALL {
            let wire = case_state(state);
            assert_eq!(from_case_state(wire), (state != CaseState::New).then_some(state), "{state}");
        }
    }
}
