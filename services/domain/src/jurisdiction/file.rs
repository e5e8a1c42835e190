//! The jurisdiction file: the TOML shape of the tree, read with every bad code reported by its
//! path, and written back.

use super::{AreaCode, Community, Department, District, Grid, GridWorker, JurisdictionError, Street};
use geo::{Coord, LineString, Polygon};
use serde::{Deserialize, Serialize};

/// The on-disk shape: codes stay strings here so a bad one is reported with its TOML path
/// rather than as an opaque serde error.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDistrict {
    code: String,
    name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    departments: Vec<Department>,
    #[serde(default)]
    streets: Vec<RawStreet>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStreet {
    code: String,
    name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    departments: Vec<Department>,
    #[serde(default)]
    communities: Vec<RawCommunity>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCommunity {
    code: String,
    name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    departments: Vec<Department>,
    #[serde(default)]
    grids: Vec<RawGrid>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrid {
    code: String,
    name: String,
    boundary: Vec<[f64; 2]>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    holes: Vec<Vec<[f64; 2]>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    workers: Vec<GridWorker>,
}

fn parse_code(field: String, code: &str) -> Result<AreaCode, JurisdictionError> {
    AreaCode::new(code).map_err(|reason| JurisdictionError::BadCode { field, reason })
}

fn ring_from_raw(points: &[[f64; 2]]) -> LineString<f64> {
    // LineString → Polygon closes the ring if the file left it open.
    points.iter().map(|&[lon, lat]| Coord { x: lon, y: lat }).collect()
}

fn ring_to_raw(ring: &LineString<f64>) -> Vec<[f64; 2]> {
    let mut points: Vec<[f64; 2]> = ring.coords().map(|c| [c.x, c.y]).collect();
    if points.len() > 1 && points.first() == points.last() {
        points.pop();
    }
    points
}

impl RawDistrict {
    pub(super) fn into_district(self) -> Result<District, JurisdictionError> {
        let mut streets = Vec::with_capacity(self.streets.len());
        for (s, street) in self.streets.into_iter().enumerate() {
            let mut communities = Vec::with_capacity(street.communities.len());
            for (c, community) in street.communities.into_iter().enumerate() {
                let mut grids = Vec::with_capacity(community.grids.len());
                for (g, grid) in community.grids.into_iter().enumerate() {
                    let field = format!("streets[{s}].communities[{c}].grids[{g}].code");
                    let holes = grid.holes.iter().map(|h| ring_from_raw(h)).collect();
                    grids.push(Grid {
                        code: parse_code(field, &grid.code)?,
                        name: grid.name,
                        boundary: Polygon::new(ring_from_raw(&grid.boundary), holes),
                        workers: grid.workers,
                    });
                }
                communities.push(Community {
                    code: parse_code(format!("streets[{s}].communities[{c}].code"), &community.code)?,
                    name: community.name,
                    departments: community.departments,
                    grids,
                });
            }
            streets.push(Street {
                code: parse_code(format!("streets[{s}].code"), &street.code)?,
                name: street.name,
                departments: street.departments,
                communities,
            });
        }
        Ok(District {
            code: parse_code("code".to_string(), &self.code)?,
            name: self.name,
            departments: self.departments,
            streets,
        })
    }

    pub(super) fn from_district(district: &District) -> Self {
        RawDistrict {
            code: district.code.to_string(),
            name: district.name.clone(),
            departments: district.departments.clone(),
            streets: district
                .streets
                .iter()
                .map(|street| RawStreet {
                    code: street.code.to_string(),
                    name: street.name.clone(),
                    departments: street.departments.clone(),
                    communities: street
                        .communities
                        .iter()
                        .map(|community| RawCommunity {
                            code: community.code.to_string(),
                            name: community.name.clone(),
                            departments: community.departments.clone(),
                            grids: community
                                .grids
                                .iter()
                                .map(|grid| RawGrid {
                                    code: grid.code.to_string(),
                                    name: grid.name.clone(),
                                    boundary: ring_to_raw(grid.boundary.exterior()),
                                    holes: grid.boundary.interiors().iter().map(ring_to_raw).collect(),
                                    workers: grid.workers.clone(),
                                })
                                .collect(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}
