//! The command-centre dashboard (大屏) at `/dashboard`: a page of vanilla JS and ECharts embedded
//! in the binary, and the JSON it draws under `/dashboard/api/`. Every figure comes from the
//! services' own queries (CountCases, GetKpis, GetLevelDistribution, ListDriftAlerts, ListCases,
//! GetCase, ListWaitingMediations; WatchFigures says when to re-read) called under the signed-in
//! caller's token, so the services' authorization scopes a
//! supervisor to its area's subtree: the server adds no figure and no check of its own.

mod assets;
mod case_lists;
mod error;
mod figures;
mod live;
mod session;
mod wire;

use crate::routes::AppState;
use axum::routing::get;
use axum::Router;

pub use error::DashError;
pub use session::{me, Session};
pub use wire::time as wire_time;

/// The routes of the page, its assets and its JSON.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(assets::page))
        .route("/dashboard/", get(assets::page))
        .route("/dashboard/assets/{file}", get(assets::asset))
        .route("/dashboard/api/me", get(session::me))
        .route("/dashboard/api/jurisdiction", get(figures::jurisdiction))
        .route("/dashboard/api/loop", get(figures::loop_now))
        .route("/dashboard/api/distribution", get(figures::distribution))
        .route("/dashboard/api/ranking", get(figures::ranking))
        .route("/dashboard/api/deadlines", get(case_lists::deadlines))
        .route("/dashboard/api/mediations", get(case_lists::mediations))
        .route("/dashboard/api/cases/{case_id}", get(case_lists::case))
        .route("/dashboard/api/live", get(live::stream))
}
