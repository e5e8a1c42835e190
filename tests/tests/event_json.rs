//! One JSON form of an event: `GetCase` history and the NDJSON export write the same event as
//! the same bytes, under the same `event_type`.

use gridloop::analytics_cli::{export, ExportArgs, ExportFormat, ExportTable};
use gridloop::app::ServiceName;
use gridloop_bus::ManualClock;
use gridloop_proto::v1 as pb;
use gridloop_tests::{start_time, Gridloop};
use serde_json::Value;

#[tokio::test]
async fn the_same_event_is_the_same_json_in_get_case_history_and_in_the_ndjson_export() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gridloop::start(dir.path(), ManualClock::new(start_time())).await;
    let category = g.a_category(pb::Level::Grid).await.code;
    let case_id = g.report(&category, "one-json-form").await.case_id;
    g.close_case(&case_id).await;
    let shown = g.case_in(&case_id, pb::CaseState::Closed).await;
    g.app.shutdown().await.expect("clean shutdown");

    let out = dir.path().join("events.ndjson");
    let args = ExportArgs {
        store: g.args.store.clone(),
        table: ExportTable::Events,
        services: vec![ServiceName::Dispatch],
        format: ExportFormat::Ndjson,
        out: out.clone(),
        from: None,
        to: None,
        area: None,
        types: vec![],
        include_personal_data: false,
        time_zone: gridloop_domain::clock::DEFAULT_ZONE,
        personal: Default::default(),
    };
    export(args).await.expect("export events");
    let exported = std::fs::read_to_string(&out).unwrap();

    let types: Vec<&str> = shown.history.iter().map(|h| h.envelope.as_ref().unwrap().event_type.as_str()).collect();
    assert!(types.contains(&"gridloop.v1.CaseEvaluated"), "{types:?}");
    for entry in &shown.history {
        let envelope = entry.envelope.as_ref().unwrap();
        let line = exported
            .lines()
            .find(|line| line.contains(&format!("\"event_id\":\"{}\"", envelope.event_id)))
            .unwrap_or_else(|| panic!("{} is not exported", envelope.event_id));
        assert!(!entry.payload_json.is_empty(), "{} has a JSON form", envelope.event_type);
        let parsed: Value = serde_json::from_str(line).unwrap();
        assert_eq!(parsed["event_type"], envelope.event_type.as_str());
        let shown_payload: Value = serde_json::from_str(&entry.payload_json).unwrap();
        if shown_payload.get("reporter").is_none() {
            // Byte for byte: the export's nested payload is the text GetCase returned.
            assert!(
                line.contains(&format!("\"payload_json\":{}", entry.payload_json)),
                "{}: GetCase {} vs export {line}",
                envelope.event_type,
                entry.payload_json
            );
            assert_eq!(parsed["payload_json"].to_string(), entry.payload_json);
        } else {
            // The reporter's contact is disclosed per caller in GetCase and stays sealed in the
            // export; everything else is the same text.
            let without_reporter = |mut value: Value| {
                value.as_object_mut().unwrap().remove("reporter");
                value.to_string()
            };
            assert!(parsed["payload_json"]["reporter"]["sealed"].is_object(), "{line}");
            assert!(shown_payload["reporter"].get("sealed").is_none(), "{}", entry.payload_json);
            assert_eq!(without_reporter(parsed["payload_json"].clone()), without_reporter(shown_payload));
        }
    }
    // Enums by their .proto names, as proto3 JSON spells them.
    let evaluated = shown.history.iter().find(|h| h.envelope.as_ref().unwrap().event_type.ends_with("CaseEvaluated"));
    assert!(evaluated.unwrap().payload_json.contains("\"SATISFACTION_"), "{:?}", evaluated);
}
