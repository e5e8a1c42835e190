//! The escalation ladder: deadlines alone climb a case grid → community → street → district,
//! and whatever the commands, the level never moves down, never skips a step, and a case settles
//! at exactly one level.

use crate::evolve;
use chrono::Duration;
use gridloop_domain::case::{
    decide, Assignment, Case, CaseCommand, CaseDetails, CaseEvent, CaseStatus, EscalationReason, RoutingPolicy,
    Satisfaction,
};
use gridloop_domain::level::Level;
use gridloop_domain::testing::case::*;
use gridloop_domain::Timestamp;
use proptest::prelude::*;

#[test]
fn given_a_dispatched_case_when_no_level_accepts_in_time_then_it_climbs_grid_community_street_district() {
    let mut history = a_dispatched_case();
    let mut deadline = at(hours(2));
    for (from, to) in
        [(Level::Grid, Level::Community), (Level::Community, Level::Street), (Level::Street, Level::District)]
    {
        let events = given(&history).at(deadline).when(expire(deadline)).then_expect(&[CaseEvent::Escalated {
            from,
            to: Assignment {
                level: to,
                unit: unit(to).into(),
                deadline: deadline + accept_sla(to),
                department: department(to, unit(to)),
            },
            reason: EscalationReason::DeadlineMissed,
            note: "deadline missed".into(),
        }]);
        assert_eq!(events.status.level(), Some(to));
        history.push(CaseEvent::Escalated {
            from,
            to: assignment(to, deadline + accept_sla(to)),
            reason: EscalationReason::DeadlineMissed,
            note: "deadline missed".into(),
        });
        deadline += accept_sla(to);
    }
    assert_eq!(deadline, at(hours(2 + 4 + 8 + 24)));
    let next_deadline = deadline + accept_sla(Level::District);
    let case = given(&history).at(deadline).when(expire(deadline)).then_expect(&[CaseEvent::DeadlineMissed {
        level: Level::District,
        deadline,
        next_deadline,
    }]);
    assert_eq!(case.status, CaseStatus::Dispatched { at: assignment(Level::District, next_deadline) });
    assert_eq!(case.escalations, 3);
    assert_eq!(case.version, 2 + 3 + 1);
}

#[derive(Debug, Clone)]
enum Advance {
    /// Let some minutes pass.
    Minutes(i64),
    /// Jump to the running deadline plus an offset (never back in time).
    ToDeadline(i64),
}

#[derive(Debug, Clone)]
enum Expiry {
    /// The running deadline (or `now` when none is running).
    Current,
    /// A deadline off the running one by some minutes: a stale or unknown timer.
    Off(i64),
}

#[derive(Debug, Clone)]
enum TransferTo {
    SameUnit,
    OtherUnitSameLevel,
    /// A unit at the same level under another parent (a community of another street, ...).
    OtherUnitOtherParent,
    UnitOneLevelUp,
    Nowhere,
}

#[derive(Debug, Clone)]
enum Op {
    Open(bool),
    Reject(bool),
    Accept(bool),
    Escalate(bool),
    Expire(Expiry),
    Transfer(TransferTo, bool),
    RequestMediation(bool),
    ConcludeMediation(bool, bool),
    Resolve(bool),
    /// Passed, with a note.
    Verify(bool, bool),
    /// Satisfaction, defaulted, with a comment.
    Evaluate(Satisfaction, bool, bool),
}

fn text(present: bool, s: &str) -> String {
    if present {
        s.to_string()
    } else {
        [" ", ""][s.len() % 2].to_string()
    }
}

/// Another unit code at `level` (same length, last digit changed).
fn other_unit(unit: &str) -> String {
    let mut s = unit.to_string();
    let last = s.pop().unwrap_or('0');
    s.push(if last == '9' { '1' } else { char::from(last as u8 + 1) });
    s
}

/// Another unit code at the same level as `unit` under another parent (the last digit of the
/// parent's code changed); at the district, just another district.
fn other_unit_elsewhere(unit: &str) -> String {
    let Some(parent) = code_level(unit).and_then(Level::up) else {
        return other_unit(unit);
    };
    let cut = parent.code_len();
    format!("{}{}", other_unit(&unit[..cut]), &unit[cut..])
}

fn command_for(op: &Op, case: &Case, now: Timestamp) -> CaseCommand {
    let details = case.details.clone().unwrap_or_else(|| details(DISPUTE, false));
    match op {
        Op::Open(urgent) => {
            CaseCommand::Open { case_id: case_id(), details: CaseDetails { urgent: *urgent, ..details } }
        }
        Op::Reject(ok) => reject(&text(*ok, "duplicate")),
        Op::Accept(ok) => accept(&text(*ok, "wang")),
        Op::Escalate(ok) => escalate(&text(*ok, "cannot settle here")),
        Op::Expire(Expiry::Current) => expire(case.status.deadline().unwrap_or(now)),
        Op::Expire(Expiry::Off(minutes)) => expire(case.status.deadline().unwrap_or(now) + Duration::minutes(*minutes)),
        Op::Transfer(to, ok) => {
            let current = case.status.unit().unwrap_or(GRID).to_string();
            let to_unit = match to {
                TransferTo::SameUnit => current,
                TransferTo::OtherUnitSameLevel => other_unit(&current),
                TransferTo::OtherUnitOtherParent => other_unit_elsewhere(&current),
                TransferTo::UnitOneLevelUp => {
                    let level = case.status.level().unwrap_or(Level::Grid);
                    match level.up() {
                        Some(up) => GRID[..up.code_len()].to_string(),
                        None => GRID[..Level::Street.code_len()].to_string(),
                    }
                }
                TransferTo::Nowhere => String::new(),
            };
            transfer(&to_unit, &text(*ok, "wrong unit"))
        }
        Op::RequestMediation(ok) => request_mediation(&text(*ok, "noise")),
        Op::ConcludeMediation(agreed, ok) => conclude_mediation(*agreed, &text(*ok, "outcome")),
        Op::Resolve(ok) => resolve(&text(*ok, "done")),
        Op::Verify(passed, ok) => verify(*passed, &text(*ok, "checked on site")),
        Op::Evaluate(satisfaction, defaulted, comment) => {
            evaluate(*satisfaction, &text(*comment, "comment"), *defaulted)
        }
    }
}

fn satisfaction() -> impl Strategy<Value = Satisfaction> {
    prop_oneof![Just(Satisfaction::Satisfied), Just(Satisfaction::BasicallySatisfied), Just(Satisfaction::Unsatisfied)]
}

fn op() -> impl Strategy<Value = Op> {
    // Mostly well-formed arguments (so cases get somewhere), some empty ones.
    let ok = || prop::bool::weighted(0.9);
    prop_oneof![
        1 => any::<bool>().prop_map(Op::Open),
        1 => ok().prop_map(Op::Reject),
        6 => ok().prop_map(Op::Accept),
        4 => ok().prop_map(Op::Escalate),
        5 => Just(Op::Expire(Expiry::Current)),
        2 => (-120i64..120).prop_filter("off", |m| *m != 0).prop_map(|m| Op::Expire(Expiry::Off(m))),
        3 => (
            prop_oneof![
                1 => Just(TransferTo::SameUnit),
                3 => Just(TransferTo::OtherUnitSameLevel),
                2 => Just(TransferTo::OtherUnitOtherParent),
                1 => Just(TransferTo::UnitOneLevelUp),
                1 => Just(TransferTo::Nowhere)
            ],
            ok()
        )
            .prop_map(|(to, ok)| Op::Transfer(to, ok)),
        3 => ok().prop_map(Op::RequestMediation),
        3 => (any::<bool>(), ok()).prop_map(|(agreed, ok)| Op::ConcludeMediation(agreed, ok)),
        5 => ok().prop_map(Op::Resolve),
        3 => (prop::bool::weighted(0.7), ok()).prop_map(|(passed, ok)| Op::Verify(passed, ok)),
        5 => (satisfaction(), any::<bool>(), ok()).prop_map(|(s, d, c)| Op::Evaluate(s, d, c)),
    ]
}

fn advance() -> impl Strategy<Value = Advance> {
    prop_oneof![
        3 => (0i64..=3 * 24 * 60).prop_map(Advance::Minutes),
        2 => (-30i64..=30).prop_map(Advance::ToDeadline),
    ]
}

fn opening() -> impl Strategy<Value = (&'static str, bool)> {
    (prop_oneof![Just(DISPUTE), Just(PROPERTY_FEE), Just(GAS_LEAK)], prop::bool::weighted(0.2))
}

/// What one run recorded.
struct Run {
    history: Vec<CaseEvent>,
    case: Case,
}

/// Open a case, then apply each step: advance the clock, decide, check the step's invariants,
/// evolve. Returns the history and the folded state.
fn run(category: &str, urgent: bool, steps: &[(Advance, Op)]) -> Result<Run, TestCaseError> {
    let mut now = t0();
    let mut history = decide(&Case::default(), &open(category, urgent), &TestPolicy, now)
        .map_err(|e| TestCaseError::fail(format!("open refused: {e:?}")))?;
    let mut case = replay(&history);
    let mut closed_at: Option<CaseStatus> = None;

    for (advance, op) in steps {
        now = match advance {
            Advance::Minutes(m) => now + Duration::minutes(*m),
            Advance::ToDeadline(m) => match case.status.deadline() {
                Some(deadline) => now.max(deadline + Duration::minutes(*m)),
                None => now,
            },
        };
        let command = command_for(op, &case, now);
        let Ok(events) = decide(&case, &command, &TestPolicy, now) else {
            continue; // refused: nothing happens
        };

        // (5) decide never returns events for a terminal case.
        if case.status.is_terminal() {
            prop_assert!(events.is_empty(), "{command:?} on terminal {:?} produced {events:?}", case.status);
        }

        for event in &events {
            let before = case.status.clone();
            case = evolve(case, event);
            history.push(event.clone());
            let after = &case.status;

            // (1) the level never moves down.
            if let (Some(from), Some(to)) = (before.level(), after.level()) {
                prop_assert!(to >= from, "{event:?} moved the case down from {from} to {to}");

                // (2) every level change is one step up by an Escalated event with a reason.
                if to != from {
                    match event {
                        CaseEvent::Escalated { from: f, to: assignment, reason, note } => {
                            prop_assert_eq!(*f, from);
                            prop_assert_eq!(Some(assignment.level), from.up(), "skipped a level: {:?}", event);
                            prop_assert_eq!(assignment.level, to);
                            match reason {
                                EscalationReason::DeadlineMissed => {}
                                EscalationReason::Requested => {
                                    prop_assert!(!note.trim().is_empty(), "requested without a note: {event:?}")
                                }
                            }
                        }
                        other => prop_assert!(false, "{other:?} changed the level from {from} to {to}"),
                    }
                }
            }
            // Every escalation, wherever it happens, is exactly one step up, to the unit above the
            // one that held the case (which may not be above the reported grid after a transfer).
            if let CaseEvent::Escalated { from, to, .. } = event {
                prop_assert_eq!(Some(*from), before.level());
                prop_assert_eq!(Some(to.level), from.up());
                let holder = before.unit().unwrap_or_default();
                prop_assert_eq!(Some(to.unit.as_str()), holder.get(..to.level.code_len()), "{:?}", event);
                prop_assert_eq!(to.deadline, now + TestPolicy.accept_sla(category, to.level));
            }
            // A missed deadline is only recorded at the district, which keeps the case under a
            // later deadline: the timer that fired is stale from then on.
            if let CaseEvent::DeadlineMissed { level, deadline, next_deadline } = event {
                prop_assert_eq!(*level, Level::District);
                prop_assert_eq!(before.level(), Some(Level::District));
                prop_assert_eq!(before.deadline(), Some(*deadline));
                prop_assert!(next_deadline > deadline, "{:?}", event);
                let sla = match before {
                    CaseStatus::Dispatched { .. } => TestPolicy.accept_sla(category, *level),
                    _ => TestPolicy.resolve_sla(category, *level),
                };
                prop_assert_eq!(*next_deadline, now + sla);
                prop_assert_eq!(after.deadline(), Some(*next_deadline));
                prop_assert_eq!(
                    (after.name(), after.level(), after.unit()),
                    (before.name(), before.level(), before.unit())
                );
            }
            // What closes a step of the loop is always written down.
            match event {
                CaseEvent::Resolved { summary, .. }
                | CaseEvent::MediationAgreed { summary, .. }
                | CaseEvent::MediationFailed { summary, .. } => {
                    prop_assert!(!summary.trim().is_empty(), "{:?} without a summary", event)
                }
                CaseEvent::Reopened { reason, .. } => prop_assert!(!reason.trim().is_empty(), "{:?}", event),
                _ => {}
            }
            // Transfers, reopenings and failed mediations keep the level.
            if matches!(
                event,
                CaseEvent::Transferred { .. } | CaseEvent::Reopened { .. } | CaseEvent::MediationFailed { .. }
            ) {
                prop_assert_eq!(after.level(), before.level(), "{:?} changed the level", event);
            }

            // (3) once closed, always closed (and the same close).
            if let Some(closed) = &closed_at {
                prop_assert_eq!(after, closed, "a closed case changed");
            } else if matches!(after, CaseStatus::Closed { .. }) {
                closed_at = Some(after.clone());
            }
            if before.is_terminal() {
                prop_assert_eq!(after, &before, "a terminal case changed");
            }
        }

        // (4) replaying the history gives the state folded step by step.
        prop_assert_eq!(&replay(&history), &case);
    }
    Ok(Run { history, case })
}

fn check_closing(run: &Run) -> Result<(), TestCaseError> {
    let closes: Vec<usize> =
        run.history.iter().enumerate().filter(|(_, e)| matches!(e, CaseEvent::Closed { .. })).map(|(i, _)| i).collect();
    match &run.case.status {
        CaseStatus::Closed { level, .. } => {
            // (3) exactly one Closed event, at the level that resolved the case.
            prop_assert_eq!(closes.len(), 1, "closed {} times", closes.len());
            let i = closes[0];
            let resolved_level = run.history[..i].iter().rev().find_map(|e| match e {
                CaseEvent::Resolved { level, .. } => Some(*level),
                _ => None,
            });
            prop_assert_eq!(resolved_level, Some(*level), "closed at a level other than the resolving one");
            let closed_there = matches!(run.history[i], CaseEvent::Closed { level: l, .. } if l == *level);
            prop_assert!(closed_there, "the Closed event and the state disagree");
            prop_assert_eq!(i, run.history.len() - 1, "events after the Closed event");
        }
        _ => prop_assert!(closes.is_empty(), "a Closed event but the case is {:?}", run.case.status),
    }
    Ok(())
}

fn check_bookkeeping(run: &Run) -> Result<(), TestCaseError> {
    let count = |f: fn(&CaseEvent) -> bool| run.history.iter().filter(|e| f(e)).count() as u32;
    prop_assert_eq!(run.case.version, run.history.len() as u64);
    prop_assert_eq!(run.case.escalations, count(|e| matches!(e, CaseEvent::Escalated { .. })));
    prop_assert_eq!(run.case.reopen_count, count(|e| matches!(e, CaseEvent::Reopened { .. })));
    prop_assert_eq!(count(|e| matches!(e, CaseEvent::Opened { .. })), 1);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn the_ladder_never_moves_down_never_skips_and_settles_at_exactly_one_level(
        (category, urgent) in opening(),
        steps in prop::collection::vec((advance(), op()), 0..60),
    ) {
        let run = run(category, urgent, &steps)?;
        check_closing(&run)?;
        check_bookkeeping(&run)?;
    }

    #[test]
    fn deadline_expiries_alone_climb_the_ladder_one_step_at_a_time_to_the_district(
        (category, urgent) in opening(),
        lateness in prop::collection::vec(0i64..=600, 0..8),
    ) {
        let steps: Vec<(Advance, Op)> =
            lateness.iter().map(|m| (Advance::ToDeadline(*m), Op::Expire(Expiry::Current))).collect();
        let run = run(category, urgent, &steps)?;
        let entry = TestPolicy.entry_level(category, urgent).unwrap().0;
        let levels_above = Level::ALL.iter().filter(|l| **l > entry).count();
        let expected_level = Level::ALL[Level::ALL.iter().position(|l| *l == entry).unwrap()
            + lateness.len().min(levels_above)];
        prop_assert_eq!(run.case.status.level(), Some(expected_level));
        prop_assert_eq!(run.case.escalations as usize, lateness.len().min(levels_above));
        let missed: Vec<(Level, Timestamp, Timestamp)> = run
            .history
            .iter()
            .filter_map(|e| match e {
                CaseEvent::DeadlineMissed { level, deadline, next_deadline } => {
                    Some((*level, *deadline, *next_deadline))
                }
                _ => None,
            })
            .collect();
        prop_assert_eq!(missed.len(), lateness.len().saturating_sub(levels_above));
        // Each miss moves the deadline on; the next miss is of that new deadline.
        for pair in missed.windows(2) {
            prop_assert_eq!(pair[1].1, pair[0].2, "a miss of a deadline that was not running");
        }
        for (level, deadline, next_deadline) in &missed {
            prop_assert_eq!(*level, Level::District);
            prop_assert!(next_deadline > deadline);
        }
        if let Some((_, _, last)) = missed.last() {
            prop_assert_eq!(run.case.status.deadline(), Some(*last));
        }
        check_bookkeeping(&run)?;
    }

    #[test]
    fn decide_never_returns_events_for_a_terminal_case(
        terminal in prop_oneof![Just(a_closed_case()), Just(a_rejected_case())],
        ops in prop::collection::vec((advance(), op()), 1..20),
    ) {
        let case = replay(&terminal);
        let mut now = at(hours(48));
        for (advance, op) in &ops {
            if let Advance::Minutes(m) = advance { now += Duration::minutes(*m); }
            let command = command_for(op, &case, now);
            if let Ok(events) = decide(&case, &command, &TestPolicy, now) {
                prop_assert!(events.is_empty(), "{:?} produced {:?}", command, events);
            }
        }
    }
}
