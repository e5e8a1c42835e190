//! The page and its assets, embedded in the binary: the dashboard works offline (a city's
//! intranet) and the run command needs no npm. `assets/update-vendor.sh` re-fetches ECharts.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

const INDEX: &str = include_str!("../../assets/index.html");

/// Name, content type and bytes of every asset.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("../../assets/app.js")),
    ("i18n.js", "text/javascript; charset=utf-8", include_bytes!("../../assets/i18n.js")),
    ("style.css", "text/css; charset=utf-8", include_bytes!("../../assets/style.css")),
    ("echarts.min.js", "text/javascript; charset=utf-8", include_bytes!("../../assets/vendor/echarts.min.js")),
    ("echarts.LICENSE", "text/plain; charset=utf-8", include_bytes!("../../assets/vendor/echarts.LICENSE")),
];

pub async fn page() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], INDEX).into_response()
}

pub async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, bytes)) => {
            ([(header::CONTENT_TYPE, *content_type), (header::CACHE_CONTROL, "no-cache")], *bytes).into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
