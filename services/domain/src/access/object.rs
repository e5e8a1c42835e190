//! What the object check judges a command by: the RPC a caller sends it with, and the
//! [`CaseFacts`] of what it acts on — a case as its state knows it, a mediation session as it
//! was opened (and where its stream is routed), a place.

use super::policy::{CaseFacts, UnitDepartment};
use super::Rpc;
use crate::agenda::AgendaCommand;
use crate::case::{Case, CaseCommand, ReporterKind};
use crate::feedback::FeedbackCommand;
use crate::jurisdiction::AreaCode;
use crate::level::Level;
use crate::mediation::{MediationCommand, Origin, Session, SessionLevel};
use crate::register::RegisterCommand;

/// The RPC a caller sends a case command with; `None` for what only the services send (opening,
/// deadlines, a mediation's outcome, an evaluation, a linked report).
pub fn case_rpc(command: &CaseCommand) -> Option<Rpc> {
    Some(match command {
        CaseCommand::Accept { .. } => Rpc::AcceptCase,
        CaseCommand::Escalate { .. } => Rpc::EscalateCase,
        CaseCommand::Transfer { .. } => Rpc::TransferCase,
        CaseCommand::RequestMediation { .. } => Rpc::RequestMediation,
        CaseCommand::Resolve { .. } => Rpc::ResolveCase,
        CaseCommand::Verify { .. } => Rpc::VerifyCase,
        CaseCommand::Reject { .. } => Rpc::RejectCase,
        CaseCommand::SummonDepartments { .. } => Rpc::SummonDepartments,
        CaseCommand::ReportIn { .. } => Rpc::ReportIn,
        CaseCommand::AddNote { .. } => Rpc::AddCaseNote,
        _ => return None,
    })
}

/// The RPC a caller sends a session command with; `None` for what only mediation sends (a
/// session opened for a case, the follow-up timer).
pub fn session_rpc(command: &MediationCommand) -> Option<Rpc> {
    Some(match command {
        MediationCommand::Open { origin: Origin::CollectedTopic { .. }, .. } => Rpc::ProposeTopic,
        MediationCommand::Open { origin: Origin::Case { .. }, .. } => return None,
        MediationCommand::Invite { .. } => Rpc::InviteParticipant,
        MediationCommand::Notify => Rpc::NotifyParticipants,
        MediationCommand::OpenDeliberation { .. } => Rpc::OpenDeliberation,
        MediationCommand::MakeStatement { .. } => Rpc::MakeStatement,
        MediationCommand::SubmitResidentStatement { .. } => Rpc::SubmitResidentStatement,
        MediationCommand::PutMotion { .. } => Rpc::PutMotion,
        MediationCommand::SignAgreement { .. } => Rpc::SignAgreement,
        MediationCommand::RaiseObjection { .. } => Rpc::RaiseObjection,
        MediationCommand::OpenBallot { .. } => Rpc::OpenBallot,
        MediationCommand::CastBallot { .. } => Rpc::CastBallot,
        MediationCommand::CloseBallot => Rpc::CloseBallot,
        MediationCommand::Object { .. } => Rpc::ObjectToDecision,
        MediationCommand::RespondToObjection { .. } => Rpc::RespondToObjection,
        MediationCommand::Execute => Rpc::ExecuteAgreement,
        MediationCommand::RecordNoAgreement { .. } => Rpc::RecordNoAgreement,
        MediationCommand::RecordConsultation { .. } => Rpc::RecordConsultation,
        MediationCommand::Conclude { .. } => Rpc::ConcludeMediation,
        MediationCommand::FollowUp { .. } => Rpc::RecordFollowUp,
        MediationCommand::FollowUpTimerFired { .. } => return None,
    })
}

/// The RPC a caller sends a register command with.
pub fn register_rpc(command: &RegisterCommand) -> Rpc {
    match command {
        RegisterCommand::Register { .. } => Rpc::RegisterResidents,
        RegisterCommand::Remove { .. } => Rpc::RemoveResident,
    }
}

/// The RPC a caller sends an agenda command with.
pub fn agenda_rpc(command: &AgendaCommand) -> Rpc {
    match command {
        AgendaCommand::Propose { .. } => Rpc::ProposeAgendaTopic,
        AgendaCommand::Merge { .. } => Rpc::MergeAgendaTopics,
        AgendaCommand::OpenRanking { .. } => Rpc::OpenRanking,
        AgendaCommand::Rank { .. } => Rpc::RankTopics,
        AgendaCommand::CloseRanking => Rpc::CloseRanking,
    }
}

/// The RPC a caller sends a feedback command with: only the answer is a caller's.
pub fn feedback_rpc(command: &FeedbackCommand) -> Option<Rpc> {
    matches!(command, FeedbackCommand::Answer { .. }).then_some(Rpc::EvaluateCase)
}

/// A case's facts: the unit holding it now (its grid until it is dispatched), its grid, the
/// resident who reported it, the departments summoned to it. `None` before it is opened.
pub fn case_facts(case: &Case) -> Option<CaseFacts> {
    let details = case.details.as_ref()?;
    let area = AreaCode::new(details.grid_code.as_str()).ok()?;
    let held_at_level = || case.status.level().and_then(|level| area.ancestor(level));
    let unit = case.status.unit().and_then(|unit| AreaCode::new(unit).ok()).or_else(held_at_level);
    let reporter = (details.reporter.kind == ReporterKind::Resident).then(|| details.reporter.identity().to_string());
    let summoned = case
        .summons
        .iter()
        .filter_map(|summons| {
            let unit = AreaCode::new(summons.summoned.unit.as_str()).ok()?;
            Some(UnitDepartment { unit, department: summons.summoned.department.code.clone() })
        })
        .collect();
    Some(CaseFacts { unit: unit.unwrap_or_else(|| area.clone()), area, reporter, summoned })
}

/// A session's facts, `area` being where its stream is routed (its case's grid, or the area a
/// collected topic serves). The unit of a session on a case is its council's unit over the
/// case's grid; a collected topic's session is its area's.
pub fn session_facts(session: &Session, area: AreaCode) -> CaseFacts {
    if session.origin.case_id().is_none() {
        return CaseFacts::at(area);
    }
    let level = match session.level {
        SessionLevel::Building | SessionLevel::Grid => Level::Grid,
        SessionLevel::Community => Level::Community,
        SessionLevel::Street => Level::Street,
    };
    let unit = area.ancestor(level).unwrap_or_else(|| area.clone());
    CaseFacts { unit, area, reporter: None, summoned: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mediation::MatterKind;
    use crate::testing::case as fixture;

    fn code(s: &str) -> AreaCode {
        AreaCode::new(s).unwrap()
    }

    #[test]
    fn a_session_on_a_case_is_held_by_its_councils_unit_and_a_topic_by_its_area() {
        let session = |origin| Session {
            origin,
            level: SessionLevel::Community,
            topic: "楼道堆物".into(),
            kind: MatterKind::Deliberation,
            professional: None,
            convenor: "网格长".into(),
            register: None,
            participants: vec![],
            reconsiderations: 0,
        };
        let on_case = session(Origin::Case { case_id: crate::ids::CaseId(uuid::Uuid::nil()) });
        let facts = session_facts(&on_case, code("321012001002003"));
        assert_eq!((facts.unit, facts.area), (code("321012001002"), code("321012001002003")));
        let topic = session(Origin::CollectedTopic { collected_from: "痛点箱".into(), agenda_topic: None });
        assert_eq!(session_facts(&topic, code("321012001")), CaseFacts::at(code("321012001")));
    }

    #[test]
    fn a_case_is_held_by_the_unit_it_was_dispatched_to_and_lies_in_its_grid() {
        use crate::decider::Decider;
        assert_eq!(case_facts(&Case::initial()), None, "nothing to judge before the case opens");
        let reported = crate::testing::fold::<Case>(&[fixture::opened()]);
        let facts = case_facts(&reported).unwrap();
        assert_eq!((facts.unit.as_str(), facts.area.as_str()), (fixture::GRID, fixture::GRID));
        assert_eq!(facts.reporter.as_deref(), Some("resident-17"), "a resident reported it");
        let history = [fixture::opened(), fixture::dispatched(Level::Street, fixture::at(60))];
        let facts = case_facts(&crate::testing::fold::<Case>(&history)).unwrap();
        assert_eq!((facts.unit.as_str(), facts.area.as_str()), (fixture::STREET, fixture::GRID));
    }

    #[test]
    fn only_the_commands_a_caller_sends_have_an_rpc() {
        assert_eq!(case_rpc(&CaseCommand::Accept { assignee: "张三".into() }), Some(Rpc::AcceptCase));
        assert_eq!(case_rpc(&CaseCommand::Escalate { reason: "r".into() }), Some(Rpc::EscalateCase));
        let note = CaseCommand::AddNote { text: "t".into(), author: "gw-1".into() };
        assert_eq!(case_rpc(&note), Some(Rpc::AddCaseNote));
        assert_eq!(case_rpc(&CaseCommand::DeadlineExpired { deadline: fixture::t0() }), None);
        assert_eq!(feedback_rpc(&FeedbackCommand::Expire { due_at: fixture::t0() }), None);
        assert_eq!(session_rpc(&MediationCommand::Execute), Some(Rpc::ExecuteAgreement));
    }
}
