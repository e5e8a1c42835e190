//! The Mediation aggregate: a mediation / deliberation session (调解, 议事会) at one level —
//! building/courtyard (楼院互助会), grid (网格议事会), community (社区联席会 / 协商议事会) or street
//! (街道议政会 / 协商议事工作站) — opened for a case in dispatch or on a topic collected from
//! residents (议题征集).
//!
//! The procedure has six steps, 提议—告知—协商—决策—反馈—监督:
//!
//! ```text
//! New ─Opened→ Proposed ─Invited*→ ─Notified→ Notified ─DeliberationOpened→ Deliberating
//! Deliberating ─StatementMade*→ ─ResidentStatementSubmitted*→ ─MotionVoted(rejected)→ Deliberating
//! Deliberating ─MotionVoted(carried)→ Decided ─AgreementSigned (and published)→ InNotice
//! InNotice ─ObjectionRaised(< 1/5)→ InNotice ─ObjectionRaised(≥ 1/5)→ Contested
//! Contested | Suspended ─Reconsidered→ Notified (复议: convene, deliberate and vote again)
//! Contested ─ExecutionSuspended→ Suspended
//! InNotice ─Concluded(agreed), once the notice period is over→ Concluded
//! Deliberating | Decided ─Concluded(failed: escalate / litigation)→ Concluded
//! Deliberating ─Concluded(consultation)→ Concluded          (consultation / hearing matters)
//! Proposed | Notified | Deliberating ─Concluded(by record)→ Concluded (informal mediation, 入户商; never after 复议)
//! Concluded(agreed | consultation) ─FollowUpScheduled→ ─FollowUpOverdue* ─FollowedUp*→ settled
//! ```
//!
//! 监督: agreed and consulted matters are followed up — deliberation and decision matters every
//! half month, consultation and hearing matters monthly — until a follow-up finds them settled.
//!
//! The seven rules that the state can check are checked here: a neutral chair (the convenor is
//! never a party), one matter per session (the topic is fixed at opening), limited turns,
//! simple majority of those present, a configurable quorum; a professional matter needs the
//! matching professional present; results are published for at least the notice period and
//! execution waits for it; an objection by at least one fifth of the residents concerned stops
//! execution until the council reconsiders (复议) or suspends it (暂缓执行).
//!
//! `decide` hands each command to its step, one module each with the step's tests beside it:
//! `open`, `invite` (and 告知), `deliberate`, `resident_statement` (云议事: registered residents
//! speak to the sitting from their own device), `vote` (a show of hands), `ballot` (云票选: each
//! participant votes from their own device), `sign`, `object`, `conclude`, `informal` and
//! `follow_up`.

mod audience;
mod ballot;
mod conclude;
mod decide;
mod deliberate;
mod evolve;
mod follow_up;
mod implementation;
mod informal;
mod invite;
mod object;
mod open;
mod resident_statement;
mod sign;
mod vote;
mod waiting;

pub use audience::{concerned_register, shown_to_resident};
pub use decide::decide;
pub use evolve::evolve;
pub use implementation::{implementation, month_in_beijing, Implementation, MatterStatus};
pub use object::{fifth_of, reaches_fifth};
pub use resident_statement::RESIDENT_STATEMENT_MAX_CHARS;
pub use waiting::Waiting;

use crate::calendar::Sla;
use crate::decider::Misfit;
use crate::ids::CaseId;
use crate::level::Level;
use crate::register::{Group, Register};
use crate::{Duration, Timestamp};
use serde::{Deserialize, Serialize};

/// The level of the council that holds the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionLevel {
    /// 楼院互助会 / 楼院议事.
    Building,
    /// 网格议事会 (红色邻里议事会).
    Grid,
    /// 社区联席会 / 社区协商议事会.
    Community,
    /// 街道议政会 / 街道协商议事工作站: the highest council.
    Street,
}

impl SessionLevel {
    /// The council for a case held at `level`; the district has no council of its own (区领导会办),
    /// so its disputes go to the street's deliberation station.
    pub fn for_case(level: Level) -> SessionLevel {
        match level {
            Level::Grid => SessionLevel::Grid,
            Level::Community => SessionLevel::Community,
            Level::Street | Level::District => SessionLevel::Street,
        }
    }

    /// The next council up (三提), or `None` at the street.
    pub fn up(self) -> Option<SessionLevel> {
        match self {
            SessionLevel::Building => Some(SessionLevel::Grid),
            SessionLevel::Grid => Some(SessionLevel::Community),
            SessionLevel::Community => Some(SessionLevel::Street),
            SessionLevel::Street => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SessionLevel::Building => "building",
            SessionLevel::Grid => "grid",
            SessionLevel::Community => "community",
            SessionLevel::Street => "street",
        }
    }
}

/// Who takes part: the convenor, the eight kinds of participants a council invites, and the
/// parties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 召集人: chairs the session, neutrally.
    Convenor,
    GridWorker,
    PropertyCompany,
    OwnersCommittee,
    CppccMember,
    GridPolice,
    LegalWorker,
    ResidentRepresentative,
    SocialOrganisation,
    /// 当事方: a party to the dispute; parties sign the agreement.
    Party,
}

impl Role {
    /// The professions a professional matter can require (法律工作者, 物业, 网格警长, 社工).
    pub fn is_professional(self) -> bool {
        matches!(self, Role::LegalWorker | Role::PropertyCompany | Role::GridPolice | Role::SocialOrganisation)
    }
}

/// The kind of matter: deliberation and decision matters end in a vote; consultation and
/// hearing matters are recorded (and followed up monthly rather than every half month).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatterKind {
    Deliberation,
    Decision,
    Consultation,
    Hearing,
}

impl MatterKind {
    pub fn votes(self) -> bool {
        matches!(self, MatterKind::Deliberation | MatterKind::Decision)
    }

    /// How often the result is followed up until settled: every half month (每半月) for matters put
    /// to the vote, monthly (每月) for consultations and hearings.
    pub fn follow_up_every(self) -> Duration {
        if self.votes() {
            Duration::days(15)
        } else {
            Duration::days(30)
        }
    }
}

/// Where the session's matter came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "origin", rename_all = "snake_case")]
pub enum Origin {
    /// A case in dispatch asked for mediation (接诉即商).
    Case { case_id: CaseId },
    /// A topic collected from residents (议题征集), with no case behind it; `agenda_topic`: the
    /// number of the topic on its area's agenda, when the residents proposed and ranked it there.
    CollectedTopic {
        collected_from: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agenda_topic: Option<u32>,
    },
}

impl Origin {
    pub fn case_id(&self) -> Option<CaseId> {
        match self {
            Origin::Case { case_id } => Some(*case_id),
            Origin::CollectedTopic { .. } => None,
        }
    }

    /// The number of the agenda topic the session deliberates, if it came from the agenda.
    pub fn agenda_topic(&self) -> Option<u32> {
        match self {
            Origin::CollectedTopic { agenda_topic, .. } => *agenda_topic,
            Origin::Case { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub name: String,
    pub role: Role,
}

/// Where a session without agreement sends the matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Referral {
    /// Back to the unit that holds the case (an informal mediation that failed).
    BackToUnit,
    /// 三提: to the council one level up.
    EscalateOneLevel,
    /// 引入诉讼.
    Litigation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", content = "referral", rename_all = "snake_case")]
pub enum Outcome {
    /// Agreement reached and signed by the parties (签字确认), executed after the notice period.
    Agreed,
    /// No agreement, and where the matter goes next.
    Failed(Referral),
    /// A consultation or hearing: recorded as such, nothing to execute.
    Consultation,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    pub speaker: String,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// 复议: convene the council again on the same matter.
    Reconsider,
    /// 暂缓执行.
    Suspend,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MediationEvent {
    Opened {
        origin: Origin,
        level: SessionLevel,
        topic: String,
        kind: MatterKind,
        /// The profession the matter needs present, when it is a professional matter.
        professional: Option<Role>,
        convenor: String,
        /// The building or courtyard of the session's grid whose register holds the residents
        /// concerned, when the matter is one building's or courtyard's; none: the register of
        /// the session's area. Fixed at opening, so a replay counts one fifth of the same register.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        register: Option<Group>,
    },
    Invited {
        participant: Participant,
    },
    /// 告知: the invited participants were told the topic, time and place.
    Notified,
    /// 协商: the session sits; who attended.
    DeliberationOpened {
        present: Vec<String>,
    },
    StatementMade {
        statement: Statement,
    },
    /// 云议事: a registered resident of the session's area spoke to the sitting from their own
    /// device. Views show the resident's name in full only to those who may see residents.
    ResidentStatementSubmitted {
        resident: String,
        text: String,
    },
    /// 决策: a motion put to the vote (a show of hands) and its tally.
    MotionVoted {
        motion: String,
        yes: Vec<String>,
        no: Vec<String>,
        abstain: Vec<String>,
        carried: bool,
    },
    /// 云票选: the council put a motion to a ballot of those invited (the chair excepted), each
    /// voting once from their own device until it closes.
    BallotOpened {
        motion: String,
        secret: bool,
        eligible: Vec<String>,
    },
    /// One participant's vote. Of a secret ballot, views show only that they voted.
    BallotCast {
        voter: String,
        choice: Choice,
    },
    /// The ballot closed: its tally, whether enough voted (quorum) and whether a simple majority
    /// of those who voted said yes.
    BallotClosed {
        motion: String,
        yes: u32,
        no: u32,
        abstain: u32,
        eligible: u32,
        quorate: bool,
        carried: bool,
    },
    /// 签字确认 and 公示: the parties signed the carried motion, which is published until
    /// `notice_until` to the residents it concerns.
    AgreementSigned {
        signed_by: Vec<String>,
        notice_until: Timestamp,
        residents_concerned: u32,
    },
    /// 联名异议: residents object; `threshold_reached` once at least one fifth of the residents
    /// concerned have objected in this notice period.
    ObjectionRaised {
        residents: Vec<String>,
        threshold_reached: bool,
    },
    /// 复议: the council will deliberate the matter again.
    Reconsidered {
        reason: String,
    },
    /// 暂缓执行.
    ExecutionSuspended {
        reason: String,
    },
    Concluded {
        outcome: Outcome,
        summary: String,
        signed_by: Vec<String>,
    },
    /// 监督: the result is to be followed up by `due`.
    FollowUpScheduled {
        due: Timestamp,
    },
    /// A follow-up came due without being recorded: a reminder, and the next one.
    FollowUpOverdue {
        due: Timestamp,
        next_due: Timestamp,
    },
    /// A follow-up was made; `next_due` is `None` once the matter is settled.
    FollowedUp {
        note: String,
        next_due: Option<Timestamp>,
    },
}

impl MediationEvent {
    /// The protobuf message name of this event (`gridloop.v1.<name>`).
    pub fn type_name(&self) -> &'static str {
        match self {
            MediationEvent::Opened { .. } => "MediationOpened",
            MediationEvent::Invited { .. } => "MediationParticipantInvited",
            MediationEvent::Notified => "MediationParticipantsNotified",
            MediationEvent::DeliberationOpened { .. } => "MediationDeliberationOpened",
            MediationEvent::StatementMade { .. } => "MediationStatementMade",
            MediationEvent::ResidentStatementSubmitted { .. } => "MediationResidentStatementSubmitted",
            MediationEvent::MotionVoted { .. } => "MediationMotionVoted",
            MediationEvent::BallotOpened { .. } => "MediationBallotOpened",
            MediationEvent::BallotCast { .. } => "MediationBallotCast",
            MediationEvent::BallotClosed { .. } => "MediationBallotClosed",
            MediationEvent::AgreementSigned { .. } => "MediationAgreementSigned",
            MediationEvent::ObjectionRaised { .. } => "MediationObjectionRaised",
            MediationEvent::Reconsidered { .. } => "MediationReconsidered",
            MediationEvent::ExecutionSuspended { .. } => "MediationExecutionSuspended",
            MediationEvent::Concluded { .. } => "MediationConcluded",
            MediationEvent::FollowUpScheduled { .. } => "MediationFollowUpScheduled",
            MediationEvent::FollowUpOverdue { .. } => "MediationFollowUpOverdue",
            MediationEvent::FollowedUp { .. } => "MediationFollowedUp",
        }
    }
}

/// A participant's vote in a ballot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    Yes,
    No,
    Abstain,
}

/// A ballot under way: who may vote, and who voted how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ballot {
    pub motion: String,
    pub secret: bool,
    pub eligible: Vec<String>,
    pub cast: Vec<(String, Choice)>,
}

impl Ballot {
    /// How many voted yes, no and abstained.
    pub fn tally(&self) -> (u32, u32, u32) {
        let count = |c: Choice| self.cast.iter().filter(|(_, choice)| *choice == c).count() as u32;
        (count(Choice::Yes), count(Choice::No), count(Choice::Abstain))
    }
}

/// The facts fixed when the session opened, and who was invited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub origin: Origin,
    pub level: SessionLevel,
    pub topic: String,
    pub kind: MatterKind,
    pub professional: Option<Role>,
    pub convenor: String,
    /// The building or courtyard whose register holds the residents concerned; none: the area's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub register: Option<Group>,
    /// The convenor first, then everyone invited, in order.
    pub participants: Vec<Participant>,
    /// How many times the council reconsidered (复议).
    pub reconsiderations: u32,
}

impl Session {
    fn invited(&self, name: &str) -> Option<&Participant> {
        self.participants.iter().find(|p| p.name == name)
    }

    fn parties(&self) -> impl Iterator<Item = &Participant> {
        self.participants.iter().filter(|p| p.role == Role::Party)
    }
}

/// A signed agreement and its public notice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    pub motion: String,
    pub signed_by: Vec<String>,
    pub until: Timestamp,
    pub residents_concerned: u32,
    /// Distinct residents who objected in this notice period.
    pub objectors: Vec<String>,
}

/// Where an open session is in the procedure. Each stage holds exactly what it needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Stage {
    /// 提议: the topic is proposed; participants are being invited.
    Proposed,
    /// 告知: participants were notified; the session can sit.
    Notified,
    /// 协商: sitting, with who attended, what was said (by the participants, and by registered
    /// residents following online) and the ballot under way, if any.
    Deliberating {
        present: Vec<String>,
        statements: Vec<Statement>,
        #[serde(default)]
        ballot: Option<Ballot>,
        #[serde(default)]
        residents_said: Vec<Statement>,
    },
    /// A motion carried; the parties are to sign it.
    Decided { present: Vec<String>, motion: String },
    /// 公示: signed and published; executed once the notice period is over.
    InNotice(Notice),
    /// At least one fifth of the residents concerned objected: execution waits for the council.
    Contested(Notice),
    /// 暂缓执行.
    Suspended { notice: Notice, reason: String },
}

impl Stage {
    pub fn name(&self) -> &'static str {
        match self {
            Stage::Proposed => "proposed",
            Stage::Notified => "notified",
            Stage::Deliberating { .. } => "deliberating",
            Stage::Decided { .. } => "decided",
            Stage::InNotice(_) => "in_notice",
            Stage::Contested(_) => "contested",
            Stage::Suspended { .. } => "suspended",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Mediation {
    #[default]
    New,
    Open {
        session: Session,
        stage: Stage,
    },
    Concluded {
        session: Session,
        outcome: Outcome,
        summary: String,
        signed_by: Vec<String>,
        /// When the next follow-up is due; `None` when there is none (failed, or settled).
        follow_up: Option<Timestamp>,
        follow_ups: u32,
    },
}

impl Mediation {
    pub fn state_name(&self) -> &'static str {
        match self {
            Mediation::New => "new",
            Mediation::Open { stage, .. } => stage.name(),
            Mediation::Concluded { .. } => "concluded",
        }
    }

    pub fn session(&self) -> Option<&Session> {
        match self {
            Mediation::New => None,
            Mediation::Open { session, .. } | Mediation::Concluded { session, .. } => Some(session),
        }
    }
}

/// The council's rules that a jurisdiction configures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MediationRules {
    /// The share of invited participants (convenor included) who must attend, in percent.
    pub quorum_percent: u32,
    /// How long results are published before they are executed (公示, at least 7 days):
    /// wall-clock days, or working days on the city's calendar.
    pub notice: Sla,
    /// How many statements each participant may make in one sitting (限时限次).
    pub max_turns: u32,
}

impl Default for MediationRules {
    fn default() -> Self {
        Self { quorum_percent: 50, notice: Sla::Calendar(Duration::days(7)), max_turns: 3 }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum MediationCommand {
    Open {
        origin: Origin,
        level: SessionLevel,
        topic: String,
        kind: MatterKind,
        professional: Option<Role>,
        convenor: String,
        /// The building or courtyard whose register holds the residents concerned; none: the
        /// register of the session's area.
        register: Option<Group>,
    },
    Invite {
        participant: Participant,
    },
    Notify,
    OpenDeliberation {
        present: Vec<String>,
    },
    MakeStatement {
        statement: Statement,
    },
    /// 云议事: a resident speaks to the sitting; `registered`: whether the register of the
    /// session's area holds them.
    SubmitResidentStatement {
        resident: String,
        text: String,
        registered: bool,
    },
    PutMotion {
        motion: String,
        yes: Vec<String>,
        no: Vec<String>,
        abstain: Vec<String>,
    },
    /// 云票选: put the motion to a ballot of those invited. `concerned`: the register the
    /// session names, when one is kept — residents invited to speak for the residents (居民代表)
    /// vote only if it holds them.
    OpenBallot {
        motion: String,
        secret: bool,
        concerned: Option<Register>,
    },
    CastBallot {
        voter: String,
        choice: Choice,
    },
    CloseBallot,
    /// The parties sign the carried motion; it is published for the notice period.
    SignAgreement {
        signed_by: Vec<String>,
        residents_concerned: u32,
    },
    RaiseObjection {
        residents: Vec<String>,
    },
    /// A resident concerned objects with one action, once; `registered`: whether the register
    /// of the session's area holds them.
    Object {
        resident: String,
        registered: bool,
    },
    RespondToObjection {
        response: Response,
        reason: String,
    },
    /// Execute the agreement once its notice period is over (商定即办).
    Execute,
    /// No agreement: escalate one level (三提) or refer to litigation (引入诉讼).
    RecordNoAgreement {
        referral: Referral,
        summary: String,
    },
    /// A consultation or hearing: record its result.
    RecordConsultation {
        summary: String,
    },
    /// Record the outcome of an informal mediation (入户商, 现场商) that never sat as a council.
    Conclude {
        agreed: bool,
        summary: String,
        signed_by: Vec<String>,
    },
    /// 监督: record a follow-up of an agreed or consulted matter; `settled` ends them.
    FollowUp {
        note: String,
        settled: bool,
    },
    /// The follow-up timer for `due` fired.
    FollowUpTimerFired {
        due: Timestamp,
    },
}

impl MediationCommand {
    pub fn name(&self) -> &'static str {
        match self {
            MediationCommand::Open { .. } => "open",
            MediationCommand::Invite { .. } => "invite",
            MediationCommand::Notify => "notify",
            MediationCommand::OpenDeliberation { .. } => "open_deliberation",
            MediationCommand::MakeStatement { .. } => "make_statement",
            MediationCommand::SubmitResidentStatement { .. } => "submit_resident_statement",
            MediationCommand::PutMotion { .. } => "put_motion",
            MediationCommand::OpenBallot { .. } => "open_ballot",
            MediationCommand::CastBallot { .. } => "cast_ballot",
            MediationCommand::CloseBallot => "close_ballot",
            MediationCommand::Object { .. } => "object",
            MediationCommand::SignAgreement { .. } => "sign_agreement",
            MediationCommand::RaiseObjection { .. } => "raise_objection",
            MediationCommand::RespondToObjection { .. } => "respond_to_objection",
            MediationCommand::Execute => "execute",
            MediationCommand::RecordNoAgreement { .. } => "record_no_agreement",
            MediationCommand::RecordConsultation { .. } => "record_consultation",
            MediationCommand::Conclude { .. } => "conclude",
            MediationCommand::FollowUp { .. } => "follow_up",
            MediationCommand::FollowUpTimerFired { .. } => "follow_up_timer_fired",
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MediationError {
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("mediation not found")]
    NotFound,
    #[error("the mediation is already concluded")]
    AlreadyConcluded,
    /// The procedure forbids the step now.
    #[error("{reason} (cannot {command} a session that is {stage})")]
    Refused { command: &'static str, stage: &'static str, reason: String },
}
