//! A case for people and for scripts: its view (`case show`, and every command that changes it)
//! and its history of events.

use crate::client::output::{
    enum_json, enum_text, opt_str, or_dash, point_json, point_text, role_spelling, time_json, time_text, Table,
};
use gridloop_domain::clock::Tz;
use gridloop_proto::v1 as pb;
use serde_json::{json, Value};

pub fn actor_json(a: Option<&pb::Actor>) -> Value {
    a.map_or(
        Value::Null,
        |a| json!({ "role": role_spelling(&a.role), "id": a.id, "jurisdiction": opt_str(&a.jurisdiction) }),
    )
}

/// `grid-worker:wang@110105001001001`.
pub fn actor_text(a: Option<&pb::Actor>) -> String {
    match a {
        None => "-".into(),
        Some(a) if a.jurisdiction.is_empty() => format!("{}:{}", role_spelling(&a.role), a.id),
        Some(a) => format!("{}:{}@{}", role_spelling(&a.role), a.id, a.jurisdiction),
    }
}

/// A case as JSON; unset optional fields are `null`.
pub fn case_json(c: &pb::CaseView) -> Value {
    json!({
        "case_id": c.case_id,
        "state": enum_json::<pb::CaseState>(c.state),
        "level": enum_json::<pb::Level>(c.level),
        "unit_code": opt_str(&c.unit_code),
        "department_code": opt_str(&c.department_code),
        "department_name": opt_str(&c.department_name),
        "category_code": c.category_code,
        "grid_code": c.grid_code,
        "description": c.description,
        "deadline": time_json(c.deadline.as_ref()),
        "opened_at": time_json(c.opened_at.as_ref()),
        "resolved_at": time_json(c.resolved_at.as_ref()),
        "feedback_due": time_json(c.feedback_due.as_ref()),
        "version": c.version,
        "assignee": opt_str(&c.assignee),
        "settled_level": enum_json::<pb::Level>(c.settled_level),
        "satisfaction": enum_json::<pb::Satisfaction>(c.satisfaction),
        "reopen_count": c.reopen_count,
        "location": point_json(c.location.as_ref()),
        "priority": c.priority,
        "priority_reasons": c.priority_reasons,
        "reporter": reporter_json(c.reporter.as_ref()),
        "summons": c.summons.iter().map(|s| {
            let d = s.department.clone().unwrap_or_default();
            json!({
                "unit_code": d.unit_code,
                "department_code": d.department_code,
                "department_name": d.department_name,
                "reported_in": s.reported_in,
            })
        }).collect::<Vec<_>>(),
    })
}

/// The reporter's contact as the server disclosed it to this caller; `null` from a server that
/// sends none.
pub fn reporter_json(r: Option<&pb::ReporterContact>) -> Value {
    r.map_or(Value::Null, |r| {
        json!({
            "disclosure": enum_json::<pb::ContactDisclosure>(r.disclosure),
            "id": opt_str(&r.id),
            "name": opt_str(&r.name),
            "phone": opt_str(&r.phone),
        })
    })
}

/// `张三 13800138000 (id r-1)`, `masked: 张* 138****8000`, `withheld`, `erased`, `anonymous (no callback)`.
pub fn reporter_text(r: Option<&pb::ReporterContact>) -> String {
    let Some(r) = r else { return "-".into() };
    let contact = || {
        let mut parts: Vec<String> = [&r.name, &r.phone].into_iter().filter(|s| !s.is_empty()).cloned().collect();
        if !r.id.is_empty() {
            parts.push(format!("(id {})", r.id));
        }
        parts.join(" ")
    };
    match r.disclosure() {
        pb::ContactDisclosure::Full => contact(),
        pb::ContactDisclosure::Masked => format!("masked: {}", contact()),
        pb::ContactDisclosure::Anonymous => "anonymous (no callback)".into(),
        other => enum_text::<pb::ContactDisclosure>(other as i32),
    }
}

/// The event type without its package: `gridloop.v1.CaseOpened` → `CaseOpened`.
pub fn short_event_type(event_type: &str) -> &str {
    event_type.rsplit('.').next().unwrap_or(event_type)
}

/// The payload in the server's JSON form of events (the form of the export too), parsed; kept as
/// a string if it is not JSON.
fn payload(entry: &pb::HistoryEntry) -> Value {
    if entry.payload_json.trim().is_empty() {
        return Value::Null;
    }
    serde_json::from_str(&entry.payload_json).unwrap_or_else(|_| Value::String(entry.payload_json.clone()))
}

pub fn history_json(entry: &pb::HistoryEntry) -> Value {
    let e = entry.envelope.clone().unwrap_or_default();
    json!({
        "stream_version": e.stream_version,
        "event_id": e.event_id,
        "event_type": e.event_type,
        "occurred_at": time_json(e.occurred_at.as_ref()),
        "recorded_at": time_json(e.recorded_at.as_ref()),
        "actor": actor_json(e.actor.as_ref()),
        "causation_id": opt_str(&e.causation_id),
        "payload": payload(entry),
    })
}

/// One history entry as table cells: version, event, occurred at, actor, payload.
pub fn history_row(entry: &pb::HistoryEntry, zone: Tz) -> Vec<String> {
    let e = entry.envelope.clone().unwrap_or_default();
    let payload = payload(entry);
    let actor = actor_cell(&e, &payload);
    let payload = match payload {
        Value::Null => String::new(),
        Value::String(s) => s,
        other => other.to_string(),
    };
    vec![
        e.stream_version.to_string(),
        short_event_type(&e.event_type).to_string(),
        time_text(e.occurred_at.as_ref(), zone),
        actor,
        payload,
    ]
}

/// Who acted. Dispatch records the reporter's evaluation itself (`system:dispatch`) and names in
/// the event who answered (`evaluated_by`): show them, or that the default applied for want of
/// an answer.
fn actor_cell(e: &pb::EventEnvelope, payload: &Value) -> String {
    let by_dispatch = e.actor.as_ref().is_some_and(|a| a.role == "system");
    match short_event_type(&e.event_type) {
        "CaseEvaluated" if by_dispatch && payload["defaulted"] == true => "feedback (default: no answer)".into(),
        "CaseEvaluated" if by_dispatch => evaluator_text(&payload["evaluated_by"]),
        _ => actor_text(e.actor.as_ref()),
    }
}

/// Who answered, as a `CaseEvaluated` payload names them: `hotline:12345-hotline`, `resident`
/// (the reporter, whose id the case's events keep sealed), or for an event recorded before the
/// evaluator was kept, only that it was an answer.
fn evaluator_text(evaluated_by: &Value) -> String {
    let field = |key: &str| evaluated_by[key].as_str().unwrap_or_default().to_string();
    let actor = pb::Actor { role: field("role"), id: field("id"), jurisdiction: field("jurisdiction") };
    match (actor.role.is_empty(), actor.id.is_empty()) {
        (true, _) => "feedback (answered)".into(),
        (false, true) => role_spelling(&actor.role),
        (false, false) => actor_text(Some(&actor)),
    }
}

/// A case for people: one `key  value` line per field, long values wrapped to `width`, times in
/// the city's `zone`.
pub fn case_text(c: &pb::CaseView, width: Option<usize>, zone: Tz) -> String {
    let mut t = Table::new(&[]).fit(width);
    let mut field = |key: &str, value: String| t.row(vec![key.to_string(), value]);
    field("case", c.case_id.clone());
    field("state", enum_text::<pb::CaseState>(c.state));
    field("level", enum_text::<pb::Level>(c.level));
    field("unit", or_dash(&c.unit_code));
    if !c.department_code.is_empty() {
        field("department", format!("{} ({})", c.department_name, c.department_code));
    }
    field("category", c.category_code.clone());
    field("grid", c.grid_code.clone());
    field("location", point_text(c.location.as_ref()));
    field("opened", time_text(c.opened_at.as_ref(), zone));
    field("deadline", time_text(c.deadline.as_ref(), zone));
    if c.resolved_at.is_some() {
        field("resolved", time_text(c.resolved_at.as_ref(), zone));
    }
    if c.feedback_due.is_some() {
        field("feedback due", time_text(c.feedback_due.as_ref(), zone));
    }
    field("assignee", or_dash(&c.assignee));
    field("settled level", enum_text::<pb::Level>(c.settled_level));
    field("satisfaction", enum_text::<pb::Satisfaction>(c.satisfaction));
    field("reopened", c.reopen_count.to_string());
    field("reporter", reporter_text(c.reporter.as_ref()));
    let reasons =
        if c.priority_reasons.is_empty() { String::new() } else { format!(" ({})", c.priority_reasons.join("; ")) };
    field("priority", format!("{}{reasons}", c.priority));
    for s in &c.summons {
        let d = s.department.clone().unwrap_or_default();
        let state = if s.reported_in { "reported in" } else { "summoned" };
        field("summoned", format!("{} ({}/{}): {state}", d.department_name, d.unit_code, d.department_code));
    }
    field("version", c.version.to_string());
    field("description", c.description.clone());
    t.render()
}

pub fn case_with_history_json(response: &pb::GetCaseResponse) -> Value {
    json!({
        "case": response.case.as_ref().map_or(Value::Null, case_json),
        "history": response.history.iter().map(history_json).collect::<Vec<_>>(),
    })
}

/// The case and its history for people, each line within `width` columns (the payloads wrapped).
pub fn case_with_history_text(response: &pb::GetCaseResponse, width: Option<usize>, zone: Tz) -> String {
    let mut out = response.case.as_ref().map(|c| case_text(c, width, zone)).unwrap_or_default();
    let mut table = Table::new(&["v", "event", "occurred at", "actor", "payload"]).right_align(&[0]).fit(width);
    for entry in &response.history {
        table.row(history_row(entry, zone));
    }
    out.push_str(&format!("\nhistory ({} events)\n", response.history.len()));
    out.push_str(&table.render_indented("  "));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridloop_domain::clock;

    fn sample_case() -> pb::CaseView {
        pb::CaseView {
            case_id: "0195a2b0-0000-7000-8000-000000000001".into(),
            state: pb::CaseState::InMediation as i32,
            level: pb::Level::Community as i32,
            unit_code: "110105001001".into(),
            category_code: "DISPUTE-NEIGHBOUR".into(),
            grid_code: "110105001001001".into(),
            description: "楼上漏水".into(),
            deadline: Some(prost_types::Timestamp { seconds: 1_740_787_200, nanos: 0 }),
            version: 5,
            assignee: String::new(),
            settled_level: 0,
            satisfaction: pb::Satisfaction::BasicallySatisfied as i32,
            reopen_count: 1,
            location: Some(pb::GeoPoint::wgs84(39.9, 116.4)),
            department_code: "workstation".into(),
            department_name: "龙川社区工作站".into(),
            priority: 30,
            priority_reasons: vec!["category priority routine (+10)".into(), "special group: disabled (+20)".into()],
            summons: vec![pb::Summons {
                department: Some(pb::SummonedDepartment {
                    unit_code: "110105".into(),
                    department_code: "justice".into(),
                    department_name: "司法局".into(),
                }),
                reported_in: true,
            }],
            reporter: Some(pb::ReporterContact {
                disclosure: pb::ContactDisclosure::Masked as i32,
                id: String::new(),
                name: "张*".into(),
                phone: "138****8000".into(),
            }),
            media_url: String::new(),
            opened_at: Some(prost_types::Timestamp { seconds: 1_740_700_800, nanos: 0 }),
            resolved_at: None,
            feedback_due: Some(prost_types::Timestamp { seconds: 1_740_790_800, nanos: 0 }),
        }
    }

    #[test]
    fn case_view_as_json() {
        assert_eq!(
            case_json(&sample_case()),
            json!({
                "case_id": "0195a2b0-0000-7000-8000-000000000001",
                "state": "in_mediation",
                "level": "community",
                "unit_code": "110105001001",
                "department_code": "workstation",
                "department_name": "龙川社区工作站",
                "category_code": "DISPUTE-NEIGHBOUR",
                "grid_code": "110105001001001",
                "description": "楼上漏水",
                "deadline": "2025-03-01T00:00:00Z",
                "opened_at": "2025-02-28T00:00:00Z",
                "resolved_at": null,
                "feedback_due": "2025-03-01T01:00:00Z",
                "version": 5,
                "assignee": null,
                "settled_level": null,
                "satisfaction": "basically_satisfied",
                "reopen_count": 1,
                "location": { "lat": 39.9, "lon": 116.4 },
                "priority": 30,
                "priority_reasons": ["category priority routine (+10)", "special group: disabled (+20)"],
                "reporter": { "disclosure": "masked", "id": null, "name": "张*", "phone": "138****8000" },
                "summons": [{
                    "unit_code": "110105",
                    "department_code": "justice",
                    "department_name": "司法局",
                    "reported_in": true,
                }],
            })
        );
    }

    #[test]
    fn case_view_as_text() {
        let text = case_text(&sample_case(), None, clock::DEFAULT_ZONE);
        assert!(text.contains("state          in_mediation\n"), "{text}");
        assert!(text.contains("assignee       -\n"), "{text}");
        assert!(text.contains("reporter       masked: 张* 138****8000\n"), "{text}");
        assert!(text.contains("department     龙川社区工作站 (workstation)\n"), "{text}");
        assert!(
            text.contains("priority       30 (category priority routine (+10); special group: disabled (+20))\n"),
            "{text}"
        );
        assert!(text.contains("summoned       司法局 (110105/justice): reported in\n"), "{text}");
        assert!(text.contains("description    楼上漏水\n"), "{text}");
        // Times for people in the city's zone; a resolution only once there is one.
        assert!(text.contains("opened         2025-02-28T08:00:00+08:00\n"), "{text}");
        assert!(text.contains("feedback due   2025-03-01T09:00:00+08:00\n"), "{text}");
        assert!(!text.contains("resolved"), "{text}");
    }

    fn sample_entry(payload_json: &str) -> pb::HistoryEntry {
        pb::HistoryEntry {
            envelope: Some(pb::EventEnvelope {
                event_id: "e1".into(),
                stream: "case-1".into(),
                stream_version: 2,
                event_type: "gridloop.v1.CaseAccepted".into(),
                occurred_at: Some(prost_types::Timestamp { seconds: 1_740_787_200, nanos: 0 }),
                recorded_at: Some(prost_types::Timestamp { seconds: 1_740_787_201, nanos: 0 }),
                causation_id: "cmd-1".into(),
                actor: Some(pb::Actor { role: "grid_worker".into(), id: "wang".into(), jurisdiction: String::new() }),
                ..Default::default()
            }),
            payload_json: payload_json.into(),
        }
    }

    #[test]
    fn history_entry_as_json_parses_the_payload() {
        assert_eq!(
            history_json(&sample_entry(r#"{"assignee":"王五"}"#)),
            json!({
                "stream_version": 2,
                "event_id": "e1",
                "event_type": "gridloop.v1.CaseAccepted",
                "occurred_at": "2025-03-01T00:00:00Z",
                "recorded_at": "2025-03-01T00:00:01Z",
                "actor": { "role": "grid-worker", "id": "wang", "jurisdiction": null },
                "causation_id": "cmd-1",
                "payload": { "assignee": "王五" },
            })
        );
        assert_eq!(history_json(&sample_entry("not json"))["payload"], json!("not json"));
        assert_eq!(history_json(&sample_entry(""))["payload"], Value::Null);
    }

    #[test]
    fn history_entry_as_row() {
        assert_eq!(
            history_row(&sample_entry(r#"{"assignee": "王五"}"#), clock::DEFAULT_ZONE),
            vec!["2", "CaseAccepted", "2025-03-01T08:00:00+08:00", "grid-worker:wang", r#"{"assignee":"王五"}"#]
        );
    }

    #[test]
    fn an_evaluation_recorded_by_dispatch_names_who_answered() {
        let evaluated = |payload: &str, role: &str| {
            let mut entry = sample_entry(payload);
            let envelope = entry.envelope.as_mut().unwrap();
            envelope.event_type = "gridloop.v1.CaseEvaluated".into();
            envelope.actor = Some(pb::Actor { role: role.into(), id: "dispatch".into(), jurisdiction: String::new() });
            history_row(&entry, clock::DEFAULT_ZONE)[3].clone()
        };
        let hotline = r#"{"defaulted":false,"evaluated_by":{"id":"12345-hotline","jurisdiction":"","role":"hotline"}}"#;
        assert_eq!(evaluated(hotline, "system"), "hotline:12345-hotline");
        let officer =
            r#"{"defaulted":false,"evaluated_by":{"id":"li","jurisdiction":"321012","role":"district_office"}}"#;
        assert_eq!(evaluated(officer, "system"), "district-office:li@321012", "one spelling of a role");
        let resident = r#"{"defaulted":false,"evaluated_by":{"id":"","jurisdiction":"","role":"resident"}}"#;
        assert_eq!(evaluated(resident, "system"), "resident", "the reporter, not named");
        assert_eq!(evaluated(r#"{"defaulted":false}"#, "system"), "feedback (answered)", "recorded before it was kept");
        assert_eq!(evaluated(r#"{"defaulted":true}"#, "system"), "feedback (default: no answer)");
        // An event whose envelope names the evaluator shows it.
        assert_eq!(evaluated(r#"{"defaulted":false}"#, "resident"), "resident:dispatch");
    }

    #[test]
    fn case_show_json_shape() {
        let response = pb::GetCaseResponse {
            case: Some(pb::CaseView {
                case_id: "c1".into(),
                state: pb::CaseState::Accepted as i32,
                level: pb::Level::Grid as i32,
                ..Default::default()
            }),
            history: vec![pb::HistoryEntry {
                envelope: Some(pb::EventEnvelope {
                    stream_version: 1,
                    event_type: "gridloop.v1.CaseOpened".into(),
                    ..Default::default()
                }),
                payload_json: r#"{"a":1}"#.into(),
            }],
        };
        let value = case_with_history_json(&response);
        assert_eq!(value["case"]["state"], "accepted");
        assert_eq!(value["case"]["level"], "grid");
        assert_eq!(value["history"][0]["event_type"], "gridloop.v1.CaseOpened");
        assert_eq!(value["history"][0]["payload"], json!({ "a": 1 }));
        let text = case_with_history_text(&response, None, clock::DEFAULT_ZONE);
        assert!(text.contains("history (1 events)"), "{text}");
        assert!(text.contains("CaseOpened"), "{text}");
    }
}
