//! The residents' page and its assets, embedded in the binary like the dashboard's: a phone on a
//! community's network loads it from gridloop itself, with no CDN and no build step.

use crate::embedded::{self, Asset};
use axum::extract::Path;
use axum::response::Response;

const INDEX: &str = include_str!("../../assets/residents/index.html");

/// Name, content type and bytes of every asset.
const ASSETS: &[Asset] = &[
    ("residents.js", "text/javascript; charset=utf-8", include_bytes!("../../assets/residents/residents.js")),
    ("residents.css", "text/css; charset=utf-8", include_bytes!("../../assets/residents/residents.css")),
];

pub async fn page() -> Response {
    embedded::page(INDEX)
}

pub async fn asset(Path(file): Path<String>) -> Response {
    embedded::asset(ASSETS, &file)
}
