//! The residents' pages (云议事) at `/residents`: a phone-sized page of vanilla JS embedded in the
//! binary, and the JSON it draws under `/residents/api/`. A resident signs in with their own
//! token (role `resident`, the area they are registered in); every call goes to the mediation
//! service under that token, which checks the register, the turns and the stages — the server
//! adds no rule of its own, and a refusal reaches the page as the service worded it.
//!
//! One module per group: the agenda (propose, rank), the sitting (follow it, speak to it), the
//! decision (vote, object) and the matter's record (一事一档).

mod agenda;
mod assets;
mod decision;
mod record;
mod sitting;
mod wire;

use crate::dashboard::me;
use crate::routes::AppState;
use axum::routing::{get, post};
use axum::Router;

/// The routes of the page, its assets and its JSON.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/residents", get(assets::page))
        .route("/residents/", get(assets::page))
        .route("/residents/assets/{file}", get(assets::asset))
        .route("/residents/api/me", get(me))
        .route("/residents/api/agenda", get(agenda::show))
        .route("/residents/api/agenda/topics", post(agenda::propose))
        .route("/residents/api/agenda/ranking", post(agenda::rank))
        .route("/residents/api/sessions", get(sitting::list))
        .route("/residents/api/sessions/{id}", get(sitting::show))
        .route("/residents/api/sessions/{id}/live", get(sitting::live))
        .route("/residents/api/sessions/{id}/statements", post(sitting::speak))
        .route("/residents/api/sessions/{id}/ballot", post(decision::vote))
        .route("/residents/api/sessions/{id}/objection", post(decision::object))
        .route("/residents/api/sessions/{id}/record", get(record::show))
}
