//! `gridloop simulate`: a synthetic city driven through the real services in one process, on a
//! virtual clock.
//!
//! The simulator starts the one-process app (`App`) on a [`ManualClock`] and talks to it over
//! gRPC like any client: residents and grid workers report cases (`ReportCase`), units accept,
//! resolve and escalate them (`AcceptCase`, `ResolveCase`, `EscalateCase`), reporters answer
//! (`EvaluateCase`), and the services' own timers escalate missed deadlines and apply default
//! evaluations. At the end it reads the 4321 distribution from the monitor
//! (`GetLevelDistribution`).
//!
//! **Time.** The clock moves in steps (`--step`, 10 virtual minutes). At each step the clock is
//! set, the timers due by then fire, the agents' actions due then run concurrently, and the
//! simulator waits until every effect has gone through all services before the clock moves again
//! (see [`observer`]). Steps where nothing is due are skipped.
//!
//! **Determinism.** Every random decision is drawn from the seed and what is being decided (the
//! case's arrival index, the episode, the purpose), fixed when a case reaches a level, and every
//! event of a step happens at the step's virtual time. A case's timers and its agent actions are
//! never due in the same step (the timer wins: an action due when the deadline has passed is too
//! late). So the simulation figures are a pure function of seed and flags; only the wall-clock
//! figures differ between runs.

pub mod model;
pub mod observer;
pub mod report;

use crate::app::{App, UpArgs};
use anyhow::{anyhow, bail, Context, Result};
use chrono::{DateTime, Duration, Utc};
use futures::future::BoxFuture;
use futures::FutureExt;
use gridloop_auth::{AuthChannel, BearerToken, Principal};
use gridloop_bus::{ManualClock, Subscription};
use gridloop_domain::access::Role;
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::dispatch_service_client::DispatchServiceClient;
use gridloop_proto::v1::evaluation_service_client::EvaluationServiceClient;
use gridloop_proto::v1::intake_service_client::IntakeServiceClient;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use model::{Answer, Area, Arrival, Arrivals, Grid, Level, Params, Plan, Timestamp};
use observer::{Feedback, Observer, ObserverHandler, Seen};
use report::{Monitor, Open, Performance, Setup, Stats};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use tonic::transport::Endpoint;

/// Rounds within one step before the simulation declares a livelock.
const MAX_ROUNDS: usize = 1000;
/// How long the services may take to settle one step before the simulation gives up.
const SETTLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

fn probability(text: &str) -> Result<f64, String> {
    let p: f64 = text.parse().map_err(|_| format!("{text:?} is not a number"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("{p} is not a probability (0 to 1)"))
    }
}

fn positive(text: &str) -> Result<f64, String> {
    let x: f64 = text.parse().map_err(|_| format!("{text:?} is not a number"))?;
    if x > 0.0 && x.is_finite() {
        Ok(x)
    } else {
        Err(format!("{x} must be positive"))
    }
}

fn non_negative(text: &str) -> Result<f64, String> {
    let x: f64 = text.parse().map_err(|_| format!("{text:?} is not a number"))?;
    if x >= 0.0 && x.is_finite() {
        Ok(x)
    } else {
        Err(format!("{x} must be 0 or more"))
    }
}

fn span(text: &str) -> Result<Duration, String> {
    let d = model::parse_span(text)?;
    if d <= Duration::zero() {
        return Err(format!("{text:?} must be longer than zero"));
    }
    Ok(d)
}

fn instant(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{text:?} is not an RFC 3339 time such as 2026-03-02T09:00:00+08:00: {e}"))
}

/// Drive a synthetic city through the real services on a virtual clock.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "gridloop simulate")]
pub struct SimulateArgs {
    /// Virtual days of arrivals.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub days: u32,
    /// Seed of every random decision: the same seed and flags give the same simulation figures.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// City-wide arrival rate (a Poisson process).
    #[arg(long, default_value = "400", value_parser = positive)]
    pub cases_per_day: f64,
    /// Virtual time between clock steps (units s, m, h, d); every action happens on a step.
    #[arg(long, default_value = "10m", value_parser = span)]
    pub step: Duration,
    /// Extra virtual days after the last arrival, so open cases can finish.
    #[arg(long, default_value_t = 0)]
    pub drain_days: u32,
    /// Virtual start time (the default is a Monday, 09:00 Beijing time).
    #[arg(long, default_value = "2026-03-02T09:00:00+08:00", value_parser = instant)]
    pub start: DateTime<Utc>,

    /// Probability that the grid accepts and resolves a case that reaches it.
    #[arg(long, default_value = "0.51", value_parser = probability)]
    pub grid_resolve_prob: f64,
    /// Probability that the community resolves a case that reaches it.
    #[arg(long, default_value = "0.57", value_parser = probability)]
    pub community_resolve_prob: f64,
    /// Probability that the street resolves a case that reaches it (the district always does).
    #[arg(long, default_value = "0.70", value_parser = probability)]
    pub street_resolve_prob: f64,
    /// Of the cases a level does not resolve, the share it asks to escalate (提请); it leaves the
    /// others until the deadline escalates them.
    #[arg(long, default_value = "0.75", value_parser = probability)]
    pub request_share: f64,
    /// Mean handling time at the grid (exponentially distributed).
    #[arg(long, default_value = "4h", value_parser = span)]
    pub grid_handling: Duration,
    /// Mean handling time at the community.
    #[arg(long, default_value = "8h", value_parser = span)]
    pub community_handling: Duration,
    /// Mean handling time at the street.
    #[arg(long, default_value = "1d", value_parser = span)]
    pub street_handling: Duration,
    /// Mean handling time at the district.
    #[arg(long, default_value = "2d", value_parser = span)]
    pub district_handling: Duration,
    /// Multiplies every handling time: slower units miss more deadlines and the system escalates
    /// those cases (the same as tightening every SLA by this factor).
    #[arg(long, default_value = "1", value_parser = positive)]
    pub handling_scale: f64,
    /// Reporters who never answer (the default evaluation applies at the feedback deadline).
    #[arg(long, default_value = "0.15", value_parser = probability)]
    pub no_answer: f64,
    /// Of the answers, the share unsatisfied (the case reopens with the unit that resolved it).
    #[arg(long, default_value = "0.05", value_parser = probability)]
    pub unsatisfied: f64,
    /// Of the answers, the share basically satisfied (the rest are satisfied).
    #[arg(long, default_value = "0.15", value_parser = probability)]
    pub basically_satisfied: f64,
    /// Mean time a reporter takes to answer.
    #[arg(long, default_value = "6h", value_parser = span)]
    pub answer_delay: Duration,
    /// Mean time the grid worker takes to verify on site (核查) a case resolved above the grid
    /// whose category requires it.
    #[arg(long, default_value = "2h", value_parser = span)]
    pub verify_delay: Duration,
    /// Share of on-site verifications that fail (the resolving unit reworks the case).
    #[arg(long, default_value = "0.05", value_parser = probability)]
    pub verify_fail: f64,

    /// Duplicate detection's radius in metres, as `gridloop up --duplicate-radius-m` (0 turns it
    /// off): a report of the same category this close to an open case is linked to it.
    #[arg(long, default_value_t = gridloop_domain::duplicates::DuplicatePolicy::DEFAULT_RADIUS_M, value_parser = non_negative)]
    pub duplicate_radius_m: f64,
    /// gRPC connections, each carrying one call at a time: the calls in flight within a step.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: u32,
    /// Simulate this city instead of the shipped default: its jurisdiction, responsibility list
    /// (SLAs) and holidays, as `gridloop up` takes them.
    #[command(flatten)]
    pub policy: crate::app::PolicyFiles,
    /// Keep the services' data here (must be empty or absent). Default: a temporary directory,
    /// in memory (/dev/shm) where there is one, deleted at the end.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Print one JSON document: {"simulation": …, "performance": …}.
    #[arg(long)]
    pub json: bool,
}

impl SimulateArgs {
    pub fn params(&self) -> Params {
        Params {
            resolve_prob: [self.grid_resolve_prob, self.community_resolve_prob, self.street_resolve_prob],
            handling_mean: [self.grid_handling, self.community_handling, self.street_handling, self.district_handling],
            handling_scale: self.handling_scale,
            request_share: self.request_share,
            no_answer: self.no_answer,
            unsatisfied: self.unsatisfied,
            basically_satisfied: self.basically_satisfied,
            answer_delay_mean: self.answer_delay,
            verify_delay_mean: self.verify_delay,
            verify_fail: self.verify_fail,
            step: self.step,
        }
    }
}

/// The result of a run: the simulation figures and the wall-clock figures, apart.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub simulation: Value,
    pub performance: Value,
}

impl Outcome {
    pub fn json(&self) -> Value {
        serde_json::json!({"simulation": self.simulation, "performance": self.performance})
    }

    pub fn text(&self) -> String {
        report::text(&self.simulation, &self.performance)
    }
}

/// `gridloop simulate`: run and print.
pub async fn run(args: SimulateArgs) -> Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,sqlx=warn")),
        )
        .try_init();
    let progress = !args.json && std::io::stderr().is_terminal();
    let outcome = simulate(&args, progress).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome.json())?);
    } else {
        print!("{}", outcome.text());
    }
    Ok(())
}

/// What the simulator knows of one case, from the events it has seen.
#[derive(Debug)]
struct Case {
    index: u64,
    /// The case's id; for a report linked to another case, that case's id.
    id: String,
    category: usize,
    location: (f64, f64),
    patrol: bool,
    reported_at: Timestamp,
    version: u64,
    state: State,
    level: Level,
    entry: Option<Level>,
    /// The running deadline (accept or resolve) while dispatched or accepted.
    deadline: Option<Timestamp>,
    /// The resolve deadline set when the current episode's unit accepted (or the case reopened).
    resolve_deadline: Option<Timestamp>,
    /// Episodes so far: the dispatch, then one per escalation or reopening.
    episodes: u32,
    /// The district missed its deadline in the current episode.
    overdue: bool,
    missed_any: bool,
    resolved_on_time: bool,
    plan: VecDeque<(Timestamp, Action)>,
    feedback_due: Option<Timestamp>,
    feedback_rounds: u32,
    /// Feedback events seen (rounds requested, answers, defaults): what a step waits for.
    feedback_events: u32,
    /// Resolutions that waited for an on-site verification so far.
    verification_rounds: u32,
}

impl Case {
    fn reported(arrival: &Arrival, now: Timestamp) -> Case {
        Case {
            index: arrival.index,
            id: String::new(),
            category: arrival.category,
            location: arrival.location,
            patrol: arrival.patrol,
            reported_at: now,
            version: 0,
            state: State::Reported,
            level: Level::Grid,
            entry: None,
            deadline: None,
            resolve_deadline: None,
            episodes: 0,
            overdue: false,
            missed_any: false,
            resolved_on_time: false,
            plan: VecDeque::new(),
            feedback_due: None,
            feedback_rounds: 0,
            feedback_events: 0,
            verification_rounds: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Reported,
    /// Linked to an existing case as a duplicate: no case of its own.
    Linked,
    Dispatched,
    Accepted,
    AwaitingVerification,
    Resolved,
    Closed,
    Rejected,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Reported => "reported",
            State::Linked => "linked",
            State::Dispatched => "dispatched",
            State::Accepted => "accepted",
            State::AwaitingVerification => "awaiting_verification",
            State::Resolved => "resolved",
            State::Closed => "closed",
            State::Rejected => "rejected",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Action {
    Accept,
    Resolve,
    Escalate(&'static str),
    /// 核查, passed or not.
    Verify(bool),
    Answer(Answer),
}

/// A finished gRPC call of one step.
enum Done {
    Reported {
        slot: usize,
        case_id: String,
        linked: bool,
    },
    /// `asks_feedback`: the command left the case resolved, so evaluation opens a feedback round.
    Command {
        slot: usize,
        version: u64,
        asks_feedback: bool,
    },
    Answered {
        slot: usize,
    },
    Refused {
        slot: usize,
        kind: &'static str,
        status: tonic::Status,
    },
}

impl Done {
    fn slot(&self) -> usize {
        match self {
            Done::Reported { slot, .. }
            | Done::Command { slot, .. }
            | Done::Answered { slot }
            | Done::Refused { slot, .. } => *slot,
        }
    }
}

/// The simulator's clients: the city's staff as the installation's admin, and the residents'
/// evaluations taken by the 12345 hotline's callback (回访) — the admin may not record them.
#[derive(Clone)]
struct Clients {
    intake: IntakeServiceClient<AuthChannel>,
    dispatch: DispatchServiceClient<AuthChannel>,
    evaluation: EvaluationServiceClient<AuthChannel>,
    callback: EvaluationServiceClient<AuthChannel>,
}

impl Clients {
    async fn connect(app: &App) -> Result<Clients> {
        let channel = Endpoint::from_shared(format!("http://{}", app.addr))?.tcp_nodelay(true).connect().await?;
        let key = app.signing_key().context("the simulated installation has no signing key")?;
        let as_principal = |subject: &str, role: Role| -> Result<AuthChannel> {
            let token = key.issue(&Principal::new(subject, role, None, None)?, Duration::days(1))?;
            Ok(BearerToken::new(&token)?.channel(channel.clone()))
        };
        let staff = as_principal("simulator", Role::Admin)?;
        Ok(Clients {
            intake: IntakeServiceClient::new(staff.clone()),
            dispatch: DispatchServiceClient::new(staff.clone()),
            evaluation: EvaluationServiceClient::new(staff),
            callback: EvaluationServiceClient::new(as_principal("simulator-12345", Role::Hotline)?),
        })
    }
}

/// One gRPC call of a step, run on whichever lane it is given to.
type Job = Box<dyn FnOnce(Clients) -> BoxFuture<'static, Done> + Send>;

/// Run the step's calls on `lanes`: each lane is its own connection and carries one call at a
/// time. (Several calls in flight on one HTTP/2 connection to a server socket without
/// TCP_NODELAY wait for delayed ACKs, ~40 ms a step.) Jobs go to lanes round robin.
async fn run_jobs(lanes: &[Clients], jobs: Vec<Job>) -> Vec<Done> {
    let mut per_lane: Vec<Vec<Job>> = lanes.iter().map(|_| Vec::new()).collect();
    for (i, job) in jobs.into_iter().enumerate() {
        per_lane[i % lanes.len()].push(job);
    }
    let runs = per_lane.into_iter().zip(lanes).filter(|(jobs, _)| !jobs.is_empty()).map(|(jobs, clients)| async move {
        let mut done = Vec::with_capacity(jobs.len());
        for job in jobs {
            done.push(job(clients.clone()).await);
        }
        done
    });
    futures::future::join_all(runs).await.into_iter().flatten().collect()
}

/// The city and catalog as the services describe them.
struct City {
    grids: Vec<Area>,
    categories: Vec<pb::Category>,
    weights: Vec<f64>,
}

async fn load_city(clients: &mut Clients) -> Result<City> {
    let mut nodes = clients
        .intake
        .get_jurisdiction(pb::GetJurisdictionRequest {})
        .await
        .context("GetJurisdiction")?
        .into_inner()
        .nodes;
    nodes.retain(|n| n.level() == pb::Level::Grid && n.interior_point.is_some());
    nodes.sort_by(|a, b| a.code.cmp(&b.code));
    let grids: Vec<Area> = nodes
        .into_iter()
        .filter_map(|n| {
            let interior = n.interior_point?;
            Some(Area {
                interior: (interior.lat, interior.lon),
                boundary: n.boundary.iter().map(|p| (p.lat, p.lon)).collect(),
            })
        })
        .collect();
    let mut categories =
        clients.intake.get_catalog(pb::GetCatalogRequest {}).await.context("GetCatalog")?.into_inner().categories;
    categories.sort_by(|a, b| a.code.cmp(&b.code));
    if grids.is_empty() || categories.is_empty() {
        bail!("the city has no grids or no categories to simulate");
    }
    let weights = categories.iter().map(|c| model::category_weight(&c.code)).collect();
    Ok(City { grids, categories, weights })
}

fn to_level(level: pb::Level) -> Level {
    match level {
        pb::Level::Community => Level::Community,
        pb::Level::Street => Level::Street,
        pb::Level::District => Level::District,
        _ => Level::Grid,
    }
}

fn actor(level: Level) -> Option<pb::Actor> {
    Some(pb::Actor { role: level.role().into(), id: format!("sim-{}", level.name()), jurisdiction: String::new() })
}

struct Simulation {
    seed: u64,
    /// Duplicate detection's radius (0: off).
    duplicate_radius_m: f64,
    params: Params,
    grid: Grid,
    cases: Vec<Case>,
    by_id: HashMap<String, usize>,
    /// Slots of cases not yet closed or rejected.
    active: BTreeSet<usize>,
    stats: Stats,
}

impl Simulation {
    /// A case reached a level (or came back reopened): the unit's plan for it, fixed now.
    fn new_episode(&mut self, slot: usize, now: Timestamp, accepted: bool) {
        let case = &mut self.cases[slot];
        let accept_by = if accepted { None } else { Some(case.deadline.unwrap_or(now + Duration::days(1))) };
        let plan = self.params.episode(self.seed, case.index, case.episodes, case.level, accept_by, now);
        case.episodes += 1;
        case.overdue = false;
        if !accepted {
            case.resolve_deadline = None;
        }
        case.plan.clear();
        let decisions = &mut self.stats.decisions[case.level as usize];
        match plan {
            Plan::Resolve { accept_at, resolve_at } => {
                if !accepted {
                    decisions[0] += 1;
                }
                if let Some(at) = accept_at {
                    case.plan.push_back((at, Action::Accept));
                }
                case.plan.push_back((resolve_at, Action::Resolve));
            }
            Plan::Request { accept_at, escalate_at, note } => {
                decisions[1] += 1;
                case.plan.push_back((accept_at, Action::Accept));
                case.plan.push_back((escalate_at, Action::Escalate(note)));
            }
            Plan::Ignore => decisions[2] += 1,
        }
    }

    /// Fold what the observer saw of one case during the step at `now`.
    fn ingest(
        &mut self,
        slot: usize,
        now: Timestamp,
        events: Vec<(u64, Timestamp, Seen)>,
        feedback: Vec<(Timestamp, Feedback)>,
    ) {
        for (version, occurred_at, seen) in events {
            if occurred_at != now {
                self.stats.events_off_step += 1;
            }
            let case = &mut self.cases[slot];
            case.version = case.version.max(version);
            match seen {
                Seen::Dispatched { level, deadline } => {
                    case.state = State::Dispatched;
                    case.level = level;
                    case.deadline = deadline;
                    if case.entry.is_none() {
                        case.entry = Some(level);
                        self.stats.entry[level as usize] += 1;
                    }
                    self.new_episode(slot, now, false);
                }
                Seen::Accepted { deadline } => {
                    case.state = State::Accepted;
                    case.deadline = deadline;
                    case.resolve_deadline = deadline;
                }
                Seen::Escalated { from, to, requested, note, deadline } => {
                    *self.stats.escalations.entry((from, to, requested, note)).or_default() += 1;
                    if !requested {
                        case.missed_any = true;
                    }
                    case.state = State::Dispatched;
                    case.level = to;
                    case.deadline = deadline;
                    self.new_episode(slot, now, false);
                }
                Seen::DeadlineMissed { next_deadline, .. } => {
                    self.stats.district_overdue += 1;
                    case.deadline = next_deadline;
                    case.overdue = true;
                    case.missed_any = true;
                }
                Seen::Transferred { deadline } => {
                    case.state = State::Dispatched;
                    case.deadline = deadline;
                    self.new_episode(slot, now, false);
                }
                Seen::Resolved { level, verify_by } => {
                    self.stats.resolutions[level as usize] += 1;
                    case.resolved_on_time = !case.overdue && case.resolve_deadline.is_none_or(|d| now < d);
                    case.level = level;
                    // While the grid worker checks, the check's deadline runs.
                    case.deadline = verify_by;
                    case.plan.clear();
                    if verify_by.is_some() {
                        let round = case.verification_rounds;
                        case.verification_rounds += 1;
                        let (at, passed) = self.params.verification(self.seed, case.index, round, now);
                        case.plan.push_back((at, Action::Verify(passed)));
                        case.state = State::AwaitingVerification;
                    } else {
                        case.state = State::Resolved;
                    }
                }
                Seen::Verified { passed } => {
                    self.stats.verifications[usize::from(!passed)] += 1;
                    case.deadline = None;
                    if passed {
                        case.state = State::Resolved; // the feedback round follows
                    }
                }
                Seen::VerificationOverdue { next_deadline } => {
                    self.stats.verifications_overdue += 1;
                    case.deadline = next_deadline;
                }
                Seen::Evaluated { satisfaction, defaulted } => {
                    if !defaulted {
                        *self.stats.answered.entry(satisfaction).or_default() += 1;
                    }
                }
                Seen::Reopened { level, deadline } => {
                    self.stats.reopened += 1;
                    case.state = State::Accepted;
                    case.level = level;
                    case.deadline = deadline;
                    case.resolve_deadline = deadline;
                    self.new_episode(slot, now, true);
                }
                Seen::Closed { level } => {
                    self.stats.closed[level as usize] += 1;
                    self.stats.closed_on_time += u64::from(case.resolved_on_time);
                    self.stats.closed_never_missed += u64::from(!case.missed_any);
                    self.stats.time_to_close.push((now - case.reported_at).num_seconds());
                    case.state = State::Closed;
                    case.level = level;
                    case.plan.clear();
                    self.active.remove(&slot);
                }
                Seen::Rejected => {
                    self.stats.rejected += 1;
                    case.state = State::Rejected;
                    case.plan.clear();
                    self.active.remove(&slot);
                }
                Seen::Opened | Seen::Prioritized => {}
                Seen::Linked => self.stats.links_seen += 1,
                Seen::Other(name) => *self.stats.other_events.entry(name).or_default() += 1,
            }
        }
        for (occurred_at, seen) in feedback {
            if occurred_at != now {
                self.stats.events_off_step += 1;
            }
            let case = &mut self.cases[slot];
            case.feedback_events += 1;
            match seen {
                Feedback::Requested { due_at } => {
                    let round = case.feedback_rounds;
                    case.feedback_rounds += 1;
                    case.feedback_due = due_at;
                    if let Some(due_at) = due_at {
                        if let Some((at, answer)) = self.params.feedback(self.seed, case.index, round, now, due_at) {
                            case.plan = VecDeque::from([(at, Action::Answer(answer))]);
                        }
                    }
                }
                Feedback::Received => case.feedback_due = None,
                Feedback::Defaulted => {
                    self.stats.defaulted += 1;
                    case.feedback_due = None;
                }
            }
        }
    }

    /// Whether duplicate detection might link report `slot` to case (or report) `other`: same
    /// category, close enough (with a margin over the radius). Such a report waits for a later
    /// round of the step.
    fn may_link(&self, slot: usize, other: usize) -> bool {
        let (a, b) = (&self.cases[slot], &self.cases[other]);
        self.duplicate_radius_m > 0.0
            && a.category == b.category
            && model::distance_m(a.location, b.location) <= self.duplicate_radius_m * 1.5 + 1.0
    }

    /// How many case-stream events and feedback events a timer due by `now` will append, if one is.
    fn timer_due(case: &Case, now: Timestamp) -> Option<(u64, u32)> {
        match case.state {
            State::Dispatched | State::Accepted | State::AwaitingVerification
                if case.deadline.is_some_and(|d| d <= now) =>
            {
                Some((1, 0))
            }
            // FeedbackDefaulted, then CaseEvaluated + CaseClosed (or CaseReopened).
            State::Resolved if case.feedback_due.is_some_and(|d| d <= now) => Some((2, 1)),
            _ => None,
        }
    }

    /// The next step at which anything is due after `now`.
    fn next_due(&self, now: Timestamp, next_arrival: Option<Timestamp>) -> Option<Timestamp> {
        let mut next = next_arrival.map(|t| self.grid.ceil(t));
        let mut consider = |t: Timestamp| {
            let t = self.grid.ceil(t);
            next = Some(next.map_or(t, |n| n.min(t)));
        };
        for &slot in &self.active {
            let case = &self.cases[slot];
            if let Some((at, _)) = case.plan.front() {
                consider(*at);
            }
            match case.state {
                State::Dispatched | State::Accepted | State::AwaitingVerification => {
                    case.deadline.into_iter().for_each(&mut consider)
                }
                State::Resolved => case.feedback_due.into_iter().for_each(&mut consider),
                _ => {}
            }
        }
        next.map(|t| t.max(now + self.grid.step))
    }
}

/// Run one simulation. `progress` shows a progress bar on stderr.
pub async fn simulate(args: &SimulateArgs, progress: bool) -> Result<Outcome> {
    let temp;
    let data_dir = match &args.data_dir {
        Some(dir) => {
            if dir.exists() && std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
                bail!("--data-dir {} is not empty: a simulation needs a fresh city", dir.display());
            }
            dir.clone()
        }
        None => {
            // In memory where the system has a tmpfs: the city is thrown away at the end, so the
            // stores' fsyncs buy nothing (on this project's VMs they cost ~3× the run time).
            let builder = || tempfile::Builder::new().prefix("gridloop-simulate-").clone();
            let shm = std::path::Path::new("/dev/shm");
            temp = match shm.is_dir().then(|| builder().tempdir_in(shm)) {
                Some(Ok(dir)) => dir,
                _ => builder().tempdir().context("cannot create a temporary data directory")?,
            };
            temp.path().to_path_buf()
        }
    };
    let storage = data_dir.display().to_string();
    let wall = std::time::Instant::now();
    let clock = ManualClock::new(args.start);
    let mut up = UpArgs::embedded(&data_dir, "127.0.0.1:0".parse().expect("a socket address"));
    up.policy = args.policy.clone();
    up.duplicate_radius_m = args.duplicate_radius_m;
    // The simulator's own server on loopback, driven by one principal: no per-principal throttle.
    up.security.limits = gridloop_auth::LimitArgs::unthrottled();
    let app = App::start(&up, Arc::new(clock.clone())).await?;
    let observer = Arc::new(Observer::default());
    app.bus.subscribe(Subscription {
        consumer: "simulate.observer".into(),
        sources: crate::app::ServiceName::ALL.iter().map(|s| s.as_str().to_string()).collect(),
        event_types: vec![],
        handler: Arc::new(ObserverHandler(observer.clone())),
    })?;
    let result = drive(args, &app, &clock, &observer, progress, wall, storage).await;
    app.shutdown().await?;
    result
}

async fn drive(
    args: &SimulateArgs,
    app: &App,
    clock: &ManualClock,
    observer: &Observer,
    progress: bool,
    wall: std::time::Instant,
    storage: String,
) -> Result<Outcome> {
    let params = args.params();
    let mut lanes = Vec::new();
    for _ in 0..args.concurrency {
        lanes.push(Clients::connect(app).await?);
    }
    let mut clients = lanes[0].clone();
    let city = load_city(&mut clients).await?;

    let start = args.start;
    let arrivals_end = start + Duration::days(i64::from(args.days));
    let end = arrivals_end + Duration::days(i64::from(args.drain_days));
    let grid = Grid { start, step: params.step };
    let mut arrivals =
        Arrivals::new(args.seed, start, args.cases_per_day, &city.weights, city.grids.clone()).peekable();

    // What the model aims at: the catalog's entry mix under the category weights.
    let mut entry_mix = [0.0; 4];
    let total_weight: f64 = city.weights.iter().sum();
    for (category, weight) in city.categories.iter().zip(&city.weights) {
        entry_mix[to_level(category.start_level()) as usize] += weight / total_weight;
    }
    let setup = Setup {
        seed: args.seed,
        days: args.days,
        drain_days: args.drain_days,
        cases_per_day: args.cases_per_day,
        start,
        expected: params.expected_distribution(entry_mix),
        expected_entry: entry_mix,
        params: params.clone(),
        grids: city.grids.len(),
        categories: city.categories.len(),
    };

    let bar =
        if progress { ProgressBar::new((end - start).num_seconds().max(1) as u64) } else { ProgressBar::hidden() };
    if progress {
        bar.set_draw_target(ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} day {msg} [{wide_bar}] {percent:>3}% {elapsed}")
                .expect("a valid progress template")
                .progress_chars("=> "),
        );
    }

    let mut sim = Simulation {
        seed: args.seed,
        duplicate_radius_m: args.duplicate_radius_m,
        params,
        grid,
        cases: Vec::new(),
        by_id: HashMap::new(),
        active: BTreeSet::new(),
        stats: Stats::default(),
    };
    let mut perf = Performance { storage, ..Performance::default() };
    let mut now = start;
    let mut first = true;

    loop {
        let next_arrival = arrivals.peek().filter(|a| a.at < arrivals_end).map(|a| a.at);
        let next = if first { Some(grid.ceil(next_arrival.unwrap_or(start))) } else { sim.next_due(now, next_arrival) };
        first = false;
        let Some(next) = next.filter(|t| *t <= end) else { break };
        now = next;
        clock.set(now);
        perf.steps += 1;

        // Reports of this step, in arrival order.
        let mut pending: VecDeque<usize> = VecDeque::new();
        while let Some(arrival) = arrivals.next_if(|a| a.at < arrivals_end && grid.ceil(a.at) <= now) {
            let slot = sim.cases.len();
            sim.cases.push(Case::reported(&arrival, now));
            sim.active.insert(slot);
            sim.stats.reported += 1;
            pending.push_back(slot);
        }

        // The step runs in rounds, each settled before the next: timers due and agents' actions
        // due, then whatever the round's events made due at once (a unit that must accept before
        // the next step), and reports that duplicate detection could link to a case acted on in
        // the same round (or to another report of it), so no outcome depends on which call the
        // services finish first.
        for round in 0.. {
            if round > MAX_ROUNDS {
                bail!("step {now} did not finish in {MAX_ROUNDS} rounds");
            }
            let mut expect: Vec<Expect> = Vec::new();
            let mut work: Vec<Job> = Vec::new();
            let mut touched: Vec<usize> = Vec::new();
            // Timers due by now fire on their own; agents act on the other cases.
            for &slot in &sim.active {
                let case = &mut sim.cases[slot];
                if let Some((events, feedback)) = Simulation::timer_due(case, now) {
                    expect.push(Expect::case(slot, case.version + events, case.feedback_events + feedback));
                    touched.push(slot);
                    continue;
                }
                let Some(&(at, action)) = case.plan.front() else { continue };
                if at > now {
                    continue;
                }
                case.plan.pop_front();
                let fits = match action {
                    Action::Accept => case.state == State::Dispatched,
                    Action::Resolve | Action::Escalate(_) => case.state == State::Accepted,
                    Action::Verify(_) => case.state == State::AwaitingVerification,
                    Action::Answer(_) => case.state == State::Resolved,
                };
                if !fits {
                    sim.stats.stale_plans += 1;
                    continue;
                }
                work.push(command(slot, case, action));
                touched.push(slot);
                *sim.stats.commands.entry(action_kind(action)).or_default() += 1;
            }
            let mut reports: Vec<usize> = Vec::new();
            let mut waiting = VecDeque::new();
            for slot in pending.drain(..) {
                let linkable = |other: &usize| sim.may_link(slot, *other);
                if touched.iter().any(linkable) || reports.iter().any(linkable) {
                    waiting.push_back(slot);
                } else {
                    reports.push(slot);
                }
            }
            pending = waiting;
            if round > 0 && !reports.is_empty() {
                sim.stats.report_rounds += 1;
            }
            for &slot in &reports {
                work.push(report(&city, args.seed, slot, &sim.cases[slot]));
                *sim.stats.commands.entry("report").or_default() += 1;
            }
            if work.is_empty() && expect.is_empty() {
                if pending.is_empty() {
                    break;
                }
                continue;
            }

            perf.commands += work.len() as u64;
            let mut done = run_jobs(&lanes, work).await;
            done.sort_by_key(|d| d.slot());
            let mut links: HashMap<usize, u64> = HashMap::new();
            for d in done {
                match d {
                    Done::Reported { slot, case_id, linked: false } => {
                        if sim.by_id.insert(case_id.clone(), slot).is_some() {
                            bail!("report #{slot} opened case {case_id}, which an earlier report opened");
                        }
                        sim.cases[slot].id = case_id;
                        // CaseOpened + CaseDispatched, and intake's open-case model has it.
                        expect.push(Expect { slot, version: 2, feedback_events: 0, reported: true });
                    }
                    Done::Reported { slot, case_id, linked: true } => {
                        let target = *sim.by_id.get(&case_id).ok_or_else(|| {
                            anyhow!("report #{slot} was linked to case {case_id}, which the simulation did not open")
                        })?;
                        sim.stats.linked += 1;
                        sim.cases[slot].state = State::Linked;
                        sim.cases[slot].id = case_id;
                        sim.active.remove(&slot);
                        // Dispatch adds the report to the case's history: one more event.
                        let extra = links.entry(target).or_default();
                        *extra += 1;
                        let case = &sim.cases[target];
                        expect.push(Expect::case(target, case.version + *extra, case.feedback_events));
                    }
                    Done::Command { slot, version, asks_feedback } => {
                        let case = &sim.cases[slot];
                        // A resolution (or a passed verification) opens a feedback round.
                        let feedback = case.feedback_events + u32::from(asks_feedback);
                        expect.push(Expect::case(slot, version, feedback));
                    }
                    Done::Answered { slot } => {
                        let case = &sim.cases[slot];
                        // CaseEvaluated + CaseClosed or CaseReopened.
                        // FeedbackReceived, then CaseEvaluated + CaseClosed or CaseReopened.
                        expect.push(Expect::case(slot, case.version + 2, case.feedback_events + 1));
                    }
                    Done::Refused { slot, kind, status } => match status.code() {
                        tonic::Code::FailedPrecondition | tonic::Code::Aborted => {
                            tracing::warn!(case = %sim.cases[slot].id, kind, %status, "command refused");
                            sim.stats.refused += 1;
                        }
                        _ => bail!("{kind} for case #{slot} failed: {status}"),
                    },
                }
            }

            settle(observer, &sim, expect, now).await?;

            let mut seen: Vec<(usize, _, _)> = Vec::new();
            for (id, events, feedback) in observer.take() {
                let slot = *sim
                    .by_id
                    .get(&id)
                    .ok_or_else(|| anyhow!("events for a case the simulation did not report: {id}"))?;
                seen.push((slot, events, feedback));
            }
            seen.sort_by_key(|(slot, _, _)| *slot);
            for (slot, events, feedback) in seen {
                sim.ingest(slot, now, events, feedback);
            }
        }

        bar.set_position((now - start).num_seconds().max(0) as u64);
        bar.set_message(format!(
            "{:.1}/{} · {} cases · {} open",
            (now - start).num_seconds() as f64 / 86_400.0,
            args.days + args.drain_days,
            sim.stats.reported,
            sim.active.len()
        ));
    }
    bar.finish_and_clear();

    let distribution = clients
        .evaluation
        .get_level_distribution(pb::GetLevelDistributionRequest::default())
        .await
        .context("GetLevelDistribution")?
        .into_inner();
    let mut monitor = Monitor { closed_total: distribution.closed_total, counts: [0; 4] };
    for share in &distribution.levels {
        monitor.counts[to_level(share.level()) as usize] = share.count;
    }
    let mut open = Open::default();
    for &slot in &sim.active {
        let case = &sim.cases[slot];
        *open.by_state.entry(case.state.name()).or_default() += 1;
        open.by_level[case.level as usize] += 1;
    }
    perf.elapsed = wall.elapsed();
    perf.events = observer.events_seen();
    perf.reported = sim.stats.reported;
    Ok(Outcome {
        simulation: report::simulation_json(&setup, &sim.stats, &monitor, &open),
        performance: report::performance_json(&perf),
    })
}

/// What a step waits for: the case's stream at `version` with `feedback_events` feedback events,
/// and, with `reported`, its report through intake's consumers.
#[derive(Debug, Clone, Copy)]
struct Expect {
    slot: usize,
    version: u64,
    feedback_events: u32,
    reported: bool,
}

impl Expect {
    fn case(slot: usize, version: u64, feedback_events: u32) -> Expect {
        Expect { slot, version, feedback_events, reported: false }
    }
}

/// Wait until every expected effect of this round has gone through all the services.
async fn settle(observer: &Observer, sim: &Simulation, mut expect: Vec<Expect>, now: Timestamp) -> Result<()> {
    let give_up = tokio::time::Instant::now() + SETTLE_TIMEOUT;
    loop {
        expect.retain(|e| !observer.reached(&sim.cases[e.slot].id, e.version, e.feedback_events, e.reported));
        let Some(e) = expect.first().copied() else { return Ok(()) };
        tokio::select! {
            _ = observer.changed() => {}
            _ = tokio::time::sleep_until(give_up) => {
                let case = &sim.cases[e.slot];
                let (version, feedback, reported) = observer.progress(&case.id);
                bail!(
                    "the services did not settle at {now}: case #{} ({}) {} at {} expected {e:?}, saw version \
                     {version} with {feedback} feedback events (report seen: {reported}); {} cases waiting",
                    case.index, case.id, case.state.name(), case.level.name(), expect.len()
                );
            }
        }
    }
}

fn action_kind(action: Action) -> &'static str {
    match action {
        Action::Accept => "accept",
        Action::Resolve => "resolve",
        Action::Escalate(_) => "escalate",
        Action::Verify(_) => "verify",
        Action::Answer(_) => "evaluate",
    }
}

const ASSIGNEES: [&str; 4] = ["网格员", "社区干部", "街道干部", "区职能部门"];

/// The gRPC call for an agent's action on a case, checked against the version it last saw.
fn command(slot: usize, case: &Case, action: Action) -> Job {
    let kind = action_kind(action);
    let (case_id, version, level) = (case.id.clone(), case.version, case.level);
    Box::new(move |clients: Clients| {
        let Clients { mut dispatch, mut callback, .. } = clients;
        async move {
            let reply = match action {
                Action::Accept => dispatch
                    .accept_case(pb::AcceptCaseRequest {
                        case_id,
                        expected_version: version,
                        actor: actor(level),
                        assignee: ASSIGNEES[level as usize].into(),
                    })
                    .await
                    .map(tonic::Response::into_inner),
                Action::Resolve => dispatch
                    .resolve_case(pb::ResolveCaseRequest {
                        case_id,
                        expected_version: version,
                        actor: actor(level),
                        summary: format!("{}已办结", level.chinese()),
                    })
                    .await
                    .map(tonic::Response::into_inner),
                Action::Escalate(note) => dispatch
                    .escalate_case(pb::EscalateCaseRequest {
                        case_id,
                        expected_version: version,
                        actor: actor(level),
                        reason: note.into(),
                    })
                    .await
                    .map(tonic::Response::into_inner),
                Action::Verify(passed) => dispatch
                    .verify_case(pb::VerifyCaseRequest {
                        case_id,
                        expected_version: version,
                        actor: actor(Level::Grid),
                        verifier: ASSIGNEES[Level::Grid as usize].into(),
                        passed,
                        note: if passed { String::new() } else { "现场核查未通过".into() },
                    })
                    .await
                    .map(tonic::Response::into_inner),
                Action::Answer(answer) => {
                    let satisfaction = match answer {
                        Answer::Satisfied => pb::Satisfaction::Satisfied,
                        Answer::BasicallySatisfied => pb::Satisfaction::BasicallySatisfied,
                        Answer::Unsatisfied => pb::Satisfaction::Unsatisfied,
                    };
                    let request = pb::EvaluateCaseRequest {
                        case_id,
                        actor: Some(pb::Actor {
                            role: "resident".into(),
                            id: "sim-reporter".into(),
                            jurisdiction: String::new(),
                        }),
                        satisfaction: satisfaction as i32,
                        comment: if answer == Answer::Unsatisfied { "问题未解决".into() } else { String::new() },
                    };
                    return match callback.evaluate_case(request).await {
                        Ok(_) => Done::Answered { slot },
                        Err(status) => Done::Refused { slot, kind, status },
                    };
                }
            };
            match reply {
                Ok(reply) => {
                    let resolved = reply.case.is_some_and(|c| c.state() == pb::CaseState::Resolved);
                    Done::Command { slot, version: reply.version, asks_feedback: resolved }
                }
                Err(status) => Done::Refused { slot, kind, status },
            }
        }
        .boxed()
    })
}

/// The report of one arrival (上报), idempotent by a client key derived from seed and index.
fn report(city: &City, seed: u64, slot: usize, case: &Case) -> Job {
    let category = &city.categories[case.category];
    let (kind, channel, name) = if case.patrol {
        (pb::ReporterKind::GridWorker, pb::Channel::Patrol, "网格员巡查")
    } else {
        (pb::ReporterKind::Resident, pb::Channel::ResidentApp, "居民")
    };
    let request = pb::ReportCaseRequest {
        client_key: format!("sim-{seed}-{}", case.index),
        category_code: category.code.clone(),
        location: Some(pb::GeoPoint { lat: case.location.0, lon: case.location.1 }),
        description: format!("{}(模拟案件 #{})", category.name, case.index),
        reporter: Some(pb::Reporter {
            kind: kind as i32,
            id: format!("sim-reporter-{}", case.index),
            name: name.into(),
            phone: String::new(),
        }),
        channel: channel as i32,
        discovered_at: None,
        urgent: false,
        special_groups: vec![],
    };
    Box::new(move |clients: Clients| {
        let mut intake = clients.intake;
        async move {
            match intake.report_case(request).await {
                Ok(reply) => {
                    let reply = reply.into_inner();
                    Done::Reported { slot, case_id: reply.case_id, linked: reply.linked }
                }
                Err(status) => Done::Refused { slot, kind: "report", status },
            }
        }
        .boxed()
    })
}
