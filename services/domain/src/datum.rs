//! Map datums. The grids' boundaries are WGS 84, as GPS gives it, but mainland Chinese map
//! platforms publish shifted coordinates: GCJ-02 (Amap/高德, Tencent/腾讯, Apple and Google in
//! China) and, shifted once more, BD-09 (Baidu/百度). The shift is hundreds of metres — enough
//! to place a case in the neighbouring grid without any error — so a point is converted to
//! WGS 84 before it is located.
//!
//! The conversions are the published de-facto ones (the formulas of eviltransform and
//! coordtransform): WGS 84 → GCJ-02 is a closed formula on the Krasovsky ellipsoid, applied
//! only inside mainland China's bounding box; GCJ-02 → WGS 84 has no closed form and is found
//! by iterating the forward formula until it lands on the given point (to well under a
//! millimetre); BD-09 ↔ GCJ-02 is a small rotation and offset in closed form both ways.

use std::f64::consts::PI;

/// The coordinate system a point is given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Datum {
    /// GPS, and the grids' boundaries.
    #[default]
    Wgs84,
    /// The national mapping bureau's shifted system (国测局坐标, "Mars coordinates").
    Gcj02,
    /// Baidu's system: GCJ-02 shifted again.
    Bd09,
}

impl Datum {
    pub fn as_str(self) -> &'static str {
        match self {
            Datum::Wgs84 => "WGS 84",
            Datum::Gcj02 => "GCJ-02",
            Datum::Bd09 => "BD-09",
        }
    }
}

/// A latitude and longitude in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatLon {
    pub lat: f64,
    pub lon: f64,
}

impl LatLon {
    pub fn new(lat: f64, lon: f64) -> Self {
        Self { lat, lon }
    }

    /// The same place in WGS 84, for a point given in `datum`.
    pub fn to_wgs84(self, datum: Datum) -> LatLon {
        match datum {
            Datum::Wgs84 => self,
            Datum::Gcj02 => gcj02_to_wgs84(self),
            Datum::Bd09 => gcj02_to_wgs84(bd09_to_gcj02(self)),
        }
    }

    /// The same place in `datum`, for a point given in WGS 84.
    pub fn from_wgs84(self, datum: Datum) -> LatLon {
        match datum {
            Datum::Wgs84 => self,
            Datum::Gcj02 => wgs84_to_gcj02(self),
            Datum::Bd09 => gcj02_to_bd09(wgs84_to_gcj02(self)),
        }
    }
}

/// The Krasovsky 1940 ellipsoid the GCJ-02 shift is computed on: semi-major axis (m) and
/// eccentricity squared.
const KRASOVSKY_A: f64 = 6_378_245.0;
const KRASOVSKY_EE: f64 = 0.006_693_421_622_965_943;

/// BD-09's angular constant.
const BD_X_PI: f64 = PI * 3000.0 / 180.0;

/// GCJ-02 is shifted only inside mainland China's bounding box; outside it equals WGS 84.
fn outside_china(p: LatLon) -> bool {
    !(72.004..=137.8347).contains(&p.lon) || !(0.8293..=55.8271).contains(&p.lat)
}

fn shift_lat(x: f64, y: f64) -> f64 {
    let mut ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    ret += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    ret += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    ret += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    ret
}

fn shift_lon(x: f64, y: f64) -> f64 {
    let mut ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    ret += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    ret += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    ret += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    ret
}

pub fn wgs84_to_gcj02(p: LatLon) -> LatLon {
    if outside_china(p) {
        return p;
    }
    let (x, y) = (p.lon - 105.0, p.lat - 35.0);
    let rad_lat = p.lat / 180.0 * PI;
    let magic = 1.0 - KRASOVSKY_EE * rad_lat.sin() * rad_lat.sin();
    let sqrt_magic = magic.sqrt();
    let d_lat = shift_lat(x, y) * 180.0 / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrt_magic) * PI);
    let d_lon = shift_lon(x, y) * 180.0 / (KRASOVSKY_A / sqrt_magic * rad_lat.cos() * PI);
    LatLon::new(p.lat + d_lat, p.lon + d_lon)
}

/// The WGS 84 point whose GCJ-02 shift is `p`: the shift varies slowly, so moving the guess by
/// how far its shift misses `p` converges in a few steps.
pub fn gcj02_to_wgs84(p: LatLon) -> LatLon {
    /// 1e-10 degrees: about 0.01 mm.
    const CLOSE_ENOUGH: f64 = 1e-10;
    let mut guess = p;
    for _ in 0..30 {
        let shifted = wgs84_to_gcj02(guess);
        let (miss_lat, miss_lon) = (shifted.lat - p.lat, shifted.lon - p.lon);
        guess = LatLon::new(guess.lat - miss_lat, guess.lon - miss_lon);
        if miss_lat.abs() < CLOSE_ENOUGH && miss_lon.abs() < CLOSE_ENOUGH {
            break;
        }
    }
    guess
}

pub fn gcj02_to_bd09(p: LatLon) -> LatLon {
    let (x, y) = (p.lon, p.lat);
    let z = (x * x + y * y).sqrt() + 0.00002 * (y * BD_X_PI).sin();
    let theta = y.atan2(x) + 0.000003 * (x * BD_X_PI).cos();
    LatLon::new(z * theta.sin() + 0.006, z * theta.cos() + 0.0065)
}

pub fn bd09_to_gcj02(p: LatLon) -> LatLon {
    let (x, y) = (p.lon - 0.0065, p.lat - 0.006);
    let z = (x * x + y * y).sqrt() - 0.00002 * (y * BD_X_PI).sin();
    let theta = y.atan2(x) - 0.000003 * (x * BD_X_PI).cos();
    LatLon::new(z * theta.sin(), z * theta.cos())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1e-9 degrees: about 0.1 mm.
    const EXACT: f64 = 1e-9;

    fn assert_near(got: LatLon, want: LatLon, tolerance: f64) {
        let close = (got.lat - want.lat).abs() <= tolerance && (got.lon - want.lon).abs() <= tolerance;
        assert!(close, "got {got:?}, want {want:?} within {tolerance}°");
    }

    /// WGS 84 → GCJ-02 pairs from eviltransform's published test table (Shanghai, Shenzhen,
    /// Beijing).
    const WGS_GCJ: [(LatLon, LatLon); 3] = [
        (LatLon { lat: 31.1774276, lon: 121.5272106 }, LatLon { lat: 31.17530398364597, lon: 121.531541859215 }),
        (LatLon { lat: 22.543847, lon: 113.912316 }, LatLon { lat: 22.540796131694766, lon: 113.9171764808363 }),
        (LatLon { lat: 39.911954, lon: 116.377817 }, LatLon { lat: 39.91334545536069, lon: 116.38404722455657 }),
    ];

    #[test]
    fn wgs84_and_gcj02_convert_to_the_published_points_both_ways() {
        for (wgs, gcj) in WGS_GCJ {
            assert_near(wgs84_to_gcj02(wgs), gcj, EXACT);
            assert_near(gcj02_to_wgs84(gcj), wgs, EXACT);
            assert_near(gcj.to_wgs84(Datum::Gcj02), wgs, EXACT);
        }
    }

    #[test]
    fn gcj02_and_bd09_convert_to_the_published_points_both_ways() {
        // coordtransform's documented example: GCJ-02 (39.915, 116.404) is BD-09
        // (39.92133699351021, 116.41036949371029), and BD-09 (39.915, 116.404) is GCJ-02
        // (39.90865673957631, 116.39762729119315).
        let point = LatLon::new(39.915, 116.404);
        assert_near(gcj02_to_bd09(point), LatLon::new(39.92133699351021, 116.41036949371029), EXACT);
        assert_near(bd09_to_gcj02(point), LatLon::new(39.90865673957631, 116.39762729119315), EXACT);
        // Beijing railway station on both maps, to the 5 decimals published (about 1 m).
        let station_bd = LatLon::new(39.90851, 116.43351);
        assert_near(bd09_to_gcj02(station_bd), LatLon::new(39.90245, 116.42703), 1e-5);
    }

    #[test]
    fn a_bd09_point_goes_through_gcj02_to_wgs84_and_back() {
        for (wgs, gcj) in WGS_GCJ {
            let bd = wgs.from_wgs84(Datum::Bd09);
            assert_near(bd, gcj02_to_bd09(gcj), EXACT);
            // The closed-form BD-09 formulas are each other's inverse only to about 1e-6° (0.1 m).
            assert_near(bd.to_wgs84(Datum::Bd09), wgs, 5e-6);
        }
    }

    #[test]
    fn outside_china_gcj02_is_wgs84_and_wgs84_is_left_alone() {
        let tokyo = LatLon::new(35.6812, 139.7671);
        assert_eq!(wgs84_to_gcj02(tokyo), tokyo);
        assert_eq!(tokyo.to_wgs84(Datum::Gcj02), tokyo);
        let yangzhou = LatLon::new(32.4043, 119.5029);
        assert_eq!(yangzhou.to_wgs84(Datum::Wgs84), yangzhou);
        // Inside China the shift is hundreds of metres: enough to change grids.
        let shifted = yangzhou.from_wgs84(Datum::Gcj02);
        assert!((shifted.lon - yangzhou.lon).abs() > 0.003, "{shifted:?}");
    }
}
