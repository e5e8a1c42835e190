//! Durable timers that belong to one aggregate (a case's deadline, a session's follow-up, a
//! feedback round): key `<kind>:<id>`, payload the exact instant the timer stands for. The store
//! keeps due times in microseconds; the payload keeps the instant exactly, so the aggregate can
//! tell a timer left over from an earlier assignment (stale) from the running one.

use gridloop_domain::Timestamp;
use gridloop_eventstore::{DueTimer, NewTimer};
use gridloop_proto::convert::{from_timestamp, timestamp};
use prost::Message;
use uuid::Uuid;

pub fn key(kind: &str, id: impl std::fmt::Display) -> String {
    format!("{kind}:{id}")
}

/// The timer writes that arm `kind` for `id` at `at`, or disarm it: (schedule, cancel).
pub fn arm(kind: &str, id: impl std::fmt::Display, at: Option<Timestamp>) -> (Vec<NewTimer>, Vec<String>) {
    let key = key(kind, id);
    match at {
        Some(due_at) => {
            (vec![NewTimer { key, due_at, kind: kind.to_string(), payload: timestamp(due_at).encode_to_vec() }], vec![])
        }
        None => (vec![], vec![key]),
    }
}

/// The aggregate (`CaseId`, `MediationId`) and the exact instant of a due timer of `kind`.
pub fn parse<I: From<Uuid>>(kind: &str, timer: &DueTimer) -> Result<(I, Timestamp), String> {
    let id = timer
        .key
        .strip_prefix(kind)
        .and_then(|rest| rest.strip_prefix(':'))
        .and_then(|id| Uuid::parse_str(id).ok())
        .map(I::from)
        .ok_or_else(|| format!("{} is not a {kind} timer", timer.key))?;
    let at = prost_types::Timestamp::decode(timer.payload.as_slice())
        .ok()
        .as_ref()
        .and_then(from_timestamp)
        .ok_or_else(|| format!("timer {} carries no instant", timer.key))?;
    Ok((id, at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridloop_domain::ids::CaseId;

    #[test]
    fn an_armed_timer_parses_back_to_its_aggregate_and_instant() {
        let id = CaseId(Uuid::now_v7());
        let at = Timestamp::from_timestamp(1_772_413_200, 123_456_789).unwrap();
        let (schedule, cancel) = arm("deadline", id, Some(at));
        assert!(cancel.is_empty());
        let due = DueTimer {
            key: schedule[0].key.clone(),
            generation: 1,
            due_at: at,
            kind: "deadline".into(),
            payload: schedule[0].payload.clone(),
        };
        assert_eq!(parse::<CaseId>("deadline", &due), Ok((id, at)));
        assert!(parse::<CaseId>("feedback", &due).is_err());
        let empty = DueTimer { payload: vec![0xff], ..due };
        assert_eq!(parse::<CaseId>("deadline", &empty), Err(format!("timer {} carries no instant", empty.key)));
        assert_eq!(arm("deadline", id, None), (vec![], vec![format!("deadline:{id}")]));
    }
}
