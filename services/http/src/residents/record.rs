//! 一事一档: the record of the matter a session deliberates (GetMatterRecord), read by a
//! registered resident of its area — residents' names and numbers as the service shows them.

use super::wire;
use crate::dashboard::{DashError, Session};
use axum::extract::Path;
use axum::Json;
use gridloop_proto::v1 as pb;
use serde_json::Value;

pub async fn show(session: Session, Path(id): Path<String>) -> Result<Json<Value>, DashError> {
    let request = session.request(pb::GetMatterRecordRequest { mediation_id: id })?;
    let record = session
        .backend
        .mediation()
        .get_matter_record(request)
        .await
        .map_err(|status| DashError::from_status(&status))?
        .into_inner();
    Ok(Json(wire::record(&record)))
}
