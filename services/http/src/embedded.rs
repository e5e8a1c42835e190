//! Pages and assets embedded in the binary (the dashboard's, the residents'): they work offline
//! on a city's intranet, and the run command needs no npm and no build step.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// An embedded file: its name under the page's `assets/` path, content type and bytes.
pub type Asset = (&'static str, &'static str, &'static [u8]);

/// A page's HTML, revalidated on every load so an upgrade shows at once.
pub fn page(html: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], html).into_response()
}

/// The asset named `file` among `assets`, or a 404.
pub fn asset(assets: &[Asset], file: &str) -> Response {
    match assets.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, bytes)) => {
            ([(header::CONTENT_TYPE, *content_type), (header::CACHE_CONTROL, "no-cache")], *bytes).into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
