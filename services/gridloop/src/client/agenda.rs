//! `gridloop agenda`: an area's topics (议题征集) and their ranking by D21 or 531 — residents
//! propose and rank with their own tokens; the convenor merges duplicates, opens and closes —
//! and what came of them: a matter's record (一事一档) and the area's monthly implementation
//! report (每月通报).

use super::matter;
use super::output::emit;
use super::rpc::Server;
use super::Global;
use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};
use gridloop_proto::v1 as pb;
use serde_json::{json, Value};

#[derive(Debug, Args)]
pub struct AgendaArgs {
    #[command(subcommand)]
    pub command: AgendaCommand,
    #[command(flatten)]
    pub global: Global,
}

#[derive(Debug, Subcommand)]
pub enum AgendaCommand {
    /// Propose a topic for the area, as the token's subject (a registered resident).
    Propose {
        #[arg(long)]
        area: String,
        #[arg(long)]
        title: String,
        /// Where it was collected (留言板, 意见箱, 痛点箱).
        #[arg(long, default_value = "")]
        collected_from: String,
        /// 居民共同关注.
        #[arg(long)]
        shared_concern: bool,
        /// 特殊群体需求.
        #[arg(long)]
        special_groups: bool,
        /// 急难重大事项.
        #[arg(long)]
        urgent: bool,
    },
    /// Merge a duplicate topic into the topic it repeats.
    Merge {
        #[arg(long)]
        area: String,
        #[arg(long)]
        duplicate: u32,
        #[arg(long)]
        into: u32,
    },
    /// Open a ranking of the topics standing.
    Open {
        #[arg(long)]
        area: String,
        #[arg(long, value_enum)]
        method: MethodArg,
        /// D21: plus votes per resident (default 2).
        #[arg(long, default_value_t = 0)]
        plus_votes: u32,
    },
    /// Rank the topics, as the token's subject: D21 `--plus N` (repeat) and `--minus N`, or 531
    /// `--choice N` (first, second, third).
    Rank {
        #[arg(long)]
        area: String,
        #[arg(long)]
        plus: Vec<u32>,
        #[arg(long)]
        minus: Option<u32>,
        #[arg(long)]
        choice: Vec<u32>,
    },
    /// Close the ranking: the order is recorded.
    Close {
        #[arg(long)]
        area: String,
    },
    Show {
        #[arg(long)]
        area: String,
    },
    /// 一事一档: the record of the matter a session deliberates, from proposal to follow-ups.
    Record {
        /// The mediation id of the matter's session.
        id: String,
        /// A Markdown document to file, instead of the table (--json takes precedence).
        #[arg(long)]
        markdown: bool,
    },
    /// 实施情况每月报告: an area's matters decided and how their implementation goes in a month.
    Report {
        #[arg(long)]
        area: String,
        /// YYYY-MM (Beijing time).
        #[arg(long)]
        month: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    D21,
    #[value(name = "531")]
    Points531,
}

pub async fn run(AgendaArgs { command, global }: AgendaArgs) -> Result<()> {
    let server = Server::connect(&global.addresses()).await?;
    let mut client = server.mediation();
    let view = match command {
        AgendaCommand::Record { id, markdown } => {
            let request = pb::GetMatterRecordRequest { mediation_id: id };
            let record = client.get_matter_record(request).await.map_err(server.fail("GetMatterRecord"))?.into_inner();
            let text = || {
                if markdown {
                    matter::record_markdown(&record, global.time_zone)
                } else {
                    matter::record_text(&record, global.time_zone)
                }
            };
            return emit(global.json, || matter::record_json(&record), text);
        }
        AgendaCommand::Report { area, month } => {
            let request = pb::GetImplementationReportRequest { area_code: area, month };
            let report =
                client.get_implementation_report(request).await.map_err(server.fail("GetImplementationReport"));
            let report = report?.into_inner();
            return emit(
                global.json,
                || matter::report_json(&report),
                || matter::report_text(&report, global.time_zone),
            );
        }
        AgendaCommand::Propose { area, title, collected_from, shared_concern, special_groups, urgent } => {
            let priorities = Some(pb::TopicPriorities { shared_concern, special_groups, urgent });
            let request = pb::ProposeAgendaTopicRequest { area_code: area, title, collected_from, priorities };
            client.propose_agenda_topic(request).await.map_err(server.fail("ProposeAgendaTopic"))?
        }
        AgendaCommand::Merge { area, duplicate, into } => {
            let request = pb::MergeAgendaTopicsRequest { area_code: area, duplicate, into };
            client.merge_agenda_topics(request).await.map_err(server.fail("MergeAgendaTopics"))?
        }
        AgendaCommand::Open { area, method, plus_votes } => {
            let method = match method {
                MethodArg::D21 => pb::RankingMethod::D21,
                MethodArg::Points531 => pb::RankingMethod::Points531,
            } as i32;
            let request = pb::OpenRankingRequest { area_code: area, method, plus_votes };
            client.open_ranking(request).await.map_err(server.fail("OpenRanking"))?
        }
        AgendaCommand::Rank { area, plus, minus, choice } => {
            let request = pb::RankTopicsRequest { area_code: area, plus, minus: minus.unwrap_or(0), choices: choice };
            client.rank_topics(request).await.map_err(server.fail("RankTopics"))?
        }
        AgendaCommand::Close { area } => {
            client.close_ranking(pb::GetAgendaRequest { area_code: area }).await.map_err(server.fail("CloseRanking"))?
        }
        AgendaCommand::Show { area } => {
            client.get_agenda(pb::GetAgendaRequest { area_code: area }).await.map_err(server.fail("GetAgenda"))?
        }
    }
    .into_inner();
    emit(global.json, || agenda_json(&view), || agenda_text(&view))
}

fn flags(p: Option<&pb::TopicPriorities>) -> Vec<&'static str> {
    let p = p.copied().unwrap_or_default();
    [(p.shared_concern, "共同关注"), (p.special_groups, "特殊群体"), (p.urgent, "急难重大")]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
}

fn ranked_json(r: &pb::RankedTopic) -> Value {
    json!({ "number": r.number, "title": r.title, "score": r.score, "plus": r.plus, "minus": r.minus,
            "priorities": flags(r.priorities.as_ref()), "tied": r.tied })
}

fn agenda_json(v: &pb::AgendaView) -> Value {
    json!({
        "area_code": v.area_code,
        "topics": v.topics.iter().map(|t| json!({ "number": t.number, "title": t.title, "proposer": t.proposer,
            "priorities": flags(t.priorities.as_ref()), "merged_into": t.merged_into })).collect::<Vec<_>>(),
        "ranking_open": v.ranking_open,
        "ballots": v.ballots,
        "standing": v.standing.iter().map(ranked_json).collect::<Vec<_>>(),
        "order": v.order.iter().map(ranked_json).collect::<Vec<_>>(),
    })
}

fn agenda_text(v: &pb::AgendaView) -> String {
    let mut out = format!("{}: {} topics\n", v.area_code, v.topics.len());
    for t in &v.topics {
        let merged = if t.merged_into == 0 { String::new() } else { format!(" (merged into {})", t.merged_into) };
        out += &format!("  {:>2} {} [{}]{merged}\n", t.number, t.title, flags(t.priorities.as_ref()).join(" "));
    }
    let (title, list) = if v.ranking_open {
        (format!("ranking open, {} ballots so far", v.ballots), &v.standing)
    } else {
        ("last ranking".to_string(), &v.order)
    };
    out += &format!("{title}:\n");
    for (i, r) in list.iter().enumerate() {
        let tie = if r.tied { " (tie)" } else { "" };
        let flags = flags(r.priorities.as_ref()).join(" ");
        out += &format!("  {}. {} {} — score {}{tie} [{flags}]\n", i + 1, r.number, r.title, r.score);
    }
    out
}
