//! Intake's gRPC API: a report is validated, classified, located, checked for duplicates and
//! recorded on the stream of its client key; the catalog and the jurisdiction tree are served as
//! configured.

use crate::personal::VaultError;
use crate::{report_stream, Intake, MAX_CLIENT_KEY, MAX_DESCRIPTION};
use gridloop_auth::audit::{Audit, Subject};
use gridloop_domain::access::{CaseFacts, Role, Rpc};
use gridloop_domain::calendar::Sla;
use gridloop_domain::case::{CaseDetails, LinkedReport, Reporter, ReporterKind};
use gridloop_domain::datum::{Datum, LatLon};
use gridloop_domain::ids::CaseId;
use gridloop_domain::jurisdiction::{AreaCode, Department};
use gridloop_domain::level::Level;
use gridloop_eventstore::{Commit, ExpectedVersion, StoreError};
use gridloop_kit::authorize::{check, Named};
use gridloop_kit::context::request_traceparent;
use gridloop_kit::grpc::{self, store_status};
use gridloop_kit::{Caller, EventContext, Origin};
use gridloop_proto::convert::{self, from_channel, from_reporter, short_type, timestamp};
use gridloop_proto::status::{invalid_argument, Violations};
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

/// Device clocks drift: a discovery time this far in the future is still accepted.
const CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(5);

/// The report's location as the reporter sent it, recorded beside its WGS 84 conversion when it
/// was in another datum.
fn as_sent(r: &pb::ReportCaseRequest) -> Option<pb::GeoPoint> {
    r.location.filter(|p| convert::from_datum(p.datum()) != Datum::Wgs84)
}

impl Intake {
    /// Validate a report against the catalog and the jurisdiction; every bad field is reported.
    fn validate(&self, r: &pb::ReportCaseRequest, now: chrono::DateTime<chrono::Utc>) -> Result<CaseDetails, Status> {
        let mut v = Violations::default();
        let key_len = r.client_key.chars().count();
        v.check(key_len > 0, "client_key", "required (choose one per report and reuse it on retries)");
        v.check(key_len <= MAX_CLIENT_KEY, "client_key", &format!("at most {MAX_CLIENT_KEY} characters"));
        if r.category_code.is_empty() {
            v.add("category_code", "required (see GetCatalog)");
        } else if self.policy.catalog.get(&r.category_code).is_none() {
            v.add("category_code", format!("unknown category {:?} (see GetCatalog)", r.category_code));
        }
        let mut grid_code = None;
        let mut location = None;
        match &r.location {
            None => v.add("location", "required"),
            Some(p) if !(p.lat.is_finite() && (-90.0..=90.0).contains(&p.lat)) => {
                v.add("location.lat", "must be a latitude between -90 and 90")
            }
            Some(p) if !(p.lon.is_finite() && (-180.0..=180.0).contains(&p.lon)) => {
                v.add("location.lon", "must be a longitude between -180 and 180")
            }
            Some(p) if pb::Datum::try_from(p.datum).is_err() => {
                v.add("location.datum", format!("{} is not a datum (WGS 84, GCJ-02 or BD-09)", p.datum))
            }
            Some(p) => {
                // The grids are WGS 84: a point from a Chinese map platform is converted first.
                let datum = convert::from_datum(p.datum());
                let wgs84 = LatLon::new(p.lat, p.lon).to_wgs84(datum);
                match self.policy.jurisdiction.locate(wgs84.lat, wgs84.lon) {
                    Some(grid) => grid_code = Some(grid.code.as_str().to_string()),
                    None => {
                        let given = match datum {
                            Datum::Wgs84 => format!("({}, {})", p.lat, p.lon),
                            other => format!("({}, {}) in {}", p.lat, p.lon, other.as_str()),
                        };
                        v.add("location", format!("{given} is outside every grid of this jurisdiction"));
                    }
                }
                location = Some(wgs84);
            }
        }
        let description = r.description.trim();
        v.check(!description.is_empty(), "description", "required");
        v.check(
            description.chars().count() <= MAX_DESCRIPTION,
            "description",
            &format!("at most {MAX_DESCRIPTION} characters"),
        );
        let reporter = match r.reporter.as_ref().map(from_reporter) {
            // Only intake seals: whatever a client put there is not taken.
            Some(Some(reporter)) => Some(Reporter { sealed: None, ..reporter }),
            _ => {
                v.add("reporter.kind", "required (resident, grid worker or platform)");
                None
            }
        };
        let channel = from_channel(r.channel());
        v.check(channel.is_some(), "channel", "required");
        let discovered_at = match &r.discovered_at {
            None => Some(now),
            Some(t) => match convert::from_timestamp(t) {
                Some(t) if t > now + CLOCK_SKEW => {
                    v.add("discovered_at", "is in the future");
                    None
                }
                Some(t) => Some(t),
                None => {
                    v.add("discovered_at", "not a valid timestamp");
                    None
                }
            },
        };
        let special_groups = match convert::from_special_groups(&r.special_groups) {
            Ok(mut groups) => {
                groups.sort();
                groups.dedup();
                groups
            }
            Err(value) => {
                v.add("special_groups", format!("{value} is not a special group (elderly living alone, disabled, …)"));
                vec![]
            }
        };
        let media_url = Some(r.media_url.trim()).filter(|url| !url.is_empty());
        if let Some(url) = media_url {
            v.check(is_media_url(url), "media_url", &format!("an http(s) URL of at most {MAX_MEDIA_URL} characters"));
        }
        v.into_result()?;
        let (Some(grid_code), Some(reporter), Some(channel), Some(discovered_at), Some(location)) =
            (grid_code, reporter, channel, discovered_at, location)
        else {
            unreachable!("every missing value was reported as a violation");
        };
        Ok(CaseDetails {
            category_code: r.category_code.clone(),
            grid_code,
            lat: location.lat,
            lon: location.lon,
            description: description.to_string(),
            reporter,
            channel,
            discovered_at,
            uploaded_at: now,
            urgent: r.urgent,
            special_groups,
            media_url: media_url.map(str::to_string),
        })
    }

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
        let mut details = self.validate(&r, now)?;
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

/// The longest media URL accepted (what browsers and proxies reliably carry).
const MAX_MEDIA_URL: usize = 2048;

/// An absolute http or https URL without spaces: a link the reporter's platform hosts.
fn is_media_url(url: &str) -> bool {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    url.len() <= MAX_MEDIA_URL && rest.is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace))
}
