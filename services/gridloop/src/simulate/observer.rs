//! The simulator's view of the event flow: one more durable consumer on the in-process bus,
//! subscribed last to every service's events.
//!
//! The in-process bus hands a relay batch to its subscribers one after the other and waits for
//! each, so when the observer sees an event, every service that consumes it has already handled
//! it (committed). That makes "the system is quiescent" checkable: an action is done when the
//! observer has seen the case's stream reach the version the action leads to. It also shows what
//! no gRPC call returns, such as the due time of a feedback round (办完即反), so the simulator
//! knows which timers the next clock step will fire and waits for exactly those.

use async_trait::async_trait;
use gridloop_bus::{EventHandler, HandlerError};
use gridloop_domain::level::Level;
use gridloop_domain::Timestamp;
use gridloop_eventstore::RecordedEvent;
use gridloop_proto::convert::{self, short_type};
use gridloop_proto::v1 as pb;
use prost::Message;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use tokio::sync::Notify;

/// A case event, decoded to what the simulator needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    Opened,
    /// The priority was re-assessed (a linked report); the simulated units do not order by it.
    Prioritized,
    Dispatched {
        level: Level,
        deadline: Option<Timestamp>,
    },
    Accepted {
        deadline: Option<Timestamp>,
    },
    Escalated {
        from: Level,
        to: Level,
        requested: bool,
        note: String,
        deadline: Option<Timestamp>,
    },
    DeadlineMissed {
        level: Level,
        next_deadline: Option<Timestamp>,
    },
    Transferred {
        deadline: Option<Timestamp>,
    },
    Resolved {
        level: Level,
        /// The on-site check's deadline, when one is required.
        verify_by: Option<Timestamp>,
    },
    /// The check was not done in time (督办): watched again until `next_deadline`.
    VerificationOverdue {
        next_deadline: Option<Timestamp>,
    },
    /// 核查: the grid worker's on-site check (a failure is followed by `Reopened`).
    Verified {
        passed: bool,
    },
    Evaluated {
        satisfaction: String,
        defaulted: bool,
    },
    Reopened {
        level: Level,
        deadline: Option<Timestamp>,
    },
    Closed {
        level: Level,
    },
    Rejected,
    /// A duplicate report intake linked to this case (no change of state).
    Linked,
    /// Anything else on the case stream (mediation steps, …): it still bumps the version.
    Other(String),
}

/// A feedback-round event from the evaluation service.
#[derive(Debug, Clone, PartialEq)]
pub enum Feedback {
    Requested { due_at: Option<Timestamp> },
    Received,
    Defaulted,
}

/// What one event means to the simulator.
enum Item {
    Case(Seen),
    Reported,
    Feedback(Feedback),
}

#[derive(Debug, Default)]
pub struct CaseSeen {
    /// Intake's `CaseReported` has been handled by all its consumers (intake's own open-case
    /// read model for duplicate detection among them).
    pub reported: bool,
    /// The highest `case-<id>` stream version seen.
    pub version: u64,
    /// Feedback events seen so far: rounds requested, answers received, defaults applied.
    pub feedback_seen: u32,
    /// Not yet taken by the simulator, in stream order.
    pub case_events: Vec<(u64, Timestamp, Seen)>,
    pub feedback_events: Vec<(Timestamp, Feedback)>,
}

#[derive(Default)]
struct State {
    /// Highest global position handled per producing service: a redelivered batch is skipped.
    positions: HashMap<String, i64>,
    cases: HashMap<String, CaseSeen>,
}

#[derive(Default)]
pub struct Observer {
    state: Mutex<State>,
    changed: Notify,
    events: AtomicU64,
}

pub fn timestamp(t: Option<&prost_types::Timestamp>) -> Option<Timestamp> {
    t.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
}

/// The level a wire value names; an unset or unknown one counts as the grid.
pub fn level(value: i32) -> Level {
    pb::Level::try_from(value).ok().and_then(convert::from_level).unwrap_or(Level::Grid)
}

fn satisfaction(value: i32) -> String {
    match pb::Satisfaction::try_from(value) {
        Ok(pb::Satisfaction::Satisfied) => "satisfied",
        Ok(pb::Satisfaction::BasicallySatisfied) => "basically_satisfied",
        Ok(pb::Satisfaction::Unsatisfied) => "unsatisfied",
        _ => "unspecified",
    }
    .to_string()
}

fn decode<M: Message + Default>(event: &RecordedEvent) -> Result<M, HandlerError> {
    M::decode(event.payload.as_slice())
        .map_err(|e| HandlerError::Poison(format!("simulator cannot decode {}: {e}", event.event_type)))
}

fn decode_case_event(event: &RecordedEvent) -> Result<Seen, HandlerError> {
    let name = short_type(&event.event_type);
    Ok(match name {
        "CaseDispatched" => {
            let e: pb::CaseDispatched = decode(event)?;
            Seen::Dispatched { level: level(e.level), deadline: timestamp(e.deadline.as_ref()) }
        }
        "CaseAccepted" => {
            let e: pb::CaseAccepted = decode(event)?;
            Seen::Accepted { deadline: timestamp(e.deadline.as_ref()) }
        }
        "CaseEscalated" => {
            let e: pb::CaseEscalated = decode(event)?;
            Seen::Escalated {
                from: level(e.from_level),
                to: level(e.to_level),
                requested: e.reason() == pb::EscalationReason::Requested,
                note: e.note,
                deadline: timestamp(e.deadline.as_ref()),
            }
        }
        "CaseDeadlineMissed" => {
            let e: pb::CaseDeadlineMissed = decode(event)?;
            Seen::DeadlineMissed { level: level(e.level), next_deadline: timestamp(e.next_deadline.as_ref()) }
        }
        "CaseTransferred" => {
            let e: pb::CaseTransferred = decode(event)?;
            Seen::Transferred { deadline: timestamp(e.deadline.as_ref()) }
        }
        "CaseResolved" => {
            let e: pb::CaseResolved = decode(event)?;
            let verify_by = if e.verification_required { timestamp(e.verify_by.as_ref()) } else { None };
            Seen::Resolved { level: level(e.level), verify_by }
        }
        "CaseVerificationOverdue" => {
            let e: pb::CaseVerificationOverdue = decode(event)?;
            Seen::VerificationOverdue { next_deadline: timestamp(e.next_deadline.as_ref()) }
        }
        "CaseVerified" => {
            let e: pb::CaseVerified = decode(event)?;
            Seen::Verified { passed: e.passed }
        }
        "CaseEvaluated" => {
            let e: pb::CaseEvaluated = decode(event)?;
            Seen::Evaluated { satisfaction: satisfaction(e.satisfaction), defaulted: e.defaulted }
        }
        "CaseReopened" => {
            let e: pb::CaseReopened = decode(event)?;
            Seen::Reopened { level: level(e.level), deadline: timestamp(e.deadline.as_ref()) }
        }
        "CaseClosed" => {
            let e: pb::CaseClosed = decode(event)?;
            Seen::Closed { level: level(e.level) }
        }
        "CaseOpened" => Seen::Opened,
        "CaseRejected" => Seen::Rejected,
        "CaseReportLinked" => Seen::Linked,
        "CasePriorityChanged" => Seen::Prioritized,
        other => Seen::Other(other.to_string()),
    })
}

impl Observer {
    /// Every event seen (all services), for the throughput figures.
    pub fn events_seen(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }

    /// Resolves the next time anything is seen (or at once if something was seen since the last
    /// call returned).
    pub async fn changed(&self) {
        self.changed.notified().await
    }

    /// Whether case `id` has reached stream version `version` with `feedback_events` feedback
    /// events (and, with `reported`, its report has gone through intake's consumers).
    pub fn reached(&self, id: &str, version: u64, feedback_events: u32, reported: bool) -> bool {
        let state = self.state.lock().expect("observer lock");
        state
            .cases
            .get(id)
            .is_some_and(|c| c.version >= version && c.feedback_seen >= feedback_events && (c.reported || !reported))
    }

    /// The case's version, feedback events and report as seen so far (for diagnostics).
    pub fn progress(&self, id: &str) -> (u64, u32, bool) {
        let state = self.state.lock().expect("observer lock");
        state.cases.get(id).map_or((0, 0, false), |c| (c.version, c.feedback_seen, c.reported))
    }

    /// Takes what was seen of each case since the last call: (case id, case events, feedback events).
    #[allow(clippy::type_complexity)]
    pub fn take(&self) -> Vec<(String, Vec<(u64, Timestamp, Seen)>, Vec<(Timestamp, Feedback)>)> {
        let mut state = self.state.lock().expect("observer lock");
        state
            .cases
            .iter_mut()
            .filter(|(_, c)| !c.case_events.is_empty() || !c.feedback_events.is_empty())
            .map(|(id, c)| (id.clone(), std::mem::take(&mut c.case_events), std::mem::take(&mut c.feedback_events)))
            .collect()
    }

    /// Never fails: a refused batch would be redelivered one case at a time, out of log order.
    fn record(&self, source: &str, events: &[&RecordedEvent]) -> Result<(), HandlerError> {
        let mut decoded = Vec::with_capacity(events.len());
        for event in events {
            let name = short_type(&event.event_type);
            let item = match source {
                "intake" if name == "CaseReported" => Some(Item::Reported),
                "dispatch" if event.stream.starts_with("case-") => {
                    // An undecodable event still counts for the version; the simulator reports it.
                    Some(Item::Case(decode_case_event(event).unwrap_or_else(|e| Seen::Other(e.to_string()))))
                }
                "evaluation" => match name {
                    "FeedbackRequested" => {
                        let due_at =
                            decode::<pb::FeedbackRequested>(event).ok().and_then(|e| timestamp(e.due_at.as_ref()));
                        Some(Item::Feedback(Feedback::Requested { due_at }))
                    }
                    "FeedbackReceived" => Some(Item::Feedback(Feedback::Received)),
                    "FeedbackDefaulted" => Some(Item::Feedback(Feedback::Defaulted)),
                    _ => None,
                },
                _ => None,
            };
            decoded.push(item);
        }
        let mut state = self.state.lock().expect("observer lock");
        let last = state.positions.get(source).copied().unwrap_or(0);
        let mut newest = last;
        let mut fresh = 0;
        for (event, item) in events.iter().zip(decoded) {
            if event.global_position <= last {
                continue; // redelivered
            }
            newest = newest.max(event.global_position);
            fresh += 1;
            let Some(item) = item else { continue };
            let case = state.cases.entry(event.correlation_id.clone()).or_default();
            match item {
                Item::Case(seen) => {
                    case.version = case.version.max(event.stream_version);
                    case.case_events.push((event.stream_version, event.occurred_at, seen));
                }
                Item::Reported => case.reported = true,
                Item::Feedback(feedback) => {
                    case.feedback_seen += 1;
                    case.feedback_events.push((event.occurred_at, feedback));
                }
            }
        }
        state.positions.insert(source.to_string(), newest);
        drop(state);
        self.events.fetch_add(fresh, Ordering::Relaxed);
        self.changed.notify_one();
        Ok(())
    }
}

/// The bus handler: a shared reference to the observer.
pub struct ObserverHandler(pub std::sync::Arc<Observer>);

#[async_trait]
impl EventHandler for ObserverHandler {
    async fn handle(&self, source: &str, event: &RecordedEvent) -> Result<(), HandlerError> {
        self.0.record(source, &[event])
    }

    async fn handle_batch(&self, source: &str, events: &[&RecordedEvent]) -> Result<(), HandlerError> {
        self.0.record(source, events)
    }

    /// Batches keep the log order (one-by-one delivery runs cases concurrently).
    fn batches(&self) -> bool {
        true
    }
}
