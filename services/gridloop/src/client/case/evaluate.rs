//! `gridloop case evaluate`: the reporter's satisfaction (评价), recorded by the evaluation
//! service. Dispatch then closes the case, or — unsatisfied — reopens it with the unit that
//! resolved it (不满意再搭台协商); the command waits for that reopening to say where it went.

use super::view::{case_json, short_event_type};
use super::{eventually, get_case};
use crate::client::output::{emit, enum_arg, enum_json, enum_text, time_text};
use crate::client::rpc::Server;
use crate::client::{ActorArgs, Global};
use anyhow::Result;
use clap::{Args, ValueEnum};
use gridloop_domain::clock::Tz;
use gridloop_proto::v1 as pb;
use serde_json::{json, Value};

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// The case id.
    pub id: String,
    /// `unsatisfied` reopens the case with the unit that resolved it.
    #[arg(long, value_enum)]
    pub satisfaction: SatisfactionArg,
    #[arg(long, default_value = "")]
    pub comment: String,
    /// Wait (up to 5 s) until evaluation has the case at this version: the `version` the
    /// resolution (or verification) printed; 0 = don't wait.
    #[arg(long, default_value_t = 0)]
    pub min_version: u64,
    /// Refuse with a conflict unless the case is still at this version, e.g. the one `case show`
    /// printed (0 = don't check).
    #[arg(long, default_value_t = 0)]
    pub expected_version: u64,
    #[command(flatten)]
    pub actor: ActorArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SatisfactionArg {
    Satisfied,
    #[value(alias = "basically_satisfied")]
    BasicallySatisfied,
    Unsatisfied,
}

/// What became of an evaluation: `reopened` is known for a closing one at once, for an
/// unsatisfied one once dispatch has recorded the reopening (`case` is the case after it).
struct Evaluated {
    response: pb::EvaluateCaseResponse,
    reopened: Option<bool>,
    case: Option<pb::CaseView>,
}

pub async fn run(server: &Server, global: &Global, args: EvaluateArgs) -> Result<()> {
    let unsatisfied = args.satisfaction == SatisfactionArg::Unsatisfied;
    // The evaluations dispatch has recorded so far: the reopening follows the next one.
    let before =
        if unsatisfied { Some(evaluations(&get_case(server, &args.id, args.min_version).await?)) } else { None };
    let request = pb::EvaluateCaseRequest {
        case_id: args.id.clone(),
        actor: args.actor.to_proto(),
        satisfaction: enum_arg::<pb::Satisfaction>(&args.satisfaction),
        comment: args.comment,
        min_version: args.min_version,
        expected_version: args.expected_version,
    };
    let response = server.evaluation().evaluate_case(request).await.map_err(server.fail("EvaluateCase"))?.into_inner();
    let evaluated = match before {
        None => Evaluated { response, reopened: Some(false), case: None },
        Some(before) => {
            let after = eventually(|| async {
                let shown = get_case(server, &args.id, 0).await?;
                Ok((evaluations(&shown) > before).then_some(shown))
            })
            .await?;
            let reopened = after.as_ref().map(reopened_by_the_last_evaluation);
            Evaluated { response, reopened, case: after.and_then(|shown| shown.case) }
        }
    };
    emit(global.json, || evaluated_json(&evaluated), || evaluated_text(&evaluated, global.time_zone))
}

fn evaluations(shown: &pb::GetCaseResponse) -> usize {
    shown.history.iter().filter(|entry| event_type(entry) == "CaseEvaluated").count()
}

/// Whether dispatch answered the case's latest evaluation by reopening it.
fn reopened_by_the_last_evaluation(shown: &pb::GetCaseResponse) -> bool {
    let after_it = shown.history.iter().rev().take_while(|entry| event_type(entry) != "CaseEvaluated");
    after_it.map(event_type).any(|t| t == "CaseReopened")
}

fn event_type(entry: &pb::HistoryEntry) -> &str {
    entry.envelope.as_ref().map_or("", |e| short_event_type(&e.event_type))
}

fn evaluated_json(e: &Evaluated) -> Value {
    json!({
        "case_id": e.response.case_id,
        "satisfaction": enum_json::<pb::Satisfaction>(e.response.satisfaction),
        "reopened": e.reopened,
        "case": e.case.as_ref().map_or(Value::Null, case_json),
    })
}

fn evaluated_text(e: &Evaluated, zone: Tz) -> String {
    let id = &e.response.case_id;
    let evaluated = format!("case {id} evaluated: {}", enum_text::<pb::Satisfaction>(e.response.satisfaction));
    match (e.reopened, &e.case) {
        (Some(true), Some(case)) => format!(
            "{evaluated}\nreopened: back with {} ({}) to rework, resolve by {}; reopened {} time{} so far",
            case.unit_code,
            enum_text::<pb::Level>(case.level),
            time_text(case.deadline.as_ref(), zone),
            case.reopen_count,
            if case.reopen_count == 1 { "" } else { "s" },
        ),
        (Some(false), Some(_)) => format!("{evaluated}\nthe case was not reopened: `gridloop case show {id}`"),
        (None, _) => format!(
            "{evaluated}\nthe case reopens with the unit that resolved it; dispatch has not recorded it yet: `gridloop case show {id}`"
        ),
        _ => evaluated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridloop_domain::clock;

    fn entry(event_type: &str) -> pb::HistoryEntry {
        pb::HistoryEntry {
            envelope: Some(pb::EventEnvelope { event_type: format!("gridloop.v1.{event_type}"), ..Default::default() }),
            payload_json: String::new(),
        }
    }

    fn shown(types: &[&str]) -> pb::GetCaseResponse {
        pb::GetCaseResponse { case: None, history: types.iter().map(|t| entry(t)).collect() }
    }

    #[test]
    fn the_reopening_is_the_one_after_the_latest_evaluation() {
        let once = shown(&["CaseResolved", "CaseEvaluated", "CaseReopened", "CaseResolved"]);
        assert_eq!(evaluations(&once), 1);
        assert!(reopened_by_the_last_evaluation(&once));
        let twice = shown(&["CaseEvaluated", "CaseReopened", "CaseResolved", "CaseEvaluated", "CaseClosed"]);
        assert_eq!(evaluations(&twice), 2);
        assert!(!reopened_by_the_last_evaluation(&twice), "the earlier round's reopening does not count");
        assert!(!reopened_by_the_last_evaluation(&shown(&["CaseEvaluated", "CaseClosed"])));
    }

    #[test]
    fn an_unsatisfied_evaluation_says_where_the_case_went() {
        let response =
            pb::EvaluateCaseResponse { case_id: "c1".into(), satisfaction: pb::Satisfaction::Unsatisfied as i32 };
        let case = pb::CaseView {
            unit_code: "321012001".into(),
            level: pb::Level::Street as i32,
            deadline: Some(prost_types::Timestamp { seconds: 1_740_787_200, nanos: 0 }),
            reopen_count: 1,
            ..Default::default()
        };
        let reopened = Evaluated { response: response.clone(), reopened: Some(true), case: Some(case) };
        assert_eq!(
            evaluated_text(&reopened, clock::DEFAULT_ZONE),
            "case c1 evaluated: unsatisfied\nreopened: back with 321012001 (street) to rework, resolve by \
             2025-03-01T08:00:00+08:00; reopened 1 time so far"
        );
        assert_eq!(evaluated_json(&reopened)["case"]["unit_code"], "321012001");
        let pending = Evaluated { response, reopened: None, case: None };
        assert!(
            evaluated_text(&pending, clock::DEFAULT_ZONE).contains("dispatch has not recorded it yet"),
            "{}",
            evaluated_text(&pending, clock::DEFAULT_ZONE)
        );
        assert_eq!(evaluated_json(&pending)["reopened"], Value::Null);
    }
}
