//! The bookkeeping `evolve` does besides the status: the stream version, escalations and
//! reopenings counted, the running deadline moved, the assignee kept.

use crate::evolve;
use gridloop_domain::case::{self, Assignment, Case, CaseEvent, CaseState, CaseStatus, Satisfaction};
use gridloop_domain::decider::Misfit;
use gridloop_domain::level::Level;
use gridloop_domain::testing::case::*;
use gridloop_domain::Timestamp;

#[test]
fn evolve_counts_every_event_in_the_version() {
    let history = a_closed_case();
    let mut case = Case::default();
    assert_eq!(case.version, 0);
    for (i, event) in history.iter().enumerate() {
        case = evolve(case, event);
        assert_eq!(case.version, i as u64 + 1);
    }
    assert_eq!(replay(&history), case);
    // Events that only move the deadline still count.
    let deadline = accept_deadline_at(Level::District);
    let next_deadline = deadline + accept_sla(Level::District);
    let missed = CaseEvent::DeadlineMissed { level: Level::District, deadline, next_deadline };
    let case = evolve(replay(&a_case_dispatched_at(Level::District)), &missed);
    assert_eq!(case.version, 2 + 3 + 1);
    assert_eq!(case.status, CaseStatus::Dispatched { at: assignment(Level::District, next_deadline) });
}

#[test]
fn evolve_moves_the_running_deadline_of_a_missed_district_deadline_and_nothing_else() {
    let next_deadline = at(hours(500));
    let missed = CaseEvent::DeadlineMissed { level: Level::District, deadline: at(hours(10)), next_deadline };
    let accepted = evolve(replay(&a_case_accepted_at(Level::District)), &missed);
    assert_eq!(
        accepted.status,
        CaseStatus::Accepted { at: assignment(Level::District, next_deadline), assignee: "wang".into() }
    );
    assert_eq!(accepted.escalations, 3);
    // Without a running deadline no deadline can have been missed: the event does not fit.
    let mut in_mediation = a_case_accepted_at(Level::District);
    in_mediation.push(mediation_requested(Level::District));
    let refused = case::evolve(replay(&in_mediation), &missed);
    assert_eq!(refused, Err(Misfit { aggregate: "case", event: "CaseDeadlineMissed", state: "in_mediation" }));
}

#[test]
fn evolve_counts_escalations_but_not_transfers_or_entry_level() {
    assert_eq!(replay(&a_case_dispatched_at(Level::Grid)).escalations, 0);
    assert_eq!(replay(&a_case_dispatched_at(Level::Community)).escalations, 1);
    assert_eq!(replay(&a_case_dispatched_at(Level::Street)).escalations, 2);
    assert_eq!(replay(&a_case_accepted_at(Level::District)).escalations, 3);
    let mut history = a_case_dispatched_at(Level::Community);
    history.push(CaseEvent::Transferred {
        from_unit: COMMUNITY.into(),
        to: Assignment {
            level: Level::Community,
            unit: OTHER_COMMUNITY.into(),
            deadline: at(hours(9)),
            department: department(Level::Community, OTHER_COMMUNITY),
        },
        reason: "next door".into(),
    });
    assert_eq!(replay(&history).escalations, 1);
}

#[test]
fn evolve_counts_reopenings() {
    let mut history = a_resolved_case();
    for round in 1..=2u32 {
        history.push(evaluated(Satisfaction::Unsatisfied));
        history.push(CaseEvent::Reopened { at: assignment(Level::Grid, at(hours(100))), reason: "again".into() });
        assert_eq!(replay(&history).reopen_count, round);
        history.push(resolved(Level::Grid));
    }
    history.push(evaluated(Satisfaction::Satisfied));
    history.push(closed(Level::Grid));
    let case = replay(&history);
    assert_eq!(case.reopen_count, 2);
    assert!(matches!(
        case.status,
        CaseStatus::Closed { level: Level::Grid, satisfaction: Some(Satisfaction::Satisfied), .. }
    ));
}

/// A state and its expected `level()`, `unit()` and `deadline()`.
type StatusExpectation = (CaseStatus, Option<Level>, Option<&'static str>, Option<Timestamp>);

#[test]
fn case_status_reports_the_level_unit_and_deadline_of_each_state() {
    let d = at(hours(2));
    let cases: Vec<StatusExpectation> = vec![
        (CaseStatus::New, None, None, None),
        (CaseStatus::Reported, None, None, None),
        (CaseStatus::Rejected { reason: "dup".into() }, None, None, None),
        (CaseStatus::Dispatched { at: assignment(Level::Grid, d) }, Some(Level::Grid), Some(GRID), Some(d)),
        (
            CaseStatus::Accepted { at: assignment(Level::Street, d), assignee: "wang".into() },
            Some(Level::Street),
            Some(STREET),
            Some(d),
        ),
        (
            CaseStatus::InMediation {
                level: Level::Community,
                unit: COMMUNITY.into(),
                assignee: "wang".into(),
                topic: "noise".into(),
            },
            Some(Level::Community),
            Some(COMMUNITY),
            None,
        ),
        (
            CaseStatus::Resolved {
                level: Level::District,
                unit: DISTRICT.into(),
                assignee: "wang".into(),
                summary: "done".into(),
            },
            Some(Level::District),
            Some(DISTRICT),
            None,
        ),
        (
            CaseStatus::Closed {
                level: Level::Street,
                unit: STREET.into(),
                assignee: "wang".into(),
                satisfaction: Some(Satisfaction::Satisfied),
            },
            Some(Level::Street),
            Some(STREET),
            None,
        ),
    ];
    for (status, level, unit, deadline) in cases {
        assert_eq!(status.level(), level, "level of {status:?}");
        assert_eq!(status.unit(), unit, "unit of {status:?}");
        assert_eq!(status.deadline(), deadline, "deadline of {status:?}");
        assert_eq!(
            status.is_terminal(),
            matches!(status, CaseStatus::Rejected { .. } | CaseStatus::Closed { .. }),
            "{status:?}"
        );
    }
}

#[test]
fn evolve_keeps_the_assignee_through_mediation_resolution_and_reopening() {
    let mut history = a_case_in_mediation();
    history.push(CaseEvent::MediationFailed {
        mediation_id: "med-1".into(),
        summary: "no".into(),
        back_to: assignment(Level::Grid, at(hours(50))),
    });
    history.push(resolved(Level::Grid));
    history.push(evaluated(Satisfaction::Unsatisfied));
    history.push(CaseEvent::Reopened { at: assignment(Level::Grid, at(hours(80))), reason: "no".into() });
    assert_eq!(
        replay(&history).status,
        CaseStatus::Accepted { at: assignment(Level::Grid, at(hours(80))), assignee: "wang".into() }
    );
}

/// Read models, views and clients spell a state as `CaseState::name` does; each name reads back.
#[test]
fn every_case_state_has_one_name_that_reads_back() {
    for state in CaseState::ALL {
        assert_eq!(state.name().parse::<CaseState>(), Ok(state));
        assert_eq!(state.to_string(), state.name());
    }
    let names: std::collections::BTreeSet<&str> = CaseState::ALL.iter().map(|s| s.name()).collect();
    assert_eq!(names.len(), CaseState::ALL.len(), "no two states share a name");
    assert!("linked".parse::<CaseState>().is_err());
    assert_eq!(replay(&a_case_in_mediation()).status.name(), "in_mediation");
    assert_eq!(replay(&a_closed_case()).status.state(), CaseState::Closed);
    assert_eq!(Case::default().status.state(), CaseState::New);
}
