//! 云票选 and objections: a resident invited to the sitting votes once in its open ballot
//! (CastBallot), and a registered resident objects once to the published decision during the
//! notice period (ObjectToDecision). Each answer is the session after the act, so the page shows
//! the live count at once.

use super::wire;
use crate::dashboard::{DashError, Session};
use axum::extract::Path;
use axum::Json;
use gridloop_proto::v1 as pb;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Choice {
    Yes,
    No,
    Abstain,
}

#[derive(Debug, Deserialize)]
pub struct Vote {
    pub choice: Choice,
}

fn refused(status: tonic::Status) -> DashError {
    DashError::from_status(&status)
}

pub async fn vote(session: Session, Path(id): Path<String>, Json(vote): Json<Vote>) -> Result<Json<Value>, DashError> {
    let choice = match vote.choice {
        Choice::Yes => pb::BallotChoice::Yes,
        Choice::No => pb::BallotChoice::No,
        Choice::Abstain => pb::BallotChoice::Abstain,
    };
    let request = session.request(pb::CastBallotRequest { mediation_id: id, choice: choice as i32 })?;
    let view = session.backend.mediation().cast_ballot(request).await.map_err(refused)?.into_inner();
    Ok(Json(wire::session(&view)))
}

pub async fn object(session: Session, Path(id): Path<String>) -> Result<Json<Value>, DashError> {
    let request = session.request(pb::MediationStepRequest { mediation_id: id, actor: None })?;
    let view = session.backend.mediation().object_to_decision(request).await.map_err(refused)?.into_inner();
    Ok(Json(wire::session(&view)))
}
