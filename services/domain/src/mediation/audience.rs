//! Who a session concerns (公示对象): the residents of one register — its area's own, or that of
//! the building or courtyard of its grid the session names. That register is the base of the
//! one-fifth objection threshold, holds those who may object, speak online and vote as residents,
//! and is who the session is listed to among a resident's sessions.

use super::Session;
use crate::jurisdiction::AreaCode;
use crate::register::{RegisterError, RegisterId};

/// The register whose residents `session`, lying in `area`, concerns. A building or courtyard
/// lies in a grid: a session naming one elsewhere is refused.
pub fn concerned_register(area: &AreaCode, session: &Session) -> Result<RegisterId, RegisterError> {
    match &session.register {
        None => Ok(RegisterId::of(area)),
        Some(group) => RegisterId::of_group(area, group),
    }
}

/// Whether a resident whose token names `own` (the area they are registered in) finds a session
/// of `session_area` among their area's sessions: it lies in their area, and `registered` — the
/// register of the residents it concerns holds them. A building's session is listed to that
/// building's residents only, a neighbouring area's to none of this area's.
pub fn shown_to_resident(own: &AreaCode, session_area: &AreaCode, registered: bool) -> bool {
    own.contains(session_area) && registered
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mediation::{Mediation, MediationCommand, MediationEvent, Origin};
    use crate::register::{Group, GroupKind, Register};
    use crate::testing::mediation::*;

    fn grid() -> AreaCode {
        AreaCode::new("321012001001001").unwrap()
    }

    fn building() -> Group {
        Group::new(GroupKind::Building, "3号楼").unwrap()
    }

    fn session_of(register: Option<Group>) -> Session {
        let MediationEvent::Opened { origin, level, topic, kind, professional, convenor, .. } = opened() else {
            unreachable!("the fixture opens a session")
        };
        let open = MediationEvent::Opened { origin, level, topic, kind, professional, convenor, register };
        match state_of(&[open]) {
            Mediation::Open { session, .. } => session,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_session_concerns_its_areas_register_unless_it_names_a_building_or_courtyard() {
        assert_eq!(concerned_register(&grid(), &session_of(None)).unwrap(), RegisterId::of(&grid()));
        let own = concerned_register(&grid(), &session_of(Some(building()))).unwrap();
        assert_eq!(own, RegisterId::of_group(&grid(), &building()).unwrap());
        assert_ne!(own, RegisterId::of(&grid()));
        let community = grid().parent().unwrap();
        assert!(concerned_register(&community, &session_of(Some(building()))).is_err(), "a building lies in a grid");
    }

    #[test]
    fn a_resident_sees_the_sessions_of_their_area_whose_register_holds_them_and_no_other_areas() {
        let own = grid();
        let neighbour = AreaCode::new("321012001001002").unwrap();
        let community = grid().parent().unwrap();
        // (where the session lies, whether the register it concerns holds the resident)
        let sessions = [(&own, true), (&own, false), (&neighbour, true), (&community, true)];
        let seen: Vec<usize> =
            (0..sessions.len()).filter(|&i| shown_to_resident(&own, sessions[i].0, sessions[i].1)).collect();
        assert_eq!(seen, vec![0], "their grid's session on a register holding them, nothing else");
        let of_neighbour =
            sessions.iter().filter(|(area, registered)| shown_to_resident(&neighbour, area, *registered));
        assert_eq!(of_neighbour.count(), 1, "a resident of another grid sees only their own grid's");
        let another_street = AreaCode::new("321012002001001").unwrap();
        assert!(sessions.iter().all(|(area, held)| !shown_to_resident(&another_street, area, *held)), "none");
        assert!(shown_to_resident(&community, &own, true), "a community's resident on the grid's register");
    }

    #[test]
    fn a_building_session_is_shown_to_the_buildings_residents_not_to_the_rest_of_the_grid() {
        // The grid keeps 50 residents, its 3号楼 the first 20 of them.
        let building_register: Register = (1..=20).map(|n| format!("居民{n:02}")).collect();
        let holds = |resident: &str| building_register.contains(resident);
        assert!(shown_to_resident(&grid(), &grid(), holds("居民05")));
        assert!(!shown_to_resident(&grid(), &grid(), holds("居民35")), "on the grid's register, not the building's");
        let open = MediationCommand::Open {
            origin: Origin::CollectedTopic { collected_from: "楼栋长".into(), agenda_topic: None },
            level: crate::mediation::SessionLevel::Building,
            topic: "3号楼加装电梯".into(),
            kind: crate::mediation::MatterKind::Decision,
            professional: None,
            convenor: "楼栋长".into(),
            register: Some(building()),
        };
        let events = given(&[]).when(open).then_accept();
        assert!(
            matches!(&events[..], [MediationEvent::Opened { register: Some(group), .. }] if *group == building()),
            "the register named is recorded with the opening: {events:?}"
        );
    }
}
