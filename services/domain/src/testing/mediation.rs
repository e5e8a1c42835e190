//! Fixtures of the Mediation aggregate: a grid council on a neighbours' dispute, and the histories
//! of its procedure step by step (proposed, notified, sitting, decided, in notice, contested,
//! executed), under the default rules and the mainland calendar.

use super::{Forbidden, Given, Named, Refusal};
use crate::calendar::WorkingCalendar;
pub use crate::decider::Council;
use crate::ids::CaseId;
use crate::mediation::{
    MatterKind, Mediation, MediationCommand, MediationError, MediationEvent, MediationRules, Origin, Participant, Role,
    SessionLevel, Statement,
};
use crate::{Duration, Timestamp};
use chrono::TimeZone;
use std::sync::LazyLock;
use uuid::Uuid;

impl Named for Mediation {
    fn command_name(command: &MediationCommand) -> &'static str {
        command.name()
    }

    fn state_name(&self) -> &'static str {
        Mediation::state_name(self)
    }
}

impl Refusal for MediationError {
    fn invalid_field(&self) -> Option<&str> {
        match self {
            MediationError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }

    fn forbidden(&self) -> Option<Forbidden<'_>> {
        match self {
            MediationError::Refused { command, stage, reason } => Some(Forbidden { command, state: stage, reason }),
            _ => None,
        }
    }
}

/// A council with `rules` on the mainland calendar.
pub fn council(rules: MediationRules) -> Council {
    Council { rules, calendar: calendar() }
}

static DEFAULT_COUNCIL: LazyLock<Council> = LazyLock::new(|| council(MediationRules::default()));

/// The session folded from `history`, under the default rules; commands are decided at t0 unless
/// `.at(..)` says otherwise.
pub fn given(history: &[MediationEvent]) -> Given<'static, Mediation> {
    super::given(&*DEFAULT_COUNCIL, history, t0())
}

/// As [`given`], under the rules of `council`.
pub fn given_under<'c>(council: &'c Council, history: &[MediationEvent]) -> Given<'c, Mediation> {
    super::given(council, history, t0())
}

/// The session folded from `history`.
pub fn state_of(history: &[MediationEvent]) -> Mediation {
    super::fold::<Mediation>(history)
}

/// The name of the stage `history` leads to.
pub fn stage_of(history: &[MediationEvent]) -> &'static str {
    state_of(history).state_name()
}

/// Monday 2026-03-02 09:00 UTC (17:00 in Beijing).
pub fn t0() -> Timestamp {
    chrono::Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

pub fn rules() -> MediationRules {
    MediationRules::default()
}

pub fn calendar() -> WorkingCalendar {
    WorkingCalendar::china_mainland()
}

pub fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

pub fn opened_with(kind: MatterKind, professional: Option<Role>) -> MediationEvent {
    MediationEvent::Opened {
        origin: Origin::Case { case_id: CaseId(Uuid::nil()) },
        level: SessionLevel::Grid,
        topic: "noise from the shop below".into(),
        kind,
        professional,
        convenor: "Chair".into(),
        register: None,
    }
}

pub fn opened() -> MediationEvent {
    opened_with(MatterKind::Deliberation, None)
}

pub fn invited(name: &str, role: Role) -> MediationEvent {
    MediationEvent::Invited { participant: Participant { name: name.into(), role } }
}

pub fn invite(name: &str, role: Role) -> MediationCommand {
    MediationCommand::Invite { participant: Participant { name: name.into(), role } }
}

/// A grid session for a dispute: convenor, two parties, a grid worker and a legal worker.
pub fn notified() -> Vec<MediationEvent> {
    vec![
        opened(),
        invited("Zhang", Role::Party),
        invited("Li", Role::Party),
        invited("Wang", Role::GridWorker),
        invited("Zhao", Role::LegalWorker),
        MediationEvent::Notified,
    ]
}

/// Everyone invited sits, and Zhang has spoken.
pub fn sitting() -> Vec<MediationEvent> {
    let mut events = notified();
    events.push(MediationEvent::DeliberationOpened { present: names(&["Chair", "Zhang", "Li", "Wang", "Zhao"]) });
    events.push(MediationEvent::StatementMade {
        statement: Statement { speaker: "Zhang".into(), text: "the noise goes on past 22:00".into() },
    });
    events
}

/// The chair and the parties sit, without statements yet.
pub fn sitting_in_three() -> Vec<MediationEvent> {
    let mut events = notified();
    events.push(MediationEvent::DeliberationOpened { present: names(&["Chair", "Zhang", "Li"]) });
    events
}

pub fn decided() -> Vec<MediationEvent> {
    let mut events = sitting();
    events.push(MediationEvent::MotionVoted {
        motion: "quiet hours from 22:00".into(),
        yes: names(&["Chair", "Zhang", "Li"]),
        no: vec![],
        abstain: vec![],
        carried: true,
    });
    events
}

/// Signed and published to 10 residents concerned, until t0 + 7 days.
pub fn in_notice() -> Vec<MediationEvent> {
    let mut events = decided();
    events.push(MediationEvent::AgreementSigned {
        signed_by: names(&["Zhang", "Li"]),
        notice_until: t0() + Duration::days(7),
        residents_concerned: 10,
    });
    events
}

/// Two of the ten residents concerned objected: one fifth.
pub fn contested() -> Vec<MediationEvent> {
    let mut events = in_notice();
    events.push(MediationEvent::ObjectionRaised { residents: names(&["r1", "r2"]), threshold_reached: true });
    events
}

/// The agreement executed at the end of its notice period, t0 + 7 days.
pub fn executed() -> Vec<MediationEvent> {
    let mut events = in_notice();
    events.extend(given(&events).at(t0() + Duration::days(7)).when(MediationCommand::Execute).then_accept());
    events
}

pub fn statement(speaker: &str) -> MediationCommand {
    MediationCommand::MakeStatement { statement: Statement { speaker: speaker.into(), text: "I see it so".into() } }
}

pub fn motion(yes: &[&str], no: &[&str]) -> MediationCommand {
    MediationCommand::PutMotion {
        motion: "quiet hours from 22:00".into(),
        yes: names(yes),
        no: names(no),
        abstain: vec![],
    }
}

pub fn sign(signed_by: &[&str], residents_concerned: u32) -> MediationCommand {
    MediationCommand::SignAgreement { signed_by: names(signed_by), residents_concerned }
}
