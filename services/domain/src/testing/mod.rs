//! Test support shared by the domain's unit tests and by the tests of other crates: one
//! given / when / then harness for every aggregate, and the fixtures of the Case and Mediation
//! aggregates (a test city with hand-computable SLAs, histories, commands).
//!
//! Compiled for the crate's own tests and, behind the `testing` feature, for everyone else's:
//!
//! ```ignore
//! given::<CaseAggregate>(&policy, &history, now).when(command).then_expect(&events);
//! ```
//!
//! The harness reads an aggregate through [`Aggregate`] only: its initial state, how a command is
//! decided against a state, and how an event is folded into it (`initial`, `decide`, `evolve`),
//! so any decider with those three can be put under test.

pub mod case;
pub mod feedback;
pub mod mediation;

use crate::Timestamp;
use std::fmt::Debug;

/// What the harness needs of an aggregate: `decide` and `evolve`, and what `decide` reads besides
/// the state and the command (the routing policy of a case, the council's rules and calendar of a
/// mediation).
pub trait Aggregate {
    type State: Default + Debug;
    type Command: Debug;
    type Event: Clone + Debug + PartialEq;
    type Error: Debug;
    /// What `decide` reads besides the state, the command and the time.
    type Context: ?Sized;

    /// The state before the first event.
    fn initial() -> Self::State {
        Self::State::default()
    }

    fn decide(
        state: &Self::State,
        command: &Self::Command,
        context: &Self::Context,
        now: Timestamp,
    ) -> Result<Vec<Self::Event>, Self::Error>;

    fn evolve(state: Self::State, event: &Self::Event) -> Self::State;
}

/// The names an aggregate gives its commands and states, which a refusal repeats.
pub trait Named: Aggregate {
    fn command_name(command: &Self::Command) -> &'static str;
    fn state_name(state: &Self::State) -> &'static str;
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
pub struct Given<'c, A: Aggregate> {
    context: &'c A::Context,
    history: Vec<A::Event>,
    now: Timestamp,
}

/// `history` folded from the initial state; the command will be decided under `context` at `now`.
pub fn given<'c, A: Aggregate>(context: &'c A::Context, history: &[A::Event], now: Timestamp) -> Given<'c, A> {
    Given { context, history: history.to_vec(), now }
}

/// Fold `history` from the initial state.
pub fn fold<A: Aggregate>(history: &[A::Event]) -> A::State {
    history.iter().fold(A::initial(), A::evolve)
}

impl<A: Aggregate> Given<'_, A> {
    /// Decide the command at `now` instead.
    pub fn at(mut self, now: Timestamp) -> Self {
        self.now = now;
        self
    }

    pub fn when(self, command: A::Command) -> When<A> {
        let before = fold::<A>(&self.history);
        let result = A::decide(&before, &command, self.context, self.now);
        When { before, command, result }
    }
}

/// The outcome of one command, to be checked by one of the `then_…` methods.
pub struct When<A: Aggregate> {
    before: A::State,
    command: A::Command,
    result: Result<Vec<A::Event>, A::Error>,
}

impl<A: Aggregate> When<A> {
    /// The state the command was decided against.
    pub fn state(&self) -> &A::State {
        &self.before
    }

    /// The events, or the refusal, without asserting anything.
    pub fn result(&self) -> &Result<Vec<A::Event>, A::Error> {
        &self.result
    }

    pub fn into_result(self) -> Result<Vec<A::Event>, A::Error> {
        self.result
    }

    /// Asserts the command produced exactly `expected`; returns the state with them folded in.
    #[track_caller]
    pub fn then_expect(self, expected: &[A::Event]) -> A::State {
        match self.result {
            Ok(events) => {
                assert_eq!(events, expected, "events of {:?}", self.command);
                events.iter().fold(self.before, A::evolve)
            }
            Err(error) => panic!("expected {expected:?}, but {:?} was refused: {error:?}", self.command),
        }
    }

    /// Asserts the command was accepted and produced no events (a redelivery, a stale timer);
    /// returns the unchanged state.
    #[track_caller]
    pub fn then_nothing(self) -> A::State {
        self.then_expect(&[])
    }

    /// Asserts the command was accepted, whatever it produced; returns its events.
    #[track_caller]
    pub fn then_accept(self) -> Vec<A::Event> {
        match self.result {
            Ok(events) => events,
            Err(error) => panic!("{:?} was refused: {error:?}", self.command),
        }
    }

    /// Asserts the command was refused with an error `matches` accepts; returns the error.
    #[track_caller]
    pub fn then_refuse(self, matches: impl FnOnce(&A::Error) -> bool) -> A::Error {
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
        A::Error: Refusal,
    {
        self.then_refuse(|e| e.invalid_field() == Some(field));
    }
}

impl<A: Named> When<A>
where
    A::Error: Refusal,
{
    /// Asserts the state forbids the command and the refusal names the command and the state it
    /// was decided in; returns the reason.
    #[track_caller]
    pub fn then_forbidden(self) -> String {
        let command = A::command_name(&self.command);
        let state = A::state_name(&self.before);
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
        let actual = A::state_name(&self.before);
        let reason = self.then_forbidden();
        assert_eq!(actual, state, "refused in another state");
        assert!(reason.contains(reason_contains), "reason {reason:?} lacks {reason_contains:?}");
    }
}
