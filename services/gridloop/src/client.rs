//! The CLI's client commands: report, act on and show cases over gRPC (`gridloop case …`,
//! `gridloop catalog`, `gridloop jurisdiction`, `gridloop mediation …`, `gridloop stats 4321`).
//!
//! Every command takes `--server URL` (env `GRIDLOOP_SERVER`) — or, in distributed mode, one
//! address per service (`--intake`, `--dispatch`, `--mediation`, `--evaluation`, env
//! `GRIDLOOP_<SERVICE>_ADDR`) — and `--json`; with `--json`, stdout
//! carries exactly one JSON document. Enum values are lower-case snake names in JSON
//! (`in_mediation`, `basically_satisfied`) and timestamps are RFC 3339 UTC.

mod kpi;
pub(crate) mod output;
pub(crate) mod rpc;

use anyhow::Result;
use clap::{ArgGroup, Args, Subcommand, ValueEnum};
use gridloop_proto::v1 as pb;
use output::{
    case_json, case_text, duration_text, emit, enum_arg, enum_json, enum_text, history_json, history_row, opt_str,
    or_dash, point_json, point_text, sla_ladder, time, time_json, time_text, truncate, Table,
};
use rpc::{Addresses, Server};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub const DEFAULT_SERVER: &str = "http://127.0.0.1:50051";

// Client commands, flattened into the top-level `gridloop` command list. (A plain comment: a doc
// comment on a flattened enum would become the parent command's `about`.)
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Show the case catalog (权责清单): categories by class, start level and SLAs.
    Catalog(Global),
    /// Show the jurisdiction tree: district → street → community → grid.
    Jurisdiction(Global),
    /// Report, act on and show cases.
    Case(CaseArgs),
    /// Show and conclude mediation sessions (调解, 议事会).
    Mediation(MediationArgs),
    /// Key figures: `stats 4321` shows the share of cases settled per level against 40/30/20/10.
    Stats(StatsArgs),
}

/// Options every client command takes (after any subcommand).
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// The gridloop server (all four services on one address).
    #[arg(long, env = "GRIDLOOP_SERVER", default_value = DEFAULT_SERVER, global = true)]
    pub server: String,
    /// The intake service, when it runs on its own (distributed mode). Default: --server.
    #[arg(long = "intake", env = "GRIDLOOP_INTAKE_ADDR", global = true, value_name = "URL")]
    pub intake: Option<String>,
    /// The dispatch service, when it runs on its own. Default: --server.
    #[arg(long = "dispatch", env = "GRIDLOOP_DISPATCH_ADDR", global = true, value_name = "URL")]
    pub dispatch: Option<String>,
    /// The mediation service, when it runs on its own. Default: --server.
    #[arg(long = "mediation", env = "GRIDLOOP_MEDIATION_ADDR", global = true, value_name = "URL")]
    pub mediation: Option<String>,
    /// The evaluation service, when it runs on its own. Default: --server.
    #[arg(long = "evaluation", env = "GRIDLOOP_EVALUATION_ADDR", global = true, value_name = "URL")]
    pub evaluation: Option<String>,
    /// Print exactly one JSON document on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

impl Global {
    /// Each service's address: its own flag, else `--server`.
    pub fn addresses(&self) -> Addresses {
        let or_server = |own: &Option<String>| own.clone().unwrap_or_else(|| self.server.clone());
        Addresses {
            intake: or_server(&self.intake),
            dispatch: or_server(&self.dispatch),
            mediation: or_server(&self.mediation),
            evaluation: or_server(&self.evaluation),
        }
    }
}

/// Who is acting: fills the `Actor` of a command.
#[derive(Debug, Clone, Args)]
pub struct ActorArgs {
    /// The actor's role.
    #[arg(long, default_value = "grid_worker")]
    pub actor_role: String,
    /// The actor's id.
    #[arg(long, env = "GRIDLOOP_ACTOR", default_value = "cli")]
    pub actor_id: String,
    /// The jurisdiction code the actor acts for.
    #[arg(long)]
    pub actor_jurisdiction: Option<String>,
}

impl ActorArgs {
    fn to_proto(&self) -> Option<pb::Actor> {
        Some(pb::Actor {
            role: self.actor_role.clone(),
            id: self.actor_id.clone(),
            jurisdiction: self.actor_jurisdiction.clone().unwrap_or_default(),
        })
    }
}

#[derive(Debug, Args)]
pub struct CaseArgs {
    #[command(subcommand)]
    pub command: CaseCommand,
    #[command(flatten)]
    pub global: Global,
}

#[derive(Debug, Subcommand)]
pub enum CaseCommand {
    /// Report a case (上报); prints its id and the grid it was located in.
    Report(Box<ReportArgs>),
    /// Show a case and its full history.
    Show {
        /// The case id.
        id: String,
    },
    /// List cases, newest activity first.
    List(ListArgs),
    #[command(flatten)]
    Act(CaseAction),
    /// Record the reporter's satisfaction (评价).
    Evaluate {
        /// The case id.
        id: String,
        #[arg(long, value_enum)]
        satisfaction: SatisfactionArg,
        #[arg(long, default_value = "")]
        comment: String,
        #[command(flatten)]
        actor: ActorArgs,
    },
}

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
    /// Open a mediation / deliberation session for the case (调解, 议事).
    Mediate {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        topic: String,
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
    pub actor: ActorArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Category code from `gridloop catalog`.
    #[arg(long)]
    pub category: String,
    /// Latitude (WGS 84).
    #[arg(long, allow_negative_numbers = true)]
    pub lat: f64,
    /// Longitude (WGS 84).
    #[arg(long, allow_negative_numbers = true)]
    pub lon: f64,
    #[arg(long)]
    pub description: String,
    /// Idempotency key; a retry with the same key returns the first result [default: a new UUIDv7].
    #[arg(long)]
    pub client_key: Option<String>,
    #[arg(long, value_enum, default_value_t = ReporterKindArg::Resident)]
    pub reporter_kind: ReporterKindArg,
    #[arg(long, default_value = "")]
    pub reporter_id: String,
    #[arg(long, default_value = "")]
    pub reporter_name: String,
    #[arg(long, default_value = "")]
    pub reporter_phone: String,
    #[arg(long, value_enum, default_value_t = ChannelArg::ResidentApp)]
    pub channel: ChannelArg,
    /// When it was discovered (RFC 3339, e.g. 2025-03-01T08:30:00+08:00) [default: upload time].
    #[arg(long, value_parser = output::parse_instant)]
    pub discovered_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Urgent or major (急难重大): may start at a higher level.
    #[arg(long)]
    pub urgent: bool,
    /// A special group the report concerns (特殊群体; repeat for several): the case goes first.
    #[arg(long = "special-group", value_enum)]
    pub special_groups: Vec<SpecialGroupArg>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long, value_enum)]
    pub state: Option<StateArg>,
    /// Jurisdiction code prefix: a district, street, community or grid.
    #[arg(long)]
    pub area: Option<String>,
    /// At most this many cases.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// `priority`: highest priority first (urgent, special groups, shared concern, category),
    /// oldest first within a priority — the order a unit works through its queue.
    #[arg(long, value_enum, default_value_t = OrderArg::Newest)]
    pub order: OrderArg,
}

#[derive(Debug, Args)]
pub struct MediationArgs {
    #[command(subcommand)]
    pub command: MediationCommand,
    #[command(flatten)]
    pub global: Global,
}

#[derive(Debug, Subcommand)]
pub enum MediationCommand {
    /// Show a session, by its id or by its case (the case's latest session).
    #[command(group(ArgGroup::new("which").required(true).args(["id", "case"])))]
    Show {
        #[arg(long)]
        id: Option<String>,
        #[arg(long)]
        case: Option<String>,
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
        #[command(flatten)]
        actor: ActorArgs,
    },
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
    /// median time to agreement.
    Figures {
        /// Jurisdiction code prefix [default: everything].
        #[arg(long)]
        area: Option<String>,
        /// Opened / concluded at or after (RFC 3339, or YYYY-MM-DD = that day 00:00 UTC).
        #[arg(long, value_parser = output::parse_from)]
        from: Option<chrono::DateTime<chrono::Utc>>,
        /// Opened / concluded before (RFC 3339, or YYYY-MM-DD = that whole day included).
        #[arg(long, value_parser = output::parse_to)]
        to: Option<chrono::DateTime<chrono::Utc>>,
    },
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

#[derive(Debug, Args)]
pub struct StatsArgs {
    #[command(subcommand)]
    pub command: StatsCommand,
    #[command(flatten)]
    pub global: Global,
}

#[derive(Debug, Subcommand)]
pub enum StatsCommand {
    /// Cases closed per settled level vs the 4321 targets (40% grid, 30% community, 20% street, 10% district).
    #[command(name = "4321")]
    Levels {
        /// Jurisdiction code prefix [default: everything].
        #[arg(long)]
        area: Option<String>,
        /// Closed at or after (RFC 3339, or YYYY-MM-DD = that day 00:00 UTC).
        #[arg(long, value_parser = output::parse_from)]
        from: Option<chrono::DateTime<chrono::Utc>>,
        /// Closed before (RFC 3339, or YYYY-MM-DD = that whole day included).
        #[arg(long, value_parser = output::parse_to)]
        to: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Key performance indicators per period: response, resolution and satisfaction rates (三率),
    /// on-time closure, rework, 4321 attainment and mediation success. `--period` day, week,
    /// month, quarter or year gives the daily check, weekly meeting, monthly scheduling,
    /// quarterly analysis or annual summary; `--as-of` the figures as they stood on a past date.
    Kpi(Box<kpi::KpiArgs>),
    /// Areas whose 4321 distribution drifted out of the server's tolerance (DistributionDriftDetected).
    Drift {
        /// Jurisdiction code prefix [default: everything].
        #[arg(long)]
        area: Option<String>,
        /// Also list areas that have come back within the tolerance.
        #[arg(long)]
        include_cleared: bool,
    },
}

// CLI spellings of protobuf enums: each name is the protobuf value name without its prefix, in
// kebab case (`enum_arg` maps it); the snake spelling is accepted too.

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReporterKindArg {
    Resident,
    #[value(alias = "grid_worker")]
    GridWorker,
    Platform,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChannelArg {
    Patrol,
    #[value(alias = "resident_app")]
    ResidentApp,
    Hotline,
    #[value(alias = "suggestion_box")]
    SuggestionBox,
    #[value(alias = "walk_in")]
    WalkIn,
    Platform,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OrderArg {
    Newest,
    Priority,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SpecialGroupArg {
    #[value(alias = "elderly_living_alone")]
    ElderlyLivingAlone,
    Disabled,
    #[value(alias = "left_behind_child")]
    LeftBehindChild,
    Hardship,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SatisfactionArg {
    Satisfied,
    #[value(alias = "basically_satisfied")]
    BasicallySatisfied,
    Unsatisfied,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StateArg {
    Reported,
    Rejected,
    Dispatched,
    Accepted,
    #[value(alias = "in_mediation")]
    InMediation,
    /// Resolved, waiting for the grid worker's on-site check (核查): the grid worker's queue.
    #[value(alias = "awaiting_verification")]
    AwaitingVerification,
    Resolved,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutcomeArg {
    Agreed,
    Failed,
}

/// Runs one client command.
pub async fn run(command: ClientCommand) -> Result<()> {
    match command {
        ClientCommand::Catalog(global) => catalog(&global).await,
        ClientCommand::Jurisdiction(global) => jurisdiction(&global).await,
        ClientCommand::Case(CaseArgs { command, global }) => case(&global, command).await,
        ClientCommand::Mediation(MediationArgs { command, global }) => mediation(&global, command).await,
        ClientCommand::Stats(StatsArgs { command: StatsCommand::Levels { area, from, to }, global }) => {
            stats_4321(&global, area, from, to).await
        }
        ClientCommand::Stats(StatsArgs { command: StatsCommand::Kpi(args), global }) => kpi::run(&global, *args).await,
        ClientCommand::Stats(StatsArgs { command: StatsCommand::Drift { area, include_cleared }, global }) => {
            let server = Server::connect(&global.addresses()).await?;
            let request = pb::ListDriftAlertsRequest { area: area.unwrap_or_default(), include_cleared };
            let response = server
                .evaluation()
                .list_drift_alerts(request)
                .await
                .map_err(server.fail("ListDriftAlerts"))?
                .into_inner();
            emit(global.json, || drift_json(&response), || drift_text(&response))
        }
    }
}

async fn catalog(global: &Global) -> Result<()> {
    let server = Server::connect(&global.addresses()).await?;
    let catalog = server.intake().get_catalog(pb::GetCatalogRequest {}).await.map_err(server.fail("GetCatalog"))?;
    let groups = group_catalog(catalog.into_inner());
    emit(global.json, || catalog_json(&groups), || catalog_text(&groups))
}

/// Categories grouped by class, in the catalog's class order; a category whose class is not
/// listed gets a group of its own.
fn group_catalog(catalog: pb::GetCatalogResponse) -> Vec<(pb::CategoryClass, Vec<pb::Category>)> {
    let mut groups: Vec<(pb::CategoryClass, Vec<pb::Category>)> =
        catalog.classes.into_iter().map(|class| (class, Vec::new())).collect();
    for category in catalog.categories {
        match groups.iter_mut().find(|(class, _)| class.code == category.class_code) {
            Some((_, members)) => members.push(category),
            None => {
                let class = pb::CategoryClass { code: category.class_code.clone(), name: category.class_name.clone() };
                groups.push((class, vec![category]));
            }
        }
    }
    groups
}

fn catalog_json(groups: &[(pb::CategoryClass, Vec<pb::Category>)]) -> Value {
    let classes: Vec<Value> = groups
        .iter()
        .map(|(class, categories)| {
            let categories: Vec<Value> = categories
                .iter()
                .map(|c| {
                    // Per level, grid first; a server older than the strings sends none.
                    let resolve_sla: serde_json::Map<String, Value> = LADDER
                        .iter()
                        .zip(&c.resolve_sla)
                        .map(|(level, sla)| (enum_text::<pb::Level>(*level as i32), json!(sla)))
                        .collect();
                    // The owning department per level, where the list names one.
                    let departments: serde_json::Map<String, Value> = LADDER
                        .iter()
                        .zip(&c.departments)
                        .filter(|(_, code)| !code.is_empty())
                        .map(|(level, code)| (enum_text::<pb::Level>(*level as i32), json!(code)))
                        .collect();
                    json!({
                        "code": c.code,
                        "name": c.name,
                        "class_code": c.class_code,
                        "start_level": enum_json::<pb::Level>(c.start_level),
                        "accept_sla": opt_str(&c.accept_sla),
                        "resolve_sla": resolve_sla,
                        "feedback_sla": opt_str(&c.feedback_sla),
                        "accept_sla_seconds": c.accept_sla_seconds,
                        "resolve_sla_seconds": c.resolve_sla_seconds,
                        "departments": departments,
                        "requires_verification": c.requires_verification,
                        "verify_sla": opt_str(&c.verify_sla),
                    })
                })
                .collect();
            json!({ "code": class.code, "name": class.name, "categories": categories })
        })
        .collect();
    json!({ "classes": classes })
}

/// The levels of the ladder, in the order of `Category.resolve_sla`.
const LADDER: [pb::Level; 4] = [pb::Level::Grid, pb::Level::Community, pb::Level::Street, pb::Level::District];

fn catalog_text(groups: &[(pb::CategoryClass, Vec<pb::Category>)]) -> String {
    let mut out = String::new();
    for (class, categories) in groups {
        out.push_str(&format!("{} ({})\n", class.name, class.code));
        let mut table = Table::new(&[
            "code",
            "name",
            "start level",
            "accept SLA",
            "resolve SLA (start level up)",
            "feedback SLA",
            "核查 (above grid)",
        ]);
        for c in categories {
            // The strings are authoritative; a server older than them only sends nominal seconds.
            let accept =
                if c.accept_sla.is_empty() { duration_text(c.accept_sla_seconds) } else { c.accept_sla.clone() };
            let start = LADDER.iter().position(|l| *l as i32 == c.start_level).unwrap_or(0);
            let resolve = match c.resolve_sla.get(start..) {
                Some(ladder) if !ladder.is_empty() => sla_ladder(ladder),
                _ => duration_text(c.resolve_sla_seconds),
            };
            table.row(vec![
                c.code.clone(),
                c.name.clone(),
                enum_text::<pb::Level>(c.start_level),
                accept,
                resolve,
                or_dash(&c.feedback_sla),
                // The on-site check of a resolution above the grid, and its time.
                match (c.requires_verification, c.verify_sla.as_str()) {
                    (false, _) => "-".to_string(),
                    (true, "") => "yes".to_string(),
                    (true, sla) => sla.to_string(),
                },
            ]);
        }
        out.push_str(&table.render_indented("  "));
        out.push('\n');
    }
    out
}

async fn jurisdiction(global: &Global) -> Result<()> {
    let server = Server::connect(&global.addresses()).await?;
    let response = server
        .intake()
        .get_jurisdiction(pb::GetJurisdictionRequest {})
        .await
        .map_err(server.fail("GetJurisdiction"))?;
    let nodes = tree_order(response.into_inner().nodes);
    emit(global.json, || jurisdiction_json(&nodes), || jurisdiction_text(&nodes))
}

/// Nodes depth-first from the roots (children by code), each with its depth.
fn tree_order(nodes: Vec<pb::JurisdictionNode>) -> Vec<(usize, pb::JurisdictionNode)> {
    let codes: std::collections::HashSet<String> = nodes.iter().map(|n| n.code.clone()).collect();
    let mut children: BTreeMap<String, Vec<pb::JurisdictionNode>> = BTreeMap::new();
    for node in nodes {
        let parent = if codes.contains(&node.parent_code) { node.parent_code.clone() } else { String::new() };
        children.entry(parent).or_default().push(node);
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| a.code.cmp(&b.code));
    }
    let mut ordered = Vec::new();
    let mut stack: Vec<(usize, pb::JurisdictionNode)> =
        children.remove("").unwrap_or_default().into_iter().rev().map(|n| (0, n)).collect();
    while let Some((depth, node)) = stack.pop() {
        if let Some(kids) = children.remove(&node.code) {
            stack.extend(kids.into_iter().rev().map(|n| (depth + 1, n)));
        }
        ordered.push((depth, node));
    }
    ordered
}

fn jurisdiction_json(nodes: &[(usize, pb::JurisdictionNode)]) -> Value {
    let nodes: Vec<Value> = nodes
        .iter()
        .map(|(_, n)| {
            json!({
                "code": n.code,
                "name": n.name,
                "level": enum_json::<pb::Level>(n.level),
                "parent_code": opt_str(&n.parent_code),
                "interior_point": point_json(n.interior_point.as_ref()),
                "boundary": n.boundary.iter().map(|p| point_json(Some(p))).collect::<Vec<_>>(),
                "departments": n.departments.iter().map(|d| json!({ "code": d.code, "name": d.name })).collect::<Vec<_>>(),
                "workers": n.workers.iter().map(|w| json!({ "id": w.id, "name": w.name })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "nodes": nodes })
}

fn jurisdiction_text(nodes: &[(usize, pb::JurisdictionNode)]) -> String {
    let mut table = Table::new(&["code", "name", "level", "interior point (lat, lon)", "units"]);
    for (depth, n) in nodes {
        let point = if n.interior_point.is_some() { point_text(n.interior_point.as_ref()) } else { String::new() };
        let units: Vec<&str> =
            n.departments.iter().map(|d| d.name.as_str()).chain(n.workers.iter().map(|w| w.name.as_str())).collect();
        table.row(vec![
            format!("{}{}", "  ".repeat(*depth), n.code),
            n.name.clone(),
            enum_text::<pb::Level>(n.level),
            point,
            units.join(", "),
        ]);
    }
    table.render()
}

async fn case(global: &Global, command: CaseCommand) -> Result<()> {
    let server = Server::connect(&global.addresses()).await?;
    match command {
        CaseCommand::Report(args) => report(&server, global.json, *args).await,
        CaseCommand::Show { id } => {
            let response = get_case(&server, &id).await?;
            emit(global.json, || case_with_history_json(&response), || case_with_history_text(&response))
        }
        CaseCommand::List(args) => list(&server, global.json, args).await,
        CaseCommand::Evaluate { id, satisfaction, comment, actor } => {
            let request = pb::EvaluateCaseRequest {
                case_id: id,
                actor: actor.to_proto(),
                satisfaction: enum_arg::<pb::Satisfaction>(&satisfaction),
                comment,
            };
            let response =
                server.evaluation().evaluate_case(request).await.map_err(server.fail("EvaluateCase"))?.into_inner();
            emit(
                global.json,
                || {
                    json!({
                        "case_id": response.case_id,
                        "satisfaction": enum_json::<pb::Satisfaction>(response.satisfaction),
                    })
                },
                || {
                    let satisfaction = enum_text::<pb::Satisfaction>(response.satisfaction);
                    format!("case {} evaluated: {satisfaction}", response.case_id)
                },
            )
        }
        CaseCommand::Act(action) => {
            let view = dispatch_command(&server, action).await?;
            emit(global.json, || case_json(&view), || case_text(&view))
        }
    }
}

async fn get_case(server: &Server, id: &str) -> Result<pb::GetCaseResponse> {
    let request = pb::GetCaseRequest { case_id: id.to_string() };
    Ok(server.dispatch().get_case(request).await.map_err(server.fail("GetCase"))?.into_inner())
}

/// Sends one of the dispatch commands and returns the case as it is afterwards.
async fn dispatch_command(server: &Server, action: CaseAction) -> Result<pb::CaseView> {
    let mut client = server.dispatch();
    let request = |t: &Target| (t.id.clone(), t.expected_version, t.actor.to_proto());
    let response = match action {
        CaseAction::Accept { target, assignee } => {
            let (case_id, expected_version, actor) = request(&target);
            let r = pb::AcceptCaseRequest { case_id, expected_version, actor, assignee };
            client.accept_case(r).await.map_err(server.fail("AcceptCase"))?
        }
        CaseAction::Escalate { target, reason } => {
            let (case_id, expected_version, actor) = request(&target);
            let r = pb::EscalateCaseRequest { case_id, expected_version, actor, reason };
            client.escalate_case(r).await.map_err(server.fail("EscalateCase"))?
        }
        CaseAction::Transfer { target, to_unit, reason } => {
            let (case_id, expected_version, actor) = request(&target);
            let r = pb::TransferCaseRequest { case_id, expected_version, actor, to_unit, reason };
            client.transfer_case(r).await.map_err(server.fail("TransferCase"))?
        }
        CaseAction::Mediate { target, topic } => {
            let (case_id, expected_version, actor) = request(&target);
            let r = pb::RequestMediationRequest { case_id, expected_version, actor, topic };
            client.request_mediation(r).await.map_err(server.fail("RequestMediation"))?
        }
        CaseAction::Resolve { target, summary } => {
            let (case_id, expected_version, actor) = request(&target);
            let r = pb::ResolveCaseRequest { case_id, expected_version, actor, summary };
            client.resolve_case(r).await.map_err(server.fail("ResolveCase"))?
        }
        CaseAction::Verify { target, verifier, failed, note } => {
            let (case_id, expected_version, actor) = request(&target);
            let r = pb::VerifyCaseRequest { case_id, expected_version, actor, verifier, passed: !failed, note };
            client.verify_case(r).await.map_err(server.fail("VerifyCase"))?
        }
        CaseAction::Reject { target, reason } => {
            let (case_id, expected_version, actor) = request(&target);
            let r = pb::RejectCaseRequest { case_id, expected_version, actor, reason };
            client.reject_case(r).await.map_err(server.fail("RejectCase"))?
        }
        CaseAction::Summon { target, departments, reason } => {
            let (case_id, expected_version, actor) = request(&target);
            let r = pb::SummonDepartmentsRequest { case_id, expected_version, actor, departments, reason };
            client.summon_departments(r).await.map_err(server.fail("SummonDepartments"))?
        }
        CaseAction::ReportIn(args) => {
            let ReportInArgs { target, department, by, note } = *args;
            let (case_id, expected_version, actor) = request(&target);
            let r = pb::ReportInRequest { case_id, expected_version, actor, department, by, note };
            client.report_in(r).await.map_err(server.fail("ReportIn"))?
        }
    }
    .into_inner();
    match response.case {
        Some(view) => Ok(view),
        // A server that leaves the view out: read it back.
        None => get_case(server, &response.case_id)
            .await?
            .case
            .ok_or_else(|| anyhow::anyhow!("the server returned no case")),
    }
}

fn case_with_history_json(response: &pb::GetCaseResponse) -> Value {
    json!({
        "case": response.case.as_ref().map_or(Value::Null, case_json),
        "history": response.history.iter().map(history_json).collect::<Vec<_>>(),
    })
}

fn case_with_history_text(response: &pb::GetCaseResponse) -> String {
    let mut out = response.case.as_ref().map(case_text).unwrap_or_default();
    let mut table = Table::new(&["v", "event", "occurred at", "actor", "payload"]).right_align(&[0]);
    for entry in &response.history {
        table.row(history_row(entry));
    }
    out.push_str(&format!("\nhistory ({} events)\n", response.history.len()));
    out.push_str(&table.render_indented("  "));
    out
}

async fn report(server: &Server, json: bool, args: ReportArgs) -> Result<()> {
    let client_key = args.client_key.unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let request = pb::ReportCaseRequest {
        client_key: client_key.clone(),
        category_code: args.category,
        location: Some(pb::GeoPoint { lat: args.lat, lon: args.lon }),
        description: args.description,
        reporter: Some(pb::Reporter {
            kind: enum_arg::<pb::ReporterKind>(&args.reporter_kind),
            id: args.reporter_id,
            name: args.reporter_name,
            phone: args.reporter_phone,
        }),
        channel: enum_arg::<pb::Channel>(&args.channel),
        discovered_at: args.discovered_at.map(time),
        urgent: args.urgent,
        special_groups: args.special_groups.iter().map(enum_arg::<pb::SpecialGroup>).collect(),
    };
    let r = server.intake().report_case(request).await.map_err(server.fail("ReportCase"))?.into_inner();
    emit(
        json,
        || {
            json!({
                "case_id": r.case_id,
                "grid_code": r.grid_code,
                "category_code": r.category_code,
                "uploaded_at": time_json(r.uploaded_at.as_ref()),
                "replayed": r.replayed,
                "linked": r.linked,
                "linked_reason": r.linked_reason,
                "client_key": client_key,
            })
        },
        || {
            let mut text = if r.linked {
                format!(
                    "linked to open case {} in grid {} (no new case)\n  {}\n",
                    r.case_id, r.grid_code, r.linked_reason
                )
            } else {
                format!("case {} reported in grid {}\n", r.case_id, r.grid_code)
            };
            text.push_str(&format!(
                "  category {} · uploaded at {} · client key {}\n",
                r.category_code,
                time_text(r.uploaded_at.as_ref()),
                client_key
            ));
            if r.replayed {
                text.push_str("  (replayed: the stored result of an earlier report with this client key)\n");
            }
            text
        },
    )
}

async fn list(server: &Server, json: bool, args: ListArgs) -> Result<()> {
    let mut client = server.evaluation();
    let mut cases = Vec::new();
    let mut page_token = String::new();
    while cases.len() < args.limit as usize {
        let request = pb::ListCasesRequest {
            state: args.state.as_ref().map_or(0, enum_arg::<pb::CaseState>),
            area: args.area.clone().unwrap_or_default(),
            page_size: args.limit - cases.len() as u32,
            page_token,
            order: enum_arg::<pb::CaseOrder>(&args.order),
        };
        let page = client.list_cases(request).await.map_err(server.fail("ListCases"))?.into_inner();
        cases.extend(page.cases);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    cases.truncate(args.limit as usize);
    emit(json, || json!({ "cases": cases.iter().map(summary_json).collect::<Vec<_>>() }), || cases_text(&cases))
}

fn summary_json(c: &pb::CaseSummary) -> Value {
    json!({
        "case_id": c.case_id,
        "state": enum_json::<pb::CaseState>(c.state),
        "level": enum_json::<pb::Level>(c.level),
        "category_code": c.category_code,
        "grid_code": c.grid_code,
        "opened_at": time_json(c.opened_at.as_ref()),
        "updated_at": time_json(c.updated_at.as_ref()),
        "settled_level": enum_json::<pb::Level>(c.settled_level),
        "escalations": c.escalations,
        "reopen_count": c.reopen_count,
        "linked_reports": c.linked_reports,
        "priority": c.priority,
        "priority_reasons": c.priority_reasons,
        "description": c.description,
    })
}

fn cases_text(cases: &[pb::CaseSummary]) -> String {
    if cases.is_empty() {
        return "no cases".into();
    }
    let mut table = Table::new(&[
        "case",
        "prio",
        "state",
        "level",
        "category",
        "grid",
        "updated at",
        "esc",
        "reopen",
        "description",
    ])
    .right_align(&[1, 7, 8]);
    for c in cases {
        table.row(vec![
            c.case_id.clone(),
            c.priority.to_string(),
            enum_text::<pb::CaseState>(c.state),
            enum_text::<pb::Level>(c.level),
            c.category_code.clone(),
            c.grid_code.clone(),
            time_text(c.updated_at.as_ref()),
            c.escalations.to_string(),
            c.reopen_count.to_string(),
            truncate(&c.description, 40),
        ]);
    }
    format!("{}{} {}\n", table.render(), cases.len(), if cases.len() == 1 { "case" } else { "cases" })
}

async fn mediation(global: &Global, command: MediationCommand) -> Result<()> {
    let server = Server::connect(&global.addresses()).await?;
    let mut client = server.mediation();
    let view = match command {
        MediationCommand::Figures { area, from, to } => {
            let request = pb::GetMediationFiguresRequest {
                area: area.unwrap_or_default(),
                from: from.map(time),
                to: to.map(time),
            };
            let figures =
                client.get_mediation_figures(request).await.map_err(server.fail("GetMediationFigures"))?.into_inner();
            return emit(global.json, || figures_json(&figures), || figures_text(&figures));
        }
        MediationCommand::Show { id, case } => {
            let request =
                pb::GetMediationRequest { mediation_id: id.unwrap_or_default(), case_id: case.unwrap_or_default() };
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
        MediationCommand::Propose { level, area, topic, kind, professional, convenor, collected_from, actor } => {
            let request = pb::ProposeTopicRequest {
                actor: actor.to_proto(),
                level: enum_arg::<pb::SessionLevel>(&level),
                area_code: area,
                topic,
                kind: enum_arg::<pb::MatterKind>(&kind),
                professional: professional.map_or(0, |p| enum_arg::<pb::ParticipantRole>(&p)),
                convenor,
                collected_from,
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
    emit(global.json, || mediation_json(&view), || mediation_text(&view))
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
        "professional": enum_json::<pb::ParticipantRole>(m.professional),
        "collected_from": opt_str(&m.collected_from),
        "participants": m.participants.iter().map(|p| json!({
            "name": p.name,
            "role": enum_json::<pb::ParticipantRole>(p.role),
        })).collect::<Vec<_>>(),
        "present": m.present,
        "statements": m.statements.iter().map(|s| json!({"speaker": s.speaker, "text": s.text})).collect::<Vec<_>>(),
        "motion": opt_str(&m.motion),
        "notice_until": time_json(m.notice_until.as_ref()),
        "residents_concerned": m.residents_concerned,
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

fn mediation_text(m: &pb::MediationView) -> String {
    let mut table = Table::new(&[]);
    let signed_by = if m.signed_by.is_empty() { "-".to_string() } else { m.signed_by.join(", ") };
    for (key, value) in [
        ("mediation", m.mediation_id.clone()),
        ("case", or_dash(&m.case_id)),
        ("collected from", or_dash(&m.collected_from)),
        ("level", enum_text::<pb::Level>(m.level)),
        ("council", enum_text::<pb::SessionLevel>(m.session_level)),
        ("kind", enum_text::<pb::MatterKind>(m.kind)),
        ("topic", m.topic.clone()),
        ("state", enum_text::<pb::MediationState>(m.state)),
        ("stage", enum_text::<pb::MediationStage>(m.stage)),
        ("convenor", or_dash(&m.convenor)),
        ("professional", enum_text::<pb::ParticipantRole>(m.professional)),
        (
            "participants",
            names_or_dash(
                m.participants.iter().map(|p| format!("{} ({})", p.name, enum_text::<pb::ParticipantRole>(p.role))),
            ),
        ),
        ("present", names_or_dash(m.present.iter().cloned())),
        ("motion", or_dash(&m.motion)),
        ("summary", or_dash(&m.summary)),
        ("signed by", signed_by),
        ("notice until", time_text(m.notice_until.as_ref())),
        ("objectors", format!("{} of {} residents concerned", m.objectors.len(), m.residents_concerned)),
        ("reconsiderations", m.reconsiderations.to_string()),
        ("referral", enum_text::<pb::MediationReferral>(m.referral)),
        ("follow-up due", time_text(m.follow_up_due.as_ref())),
        ("follow-ups", m.follow_ups.to_string()),
        ("version", m.version.to_string()),
    ] {
        table.row(vec![key.to_string(), value]);
    }
    let mut history = Table::new(&["#", "at", "event", "by", "detail"]);
    for h in &m.history {
        history.row(vec![
            h.version.to_string(),
            time_text(h.occurred_at.as_ref()),
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

async fn stats_4321(
    global: &Global,
    area: Option<String>,
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<()> {
    let server = Server::connect(&global.addresses()).await?;
    let request =
        pb::GetLevelDistributionRequest { area: area.unwrap_or_default(), from: from.map(time), to: to.map(time) };
    let response = server
        .evaluation()
        .get_level_distribution(request.clone())
        .await
        .map_err(server.fail("GetLevelDistribution"))?
        .into_inner();
    emit(global.json, || distribution_json(&request, &response), || distribution_text(&request, &response))
}

fn distribution_json(request: &pb::GetLevelDistributionRequest, r: &pb::GetLevelDistributionResponse) -> Value {
    let levels: Vec<Value> = r
        .levels
        .iter()
        .map(|l| {
            json!({
                "level": enum_json::<pb::Level>(l.level),
                "count": l.count,
                "share": l.share,
                "target": l.target,
                "deviation": l.deviation,
            })
        })
        .collect();
    json!({
        "area": opt_str(&request.area),
        "from": time_json(request.from.as_ref()),
        "to": time_json(request.to.as_ref()),
        "closed_total": r.closed_total,
        "levels": levels,
    })
}

fn distribution_text(request: &pb::GetLevelDistributionRequest, r: &pb::GetLevelDistributionResponse) -> String {
    let area = if request.area.is_empty() { "all areas".to_string() } else { format!("area {}", request.area) };
    let bound = |t: Option<&prost_types::Timestamp>| output::rfc3339(t).unwrap_or_else(|| "…".into());
    let mut out = format!(
        "4321 distribution · {area} · closed {} – {} · {} closed cases\n",
        bound(request.from.as_ref()),
        bound(request.to.as_ref()),
        r.closed_total
    );
    let percent = |x: f64| format!("{:.1}%", x * 100.0);
    let mut table = Table::new(&["level", "count", "share", "target", "deviation"]).right_align(&[1, 2, 3, 4]);
    for l in &r.levels {
        table.row(vec![
            enum_text::<pb::Level>(l.level),
            l.count.to_string(),
            percent(l.share),
            percent(l.target),
            format!("{:+.1} pp", l.deviation * 100.0),
        ]);
    }
    out.push_str(&table.render());
    out
}

fn drift_json(r: &pb::ListDriftAlertsResponse) -> Value {
    let alerts: Vec<Value> = r
        .alerts
        .iter()
        .map(|a| {
            let shares: serde_json::Map<String, Value> =
                a.levels.iter().map(|l| (enum_text::<pb::Level>(l.level), json!(l.share))).collect();
            json!({
                "area": a.area,
                "drifted": a.drifted,
                "changed_at": time_json(a.changed_at.as_ref()),
                "shares": shares,
                "deviation": a.deviation,
                "closed_total": a.closed_total,
            })
        })
        .collect();
    json!({ "tolerance": r.tolerance, "window_days": r.window_days, "alerts": alerts })
}

fn drift_text(r: &pb::ListDriftAlertsResponse) -> String {
    let percent = |x: f64| format!("{:.1}%", x * 100.0);
    if r.tolerance == 0.0 {
        return "the 4321 drift alert is off on this server (--drift-tolerance-pp 0)".into();
    }
    let mut out = format!("4321 drift · tolerance ±{:.1} pp · window {} days\n", r.tolerance * 100.0, r.window_days);
    if r.alerts.is_empty() {
        out.push_str("no area out of tolerance\n");
        return out;
    }
    let mut table =
        Table::new(&["area", "state", "since", "grid", "community", "street", "district", "deviation", "closed"])
            .right_align(&[3, 4, 5, 6, 7, 8]);
    for a in &r.alerts {
        let mut row = vec![
            a.area.clone(),
            if a.drifted { "drifted" } else { "cleared" }.to_string(),
            time_text(a.changed_at.as_ref()),
        ];
        row.extend(a.levels.iter().map(|l| percent(l.share)));
        row.push(format!("{:.1} pp", a.deviation * 100.0));
        row.push(a.closed_total.to_string());
        table.row(row);
    }
    out.push_str(&table.render());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    /// The same shape as the binary: `up` plus the flattened client commands.
    #[derive(Debug, Parser)]
    #[command(name = "gridloop")]
    struct Cli {
        #[command(subcommand)]
        command: Top,
    }

    #[derive(Debug, Subcommand)]
    #[allow(clippy::large_enum_variant)] // parsed once per test
    enum Top {
        Up,
        #[command(flatten)]
        Client(ClientCommand),
    }

    fn parse(args: &[&str]) -> Result<ClientCommand, clap::Error> {
        let cli = Cli::try_parse_from(std::iter::once("gridloop").chain(args.iter().copied()))?;
        match cli.command {
            Top::Client(command) => Ok(command),
            Top::Up => panic!("parsed as up"),
        }
    }

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn show_takes_json_and_server_after_the_id() {
        let ClientCommand::Case(CaseArgs { command: CaseCommand::Show { id }, global }) =
            parse(&["case", "show", "abc", "--json", "--server", "http://h:1"]).unwrap()
        else {
            panic!("not case show")
        };
        assert_eq!(id, "abc");
        assert!(global.json);
        assert_eq!(global.server, "http://h:1");
        // … and before the subcommand too.
        let ClientCommand::Case(CaseArgs { global, .. }) = parse(&["case", "--json", "show", "abc"]).unwrap() else {
            panic!("not case")
        };
        assert!(global.json);
    }

    #[test]
    fn each_service_may_have_its_own_address() {
        let ClientCommand::Catalog(global) =
            parse(&["catalog", "--server", "http://h:1", "--dispatch", "http://d:2"]).unwrap()
        else {
            panic!("not catalog")
        };
        let addresses = global.addresses();
        assert_eq!(addresses.dispatch, "http://d:2");
        assert_eq!((addresses.intake.as_str(), addresses.evaluation.as_str()), ("http://h:1", "http://h:1"));
    }

    #[test]
    fn server_defaults_to_localhost() {
        if std::env::var_os("GRIDLOOP_SERVER").is_some() {
            return;
        }
        let ClientCommand::Catalog(global) = parse(&["catalog"]).unwrap() else { panic!("not catalog") };
        assert_eq!(global.server, DEFAULT_SERVER);
        assert!(!global.json);
    }

    #[test]
    fn report_defaults_and_enums() {
        let ClientCommand::Case(CaseArgs { command: CaseCommand::Report(args), .. }) = parse(&[
            "case",
            "report",
            "--category",
            "NOISE",
            "--lat",
            "39.9",
            "--lon",
            "-116.4",
            "--description",
            "夜间施工噪音",
        ])
        .unwrap() else {
            panic!("not case report")
        };
        assert_eq!(args.category, "NOISE");
        assert_eq!((args.lat, args.lon), (39.9, -116.4));
        assert_eq!(args.reporter_kind, ReporterKindArg::Resident);
        assert_eq!(args.channel, ChannelArg::ResidentApp);
        assert_eq!(args.client_key, None);
        assert_eq!(args.discovered_at, None);
        assert!(!args.urgent);
        assert!(args.special_groups.is_empty());

        let ClientCommand::Case(CaseArgs { command: CaseCommand::Report(args), global }) = parse(&[
            "case",
            "report",
            "--category=NOISE",
            "--lat=1",
            "--lon=2",
            "--description=x",
            "--client-key=k1",
            "--reporter-kind=grid-worker",
            "--channel=walk-in",
            "--discovered-at=2025-03-01T08:30:00+08:00",
            "--urgent",
            "--special-group=elderly-living-alone",
            "--special-group",
            "disabled",
            "--json",
        ])
        .unwrap() else {
            panic!("not case report")
        };
        assert!(global.json);
        assert_eq!(args.client_key.as_deref(), Some("k1"));
        assert_eq!(enum_arg::<pb::ReporterKind>(&args.reporter_kind), pb::ReporterKind::GridWorker as i32);
        assert_eq!(enum_arg::<pb::Channel>(&args.channel), pb::Channel::WalkIn as i32);
        assert_eq!(args.discovered_at.unwrap().to_rfc3339(), "2025-03-01T00:30:00+00:00");
        assert!(args.urgent);
        let groups: Vec<i32> = args.special_groups.iter().map(enum_arg::<pb::SpecialGroup>).collect();
        assert_eq!(groups, [pb::SpecialGroup::ElderlyLivingAlone as i32, pb::SpecialGroup::Disabled as i32]);
    }

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
            command: MediationCommand::Propose { level, kind, professional, .. },
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
        ])
        .unwrap()
        else {
            panic!("not mediation propose")
        };
        assert_eq!(
            (level, kind, professional),
            (SessionLevelArg::Building, MatterKindArg::Consultation, Some(RoleArg::PropertyCompany))
        );
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
    fn bad_input_is_a_parse_error() {
        let base = ["case", "report", "--category", "N", "--lat", "1", "--lon", "2", "--description", "d"];
        let with = |extra: &[&str]| parse(&[&base[..], extra].concat());
        assert!(with(&["--discovered-at", "yesterday"]).is_err());
        assert!(with(&["--channel", "pigeon"]).is_err());
        assert!(parse(&["case", "report", "--category", "N", "--lat", "north", "--lon", "2", "--description", "d"])
            .is_err());
        assert!(parse(&["case", "accept", "id"]).is_err(), "--assignee is required");
        assert!(parse(&["mediation", "show"]).is_err(), "--id or --case is required");
        assert!(parse(&["mediation", "show", "--id", "m", "--case", "c"]).is_err());
        assert!(parse(&["stats", "4321", "--from", "last week"]).is_err());
    }

    #[test]
    fn acting_commands_carry_actor_and_expected_version() {
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
        assert_eq!(
            target.actor.to_proto(),
            Some(pb::Actor { role: "community_staff".into(), id: "li".into(), jurisdiction: "110105001001".into() })
        );

        let ClientCommand::Case(CaseArgs {
            command: CaseCommand::Act(CaseAction::Accept { target, assignee }), ..
        }) = parse(&["case", "accept", "c1", "--assignee", "王五"]).unwrap()
        else {
            panic!("not case accept")
        };
        assert_eq!(assignee, "王五");
        assert_eq!(target.expected_version, 0);
        assert_eq!(target.actor.actor_role, "grid_worker");
        assert_eq!(target.actor.actor_jurisdiction, None);
        if std::env::var_os("GRIDLOOP_ACTOR").is_none() {
            assert_eq!(target.actor.actor_id, "cli");
        }
    }

    #[test]
    fn every_cli_spelling_maps_to_a_protobuf_value() {
        fn all_map<A: ValueEnum, E: output::ProtoEnum>() {
            for arg in A::value_variants() {
                let name = arg.to_possible_value().unwrap().get_name().to_string();
                assert_ne!(enum_arg::<E>(arg), 0, "{name} maps to no {}* value", E::PREFIX);
            }
        }
        all_map::<ReporterKindArg, pb::ReporterKind>();
        all_map::<ChannelArg, pb::Channel>();
        all_map::<SatisfactionArg, pb::Satisfaction>();
        all_map::<StateArg, pb::CaseState>();
        all_map::<OutcomeArg, pb::MediationOutcome>();
        all_map::<SpecialGroupArg, pb::SpecialGroup>();
        all_map::<OrderArg, pb::CaseOrder>();
        assert_eq!(enum_arg::<pb::CaseState>(&StateArg::InMediation), pb::CaseState::InMediation as i32);
        assert_eq!(
            enum_arg::<pb::CaseState>(&StateArg::AwaitingVerification),
            pb::CaseState::AwaitingVerification as i32
        );
        assert_eq!(
            enum_arg::<pb::Satisfaction>(&SatisfactionArg::BasicallySatisfied),
            pb::Satisfaction::BasicallySatisfied as i32
        );
    }

    #[test]
    fn list_evaluate_conclude_and_stats_parse() {
        let ClientCommand::Case(CaseArgs { command: CaseCommand::List(args), .. }) =
            parse(&["case", "list", "--state", "in_mediation", "--area", "110105", "--limit", "5"]).unwrap()
        else {
            panic!("not case list")
        };
        assert_eq!((args.state, args.area.as_deref(), args.limit), (Some(StateArg::InMediation), Some("110105"), 5));
        assert_eq!(args.order, OrderArg::Newest);
        let ClientCommand::Case(CaseArgs { command: CaseCommand::List(args), .. }) =
            parse(&["case", "list", "--order", "priority"]).unwrap()
        else {
            panic!("not case list")
        };
        assert_eq!(enum_arg::<pb::CaseOrder>(&args.order), pb::CaseOrder::Priority as i32);

        let ClientCommand::Case(CaseArgs { command: CaseCommand::Evaluate { satisfaction, comment, .. }, .. }) =
            parse(&["case", "evaluate", "c1", "--satisfaction", "basically-satisfied"]).unwrap()
        else {
            panic!("not case evaluate")
        };
        assert_eq!((satisfaction, comment.as_str()), (SatisfactionArg::BasicallySatisfied, ""));

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

        let ClientCommand::Stats(StatsArgs { command: StatsCommand::Levels { area, from, to }, global }) =
            parse(&["stats", "4321", "--area", "110105", "--from", "2025-01-01", "--to", "2025-03-31", "--json"])
                .unwrap()
        else {
            panic!("not stats 4321")
        };
        assert!(global.json);
        assert_eq!(area.as_deref(), Some("110105"));
        assert_eq!(from.unwrap().to_rfc3339(), "2025-01-01T00:00:00+00:00");
        assert_eq!(to.unwrap().to_rfc3339(), "2025-04-01T00:00:00+00:00");
    }

    #[test]
    fn catalog_groups_by_class_and_keeps_orphans() {
        let category = |code: &str, class: &str| pb::Category {
            code: code.into(),
            name: format!("类别{code}"),
            class_code: class.into(),
            class_name: format!("类{class}"),
            start_level: pb::Level::Grid as i32,
            resolve_sla_seconds: 86_400,
            accept_sla_seconds: 7_200,
            accept_sla: "2 working hours".into(),
            resolve_sla: ["1 working day", "2 working days", "3 working days", "5 working days"]
                .map(String::from)
                .into(),
            feedback_sla: "3 working days".into(),
            departments: ["", "", "urban-management", "urban-management"].map(String::from).into(),
            requires_verification: true,
            verify_sla: "1 working day".into(),
        };
        // A server older than the SLA strings sends the nominal seconds only.
        let old_server = pb::Category {
            accept_sla: String::new(),
            resolve_sla: vec![],
            feedback_sla: String::new(),
            departments: vec![],
            requires_verification: false,
            verify_sla: String::new(),
            ..category("B1", "B")
        };
        // An emergency entering at the community, on the wall clock.
        let emergency = pb::Category {
            start_level: pb::Level::Community as i32,
            accept_sla: "15 min".into(),
            resolve_sla: ["2 hours", "4 hours", "8 hours", "1 day"].map(String::from).into(),
            feedback_sla: "1 day".into(),
            verify_sla: "2 hours".into(),
            ..category("A2", "A")
        };
        let groups = group_catalog(pb::GetCatalogResponse {
            classes: vec![pb::CategoryClass { code: "A".into(), name: "城市管理".into() }],
            categories: vec![category("A1", "A"), old_server, emergency],
        });
        let codes: Vec<(String, Vec<String>)> =
            groups.iter().map(|(c, cs)| (c.code.clone(), cs.iter().map(|c| c.code.clone()).collect())).collect();
        assert_eq!(codes, vec![("A".into(), vec!["A1".into(), "A2".into()]), ("B".into(), vec!["B1".into()])]);
        let value = catalog_json(&groups);
        assert_eq!(value["classes"][0]["categories"][1]["start_level"], "community");
        assert_eq!(value["classes"][1]["name"], "类B");
        let a1 = &value["classes"][0]["categories"][0];
        assert_eq!(a1["accept_sla"], "2 working hours");
        assert_eq!(a1["resolve_sla"]["grid"], "1 working day");
        assert_eq!(a1["resolve_sla"]["district"], "5 working days");
        assert_eq!(a1["feedback_sla"], "3 working days");
        assert_eq!((&a1["requires_verification"], &a1["verify_sla"]), (&json!(true), &json!("1 working day")));
        assert_eq!(
            (a1["accept_sla_seconds"].as_u64(), a1["resolve_sla_seconds"].as_u64()),
            (Some(7_200), Some(86_400))
        );
        let b1 = &value["classes"][1]["categories"][0];
        assert_eq!((&b1["accept_sla"], &b1["feedback_sla"]), (&Value::Null, &Value::Null));
        assert_eq!(b1["resolve_sla"], json!({}));
        assert_eq!(a1["departments"], json!({ "street": "urban-management", "district": "urban-management" }));
        assert_eq!(b1["departments"], json!({}));
        let text = catalog_text(&groups);
        assert!(text.contains("城市管理 (A)\n"), "{text}");
        let row = |code: &str| {
            text.lines()
                .find(|l| l.trim_start().starts_with(code))
                .unwrap()
                .split("  ")
                .filter(|c| !c.trim().is_empty())
                .map(str::trim)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            row("A1"),
            ["A1", "类别A1", "grid", "2 working hours", "1/2/3/5 working days", "3 working days", "1 working day"],
            "{text}"
        );
        assert_eq!(
            row("A2"),
            ["A2", "类别A2", "community", "15 min", "4 hours/8 hours/1 day", "1 day", "2 hours"],
            "{text}"
        );
        assert_eq!(row("B1"), ["B1", "类别B1", "grid", "2h", "1d", "-", "-"], "{text}");
        assert!(text.contains("resolve SLA (start level up)  feedback SLA    核查 (above grid)\n"), "{text}");
    }

    #[test]
    fn jurisdiction_is_a_depth_first_tree() {
        let node = |code: &str, parent: &str, level: pb::Level| pb::JurisdictionNode {
            code: code.into(),
            name: format!("n{code}"),
            level: level as i32,
            parent_code: parent.into(),
            boundary: vec![],
            interior_point: (level == pb::Level::Grid).then_some(pb::GeoPoint { lat: 39.9, lon: 116.4 }),
            departments: (level != pb::Level::Grid)
                .then(|| pb::Department { code: "office".into(), name: format!("n{code}办") })
                .into_iter()
                .collect(),
            workers: (level == pb::Level::Grid)
                .then(|| pb::GridWorker { id: format!("gw-{code}"), name: "王建国".into() })
                .into_iter()
                .collect(),
        };
        let nodes = vec![
            node("110105001001002", "110105001001", pb::Level::Grid),
            node("110105001", "110105", pb::Level::Street),
            node("110105", "", pb::Level::District),
            node("110105001001", "110105001", pb::Level::Community),
            node("110105001001001", "110105001001", pb::Level::Grid),
        ];
        let ordered = tree_order(nodes);
        let codes: Vec<(usize, &str)> = ordered.iter().map(|(d, n)| (*d, n.code.as_str())).collect();
        assert_eq!(
            codes,
            vec![(0, "110105"), (1, "110105001"), (2, "110105001001"), (3, "110105001001001"), (3, "110105001001002")]
        );
        let value = jurisdiction_json(&ordered);
        assert_eq!(value["nodes"][3]["interior_point"], json!({ "lat": 39.9, "lon": 116.4 }));
        assert_eq!(value["nodes"][0]["interior_point"], Value::Null);
        assert_eq!(value["nodes"][0]["parent_code"], Value::Null);
        assert_eq!(value["nodes"][3]["level"], "grid");
        assert_eq!(value["nodes"][1]["departments"], json!([{ "code": "office", "name": "n110105001办" }]));
        assert_eq!(value["nodes"][3]["workers"], json!([{ "id": "gw-110105001001001", "name": "王建国" }]));
        let text = jurisdiction_text(&ordered);
        assert!(text.contains("n110105001办"), "{text}");
        assert!(text.contains("王建国"), "{text}");
    }

    #[test]
    fn case_show_json_shape() {
        let response = pb::GetCaseResponse {
            case: Some(pb::CaseView {
                case_id: "c1".into(),
                state: pb::CaseState::Accepted as i32,
                level: pb::Level::Grid as i32,
                ..Default::default()
            }),
            history: vec![pb::HistoryEntry {
                envelope: Some(pb::EventEnvelope {
                    stream_version: 1,
                    event_type: "gridloop.v1.CaseOpened".into(),
                    ..Default::default()
                }),
                payload_json: r#"{"a":1}"#.into(),
            }],
        };
        let value = case_with_history_json(&response);
        assert_eq!(value["case"]["state"], "accepted");
        assert_eq!(value["case"]["level"], "grid");
        assert_eq!(value["history"][0]["event_type"], "CaseOpened");
        assert_eq!(value["history"][0]["payload"], json!({ "a": 1 }));
        let text = case_with_history_text(&response);
        assert!(text.contains("history (1 events)"), "{text}");
        assert!(text.contains("CaseOpened"), "{text}");
    }

    #[test]
    fn drift_alerts_render_and_parse() {
        let ClientCommand::Stats(StatsArgs { command: StatsCommand::Drift { area, include_cleared }, .. }) =
            parse(&["stats", "drift", "--area", "321012001", "--include-cleared"]).unwrap()
        else {
            panic!("not stats drift")
        };
        assert_eq!((area.as_deref(), include_cleared), (Some("321012001"), true));
        let share = |level: pb::Level, share: f64| pb::LevelShare { level: level as i32, share, ..Default::default() };
        let response = pb::ListDriftAlertsResponse {
            alerts: vec![pb::DriftAlert {
                area: "321012001".into(),
                drifted: true,
                changed_at: Some(prost_types::Timestamp { seconds: 1_740_787_200, nanos: 0 }),
                levels: vec![
                    share(pb::Level::Grid, 0.6),
                    share(pb::Level::Community, 0.2),
                    share(pb::Level::Street, 0.1),
                    share(pb::Level::District, 0.1),
                ],
                deviation: 0.2,
                closed_total: 40,
            }],
            tolerance: 0.1,
            window_days: 30,
        };
        let value = drift_json(&response);
        assert_eq!(value["alerts"][0]["shares"]["grid"], 0.6);
        assert_eq!((value["tolerance"].as_f64(), value["alerts"][0]["drifted"].as_bool()), (Some(0.1), Some(true)));
        let text = drift_text(&response);
        assert!(text.contains("tolerance ±10.0 pp · window 30 days"), "{text}");
        assert!(text.contains("60.0%") && text.contains("20.0 pp"), "{text}");
        let off = drift_text(&pb::ListDriftAlertsResponse::default());
        assert!(off.contains("off"), "{off}");
    }

    #[test]
    fn distribution_renders_percentages() {
        let request = pb::GetLevelDistributionRequest { area: "110105".into(), from: None, to: None };
        let response = pb::GetLevelDistributionResponse {
            closed_total: 10,
            levels: vec![pb::LevelShare {
                level: pb::Level::Grid as i32,
                count: 5,
                share: 0.5,
                target: 0.4,
                deviation: 0.1,
            }],
        };
        let text = distribution_text(&request, &response);
        assert!(text.contains("grid       5  50.0%   40.0%   +10.0 pp"), "{text}");
        let value = distribution_json(&request, &response);
        assert_eq!(value["levels"][0]["level"], "grid");
        assert_eq!(value["closed_total"], 10);
        assert_eq!(value["from"], Value::Null);
    }
}
