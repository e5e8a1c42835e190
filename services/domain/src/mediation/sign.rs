//! 签字确认 and 公示: every party signs the carried motion, which is then published to the
//! residents it concerns for the notice period, counted on the city's calendar.

use super::decide::{check_names, invalid, Step};
use super::{MediationError, MediationEvent, Stage};

pub(super) fn decide(
    at: &Step,
    signed_by: &[String],
    residents_concerned: u32,
) -> Result<Vec<MediationEvent>, MediationError> {
    if !matches!(at.stage, Stage::Decided { .. }) {
        return Err(at.refused("only a carried motion can be signed"));
    }
    if signed_by.is_empty() {
        return Err(invalid("signed_by", "an agreement must be signed by the parties"));
    }
    check_names("signed_by", signed_by, &at.invited(), "a participant")?;
    if let Some(missing) = at.session.parties().find(|p| !signed_by.contains(&p.name)) {
        return Err(at.refused(format!("party {} has not signed", missing.name)));
    }
    if residents_concerned == 0 {
        return Err(invalid("residents_concerned", "must be at least 1"));
    }
    Ok(vec![MediationEvent::AgreementSigned {
        signed_by: signed_by.to_vec(),
        notice_until: at.calendar.deadline(at.now, &at.rules.notice),
        residents_concerned,
    }])
}

#[cfg(test)]
mod tests {
    use crate::calendar::{Sla, WorkingTime};
    use crate::mediation::{MediationEvent, MediationRules};
    use crate::testing::mediation::*;
    use crate::Duration;
    use chrono::TimeZone;

    #[test]
    fn given_a_carried_motion_when_every_party_signs_then_it_is_published_for_the_notice_period() {
        given(&decided()).when(sign(&["Zhang", "Li"], 10)).then_expect(&[MediationEvent::AgreementSigned {
            signed_by: names(&["Zhang", "Li"]),
            notice_until: t0() + Duration::days(7),
            residents_concerned: 10,
        }]);
        let longer = council(MediationRules { notice: Sla::Calendar(Duration::days(10)), ..rules() });
        let events = given_under(&longer, &decided()).when(sign(&["Zhang", "Li"], 10)).then_accept();
        assert!(
            matches!(&events[..], [MediationEvent::AgreementSigned { notice_until, .. }] if *notice_until == t0() + Duration::days(10))
        );
    }

    #[test]
    fn given_a_notice_in_working_days_when_the_agreement_is_signed_then_it_runs_to_close_of_business_on_the_calendar() {
        // Monday 2026-03-02 17:00 in Beijing; 7 working days counted from Tuesday end on
        // Wednesday 2026-03-11 at 18:00 (10:00 UTC), past the weekend of 7-8 March.
        let working = council(MediationRules { notice: Sla::Working(WorkingTime::Days(7)), ..rules() });
        let events = given_under(&working, &decided()).when(sign(&["Zhang", "Li"], 10)).then_accept();
        let until = chrono::Utc.with_ymd_and_hms(2026, 3, 11, 10, 0, 0).unwrap();
        assert!(
            matches!(&events[..], [MediationEvent::AgreementSigned { notice_until, .. }] if *notice_until == until)
        );
        // Over the Labour Day holiday (1-5 May 2026) the same notice lasts longer on the wall clock.
        let before_holiday = chrono::Utc.with_ymd_and_hms(2026, 4, 29, 2, 0, 0).unwrap();
        let events =
            given_under(&working, &decided()).at(before_holiday).when(sign(&["Zhang", "Li"], 10)).then_accept();
        let [MediationEvent::AgreementSigned { notice_until, .. }] = &events[..] else { panic!("{events:?}") };
        assert!(*notice_until - before_holiday > Duration::days(11), "{notice_until}");
    }

    #[test]
    fn given_a_carried_motion_when_a_party_has_not_signed_then_it_is_refused() {
        given(&decided()).when(sign(&["Zhang"], 10)).then_forbidden_in("decided", "party Li has not signed");
        given(&decided()).when(sign(&[], 10)).then_invalid("signed_by");
        given(&decided()).when(sign(&["Zhang", "Li"], 0)).then_invalid("residents_concerned");
    }

    #[test]
    fn given_a_sitting_session_without_a_carried_motion_when_it_is_signed_then_it_is_refused() {
        given(&sitting()).when(sign(&["Zhang", "Li"], 10)).then_forbidden_in("deliberating", "carried motion");
    }
}
