//! The Case aggregate across its transitions: each decision's own tests sit beside it in
//! `src/case/`; these follow a case over several decisions and check what must hold whatever
//! the commands: the escalation ladder, terminal states, and the bookkeeping of `evolve`.
//!
//! All of them run in the test city of `gridloop_domain::testing::case`, with its hand-computable
//! SLAs, through the shared given / when / then harness.

mod evolve;
mod ladder;
mod terminal;

use gridloop_domain::case::{self, Case, CaseEvent};

/// Fold an event these tests know fits (they build histories from decided events).
#[track_caller]
fn evolve(case: Case, event: &CaseEvent) -> Case {
    case::evolve(case, event).expect("the event fits the case")
}
