//! The escalation ladder: grid → community → street → district (网格 → 社区 → 街道 → 区).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Grid,
    Community,
    Street,
    District,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::Grid, Level::Community, Level::Street, Level::District];

    /// The next level up, or `None` at the district (the top of the ladder).
    pub fn up(self) -> Option<Level> {
        match self {
            Level::Grid => Some(Level::Community),
            Level::Community => Some(Level::Street),
            Level::Street => Some(Level::District),
            Level::District => None,
        }
    }

    /// The 4321 rule's target share of cases settled at this level.
    pub fn target_share(self) -> f64 {
        match self {
            Level::Grid => 0.4,
            Level::Community => 0.3,
            Level::Street => 0.2,
            Level::District => 0.1,
        }
    }

    /// Length of the standard jurisdiction code at this level (6 + 3 + 3 + 3 digits).
    pub fn code_len(self) -> usize {
        match self {
            Level::District => 6,
            Level::Street => 9,
            Level::Community => 12,
            Level::Grid => 15,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Grid => "grid",
            Level::Community => "community",
            Level::Street => "street",
            Level::District => "district",
        }
    }

    /// The level's Chinese name (网格, 社区, 街道, 区), as case records write it.
    pub fn chinese_name(self) -> &'static str {
        match self {
            Level::Grid => "网格",
            Level::Community => "社区",
            Level::Street => "街道",
            Level::District => "区",
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "grid" => Ok(Level::Grid),
            "community" => Ok(Level::Community),
            "street" => Ok(Level::Street),
            "district" => Ok(Level::District),
            other => Err(format!("unknown level {other:?} (grid, community, street, district)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ladder_goes_up_one_level_at_a_time_and_stops_at_district() {
        assert_eq!(Level::Grid.up(), Some(Level::Community));
        assert_eq!(Level::Community.up(), Some(Level::Street));
        assert_eq!(Level::Street.up(), Some(Level::District));
        assert_eq!(Level::District.up(), None);
    }

    #[test]
    fn targets_are_4321() {
        let sum: f64 = Level::ALL.iter().map(|l| l.target_share()).sum();
        assert!((sum - 1.0).abs() < 1e-9);
        assert_eq!(Level::Grid.target_share(), 0.4);
        assert_eq!(Level::District.target_share(), 0.1);
    }
}
