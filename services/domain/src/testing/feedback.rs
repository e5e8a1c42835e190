//! The Feedback aggregate under test.

use super::Given;
use crate::feedback::{Feedback, FeedbackEvent};
use crate::Timestamp;

/// The feedback rounds folded from `history`; the command is decided at `now`.
pub fn given(history: &[FeedbackEvent], now: Timestamp) -> Given<'static, Feedback> {
    super::given(&(), history, now)
}
