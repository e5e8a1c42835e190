//! The intake service: discover and upload (发现, 上报). It validates a report, classifies it
//! against the catalog, places it in its grid and records `CaseReported`. Submission is
//! idempotent by client key: the report's stream is named after the key, so a retry finds the
//! stream taken and answers with the first result.

use gridloop_bus::Clock;
use gridloop_domain::calendar::Sla;
use gridloop_domain::case::CaseDetails;
use gridloop_domain::ids::CaseId;
use gridloop_domain::level::Level;
use gridloop_domain::policy::CityPolicy;
use gridloop_eventstore::{Commit, EventStore, ExpectedVersion, StoreError, StreamAppend};
use gridloop_proto::convert::{self, from_channel, from_reporter, timestamp};
use gridloop_proto::edge::{self, actor_from, EventContext, Violations};
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::intake_service_server::{IntakeService, IntakeServiceServer};
use prost::Message;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tonic::{Request, Response, Status};
use uuid::Uuid;

pub const SERVICE: &str = "intake";
pub const MAX_CLIENT_KEY: usize = 128;
pub const MAX_DESCRIPTION: usize = 4000;
/// Device clocks drift: a discovery time this far in the future is still accepted.
const CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(5);

#[derive(Clone)]
pub struct Intake {
    store: EventStore,
    policy: Arc<CityPolicy>,
    clock: Arc<dyn Clock>,
}

/// The intake stream of the report submitted with `client_key`.
pub fn report_stream(client_key: &str) -> String {
    let digest = Sha256::digest(client_key.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("report-{hex}")
}

impl Intake {
    pub fn new(store: EventStore, policy: Arc<CityPolicy>, clock: Arc<dyn Clock>) -> Self {
        Self { store, policy, clock }
    }

    pub fn into_server(self) -> IntakeServiceServer<Self> {
        IntakeServiceServer::new(self)
    }

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
        match &r.location {
            None => v.add("location", "required"),
            Some(p) if !(p.lat.is_finite() && (-90.0..=90.0).contains(&p.lat)) => {
                v.add("location.lat", "must be a latitude between -90 and 90")
            }
            Some(p) if !(p.lon.is_finite() && (-180.0..=180.0).contains(&p.lon)) => {
                v.add("location.lon", "must be a longitude between -180 and 180")
            }
            Some(p) => match self.policy.jurisdiction.locate(p.lat, p.lon) {
                Some(grid) => grid_code = Some(grid.code.as_str().to_string()),
                None => v.add("location", format!("({}, {}) is outside every grid of this jurisdiction", p.lat, p.lon)),
            },
        }
        let description = r.description.trim();
        v.check(!description.is_empty(), "description", "required");
        v.check(
            description.chars().count() <= MAX_DESCRIPTION,
            "description",
            &format!("at most {MAX_DESCRIPTION} characters"),
        );
        let reporter = match r.reporter.as_ref().map(from_reporter) {
            Some(Some(reporter)) => Some(reporter),
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
        v.into_result()?;
        let (Some(grid_code), Some(reporter), Some(channel), Some(discovered_at), Some(location)) =
            (grid_code, reporter, channel, discovered_at, r.location.as_ref())
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
        })
    }

    /// The answer for a client key that was used before: the first result if the request is
    /// the same report, ALREADY_EXISTS if the key was reused for a different one.
    async fn replay(&self, stream: &str, details: &CaseDetails) -> Result<pb::ReportCaseResponse, Status> {
        let first = self.store.read_stream(stream, 1).await.map_err(edge::store_error)?;
        let record = first.first().ok_or_else(|| Status::aborted("report stream vanished; retry"))?;
        let stored = pb::CaseReported::decode(record.payload.as_slice())
            .map_err(|e| Status::internal(format!("stored report unreadable: {e}")))?;
        let same = stored.category_code == details.category_code
            && stored.description == details.description
            && stored.location.as_ref().is_some_and(|p| p.lat == details.lat && p.lon == details.lon);
        if !same {
            return Err(Status::already_exists(format!(
                "client_key was already used for a different report (case {})",
                stored.case_id
            )));
        }
        Ok(pb::ReportCaseResponse {
            case_id: stored.case_id,
            grid_code: stored.grid_code,
            category_code: stored.category_code,
            uploaded_at: stored.uploaded_at,
            replayed: true,
        })
    }
}

#[tonic::async_trait]
impl IntakeService for Intake {
    async fn report_case(
        &self,
        request: Request<pb::ReportCaseRequest>,
    ) -> Result<Response<pb::ReportCaseResponse>, Status> {
        let now = self.clock.now();
        let case_id = CaseId(Uuid::now_v7());
        let traceparent = edge::case_traceparent(request.metadata(), case_id.0);
        let r = request.into_inner();
        let details = self.validate(&r, now)?;
        let stream = report_stream(&r.client_key);
        let mut actor = actor_from(None);
        actor.role = "reporter".into();
        actor.id = details.reporter.id.clone();
        let context = EventContext {
            actor,
            correlation_id: case_id.to_string(),
            causation_id: format!("report:{}", r.client_key),
            traceparent,
            occurred_at: now,
            routing_key: details.grid_code.clone(),
        };
        let reported = convert::case_reported(case_id, &details, &r.client_key);
        let event = context.event((convert::event_type("CaseReported"), reported.encode_to_vec()));
        let commit = Commit {
            appends: vec![StreamAppend {
                stream: stream.clone(),
                expected: ExpectedVersion::NoStream,
                events: vec![event],
            }],
            ..Commit::default()
        };
        match self.store.commit(commit).await {
            Ok(_) => Ok(Response::new(pb::ReportCaseResponse {
                case_id: case_id.to_string(),
                grid_code: details.grid_code,
                category_code: details.category_code,
                uploaded_at: Some(timestamp(now)),
                replayed: false,
            })),
            Err(StoreError::Conflict { .. }) => self.replay(&stream, &details).await.map(Response::new),
            Err(error) => Err(edge::store_error(error)),
        }
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
            })
            .collect();
        Ok(Response::new(pb::GetCatalogResponse { classes, categories }))
    }

    async fn get_jurisdiction(
        &self,
        _: Request<pb::GetJurisdictionRequest>,
    ) -> Result<Response<pb::GetJurisdictionResponse>, Status> {
        let district = self.policy.jurisdiction.district();
        let node = |code: &str, name: &str, level: Level, parent: &str| pb::JurisdictionNode {
            code: code.to_string(),
            name: name.to_string(),
            level: convert::level(level) as i32,
            parent_code: parent.to_string(),
            boundary: vec![],
            interior_point: None,
        };
        let mut nodes = vec![node(district.code.as_str(), &district.name, Level::District, "")];
        for street in &district.streets {
            nodes.push(node(street.code.as_str(), &street.name, Level::Street, district.code.as_str()));
            for community in &street.communities {
                nodes.push(node(community.code.as_str(), &community.name, Level::Community, street.code.as_str()));
                for grid in &community.grids {
                    let (lat, lon) = grid.interior_point();
                    let mut n = node(grid.code.as_str(), &grid.name, Level::Grid, community.code.as_str());
                    n.boundary =
                        grid.boundary.exterior().points().map(|p| pb::GeoPoint { lat: p.y(), lon: p.x() }).collect();
                    n.interior_point = Some(pb::GeoPoint { lat, lon });
                    nodes.push(n);
                }
            }
        }
        Ok(Response::new(pb::GetJurisdictionResponse { nodes }))
    }
}
