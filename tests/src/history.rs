//! A synthetic history of dispatch's case events, without running the services: cases over the
//! default city's grids and categories, opened through a year at every hour of the day, that
//! are rejected, stay open, escalate on a missed deadline, go to mediation, are resolved late or
//! in time, reopened after an unsatisfied evaluation and closed — what the read models fold.

use chrono::{DateTime, Duration, TimeZone, Utc};
use gridloop_domain::case::{
    Assignment, CaseDetails, CaseEvent, Channel, EscalationReason, OnTimeVerdict, Reporter, ReporterKind, Satisfaction,
};
use gridloop_domain::ids::CaseId;
use gridloop_domain::level::Level;
use gridloop_domain::policy::CityPolicy;
use gridloop_domain::priority::Priority;
use gridloop_eventstore::{Actor, RecordedEvent};
use gridloop_kit::IMPORT_ROLE;
use gridloop_proto::convert;
use uuid::Uuid;

/// A deterministic stream of pseudo-random numbers (splitmix64).
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Cases of the default city, opened over a year from 1 January 2025.
pub struct SyntheticCity {
    grids: Vec<String>,
    categories: Vec<String>,
    start: DateTime<Utc>,
    cases: usize,
    position: i64,
}

impl SyntheticCity {
    pub fn new(cases: usize) -> Self {
        let policy = CityPolicy::default_city();
        Self {
            grids: policy.jurisdiction.grids().map(|g| g.code.as_str().to_string()).collect(),
            categories: policy.catalog.categories().iter().map(|c| c.code.clone()).collect(),
            start: Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap(),
            cases,
            position: 0,
        }
    }

    /// The events of cases `range`, in the order they occurred (cases overlap in time, so a
    /// case's events are spread among the others').
    pub fn events(&mut self, range: std::ops::Range<usize>) -> Vec<RecordedEvent> {
        let mut events: Vec<(DateTime<Utc>, usize, u64, CaseId, CaseEvent, String)> = Vec::new();
        for i in range {
            let (case_id, grid, history) = self.case(i);
            for (version, (at, event)) in history.into_iter().enumerate() {
                events.push((at, i, version as u64 + 1, case_id, event, grid.clone()));
            }
        }
        events.sort_by_key(|(at, i, version, ..)| (*at, *i, *version));
        events
            .into_iter()
            .map(|(at, _, version, case_id, event, grid)| {
                self.position += 1;
                let (event_type, payload) = convert::encode_case_event(case_id, &event);
                RecordedEvent {
                    global_position: self.position,
                    stream: format!("case-{case_id}"),
                    stream_version: version,
                    recorded_at: at,
                    event_id: Uuid::from_u128(self.position as u128),
                    event_type,
                    occurred_at: at,
                    correlation_id: case_id.to_string(),
                    causation_id: String::new(),
                    // As imported history: the evaluation service opens no feedback round for
                    // it (the history holds its evaluations already).
                    actor: Actor { role: IMPORT_ROLE.into(), id: "synthetic".into(), jurisdiction: String::new() },
                    traceparent: String::new(),
                    schema_version: 1,
                    routing_key: grid,
                    payload,
                }
            })
            .collect()
    }

    /// One case's history: its id, grid and events with their times.
    fn case(&self, i: usize) -> (CaseId, String, Vec<(DateTime<Utc>, CaseEvent)>) {
        let mut dice = Dice(i as u64 ^ 0x5EED);
        let case_id = CaseId(Uuid::from_u128(0xCA5E_0000_0000_0000_0000_0000_0000_0000 | i as u128));
        let grid = self.grids[dice.below(self.grids.len() as u64) as usize].clone();
        let category = self.categories[dice.below(self.categories.len() as u64) as usize].clone();
        let spacing = Duration::days(365).num_seconds() / self.cases.max(1) as i64;
        let opened = self.start + Duration::seconds(i as i64 * spacing + dice.below(3600) as i64);
        let hours = |h: u64| opened + Duration::minutes(h as i64 * 60 + 7);
        let assign = |level: Level, deadline: DateTime<Utc>| Assignment {
            level,
            unit: grid[..level.code_len()].to_string(),
            deadline,
            department: None,
        };
        let mut out = vec![(
            opened,
            CaseEvent::Opened {
                case_id,
                details: CaseDetails {
                    category_code: category,
                    grid_code: grid.clone(),
                    lat: 32.4,
                    lon: 119.5,
                    description: format!("synthetic case {i}"),
                    reporter: Reporter {
                        kind: ReporterKind::Resident,
                        id: format!("r{i}"),
                        name: "居民".into(),
                        phone: String::new(),
                        sealed: None,
                    },
                    channel: Channel::ResidentApp,
                    discovered_at: opened,
                    uploaded_at: opened,
                    urgent: false,
                    special_groups: vec![],
                    media_url: None,
                },
            },
        )];
        if dice.chance(3) {
            out.push((hours(0), CaseEvent::Rejected { reason: "not ours".into() }));
            return (case_id, grid, out);
        }
        let mut level = Level::ALL[[0, 0, 0, 0, 1, 1, 1, 2, 2, 3][dice.below(10) as usize]];
        let priority = Priority { score: dice.below(5) as u32, reasons: vec![] };
        out.push((hours(0), CaseEvent::Dispatched { to: assign(level, hours(4)), rule: "entry".into(), priority }));
        if dice.chance(5) {
            return (case_id, grid, out);
        }
        if let (true, Some(up)) = (dice.chance(12), level.up()) {
            let to = assign(up, hours(30));
            out.push((
                hours(5),
                CaseEvent::Escalated { from: level, to, reason: EscalationReason::DeadlineMissed, note: String::new() },
            ));
            level = up;
        }
        let accepted = 6 + dice.below(8);
        out.push((hours(accepted), CaseEvent::Accepted { at: assign(level, hours(48)), assignee: "张三".into() }));
        if dice.chance(5) {
            out.push((
                hours(accepted + 1),
                CaseEvent::MediationRequested {
                    level, topic: "噪音".into(), convenor: String::new(), register: None
                },
            ));
            if dice.chance(50) {
                let back_to = assign(level, hours(60));
                let failed =
                    CaseEvent::MediationFailed { mediation_id: format!("m{i}"), summary: "未达成".into(), back_to };
                out.push((hours(accepted + 2), failed));
            } else {
                out.push((
                    hours(accepted + 2),
                    CaseEvent::MediationAgreed { mediation_id: format!("m{i}"), summary: "签字".into() },
                ));
            }
        }
        if dice.chance(4) {
            return (case_id, grid, out);
        }
        let mut resolved = accepted + 3 + dice.below(60);
        let resolve =
            |level: Level| CaseEvent::Resolved { level, unit: "u".into(), summary: "ok".into(), verify_by: None };
        out.push((hours(resolved), resolve(level)));
        if dice.chance(8) {
            let evaluated = CaseEvent::Evaluated {
                satisfaction: Satisfaction::Unsatisfied,
                comment: String::new(),
                defaulted: false,
                evaluated_by: None,
            };
            out.push((hours(resolved + 1), evaluated));
            out.push((
                hours(resolved + 1),
                CaseEvent::Reopened { at: assign(level, hours(resolved + 24)), reason: "不满意".into() },
            ));
            resolved += 2 + dice.below(30);
            out.push((hours(resolved), resolve(level)));
        }
        if dice.chance(6) {
            return (case_id, grid, out);
        }
        let satisfaction = [Satisfaction::Satisfied, Satisfaction::BasicallySatisfied, Satisfaction::Unsatisfied]
            [dice.below(3) as usize];
        out.push((
            hours(resolved + 2),
            CaseEvent::Evaluated { satisfaction, comment: String::new(), defaulted: false, evaluated_by: None },
        ));
        out.push((
            hours(resolved + 2),
            CaseEvent::Closed { level, satisfaction: Some(satisfaction), on_time: OnTimeVerdict::ByDeadline },
        ));
        (case_id, grid, out)
    }
}
