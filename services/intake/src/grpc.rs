//! Intake's gRPC API: a report is validated, classified, located, checked for duplicates and
//! recorded on the stream of its client key; the catalog and the jurisdiction tree are served as
//! configured.

use crate::api_keys::{ApiKeyRow, ApiKeyTableError};
use crate::personal::VaultError;
use crate::{report_stream, Intake};
use gridloop_auth::audit::{Audit, Subject};
use gridloop_domain::access::{CaseFacts, Principal, PrincipalError, Role, Rpc, UnknownRole};
use gridloop_domain::calendar::Sla;
use gridloop_domain::case::{CaseDetails, LinkedReport, Reporter, ReporterKind};
use gridloop_domain::datum::Datum;
use gridloop_domain::ids::CaseId;
use gridloop_domain::jurisdiction::{AreaCode, Department};
use gridloop_domain::level::Level;
use gridloop_eventstore::{Commit, ExpectedVersion, StoreError};
use gridloop_kit::authorize::{check, Named};
use gridloop_kit::context::request_traceparent;
use gridloop_kit::grpc::{self, store_status};
use gridloop_kit::{Caller, EventContext, Origin};
use gridloop_proto::convert::{self, short_type, timestamp};
use gridloop_proto::report::validate_report;
use gridloop_proto::status::invalid_argument;
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::intake_service_server::IntakeService;
use prost::Message;
use tonic::{Request, Response, Status};
use uuid::Uuid;

/// The consistency token of a report: dispatch has the case open once its stream has its
/// first event (`CaseOpened`). A linked report's case is open already.
const OPEN_IN_DISPATCH: u64 = 1;

/// A vault failure at the edge: storage as the store says, anything else internal.
pub fn vault_status(error: VaultError) -> Status {
    match error {
        VaultError::Store(error) => store_status(error),
        other => Status::internal(other.to_string()),
    }
}

/// The report's location as the reporter sent it, recorded beside its WGS 84 conversion when it
/// was in another datum.
fn as_sent(r: &pb::ReportCaseRequest) -> Option<pb::GeoPoint> {
    r.location.filter(|p| convert::from_datum(p.datum()) != Datum::Wgs84)
}

impl Intake {
    /// The object of a report is the grid it is located in. A resident reports as themselves:
    /// the reporter recorded is the resident the token names, whatever the request says, so
    /// that they can follow and evaluate their own cases.
    fn authorize(&self, caller: &Caller, details: &mut CaseDetails) -> Result<(), Status> {
        let Some(principal) = &caller.principal else { return Ok(()) };
        let grid = AreaCode::new(details.grid_code.as_str())
            .map_err(|error| Status::internal(format!("the report was located in a bad grid code: {error}")))?;
        check(principal, Rpc::ReportCase, Some(&CaseFacts::at(grid)), Named::default()).map_err(grpc::denied)?;
        if principal.role == Role::Resident {
            details.reporter.kind = ReporterKind::Resident;
            details.reporter.id = principal.subject.clone();
        }
        Ok(())
    }

    /// `reporter` as it is recorded: the contact fields sealed, none left in the clear.
    async fn sealed(&self, reporter: &Reporter) -> Result<Reporter, Status> {
        let sealed = self.vault.seal(&reporter.contact()).await.map_err(vault_status)?;
        Ok(Reporter { kind: reporter.kind, id: String::new(), name: String::new(), phone: String::new(), sealed })
    }

    /// The answer for a client key that was used before: the first result (a new case or a link
    /// to an existing one) if the request is the same report, ALREADY_EXISTS if the key was
    /// reused for a different one.
    async fn replay(&self, stream: &str, details: &CaseDetails) -> Result<pb::ReportCaseResponse, Status> {
        let first = self.store.read_stream(stream, 1).await.map_err(store_status)?;
        let record = first.first().ok_or_else(|| Status::aborted("report stream vanished; retry"))?;
        let unreadable = |e: prost::DecodeError| Status::internal(format!("stored report unreadable: {e}"));
        let (stored, response) = match short_type(&record.event_type) {
            "CaseReportLinked" => {
                let m = pb::CaseReportLinked::decode(record.payload.as_slice()).map_err(unreadable)?;
                let response = pb::ReportCaseResponse {
                    case_id: m.case_id.clone(),
                    // The linked case's grid, which the event carries as its routing key.
                    grid_code: record.routing_key.clone(),
                    category_code: m.category_code.clone(),
                    uploaded_at: m.uploaded_at,
                    replayed: true,
                    linked: true,
                    linked_reason: m.reason.clone(),
                    case_version: OPEN_IN_DISPATCH,
                };
                ((m.case_id, m.category_code, m.description, m.location), response)
            }
            _ => {
                let m = pb::CaseReported::decode(record.payload.as_slice()).map_err(unreadable)?;
                let response = pb::ReportCaseResponse {
                    case_id: m.case_id.clone(),
                    grid_code: m.grid_code,
                    category_code: m.category_code.clone(),
                    uploaded_at: m.uploaded_at,
                    replayed: true,
                    linked: false,
                    linked_reason: String::new(),
                    case_version: OPEN_IN_DISPATCH,
                };
                ((m.case_id, m.category_code, m.description, m.location), response)
            }
        };
        let (case_id, category_code, description, location) = stored;
        let same = category_code == details.category_code
            && description == details.description
            && location.as_ref().is_some_and(|p| p.lat == details.lat && p.lon == details.lon);
        if !same {
            return Err(Status::already_exists(format!(
                "client_key was already used for a different report (case {case_id})"
            )));
        }
        Ok(response)
    }
}

#[tonic::async_trait]
impl IntakeService for Intake {
    async fn report_case(
        &self,
        request: Request<pb::ReportCaseRequest>,
    ) -> Result<Response<pb::ReportCaseResponse>, Status> {
        let now = self.clock.now();
        let metadata = request.metadata().clone();
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let mut details = validate_report(&self.policy, &r, now)?;
        self.authorize(&caller, &mut details)?;
        details.reporter = self.sealed(&details.reporter).await?;
        let stream = report_stream(&r.client_key);
        let duplicate = self.find_duplicate(&details, now).await?;
        let case_id = match &duplicate {
            Some(d) => CaseId::parse(&d.case.case_id).map_err(|_| Status::internal("bad open case id"))?,
            None => CaseId(Uuid::now_v7()),
        };
        // A resident acts under their blind index: the envelope names no one.
        let mut actor = caller.actor;
        if caller.principal.as_ref().is_some_and(|p| p.role == Role::Resident) {
            actor.id = details.reporter.sealed.as_ref().map_or_else(String::new, |s| s.blind_index.clone());
        }
        let origin = Origin {
            correlation_id: case_id.to_string(),
            traceparent: request_traceparent(&metadata, case_id.0),
            // A linked report travels with its case: the case's grid routes it.
            routing_key: duplicate.as_ref().map_or_else(|| details.grid_code.clone(), |d| d.case.grid_code.clone()),
        };
        let context = EventContext::new(actor, &origin, format!("report:{}", r.client_key), now);
        let (event, response) = match duplicate {
            None => {
                let mut reported = convert::case_reported(case_id, &details, &r.client_key);
                reported.reported_location = as_sent(&r);
                let response = pb::ReportCaseResponse {
                    case_id: case_id.to_string(),
                    grid_code: details.grid_code.clone(),
                    category_code: details.category_code.clone(),
                    uploaded_at: Some(timestamp(now)),
                    replayed: false,
                    linked: false,
                    linked_reason: String::new(),
                    case_version: OPEN_IN_DISPATCH,
                };
                (context.event((convert::event_type("CaseReported"), reported.encode_to_vec())), response)
            }
            Some(found) => {
                let reason = found.reason(now);
                let report = LinkedReport {
                    details: details.clone(),
                    client_key: r.client_key.clone(),
                    distance_m: found.distance_m,
                    reason: reason.clone(),
                };
                let mut linked = convert::case_report_linked(case_id, &report);
                linked.reported_location = as_sent(&r);
                let response = pb::ReportCaseResponse {
                    case_id: case_id.to_string(),
                    grid_code: found.case.grid_code.clone(),
                    category_code: details.category_code.clone(),
                    uploaded_at: Some(timestamp(now)),
                    replayed: false,
                    linked: true,
                    linked_reason: reason,
                    case_version: OPEN_IN_DISPATCH,
                };
                (context.event((convert::event_type("CaseReportLinked"), linked.encode_to_vec())), response)
            }
        };
        // The client key names the stream: a retry finds it taken and gets the first answer.
        match self.store.commit(Commit::append(stream.clone(), ExpectedVersion::NoStream, vec![event])).await {
            Ok(_) => Ok(Response::new(response)),
            Err(StoreError::Conflict { .. }) => self.replay(&stream, &details).await.map(Response::new),
            Err(error) => Err(store_status(error)),
        }
    }

    async fn erase_reporter(
        &self,
        request: Request<pb::EraseReporterRequest>,
    ) -> Result<Response<pb::EraseReporterResponse>, Status> {
        let who = gridloop_auth::principal(&request).ok().cloned();
        let reporter = request.get_ref().reporter.trim();
        if reporter.is_empty() {
            return Err(invalid_argument("reporter", "required: the reporter's id (or phone, or name) as reported"));
        }
        let (erased, blind_index) = self.vault.erase(reporter).await.map_err(vault_status)?;
        metrics::counter!("gridloop_personal_data_erased_total", "reason" => "request").increment(erased);
        if let Some(who) = &who {
            let about = Subject { rpc: "EraseReporter", ..Subject::default() };
            Audit.granted(who, &about, &format!("reporter {blind_index} erased ({erased} data keys deleted)"));
        }
        let erased_keys = u32::try_from(erased).unwrap_or(u32::MAX);
        Ok(Response::new(pb::EraseReporterResponse { erased_keys, blind_index }))
    }

    async fn create_api_key(
        &self,
        request: Request<pb::CreateApiKeyRequest>,
    ) -> Result<Response<pb::CreateApiKeyResponse>, Status> {
        let who = gridloop_auth::principal(&request).ok().cloned();
        let principal = key_principal(request.get_ref())?;
        let now = self.clock.now().timestamp_micros();
        let (key, secret) = self.api_keys.create(&principal, now).await.map_err(api_key_status)?;
        if let Some(who) = &who {
            let about = Subject { rpc: "CreateApiKey", ..Subject::default() };
            Audit.granted(
                who,
                &about,
                &format!("API key {} created for {} ({})", key.key_id, principal.subject, principal.role),
            );
        }
        Ok(Response::new(pb::CreateApiKeyResponse { key: Some(api_key_view(&key)), secret }))
    }

    async fn list_api_keys(
        &self,
        request: Request<pb::ListApiKeysRequest>,
    ) -> Result<Response<pb::ListApiKeysResponse>, Status> {
        let keys = self.api_keys.list(request.get_ref().include_revoked).await.map_err(api_key_status)?;
        Ok(Response::new(pb::ListApiKeysResponse { keys: keys.iter().map(api_key_view).collect() }))
    }

    async fn revoke_api_key(&self, request: Request<pb::RevokeApiKeyRequest>) -> Result<Response<pb::ApiKey>, Status> {
        let who = gridloop_auth::principal(&request).ok().cloned();
        let key_id = request.get_ref().key_id.trim();
        if key_id.is_empty() {
            return Err(invalid_argument("key_id", "required (see ListApiKeys)"));
        }
        let now = self.clock.now().timestamp_micros();
        let key = self.api_keys.revoke(key_id, now).await.map_err(api_key_status)?;
        if let Some(who) = &who {
            let about = Subject { rpc: "RevokeApiKey", ..Subject::default() };
            Audit.granted(who, &about, &format!("API key {key_id} revoked"));
        }
        Ok(Response::new(api_key_view(&key)))
    }

    async fn get_catalog(&self, _: Request<pb::GetCatalogRequest>) -> Result<Response<pb::GetCatalogResponse>, Status> {
        let catalog = &self.policy.catalog;
        let classes = catalog
            .classes()
            .iter()
            .map(|c| pb::CategoryClass { code: c.code.clone(), name: c.name.clone() })
            .collect();
        let class_name =
            |code: &str| catalog.classes().iter().find(|c| c.code == code).map(|c| c.name.clone()).unwrap_or_default();
        // The `*_seconds` fields are nominal (working time read as wall-clock time), kept for
        // older clients; the strings are authoritative.
        let seconds = |sla: &Sla| u64::try_from(sla.nominal().num_seconds()).unwrap_or_default();
        let categories = catalog
            .categories()
            .iter()
            .map(|c| pb::Category {
                code: c.code.clone(),
                name: c.name.clone(),
                class_code: c.class_code.clone(),
                class_name: class_name(&c.class_code),
                start_level: convert::level(c.start_level) as i32,
                resolve_sla_seconds: seconds(c.resolve_sla_at(c.start_level)),
                accept_sla_seconds: seconds(&c.accept_sla),
                accept_sla: c.accept_sla.to_string(),
                resolve_sla: c.resolve_sla.iter().map(Sla::to_string).collect(),
                feedback_sla: c.feedback_sla.to_string(),
                departments: c.departments.iter().map(|d| d.clone().unwrap_or_default()).collect(),
                requires_verification: c.verification.is_some(),
                verify_sla: c.verification.map(|sla| sla.to_string()).unwrap_or_default(),
            })
            .collect();
        Ok(Response::new(pb::GetCatalogResponse { classes, categories }))
    }

    async fn get_jurisdiction(
        &self,
        _: Request<pb::GetJurisdictionRequest>,
    ) -> Result<Response<pb::GetJurisdictionResponse>, Status> {
        let district = self.policy.jurisdiction.district();
        let node =
            |code: &str, name: &str, level: Level, parent: &str, departments: &[Department]| pb::JurisdictionNode {
                code: code.to_string(),
                name: name.to_string(),
                level: convert::level(level) as i32,
                parent_code: parent.to_string(),
                boundary: vec![],
                interior_point: None,
                departments: departments
                    .iter()
                    .map(|d| pb::Department { code: d.code.clone(), name: d.name.clone() })
                    .collect(),
                workers: vec![],
            };
        let mut nodes = vec![node(district.code.as_str(), &district.name, Level::District, "", &district.departments)];
        for street in &district.streets {
            let parent = district.code.as_str();
            nodes.push(node(street.code.as_str(), &street.name, Level::Street, parent, &street.departments));
            for community in &street.communities {
                let (code, parent) = (community.code.as_str(), street.code.as_str());
                nodes.push(node(code, &community.name, Level::Community, parent, &community.departments));
                for grid in &community.grids {
                    let (lat, lon) = grid.interior_point();
                    let mut n = node(grid.code.as_str(), &grid.name, Level::Grid, community.code.as_str(), &[]);
                    n.workers = grid
                        .workers
                        .iter()
                        .map(|w| pb::GridWorker { id: w.id.clone(), name: w.name.clone() })
                        .collect();
                    n.boundary = grid.boundary.exterior().points().map(|p| pb::GeoPoint::wgs84(p.y(), p.x())).collect();
                    n.interior_point = Some(pb::GeoPoint::wgs84(lat, lon));
                    nodes.push(n);
                }
            }
        }
        Ok(Response::new(pb::GetJurisdictionResponse { nodes }))
    }
}

/// The principal a new API key is to stand for, as a token's claims would name it.
fn key_principal(r: &pb::CreateApiKeyRequest) -> Result<Principal, Status> {
    let role: Role = r.role.trim().parse().map_err(|e: UnknownRole| invalid_argument("role", e.to_string()))?;
    let area = match r.area.trim() {
        "" => None,
        code => Some(AreaCode::new(code).map_err(|e| invalid_argument("area", e.to_string()))?),
    };
    let department = Some(r.department.trim().to_string()).filter(|d| !d.is_empty());
    Principal::new(r.subject.trim(), role, area, department).map_err(|e| {
        let field = match e {
            PrincipalError::NoSubject => "subject",
            PrincipalError::DepartmentMissing => "department",
            _ => "area",
        };
        invalid_argument(field, e.to_string())
    })
}

fn api_key_status(error: ApiKeyTableError) -> Status {
    match error {
        ApiKeyTableError::Store(error) => store_status(error),
        ApiKeyTableError::NotFound(key_id) => Status::not_found(format!("no API key {key_id}")),
        corrupt @ ApiKeyTableError::Corrupt { .. } => Status::internal(corrupt.to_string()),
    }
}

fn api_key_view(key: &ApiKeyRow) -> pb::ApiKey {
    let at = |micros: i64| chrono::DateTime::from_timestamp_micros(micros).map(timestamp);
    pb::ApiKey {
        key_id: key.key_id.clone(),
        subject: key.principal.subject.clone(),
        role: key.principal.role.as_str().to_string(),
        area: key.principal.area.as_ref().map_or_else(String::new, |a| a.as_str().to_string()),
        department: key.principal.department.clone().unwrap_or_default(),
        created_at: at(key.created_at),
        last_used_at: key.last_used_at.and_then(at),
        revoked_at: key.revoked_at.and_then(at),
    }
}
