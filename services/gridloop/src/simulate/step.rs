//! One clock step: the reports due, the timers due and the agents' actions due, in rounds, each
//! settled through every service before the next.

use super::calls::{self, City, Clients, Done, Job};
use super::cases::{Action, Simulation};
use super::observer::Observer;
use anyhow::{anyhow, bail, Result};
use gridloop_domain::case::CaseState;
use gridloop_domain::Timestamp;
use std::collections::{HashMap, VecDeque};

/// Rounds within one step before the simulation declares a livelock.
const MAX_ROUNDS: usize = 1000;
/// How long the services may take to settle one step before the simulation gives up.
const SETTLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// What a step talks to: the gRPC lanes, the city the reports come from, and the observer that
/// sees every event go through.
pub(super) struct Services<'a> {
    pub lanes: &'a [Clients],
    pub city: &'a City,
    pub observer: &'a Observer,
    pub seed: u64,
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

impl Simulation {
    /// Run the step at `now` with the reports `pending` (slots, in arrival order); returns the
    /// number of gRPC calls it made.
    ///
    /// The step runs in rounds, each settled before the next: timers due and agents' actions
    /// due, then whatever the round's events made due at once (a unit that must accept before
    /// the next step), and reports that duplicate detection could link to a case acted on in
    /// the same round (or to another report of it), so no outcome depends on which call the
    /// services finish first.
    pub(super) async fn step(
        &mut self,
        services: &Services<'_>,
        mut pending: VecDeque<usize>,
        now: Timestamp,
    ) -> Result<u64> {
        let mut calls_made = 0;
        for round in 0.. {
            if round > MAX_ROUNDS {
                bail!("step {now} did not finish in {MAX_ROUNDS} rounds");
            }
            let (mut expect, mut work, touched) = self.due(now);
            let reports = self.reports_to_send(&mut pending, &touched);
            if round > 0 && !reports.is_empty() {
                self.stats.report_rounds += 1;
            }
            for &slot in &reports {
                work.push(calls::report(services.city, services.seed, slot, &self.cases[slot]));
                *self.stats.commands.entry("report").or_default() += 1;
            }
            if work.is_empty() && expect.is_empty() {
                if pending.is_empty() {
                    break;
                }
                continue;
            }

            calls_made += work.len() as u64;
            let mut done = calls::run_jobs(services.lanes, work).await;
            done.sort_by_key(|d| d.slot());
            self.record(done, &mut expect)?;
            self.settle(services.observer, expect, now).await?;
            self.take_seen(services.observer, now)?;
        }
        Ok(calls_made)
    }

    /// Timers due by now fire on their own; agents act on the other cases. Returns what the round
    /// waits for, the calls to make and the cases touched.
    fn due(&mut self, now: Timestamp) -> (Vec<Expect>, Vec<Job>, Vec<usize>) {
        let (mut expect, mut work, mut touched) = (Vec::new(), Vec::new(), Vec::new());
        for &slot in &self.active {
            let case = &mut self.cases[slot];
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
                Action::Accept => case.state == CaseState::Dispatched,
                Action::Resolve | Action::Escalate(_) => case.state == CaseState::Accepted,
                Action::Verify(_) => case.state == CaseState::AwaitingVerification,
                Action::Answer(_) => case.state == CaseState::Resolved,
            };
            if !fits {
                self.stats.stale_plans += 1;
                continue;
            }
            work.push(calls::command(slot, case, action));
            touched.push(slot);
            *self.stats.commands.entry(calls::action_kind(action)).or_default() += 1;
        }
        (expect, work, touched)
    }

    /// The pending reports that go out this round: those duplicate detection could not link to
    /// a case `touched` this round or to another report going out with them. The others wait
    /// in `pending` for a later round.
    fn reports_to_send(&self, pending: &mut VecDeque<usize>, touched: &[usize]) -> Vec<usize> {
        let mut reports: Vec<usize> = Vec::new();
        let mut waiting = VecDeque::new();
        for slot in pending.drain(..) {
            let linkable = |other: &usize| self.may_link(slot, *other);
            if touched.iter().any(linkable) || reports.iter().any(linkable) {
                waiting.push_back(slot);
            } else {
                reports.push(slot);
            }
        }
        *pending = waiting;
        reports
    }

    /// Record what the round's calls came back with, and what each makes the round wait for.
    fn record(&mut self, done: Vec<Done>, expect: &mut Vec<Expect>) -> Result<()> {
        let mut links: HashMap<usize, u64> = HashMap::new();
        for d in done {
            match d {
                Done::Reported { slot, case_id, linked: false } => {
                    if self.by_id.insert(case_id.clone(), slot).is_some() {
                        bail!("report #{slot} opened case {case_id}, which an earlier report opened");
                    }
                    self.cases[slot].id = case_id;
                    // CaseOpened + CaseDispatched, and intake's open-case model has it.
                    expect.push(Expect { slot, version: 2, feedback_events: 0, reported: true });
                }
                Done::Reported { slot, case_id, linked: true } => {
                    let target = *self.by_id.get(&case_id).ok_or_else(|| {
                        anyhow!("report #{slot} was linked to case {case_id}, which the simulation did not open")
                    })?;
                    self.stats.linked += 1;
                    self.cases[slot].id = case_id;
                    self.active.remove(&slot);
                    // Dispatch adds the report to the case's history: one more event.
                    let extra = links.entry(target).or_default();
                    *extra += 1;
                    let case = &self.cases[target];
                    expect.push(Expect::case(target, case.version + *extra, case.feedback_events));
                }
                Done::Command { slot, version, asks_feedback } => {
                    let case = &self.cases[slot];
                    // A resolution (or a passed verification) opens a feedback round.
                    let feedback = case.feedback_events + u32::from(asks_feedback);
                    expect.push(Expect::case(slot, version, feedback));
                }
                Done::Answered { slot } => {
                    let case = &self.cases[slot];
                    // FeedbackReceived, then CaseEvaluated + CaseClosed or CaseReopened.
                    expect.push(Expect::case(slot, case.version + 2, case.feedback_events + 1));
                }
                Done::Refused { slot, kind, status } => match status.code() {
                    tonic::Code::FailedPrecondition | tonic::Code::Aborted => {
                        tracing::warn!(case = %self.cases[slot].id, kind, %status, "command refused");
                        self.stats.refused += 1;
                    }
                    _ => bail!("{kind} for case #{slot} failed: {status}"),
                },
            }
        }
        Ok(())
    }

    /// Wait until every expected effect of this round has gone through all the services.
    async fn settle(&self, observer: &Observer, mut expect: Vec<Expect>, now: Timestamp) -> Result<()> {
        let give_up = tokio::time::Instant::now() + SETTLE_TIMEOUT;
        loop {
            expect.retain(|e| !observer.reached(&self.cases[e.slot].id, e.version, e.feedback_events, e.reported));
            let Some(e) = expect.first().copied() else { return Ok(()) };
            tokio::select! {
                _ = observer.changed() => {}
                _ = tokio::time::sleep_until(give_up) => {
                    let case = &self.cases[e.slot];
                    let (version, feedback, reported) = observer.progress(&case.id);
                    bail!(
                        "the services did not settle at {now}: case #{} ({}) {} at {} expected {e:?}, saw version \
                         {version} with {feedback} feedback events (report seen: {reported}); {} cases waiting",
                        case.index, case.id, case.state, case.level, expect.len()
                    );
                }
            }
        }
    }

    /// Fold what the observer saw during the round, case by case in slot order.
    fn take_seen(&mut self, observer: &Observer, now: Timestamp) -> Result<()> {
        let mut seen: Vec<(usize, _, _)> = Vec::new();
        for (id, events, feedback) in observer.take() {
            let slot =
                *self.by_id.get(&id).ok_or_else(|| anyhow!("events for a case the simulation did not report: {id}"))?;
            seen.push((slot, events, feedback));
        }
        seen.sort_by_key(|(slot, _, _)| *slot);
        for (slot, events, feedback) in seen {
            self.ingest(slot, now, events, feedback);
        }
        Ok(())
    }
}
