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

    /// Asserts a non-zero exit (not a crash) with the message on stderr and, on stdout, nothing —
    /// or under `--json` the error as one JSON document; returns stderr.
    fn failure(self) -> String {
        self.failure_and_json().0
    }

    /// Like `failure`, for a command run with `--json`: returns stderr and the error document.
    fn failure_and_json(self) -> (String, Value) {
        assert!(!self.status.success() && self.status.code().is_some(), "expected a clean failure: {self}");
        assert!(self.stderr.starts_with("error: "), "{self}");
        if !self.command.split(' ').any(|arg| arg == "--json") {
            assert_eq!(self.stdout, "", "a failed command prints nothing on stdout: {self}");
            return (self.stderr, Value::Null);
        }
        let error: Value = serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("a failed command prints one JSON document under --json ({e}): {self}"));
        assert!(error["error"]["message"].is_string(), "{self}");
        (self.stderr, error)
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
    // Text fits the terminal `COLUMNS` names: the tests set it where they check that.
    command.env_remove("COLUMNS");
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
    gridloop_with(dir, &args, &[], None)
}

/// Runs `gridloop ARGS…` to completion in `dir` (default: the test's own directory) with `env`
/// set and `input` (if any) on its standard input.
fn gridloop_with(dir: Option<&Path>, args: &[&str], env: &[(&str, &str)], input: Option<&str>) -> Run {
    use std::io::Write;
    let mut command = gridloop_command();
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    command.args(args).envs(env.iter().copied()).stdout(Stdio::piped()).stderr(Stdio::piped());
    if input.is_some() {
        command.stdin(Stdio::piped());
    }
    let mut child = command.spawn().expect("spawn gridloop");
    if let Some(input) = input {
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    }
    let output = child.wait_with_output().expect("run gridloop");
    let settings: Vec<String> = env.iter().map(|(name, value)| format!("{name}={value} ")).collect();
    Run {
        command: format!(
            "{}gridloop {}{}",
            settings.concat(),
            args.join(" "),
            if input.is_some() { " < input" } else { "" }
        ),
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
            // Several servers run at once: none takes the default HTTP port.
            .args(["--http-listen", "off"])
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
    grids(server).into_iter().next().expect("a grid with an interior point")
}

/// Every grid with an interior point: its code and the point.
fn grids(server: &Server) -> Vec<(String, f64, f64)> {
    let tree = server.run(&["jurisdiction"]).json();
    let grids: Vec<_> = tree["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|n| n["level"] == "grid" && n["interior_point"].is_object())
        .map(|grid| {
            let point = &grid["interior_point"];
            (str_of(&grid["code"]), point["lat"].as_f64().unwrap(), point["lon"].as_f64().unwrap())
        })
        .collect();
    assert!(!grids.is_empty(), "no grid with an interior point in {tree:#}");
    grids
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
    let base = report_command(server, 0);
    server.run(&[&strs(&base)[..], &["--description", "楼道堆放杂物,堵塞消防通道"], extra].concat()).json()
}

/// `case report` with a grid-level category at the interior point of the `grid`-th grid, without
/// a description. Reports in different grids are far enough apart not to be linked as duplicates.
fn report_command(server: &Server, grid: usize) -> Vec<String> {
    let category = a_grid_category(server);
    let (_, lat, lon) = grids(server).into_iter().nth(grid).expect("enough grids");
    ["case", "report", "--category", &category, "--lat", &lat.to_string(), "--lon", &lon.to_string()]
        .map(String::from)
        .to_vec()
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
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
    let short = |e: &Value| str_of(&e["event_type"]).rsplit('.').next().unwrap_or_default().to_string();
    shown["history"].as_array().expect("history").iter().map(short).collect()
}

/// A dispatch command (`accept`, `resolve`, …) on a case; returns the case afterwards.
fn act(server: &Server, action: &str, id: &str, options: &[&str]) -> Value {
    server.run(&[&["case", action, id][..], options].concat()).json()
}

/// Answers the feedback round as the 12345 hotline calling the reporter back (回访: the admin may
/// not record satisfaction); polls while evaluation has not opened it yet.
fn evaluate(server: &Server, id: &str, satisfaction: &str) -> Value {
    let hotline = server.token(&["--role", "hotline", "--subject", "12345-hotline"]);
    let args = ["case", "evaluate", id, "--satisfaction", satisfaction, "--token", &hotline];
    wait_for(FLOW, &format!("the feedback round of case {id} to open"), || {
        let run = server.run(&args);
        if run.status.success() {
            return Some(run.json());
        }
        let not_yet = run.stderr.contains("refused: ")
            && (run.stderr.contains("is not resolved") || run.stderr.contains("no evaluation is awaited"));
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
    // Evaluated straight after the resolution: its version is the token evaluation waits for.
    let hotline = server.token(&["--role", "hotline", "--subject", "12345-hotline"]);
    let version = resolved["version"].to_string();
    let args =
        ["--satisfaction", "satisfied", "--actor-role", "resident", "--token", &hotline, "--min-version", &version];
    let evaluated = server.run(&[&["case", "evaluate", id][..], &args].concat()).json();
    assert_eq!(evaluated, json!({ "case_id": id, "satisfaction": "satisfied", "reopened": false, "case": null }));
    let closed = wait_for_state(server, id, "closed");
    assert_eq!(closed["case"]["settled_level"], "grid", "{closed:#}");
    assert_eq!(closed["case"]["satisfaction"], "satisfied", "{closed:#}");
    assert_eq!(
        history_types(&closed),
        ["CaseOpened", "CaseDispatched", "CaseAccepted", "CaseResolved", "CaseEvaluated", "CaseClosed"]
    );
    closed
}

/// Reports a case and shows it as soon as dispatch has it (the report's consistency token);
/// returns (report, case show).
fn report_dispatched(server: &Server, extra: &[&str]) -> (Value, Value) {
    let reported = report(server, extra);
    let version = reported["case_version"].to_string();
    let shown = server.run(&["case", "show", &str_of(&reported["case_id"]), "--min-version", &version]).json();
    assert_eq!(shown["case"]["state"], "dispatched", "{shown:#}");
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
    // `case show` adds the reporter's contact as disclosed to the caller and the times read from
    // the history; a command's answer carries neither.
    let mut shown = after["case"].clone();
    assert_eq!(shown["reporter"]["disclosure"], "anonymous", "{shown:#}");
    assert!(shown["opened_at"].is_string(), "{shown:#}");
    for read_from_history in ["reporter", "opened_at"] {
        shown.as_object_mut().unwrap().remove(read_from_history);
    }
    let mut accepted = accepted;
    for absent in ["reporter", "opened_at"] {
        accepted.as_object_mut().unwrap().remove(absent);
    }
    assert_eq!(shown, accepted, "the restarted server has the case exactly as accepted");
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
fn a_second_server_on_a_data_directory_in_use_exits_non_zero_and_says_why() {
    let (_root, data) = data_dir();
    let server = Server::start(&data);
    let mut second = Server::spawn(&data, free_port());
    let status = wait_for(STARTUP, "the second server to exit", || second.child.try_wait().expect("try_wait"));
    let stderr = second.stderr();
    assert!(!status.success() && status.code().is_some(), "exited with {status}:\n{stderr}");
    assert!(stderr.contains("is in use by another gridloop server"), "{stderr}");
    assert!(stderr.contains(&format!("process {}", server.child.id())), "names the holder: {stderr}");
    // The first server is undisturbed.
    assert!(server.run(&["catalog"]).status.success());
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
    // The cause first, and no internal precondition type in what people read.
    assert!(stderr.contains("refused: only an accepted case can be resolved"), "FAILED_PRECONDITION: {stderr}");
    assert!(!stderr.contains("STATE_DISPATCHED") && !stderr.contains("precondition"), "{stderr}");
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
    let counted: u64 = ["applied", "skipped", "policy"].iter().map(|k| replayed[k].as_u64().unwrap()).sum();
    assert_eq!(counted, replayed["events"].as_u64().unwrap(), "every event counted once: {replayed:#}");
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

#[test]
fn under_json_an_error_is_one_document_with_its_code_and_details() {
    let (_root, data) = data_dir();
    let server = Server::start(&data);

    let args = ["case", "report", "--category", "no.such-category", "--lat", "0", "--lon", "0", "--description", "d"];
    let (stderr, error) = server.run(&args).failure_and_json();
    assert!(stderr.contains("invalid request"), "the message for people stays on stderr: {stderr}");
    assert_eq!((&error["error"]["code"], &error["error"]["rpc"]), (&json!("invalid_argument"), &json!("ReportCase")));
    let fields: Vec<&str> = error["error"]["details"]["field_violations"]
        .as_array()
        .unwrap_or_else(|| panic!("field violations in {error:#}"))
        .iter()
        .map(|v| v["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"category_code") && fields.contains(&"location"), "{error:#}");

    // An area the city does not have is a mistake, not an empty list.
    let (_, error) = server.run(&["case", "list", "--area", "999999"]).failure_and_json();
    assert_eq!((&error["error"]["code"], &error["error"]["rpc"]), (&json!("invalid_argument"), &json!("ListCases")));
    assert_eq!(error["error"]["details"]["field_violations"][0]["field"], "area", "{error:#}");

    let (reported, _) = report_dispatched(&server, &[]);
    let id = str_of(&reported["case_id"]);
    let (_, error) = server.run(&["case", "resolve", &id, "--summary", "done"]).failure_and_json();
    assert_eq!(error["error"]["code"], "failed_precondition", "{error:#}");
    let failure = &error["error"]["details"]["precondition_failures"][0];
    assert_eq!(failure["type"], "STATE_DISPATCHED", "{error:#}");
    assert!(error["error"]["message"].as_str().unwrap().contains("only an accepted case can be resolved"));

    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let (_, error) = gridloop(&["case", "show", &id, "--json", "--server", &nowhere]).failure_and_json();
    assert_eq!(error["error"]["code"], "unavailable", "{error:#}");
    assert!(error["error"]["message"].as_str().unwrap().contains("is not reachable"), "{error:#}");
}

/// Reports one case in each of the first `n` grids (far enough apart not to be linked as
/// duplicates), each waited for until dispatched; returns their ids in the order reported.
fn report_in_grids(server: &Server, n: usize) -> Vec<String> {
    (0..n)
        .map(|grid| {
            let base = report_command(server, grid);
            let id = str_of(&server.run(&[&strs(&base)[..], &["--description", "占道"]].concat()).json()["case_id"]);
            wait_for_state(server, &id, "dispatched");
            id
        })
        .collect()
}

/// The case ids of a `case list --json` page.
fn listed_ids(page: &Value) -> Vec<String> {
    page["cases"]
        .as_array()
        .unwrap_or_else(|| panic!("cases in {page:#}"))
        .iter()
        .map(|c| str_of(&c["case_id"]))
        .collect()
}

/// Every page of `case list ARGS --limit 1`, following the page tokens.
fn every_page(server: &Server, args: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut page_args = [&["case", "list", "--limit", "1"], args].concat();
        if let Some(token) = &token {
            page_args.extend(["--page-token", token.as_str()]);
        }
        let page = server.run(&page_args).json();
        assert_eq!(listed_ids(&page).len(), 1, "a page of one: {page:#}");
        ids.extend(listed_ids(&page));
        match &page["next_page_token"] {
            Value::Null => return ids,
            next => token = Some(str_of(next)),
        }
        assert!(ids.len() < 10, "the pages never end: {ids:?}");
    }
}

#[test]
fn case_list_pages_through_every_case_and_priority_order_lists_the_open_work() {
    let (_root, data) = data_dir();
    let server = Server::start(&data);
    let ids = report_in_grids(&server, 3);
    take_to_closed(&server, &ids[0]);
    act(&server, "accept", &ids[1], &["--assignee", ASSIGNEE]);
    wait_for(FLOW, "the list to show one case closed and one accepted", || {
        let page = server.run(&["case", "list"]).json();
        let state =
            |id: &str| page["cases"].as_array()?.iter().find(|c| c["case_id"] == id).map(|c| c["state"].clone());
        (state(&ids[0]) == Some(json!("closed")) && state(&ids[1]) == Some(json!("accepted"))).then_some(())
    });

    // Newest opened first, one page at a time, until the last page says there is no more.
    assert_eq!(every_page(&server, &[]), [ids[2].clone(), ids[1].clone(), ids[0].clone()]);
    let whole = server.run(&["case", "list"]).json();
    assert_eq!((listed_ids(&whole).len(), &whole["next_page_token"]), (3, &Value::Null), "{whole:#}");

    // Priority order: the open work only (oldest first at equal priority), merged over states.
    let open = server.run(&["case", "list", "--order", "priority"]).json();
    assert_eq!(listed_ids(&open), [ids[1].clone(), ids[2].clone()], "{open:#}");
    assert_eq!(every_page(&server, &["--order", "priority"]), [ids[1].clone(), ids[2].clone()]);
    let all = server.run(&["case", "list", "--order", "priority", "--all"]).json();
    assert_eq!(listed_ids(&all).len(), 3, "{all:#}");

    // For people: what is listed, and how to get the next page.
    let text = gridloop_in(Some(&server.home), &["case", "list", "--limit", "2", "--server", &server.url]);
    assert!(text.status.success(), "{text}");
    assert!(text.stdout.contains("2 cases (newest opened first)"), "{text}");
    assert!(text.stdout.contains("more follow: repeat the command with --page-token "), "{text}");

    // A token is for the listing that printed it.
    let first = server.run(&["case", "list", "--limit", "1", "--order", "priority"]).json();
    let token = str_of(&first["next_page_token"]);
    let stderr = server.run(&["case", "list", "--limit", "1", "--page-token", &token]).failure();
    assert!(stderr.contains("another listing"), "{stderr}");
}

/// Reports a neighbour dispute (a grid-level category that may go to mediation) and accepts it;
/// returns its id.
fn an_accepted_dispute(server: &Server) -> String {
    let (_, lat, lon) = a_grid(server);
    let (lat, lon) = (lat.to_string(), lon.to_string());
    let args = ["case", "report", "--category", "dispute.neighbour-noise", "--lat", &lat, "--lon", &lon];
    let id = str_of(&server.run(&[&args[..], &["--description", "楼上夜间噪音"]].concat()).json()["case_id"]);
    let unit = str_of(&wait_for_state(server, &id, "dispatched")["case"]["unit_code"]);
    // Accepted by the worker of the grid holding it: the token decides who acts.
    let worker = server.token(&["--role", "grid-worker", "--area", &unit, "--subject", ASSIGNEE]);
    act(server, "accept", &id, &["--assignee", ASSIGNEE, "--token", &worker, "--actor-role", "resident"]);
    id
}

#[test]
fn case_mediate_names_the_convenor_and_prints_the_session_that_mediation_show_takes() {
    let (_root, data) = data_dir();
    let server = Server::start(&data);
    let id = an_accepted_dispute(&server);

    // The session's chair is named; the request is recorded as whoever asked, the token's subject.
    let asking = server.token(&["--role", "admin", "--subject", "王主任"]);
    let mediating = act(&server, "mediate", &id, &["--topic", "楼上噪音", "--convenor", "李书记", "--token", &asking]);
    assert_eq!(mediating["state"], "in_mediation", "{mediating:#}");
    let mediation_id = str_of(&mediating["mediation_id"]);

    let session = server.run(&["mediation", "show", &mediation_id]).json();
    assert_eq!((&session["case_id"], &session["convenor"]), (&json!(id), &json!("李书记")), "{session:#}");
    assert_eq!(session["topic"], "楼上噪音");
    let shown = show(&server, &id);
    let requested = shown["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event_type"] == "gridloop.v1.CaseMediationRequested")
        .unwrap_or_else(|| panic!("no mediation request in {shown:#}"));
    assert_eq!((&requested["actor"]["id"], &requested["payload"]["convenor"]), (&json!("王主任"), &json!("李书记")));
    let by_case = server.run(&["mediation", "show", "--case", &id]).json();
    assert_eq!(by_case["mediation_id"], mediation_id.as_str(), "--case still finds it");

    // Every mediation subcommand takes the same id.
    let invited = server.run(&["mediation", "invite", &mediation_id, "--name", "张先生", "--role", "party"]).json();
    let participants = invited["participants"].as_array().unwrap_or_else(|| panic!("participants in {invited:#}"));
    assert!(participants.contains(&json!({ "name": "张先生", "role": "party" })), "{invited:#}");
}

#[test]
fn a_grid_worker_notes_its_grids_case_and_case_show_lists_the_note_with_its_author() {
    let (_root, data) = data_dir();
    let server = Server::start(&data);
    let (reported, dispatched) = report_dispatched(&server, &[]);
    let id = str_of(&reported["case_id"]);
    let grid = str_of(&dispatched["case"]["unit_code"]);
    let other = grids(&server).into_iter().map(|(code, ..)| code).find(|code| *code != grid).expect("a second grid");

    // The worker of another grid may not write on this grid's case.
    let outsider = server.token(&["--role", "grid-worker", "--area", &other, "--subject", "gw-other"]);
    let stderr = server.run(&["case", "note", &id, "--text", "路过", "--token", &outsider]).failure();
    assert!(stderr.contains("permission denied"), "{stderr}");
    assert_eq!(show(&server, &id), dispatched, "a refused note stores nothing");

    let worker = server.token(&["--role", "grid-worker", "--area", &grid, "--subject", "gw-zhao"]);
    let noted = act(&server, "note", &id, &["--text", "上门走访，业主不在家", "--token", &worker]);
    assert_eq!((&noted["state"], &noted["unit_code"]), (&json!("dispatched"), &json!(grid)), "{noted:#}");
    let shown = show(&server, &id);
    assert_eq!(history_types(&shown), ["CaseOpened", "CaseDispatched", "CaseNoteAdded"]);
    let entry = &shown["history"][2];
    assert_eq!(entry["payload"]["text"], "上门走访，业主不在家", "{entry:#}");
    assert_eq!(entry["payload"]["author"], "gw-zhao", "{entry:#}");
    assert_eq!(entry["actor"], json!({ "role": "grid-worker", "id": "gw-zhao", "jurisdiction": grid }), "{entry:#}");
    assert_eq!(shown["case"]["deadline"], dispatched["case"]["deadline"], "a note moves no deadline");
}

#[test]
fn a_role_has_one_spelling_in_and_out() {
    let (_root, data) = data_dir();
    let server = Server::start(&data);
    // Accepted with a grid worker's token: recorded and shown as grid-worker, whatever an
    // ignored `--actor-role` says.
    let id = an_accepted_dispute(&server);
    let shown = show(&server, &id);
    let accepted =
        shown["history"].as_array().unwrap().iter().find(|e| e["event_type"] == "gridloop.v1.CaseAccepted").unwrap();
    assert_eq!(accepted["actor"]["role"], "grid-worker", "{shown:#}");
    let text = gridloop_in(Some(&server.home), &["case", "show", &id, "--server", &server.url]);
    assert!(text.stdout.contains(&format!("grid-worker:{ASSIGNEE}")) && !text.stdout.contains("grid_worker"), "{text}");

    // For people, `case mediate` names the session on a line of its own.
    let mediating =
        gridloop_in(Some(&server.home), &["case", "mediate", &id, "--topic", "楼上噪音", "--server", &server.url]);
    let opened = mediating.stdout.lines().find_map(|line| line.strip_prefix("mediation session "));
    let mediation_id = opened.and_then(|rest| rest.split(' ').next()).unwrap_or_else(|| panic!("{mediating}"));
    assert!(opened.unwrap().ends_with("opened, convenor local-admin"), "{mediating}");
    let invited =
        server.run(&["mediation", "invite", mediation_id, "--name", "李网格", "--role", "grid-worker"]).json();
    let participants = invited["participants"].as_array().unwrap_or_else(|| panic!("participants in {invited:#}"));
    assert!(participants.contains(&json!({ "name": "李网格", "role": "grid-worker" })), "{invited:#}");
    let text = gridloop_in(Some(&server.home), &["mediation", "show", mediation_id, "--server", &server.url]);
    assert!(text.stdout.contains("李网格 (grid-worker)"), "{text}");
}

#[test]
fn an_unsatisfied_evaluation_says_the_case_reopened_and_where() {
    let (_root, data) = data_dir();
    let server = Server::start(&data);
    let (reported, _) = report_dispatched(&server, &[]);
    let id = str_of(&reported["case_id"]);
    act(&server, "accept", &id, &["--assignee", ASSIGNEE]);
    act(&server, "resolve", &id, &["--summary", "已清理"]);

    let evaluated = evaluate(&server, &id, "unsatisfied");
    assert_eq!((&evaluated["satisfaction"], &evaluated["reopened"]), (&json!("unsatisfied"), &json!(true)));
    let case = &evaluated["case"];
    assert_eq!((&case["state"], &case["reopen_count"]), (&json!("accepted"), &json!(1)), "{evaluated:#}");
    assert_eq!(case["unit_code"], reported["grid_code"], "back with the grid that resolved it: {evaluated:#}");

    // A second round, for people.
    act(&server, "resolve", &id, &["--summary", "已再次清理"]);
    let hotline = server.token(&["--role", "hotline", "--subject", "12345-hotline"]);
    let args = ["case", "evaluate", &id, "--satisfaction", "unsatisfied", "--token", &hotline];
    let text = wait_for(FLOW, "the second feedback round to open", || {
        let run = gridloop_in(Some(&server.home), &[&args[..], &["--server", &server.url]].concat());
        run.status.success().then_some(run.stdout)
    });
    let grid = str_of(&reported["grid_code"]);
    assert!(text.contains(&format!("reopened: back with {grid} (grid) to rework, resolve by ")), "{text}");
    assert!(text.contains("reopened 2 times so far"), "{text}");
}

#[test]
fn a_long_description_comes_from_a_file_or_standard_input() {
    let (root, data) = data_dir();
    let server = Server::start(&data);
    let long = "三号楼二单元楼道堆放大量杂物。\n\n住户反映已持续两周,堵塞消防通道,夜间无照明,老人出行不便。\n";

    let file = root.path().join("description.txt");
    std::fs::write(&file, long).unwrap();
    let args = report_command(&server, 0);
    let args = strs(&args);
    let from_file = server.run(&[&args[..], &["--description-file", file.to_str().unwrap()]].concat()).json();
    let shown = wait_for_state(&server, &str_of(&from_file["case_id"]), "dispatched");
    assert_eq!(shown["case"]["description"], long.trim_end(), "the text, without the file's last line end");

    let args = report_command(&server, 1);
    let args = strs(&args);
    let piped = [&args[..], &["--description-file", "-", "--server", &server.url, "--json"]].concat();
    let from_stdin = gridloop_with(Some(&server.home), &piped, &[], Some(long)).json();
    let shown = wait_for_state(&server, &str_of(&from_stdin["case_id"]), "dispatched");
    assert_eq!(shown["case"]["description"], long.trim_end());

    let missing = root.path().join("missing.txt");
    let stderr = server.run(&[&args[..], &["--description-file", missing.to_str().unwrap()]].concat()).failure();
    assert!(stderr.contains("cannot read the description from"), "{stderr}");
}

/// Columns of a terminal, counting CJK and full-width characters as two (as the CLI does).
fn display_width(line: &str) -> usize {
    line.chars()
        .map(|c| if matches!(c as u32, 0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6) { 2 } else { 1 })
        .sum()
}

#[test]
fn a_case_history_fits_the_terminal_and_names_who_evaluated() {
    let (_root, data) = data_dir();
    let server = Server::start(&data);
    let (reported, _) = report_dispatched(&server, &[]);
    let id = str_of(&reported["case_id"]);
    take_to_closed(&server, &id);

    let narrow =
        gridloop_with(Some(&server.home), &["case", "show", &id, "--server", &server.url], &[("COLUMNS", "80")], None);
    assert!(narrow.status.success(), "{narrow}");
    let too_wide: Vec<&str> = narrow.stdout.lines().filter(|line| display_width(line) > 80).collect();
    assert!(too_wide.is_empty(), "lines over 80 columns: {too_wide:#?}\n{narrow}");
    // Nothing is cut: the longest payload is still there, wrapped onto more lines.
    let wide = gridloop_with(
        Some(&server.home),
        &["case", "show", &id, "--server", &server.url],
        &[("COLUMNS", "1000")],
        None,
    );
    assert!(narrow.stdout.lines().count() > wide.stdout.lines().count(), "{narrow}\n{wide}");
    let words = |text: &str| text.split_whitespace().collect::<String>();
    assert_eq!(words(&narrow.stdout).len(), words(&wide.stdout).len(), "the same text, wrapped");

    // Who evaluated: the hotline's callback that answered for the reporter, not dispatch which
    // recorded it.
    let evaluated = wide.stdout.lines().find(|line| line.contains("CaseEvaluated")).expect("CaseEvaluated line");
    assert!(evaluated.contains("hotline:12345-hotline") && !evaluated.contains("system:dispatch"), "{evaluated}");
    let shown = show(&server, &id);
    let entry = shown["history"].as_array().unwrap().iter().find(|e| e["event_type"] == "gridloop.v1.CaseEvaluated");
    let evaluated_by = &entry.unwrap_or_else(|| panic!("no evaluation in {shown:#}"))["payload"]["evaluated_by"];
    assert_eq!(evaluated_by, &json!({ "id": "12345-hotline", "jurisdiction": "", "role": "hotline" }), "{shown:#}");
}

#[test]
fn migrate_lists_only_the_flags_it_uses_and_migrates() {
    let help = gridloop(&["migrate", "--help"]);
    assert!(help.status.success(), "{help}");
    let flags: Vec<&str> = help
        .stdout
        .split_whitespace()
        .filter_map(|word| word.strip_prefix("--"))
        .map(|flag| flag.trim_end_matches(','))
        .collect();
    for used in
        ["service", "data-dir", "database-url", "schema-prefix", "jurisdiction", "catalog", "holidays", "nats-url"]
    {
        assert!(flags.contains(&used), "--{used} missing: {help}");
    }
    for unused in [
        "listen",
        "metrics-listen",
        "duplicate-radius-m",
        "drift-tolerance-pp",
        "mediation-max-turns",
        "inbox-retention-days",
    ] {
        assert!(!flags.contains(&unused), "--{unused} does nothing in migrate: {help}");
    }

    let (_root, data) = data_dir();
    let migrated = gridloop(&["migrate", "--data-dir", data.to_str().unwrap()]);
    assert!(migrated.status.success(), "{migrated}");
    for service in ["intake", "dispatch", "mediation", "evaluation"] {
        assert!(migrated.stderr.contains(&format!("{service}: store migrated")), "{migrated}");
        assert!(data.join(format!("{service}.db")).exists(), "{service}.db: {migrated}");
    }
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
