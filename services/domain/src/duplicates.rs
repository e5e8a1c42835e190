//! Duplicate detection: a report of the same category within `radius_m` metres and `window` of an
//! open case is linked to that case instead of opening a second one.
//!
//! Pure: intake prefilters the open cases with [`DuplicatePolicy::bounding_box`] and the window in
//! one indexed query, and [`DuplicatePolicy::pick`] chooses among the few candidates.

use crate::{Duration, Timestamp};

/// Mean Earth radius (IUGG), metres.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Great-circle distance in metres between two points given in degrees (haversine formula).
pub fn haversine_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let d_phi = (lat2 - lat1).to_radians();
    let d_lambda = (lon2 - lon1).to_radians();
    let a = (d_phi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (d_lambda / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
}

/// When two reports are the same matter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DuplicatePolicy {
    /// Metres around the report; 0 (or less) disables duplicate detection.
    pub radius_m: f64,
    /// How long before the report the open case may have been opened.
    pub window: Duration,
}

/// A lat/lon rectangle (degrees) that contains every point within the radius.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    pub min_lat: f64,
    pub max_lat: f64,
    pub min_lon: f64,
    pub max_lon: f64,
}

/// An open case the report might duplicate.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenCase {
    pub case_id: String,
    pub grid_code: String,
    pub lat: f64,
    pub lon: f64,
    pub opened_at: Timestamp,
}

/// The open case a report is linked to, and how far from the report it is.
#[derive(Debug, Clone, PartialEq)]
pub struct DuplicateMatch {
    pub case: OpenCase,
    pub distance_m: f64,
}

impl DuplicatePolicy {
    pub const DEFAULT_RADIUS_M: f64 = 50.0;
    pub const DEFAULT_WINDOW_HOURS: i64 = 72;

    pub fn disabled() -> Self {
        Self { radius_m: 0.0, window: Duration::zero() }
    }

    pub fn enabled(&self) -> bool {
        self.radius_m.is_finite() && self.radius_m > 0.0 && self.window > Duration::zero()
    }

    /// The earliest opening time a candidate may have at `now`.
    pub fn opened_after(&self, now: Timestamp) -> Timestamp {
        now - self.window
    }

    /// A rectangle around (`lat`, `lon`) containing the whole circle of `radius_m` (slightly
    /// larger, never smaller), for an indexed prefilter. Longitudes are not wrapped at ±180°.
    pub fn bounding_box(&self, lat: f64, lon: f64) -> BoundingBox {
        let d_lat = (self.radius_m / EARTH_RADIUS_M).to_degrees() * 1.01;
        // Near the poles the longitude span of the circle grows without bound: take every longitude.
        let widest = (lat.abs() + d_lat).min(90.0).to_radians().cos();
        let d_lon = if widest < 1e-6 { 360.0 } else { d_lat / widest };
        BoundingBox { min_lat: lat - d_lat, max_lat: lat + d_lat, min_lon: lon - d_lon, max_lon: lon + d_lon }
    }

    /// The candidate a report at (`lat`, `lon`) at `now` duplicates: within the radius and the
    /// window, the nearest; among equally near ones, the earliest opened (then the smallest id,
    /// so the choice does not depend on the order of `candidates`).
    pub fn pick(
        &self,
        lat: f64,
        lon: f64,
        now: Timestamp,
        candidates: impl IntoIterator<Item = OpenCase>,
    ) -> Option<DuplicateMatch> {
        if !self.enabled() {
            return None;
        }
        let after = self.opened_after(now);
        candidates
            .into_iter()
            .filter(|c| c.opened_at >= after)
            .map(|case| {
                let distance_m = haversine_m(lat, lon, case.lat, case.lon);
                DuplicateMatch { case, distance_m }
            })
            .filter(|m| m.distance_m <= self.radius_m)
            .min_by(|a, b| {
                a.distance_m
                    .total_cmp(&b.distance_m)
                    .then(a.case.opened_at.cmp(&b.case.opened_at))
                    .then(a.case.case_id.cmp(&b.case.case_id))
            })
    }
}

impl DuplicateMatch {
    /// Why the report was linked, for the reporter: "same category within 35 m of case …,
    /// opened 2 h ago".
    pub fn reason(&self, now: Timestamp) -> String {
        format!(
            "same category within {} m of case {}, opened {}",
            self.distance_m.round().max(0.0) as u64,
            self.case.case_id,
            ago(now - self.case.opened_at)
        )
    }
}

fn ago(age: Duration) -> String {
    let minutes = age.num_minutes().max(0);
    match minutes {
        0 => "just now".to_string(),
        1..=59 => format!("{minutes} min ago"),
        60..=2879 => format!("{} h ago", minutes / 60),
        _ => match (minutes / 1440, minutes % 1440 / 60) {
            (days, 0) => format!("{days} days ago"),
            (days, hours) => format!("{days} days {hours} h ago"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> Timestamp {
        chrono::Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap()
    }

    fn policy() -> DuplicatePolicy {
        DuplicatePolicy { radius_m: 50.0, window: Duration::hours(72) }
    }

    fn case(id: &str, lat: f64, lon: f64, opened_hours_ago: i64) -> OpenCase {
        OpenCase {
            case_id: id.into(),
            grid_code: "321012001001001".into(),
            lat,
            lon,
            opened_at: now() - Duration::hours(opened_hours_ago),
        }
    }

    /// `metres` north of (lat, lon).
    fn north(lat: f64, metres: f64) -> f64 {
        lat + (metres / EARTH_RADIUS_M).to_degrees()
    }

    #[test]
    fn haversine_matches_known_distances() {
        assert_eq!(haversine_m(32.4, 119.5, 32.4, 119.5), 0.0);
        // One degree of latitude is about 111.2 km anywhere.
        assert!((haversine_m(32.0, 119.5, 33.0, 119.5) - 111_195.0).abs() < 10.0);
        // One degree of longitude at 60° is half of one at the equator.
        let equator = haversine_m(0.0, 10.0, 0.0, 11.0);
        let sixty = haversine_m(60.0, 10.0, 60.0, 11.0);
        assert!((sixty / equator - 0.5).abs() < 1e-3, "{sixty} / {equator}");
        // Beijing – Shanghai is about 1067 km.
        let d = haversine_m(39.9042, 116.4074, 31.2304, 121.4737);
        assert!((d - 1_067_000.0).abs() < 5_000.0, "{d}");
        // Symmetric, and antipodes are half the circumference.
        assert_eq!(haversine_m(1.0, 2.0, 3.0, 4.0), haversine_m(3.0, 4.0, 1.0, 2.0));
        let half = std::f64::consts::PI * EARTH_RADIUS_M;
        assert!((haversine_m(0.0, 0.0, 0.0, 180.0) - half).abs() < 1.0);
    }

    #[test]
    fn the_bounding_box_contains_the_whole_circle() {
        let p = policy();
        for lat in [0.0, 32.4, -45.0, 75.0, 89.9995] {
            let b = p.bounding_box(lat, 119.5);
            for bearing in 0..360 {
                let theta = f64::from(bearing).to_radians();
                // A point at exactly the radius in direction `theta`, by the destination formula.
                let delta = p.radius_m / EARTH_RADIUS_M;
                let phi1 = lat.to_radians();
                let phi2 = (phi1.sin() * delta.cos() + phi1.cos() * delta.sin() * theta.cos()).asin();
                let lambda2 = 119.5_f64.to_radians()
                    + (theta.sin() * delta.sin() * phi1.cos()).atan2(delta.cos() - phi1.sin() * phi2.sin());
                let (plat, plon) = (phi2.to_degrees(), lambda2.to_degrees());
                assert!((b.min_lat..=b.max_lat).contains(&plat), "lat {plat} outside {b:?} at {lat}");
                assert!((b.min_lon..=b.max_lon).contains(&plon), "lon {plon} outside {b:?} at {lat}");
            }
        }
    }

    #[test]
    fn the_nearest_open_case_within_the_radius_and_window_is_picked() {
        let (lat, lon) = (32.4043, 119.5029);
        let candidates = vec![
            case("far", north(lat, 60.0), lon, 1),
            case("near", north(lat, 10.0), lon, 5),
            case("nearer-but-old", north(lat, 5.0), lon, 73),
            case("middle", north(lat, 30.0), lon, 1),
        ];
        let m = policy().pick(lat, lon, now(), candidates).expect("a duplicate");
        assert_eq!(m.case.case_id, "near");
        assert!((m.distance_m - 10.0).abs() < 0.01, "{}", m.distance_m);
    }

    #[test]
    fn equally_near_cases_go_to_the_earliest_opened() {
        let (lat, lon) = (32.4, 119.5);
        let candidates = vec![case("b", lat, lon, 2), case("a", lat, lon, 2), case("older", lat, lon, 3)];
        assert_eq!(policy().pick(lat, lon, now(), candidates.clone()).unwrap().case.case_id, "older");
        let same_time = candidates.into_iter().filter(|c| c.case_id != "older");
        assert_eq!(policy().pick(lat, lon, now(), same_time).unwrap().case.case_id, "a");
    }

    #[test]
    fn nothing_beyond_the_radius_or_before_the_window_or_when_disabled() {
        let (lat, lon) = (32.4, 119.5);
        assert_eq!(policy().pick(lat, lon, now(), vec![case("x", north(lat, 51.0), lon, 1)]), None);
        assert!(policy().pick(lat, lon, now(), vec![case("x", north(lat, 49.0), lon, 1)]).is_some());
        assert_eq!(policy().pick(lat, lon, now(), vec![case("x", lat, lon, 73)]), None);
        assert!(policy().pick(lat, lon, now(), vec![case("x", lat, lon, 72)]).is_some());
        assert_eq!(DuplicatePolicy::disabled().pick(lat, lon, now(), vec![case("x", lat, lon, 0)]), None);
        let zero_radius = DuplicatePolicy { radius_m: 0.0, ..policy() };
        assert!(!zero_radius.enabled());
        assert_eq!(zero_radius.pick(lat, lon, now(), vec![case("x", lat, lon, 0)]), None);
    }

    #[test]
    fn the_reason_names_the_distance_the_case_and_its_age() {
        let m = DuplicateMatch { case: case("c-1", 32.4, 119.5, 2), distance_m: 34.6 };
        assert_eq!(m.reason(now()), "same category within 35 m of case c-1, opened 2 h ago");
        let m = DuplicateMatch { case: case("c-1", 32.4, 119.5, 48), distance_m: 0.2 };
        assert_eq!(m.reason(now()), "same category within 0 m of case c-1, opened 2 days ago");
        let m = DuplicateMatch { case: case("c-1", 32.4, 119.5, 71), ..m };
        assert_eq!(m.reason(now()), "same category within 0 m of case c-1, opened 2 days 23 h ago");
        let recent = DuplicateMatch { case: OpenCase { opened_at: now() - Duration::minutes(7), ..m.case }, ..m };
        assert_eq!(recent.reason(now()), "same category within 0 m of case c-1, opened 7 min ago");
    }
}
