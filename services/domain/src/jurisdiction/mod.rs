//! The jurisdiction tree: district → street → community → grid (区 → 街道 → 社区 → 网格).
//!
//! Every node carries a standard code that nests by prefix: a 6-digit administrative district
//! code ("321012" is 江都区), then 3 more digits per level ("321012001" a street,
//! "321012001001" a community, "321012001001001" a grid). Because codes nest, "which street is
//! this grid in" is a string prefix, which is also what the bus subjects and the 4321 monitor
//! key on. Only grids have a geometry: a report is located to a grid by point-in-polygon and
//! every higher unit is derived from the grid's code.

use std::collections::{HashMap, HashSet};

use geo::coordinate_position::{CoordPos, CoordinatePosition};
use geo::dimensions::Dimensions;
use geo::{Area, BoundingRect, Coord, InteriorPoint, Intersects, Polygon, Rect, Relate, Validation};
use serde::{Deserialize, Serialize};

use crate::catalog::valid_code;
use crate::level::Level;

mod code;
mod default_city;
mod file;
mod index;
#[cfg(test)]
mod tests;

pub use code::{AreaCode, AreaCodeError};

use default_city::synthetic_district;
use file::RawDistrict;
use index::Buckets;

/// A department or office of a community, street or district that can own a case: the
/// community's residents' committee (居委会) and work station (社区工作站), a street's 城管中队 or
/// 综治中心, a district's 城管局 or 住建局.
///
/// `code` names the *function* and is shared by every unit that has such a department
/// ("urban-management" is 城管中队 in each street and 城管局 in the district), so the
/// responsibility list names an owner once for the whole city; `name` is this unit's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Department {
    pub code: String,
    pub name: String,
}

/// A grid worker (网格员) serving a grid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridWorker {
    /// Unique in the city: the id a worker accepts cases under.
    pub id: String,
    pub name: String,
}

/// The smallest unit (网格): one grid worker's patch, and the only level with a geometry.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub code: AreaCode,
    pub name: String,
    /// Boundary in degrees, x = longitude, y = latitude (WGS-84 / GCJ-02 as the city uses).
    pub boundary: Polygon<f64>,
    pub workers: Vec<GridWorker>,
}

impl Grid {
    /// A point strictly inside the boundary, as `(lat, lon)`: where a simulator can drop a
    /// report that must land in this grid, or a map can pin the grid's label.
    ///
    /// For any boundary that [`Jurisdiction::new`] accepted the point is in the polygon's
    /// interior (never on an edge, so [`Jurisdiction::locate`] maps it back to this grid). For an
    /// unvalidated empty polygon it degrades to `(NaN, NaN)`.
    pub fn interior_point(&self) -> (f64, f64) {
        match self.boundary.interior_point() {
            Some(p) => (p.y(), p.x()),
            None => (f64::NAN, f64::NAN),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Community {
    pub code: AreaCode,
    pub name: String,
    /// The community's offices (居委会, 社区工作站).
    pub departments: Vec<Department>,
    pub grids: Vec<Grid>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Street {
    pub code: AreaCode,
    pub name: String,
    /// The street's departments (城管中队, 综治中心, 市场监管所, …).
    pub departments: Vec<Department>,
    pub communities: Vec<Community>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct District {
    pub code: AreaCode,
    pub name: String,
    /// The district's departments (城管局, 住建局, 生态环境局, 市场监管局, …).
    pub departments: Vec<Department>,
    pub streets: Vec<Street>,
}

/// Why a tree (or its TOML) is not a usable jurisdiction.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JurisdictionError {
    /// A code string (in TOML) is not an area code; `field` is the TOML path, e.g.
    /// `streets[0].communities[1].code`.
    #[error("{field}: {reason}")]
    BadCode { field: String, reason: AreaCodeError },
    /// A node carries a code of the wrong length for its place in the tree.
    #[error("{code} is a {actual} code but sits at {expected} level", actual = .code.level())]
    WrongLevel { code: AreaCode, expected: Level },
    /// A child's code does not start with its parent's code.
    #[error("{child} is listed under {parent} but its code does not start with {parent}")]
    NotInParent { parent: AreaCode, child: AreaCode },
    #[error("area code {0} appears more than once")]
    DuplicateCode(AreaCode),
    #[error("{code}: name is empty")]
    EmptyName { code: AreaCode },
    /// The grid's boundary is not a simple, finite, non-degenerate lon/lat polygon.
    #[error("grid {grid}: invalid boundary: {reason}")]
    InvalidBoundary { grid: AreaCode, reason: String },
    /// Two grids' interiors overlap, so a point could belong to both.
    #[error("grids {a} and {b} overlap")]
    Overlap { a: AreaCode, b: AreaCode },
    /// A department or grid worker of `unit` is malformed (code, name, or listed twice).
    #[error("{unit}: {reason}")]
    InvalidUnit { unit: AreaCode, reason: String },
    /// Grid worker ids identify a worker city-wide.
    #[error("grid worker id {0:?} appears more than once")]
    DuplicateWorker(String),
    /// The TOML text does not parse or does not have the documented shape (the message carries
    /// line, column and the offending key).
    #[error("jurisdiction TOML: {0}")]
    Toml(toml::de::Error),
}

/// Where a code sits in `District::streets[s].communities[c].grids[g]`.
#[derive(Debug, Clone, Copy)]
enum Node {
    District,
    Street(usize),
    Community(usize, usize),
    Grid(usize, usize, usize),
}

/// The validated jurisdiction tree with lookup indexes (code → node, point → grid).
#[derive(Debug, Clone)]
pub struct Jurisdiction {
    district: District,
    nodes: HashMap<AreaCode, Node>,
    /// Grid paths in tree order; `grid_boxes[i]` is the bounding box of `grid_paths[i]`.
    grid_paths: Vec<(usize, usize, usize)>,
    grid_boxes: Vec<Rect<f64>>,
    buckets: Buckets,
}

impl Jurisdiction {
    /// Validates the tree and builds the indexes. Checks, in order: every code has the length
    /// of its level and extends its parent's code, codes are unique, names are non-empty, every
    /// boundary is a valid polygon with positive area and lon/lat in range, and no two grids'
    /// interiors overlap (sharing an edge or a vertex is fine — that is how grids tile).
    pub fn new(district: District) -> Result<Self, JurisdictionError> {
        let mut nodes = HashMap::new();
        let mut insert = |code: &AreaCode, name: &str, expected: Level, node: Node| {
            if code.level() != expected {
                return Err(JurisdictionError::WrongLevel { code: code.clone(), expected });
            }
            if name.trim().is_empty() {
                return Err(JurisdictionError::EmptyName { code: code.clone() });
            }
            if nodes.insert(code.clone(), node).is_some() {
                return Err(JurisdictionError::DuplicateCode(code.clone()));
            }
            Ok(())
        };
        let nested = |parent: &AreaCode, child: &AreaCode| {
            if child.level() < parent.level() && parent.contains(child) {
                Ok(())
            } else {
                Err(JurisdictionError::NotInParent { parent: parent.clone(), child: child.clone() })
            }
        };

        insert(&district.code, &district.name, Level::District, Node::District)?;
        let mut grid_paths = Vec::new();
        for (s, street) in district.streets.iter().enumerate() {
            insert(&street.code, &street.name, Level::Street, Node::Street(s))?;
            nested(&district.code, &street.code)?;
            for (c, community) in street.communities.iter().enumerate() {
                insert(&community.code, &community.name, Level::Community, Node::Community(s, c))?;
                nested(&street.code, &community.code)?;
                for (g, grid) in community.grids.iter().enumerate() {
                    insert(&grid.code, &grid.name, Level::Grid, Node::Grid(s, c, g))?;
                    nested(&community.code, &grid.code)?;
                    grid_paths.push((s, c, g));
                }
            }
        }

        check_departments(&district.code, &district.departments)?;
        let mut workers = HashSet::new();
        for street in &district.streets {
            check_departments(&street.code, &street.departments)?;
            for community in &street.communities {
                check_departments(&community.code, &community.departments)?;
                for grid in &community.grids {
                    for worker in &grid.workers {
                        if worker.id.trim().is_empty() || worker.name.trim().is_empty() {
                            let reason = format!("grid worker {:?} needs an id and a name", worker.id);
                            return Err(JurisdictionError::InvalidUnit { unit: grid.code.clone(), reason });
                        }
                        if !workers.insert(worker.id.as_str()) {
                            return Err(JurisdictionError::DuplicateWorker(worker.id.clone()));
                        }
                    }
                }
            }
        }

        let mut grid_boxes = Vec::with_capacity(grid_paths.len());
        for &(s, c, g) in &grid_paths {
            let grid = &district.streets[s].communities[c].grids[g];
            grid_boxes.push(check_boundary(grid)?);
        }
        let buckets = Buckets::new(&grid_boxes);
        let jurisdiction = Jurisdiction { district, nodes, grid_paths, grid_boxes, buckets };
        jurisdiction.check_overlaps()?;
        Ok(jurisdiction)
    }

    /// Parses the TOML format below and validates it like [`Jurisdiction::new`].
    ///
    /// The file is the district itself; streets, communities and grids nest as arrays of tables.
    /// Each grid's `boundary` is its exterior ring as `[lon, lat]` pairs in degrees (longitude
    /// first, like GeoJSON); closing the ring by repeating the first point is optional. An
    /// optional `holes` lists interior rings (e.g. a lake or a unit compound that is its own
    /// grid elsewhere). Unknown keys are errors, so a misspelt `boundry` cannot silently vanish.
    ///
    /// The units at each level are optional lists: `departments` of the district, a street or a
    /// community (`code` is the function, shared city-wide, which the responsibility list names;
    /// `name` is the unit's own), and `workers` of a grid (ids unique in the city).
    ///
    /// ```toml
    /// code = "321012"
    /// name = "江都区"
    /// departments = [{ code = "urban-management", name = "江都区城市管理局" }]
    ///
    /// [[streets]]
    /// code = "321012001"
    /// name = "仙女镇街道"
    /// departments = [{ code = "urban-management", name = "仙女镇街道城管中队" }]
    ///
    /// [[streets.communities]]
    /// code = "321012001001"
    /// name = "龙川社区"
    /// departments = [{ code = "residents-committee", name = "龙川社区居委会" }]
    ///
    /// [[streets.communities.grids]]
    /// code = "321012001001001"
    /// name = "第1网格"
    /// boundary = [[119.50, 32.40], [119.51, 32.40], [119.51, 32.41], [119.50, 32.41]]
    /// workers = [{ id = "gw-321012001001001", name = "王建国" }]
    ///
    /// [[streets.communities.grids]]
    /// code = "321012001001002"
    /// name = "第2网格"
    /// boundary = [[119.51, 32.40], [119.52, 32.40], [119.52, 32.41], [119.51, 32.41]]
    /// # holes = [[[119.512, 32.402], [119.514, 32.402], [119.514, 32.404]]]
    /// ```
    pub fn from_toml(text: &str) -> Result<Self, JurisdictionError> {
        let raw: RawDistrict = toml::from_str(text).map_err(JurisdictionError::Toml)?;
        Jurisdiction::new(raw.into_district()?)
    }

    /// Writes the tree in the [`Jurisdiction::from_toml`] format (rings without the repeated
    /// closing point), so a generated city can be exported, edited and loaded back.
    pub fn to_toml(&self) -> String {
        toml::to_string(&RawDistrict::from_district(&self.district))
            .expect("a validated jurisdiction has only strings and finite floats")
    }

    /// The built-in synthetic city used by `gridloop up`, the simulator and tests: 江都区
    /// (321012) with 8 streets × 5 communities × 5 grids = 200 grids tiling the rectangle
    /// lon 119.50–119.65, lat 32.40–32.50 (roughly 14 km × 11 km around 仙女镇).
    ///
    /// Streets form a 4 × 2 layout; each street is cut into 5 horizontal community bands and
    /// each band into 5 grid columns. Widths vary by fixed weights so the grids are rectangles of
    /// unequal size, like real ones, yet the layout is fully deterministic. Neighbouring grids
    /// share edge coordinates bit-for-bit (every cut is computed once), so the tiling has
    /// neither gaps nor overlaps.
    pub fn default_city() -> Self {
        Jurisdiction::new(synthetic_district()).expect("the built-in city is valid")
    }

    pub fn district(&self) -> &District {
        &self.district
    }

    /// The grid containing the point, or `None` outside every grid (or for non-finite input).
    ///
    /// Grids are closed sets, so a point on a boundary is "in" every grid sharing that edge or
    /// vertex. To give every point exactly one grid, a point strictly inside a grid goes to it,
    /// and a point only on boundaries goes to the grid with the smallest code among those
    /// touching it. The rule depends only on the geometry and the codes, never on input order.
    ///
    /// Lookup goes through a uniform bucket index of grid bounding boxes, so only the one to
    /// four grids near the point get an exact (robust-predicate) point-in-polygon test.
    pub fn locate(&self, lat: f64, lon: f64) -> Option<&Grid> {
        if !lat.is_finite() || !lon.is_finite() {
            return None;
        }
        let point = Coord { x: lon, y: lat };
        let mut on_boundary: Option<&Grid> = None;
        for &i in self.buckets.candidates(point) {
            if !self.grid_boxes[i].intersects(&point) {
                continue;
            }
            let grid = self.grid_at(i);
            match grid.boundary.coordinate_position(&point) {
                CoordPos::Inside => return Some(grid),
                CoordPos::OnBoundary => {
                    if on_boundary.is_none_or(|best| grid.code < best.code) {
                        on_boundary = Some(grid);
                    }
                }
                CoordPos::Outside => {}
            }
        }
        on_boundary
    }

    pub fn grid(&self, code: &AreaCode) -> Option<&Grid> {
        match self.nodes.get(code)? {
            Node::Grid(s, c, g) => Some(&self.district.streets[*s].communities[*c].grids[*g]),
            _ => None,
        }
    }

    pub fn street(&self, code: &AreaCode) -> Option<&Street> {
        match self.nodes.get(code)? {
            Node::Street(s) => Some(&self.district.streets[*s]),
            _ => None,
        }
    }

    pub fn community(&self, code: &AreaCode) -> Option<&Community> {
        match self.nodes.get(code)? {
            Node::Community(s, c) => Some(&self.district.streets[*s].communities[*c]),
            _ => None,
        }
    }

    /// The name of the unit with this code, at any level.
    pub fn name_of(&self, code: &AreaCode) -> Option<&str> {
        let d = &self.district;
        let name = match *self.nodes.get(code)? {
            Node::District => &d.name,
            Node::Street(s) => &d.streets[s].name,
            Node::Community(s, c) => &d.streets[s].communities[c].name,
            Node::Grid(s, c, g) => &d.streets[s].communities[c].grids[g].name,
        };
        Some(name)
    }

    /// Whether a unit with this code exists (at any level).
    pub fn contains_code(&self, code: &AreaCode) -> bool {
        self.nodes.contains_key(code)
    }

    /// All grids in tree order (street by street, community by community).
    pub fn grids(&self) -> impl Iterator<Item = &Grid> {
        self.grid_paths.iter().map(|&(s, c, g)| &self.district.streets[s].communities[c].grids[g])
    }

    /// All grids under `area` (a grid yields itself): the scope of a street office's or a
    /// community's view.
    pub fn grids_within<'a>(&'a self, area: &'a AreaCode) -> impl Iterator<Item = &'a Grid> + 'a {
        self.grids().filter(move |grid| area.contains(&grid.code))
    }

    /// The bounding box of all grids (x = lon, y = lat), or `None` for a city without grids.
    pub fn bounding_rect(&self) -> Option<Rect<f64>> {
        self.buckets.extent
    }

    /// The unit that handles a case of grid `grid` at `level`: the ancestor code at that level
    /// (grid → the grid itself; community → its community; …; district → the district).
    ///
    /// `None` if `grid` is not a unit of this jurisdiction, or if `level` is below the level of
    /// `grid` (a case filed against a community has no grid to go down to). Any known code is
    /// accepted, so a case located only to a community can still be routed upward.
    pub fn unit_for(&self, grid: &AreaCode, level: Level) -> Option<AreaCode> {
        if !self.contains_code(grid) {
            return None;
        }
        grid.ancestor(level)
    }

    /// The departments of a community, street or district (none for a grid or an unknown code).
    pub fn departments_of(&self, unit: &AreaCode) -> &[Department] {
        let d = &self.district;
        match self.nodes.get(unit) {
            Some(Node::District) => &d.departments,
            Some(Node::Street(s)) => &d.streets[*s].departments,
            Some(Node::Community(s, c)) => &d.streets[*s].communities[*c].departments,
            Some(Node::Grid(..)) | None => &[],
        }
    }

    /// The department of `unit` with functional code `code`.
    pub fn department(&self, unit: &AreaCode, code: &str) -> Option<&Department> {
        self.departments_of(unit).iter().find(|department| department.code == code)
    }

    /// Every unit at `level` (in tree order).
    pub fn units_at(&self, level: Level) -> impl Iterator<Item = &AreaCode> {
        let d = &self.district;
        let codes: Box<dyn Iterator<Item = &AreaCode>> = match level {
            Level::District => Box::new(std::iter::once(&d.code)),
            Level::Street => Box::new(d.streets.iter().map(|s| &s.code)),
            Level::Community => Box::new(d.streets.iter().flat_map(|s| s.communities.iter().map(|c| &c.code))),
            Level::Grid => Box::new(self.grids().map(|g| &g.code)),
        };
        codes
    }

    fn grid_at(&self, index: usize) -> &Grid {
        let (s, c, g) = self.grid_paths[index];
        &self.district.streets[s].communities[c].grids[g]
    }

    /// Only pairs whose bounding boxes overlap with positive area can have overlapping
    /// interiors; for tilings of rectangles that is no pair at all, so the (costly) DE-9IM
    /// relate runs only for genuinely irregular neighbours.
    fn check_overlaps(&self) -> Result<(), JurisdictionError> {
        let mut seen = vec![usize::MAX; self.grid_boxes.len()];
        for (i, a_box) in self.grid_boxes.iter().enumerate() {
            for j in self.buckets.candidates_in(a_box) {
                if j <= i || seen[j] == i {
                    continue;
                }
                seen[j] = i;
                let b_box = &self.grid_boxes[j];
                let w = a_box.max().x.min(b_box.max().x) - a_box.min().x.max(b_box.min().x);
                let h = a_box.max().y.min(b_box.max().y) - a_box.min().y.max(b_box.min().y);
                if w <= 0.0 || h <= 0.0 {
                    continue;
                }
                let (a, b) = (self.grid_at(i), self.grid_at(j));
                let matrix = a.boundary.relate(&b.boundary);
                if matrix.get(CoordPos::Inside, CoordPos::Inside) != Dimensions::Empty {
                    let (a, b) = if a.code < b.code { (a, b) } else { (b, a) };
                    return Err(JurisdictionError::Overlap { a: a.code.clone(), b: b.code.clone() });
                }
            }
        }
        Ok(())
    }
}

/// A unit's departments: codes in the catalog's alphabet, names given, no code twice.
fn check_departments(unit: &AreaCode, departments: &[Department]) -> Result<(), JurisdictionError> {
    let invalid = |reason: String| JurisdictionError::InvalidUnit { unit: unit.clone(), reason };
    let mut seen = HashSet::new();
    for department in departments {
        if !valid_code(&department.code) {
            return Err(invalid(format!(
                "department code {:?} must be non-empty ASCII letters, digits, '.', '_' or '-'",
                department.code
            )));
        }
        if department.name.trim().is_empty() {
            return Err(invalid(format!("department {}: name is empty", department.code)));
        }
        if !seen.insert(department.code.as_str()) {
            return Err(invalid(format!("department {} is listed twice", department.code)));
        }
    }
    Ok(())
}

/// Validates one grid's boundary and returns its bounding box.
fn check_boundary(grid: &Grid) -> Result<Rect<f64>, JurisdictionError> {
    let invalid = |reason: String| JurisdictionError::InvalidBoundary { grid: grid.code.clone(), reason };
    let polygon = &grid.boundary;
    for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
        for c in ring.coords() {
            if !c.x.is_finite() || !c.y.is_finite() {
                return Err(invalid(format!("non-finite coordinate [{}, {}]", c.x, c.y)));
            }
            if !(-180.0..=180.0).contains(&c.x) || !(-90.0..=90.0).contains(&c.y) {
                return Err(invalid(format!(
                    "[{}, {}] is not a [lon, lat] pair in degrees (are longitude and latitude swapped?)",
                    c.x, c.y
                )));
            }
        }
    }
    polygon.check_validation().map_err(|e| invalid(e.to_string()))?;
    // Collinear vertices can leave an area of a few ulps from rounding alone: such a sliver has
    // no point strictly inside, so no report could be placed in it and its interior point
    // would lie on its edge (and locate to a neighbour touching it there).
    let inside = polygon.interior_point().is_some_and(|p| polygon.coordinate_position(&p.0) == CoordPos::Inside);
    if polygon.unsigned_area() <= 0.0 || !inside {
        return Err(invalid("no interior: zero area or collinear vertices (degenerate polygon)".to_string()));
    }
    polygon.bounding_rect().ok_or_else(|| invalid("empty polygon".to_string()))
}
