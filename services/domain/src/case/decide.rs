//! `decide`: the command goes to its decision. Each decision lives in a file of its own, beside
//! its tests, and reads the case through a [`Decision`].

use super::{
    accept, deadline, evaluate, link, mediate, note, open, reject, resolve, summon, transfer, verify, Assignment, Case,
    CaseCommand, CaseError, CaseEvent, RoutingPolicy,
};
use crate::level::Level;
use crate::Timestamp;

/// Decide what a command does to a case. Pure: the same inputs give the same events.
pub fn decide(
    case: &Case,
    command: &CaseCommand,
    policy: &dyn RoutingPolicy,
    now: Timestamp,
) -> Result<Vec<CaseEvent>, CaseError> {
    // Every command but `Open` needs the case to exist; `Open` brings the category with it.
    let category = match (command, &case.details) {
        (CaseCommand::Open { details, .. }, _) | (_, Some(details)) => details.category_code.as_str(),
        (_, None) => return Err(CaseError::NotFound),
    };
    let at = Decision { case, command, policy, now, category };
    match command {
        CaseCommand::Open { case_id, details } => open::decide(&at, *case_id, details),
        CaseCommand::Reject { reason } => reject::decide(&at, reason),
        CaseCommand::Accept { assignee } => accept::decide(&at, assignee),
        CaseCommand::Escalate { reason } => super::escalate::on_request(&at, reason),
        CaseCommand::DeadlineExpired { deadline } => deadline::expired(&at, *deadline),
        CaseCommand::Transfer { to_unit, reason } => transfer::decide(&at, to_unit, reason),
        CaseCommand::RequestMediation { topic, convenor, register } => {
            mediate::request(&at, topic, convenor, register.as_ref())
        }
        CaseCommand::ConcludeMediation { mediation_id, verdict, summary } => {
            mediate::conclude(&at, mediation_id, *verdict, summary)
        }
        CaseCommand::Resolve { summary } => resolve::decide(&at, summary),
        CaseCommand::Verify { verifier, passed, note } => verify::decide(&at, verifier, *passed, note),
        CaseCommand::RecordEvaluation { satisfaction, comment, defaulted, evaluated_by } => {
            evaluate::decide(&at, *satisfaction, comment, *defaulted, evaluated_by.as_ref())
        }
        CaseCommand::SummonDepartments { departments, reason } => summon::summon(&at, departments, reason),
        CaseCommand::ReportIn { department, by, note } => summon::report_in(&at, department, by, note),
        CaseCommand::LinkReport { report } => link::decide(&at, report),
        CaseCommand::AddNote { text, author } => note::decide(&at, text, author),
    }
}

/// What a decision reads: the case, the command, the routing policy and the time.
pub(super) struct Decision<'a> {
    pub case: &'a Case,
    pub command: &'a CaseCommand,
    pub policy: &'a dyn RoutingPolicy,
    pub now: Timestamp,
    /// The case's category (for `Open`, the reported one): it picks the SLAs and the owner.
    pub category: &'a str,
}

impl Decision<'_> {
    /// The case's state forbids the command.
    pub fn forbidden(&self, reason: &'static str) -> CaseError {
        CaseError::Forbidden { command: self.command.name(), state: self.case.status.name(), reason }
    }

    /// `unit` at `level` holds the case until `deadline`, through the department that owns the
    /// category there, if the responsibility list names one.
    pub fn assign(&self, level: Level, unit: String, deadline: Timestamp) -> Assignment {
        let department = self.policy.department_for(self.category, &unit, level);
        Assignment { level, unit, deadline, department }
    }

    /// When the unit at `level` must have resolved the case, counted from now.
    pub fn resolve_deadline(&self, level: Level) -> Timestamp {
        self.policy.resolve_deadline(self.category, level, self.now)
    }

    /// When the unit at `level` must have accepted the case, counted from now.
    pub fn accept_deadline(&self, level: Level) -> Timestamp {
        self.policy.accept_deadline(self.category, level, self.now)
    }
}

/// Text the command must carry, such as a reason or a summary.
pub(super) fn required(field: &'static str, value: &str) -> Result<(), CaseError> {
    if value.trim().is_empty() {
        return Err(CaseError::Invalid { field, reason: "must not be empty".into() });
    }
    Ok(())
}
