//! Map datums: a point from a Chinese map platform (GCJ-02 from Amap or Tencent, BD-09 from
//! Baidu) lands in the grid its WGS 84 position is in — not in the grid its shifted coordinates
//! would fall in, read as WGS 84 — and intake records both what was sent and the conversion.

use gridloop_bus::ManualClock;
use gridloop_domain::datum::{Datum, LatLon};
use gridloop_domain::jurisdiction::Jurisdiction;
use gridloop_eventstore::{EventStore, StoreOptions};
use gridloop_proto::v1 as pb;
use gridloop_tests::{report_request, start_time, Gridloop};
use prost::Message;

/// A grid whose interior point, shifted into `datum` and read as if it were WGS 84, falls outside
/// the grid: the shift crosses its border. Its code, and the point in WGS 84 and in `datum`.
fn a_grid_the_shift_leaves(city: &Jurisdiction, datum: Datum) -> (String, LatLon, LatLon) {
    city.grids()
        .find_map(|grid| {
            let (lat, lon) = grid.interior_point();
            let wgs84 = LatLon::new(lat, lon);
            let shifted = wgs84.from_wgs84(datum);
            let naive = city.locate(shifted.lat, shifted.lon).map(|g| &g.code);
            (naive != Some(&grid.code)).then(|| (grid.code.as_str().to_string(), wgs84, shifted))
        })
        .expect("a grid within a datum shift of its border")
}

fn in_datum(p: LatLon, datum: pb::Datum) -> pb::GeoPoint {
    pb::GeoPoint { lat: p.lat, lon: p.lon, datum: datum as i32 }
}

#[tokio::test]
async fn a_gcj02_or_bd09_point_near_a_border_lands_in_the_grid_of_its_wgs84_position() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gridloop::start(dir.path(), ManualClock::new(start_time())).await;
    let city = Jurisdiction::default_city();
    // Two categories: the two reports may be of the same place, and must not be linked.
    let catalog = g.clients.intake.get_catalog(pb::GetCatalogRequest {}).await.unwrap().into_inner();
    let categories: Vec<String> =
        catalog.categories.into_iter().filter(|c| c.start_level() == pb::Level::Grid).map(|c| c.code).collect();

    let mut reported = Vec::new();
    let datums = [(Datum::Gcj02, pb::Datum::Gcj02, "amap-1"), (Datum::Bd09, pb::Datum::Bd09, "baidu-1")];
    for ((datum, wire, key), category) in datums.into_iter().zip(&categories) {
        let (grid, wgs84, shifted) = a_grid_the_shift_leaves(&city, datum);
        let request = report_request(category, key, in_datum(shifted, wire));
        let report = g.clients.intake.report_case(request).await.expect("report").into_inner();
        assert_eq!(report.grid_code, grid, "{datum:?}: the grid of the WGS 84 position");
        // The case is where the reporter stood, in WGS 84.
        let get = pb::GetCaseRequest { case_id: report.case_id.clone(), min_version: report.case_version };
        let view = g.clients.dispatch.get_case(get).await.expect("the case").into_inner().case.unwrap();
        let location = view.location.expect("a location");
        assert!((location.lat - wgs84.lat).abs() < 1e-5 && (location.lon - wgs84.lon).abs() < 1e-5, "{location:?}");
        reported.push((report.case_id, wgs84, shifted, wire));
    }

    // Intake's own events record both: the conversion as `location`, what was sent beside it.
    let url = format!("sqlite://{}", dir.path().join("intake.db").display());
    let intake =
        EventStore::connect(&url, StoreOptions { schema: None, max_connections: 2, ..StoreOptions::default() })
            .await
            .unwrap();
    let events = intake.read_all(0, 1_000).await.unwrap();
    for (case_id, wgs84, shifted, wire) in reported {
        let event = events
            .iter()
            .filter(|e| e.event_type == "gridloop.v1.CaseReported")
            .map(|e| pb::CaseReported::decode(e.payload.as_slice()).unwrap())
            .find(|e| e.case_id == case_id)
            .expect("the report's event");
        let location = event.location.expect("location");
        assert_eq!(location.datum(), pb::Datum::Wgs84);
        assert!((location.lat - wgs84.lat).abs() < 1e-5 && (location.lon - wgs84.lon).abs() < 1e-5, "{location:?}");
        assert_eq!(event.reported_location, Some(in_datum(shifted, wire)));
    }
    g.app.shutdown().await.unwrap();
}
