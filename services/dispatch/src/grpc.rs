//! Dispatch's gRPC API: each request is a case command sent down the kit's command path; the
//! case's refusals become precise statuses here and nowhere else.

use crate::contact::ContactView;
use crate::{case_view, with_times, Dispatch, DispatchError, SERVICE};
use gridloop_domain::access::{case_facts, Rpc};
use gridloop_domain::case::{CaseCommand, CaseError};
use gridloop_domain::ids::CaseId;
use gridloop_domain::personal::{contact_access, mask_free_text};
use gridloop_kit::authorize::Named;
use gridloop_kit::{grpc, Caller, CATCH_UP_WAIT};
use gridloop_proto::convert;
use gridloop_proto::envelope::envelope;
use gridloop_proto::event_json::EventJson;
use gridloop_proto::status::{failed_precondition, invalid_argument, parse_uuid, Violations};
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::dispatch_service_server::DispatchService;
use tonic::{Request, Response, Status};

impl From<DispatchError> for Status {
    fn from(error: DispatchError) -> Status {
        match error {
            DispatchError::Case(refusal) => refused(refusal),
            DispatchError::WrongVersion { .. } => Status::aborted(error.to_string()),
            DispatchError::Command(error) => grpc::status(error, |refusal, _| refused(refusal)),
        }
    }
}

/// A case's refusal: the bad field, or the state that forbids the step.
fn refused(error: CaseError) -> Status {
    match error {
        CaseError::Invalid { field, reason } => invalid_argument(field, reason),
        CaseError::InvalidFields(fields) => {
            let mut violations = Violations::default();
            fields.into_iter().for_each(|(field, reason)| violations.add(field, reason));
            violations.into_result().expect_err("at least one bad field")
        }
        CaseError::NotFound => Status::not_found("case not found"),
        CaseError::AlreadyOpened => Status::already_exists("case already exists"),
        error @ CaseError::Forbidden { state, .. } => {
            failed_precondition("case", &format!("STATE_{}", state.to_uppercase()), error.to_string())
        }
    }
}

impl Dispatch {
    /// Wait until the case has reached `min_version`, a client's consistency token (0: don't).
    async fn caught_up(&self, case_id: CaseId, min_version: u64) -> Result<(), Status> {
        self.cases
            .caught_up(case_id, min_version, CATCH_UP_WAIT)
            .await
            .map_err(|error| grpc::behind_status(error, |error| Status::from(DispatchError::from(error))))
    }

    /// Run a client's command on a case, once the case has reached `min_version`; the answer is
    /// the case after it, at its new version.
    async fn command(
        &self,
        case_id: &str,
        expected_version: u64,
        min_version: u64,
        caller: Caller,
        command: CaseCommand,
    ) -> Result<Response<pb::CaseCommandResponse>, Status> {
        let case_id = CaseId(parse_uuid("case_id", case_id)?);
        self.caught_up(case_id, min_version).await?;
        let expected = (expected_version > 0).then_some(expected_version);
        let viewer = caller.principal.clone();
        let envelope = self.cases.request(case_id, command, caller, expected);
        let executed = self.cases.execute(envelope).await.map_err(DispatchError::from)?;
        let mut case = case_view(&executed.state);
        // The answer shows the case to whoever commanded it: a phone or ID-card number typed into
        // the description is theirs to read only if they may see the contact, as in `GetCase`.
        if !contact_access(viewer.as_ref(), &case.grid_code).sees_free_text() {
            case.description = mask_free_text(&case.description);
        }
        Ok(Response::new(pb::CaseCommandResponse {
            case_id: case_id.to_string(),
            version: executed.version,
            case: Some(case),
        }))
    }
}

#[tonic::async_trait]
impl DispatchService for Dispatch {
    async fn accept_case(
        &self,
        request: Request<pb::AcceptCaseRequest>,
    ) -> Result<Response<pb::CaseCommandResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        self.command(
            &r.case_id,
            r.expected_version,
            r.min_version,
            caller,
            CaseCommand::Accept { assignee: r.assignee },
        )
        .await
    }

    async fn escalate_case(
        &self,
        request: Request<pb::EscalateCaseRequest>,
    ) -> Result<Response<pb::CaseCommandResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        self.command(&r.case_id, r.expected_version, r.min_version, caller, CaseCommand::Escalate { reason: r.reason })
            .await
    }

    async fn transfer_case(
        &self,
        request: Request<pb::TransferCaseRequest>,
    ) -> Result<Response<pb::CaseCommandResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let command = CaseCommand::Transfer { to_unit: r.to_unit, reason: r.reason };
        self.command(&r.case_id, r.expected_version, r.min_version, caller, command).await
    }

    async fn request_mediation(
        &self,
        request: Request<pb::RequestMediationRequest>,
    ) -> Result<Response<pb::CaseCommandResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        // A building's or courtyard's matter names its register, checked as the register checks it.
        let register = r.register_group.as_ref().map(convert::from_register_group).transpose();
        let register = register.map_err(|e| invalid_argument("register_group", e.to_string()))?;
        self.command(
            &r.case_id,
            r.expected_version,
            r.min_version,
            caller,
            CaseCommand::RequestMediation { topic: r.topic, convenor: r.convenor, register },
        )
        .await
    }

    async fn resolve_case(
        &self,
        request: Request<pb::ResolveCaseRequest>,
    ) -> Result<Response<pb::CaseCommandResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        self.command(&r.case_id, r.expected_version, r.min_version, caller, CaseCommand::Resolve { summary: r.summary })
            .await
    }

    async fn verify_case(
        &self,
        request: Request<pb::VerifyCaseRequest>,
    ) -> Result<Response<pb::CaseCommandResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let command = CaseCommand::Verify { verifier: r.verifier, passed: r.passed, note: r.note };
        self.command(&r.case_id, r.expected_version, r.min_version, caller, command).await
    }

    async fn reject_case(
        &self,
        request: Request<pb::RejectCaseRequest>,
    ) -> Result<Response<pb::CaseCommandResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        self.command(&r.case_id, r.expected_version, r.min_version, caller, CaseCommand::Reject { reason: r.reason })
            .await
    }

    async fn summon_departments(
        &self,
        request: Request<pb::SummonDepartmentsRequest>,
    ) -> Result<Response<pb::CaseCommandResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let command = CaseCommand::SummonDepartments { departments: r.departments, reason: r.reason };
        self.command(&r.case_id, r.expected_version, r.min_version, caller, command).await
    }

    async fn report_in(
        &self,
        request: Request<pb::ReportInRequest>,
    ) -> Result<Response<pb::CaseCommandResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let command = CaseCommand::ReportIn { department: r.department, by: r.by, note: r.note };
        self.command(&r.case_id, r.expected_version, r.min_version, caller, command).await
    }

    async fn add_case_note(
        &self,
        request: Request<pb::AddCaseNoteRequest>,
    ) -> Result<Response<pb::CaseCommandResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let command = CaseCommand::AddNote { text: r.text, author: caller.actor.id.clone() };
        self.command(&r.case_id, r.expected_version, r.min_version, caller, command).await
    }

    async fn get_case(&self, request: Request<pb::GetCaseRequest>) -> Result<Response<pb::GetCaseResponse>, Status> {
        let case_id = CaseId(parse_uuid("case_id", &request.get_ref().case_id)?);
        self.caught_up(case_id, request.get_ref().min_version).await?;
        let viewer = gridloop_auth::principal(&request).ok();
        let loaded = self.load(case_id).await?;
        if loaded.history.is_empty() {
            return Err(Status::not_found(format!("case {case_id} not found")));
        }
        let named = Named { case_id: Some(&request.get_ref().case_id), mediation_id: None };
        grpc::may_read_reporter(
            &request,
            Rpc::GetCase,
            case_facts(&loaded.case).as_ref(),
            named,
            self.reporters.as_deref(),
        )?;
        let grid_code = loaded.case.details.as_ref().map_or("", |d| d.grid_code.as_str());
        let view = ContactView {
            opener: self.contacts.as_deref(),
            viewer,
            access: contact_access(viewer, grid_code),
            case_id: case_id.to_string(),
        };
        let mut history = Vec::with_capacity(loaded.history.len());
        for (record, event) in &loaded.history {
            let mut envelope = envelope(record, SERVICE);
            if let Some(shown) = view.event(event).await? {
                envelope.payload = convert::encode_case_event(case_id, &shown).1;
            }
            let payload_json = EventJson::shared().to_string(&record.event_type, &envelope.payload).unwrap_or_default();
            history.push(pb::HistoryEntry { envelope: Some(envelope), payload_json });
        }
        let mut case = with_times(case_view(&loaded.case), &loaded.case, &loaded.history, self.routing_policy());
        if let Some(details) = &loaded.case.details {
            let disclosure = view.disclose(&details.reporter).await?;
            case.reporter = Some(convert::reporter_contact(&disclosure));
            case.description = view.text(&case.description);
        }
        Ok(Response::new(pb::GetCaseResponse { case: Some(case), history }))
    }
}
