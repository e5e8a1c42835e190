//! Following a sitting (云议事): the sessions of the resident's area to pick one from
//! (ListAreaSessions: those whose register holds them), the session as it stands (GetMediation),
//! a live feed of it, and a resident's own statement to it (SubmitResidentStatement) — within the
//! turns and the length every participant has, which the service enforces.

use super::wire;
use crate::dashboard::{DashError, Session};
use axum::extract::{Path, Query};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use futures::stream::{self, Stream};
use gridloop_proto::v1 as pb;
use serde::Deserialize;
use serde_json::Value;
use std::convert::Infallible;
use std::time::Duration;

/// How often the feed re-reads the session: a statement reaches the phones within a tick plus
/// the projection's lag, and a sitting of a few dozen followers costs a read per second each.
const TICK: Duration = Duration::from_secs(1);

/// The area whose sessions to list: the one the resident's token names unless given.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub area: String,
}

pub async fn list(session: Session, Query(query): Query<ListQuery>) -> Result<Json<Value>, DashError> {
    let request = session.request(pb::ListAreaSessionsRequest { area_code: query.area, ..Default::default() })?;
    let listed = session
        .backend
        .mediation()
        .list_area_sessions(request)
        .await
        .map_err(|status| DashError::from_status(&status))?
        .into_inner();
    Ok(Json(wire::area_sessions(&listed)))
}

#[derive(Debug, Deserialize)]
pub struct Statement {
    pub text: String,
}

async fn read(session: &Session, id: &str) -> Result<Value, DashError> {
    let request = session.request(pb::GetMediationRequest { mediation_id: id.to_string(), ..Default::default() })?;
    let view = session
        .backend
        .mediation()
        .get_mediation(request)
        .await
        .map_err(|status| DashError::from_status(&status))?
        .into_inner();
    Ok(wire::session(&view))
}

pub async fn show(session: Session, Path(id): Path<String>) -> Result<Json<Value>, DashError> {
    Ok(Json(read(&session, &id).await?))
}

pub async fn speak(
    session: Session,
    Path(id): Path<String>,
    Json(statement): Json<Statement>,
) -> Result<Json<Value>, DashError> {
    let request = session.request(pb::SubmitResidentStatementRequest { mediation_id: id, text: statement.text })?;
    let view = session
        .backend
        .mediation()
        .submit_resident_statement(request)
        .await
        .map_err(|status| DashError::from_status(&status))?
        .into_inner();
    Ok(Json(wire::session(&view)))
}

struct Feed {
    session: Session,
    id: String,
    last: Option<String>,
    ended: bool,
}

/// `event: session` with the session's JSON each time it changes (the first at once); a refusal
/// ends the feed with an `error` event carrying the service's words.
pub async fn live(session: Session, Path(id): Path<String>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let feed = Feed { session, id, last: None, ended: false };
    let events = stream::unfold(feed, |mut feed| async move {
        if feed.ended {
            return None;
        }
        loop {
            match read(&feed.session, &feed.id).await {
                Ok(view) => {
                    let data = view.to_string();
                    if feed.last.as_deref() != Some(data.as_str()) {
                        feed.last = Some(data.clone());
                        return Some((Ok(Event::default().event("session").data(data)), feed));
                    }
                }
                Err(error) => {
                    feed.ended = true;
                    let body = serde_json::json!({ "message": error.to_string() }).to_string();
                    return Some((Ok(Event::default().event("error").data(body)), feed));
                }
            }
            tokio::time::sleep(TICK).await;
        }
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}
