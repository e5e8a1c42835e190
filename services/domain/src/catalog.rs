//! The category catalog and the responsibility list (权责清单).
//!
//! Intake classifies every report against the catalog; dispatch reads the category's row of the
//! responsibility list to know where the case enters the ladder (the lowest responsible level)
//! and how long each level has before the case escalates. Keeping both in one table means a
//! city changes "who owns what, and how fast" in one place.
//!
//! Each SLA says how it is counted: ordinary matters in working time ("2 working hours", "5
//! working days"), emergencies on the wall clock, because they do not wait for Monday. The routing
//! policy turns an SLA into a deadline on the city's working-time calendar.
//!
//! The built-in list is the shipped `deploy/k8s/base/city/catalog.toml`, compiled in: the file a city
//! copies to write its own is the one gridloop runs on.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::calendar::Sla;
use crate::level::Level;
use crate::priority::CategoryPriority;

/// A top-level class of matters (事件大类), e.g. 市容环境 or 矛盾纠纷.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryClass {
    pub code: String,
    pub name: String,
}

/// One row of the responsibility list: a kind of case and who handles it, how fast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub code: String,
    pub name: String,
    pub class_code: String,
    /// Lowest responsible level: dispatch starts here (urgent cases may enter higher).
    pub start_level: Level,
    /// Time to accept (接单) after dispatch, escalation or transfer.
    pub accept_sla: Sla,
    /// Time to resolve once accepted, indexed by level (Grid = 0 … District = 3). Missing the
    /// deadline escalates the case one level, where the next entry applies. Entries below
    /// `start_level` are never used but must still be positive, so that a later change of the
    /// start level cannot expose a zero deadline.
    pub resolve_sla: [Sla; 4],
    /// Time the reporter has to evaluate after resolution (办完即反); silence past it counts as
    /// the default evaluation.
    pub feedback_sla: Sla,
    /// The grid worker verifies on site (核查), within this time, a case resolved above the grid
    /// before the reporter is asked and the case can close; `None`: no check (service requests,
    /// where the resident's evaluation is the check).
    pub verification: Option<Sla>,
    /// A dispute or common-affairs matter that may go to a mediation/deliberation session
    /// (调解 / 议事协商) instead of being handled by one unit.
    pub mediable: bool,
    /// The department that owns the category at each level (Grid = 0 … District = 3), by its
    /// function code (see `jurisdiction::Department`): e.g. "urban-management" is the street's
    /// 城管中队 and the district's 城管局. `None` means the unit as a whole; grids have workers,
    /// not departments, so the grid entry is always `None`.
    pub departments: [Option<String>; 4],
    /// How pressing the matter is by nature; a case's priority starts from it.
    pub priority: CategoryPriority,
}

impl Category {
    /// The resolve SLA at `level`.
    pub fn resolve_sla_at(&self, level: Level) -> &Sla {
        &self.resolve_sla[level as usize]
    }

    /// The function code of the department that owns the category at `level`, if one is named.
    pub fn department_at(&self, level: Level) -> Option<&str> {
        self.departments[level as usize].as_deref()
    }
}

/// Why a catalog is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// Codes travel in events, subjects and URLs, so they are restricted to `[A-Za-z0-9._-]`.
    #[error("{kind} code {code:?} must be non-empty ASCII letters, digits, '.', '_' or '-'")]
    InvalidCode { kind: &'static str, code: String },
    #[error("{kind} {code}: name is empty")]
    EmptyName { kind: &'static str, code: String },
    #[error("class code {0} appears more than once")]
    DuplicateClass(String),
    #[error("category code {0} appears more than once")]
    DuplicateCategory(String),
    #[error("category {category} refers to unknown class {class}")]
    UnknownClass { category: String, class: String },
    /// A zero or negative SLA would fire the deadline at once and escalate every case.
    #[error("category {category}: {which} SLA must be positive, got {sla}")]
    NonPositiveSla { category: String, which: String, sla: Sla },
    /// Grids are served by grid workers; only communities, streets and districts have departments.
    #[error("category {0}: a grid has no departments, so the grid entry must be empty")]
    DepartmentAtGrid(String),
    /// The catalog file does not parse or does not have the documented shape.
    #[error("catalog file: {0}")]
    File(String),
}

/// The validated catalog: classes, categories and a code index.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    classes: Vec<CategoryClass>,
    categories: Vec<Category>,
    by_code: HashMap<String, usize>,
}

pub(crate) fn valid_code(code: &str) -> bool {
    !code.is_empty() && code.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl Catalog {
    /// Validates and indexes. Refuses malformed or duplicate codes, empty names, categories of
    /// an unknown class and any SLA that is not strictly positive. Order is kept as given (it is
    /// the order a UI lists them in).
    pub fn new(classes: Vec<CategoryClass>, categories: Vec<Category>) -> Result<Self, CatalogError> {
        let mut class_codes = HashSet::new();
        for class in &classes {
            if !valid_code(&class.code) {
                return Err(CatalogError::InvalidCode { kind: "class", code: class.code.clone() });
            }
            if class.name.trim().is_empty() {
                return Err(CatalogError::EmptyName { kind: "class", code: class.code.clone() });
            }
            if !class_codes.insert(class.code.as_str()) {
                return Err(CatalogError::DuplicateClass(class.code.clone()));
            }
        }

        let mut by_code = HashMap::with_capacity(categories.len());
        for (i, category) in categories.iter().enumerate() {
            if !valid_code(&category.code) {
                return Err(CatalogError::InvalidCode { kind: "category", code: category.code.clone() });
            }
            if category.name.trim().is_empty() {
                return Err(CatalogError::EmptyName { kind: "category", code: category.code.clone() });
            }
            if by_code.insert(category.code.clone(), i).is_some() {
                return Err(CatalogError::DuplicateCategory(category.code.clone()));
            }
            if !class_codes.contains(category.class_code.as_str()) {
                return Err(CatalogError::UnknownClass {
                    category: category.code.clone(),
                    class: category.class_code.clone(),
                });
            }
            let slas = [("accept".to_string(), category.accept_sla)]
                .into_iter()
                .chain(Level::ALL.iter().map(|&level| (format!("resolve at {level}"), *category.resolve_sla_at(level))))
                .chain([("feedback".to_string(), category.feedback_sla)])
                .chain(category.verification.map(|sla| ("verify".to_string(), sla)));
            for (which, sla) in slas {
                if !sla.is_positive() {
                    return Err(CatalogError::NonPositiveSla { category: category.code.clone(), which, sla });
                }
            }
            if category.department_at(Level::Grid).is_some() {
                return Err(CatalogError::DepartmentAtGrid(category.code.clone()));
            }
            if let Some(code) = category.departments.iter().flatten().find(|code| !valid_code(code)) {
                return Err(CatalogError::InvalidCode { kind: "department", code: code.clone() });
            }
        }
        Ok(Catalog { classes, categories, by_code })
    }

    /// The built-in responsibility list (`deploy/k8s/base/city/catalog.toml`): the city-management event
    /// classes (市容环境, 宣传广告, 施工管理, 街面秩序, 突发事件) plus the community matters settled
    /// by deliberation (矛盾纠纷, 楼院建设与公共设施, 民生服务, 物业管理).
    ///
    /// Most categories start at the grid, in line with "小事不出网格". Those that need a permit
    /// authority or enforcement powers (unpermitted construction, illegal building, outdoor
    /// signs) or emergency resources start at the street; those that need a community-level
    /// council, funds or a three-party meeting (加装电梯, 充电桩, 物业费, 施工扰民) start at the
    /// community. Ordinary matters run in working time, emergencies (突发事件) on the wall clock.
    pub fn default_catalog() -> Self {
        Catalog::from_toml(SHIPPED_CATALOG).expect("the shipped catalog is valid")
    }

    /// Parses and validates a responsibility list written as TOML (the shape [`Catalog::to_toml`]
    /// writes, and `deploy/k8s/base/city/catalog.toml` has):
    ///
    /// ```toml
    /// [[classes]]
    /// code = "env"
    /// name = "市容环境"
    ///
    /// [[categories]]
    /// code = "env.debris"
    /// name = "乱堆物料"
    /// class = "env"
    /// start_level = "grid"
    /// priority = "routine"            # routine | important | critical
    /// accept_sla = "2 working hours"
    /// resolve_sla = ["2 working days", "3 working days", "5 working days", "7 working days"]
    /// feedback_sla = "3 working days"
    /// verify_sla = "1 working day"    # 核查 when resolved above the grid; absent: no check
    /// mediable = false
    /// departments = { street = "urban-management", district = "urban-management" }
    /// ```
    ///
    /// `resolve_sla` lists grid, community, street, district; SLAs are working time ("N working
    /// minutes|hours|days") or wall clock ("N min", "N hours", "N days", "N s"). Unknown keys are
    /// refused, and so is everything [`Catalog::new`] refuses.
    pub fn from_toml(text: &str) -> Result<Self, CatalogError> {
        let file: CatalogFile = toml::from_str(text).map_err(|e| CatalogError::File(e.to_string()))?;
        let mut categories = Vec::with_capacity(file.categories.len());
        for row in file.categories {
            let sla = |which: &str, text: &str| {
                text.parse::<Sla>().map_err(|e| CatalogError::File(format!("category {}: {which}: {e}", row.code)))
            };
            let accept_sla = sla("accept_sla", &row.accept_sla)?;
            let feedback_sla = sla("feedback_sla", &row.feedback_sla)?;
            let verification = row.verify_sla.as_deref().map(|text| sla("verify_sla", text)).transpose()?;
            let mut resolve_sla = [accept_sla; 4];
            for (slot, text) in resolve_sla.iter_mut().zip(&row.resolve_sla) {
                *slot = sla("resolve_sla", text)?;
            }
            let CategoryDepartments { community, street, district } = row.departments;
            categories.push(Category {
                code: row.code,
                name: row.name,
                class_code: row.class,
                start_level: row.start_level,
                accept_sla,
                resolve_sla,
                feedback_sla,
                verification,
                mediable: row.mediable,
                departments: [None, community, street, district],
                priority: row.priority,
            });
        }
        Catalog::new(file.classes, categories)
    }

    /// The catalog as TOML that [`Catalog::from_toml`] reads back to an equal catalog.
    pub fn to_toml(&self) -> String {
        let file = CatalogFile {
            classes: self.classes.clone(),
            categories: self
                .categories
                .iter()
                .map(|c| CategoryRow {
                    code: c.code.clone(),
                    name: c.name.clone(),
                    class: c.class_code.clone(),
                    start_level: c.start_level,
                    priority: c.priority,
                    accept_sla: c.accept_sla.to_string(),
                    resolve_sla: c.resolve_sla.map(|sla| sla.to_string()),
                    feedback_sla: c.feedback_sla.to_string(),
                    verify_sla: c.verification.map(|sla| sla.to_string()),
                    mediable: c.mediable,
                    departments: CategoryDepartments {
                        community: c.departments[1].clone(),
                        street: c.departments[2].clone(),
                        district: c.departments[3].clone(),
                    },
                })
                .collect(),
        };
        toml::to_string(&file).expect("a catalog serialises")
    }

    pub fn get(&self, code: &str) -> Option<&Category> {
        self.by_code.get(code).map(|&i| &self.categories[i])
    }

    pub fn class(&self, code: &str) -> Option<&CategoryClass> {
        self.classes.iter().find(|class| class.code == code)
    }

    pub fn classes(&self) -> &[CategoryClass] {
        &self.classes
    }

    pub fn categories(&self) -> &[Category] {
        &self.categories
    }

    /// The categories of one class, in catalog order.
    pub fn categories_of<'a>(&'a self, class_code: &'a str) -> impl Iterator<Item = &'a Category> + 'a {
        self.categories.iter().filter(move |category| category.class_code == class_code)
    }
}

/// The shipped responsibility list, compiled in.
const SHIPPED_CATALOG: &str = include_str!("../../../deploy/k8s/base/city/catalog.toml");

/// The file form of a catalog ([`Catalog::from_toml`]).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    classes: Vec<CategoryClass>,
    categories: Vec<CategoryRow>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryRow {
    code: String,
    name: String,
    class: String,
    start_level: Level,
    priority: CategoryPriority,
    accept_sla: String,
    /// Grid, community, street, district.
    resolve_sla: [String; 4],
    feedback_sla: String,
    /// 核查 within this time when resolved above the grid; absent: no on-site check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    verify_sla: Option<String>,
    #[serde(default)]
    mediable: bool,
    #[serde(default)]
    departments: CategoryDepartments,
}

/// The owning department's function code per level (grids have none).
#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryDepartments {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    community: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    street: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    district: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{WorkingCalendar, WorkingTime};
    use chrono::Duration;

    const SHIPPED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/k8s/base/city/catalog.toml");

    /// Working hours.
    fn wh(h: u32) -> Sla {
        Sla::Working(WorkingTime::Hours(h))
    }

    /// Working days.
    fn wd(d: u32) -> Sla {
        Sla::Working(WorkingTime::Days(d))
    }

    /// Wall-clock hours.
    fn hours(h: i64) -> Sla {
        Sla::Calendar(Duration::hours(h))
    }

    /// The built-in catalog is the shipped file, and below its header comment the file is
    /// exactly what `to_toml` writes: a city that writes out its catalog gets a file that reads
    /// like the shipped one, and reads back equal.
    #[test]
    fn the_catalog_round_trips_through_toml_and_the_shipped_file_is_the_built_in_one() {
        let built_in = Catalog::default_catalog();
        assert_eq!(Catalog::from_toml(&built_in.to_toml()).unwrap(), built_in);
        let shipped = std::fs::read_to_string(SHIPPED).expect("deploy/k8s/base/city/catalog.toml");
        assert_eq!(Catalog::from_toml(&shipped).unwrap(), built_in);
        let body: String = shipped
            .lines()
            .skip_while(|line| line.starts_with('#') || line.is_empty())
            .map(|line| format!("{line}\n"))
            .collect();
        assert_eq!(body, built_in.to_toml());
    }

    #[test]
    fn a_catalog_file_with_a_bad_row_is_refused_with_the_category_and_the_reason() {
        let good = Catalog::default_catalog().to_toml();
        let bad_sla = good.replacen("accept_sla = \"1 working hour\"", "accept_sla = \"1 fortnight\"", 1);
        assert_ne!(bad_sla, good);
        let error = Catalog::from_toml(&bad_sla).unwrap_err().to_string();
        assert!(error.contains("category env.garbage: accept_sla") && error.contains("1 fortnight"), "{error}");
        let unknown_key = good.replacen("mediable = false", "mediable = false\nowner = \"nobody\"", 1);
        assert!(Catalog::from_toml(&unknown_key).unwrap_err().to_string().contains("owner"));
        let unknown_class = good.replacen("class = \"env\"", "class = \"nope\"", 1);
        assert_eq!(
            Catalog::from_toml(&unknown_class).unwrap_err(),
            CatalogError::UnknownClass { category: "env.garbage".into(), class: "nope".into() }
        );
        let zero = good.replacen("feedback_sla = \"2 working days\"", "feedback_sla = \"0 working days\"", 1);
        assert!(Catalog::from_toml(&zero).unwrap_err().to_string().contains("0 working days"));
    }

    fn class(code: &str) -> CategoryClass {
        CategoryClass { code: code.to_string(), name: format!("{code} class") }
    }

    fn category(code: &str, class_code: &str) -> Category {
        Category {
            code: code.to_string(),
            name: format!("{code} name"),
            class_code: class_code.to_string(),
            start_level: Level::Grid,
            accept_sla: wh(2),
            resolve_sla: [wd(2), wd(3), wd(5), wd(7)],
            feedback_sla: wd(3),
            verification: Some(wd(1)),
            mediable: false,
            departments: [None, None, Some("urban-management".into()), Some("urban-management".into())],
            priority: CategoryPriority::Routine,
        }
    }

    #[test]
    fn a_well_formed_catalog_is_accepted_and_indexed() {
        let catalog =
            Catalog::new(vec![class("env")], vec![category("env.garbage", "env"), category("env.debris", "env")])
                .unwrap();
        assert_eq!(catalog.get("env.debris").map(|c| c.name.as_str()), Some("env.debris name"));
        assert!(catalog.get("env.nothing").is_none());
        assert_eq!(catalog.categories().len(), 2);
        assert_eq!(catalog.classes().len(), 1);
    }

    #[test]
    fn resolve_sla_at_indexes_by_level() {
        let c = category("env.garbage", "env");
        assert_eq!(c.resolve_sla_at(Level::Grid), &wd(2));
        assert_eq!(c.resolve_sla_at(Level::Community), &wd(3));
        assert_eq!(c.resolve_sla_at(Level::Street), &wd(5));
        assert_eq!(c.resolve_sla_at(Level::District), &wd(7));
    }

    #[test]
    fn duplicate_category_codes_are_refused() {
        let err =
            Catalog::new(vec![class("env")], vec![category("env.garbage", "env"), category("env.garbage", "env")])
                .unwrap_err();
        assert_eq!(err, CatalogError::DuplicateCategory("env.garbage".into()));
    }

    #[test]
    fn duplicate_class_codes_are_refused() {
        let err = Catalog::new(vec![class("env"), class("env")], vec![]).unwrap_err();
        assert_eq!(err, CatalogError::DuplicateClass("env".into()));
    }

    #[test]
    fn a_category_of_an_unknown_class_is_refused() {
        let err = Catalog::new(vec![class("env")], vec![category("ad.flyer", "ad")]).unwrap_err();
        assert_eq!(err, CatalogError::UnknownClass { category: "ad.flyer".into(), class: "ad".into() });
    }

    #[test]
    fn zero_or_negative_slas_are_refused_naming_the_sla() {
        let mut c = category("env.garbage", "env");
        c.accept_sla = Sla::Calendar(Duration::zero());
        let err = Catalog::new(vec![class("env")], vec![c]).unwrap_err();
        assert!(matches!(&err, CatalogError::NonPositiveSla { which, .. } if which == "accept"), "{err}");

        // Zero working time is refused in every unit.
        for zero in [WorkingTime::Hours(0), WorkingTime::Minutes(0), WorkingTime::Days(0)] {
            let mut c = category("env.garbage", "env");
            c.resolve_sla[Level::Street as usize] = Sla::Working(zero);
            let err = Catalog::new(vec![class("env")], vec![c]).unwrap_err();
            assert!(
                matches!(&err, CatalogError::NonPositiveSla { which, .. } if which == "resolve at street"),
                "{err}"
            );
        }

        let mut c = category("env.garbage", "env");
        c.feedback_sla = Sla::Calendar(-Duration::hours(1));
        let err = Catalog::new(vec![class("env")], vec![c]).unwrap_err();
        assert!(matches!(&err, CatalogError::NonPositiveSla { which, .. } if which == "feedback"), "{err}");
        assert_eq!(err.to_string(), "category env.garbage: feedback SLA must be positive, got -1 hour");
    }

    #[test]
    fn departments_are_named_by_function_code_above_the_grid_only() {
        let c = category("env.garbage", "env");
        assert_eq!(c.department_at(Level::Street), Some("urban-management"));
        assert_eq!(c.department_at(Level::Community), None);
        let mut at_grid = category("env.garbage", "env");
        at_grid.departments[Level::Grid as usize] = Some("urban-management".into());
        assert_eq!(
            Catalog::new(vec![class("env")], vec![at_grid]).unwrap_err(),
            CatalogError::DepartmentAtGrid("env.garbage".into())
        );
        let mut bad = category("env.garbage", "env");
        bad.departments[Level::District as usize] = Some("城管局".into());
        assert_eq!(
            Catalog::new(vec![class("env")], vec![bad]).unwrap_err(),
            CatalogError::InvalidCode { kind: "department", code: "城管局".into() }
        );
    }

    #[test]
    fn malformed_codes_and_empty_names_are_refused() {
        for bad in ["", "env garbage", "环境", "env/garbage", "env:1"] {
            let err = Catalog::new(vec![class("env")], vec![category(bad, "env")]).unwrap_err();
            assert_eq!(err, CatalogError::InvalidCode { kind: "category", code: bad.into() }, "{bad:?}");
        }
        let err = Catalog::new(vec![class("e nv")], vec![]).unwrap_err();
        assert_eq!(err, CatalogError::InvalidCode { kind: "class", code: "e nv".into() });
        let mut c = category("env.garbage", "env");
        c.name = " ".into();
        let err = Catalog::new(vec![class("env")], vec![c]).unwrap_err();
        assert_eq!(err, CatalogError::EmptyName { kind: "category", code: "env.garbage".into() });
        assert!(Catalog::new(vec![class("A-z_0.9")], vec![]).is_ok(), "the whole allowed alphabet");
    }

    #[test]
    fn default_catalog_validates_and_covers_every_class() {
        // Given the built-in catalog (built through `new`, so it passed validation),
        let catalog = Catalog::default_catalog();
        // when re-validated from its parts, then it is accepted again,
        let again = Catalog::new(catalog.classes().to_vec(), catalog.categories().to_vec()).unwrap();
        assert_eq!(again, catalog);
        // and each class has categories, each category's code starts with its class code.
        let class_codes: Vec<&str> = catalog.classes().iter().map(|c| c.code.as_str()).collect();
        assert_eq!(
            class_codes,
            ["env", "ad", "construction", "order", "emergency", "dispute", "facility", "service", "property"]
        );
        for class in catalog.classes() {
            assert!(catalog.categories_of(&class.code).count() > 0, "{} has no categories", class.code);
        }
        for category in catalog.categories() {
            assert!(category.code.starts_with(&format!("{}.", category.class_code)), "{}", category.code);
        }
        assert!((20..=30).contains(&catalog.categories().len()));
        let names: Vec<&str> = catalog.classes().iter().map(|c| c.name.as_str()).collect();
        for name in ["市容环境", "宣传广告", "施工管理", "街面秩序", "突发事件", "矛盾纠纷", "物业管理"]
        {
            assert!(names.contains(&name), "{name}");
        }
    }

    #[test]
    fn default_catalog_encodes_the_responsibility_list() {
        let catalog = Catalog::default_catalog();
        // Most matters start at the grid ("小事不出网格").
        let at_grid = catalog.categories().iter().filter(|c| c.start_level == Level::Grid).count();
        assert!(at_grid * 2 > catalog.categories().len());
        // Permits and emergencies start higher.
        assert_eq!(catalog.get("construction.unpermitted").unwrap().start_level, Level::Street);
        assert_eq!(catalog.get("emergency.road-collapse").unwrap().start_level, Level::Street);
        assert_eq!(catalog.get("facility.elevator").unwrap().start_level, Level::Community);
        // Every dispute is mediable; city-appearance events are not.
        assert!(catalog.categories_of("dispute").all(|c| c.mediable));
        assert!(catalog.categories_of("env").all(|c| !c.mediable));
        let noise = catalog.get("dispute.neighbour-noise").unwrap();
        assert_eq!(catalog.class(&noise.class_code).unwrap().name, "矛盾纠纷");
        // Emergencies are much faster than routine events at every level, whenever they start.
        let calendar = WorkingCalendar::china_mainland();
        let fire = catalog.get("emergency.fire-hazard").unwrap();
        let garbage = catalog.get("env.garbage").unwrap();
        for start in sample_starts() {
            let deadline = |sla: &Sla| calendar.deadline(start, sla);
            assert!(deadline(&fire.accept_sla) < deadline(&garbage.accept_sla), "{start}");
            for level in Level::ALL {
                assert!(
                    deadline(fire.resolve_sla_at(level)) < deadline(garbage.resolve_sla_at(level)),
                    "{level} from {start}"
                );
            }
        }
        // Deadlines never shrink on the way up the ladder.
        for c in catalog.categories() {
            for start in sample_starts() {
                let deadlines: Vec<_> = c.resolve_sla.iter().map(|sla| calendar.deadline(start, sla)).collect();
                assert!(deadlines.windows(2).all(|w| w[0] <= w[1]), "{} from {start}", c.code);
            }
        }
        assert_eq!(catalog.get("env.debris").unwrap().resolve_sla, [wd(2), wd(3), wd(5), wd(7)]);
        // Every category names its owner at street and district (权责清单), none below.
        for c in catalog.categories() {
            assert!(
                c.department_at(Level::Street).is_some() && c.department_at(Level::District).is_some(),
                "{}",
                c.code
            );
            assert_eq!(c.department_at(Level::Grid), None);
        }
        // Emergencies are critical, and nothing else is.
        for c in catalog.categories() {
            assert_eq!(c.priority == CategoryPriority::Critical, c.class_code == "emergency", "{}", c.code);
        }
        assert_eq!(catalog.get("service.elderly").unwrap().priority, CategoryPriority::Important);
        assert_eq!(catalog.get("env.garbage").unwrap().priority, CategoryPriority::Routine);
        let building = catalog.get("construction.unpermitted").unwrap();
        assert_eq!(building.department_at(Level::District), Some("housing-construction"));
        assert_eq!(catalog.get("order.street-vendor").unwrap().department_at(Level::Street), Some("urban-management"));
        assert_eq!(catalog.get("service.elderly").unwrap().verification, None);
        assert_eq!(catalog.get("env.garbage").unwrap().verification, Some(wd(1)));
        assert_eq!(catalog.get("emergency.fire-hazard").unwrap().verification, Some(hours(2)));
    }

    /// Instants around a weekend and the 2025 National Day break, in and out of working hours.
    fn sample_starts() -> Vec<chrono::DateTime<chrono::Utc>> {
        use chrono::TimeZone;
        let beijing = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
        [(2025, 3, 14, 17), (2025, 3, 15, 10), (2025, 3, 17, 9), (2025, 9, 30, 16), (2025, 10, 3, 12)]
            .into_iter()
            .map(|(y, m, d, h)| beijing.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap().with_timezone(&chrono::Utc))
            .collect()
    }

    #[test]
    fn ordinary_matters_run_in_working_time_and_emergencies_on_the_wall_clock() {
        let catalog = Catalog::default_catalog();
        for c in catalog.categories() {
            let slas = [c.accept_sla, c.feedback_sla].into_iter().chain(c.resolve_sla);
            let emergency = c.class_code == "emergency";
            for sla in slas {
                assert_eq!(matches!(sla, Sla::Calendar(_)), emergency, "{}: {sla}", c.code);
            }
        }
        let debris = catalog.get("env.debris").unwrap();
        assert_eq!(debris.accept_sla.to_string(), "2 working hours");
        let resolve: Vec<String> = debris.resolve_sla.iter().map(Sla::to_string).collect();
        assert_eq!(resolve, ["2 working days", "3 working days", "5 working days", "7 working days"]);
        let burst = catalog.get("emergency.pipe-burst").unwrap();
        assert_eq!(burst.accept_sla.to_string(), "15 min");
        let resolve: Vec<String> = burst.resolve_sla.iter().map(Sla::to_string).collect();
        assert_eq!(resolve, ["2 hours", "4 hours", "8 hours", "1 day"]);
    }
}
