//! `gridloop agenda record` and `gridloop agenda report`: the record of one matter (一事一档) as
//! text, JSON or a Markdown document to file, and an area's monthly implementation report
//! (实施情况每月报告).

use super::output::{enum_text, or_dash, role_text, time_json, time_text, Table};
use gridloop_domain::clock::Tz;
use gridloop_proto::v1 as pb;
use serde_json::{json, Value};

/// What a record's sections are called in its Markdown export, in the order a matter goes.
const SECTIONS: &[(&str, &str)] = &[
    ("proposal", "提议 proposal"),
    ("ranking", "排序 ranking"),
    ("preparation", "告知 preparation"),
    ("sitting", "协商 sitting"),
    ("statement", "陈述 statements"),
    ("resident_statement", "居民意见 residents' statements"),
    ("ballot", "票选 ballot"),
    ("decision", "决策 decision"),
    ("publication", "公示 publication"),
    ("objection", "异议 objections"),
    ("council_response", "复议 / 暂缓执行 the council's response"),
    ("outcome", "结果 outcome"),
    ("follow_up", "监督 follow-ups"),
];

fn entry_json(e: &pb::MatterRecordEntry) -> Value {
    json!({ "occurred_at": time_json(e.occurred_at.as_ref()), "section": e.section, "event_type": e.event_type,
            "actor": e.actor_id, "detail": e.detail })
}

pub fn record_json(r: &pb::MatterRecord) -> Value {
    json!({
        "mediation_id": r.mediation_id,
        "area_code": r.area_code,
        "topic": r.topic,
        "council": enum_text::<pb::SessionLevel>(r.session_level),
        "kind": enum_text::<pb::MatterKind>(r.kind),
        "convenor": r.convenor,
        "collected_from": r.collected_from,
        "case_id": r.case_id,
        "agenda_topic": r.agenda_topic,
        "participants": r.participants.iter().map(|p| json!({"name": p.name, "role": role_text(p.role)}))
            .collect::<Vec<_>>(),
        "status": r.status,
        "motion": r.motion,
        "residents_concerned": r.residents_concerned,
        "objections": r.objections,
        "objections_needed": r.objections_needed,
        "follow_ups": r.follow_ups,
        "follow_up_due": time_json(r.follow_up_due.as_ref()),
        "entries": r.entries.iter().map(entry_json).collect::<Vec<_>>(),
    })
}

fn heading_rows(r: &pb::MatterRecord, zone: Tz) -> Vec<(&'static str, String)> {
    let agenda_topic = if r.agenda_topic == 0 { "-".to_string() } else { r.agenda_topic.to_string() };
    let participants: Vec<String> =
        r.participants.iter().map(|p| format!("{} ({})", p.name, role_text(p.role))).collect();
    vec![
        ("matter", r.mediation_id.clone()),
        ("topic", r.topic.clone()),
        ("area", r.area_code.clone()),
        ("council", enum_text::<pb::SessionLevel>(r.session_level)),
        ("kind", enum_text::<pb::MatterKind>(r.kind)),
        ("convenor", or_dash(&r.convenor)),
        ("collected from", or_dash(&r.collected_from)),
        ("agenda topic", agenda_topic),
        ("case", or_dash(&r.case_id)),
        ("participants", or_dash(&participants.join(", "))),
        ("status", r.status.clone()),
        ("motion", or_dash(&r.motion)),
        (
            "objections",
            format!(
                "{} of {} needed ({} residents concerned)",
                r.objections, r.objections_needed, r.residents_concerned
            ),
        ),
        ("follow-ups", format!("{} made, next due {}", r.follow_ups, time_text(r.follow_up_due.as_ref(), zone))),
    ]
}

pub fn record_text(r: &pb::MatterRecord, zone: Tz) -> String {
    let mut heading = Table::new(&[]);
    for (key, value) in heading_rows(r, zone) {
        heading.row(vec![key.to_string(), value]);
    }
    let mut entries = Table::new(&["at", "section", "by", "detail"]);
    for e in &r.entries {
        entries.row(vec![
            time_text(e.occurred_at.as_ref(), zone),
            e.section.clone(),
            or_dash(&e.actor_id),
            e.detail.clone(),
        ]);
    }
    format!("{}\nrecord\n{}", heading.render(), entries.render())
}

/// A cell of a Markdown table: pipes escaped, line breaks flattened.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The record as a Markdown document (一事一档): the heading, then each section in the order a
/// matter goes, its entries in the order they happened.
pub fn record_markdown(r: &pb::MatterRecord, zone: Tz) -> String {
    let mut out = format!("# 一事一档: {}\n\n| | |\n|---|---|\n", cell(&r.topic));
    for (key, value) in heading_rows(r, zone) {
        out += &format!("| {key} | {} |\n", cell(&value));
    }
    for (section, title) in SECTIONS {
        let entries: Vec<&pb::MatterRecordEntry> = r.entries.iter().filter(|e| e.section == *section).collect();
        if entries.is_empty() {
            continue;
        }
        out += &format!("\n## {title}\n\n| at | by | detail |\n|---|---|---|\n");
        for e in entries {
            out += &format!(
                "| {} | {} | {} |\n",
                time_text(e.occurred_at.as_ref(), zone),
                cell(&or_dash(&e.actor_id)),
                cell(&e.detail)
            );
        }
    }
    out
}

pub fn report_json(r: &pb::ImplementationReport) -> Value {
    json!({
        "area_code": r.area_code,
        "month": r.month,
        "decided": r.decided,
        "implementing": r.implementing,
        "settled": r.settled,
        "follow_ups_recorded": r.follow_ups_recorded,
        "follow_ups_due": r.follow_ups_due,
        "follow_ups_missed": r.follow_ups_missed,
        "overdue": r.overdue,
        "matters": r.matters.iter().map(|m| json!({
            "mediation_id": m.mediation_id, "area_code": m.area_code, "topic": m.topic,
            "decided_at": time_json(m.decided_at.as_ref()), "decided_this_month": m.decided_this_month,
            "status": m.status, "follow_ups_recorded": m.follow_ups_recorded, "follow_ups_due": m.follow_ups_due,
            "follow_ups_missed": m.follow_ups_missed, "overdue": m.overdue,
            "next_follow_up_due": time_json(m.next_follow_up_due.as_ref()),
        })).collect::<Vec<_>>(),
    })
}

pub fn report_text(r: &pb::ImplementationReport, zone: Tz) -> String {
    let out = format!(
        "{} {}: {} decided, {} implementing, {} settled; follow-ups {} due, {} recorded, {} missed; {} overdue\n",
        r.area_code,
        r.month,
        r.decided,
        r.implementing,
        r.settled,
        r.follow_ups_due,
        r.follow_ups_recorded,
        r.follow_ups_missed,
        r.overdue
    );
    let mut table = Table::new(&["matter", "topic", "decided", "status", "due", "done", "missed", "next due"]);
    for m in &r.matters {
        let decided = time_text(m.decided_at.as_ref(), zone) + if m.decided_this_month { " (this month)" } else { "" };
        let next = time_text(m.next_follow_up_due.as_ref(), zone) + if m.overdue { " OVERDUE" } else { "" };
        table.row(vec![
            m.mediation_id.clone(),
            m.topic.clone(),
            decided,
            m.status.clone(),
            m.follow_ups_due.to_string(),
            m.follow_ups_recorded.to_string(),
            m.follow_ups_missed.to_string(),
            next,
        ]);
    }
    out + &table.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(section: &str, detail: &str) -> pb::MatterRecordEntry {
        pb::MatterRecordEntry { section: section.into(), detail: detail.into(), ..Default::default() }
    }

    #[test]
    fn the_markdown_record_puts_each_step_under_its_section_in_the_order_a_matter_goes() {
        let record = pb::MatterRecord {
            topic: "老年食堂".into(),
            status: "in_notice".into(),
            entries: vec![
                entry("objection", "objection by 居*"),
                entry("proposal", "topic 3 \"老年食堂\" proposed"),
                entry("resident_statement", "resident 居*: a | b"),
            ],
            ..Default::default()
        };
        let markdown = record_markdown(&record, Tz::Asia__Shanghai);
        assert!(markdown.starts_with("# 一事一档: 老年食堂\n"), "{markdown}");
        let at = |text: &str| markdown.find(text).unwrap_or_else(|| panic!("{text} missing from {markdown}"));
        assert!(at("## 提议 proposal") < at("## 居民意见") && at("## 居民意见") < at("## 异议 objections"));
        assert!(markdown.contains("a \\| b"), "a pipe in a detail does not break the table: {markdown}");
        assert!(!markdown.contains("## 监督"), "sections without entries are left out");
    }
}
