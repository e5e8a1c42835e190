//! Evaluation's feedback events (`feedback-<case id>` streams).

use super::{event_type, invalid, short_type, values::*, DecodeError};
use crate::v1 as pb;
use gridloop_domain::feedback::FeedbackEvent;
use gridloop_domain::ids::CaseId;
use prost::Message;

pub fn encode_feedback_event(case_id: CaseId, event: &FeedbackEvent) -> (String, Vec<u8>) {
    let id = case_id.to_string();
    let payload = match event {
        FeedbackEvent::Requested { level: l, due_at } => {
            pb::FeedbackRequested { case_id: id, level: level(*l) as i32, due_at: Some(timestamp(*due_at)) }
                .encode_to_vec()
        }
        FeedbackEvent::Received { satisfaction: s, comment } => {
            pb::FeedbackReceived { case_id: id, satisfaction: satisfaction(*s) as i32, comment: comment.clone() }
                .encode_to_vec()
        }
        FeedbackEvent::Defaulted { satisfaction: s } => {
            pb::FeedbackDefaulted { case_id: id, satisfaction: satisfaction(*s) as i32 }.encode_to_vec()
        }
    };
    (event_type(event.type_name()), payload)
}

pub fn decode_feedback_event(event_type: &str, payload: &[u8]) -> Result<FeedbackEvent, DecodeError> {
    let ty = event_type;
    let proto = |source| DecodeError::Protobuf { event_type: ty.to_string(), source };
    let sat = |raw: i32| {
        pb::Satisfaction::try_from(raw)
            .ok()
            .and_then(from_satisfaction)
            .ok_or_else(|| invalid(ty, "satisfaction missing"))
    };
    Ok(match short_type(ty) {
        "FeedbackRequested" => {
            let m = pb::FeedbackRequested::decode(payload).map_err(proto)?;
            FeedbackEvent::Requested {
                level: pb::Level::try_from(m.level).ok().and_then(from_level).ok_or_else(|| invalid(ty, "level"))?,
                due_at: m.due_at.as_ref().and_then(from_timestamp).ok_or_else(|| invalid(ty, "due_at missing"))?,
            }
        }
        "FeedbackReceived" => {
            let m = pb::FeedbackReceived::decode(payload).map_err(proto)?;
            FeedbackEvent::Received { satisfaction: sat(m.satisfaction)?, comment: m.comment }
        }
        "FeedbackDefaulted" => {
            let m = pb::FeedbackDefaulted::decode(payload).map_err(proto)?;
            FeedbackEvent::Defaulted { satisfaction: sat(m.satisfaction)? }
        }
        _ => return Err(DecodeError::UnknownType { event_type: ty.to_string() }),
    })
}
