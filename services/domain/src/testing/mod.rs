//! Test support shared by the domain's unit tests and by the tests of other crates: one
//! given / when / then harness for every aggregate, and the fixtures of the Case and Mediation
//! aggregates (a test city with hand-computable SLAs, histories, commands).
//!
//! Compiled for the crate's own tests and, behind the `testing` feature, for everyone else's:
//!
//! ```ignore
//! given::<Case>(&policy, &history, now).when(command).then_expect(&events);
//! ```
//!
//! The harness reads an aggregate through its [`Decider`] implementation only (`initial`,
//! `decide`, `evolve`), so every aggregate the services run can be put under test the same way.
//! A history that does not fit the aggregate is a bug in the test, so folding it panics.

pub mod case;
pub mod feedback;
pub mod mediation;

use crate::decider::Decider;
use crate::Timestamp;
use std::fmt::Debug;

/// The names an aggregate gives its commands and states, which a refusal repeats.
pub trait Named: Decider {
    fn command_name(command: &Self::Command) -> &'static str;
    fn state_name(&self) -> &'static str;
}

/// How an aggregate's error says why a command was refused.
pub trait Refusal {
    /// The input field an invalid command got wrong.
    fn invalid_field(&self) -> Option<&str>;
    /// The command, the state that forbids it and why, when the state forbids it.
    fn forbidden(&self) -> Option<Forbidden<'_>>;
}

/// A command the aggregate's state forbids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forbidden<'a> {
    pub command: &'a str,
    pub state: &'a str,
    pub reason: &'a str,
}

/// An aggregate rebuilt from its history, about to be given a command at `now`.
pub struct Given<'c, D: Decider> {
    policy: &'c D::Policy,
    history: Vec<D::Event>,
    now: Timestamp,
}

/// `history` folded from the initial state; the command will be decided under `policy` at `now`.
pub fn given<'c, D: Decider>(policy: &'c D::Policy, history: &[D::Event], now: Timestamp) -> Given<'c, D>
where
    D::Event: Clone,
{
    Given { policy, history: history.to_vec(), now }
}

/// Fold `history` from the initial state.
#[track_caller]
pub fn fold<D: Decider>(history: &[D::Event]) -> D {
    D::initial().fold(history).unwrap_or_else(|misfit| panic!("the test's history does not fit: {misfit}"))
}

impl<D: Decider> Given<'_, D> {
    /// Decide the command at `now` instead.
    pub fn at(mut self, now: Timestamp) -> Self {
        self.now = now;
        self
    }

    #[track_caller]
    pub fn when(self, command: D::Command) -> When<D> {
        let before = fold::<D>(&self.history);
        let result = before.decide(&command, self.policy, self.now);
        When { before, command, result }
    }
}

/// The outcome of one command, to be checked by one of the `then_…` methods.
pub struct When<D: Decider> {
    before: D,
    command: D::Command,
    result: Result<Vec<D::Event>, D::Error>,
}

impl<D: Decider> When<D>
where
    D::Command: Debug,
    D::Event: Debug + PartialEq,
{
    /// The state the command was decided against.
    pub fn state(&self) -> &D {
        &self.before
    }

    /// The events, or the refusal, without asserting anything.
    pub fn result(&self) -> &Result<Vec<D::Event>, D::Error> {
        &self.result
    }

    pub fn into_result(self) -> Result<Vec<D::Event>, D::Error> {
        self.result
    }

    /// Asserts the command produced exactly `expected`; returns the state with them folded in.
    #[track_caller]
    pub fn then_expect(self, expected: &[D::Event]) -> D {
        match self.result {
            Ok(events) => {
                assert_eq!(events, expected, "events of {:?}", self.command);
                self.before.fold(&events).unwrap_or_else(|misfit| panic!("decided events do not fit: {misfit}"))
            }
            Err(error) => panic!("expected {expected:?}, but {:?} was refused: {error:?}", self.command),
        }
    }

    /// Asserts the command was accepted and produced no events (a redelivery, a stale timer);
    /// returns the unchanged state.
    #[track_caller]
    pub fn then_nothing(self) -> D {
        self.then_expect(&[])
    }

    /// Asserts the command was accepted, whatever it produced; returns its events.
    #[track_caller]
    pub fn then_accept(self) -> Vec<D::Event> {
        match self.result {
            Ok(events) => events,
            Err(error) => panic!("{:?} was refused: {error:?}", self.command),
        }
    }

    /// Asserts the command was refused with an error `matches` accepts; returns the error.
    #[track_caller]
    pub fn then_refuse(self, matches: impl FnOnce(&D::Error) -> bool) -> D::Error {
        match self.result {
            Ok(events) => panic!("expected {:?} to be refused, but it produced {events:?}", self.command),
            Err(error) => {
                assert!(matches(&error), "{:?} was refused with an unexpected error: {error:?}", self.command);
                error
            }
        }
    }

    /// Asserts the command was refused as invalid input in `field`.
    #[track_caller]
    pub fn then_invalid(self, field: &str)
    where
        D::Error: Refusal,
    {
        self.then_refuse(|e| e.invalid_field() == Some(field));
    }
}

impl<D: Named> When<D>
where
    D::Command: Debug,
    D::Event: Debug + PartialEq,
    D::Error: Refusal,
{
    /// Asserts the state forbids the command and the refusal names the command and the state it
    /// was decided in; returns the reason.
    #[track_caller]
    pub fn then_forbidden(self) -> String {
        let command = D::command_name(&self.command);
        let state = self.before.state_name();
        let error = self.then_refuse(|e| e.forbidden().is_some());
        let forbidden = error.forbidden().expect("checked above");
        assert_eq!(
            (forbidden.command, forbidden.state),
            (command, state),
            "the refusal names the command and the state"
        );
        assert!(!forbidden.reason.is_empty(), "a refusal says why");
        forbidden.reason.to_string()
    }

    /// Asserts the command is forbidden in `state` for a reason that mentions `reason_contains`.
    #[track_caller]
    pub fn then_forbidden_in(self, state: &str, reason_contains: &str) {
        let actual = self.before.state_name();
        let reason = self.then_forbidden();
        assert_eq!(actual, state, "refused in another state");
        assert!(reason.contains(reason_contains), "reason {reason:?} lacks {reason_contains:?}");
    }
}
