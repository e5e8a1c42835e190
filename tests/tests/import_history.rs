//! Imported history is live history: cases imported into dispatch's store reach evaluation's
//! case projection through the outbox once the services run over that data, dispatch serves and
//! acts on them, and `gridloop export --table cases` writes them out. SQLite and Postgres.

use arrow_array::{Array, BooleanArray, StringArray};
use gridloop::analytics_cli::{export, ExportArgs, ExportFormat, ExportTable};
use gridloop::app::{ServiceName, StoreLocation, UpArgs};
use gridloop_analytics::import::{import_csv, Importer};
use gridloop_bus::ManualClock;
use gridloop_domain::policy::CityPolicy;
use gridloop_proto::v1 as pb;
use gridloop_tests::{actor, postgres_url, start_time, Gridloop};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

const MAPPING: &str = r#"
source = "city311"
time_zone = "Asia/Shanghai"
level = "community"
[columns]
case_id = "id"
opened = "opened"
due = "due"
closed = "closed"
status = "status"
category = "type"
neighbourhood = "area"
[status]
closed = ["closed"]
[categories]
default = "env.debris"
[areas]
default_grid = "321012001001001"
[areas.map]
"North" = "321012002001001"
"#;

const CSV: &str = "id,opened,due,closed,status,type,area\n\
                   A-1,2026-02-02 09:00,2026-02-04 09:00,2026-02-03 10:00,closed,litter,North\n\
                   A-2,2026-02-05 09:00,2026-02-09 09:00,,open,litter,South\n\
                   A-3,2026-02-06 09:00,2026-02-07 09:00,2026-02-10 09:00,CLOSED,potholes,North\n\
                   A-4,yesterday,,,open,litter,North\n";

async fn imported_history_goes_live(store: StoreLocation, dir: &std::path::Path) {
    let policy = CityPolicy::default_city();
    let importer = Importer::from_toml(MAPPING, &policy).unwrap();
    let dispatch = store.open(ServiceName::Dispatch, None).await.unwrap();
    let report = import_csv(&dispatch, &importer, CSV.as_bytes(), &mut |_| {}, &mut |_| {}).await.unwrap();
    assert_eq!((report.imported, report.rejected.len()), (3, 1));
    assert_eq!(report.rejected[0].line, 5);
    drop(dispatch);

    let args = UpArgs { store: store.clone(), ..UpArgs::embedded(dir, "127.0.0.1:0".parse().unwrap()) };
    let mut g = Gridloop::start_with(args, ManualClock::new(start_time())).await;
    let [a1, a2, a3] = ["A-1", "A-2", "A-3"].map(|id| importer.case_id(id).to_string());
    let closed = g.listed_when(&a1, |c| c.state() == pb::CaseState::Closed).await;
    assert_eq!(closed.grid_code, "321012002001001");
    assert_eq!(closed.settled_level(), pb::Level::Community);
    g.listed_when(&a3, |c| c.state() == pb::CaseState::Closed).await;
    let open = g.listed_when(&a2, |c| c.state() == pb::CaseState::Dispatched).await;
    assert_eq!(open.grid_code, "321012001001001", "an unmapped neighbourhood falls back to the default grid");

    // Dispatch knows the imported open case and takes commands on it.
    let accepted = g
        .clients
        .dispatch
        .accept_case(pb::AcceptCaseRequest {
            case_id: a2.clone(),
            assignee: "worker".into(),
            actor: actor("grid_worker"),
            ..Default::default()
        })
        .await
        .expect("an imported open case can be accepted")
        .into_inner();
    assert_eq!(accepted.version, 3);
    g.listed_when(&a2, |c| c.state() == pb::CaseState::Accepted).await;
    g.app.shutdown().await.expect("clean shutdown");

    // The case table, exported.
    let out = dir.join("cases.parquet");
    let args = ExportArgs {
        store,
        table: ExportTable::Cases,
        services: vec![],
        format: ExportFormat::Parquet,
        out: out.clone(),
        from: Some(gridloop::replay::Bound::At("2026-02-05T00:00:00Z".parse().unwrap())),
        to: None,
        area: None,
        types: vec![],
        include_personal_data: false,
        time_zone: gridloop_domain::clock::DEFAULT_ZONE,
        personal: Default::default(),
    };
    export(args).await.expect("export cases");
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&out).unwrap()).unwrap().build().unwrap();
    let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
    let mut rows: Vec<(String, String)> = Vec::new();
    for batch in &batches {
        let ids = batch.column_by_name("case_id").unwrap().as_any().downcast_ref::<StringArray>().unwrap().clone();
        let states = batch.column_by_name("state").unwrap().as_any().downcast_ref::<StringArray>().unwrap().clone();
        assert_eq!(
            batch.column_by_name("closed_at").unwrap().null_count() > 0,
            (0..ids.len()).any(|i| ids.value(i) == a2)
        );
        let on_time =
            batch.column_by_name("closed_on_time").unwrap().as_any().downcast_ref::<BooleanArray>().unwrap().clone();
        for i in 0..ids.len() {
            // A-3 was closed three days after its due time; A-2 is still open.
            let expected = (ids.value(i) == a3).then_some(false);
            assert_eq!(on_time.is_valid(i).then(|| on_time.value(i)), expected, "closed_on_time of {}", ids.value(i));
        }
        rows.extend((0..ids.len()).map(|i| (ids.value(i).to_string(), states.value(i).to_string())));
    }
    rows.sort();
    let mut expected = vec![(a2, "accepted".to_string()), (a3, "closed".to_string())];
    expected.sort();
    assert_eq!(rows, expected, "opened from 5 February: A-2 and A-3");
}

#[tokio::test]
async fn imported_history_goes_live_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    imported_history_goes_live(StoreLocation::embedded(dir.path()), dir.path()).await;
}

#[tokio::test]
async fn imported_history_goes_live_on_postgres() {
    let Some(url) = postgres_url() else {
        return gridloop_eventstore::testing::backend_missing("no Postgres for the import test");
    };
    let dir = tempfile::tempdir().unwrap();
    let store = StoreLocation {
        database_url: Some(url),
        schema_prefix: format!("imp_{}_", uuid::Uuid::now_v7().simple()),
        data_dir: dir.path().into(),
    };
    imported_history_goes_live(store, dir.path()).await;
}

/// Right after an import, before any service ran on the data: the case table is exported from
/// an evaluation store built then from dispatch's log, a replay in place builds it too, and
/// `--verify`, which has no live read model to compare with, says so before replaying.
#[tokio::test]
async fn right_after_an_import_the_offline_commands_build_the_evaluation_store() {
    use gridloop::replay::{run, HistoryArgs, ProjectionArg, ReplayArgs};
    let dir = tempfile::tempdir().unwrap();
    let store = StoreLocation::embedded(dir.path());
    let policy = CityPolicy::default_city();
    let importer = Importer::from_toml(MAPPING, &policy).unwrap();
    let dispatch = store.open(ServiceName::Dispatch, None).await.unwrap();
    import_csv(&dispatch, &importer, CSV.as_bytes(), &mut |_| {}, &mut |_| {}).await.unwrap();
    drop(dispatch);
    assert!(!store.exists(ServiceName::Evaluation));

    let replay = |verify: bool, in_place: bool| ReplayArgs {
        projection: ProjectionArg::Cases,
        history: HistoryArgs::embedded(dir.path()),
        into: (!in_place).then(|| dir.path().join("rebuilt.db").display().to_string()),
        into_schema: None,
        in_place,
        verify,
        json: false,
        time_zone: gridloop_domain::clock::DEFAULT_ZONE,
    };
    let error = run(replay(true, false)).await.unwrap_err().to_string();
    assert!(error.contains("--verify compares with the evaluation service's read model"), "{error}");
    assert!(!dir.path().join("rebuilt.db").exists(), "refused before replaying");

    let out = dir.path().join("cases.ndjson");
    let args = ExportArgs {
        store: store.clone(),
        table: ExportTable::Cases,
        services: vec![],
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
    export(args).await.expect("the case table of the imported history");
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count(), 3, "A-1, A-2 and A-3 (A-4 was rejected): {text}");
    assert!(store.exists(ServiceName::Evaluation));

    for file in ["evaluation.db", "evaluation.db-wal", "evaluation.db-shm"] {
        let _ = std::fs::remove_file(dir.path().join(file));
    }
    run(replay(false, true)).await.expect("a replay in place creates the store");
    run(replay(true, false)).await.expect("and a replay elsewhere verifies against it");
}

/// The import's exit: a row repeating an imported row's id is no loss, so a file with one — and
/// its re-import, which adds nothing — succeeds; a bad row fails it, unless --max-rejected
/// tolerates it.
#[tokio::test]
async fn the_import_fails_only_for_rows_it_lost_beyond_max_rejected() {
    use gridloop::analytics_cli::{import, ImportArgs, MaxRejected};
    let dir = tempfile::tempdir().unwrap();
    let mapping = dir.path().join("mapping.toml");
    std::fs::write(&mapping, MAPPING).unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let good = "id,opened,due,closed,status,type,area\n\
                B-1,2026-02-02 09:00,2026-02-04 09:00,2026-02-03 10:00,closed,litter,North\n\
                B-1,2026-02-02 09:00,2026-02-04 09:00,2026-02-03 10:00,closed,litter,North\n";
    let args = |path: std::path::PathBuf, max_rejected: MaxRejected| ImportArgs {
        store: StoreLocation::embedded(dir.path()),
        mapping: mapping.clone(),
        policy: Default::default(),
        max_rejected,
        file: path,
    };
    let with_repeat = file("repeat.csv", good);
    import(args(with_repeat.clone(), MaxRejected::Rows(0))).await.expect("a repeated id loses nothing");
    import(args(with_repeat, MaxRejected::Rows(0))).await.expect("a re-import adds nothing and loses nothing");
    let with_bad = file("bad.csv", &format!("{good}B-2,yesterday,,,open,litter,North\n"));
    let error = import(args(with_bad.clone(), MaxRejected::Rows(0))).await.unwrap_err().to_string();
    assert!(error.contains("1 rows rejected"), "{error}");
    import(args(with_bad.clone(), MaxRejected::Rows(1))).await.expect("one tolerated");
    import(args(with_bad, MaxRejected::Share(0.5))).await.expect("half of three rows: one tolerated");
}
