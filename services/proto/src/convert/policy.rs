//! The record of the routing policy in force (`PolicyConfigured` on dispatch's `policy` stream).

use crate::v1 as pb;
use gridloop_domain::policy::CityPolicy;

/// The `PolicyConfigured` event of `policy` (its `changed` list left for the recorder to fill).
pub fn policy_configured(policy: &CityPolicy) -> pb::PolicyConfigured {
    let fingerprint = policy.fingerprint();
    pb::PolicyConfigured {
        jurisdiction_sha256: fingerprint.jurisdiction,
        catalog_sha256: fingerprint.catalog,
        calendar_sha256: fingerprint.calendar,
        district_code: policy.jurisdiction.district().code.as_str().to_string(),
        grids: u32::try_from(policy.jurisdiction.grids().count()).unwrap_or(u32::MAX),
        categories: u32::try_from(policy.catalog.categories().len()).unwrap_or(u32::MAX),
        jurisdiction_toml: policy.jurisdiction.to_toml(),
        changed: Vec::new(),
    }
}
