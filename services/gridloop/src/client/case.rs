//! `gridloop case`: report a case, show it with its history, list cases, act on it (the dispatch
//! commands, in `act`) and record the reporter's evaluation.

mod act;
mod evaluate;
mod list;
mod view;

use crate::client::output::{emit, enum_arg, parse_instant, read_text, terminal_width, time, time_json, time_text};
use crate::client::rpc::Server;
use crate::client::Global;
use act::CaseAction;
use anyhow::Result;
use chrono::{DateTime, Utc};
use clap::{ArgGroup, Args, Subcommand, ValueEnum};
use evaluate::EvaluateArgs;
use gridloop_proto::v1 as pb;
use list::ListArgs;
use serde_json::json;
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use view::{case_with_history_json, case_with_history_text};

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
        #[command(flatten)]
        after: AfterWrite,
    },
    /// List cases a page at a time: newest opened first, or with --order priority the open work in
    /// the order a unit works through it.
    List(ListArgs),
    #[command(flatten)]
    Act(CaseAction),
    /// Record the reporter's satisfaction (评价); unsatisfied, says where the case reopened.
    Evaluate(EvaluateArgs),
}

/// Read your own writes: the consistency token an earlier command printed (`version` of the
/// case, `case_version` of a report), which the server waits for before it answers.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct AfterWrite {
    /// Wait (up to 5 s) until the server has the case at this version: the `version` (or a
    /// report's `case_version`) an earlier command printed; 0 = don't wait.
    #[arg(long, default_value_t = 0)]
    pub min_version: u64,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("description_text").required(true).args(["description", "description_file"])))]
pub struct ReportArgs {
    /// Category code from `gridloop catalog`.
    #[arg(long)]
    pub category: String,
    /// Latitude, in --datum.
    #[arg(long, allow_negative_numbers = true)]
    pub lat: f64,
    /// Longitude, in --datum.
    #[arg(long, allow_negative_numbers = true)]
    pub lon: f64,
    /// The map datum of --lat/--lon: `wgs84` (GPS), `gcj02` (Amap/高德, Tencent/腾讯) or `bd09`
    /// (Baidu/百度); the server converts to WGS 84 before it locates the grid.
    #[arg(long, value_enum, default_value_t = DatumArg::Wgs84)]
    pub datum: DatumArg,
    /// What was found.
    #[arg(long)]
    pub description: Option<String>,
    /// The description from a file, `-` for standard input: for long texts.
    #[arg(long, value_name = "PATH")]
    pub description_file: Option<PathBuf>,
    /// Idempotency key; a retry with the same key returns the first result [default: a new UUIDv7].
    #[arg(long)]
    pub client_key: Option<String>,
    #[arg(long, value_enum, default_value_t = ReporterKindArg::Resident)]
    pub reporter_kind: ReporterKindArg,
    /// The reporter's id, name and phone: sealed by intake before anything is recorded, shown
    /// only to those entitled to them. None of the three: an anonymous report (no callback).
    #[arg(long, default_value = "")]
    pub reporter_id: String,
    #[arg(long, default_value = "")]
    pub reporter_name: String,
    #[arg(long, default_value = "")]
    pub reporter_phone: String,
    #[arg(long, value_enum, default_value_t = ChannelArg::ResidentApp)]
    pub channel: ChannelArg,
    /// When it was discovered (RFC 3339, e.g. 2025-03-01T08:30:00+08:00) [default: upload time].
    #[arg(long, value_parser = parse_instant)]
    pub discovered_at: Option<DateTime<Utc>>,
    /// Urgent or major (急难重大): may start at a higher level.
    #[arg(long)]
    pub urgent: bool,
    /// A special group the report concerns (特殊群体; repeat for several): the case goes first.
    #[arg(long = "special-group", value_enum)]
    pub special_groups: Vec<SpecialGroupArg>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DatumArg {
    Wgs84,
    Gcj02,
    Bd09,
}

/// Who reported. A role has one spelling, in and out (`grid-worker`), as for `--role` everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReporterKindArg {
    Resident,
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
pub enum SpecialGroupArg {
    #[value(alias = "elderly_living_alone")]
    ElderlyLivingAlone,
    Disabled,
    #[value(alias = "left_behind_child")]
    LeftBehindChild,
    Hardship,
}

pub async fn run(CaseArgs { command, global }: CaseArgs) -> Result<()> {
    let server = Server::connect(&global.addresses()).await?;
    match command {
        CaseCommand::Report(args) => report(&server, &global, *args).await,
        CaseCommand::Show { id, after } => {
            let response = get_case(&server, &id, after.min_version).await?;
            emit(
                global.json,
                || case_with_history_json(&response),
                || case_with_history_text(&response, terminal_width(), global.time_zone),
            )
        }
        CaseCommand::List(args) => list::run(&server, &global, args).await,
        CaseCommand::Evaluate(args) => evaluate::run(&server, &global, args).await,
        CaseCommand::Act(action) => act::run(&server, &global, action).await,
    }
}

/// How long a command waits for another service to act on what it just did (the services meet
/// on the bus, so a session or a reopening follows a command by a few milliseconds).
const FOLLOW_UP_WAIT: Duration = Duration::from_secs(10);
const FOLLOW_UP_POLL: Duration = Duration::from_millis(50);

/// Asks `check` until it finds something or `FOLLOW_UP_WAIT` has passed (then `None`).
async fn eventually<T, F, Fut>(mut check: F) -> Result<Option<T>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + FOLLOW_UP_WAIT;
    loop {
        if let Some(found) = check().await? {
            return Ok(Some(found));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(FOLLOW_UP_POLL).await;
    }
}

/// The case and its history, once the server has it at `min_version` (0: as it is).
async fn get_case(server: &Server, id: &str, min_version: u64) -> Result<pb::GetCaseResponse> {
    let request = pb::GetCaseRequest { case_id: id.to_string(), min_version };
    Ok(server.dispatch().get_case(request).await.map_err(server.fail("GetCase"))?.into_inner())
}

async fn report(server: &Server, global: &Global, args: ReportArgs) -> Result<()> {
    let client_key = args.client_key.unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let request = pb::ReportCaseRequest {
        client_key: client_key.clone(),
        category_code: args.category,
        location: Some(pb::GeoPoint { lat: args.lat, lon: args.lon, datum: enum_arg::<pb::Datum>(&args.datum) }),
        description: read_text(args.description, args.description_file.as_deref(), "description")?,
        reporter: Some(pb::Reporter {
            kind: enum_arg::<pb::ReporterKind>(&args.reporter_kind),
            id: args.reporter_id,
            name: args.reporter_name,
            phone: args.reporter_phone,
            sealed: None,
        }),
        channel: enum_arg::<pb::Channel>(&args.channel),
        discovered_at: args.discovered_at.map(time),
        urgent: args.urgent,
        special_groups: args.special_groups.iter().map(enum_arg::<pb::SpecialGroup>).collect(),
        media_url: String::new(),
    };
    let r = server.intake().report_case(request).await.map_err(server.fail("ReportCase"))?.into_inner();
    emit(
        global.json,
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
                "case_version": r.case_version,
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
                time_text(r.uploaded_at.as_ref(), global.time_zone),
                client_key
            ));
            if r.replayed {
                text.push_str("  (replayed: the stored result of an earlier report with this client key)\n");
            }
            text.push_str(&format!(
                "  next: gridloop case show {} --min-version {} (waits until dispatch has it)\n",
                r.case_id, r.case_version
            ));
            text
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::output::every_spelling_maps;
    use crate::client::testing::parse;
    use crate::client::ClientCommand;

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
        assert_eq!(args.datum, DatumArg::Wgs84);
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
            "--datum=bd09",
            "--json",
        ])
        .unwrap() else {
            panic!("not case report")
        };
        assert!(global.json);
        assert_eq!(args.client_key.as_deref(), Some("k1"));
        assert_eq!(enum_arg::<pb::ReporterKind>(&args.reporter_kind), pb::ReporterKind::GridWorker as i32);
        assert_eq!(enum_arg::<pb::Channel>(&args.channel), pb::Channel::WalkIn as i32);
        assert_eq!(enum_arg::<pb::Datum>(&args.datum), pb::Datum::Bd09 as i32);
        assert_eq!(args.discovered_at.unwrap().to_rfc3339(), "2025-03-01T00:30:00+00:00");
        assert!(args.urgent);
        let groups: Vec<i32> = args.special_groups.iter().map(enum_arg::<pb::SpecialGroup>).collect();
        assert_eq!(groups, [pb::SpecialGroup::ElderlyLivingAlone as i32, pb::SpecialGroup::Disabled as i32]);
    }

    #[test]
    fn bad_report_input_is_a_parse_error() {
        let base = ["case", "report", "--category", "N", "--lat", "1", "--lon", "2", "--description", "d"];
        let with = |extra: &[&str]| parse(&[&base[..], extra].concat());
        assert!(with(&["--discovered-at", "yesterday"]).is_err());
        assert!(with(&["--channel", "pigeon"]).is_err());
        assert!(with(&["--reporter-kind", "grid_worker"]).is_err(), "one spelling of a role: grid-worker");
        assert!(parse(&["case", "report", "--category", "N", "--lat", "north", "--lon", "2", "--description", "d"])
            .is_err());
        let without = ["case", "report", "--category", "N", "--lat", "1", "--lon", "2"];
        assert!(parse(&without).is_err(), "a description is required");
        assert!(parse(&[&without[..], &["--description", "d", "--description-file", "-"]].concat()).is_err());
        assert!(parse(&[&without[..], &["--description-file", "-"]].concat()).is_ok());
    }

    #[test]
    fn every_cli_spelling_maps_to_a_protobuf_value() {
        every_spelling_maps::<ReporterKindArg, pb::ReporterKind>();
        every_spelling_maps::<DatumArg, pb::Datum>();
        every_spelling_maps::<ChannelArg, pb::Channel>();
        every_spelling_maps::<evaluate::SatisfactionArg, pb::Satisfaction>();
        every_spelling_maps::<SpecialGroupArg, pb::SpecialGroup>();
        assert_eq!(
            enum_arg::<pb::Satisfaction>(&evaluate::SatisfactionArg::BasicallySatisfied),
            pb::Satisfaction::BasicallySatisfied as i32
        );
    }

    #[test]
    fn evaluate_parses() {
        let ClientCommand::Case(CaseArgs {
            command: CaseCommand::Evaluate(EvaluateArgs { satisfaction, comment, .. }),
            ..
        }) = parse(&["case", "evaluate", "c1", "--satisfaction", "basically-satisfied"]).unwrap()
        else {
            panic!("not case evaluate")
        };
        assert_eq!((satisfaction, comment.as_str()), (evaluate::SatisfactionArg::BasicallySatisfied, ""));
    }
}
