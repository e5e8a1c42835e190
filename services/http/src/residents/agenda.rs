//! 议题征集 and ranking: a resident reads their area's agenda, proposes a topic for it, and ranks
//! the topics standing while a ranking is open (D21: plus votes and at most one minus after two
//! pluses; 531: first, second and third choice) — GetAgenda, ProposeAgendaTopic and RankTopics.

use super::wire;
use crate::dashboard::{DashError, Session};
use axum::extract::Query;
use axum::Json;
use gridloop_proto::v1 as pb;
use serde::Deserialize;
use serde_json::Value;

/// The area the page is of: the one the resident's token names.
#[derive(Debug, Deserialize)]
pub struct AreaQuery {
    pub area: String,
}

/// A topic a resident proposes, with the priorities the seeds name (居民共同关注优先、特殊群体需求
/// 优先、急难重大事项优先) as the resident sees them.
#[derive(Debug, Deserialize)]
pub struct NewTopic {
    pub area: String,
    pub title: String,
    #[serde(default)]
    pub collected_from: String,
    #[serde(default)]
    pub shared_concern: bool,
    #[serde(default)]
    pub special_groups: bool,
    #[serde(default)]
    pub urgent: bool,
}

/// One resident's ranking: D21's `plus` and `minus` (0: none), or 531's `choices` in order.
#[derive(Debug, Deserialize)]
pub struct Ranking {
    pub area: String,
    #[serde(default)]
    pub plus: Vec<u32>,
    #[serde(default)]
    pub minus: u32,
    #[serde(default)]
    pub choices: Vec<u32>,
}

fn refused(status: tonic::Status) -> DashError {
    DashError::from_status(&status)
}

pub async fn show(session: Session, Query(query): Query<AreaQuery>) -> Result<Json<Value>, DashError> {
    let request = session.request(pb::GetAgendaRequest { area_code: query.area })?;
    let view = session.backend.mediation().get_agenda(request).await.map_err(refused)?.into_inner();
    Ok(Json(wire::agenda(&view)))
}

pub async fn propose(session: Session, Json(topic): Json<NewTopic>) -> Result<Json<Value>, DashError> {
    let collected_from =
        if topic.collected_from.trim().is_empty() { "云议事".to_string() } else { topic.collected_from };
    let request = session.request(pb::ProposeAgendaTopicRequest {
        area_code: topic.area,
        title: topic.title,
        collected_from,
        priorities: Some(pb::TopicPriorities {
            shared_concern: topic.shared_concern,
            special_groups: topic.special_groups,
            urgent: topic.urgent,
        }),
    })?;
    let view = session.backend.mediation().propose_agenda_topic(request).await.map_err(refused)?.into_inner();
    Ok(Json(wire::agenda(&view)))
}

pub async fn rank(session: Session, Json(ranking): Json<Ranking>) -> Result<Json<Value>, DashError> {
    let request = session.request(pb::RankTopicsRequest {
        area_code: ranking.area,
        plus: ranking.plus,
        minus: ranking.minus,
        choices: ranking.choices,
    })?;
    let view = session.backend.mediation().rank_topics(request).await.map_err(refused)?.into_inner();
    Ok(Json(wire::agenda(&view)))
}
