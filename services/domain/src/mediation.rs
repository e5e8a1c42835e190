//! The Mediation aggregate: a mediation / deliberation session (调解, 议事会) at one level —
//! building/courtyard (楼院互助会), grid (网格议事会), community (社区联席会 / 协商议事会) or street
//! (街道议政会 / 协商议事工作站) — opened for a case in dispatch or on a topic collected from
//! residents (议题征集).
//!
//! The procedure follows the seeds' six steps 提议—告知—协商—决策—反馈—监督:
//!
//! ```text
//! New ─Opened→ Proposed ─Invited*→ ─Notified→ Notified ─DeliberationOpened→ Deliberating
//! Deliberating ─StatementMade*→ ─MotionVoted(rejected)→ Deliberating
//! Deliberating ─MotionVoted(carried)→ Decided ─AgreementSigned (and published)→ InNotice
//! InNotice ─ObjectionRaised(< 1/5)→ InNotice ─ObjectionRaised(≥ 1/5)→ Contested
//! Contested | Suspended ─Reconsidered→ Notified (复议: convene, deliberate and vote again)
//! Contested ─ExecutionSuspended→ Suspended
//! InNotice ─Concluded(agreed), once the notice period is over→ Concluded
//! Deliberating | Decided ─Concluded(failed: escalate / litigation)→ Concluded
//! Deliberating ─Concluded(consultation)→ Concluded          (consultation / hearing matters)
//! Proposed | Notified | Deliberating ─Concluded(by record)→ Concluded (informal mediation, 入户商)
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

use crate::calendar::{Sla, WorkingCalendar};
use crate::decider::Misfit;
use crate::ids::CaseId;
use crate::level::Level;
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

/// Who takes part: the convenor and the eight kinds of participants a council invites (grid
/// worker, property company, owners' committee, CPPCC member, grid police, legal worker, resident
/// representative, social organisation), plus the parties.
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

    /// How often the result is followed up until settled: every half month (每半月) for
    /// deliberation and decision matters, monthly (每月) for consultations and hearings.
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
    /// A topic collected from residents (议题征集), with no case behind it.
    CollectedTopic { collected_from: String },
}

impl Origin {
    pub fn case_id(&self) -> Option<CaseId> {
        match self {
            Origin::Case { case_id } => Some(*case_id),
            Origin::CollectedTopic { .. } => None,
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
    /// 决策: a motion put to the vote (a show of hands) and its tally.
    MotionVoted {
        motion: String,
        yes: Vec<String>,
        no: Vec<String>,
        abstain: Vec<String>,
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
            MediationEvent::MotionVoted { .. } => "MediationMotionVoted",
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

/// The facts fixed when the session opened, and who was invited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub origin: Origin,
    pub level: SessionLevel,
    pub topic: String,
    pub kind: MatterKind,
    pub professional: Option<Role>,
    pub convenor: String,
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
    /// 协商: sitting, with who attended and what was said.
    Deliberating { present: Vec<String>, statements: Vec<Statement> },
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
    /// How long results are published before they are executed (at least 7 days in the seeds):
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
    PutMotion {
        motion: String,
        yes: Vec<String>,
        no: Vec<String>,
        abstain: Vec<String>,
    },
    /// The parties sign the carried motion; it is published for the notice period.
    SignAgreement {
        signed_by: Vec<String>,
        residents_concerned: u32,
    },
    RaiseObjection {
        residents: Vec<String>,
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
            MediationCommand::PutMotion { .. } => "put_motion",
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
    #[error("cannot {command} a session that is {stage}: {reason}")]
    Refused { command: &'static str, stage: &'static str, reason: String },
}

fn invalid(field: &'static str, reason: impl Into<String>) -> MediationError {
    MediationError::Invalid { field, reason: reason.into() }
}

fn required(field: &'static str, value: &str) -> Result<(), MediationError> {
    if value.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    Ok(())
}

fn refused(command: &MediationCommand, stage: &Stage, reason: impl Into<String>) -> MediationError {
    MediationError::Refused { command: command.name(), stage: stage.name(), reason: reason.into() }
}

/// Every name must be someone in `among`, and no name may appear twice across the lists.
fn check_names<'a>(
    field: &'static str,
    names: impl IntoIterator<Item = &'a String>,
    among: &[String],
    what: &str,
) -> Result<(), MediationError> {
    let mut seen: Vec<&String> = Vec::new();
    for name in names {
        required(field, name)?;
        if !among.contains(name) {
            return Err(invalid(field, format!("{name} is not {what}")));
        }
        if seen.contains(&name) {
            return Err(invalid(field, format!("{name} is named twice")));
        }
        seen.push(name);
    }
    Ok(())
}

/// Decide what a command does to a session. Pure: the same inputs give the same events.
pub fn decide(
    state: &Mediation,
    command: &MediationCommand,
    rules: &MediationRules,
    calendar: &WorkingCalendar,
    now: Timestamp,
) -> Result<Vec<MediationEvent>, MediationError> {
    use MediationCommand as C;
    use MediationEvent as E;
    let (session, stage) = match (state, command) {
        (Mediation::New, C::Open { origin, level, topic, kind, professional, convenor }) => {
            required("topic", topic)?;
            required("convenor", convenor)?;
            if let Origin::CollectedTopic { collected_from } = origin {
                required("collected_from", collected_from)?;
            }
            if let Some(role) = professional {
                if !role.is_professional() {
                    return Err(invalid(
                        "professional",
                        "must be a legal worker, property company, grid police or social organisation",
                    ));
                }
            }
            return Ok(vec![E::Opened {
                origin: origin.clone(),
                level: *level,
                topic: topic.clone(),
                kind: *kind,
                professional: *professional,
                convenor: convenor.clone(),
            }]);
        }
        // Opening an existing session again is a redelivery: nothing new.
        (_, C::Open { .. }) => return Ok(vec![]),
        (Mediation::New, _) => return Err(MediationError::NotFound),
        (Mediation::Concluded { session, follow_up, .. }, C::FollowUp { note, settled }) => {
            required("note", note)?;
            if follow_up.is_none() {
                return Err(MediationError::Refused {
                    command: command.name(),
                    stage: "concluded",
                    reason: "no follow-up is pending: the matter failed or is settled".into(),
                });
            }
            let next_due = (!settled).then(|| now + session.kind.follow_up_every());
            return Ok(vec![E::FollowedUp { note: note.clone(), next_due }]);
        }
        (Mediation::Concluded { session, follow_up, .. }, C::FollowUpTimerFired { due }) => {
            // A stale timer (the follow-up was made, or settled) or an early one does nothing.
            if *follow_up != Some(*due) || now < *due {
                return Ok(vec![]);
            }
            return Ok(vec![E::FollowUpOverdue { due: *due, next_due: *due + session.kind.follow_up_every() }]);
        }
        (_, C::FollowUpTimerFired { .. }) => return Ok(vec![]),
        (Mediation::Concluded { .. }, _) => return Err(MediationError::AlreadyConcluded),
        (Mediation::Open { session, stage }, _) => (session, stage),
    };

    // 监督 starts with an agreement or a consultation.
    let follow_up = E::FollowUpScheduled { due: now + session.kind.follow_up_every() };
    match (command, stage) {
        (C::Open { .. } | C::FollowUpTimerFired { .. }, _) => unreachable!("handled above"),
        (C::FollowUp { .. }, _) => Err(refused(command, stage, "follow-ups start once the matter is concluded")),

        (C::Invite { participant }, Stage::Proposed | Stage::Notified) => {
            required("name", &participant.name)?;
            if participant.role == Role::Convenor {
                return Err(invalid("role", "the session has its convenor already"));
            }
            if let Some(existing) = session.invited(&participant.name) {
                if existing.role == Role::Convenor && participant.role == Role::Party {
                    return Err(refused(command, stage, "the chair is neutral: the convenor cannot be a party"));
                }
                return Err(refused(command, stage, format!("{} is invited already", participant.name)));
            }
            Ok(vec![E::Invited { participant: participant.clone() }])
        }
        (C::Invite { .. }, _) => Err(refused(command, stage, "participants are invited before the session sits")),

        (C::Notify, Stage::Proposed) => {
            if session.origin.case_id().is_some() && session.parties().next().is_none() {
                return Err(refused(command, stage, "a dispute needs its parties invited"));
            }
            if let Some(role) = session.professional {
                if !session.participants.iter().any(|p| p.role == role) {
                    return Err(refused(command, stage, format!("a professional matter needs a {role:?} invited")));
                }
            }
            if session.participants.len() < 2 {
                return Err(refused(command, stage, "nobody is invited besides the convenor"));
            }
            Ok(vec![E::Notified])
        }
        (C::Notify, _) => Err(refused(command, stage, "participants are notified once, after the topic is proposed")),

        (C::OpenDeliberation { present }, Stage::Notified) => {
            if present.is_empty() {
                return Err(invalid("present", "must name who attended"));
            }
            let invited: Vec<String> = session.participants.iter().map(|p| p.name.clone()).collect();
            check_names("present", present, &invited, "invited")?;
            if !present.contains(&session.convenor) {
                return Err(refused(command, stage, "the convenor must chair the session"));
            }
            let needed = u64::from(rules.quorum_percent) * invited.len() as u64;
            if (present.len() as u64) * 100 < needed {
                return Err(refused(
                    command,
                    stage,
                    format!(
                        "no quorum: {} of {} invited present, {}% needed",
                        present.len(),
                        invited.len(),
                        rules.quorum_percent
                    ),
                ));
            }
            if let Some(role) = session.professional {
                let there = present.iter().any(|name| session.invited(name).is_some_and(|p| p.role == role));
                if !there {
                    return Err(refused(command, stage, format!("a professional matter needs a {role:?} present")));
                }
            }
            Ok(vec![E::DeliberationOpened { present: present.clone() }])
        }
        (C::OpenDeliberation { .. }, _) => {
            Err(refused(command, stage, "the session sits once its participants are notified"))
        }

        (C::MakeStatement { statement }, Stage::Deliberating { present, statements }) => {
            required("text", &statement.text)?;
            check_names("speaker", [&statement.speaker], present, "present")?;
            let turns = statements.iter().filter(|s| s.speaker == statement.speaker).count() as u64;
            if turns >= u64::from(rules.max_turns) {
                return Err(refused(
                    command,
                    stage,
                    format!("{} has used all {} turns", statement.speaker, rules.max_turns),
                ));
            }
            Ok(vec![E::StatementMade { statement: statement.clone() }])
        }
        (C::MakeStatement { .. }, _) => Err(refused(command, stage, "statements are made while the session sits")),

        (C::PutMotion { motion, yes, no, abstain }, Stage::Deliberating { present, statements }) => {
            required("motion", motion)?;
            if !session.kind.votes() {
                return Err(refused(command, stage, "a consultation or hearing is recorded, not voted"));
            }
            if statements.is_empty() {
                return Err(refused(command, stage, "the matter must be discussed before the vote"));
            }
            check_names("votes", yes.iter().chain(no).chain(abstain), present, "present")?;
            // Simple majority of those present: silence is not a yes.
            let carried = yes.len() * 2 > present.len();
            Ok(vec![E::MotionVoted {
                motion: motion.clone(),
                yes: yes.clone(),
                no: no.clone(),
                abstain: abstain.clone(),
                carried,
            }])
        }
        (C::PutMotion { .. }, _) => Err(refused(command, stage, "a motion is put while the session sits")),

        (C::SignAgreement { signed_by, residents_concerned }, Stage::Decided { .. }) => {
            if signed_by.is_empty() {
                return Err(invalid("signed_by", "an agreement must be signed by the parties"));
            }
            let invited: Vec<String> = session.participants.iter().map(|p| p.name.clone()).collect();
            check_names("signed_by", signed_by, &invited, "a participant")?;
            if let Some(missing) = session.parties().find(|p| !signed_by.contains(&p.name)) {
                return Err(refused(command, stage, format!("party {} has not signed", missing.name)));
            }
            if *residents_concerned == 0 {
                return Err(invalid("residents_concerned", "must be at least 1"));
            }
            Ok(vec![E::AgreementSigned {
                signed_by: signed_by.clone(),
                notice_until: calendar.deadline(now, &rules.notice),
                residents_concerned: *residents_concerned,
            }])
        }
        (C::SignAgreement { .. }, _) => Err(refused(command, stage, "only a carried motion can be signed")),

        (C::RaiseObjection { residents }, Stage::InNotice(notice)) => {
            if residents.is_empty() {
                return Err(invalid("residents", "must name who objects"));
            }
            for name in residents {
                required("residents", name)?;
            }
            if now >= notice.until {
                return Err(refused(command, stage, "the notice period is over"));
            }
            let mut objectors = notice.objectors.clone();
            for name in residents {
                if !objectors.contains(name) {
                    objectors.push(name.clone());
                }
            }
            if objectors.len() > notice.residents_concerned as usize {
                return Err(invalid("residents", "more objectors than residents concerned"));
            }
            Ok(vec![E::ObjectionRaised {
                residents: residents.clone(),
                threshold_reached: reaches_fifth(objectors.len(), notice.residents_concerned),
            }])
        }
        (C::RaiseObjection { .. }, _) => Err(refused(command, stage, "objections are raised during the notice period")),

        (C::RespondToObjection { response, reason }, Stage::Contested(_) | Stage::Suspended { .. }) => {
            required("reason", reason)?;
            match (response, stage) {
                (Response::Reconsider, _) => Ok(vec![E::Reconsidered { reason: reason.clone() }]),
                (Response::Suspend, Stage::Contested(_)) => Ok(vec![E::ExecutionSuspended { reason: reason.clone() }]),
                (Response::Suspend, _) => Err(refused(command, stage, "execution is suspended already")),
            }
        }
        (C::RespondToObjection { .. }, _) => {
            Err(refused(command, stage, "only an objection by one fifth of the residents concerned needs a response"))
        }

        (C::Execute, Stage::InNotice(notice)) => {
            if now < notice.until {
                return Err(refused(
                    command,
                    stage,
                    format!("execution waits for the notice period (until {})", notice.until),
                ));
            }
            Ok(vec![
                E::Concluded {
                    outcome: Outcome::Agreed,
                    summary: notice.motion.clone(),
                    signed_by: notice.signed_by.clone(),
                },
                follow_up,
            ])
        }
        (C::Execute, Stage::Contested(_) | Stage::Suspended { .. }) => {
            Err(refused(command, stage, "residents objected: the council must reconsider first"))
        }
        (C::Execute, _) => Err(refused(command, stage, "only a signed and published agreement is executed")),

        (C::RecordNoAgreement { referral, summary }, Stage::Deliberating { .. } | Stage::Decided { .. }) => {
            required("summary", summary)?;
            match referral {
                Referral::BackToUnit => {
                    return Err(invalid("referral", "a council without agreement escalates or refers to litigation"))
                }
                Referral::EscalateOneLevel if session.level.up().is_none() => {
                    return Err(refused(command, stage, "the street council is the highest; refer to litigation"))
                }
                _ => {}
            }
            Ok(vec![E::Concluded { outcome: Outcome::Failed(*referral), summary: summary.clone(), signed_by: vec![] }])
        }
        (C::RecordNoAgreement { .. }, _) => {
            Err(refused(command, stage, "a session without agreement is recorded after it sat"))
        }

        (C::RecordConsultation { summary }, Stage::Deliberating { .. }) => {
            required("summary", summary)?;
            if session.kind.votes() {
                return Err(refused(command, stage, "a deliberation or decision matter ends in a vote"));
            }
            Ok(vec![
                E::Concluded { outcome: Outcome::Consultation, summary: summary.clone(), signed_by: vec![] },
                follow_up,
            ])
        }
        (C::RecordConsultation { .. }, _) => Err(refused(command, stage, "a consultation is recorded while it sits")),

        (
            C::Conclude { agreed, summary, signed_by },
            Stage::Proposed | Stage::Notified | Stage::Deliberating { .. },
        ) => {
            required("summary", summary)?;
            if *agreed && signed_by.iter().all(|s| s.trim().is_empty()) {
                return Err(invalid("signed_by", "an agreement must be signed by the parties"));
            }
            let outcome = if *agreed { Outcome::Agreed } else { Outcome::Failed(Referral::BackToUnit) };
            Ok(vec![E::Concluded { outcome, summary: summary.clone(), signed_by: signed_by.clone() }])
        }
        (C::Conclude { .. }, _) => {
            Err(refused(command, stage, "a council that decided concludes through its notice or its referral"))
        }
    }
}

/// At least one fifth of the residents concerned (五分之一以上).
pub fn reaches_fifth(objectors: usize, residents_concerned: u32) -> bool {
    objectors as u64 * 5 >= u64::from(residents_concerned)
}

/// Fold one event into the state, or refuse it as a [`Misfit`] when it cannot follow the state
/// (no decision produces it there): a stream holding such an event cannot be trusted.
pub fn evolve(state: Mediation, event: &MediationEvent) -> Result<Mediation, Misfit> {
    use MediationEvent as E;
    let misfit = |state: &'static str| Misfit { aggregate: "mediation", event: event.type_name(), state };
    let (mut session, stage) = match (state, event) {
        (Mediation::New, E::Opened { origin, level, topic, kind, professional, convenor }) => {
            return Ok(Mediation::Open {
                session: Session {
                    origin: origin.clone(),
                    level: *level,
                    topic: topic.clone(),
                    kind: *kind,
                    professional: *professional,
                    convenor: convenor.clone(),
                    participants: vec![Participant { name: convenor.clone(), role: Role::Convenor }],
                    reconsiderations: 0,
                },
                stage: Stage::Proposed,
            })
        }
        (Mediation::Concluded { session, outcome, summary, signed_by, follow_up, follow_ups }, event) => {
            let (follow_up, follow_ups) = match (event, follow_up) {
                (E::FollowUpScheduled { due }, _) => (Some(*due), follow_ups),
                (E::FollowUpOverdue { next_due, .. }, Some(_)) => (Some(*next_due), follow_ups),
                (E::FollowedUp { next_due, .. }, Some(_)) => (*next_due, follow_ups + 1),
                _ => return Err(misfit("concluded")),
            };
            return Ok(Mediation::Concluded { session, outcome, summary, signed_by, follow_up, follow_ups });
        }
        (Mediation::Open { session, stage }, _) => (session, stage),
        (Mediation::New, _) => return Err(misfit("new")),
    };
    let stage = match (event, stage) {
        (E::Invited { participant }, stage @ (Stage::Proposed | Stage::Notified)) => {
            session.participants.push(participant.clone());
            stage
        }
        (E::Notified, Stage::Proposed) => Stage::Notified,
        (E::DeliberationOpened { present }, Stage::Notified) => {
            Stage::Deliberating { present: present.clone(), statements: vec![] }
        }
        (E::StatementMade { statement }, Stage::Deliberating { present, mut statements }) => {
            statements.push(statement.clone());
            Stage::Deliberating { present, statements }
        }
        (E::MotionVoted { motion, carried: true, .. }, Stage::Deliberating { present, .. }) => {
            Stage::Decided { present, motion: motion.clone() }
        }
        // A motion that did not carry leaves the session sitting.
        (E::MotionVoted { carried: false, .. }, stage @ Stage::Deliberating { .. }) => stage,
        (E::AgreementSigned { signed_by, notice_until, residents_concerned }, Stage::Decided { motion, .. }) => {
            Stage::InNotice(Notice {
                motion,
                signed_by: signed_by.clone(),
                until: *notice_until,
                residents_concerned: *residents_concerned,
                objectors: vec![],
            })
        }
        (E::ObjectionRaised { residents, threshold_reached }, Stage::InNotice(mut notice)) => {
            for name in residents {
                if !notice.objectors.contains(name) {
                    notice.objectors.push(name.clone());
                }
            }
            if *threshold_reached {
                Stage::Contested(notice)
            } else {
                Stage::InNotice(notice)
            }
        }
        (E::Reconsidered { .. }, Stage::Contested(_) | Stage::Suspended { .. }) => {
            session.reconsiderations += 1;
            Stage::Notified
        }
        (E::ExecutionSuspended { reason }, Stage::Contested(notice)) => {
            Stage::Suspended { notice, reason: reason.clone() }
        }
        // Residents objected: nothing concludes until the council reconsiders.
        (E::Concluded { outcome, summary, signed_by }, stage)
            if !matches!(stage, Stage::Contested(_) | Stage::Suspended { .. }) =>
        {
            return Ok(Mediation::Concluded {
                session,
                outcome: *outcome,
                summary: summary.clone(),
                signed_by: signed_by.clone(),
                follow_up: None,
                follow_ups: 0,
            })
        }
        (_, stage) => return Err(misfit(stage.name())),
    };
    Ok(Mediation::Open { session, stage })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use uuid::Uuid;

    fn t0() -> Timestamp {
        chrono::Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
    }

    fn rules() -> MediationRules {
        MediationRules::default()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn opened_with(kind: MatterKind, professional: Option<Role>) -> MediationEvent {
        MediationEvent::Opened {
            origin: Origin::Case { case_id: CaseId(Uuid::nil()) },
            level: SessionLevel::Grid,
            topic: "noise from the shop below".into(),
            kind,
            professional,
            convenor: "Chair".into(),
        }
    }

    fn opened() -> MediationEvent {
        opened_with(MatterKind::Deliberation, None)
    }

    fn invited(name: &str, role: Role) -> MediationEvent {
        MediationEvent::Invited { participant: Participant { name: name.into(), role } }
    }

    /// A grid session for a dispute: convenor, two parties, a grid worker and a legal worker.
    fn notified() -> Vec<MediationEvent> {
        vec![
            opened(),
            invited("Zhang", Role::Party),
            invited("Li", Role::Party),
            invited("Wang", Role::GridWorker),
            invited("Zhao", Role::LegalWorker),
            MediationEvent::Notified,
        ]
    }

    fn sitting() -> Vec<MediationEvent> {
        let mut events = notified();
        events.push(MediationEvent::DeliberationOpened { present: names(&["Chair", "Zhang", "Li", "Wang", "Zhao"]) });
        events.push(MediationEvent::StatementMade {
            statement: Statement { speaker: "Zhang".into(), text: "the noise goes on past 22:00".into() },
        });
        events
    }

    fn decided() -> Vec<MediationEvent> {
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

    /// Signed and published to 10 residents concerned.
    fn in_notice() -> Vec<MediationEvent> {
        let mut events = decided();
        events.push(MediationEvent::AgreementSigned {
            signed_by: names(&["Zhang", "Li"]),
            notice_until: t0() + Duration::days(7),
            residents_concerned: 10,
        });
        events
    }

    fn contested() -> Vec<MediationEvent> {
        let mut events = in_notice();
        events.push(MediationEvent::ObjectionRaised { residents: names(&["r1", "r2"]), threshold_reached: true });
        events
    }

    fn given(events: &[MediationEvent]) -> Mediation {
        events.iter().try_fold(Mediation::default(), evolve).expect("a history decide can produce")
    }

    fn calendar() -> WorkingCalendar {
        WorkingCalendar::china_mainland()
    }

    fn when(events: &[MediationEvent], command: MediationCommand) -> Result<Vec<MediationEvent>, MediationError> {
        decide(&given(events), &command, &rules(), &calendar(), t0())
    }

    fn when_at(
        events: &[MediationEvent],
        command: MediationCommand,
        now: Timestamp,
    ) -> Result<Vec<MediationEvent>, MediationError> {
        decide(&given(events), &command, &rules(), &calendar(), now)
    }

    /// The step was refused by the procedure, with a reason that says why.
    fn assert_refused(result: Result<Vec<MediationEvent>, MediationError>, stage: &str, reason_contains: &str) {
        match result {
            Err(MediationError::Refused { stage: s, reason, .. }) => {
                assert_eq!(s, stage);
                assert!(reason.contains(reason_contains), "reason {reason:?} lacks {reason_contains:?}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn assert_invalid(result: Result<Vec<MediationEvent>, MediationError>, field: &str) {
        assert!(
            matches!(&result, Err(MediationError::Invalid { field: f, .. }) if *f == field),
            "expected invalid {field}, got {result:?}"
        );
    }

    fn stage_of(events: &[MediationEvent]) -> &'static str {
        given(events).state_name()
    }

    fn statement(speaker: &str) -> MediationCommand {
        MediationCommand::MakeStatement { statement: Statement { speaker: speaker.into(), text: "I see it so".into() } }
    }

    fn motion(yes: &[&str], no: &[&str]) -> MediationCommand {
        MediationCommand::PutMotion {
            motion: "quiet hours from 22:00".into(),
            yes: names(yes),
            no: names(no),
            abstain: vec![],
        }
    }

    // ---- 提议: opening ---------------------------------------------------------------------

    #[test]
    fn given_nothing_when_a_session_opens_then_it_is_proposed_with_its_convenor_and_a_redelivery_adds_nothing() {
        let cmd = MediationCommand::Open {
            origin: Origin::Case { case_id: CaseId(Uuid::nil()) },
            level: SessionLevel::Grid,
            topic: "noise from the shop below".into(),
            kind: MatterKind::Deliberation,
            professional: None,
            convenor: "Chair".into(),
        };
        let events = when(&[], cmd.clone()).unwrap();
        assert_eq!(events, vec![opened()]);
        let state = given(&events);
        assert_eq!(state.state_name(), "proposed");
        assert_eq!(
            state.session().unwrap().participants,
            vec![Participant { name: "Chair".into(), role: Role::Convenor }]
        );
        assert_eq!(when(&events, cmd), Ok(vec![]));
    }

    #[test]
    fn given_nothing_when_a_collected_topic_opens_a_building_session_then_it_has_no_case() {
        let cmd = MediationCommand::Open {
            origin: Origin::CollectedTopic { collected_from: "痛点箱".into() },
            level: SessionLevel::Building,
            topic: "charging points for e-bikes".into(),
            kind: MatterKind::Consultation,
            professional: None,
            convenor: "Chair".into(),
        };
        let state = given(&when(&[], cmd).unwrap());
        assert_eq!(state.session().unwrap().origin.case_id(), None);
        assert_eq!(state.session().unwrap().level, SessionLevel::Building);
    }

    #[test]
    fn given_nothing_when_a_session_opens_without_topic_convenor_or_with_a_lay_professional_then_it_is_invalid() {
        let open = |topic: &str, convenor: &str, professional| MediationCommand::Open {
            origin: Origin::Case { case_id: CaseId(Uuid::nil()) },
            level: SessionLevel::Grid,
            topic: topic.into(),
            kind: MatterKind::Deliberation,
            professional,
            convenor: convenor.into(),
        };
        assert_invalid(when(&[], open(" ", "Chair", None)), "topic");
        assert_invalid(when(&[], open("noise", "", None)), "convenor");
        assert_invalid(when(&[], open("noise", "Chair", Some(Role::Party))), "professional");
    }

    #[test]
    fn given_no_session_when_any_step_is_taken_then_it_is_not_found() {
        assert_eq!(when(&[], MediationCommand::Notify), Err(MediationError::NotFound));
    }

    // ---- invitations and 告知 -------------------------------------------------------------

    #[test]
    fn given_a_proposed_session_when_participants_are_invited_then_they_join_by_role() {
        let events = when(
            &[opened()],
            MediationCommand::Invite { participant: Participant { name: "Zhang".into(), role: Role::Party } },
        )
        .unwrap();
        assert_eq!(events, vec![invited("Zhang", Role::Party)]);
        let state = given(&[opened(), invited("Zhang", Role::Party)]);
        assert_eq!(state.session().unwrap().participants.len(), 2);
    }

    #[test]
    fn given_a_proposed_session_when_someone_is_invited_twice_or_the_convenor_as_a_party_then_it_is_refused() {
        let invite =
            |name: &str, role| MediationCommand::Invite { participant: Participant { name: name.into(), role } };
        let events = [opened(), invited("Zhang", Role::Party)];
        assert_refused(when(&events, invite("Zhang", Role::GridWorker)), "proposed", "invited already");
        assert_refused(when(&events, invite("Chair", Role::Party)), "proposed", "neutral");
        assert_invalid(when(&events, invite("Other", Role::Convenor)), "role");
        assert_invalid(when(&events, invite(" ", Role::GridWorker)), "name");
    }

    #[test]
    fn given_a_sitting_session_when_someone_is_invited_then_it_is_refused() {
        let invite =
            MediationCommand::Invite { participant: Participant { name: "Late".into(), role: Role::CppccMember } };
        assert_refused(when(&sitting(), invite), "deliberating", "before the session sits");
    }

    #[test]
    fn given_invited_parties_when_participants_are_notified_then_the_session_is_notified() {
        let events = &notified()[..5];
        assert_eq!(when(events, MediationCommand::Notify), Ok(vec![MediationEvent::Notified]));
        assert_eq!(stage_of(&notified()), "notified");
    }

    #[test]
    fn given_a_dispute_without_parties_when_notified_then_it_is_refused() {
        let events = [opened(), invited("Wang", Role::GridWorker)];
        assert_refused(when(&events, MediationCommand::Notify), "proposed", "parties");
    }

    #[test]
    fn given_a_professional_matter_without_the_professional_invited_when_notified_then_it_is_refused() {
        let events =
            [opened_with(MatterKind::Deliberation, Some(Role::PropertyCompany)), invited("Zhang", Role::Party)];
        assert_refused(when(&events, MediationCommand::Notify), "proposed", "PropertyCompany invited");
    }

    #[test]
    fn given_a_notified_session_when_notified_again_then_it_is_refused() {
        assert_refused(when(&notified(), MediationCommand::Notify), "notified", "once");
    }

    // ---- 协商: attendance, quorum, professionals, statements --------------------------------

    #[test]
    fn given_a_notified_session_when_a_quorum_attends_then_it_sits() {
        let present = names(&["Chair", "Zhang", "Li"]);
        let events = when(&notified(), MediationCommand::OpenDeliberation { present: present.clone() }).unwrap();
        assert_eq!(events, vec![MediationEvent::DeliberationOpened { present }]);
    }

    #[test]
    fn given_a_notified_session_when_fewer_than_the_quorum_attend_then_it_is_refused() {
        // 2 of 5 invited is 40%, under the 50% quorum.
        let cmd = MediationCommand::OpenDeliberation { present: names(&["Chair", "Zhang"]) };
        assert_refused(when(&notified(), cmd.clone()), "notified", "no quorum");
        // The quorum is configurable: at 40% the same attendance sits.
        let lower = MediationRules { quorum_percent: 40, ..rules() };
        assert!(decide(&given(&notified()), &cmd, &lower, &calendar(), t0()).is_ok());
    }

    #[test]
    fn given_a_notified_session_when_the_convenor_is_absent_or_a_stranger_attends_then_it_is_refused() {
        let absent_chair = MediationCommand::OpenDeliberation { present: names(&["Zhang", "Li", "Wang"]) };
        assert_refused(when(&notified(), absent_chair), "notified", "convenor");
        let stranger = MediationCommand::OpenDeliberation { present: names(&["Chair", "Zhang", "Stranger"]) };
        assert_invalid(when(&notified(), stranger), "present");
        let twice = MediationCommand::OpenDeliberation { present: names(&["Chair", "Zhang", "Zhang"]) };
        assert_invalid(when(&notified(), twice), "present");
    }

    #[test]
    fn given_a_professional_matter_when_the_professional_is_absent_then_it_does_not_sit() {
        let mut events = vec![opened_with(MatterKind::Decision, Some(Role::LegalWorker))];
        events.extend(notified().into_iter().skip(1));
        let without = MediationCommand::OpenDeliberation { present: names(&["Chair", "Zhang", "Li"]) };
        assert_refused(when(&events, without), "notified", "LegalWorker present");
        let with = MediationCommand::OpenDeliberation { present: names(&["Chair", "Zhang", "Zhao"]) };
        assert!(when(&events, with).is_ok());
    }

    #[test]
    fn given_a_proposed_session_when_it_sits_before_notice_then_it_is_refused() {
        let cmd = MediationCommand::OpenDeliberation { present: names(&["Chair"]) };
        assert_refused(when(&[opened()], cmd), "proposed", "notified");
    }

    #[test]
    fn given_a_sitting_session_when_a_present_participant_speaks_then_the_statement_is_recorded() {
        let events = when(&sitting(), statement("Li")).unwrap();
        assert!(matches!(&events[..], [MediationEvent::StatementMade { statement }] if statement.speaker == "Li"));
    }

    #[test]
    fn given_a_sitting_session_when_an_absent_participant_or_one_out_of_turns_speaks_then_it_is_refused() {
        let mut events = notified();
        events.push(MediationEvent::DeliberationOpened { present: names(&["Chair", "Zhang", "Li"]) });
        assert_invalid(when(&events, statement("Wang")), "speaker");
        for _ in 0..rules().max_turns {
            events.extend(when(&events, statement("Zhang")).unwrap());
        }
        assert_refused(when(&events, statement("Zhang")), "deliberating", "all 3 turns");
    }

    #[test]
    fn given_a_notified_session_when_someone_speaks_then_it_is_refused() {
        assert_refused(when(&notified(), statement("Zhang")), "notified", "while the session sits");
    }

    // ---- 决策: motion and vote ------------------------------------------------------------

    #[test]
    fn given_a_sitting_session_when_a_simple_majority_of_those_present_votes_yes_then_the_motion_carries() {
        // 5 present: 3 yes carries.
        let events = when(&sitting(), motion(&["Chair", "Zhang", "Li"], &["Wang"])).unwrap();
        assert!(matches!(&events[..], [MediationEvent::MotionVoted { carried: true, .. }]));
        let mut after = sitting();
        after.extend(events);
        assert_eq!(stage_of(&after), "decided");
    }

    #[test]
    fn given_a_sitting_session_when_half_of_those_present_vote_yes_then_the_motion_fails_and_it_sits_on() {
        // 5 present: 2 yes and 2 abstentions by silence is not a majority.
        let events = when(&sitting(), motion(&["Zhang", "Li"], &["Wang"])).unwrap();
        assert!(matches!(&events[..], [MediationEvent::MotionVoted { carried: false, .. }]));
        let mut after = sitting();
        after.extend(events);
        assert_eq!(stage_of(&after), "deliberating");
    }

    #[test]
    fn given_a_sitting_session_when_an_absent_or_double_voter_is_counted_then_it_is_invalid() {
        let mut events = notified();
        events.push(MediationEvent::DeliberationOpened { present: names(&["Chair", "Zhang", "Li"]) });
        events.push(MediationEvent::StatementMade { statement: Statement { speaker: "Li".into(), text: "x".into() } });
        assert_invalid(when(&events, motion(&["Chair", "Wang"], &[])), "votes");
        assert_invalid(when(&events, motion(&["Chair", "Zhang"], &["Zhang"])), "votes");
    }

    #[test]
    fn given_a_sitting_session_without_statements_when_a_motion_is_put_then_it_is_refused() {
        let mut events = notified();
        events.push(MediationEvent::DeliberationOpened { present: names(&["Chair", "Zhang", "Li"]) });
        assert_refused(when(&events, motion(&["Chair", "Zhang", "Li"], &[])), "deliberating", "discussed");
    }

    #[test]
    fn given_a_consultation_when_a_motion_is_put_then_it_is_refused_and_its_result_is_recorded_instead() {
        let mut events = vec![opened_with(MatterKind::Consultation, None)];
        events.extend(sitting().into_iter().skip(1));
        assert_refused(when(&events, motion(&["Chair", "Zhang", "Li"], &[])), "deliberating", "not voted");
        let recorded = when(&events, MediationCommand::RecordConsultation { summary: "views heard".into() }).unwrap();
        assert_eq!(
            recorded[1..],
            [MediationEvent::FollowUpScheduled { due: t0() + Duration::days(30) }],
            "a consultation is followed up monthly"
        );
        assert!(matches!(&recorded[0], MediationEvent::Concluded { outcome: Outcome::Consultation, .. }));
    }

    #[test]
    fn given_a_deliberation_matter_when_it_is_recorded_as_a_consultation_then_it_is_refused() {
        let cmd = MediationCommand::RecordConsultation { summary: "views heard".into() };
        assert_refused(when(&sitting(), cmd), "deliberating", "ends in a vote");
    }

    #[test]
    fn given_a_notified_session_when_a_motion_is_put_then_it_is_refused() {
        assert_refused(when(&notified(), motion(&["Chair"], &[])), "notified", "while the session sits");
    }

    // ---- 签字确认 and 公示 ------------------------------------------------------------------

    #[test]
    fn given_a_carried_motion_when_every_party_signs_then_it_is_published_for_the_notice_period() {
        let cmd = MediationCommand::SignAgreement { signed_by: names(&["Zhang", "Li"]), residents_concerned: 10 };
        let events = when(&decided(), cmd).unwrap();
        assert_eq!(
            events,
            vec![MediationEvent::AgreementSigned {
                signed_by: names(&["Zhang", "Li"]),
                notice_until: t0() + Duration::days(7),
                residents_concerned: 10,
            }]
        );
        let longer = MediationRules { notice: Sla::Calendar(Duration::days(10)), ..rules() };
        let cmd = MediationCommand::SignAgreement { signed_by: names(&["Zhang", "Li"]), residents_concerned: 10 };
        let events = decide(&given(&decided()), &cmd, &longer, &calendar(), t0()).unwrap();
        assert!(
            matches!(&events[..], [MediationEvent::AgreementSigned { notice_until, .. }] if *notice_until == t0() + Duration::days(10))
        );
    }

    #[test]
    fn given_a_notice_in_working_days_when_the_agreement_is_signed_then_it_runs_to_close_of_business_on_the_calendar() {
        // Monday 2026-03-02 17:00 in Beijing; 7 working days counted from Tuesday end on
        // Wednesday 2026-03-11 at 18:00 (10:00 UTC), past the weekend of 7-8 March.
        let working = MediationRules { notice: Sla::Working(crate::calendar::WorkingTime::Days(7)), ..rules() };
        let cmd = MediationCommand::SignAgreement { signed_by: names(&["Zhang", "Li"]), residents_concerned: 10 };
        let events = decide(&given(&decided()), &cmd, &working, &calendar(), t0()).unwrap();
        let until = chrono::Utc.with_ymd_and_hms(2026, 3, 11, 10, 0, 0).unwrap();
        assert!(
            matches!(&events[..], [MediationEvent::AgreementSigned { notice_until, .. }] if *notice_until == until)
        );
        // Over the Labour Day holiday (1-5 May 2026) the same notice lasts longer on the wall clock.
        let before_holiday = chrono::Utc.with_ymd_and_hms(2026, 4, 29, 2, 0, 0).unwrap();
        let events = decide(&given(&decided()), &cmd, &working, &calendar(), before_holiday).unwrap();
        let [MediationEvent::AgreementSigned { notice_until, .. }] = &events[..] else { panic!("{events:?}") };
        assert!(*notice_until - before_holiday > Duration::days(11), "{notice_until}");
    }

    #[test]
    fn given_a_carried_motion_when_a_party_has_not_signed_then_it_is_refused() {
        let cmd = MediationCommand::SignAgreement { signed_by: names(&["Zhang"]), residents_concerned: 10 };
        assert_refused(when(&decided(), cmd), "decided", "party Li has not signed");
        let none = MediationCommand::SignAgreement { signed_by: vec![], residents_concerned: 10 };
        assert_invalid(when(&decided(), none), "signed_by");
        let nobody = MediationCommand::SignAgreement { signed_by: names(&["Zhang", "Li"]), residents_concerned: 0 };
        assert_invalid(when(&decided(), nobody), "residents_concerned");
    }

    #[test]
    fn given_a_sitting_session_without_a_carried_motion_when_it_is_signed_then_it_is_refused() {
        let cmd = MediationCommand::SignAgreement { signed_by: names(&["Zhang", "Li"]), residents_concerned: 10 };
        assert_refused(when(&sitting(), cmd), "deliberating", "carried motion");
    }

    // ---- objections: the one-fifth threshold ------------------------------------------------

    #[test]
    fn the_objection_threshold_is_at_least_one_fifth() {
        assert!(!reaches_fifth(1, 10));
        assert!(reaches_fifth(2, 10));
        assert!(reaches_fifth(3, 10));
        assert!(!reaches_fifth(20, 101));
        assert!(reaches_fifth(21, 101));
        assert!(reaches_fifth(1, 5));
    }

    #[test]
    fn given_an_agreement_in_notice_when_fewer_than_one_fifth_object_then_it_stays_in_notice() {
        let cmd = MediationCommand::RaiseObjection { residents: names(&["r1"]) };
        let events = when(&in_notice(), cmd).unwrap();
        assert_eq!(
            events,
            vec![MediationEvent::ObjectionRaised { residents: names(&["r1"]), threshold_reached: false }]
        );
        let mut after = in_notice();
        after.extend(events);
        assert_eq!(stage_of(&after), "in_notice");
        // The same resident objecting again does not count twice.
        let again = when(&after, MediationCommand::RaiseObjection { residents: names(&["r1"]) }).unwrap();
        assert!(matches!(&again[..], [MediationEvent::ObjectionRaised { threshold_reached: false, .. }]));
    }

    #[test]
    fn given_an_agreement_in_notice_when_exactly_one_fifth_object_then_it_is_contested() {
        let mut events = in_notice();
        events.extend(when(&events, MediationCommand::RaiseObjection { residents: names(&["r1"]) }).unwrap());
        let second = when(&events, MediationCommand::RaiseObjection { residents: names(&["r2"]) }).unwrap();
        assert_eq!(
            second,
            vec![MediationEvent::ObjectionRaised { residents: names(&["r2"]), threshold_reached: true }]
        );
        events.extend(second);
        assert_eq!(stage_of(&events), "contested");
    }

    #[test]
    fn given_an_agreement_when_objections_come_after_the_notice_period_or_exceed_the_residents_then_they_are_refused() {
        let late = when_at(
            &in_notice(),
            MediationCommand::RaiseObjection { residents: names(&["r1"]) },
            t0() + Duration::days(7),
        );
        assert_refused(late, "in_notice", "notice period is over");
        let too_many: Vec<String> = (0..11).map(|i| format!("r{i}")).collect();
        assert_invalid(when(&in_notice(), MediationCommand::RaiseObjection { residents: too_many }), "residents");
        assert_invalid(when(&in_notice(), MediationCommand::RaiseObjection { residents: vec![] }), "residents");
    }

    #[test]
    fn given_a_sitting_session_when_an_objection_is_raised_then_it_is_refused() {
        let cmd = MediationCommand::RaiseObjection { residents: names(&["r1"]) };
        assert_refused(when(&sitting(), cmd), "deliberating", "notice period");
    }

    #[test]
    fn given_a_contested_agreement_when_the_council_reconsiders_then_it_convenes_again_and_decides_anew() {
        let cmd = MediationCommand::RespondToObjection { response: Response::Reconsider, reason: "复议会".into() };
        let events = when(&contested(), cmd).unwrap();
        assert_eq!(events, vec![MediationEvent::Reconsidered { reason: "复议会".into() }]);
        let mut after = contested();
        after.extend(events);
        let state = given(&after);
        assert_eq!(state.state_name(), "notified");
        assert_eq!(state.session().unwrap().reconsiderations, 1);
        // The reconsideration sits, votes and publishes again, with a fresh objection count.
        after.push(MediationEvent::DeliberationOpened { present: names(&["Chair", "Zhang", "Li"]) });
        after.push(MediationEvent::StatementMade { statement: Statement { speaker: "Li".into(), text: "x".into() } });
        after.extend(when(&after, motion(&["Chair", "Zhang", "Li"], &[])).unwrap());
        let sign = MediationCommand::SignAgreement { signed_by: names(&["Zhang", "Li"]), residents_concerned: 10 };
        after.extend(when(&after, sign).unwrap());
        assert!(
            matches!(given(&after), Mediation::Open { stage: Stage::InNotice(notice), .. } if notice.objectors.is_empty())
        );
    }

    #[test]
    fn given_a_contested_agreement_when_execution_is_suspended_then_it_is_recorded_and_can_still_be_reconsidered() {
        let cmd = MediationCommand::RespondToObjection { response: Response::Suspend, reason: "暂缓执行".into() };
        let events = when(&contested(), cmd.clone()).unwrap();
        assert_eq!(events, vec![MediationEvent::ExecutionSuspended { reason: "暂缓执行".into() }]);
        let mut after = contested();
        after.extend(events);
        assert_eq!(stage_of(&after), "suspended");
        assert_refused(when(&after, cmd), "suspended", "suspended already");
        assert_refused(
            when_at(&after, MediationCommand::Execute, t0() + Duration::days(30)),
            "suspended",
            "reconsider",
        );
        let reconsider =
            MediationCommand::RespondToObjection { response: Response::Reconsider, reason: "again".into() };
        assert!(when(&after, reconsider).is_ok());
    }

    #[test]
    fn given_an_uncontested_agreement_when_the_council_responds_to_objections_then_it_is_refused() {
        let cmd = MediationCommand::RespondToObjection { response: Response::Reconsider, reason: "why".into() };
        assert_refused(when(&in_notice(), cmd), "in_notice", "one fifth");
        let no_reason = MediationCommand::RespondToObjection { response: Response::Reconsider, reason: "".into() };
        assert_invalid(when(&contested(), no_reason), "reason");
    }

    // ---- execution and outcomes --------------------------------------------------------------

    #[test]
    fn given_an_agreement_in_notice_when_the_notice_period_is_over_then_it_is_executed_as_agreed() {
        let now = t0() + Duration::days(7);
        let events = when_at(&in_notice(), MediationCommand::Execute, now).unwrap();
        assert_eq!(
            events,
            vec![
                MediationEvent::Concluded {
                    outcome: Outcome::Agreed,
                    summary: "quiet hours from 22:00".into(),
                    signed_by: names(&["Zhang", "Li"]),
                },
                MediationEvent::FollowUpScheduled { due: now + Duration::days(15) },
            ]
        );
        let mut after = in_notice();
        after.extend(events);
        assert_eq!(stage_of(&after), "concluded");
        assert_eq!(when(&after, MediationCommand::Execute), Err(MediationError::AlreadyConcluded));
    }

    #[test]
    fn given_an_agreement_in_notice_when_executed_before_the_notice_period_ends_then_it_is_refused() {
        let early = when_at(&in_notice(), MediationCommand::Execute, t0() + Duration::days(7) - Duration::seconds(1));
        assert_refused(early, "in_notice", "waits for the notice period");
    }

    #[test]
    fn given_a_contested_agreement_when_executed_then_it_is_refused() {
        assert_refused(
            when_at(&contested(), MediationCommand::Execute, t0() + Duration::days(8)),
            "contested",
            "reconsider",
        );
    }

    #[test]
    fn given_a_sitting_session_when_executed_then_it_is_refused() {
        assert_refused(when(&sitting(), MediationCommand::Execute), "deliberating", "signed and published");
    }

    #[test]
    fn given_a_session_without_agreement_when_it_escalates_or_refers_to_litigation_then_it_concludes_failed() {
        for referral in [Referral::EscalateOneLevel, Referral::Litigation] {
            let cmd = MediationCommand::RecordNoAgreement { referral, summary: "no agreement".into() };
            let events = when(&sitting(), cmd.clone()).unwrap();
            assert!(
                matches!(&events[..], [MediationEvent::Concluded { outcome: Outcome::Failed(r), .. }] if *r == referral)
            );
            // Parties who will not sign a carried motion end the same way.
            assert!(when(&decided(), cmd).is_ok());
        }
    }

    #[test]
    fn given_a_street_session_without_agreement_when_it_escalates_then_it_is_refused() {
        let mut events = sitting();
        events[0] = MediationEvent::Opened {
            origin: Origin::Case { case_id: CaseId(Uuid::nil()) },
            level: SessionLevel::Street,
            topic: "noise".into(),
            kind: MatterKind::Deliberation,
            professional: None,
            convenor: "Chair".into(),
        };
        let cmd = MediationCommand::RecordNoAgreement { referral: Referral::EscalateOneLevel, summary: "x".into() };
        assert_refused(when(&events, cmd), "deliberating", "highest");
        let back = MediationCommand::RecordNoAgreement { referral: Referral::BackToUnit, summary: "x".into() };
        assert_invalid(when(&events, back), "referral");
    }

    #[test]
    fn given_a_notified_session_when_no_agreement_is_recorded_then_it_is_refused() {
        let cmd = MediationCommand::RecordNoAgreement { referral: Referral::Litigation, summary: "x".into() };
        assert_refused(when(&notified(), cmd), "notified", "after it sat");
    }

    // ---- informal mediation (the simple conclude path) ------------------------------------

    fn conclude(agreed: bool, signed_by: &[&str]) -> MediationCommand {
        MediationCommand::Conclude { agreed, summary: "quiet hours agreed".into(), signed_by: names(signed_by) }
    }

    #[test]
    fn given_an_open_session_when_the_parties_sign_then_it_concludes_agreed() {
        let events = when(&[opened()], conclude(true, &["Zhang", "Li"])).unwrap();
        assert!(
            matches!(&events[..], [MediationEvent::Concluded { outcome: Outcome::Agreed, signed_by, .. }] if signed_by.len() == 2)
        );
    }

    #[test]
    fn given_an_open_session_when_an_agreement_has_no_signatures_then_it_is_refused() {
        assert_invalid(when(&[opened()], conclude(true, &[])), "signed_by");
    }

    #[test]
    fn given_an_open_session_when_it_fails_then_the_case_goes_back_to_its_unit() {
        let events = when(&[opened()], conclude(false, &[])).unwrap();
        assert!(matches!(
            &events[..],
            [MediationEvent::Concluded { outcome: Outcome::Failed(Referral::BackToUnit), .. }]
        ));
    }

    #[test]
    fn given_a_decided_or_concluded_session_when_it_is_concluded_informally_then_it_is_refused() {
        assert_refused(when(&decided(), conclude(false, &[])), "decided", "notice or its referral");
        let done = MediationEvent::Concluded {
            outcome: Outcome::Failed(Referral::BackToUnit),
            summary: "x".into(),
            signed_by: vec![],
        };
        assert_eq!(when(&[opened(), done], conclude(false, &[])), Err(MediationError::AlreadyConcluded));
    }

    // ---- 监督: follow-ups ------------------------------------------------------------------

    fn executed() -> Vec<MediationEvent> {
        let mut events = in_notice();
        events.extend(when_at(&events, MediationCommand::Execute, t0() + Duration::days(7)).unwrap());
        events
    }

    fn follow_up_of(events: &[MediationEvent]) -> (Option<Timestamp>, u32) {
        match given(events) {
            Mediation::Concluded { follow_up, follow_ups, .. } => (follow_up, follow_ups),
            other => panic!("not concluded: {other:?}"),
        }
    }

    #[test]
    fn given_an_executed_agreement_when_it_is_followed_up_then_the_next_is_due_in_half_a_month_until_settled() {
        let first_due = t0() + Duration::days(22);
        assert_eq!(follow_up_of(&executed()), (Some(first_due), 0));
        let mut events = executed();
        let later = t0() + Duration::days(20);
        let cmd = MediationCommand::FollowUp { note: "no noise after 22:00".into(), settled: false };
        events.extend(when_at(&events, cmd, later).unwrap());
        assert_eq!(follow_up_of(&events), (Some(later + Duration::days(15)), 1));
        let settle = MediationCommand::FollowUp { note: "settled".into(), settled: true };
        events.extend(when_at(&events, settle.clone(), later).unwrap());
        assert_eq!(follow_up_of(&events), (None, 2));
        assert_refused(when_at(&events, settle, later), "concluded", "no follow-up is pending");
    }

    #[test]
    fn given_a_pending_follow_up_when_its_timer_fires_then_it_is_overdue_and_the_next_is_set() {
        let due = t0() + Duration::days(22);
        let fired = when_at(&executed(), MediationCommand::FollowUpTimerFired { due }, due).unwrap();
        assert_eq!(fired, vec![MediationEvent::FollowUpOverdue { due, next_due: due + Duration::days(15) }]);
        let mut events = executed();
        events.extend(fired);
        assert_eq!(follow_up_of(&events), (Some(due + Duration::days(15)), 0));
        // The same timer again (stale), or one that fires early, does nothing.
        assert_eq!(when_at(&events, MediationCommand::FollowUpTimerFired { due }, due), Ok(vec![]));
        let next = due + Duration::days(15);
        assert_eq!(when_at(&events, MediationCommand::FollowUpTimerFired { due: next }, due), Ok(vec![]));
    }

    #[test]
    fn given_a_failed_or_open_session_when_followed_up_then_it_is_refused() {
        let cmd = MediationCommand::FollowUp { note: "n".into(), settled: false };
        assert_refused(when(&sitting(), cmd.clone()), "deliberating", "once the matter is concluded");
        let mut failed = sitting();
        failed.extend(
            when(&failed, MediationCommand::RecordNoAgreement { referral: Referral::Litigation, summary: "x".into() })
                .unwrap(),
        );
        assert_eq!(follow_up_of(&failed), (None, 0));
        assert_refused(when(&failed, cmd), "concluded", "no follow-up is pending");
        let empty = MediationCommand::FollowUp { note: " ".into(), settled: false };
        assert_invalid(when_at(&executed(), empty, t0() + Duration::days(8)), "note");
    }
}
