//! The case in words for a city's platform: the SLA as a service notice, the stage as status
//! notes, the unit holding it as the agency responsible.

use crate::reference::Reference;
use gridloop_proto::convert::short_type;
use gridloop_proto::v1 as pb;

/// The four levels in ladder order; `resolve_sla` and `departments` are indexed the same way.
fn level_index(level: pb::Level) -> Option<usize> {
    match level {
        pb::Level::Grid => Some(0),
        pb::Level::Community => Some(1),
        pb::Level::Street => Some(2),
        pb::Level::District => Some(3),
        pb::Level::Unspecified => None,
    }
}

pub fn level_name(level: pb::Level) -> &'static str {
    match level {
        pb::Level::Grid => "grid",
        pb::Level::Community => "community",
        pb::Level::Street => "street",
        pb::Level::District => "district",
        pb::Level::Unspecified => "unknown",
    }
}

/// The category's deadlines at `level`: "accepted within 2 working hours, resolved within 2
/// working days at grid level; the reporter is asked within 3 working days".
pub fn service_notice(category: &pb::Category, level: pb::Level) -> String {
    let resolve = level_index(level).and_then(|i| category.resolve_sla.get(i));
    let mut notice = format!("accepted within {}", category.accept_sla);
    if let Some(resolve) = resolve {
        notice.push_str(&format!(", resolved within {resolve} at {} level", level_name(level)));
    }
    if !category.verify_sla.is_empty() {
        notice.push_str(&format!(", a resolution above the grid verified on site within {}", category.verify_sla));
    }
    notice.push_str(&format!("; the reporter is asked for an evaluation within {}", category.feedback_sla));
    notice
}

/// The unit holding the case, and its department when the responsibility list names one.
pub fn agency(view: &pb::CaseView, reference: &Reference) -> String {
    let unit = reference.unit_name(&view.unit_code);
    if view.department_name.is_empty() {
        unit.to_string()
    } else {
        format!("{unit} {}", view.department_name)
    }
}

/// Whether the case counts as open or closed for GeoReport.
pub fn status(state: pb::CaseState) -> &'static str {
    match state {
        pb::CaseState::Closed | pb::CaseState::Rejected => "closed",
        _ => "open",
    }
}

/// The stage in words. `history` gives how the case reached its unit (escalated, transferred,
/// reopened).
pub fn status_notes(view: &pb::CaseView, history: &[pb::HistoryEntry], reference: &Reference) -> String {
    let agency = agency(view, reference);
    match view.state() {
        pb::CaseState::Unspecified | pb::CaseState::Reported => "received; being routed to the responsible unit".into(),
        pb::CaseState::Dispatched => format!("{} {agency}, awaiting acceptance", how_it_arrived(history)),
        pb::CaseState::Accepted => format!("accepted by {agency}, being handled"),
        pb::CaseState::InMediation => format!("in mediation at {agency}"),
        pb::CaseState::Resolved => format!("resolved by {agency}; awaiting the reporter's evaluation"),
        pb::CaseState::AwaitingVerification => {
            format!("resolved by {agency}; awaiting on-site verification by the grid worker")
        }
        pb::CaseState::Rejected => format!("rejected by {agency}"),
        pb::CaseState::Closed => {
            let mut notes = format!("closed: settled at {} level", level_name(view.settled_level()));
            let satisfaction = match view.satisfaction() {
                pb::Satisfaction::Satisfied => Some("satisfied"),
                pb::Satisfaction::BasicallySatisfied => Some("basically satisfied"),
                pb::Satisfaction::Unsatisfied => Some("unsatisfied"),
                pb::Satisfaction::Unspecified => None,
            };
            if let Some(satisfaction) = satisfaction {
                notes.push_str(&format!(", the reporter {satisfaction}"));
            }
            notes
        }
    }
}

/// "dispatched to", "escalated to", "transferred to" or "reopened with": the latest event that
/// put the case where it is.
fn how_it_arrived(history: &[pb::HistoryEntry]) -> &'static str {
    let latest =
        history.iter().rev().filter_map(|entry| entry.envelope.as_ref()).find_map(|envelope| {
            match short_type(&envelope.event_type) {
                "CaseEscalated" => Some("escalated to"),
                "CaseTransferred" => Some("transferred to"),
                "CaseReopened" => Some("reopened with"),
                "CaseDispatched" => Some("dispatched to"),
                _ => None,
            }
        });
    latest.unwrap_or("dispatched to")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn debris() -> pb::Category {
        pb::Category {
            code: "env.debris".into(),
            accept_sla: "2 working hours".into(),
            resolve_sla: vec!["2 working days".into(), "3 working days".into()],
            feedback_sla: "3 working days".into(),
            ..pb::Category::default()
        }
    }

    #[test]
    fn the_notice_gives_the_deadlines_of_the_level_in_words() {
        assert_eq!(
            service_notice(&debris(), pb::Level::Community),
            "accepted within 2 working hours, resolved within 3 working days at community level; \
             the reporter is asked for an evaluation within 3 working days"
        );
    }

    #[test]
    fn an_escalated_case_says_so() {
        let entry = |short: &str| pb::HistoryEntry {
            envelope: Some(pb::EventEnvelope { event_type: format!("gridloop.v1.{short}"), ..Default::default() }),
            payload_json: String::new(),
        };
        let history =
            [entry("CaseOpened"), entry("CaseDispatched"), entry("CaseDeadlineMissed"), entry("CaseEscalated")];
        assert_eq!(how_it_arrived(&history), "escalated to");
        assert_eq!(how_it_arrived(&history[..2]), "dispatched to");
        assert_eq!(status(pb::CaseState::Rejected), "closed");
        assert_eq!(status(pb::CaseState::AwaitingVerification), "open");
    }
}
