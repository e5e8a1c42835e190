//! The JSON forms of the mediation service's answers the residents' page draws: enum names in
//! lower case without their prefix (`in_notice`, `d21`), times as RFC 3339, and nothing the
//! service did not say.

use crate::dashboard::wire_time as time;
use gridloop_proto::v1 as pb;
use serde_json::{json, Value};

/// `MEDIATION_STAGE_IN_NOTICE` with prefix `MEDIATION_STAGE_` → `in_notice`.
fn lower(name: &str, prefix: &str) -> String {
    name.trim_start_matches(prefix).to_ascii_lowercase()
}

pub fn stage(value: i32) -> String {
    lower(
        pb::MediationStage::try_from(value).unwrap_or(pb::MediationStage::Unspecified).as_str_name(),
        "MEDIATION_STAGE_",
    )
}

fn method(value: i32) -> String {
    lower(pb::RankingMethod::try_from(value).unwrap_or(pb::RankingMethod::Unspecified).as_str_name(), "RANKING_METHOD_")
}

fn role(value: i32) -> String {
    lower(
        pb::ParticipantRole::try_from(value).unwrap_or(pb::ParticipantRole::Unspecified).as_str_name(),
        "PARTICIPANT_ROLE_",
    )
}

fn priorities(p: Option<&pb::TopicPriorities>) -> Value {
    let p = p.cloned().unwrap_or_default();
    json!({ "shared_concern": p.shared_concern, "special_groups": p.special_groups, "urgent": p.urgent })
}

fn ranked(topic: &pb::RankedTopic) -> Value {
    json!({
        "number": topic.number,
        "title": topic.title,
        "score": topic.score,
        "plus": topic.plus,
        "minus": topic.minus,
        "tied": topic.tied,
        "priorities": priorities(topic.priorities.as_ref()),
    })
}

/// An area's agenda: its topics standing (merged ones say where they went), the ranking open
/// with its standing so far, and the order the last ranking closed with.
pub fn agenda(view: &pb::AgendaView) -> Value {
    let topics: Vec<Value> = view
        .topics
        .iter()
        .map(|t| {
            json!({
                "number": t.number,
                "title": t.title,
                "proposer": t.proposer,
                "merged_into": t.merged_into,
                "priorities": priorities(t.priorities.as_ref()),
            })
        })
        .collect();
    json!({
        "area": view.area_code,
        "topics": topics,
        "ranking_open": view.ranking_open,
        "method": method(view.method),
        "plus_votes": view.plus_votes,
        "ballots": view.ballots,
        "standing": view.standing.iter().map(ranked).collect::<Vec<_>>(),
        "order": view.order.iter().map(ranked).collect::<Vec<_>>(),
        "version": view.version,
    })
}

fn statements(said: &[pb::MediationStatement]) -> Vec<Value> {
    said.iter().map(|s| json!({ "speaker": s.speaker, "text": s.text })).collect()
}

/// The open ballot, when there is one: who may vote and who did; the tally only when the
/// council chose an open ballot (the service leaves it at zero for a secret one).
fn ballot(view: &pb::MediationView) -> Value {
    if view.ballot_motion.is_empty() {
        return Value::Null;
    }
    json!({
        "motion": view.ballot_motion,
        "secret": view.ballot_secret,
        "eligible": view.ballot_eligible,
        "voted": view.ballot_voted,
        "yes": view.ballot_yes,
        "no": view.ballot_no,
        "abstain": view.ballot_abstain,
    })
}

/// A session as a resident follows it: the stage, who sits, what was said (by participants and
/// by residents online), the open ballot, and — once decided — the motion, the notice period
/// and the objections against one fifth of the residents concerned.
pub fn session(view: &pb::MediationView) -> Value {
    let participants: Vec<Value> =
        view.participants.iter().map(|p| json!({ "name": p.name, "role": role(p.role) })).collect();
    let history: Vec<Value> = view
        .history
        .iter()
        .map(|h| json!({ "at": time(h.occurred_at.as_ref()), "event": h.event_type, "detail": h.detail }))
        .collect();
    json!({
        "id": view.mediation_id,
        "topic": view.topic,
        "stage": stage(view.stage),
        "convenor": view.convenor,
        "agenda_topic": view.agenda_topic,
        "participants": participants,
        "present": view.present,
        "statements": statements(&view.statements),
        "resident_statements": statements(&view.resident_statements),
        "ballot": ballot(view),
        "motion": view.motion,
        "notice_until": time(view.notice_until.as_ref()),
        "residents_concerned": view.residents_concerned,
        "objectors": view.objectors,
        "objections_needed": view.objections_needed,
        "reconsiderations": view.reconsiderations,
        "register": group(view.register_group.as_ref()),
        "history": history,
        "version": view.version,
    })
}

fn group(group: Option<&pb::RegisterGroup>) -> Value {
    let Some(group) = group else { return Value::Null };
    let kind = pb::RegisterGroupKind::try_from(group.kind).unwrap_or(pb::RegisterGroupKind::Unspecified);
    json!({ "kind": lower(kind.as_str_name(), "REGISTER_GROUP_KIND_"), "name": group.name })
}

/// The sessions of the resident's area that concern them, newest first: where each stands, its
/// ballot, its notice and objections, and the building's or courtyard's register it names.
pub fn area_sessions(list: &pb::ListAreaSessionsResponse) -> Value {
    let sessions: Vec<Value> = list
        .sessions
        .iter()
        .map(|s| {
            json!({
                "id": s.mediation_id,
                "area": s.area_code,
                "topic": s.topic,
                "stage": stage(s.stage),
                "register": group(s.register_group.as_ref()),
                "agenda_topic": s.agenda_topic,
                "opened_at": time(s.opened_at.as_ref()),
                "ballot_open": s.ballot_open,
                "motion": s.motion,
                "notice_until": time(s.notice_until.as_ref()),
                "objections": s.objections,
                "objections_needed": s.objections_needed,
            })
        })
        .collect();
    json!({ "sessions": sessions })
}

/// 一事一档: the matter from its proposal on, each step with when, who and what.
pub fn record(record: &pb::MatterRecord) -> Value {
    let entries: Vec<Value> = record
        .entries
        .iter()
        .map(|e| {
            json!({
                "at": time(e.occurred_at.as_ref()),
                "section": e.section,
                "event": e.event_type,
                "actor": e.actor_id,
                "detail": e.detail,
            })
        })
        .collect();
    json!({
        "id": record.mediation_id,
        "area": record.area_code,
        "topic": record.topic,
        "status": record.status,
        "motion": record.motion,
        "agenda_topic": record.agenda_topic,
        "convenor": record.convenor,
        "residents_concerned": record.residents_concerned,
        "objections": record.objections,
        "objections_needed": record.objections_needed,
        "follow_ups": record.follow_ups,
        "entries": entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_in_notice_says_its_stage_objections_and_threshold_and_no_ballot() {
        let view = pb::MediationView {
            mediation_id: "m1".into(),
            stage: pb::MediationStage::InNotice as i32,
            residents_concerned: 50,
            objectors: vec!["居民11".into()],
            objections_needed: 10,
            ..Default::default()
        };
        let json = session(&view);
        assert_eq!(json["stage"], "in_notice");
        assert_eq!((json["objections_needed"].as_u64(), json["objectors"][0].as_str()), (Some(10), Some("居民11")));
        assert!(json["ballot"].is_null(), "no ballot is open");
    }

    #[test]
    fn a_listed_building_session_in_notice_says_its_register_and_objections() {
        let list = pb::ListAreaSessionsResponse {
            sessions: vec![pb::AreaSession {
                mediation_id: "m1".into(),
                stage: pb::MediationStage::InNotice as i32,
                register_group: Some(pb::RegisterGroup {
                    kind: pb::RegisterGroupKind::Building as i32,
                    name: "3号楼".into(),
                }),
                objections: 3,
                objections_needed: 4,
                ..Default::default()
            }],
        };
        let json = area_sessions(&list);
        let first = &json["sessions"][0];
        assert_eq!(
            (first["stage"].as_str(), first["register"]["kind"].as_str()),
            (Some("in_notice"), Some("building"))
        );
        assert_eq!((first["objections"].as_u64(), first["objections_needed"].as_u64()), (Some(3), Some(4)));
        let area_wide = area_sessions(&pb::ListAreaSessionsResponse { sessions: vec![pb::AreaSession::default()] });
        assert!(area_wide["sessions"][0]["register"].is_null(), "the area's own register");
    }

    #[test]
    fn a_ranking_shows_the_priorities_beside_the_score() {
        let view = pb::AgendaView {
            method: pb::RankingMethod::Points531 as i32,
            order: vec![pb::RankedTopic {
                number: 3,
                score: 27,
                priorities: Some(pb::TopicPriorities { special_groups: true, ..Default::default() }),
                ..Default::default()
            }],
            ..Default::default()
        };
        let json = agenda(&view);
        assert_eq!(json["method"], "points_531");
        assert_eq!(json["order"][0]["score"], 27);
        assert_eq!(json["order"][0]["priorities"]["special_groups"], true);
    }
}
