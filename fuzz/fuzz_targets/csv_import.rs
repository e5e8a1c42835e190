//! A CSV export from another platform, read with a mapping that names every optional column
//! (so every field parser runs: times in several formats, statuses, categories, areas, points,
//! on-time verdicts), against the default city. The whole input is the file, header included.
//!
//! Invariants: nothing panics; a good row has a row id, a known category, a grid of the city,
//! and a close time not before its open time; its planned events fold into a case.
#![no_main]

use gridloop_analytics::import::{Importer, ParsedRow};
use gridloop_domain::case::Case;
use gridloop_domain::decider::Decider;
use gridloop_domain::jurisdiction::AreaCode;
use gridloop_domain::policy::CityPolicy;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const MAPPING: &str = r#"
source = "fuzz"
time_zone = "Asia/Shanghai"
missing_due = "sla"
time_formats = ["%Y/%m/%d %H:%M", "%d.%m.%Y %H:%M:%S"]

[columns]
case_id = "id"
opened = "opened"
due = "due"
closed = "closed"
status = "status"
category = "type"
department = "dept"
latitude = "lat"
longitude = "lon"
neighbourhood = "area"
description = "text"
on_time = "ontime"

[status]
closed = ["closed", "已办结"]
open = ["open", "处理中"]

[categories]
default = "env.garbage"
[categories.map]
"垃圾" = "env.garbage"

[areas]
default_grid = "321012001001001"

[on_time]
on_time = ["yes"]
late = ["no"]
"#;

fn city() -> &'static CityPolicy {
    static CITY: OnceLock<CityPolicy> = OnceLock::new();
    CITY.get_or_init(CityPolicy::default_city)
}

fuzz_target!(|data: &[u8]| {
    let policy = city();
    let importer = Importer::from_toml(MAPPING, policy).expect("the fuzz mapping is valid");
    let Ok(rows) = importer.rows(data) else { return };
    for row in rows {
        let Ok(ParsedRow::Good { case, .. }) = row else { continue };
        assert!(!case.row_id.is_empty());
        assert!(policy.catalog.get(&case.category_code).is_some());
        let grid = AreaCode::new(case.grid_code.clone()).expect("a good row's grid is an area code");
        assert!(policy.jurisdiction.grid(&grid).is_some());
        if let Some(closed) = case.closed {
            assert!(closed >= case.opened);
        }
        let planned = importer.plan(&case);
        assert!(!planned.is_empty());
        Case::initial().fold(planned.iter().map(|(_, event)| event)).expect("a good row's events fold");
    }
});
