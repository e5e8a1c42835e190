//! The page and its assets, embedded in the binary: the dashboard works offline (a city's
//! intranet) and the run command needs no npm. `assets/update-vendor.sh` re-fetches ECharts.

use crate::embedded::{self, Asset};
use axum::extract::Path;
use axum::response::Response;

const INDEX: &str = include_str!("../../assets/index.html");

/// Name, content type and bytes of every asset.
const ASSETS: &[Asset] = &[
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("../../assets/app.js")),
    ("i18n.js", "text/javascript; charset=utf-8", include_bytes!("../../assets/i18n.js")),
    ("style.css", "text/css; charset=utf-8", include_bytes!("../../assets/style.css")),
    ("echarts.min.js", "text/javascript; charset=utf-8", include_bytes!("../../assets/vendor/echarts.min.js")),
    ("echarts.LICENSE", "text/plain; charset=utf-8", include_bytes!("../../assets/vendor/echarts.LICENSE")),
];

pub async fn page() -> Response {
    embedded::page(INDEX)
}

pub async fn asset(Path(file): Path<String>) -> Response {
    embedded::asset(ASSETS, &file)
}
