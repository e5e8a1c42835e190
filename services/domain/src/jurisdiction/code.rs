//! Area codes: the standard jurisdiction codes that nest by prefix, validated once.

use crate::level::Level;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

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

    /// The greatest code under this one: its grid code of nines (the code itself for a grid).
    /// Codes are digits of at most a grid's length, so the codes under this one are exactly
    /// those from it to this code in code order — a range an index of codes reads, in any
    /// collation, where "starts with" is a pattern it cannot.
    pub fn last_under(&self) -> AreaCode {
        let grid = Level::Grid.code_len();
        AreaCode(format!("{}{}", self.0, "9".repeat(grid - self.0.len())))
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
