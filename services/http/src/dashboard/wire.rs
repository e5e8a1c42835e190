//! The JSON forms of the services' messages the page draws: enum names in lower case
//! (`dispatched`, `street`), times as RFC 3339.

use gridloop_proto::v1 as pb;
use serde_json::{json, Value};

/// `CASE_STATE_IN_MEDIATION` → `in_mediation`.
pub fn state_name(state: i32) -> String {
    let state = pb::CaseState::try_from(state).unwrap_or(pb::CaseState::Unspecified);
    state.as_str_name().trim_start_matches("CASE_STATE_").to_ascii_lowercase()
}

/// `LEVEL_COMMUNITY` → `community`.
pub fn level_name(level: i32) -> String {
    let level = pb::Level::try_from(level).unwrap_or(pb::Level::Unspecified);
    level.as_str_name().trim_start_matches("LEVEL_").to_ascii_lowercase()
}

/// `CHANNEL_RESIDENT_APP` → `resident_app`.
pub fn channel_name(channel: i32) -> String {
    let channel = pb::Channel::try_from(channel).unwrap_or(pb::Channel::Unspecified);
    channel.as_str_name().trim_start_matches("CHANNEL_").to_ascii_lowercase()
}

pub fn channel_count(count: &pb::ChannelCount) -> Value {
    json!({ "channel": channel_name(count.channel), "count": count.count })
}

pub fn time(t: Option<&prost_types::Timestamp>) -> Option<String> {
    let t = t?;
    let at = chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?)?;
    Some(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

pub fn level_share(share: &pb::LevelShare) -> Value {
    json!({
        "level": level_name(share.level),
        "count": share.count,
        "share": share.share,
        "target": share.target,
        "deviation": share.deviation,
    })
}

pub fn case_summary(case: &pb::CaseSummary) -> Value {
    json!({
        "case_id": case.case_id,
        "state": state_name(case.state),
        "level": level_name(case.level),
        "category": case.category_code,
        "grid": case.grid_code,
        "opened_at": time(case.opened_at.as_ref()),
        "updated_at": time(case.updated_at.as_ref()),
        "due_at": time(case.due_at.as_ref()),
        "description": case.description.chars().take(80).collect::<String>(),
        "priority": case.priority,
        "escalations": case.escalations,
    })
}

/// A mediation session waiting on a date: `waiting_on` is `notice_period` or `follow_up`.
pub fn waiting_session(session: &pb::WaitingMediation) -> Value {
    let waiting_on = pb::WaitingOn::try_from(session.waiting_on).unwrap_or(pb::WaitingOn::Unspecified);
    json!({
        "mediation_id": session.mediation_id,
        "case_id": session.case_id,
        "area": session.area_code,
        "topic": session.topic.chars().take(80).collect::<String>(),
        "waiting_on": waiting_on.as_str_name().trim_start_matches("WAITING_ON_").to_ascii_lowercase(),
        "until": time(session.until.as_ref()),
    })
}

pub fn rates(rates: Option<&pb::KpiRates>) -> Value {
    let Some(r) = rates else { return json!({}) };
    json!({
        "response": r.response_rate,
        "resolution": r.resolution_rate,
        "satisfaction": r.satisfaction_rate,
        "on_time": r.on_time_rate,
        "rework": r.rework_rate,
        "attainment_4321": r.attainment_4321,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_names_are_the_protos_in_lower_case() {
        assert_eq!(state_name(pb::CaseState::AwaitingVerification as i32), "awaiting_verification");
        assert_eq!(level_name(pb::Level::Street as i32), "street");
        assert_eq!(state_name(99), "unspecified");
        assert_eq!(channel_name(pb::Channel::ResidentApp as i32), "resident_app");
        let t = prost_types::Timestamp { seconds: 1_764_900_000, nanos: 0 };
        assert_eq!(time(Some(&t)).as_deref(), Some("2025-12-05T02:00:00.000Z"));
    }
}
