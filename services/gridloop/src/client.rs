//! The CLI's client commands: report, act on and show cases over gRPC (`gridloop case …`,
//! `gridloop catalog`, `gridloop jurisdiction`, `gridloop mediation …`, `gridloop stats …`). Each
//! noun is a module holding its arguments, its handler and its rendering as text and JSON.
//!
//! Every command takes `--server URL` (env `GRIDLOOP_SERVER`) — or, in distributed mode, one
//! address per service (`--intake`, `--dispatch`, `--mediation`, `--evaluation`, env
//! `GRIDLOOP_<SERVICE>_ADDR`) — and `--json`; with `--json`, stdout
//! carries exactly one JSON document. Enum values are lower-case snake names in JSON
//! (`in_mediation`, `basically_satisfied`) and timestamps are RFC 3339 UTC. A role has one
//! spelling, the services' kebab case, in options and in output (`grid-worker`).

mod agenda;
mod api_key;
mod area_sessions;
mod case;
mod catalog;
mod error;
mod jurisdiction;
mod matter;
mod mediation;
pub(crate) mod output;
mod register;
mod reporter;
pub(crate) mod rpc;
mod stats;

use anyhow::Result;
use clap::{Args, Subcommand};
use gridloop_domain::clock::Tz;
use gridloop_proto::v1 as pb;
use rpc::Addresses;

pub use agenda::AgendaArgs;
pub use api_key::ApiKeyArgs;
pub use case::CaseArgs;
pub use mediation::MediationArgs;
pub use register::RegisterArgs;
pub use reporter::ReporterArgs;
pub use stats::StatsArgs;

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
    /// An area's topics (议题征集) and their ranking by D21 or 531.
    Agenda(AgendaArgs),
    /// The register of residents concerned of an area (居民名册): import, show, remove.
    Register(RegisterArgs),
    /// Key figures: `stats 4321` shows the share of cases settled per level against 40/30/20/10.
    Stats(StatsArgs),
    /// Residents' personal data: `reporter erase` erases a reporter's contact everywhere (admin).
    Reporter(ReporterArgs),
    /// Integrators' API keys: create (shown once), list, revoke (admin).
    ApiKey(ApiKeyArgs),
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
    /// A bearer token (`gridloop token issue`, or the city's identity provider). Without one, the
    /// CLI acts as admin towards a server on this machine with the signing key in --data-dir.
    #[arg(long, env = "GRIDLOOP_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// The local installation's data directory, whose signing key the CLI may use.
    #[arg(long, env = "GRIDLOOP_DATA_DIR", default_value = "./gridloop-data", global = true)]
    pub data_dir: std::path::PathBuf,
    /// The CA certificate (PEM) that signed an https:// server's certificate (default: the system's roots).
    #[arg(long, env = "GRIDLOOP_CA_CERT", global = true)]
    pub ca_cert: Option<std::path::PathBuf>,
    /// The city's IANA time zone: dates in --from/--to are its local days, and times are shown
    /// in it (JSON keeps RFC 3339 in UTC).
    #[arg(long, env = "GRIDLOOP_TIME_ZONE", default_value = "Asia/Shanghai", value_parser = output::parse_time_zone, global = true)]
    pub time_zone: gridloop_domain::clock::Tz,
}

impl Global {
    /// Each service's address (its own flag, else `--server`) and the CLI's credentials.
    pub fn addresses(&self) -> Addresses {
        let or_server = |own: &Option<String>| own.clone().unwrap_or_else(|| self.server.clone());
        Addresses {
            intake: or_server(&self.intake),
            dispatch: or_server(&self.dispatch),
            mediation: or_server(&self.mediation),
            evaluation: or_server(&self.evaluation),
            credentials: rpc::Credentials {
                token: self.token.clone(),
                data_dir: self.data_dir.clone(),
                ca_cert: self.ca_cert.clone(),
                local: rpc::LOCAL_ADMIN,
            },
        }
    }
}

/// The area and time window of a figure; what the window bounds is the command's to say.
#[derive(Debug, Clone, Args)]
pub struct AreaWindow {
    /// Jurisdiction code prefix [default: everything].
    #[arg(long)]
    pub area: Option<String>,
    /// At or after (RFC 3339, or YYYY-MM-DD = that day's local midnight, --time-zone).
    #[arg(long, value_parser = output::parse_from)]
    pub from: Option<output::Bound>,
    /// Before (RFC 3339, or YYYY-MM-DD = that whole local day included).
    #[arg(long, value_parser = output::parse_to)]
    pub to: Option<output::Bound>,
}

impl AreaWindow {
    /// The area (empty: everything) and the window's bounds as the requests carry them.
    fn request_parts(&self, zone: Tz) -> (String, Option<prost_types::Timestamp>, Option<prost_types::Timestamp>) {
        let instant = |bound: output::Bound| output::time(bound.at(zone));
        (self.area.clone().unwrap_or_default(), self.from.map(instant), self.to.map(instant))
    }
}

/// Who acts, as older scripts name it: IGNORED. The server records the principal the token (or
/// the local admin credential) stands for and judges it by its role and area; these flags are
/// accepted, hidden, so that such scripts still run, and nothing of them is sent.
#[derive(Debug, Clone, Args)]
pub struct ActorArgs {
    /// Ignored: the token decides who acts.
    #[arg(long, hide = true, value_parser = output::parse_role)]
    pub actor_role: Option<String>,
    /// Ignored: the token decides who acts.
    #[arg(long, hide = true)]
    pub actor_id: Option<String>,
    /// Ignored: the token decides who acts.
    #[arg(long, hide = true)]
    pub actor_jurisdiction: Option<String>,
}

impl ActorArgs {
    /// The request's `actor`: never sent, the server takes who acts from the token.
    fn to_proto(&self) -> Option<pb::Actor> {
        None
    }
}

/// Runs one client command. Under `--json` a failure is also one JSON document on stdout (see
/// `error::error_json`); the message for people goes to stderr either way.
pub async fn run(command: ClientCommand) -> Result<()> {
    let json = command.global().json;
    let result = match command {
        ClientCommand::Catalog(global) => catalog::run(&global).await,
        ClientCommand::Jurisdiction(global) => jurisdiction::run(&global).await,
        ClientCommand::Case(args) => case::run(args).await,
        ClientCommand::Mediation(args) => mediation::run(args).await,
        ClientCommand::Register(args) => register::run(args).await,
        ClientCommand::Agenda(args) => agenda::run(args).await,
        ClientCommand::Stats(args) => stats::run(args).await,
        ClientCommand::Reporter(args) => reporter::run(args).await,
        ClientCommand::ApiKey(args) => api_key::run(args).await,
    };
    match result {
        Err(error) if json => {
            output::emit(true, || error::error_json(&error), String::new)?;
            Err(error)
        }
        other => other,
    }
}

impl ClientCommand {
    fn global(&self) -> &Global {
        match self {
            ClientCommand::Catalog(global) | ClientCommand::Jurisdiction(global) => global,
            ClientCommand::Case(args) => &args.global,
            ClientCommand::Mediation(args) => &args.global,
            ClientCommand::Register(args) => &args.global,
            ClientCommand::Agenda(args) => &args.global,
            ClientCommand::Stats(args) => &args.global,
            ClientCommand::Reporter(args) => &args.global,
            ClientCommand::ApiKey(args) => &args.global,
        }
    }
}

/// Parsing as the binary does, for the nouns' tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::ClientCommand;
    use clap::{Parser, Subcommand};

    /// The same shape as the binary: `up` plus the flattened client commands.
    #[derive(Debug, Parser)]
    #[command(name = "gridloop")]
    pub struct Cli {
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

    pub fn parse(args: &[&str]) -> Result<ClientCommand, clap::Error> {
        let cli = Cli::try_parse_from(std::iter::once("gridloop").chain(args.iter().copied()))?;
        match cli.command {
            Top::Client(command) => Ok(command),
            Top::Up => panic!("parsed as up"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::case::CaseCommand;
    use super::testing::{parse, Cli};
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn show_takes_json_and_server_after_the_id() {
        let ClientCommand::Case(CaseArgs { command: CaseCommand::Show { id, after }, global }) =
            parse(&["case", "show", "abc", "--json", "--server", "http://h:1", "--min-version", "2"]).unwrap()
        else {
            panic!("not case show")
        };
        assert_eq!((id.as_str(), after.min_version), ("abc", 2));
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
}
