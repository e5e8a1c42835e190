//! `gridloop case list`: the evaluation service's case list, newest first or in priority order.

use crate::client::output::{emit, enum_arg, enum_json, enum_text, time_json, time_text, truncate, Table};
use crate::client::rpc::Server;
use anyhow::Result;
use clap::{Args, ValueEnum};
use gridloop_proto::v1 as pb;
use serde_json::{json, Value};

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

pub async fn run(server: &Server, json: bool, args: ListArgs) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::case::{CaseArgs, CaseCommand};
    use crate::client::output::every_spelling_maps;
    use crate::client::testing::parse;
    use crate::client::ClientCommand;

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
}
