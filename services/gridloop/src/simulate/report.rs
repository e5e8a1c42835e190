//! What a simulation counts, and how it is printed: the simulation figures (a pure function of
//! seed and flags) apart from the wall-clock figures (which vary run to run).

use super::model::{format_span, Params};
use gridloop_domain::level::Level;
use gridloop_domain::Timestamp;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Figures the simulation observes while it runs.
#[derive(Debug, Default)]
pub struct Stats {
    pub reported: u64,
    /// Reports duplicate detection linked to an open case instead of opening one.
    pub linked: u64,
    /// `CaseReportLinked` events seen on case streams (must equal `linked`).
    pub links_seen: u64,
    /// Extra rounds within a step, for reports that had to wait for a possible duplicate.
    pub report_rounds: u64,
    pub entry: [u64; 4],
    /// What units decided when a case reached them: [resolve, request, ignore] per level.
    pub decisions: [[u64; 3]; 4],
    /// (from, to, requested, note) → count.
    pub escalations: BTreeMap<(Level, Level, bool, String), u64>,
    /// Deadlines missed at the district (督办): the case stays, a new deadline is set.
    pub district_overdue: u64,
    pub resolutions: [u64; 4],
    /// Evaluations the reporters gave, by satisfaction name.
    pub answered: BTreeMap<String, u64>,
    pub defaulted: u64,
    pub reopened: u64,
    /// On-site verifications (核查): passed, failed (each failure reopens the case).
    pub verifications: [u64; 2],
    /// Checks not done by their deadline (督办).
    pub verifications_overdue: u64,
    pub closed: [u64; 4],
    /// Closed cases whose last resolution came before the deadline of the level that resolved it.
    pub closed_on_time: u64,
    /// Closed cases that never missed a deadline on the way.
    pub closed_never_missed: u64,
    /// Report → closed, in virtual seconds, per closed case.
    pub time_to_close: Vec<i64>,
    pub rejected: u64,
    /// Commands the simulation sent, by kind.
    pub commands: BTreeMap<&'static str, u64>,
    /// Commands the services refused (the simulation's view was stale: should be 0).
    pub refused: u64,
    /// Planned actions dropped because the case was no longer in the expected state (should be 0).
    pub stale_plans: u64,
    /// Events whose occurred_at is not the step they were caused in (should be 0).
    pub events_off_step: u64,
    /// Case events the simulation does not model (mediation, transfers).
    pub other_events: BTreeMap<String, u64>,
}

/// Figures that vary run to run: the wall clock.
#[derive(Debug, Default)]
pub struct Performance {
    /// Where the services' stores were.
    pub storage: String,
    pub elapsed: std::time::Duration,
    pub steps: u64,
    pub events: u64,
    pub commands: u64,
    pub reported: u64,
}

/// The monitor's figures (GetLevelDistribution) at the end of the run.
#[derive(Debug, Default, Clone)]
pub struct Monitor {
    pub closed_total: u64,
    pub counts: [u64; 4],
}

/// Cases still open at the end, by state and level.
#[derive(Debug, Default)]
pub struct Open {
    pub by_state: BTreeMap<&'static str, u64>,
    pub by_level: [u64; 4],
}

pub struct Setup {
    pub seed: u64,
    /// The city's time zone, which the start is shown in.
    pub zone: gridloop_domain::clock::Tz,
    pub days: u32,
    pub drain_days: u32,
    pub cases_per_day: f64,
    pub start: Timestamp,
    pub params: Params,
    pub grids: usize,
    pub categories: usize,
    /// The model's expectation from the catalog's entry mix, ignoring deadlines and reopenings.
    pub expected_entry: [f64; 4],
    pub expected: [f64; 4],
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn ratio(n: u64, d: u64) -> f64 {
    if d == 0 {
        0.0
    } else {
        n as f64 / d as f64
    }
}

fn percentile(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64
}

fn per_level(values: [u64; 4]) -> Value {
    json!({"grid": values[0], "community": values[1], "street": values[2], "district": values[3]})
}

fn per_level_f(values: [f64; 4]) -> Value {
    json!({"grid": round4(values[0]), "community": round4(values[1]), "street": round4(values[2]), "district": round4(values[3])})
}

/// The `simulation` object of `--json`: identical for identical seed and flags.
pub fn simulation_json(setup: &Setup, stats: &Stats, monitor: &Monitor, open: &Open) -> Value {
    let p = &setup.params;
    let closed: u64 = stats.closed.iter().sum();
    let levels: Vec<Value> = Level::ALL
        .iter()
        .map(|&level| {
            let count = monitor.counts[level as usize];
            let share = ratio(count, monitor.closed_total);
            json!({
                "level": level.as_str(),
                "count": count,
                "share": round4(share),
                "target": level.target_share(),
                "deviation": round4(share - level.target_share()),
            })
        })
        .collect();
    let by_reason: Vec<Value> = stats
        .escalations
        .iter()
        .map(|((from, to, requested, note), count)| {
            json!({
                "from": from.as_str(),
                "to": to.as_str(),
                "reason": if *requested { "requested" } else { "deadline_missed" },
                "note": note,
                "count": count,
            })
        })
        .collect();
    let requested: u64 = stats.escalations.iter().filter(|((_, _, r, _), _)| *r).map(|(_, n)| n).sum();
    let missed: u64 = stats.escalations.iter().filter(|((_, _, r, _), _)| !*r).map(|(_, n)| n).sum();
    let mut times = stats.time_to_close.clone();
    times.sort_unstable();
    let hours = |s: f64| round4(s / 3600.0);
    let mean = if times.is_empty() { 0.0 } else { times.iter().sum::<i64>() as f64 / times.len() as f64 };
    let decisions: BTreeMap<&str, Value> = Level::ALL
        .iter()
        .map(|&l| {
            let [resolve, request, ignore] = stats.decisions[l as usize];
            (l.as_str(), json!({"resolve": resolve, "request": request, "ignore": ignore}))
        })
        .collect();
    json!({
        "seed": setup.seed,
        "days": setup.days,
        "drain_days": setup.drain_days,
        "cases_per_day": setup.cases_per_day,
        "start": setup.start.with_timezone(&setup.zone).to_rfc3339(),
        "step": format_span(p.step),
        "model": {
            "resolve_prob": {"grid": p.resolve_prob[0], "community": p.resolve_prob[1], "street": p.resolve_prob[2], "district": 1.0},
            "handling_mean": {
                "grid": format_span(p.handling_mean[0]),
                "community": format_span(p.handling_mean[1]),
                "street": format_span(p.handling_mean[2]),
                "district": format_span(p.handling_mean[3]),
            },
            "handling_scale": p.handling_scale,
            "request_share": p.request_share,
            "no_answer": p.no_answer,
            "unsatisfied": p.unsatisfied,
            "basically_satisfied": p.basically_satisfied,
            "answer_delay_mean": format_span(p.answer_delay_mean),
            "verify_delay_mean": format_span(p.verify_delay_mean),
            "verify_fail": p.verify_fail,
        },
        "city": {"grids": setup.grids, "categories": setup.categories},
        "cases": {
            "reports": stats.reported,
            "linked_duplicates": stats.linked,
            "opened": stats.reported - stats.linked,
            "closed": closed,
            "open": open.by_state.values().sum::<u64>(),
            "rejected": stats.rejected,
        },
        "entry": per_level(stats.entry),
        "decisions": decisions,
        "distribution": {"closed_total": monitor.closed_total, "levels": levels},
        "expected": {
            "entry": per_level_f(setup.expected_entry),
            "distribution": per_level_f(setup.expected),
        },
        "escalations": {
            "total": requested + missed,
            "requested": requested,
            "deadline_missed": missed,
            "by_reason": by_reason,
        },
        "district_overdue": stats.district_overdue,
        "resolutions": per_level(stats.resolutions),
        "evaluations": {
            "answered": stats.answered,
            "defaulted": stats.defaulted,
            "reopened": stats.reopened,
        },
        "verifications": {
            "passed": stats.verifications[0],
            "failed": stats.verifications[1],
            "overdue": stats.verifications_overdue,
        },
        "on_time": {
            "closed": closed,
            "resolved_before_deadline": stats.closed_on_time,
            "rate": round4(ratio(stats.closed_on_time, closed)),
            "never_missed_a_deadline": stats.closed_never_missed,
            "never_missed_rate": round4(ratio(stats.closed_never_missed, closed)),
        },
        "time_to_close_hours": {
            "mean": hours(mean),
            "p50": hours(percentile(&times, 0.5)),
            "p90": hours(percentile(&times, 0.9)),
        },
        "open_at_end": {"by_state": open.by_state, "by_level": per_level(open.by_level)},
        "commands": stats.commands,
        "checks": {
            "monitor_matches_observed": monitor.counts == stats.closed,
            "links_match_reports": stats.links_seen == stats.linked,
            "refused_commands": stats.refused,
            "stale_plans": stats.stale_plans,
            "events_off_step": stats.events_off_step,
            "deferred_report_rounds": stats.report_rounds,
            "unmodelled_events": stats.other_events,
        },
    })
}

/// The `performance` object of `--json`: wall-clock figures, different every run.
pub fn performance_json(perf: &Performance) -> Value {
    let secs = perf.elapsed.as_secs_f64().max(1e-9);
    json!({
        "elapsed_seconds": (secs * 1000.0).round() / 1000.0,
        "steps": perf.steps,
        "ms_per_step": ((secs * 1000.0 / perf.steps.max(1) as f64) * 100.0).round() / 100.0,
        "cases_per_second": (perf.reported as f64 / secs).round() as u64,
        "events_per_second": (perf.events as f64 / secs).round() as u64,
        "commands_per_second": (perf.commands as f64 / secs).round() as u64,
        "events": perf.events,
        "commands": perf.commands,
        "data_dir": perf.storage,
    })
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// The human-readable report, from the two JSON objects (so text and JSON never disagree).
pub fn text(sim: &Value, perf: &Value) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    let _ = writeln!(
        out,
        "gridloop simulate: seed {}, {} days of arrivals at {} cases/day{}, step {}, from {}",
        sim["seed"],
        sim["days"],
        f(&sim["cases_per_day"]),
        if n(&sim["drain_days"]) > 0 { format!(" + {} days to drain", sim["drain_days"]) } else { String::new() },
        sim["step"].as_str().unwrap_or(""),
        sim["start"].as_str().unwrap_or(""),
    );
    let m = &sim["model"];
    let _ = writeln!(
        out,
        "model: resolve p grid {} / community {} / street {} / district 1; handling mean {} / {} / {} / {} (×{}); \
         提请 share {}; reporters: {} silent, {} unsatisfied, {} basically satisfied, answer in ~{}",
        m["resolve_prob"]["grid"],
        m["resolve_prob"]["community"],
        m["resolve_prob"]["street"],
        m["handling_mean"]["grid"].as_str().unwrap_or(""),
        m["handling_mean"]["community"].as_str().unwrap_or(""),
        m["handling_mean"]["street"].as_str().unwrap_or(""),
        m["handling_mean"]["district"].as_str().unwrap_or(""),
        m["handling_scale"],
        m["request_share"],
        m["no_answer"],
        m["unsatisfied"],
        m["basically_satisfied"],
        m["answer_delay_mean"].as_str().unwrap_or(""),
    );
    let _ = writeln!(
        out,
        "city: {} grids, {} categories (shipped default city and catalog)\n",
        sim["city"]["grids"], sim["city"]["categories"]
    );

    let cases = &sim["cases"];
    let _ = writeln!(
        out,
        "cases: {} reports, {} linked to an open case as duplicates, {} cases opened: {} closed, {} still open, {} rejected",
        cases["reports"], cases["linked_duplicates"], cases["opened"], cases["closed"], cases["open"], cases["rejected"]
    );
    let entry = &sim["entry"];
    let _ = writeln!(
        out,
        "entry level (权责清单): grid {}, community {}, street {}, district {}\n",
        entry["grid"], entry["community"], entry["street"], entry["district"]
    );

    let dist = &sim["distribution"];
    let _ = writeln!(
        out,
        "4321 distribution of closed cases (the evaluation service's monitor), {} closed",
        dist["closed_total"]
    );
    let _ = writeln!(
        out,
        "  {:<10} {:>7} {:>7} {:>7} {:>10} {:>10}",
        "level", "closed", "share", "target", "deviation", "model"
    );
    let expected = &sim["expected"]["distribution"];
    for level in dist["levels"].as_array().into_iter().flatten() {
        let name = level["level"].as_str().unwrap_or("");
        let _ = writeln!(
            out,
            "  {:<10} {:>7} {:>7} {:>7} {:>+9.1}pp {:>10}",
            name,
            n(&level["count"]),
            pct(f(&level["share"])),
            pct(f(&level["target"])),
            f(&level["deviation"]) * 100.0,
            pct(f(&expected[name])),
        );
    }
    let _ = writeln!(
        out,
        "  (model: the share the agent model aims at from the entry mix, before deadlines and reopenings)\n"
    );

    let esc = &sim["escalations"];
    let _ = writeln!(
        out,
        "escalations: {} ({} requested 提请, {} on a missed deadline); district overdue (督办): {}",
        esc["total"], esc["requested"], esc["deadline_missed"], sim["district_overdue"]
    );
    for row in esc["by_reason"].as_array().into_iter().flatten() {
        let reason = match row["reason"].as_str() {
            Some("requested") => format!("requested: {}", row["note"].as_str().unwrap_or("")),
            _ => "deadline missed".to_string(),
        };
        let _ = writeln!(
            out,
            "  {:>9} → {:<9} {:>6}  {}",
            row["from"].as_str().unwrap_or(""),
            row["to"].as_str().unwrap_or(""),
            n(&row["count"]),
            reason
        );
    }

    let ev = &sim["evaluations"];
    let answered: Vec<String> = ev["answered"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{} {}", v, k.replace('_', " ")))
        .collect();
    let _ = writeln!(
        out,
        "\nevaluations: {}; {} default evaluations (no answer in time); {} reopened",
        if answered.is_empty() { "none answered".to_string() } else { answered.join(", ") },
        ev["defaulted"],
        ev["reopened"]
    );
    let verified = &sim["verifications"];
    let _ = writeln!(
        out,
        "verifications (核查, above the grid): {} passed, {} failed and reworked, {} overdue (督办)",
        verified["passed"], verified["failed"], verified["overdue"]
    );
    let on_time = &sim["on_time"];
    let _ = writeln!(
        out,
        "on time: {} of closed cases resolved before the deadline of the level that resolved them; \
         {} never missed a deadline on the way",
        pct(f(&on_time["rate"])),
        pct(f(&on_time["never_missed_rate"]))
    );
    let ttc = &sim["time_to_close_hours"];
    let _ = writeln!(
        out,
        "time to close (virtual): mean {:.1} h, median {:.1} h, p90 {:.1} h",
        f(&ttc["mean"]),
        f(&ttc["p50"]),
        f(&ttc["p90"])
    );
    let open = &sim["open_at_end"];
    let states: Vec<String> =
        open["by_state"].as_object().into_iter().flatten().map(|(k, v)| format!("{v} {k}")).collect();
    let ol = &open["by_level"];
    let _ = writeln!(
        out,
        "still open at the end: {} ({}; at grid {}, community {}, street {}, district {})",
        cases["open"],
        if states.is_empty() { "none".to_string() } else { states.join(", ") },
        ol["grid"],
        ol["community"],
        ol["street"],
        ol["district"]
    );
    let checks = &sim["checks"];
    let mut problems = Vec::new();
    if checks["monitor_matches_observed"] != Value::Bool(true) {
        problems.push("the monitor's counts differ from the closures the simulation saw".to_string());
    }
    if checks["links_match_reports"] != Value::Bool(true) {
        problems.push("linked reports and CaseReportLinked events differ".to_string());
    }
    for (key, what) in [
        ("refused_commands", "commands refused"),
        ("stale_plans", "plans dropped on a stale state"),
        ("events_off_step", "events off their step"),
    ] {
        if n(&checks[key]) > 0 {
            problems.push(format!("{} {what}", checks[key]));
        }
    }
    if problems.is_empty() {
        let _ = writeln!(out, "checks: monitor matches the observed closures; no refused commands");
    } else {
        let _ = writeln!(out, "checks FAILED: {}", problems.join("; "));
    }

    let _ = writeln!(out, "\nperformance (wall clock: differs run to run, not part of the simulation)");
    let _ = writeln!(
        out,
        "  elapsed {:.2} s, {} steps ({:.2} ms/step); {} cases/s, {} events/s, {} commands/s",
        f(&perf["elapsed_seconds"]),
        perf["steps"],
        f(&perf["ms_per_step"]),
        perf["cases_per_second"],
        perf["events_per_second"],
        perf["commands_per_second"],
    );
    let _ = writeln!(out, "  stores in {} (SQLite, one file per service)", perf["data_dir"].as_str().unwrap_or(""));
    out
}
