//! The Feedback aggregate under test.

use super::{Aggregate, Given};
use crate::feedback::{decide, evolve, Feedback, FeedbackCommand, FeedbackError, FeedbackEvent};
use crate::Timestamp;

pub struct FeedbackAggregate;

impl Aggregate for FeedbackAggregate {
    type State = Feedback;
    type Command = FeedbackCommand;
    type Event = FeedbackEvent;
    type Error = FeedbackError;
    /// A feedback round reads nothing but its state and the time.
    type Context = ();

    fn decide(
        state: &Feedback,
        command: &FeedbackCommand,
        _: &(),
        now: Timestamp,
    ) -> Result<Vec<FeedbackEvent>, FeedbackError> {
        decide(state, command, now)
    }

    fn evolve(state: Feedback, event: &FeedbackEvent) -> Feedback {
        evolve(state, event)
    }
}

/// The feedback rounds folded from `history`; the command is decided at `now`.
pub fn given(history: &[FeedbackEvent], now: Timestamp) -> Given<'static, FeedbackAggregate> {
    super::given(&(), history, now)
}
