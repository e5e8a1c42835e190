//! The dispatch commands on a case (`case accept`, `escalate`, `transfer`, `mediate`, `resolve`,
//! `verify`, `reject`, `summon`, `report-in`, `note`): each changes the case and prints it
//! afterwards.

use super::view::{case_json, case_text};
use super::{eventually, get_case, AfterWrite};
use crate::client::output::{emit, terminal_width};
use crate::client::register::GroupArgs;
use crate::client::rpc::Server;
use crate::client::{ActorArgs, Global};
use anyhow::Result;
use clap::{Args, Subcommand};
use gridloop_proto::v1 as pb;
use serde_json::Value;
use tonic::Code;

// The dispatch commands, flattened into `case`: each changes the case and prints it afterwards.
#[derive(Debug, Subcommand)]
pub enum CaseAction {
    /// Accept the case at its current level (接单).
    Accept {
        #[command(flatten)]
        target: Target,
        /// Who will handle it.
        #[arg(long)]
        assignee: String,
    },
    /// Escalate to the next level (提请) because this level cannot settle it.
    Escalate {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        reason: String,
    },
    /// Transfer to a responsible unit or another community (转办).
    Transfer {
        #[command(flatten)]
        target: Target,
        /// The unit's code.
        #[arg(long)]
        to_unit: String,
        #[arg(long)]
        reason: String,
    },
    /// Open a mediation / deliberation session for the case (调解, 议事); prints the case and, once
    /// the mediation service has opened it, the session's id (for `gridloop mediation …`).
    Mediate {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        topic: String,
        /// Who chairs the session (召集人), by name [default: whoever asks, the token's subject].
        /// The request is still recorded as the token's.
        #[arg(long, default_value = "")]
        convenor: String,
        /// A building's or courtyard's matter (--building 3号楼 / --courtyard NAME of the case's
        /// grid): its register holds the residents concerned; default: the grid's register.
        #[command(flatten)]
        register: GroupArgs,
    },
    /// Resolve the case (办结).
    Resolve {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        summary: String,
    },
    /// Verify a resolved case on site (核查), when its category requires it: it passes (the
    /// reporter is asked next) or, with --failed, goes back to the resolving unit for rework.
    Verify {
        #[command(flatten)]
        target: Target,
        /// Who verified (the grid worker).
        #[arg(long)]
        verifier: String,
        /// The resolution does not hold: rework at the resolving unit (needs --note).
        #[arg(long)]
        failed: bool,
        /// What was found on site.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Reject the report (not a case for this system, duplicate, …).
    Reject {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        reason: String,
    },
    /// Summon departments for joint handling (吹哨): a street or the district, once accepted.
    Summon {
        #[command(flatten)]
        target: Target,
        /// A department: its function code (e.g. market-regulation; the case's unit first, then the
        /// units above it) or AREA/CODE. Repeat for several.
        #[arg(long = "department", required = true)]
        departments: Vec<String>,
        #[arg(long)]
        reason: String,
    },
    /// A summoned department reports in (报到).
    ReportIn(Box<ReportInArgs>),
    /// Note what was done for the case (工作记录); it shows in `case show` with its author.
    Note {
        #[command(flatten)]
        target: Target,
        /// What was done ("visited on site, owner not home"), at most 2,000 characters.
        #[arg(long)]
        text: String,
    },
}

#[derive(Debug, Args)]
pub struct ReportInArgs {
    #[command(flatten)]
    pub target: Target,
    /// The summoned department: function code or AREA/CODE.
    #[arg(long)]
    pub department: String,
    /// Who reports in.
    #[arg(long)]
    pub by: String,
    #[arg(long, default_value = "")]
    pub note: String,
}

/// The case a dispatch command acts on, and who acts.
#[derive(Debug, Args)]
pub struct Target {
    /// The case id.
    pub id: String,
    /// Refuse with a conflict unless the case is at this version (0 = don't check).
    #[arg(long, default_value_t = 0)]
    pub expected_version: u64,
    #[command(flatten)]
    pub after: AfterWrite,
    #[command(flatten)]
    pub actor: ActorArgs,
}

/// Runs a dispatch command and prints the case afterwards (with the session `mediate` opened).
pub async fn run(server: &Server, global: &Global, action: CaseAction) -> Result<()> {
    let mediate = matches!(action, CaseAction::Mediate { .. });
    let view = dispatch_command(server, action).await?;
    if !mediate {
        return emit(global.json, || case_json(&view), || case_text(&view, terminal_width(), global.time_zone));
    }
    let session = opened_session(server, &view.case_id).await?;
    emit(
        global.json,
        || {
            let mut value = case_json(&view);
            value["mediation_id"] = session.as_ref().map_or(Value::Null, |s| s.mediation_id.clone().into());
            value
        },
        || {
            let lines = match &session {
                Some(s) => format!(
                    "mediation session {} opened, convenor {}\n  gridloop mediation show {}",
                    s.mediation_id, s.convenor, s.mediation_id
                ),
                None => format!(
                    "the mediation service has not opened the session yet; once it has:\n  gridloop mediation show --case {}",
                    view.case_id
                ),
            };
            format!("{}\n{lines}\n", case_text(&view, terminal_width(), global.time_zone))
        },
    )
}

/// The session the mediation service opens for a case that just asked for one, once it is open.
/// The case is in mediation now, so an open session of it is the one just asked for: an earlier
/// one concluded before the case could ask again.
async fn opened_session(server: &Server, case_id: &str) -> Result<Option<pb::MediationView>> {
    let request = pb::GetMediationRequest { case_id: case_id.to_string(), ..Default::default() };
    eventually(|| async {
        match server.mediation().get_mediation(request.clone()).await {
            Ok(view) => Ok(Some(view.into_inner()).filter(|v| v.state == pb::MediationState::Open as i32)),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(server.fail("GetMediation")(status)),
        }
    })
    .await
}

/// Sends one of the dispatch commands and returns the case as it is afterwards.
async fn dispatch_command(server: &Server, action: CaseAction) -> Result<pb::CaseView> {
    let mut client = server.dispatch();
    let request = |t: &Target| (t.id.clone(), t.expected_version, t.after.min_version, t.actor.to_proto());
    let response = match action {
        CaseAction::Accept { target, assignee } => {
            let (case_id, expected_version, min_version, actor) = request(&target);
            let r = pb::AcceptCaseRequest { case_id, expected_version, min_version, actor, assignee };
            client.accept_case(r).await.map_err(server.fail("AcceptCase"))?
        }
        CaseAction::Escalate { target, reason } => {
            let (case_id, expected_version, min_version, actor) = request(&target);
            let r = pb::EscalateCaseRequest { case_id, expected_version, min_version, actor, reason };
            client.escalate_case(r).await.map_err(server.fail("EscalateCase"))?
        }
        CaseAction::Transfer { target, to_unit, reason } => {
            let (case_id, expected_version, min_version, actor) = request(&target);
            let r = pb::TransferCaseRequest { case_id, expected_version, min_version, actor, to_unit, reason };
            client.transfer_case(r).await.map_err(server.fail("TransferCase"))?
        }
        CaseAction::Mediate { target, topic, convenor, register } => {
            let (case_id, expected_version, min_version, actor) = request(&target);
            let register_group = register.group();
            let r = pb::RequestMediationRequest {
                case_id,
                expected_version,
                min_version,
                actor,
                topic,
                convenor,
                register_group,
            };
            client.request_mediation(r).await.map_err(server.fail("RequestMediation"))?
        }
        CaseAction::Resolve { target, summary } => {
            let (case_id, expected_version, min_version, actor) = request(&target);
            let r = pb::ResolveCaseRequest { case_id, expected_version, min_version, actor, summary };
            client.resolve_case(r).await.map_err(server.fail("ResolveCase"))?
        }
        CaseAction::Verify { target, verifier, failed, note } => {
            let (case_id, expected_version, min_version, actor) = request(&target);
            let r = pb::VerifyCaseRequest {
                case_id,
                expected_version,
                min_version,
                actor,
                verifier,
                passed: !failed,
                note,
            };
            client.verify_case(r).await.map_err(server.fail("VerifyCase"))?
        }
        CaseAction::Reject { target, reason } => {
            let (case_id, expected_version, min_version, actor) = request(&target);
            let r = pb::RejectCaseRequest { case_id, expected_version, min_version, actor, reason };
            client.reject_case(r).await.map_err(server.fail("RejectCase"))?
        }
        CaseAction::Summon { target, departments, reason } => {
            let (case_id, expected_version, min_version, actor) = request(&target);
            let r = pb::SummonDepartmentsRequest { case_id, expected_version, min_version, actor, departments, reason };
            client.summon_departments(r).await.map_err(server.fail("SummonDepartments"))?
        }
        CaseAction::ReportIn(args) => {
            let ReportInArgs { target, department, by, note } = *args;
            let (case_id, expected_version, min_version, actor) = request(&target);
            let r = pb::ReportInRequest { case_id, expected_version, min_version, actor, department, by, note };
            client.report_in(r).await.map_err(server.fail("ReportIn"))?
        }
        CaseAction::Note { target, text } => {
            // The note's author is the token's subject.
            let r = pb::AddCaseNoteRequest {
                case_id: target.id,
                expected_version: target.expected_version,
                min_version: target.after.min_version,
                text,
            };
            client.add_case_note(r).await.map_err(server.fail("AddCaseNote"))?
        }
    }
    .into_inner();
    match response.case {
        Some(view) => Ok(view),
        // A server that leaves the view out: read it back, as of the command.
        None => get_case(server, &response.case_id, response.version)
            .await?
            .case
            .ok_or_else(|| anyhow::anyhow!("the server returned no case")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::case::{CaseArgs, CaseCommand};
    use crate::client::testing::parse;
    use crate::client::ClientCommand;

    #[test]
    fn acting_commands_carry_the_expected_version_and_ignore_actor_flags() {
        let ClientCommand::Case(CaseArgs {
            command: CaseCommand::Act(CaseAction::Transfer { target, to_unit, reason }),
            ..
        }) = parse(&[
            "case",
            "transfer",
            "c1",
            "--to-unit",
            "110105001002",
            "--reason",
            "不属本社区",
            "--expected-version",
            "4",
            "--actor-role",
            "community_staff",
            "--actor-id",
            "li",
            "--actor-jurisdiction",
            "110105001001",
        ])
        .unwrap()
        else {
            panic!("not case transfer")
        };
        assert_eq!((target.id.as_str(), target.expected_version), ("c1", 4));
        assert_eq!((to_unit.as_str(), reason.as_str()), ("110105001002", "不属本社区"));
        assert_eq!(target.actor.actor_id.as_deref(), Some("li"), "still accepted from older scripts");
        assert_eq!(target.actor.to_proto(), None, "and never sent: the token decides who acts");

        let ClientCommand::Case(CaseArgs {
            command: CaseCommand::Act(CaseAction::Accept { target, assignee }), ..
        }) = parse(&["case", "accept", "c1", "--assignee", "王五"]).unwrap()
        else {
            panic!("not case accept")
        };
        assert_eq!(assignee, "王五");
        assert_eq!(target.expected_version, 0);
        assert_eq!((target.actor.actor_role, target.actor.actor_jurisdiction), (None, None));
    }

    #[test]
    fn summon_and_report_in_parse() {
        let ClientCommand::Case(CaseArgs {
            command: CaseCommand::Act(CaseAction::Summon { departments, reason, .. }),
            ..
        }) = parse(&[
            "case",
            "summon",
            "c1",
            "--department",
            "market-regulation",
            "--department",
            "321012/justice",
            "--reason",
            "油烟扰民",
        ])
        .unwrap()
        else {
            panic!("not case summon")
        };
        assert_eq!(
            (departments, reason.as_str()),
            (vec!["market-regulation".to_string(), "321012/justice".into()], "油烟扰民")
        );
        assert!(parse(&["case", "summon", "c1", "--reason", "r"]).is_err(), "--department is required");
        let ClientCommand::Case(CaseArgs { command: CaseCommand::Act(CaseAction::ReportIn(args)), .. }) =
            parse(&["case", "report-in", "c1", "--department", "market-regulation", "--by", "officer-3"]).unwrap()
        else {
            panic!("not case report-in")
        };
        assert_eq!(
            (args.department.as_str(), args.by.as_str(), args.note.as_str(), args.target.id.as_str()),
            ("market-regulation", "officer-3", "", "c1")
        );
    }

    #[test]
    fn note_parses_and_needs_a_text() {
        let ClientCommand::Case(CaseArgs { command: CaseCommand::Act(CaseAction::Note { target, text }), .. }) =
            parse(&["case", "note", "c1", "--text", "上门走访，业主不在家", "--expected-version", "3"]).unwrap()
        else {
            panic!("not case note")
        };
        assert_eq!((target.id.as_str(), target.expected_version, text.as_str()), ("c1", 3, "上门走访，业主不在家"));
        assert!(parse(&["case", "note", "c1"]).is_err(), "--text is required");
    }

    #[test]
    fn accept_needs_an_assignee() {
        assert!(parse(&["case", "accept", "id"]).is_err(), "--assignee is required");
    }
}
