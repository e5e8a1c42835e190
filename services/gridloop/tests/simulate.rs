//! `gridloop simulate`: a synthetic city through the real services on a virtual clock.
//!
//! The library runs use small cities (a few hundred cases) so the whole file stays within
//! seconds in a debug build; several runs go concurrently, which also shows that the figures do
//! not depend on timing.

use clap::Parser;
use gridloop::simulate::{simulate, SimulateArgs};
use gridloop_eventstore::EventStore;
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;

const GRIDLOOP: &str = env!("CARGO_BIN_EXE_gridloop");

/// The figures of `--seed 7 --days 3 --cases-per-day 100`, as recorded: work on the simulator's
/// or the services' speed must leave them as they are. A change of the model or of the
/// services' decisions changes them on purpose; then refresh the file with
/// `GRIDLOOP_UPDATE_SIMULATION_BASELINE=1 cargo test -p gridloop --test simulate` and say why in
/// the commit.
const BASELINE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/baseline/simulation-seed7-3days-100.json");
const UPDATE_BASELINE: &str = "GRIDLOOP_UPDATE_SIMULATION_BASELINE";

/// The `simulation` object of a run with `flags`.
async fn run(flags: Vec<&str>) -> Value {
    let argv = std::iter::once("simulate").chain(flags);
    let args = SimulateArgs::try_parse_from(argv).expect("valid flags");
    let outcome = simulate(&args, false).await.expect("the simulation runs");
    assert!(outcome.performance["elapsed_seconds"].as_f64().unwrap() > 0.0);
    assert!(outcome.simulation.get("performance").is_none() && outcome.simulation.get("elapsed_seconds").is_none());
    outcome.simulation
}

fn share(sim: &Value, level: &str) -> f64 {
    let levels = sim["distribution"]["levels"].as_array().expect("levels");
    levels.iter().find(|l| l["level"] == level).expect("a level")["share"].as_f64().unwrap()
}

/// The consistency checks every run must pass: the simulator's view never went stale and the
/// monitor counts exactly the closures the simulator saw.
fn assert_clean(sim: &Value) {
    let checks = &sim["checks"];
    assert_eq!(checks["monitor_matches_observed"], true, "{checks}");
    assert_eq!(checks["links_match_reports"], true, "{checks}");
    assert_eq!(checks["refused_commands"], 0, "{checks}");
    assert_eq!(checks["stale_plans"], 0, "{checks}");
    assert_eq!(checks["events_off_step"], 0, "{checks}");
    assert_eq!(checks["unmodelled_events"], serde_json::json!({}), "{checks}");
    assert!(sim["cases"]["reports"].as_u64().unwrap() > 0);
    assert!(sim["cases"]["closed"].as_u64().unwrap() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_gives_the_same_simulation_and_another_seed_another() {
    let small = ["--days", "3", "--cases-per-day", "100"];
    let with_seed = |seed: &'static str| {
        let mut flags = small.to_vec();
        flags.extend(["--seed", seed]);
        flags
    };
    let (first, second, other) = tokio::join!(run(with_seed("7")), run(with_seed("7")), run(with_seed("8")));
    assert_clean(&first);
    assert_clean(&other);
    assert_eq!(first, second, "same seed and flags, same figures");
    assert_ne!(first["distribution"], other["distribution"], "another seed, another city");
    assert_matches_baseline(&first);
    assert_ne!(first["cases"], other["cases"]);

    // The figures hang together.
    let cases = &first["cases"];
    let reports = cases["reports"].as_u64().unwrap();
    assert!((250..350).contains(&reports), "about 100 a day for 3 days: {reports}");
    assert_eq!(cases["opened"].as_u64().unwrap() + cases["linked_duplicates"].as_u64().unwrap(), reports);
    assert_eq!(
        cases["closed"].as_u64().unwrap() + cases["open"].as_u64().unwrap() + cases["rejected"].as_u64().unwrap(),
        cases["opened"].as_u64().unwrap()
    );
    assert_eq!(first["distribution"]["closed_total"], cases["closed"]);
    let rate = first["on_time"]["rate"].as_f64().unwrap();
    assert!((0.5..=1.0).contains(&rate), "{rate}");
    let escalations = &first["escalations"];
    assert_eq!(
        escalations["total"].as_u64().unwrap(),
        escalations["requested"].as_u64().unwrap() + escalations["deadline_missed"].as_u64().unwrap()
    );
    assert!(escalations["requested"].as_u64().unwrap() > 0 && escalations["deadline_missed"].as_u64().unwrap() > 0);
}

/// `sim` (seed 7, 3 days, 100 a day) against the recorded figures; rewrites the file instead
/// when [`UPDATE_BASELINE`] is set.
fn assert_matches_baseline(sim: &Value) {
    if std::env::var_os(UPDATE_BASELINE).is_some() {
        let text = serde_json::to_string_pretty(sim).expect("JSON") + "\n";
        std::fs::write(BASELINE, text).expect("write the baseline");
        return;
    }
    let recorded: Value = serde_json::from_str(&std::fs::read_to_string(BASELINE).expect("the baseline file"))
        .expect("the baseline is JSON");
    // Through text and back, as the recorded figures came: a float compares as parsed.
    let now: Value = serde_json::from_str(&sim.to_string()).expect("JSON");
    assert!(
        now == recorded,
        "seed 7 no longer gives the recorded figures ({BASELINE}); if the model changed on purpose, \
         refresh it with {UPDATE_BASELINE}=1\nnow: {sim:#}"
    );
}

/// Every event the services stored in `data_dir`, counted by service and type.
async fn stored_event_types(data_dir: &std::path::Path) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for service in ["intake", "dispatch", "mediation", "evaluation"] {
        let url = format!("sqlite://{}", data_dir.join(format!("{service}.db")).display());
        let store = EventStore::connect(&url, Default::default()).await.expect("the service's store");
        let mut after = 0;
        loop {
            let page = store.read_all(after, 1000).await.expect("read the log");
            let Some(last) = page.last() else { break };
            after = last.global_position;
            for event in &page {
                let name = event.event_type.rsplit('.').next().unwrap_or(&event.event_type);
                *counts.entry(format!("{service}/{name}")).or_default() += 1;
            }
        }
    }
    counts
}

/// Closures of one virtual instant reach evaluation in whatever order the consumers deliver them;
/// the events stored must not depend on that order (the 4321 drift alerts once did).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_stores_the_same_events_on_every_run() {
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let flags = |dir: &tempfile::TempDir| {
        let dir = dir.path().join("city").display().to_string();
        let argv = ["simulate", "--seed", "1", "--days", "3", "--cases-per-day", "200", "--data-dir", &dir];
        SimulateArgs::try_parse_from(argv).expect("valid flags")
    };
    let (a, b, c) = (flags(&dirs[0]), flags(&dirs[1]), flags(&dirs[2]));
    let (first, second, third) = tokio::join!(simulate(&a, false), simulate(&b, false), simulate(&c, false));
    for outcome in [&first, &second, &third] {
        assert_clean(&outcome.as_ref().expect("the simulation runs").simulation);
    }
    let mut stored = Vec::new();
    for dir in &dirs {
        stored.push(stored_event_types(&dir.path().join("city")).await);
    }
    let alerts = stored[0].get("evaluation/DistributionDriftDetected").copied().unwrap_or_default();
    assert!(alerts > 0, "the run raises drift alerts, so their order matters: {:#?}", stored[0]);
    assert_eq!(stored[0], stored[1], "same seed, same events stored");
    assert_eq!(stored[0], stored[2], "same seed, same events stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calibrated_defaults_settle_cases_near_4321() {
    // Six days of arrivals, then six more for the escalated cases to finish: the closed cases
    // are (nearly) all cases, so the share is not biased towards the quick grid closures.
    let sim = run(vec!["--days", "6", "--cases-per-day", "200", "--drain-days", "6"]).await;
    assert_clean(&sim);
    let closed = sim["cases"]["closed"].as_u64().unwrap();
    assert!(closed > 1000, "{closed}");
    assert!(sim["cases"]["open"].as_u64().unwrap() * 50 < closed, "drained: {}", sim["cases"]);
    for (level, target) in [("grid", 0.4), ("community", 0.3), ("street", 0.2), ("district", 0.1)] {
        let got = share(&sim, level);
        assert!((got - target).abs() <= 0.04, "{level}: {got:.3} vs {target}\n{:#}", sim["distribution"]);
        let aimed = sim["expected"]["distribution"][level].as_f64().unwrap();
        assert!((aimed - target).abs() <= 0.03, "the model aims at {aimed:.3} for {level}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_knobs_move_the_distribution() {
    let base = ["--days", "3", "--cases-per-day", "100", "--drain-days", "4"];
    let with = |extra: &[&'static str]| {
        let mut flags = base.to_vec();
        flags.extend_from_slice(extra);
        flags
    };
    let (weak_grid, strong_grid, slow) = tokio::join!(
        run(with(&["--grid-resolve-prob", "0.2"])),
        run(with(&["--grid-resolve-prob", "0.9"])),
        // Units four times slower against the same SLAs: more deadlines pass.
        run(with(&["--handling-scale", "4"])),
    );
    let normal = run(base.to_vec()).await;
    for sim in [&weak_grid, &strong_grid, &slow, &normal] {
        assert_clean(sim);
    }
    let (weak, strong, usual) = (share(&weak_grid, "grid"), share(&strong_grid, "grid"), share(&normal, "grid"));
    assert!(weak + 0.3 < strong, "grid share {weak:.3} at p=0.2 vs {strong:.3} at p=0.9");
    assert!(weak < usual && usual < strong, "{weak:.3} < {usual:.3} < {strong:.3}");
    let missed = |sim: &Value| sim["escalations"]["deadline_missed"].as_u64().unwrap();
    assert!(
        missed(&slow) > missed(&normal),
        "slow units miss more deadlines: {} vs {}",
        missed(&slow),
        missed(&normal)
    );
    let overdue = |sim: &Value| sim["district_overdue"].as_u64().unwrap();
    assert!(
        overdue(&slow) > overdue(&normal),
        "and the district more often: {} vs {}",
        overdue(&slow),
        overdue(&normal)
    );
}

#[test]
fn the_cli_prints_text_or_one_json_document_and_refuses_bad_flags() {
    let out = Command::new(GRIDLOOP)
        .args(["simulate", "--days", "1", "--cases-per-day", "60", "--json"])
        .output()
        .expect("gridloop runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_clean(&doc["simulation"]);
    assert!(doc["performance"]["cases_per_second"].as_f64().unwrap() > 0.0);
    assert_eq!(doc["simulation"]["seed"], 1);
    assert!(
        out.stderr.is_empty(),
        "no progress bar when stderr is not a terminal: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = Command::new(GRIDLOOP).args(["simulate", "--days", "1", "--cases-per-day", "60"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for section in
        ["4321 distribution", "escalations:", "on time:", "still open at the end:", "performance (wall clock"]
    {
        assert!(text.contains(section), "{section:?} missing from:\n{text}");
    }

    let out = Command::new(GRIDLOOP).args(["simulate", "--grid-resolve-prob", "1.5"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a probability"));

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("intake.db"), b"").unwrap();
    let out = Command::new(GRIDLOOP).args(["simulate", "--days", "1", "--data-dir"]).arg(dir.path()).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"), "{}", String::from_utf8_lossy(&out.stderr));
}
