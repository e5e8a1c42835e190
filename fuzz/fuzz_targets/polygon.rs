//! Grid polygons and the points located in them: a district of one street and one community
//! whose grids have arbitrary rings (near a base point, so many are valid and some overlap, touch
//! or degenerate), and arbitrary points in every datum a report may use.
//!
//! Invariants: nothing panics; a jurisdiction that validates maps each grid's interior point back
//! to that grid; a located point lies in (or on the edge of) the grid it was located in.
#![no_main]

use arbitrary::{Arbitrary, Result, Unstructured};
use geo::{Coord, Intersects, LineString, Polygon};
use gridloop_domain::datum::{Datum, LatLon};
use gridloop_domain::jurisdiction::{AreaCode, Community, District, Grid, Jurisdiction, Street};
use libfuzzer_sys::fuzz_target;

const BASE: Coord = Coord { x: 119.57, y: 32.43 };

/// Mostly small steps around the base point, sometimes any f64 (NaN, infinities, huge values).
fn coordinate(u: &mut Unstructured, base: f64) -> Result<f64> {
    if u.ratio(15, 16)? {
        Ok(base + f64::from(i16::arbitrary(u)?) / 10_000.0)
    } else {
        f64::arbitrary(u)
    }
}

fn ring(u: &mut Unstructured) -> Result<LineString> {
    let points: Vec<Coord> = (0..u.int_in_range(0..=8)?)
        .map(|_| Ok(Coord { x: coordinate(u, BASE.x)?, y: coordinate(u, BASE.y)? }))
        .collect::<Result<_>>()?;
    Ok(LineString::new(points))
}

fn area(code: &str) -> AreaCode {
    AreaCode::new(code).expect("a well-formed code")
}

fn district(u: &mut Unstructured) -> Result<District> {
    let grids = (1..=u.int_in_range(1..=4)?)
        .map(|i| {
            let holes = if u.ratio(1, 8)? { vec![ring(u)?] } else { vec![] };
            Ok(Grid {
                code: area(&format!("321012001001{i:03}")),
                name: format!("网格{i}"),
                boundary: Polygon::new(ring(u)?, holes),
                workers: vec![],
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let community = Community { code: area("321012001001"), name: "社区".into(), departments: vec![], grids };
    let street =
        Street { code: area("321012001"), name: "街道".into(), departments: vec![], communities: vec![community] };
    Ok(District { code: area("321012"), name: "区".into(), departments: vec![], streets: vec![street] })
}

fn run(u: &mut Unstructured) -> Result<()> {
    let Ok(jurisdiction) = Jurisdiction::new(district(u)?) else { return Ok(()) };
    for grid in jurisdiction.grids() {
        let (lat, lon) = grid.interior_point();
        let located = jurisdiction.locate(lat, lon).map(|g| g.code.clone());
        assert_eq!(located.as_ref(), Some(&grid.code), "the interior point of {} at ({lat}, {lon})", grid.code);
    }
    while !u.is_empty() {
        let point = LatLon::new(coordinate(u, BASE.y)?, coordinate(u, BASE.x)?);
        let datum = *u.choose(&[Datum::Wgs84, Datum::Gcj02, Datum::Bd09])?;
        let wgs84 = point.to_wgs84(datum);
        let _ = wgs84.from_wgs84(datum);
        if let Some(grid) = jurisdiction.locate(wgs84.lat, wgs84.lon) {
            let coord = Coord { x: wgs84.lon, y: wgs84.lat };
            assert!(grid.boundary.intersects(&coord), "({}, {}) located in {}", wgs84.lat, wgs84.lon, grid.code);
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
