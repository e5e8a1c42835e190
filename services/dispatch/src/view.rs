//! The case as clients see it (`CaseView`), folded state only.

use gridloop_domain::case::{Case, CaseEvent, CaseStatus, RoutingPolicy};
use gridloop_domain::feedback;
use gridloop_eventstore::RecordedEvent;
use gridloop_proto::convert;
use gridloop_proto::v1 as pb;

/// The view of `case` as it stands.
pub fn case_view(case: &Case) -> pb::CaseView {
    let details = case.details.as_ref();
    let state = convert::case_state(case.status.state());
    let (settled_level, satisfaction) = match &case.status {
        CaseStatus::Closed { level, satisfaction, .. } => {
            (convert::level(*level), satisfaction.map_or(pb::Satisfaction::Unspecified, convert::satisfaction))
        }
        _ => (pb::Level::Unspecified, pb::Satisfaction::Unspecified),
    };
    let department = match &case.status {
        CaseStatus::Dispatched { at } | CaseStatus::Accepted { at, .. } => at.department.clone(),
        _ => None,
    };
    let assignee = match &case.status {
        CaseStatus::Accepted { assignee, .. }
        | CaseStatus::InMediation { assignee, .. }
        | CaseStatus::AwaitingVerification { assignee, .. }
        | CaseStatus::Resolved { assignee, .. }
        | CaseStatus::Closed { assignee, .. } => assignee.clone(),
        _ => String::new(),
    };
    pb::CaseView {
        case_id: case.id.map(|id| id.to_string()).unwrap_or_default(),
        state: state as i32,
        level: case.status.level().map_or(pb::Level::Unspecified, convert::level) as i32,
        unit_code: case.status.unit().unwrap_or_default().to_string(),
        category_code: details.map(|d| d.category_code.clone()).unwrap_or_default(),
        grid_code: details.map(|d| d.grid_code.clone()).unwrap_or_default(),
        description: details.map(|d| d.description.clone()).unwrap_or_default(),
        deadline: case.status.deadline().map(convert::timestamp),
        version: case.version,
        assignee,
        settled_level: settled_level as i32,
        satisfaction: satisfaction as i32,
        reopen_count: case.reopen_count,
        location: details.map(|d| pb::GeoPoint::wgs84(d.lat, d.lon)),
        department_code: convert::department_code(&department),
        department_name: convert::department_name(&department),
        priority: case.priority.score,
        priority_reasons: case.priority.reasons.clone(),
        summons: case
            .summons
            .iter()
            .map(|s| pb::Summons {
                department: Some(convert::summoned_department(&s.summoned)),
                reported_in: s.reported_in,
            })
            .collect(),
        // Disclosed per caller by `GetCase`, which alone knows who asks.
        reporter: None,
        media_url: details.and_then(|d| d.media_url.clone()).unwrap_or_default(),
        // Times are the events', which the folded state does not keep: see `with_times`.
        opened_at: None,
        resolved_at: None,
        feedback_due: None,
    }
}

/// `view` with the times its case's `history` holds: when it opened, when it was last resolved
/// and, while it waits for the reporter, when the evaluation is due: the round the latest
/// resolution (or passed on-site check) opened, due as the evaluation service arms its timer.
pub fn with_times(
    mut view: pb::CaseView,
    case: &Case,
    history: &[(RecordedEvent, CaseEvent)],
    policy: &dyn RoutingPolicy,
) -> pb::CaseView {
    view.opened_at = history.first().map(|(record, _)| convert::timestamp(record.occurred_at));
    view.resolved_at = history
        .iter()
        .rev()
        .find(|(_, event)| matches!(event, CaseEvent::Resolved { .. }))
        .map(|(record, _)| convert::timestamp(record.occurred_at));
    if let (CaseStatus::Resolved { .. }, Some(details)) = (&case.status, &case.details) {
        let round = history.iter().rev().find_map(|(record, event)| {
            feedback::round_opened_by(event, record.occurred_at, &details.category_code, policy)
        });
        view.feedback_due = round.map(|round| convert::timestamp(round.due_at));
    }
    view
}
