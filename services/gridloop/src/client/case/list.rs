//! `gridloop case list`: the evaluation service's case list, newest opened first or the open
//! work in priority order, a page at a time.

mod pages;

use crate::client::output::{emit, enum_json, enum_text, time_json, time_text, truncate, Table};
use crate::client::rpc::Server;
use crate::client::Global;
use anyhow::Result;
use clap::{Args, ValueEnum};
use gridloop_domain::clock::Tz;
use gridloop_proto::v1 as pb;
use pages::{Page, Query};
use serde_json::{json, Value};

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only cases in this state.
    #[arg(long, value_enum)]
    pub state: Option<StateArg>,
    /// Jurisdiction code prefix: a district, street, community or grid.
    #[arg(long)]
    pub area: Option<String>,
    /// At most this many cases on a page.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    /// `newest`: the most recently opened first. `priority`: the open work (every state but
    /// closed and rejected, unless --state or --all says otherwise), highest priority first
    /// (urgent, special groups, shared concern, category) and oldest first within a priority —
    /// the order a unit works through its queue.
    #[arg(long, value_enum, default_value_t = OrderArg::Newest)]
    pub order: OrderArg,
    /// With --order priority: closed and rejected cases too.
    #[arg(long, conflicts_with = "state")]
    pub all: bool,
    /// The page after the one that printed this token (same options otherwise).
    #[arg(long)]
    pub page_token: Option<String>,
    /// Read your own writes: list once the server has this case (reported or changed by an
    /// earlier command) at --min-version.
    #[arg(long, requires = "min_version")]
    pub min_case_id: Option<String>,
    /// The `version` (a report's `case_version`) the command on --min-case-id printed; the
    /// server waits up to 5 s for it.
    #[arg(long, requires = "min_case_id")]
    pub min_version: Option<u64>,
}

impl ListArgs {
    /// What to read: the open work is one list per open state.
    fn query(&self) -> Query {
        let states = match (self.state, self.order, self.all) {
            (Some(state), _, _) => vec![Some(state)],
            (None, OrderArg::Priority, false) => {
                StateArg::value_variants().iter().filter(|s| s.is_open()).map(|s| Some(*s)).collect()
            }
            (None, _, _) => vec![None],
        };
        let after = (self.min_case_id.clone().unwrap_or_default(), self.min_version.unwrap_or_default());
        Query { order: self.order, area: self.area.clone().unwrap_or_default(), states, after }
    }

    /// What the page shows, for the line under the table.
    fn description(&self) -> &'static str {
        match (self.state, self.order, self.all) {
            (_, OrderArg::Newest, _) => "newest opened first",
            (None, OrderArg::Priority, false) => "open work, highest priority first",
            _ => "highest priority first",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OrderArg {
    Newest,
    Priority,
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

impl StateArg {
    /// Not closed and not rejected: still someone's work.
    fn is_open(self) -> bool {
        !matches!(self, StateArg::Closed | StateArg::Rejected)
    }
}

pub async fn run(server: &Server, global: &Global, args: ListArgs) -> Result<()> {
    let page = args.query().page(server, args.limit as usize, args.page_token.as_deref()).await?;
    emit(
        global.json,
        || {
            json!({
                "cases": page.cases.iter().map(summary_json).collect::<Vec<_>>(),
                "next_page_token": page.next_page_token,
            })
        },
        || cases_text(&page, args.description(), global.time_zone),
    )
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

/// The page as a table (opening time shown: it orders the list), what it shows and, when more
/// rows follow, how to get them.
fn cases_text(page: &Page, description: &str, zone: Tz) -> String {
    let cases = &page.cases;
    if cases.is_empty() {
        return format!("no cases ({description})");
    }
    let mut table = Table::new(&[
        "case",
        "prio",
        "state",
        "level",
        "category",
        "grid",
        "opened at",
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
            time_text(c.opened_at.as_ref(), zone),
            c.escalations.to_string(),
            c.reopen_count.to_string(),
            truncate(&c.description, 40),
        ]);
    }
    let count = format!("{} {}", cases.len(), if cases.len() == 1 { "case" } else { "cases" });
    let more = match &page.next_page_token {
        Some(token) => format!("\nmore follow: repeat the command with --page-token {token}"),
        None => String::new(),
    };
    format!("{}{count} ({description}){more}\n", table.render())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::case::{CaseArgs, CaseCommand};
    use crate::client::output::{enum_arg, every_spelling_maps};
    use crate::client::testing::parse;
    use crate::client::ClientCommand;
    use gridloop_domain::clock;

    #[test]
    fn filters_and_order_parse() {
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

        every_spelling_maps::<StateArg, pb::CaseState>();
        every_spelling_maps::<OrderArg, pb::CaseOrder>();
        assert_eq!(enum_arg::<pb::CaseState>(&StateArg::InMediation), pb::CaseState::InMediation as i32);
        assert_eq!(
            enum_arg::<pb::CaseState>(&StateArg::AwaitingVerification),
            pb::CaseState::AwaitingVerification as i32
        );
    }

    fn list_args(args: &[&str]) -> ListArgs {
        let ClientCommand::Case(CaseArgs { command: CaseCommand::List(args), .. }) =
            parse(&[&["case", "list"], args].concat()).unwrap()
        else {
            panic!("not case list")
        };
        args
    }

    #[test]
    fn priority_order_lists_the_open_states_unless_told_otherwise() {
        let open = list_args(&["--order", "priority"]).query();
        assert_eq!(
            open.states,
            [
                StateArg::Reported,
                StateArg::Dispatched,
                StateArg::Accepted,
                StateArg::InMediation,
                StateArg::AwaitingVerification,
                StateArg::Resolved
            ]
            .map(Some)
        );
        assert_eq!(list_args(&["--order", "priority", "--all"]).query().states, [None]);
        assert_eq!(list_args(&["--order", "priority", "--state", "closed"]).query().states, [Some(StateArg::Closed)]);
        assert_eq!(list_args(&[]).query().states, [None], "newest first lists every state");
        assert!(parse(&["case", "list", "--all", "--state", "closed"]).is_err());
        assert!(parse(&["case", "list", "--limit", "0"]).is_err());
    }

    #[test]
    fn the_text_says_what_is_listed_and_how_to_get_more() {
        let case = pb::CaseSummary {
            case_id: "c1".into(),
            opened_at: Some(prost_types::Timestamp { seconds: 1_740_787_200, nanos: 0 }),
            ..Default::default()
        };
        let page = Page { cases: vec![case], next_page_token: Some("TOKEN".into()) };
        let text = cases_text(&page, list_args(&["--order", "priority"]).description(), clock::DEFAULT_ZONE);
        assert!(text.contains("opened at"), "{text}");
        assert!(text.contains("2025-03-01T08:00:00+08:00"), "the city's local time: {text}");
        assert!(
            text.ends_with(
                "1 case (open work, highest priority first)\nmore follow: repeat the command with --page-token TOKEN\n"
            ),
            "{text}"
        );
        let last = Page { cases: vec![], next_page_token: None };
        assert_eq!(
            cases_text(&last, list_args(&[]).description(), clock::DEFAULT_ZONE),
            "no cases (newest opened first)"
        );
    }
}
