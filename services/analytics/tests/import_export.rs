//! Import of a 311-style CSV with good and bad rows, idempotent re-import, open → closed update,
//! and the export of the result read back as Parquet and NDJSON — on SQLite and on Postgres.

use arrow_array::{Array, BinaryArray, StringArray, TimestampMicrosecondArray};
use arrow_schema::{DataType, TimeUnit};
use gridloop_analytics::export::{export_events, Source};
use gridloop_analytics::import::{import_csv, ImportReport, Importer, IMPORT_ROLE};
use gridloop_analytics::{EventFilter, Format};
use gridloop_domain::policy::CityPolicy;
use gridloop_eventstore::testing::{backend_missing, postgres_url};
use gridloop_eventstore::{EventStore, StoreOptions};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use prost::Message;

fn utc(rfc3339: &str) -> chrono::DateTime<chrono::Utc> {
    rfc3339.parse().expect("an RFC 3339 time")
}

const MAPPING: &str = r#"
source = "sf311"
time_zone = "America/Los_Angeles"
level = "street"

[columns]
case_id = "service_request_id"
opened = "requested_datetime"
due = "expected_datetime"
closed = "closed_date"
status = "status"
category = "service_name"
department = "agency_responsible"
latitude = "lat"
longitude = "long"
neighbourhood = "neighborhood"
description = "service_details"

[status]
closed = ["Closed"]
open = ["Open", "In Progress"]

[categories.map]
"Street and Sidewalk Cleaning" = "env.debris"
"Graffiti" = "env.debris"

[areas.map]
"Mission" = "321012001001002"
"Tenderloin" = "321012002001001"
"#;

/// The first grid's interior point (row 101 is located there, which wins over its neighbourhood).
fn located() -> (String, f64, f64) {
    let policy = CityPolicy::default_city();
    let grid = policy.jurisdiction.grids().next().unwrap();
    let (lat, lon) = grid.interior_point();
    (grid.code.as_str().to_string(), lat, lon)
}

/// Lines: 1 header, 2-3 row 101 (a quoted description over two lines), 4 row 102, 5 … 11 bad
/// rows, 12 row 108.
fn csv(status_102: &str, closed_102: &str) -> String {
    let (_, lat, lon) = located();
    format!(
        "service_request_id,requested_datetime,expected_datetime,closed_date,status,service_name,agency_responsible,lat,long,neighborhood,service_details\n\
         101,2024-01-02T09:00:00.000,2024-01-05T17:00:00.000,2024-01-04T10:00:00.000,Closed,Street and Sidewalk Cleaning,DPW Ops,{lat},{lon},Mission,\"bags on\nthe corner\"\n\
         102,2024-01-03 10:30:00,,{closed_102},{status_102},Graffiti,DPW Ops,,,Mission,\n\
         104,not a date,,,Open,Graffiti,DPW Ops,,,Mission,\n\
         105,2024-01-05T09:00:00,,2024-01-04T09:00:00,Closed,Graffiti,DPW Ops,,,Mission,\n\
         ,2024-01-05T09:00:00,,,Open,Graffiti,DPW Ops,,,Mission,\n\
         101,2024-01-05T09:00:00,,,Open,Graffiti,DPW Ops,,,Mission,\n\
         106,2024-01-05T09:00:00,,,Pending,Graffiti,DPW Ops,,,Mission,\n\
         107,2024-01-05T09:00:00,,,Closed,Graffiti,DPW Ops,,,Mission,\n\
         109,2024-01-05T09:00:00,,,Open,Abandoned Vehicle,Police,,,Atlantis,\n\
         108,01/06/2024 08:00:00 AM,01/08/2024 08:00:00 AM,01/07/2024 12:00:00 PM,Closed,Graffiti,,,,Tenderloin,\n"
    )
}

async fn import(store: &EventStore, text: &str) -> ImportReport {
    let policy = CityPolicy::default_city();
    let importer = Importer::from_toml(MAPPING, &policy).expect("mapping");
    let mut seen = Vec::new();
    let report = import_csv(store, &importer, text.as_bytes(), &mut |row| seen.push(row.line), &mut |_| {})
        .await
        .expect("import runs");
    assert_eq!(seen, report.rejected.iter().map(|r| r.line).collect::<Vec<_>>(), "on_bad saw every bad row");
    report
}

async fn event_count(store: &EventStore) -> i64 {
    store.head_position().await.unwrap()
}

async fn import_then_export(store: EventStore) {
    // First import: three good rows, seven bad ones with their lines and reasons.
    let first = import(&store, &csv("Open", "")).await;
    let lines: Vec<(u64, &str)> = first.rejected.iter().map(|r| (r.line, r.reason.as_str())).collect();
    let expected_lines = [5, 6, 7, 8, 9, 10, 11];
    assert_eq!(lines.iter().map(|(l, _)| *l).collect::<Vec<_>>(), expected_lines, "{:#?}", first.rejected);
    // The same file with CRLF line ends (as many platforms export): the same line numbers.
    let crlf = CityPolicy::default_city();
    let importer = Importer::from_toml(MAPPING, &crlf).expect("mapping");
    let text = csv("Open", "").replace('\n', "\r\n");
    let dry = import_csv(&store, &importer, text.as_bytes(), &mut |_| {}, &mut |_| {}).await.expect("import runs");
    assert_eq!(dry.rejected.iter().map(|r| r.line).collect::<Vec<_>>(), expected_lines, "CRLF: {:#?}", dry.rejected);
    let reason = |line: u64| first.rejected.iter().find(|r| r.line == line).unwrap().reason.clone();
    assert!(reason(5).contains("opened time \"not a date\""), "{}", reason(5));
    assert!(reason(6).contains("before opened"), "{}", reason(6));
    assert!(reason(7).contains("no case id"), "{}", reason(7));
    assert!(reason(8).contains("duplicate case id (first on line 2)"), "{}", reason(8));
    assert!(reason(9).contains("\"Pending\""), "{}", reason(9));
    assert!(reason(10).contains("closed time is empty"), "{}", reason(10));
    assert!(reason(11).contains("not in the category map") && reason(11).contains("no grid"), "{}", reason(11));
    assert_eq!((first.imported, first.already_present, first.updated), (3, 0, 0));
    assert_eq!(first.events, 4 + 2 + 4);
    assert_eq!(event_count(&store).await, 10);

    let policy = CityPolicy::default_city();
    let importer = Importer::from_toml(MAPPING, &policy).unwrap();
    let case_101 = importer.case_id("101");
    let case_102 = importer.case_id("102");
    let history = store.read_stream(&case_101.stream(), 1).await.unwrap();
    let types: Vec<&str> = history.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        ["gridloop.v1.CaseOpened", "gridloop.v1.CaseDispatched", "gridloop.v1.CaseResolved", "gridloop.v1.CaseClosed"]
    );
    assert!(history.iter().all(|e| e.actor.role == IMPORT_ROLE && e.causation_id == "import:sf311"));
    let (located_grid, _, _) = located();
    assert_eq!(history[0].routing_key, located_grid, "a located point wins over the neighbourhood");
    assert_eq!(history[0].occurred_at, utc("2024-01-02T17:00:00Z"));
    let closed = gridloop_proto::v1::CaseClosed::decode(history[3].payload.as_slice()).unwrap();
    assert_eq!(closed.satisfaction, gridloop_proto::v1::Satisfaction::Unspecified as i32);
    let dispatched = gridloop_proto::v1::CaseDispatched::decode(history[1].payload.as_slice()).unwrap();
    assert_eq!(dispatched.rule, "import:sf311");
    assert_eq!(dispatched.department_name, "DPW Ops");
    assert_eq!(dispatched.deadline.unwrap().seconds, utc("2024-01-06T01:00:00Z").timestamp());

    // Re-import: nothing added.
    let again = import(&store, &csv("Open", "")).await;
    assert_eq!((again.imported, again.already_present, again.updated, again.events), (0, 3, 0, 0));
    assert_eq!(again.rejected.len(), 7);
    assert_eq!(event_count(&store).await, 10);

    // Case 102 closed since: only its Resolved and Closed are appended.
    let update = import(&store, &csv("Closed", "2024-01-04T11:00:00")).await;
    assert_eq!((update.imported, update.already_present, update.updated, update.events), (0, 2, 1, 2));
    assert_eq!(event_count(&store).await, 12);
    assert_eq!(store.stream_version(&case_102.stream()).await.unwrap(), 4);
    let again = import(&store, &csv("Closed", "2024-01-04T11:00:00")).await;
    assert_eq!((again.imported, again.already_present, again.updated, again.events), (0, 3, 0, 0));
    assert_eq!(event_count(&store).await, 12);

    // Export: everything, then filtered.
    let sources = [Source { service: "dispatch".into(), store: store.clone() }];
    let dir = tempfile::tempdir().unwrap();
    let parquet = |filter: EventFilter| {
        let path = dir.path().join(format!("{}.parquet", uuid::Uuid::now_v7()));
        let sources = sources.clone();
        async move {
            let file = std::fs::File::create(&path).unwrap();
            let stats = export_events(&sources, &filter, Format::Parquet, file, &mut |_| {}).await.unwrap();
            let reader =
                ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap()).unwrap().build().unwrap();
            let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
            (stats, batches)
        }
    };
    let (stats, batches) = parquet(EventFilter::default()).await;
    assert_eq!((stats.read, stats.written), (12, 12));
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 12);
    let batch = &batches[0];
    let schema = batch.schema();
    assert_eq!(
        schema.field_with_name("occurred_at").unwrap().data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    );
    assert_eq!(schema.field_with_name("payload").unwrap().data_type(), &DataType::Binary);
    assert_eq!(schema.field_with_name("global_position").unwrap().data_type(), &DataType::Int64);
    let column = |name: &str| batch.column_by_name(name).unwrap().clone();
    let types = column("event_type");
    let types = types.as_any().downcast_ref::<StringArray>().unwrap();
    let payloads = column("payload");
    let payloads = payloads.as_any().downcast_ref::<BinaryArray>().unwrap();
    let opened_row = (0..batch.num_rows()).find(|&i| types.value(i) == "gridloop.v1.CaseOpened").unwrap();
    let opened = gridloop_proto::v1::CaseOpened::decode(payloads.value(opened_row)).unwrap();
    let case_ids = column("case_id");
    let case_ids = case_ids.as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(opened.case_id, case_ids.value(opened_row));
    assert_eq!(opened.category_code, "env.debris");
    let json = column("payload_json");
    let json = json.as_any().downcast_ref::<StringArray>().unwrap();
    let rendered: serde_json::Value = serde_json::from_str(json.value(opened_row)).unwrap();
    assert_eq!(rendered["category_code"], "env.debris");
    assert_eq!(rendered["case_id"], opened.case_id);
    let grids = column("grid_code");
    let grids = grids.as_any().downcast_ref::<StringArray>().unwrap();
    let streets = column("street_code");
    let streets = streets.as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(&grids.value(opened_row)[..9], streets.value(opened_row));
    let times = column("occurred_at");
    let times = times.as_any().downcast_ref::<TimestampMicrosecondArray>().unwrap();
    assert_eq!(times.value(0), utc("2024-01-02T17:00:00Z").timestamp_micros());
    assert!(!json.is_null(opened_row));

    let types_only = EventFilter::new(None, None, None, &["CaseOpened".into()]).unwrap();
    let (stats, batches) = parquet(types_only).await;
    assert_eq!((stats.read, stats.written), (12, 3));
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 3);

    let area = EventFilter::new(None, None, Some(&located_grid), &[]).unwrap();
    assert_eq!(parquet(area).await.0.written, 4, "only case 101 is in the located grid");
    let street = EventFilter::new(None, None, Some("321012001"), &[]).unwrap();
    assert_eq!(parquet(street).await.0.written, 8, "101 and 102 are in street 321012001, 108 is not");

    // 101 resolved+closed on Jan 4 18:00Z, 102 resolved+closed on Jan 4 19:00Z, 108 opened+dispatched Jan 6 16:00Z.
    let window =
        EventFilter::new(Some(utc("2024-01-04T00:00:00Z")), Some(utc("2024-01-07T00:00:00Z")), None, &[]).unwrap();
    let (stats, batches) = parquet(window).await;
    assert_eq!(stats.written, 6);
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 6);
    let (_, empty) = parquet(EventFilter::new(None, None, Some("321012008"), &[]).unwrap()).await;
    assert!(empty.iter().all(|b| b.num_rows() == 0));

    // NDJSON: one object per event, payload in base64, payload_json nested.
    let mut out = Vec::new();
    let stats = export_events(&sources, &EventFilter::default(), Format::Ndjson, &mut out, &mut |_| {}).await.unwrap();
    assert_eq!(stats.written, 12);
    let lines: Vec<serde_json::Value> =
        String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 12);
    assert_eq!(lines[0]["event_type"], "gridloop.v1.CaseOpened");
    assert_eq!(lines[0]["actor_role"], "import");
    assert_eq!(lines[0]["occurred_at"], "2024-01-02T17:00:00.000000Z");
    assert_eq!(lines[0]["payload_json"]["grid_code"], located_grid);
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(lines[0]["payload"].as_str().unwrap()).unwrap();
    assert_eq!(gridloop_proto::v1::CaseOpened::decode(bytes.as_slice()).unwrap().grid_code, located_grid);
}

#[tokio::test]
async fn import_and_export_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("dispatch.db").display());
    let store = EventStore::connect(&url, StoreOptions::default()).await.unwrap();
    import_then_export(store).await;
}

#[tokio::test]
async fn import_and_export_on_postgres() {
    let Some(url) = postgres_url() else {
        return backend_missing("no Postgres for the import/export test");
    };
    let schema = format!("import_{}", uuid::Uuid::now_v7().simple());
    let store =
        EventStore::connect(&url, StoreOptions { schema: Some(schema), max_connections: 8, ..StoreOptions::default() })
            .await
            .unwrap();
    import_then_export(store).await;
}

#[test]
fn a_mapping_naming_unknown_codes_or_columns_is_refused() {
    let policy = CityPolicy::default_city();
    let bad_category = MAPPING.replace("\"env.debris\"\n\"Graffiti\"", "\"env.nope\"\n\"Graffiti\"");
    let error = Importer::from_toml(&bad_category, &policy).err().expect("refused").to_string();
    assert!(error.contains("env.nope"), "{error}");
    let bad_grid = MAPPING.replace("321012002001001", "321012999001001");
    let error = Importer::from_toml(&bad_grid, &policy).err().expect("refused").to_string();
    assert!(error.contains("321012999001001"), "{error}");
    let bad_zone = MAPPING.replace("America/Los_Angeles", "Pacific Time");
    let error = Importer::from_toml(&bad_zone, &policy).err().expect("refused").to_string();
    assert!(error.contains("\"Pacific Time\"") && error.contains("IANA"), "{error}");
}

#[tokio::test]
async fn a_file_without_a_mapped_column_is_refused_before_any_row() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("dispatch.db").display());
    let store = EventStore::connect(&url, StoreOptions::default()).await.unwrap();
    let policy = CityPolicy::default_city();
    let importer = Importer::from_toml(MAPPING, &policy).unwrap();
    let text = csv("Open", "").replacen("neighborhood", "hood", 1);
    let error = import_csv(&store, &importer, text.as_bytes(), &mut |_| {}, &mut |_| {}).await.expect_err("refused");
    assert!(error.to_string().contains("neighborhood"), "{error}");
    assert_eq!(store.head_position().await.unwrap(), 0);
}

#[test]
fn the_shipped_example_mapping_is_valid_for_the_default_city() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/config/import-311.example.toml"))
            .expect("deploy/config/import-311.example.toml");
    let policy = CityPolicy::default_city();
    let importer = Importer::from_toml(&text, &policy).expect("the example mapping is valid");
    assert_eq!(importer.source(), "city311");
    assert_eq!(importer.parse_time("03/01/2024 01:30:00 PM").unwrap(), utc("2024-03-01T20:30:00Z"), "-07:00");
}

/// How imported closures are judged: the file's own verdict where its column says so; the due
/// time where there is one; not at all without either (no due time is made up unless the
/// mapping asks for the SLA, which names the years its calendar does not cover).
#[tokio::test]
async fn imported_closures_are_judged_by_the_files_verdict_or_the_due_time_or_not_at_all() {
    use gridloop_domain::case::{CaseEvent, OnTimeVerdict};
    let mapping = |missing_due: &str| {
        format!(
            "source = \"verdicts\"\nmissing_due = \"{missing_due}\"\n[columns]\ncase_id = \"id\"\nopened = \"opened\"\n\
             due = \"due\"\nclosed = \"closed\"\ncategory = \"type\"\non_time = \"OnTime_Status\"\n\
             [on_time]\non_time = [\"ONTIME\"]\nlate = [\"OVERDUE\"]\n[categories]\ndefault = \"env.debris\"\n\
             [areas]\ndefault_grid = \"321012001001001\"\n"
        )
    };
    let csv = "id,opened,due,closed,type,OnTime_Status\n\
               1,2019-03-04 09:00,2019-03-09 09:00,2019-03-05 09:00,litter,OVERDUE\n\
               2,2019-03-04 09:00,,2019-03-05 09:00,litter,\n\
               3,2019-03-04 09:00,2019-03-04 10:00,2019-03-05 09:00,litter,n/a\n\
               4,2019-03-04 09:00,,2019-03-05 09:00,litter,ONTIME\n";
    let verdicts = |store: EventStore, importer_text: String| async move {
        let policy = CityPolicy::default_city();
        let importer = Importer::from_toml(&importer_text, &policy).unwrap();
        let report = import_csv(&store, &importer, csv.as_bytes(), &mut |_| {}, &mut |_| {}).await.unwrap();
        let mut out = Vec::new();
        for id in ["1", "2", "3", "4"] {
            let history = store.read_stream(&importer.case_id(id).stream(), 1).await.unwrap();
            let last = history.last().unwrap();
            match gridloop_proto::convert::decode_case_event(&last.event_type, &last.payload).unwrap() {
                CaseEvent::Closed { on_time, .. } => out.push(on_time),
                other => panic!("{other:?}"),
            }
        }
        (report, out)
    };
    let dir = tempfile::tempdir().unwrap();
    let store = |name: &str| {
        let url = format!("sqlite://{}", dir.path().join(name).display());
        async move { EventStore::connect(&url, StoreOptions::default()).await.unwrap() }
    };
    let (report, judged) = verdicts(store("none.db").await, mapping("none")).await;
    assert_eq!(report.imported, 4);
    assert_eq!(
        judged,
        [OnTimeVerdict::Late, OnTimeVerdict::Unknown, OnTimeVerdict::ByDeadline, OnTimeVerdict::OnTime],
        "the file's verdict wins; without one, the due time judges, or nothing does"
    );
    assert!(report.uncovered_years.is_empty());
    let (report, judged) = verdicts(store("sla.db").await, mapping("sla")).await;
    assert_eq!(judged[1], OnTimeVerdict::ByDeadline, "a due time from the SLA judges");
    assert_eq!(report.uncovered_years.into_iter().collect::<Vec<_>>(), [2019], "no holidays known for 2019");
}
