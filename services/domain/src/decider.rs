//! The shape every aggregate shares: an initial state, `decide` (what a command does, or why it
//! is refused), `evolve` (fold one event into the state, refusing one that does not fit) and the
//! name of the stream its events live on. The service kit runs any [`Decider`] the same way:
//! load the stream by folding `evolve`, `decide`, fold the new events, commit.
//!
//! What `decide` needs beyond the state and the command is the aggregate's [`Decider::Policy`]:
//! the routing policy for a case, the council's rules and the city's calendar for a mediation,
//! nothing for feedback. `now` is passed in; the clock lives at the edge.

use crate::calendar::WorkingCalendar;
use crate::case::{self, Case, CaseCommand, CaseError, CaseEvent, RoutingPolicy};
use crate::feedback::{self, Feedback, FeedbackCommand, FeedbackError, FeedbackEvent};
use crate::ids::{CaseId, MediationId};
use crate::mediation::{self, Mediation, MediationCommand, MediationError, MediationEvent, MediationRules};
use crate::Timestamp;

/// An aggregate: its state is `Self`.
pub trait Decider: Sized {
    /// What names one aggregate (and its stream).
    type Id: Copy + std::fmt::Display + Send + Sync + 'static;
    type Command;
    type Event;
    /// Why `decide` refuses a command.
    type Error: std::error::Error;
    /// What `decide` consults besides the state.
    type Policy: ?Sized;

    /// The state before the first event.
    fn initial() -> Self;

    /// The stream holding the aggregate's events.
    fn stream_name(id: Self::Id) -> String;

    /// The events `command` produces on this state, or why it is refused. Pure.
    fn decide(
        &self,
        command: &Self::Command,
        policy: &Self::Policy,
        now: Timestamp,
    ) -> Result<Vec<Self::Event>, Self::Error>;

    /// The state after `event`, or [`Misfit`] when the event cannot follow this state.
    fn evolve(self, event: &Self::Event) -> Result<Self, Misfit>;

    /// The state after `events`, in order.
    fn fold<'e>(self, events: impl IntoIterator<Item = &'e Self::Event>) -> Result<Self, Misfit>
    where
        Self::Event: 'e,
    {
        events.into_iter().try_fold(self, Self::evolve)
    }
}

/// An event that does not fit the state it is folded into. `decide` never produces one, so a
/// stream holding it was written by something that bypassed the aggregate (or is corrupt): the
/// history cannot be trusted, and retrying will not change that.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{event} cannot follow a {aggregate} that is {state}")]
pub struct Misfit {
    pub aggregate: &'static str,
    pub event: &'static str,
    pub state: &'static str,
}

impl Decider for Case {
    type Id = CaseId;
    type Command = CaseCommand;
    type Event = CaseEvent;
    type Error = CaseError;
    type Policy = dyn RoutingPolicy + Send + Sync;

    fn initial() -> Self {
        Case::default()
    }

    fn stream_name(id: CaseId) -> String {
        id.stream()
    }

    fn decide(
        &self,
        command: &CaseCommand,
        policy: &Self::Policy,
        now: Timestamp,
    ) -> Result<Vec<CaseEvent>, CaseError> {
        case::decide(self, command, policy, now)
    }

    fn evolve(self, event: &CaseEvent) -> Result<Self, Misfit> {
        case::evolve(self, event)
    }
}

/// What a council session is decided under: the rules a jurisdiction configures (quorum, notice
/// period, turns) and the city's calendar, on which a notice period in working days is counted.
#[derive(Debug, Clone)]
pub struct Council {
    pub rules: MediationRules,
    pub calendar: WorkingCalendar,
}

impl Decider for Mediation {
    type Id = MediationId;
    type Command = MediationCommand;
    type Event = MediationEvent;
    type Error = MediationError;
    type Policy = Council;

    fn initial() -> Self {
        Mediation::default()
    }

    fn stream_name(id: MediationId) -> String {
        id.stream()
    }

    fn decide(
        &self,
        command: &MediationCommand,
        council: &Council,
        now: Timestamp,
    ) -> Result<Vec<MediationEvent>, MediationError> {
        mediation::decide(self, command, &council.rules, &council.calendar, now)
    }

    fn evolve(self, event: &MediationEvent) -> Result<Self, Misfit> {
        mediation::evolve(self, event)
    }
}

impl Decider for Feedback {
    /// Feedback is asked once per resolution of a case: one stream per case.
    type Id = CaseId;
    type Command = FeedbackCommand;
    type Event = FeedbackEvent;
    type Error = FeedbackError;
    type Policy = ();

    fn initial() -> Self {
        Feedback::default()
    }

    fn stream_name(case_id: CaseId) -> String {
        format!("feedback-{case_id}")
    }

    fn decide(&self, command: &FeedbackCommand, _: &(), now: Timestamp) -> Result<Vec<FeedbackEvent>, FeedbackError> {
        feedback::decide(self, command, now)
    }

    fn evolve(self, event: &FeedbackEvent) -> Result<Self, Misfit> {
        feedback::evolve(self, event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{CaseDetails, CaseStatus, Channel, OnTimeVerdict, Reporter, ReporterKind, Satisfaction};
    use crate::level::Level;
    use crate::mediation::{MatterKind, Origin, SessionLevel};
    use crate::policy::CityPolicy;
    use chrono::{Duration, TimeZone, Utc};

    fn t0() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap() // a Monday, 09:00 in Beijing
    }

    fn report() -> CaseCommand {
        CaseCommand::Open {
            case_id: CaseId(uuid::Uuid::nil()),
            details: CaseDetails {
                category_code: "env.garbage".into(),
                grid_code: "321012001001001".into(),
                lat: 0.0,
                lon: 0.0,
                description: "rubbish in the stairwell".into(),
                reporter: Reporter {
                    kind: ReporterKind::Resident,
                    id: "r".into(),
                    name: String::new(),
                    phone: String::new(),
                    sealed: None,
                },
                channel: Channel::Hotline,
                discovered_at: t0(),
                uploaded_at: t0(),
                urgent: false,
                special_groups: vec![],
                media_url: None,
            },
        }
    }

    #[test]
    fn a_case_decided_and_folded_through_the_trait_is_dispatched() {
        let policy: &<Case as Decider>::Policy = &CityPolicy::default_city();
        let events = Case::initial().decide(&report(), policy, t0()).unwrap();
        let case = Case::initial().fold(&events).unwrap();
        assert!(matches!(case.status, CaseStatus::Dispatched { .. }), "{:?}", case.status);
        assert_eq!(case.version, 2);
        assert_eq!(Case::stream_name(CaseId(uuid::Uuid::nil())), format!("case-{}", uuid::Uuid::nil()));
        // The same opening again cannot follow: a stream with it twice is refused.
        assert_eq!(
            case.fold(&events[..1]),
            Err(Misfit { aggregate: "case", event: "CaseOpened", state: "dispatched" })
        );
    }

    #[test]
    fn a_case_event_out_of_order_is_refused() {
        let policy: &<Case as Decider>::Policy = &CityPolicy::default_city();
        let events = Case::initial().decide(&report(), policy, t0()).unwrap();
        let closed = CaseEvent::Closed {
            level: Level::Grid,
            satisfaction: Some(Satisfaction::Satisfied),
            on_time: OnTimeVerdict::ByDeadline,
        };
        let dispatched = Case::initial().fold(&events).unwrap();
        assert_eq!(
            dispatched.evolve(&closed),
            Err(Misfit { aggregate: "case", event: "CaseClosed", state: "dispatched" })
        );
        let accepted = CaseEvent::Accepted {
            at: crate::case::Assignment {
                level: Level::Grid,
                unit: "321012001001001".into(),
                deadline: t0(),
                department: None,
            },
            assignee: "wang".into(),
        };
        assert_eq!(
            Case::initial().evolve(&accepted),
            Err(Misfit { aggregate: "case", event: "CaseAccepted", state: "new" })
        );
    }

    #[test]
    fn a_feedback_round_is_answered_only_while_open() {
        let due_at = t0() + Duration::days(3);
        let requested = FeedbackEvent::Requested { level: Level::Grid, due_at };
        let answered = FeedbackEvent::Received { satisfaction: Satisfaction::Satisfied, comment: String::new() };
        let open = Feedback::initial().evolve(&requested).unwrap();
        assert_eq!(open, Feedback::Awaiting { level: Level::Grid, due_at });
        assert_eq!(
            open.clone().evolve(&requested),
            Err(Misfit { aggregate: "feedback round", event: "FeedbackRequested", state: "awaiting" })
        );
        let idle = open.evolve(&answered).unwrap();
        assert_eq!(
            idle.evolve(&answered),
            Err(Misfit { aggregate: "feedback round", event: "FeedbackReceived", state: "idle" })
        );
        assert_eq!(Feedback::stream_name(CaseId(uuid::Uuid::nil())), format!("feedback-{}", uuid::Uuid::nil()));
    }

    #[test]
    fn a_mediation_event_that_does_not_follow_its_stage_is_refused() {
        let council = Council { rules: MediationRules::default(), calendar: WorkingCalendar::china_mainland() };
        let open = MediationCommand::Open {
            origin: Origin::CollectedTopic { collected_from: "痛点箱".into(), agenda_topic: None },
            level: SessionLevel::Grid,
            topic: "e-bike charging".into(),
            kind: MatterKind::Consultation,
            professional: None,
            convenor: "Chair".into(),
            register: None,
        };
        let opened = Mediation::initial().decide(&open, &council, t0()).unwrap();
        let proposed = Mediation::initial().fold(&opened).unwrap();
        assert_eq!(proposed.state_name(), "proposed");
        let sitting = MediationEvent::DeliberationOpened { present: vec!["Chair".into()] };
        assert_eq!(
            proposed.clone().evolve(&sitting),
            Err(Misfit { aggregate: "mediation", event: "MediationDeliberationOpened", state: "proposed" })
        );
        assert_eq!(
            Mediation::initial().evolve(&MediationEvent::Notified),
            Err(Misfit { aggregate: "mediation", event: "MediationParticipantsNotified", state: "new" })
        );
        let followed_up = MediationEvent::FollowedUp { note: "n".into(), next_due: None };
        let concluded = proposed
            .evolve(&MediationEvent::Concluded {
                outcome: mediation::Outcome::Failed(mediation::Referral::BackToUnit),
                summary: "s".into(),
                signed_by: vec![],
            })
            .unwrap();
        assert_eq!(
            concluded.evolve(&followed_up),
            Err(Misfit { aggregate: "mediation", event: "MediationFollowedUp", state: "concluded" })
        );
    }
}
