//! The built-in city: a synthetic 江都区 of 8 streets, 40 communities and 200 grids tiling a
//! rectangle, with invented workers and the departments of each unit.

use super::{AreaCode, Community, Department, District, Grid, GridWorker, Street};
use geo::{LineString, Polygon};

pub(super) const CITY_WEST: f64 = 119.50;
pub(super) const CITY_EAST: f64 = 119.65;
pub(super) const CITY_SOUTH: f64 = 32.40;
pub(super) const CITY_NORTH: f64 = 32.50;

/// Streets of the synthetic 江都区 with their communities, in code order (001, 002, …).
/// Names follow the real district's towns and communities (禹王宫, 玉带, 建乐, 北苑, 南吴, 李坝, …);
/// the layout is invented.
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

pub(super) fn synthetic_district() -> District {
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
