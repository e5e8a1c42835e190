//! The Case aggregate under arbitrary command sequences, in the default city, with a clock that
//! moves forward by arbitrary steps. Strings come mostly from the city's own vocabulary
//! (categories, grids, units, departments, worker ids) so sequences get deep into the ladder,
//! and sometimes are arbitrary.
//!
//! Invariants: `decide` never panics; the events it produces always fold into the state they were
//! decided on (a `Misfit` would mean decide wrote a history the aggregate refuses to replay); the
//! version counts the events; replaying the whole history from scratch gives the same case.
#![no_main]

use arbitrary::{Arbitrary, Result, Unstructured};
use chrono::{DateTime, Duration, Utc};
use gridloop_domain::case::{
    self, Case, CaseCommand, CaseDetails, CaseEvent, Channel, LinkedReport, MediationVerdict, Reporter, ReporterKind,
    Satisfaction,
};
use gridloop_domain::decider::Decider;
use gridloop_domain::ids::CaseId;
use gridloop_domain::level::Level;
use gridloop_domain::policy::CityPolicy;
use gridloop_domain::priority::SpecialGroup;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

struct City {
    policy: CityPolicy,
    words: Vec<String>,
}

fn city() -> &'static City {
    static CITY: OnceLock<City> = OnceLock::new();
    CITY.get_or_init(|| {
        let policy = CityPolicy::default_city();
        let mut words: Vec<String> = policy.catalog.categories().iter().map(|c| c.code.clone()).collect();
        for level in Level::ALL {
            words.extend(policy.jurisdiction.units_at(level).map(|u| u.to_string()));
        }
        for grid in policy.jurisdiction.grids() {
            words.extend(grid.workers.iter().map(|w| w.id.clone()));
        }
        for unit in policy.jurisdiction.units_at(Level::Street).chain(policy.jurisdiction.units_at(Level::District)) {
            words.extend(policy.jurisdiction.departments_of(unit).iter().map(|d| d.code.clone()));
        }
        City { policy, words }
    })
}

/// A word of the city most of the time, an arbitrary string otherwise.
fn word(u: &mut Unstructured) -> Result<String> {
    let words = &city().words;
    if u.ratio(7, 8)? {
        Ok(u.choose(words)?.clone())
    } else {
        String::arbitrary(u)
    }
}

fn coordinate(u: &mut Unstructured, grid: &str) -> Result<(f64, f64)> {
    let inside = city().policy.jurisdiction.grids().find(|g| g.code.as_str() == grid).map(|g| g.interior_point());
    match inside {
        Some(point) if u.ratio(3, 4)? => Ok(point),
        _ => Ok((f64::arbitrary(u)?, f64::arbitrary(u)?)),
    }
}

fn time(u: &mut Unstructured, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let offset = Duration::seconds(i64::from(u.int_in_range(-86_400 * 30..=86_400 * 30)?));
    Ok(now + offset)
}

fn details(u: &mut Unstructured, now: DateTime<Utc>) -> Result<CaseDetails> {
    let category_code = word(u)?;
    let grid_code = word(u)?;
    let (lat, lon) = coordinate(u, &grid_code)?;
    Ok(CaseDetails {
        category_code,
        grid_code,
        lat,
        lon,
        description: String::arbitrary(u)?,
        reporter: Reporter {
            kind: *u.choose(&[ReporterKind::Resident, ReporterKind::GridWorker, ReporterKind::Platform])?,
            id: String::arbitrary(u)?,
            name: String::arbitrary(u)?,
            phone: String::arbitrary(u)?,
            sealed: None,
        },
        channel: *u.choose(&[
            Channel::Patrol,
            Channel::ResidentApp,
            Channel::Hotline,
            Channel::SuggestionBox,
            Channel::WalkIn,
            Channel::Platform,
        ])?,
        discovered_at: time(u, now)?,
        uploaded_at: now,
        urgent: bool::arbitrary(u)?,
        special_groups: (0..u.int_in_range(0..=2)?)
            .map(|_| {
                u.choose(&[
                    SpecialGroup::ElderlyLivingAlone,
                    SpecialGroup::Disabled,
                    SpecialGroup::LeftBehindChild,
                    SpecialGroup::Hardship,
                ])
                .copied()
            })
            .collect::<Result<_>>()?,
        media_url: Option::<String>::arbitrary(u)?,
    })
}

fn command(u: &mut Unstructured, case: &Case, now: DateTime<Utc>) -> Result<CaseCommand> {
    let text = |u: &mut Unstructured| String::arbitrary(u);
    Ok(match u.int_in_range(0..=14)? {
        0 => {
            CaseCommand::Open { case_id: CaseId(uuid::Uuid::from_u128(u128::arbitrary(u)?)), details: details(u, now)? }
        }
        1 => CaseCommand::Reject { reason: text(u)? },
        2 => CaseCommand::Accept { assignee: word(u)? },
        3 => CaseCommand::Escalate { reason: text(u)? },
        4 => {
            let deadline = match case.status.deadline() {
                Some(deadline) if u.ratio(3, 4)? => deadline,
                _ => time(u, now)?,
            };
            CaseCommand::DeadlineExpired { deadline }
        }
        5 => CaseCommand::Transfer { to_unit: word(u)?, reason: text(u)? },
        6 => CaseCommand::RequestMediation { topic: text(u)?, convenor: text(u)? },
        7 => CaseCommand::ConcludeMediation {
            mediation_id: text(u)?,
            verdict: *u.choose(&[
                MediationVerdict::Agreed,
                MediationVerdict::BackToUnit,
                MediationVerdict::EscalateOneLevel,
            ])?,
            summary: text(u)?,
        },
        8 => CaseCommand::Resolve { summary: text(u)? },
        9 => CaseCommand::Verify { verifier: word(u)?, passed: bool::arbitrary(u)?, note: text(u)? },
        10 => CaseCommand::RecordEvaluation {
            satisfaction: *u.choose(&[
                Satisfaction::Satisfied,
                Satisfaction::BasicallySatisfied,
                Satisfaction::Unsatisfied,
            ])?,
            comment: text(u)?,
            defaulted: bool::arbitrary(u)?,
            evaluated_by: None,
        },
        11 => CaseCommand::SummonDepartments {
            departments: (0..u.int_in_range(0..=3)?).map(|_| word(u)).collect::<Result<_>>()?,
            reason: text(u)?,
        },
        12 => CaseCommand::ReportIn { department: word(u)?, by: word(u)?, note: text(u)? },
        13 => CaseCommand::LinkReport {
            report: LinkedReport {
                details: details(u, now)?,
                client_key: text(u)?,
                distance_m: f64::arbitrary(u)?,
                reason: text(u)?,
            },
        },
        _ => CaseCommand::AddNote { text: text(u)?, author: word(u)? },
    })
}

fn run(u: &mut Unstructured) -> Result<()> {
    let policy = &city().policy;
    let mut now = DateTime::from_timestamp(1_767_225_600, 0).expect("2026-01-01 is a time");
    let mut case = Case::initial();
    let mut history: Vec<CaseEvent> = Vec::new();
    // Most sequences open a real case first, so the rest of the commands have something to act on.
    if u.ratio(7, 8)? {
        let opened = CaseCommand::Open { case_id: CaseId(uuid::Uuid::nil()), details: details(u, now)? };
        if let Ok(events) = case.decide(&opened, policy, now) {
            case = case.fold(&events).expect("the events decide produced fold");
            history.extend(events);
        }
    }
    for _ in 0..u.int_in_range(0..=40)? {
        now += Duration::seconds(i64::from(u.int_in_range(0..=86_400 * 10)?));
        let command = command(u, &case, now)?;
        let Ok(events) = case.decide(&command, policy, now) else { continue };
        let before = case.version;
        case = case.clone().fold(&events).unwrap_or_else(|misfit| {
            panic!("{} decided on a {} case produced events it refuses: {misfit}", command.name(), case.status.name())
        });
        assert_eq!(case.version, before + events.len() as u64);
        history.extend(events);
    }
    let replayed = case::replay(&history).expect("the history decide produced replays");
    assert_eq!(format!("{replayed:?}"), format!("{case:?}"));
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
