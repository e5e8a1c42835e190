//! Mediation's gRPC API: each request is a session command sent down the kit's command path,
//! answered with the session as it stands after it; the session's refusals become precise
//! statuses here and nowhere else.

use crate::residents::{agenda_refused, area_of, subject, RegisterOf};
use crate::sessions;
use crate::view::{view, Reader};
use crate::MediationSvc;
use gridloop_domain::access::Rpc;
use gridloop_domain::agenda::{AgendaCommand, AgendaId, Ballot};
use gridloop_domain::ids::MediationId;
use gridloop_domain::jurisdiction::AreaCode;
use gridloop_domain::mediation::{
    self, Mediation, MediationCommand, MediationError, Origin, Participant, Referral, Response as ObjectionResponse,
    Statement,
};
use gridloop_domain::register::RegisterCommand;
use gridloop_kit::authorize::{session_object, Named};
use gridloop_kit::context::{command_causation, request_traceparent};
use gridloop_kit::grpc::{self, store_status};
use gridloop_kit::{Caller, CommandError, Envelope, Origin as KitOrigin, CATCH_UP_WAIT};
use gridloop_proto::convert;
use gridloop_proto::status::{failed_precondition, invalid_argument, optional_area, parse_uuid, Violations};
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::mediation_service_server::MediationService;
use tonic::{Request, Response, Status};
use uuid::Uuid;

/// The most sessions one list of waiting sessions holds.
const MAX_WAITING: u32 = 200;

/// A session's refusal: the bad field, or the stage that forbids the step.
fn refused(id: MediationId, error: MediationError) -> Status {
    match error {
        MediationError::Invalid { field, reason } => invalid_argument(field, reason),
        MediationError::NotFound => Status::not_found(format!("mediation {id} not found")),
        MediationError::AlreadyConcluded => failed_precondition("mediation", "STATE_CONCLUDED", error.to_string()),
        MediationError::Refused { stage, .. } => {
            failed_precondition("mediation", &format!("STAGE_{}", stage.to_uppercase()), error.to_string())
        }
    }
}

pub(crate) fn status(id: MediationId, error: CommandError<MediationError>) -> Status {
    grpc::status(error, |reason, _| refused(id, reason))
}

fn role_field(field: &str, value: i32, v: &mut Violations) -> Option<mediation::Role> {
    let role = pb::ParticipantRole::try_from(value).ok().and_then(convert::from_role);
    v.check(role.is_some(), field, "a participant role is required");
    role
}

impl MediationSvc {
    /// Run one step of the procedure on an existing session and return the session after it.
    async fn step(
        &self,
        mediation_id: &str,
        caller: Caller,
        command: MediationCommand,
    ) -> Result<Response<pb::MediationView>, Status> {
        let id = MediationId(parse_uuid("mediation_id", mediation_id)?);
        let envelope = self.sessions.request(id, command, caller, None);
        self.answer(id, envelope).await
    }

    /// The agenda topic a session is proposed on must stand on its area's agenda (not merged away).
    async fn check_agenda_topic(&self, area: &AreaCode, number: u32) -> Result<Option<u32>, Status> {
        if number == 0 {
            return Ok(None);
        }
        let agenda = self.agendas.load(AgendaId::of(area)).await.map_err(agenda_refused)?;
        match agenda.state.topic(number) {
            Some(topic) if topic.merged_into.is_none() => Ok(Some(number)),
            Some(_) => Err(invalid_argument("agenda_topic", format!("topic {number} was merged into another"))),
            None => Err(invalid_argument("agenda_topic", format!("no topic {number} on the agenda of {area}"))),
        }
    }

    /// Carry out `envelope` and answer with the session after it, rendered from the stream read
    /// for the decision and the events just appended.
    async fn answer(
        &self,
        id: MediationId,
        envelope: Envelope<Mediation>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let principal = envelope.caller.principal.clone();
        let executed = self.sessions.execute(envelope).await.map_err(|e| status(id, e))?;
        let (state, version) = (executed.state.clone(), executed.version);
        // Sessions are not cached: the stream was read for the decision.
        let history = executed.history().unwrap_or_default();
        let reader = Reader::of(principal.as_ref(), &history);
        Ok(Response::new(view(id, &state, version, &history, &reader)))
    }
}

#[tonic::async_trait]
impl MediationService for MediationSvc {
    async fn get_mediation(
        &self,
        request: Request<pb::GetMediationRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let r = request.get_ref();
        let id = match (r.mediation_id.is_empty(), r.case_id.is_empty()) {
            (false, _) => MediationId(parse_uuid("mediation_id", &r.mediation_id)?),
            (true, false) => {
                let case_id = parse_uuid("case_id", &r.case_id)?.to_string();
                sessions::latest_for_case(self.store(), &case_id)
                    .await
                    .map_err(store_status)?
                    .ok_or_else(|| Status::not_found(format!("no mediation for case {case_id}")))?
            }
            (true, true) => return Err(invalid_argument("mediation_id", "give mediation_id or case_id")),
        };
        self.sessions
            .caught_up(id, r.min_version, CATCH_UP_WAIT)
            .await
            .map_err(|error| grpc::behind_status(error, |error| status(id, error)))?;
        let loaded = self.sessions.load(id).await.map_err(|e| status(id, e))?;
        if loaded.version == 0 {
            return Err(Status::not_found(format!("mediation {id} not found")));
        }
        let (mediation_id, case_id) = (id.to_string(), loaded.state.session().and_then(|s| s.origin.case_id()));
        let case_id = case_id.map(|c| c.to_string());
        let named = Named { case_id: case_id.as_deref(), mediation_id: Some(&mediation_id) };
        let facts = session_object(&loaded.state, loaded.origin().as_ref());
        grpc::may_read(&request, Rpc::GetMediation, facts.as_ref(), named)?;
        let principal = Caller::of(&request)?.principal;
        let reader = Reader::of(principal.as_ref(), &loaded.history);
        Ok(Response::new(view(id, &loaded.state, loaded.version, &loaded.history, &reader)))
    }

    async fn conclude_mediation(
        &self,
        request: Request<pb::ConcludeMediationRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let agreed = match r.outcome() {
            pb::MediationOutcome::Agreed => true,
            pb::MediationOutcome::Failed => false,
            pb::MediationOutcome::Unspecified | pb::MediationOutcome::Consultation => {
                return Err(invalid_argument("outcome", "required (agreed or failed)"))
            }
        };
        let command = MediationCommand::Conclude { agreed, summary: r.summary, signed_by: r.signed_by };
        self.step(&r.mediation_id, caller, command).await
    }

    async fn propose_topic(
        &self,
        request: Request<pb::ProposeTopicRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let id = MediationId(Uuid::now_v7());
        let traceparent = request_traceparent(request.metadata(), id.0);
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let mut v = Violations::default();
        let level = convert::from_session_level(r.level());
        v.check(level.is_some(), "level", "a session level is required");
        let kind = convert::from_matter_kind(r.kind());
        v.check(kind.is_some(), "kind", "a matter kind is required");
        let area = v.area("area_code", &r.area_code);
        let professional = match r.professional() {
            pb::ParticipantRole::Unspecified => None,
            _ => role_field("professional", r.professional, &mut v),
        };
        v.into_result()?;
        let (Some(level), Some(kind), Some(area)) = (level, kind, area) else { unreachable!("checked above") };
        // A building's or courtyard's matter names its register; it must be one of the grid's.
        let register = RegisterOf::named(&r.area_code, r.register_group.as_ref())?.group;
        let agenda_topic = self.check_agenda_topic(&area, r.agenda_topic).await?;
        let command = MediationCommand::Open {
            origin: Origin::CollectedTopic { collected_from: r.collected_from, agenda_topic },
            level,
            topic: r.topic,
            kind,
            professional,
            convenor: r.convenor,
            register,
        };
        // A session on a collected topic is its own correlation and trace, routed to its area.
        let mut envelope = self.sessions.request(id, command, caller, None);
        envelope.causation = command_causation("propose_topic");
        envelope.origin = Some(KitOrigin { correlation_id: id.to_string(), traceparent, routing_key: area.into() });
        self.answer(id, envelope).await
    }

    async fn invite_participant(
        &self,
        request: Request<pb::InviteParticipantRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let mut v = Violations::default();
        let role = role_field("role", r.role, &mut v);
        v.into_result()?;
        let Some(role) = role else { unreachable!("checked above") };
        let command = MediationCommand::Invite { participant: Participant { name: r.name, role } };
        self.step(&r.mediation_id, caller, command).await
    }

    async fn notify_participants(
        &self,
        request: Request<pb::MediationStepRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        self.step(&r.mediation_id, caller, MediationCommand::Notify).await
    }

    async fn open_deliberation(
        &self,
        request: Request<pb::OpenDeliberationRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        self.step(&r.mediation_id, caller, MediationCommand::OpenDeliberation { present: r.present }).await
    }

    async fn make_statement(
        &self,
        request: Request<pb::MakeStatementRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let command = MediationCommand::MakeStatement { statement: Statement { speaker: r.speaker, text: r.text } };
        self.step(&r.mediation_id, caller, command).await
    }

    async fn put_motion(&self, request: Request<pb::PutMotionRequest>) -> Result<Response<pb::MediationView>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let command = MediationCommand::PutMotion { motion: r.motion, yes: r.yes, no: r.no, abstain: r.abstain };
        self.step(&r.mediation_id, caller, command).await
    }

    async fn sign_agreement(
        &self,
        request: Request<pb::SignAgreementRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let id = MediationId(parse_uuid("mediation_id", &r.mediation_id)?);
        // One fifth is of the register of the residents concerned (the area's, or the building's
        // or courtyard's the session names); without one kept yet, the number the council gives.
        let register = self.concerned(id).await?;
        let residents_concerned = if register.is_empty() { r.residents_concerned } else { register.len() };
        let command = MediationCommand::SignAgreement { signed_by: r.signed_by, residents_concerned };
        self.step(&r.mediation_id, caller, command).await
    }

    async fn raise_objection(
        &self,
        request: Request<pb::RaiseObjectionRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        self.step(&r.mediation_id, caller, MediationCommand::RaiseObjection { residents: r.residents }).await
    }

    async fn respond_to_objection(
        &self,
        request: Request<pb::RespondToObjectionRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let response = match r.response() {
            pb::ObjectionResponse::Reconsider => ObjectionResponse::Reconsider,
            pb::ObjectionResponse::Suspend => ObjectionResponse::Suspend,
            pb::ObjectionResponse::Unspecified => {
                return Err(invalid_argument("response", "required (reconsider or suspend)"))
            }
        };
        let command = MediationCommand::RespondToObjection { response, reason: r.reason };
        self.step(&r.mediation_id, caller, command).await
    }

    async fn execute_agreement(
        &self,
        request: Request<pb::MediationStepRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        self.step(&r.mediation_id, caller, MediationCommand::Execute).await
    }

    async fn record_no_agreement(
        &self,
        request: Request<pb::RecordNoAgreementRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let referral = match r.referral() {
            pb::MediationReferral::EscalateOneLevel => Referral::EscalateOneLevel,
            pb::MediationReferral::Litigation => Referral::Litigation,
            pb::MediationReferral::Unspecified => {
                return Err(invalid_argument("referral", "required (escalate one level or litigation)"))
            }
        };
        let command = MediationCommand::RecordNoAgreement { referral, summary: r.summary };
        self.step(&r.mediation_id, caller, command).await
    }

    async fn record_consultation(
        &self,
        request: Request<pb::RecordConsultationRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        self.step(&r.mediation_id, caller, MediationCommand::RecordConsultation { summary: r.summary }).await
    }

    async fn record_follow_up(
        &self,
        request: Request<pb::RecordFollowUpRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let command = MediationCommand::FollowUp { note: r.note, settled: r.settled };
        self.step(&r.mediation_id, caller, command).await
    }

    async fn open_ballot(
        &self,
        request: Request<pb::OpenBallotRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let id = MediationId(parse_uuid("mediation_id", &r.mediation_id)?);
        // Residents' representatives vote when the register of the residents concerned holds
        // them; none kept yet, everyone invited votes.
        let register = self.concerned(id).await?;
        let concerned = (!register.is_empty()).then_some(register);
        let command = MediationCommand::OpenBallot { motion: r.motion, secret: r.secret, concerned };
        self.step(&r.mediation_id, caller, command).await
    }

    async fn cast_ballot(
        &self,
        request: Request<pb::CastBallotRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let choice =
            convert::from_choice(r.choice()).ok_or_else(|| invalid_argument("choice", "yes, no or abstain"))?;
        let command = MediationCommand::CastBallot { voter: subject(&caller)?, choice };
        self.step(&r.mediation_id, caller, command).await
    }

    async fn close_ballot(
        &self,
        request: Request<pb::MediationStepRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        self.step(&r.mediation_id, caller, MediationCommand::CloseBallot).await
    }

    async fn object_to_decision(
        &self,
        request: Request<pb::MediationStepRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let caller = Caller::of(&request)?;
        let id = MediationId(parse_uuid("mediation_id", &request.get_ref().mediation_id)?);
        let resident = subject(&caller)?;
        let registered = self.concerned(id).await?.contains(&resident);
        let envelope = self.sessions.request(id, MediationCommand::Object { resident, registered }, caller, None);
        self.answer(id, envelope).await
    }

    async fn submit_resident_statement(
        &self,
        request: Request<pb::SubmitResidentStatementRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let id = MediationId(parse_uuid("mediation_id", &r.mediation_id)?);
        let resident = subject(&caller)?;
        let registered = self.concerned(id).await?.contains(&resident);
        let command = MediationCommand::SubmitResidentStatement { resident, text: r.text, registered };
        self.answer(id, self.sessions.request(id, command, caller, None)).await
    }

    async fn get_matter_record(
        &self,
        request: Request<pb::GetMatterRecordRequest>,
    ) -> Result<Response<pb::MatterRecord>, Status> {
        let id = MediationId(parse_uuid("mediation_id", &request.get_ref().mediation_id)?);
        Ok(Response::new(self.matter_record(&request, id).await?))
    }

    async fn get_implementation_report(
        &self,
        request: Request<pb::GetImplementationReportRequest>,
    ) -> Result<Response<pb::ImplementationReport>, Status> {
        let area = area_of(&request.get_ref().area_code)?;
        // An area within the caller's reach, or refused; everywhere (the admin) is the area asked.
        let area = grpc::confine_area(&request, Rpc::GetImplementationReport, Some(&area))?.unwrap_or(area);
        Ok(Response::new(self.implementation_report(&area, &request.get_ref().month).await?))
    }

    async fn register_residents(
        &self,
        request: Request<pb::RegisterResidentsRequest>,
    ) -> Result<Response<pb::RegisterView>, Status> {
        let of = RegisterOf::named(&request.get_ref().area_code, request.get_ref().group.as_ref())?;
        let command = RegisterCommand::Register { residents: request.get_ref().residents.clone() };
        Ok(Response::new(self.change_register(&request, &of, command).await?))
    }

    async fn remove_resident(
        &self,
        request: Request<pb::RemoveResidentRequest>,
    ) -> Result<Response<pb::RegisterView>, Status> {
        let of = RegisterOf::named(&request.get_ref().area_code, request.get_ref().group.as_ref())?;
        let command = RegisterCommand::Remove { resident: request.get_ref().resident.clone() };
        Ok(Response::new(self.change_register(&request, &of, command).await?))
    }

    async fn get_register(
        &self,
        request: Request<pb::GetRegisterRequest>,
    ) -> Result<Response<pb::RegisterView>, Status> {
        let of = RegisterOf::named(&request.get_ref().area_code, request.get_ref().group.as_ref())?;
        Ok(Response::new(self.read_register(&request, &of).await?))
    }

    async fn propose_agenda_topic(
        &self,
        request: Request<pb::ProposeAgendaTopicRequest>,
    ) -> Result<Response<pb::AgendaView>, Status> {
        let area = area_of(&request.get_ref().area_code)?;
        let r = request.get_ref().clone();
        let view = self
            .change_agenda(&request, &area, |proposer, registered| AgendaCommand::Propose {
                title: r.title,
                proposer,
                collected_from: r.collected_from,
                priorities: convert::from_priorities(r.priorities.as_ref()),
                registered,
            })
            .await?;
        Ok(Response::new(view))
    }

    async fn merge_agenda_topics(
        &self,
        request: Request<pb::MergeAgendaTopicsRequest>,
    ) -> Result<Response<pb::AgendaView>, Status> {
        let area = area_of(&request.get_ref().area_code)?;
        let (duplicate, into) = (request.get_ref().duplicate, request.get_ref().into);
        let view = self.change_agenda(&request, &area, |_, _| AgendaCommand::Merge { duplicate, into }).await?;
        Ok(Response::new(view))
    }

    async fn open_ranking(&self, request: Request<pb::OpenRankingRequest>) -> Result<Response<pb::AgendaView>, Status> {
        let r = request.get_ref();
        let area = area_of(&r.area_code)?;
        let method =
            convert::from_method(r.method(), r.plus_votes).ok_or_else(|| invalid_argument("method", "D21 or 531"))?;
        let view = self.change_agenda(&request, &area, |_, _| AgendaCommand::OpenRanking { method }).await?;
        Ok(Response::new(view))
    }

    async fn rank_topics(&self, request: Request<pb::RankTopicsRequest>) -> Result<Response<pb::AgendaView>, Status> {
        let r = request.get_ref().clone();
        let area = area_of(&r.area_code)?;
        let ballot = match (r.plus.is_empty(), r.choices.is_empty()) {
            (false, true) => Ballot::D21 { plus: r.plus, minus: (r.minus != 0).then_some(r.minus) },
            (true, false) => Ballot::Points531 { choices: r.choices },
            _ => return Err(invalid_argument("plus", "give D21 plus (and minus) votes or 531 choices")),
        };
        let view = self
            .change_agenda(&request, &area, |voter, registered| AgendaCommand::Rank { voter, ballot, registered })
            .await?;
        Ok(Response::new(view))
    }

    async fn close_ranking(&self, request: Request<pb::GetAgendaRequest>) -> Result<Response<pb::AgendaView>, Status> {
        let area = area_of(&request.get_ref().area_code)?;
        Ok(Response::new(self.change_agenda(&request, &area, |_, _| AgendaCommand::CloseRanking).await?))
    }

    async fn get_agenda(&self, request: Request<pb::GetAgendaRequest>) -> Result<Response<pb::AgendaView>, Status> {
        let area = area_of(&request.get_ref().area_code)?;
        Ok(Response::new(self.read_agenda(&request, &area).await?))
    }

    async fn get_mediation_figures(
        &self,
        request: Request<pb::GetMediationFiguresRequest>,
    ) -> Result<Response<pb::MediationFigures>, Status> {
        let area = optional_area("area", &request.get_ref().area)?;
        let area = grpc::confine_area(&request, Rpc::GetMediationFigures, area.as_ref())?;
        let r = request.into_inner();
        let micros = |t: Option<&prost_types::Timestamp>, field: &str, unbounded: i64| match t {
            None => Ok(unbounded),
            Some(t) => convert::from_timestamp(t)
                .map(|t| t.timestamp_micros())
                .ok_or_else(|| invalid_argument(field, "not a valid timestamp")),
        };
        let window = (micros(r.from.as_ref(), "from", i64::MIN)?, micros(r.to.as_ref(), "to", i64::MAX)?);
        Ok(Response::new(sessions::figures(self.store(), area.as_ref(), window).await.map_err(store_status)?))
    }

    async fn list_waiting_mediations(
        &self,
        request: Request<pb::ListWaitingMediationsRequest>,
    ) -> Result<Response<pb::ListWaitingMediationsResponse>, Status> {
        let area = optional_area("area", &request.get_ref().area)?;
        let area = grpc::confine_area(&request, Rpc::ListWaitingMediations, area.as_ref())?;
        let limit = match request.get_ref().limit {
            0 => MAX_WAITING,
            n => n.min(MAX_WAITING),
        };
        let (sessions, total) = sessions::waiting(self.store(), area.as_ref(), limit).await.map_err(store_status)?;
        Ok(Response::new(pb::ListWaitingMediationsResponse { sessions, total }))
    }

    async fn list_area_sessions(
        &self,
        request: Request<pb::ListAreaSessionsRequest>,
    ) -> Result<Response<pb::ListAreaSessionsResponse>, Status> {
        Ok(Response::new(self.area_sessions(&request).await?))
    }
}
