//! What the command path needs to know about an aggregate beyond its [`Decider`]: how its events
//! are written on the wire, which durable timer its state keeps armed, and a few facts about its
//! commands. Implemented here for the three aggregates of the domain.

use gridloop_domain::agenda::{Agenda, AgendaCommand};
use gridloop_domain::case::{Case, CaseCommand, CaseError};
use gridloop_domain::decider::Decider;
use gridloop_domain::feedback::{Feedback, FeedbackCommand};
use gridloop_domain::ids::CaseId;
use gridloop_domain::mediation::{Mediation, MediationCommand};
use gridloop_domain::register::{Register, RegisterCommand};
use gridloop_domain::Timestamp;
use gridloop_proto::convert::{self, DecodeError};
use std::hash::Hash;
use uuid::Uuid;

/// What a commit does to the aggregate's durable timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerChange {
    /// Leave it as it is.
    Keep,
    /// Arm it (again) for this instant.
    Arm(Timestamp),
    /// Nothing is due any more.
    Disarm,
}

impl TimerChange {
    /// Armed for `due`, or disarmed when nothing is due.
    pub fn due(due: Option<Timestamp>) -> Self {
        due.map_or(TimerChange::Disarm, TimerChange::Arm)
    }
}

pub trait Aggregate:
    Decider<
        Id: Hash + Eq + From<Uuid>,
        Command: Send + Sync,
        Event: Send + Sync,
        Error: Send + Sync + 'static,
        Policy: Send + Sync,
    > + Clone
    + Send
    + Sync
    + 'static
{
    /// The kind of the aggregate's durable timer (its key is `<kind>:<id>`), if it keeps one.
    const TIMER: Option<&'static str> = None;

    /// The fully qualified event type and payload of `event`, appended to `id`'s stream whose
    /// state after the commit is `state`.
    fn encode(id: Self::Id, state: &Self, event: &Self::Event) -> (String, Vec<u8>);

    fn decode(event_type: &str, payload: &[u8]) -> Result<Self::Event, DecodeError>;

    /// What a commit that appends `events` and leaves the aggregate in `state` does to its timer.
    fn timer(_state: &Self, _events: &[Self::Event]) -> TimerChange {
        TimerChange::Keep
    }

    /// The command's name, for the causation of what it appends (`command:<name>`).
    fn command_name(command: &Self::Command) -> &'static str;

    /// Whether the command creates the aggregate: with a cache, it is decided on the initial
    /// state without reading a stream that should not exist yet (the commit still expects it
    /// not to).
    fn opens(_command: &Self::Command) -> bool {
        false
    }

    /// Whether this refusal means the very command was applied before (a redelivered opening).
    fn is_repeat(_error: &Self::Error) -> bool {
        false
    }
}

/// The case keeps its running deadline (to accept, resolve or verify) armed.
impl Aggregate for Case {
    const TIMER: Option<&'static str> = Some("deadline");

    fn encode(id: CaseId, _: &Case, event: &Self::Event) -> (String, Vec<u8>) {
        convert::encode_case_event(id, event)
    }

    fn decode(event_type: &str, payload: &[u8]) -> Result<Self::Event, DecodeError> {
        convert::decode_case_event(event_type, payload)
    }

    fn timer(case: &Case, _: &[Self::Event]) -> TimerChange {
        TimerChange::due(case.status.deadline())
    }

    fn command_name(command: &CaseCommand) -> &'static str {
        command.name()
    }

    fn opens(command: &CaseCommand) -> bool {
        matches!(command, CaseCommand::Open { .. })
    }

    fn is_repeat(error: &CaseError) -> bool {
        matches!(error, CaseError::AlreadyOpened)
    }
}

/// A concluded session keeps its next follow-up (监督) armed until the matter is settled.
impl Aggregate for Mediation {
    const TIMER: Option<&'static str> = Some("mediation-follow-up");

    fn encode(id: Self::Id, session: &Mediation, event: &Self::Event) -> (String, Vec<u8>) {
        let case_id = session.session().and_then(|s| s.origin.case_id()).map(|c| c.to_string()).unwrap_or_default();
        convert::encode_mediation_event(&id.to_string(), &case_id, event)
    }

    fn decode(event_type: &str, payload: &[u8]) -> Result<Self::Event, DecodeError> {
        convert::decode_mediation_event(event_type, payload)
    }

    fn timer(session: &Mediation, events: &[Self::Event]) -> TimerChange {
        match session {
            Mediation::Concluded { follow_up, .. } if !events.is_empty() => TimerChange::due(*follow_up),
            _ => TimerChange::Keep,
        }
    }

    fn command_name(command: &MediationCommand) -> &'static str {
        command.name()
    }

    fn opens(command: &MediationCommand) -> bool {
        matches!(command, MediationCommand::Open { .. })
    }
}

/// An open feedback round keeps its deadline armed: no answer by then is the default evaluation.
impl Aggregate for Feedback {
    const TIMER: Option<&'static str> = Some("feedback");

    fn encode(case_id: CaseId, _: &Feedback, event: &Self::Event) -> (String, Vec<u8>) {
        convert::encode_feedback_event(case_id, event)
    }

    fn decode(event_type: &str, payload: &[u8]) -> Result<Self::Event, DecodeError> {
        convert::decode_feedback_event(event_type, payload)
    }

    fn timer(round: &Feedback, _: &[Self::Event]) -> TimerChange {
        match round {
            Feedback::Awaiting { due_at, .. } => TimerChange::Arm(*due_at),
            Feedback::Idle => TimerChange::Disarm,
        }
    }

    fn command_name(command: &FeedbackCommand) -> &'static str {
        match command {
            FeedbackCommand::Request { .. } => "request_feedback",
            FeedbackCommand::Answer { .. } => "evaluate",
            FeedbackCommand::Expire { .. } => "expire_feedback",
        }
    }
}

/// An area's register of residents concerned: its stream's routing key is the area.
impl Aggregate for Register {
    fn encode(_: Self::Id, _: &Register, event: &Self::Event) -> (String, Vec<u8>) {
        convert::encode_register_event(event)
    }

    fn decode(event_type: &str, payload: &[u8]) -> Result<Self::Event, DecodeError> {
        convert::decode_register_event(event_type, payload)
    }

    fn command_name(command: &RegisterCommand) -> &'static str {
        command.name()
    }
}

/// An area's agenda (议题征集 and its rankings): its stream's routing key is the area.
impl Aggregate for Agenda {
    fn encode(_: Self::Id, _: &Agenda, event: &Self::Event) -> (String, Vec<u8>) {
        convert::encode_agenda_event(event)
    }

    fn decode(event_type: &str, payload: &[u8]) -> Result<Self::Event, DecodeError> {
        convert::decode_agenda_event(event_type, payload)
    }

    fn command_name(command: &AgendaCommand) -> &'static str {
        command.name()
    }
}
