//! A report as a client sent it, checked against the city's catalog and jurisdiction before
//! anything is recorded: every bad field is named, and only a report that passes becomes the
//! details of a case. Pure, so hostile requests can be thrown at it without a store.

use crate::convert::{self, from_channel, from_reporter};
use crate::status::Violations;
use crate::v1 as pb;
use gridloop_domain::case::{CaseDetails, Reporter};
use gridloop_domain::datum::{Datum, LatLon};
use gridloop_domain::policy::CityPolicy;
use tonic::Status;

/// The longest client key accepted, in characters.
pub const MAX_CLIENT_KEY: usize = 128;
/// The longest description accepted, in characters.
pub const MAX_DESCRIPTION: usize = 4000;

/// Device clocks drift: a discovery time this far in the future is still accepted.
const CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(5);

/// Validate a report against the catalog and the jurisdiction; every bad field is reported.
pub fn validate_report(
    policy: &CityPolicy,
    r: &pb::ReportCaseRequest,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<CaseDetails, Status> {
    let mut v = Violations::default();
    let key_len = r.client_key.chars().count();
    v.check(key_len > 0, "client_key", "required (choose one per report and reuse it on retries)");
    v.check(key_len <= MAX_CLIENT_KEY, "client_key", &format!("at most {MAX_CLIENT_KEY} characters"));
    if r.category_code.is_empty() {
        v.add("category_code", "required (see GetCatalog)");
    } else if policy.catalog.get(&r.category_code).is_none() {
        v.add("category_code", format!("unknown category {:?} (see GetCatalog)", r.category_code));
    }
    let mut grid_code = None;
    let mut location = None;
    match &r.location {
        None => v.add("location", "required"),
        Some(p) if !(p.lat.is_finite() && (-90.0..=90.0).contains(&p.lat)) => {
            v.add("location.lat", "must be a latitude between -90 and 90")
        }
        Some(p) if !(p.lon.is_finite() && (-180.0..=180.0).contains(&p.lon)) => {
            v.add("location.lon", "must be a longitude between -180 and 180")
        }
        Some(p) if pb::Datum::try_from(p.datum).is_err() => {
            v.add("location.datum", format!("{} is not a datum (WGS 84, GCJ-02 or BD-09)", p.datum))
        }
        Some(p) => {
            // The grids are WGS 84: a point from a Chinese map platform is converted first.
            let datum = convert::from_datum(p.datum());
            let wgs84 = LatLon::new(p.lat, p.lon).to_wgs84(datum);
            match policy.jurisdiction.locate(wgs84.lat, wgs84.lon) {
                Some(grid) => grid_code = Some(grid.code.as_str().to_string()),
                None => {
                    let given = match datum {
                        Datum::Wgs84 => format!("({}, {})", p.lat, p.lon),
                        other => format!("({}, {}) in {}", p.lat, p.lon, other.as_str()),
                    };
                    v.add("location", format!("{given} is outside every grid of this jurisdiction"));
                }
            }
            location = Some(wgs84);
        }
    }
    let description = r.description.trim();
    v.check(!description.is_empty(), "description", "required");
    v.check(
        description.chars().count() <= MAX_DESCRIPTION,
        "description",
        &format!("at most {MAX_DESCRIPTION} characters"),
    );
    let reporter = match r.reporter.as_ref().map(from_reporter) {
        // Only intake seals: whatever a client put there is not taken.
        Some(Some(reporter)) => Some(Reporter { sealed: None, ..reporter }),
        _ => {
            v.add("reporter.kind", "required (resident, grid worker or platform)");
            None
        }
    };
    let channel = from_channel(r.channel());
    v.check(channel.is_some(), "channel", "required");
    let discovered_at = match &r.discovered_at {
        None => Some(now),
        Some(t) => match convert::from_timestamp(t) {
            Some(t) if t > now + CLOCK_SKEW => {
                v.add("discovered_at", "is in the future");
                None
            }
            Some(t) => Some(t),
            None => {
                v.add("discovered_at", "not a valid timestamp");
                None
            }
        },
    };
    let special_groups = match convert::from_special_groups(&r.special_groups) {
        Ok(mut groups) => {
            groups.sort();
            groups.dedup();
            groups
        }
        Err(value) => {
            v.add("special_groups", format!("{value} is not a special group (elderly living alone, disabled, …)"));
            vec![]
        }
    };
    let media_url = Some(r.media_url.trim()).filter(|url| !url.is_empty());
    if let Some(url) = media_url {
        v.check(is_media_url(url), "media_url", &format!("an http(s) URL of at most {MAX_MEDIA_URL} characters"));
    }
    v.into_result()?;
    let (Some(grid_code), Some(reporter), Some(channel), Some(discovered_at), Some(location)) =
        (grid_code, reporter, channel, discovered_at, location)
    else {
        unreachable!("every missing value was reported as a violation");
    };
    Ok(CaseDetails {
        category_code: r.category_code.clone(),
        grid_code,
        lat: location.lat,
        lon: location.lon,
        description: description.to_string(),
        reporter,
        channel,
        discovered_at,
        uploaded_at: now,
        urgent: r.urgent,
        special_groups,
        media_url: media_url.map(str::to_string),
    })
}

/// The longest media URL accepted (what browsers and proxies reliably carry).
const MAX_MEDIA_URL: usize = 2048;

/// An absolute http or https URL without spaces: a link the reporter's platform hosts.
fn is_media_url(url: &str) -> bool {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    url.len() <= MAX_MEDIA_URL && rest.is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace))
}
