//! Objections (联名异议): residents object during the notice period; once at least one fifth of
//! the residents concerned have, execution waits until the council reconsiders (复议) or
//! suspends it (暂缓执行).

use super::decide::{invalid, required, Step};
use super::{MediationError, MediationEvent, Response, Stage};

/// At least one fifth of the residents concerned (五分之一以上).
pub fn reaches_fifth(objectors: usize, residents_concerned: u32) -> bool {
    objectors as u64 * 5 >= u64::from(residents_concerned)
}

/// How many objections make one fifth of `residents_concerned` (rounded up).
pub fn fifth_of(residents_concerned: u32) -> u32 {
    residents_concerned.div_ceil(5)
}

/// A registered resident concerned objects with one action, once per notice period.
pub(super) fn object(at: &Step, resident: &str, registered: bool) -> Result<Vec<MediationEvent>, MediationError> {
    let Stage::InNotice(notice) = at.stage else {
        return Err(at.refused("objections are raised during the notice period"));
    };
    required("resident", resident)?;
    if !registered {
        return Err(at.refused(format!("{resident} is not registered among the residents concerned")));
    }
    if notice.objectors.iter().any(|name| name == resident) {
        return Err(at.refused(format!("{resident} has objected already")));
    }
    raise(at, &[resident.to_string()])
}

pub(super) fn raise(at: &Step, residents: &[String]) -> Result<Vec<MediationEvent>, MediationError> {
    let Stage::InNotice(notice) = at.stage else {
        return Err(at.refused("objections are raised during the notice period"));
    };
    if residents.is_empty() {
        return Err(invalid("residents", "must name who objects"));
    }
    for name in residents {
        required("residents", name)?;
    }
    if at.now >= notice.until {
        return Err(at.refused("the notice period is over"));
    }
    let mut objectors = notice.objectors.clone();
    for name in residents {
        if !objectors.contains(name) {
            objectors.push(name.clone());
        }
    }
    if objectors.len() > notice.residents_concerned as usize {
        return Err(invalid("residents", "more objectors than residents concerned"));
    }
    Ok(vec![MediationEvent::ObjectionRaised {
        residents: residents.to_vec(),
        threshold_reached: reaches_fifth(objectors.len(), notice.residents_concerned),
    }])
}

pub(super) fn respond(at: &Step, response: Response, reason: &str) -> Result<Vec<MediationEvent>, MediationError> {
    if !matches!(at.stage, Stage::Contested(_) | Stage::Suspended { .. }) {
        return Err(at.refused("only an objection by one fifth of the residents concerned needs a response"));
    }
    required("reason", reason)?;
    match (response, at.stage) {
        (Response::Reconsider, _) => Ok(vec![MediationEvent::Reconsidered { reason: reason.to_string() }]),
        (Response::Suspend, Stage::Contested(_)) => {
            Ok(vec![MediationEvent::ExecutionSuspended { reason: reason.to_string() }])
        }
        (Response::Suspend, _) => Err(at.refused("execution is suspended already")),
    }
}

#[cfg(test)]
mod tests {
    use crate::mediation::{
        fifth_of, reaches_fifth, Mediation, MediationCommand, MediationEvent, Response, Stage, Statement,
    };
    use crate::testing::mediation::*;
    use crate::Duration;

    #[test]
    fn the_objection_threshold_is_at_least_one_fifth() {
        assert!(!reaches_fifth(1, 10));
        assert!(reaches_fifth(2, 10));
        assert!(reaches_fifth(3, 10));
        assert!(!reaches_fifth(20, 101));
        assert!(reaches_fifth(21, 101));
        assert!(reaches_fifth(1, 5));
    }

    #[test]
    fn given_an_agreement_in_notice_when_fewer_than_one_fifth_object_then_it_stays_in_notice() {
        let cmd = MediationCommand::RaiseObjection { residents: names(&["r1"]) };
        let events = given(&in_notice()).when(cmd).then_accept();
        assert_eq!(
            events,
            vec![MediationEvent::ObjectionRaised { residents: names(&["r1"]), threshold_reached: false }]
        );
        let mut after = in_notice();
        after.extend(events);
        assert_eq!(stage_of(&after), "in_notice");
        // The same resident objecting again does not count twice.
        let again = given(&after).when(MediationCommand::RaiseObjection { residents: names(&["r1"]) }).then_accept();
        assert!(matches!(&again[..], [MediationEvent::ObjectionRaised { threshold_reached: false, .. }]));
    }

    #[test]
    fn given_an_agreement_in_notice_when_exactly_one_fifth_object_then_it_is_contested() {
        let mut events = in_notice();
        events
            .extend(given(&events).when(MediationCommand::RaiseObjection { residents: names(&["r1"]) }).then_accept());
        let second = given(&events).when(MediationCommand::RaiseObjection { residents: names(&["r2"]) }).then_accept();
        assert_eq!(
            second,
            vec![MediationEvent::ObjectionRaised { residents: names(&["r2"]), threshold_reached: true }]
        );
        events.extend(second);
        assert_eq!(stage_of(&events), "contested");
    }

    #[test]
    fn given_an_agreement_when_objections_come_after_the_notice_period_or_exceed_the_residents_then_they_are_refused() {
        let objection = MediationCommand::RaiseObjection { residents: names(&["r1"]) };
        let late = given(&in_notice()).at(t0() + Duration::days(7)).when(objection);
        late.then_forbidden_in("in_notice", "notice period is over");
        let too_many: Vec<String> = (0..11).map(|i| format!("r{i}")).collect();
        given(&in_notice()).when(MediationCommand::RaiseObjection { residents: too_many }).then_invalid("residents");
        given(&in_notice()).when(MediationCommand::RaiseObjection { residents: vec![] }).then_invalid("residents");
    }

    /// Published to the 50 residents of the register.
    fn published_to_fifty() -> Vec<MediationEvent> {
        let mut events = decided();
        events.extend(given(&events).when(sign(&["Zhang", "Li"], 50)).then_accept());
        events
    }

    fn object(events: &mut Vec<MediationEvent>, resident: &str) {
        let cmd = MediationCommand::Object { resident: resident.into(), registered: true };
        events.extend(given(events).when(cmd).then_accept());
    }

    #[test]
    fn given_fifty_registered_when_ten_object_online_then_it_goes_back_to_the_council_and_nine_do_not() {
        assert_eq!(fifth_of(50), 10);
        let mut events = published_to_fifty();
        for i in 1..=9 {
            object(&mut events, &format!("r{i}"));
        }
        assert_eq!(stage_of(&events), "in_notice", "nine of fifty is under one fifth");
        object(&mut events, "r10");
        assert_eq!(stage_of(&events), "contested");
        assert!(matches!(events.last(), Some(MediationEvent::ObjectionRaised { threshold_reached: true, .. })));
        let cmd = MediationCommand::RespondToObjection { response: Response::Reconsider, reason: "复议".into() };
        given(&events).when(cmd).then_accept();
    }

    #[test]
    fn given_a_building_of_twenty_in_a_grid_of_fifty_when_four_of_it_object_then_it_goes_back_and_three_do_not() {
        // Published to the 20 of the building's register the session names, not the grid's 50.
        let mut events = decided();
        events.extend(given(&events).when(sign(&["Zhang", "Li"], 20)).then_accept());
        assert_eq!(fifth_of(20), 4);
        for resident in ["b1", "b2", "b3"] {
            object(&mut events, resident);
        }
        assert_eq!(stage_of(&events), "in_notice", "three of twenty is under one fifth");
        let neighbour = MediationCommand::Object { resident: "g30".into(), registered: false };
        given(&events).when(neighbour).then_forbidden_in("in_notice", "not registered");
        object(&mut events, "b4");
        assert_eq!(stage_of(&events), "contested");
    }

    #[test]
    fn given_an_agreement_in_notice_when_a_resident_objects_twice_or_is_not_registered_then_it_is_refused() {
        let mut events = published_to_fifty();
        object(&mut events, "r1");
        let twice = MediationCommand::Object { resident: "r1".into(), registered: true };
        given(&events).when(twice).then_forbidden_in("in_notice", "objected already");
        let stranger = MediationCommand::Object { resident: "x".into(), registered: false };
        given(&events).when(stranger).then_forbidden_in("in_notice", "not registered");
        let late = MediationCommand::Object { resident: "r2".into(), registered: true };
        given(&events).at(t0() + Duration::days(7)).when(late).then_forbidden_in("in_notice", "notice period is over");
        let early = MediationCommand::Object { resident: "r2".into(), registered: true };
        given(&sitting()).when(early).then_forbidden_in("deliberating", "notice period");
    }

    #[test]
    fn given_a_sitting_session_when_an_objection_is_raised_then_it_is_refused() {
        let cmd = MediationCommand::RaiseObjection { residents: names(&["r1"]) };
        given(&sitting()).when(cmd).then_forbidden_in("deliberating", "notice period");
    }

    #[test]
    fn given_a_contested_agreement_when_the_council_reconsiders_then_it_convenes_again_and_decides_anew() {
        let cmd = MediationCommand::RespondToObjection { response: Response::Reconsider, reason: "复议会".into() };
        let state =
            given(&contested()).when(cmd).then_expect(&[MediationEvent::Reconsidered { reason: "复议会".into() }]);
        let mut after = contested();
        after.push(MediationEvent::Reconsidered { reason: "复议会".into() });
        assert_eq!(state.state_name(), "notified");
        assert_eq!(state.session().unwrap().reconsiderations, 1);
        // The reconsideration sits, votes and publishes again, with a fresh objection count.
        after.push(MediationEvent::DeliberationOpened { present: names(&["Chair", "Zhang", "Li"]) });
        after.push(MediationEvent::StatementMade { statement: Statement { speaker: "Li".into(), text: "x".into() } });
        after.extend(given(&after).when(motion(&["Chair", "Zhang", "Li"], &[])).then_accept());
        after.extend(given(&after).when(sign(&["Zhang", "Li"], 10)).then_accept());
        assert!(
            matches!(state_of(&after), Mediation::Open { stage: Stage::InNotice(notice), .. } if notice.objectors.is_empty())
        );
    }

    #[test]
    fn given_a_contested_agreement_when_execution_is_suspended_then_it_is_recorded_and_can_still_be_reconsidered() {
        let cmd = MediationCommand::RespondToObjection { response: Response::Suspend, reason: "暂缓执行".into() };
        let events = given(&contested()).when(cmd.clone()).then_accept();
        assert_eq!(events, vec![MediationEvent::ExecutionSuspended { reason: "暂缓执行".into() }]);
        let mut after = contested();
        after.extend(events);
        assert_eq!(stage_of(&after), "suspended");
        given(&after).when(cmd).then_forbidden_in("suspended", "suspended already");
        given(&after)
            .at(t0() + Duration::days(30))
            .when(MediationCommand::Execute)
            .then_forbidden_in("suspended", "reconsider");
        let reconsider =
            MediationCommand::RespondToObjection { response: Response::Reconsider, reason: "again".into() };
        given(&after).when(reconsider).then_accept();
    }

    #[test]
    fn given_an_uncontested_agreement_when_the_council_responds_to_objections_then_it_is_refused() {
        let cmd = MediationCommand::RespondToObjection { response: Response::Reconsider, reason: "why".into() };
        given(&in_notice()).when(cmd).then_forbidden_in("in_notice", "one fifth");
        let no_reason = MediationCommand::RespondToObjection { response: Response::Reconsider, reason: "".into() };
        given(&contested()).when(no_reason).then_invalid("reason");
    }
}
