//! The Feedback aggregate (办完即反): after a case is resolved the reporter is asked for
//! satisfaction before a deadline; no answer by then gives the default evaluation.
//! One stream per case; a reopened case that is resolved again starts a new round.

use crate::case::{CaseEvent, RoutingPolicy, Satisfaction};
use crate::decider::Misfit;
use crate::level::Level;
use crate::Timestamp;
use serde::{Deserialize, Serialize};

/// The evaluation recorded when the reporter does not answer in time.
pub const DEFAULT_SATISFACTION: Satisfaction = Satisfaction::Satisfied;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FeedbackEvent {
    Requested { level: Level, due_at: Timestamp },
    Received { satisfaction: Satisfaction, comment: String },
    Defaulted { satisfaction: Satisfaction },
}

impl FeedbackEvent {
    /// The protobuf message name of this event (`gridloop.v1.<name>`).
    pub fn type_name(&self) -> &'static str {
        match self {
            FeedbackEvent::Requested { .. } => "FeedbackRequested",
            FeedbackEvent::Received { .. } => "FeedbackReceived",
            FeedbackEvent::Defaulted { .. } => "FeedbackDefaulted",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Feedback {
    /// Nothing asked yet, or the last round is answered.
    #[default]
    Idle,
    Awaiting {
        level: Level,
        due_at: Timestamp,
    },
}

impl Feedback {
    pub fn name(&self) -> &'static str {
        match self {
            Feedback::Idle => "idle",
            Feedback::Awaiting { .. } => "awaiting",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum FeedbackCommand {
    Request {
        level: Level,
        due_at: Timestamp,
    },
    Answer {
        satisfaction: Satisfaction,
        comment: String,
    },
    /// The feedback timer fired for the round due at `due_at`.
    Expire {
        due_at: Timestamp,
    },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FeedbackError {
    #[error("no evaluation is awaited for this case (it is not resolved, or already evaluated)")]
    NotAwaiting,
}

pub fn decide(
    state: &Feedback,
    command: &FeedbackCommand,
    now: Timestamp,
) -> Result<Vec<FeedbackEvent>, FeedbackError> {
    match (command, state) {
        // A request while one is open comes from a redelivered resolution: nothing new to ask.
        (FeedbackCommand::Request { .. }, Feedback::Awaiting { .. }) => Ok(vec![]),
        (FeedbackCommand::Request { level, due_at }, Feedback::Idle) => {
            Ok(vec![FeedbackEvent::Requested { level: *level, due_at: *due_at }])
        }
        (FeedbackCommand::Answer { satisfaction, comment }, Feedback::Awaiting { .. }) => {
            Ok(vec![FeedbackEvent::Received { satisfaction: *satisfaction, comment: comment.clone() }])
        }
        (FeedbackCommand::Answer { .. }, Feedback::Idle) => Err(FeedbackError::NotAwaiting),
        (FeedbackCommand::Expire { due_at }, Feedback::Awaiting { due_at: current, .. })
            if due_at == current && now >= *current =>
        {
            Ok(vec![FeedbackEvent::Defaulted { satisfaction: DEFAULT_SATISFACTION }])
        }
        // Stale or early timer: nothing to do.
        (FeedbackCommand::Expire { .. }, _) => Ok(vec![]),
    }
}

/// Fold one event into the state, or refuse it as a [`Misfit`] when it cannot follow the state:
/// a round opens only when none is open, and is answered (or defaulted) only while open.
pub fn evolve(state: Feedback, event: &FeedbackEvent) -> Result<Feedback, Misfit> {
    match (event, &state) {
        (FeedbackEvent::Requested { level, due_at }, Feedback::Idle) => {
            Ok(Feedback::Awaiting { level: *level, due_at: *due_at })
        }
        (FeedbackEvent::Received { .. } | FeedbackEvent::Defaulted { .. }, Feedback::Awaiting { .. }) => {
            Ok(Feedback::Idle)
        }
        _ => Err(Misfit { aggregate: "feedback round", event: event.type_name(), state: state.name() }),
    }
}

/// A feedback round (办完即反) as a case event opens it: the level whose resolution the reporter
/// is asked about, and when the answer is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub level: Level,
    pub due_at: Timestamp,
}

/// The round `event` of a `category_code` case opens, `event` having occurred at `occurred_at`:
/// a resolution that needs no on-site check (核查), or a passed check; `None` for any other event.
///
/// The deadline counts from the event's own time, never from when a service gets to see it:
/// dispatch shows it as the case's `feedback_due` and evaluation arms the round's timer with it,
/// and the two must name the same instant, also when evaluation sees the resolution late (a
/// mediated resolution arrives through two consumers, and a restart can delay either).
pub fn round_opened_by(
    event: &CaseEvent,
    occurred_at: Timestamp,
    category_code: &str,
    policy: &dyn RoutingPolicy,
) -> Option<Round> {
    let level = match event {
        CaseEvent::Resolved { level, verify_by: None, .. } => *level,
        CaseEvent::Verified { level, passed: true, .. } => *level,
        _ => return None,
    };
    Some(Round { level, due_at: policy.feedback_deadline(category_code, occurred_at) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::feedback::given;
    use chrono::{Duration, TimeZone, Utc};

    fn t0() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
    }

    fn requested() -> FeedbackEvent {
        FeedbackEvent::Requested { level: Level::Grid, due_at: t0() + Duration::days(3) }
    }

    fn answered() -> FeedbackEvent {
        FeedbackEvent::Received { satisfaction: Satisfaction::Satisfied, comment: String::new() }
    }

    #[test]
    fn a_mediated_resolution_opens_a_round_due_from_the_resolution_not_from_the_agreement() {
        use crate::testing::case::{TestPolicy, DISPUTE};
        let agreed = CaseEvent::MediationAgreed { mediation_id: "m1".into(), summary: "签字".into() };
        assert_eq!(round_opened_by(&agreed, t0(), DISPUTE, &TestPolicy), None, "the agreement asks nobody");
        let resolved_at = t0() + Duration::minutes(5);
        let resolved = |verify_by| CaseEvent::Resolved {
            level: Level::Community,
            unit: "c".into(),
            summary: "签字".into(),
            verify_by,
        };
        let round = round_opened_by(&resolved(None), resolved_at, DISPUTE, &TestPolicy);
        assert_eq!(round, Some(Round { level: Level::Community, due_at: resolved_at + Duration::days(3) }));
        let to_check = resolved(Some(resolved_at + Duration::hours(4)));
        assert_eq!(round_opened_by(&to_check, resolved_at, DISPUTE, &TestPolicy), None, "asked after the check");
        let checked_at = resolved_at + Duration::hours(2);
        let checked =
            CaseEvent::Verified { level: Level::Community, verifier: "zhao".into(), passed: true, note: String::new() };
        let round = round_opened_by(&checked, checked_at, DISPUTE, &TestPolicy);
        assert_eq!(round, Some(Round { level: Level::Community, due_at: checked_at + Duration::days(3) }));
    }

    #[test]
    fn given_a_resolved_case_when_feedback_is_requested_then_a_round_opens() {
        given(&[], t0())
            .when(FeedbackCommand::Request { level: Level::Grid, due_at: t0() })
            .then_expect(&[FeedbackEvent::Requested { level: Level::Grid, due_at: t0() }]);
    }

    #[test]
    fn given_an_open_round_when_the_request_is_redelivered_then_nothing_happens() {
        given(&[requested()], t0()).when(FeedbackCommand::Request { level: Level::Grid, due_at: t0() }).then_nothing();
    }

    #[test]
    fn given_an_open_round_when_the_reporter_answers_then_it_is_received() {
        let cmd = FeedbackCommand::Answer { satisfaction: Satisfaction::Unsatisfied, comment: "still leaking".into() };
        given(&[requested()], t0()).when(cmd).then_expect(&[FeedbackEvent::Received {
            satisfaction: Satisfaction::Unsatisfied,
            comment: "still leaking".into(),
        }]);
    }

    #[test]
    fn given_no_open_round_when_the_reporter_answers_then_it_is_refused() {
        let cmd = FeedbackCommand::Answer { satisfaction: Satisfaction::Satisfied, comment: String::new() };
        given(&[], t0()).when(cmd.clone()).then_refuse(|e| *e == FeedbackError::NotAwaiting);
        given(&[requested(), answered()], t0()).when(cmd).then_refuse(|e| *e == FeedbackError::NotAwaiting);
    }

    #[test]
    fn given_an_open_round_when_its_deadline_passes_then_the_default_evaluation_applies() {
        let due = t0() + Duration::days(3);
        given(&[requested()], due)
            .when(FeedbackCommand::Expire { due_at: due })
            .then_expect(&[FeedbackEvent::Defaulted { satisfaction: DEFAULT_SATISFACTION }]);
    }

    #[test]
    fn given_an_answered_round_when_the_old_timer_fires_then_nothing_happens() {
        let due = t0() + Duration::days(3);
        given(&[requested(), answered()], due).when(FeedbackCommand::Expire { due_at: due }).then_nothing();
    }

    #[test]
    fn given_an_open_round_when_a_timer_fires_early_then_nothing_happens() {
        let due = t0() + Duration::days(3);
        let early = due - Duration::seconds(1);
        given(&[requested()], early).when(FeedbackCommand::Expire { due_at: due }).then_nothing();
    }
}
