//! A report as a client sends it over gRPC (`ReportCaseRequest`, decoded from arbitrary bytes,
//! so strings, coordinates, enums and timestamps take any value the wire can carry), checked
//! against the default city.
//!
//! Invariants: validation never panics; a report it accepts names a known category and the grid
//! its finite point lies in, and opens a case whose events fold.
#![no_main]

use gridloop_domain::case::{Case, CaseCommand};
use gridloop_domain::decider::Decider;
use gridloop_domain::ids::CaseId;
use gridloop_domain::policy::CityPolicy;
use gridloop_proto::report::validate_report;
use gridloop_proto::v1 as pb;
use libfuzzer_sys::fuzz_target;
use prost::Message;
use std::sync::OnceLock;

fn city() -> &'static CityPolicy {
    static CITY: OnceLock<CityPolicy> = OnceLock::new();
    CITY.get_or_init(CityPolicy::default_city)
}

fuzz_target!(|data: &[u8]| {
    let Ok(request) = pb::ReportCaseRequest::decode(data) else { return };
    let policy = city();
    let now = chrono::DateTime::from_timestamp(1_767_225_600, 0).expect("2026-01-01 is a time");
    let Ok(details) = validate_report(policy, &request, now) else { return };
    assert!(details.lat.is_finite() && details.lon.is_finite());
    assert!(policy.catalog.get(&details.category_code).is_some());
    let grid = policy.jurisdiction.locate(details.lat, details.lon).expect("an accepted report is in a grid");
    assert_eq!(grid.code.as_str(), details.grid_code);
    let open = CaseCommand::Open { case_id: CaseId(uuid::Uuid::nil()), details };
    let events = Case::initial().decide(&open, policy, now).expect("a validated report opens a case");
    Case::initial().fold(&events).expect("the opening events fold");
});
