//! What the simulator knows of each case, from the events it has seen: its state and level, its
//! running deadlines, the plan its unit made for it, and the figures each event adds to.

use super::model::{self, Answer, Arrival, Grid, Params, Plan};
use super::observer::{Feedback, Seen};
use super::report::{Open, Stats};
use chrono::Duration;
use gridloop_domain::case::CaseState;
use gridloop_domain::level::Level;
use gridloop_domain::Timestamp;
use std::collections::{BTreeSet, HashMap, VecDeque};

/// What the simulator knows of one case, from the events it has seen.
#[derive(Debug)]
pub(super) struct Case {
    pub(super) index: u64,
    /// The case's id; for a report linked to another case, that case's id.
    pub(super) id: String,
    pub(super) category: usize,
    pub(super) location: (f64, f64),
    pub(super) patrol: bool,
    pub(super) reported_at: Timestamp,
    pub(super) version: u64,
    /// A report linked to another case stays `Reported`: it has no case of its own, and it leaves
    /// the active cases at once.
    pub(super) state: CaseState,
    pub(super) level: Level,
    pub(super) entry: Option<Level>,
    /// The running deadline (accept or resolve) while dispatched or accepted.
    pub(super) deadline: Option<Timestamp>,
    /// The resolve deadline set when the current episode's unit accepted (or the case reopened).
    pub(super) resolve_deadline: Option<Timestamp>,
    /// Episodes so far: the dispatch, then one per escalation or reopening.
    pub(super) episodes: u32,
    /// The district missed its deadline in the current episode.
    pub(super) overdue: bool,
    pub(super) missed_any: bool,
    pub(super) resolved_on_time: bool,
    pub(super) plan: VecDeque<(Timestamp, Action)>,
    pub(super) feedback_due: Option<Timestamp>,
    pub(super) feedback_rounds: u32,
    /// Feedback events seen (rounds requested, answers, defaults): what a step waits for.
    pub(super) feedback_events: u32,
    /// Resolutions that waited for an on-site verification so far.
    pub(super) verification_rounds: u32,
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
            state: CaseState::Reported,
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

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Action {
    Accept,
    Resolve,
    Escalate(&'static str),
    /// 核查, passed or not.
    Verify(bool),
    Answer(Answer),
}

pub(super) struct Simulation {
    pub(super) seed: u64,
    /// Duplicate detection's radius (0: off).
    pub(super) duplicate_radius_m: f64,
    pub(super) params: Params,
    pub(super) grid: Grid,
    pub(super) cases: Vec<Case>,
    pub(super) by_id: HashMap<String, usize>,
    /// Slots of cases not yet closed or rejected.
    pub(super) active: BTreeSet<usize>,
    pub(super) stats: Stats,
}

impl Simulation {
    pub(super) fn new(seed: u64, duplicate_radius_m: f64, params: Params, grid: Grid) -> Simulation {
        Simulation {
            seed,
            duplicate_radius_m,
            params,
            grid,
            cases: Vec::new(),
            by_id: HashMap::new(),
            active: BTreeSet::new(),
            stats: Stats::default(),
        }
    }

    /// A report arrives at `now`: a case to follow from here on. Returns its slot.
    pub(super) fn arrive(&mut self, arrival: &Arrival, now: Timestamp) -> usize {
        let slot = self.cases.len();
        self.cases.push(Case::reported(arrival, now));
        self.active.insert(slot);
        self.stats.reported += 1;
        slot
    }

    /// The cases still open, by state and level.
    pub(super) fn open(&self) -> Open {
        let mut open = Open::default();
        for &slot in &self.active {
            let case = &self.cases[slot];
            *open.by_state.entry(case.state.name()).or_default() += 1;
            open.by_level[case.level as usize] += 1;
        }
        open
    }

    /// A case reached a level (or came back reopened): the unit's plan for it, fixed now.
    pub(super) fn new_episode(&mut self, slot: usize, now: Timestamp, accepted: bool) {
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
    pub(super) fn ingest(
        &mut self,
        slot: usize,
        now: Timestamp,
        events: Vec<(u64, Timestamp, Seen)>,
        feedback: Vec<(Timestamp, Feedback)>,
    ) {
        for (version, occurred_at, seen) in events {
            self.stats.events_off_step += u64::from(occurred_at != now);
            let case = &mut self.cases[slot];
            case.version = case.version.max(version);
            self.see(slot, now, seen);
        }
        for (occurred_at, seen) in feedback {
            self.stats.events_off_step += u64::from(occurred_at != now);
            self.cases[slot].feedback_events += 1;
            self.see_feedback(slot, now, seen);
        }
    }

    /// One event of the case's stream.
    fn see(&mut self, slot: usize, now: Timestamp, seen: Seen) {
        let case = &mut self.cases[slot];
        match seen {
            Seen::Dispatched { level, deadline } => {
                case.state = CaseState::Dispatched;
                case.level = level;
                case.deadline = deadline;
                if case.entry.is_none() {
                    case.entry = Some(level);
                    self.stats.entry[level as usize] += 1;
                }
                self.new_episode(slot, now, false);
            }
            Seen::Accepted { deadline } => {
                case.state = CaseState::Accepted;
                case.deadline = deadline;
                case.resolve_deadline = deadline;
            }
            Seen::Escalated { from, to, requested, note, deadline } => {
                *self.stats.escalations.entry((from, to, requested, note)).or_default() += 1;
                if !requested {
                    case.missed_any = true;
                }
                case.state = CaseState::Dispatched;
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
                case.state = CaseState::Dispatched;
                case.deadline = deadline;
                self.new_episode(slot, now, false);
            }
            Seen::Resolved { level, verify_by } => self.resolved(slot, now, level, verify_by),
            Seen::Verified { passed } => {
                self.stats.verifications[usize::from(!passed)] += 1;
                case.deadline = None;
                if passed {
                    case.state = CaseState::Resolved; // the feedback round follows
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
                case.state = CaseState::Accepted;
                case.level = level;
                case.deadline = deadline;
                case.resolve_deadline = deadline;
                self.new_episode(slot, now, true);
            }
            Seen::Closed { level } => self.closed(slot, now, level),
            Seen::Rejected => {
                self.stats.rejected += 1;
                case.state = CaseState::Rejected;
                case.plan.clear();
                self.active.remove(&slot);
            }
            Seen::Opened | Seen::Prioritized => {}
            Seen::Linked => self.stats.links_seen += 1,
            Seen::Other(name) => *self.stats.other_events.entry(name).or_default() += 1,
        }
    }

    /// The case was resolved at `level`; where the category requires it, the grid worker checks
    /// on site by `verify_by`, and the check's deadline runs meanwhile.
    fn resolved(&mut self, slot: usize, now: Timestamp, level: Level, verify_by: Option<Timestamp>) {
        self.stats.resolutions[level as usize] += 1;
        let case = &mut self.cases[slot];
        case.resolved_on_time = !case.overdue && case.resolve_deadline.is_none_or(|d| now < d);
        case.level = level;
        case.deadline = verify_by;
        case.plan.clear();
        if verify_by.is_some() {
            let round = case.verification_rounds;
            case.verification_rounds += 1;
            let (at, passed) = self.params.verification(self.seed, case.index, round, now);
            case.plan.push_back((at, Action::Verify(passed)));
            case.state = CaseState::AwaitingVerification;
        } else {
            case.state = CaseState::Resolved;
        }
    }

    /// The case was closed (settled) at `level`: it counts where it settled, and leaves the
    /// active cases.
    fn closed(&mut self, slot: usize, now: Timestamp, level: Level) {
        let case = &mut self.cases[slot];
        self.stats.closed[level as usize] += 1;
        self.stats.closed_on_time += u64::from(case.resolved_on_time);
        self.stats.closed_never_missed += u64::from(!case.missed_any);
        self.stats.time_to_close.push((now - case.reported_at).num_seconds());
        case.state = CaseState::Closed;
        case.level = level;
        case.plan.clear();
        self.active.remove(&slot);
    }

    /// One feedback-round event: a round asked for (with the reporter's answer planned, unless
    /// they stay silent), answered or defaulted.
    fn see_feedback(&mut self, slot: usize, now: Timestamp, seen: Feedback) {
        let case = &mut self.cases[slot];
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

    /// Whether duplicate detection might link report `slot` to case (or report) `other`: same
    /// category, close enough (with a margin over the radius). Such a report waits for a later
    /// round of the step.
    pub(super) fn may_link(&self, slot: usize, other: usize) -> bool {
        let (a, b) = (&self.cases[slot], &self.cases[other]);
        self.duplicate_radius_m > 0.0
            && a.category == b.category
            && model::distance_m(a.location, b.location) <= self.duplicate_radius_m * 1.5 + 1.0
    }

    /// How many case-stream events and feedback events a timer due by `now` will append, if one is.
    pub(super) fn timer_due(case: &Case, now: Timestamp) -> Option<(u64, u32)> {
        match case.state {
            CaseState::Dispatched | CaseState::Accepted | CaseState::AwaitingVerification
                if case.deadline.is_some_and(|d| d <= now) =>
            {
                Some((1, 0))
            }
            // FeedbackDefaulted, then CaseEvaluated + CaseClosed (or CaseReopened).
            CaseState::Resolved if case.feedback_due.is_some_and(|d| d <= now) => Some((2, 1)),
            _ => None,
        }
    }

    /// The next step at which anything is due after `now`.
    pub(super) fn next_due(&self, now: Timestamp, next_arrival: Option<Timestamp>) -> Option<Timestamp> {
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
                CaseState::Dispatched | CaseState::Accepted | CaseState::AwaitingVerification => {
                    case.deadline.into_iter().for_each(&mut consider)
                }
                CaseState::Resolved => case.feedback_due.into_iter().for_each(&mut consider),
                _ => {}
            }
        }
        next.map(|t| t.max(now + self.grid.step))
    }
}
