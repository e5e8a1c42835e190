//! `gridloop mediation list`: an area's sessions, newest first (ListAreaSessions). Under a
//! resident's token, those of the area the token names whose register holds them.

use super::output::{emit, enum_json, enum_text, opt_str, terminal_width, time_json, time_text, Table};
use super::rpc::Server;
use super::Global;
use anyhow::Result;
use clap::Args;
use gridloop_proto::v1 as pb;
use serde_json::{json, Value};

#[derive(Debug, Args)]
pub struct ListArgs {
    /// The jurisdiction code of the area; default: the token's own.
    #[arg(long, default_value = "")]
    area: String,
    /// Concluded sessions too.
    #[arg(long)]
    all: bool,
    /// At most this many (default 50, at most 200).
    #[arg(long, default_value_t = 0)]
    limit: u32,
}

pub async fn list(server: &Server, args: ListArgs, global: &Global) -> Result<()> {
    let request = pb::ListAreaSessionsRequest { area_code: args.area, include_concluded: args.all, limit: args.limit };
    let listed = server.mediation().list_area_sessions(request).await.map_err(server.fail("ListAreaSessions"))?;
    let sessions = listed.into_inner().sessions;
    let zone = global.time_zone;
    emit(
        global.json,
        || json!({ "sessions": sessions.iter().map(session_json).collect::<Vec<_>>() }),
        || {
            let mut table = Table::new(&["mediation", "area", "register", "stage", "objections", "opened", "topic"])
                .fit(terminal_width());
            for s in &sessions {
                let objections = if s.objections_needed > 0 {
                    format!("{}/{}", s.objections, s.objections_needed)
                } else {
                    "-".into()
                };
                table.row(vec![
                    s.mediation_id.clone(),
                    s.area_code.clone(),
                    s.register_group.as_ref().map_or_else(|| "-".into(), |g| g.name.clone()),
                    enum_text::<pb::MediationStage>(s.stage),
                    objections,
                    time_text(s.opened_at.as_ref(), zone),
                    s.topic.clone(),
                ]);
            }
            table.render()
        },
    )
}

fn session_json(s: &pb::AreaSession) -> Value {
    json!({
        "mediation_id": s.mediation_id,
        "area_code": s.area_code,
        "topic": s.topic,
        "session_level": enum_json::<pb::SessionLevel>(s.session_level),
        "stage": enum_json::<pb::MediationStage>(s.stage),
        "register_group": s.register_group.as_ref().map(|g| json!({
            "kind": enum_json::<pb::RegisterGroupKind>(g.kind),
            "name": g.name,
        })),
        "agenda_topic": s.agenda_topic,
        "opened_at": time_json(s.opened_at.as_ref()),
        "ballot_open": s.ballot_open,
        "motion": opt_str(&s.motion),
        "notice_until": time_json(s.notice_until.as_ref()),
        "objections": s.objections,
        "objections_needed": s.objections_needed,
    })
}
