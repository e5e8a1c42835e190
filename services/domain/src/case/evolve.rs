//! How a case's events fold into its state.

use super::*;

/// Fold one event into the state, or refuse it as a [`Misfit`] when it cannot follow the state
/// (no decision produces it there): a stream holding such an event cannot be trusted.
pub fn evolve(mut case: Case, event: &CaseEvent) -> Result<Case, Misfit> {
    case.version += 1;
    let status = std::mem::take(&mut case.status);
    case.status = match (event, status) {
        (CaseEvent::Opened { case_id, details }, CaseStatus::New) => {
            case.id = Some(*case_id);
            case.details = Some(details.clone());
            case.signals.add(details.urgent, &details.special_groups);
            CaseStatus::Reported
        }
        (CaseEvent::Rejected { reason }, CaseStatus::Reported | CaseStatus::Dispatched { .. }) => {
            CaseStatus::Rejected { reason: reason.clone() }
        }
        (CaseEvent::Dispatched { to, priority, .. }, CaseStatus::Reported) => {
            case.priority = priority.clone();
            CaseStatus::Dispatched { at: to.clone() }
        }
        (CaseEvent::Accepted { at, assignee }, CaseStatus::Dispatched { .. }) => {
            CaseStatus::Accepted { at: at.clone(), assignee: assignee.clone() }
        }
        (CaseEvent::Escalated { to, .. }, CaseStatus::Dispatched { .. } | CaseStatus::Accepted { .. }) => {
            case.escalations += 1;
            CaseStatus::Dispatched { at: to.clone() }
        }
        (CaseEvent::DeadlineMissed { next_deadline, .. }, CaseStatus::Dispatched { mut at }) => {
            at.deadline = *next_deadline;
            CaseStatus::Dispatched { at }
        }
        (CaseEvent::DeadlineMissed { next_deadline, .. }, CaseStatus::Accepted { mut at, assignee }) => {
            at.deadline = *next_deadline;
            CaseStatus::Accepted { at, assignee }
        }
        (CaseEvent::Transferred { to, .. }, CaseStatus::Dispatched { .. } | CaseStatus::Accepted { .. }) => {
            CaseStatus::Dispatched { at: to.clone() }
        }
        (CaseEvent::MediationRequested { topic, .. }, CaseStatus::Accepted { at, assignee }) => {
            CaseStatus::InMediation { level: at.level, unit: at.unit, assignee, topic: topic.clone() }
        }
        (CaseEvent::MediationFailed { back_to, .. }, CaseStatus::InMediation { assignee, .. }) => {
            CaseStatus::Accepted { at: back_to.clone(), assignee }
        }
        // The agreement's resolution follows as its own event.
        (CaseEvent::MediationAgreed { .. }, status @ CaseStatus::InMediation { .. }) => status,
        // A dispatched case is resolved without an acceptance only in history imported from a
        // platform that recorded none.
        (
            CaseEvent::Resolved { level, unit, summary, verify_by },
            previous @ (CaseStatus::Dispatched { .. } | CaseStatus::Accepted { .. } | CaseStatus::InMediation { .. }),
        ) => {
            let assignee = match previous {
                CaseStatus::Accepted { assignee, .. } | CaseStatus::InMediation { assignee, .. } => assignee,
                _ => String::new(),
            };
            let (level, unit, summary) = (*level, unit.clone(), summary.clone());
            match verify_by {
                Some(deadline) => {
                    CaseStatus::AwaitingVerification { level, unit, assignee, summary, deadline: *deadline }
                }
                None => CaseStatus::Resolved { level, unit, assignee, summary },
            }
        }
        (
            CaseEvent::Verified { passed: true, .. },
            CaseStatus::AwaitingVerification { level, unit, assignee, summary, .. },
        ) => CaseStatus::Resolved { level, unit, assignee, summary },
        // A failed check: the reopening follows as its own event.
        (CaseEvent::Verified { passed: false, .. }, status @ CaseStatus::AwaitingVerification { .. }) => status,
        (
            CaseEvent::VerificationOverdue { next_deadline, .. },
            CaseStatus::AwaitingVerification { level, unit, assignee, summary, .. },
        ) => CaseStatus::AwaitingVerification { level, unit, assignee, summary, deadline: *next_deadline },
        // The closure or the reopening follows as its own event.
        (CaseEvent::Evaluated { .. }, status @ CaseStatus::Resolved { .. }) => status,
        (
            CaseEvent::Reopened { at, .. },
            CaseStatus::Resolved { assignee, .. } | CaseStatus::AwaitingVerification { assignee, .. },
        ) => {
            case.reopen_count += 1;
            CaseStatus::Accepted { at: at.clone(), assignee }
        }
        (CaseEvent::Closed { level, satisfaction, .. }, CaseStatus::Resolved { unit, assignee, .. }) => {
            CaseStatus::Closed { level: *level, unit, assignee, satisfaction: *satisfaction }
        }
        // A linked report is history even of a closed case.
        (CaseEvent::ReportLinked { report }, status) if status != CaseStatus::New => {
            case.signals.add(report.details.urgent, &report.details.special_groups);
            status
        }
        (CaseEvent::PriorityChanged { priority }, status) if status != CaseStatus::New && !status.is_terminal() => {
            case.priority = priority.clone();
            status
        }
        (CaseEvent::DepartmentsSummoned { departments, .. }, status @ CaseStatus::Accepted { .. }) => {
            case.summons.extend(departments.iter().map(|d| Summons { summoned: d.clone(), reported_in: false }));
            status
        }
        (CaseEvent::DepartmentReportedIn { department, .. }, status) if !status.is_terminal() => {
            let summons = case.summons.iter_mut().find(|s| !s.reported_in && s.summoned == *department);
            let Some(summons) = summons else {
                return Err(misfit(event, &status));
            };
            summons.reported_in = true;
            status
        }
        (CaseEvent::NoteAdded { .. }, status) if status != CaseStatus::New && !status.is_terminal() => status,
        (_, status) => return Err(misfit(event, &status)),
    };
    Ok(case)
}

fn misfit(event: &CaseEvent, status: &CaseStatus) -> Misfit {
    Misfit { aggregate: "case", event: event.type_name(), state: status.name() }
}

/// Rebuild a case from its history, or the first event that does not fit it.
pub fn replay<'a>(events: impl IntoIterator<Item = &'a CaseEvent>) -> Result<Case, Misfit> {
    events.into_iter().try_fold(Case::default(), evolve)
}
