//! The city's reference data — the catalog and the jurisdiction tree — read once from intake
//! and kept: both change only when the services restart with new files.

use crate::backend::Backend;
use crate::error::{ApiError, Caller};
use gridloop_proto::v1 as pb;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::OnceCell;

pub struct Reference {
    pub catalog: pb::GetCatalogResponse,
    nodes: HashMap<String, pb::JurisdictionNode>,
    districts: Vec<String>,
}

impl Reference {
    pub fn new(catalog: pb::GetCatalogResponse, jurisdiction: pb::GetJurisdictionResponse) -> Self {
        let districts =
            jurisdiction.nodes.iter().filter(|n| n.level() == pb::Level::District).map(|n| n.code.clone()).collect();
        let nodes = jurisdiction.nodes.into_iter().map(|n| (n.code.clone(), n)).collect();
        Self { catalog, nodes, districts }
    }

    pub fn category(&self, code: &str) -> Option<&pb::Category> {
        self.catalog.categories.iter().find(|c| c.code == code)
    }

    pub fn class_name<'a>(&'a self, code: &'a str) -> &'a str {
        self.catalog.classes.iter().find(|c| c.code == code).map_or(code, |c| c.name.as_str())
    }

    /// A unit's name (its code when unknown).
    pub fn unit_name<'a>(&'a self, code: &'a str) -> &'a str {
        self.nodes.get(code).map_or(code, |n| n.name.as_str())
    }

    /// A grid and the units above it, from the district down: "江都区 仙女镇 … 第1网格".
    pub fn address(&self, grid_code: &str) -> String {
        let mut names = Vec::new();
        let mut code = grid_code;
        while let Some(node) = self.nodes.get(code) {
            names.push(node.name.as_str());
            if node.parent_code.is_empty() {
                break;
            }
            code = &node.parent_code;
        }
        names.reverse();
        names.join(" ")
    }

    /// GeoReport's `jurisdiction_id` is a district code: required when the server holds more
    /// than one district, 404 for one it does not hold.
    pub fn check_jurisdiction(&self, jurisdiction_id: Option<&str>) -> Result<(), ApiError> {
        match jurisdiction_id.filter(|id| !id.is_empty()) {
            Some(id) if self.districts.iter().any(|d| d == id) => Ok(()),
            Some(id) => Err(ApiError::NotFound(format!("unknown jurisdiction_id {id:?} (a district code)"))),
            None if self.districts.len() > 1 => Err(ApiError::BadRequest(format!(
                "jurisdiction_id is required: this server holds the districts {}",
                self.districts.join(", ")
            ))),
            None => Ok(()),
        }
    }
}

/// The reference data, fetched on first use (a failed fetch is retried on the next request).
#[derive(Clone, Default)]
pub struct ReferenceCache(Arc<OnceCell<Reference>>);

impl ReferenceCache {
    pub async fn get(&self, backend: &Backend) -> Result<&Reference, ApiError> {
        self.0
            .get_or_try_init(|| async {
                let fail = |status: tonic::Status| ApiError::from_status(&status, Caller::Service);
                let catalog = backend
                    .intake()
                    .get_catalog(backend.as_service(pb::GetCatalogRequest {}).map_err(ApiError::internal)?)
                    .await
                    .map_err(fail)?
                    .into_inner();
                let jurisdiction = backend
                    .intake()
                    .get_jurisdiction(backend.as_service(pb::GetJurisdictionRequest {}).map_err(ApiError::internal)?)
                    .await
                    .map_err(fail)?
                    .into_inner();
                Ok(Reference::new(catalog, jurisdiction))
            })
            .await
    }
}
