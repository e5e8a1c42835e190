//! The register of residents concerned and the agenda of an area (议题征集 and its rankings),
//! each a stream of its own routed to its area, on the kit's command path like the sessions.

use crate::MediationSvc;
use gridloop_domain::access::{CaseFacts, Rpc};
use gridloop_domain::agenda::{self, Agenda, AgendaCommand, AgendaError, AgendaId};
use gridloop_domain::ids::MediationId;
use gridloop_domain::jurisdiction::AreaCode;
use gridloop_domain::mediation::{concerned_register, fifth_of};
use gridloop_domain::register::{Group, Register, RegisterCommand, RegisterError, RegisterEvent, RegisterId};
use gridloop_kit::authorize::Named;
use gridloop_kit::context::request_traceparent;
use gridloop_kit::grpc;
use gridloop_kit::{Caller, CommandError, Origin};
use gridloop_proto::convert;
use gridloop_proto::status::{failed_precondition, invalid_argument, Violations};
use gridloop_proto::v1 as pb;
use tonic::{Request, Status};
use uuid::Uuid;

/// The area a request names, validated.
pub(crate) fn area_of(value: &str) -> Result<AreaCode, Status> {
    let mut v = Violations::default();
    let area = v.area("area_code", value);
    v.into_result()?;
    area.ok_or_else(|| invalid_argument("area_code", "required"))
}

/// The subject of the person calling: residents act as themselves.
pub(crate) fn subject(caller: &Caller) -> Result<String, Status> {
    caller.principal.as_ref().map(|p| p.subject.clone()).ok_or_else(|| Status::unauthenticated("a token is required"))
}

/// The events of an area's own stream carry the area as their routing key.
fn area_origin<T>(request: &Request<T>, id: Uuid, area: &AreaCode) -> Origin {
    Origin {
        correlation_id: id.to_string(),
        traceparent: request_traceparent(request.metadata(), id),
        routing_key: area.to_string(),
    }
}

fn register_refused(error: CommandError<RegisterError>) -> Status {
    grpc::status(error, |reason, _| match reason {
        RegisterError::Invalid { field, reason } => invalid_argument(field, reason),
        RegisterError::NotRegistered(_) => Status::not_found(reason.to_string()),
    })
}

pub(crate) fn agenda_refused(error: CommandError<AgendaError>) -> Status {
    grpc::status(error, |reason, _| match reason {
        AgendaError::Invalid { field, reason } => invalid_argument(field, reason),
        AgendaError::Refused { state, .. } => {
            failed_precondition("agenda", &format!("STATE_{}", state.to_uppercase()), reason.to_string())
        }
    })
}

/// A register a request names: the area's own, or that of a building or courtyard of its grid.
pub(crate) struct RegisterOf {
    pub area: AreaCode,
    pub group: Option<Group>,
    pub id: RegisterId,
}

impl RegisterOf {
    pub(crate) fn named(area_code: &str, group: Option<&pb::RegisterGroup>) -> Result<RegisterOf, Status> {
        let area = area_of(area_code)?;
        let Some(group) = group else { return Ok(RegisterOf { id: RegisterId::of(&area), area, group: None }) };
        let invalid = |error: RegisterError| match error {
            RegisterError::Invalid { field, reason } => invalid_argument(field, reason),
            other => invalid_argument("group", other.to_string()),
        };
        let group = convert::from_register_group(group).map_err(invalid)?;
        let id = RegisterId::of_group(&area, &group).map_err(invalid)?;
        Ok(RegisterOf { area, group: Some(group), id })
    }
}

pub(crate) fn register_view(of: &RegisterOf, register: &Register, added: u32) -> pb::RegisterView {
    pb::RegisterView {
        area_code: of.area.to_string(),
        residents_concerned: register.len(),
        objections_needed: fifth_of(register.len()),
        residents: register.residents().cloned().collect(),
        added,
        group: of.group.as_ref().map(convert::register_group),
    }
}

fn agenda_view(area: &AreaCode, agenda: &Agenda, version: u64) -> pb::AgendaView {
    let topics = agenda
        .topics
        .iter()
        .map(|t| pb::AgendaTopic {
            number: t.number,
            title: t.title.clone(),
            proposer: t.proposer.clone(),
            priorities: Some(convert::priorities(t.priorities)),
            merged_into: t.merged_into.unwrap_or(0),
        })
        .collect();
    let mut view = pb::AgendaView {
        area_code: area.to_string(),
        topics,
        order: agenda.last_order.iter().map(convert::ranked).collect(),
        version,
        ..Default::default()
    };
    if let Some(round) = &agenda.round {
        let (method, plus_votes) = convert::method(round.method);
        view.ranking_open = true;
        view.method = method as i32;
        view.plus_votes = plus_votes;
        view.ballots = round.ballots.len() as u32;
        view.standing = agenda::order(agenda).iter().map(convert::ranked).collect();
    }
    view
}

impl MediationSvc {
    /// The register of `area` as it stands.
    pub(crate) async fn register_of(&self, area: &AreaCode) -> Result<Register, Status> {
        let loaded = self.registers.load(RegisterId::of(area)).await.map_err(register_refused)?;
        Ok(loaded.state)
    }

    /// Change the register `of` names; a group's stream is routed to its grid, whose offices
    /// keep it.
    pub(crate) async fn change_register<T>(
        &self,
        request: &Request<T>,
        of: &RegisterOf,
        command: RegisterCommand,
    ) -> Result<pb::RegisterView, Status> {
        let mut envelope = self.registers.request(of.id, command, Caller::of(request)?, None);
        envelope.origin = Some(area_origin(request, of.id.0, &of.area));
        let executed = self.registers.execute(envelope).await.map_err(register_refused)?;
        let added = executed
            .appended
            .iter()
            .map(|(_, event)| match event {
                RegisterEvent::ResidentsRegistered { residents } => residents.len() as u32,
                RegisterEvent::ResidentRemoved { .. } => 0,
            })
            .sum();
        Ok(register_view(of, &executed.state, added))
    }

    pub(crate) async fn read_register<T>(
        &self,
        request: &Request<T>,
        of: &RegisterOf,
    ) -> Result<pb::RegisterView, Status> {
        grpc::may_read(request, Rpc::GetRegister, Some(&CaseFacts::at(of.area.clone())), Named::default())?;
        let loaded = self.registers.load(of.id).await.map_err(register_refused)?;
        Ok(register_view(of, &loaded.state, 0))
    }

    /// The register of the residents a session concerns, as it stands: its area's, or the
    /// building's or courtyard's its opening named.
    pub(crate) async fn concerned(&self, id: MediationId) -> Result<Register, Status> {
        let loaded = self.sessions.load(id).await.map_err(|e| crate::grpc::status(id, e))?;
        let origin = loaded.origin().ok_or_else(|| Status::not_found(format!("mediation {id} not found")))?;
        let session = loaded.state.session().ok_or_else(|| Status::not_found(format!("mediation {id} not found")))?;
        let area = AreaCode::new(origin.routing_key)
            .map_err(|e| Status::internal(format!("session {id} routed to no area: {e}")))?;
        let register =
            concerned_register(&area, session).map_err(|e| Status::internal(format!("session {id}: {e}")))?;
        self.load_register(register).await
    }

    pub(crate) async fn load_register(&self, id: RegisterId) -> Result<Register, Status> {
        Ok(self.registers.load(id).await.map_err(register_refused)?.state)
    }

    /// Whether the register of `area` holds the caller.
    async fn registered(&self, area: &AreaCode, caller: &Caller) -> Result<bool, Status> {
        Ok(self.register_of(area).await?.contains(&subject(caller)?))
    }

    /// Run an agenda command for `area`; `build` is given the caller's subject and whether the
    /// area's register holds them.
    pub(crate) async fn change_agenda<T>(
        &self,
        request: &Request<T>,
        area: &AreaCode,
        build: impl FnOnce(String, bool) -> AgendaCommand,
    ) -> Result<pb::AgendaView, Status> {
        let caller = Caller::of(request)?;
        let who = subject(&caller)?;
        let command = build(who, self.registered(area, &caller).await?);
        let id = AgendaId::of(area);
        let mut envelope = self.agendas.request(id, command, caller, None);
        envelope.origin = Some(area_origin(request, id.0, area));
        let executed = self.agendas.execute(envelope).await.map_err(agenda_refused)?;
        Ok(agenda_view(area, &executed.state, executed.version))
    }

    pub(crate) async fn read_agenda<T>(&self, request: &Request<T>, area: &AreaCode) -> Result<pb::AgendaView, Status> {
        grpc::may_read(request, Rpc::GetAgenda, Some(&CaseFacts::at(area.clone())), Named::default())?;
        let loaded = self.agendas.load(AgendaId::of(area)).await.map_err(agenda_refused)?;
        Ok(agenda_view(area, &loaded.state, loaded.version))
    }
}
