//! The Case aggregate: the routing of one case through the loop, as `decide` and `evolve`.
//!
//! Lifecycle:
//! reported → (rejected | dispatched) → accepted → (escalated | transferred | in mediation)*
//! → resolved → [awaiting verification → (verified | failed → reopened)]
//! → (satisfied → closed | unsatisfied → reopened | no answer → default → closed).
//!
//! `decide(state, command, policy, now)` returns the events a command produces or the reason it is
//! refused; `evolve(state, event)` folds one event into the state. Neither does IO: the routing
//! policy (responsibility list, units, deadlines) is passed in, and so is `now`.
//!
//! `decide` hands each command to its decision, one module each with the decision's tests beside
//! it: `open`, `reject`, `accept`, `escalate`, `deadline` (a timer fired), `transfer`, `mediate`,
//! `resolve`, `verify`, `evaluate`, `summon` (吹哨报到), `link` (a duplicate report) and `note`
//! (工作记录: what the handling unit did).

mod accept;
mod deadline;
mod decide;
mod escalate;
mod evaluate;
mod evolve;
mod link;
mod mediate;
mod note;
mod open;
mod reject;
mod resolve;
mod summon;
mod transfer;
mod verify;

pub use decide::decide;
pub use evolve::{evolve, replay};

pub use crate::case_state::CaseState;
use crate::decider::Misfit;
use crate::ids::CaseId;
use crate::jurisdiction::Department;
use crate::level::Level;
use crate::personal::{Contact, SealedContact};
use crate::priority::{CategoryPriority, Priority, PrioritySignals, SpecialGroup};
use crate::register::Group;
use crate::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Patrol,
    ResidentApp,
    Hotline,
    SuggestionBox,
    WalkIn,
    Platform,
}

impl Channel {
    pub const ALL: [Channel; 6] = [
        Channel::Patrol,
        Channel::ResidentApp,
        Channel::Hotline,
        Channel::SuggestionBox,
        Channel::WalkIn,
        Channel::Platform,
    ];

    /// The name read models store (the serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Patrol => "patrol",
            Channel::ResidentApp => "resident_app",
            Channel::Hotline => "hotline",
            Channel::SuggestionBox => "suggestion_box",
            Channel::WalkIn => "walk_in",
            Channel::Platform => "platform",
        }
    }

    /// The channel [`as_str`](Self::as_str) names.
    pub fn from_name(name: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|channel| channel.as_str() == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReporterKind {
    Resident,
    GridWorker,
    Platform,
}

/// Who reported. Intake seals the contact fields before anything is recorded: in every event
/// `id`, `name` and `phone` are empty and `sealed` carries them encrypted
/// ([`crate::personal`]); none of them given is an anonymous report (no callback).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reporter {
    pub kind: ReporterKind,
    pub id: String,
    pub name: String,
    pub phone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<SealedContact>,
}

impl Reporter {
    /// Who reported, as a case may name them: the blind index of their identity once the contact
    /// is sealed (it is whenever anything is recorded), the id as given before.
    pub fn identity(&self) -> &str {
        self.sealed.as_ref().map_or(self.id.as_str(), |sealed| sealed.blind_index.as_str())
    }

    /// The contact fields as given in the clear.
    pub fn contact(&self) -> Contact {
        Contact { id: self.id.clone(), name: self.name.clone(), phone: self.phone.clone() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Satisfaction {
    Satisfied,
    BasicallySatisfied,
    Unsatisfied,
}

impl Satisfaction {
    /// Satisfied and basically satisfied both close the case; unsatisfied reopens it.
    pub fn closes(self) -> bool {
        !matches!(self, Satisfaction::Unsatisfied)
    }
}

/// What was reported: fixed for the life of the case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseDetails {
    pub category_code: String,
    pub grid_code: String,
    pub lat: f64,
    pub lon: f64,
    pub description: String,
    pub reporter: Reporter,
    pub channel: Channel,
    pub discovered_at: Timestamp,
    pub uploaded_at: Timestamp,
    /// Urgent or major (急难重大): may enter the ladder higher up.
    pub urgent: bool,
    /// Special groups the report concerns (特殊群体): such cases go first.
    #[serde(default)]
    pub special_groups: Vec<SpecialGroup>,
    /// A URL of a photo or other media of the problem, hosted by the reporter's platform.
    #[serde(default)]
    pub media_url: Option<String>,
}

/// Who holds the case and until when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    pub level: Level,
    /// The area code of the unit (grid, community, street, district).
    pub unit: String,
    pub deadline: Timestamp,
    /// The unit's department that owns the case's category there (权责清单), when the
    /// responsibility list names one: e.g. a street's 城管中队 for a street-vendor case.
    pub department: Option<Department>,
}

/// A department summoned by a street (or the district) for joint handling (吹哨报到): the unit
/// it belongs to (the case's unit or one above it) and the department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummonedDepartment {
    pub unit: String,
    pub department: Department,
}

/// One summons of a case and whether the department has reported in (报到).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summons {
    pub summoned: SummonedDepartment,
    pub reported_in: bool,
}

/// Whether a closure met its deadline, as its `CaseClosed` records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnTimeVerdict {
    /// Judged from the case's own history: its last resolution against the deadline in force.
    #[default]
    ByDeadline,
    /// The verdict of the platform the case was imported from.
    OnTime,
    Late,
    /// Imported history without a deadline or a verdict: not judged.
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationReason {
    DeadlineMissed,
    Requested,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CaseEvent {
    Opened {
        case_id: CaseId,
        details: CaseDetails,
    },
    Rejected {
        reason: String,
    },
    Dispatched {
        to: Assignment,
        rule: String,
        /// The case's priority at dispatch, with its reasons.
        priority: Priority,
    },
    Accepted {
        at: Assignment,
        assignee: String,
    },
    Escalated {
        from: Level,
        to: Assignment,
        reason: EscalationReason,
        note: String,
    },
    /// The district missed its deadline: recorded for supervision (督办), and a new deadline is
    /// set so the next miss is noticed too.
    DeadlineMissed {
        level: Level,
        deadline: Timestamp,
        next_deadline: Timestamp,
    },
    Transferred {
        from_unit: String,
        to: Assignment,
        reason: String,
    },
    MediationRequested {
        level: Level,
        topic: String,
        /// 召集人: who chairs the session, as the request named them; empty when it named nobody,
        /// and the mediation service makes whoever asked the convenor.
        convenor: String,
        /// A building's or courtyard's matter: the group of the case's grid whose register holds
        /// the residents concerned; none: the grid's register.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        register: Option<Group>,
    },
    /// The parties signed an agreement (签字确认); a `Resolved` follows (商定即办).
    MediationAgreed {
        mediation_id: String,
        summary: String,
    },
    /// No agreement: the case is back with its unit under a new deadline.
    MediationFailed {
        mediation_id: String,
        summary: String,
        back_to: Assignment,
    },
    Resolved {
        level: Level,
        unit: String,
        summary: String,
        /// When the resolution needs the grid worker's on-site check (核查) before the reporter
        /// is asked and the case can close: the check's deadline (see
        /// [`RoutingPolicy::verify_deadline`]).
        verify_by: Option<Timestamp>,
    },
    /// 核查: the grid worker's on-site check of the resolution at `level`. Failed → a `Reopened`
    /// follows.
    Verified {
        level: Level,
        verifier: String,
        passed: bool,
        note: String,
    },
    /// The check was not done by its deadline: recorded for supervision (督办), with a new
    /// deadline so the next miss is noticed too. The case keeps waiting for the check.
    VerificationOverdue {
        deadline: Timestamp,
        next_deadline: Timestamp,
    },
    Evaluated {
        satisfaction: Satisfaction,
        comment: String,
        defaulted: bool,
        /// Who answered; `None` for the default evaluation (and in events recorded before it
        /// was kept).
        evaluated_by: Option<Evaluator>,
    },
    Reopened {
        at: Assignment,
        reason: String,
    },
    /// `satisfaction` is the reporter's (or the default) evaluation; `None` for history imported
    /// from another platform, which recorded none. `on_time` says how the closure is judged
    /// against its deadline: by the deadline in force, except for imported history that
    /// carries the other platform's own verdict or had no deadline.
    Closed {
        level: Level,
        satisfaction: Option<Satisfaction>,
        #[serde(default)]
        on_time: OnTimeVerdict,
    },
    /// Another report of the same matter (same category, nearby, while the case was open) was
    /// linked to this case by intake instead of opening a second one. Changes no status; it is
    /// one more signal for the priority.
    ReportLinked {
        report: LinkedReport,
    },
    /// The priority was re-assessed (a linked report made it a shared concern, or flagged a
    /// special group or urgency).
    PriorityChanged {
        priority: Priority,
    },
    /// 吹哨: the street (or district) holding the case summons departments for joint handling.
    /// The case stays with its unit and deadline.
    DepartmentsSummoned {
        level: Level,
        unit: String,
        departments: Vec<SummonedDepartment>,
        reason: String,
    },
    /// 报到: a summoned department arrived and joins the handling.
    DepartmentReportedIn {
        department: SummonedDepartment,
        by: String,
        note: String,
    },
    /// 工作记录: what a unit handling the case did ("visited on site, owner not home"), by
    /// `author` (the subject the caller was authenticated as). History only: it routes nothing.
    NoteAdded {
        text: String,
        author: String,
    },
}

/// A report intake linked to an existing case: what was reported, by whom, and why it was linked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkedReport {
    /// The report as validated by intake (its own location, grid, reporter, times).
    pub details: CaseDetails,
    pub client_key: String,
    /// Distance from the report to the case's location, metres.
    pub distance_m: f64,
    /// Why it was linked, as told to the reporter.
    pub reason: String,
}

impl CaseEvent {
    /// The protobuf message name of this event (`gridloop.v1.<name>`).
    pub fn type_name(&self) -> &'static str {
        match self {
            CaseEvent::Opened { .. } => "CaseOpened",
            CaseEvent::Rejected { .. } => "CaseRejected",
            CaseEvent::Dispatched { .. } => "CaseDispatched",
            CaseEvent::Accepted { .. } => "CaseAccepted",
            CaseEvent::Escalated { .. } => "CaseEscalated",
            CaseEvent::DeadlineMissed { .. } => "CaseDeadlineMissed",
            CaseEvent::Transferred { .. } => "CaseTransferred",
            CaseEvent::MediationRequested { .. } => "CaseMediationRequested",
            CaseEvent::MediationAgreed { .. } | CaseEvent::MediationFailed { .. } => "CaseMediationConcluded",
            CaseEvent::Resolved { .. } => "CaseResolved",
            CaseEvent::Verified { .. } => "CaseVerified",
            CaseEvent::VerificationOverdue { .. } => "CaseVerificationOverdue",
            CaseEvent::Evaluated { .. } => "CaseEvaluated",
            CaseEvent::Reopened { .. } => "CaseReopened",
            CaseEvent::Closed { .. } => "CaseClosed",
            CaseEvent::ReportLinked { .. } => "CaseReportLinked",
            CaseEvent::PriorityChanged { .. } => "CasePriorityChanged",
            CaseEvent::DepartmentsSummoned { .. } => "CaseDepartmentsSummoned",
            CaseEvent::DepartmentReportedIn { .. } => "DepartmentReportedIn",
            CaseEvent::NoteAdded { .. } => "CaseNoteAdded",
        }
    }
}

/// Where the case is. Each state carries exactly the data that is meaningful in it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CaseStatus {
    /// No event yet.
    #[default]
    New,
    /// Opened, not yet dispatched (only between the two events of `Open`).
    Reported,
    Rejected {
        reason: String,
    },
    /// Waiting for the unit to accept (接单) before `deadline`.
    Dispatched {
        at: Assignment,
    },
    /// The unit works on it; `deadline` is the deadline to resolve.
    Accepted {
        at: Assignment,
        assignee: String,
    },
    /// A mediation session is open; the deadline is suspended.
    InMediation {
        level: Level,
        unit: String,
        assignee: String,
        topic: String,
    },
    /// Resolved (办结), waiting for the grid worker's on-site verification (核查) by `deadline`
    /// before the reporter is asked.
    AwaitingVerification {
        level: Level,
        unit: String,
        assignee: String,
        summary: String,
        deadline: Timestamp,
    },
    /// Resolved (办结) and verified where required, waiting for the evaluation.
    Resolved {
        level: Level,
        unit: String,
        assignee: String,
        summary: String,
    },
    /// Settled at `level` (结案) by `unit`.
    Closed {
        level: Level,
        unit: String,
        assignee: String,
        satisfaction: Option<Satisfaction>,
    },
}

impl CaseStatus {
    /// The name of the state (see [`CaseState`]).
    pub fn name(&self) -> &'static str {
        self.state().name()
    }

    /// The level currently holding the case (or where it was settled).
    pub fn level(&self) -> Option<Level> {
        match self {
            CaseStatus::Dispatched { at } | CaseStatus::Accepted { at, .. } => Some(at.level),
            CaseStatus::InMediation { level, .. }
            | CaseStatus::AwaitingVerification { level, .. }
            | CaseStatus::Resolved { level, .. }
            | CaseStatus::Closed { level, .. } => Some(*level),
            CaseStatus::New | CaseStatus::Reported | CaseStatus::Rejected { .. } => None,
        }
    }

    pub fn unit(&self) -> Option<&str> {
        match self {
            CaseStatus::Dispatched { at } | CaseStatus::Accepted { at, .. } => Some(&at.unit),
            CaseStatus::InMediation { unit, .. }
            | CaseStatus::AwaitingVerification { unit, .. }
            | CaseStatus::Resolved { unit, .. }
            | CaseStatus::Closed { unit, .. } => Some(unit),
            _ => None,
        }
    }

    /// The running deadline, if a timer should be armed for it.
    pub fn deadline(&self) -> Option<Timestamp> {
        match self {
            CaseStatus::Dispatched { at } | CaseStatus::Accepted { at, .. } => Some(at.deadline),
            CaseStatus::AwaitingVerification { deadline, .. } => Some(*deadline),
            _ => None,
        }
    }

    pub fn is_terminal(&self) -> bool {
        matches!(self, CaseStatus::Rejected { .. } | CaseStatus::Closed { .. })
    }
}

/// The aggregate state, rebuilt by folding `evolve` over the case stream.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Case {
    pub id: Option<CaseId>,
    pub details: Option<CaseDetails>,
    pub status: CaseStatus,
    pub escalations: u32,
    pub reopen_count: u32,
    /// What the priority is assessed from: the report and the reports linked to it.
    pub signals: PrioritySignals,
    /// The priority last recorded (at dispatch, or re-assessed since).
    pub priority: Priority,
    /// Departments summoned for joint handling (吹哨报到), in order.
    pub summons: Vec<Summons>,
    /// Stream version: the number of events folded in.
    pub version: u64,
}

/// What dispatch needs to know about the responsibility list, the units and the deadlines.
///
/// Deadlines, not SLA durations: the policy decides how an SLA is counted (on the wall clock, or
/// in working time on the city's calendar), so `decide` never adds durations itself.
pub trait RoutingPolicy {
    /// The level a new case enters at, and the rule that decided it.
    fn entry_level(&self, category_code: &str, urgent: bool) -> Option<(Level, &'static str)>;
    /// The unit responsible at `level` for `code`: a grid, or a unit below `level`.
    fn unit_for(&self, code: &str, level: Level) -> Option<String>;
    /// Whether `unit` is a unit at `level` (a transfer target).
    fn is_unit_at(&self, unit: &str, level: Level) -> bool;
    /// When a `category_code` case that reaches a unit at `level` at `from` (dispatch,
    /// escalation, transfer) must have been accepted (接单).
    fn accept_deadline(&self, category_code: &str, level: Level, from: Timestamp) -> Timestamp;
    /// When a case accepted (or handed back) at `level` at `from` must have been resolved.
    fn resolve_deadline(&self, category_code: &str, level: Level, from: Timestamp) -> Timestamp;
    /// When the reporter's evaluation of a case resolved at `from` is due (办完即反); silence
    /// past it counts as the default evaluation.
    fn feedback_deadline(&self, category_code: &str, from: Timestamp) -> Timestamp;
    /// Disputes that may be taken to a mediation / deliberation session.
    fn mediable(&self, category_code: &str) -> bool;
    /// When a `category_code` case resolved at `level` at `from` must have been verified on site
    /// by the grid worker (核查), or `None` when it needs no check: the reporter is asked, and
    /// the case can close, only after the check.
    fn verify_deadline(&self, category_code: &str, level: Level, from: Timestamp) -> Option<Timestamp>;
    /// The department of `unit` (at `level`) that owns `category_code` cases, when the
    /// responsibility list names one and the unit has it.
    fn department_for(&self, category_code: &str, unit: &str, level: Level) -> Option<Department>;
    /// The category's own priority (the responsibility list's priority column).
    fn category_priority(&self, category_code: &str) -> CategoryPriority;
    /// The department a unit holding a case may summon (吹哨) by `reference`: a function code
    /// ("market-regulation", looked up in `holder` first, then in the units above it), or
    /// `<area code>/<function code>` naming `holder` or a unit above it.
    fn summonable(&self, holder: &str, reference: &str) -> Option<SummonedDepartment>;
}

/// What a concluded mediation means for the case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediationVerdict {
    /// Signed and executed: 商定即办, the case is resolved at the level that mediated it.
    Agreed,
    /// No agreement, or a consultation: the case is back with its unit (which may escalate, or
    /// note a referral to litigation when it resolves).
    BackToUnit,
    /// No agreement and the council referred it up (三提): the case escalates one level.
    EscalateOneLevel,
}

/// Who gave an evaluation, as the evaluation service recorded the answer: the principal's role,
/// their subject and the area they act for (empty city-wide). A resident's subject is their
/// reporter id, which the case's events keep sealed: for a resident it is empty.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Evaluator {
    pub role: String,
    pub id: String,
    pub area: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CaseCommand {
    Open {
        case_id: CaseId,
        details: CaseDetails,
    },
    Reject {
        reason: String,
    },
    Accept {
        assignee: String,
    },
    Escalate {
        reason: String,
    },
    /// A deadline timer fired; `deadline` identifies which one, so a stale timer does nothing.
    DeadlineExpired {
        deadline: Timestamp,
    },
    Transfer {
        to_unit: String,
        reason: String,
    },
    RequestMediation {
        topic: String,
        /// Who is to chair the session; empty = whoever asks.
        convenor: String,
        /// The building or courtyard whose register holds the residents concerned; none: the grid's.
        register: Option<Group>,
    },
    ConcludeMediation {
        mediation_id: String,
        verdict: MediationVerdict,
        summary: String,
    },
    Resolve {
        summary: String,
    },
    /// 核查: the grid worker verifies a resolved case on site; a failure sends it back to the
    /// resolving unit for rework with `note` as the reason.
    Verify {
        verifier: String,
        passed: bool,
        note: String,
    },
    RecordEvaluation {
        satisfaction: Satisfaction,
        comment: String,
        defaulted: bool,
        evaluated_by: Option<Evaluator>,
    },
    /// 吹哨: summon departments (references as in [`RoutingPolicy::summonable`]) for joint
    /// handling. Only a street or the district, and only once it has accepted the case.
    SummonDepartments {
        departments: Vec<String>,
        reason: String,
    },
    /// 报到: a summoned department reports in.
    ReportIn {
        department: String,
        by: String,
        note: String,
    },
    /// Record a report intake linked to this case as a duplicate. Accepted in every state once
    /// the case exists, terminal ones included: intake decided the link while the case was open
    /// (as far as its read model knew), the reporter was told so, and the report is a fact the
    /// case history must show even if the case closed in the meantime. It changes no status; while
    /// the case is still being handled it re-assesses the priority (`PriorityChanged` when it moves).
    LinkReport {
        report: LinkedReport,
    },
    /// 工作记录: a note on what was done, in any state from opened until closed. `author` is
    /// whom the caller was authenticated as, never a request field.
    AddNote {
        text: String,
        author: String,
    },
}

impl CaseCommand {
    pub fn name(&self) -> &'static str {
        match self {
            CaseCommand::Open { .. } => "open",
            CaseCommand::Reject { .. } => "reject",
            CaseCommand::Accept { .. } => "accept",
            CaseCommand::Escalate { .. } => "escalate",
            CaseCommand::DeadlineExpired { .. } => "deadline_expired",
            CaseCommand::Transfer { .. } => "transfer",
            CaseCommand::RequestMediation { .. } => "request_mediation",
            CaseCommand::ConcludeMediation { .. } => "conclude_mediation",
            CaseCommand::Resolve { .. } => "resolve",
            CaseCommand::Verify { .. } => "verify",
            CaseCommand::RecordEvaluation { .. } => "record_evaluation",
            CaseCommand::LinkReport { .. } => "link_report",
            CaseCommand::SummonDepartments { .. } => "summon_departments",
            CaseCommand::ReportIn { .. } => "report_in",
            CaseCommand::AddNote { .. } => "add_note",
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CaseError {
    /// Bad input: which field and why.
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// Several bad fields of one command, each with why, reported together.
    #[error("{}", .0.iter().map(|(field, reason)| format!("invalid {field}: {reason}")).collect::<Vec<_>>().join("; "))]
    InvalidFields(Vec<(&'static str, String)>),
    #[error("case not found")]
    NotFound,
    #[error("case already exists")]
    AlreadyOpened,
    /// The case's state forbids the command.
    #[error("{reason} (cannot {command} a case that is {state})")]
    Forbidden { command: &'static str, state: &'static str, reason: &'static str },
}

impl CaseError {
    /// `Ok` when no field is bad, else every bad field in one refusal.
    pub fn check_fields(mut invalid: Vec<(&'static str, String)>) -> Result<(), CaseError> {
        match invalid.len() {
            0 => Ok(()),
            1 => {
                let (field, reason) = invalid.remove(0);
                Err(CaseError::Invalid { field, reason })
            }
            _ => Err(CaseError::InvalidFields(invalid)),
        }
    }
}
