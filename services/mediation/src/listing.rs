//! An area's sessions as a list (ListAreaSessions), newest first: what a resident finds on their
//! phone without being handed a session's id — the sittings, ballots and notices open for
//! objection of the area their token names, each only when the register of the residents it
//! concerns holds them (a building's session is its residents'). Those who read the area's
//! sessions see all of them.

use crate::grpc::status;
use crate::sessions;
use crate::view::{view, Reader};
use crate::MediationSvc;
use gridloop_domain::access::{Principal, Role, Rpc};
use gridloop_domain::ids::MediationId;
use gridloop_domain::jurisdiction::AreaCode;
use gridloop_domain::mediation::{concerned_register, shown_to_resident, Mediation};
use gridloop_domain::register::{Register, RegisterId};
use gridloop_eventstore::RecordedEvent;
use gridloop_kit::grpc::{self, store_status};
use gridloop_proto::status::optional_area;
use gridloop_proto::v1 as pb;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use tonic::{Request, Status};

/// How many sessions a list holds unless asked for fewer, and at most.
const DEFAULT_LISTED: u32 = 50;
const MAX_LISTED: u32 = 200;
/// How many of the area's newest sessions a resident's list looks through for those concerning
/// them: the rest of the area's may be other buildings' or courtyards'.
const SCANNED_FOR_RESIDENT: u32 = 500;

impl MediationSvc {
    pub(crate) async fn area_sessions(
        &self,
        request: &Request<pb::ListAreaSessionsRequest>,
    ) -> Result<pb::ListAreaSessionsResponse, Status> {
        let r = request.get_ref();
        let asked = optional_area("area_code", &r.area_code)?;
        let area = grpc::confine_area(request, Rpc::ListAreaSessions, asked.as_ref())?;
        let principal = grpc::principal(request)?;
        let resident = (principal.role == Role::Resident).then_some(&principal);
        let limit = match r.limit {
            0 => DEFAULT_LISTED,
            n => n.min(MAX_LISTED),
        };
        let scanned = if resident.is_some() { SCANNED_FOR_RESIDENT } else { limit };
        let newest = sessions::newest_in_area(self.store(), area.as_ref(), r.include_concluded, scanned)
            .await
            .map_err(store_status)?;
        let mut registers = HashMap::new();
        let mut listed = Vec::new();
        for (id, session_area) in newest {
            if listed.len() >= limit as usize {
                break;
            }
            let loaded = self.sessions.load(id).await.map_err(|e| status(id, e))?;
            if let Some(resident) = resident {
                if !self.concerns(resident, &session_area, &loaded.state, &mut registers).await? {
                    continue;
                }
            }
            let reader = Reader::of(Some(&principal), &loaded.history);
            listed.push(entry(id, &session_area, &loaded.state, &loaded.history, &reader));
        }
        Ok(pb::ListAreaSessionsResponse { sessions: listed })
    }

    /// Whether the session concerns `resident`: it lies in the area their token names and the
    /// register of its residents concerned holds them. Each register is read once per list.
    async fn concerns(
        &self,
        resident: &Principal,
        session_area: &AreaCode,
        state: &Mediation,
        registers: &mut HashMap<RegisterId, Register>,
    ) -> Result<bool, Status> {
        let (Some(own), Some(session)) = (resident.area.as_ref(), state.session()) else { return Ok(false) };
        let id = concerned_register(session_area, session).map_err(|e| Status::internal(e.to_string()))?;
        let register = match registers.entry(id) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(slot) => slot.insert(self.load_register(id).await?),
        };
        let registered = register.contains(&resident.subject);
        Ok(shown_to_resident(own, session_area, registered))
    }
}

/// One line of the list, from the session as it stands.
fn entry(
    id: MediationId,
    area: &AreaCode,
    state: &Mediation,
    history: &[(RecordedEvent, gridloop_domain::mediation::MediationEvent)],
    reader: &Reader,
) -> pb::AreaSession {
    // The full view without its history, which a list does not show.
    let v = view(id, state, 0, &[], reader);
    pb::AreaSession {
        mediation_id: v.mediation_id,
        area_code: area.to_string(),
        topic: v.topic,
        session_level: v.session_level,
        stage: v.stage,
        register_group: state.session().and_then(|s| s.register.as_ref()).map(gridloop_proto::convert::register_group),
        agenda_topic: v.agenda_topic,
        opened_at: history.first().map(|(record, _)| gridloop_proto::convert::timestamp(record.occurred_at)),
        ballot_open: !v.ballot_motion.is_empty(),
        motion: v.motion,
        notice_until: v.notice_until,
        objections: v.objectors.len() as u32,
        objections_needed: v.objections_needed,
    }
}
