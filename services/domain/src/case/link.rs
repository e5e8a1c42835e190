//! Link a report: intake found another report of the same matter and linked it to this case
//! instead of opening a second one. The report is recorded whatever the state (intake decided
//! the link while the case was open as far as it knew, and told the reporter so); while the case
//! is still being handled, it is one more signal for the priority.

use super::decide::Decision;
use super::{CaseError, CaseEvent, CaseStatus, LinkedReport};
use crate::priority;

pub(super) fn decide(at: &Decision, report: &LinkedReport) -> Result<Vec<CaseEvent>, CaseError> {
    let case = at.case;
    let mut events = vec![CaseEvent::ReportLinked { report: report.clone() }];
    // Re-assess while the case is still being handled: another report may make it a shared
    // concern, or flag a special group or urgency.
    let handled = matches!(case.status, CaseStatus::AwaitingVerification { .. } | CaseStatus::Resolved { .. });
    if !case.status.is_terminal() && !handled {
        let mut signals = case.signals.clone();
        signals.add(report.details.urgent, &report.details.special_groups);
        let priority = priority::assess(at.policy.category_priority(at.category), &signals);
        if priority != case.priority {
            events.push(CaseEvent::PriorityChanged { priority });
        }
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use crate::case::{CaseCommand, CaseError, CaseEvent, CaseStatus};
    use crate::level::Level;
    use crate::priority::SpecialGroup;
    use crate::testing::case::*;

    /// The command records the linked report (and the re-assessed priority while the case is being
    /// handled) and changes neither the status nor the escalation counters.
    #[track_caller]
    fn assert_link_is_recorded(history: &[CaseEvent]) {
        let before = replay(history);
        let handled = !before.status.is_terminal()
            && !matches!(before.status, CaseStatus::Resolved { .. } | CaseStatus::AwaitingVerification { .. });
        let expected = if handled { vec![report_linked(), shared_concern()] } else { vec![report_linked()] };
        let after = given(history).when(link_report()).then_expect(&expected);
        assert_eq!(after.status, before.status, "a linked report changes no state");
        assert_eq!(after.version, before.version + expected.len() as u64);
        assert_eq!(after.signals.reports, 2);
        assert_eq!((after.escalations, after.reopen_count), (before.escalations, before.reopen_count));
        assert_eq!(after.details, before.details, "the case keeps its own report");
    }

    #[test]
    fn given_a_dispatched_case_when_a_report_is_linked_then_it_is_recorded_and_the_deadline_stands() {
        assert_link_is_recorded(&a_dispatched_case());
        let after = given(&a_dispatched_case()).when(link_report()).then_expect(&[report_linked(), shared_concern()]);
        assert_eq!(after.status.deadline(), replay(&a_dispatched_case()).status.deadline());
        assert_eq!(after.priority.score, 20);
    }

    #[test]
    fn given_a_shared_concern_when_another_report_adds_nothing_new_then_the_priority_moves_with_the_count_only() {
        // Given a case with three reports already (capped points reached at four),
        let mut history = a_dispatched_case();
        for _ in 0..3 {
            history.push(report_linked());
        }
        history.push(CaseEvent::PriorityChanged {
            priority: priority(40, &["category priority routine (+10)", "shared concern: 4 reports (+30)"]),
        });
        // when a fifth report arrives, the count in the reason moves (the score is capped),
        given(&history).when(link_report()).then_expect(&[
            report_linked(),
            CaseEvent::PriorityChanged {
                priority: priority(40, &["category priority routine (+10)", "shared concern: 5 reports (+30)"]),
            },
        ]);
    }

    #[test]
    fn given_a_dispatched_case_when_an_urgent_report_for_a_special_group_is_linked_then_it_goes_first() {
        let mut report = linked_report();
        report.details.urgent = true;
        report.details.special_groups = vec![SpecialGroup::Hardship];
        let after =
            given(&a_dispatched_case()).when(CaseCommand::LinkReport { report: report.clone() }).then_expect(&[
                CaseEvent::ReportLinked { report },
                CaseEvent::PriorityChanged {
                    priority: priority(
                        140,
                        &[
                            "category priority routine (+10)",
                            "urgent or major (+100)",
                            "special group: hardship (+20)",
                            "shared concern: 2 reports (+10)",
                        ],
                    ),
                },
            ]);
        assert_eq!(after.status.level(), Some(Level::Grid), "a linked urgent report reorders, it does not re-route");
    }

    #[test]
    fn given_an_accepted_case_when_a_report_is_linked_then_it_is_recorded() {
        assert_link_is_recorded(&an_accepted_case());
    }

    #[test]
    fn given_a_case_in_mediation_when_a_report_is_linked_then_it_is_recorded() {
        assert_link_is_recorded(&a_case_in_mediation());
    }

    #[test]
    fn given_a_resolved_case_when_a_report_is_linked_then_it_is_recorded() {
        assert_link_is_recorded(&a_resolved_case());
    }

    /// Intake decided the link while the case was open as far as it knew; the reporter was told
    /// so. A case that closed (or was rejected) meanwhile still records the report: it is a fact.
    #[test]
    fn given_a_closed_or_rejected_case_when_a_report_is_linked_then_it_is_still_recorded() {
        assert_link_is_recorded(&a_closed_case());
        assert_link_is_recorded(&a_rejected_case());
        assert!(given(&a_closed_case()).when(link_report()).then_expect(&[report_linked()]).status.is_terminal());
        assert_eq!(given(&a_closed_case()).when(link_report()).then_expect(&[report_linked()]).priority, routine());
    }

    #[test]
    fn given_no_case_when_a_report_is_linked_then_the_case_is_not_found() {
        given_no_case().when(link_report()).then_refuse(|e| *e == CaseError::NotFound);
    }

    #[test]
    fn given_a_linked_report_the_case_goes_on_around_the_loop_as_before() {
        let mut history = a_dispatched_case();
        history.push(report_linked());
        history.push(shared_concern());
        history.push(report_linked());
        let case = given(&history).at(at(hours(1))).when(accept("wang")).then_expect(&[CaseEvent::Accepted {
            at: assignment(Level::Grid, at(hours(1)) + resolve_sla(Level::Grid)),
            assignee: "wang".into(),
        }]);
        assert_eq!(case.version, history.len() as u64 + 1);
    }
}
