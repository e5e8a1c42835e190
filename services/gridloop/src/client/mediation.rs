//! `gridloop mediation`: sessions of mediation and deliberation (调解, 议事会) — show one, take it
//! through the council procedure 提议—告知—协商—决策—反馈—监督, conclude it, and the figures.

use super::area_sessions::{list, ListArgs};
use super::output::{
    emit, enum_arg, enum_json, enum_text, opt_str, or_dash, role_json, role_text, terminal_width, time_json, time_text,
    Table,
};
use super::register::GroupArgs;
use super::rpc::Server;
use super::{ActorArgs, AreaWindow, Global};
use anyhow::Result;
use clap::{ArgGroup, Args, Subcommand, ValueEnum};
use gridloop_domain::clock::Tz;
use gridloop_proto::v1 as pb;
use serde_json::{json, Value};

#[derive(Debug, Args)]
pub struct MediationArgs {
    #[command(subcommand)]
    pub command: MediationCommand,
    #[command(flatten)]
    pub global: Global,
}

#[derive(Debug, Subcommand)]
pub enum MediationCommand {
    /// Show a session and its history: by its id, or by its case (the case's latest session).
    #[command(group(ArgGroup::new("which").required(true).args(["id", "case"])))]
    Show {
        /// The mediation id.
        id: Option<String>,
        /// Instead of the id: the case the session was opened for.
        #[arg(long)]
        case: Option<String>,
        /// Wait (up to 5 s) until the session is at this version: the `version` a command on it
        /// printed; 0 = don't wait.
        #[arg(long, default_value_t = 0)]
        min_version: u64,
    },
    /// Conclude a session: agreed (signed by the parties, 签字确认) or failed.
    Conclude {
        /// The mediation id.
        id: String,
        #[arg(long, value_enum)]
        outcome: OutcomeArg,
        #[arg(long)]
        summary: String,
        /// A party who signed the agreement (repeat for each; required when agreed).
        #[arg(long)]
        signed_by: Vec<String>,
        #[command(flatten)]
        actor: ActorArgs,
    },
    /// 提议: open a session on a topic collected from residents (议题征集), with no case behind it.
    Propose {
        #[arg(long, value_enum)]
        level: SessionLevelArg,
        /// The jurisdiction code of the area the session serves.
        #[arg(long)]
        area: String,
        #[arg(long)]
        topic: String,
        #[arg(long, value_enum, default_value = "deliberation")]
        kind: MatterKindArg,
        /// The profession a professional matter needs present.
        #[arg(long, value_enum)]
        professional: Option<RoleArg>,
        #[arg(long)]
        convenor: String,
        /// Where the topic was collected (痛点箱, 民情恳谈会, ...).
        #[arg(long)]
        collected_from: String,
        /// The number of the topic on the area's agenda the session deliberates.
        #[arg(long, default_value_t = 0)]
        agenda_topic: u32,
        /// A building's or courtyard's matter (--building 3号楼 / --courtyard NAME of the grid
        /// --area): its register holds the residents concerned; default: the area's register.
        #[command(flatten)]
        register: GroupArgs,
        #[command(flatten)]
        actor: ActorArgs,
    },
    /// An area's sessions, newest first (the open ones unless --all); under a resident's token,
    /// those of the token's area whose register holds them.
    List(ListArgs),
    /// Invite a participant by role.
    Invite {
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        #[command(flatten)]
        actor: ActorArgs,
    },
    /// 云票选: open a ballot on a motion; everyone invited but the chair votes from their own token.
    Ballot {
        id: String,
        #[arg(long)]
        motion: String,
        /// Views show only the tally, never who voted how.
        #[arg(long)]
        secret: bool,
    },
    /// Cast a vote in the session's open ballot, as the token's subject.
    Cast {
        id: String,
        #[arg(long, value_enum)]
        choice: ChoiceArg,
    },
    /// Close the open ballot: quorum and simple majority of those who voted.
    CloseBallot { id: String },
    /// Object to the published decision, as the token's subject (a registered resident), once.
    ObjectAsResident { id: String },
    /// 云议事: speak to the sitting as the token's subject (a registered resident), within the turns.
    SpeakAsResident {
        id: String,
        /// At most 300 characters.
        #[arg(long)]
        text: String,
    },
    /// 告知: notify the invited participants.
    Notify {
        id: String,
        #[command(flatten)]
        actor: ActorArgs,
    },
    /// 协商: the session sits, with who attended (repeat --present).
    Sit {
        id: String,
        #[arg(long, required = true)]
        present: Vec<String>,
        #[command(flatten)]
        actor: ActorArgs,
    },
    /// A statement by a participant present.
    Say {
        id: String,
        #[arg(long)]
        speaker: String,
        #[arg(long)]
        text: String,
        #[command(flatten)]
        actor: ActorArgs,
    },
    /// 决策: put a motion to a show of hands (simple majority of those present).
    Vote {
        id: String,
        #[arg(long)]
        motion: String,
        #[arg(long)]
        yes: Vec<String>,
        #[arg(long)]
        no: Vec<String>,
        #[arg(long)]
        abstain: Vec<String>,
        #[command(flatten)]
        actor: ActorArgs,
    },
    /// 签字确认 and 公示: the parties sign the carried motion; it is published for the notice period.
    Sign {
        id: String,
        #[arg(long, required = true)]
        signed_by: Vec<String>,
        /// How many residents the matter concerns (the base of the one-fifth objection rule).
        #[arg(long)]
        residents_concerned: u32,
        #[command(flatten)]
        actor: ActorArgs,
    },
    /// 联名异议: residents object during the notice period (repeat --resident).
    Object {
        id: String,
        #[arg(long = "resident", required = true)]
        residents: Vec<String>,
        #[command(flatten)]
        actor: ActorArgs,
    },
    /// The council's answer to an objection by one fifth: reconsider (复议) or suspend (暂缓执行).
    Respond {
        id: String,
        #[arg(long, value_enum)]
        response: ObjectionResponseArg,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        actor: ActorArgs,
    },
    /// 商定即办: execute the agreement once its notice period is over.
    Execute {
        id: String,
        #[command(flatten)]
        actor: ActorArgs,
    },
    /// No agreement: escalate one level (三提) or refer to litigation (引入诉讼).
    NoAgreement {
        id: String,
        #[arg(long, value_enum)]
        referral: ReferralArg,
        #[arg(long)]
        summary: String,
        #[command(flatten)]
        actor: ActorArgs,
    },
    /// Record the result of a consultation or hearing.
    Consultation {
        id: String,
        #[arg(long)]
        summary: String,
        #[command(flatten)]
        actor: ActorArgs,
    },
    /// Figures per area and period: sessions held, mediated / succeeded / referred to litigation,
    /// median time to agreement; --from/--to bound when sessions opened and concluded.
    Figures(AreaWindow),
    /// 监督: record a follow-up of an agreed or consulted matter (--settled ends them).
    FollowUp {
        id: String,
        #[arg(long)]
        note: String,
        #[arg(long)]
        settled: bool,
        #[command(flatten)]
        actor: ActorArgs,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SessionLevelArg {
    Building,
    Grid,
    Community,
    Street,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MatterKindArg {
    Deliberation,
    Decision,
    Consultation,
    Hearing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    GridWorker,
    PropertyCompany,
    OwnersCommittee,
    CppccMember,
    GridPolice,
    LegalWorker,
    ResidentRepresentative,
    SocialOrganisation,
    Party,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ObjectionResponseArg {
    Reconsider,
    Suspend,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReferralArg {
    EscalateOneLevel,
    Litigation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChoiceArg {
    Yes,
    No,
    Abstain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutcomeArg {
    Agreed,
    Failed,
}

pub async fn run(MediationArgs { command, global }: MediationArgs) -> Result<()> {
    let server = Server::connect(&global.addresses()).await?;
    let mut client = server.mediation();
    let view = match command {
        MediationCommand::List(args) => return list(&server, args, &global).await,
        MediationCommand::Figures(window) => {
            let (area, from, to) = window.request_parts(global.time_zone);
            let request = pb::GetMediationFiguresRequest { area, from, to };
            let figures =
                client.get_mediation_figures(request).await.map_err(server.fail("GetMediationFigures"))?.into_inner();
            return emit(global.json, || figures_json(&figures), || figures_text(&figures));
        }
        MediationCommand::Show { id, case, min_version } => {
            let request = pb::GetMediationRequest {
                mediation_id: id.unwrap_or_default(),
                case_id: case.unwrap_or_default(),
                min_version,
            };
            client.get_mediation(request).await.map_err(server.fail("GetMediation"))?
        }
        MediationCommand::Conclude { id, outcome, summary, signed_by, actor } => {
            let request = pb::ConcludeMediationRequest {
                mediation_id: id,
                actor: actor.to_proto(),
                outcome: enum_arg::<pb::MediationOutcome>(&outcome),
                summary,
                signed_by,
            };
            client.conclude_mediation(request).await.map_err(server.fail("ConcludeMediation"))?
        }
        MediationCommand::Propose {
            level,
            area,
            topic,
            kind,
            professional,
            convenor,
            collected_from,
            agenda_topic,
            register,
            actor,
        } => {
            let request = pb::ProposeTopicRequest {
                actor: actor.to_proto(),
                level: enum_arg::<pb::SessionLevel>(&level),
                area_code: area,
                topic,
                kind: enum_arg::<pb::MatterKind>(&kind),
                professional: professional.map_or(0, |p| enum_arg::<pb::ParticipantRole>(&p)),
                convenor,
                collected_from,
                agenda_topic,
                register_group: register.group(),
            };
            client.propose_topic(request).await.map_err(server.fail("ProposeTopic"))?
        }
        MediationCommand::Invite { id, name, role, actor } => {
            let request = pb::InviteParticipantRequest {
                mediation_id: id,
                actor: actor.to_proto(),
                name,
                role: enum_arg::<pb::ParticipantRole>(&role),
            };
            client.invite_participant(request).await.map_err(server.fail("InviteParticipant"))?
        }
        MediationCommand::Ballot { id, motion, secret } => {
            let request = pb::OpenBallotRequest { mediation_id: id, motion, secret };
            client.open_ballot(request).await.map_err(server.fail("OpenBallot"))?
        }
        MediationCommand::Cast { id, choice } => {
            let request = pb::CastBallotRequest { mediation_id: id, choice: enum_arg::<pb::BallotChoice>(&choice) };
            client.cast_ballot(request).await.map_err(server.fail("CastBallot"))?
        }
        MediationCommand::CloseBallot { id } => {
            let request = pb::MediationStepRequest { mediation_id: id, actor: None };
            client.close_ballot(request).await.map_err(server.fail("CloseBallot"))?
        }
        MediationCommand::SpeakAsResident { id, text } => {
            let request = pb::SubmitResidentStatementRequest { mediation_id: id, text };
            client.submit_resident_statement(request).await.map_err(server.fail("SubmitResidentStatement"))?
        }
        MediationCommand::ObjectAsResident { id } => {
            let request = pb::MediationStepRequest { mediation_id: id, actor: None };
            client.object_to_decision(request).await.map_err(server.fail("ObjectToDecision"))?
        }
        MediationCommand::Notify { id, actor } => {
            let request = pb::MediationStepRequest { mediation_id: id, actor: actor.to_proto() };
            client.notify_participants(request).await.map_err(server.fail("NotifyParticipants"))?
        }
        MediationCommand::Sit { id, present, actor } => {
            let request = pb::OpenDeliberationRequest { mediation_id: id, actor: actor.to_proto(), present };
            client.open_deliberation(request).await.map_err(server.fail("OpenDeliberation"))?
        }
        MediationCommand::Say { id, speaker, text, actor } => {
            let request = pb::MakeStatementRequest { mediation_id: id, actor: actor.to_proto(), speaker, text };
            client.make_statement(request).await.map_err(server.fail("MakeStatement"))?
        }
        MediationCommand::Vote { id, motion, yes, no, abstain, actor } => {
            let request = pb::PutMotionRequest { mediation_id: id, actor: actor.to_proto(), motion, yes, no, abstain };
            client.put_motion(request).await.map_err(server.fail("PutMotion"))?
        }
        MediationCommand::Sign { id, signed_by, residents_concerned, actor } => {
            let request =
                pb::SignAgreementRequest { mediation_id: id, actor: actor.to_proto(), signed_by, residents_concerned };
            client.sign_agreement(request).await.map_err(server.fail("SignAgreement"))?
        }
        MediationCommand::Object { id, residents, actor } => {
            let request = pb::RaiseObjectionRequest { mediation_id: id, actor: actor.to_proto(), residents };
            client.raise_objection(request).await.map_err(server.fail("RaiseObjection"))?
        }
        MediationCommand::Respond { id, response, reason, actor } => {
            let request = pb::RespondToObjectionRequest {
                mediation_id: id,
                actor: actor.to_proto(),
                response: enum_arg::<pb::ObjectionResponse>(&response),
                reason,
            };
            client.respond_to_objection(request).await.map_err(server.fail("RespondToObjection"))?
        }
        MediationCommand::Execute { id, actor } => {
            let request = pb::MediationStepRequest { mediation_id: id, actor: actor.to_proto() };
            client.execute_agreement(request).await.map_err(server.fail("ExecuteAgreement"))?
        }
        MediationCommand::NoAgreement { id, referral, summary, actor } => {
            let request = pb::RecordNoAgreementRequest {
                mediation_id: id,
                actor: actor.to_proto(),
                referral: enum_arg::<pb::MediationReferral>(&referral),
                summary,
            };
            client.record_no_agreement(request).await.map_err(server.fail("RecordNoAgreement"))?
        }
        MediationCommand::Consultation { id, summary, actor } => {
            let request = pb::RecordConsultationRequest { mediation_id: id, actor: actor.to_proto(), summary };
            client.record_consultation(request).await.map_err(server.fail("RecordConsultation"))?
        }
        MediationCommand::FollowUp { id, note, settled, actor } => {
            let request = pb::RecordFollowUpRequest { mediation_id: id, actor: actor.to_proto(), note, settled };
            client.record_follow_up(request).await.map_err(server.fail("RecordFollowUp"))?
        }
    }
    .into_inner();
    emit(global.json, || mediation_json(&view), || mediation_text(&view, terminal_width(), global.time_zone))
}

fn mediation_json(m: &pb::MediationView) -> Value {
    json!({
        "mediation_id": m.mediation_id,
        "case_id": m.case_id,
        "level": enum_json::<pb::Level>(m.level),
        "topic": m.topic,
        "state": enum_json::<pb::MediationState>(m.state),
        "summary": opt_str(&m.summary),
        "signed_by": m.signed_by,
        "version": m.version,
        "session_level": enum_json::<pb::SessionLevel>(m.session_level),
        "kind": enum_json::<pb::MatterKind>(m.kind),
        "stage": enum_json::<pb::MediationStage>(m.stage),
        "convenor": m.convenor,
        "professional": role_json(m.professional),
        "collected_from": opt_str(&m.collected_from),
        "participants": m.participants.iter().map(|p| json!({
            "name": p.name,
            "role": role_json(p.role),
        })).collect::<Vec<_>>(),
        "present": m.present,
        "statements": m.statements.iter().map(|s| json!({"speaker": s.speaker, "text": s.text})).collect::<Vec<_>>(),
        "resident_statements": m.resident_statements.iter()
            .map(|s| json!({"resident": s.speaker, "text": s.text})).collect::<Vec<_>>(),
        "agenda_topic": m.agenda_topic,
        "register_group": m.register_group.as_ref().map(|g| json!({
            "kind": enum_json::<pb::RegisterGroupKind>(g.kind),
            "name": g.name,
        })),
        "motion": opt_str(&m.motion),
        "notice_until": time_json(m.notice_until.as_ref()),
        "residents_concerned": m.residents_concerned,
        "objections_needed": m.objections_needed,
        "objectors": m.objectors,
        "reconsiderations": m.reconsiderations,
        "referral": enum_json::<pb::MediationReferral>(m.referral),
        "follow_up_due": time_json(m.follow_up_due.as_ref()),
        "follow_ups": m.follow_ups,
        "history": m.history.iter().map(|h| json!({
            "version": h.version,
            "occurred_at": time_json(h.occurred_at.as_ref()),
            "event_type": h.event_type,
            "actor": h.actor_id,
            "detail": h.detail,
        })).collect::<Vec<_>>(),
    })
}

/// A session for people, each line within `width` columns (long values and details wrapped).
fn mediation_text(m: &pb::MediationView, width: Option<usize>, zone: Tz) -> String {
    let mut table = Table::new(&[]).fit(width);
    let signed_by = if m.signed_by.is_empty() { "-".to_string() } else { m.signed_by.join(", ") };
    for (key, value) in [
        ("mediation", m.mediation_id.clone()),
        ("case", or_dash(&m.case_id)),
        ("collected from", or_dash(&m.collected_from)),
        ("level", enum_text::<pb::Level>(m.level)),
        ("council", enum_text::<pb::SessionLevel>(m.session_level)),
        ("register", m.register_group.as_ref().map_or_else(|| "the area's".into(), |g| g.name.clone())),
        ("kind", enum_text::<pb::MatterKind>(m.kind)),
        ("topic", m.topic.clone()),
        ("state", enum_text::<pb::MediationState>(m.state)),
        ("stage", enum_text::<pb::MediationStage>(m.stage)),
        ("convenor", or_dash(&m.convenor)),
        ("professional", role_text(m.professional)),
        ("participants", names_or_dash(m.participants.iter().map(|p| format!("{} ({})", p.name, role_text(p.role))))),
        ("present", names_or_dash(m.present.iter().cloned())),
        ("residents said", names_or_dash(m.resident_statements.iter().map(|s| format!("{}: {}", s.speaker, s.text)))),
        ("motion", or_dash(&m.motion)),
        ("summary", or_dash(&m.summary)),
        ("signed by", signed_by),
        ("notice until", time_text(m.notice_until.as_ref(), zone)),
        ("objectors", format!("{} of {} residents concerned", m.objectors.len(), m.residents_concerned)),
        ("reconsiderations", m.reconsiderations.to_string()),
        ("referral", enum_text::<pb::MediationReferral>(m.referral)),
        ("follow-up due", time_text(m.follow_up_due.as_ref(), zone)),
        ("follow-ups", m.follow_ups.to_string()),
        ("version", m.version.to_string()),
    ] {
        table.row(vec![key.to_string(), value]);
    }
    let mut history = Table::new(&["#", "at", "event", "by", "detail"]).fit(width);
    for h in &m.history {
        history.row(vec![
            h.version.to_string(),
            time_text(h.occurred_at.as_ref(), zone),
            h.event_type.clone(),
            or_dash(&h.actor_id),
            h.detail.clone(),
        ]);
    }
    format!("{}\nhistory\n{}", table.render(), history.render())
}

fn figures_json(f: &pb::MediationFigures) -> Value {
    json!({
        "sessions_held": f.sessions_held,
        "mediated": f.mediated,
        "succeeded": f.succeeded,
        "referred_to_litigation": f.referred_to_litigation,
        "escalated": f.escalated,
        "consultations": f.consultations,
        "median_days_to_agreement": f.median_days_to_agreement,
    })
}

fn figures_text(f: &pb::MediationFigures) -> String {
    let mut table = Table::new(&[]);
    for (key, value) in [
        ("sessions held", f.sessions_held.to_string()),
        ("mediated", f.mediated.to_string()),
        ("succeeded", f.succeeded.to_string()),
        ("referred to litigation", f.referred_to_litigation.to_string()),
        ("escalated one level", f.escalated.to_string()),
        ("consultations", f.consultations.to_string()),
        ("median days to agreement", format!("{:.1}", f.median_days_to_agreement)),
    ] {
        table.row(vec![key.to_string(), value]);
    }
    table.render()
}

fn names_or_dash(names: impl Iterator<Item = String>) -> String {
    let joined = names.collect::<Vec<_>>().join(", ");
    or_dash(&joined)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::output::every_spelling_maps;
    use crate::client::testing::parse;
    use crate::client::ClientCommand;

    #[test]
    fn the_council_procedure_commands_parse() {
        let ClientCommand::Mediation(MediationArgs {
            command: MediationCommand::Vote { id, yes, no, abstain, .. },
            ..
        }) = parse(&["mediation", "vote", "m1", "--motion", "x", "--yes", "甲", "--yes", "乙", "--no", "丙"]).unwrap()
        else {
            panic!("not mediation vote")
        };
        assert_eq!((id.as_str(), yes.len(), no.len(), abstain.len()), ("m1", 2, 1, 0));
        let ClientCommand::Mediation(MediationArgs {
            command: MediationCommand::Propose { level, kind, professional, register, .. },
            ..
        }) = parse(&[
            "mediation",
            "propose",
            "--level",
            "building",
            "--area",
            "321012001001001",
            "--topic",
            "充电桩",
            "--kind",
            "consultation",
            "--professional",
            "property-company",
            "--convenor",
            "周",
            "--collected-from",
            "痛点箱",
            "--building",
            "3号楼",
        ])
        .unwrap()
        else {
            panic!("not mediation propose")
        };
        assert_eq!(
            (level, kind, professional),
            (SessionLevelArg::Building, MatterKindArg::Consultation, Some(RoleArg::PropertyCompany))
        );
        let named = pb::RegisterGroup { kind: pb::RegisterGroupKind::Building as i32, name: "3号楼".into() };
        assert_eq!(register.group(), Some(named), "the building's register holds the residents concerned");
        let both = ["mediation", "propose", "--level", "grid", "--area", "1", "--topic", "t", "--convenor", "c"];
        let both = [&both[..], &["--collected-from", "x", "--building", "1号楼", "--courtyard", "幸福里"]].concat();
        assert!(parse(&both).is_err(), "one building or one courtyard");
        assert_eq!(
            enum_arg::<pb::ParticipantRole>(&RoleArg::PropertyCompany),
            pb::ParticipantRole::PropertyCompany as i32
        );
        assert_eq!(
            enum_arg::<pb::MediationReferral>(&ReferralArg::EscalateOneLevel),
            pb::MediationReferral::EscalateOneLevel as i32
        );
        assert_eq!(
            enum_arg::<pb::ObjectionResponse>(&ObjectionResponseArg::Suspend),
            pb::ObjectionResponse::Suspend as i32
        );
        assert!(parse(&["mediation", "sit", "m1"]).is_err(), "--present is required");
        assert!(parse(&["mediation", "object", "m1"]).is_err(), "--resident is required");
        assert!(parse(&["mediation", "no-agreement", "m1", "--referral", "back", "--summary", "s"]).is_err());
    }

    #[test]
    fn conclude_takes_every_signature() {
        let ClientCommand::Mediation(MediationArgs {
            command: MediationCommand::Conclude { signed_by, outcome, .. },
            ..
        }) = parse(&[
            "mediation",
            "conclude",
            "m1",
            "--outcome",
            "agreed",
            "--summary",
            "s",
            "--signed-by",
            "甲",
            "--signed-by",
            "乙",
        ])
        .unwrap()
        else {
            panic!("not mediation conclude")
        };
        assert_eq!((outcome, signed_by), (OutcomeArg::Agreed, vec!["甲".to_string(), "乙".to_string()]));
    }

    #[test]
    fn every_cli_spelling_maps_to_a_protobuf_value() {
        every_spelling_maps::<OutcomeArg, pb::MediationOutcome>();
        every_spelling_maps::<ChoiceArg, pb::BallotChoice>();
        every_spelling_maps::<SessionLevelArg, pb::SessionLevel>();
        every_spelling_maps::<MatterKindArg, pb::MatterKind>();
        every_spelling_maps::<RoleArg, pb::ParticipantRole>();
        every_spelling_maps::<ObjectionResponseArg, pb::ObjectionResponse>();
        every_spelling_maps::<ReferralArg, pb::MediationReferral>();
    }

    #[test]
    fn show_needs_the_session_or_its_case() {
        assert!(parse(&["mediation", "show"]).is_err(), "the id or --case is required");
        assert!(parse(&["mediation", "show", "m", "--case", "c"]).is_err());
        let ClientCommand::Mediation(MediationArgs { command: MediationCommand::Show { id, case, .. }, .. }) =
            parse(&["mediation", "show", "m1"]).unwrap()
        else {
            panic!("not mediation show")
        };
        assert_eq!((id.as_deref(), case), (Some("m1"), None), "the id comes first, as in every mediation command");
    }
}
