//! A closed or rejected case refuses every command, or does nothing.

use chrono::Duration;
use gridloop_domain::case::{CaseError, CaseEvent};
use gridloop_domain::testing::case::*;

/// `Open` is refused as already opened, a deadline timer does nothing, and every other command is
/// forbidden by the terminal state.
#[track_caller]
fn assert_terminal(history: &[CaseEvent]) {
    assert!(replay(history).status.is_terminal());
    let now = at(hours(24 * 30));
    for deadline in [at(hours(2)), at(hours(1)) + Duration::days(1), now] {
        for command in every_command(deadline) {
            let name = command.name();
            let when = given(history).at(now).when(command);
            match name {
                "open" => {
                    when.then_refuse(|e| *e == CaseError::AlreadyOpened);
                }
                "deadline_expired" => {
                    when.then_nothing();
                }
                _ => {
                    when.then_forbidden();
                }
            }
        }
    }
}

#[test]
fn given_a_closed_case_when_any_command_is_sent_then_it_is_refused_or_does_nothing() {
    assert_terminal(&a_closed_case());
}

#[test]
fn given_a_rejected_case_when_any_command_is_sent_then_it_is_refused_or_does_nothing() {
    assert_terminal(&a_rejected_case());
}
