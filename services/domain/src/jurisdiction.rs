//! The jurisdiction tree: district → street → community → grid (区 → 街道 → 社区 → 网格).
//!
//! Every node carries a standard code that nests by prefix: a 6-digit administrative district
//! code ("321012" is 江都区), then 3 more digits per level ("321012001" a street,
//! "321012001001" a community, "321012001001001" a grid). Because codes nest, "which street is
//! this grid in" is a string prefix, which is also what the bus subjects and the 4321 monitor
//! key on. Only grids have a geometry: a report is located to a grid by point-in-polygon and
//! every higher unit is derived from the grid's code.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use geo::coordinate_position::{CoordPos, CoordinatePosition};
use geo::dimensions::Dimensions;
use geo::{Area, BoundingRect, Coord, InteriorPoint, Intersects, LineString, Polygon, Rect, Relate, Validation};
use serde::{Deserialize, Serialize};

use crate::catalog::valid_code;
use crate::level::Level;

// ---------------------------------------------------------------------------------------------
// Area codes
// ---------------------------------------------------------------------------------------------

/// A validated jurisdiction code: ASCII digits, 6 (district), 9 (street), 12 (community) or 15
/// (grid) long. The level is implied by the length, so a code alone says where it sits.
///
/// Serialised as a plain string; deserialising validates.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AreaCode(String);

/// Why a string is not an [`AreaCode`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AreaCodeError {
    #[error("area code {code:?} must contain ASCII digits only")]
    NotDigits { code: String },
    #[error("area code {code:?} has {len} digits; expected 6 (district), 9 (street), 12 (community) or 15 (grid)")]
    BadLength { code: String, len: usize },
}

impl AreaCode {
    /// Validates `code` (see the type docs).
    pub fn new(code: impl Into<String>) -> Result<Self, AreaCodeError> {
        let code = code.into();
        if !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AreaCodeError::NotDigits { code });
        }
        if level_for_len(code.len()).is_none() {
            let len = code.len();
            return Err(AreaCodeError::BadLength { code, len });
        }
        Ok(AreaCode(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The level this code denotes, from its length.
    pub fn level(&self) -> Level {
        level_for_len(self.0.len()).expect("validated on construction")
    }

    /// The code one level up, or `None` for a district.
    pub fn parent(&self) -> Option<AreaCode> {
        self.level().up().and_then(|up| self.ancestor(up))
    }

    /// The code of the enclosing unit at `level` (the code itself at its own level), or `None`
    /// when `level` is below this code's level.
    pub fn ancestor(&self, level: Level) -> Option<AreaCode> {
        (level >= self.level()).then(|| AreaCode(self.0[..level.code_len()].to_string()))
    }

    /// Whether `other` is this unit or lies under it (code prefix). Reflexive: a code contains
    /// itself, so "cases in street S" includes cases filed against S directly.
    pub fn contains(&self, other: &AreaCode) -> bool {
        other.0.starts_with(&self.0)
    }

    /// The `seq`-th child (1..=999) one level down, or `None` for a grid or an out-of-range
    /// sequence number. Handy for building trees in code.
    pub fn child(&self, seq: u16) -> Option<AreaCode> {
        if self.level() == Level::Grid || !(1..=999).contains(&seq) {
            return None;
        }
        Some(AreaCode(format!("{}{seq:03}", self.0)))
    }
}

fn level_for_len(len: usize) -> Option<Level> {
    Level::ALL.into_iter().find(|level| level.code_len() == len)
}

impl FromStr for AreaCode {
    type Err = AreaCodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AreaCode::new(s)
    }
}

impl TryFrom<String> for AreaCode {
    type Error = AreaCodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        AreaCode::new(s)
    }
}

impl From<AreaCode> for String {
    fn from(code: AreaCode) -> String {
        code.0
    }
}

impl AsRef<str> for AreaCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AreaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// ---------------------------------------------------------------------------------------------
// The tree
// ---------------------------------------------------------------------------------------------

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
    if polygon.unsigned_area() <= 0.0 {
        return Err(invalid("zero area (degenerate polygon)".to_string()));
    }
    polygon.bounding_rect().ok_or_else(|| invalid("empty polygon".to_string()))
}

// ---------------------------------------------------------------------------------------------
// Point index
// ---------------------------------------------------------------------------------------------

/// A uniform grid of buckets over the extent of all grids; each bucket lists the grids whose
/// bounding box touches it (inclusive, so points on a box edge still find the box).
///
/// Simpler than an R-tree and plenty for city-sized data: about four buckets per grid keeps each
/// bucket to a handful of candidates.
#[derive(Debug, Clone)]
struct Buckets {
    extent: Option<Rect<f64>>,
    cols: usize,
    rows: usize,
    cells: Vec<Vec<usize>>,
}

impl Buckets {
    fn new(boxes: &[Rect<f64>]) -> Self {
        let extent = boxes.iter().copied().reduce(|a, b| {
            Rect::new(
                Coord { x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y) },
                Coord { x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y) },
            )
        });
        let side = ((boxes.len() as f64).sqrt().ceil() as usize * 2).clamp(1, 512);
        let mut buckets = Buckets { extent, cols: side, rows: side, cells: vec![Vec::new(); side * side] };
        for (i, b) in boxes.iter().enumerate() {
            let (c0, r0) = buckets.cell_of(b.min());
            let (c1, r1) = buckets.cell_of(b.max());
            for r in r0..=r1 {
                for c in c0..=c1 {
                    buckets.cells[r * buckets.cols + c].push(i);
                }
            }
        }
        buckets
    }

    /// The bucket of a point, clamped to the index. The mapping is monotone in x and y, so a
    /// point inside a box always falls in one of the buckets the box was registered in.
    fn cell_of(&self, p: Coord<f64>) -> (usize, usize) {
        let Some(extent) = self.extent else { return (0, 0) };
        let index = |v: f64, lo: f64, span: f64, n: usize| {
            if span <= 0.0 {
                return 0;
            }
            let k = ((v - lo) / span * n as f64).floor();
            if k.is_nan() || k < 0.0 {
                0
            } else {
                (k as usize).min(n - 1)
            }
        };
        (index(p.x, extent.min().x, extent.width(), self.cols), index(p.y, extent.min().y, extent.height(), self.rows))
    }

    fn candidates(&self, p: Coord<f64>) -> &[usize] {
        match self.extent {
            Some(extent) if extent.intersects(&p) => {
                let (c, r) = self.cell_of(p);
                &self.cells[r * self.cols + c]
            }
            _ => &[],
        }
    }

    /// Grids registered in any bucket a box touches (with repeats).
    fn candidates_in<'a>(&'a self, b: &Rect<f64>) -> impl Iterator<Item = usize> + 'a {
        let (c0, r0) = self.cell_of(b.min());
        let (c1, r1) = self.cell_of(b.max());
        (r0..=r1).flat_map(move |r| (c0..=c1).flat_map(move |c| self.cells[r * self.cols + c].iter().copied()))
    }
}

// ---------------------------------------------------------------------------------------------
// TOML
// ---------------------------------------------------------------------------------------------

/// The on-disk shape: codes stay strings here so a bad one is reported with its TOML path
/// rather than as an opaque serde error.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDistrict {
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
    fn into_district(self) -> Result<District, JurisdictionError> {
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

    fn from_district(district: &District) -> Self {
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

// ---------------------------------------------------------------------------------------------
// The built-in city
// ---------------------------------------------------------------------------------------------

const CITY_WEST: f64 = 119.50;
const CITY_EAST: f64 = 119.65;
const CITY_SOUTH: f64 = 32.40;
const CITY_NORTH: f64 = 32.50;

/// Streets of the synthetic 江都区 with their communities, in code order (001, 002, …).
/// Names follow the real district's towns and the communities named in the seeds (禹王宫, 玉带,
/// 建乐, 北苑, 南吴, 李坝, …); the layout is invented.
const STREETS: [(&str, [&str; 5]); 8] = [
    ("仙女镇街道", ["龙川社区", "禹王宫社区", "仙女社区", "玉带社区", "北苑社区"]),
    ("龙川街道", ["南吴社区", "李坝社区", "建乐社区", "芒稻社区", "长江社区"]),
    ("邵伯街道", ["邵伯社区", "甘棠社区", "运河社区", "古镇社区", "湖滨社区"]),
    ("大桥街道", ["大桥社区", "花荡社区", "嘶马社区", "东汇社区", "滨江社区"]),
    ("丁沟街道", ["丁沟社区", "曹王社区", "丁伙社区", "张纲社区", "沿河社区"]),
    ("宜陵街道", ["宜陵社区", "吴桥社区", "双沟社区", "新联社区", "友好社区"]),
    ("樊川街道", ["樊川社区", "永安社区", "昌松社区", "塘头社区", "明珠社区"]),
    ("真武街道", ["真武社区", "武坚社区", "浦头社区", "小纪社区", "郭村社区"]),
];

/// The district's departments (职能部门): (function code, name after the district's name).
const DISTRICT_DEPARTMENTS: [(&str, &str); 8] = [
    ("urban-management", "城市管理局"),
    ("housing-construction", "住房和城乡建设局"),
    ("ecology-environment", "生态环境局"),
    ("market-regulation", "市场监督管理局"),
    ("emergency-management", "应急管理局"),
    ("civil-affairs", "民政局"),
    ("justice", "司法局"),
    ("public-security", "公安分局"),
];

/// Each street's departments and offices: (function code, name after the street's name).
const STREET_DEPARTMENTS: [(&str, &str); 7] = [
    ("urban-management", "城管中队"),
    ("comprehensive-governance", "综治中心"),
    ("market-regulation", "市场监管所"),
    ("emergency-management", "应急管理办公室"),
    ("planning-construction", "规划建设办公室"),
    ("social-affairs", "社会事务办公室"),
    ("police-station", "派出所"),
];

/// Each community's offices: (function code, name after the community's name).
const COMMUNITY_DEPARTMENTS: [(&str, &str); 2] = [("residents-committee", "居委会"), ("workstation", "社区工作站")];

const SURNAMES: [&str; 16] =
    ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴", "徐", "孙", "朱", "马", "胡", "郭"];
const GIVEN_NAMES: [&str; 12] =
    ["建国", "秀英", "志强", "桂兰", "海燕", "文军", "晓梅", "国华", "丽娟", "明亮", "春梅", "永红"];

fn departments(unit_name: &str, list: &[(&str, &str)]) -> Vec<Department> {
    list.iter().map(|&(code, name)| Department { code: code.to_string(), name: format!("{unit_name}{name}") }).collect()
}

/// The `n`-th grid's worker: id `gw-<grid code>`, a deterministic invented name.
fn grid_worker(grid: &AreaCode, n: usize) -> GridWorker {
    let name = format!("{}{}", SURNAMES[n % SURNAMES.len()], GIVEN_NAMES[(n * 7 + n / 16) % GIVEN_NAMES.len()]);
    GridWorker { id: format!("gw-{grid}"), name }
}

/// Cuts `[lo, hi]` into `weights.len()` pieces proportional to the weights. The end points are
/// `lo` and `hi` exactly, so pieces cut from a shared parent edge share it bit-for-bit.
fn cuts(lo: f64, hi: f64, weights: &[f64]) -> Vec<f64> {
    let total: f64 = weights.iter().sum();
    let mut acc = 0.0;
    let mut out = vec![lo];
    for w in &weights[..weights.len() - 1] {
        acc += w;
        out.push(lo + (hi - lo) * acc / total);
    }
    out.push(hi);
    out
}

/// A deterministic weight in [1.0, 1.4]: enough variation to make grids unequal.
fn weight(seed: usize) -> f64 {
    1.0 + 0.1 * (seed % 5) as f64
}

fn rectangle(west: f64, south: f64, east: f64, north: f64) -> Polygon<f64> {
    Polygon::new(
        LineString::from(vec![(west, south), (east, south), (east, north), (west, north), (west, south)]),
        vec![],
    )
}

fn synthetic_district() -> District {
    let code = AreaCode::new("321012").expect("valid district code");
    let xs = cuts(CITY_WEST, CITY_EAST, &[1.0, 1.2, 0.9, 1.1]);
    let ys = cuts(CITY_SOUTH, CITY_NORTH, &[1.1, 1.0]);
    let streets = STREETS
        .iter()
        .enumerate()
        .map(|(s, (street_name, community_names))| {
            let street_code = code.child(s as u16 + 1).expect("street seq in range");
            let (col, row) = (s % 4, s / 4);
            let (west, east) = (xs[col], xs[col + 1]);
            let band_weights: Vec<f64> = (0..5).map(|k| weight(s * 3 + k * 2)).collect();
            let bands = cuts(ys[row], ys[row + 1], &band_weights);
            let communities = community_names
                .iter()
                .enumerate()
                .map(|(k, community_name)| {
                    let community_code = street_code.child(k as u16 + 1).expect("community seq in range");
                    let column_weights: Vec<f64> = (0..5).map(|g| weight(s + k * 3 + g * 2)).collect();
                    let columns = cuts(west, east, &column_weights);
                    let grids = (0..5)
                        .map(|g| {
                            let code = community_code.child(g as u16 + 1).expect("grid seq in range");
                            let worker = grid_worker(&code, (s * 5 + k) * 5 + g);
                            Grid {
                                code,
                                name: format!("第{}网格", g + 1),
                                boundary: rectangle(columns[g], bands[k], columns[g + 1], bands[k + 1]),
                                workers: vec![worker],
                            }
                        })
                        .collect();
                    Community {
                        code: community_code,
                        name: community_name.to_string(),
                        departments: departments(community_name, &COMMUNITY_DEPARTMENTS),
                        grids,
                    }
                })
                .collect();
            Street {
                code: street_code,
                name: street_name.to_string(),
                departments: departments(street_name, &STREET_DEPARTMENTS),
                communities,
            }
        })
        .collect();
    let name = "江都区";
    District { code, name: name.to_string(), departments: departments(name, &DISTRICT_DEPARTMENTS), streets }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> AreaCode {
        s.parse().unwrap()
    }

    const TWO_GRIDS: &str = r#"
code = "321012"
name = "江都区"

[[streets]]
code = "321012001"
name = "仙女镇街道"

[[streets.communities]]
code = "321012001001"
name = "龙川社区"

[[streets.communities.grids]]
code = "321012001001001"
name = "第1网格"
boundary = [[119.50, 32.40], [119.51, 32.40], [119.51, 32.41], [119.50, 32.41]]

[[streets.communities.grids]]
code = "321012001001002"
name = "第2网格"
boundary = [[119.51, 32.40], [119.52, 32.40], [119.52, 32.41], [119.51, 32.41], [119.51, 32.40]]
"#;

    // --- AreaCode -------------------------------------------------------------------------

    #[test]
    fn area_code_accepts_each_level_length_and_knows_its_level() {
        // Given codes of each standard length, when parsed, then each maps to its level.
        for (text, level) in [
            ("321012", Level::District),
            ("321012001", Level::Street),
            ("321012001001", Level::Community),
            ("321012001001001", Level::Grid),
        ] {
            let code = code(text);
            assert_eq!(code.level(), level, "{text}");
            assert_eq!(code.as_str(), text);
            assert_eq!(code.to_string(), text);
        }
    }

    #[test]
    fn area_code_rejects_non_digits() {
        // Given strings of a valid length that contain something other than ASCII digits,
        // when parsed, then they are refused as not-digits (full-width digits included).
        for text in ["32101x", "+32101", "32 012", "３２１０１２", "-32101200"] {
            assert!(matches!(AreaCode::new(text), Err(AreaCodeError::NotDigits { .. })), "{text}");
        }
    }

    #[test]
    fn area_code_rejects_lengths_other_than_6_9_12_15() {
        for text in ["", "32101", "3210120", "32101200", "3210120010", "3210120010010010"] {
            assert_eq!(
                AreaCode::new(text),
                Err(AreaCodeError::BadLength { code: text.to_string(), len: text.len() }),
                "{text}"
            );
        }
    }

    #[test]
    fn parent_walks_up_one_level_and_stops_at_the_district() {
        let grid = code("321012001002003");
        assert_eq!(grid.parent(), Some(code("321012001002")));
        assert_eq!(code("321012001002").parent(), Some(code("321012001")));
        assert_eq!(code("321012001").parent(), Some(code("321012")));
        assert_eq!(code("321012").parent(), None);
    }

    #[test]
    fn ancestor_at_own_or_higher_level_and_none_below() {
        let community = code("321012001002");
        assert_eq!(community.ancestor(Level::Community), Some(community.clone()));
        assert_eq!(community.ancestor(Level::Street), Some(code("321012001")));
        assert_eq!(community.ancestor(Level::District), Some(code("321012")));
        assert_eq!(community.ancestor(Level::Grid), None);
    }

    #[test]
    fn contains_is_prefix_and_reflexive() {
        let street = code("321012001");
        assert!(street.contains(&street));
        assert!(street.contains(&code("321012001005")));
        assert!(street.contains(&code("321012001005003")));
        assert!(!street.contains(&code("321012002005003")), "sibling street");
        assert!(!street.contains(&code("321012")), "a parent is not contained by its child");
    }

    #[test]
    fn child_appends_a_three_digit_sequence() {
        assert_eq!(code("321012").child(7), Some(code("321012007")));
        assert_eq!(code("321012001").child(999), Some(code("321012001999")));
        assert_eq!(code("321012001").child(0), None);
        assert_eq!(code("321012001").child(1000), None);
        assert_eq!(code("321012001001001").child(1), None, "grids are leaves");
    }

    #[test]
    fn area_code_serialises_as_a_string_and_validates_on_the_way_in() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Wrapper {
            unit: AreaCode,
        }
        let text = toml::to_string(&Wrapper { unit: code("321012001") }).unwrap();
        assert_eq!(text.trim(), r#"unit = "321012001""#);
        assert_eq!(toml::from_str::<Wrapper>(&text).unwrap(), Wrapper { unit: code("321012001") });
        let err = toml::from_str::<Wrapper>(r#"unit = "32101200""#).unwrap_err();
        assert!(err.to_string().contains("8 digits"), "{err}");
    }

    // --- the default city -------------------------------------------------------------------

    #[test]
    fn default_city_has_1_district_8_streets_40_communities_200_grids() {
        let city = Jurisdiction::default_city();
        let d = city.district();
        assert_eq!((d.code.as_str(), d.name.as_str()), ("321012", "江都区"));
        assert_eq!(d.streets.len(), 8);
        assert_eq!(d.streets.iter().map(|s| s.communities.len()).sum::<usize>(), 40);
        assert_eq!(city.grids().count(), 200);
        assert_eq!(d.streets[0].name, "仙女镇街道");
        assert_eq!(d.streets[0].communities[0].name, "龙川社区");
        assert_eq!(d.streets[0].communities[0].grids[0].name, "第1网格");
    }

    #[test]
    fn default_city_codes_are_hierarchical_and_unique() {
        let city = Jurisdiction::default_city();
        let d = city.district();
        let mut all = vec![d.code.clone()];
        for street in &d.streets {
            assert_eq!(street.code.level(), Level::Street);
            assert_eq!(street.code.parent().as_ref(), Some(&d.code));
            all.push(street.code.clone());
            for community in &street.communities {
                assert_eq!(community.code.parent().as_ref(), Some(&street.code));
                all.push(community.code.clone());
                for grid in &community.grids {
                    assert_eq!(grid.code.level(), Level::Grid);
                    assert_eq!(grid.code.parent().as_ref(), Some(&community.code));
                    all.push(grid.code.clone());
                }
            }
        }
        let count = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), count);
        assert_eq!(count, 1 + 8 + 40 + 200);
        assert!(city.contains_code(&code("321012008005005")));
        assert!(!city.contains_code(&code("321012009")));
    }

    #[test]
    fn default_city_tiles_its_rectangle_without_gaps_or_overlaps() {
        let city = Jurisdiction::default_city();
        // Areas add up to the rectangle (no overlaps, given no gaps below)...
        let total: f64 = city.grids().map(|g| g.boundary.unsigned_area()).sum();
        let rect = (CITY_EAST - CITY_WEST) * (CITY_NORTH - CITY_SOUTH);
        assert!((total - rect).abs() < 1e-12, "{total} vs {rect}");
        let bounds = city.bounding_rect().unwrap();
        assert_eq!((bounds.min().x, bounds.min().y), (CITY_WEST, CITY_SOUTH));
        assert_eq!((bounds.max().x, bounds.max().y), (CITY_EAST, CITY_NORTH));
        // ...and every point of a dense lattice (including the outer edge) finds the same grid
        // as a brute-force scan applying the documented rule.
        for i in 0..=120 {
            for j in 0..=80 {
                let lon = CITY_WEST + (CITY_EAST - CITY_WEST) * i as f64 / 120.0;
                let lat = CITY_SOUTH + (CITY_NORTH - CITY_SOUTH) * j as f64 / 80.0;
                let found = city.locate(lat, lon).map(|g| &g.code);
                assert!(found.is_some(), "gap at {lat},{lon}");
                assert_eq!(found, brute_force_locate(&city, lat, lon), "at {lat},{lon}");
            }
        }
    }

    fn brute_force_locate(city: &Jurisdiction, lat: f64, lon: f64) -> Option<&AreaCode> {
        let p = Coord { x: lon, y: lat };
        let positions: Vec<(&Grid, CoordPos)> = city.grids().map(|g| (g, g.boundary.coordinate_position(&p))).collect();
        let inside: Vec<_> = positions.iter().filter(|(_, pos)| *pos == CoordPos::Inside).collect();
        assert!(inside.len() <= 1, "overlap at {lat},{lon}");
        if let Some((grid, _)) = inside.first() {
            return Some(&grid.code);
        }
        positions.iter().filter(|(_, pos)| *pos == CoordPos::OnBoundary).map(|(g, _)| &g.code).min()
    }

    #[test]
    fn every_grids_interior_point_locates_back_to_that_grid() {
        let city = Jurisdiction::default_city();
        for grid in city.grids() {
            let (lat, lon) = grid.interior_point();
            assert!((CITY_SOUTH..=CITY_NORTH).contains(&lat) && (CITY_WEST..=CITY_EAST).contains(&lon));
            assert_eq!(grid.boundary.coordinate_position(&Coord { x: lon, y: lat }), CoordPos::Inside);
            assert_eq!(city.locate(lat, lon).map(|g| &g.code), Some(&grid.code));
        }
    }

    #[test]
    fn points_outside_the_city_or_not_finite_locate_nowhere() {
        let city = Jurisdiction::default_city();
        assert!(city.locate(32.45, 119.40).is_none(), "west of the city");
        assert!(city.locate(32.55, 119.55).is_none(), "north of the city");
        assert!(city.locate(32.3999999, 119.55).is_none(), "just south");
        assert!(city.locate(119.55, 32.45).is_none(), "lat/lon swapped");
        assert!(city.locate(f64::NAN, 119.55).is_none());
        assert!(city.locate(32.45, f64::INFINITY).is_none());
    }

    #[test]
    fn a_point_on_a_shared_edge_belongs_to_exactly_one_grid_the_smallest_code() {
        // Given two grids sharing the vertical edge x = first grid's east side,
        let city = Jurisdiction::default_city();
        let first = &city.district().streets[0].communities[0].grids[0];
        let second = &city.district().streets[0].communities[0].grids[1];
        let rect = first.boundary.bounding_rect().unwrap();
        let (lon, lat) = (rect.max().x, (rect.min().y + rect.max().y) / 2.0);
        // (the point really is on both boundaries)
        for grid in [first, second] {
            assert_eq!(grid.boundary.coordinate_position(&Coord { x: lon, y: lat }), CoordPos::OnBoundary);
        }
        // when located, then exactly one grid is returned, the one with the smaller code, and
        // repeatedly so.
        for _ in 0..3 {
            assert_eq!(city.locate(lat, lon).map(|g| &g.code), Some(&first.code));
        }
        // A corner shared by several grids also resolves to the smallest code touching it.
        let (lon, lat) = (rect.max().x, rect.max().y);
        let expected = brute_force_locate(&city, lat, lon).cloned();
        assert_eq!(expected.as_ref(), Some(&first.code));
        assert_eq!(city.locate(lat, lon).map(|g| g.code.clone()), expected);
    }

    #[test]
    fn unit_for_maps_a_grid_to_the_handling_unit_at_each_level() {
        let city = Jurisdiction::default_city();
        let grid = code("321012003004005");
        assert_eq!(city.unit_for(&grid, Level::Grid), Some(grid.clone()));
        assert_eq!(city.unit_for(&grid, Level::Community), Some(code("321012003004")));
        assert_eq!(city.unit_for(&grid, Level::Street), Some(code("321012003")));
        assert_eq!(city.unit_for(&grid, Level::District), Some(code("321012")));
        assert_eq!(city.name_of(&code("321012003004")), Some("古镇社区"));
        assert_eq!(city.name_of(&code("321012003")), Some("邵伯街道"));
        // Unknown grids and levels below the given unit have no handler.
        assert_eq!(city.unit_for(&code("321012009001001"), Level::Street), None);
        assert_eq!(city.unit_for(&code("321012003004"), Level::Grid), None);
        assert_eq!(city.unit_for(&code("321012003004"), Level::Street), Some(code("321012003")));
    }

    #[test]
    fn lookups_by_code_at_each_level() {
        let city = Jurisdiction::default_city();
        assert_eq!(city.name_of(&code("321012")), Some("江都区"));
        assert_eq!(city.name_of(&code("321012001002")), Some("禹王宫社区"));
        assert_eq!(city.name_of(&code("321012001002003")), Some("第3网格"));
        assert_eq!(city.name_of(&code("321012001002006")), None);
        assert!(city.grid(&code("321012001002003")).is_some());
        assert!(city.grid(&code("321012001002")).is_none(), "a community is not a grid");
        assert_eq!(city.street(&code("321012002")).map(|s| s.name.as_str()), Some("龙川街道"));
        assert_eq!(city.community(&code("321012002003")).map(|c| c.name.as_str()), Some("建乐社区"));
        assert_eq!(city.grids_within(&code("321012002")).count(), 25);
        assert_eq!(city.grids_within(&code("321012002003")).count(), 5);
        assert_eq!(city.grids_within(&code("321012")).count(), 200);
    }

    // --- construction and TOML --------------------------------------------------------------

    #[test]
    fn from_toml_reads_the_documented_format_and_round_trips() {
        // Given the two-grid example, when parsed,
        let city = Jurisdiction::from_toml(TWO_GRIDS).unwrap();
        // then the tree and the geometry are as written,
        assert_eq!(city.grids().count(), 2);
        assert_eq!(city.name_of(&code("321012001001")), Some("龙川社区"));
        let west = city.locate(32.405, 119.505).unwrap();
        assert_eq!((west.code.as_str(), west.name.as_str()), ("321012001001001", "第1网格"));
        assert_eq!(city.locate(32.405, 119.515).unwrap().code, code("321012001001002"));
        assert_eq!(city.locate(32.405, 119.51).unwrap().code, code("321012001001001"), "shared edge");
        assert!(city.locate(32.405, 119.525).is_none());
        // and writing it out and reading it back gives the same tree (open and closed rings
        // alike).
        let text = city.to_toml();
        let again = Jurisdiction::from_toml(&text).unwrap();
        assert_eq!(again.district(), city.district());
        let big = Jurisdiction::default_city();
        assert_eq!(Jurisdiction::from_toml(&big.to_toml()).unwrap().district(), big.district());
    }

    /// TWO_GRIDS with units at every level.
    fn two_grids_with_units() -> String {
        TWO_GRIDS
            .replacen(
                "name = \"江都区\"\n",
                "name = \"江都区\"\ndepartments = [{ code = \"urban-management\", name = \"江都区城市管理局\" }]\n",
                1,
            )
            .replacen(
                "name = \"仙女镇街道\"\n",
                "name = \"仙女镇街道\"\ndepartments = [{ code = \"urban-management\", name = \"仙女镇城管中队\" }, \
                 { code = \"comprehensive-governance\", name = \"仙女镇综治中心\" }]\n",
                1,
            )
            .replacen(
                "name = \"龙川社区\"\n",
                "name = \"龙川社区\"\ndepartments = [{ code = \"workstation\", name = \"龙川社区工作站\" }]\n",
                1,
            )
            .replacen(
                "name = \"第1网格\"\n",
                "name = \"第1网格\"\nworkers = [{ id = \"gw-1\", name = \"王建国\" }, { id = \"gw-2\", name = \"李秀英\" }]\n",
                1,
            )
    }

    #[test]
    fn units_at_each_level_are_read_looked_up_and_round_tripped() {
        // Given a file naming departments at district, street and community and grid workers,
        let city = Jurisdiction::from_toml(&two_grids_with_units()).unwrap();
        // then each unit's departments are found by function code,
        let street = code("321012001");
        assert_eq!(city.departments_of(&street).len(), 2);
        assert_eq!(city.department(&street, "urban-management").map(|d| d.name.as_str()), Some("仙女镇城管中队"));
        assert_eq!(city.department(&code("321012"), "urban-management").unwrap().name, "江都区城市管理局");
        assert_eq!(city.department(&code("321012001001"), "workstation").unwrap().name, "龙川社区工作站");
        assert!(city.department(&street, "workstation").is_none(), "a community office is not the street's");
        assert!(city.departments_of(&code("321012001001001")).is_empty(), "grids have workers, not departments");
        let grid = city.grid(&code("321012001001001")).unwrap();
        assert_eq!(grid.workers.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(), ["王建国", "李秀英"]);
        // and they survive a round trip through TOML.
        let again = Jurisdiction::from_toml(&city.to_toml()).unwrap();
        assert_eq!(again.district(), city.district());
    }

    #[test]
    fn malformed_departments_and_duplicate_workers_are_refused() {
        let text = two_grids_with_units();
        let bad_code = text.replace("code = \"comprehensive-governance\"", "code = \"综治\"");
        match Jurisdiction::from_toml(&bad_code) {
            Err(JurisdictionError::InvalidUnit { unit, reason }) => {
                assert_eq!(unit, code("321012001"));
                assert!(reason.contains("综治"), "{reason}");
            }
            other => panic!("expected InvalidUnit, got {other:?}"),
        }
        let twice = text.replace("code = \"comprehensive-governance\"", "code = \"urban-management\"");
        assert!(matches!(
            Jurisdiction::from_toml(&twice),
            Err(JurisdictionError::InvalidUnit { reason, .. }) if reason.contains("listed twice")
        ));
        let unnamed = text.replace("name = \"龙川社区工作站\"", "name = \" \"");
        assert!(matches!(
            Jurisdiction::from_toml(&unnamed),
            Err(JurisdictionError::InvalidUnit { unit, .. }) if unit == code("321012001001")
        ));
        let same_worker = text.replace("id = \"gw-2\"", "id = \"gw-1\"");
        assert_eq!(
            Jurisdiction::from_toml(&same_worker).unwrap_err(),
            JurisdictionError::DuplicateWorker("gw-1".into())
        );
    }

    #[test]
    fn the_default_city_names_its_units_at_every_level() {
        let city = Jurisdiction::default_city();
        for level in [Level::Community, Level::Street, Level::District] {
            for unit in city.units_at(level) {
                assert!(!city.departments_of(unit).is_empty(), "{unit} has no departments");
            }
        }
        assert_eq!(city.units_at(Level::Street).count(), 8);
        assert_eq!(city.units_at(Level::Community).count(), 40);
        assert_eq!(city.department(&code("321012003"), "urban-management").unwrap().name, "邵伯街道城管中队");
        assert_eq!(city.department(&code("321012"), "housing-construction").unwrap().name, "江都区住房和城乡建设局");
        assert_eq!(city.department(&code("321012003004"), "residents-committee").unwrap().name, "古镇社区居委会");
        let workers: HashSet<&str> = city.grids().flat_map(|g| g.workers.iter().map(|w| w.id.as_str())).collect();
        assert_eq!(workers.len(), 200, "one worker per grid, ids unique");
    }

    #[test]
    fn from_toml_reports_a_bad_code_with_its_field() {
        let text = TWO_GRIDS.replace(r#""321012001001002""#, r#""32101200100100x""#);
        match Jurisdiction::from_toml(&text) {
            Err(JurisdictionError::BadCode { field, reason: AreaCodeError::NotDigits { code } }) => {
                assert_eq!(field, "streets[0].communities[0].grids[1].code");
                assert_eq!(code, "32101200100100x");
            }
            other => panic!("expected BadCode, got {other:?}"),
        }
    }

    #[test]
    fn from_toml_refuses_a_child_whose_code_is_not_under_its_parent() {
        let text = TWO_GRIDS.replace(r#""321012001001002""#, r#""321012002001002""#);
        assert_eq!(
            Jurisdiction::from_toml(&text).unwrap_err(),
            JurisdictionError::NotInParent { parent: code("321012001001"), child: code("321012002001002") }
        );
    }

    #[test]
    fn from_toml_refuses_a_degenerate_polygon() {
        let text = TWO_GRIDS.replace(
            "[[119.51, 32.40], [119.52, 32.40], [119.52, 32.41], [119.51, 32.41], [119.51, 32.40]]",
            "[[119.51, 32.40], [119.52, 32.40], [119.53, 32.40]]",
        );
        match Jurisdiction::from_toml(&text) {
            Err(JurisdictionError::InvalidBoundary { grid, reason }) => {
                assert_eq!(grid, code("321012001001002"));
                assert!(reason.contains("zero area"), "{reason}");
            }
            other => panic!("expected InvalidBoundary, got {other:?}"),
        }
    }

    #[test]
    fn from_toml_refuses_a_self_intersecting_or_swapped_boundary() {
        let bow_tie = TWO_GRIDS.replace(
            "[[119.51, 32.40], [119.52, 32.40], [119.52, 32.41], [119.51, 32.41], [119.51, 32.40]]",
            "[[119.51, 32.40], [119.52, 32.41], [119.52, 32.40], [119.51, 32.41]]",
        );
        assert!(matches!(Jurisdiction::from_toml(&bow_tie), Err(JurisdictionError::InvalidBoundary { .. })));
        let swapped = TWO_GRIDS.replace(
            "[[119.51, 32.40], [119.52, 32.40], [119.52, 32.41], [119.51, 32.41], [119.51, 32.40]]",
            "[[32.40, 119.51], [32.40, 119.52], [32.41, 119.52], [32.41, 119.51]]",
        );
        match Jurisdiction::from_toml(&swapped) {
            Err(JurisdictionError::InvalidBoundary { reason, .. }) => assert!(reason.contains("swapped"), "{reason}"),
            other => panic!("expected InvalidBoundary, got {other:?}"),
        }
    }

    #[test]
    fn from_toml_refuses_overlapping_grids() {
        let text = TWO_GRIDS.replace(
            "[[119.51, 32.40], [119.52, 32.40], [119.52, 32.41], [119.51, 32.41], [119.51, 32.40]]",
            "[[119.509, 32.40], [119.52, 32.40], [119.52, 32.41], [119.509, 32.41]]",
        );
        assert_eq!(
            Jurisdiction::from_toml(&text).unwrap_err(),
            JurisdictionError::Overlap { a: code("321012001001001"), b: code("321012001001002") }
        );
    }

    #[test]
    fn from_toml_refuses_duplicates_unknown_keys_and_syntax_errors() {
        let dup = TWO_GRIDS.replace(r#""321012001001002""#, r#""321012001001001""#);
        assert_eq!(
            Jurisdiction::from_toml(&dup).unwrap_err(),
            JurisdictionError::DuplicateCode(code("321012001001001"))
        );
        let typo = TWO_GRIDS.replacen("boundary =", "boundry =", 1);
        match Jurisdiction::from_toml(&typo) {
            Err(JurisdictionError::Toml(e)) => assert!(e.to_string().contains("boundry"), "{e}"),
            other => panic!("expected Toml, got {other:?}"),
        }
        assert!(matches!(Jurisdiction::from_toml("code = "), Err(JurisdictionError::Toml(_))));
        let bad_district = TWO_GRIDS.replacen(r#"code = "321012""#, r#"code = "3210""#, 1);
        assert!(matches!(
            Jurisdiction::from_toml(&bad_district),
            Err(JurisdictionError::BadCode { field, .. }) if field == "code"
        ));
    }

    #[test]
    fn new_refuses_a_code_of_the_wrong_level_and_an_empty_name() {
        let mut district = synthetic_district();
        district.streets[0].communities[0].code = code("321012001001001");
        assert_eq!(
            Jurisdiction::new(district).unwrap_err(),
            JurisdictionError::WrongLevel { code: code("321012001001001"), expected: Level::Community }
        );
        let mut district = synthetic_district();
        district.streets[1].name = "  ".to_string();
        assert_eq!(Jurisdiction::new(district).unwrap_err(), JurisdictionError::EmptyName { code: code("321012002") });
    }

    #[test]
    fn errors_read_well() {
        let e = JurisdictionError::WrongLevel { code: code("321012001001001"), expected: Level::Community };
        assert_eq!(e.to_string(), "321012001001001 is a grid code but sits at community level");
        let e = JurisdictionError::BadCode {
            field: "streets[0].code".into(),
            reason: AreaCode::new("3210120").unwrap_err(),
        };
        assert!(e.to_string().starts_with("streets[0].code: area code \"3210120\" has 7 digits"), "{e}");
    }
}
