//! Process-level end-to-end tests of the `gridloop` binary: every test starts its own
//! `gridloop up` on a fresh data directory and a free port, drives it with client commands run as
//! separate processes (`--server URL --json`), and checks exit codes, stdout and stderr.
//!
//! The server runs on the wall clock, so no deadline fires here; timers are covered in-process
//! with a virtual clock (`/tests`).
#![cfg(unix)]

use serde_json::{json, Value};
use std::fs::File;
use std::net::TcpListener;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const GRIDLOOP: &str = env!("CARGO_BIN_EXE_gridloop");
/// How long a server may take to answer its first request.
const STARTUP: Duration = Duration::from_secs(30);
/// How long an event may take to flow from one service to another (normally a few ms).
const FLOW: Duration = Duration::from_secs(20);
/// How long a server may take to drain and exit after SIGTERM.
const SHUTDOWN: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(25);
const ASSIGNEE: &str = "网格员张三";

// ---------------------------------------------------------------------------------------------
// Running the binary

/// What a finished `gridloop` process left behind.
struct Run {
    command: String,
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Asserts exit 0 and returns stdout parsed as the one JSON document it must be.
    fn json(self) -> Value {
        assert!(self.status.success(), "{self}");
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {self}"))
    }

    /// Asserts a non-zero exit (not a crash) with nothing on stdout; returns stderr.
    fn failure(self) -> String {
        assert!(!self.status.success() && self.status.code().is_some(), "expected a clean failure: {self}");
        assert_eq!(self.stdout, "", "a failed command prints nothing on stdout: {self}");
        assert!(self.stderr.starts_with("error: "), "{self}");
        self.stderr
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` exited with {}\n--- stdout\n{}--- stderr\n{}",
            self.command, self.status, self.stdout, self.stderr
        )
    }
}

/// The binary with no `GRIDLOOP_*` settings inherited from the environment (a stray
/// `GRIDLOOP_DATABASE_URL` would move the server to Postgres).
fn gridloop_command() -> Command {
    let mut command = Command::new(GRIDLOOP);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("GRIDLOOP_") {
            command.env_remove(name);
        }
    }
    command.stdin(Stdio::null());
    command
}

/// Runs `gridloop ARGS…` to completion.
fn gridloop<S: AsRef<str>>(args: &[S]) -> Run {
    gridloop_in(None, args)
}

/// Runs `gridloop ARGS…` to completion in `dir` (default: the test's own directory).
fn gridloop_in<S: AsRef<str>>(dir: Option<&Path>, args: &[S]) -> Run {
    let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    let mut command = gridloop_command();
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let output = command.args(&args).output().expect("run gridloop");
    Run {
        command: format!("gridloop {}", args.join(" ")),
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Calls `attempt` until it returns `Some`, failing the test after `timeout`.
fn wait_for<T>(timeout: Duration, what: &str, mut attempt: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = attempt() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(POLL);
    }
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0").local_addr().unwrap().port()
}

// ---------------------------------------------------------------------------------------------
// The server process

/// A running `gridloop up`; dropping it kills the process, so a failing test leaks nothing.
struct Server {
    child: Child,
    url: String,
    /// Where its operator works: the data directory is `./gridloop-data` there, so client
    /// commands run there need no flag to find the installation's key (as for a user).
    home: PathBuf,
    /// Where the server's stdout and stderr go (files, so a full pipe can never block it).
    logs: TempDir,
}

impl Server {
    /// Starts `gridloop up` on `data_dir` and a free port, and waits until it answers.
    fn start(data_dir: &Path) -> Server {
        // Another process may take the free port before the server binds it: then try another.
        for _ in 0..3 {
            let mut server = Server::spawn(data_dir, free_port());
            // Until our server says it is up on the port, whoever answers there is someone else.
            let up_line = format!("gridloop is up on {}", server.url.trim_start_matches("http://"));
            let answered = wait_for(STARTUP, &format!("{} to answer", server.url), || {
                if server.child.try_wait().expect("try_wait").is_some() {
                    return Some(false);
                }
                let ours = server.stderr().contains(&up_line);
                (ours && server.run(&["catalog"]).status.success()).then_some(true)
            });
            if answered {
                return server;
            }
            let stderr = server.stderr();
            assert!(stderr.contains("cannot listen"), "gridloop up exited early:\n{stderr}");
        }
        panic!("gridloop up found no free port in three tries");
    }

    fn spawn(data_dir: &Path, port: u16) -> Server {
        let logs = tempfile::tempdir().expect("log dir");
        let log = |name: &str| File::create(logs.path().join(name)).expect("log file");
        let child = gridloop_command()
            .args(["up", "--data-dir"])
            .arg(data_dir)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(log("stdout"))
            .stderr(log("stderr"))
            .spawn()
            .expect("spawn gridloop up");
        let home = data_dir.parent().expect("the data directory's parent").to_path_buf();
        Server { child, url: format!("http://127.0.0.1:{port}"), home, logs }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.logs.path().join("stderr")).unwrap_or_default()
    }

    /// Runs a client command against this server with `--json`, from the operator's directory.
    fn run(&self, args: &[&str]) -> Run {
        gridloop_in(Some(&self.home), &[args, &["--server", &self.url, "--json"]].concat())
    }

    /// A token minted with the installation's key by `gridloop token issue`.
    fn token(&self, args: &[&str]) -> String {
        let run = gridloop_in(Some(&self.home), &[&["token", "issue"], args].concat());
        assert!(run.status.success(), "{run}");
        run.stdout.trim().to_string()
    }

    /// Kills the server with SIGKILL: no shutdown code runs.
    fn kill_hard(mut self) {
        self.child.kill().expect("SIGKILL");
        let status = self.child.wait().expect("wait");
        assert_eq!(status.signal(), Some(9), "killed by SIGKILL");
    }

    /// Sends SIGTERM and waits for the process to exit; returns its status and stderr.
    fn terminate(mut self) -> (ExitStatus, String) {
        let sent = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("run kill");
        assert!(sent.success(), "kill -TERM failed");
        let status =
            wait_for(SHUTDOWN, "the server to exit after SIGTERM", || self.child.try_wait().expect("try_wait"));
        (status, self.stderr())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- stderr of gridloop up at {}\n{}", self.url, self.stderr());
        }
    }
}

/// A data directory that outlives the servers started on it: `<root>/gridloop-data`, the default
/// for commands run in `<root>`.
fn data_dir() -> (TempDir, PathBuf) {
    let root = tempfile::tempdir().expect("temp dir");
    let data = root.path().join("gridloop-data");
    (root, data)
}

// ---------------------------------------------------------------------------------------------
// Cases through the CLI

/// A grid's code and its interior point, from `gridloop jurisdiction`.
fn a_grid(server: &Server) -> (String, f64, f64) {
    let tree = server.run(&["jurisdiction"]).json();
    let grid = tree["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["level"] == "grid" && n["interior_point"].is_object())
        .unwrap_or_else(|| panic!("no grid with an interior point in {tree:#}"));
    let point = &grid["interior_point"];
    (str_of(&grid["code"]), point["lat"].as_f64().unwrap(), point["lon"].as_f64().unwrap())
}

/// The code of a category handled at grid level, from `gridloop catalog`.
fn a_grid_category(server: &Server) -> String {
    let catalog = server.run(&["catalog"]).json();
    let classes = catalog["classes"].as_array().expect("classes");
    let category = classes
        .iter()
        .flat_map(|class| class["categories"].as_array().expect("categories"))
        .find(|c| c["start_level"] == "grid")
        .unwrap_or_else(|| panic!("no grid-level category in {catalog:#}"));
    str_of(&category["code"])
}

fn str_of(value: &Value) -> String {
    value.as_str().unwrap_or_else(|| panic!("not a string: {value}")).to_string()
}

/// Reports a case at a grid's interior point with a grid-level category (`extra` adds options);
/// returns the report's JSON.
fn report(server: &Server, extra: &[&str]) -> Value {
    let category = a_grid_category(server);
    let (_, lat, lon) = a_grid(server);
    let (lat, lon) = (lat.to_string(), lon.to_string());
    let base = ["case", "report", "--category", &category, "--lat", &lat, "--lon", &lon];
    server.run(&[&base[..], &["--description", "楼道堆放杂物,堵塞消防通道"], extra].concat()).json()
}

/// `case show ID`: the case and its history.
fn show(server: &Server, id: &str) -> Value {
    server.run(&["case", "show", id]).json()
}

/// Polls `case show` until dispatch has the case and it is in `state`.
fn wait_for_state(server: &Server, id: &str, state: &str) -> Value {
    wait_for(FLOW, &format!("case {id} to be {state}"), || {
        let run = server.run(&["case", "show", id]);
        if !run.status.success() {
            assert!(run.stderr.contains("not found"), "{run}");
            return None;
        }
        let shown = run.json();
        (shown["case"]["state"] == state).then_some(shown)
    })
}

/// The short event types of a `case show`, in order.
fn history_types(shown: &Value) -> Vec<String> {
    shown["history"].as_array().expect("history").iter().map(|e| str_of(&e["event_type"])).collect()
}

/// A dispatch command (`accept`, `resolve`, …) on a case; returns the case afterwards.
fn act(server: &Server, action: &str, id: &str, options: &[&str]) -> Value {
    server.run(&[&["case", action, id][..], options].concat()).json()
}

/// Answers the feedback round as the 12345 hotline calling the reporter back (回访: the admin may
/// not record satisfaction); polls while evaluation has not opened it yet.
fn evaluate(server: &Server, id: &str, satisfaction: &str) -> Value {
    let hotline = server.token(&["--role", "hotline", "--subject", "12345-hotline"]);
    let args =
        ["case", "evaluate", id, "--satisfaction", satisfaction, "--actor-role", "resident", "--token", &hotline];
    wait_for(FLOW, &format!("the feedback round of case {id} to open"), || {
        let run = server.run(&args);
        if run.status.success() {
            return Some(run.json());
        }
        let not_yet = run.stderr.contains("refused in the current state")
            && (run.stderr.contains("NOT_RESOLVED") || run.stderr.contains("NOT_AWAITING_EVALUATION"));
        assert!(not_yet, "evaluate failed for another reason: {run}");
        None
    })
}

/// Accept, resolve and evaluate (satisfied) a dispatched case, then wait until it is closed.
fn take_to_closed(server: &Server, id: &str) -> Value {
    let accepted = act(server, "accept", id, &["--assignee", ASSIGNEE]);
    assert_eq!((&accepted["state"], &accepted["assignee"]), (&json!("accepted"), &json!(ASSIGNEE)), "{accepted:#}");
    finish(server, id)
}

/// Resolve and evaluate (satisfied) an accepted case, then wait until it is closed.
fn finish(server: &Server, id: &str) -> Value {
    let resolved = act(server, "resolve", id, &["--summary", "杂物已清理,通道畅通"]);
    assert_eq!((&resolved["state"], &resolved["assignee"]), (&json!("resolved"), &json!(ASSIGNEE)), "{resolved:#}");
    let evaluated = evaluate(server, id, "satisfied");
    assert_eq!(evaluated, json!({ "case_id": id, "satisfaction": "satisfied" }));
    let closed = wait_for_state(server, id, "closed");
    assert_eq!(closed["case"]["settled_level"], "grid", "{closed:#}");
    assert_eq!(closed["case"]["satisfaction"], "satisfied", "{closed:#}");
    assert_eq!(
        history_types(&closed),
        ["CaseOpened", "CaseDispatched", "CaseAccepted", "CaseResolved", "CaseEvaluated", "CaseClosed"]
    );
    closed
}

/// Reports a case and waits until dispatch has it; returns (report, case show).
fn report_dispatched(server: &Server, extra: &[&str]) -> (Value, Value) {
    let reported = report(server, extra);
    let shown = wait_for_state(server, &str_of(&reported["case_id"]), "dispatched");
    (reported, shown)
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn a_cli_session_takes_a_case_around_the_loop() {
    let (_root, data) = data_dir();
    let server = Server::start(&data);
    let (grid, _, _) = a_grid(&server);
    let category = a_grid_category(&server);

    let reported = report(&server, &[]);
    assert_eq!(reported["replayed"], false, "{reported:#}");
    assert_eq!(reported["grid_code"], grid.as_str(), "located in the grid whose interior point was used");
    assert_eq!(reported["category_code"], category.as_str());
    let id = str_of(&reported["case_id"]);

    let dispatched = wait_for_state(&server, &id, "dispatched");
    assert_eq!(dispatched["case"]["level"], "grid", "{dispatched:#}");
    assert_eq!(dispatched["case"]["unit_code"], grid.as_str(), "a grid-level case goes to its own grid");
    assert_eq!(history_types(&dispatched), ["CaseOpened", "CaseDispatched"]);

    let closed = take_to_closed(&server, &id);
    let versions: Vec<u64> =
        closed["history"].as_array().unwrap().iter().map(|e| e["stream_version"].as_u64().unwrap()).collect();
    assert_eq!(versions, [1, 2, 3, 4, 5, 6]);
    assert_eq!(closed["case"]["version"], 6);

    // The evaluation projection catches up: listed as closed, counted at grid level.
    let listed = wait_for(FLOW, "the case to be listed as closed", || {
        let list = server.run(&["case", "list"]).json();
        let cases = list["cases"].as_array().expect("cases").clone();
        cases.iter().any(|c| c["case_id"] == id.as_str() && c["state"] == "closed").then_some(cases)
    });
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(listed[0]["settled_level"], "grid");
    let stats = wait_for(FLOW, "stats to count the closed case", || {
        let stats = server.run(&["stats", "4321"]).json();
        (stats["closed_total"] == 1).then_some(stats)
    });
    let levels = stats["levels"].as_array().expect("levels");
    let grid_share = levels.iter().find(|l| l["level"] == "grid").unwrap_or_else(|| panic!("no grid in {stats:#}"));
    assert_eq!(grid_share["count"], 1, "{stats:#}");
    assert_eq!(grid_share["share"], 1.0, "{stats:#}");
    for other in levels.iter().filter(|l| l["level"] != "grid") {
        assert_eq!(other["count"], 0, "{stats:#}");
    }
}

#[test]
fn killed_with_sigkill_mid_loop_the_server_restarts_and_the_case_finishes() {
    let (_root, data) = data_dir();
    let server = Server::start(&data);
    let (reported, _) = report_dispatched(&server, &[]);
    let id = str_of(&reported["case_id"]);
    let accepted = act(&server, "accept", &id, &["--assignee", ASSIGNEE]);
    assert_eq!(accepted["state"], "accepted", "{accepted:#}");
    server.kill_hard();

    let server = Server::start(&data);
    let after = show(&server, &id);
    assert_eq!(after["case"], accepted, "the restarted server has the case exactly as accepted");
    assert_eq!(history_types(&after), ["CaseOpened", "CaseDispatched", "CaseAccepted"]);

    finish(&server, &id);
}

#[test]
fn sigterm_drains_and_exits_zero() {
    let (_root, data) = data_dir();
    let server = Server::start(&data);
    let (reported, before) = report_dispatched(&server, &["--client-key", "term-1"]);
    let (status, stderr) = server.terminate();
    assert!(status.success(), "gridloop up exited with {status} after SIGTERM:\n{stderr}");
    assert!(stderr.contains("shutting down"), "{stderr}");

    let server = Server::start(&data);
    let id = str_of(&reported["case_id"]);
    let after = show(&server, &id);
    assert_eq!(after, before, "the case and its history survive the restart");
    let retried = report(&server, &["--client-key", "term-1"]);
    assert_eq!(retried["case_id"], id.as_str(), "intake still knows the client key");
    assert_eq!(retried["replayed"], true);
    take_to_closed(&server, &id);
}

#[test]
fn the_grid_worker_verifies_a_case_the_community_resolved_before_the_reporter_is_asked() {
    let (_root, data) = data_dir();
    let server = Server::start(&data);
    let (_, lat, lon) = a_grid(&server);
    let catalog = server.run(&["catalog"]).json();
    let category = catalog["classes"]
        .as_array()
        .expect("classes")
        .iter()
        .flat_map(|class| class["categories"].as_array().expect("categories"))
        .find(|c| c["start_level"] == "grid" && c["requires_verification"] == true)
        .map(|c| str_of(&c["code"]))
        .unwrap_or_else(|| panic!("no grid-level category that requires verification in {catalog:#}"));
    let (lat, lon) = (lat.to_string(), lon.to_string());
    let args = ["case", "report", "--category", &category, "--lat", &lat, "--lon", &lon, "--description", "路面塌陷"];
    let id = str_of(&server.run(&args).json()["case_id"]);
    wait_for_state(&server, &id, "dispatched");
    let escalated = act(&server, "escalate", &id, &["--reason", "需社区协调施工队"]);
    assert_eq!((&escalated["state"], &escalated["level"]), (&json!("dispatched"), &json!("community")));
    act(&server, "accept", &id, &["--assignee", ASSIGNEE]);
    let resolved = act(&server, "resolve", &id, &["--summary", "已修补"]);
    assert_eq!(resolved["state"], "awaiting_verification", "{resolved:#}");

    // The grid worker's queue.
    wait_for(FLOW, "the case to wait for verification in the list", || {
        let list = server.run(&["case", "list", "--state", "awaiting-verification"]).json();
        list["cases"].as_array().expect("cases").iter().any(|c| c["case_id"] == id.as_str()).then_some(())
    });
    let stderr = server.run(&["case", "verify", &id, "--verifier", "李四", "--failed"]).failure();
    assert!(stderr.contains("note"), "a failed check must say what was found: {stderr}");
    assert_eq!(show(&server, &id)["case"]["state"], "awaiting_verification", "a refused check changes nothing");

    let verified = act(&server, "verify", &id, &["--verifier", "李四"]);
    assert_eq!(verified["state"], "resolved", "{verified:#}");
    evaluate(&server, &id, "satisfied");
    let closed = wait_for_state(&server, &id, "closed");
    assert_eq!(closed["case"]["settled_level"], "community", "{closed:#}");
    let types = history_types(&closed);
    assert_eq!(types[types.len() - 4..], ["CaseResolved", "CaseVerified", "CaseEvaluated", "CaseClosed"]);
}

#[test]
fn bad_input_exits_non_zero_with_a_clear_message() {
    let (_root, data) = data_dir();
    let server = Server::start(&data);

    let args = ["case", "report", "--category", "no.such-category", "--lat", "0", "--lon", "0", "--description", "d"];
    let stderr = server.run(&args).failure();
    assert!(stderr.contains("invalid request"), "{stderr}");
    assert!(stderr.contains("category_code: unknown category \"no.such-category\""), "{stderr}");
    assert!(stderr.contains("location: (0, 0) is outside every grid"), "{stderr}");

    let stderr = server.run(&["case", "show", "not-a-uuid"]).failure();
    assert!(stderr.contains("case_id: \"not-a-uuid\" is not a UUID"), "{stderr}");

    let (reported, dispatched) = report_dispatched(&server, &[]);
    let id = str_of(&reported["case_id"]);
    let stderr = server.run(&["case", "resolve", &id, "--summary", "done"]).failure();
    assert!(stderr.contains("refused in the current state"), "FAILED_PRECONDITION: {stderr}");
    assert!(stderr.contains("only an accepted case can be resolved"), "{stderr}");
    assert!(stderr.contains("STATE_DISPATCHED"), "{stderr}");
    assert_eq!(show(&server, &id), dispatched, "a refused command changes nothing");

    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let stderr = gridloop(&["case", "show", &id, "--json", "--server", &nowhere]).failure();
    assert!(stderr.contains(&format!("{nowhere} is not reachable")), "{stderr}");
    assert!(stderr.contains("start it with `gridloop up`"), "{stderr}");
}

#[test]
fn a_retried_report_returns_the_same_case() {
    let (_root, data) = data_dir();
    let server = Server::start(&data);
    let first = report(&server, &["--client-key", "retry-1"]);
    let second = report(&server, &["--client-key", "retry-1"]);
    assert_eq!(first["replayed"], false, "{first:#}");
    assert_eq!(second["replayed"], true, "{second:#}");
    for field in ["case_id", "grid_code", "category_code", "uploaded_at", "client_key"] {
        assert_eq!(first[field], second[field], "{field}: {first:#} vs {second:#}");
    }

    // One case in dispatch, opened once.
    let id = str_of(&first["case_id"]);
    let shown = wait_for_state(&server, &id, "dispatched");
    assert_eq!(history_types(&shown), ["CaseOpened", "CaseDispatched"]);
    let listed = wait_for(FLOW, "the case to be listed", || {
        let cases = server.run(&["case", "list"]).json()["cases"].as_array().expect("cases").clone();
        (!cases.is_empty()).then_some(cases)
    });
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(listed[0]["case_id"], id.as_str());
}

#[test]
fn an_analyst_reads_kpis_replays_the_projection_and_asks_as_of() {
    let (root, data) = data_dir();
    let server = Server::start(&data);
    let (_, shown) = report_dispatched(&server, &[]);
    let closed_id = str_of(&shown["case"]["case_id"]);
    take_to_closed(&server, &closed_id);
    report_dispatched(&server, &["--client-key", "kpi-open"]);

    // The projection catches up asynchronously: wait for the closure to count.
    let live = wait_for(Duration::from_secs(20), "the KPIs to count the closed case", || {
        let kpis = server.run(&["stats", "kpi", "--period", "year"]).json();
        (kpis["total"]["counts"]["closed"] == 1).then_some(kpis)
    });
    assert_eq!(live["period"], "year", "{live:#}");
    assert_eq!(live["total"]["counts"]["reported"], 2, "{live:#}");
    assert_eq!(live["total"]["rates"]["resolution_rate"], 0.5, "{live:#}");
    assert_eq!(live["total"]["rates"]["on_time_rate"], 1.0, "{live:#}");

    let data_arg = data.to_str().unwrap();
    let rebuilt = root.path().join("rebuilt.db");
    let replayed =
        gridloop(&["replay", "--data-dir", data_arg, "--into", rebuilt.to_str().unwrap(), "--verify", "--json"]).json();
    assert_eq!(replayed["equals_live"], true, "{replayed:#}");
    assert_eq!(replayed["skipped"], 0, "{replayed:#}");
    assert!(replayed["applied"].as_u64().unwrap() >= 8, "{replayed:#}");
    // A second replay into the same target is refused: it is not fresh any more.
    let again = gridloop(&["replay", "--data-dir", data_arg, "--into", rebuilt.to_str().unwrap()]).failure();
    assert!(again.contains("already holds 2 cases"), "{again}");

    // As of now, folded from the log without the server: the same figures.
    let as_of =
        gridloop(&["stats", "kpi", "--period", "year", "--as-of", "2099-01-01", "--data-dir", data_arg, "--json"])
            .json();
    assert_eq!(as_of, live);
    // As of before anything happened: nothing.
    let before = gridloop(&["stats", "kpi", "--as-of", "2000-01-01", "--data-dir", data_arg, "--json"]).json();
    assert_eq!(before["periods"], json!([]), "{before:#}");

    let missing = gridloop(&["replay", "--data-dir", "/nonexistent/gridloop", "--into", "/tmp/x.db"]).failure();
    assert!(missing.contains("no dispatch store at /nonexistent/gridloop/dispatch.db"), "{missing}");
    let bad_area = server.run(&["stats", "kpi", "--area", "12x"]).failure();
    assert!(bad_area.contains("area"), "{bad_area}");
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

#[test]
fn the_local_cli_needs_no_flag_and_a_token_stands_for_someone_in_particular() {
    let (root, data) = data_dir();
    let server = Server::start(&data);

    // The first start created the installation's key, readable by its user only.
    let key = data.join("auth").join("signing-key.pem");
    assert_eq!((mode(&key), mode(&data.join("auth"))), (0o600, 0o700));
    // Tests running as root can check that another user's process cannot read it.
    if std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&key).unwrap()) == 0 {
        let other = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "cat"])
            .arg(&key)
            .output()
            .expect("run setpriv");
        assert!(!other.status.success(), "nobody read the key: {}", String::from_utf8_lossy(&other.stdout));
        assert!(String::from_utf8_lossy(&other.stderr).contains("Permission denied"), "{other:?}");
    }

    // In the operator's directory the CLI needs no flag (every test here relies on it).
    let (reported, dispatched) = report_dispatched(&server, &[]);
    let id = str_of(&reported["case_id"]);

    // A resident's token may not accept a case: refused, nothing stored.
    let resident = server.token(&["--role", "resident", "--subject", "resident-42"]);
    let stderr = server.run(&["case", "accept", &id, "--assignee", ASSIGNEE, "--token", &resident]).failure();
    assert!(stderr.contains("permission denied: role resident may not call AcceptCase"), "{stderr}");
    assert_eq!(show(&server, &id), dispatched, "a refused command stores nothing");

    // A tampered token, and no credentials at all (elsewhere, where there is no key), are
    // refused as unauthenticated, saying why and what to do.
    let mut tampered = resident.clone();
    tampered.replace_range(tampered.len() - 4.., "AAAA");
    let stderr = server.run(&["case", "show", &id, "--token", &tampered]).failure();
    assert!(stderr.contains("unauthenticated: the token's signature is invalid"), "{stderr}");
    assert!(!stderr.contains(&tampered), "the token is never echoed: {stderr}");
    let elsewhere = tempfile::tempdir().unwrap();
    let stderr = gridloop_in(Some(elsewhere.path()), &["case", "show", &id, "--server", &server.url]).failure();
    assert!(stderr.contains("unauthenticated: no bearer token"), "{stderr}");
    assert!(stderr.contains("--token"), "{stderr}");

    // A principal the city's organisation cannot have is not minted.
    let run = gridloop_in(Some(root.path()), &["token", "issue", "--role", "street-office", "--subject", "s"]);
    assert!(run.failure().contains("a street-office needs an area code"));
}
