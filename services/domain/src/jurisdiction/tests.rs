use super::default_city::{CITY_EAST, CITY_NORTH, CITY_SOUTH, CITY_WEST};
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
fn the_codes_under_an_area_are_the_codes_from_it_to_its_last_in_code_order() {
    let street = code("321012009");
    assert_eq!(street.last_under(), code("321012009999999"));
    assert_eq!(code("321012001001003").last_under(), code("321012001001003"), "a grid is its own last");
    let candidates = [
        "321012",
        "321012008",
        "321012008999",
        "321012009",
        "321012009001",
        "321012009999999",
        "321012010",
        "321012010000",
        "321013",
        "321012009000001",
    ];
    for candidate in candidates.map(code) {
        let in_range = street <= candidate && candidate <= street.last_under();
        assert_eq!(in_range, street.contains(&candidate), "{candidate}");
    }
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
    assert_eq!(Jurisdiction::from_toml(&same_worker).unwrap_err(), JurisdictionError::DuplicateWorker("gw-1".into()));
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
    assert_eq!(Jurisdiction::from_toml(&dup).unwrap_err(), JurisdictionError::DuplicateCode(code("321012001001001")));
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
    let e =
        JurisdictionError::BadCode { field: "streets[0].code".into(), reason: AreaCode::new("3210120").unwrap_err() };
    assert!(e.to_string().starts_with("streets[0].code: area code \"3210120\" has 7 digits"), "{e}");
}
