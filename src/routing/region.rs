//! Region paths such as `浙江省/绍兴市/诸暨市/枫桥镇/枫源村`, from province down to village.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A path in the region tree, outermost first.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegionPath(Vec<String>);

/// A region path that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegionError {
    /// No segments at all.
    #[error("region path is empty; write it outermost first, separated by `/`, e.g. 浙江省/绍兴市/诸暨市/枫桥镇")]
    Empty,
    /// A segment is empty (`a//b`).
    #[error("region path `{0}` has an empty segment; separate names with a single `/`")]
    EmptySegment(String),
}

impl RegionPath {
    /// Parses `a/b/c`; surrounding whitespace and a leading or trailing `/` are ignored.
    pub fn parse(s: &str) -> Result<RegionPath, RegionError> {
        let trimmed = s.trim().trim_matches('/');
        if trimmed.is_empty() {
            return Err(RegionError::Empty);
        }
        let parts: Vec<String> = trimmed.split('/').map(|p| p.trim().to_string()).collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(RegionError::EmptySegment(s.to_string()));
        }
        Ok(RegionPath(parts))
    }

    /// Number of segments.
    pub fn depth(&self) -> usize {
        self.0.len()
    }

    /// True if `self` is `other` or one of its ancestors.
    pub fn contains(&self, other: &RegionPath) -> bool {
        other.0.len() >= self.0.len() && other.0[..self.0.len()] == self.0[..]
    }

    /// The segments, outermost first.
    pub fn segments(&self) -> &[String] {
        &self.0
    }

    /// The deepest region containing both (`None` when they share not even the outermost
    /// level).
    pub fn common_ancestor(&self, other: &RegionPath) -> Option<RegionPath> {
        let n = self.0.iter().zip(&other.0).take_while(|(a, b)| a == b).count();
        (n > 0).then(|| RegionPath(self.0[..n].to_vec()))
    }

    /// The tier that coordinates a dispute spanning regions whose deepest common ancestor is
    /// this one: a village (five levels: province/city/county/township/village) handles its own,
    /// a township its villages' disputes, anything wider goes to the county.
    pub fn coordinating_tier(&self) -> crate::labels::Tier {
        match self.0.len() {
            5.. => crate::labels::Tier::Village,
            4 => crate::labels::Tier::Township,
            _ => crate::labels::Tier::County,
        }
    }
}

impl fmt::Display for RegionPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("/"))
    }
}

impl FromStr for RegionPath {
    type Err = RegionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RegionPath::parse(s)
    }
}

impl Serialize for RegionPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RegionPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        RegionPath::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_common_ancestor_decides_who_coordinates() {
        let p = |s: &str| RegionPath::parse(s).unwrap();
        let a = p("浙江省/绍兴市/诸暨市/枫桥镇/枫源村");
        assert_eq!(a.common_ancestor(&p("浙江省/绍兴市/诸暨市/枫桥镇/湄池村")), Some(p("浙江省/绍兴市/诸暨市/枫桥镇")));
        assert_eq!(a.common_ancestor(&a).unwrap().coordinating_tier(), crate::labels::Tier::Village);
        assert_eq!(p("浙江省/绍兴市/诸暨市/枫桥镇").coordinating_tier(), crate::labels::Tier::Township);
        assert_eq!(a.common_ancestor(&p("浙江省/杭州市/萧山区")).unwrap().coordinating_tier(), crate::labels::Tier::County);
        assert_eq!(a.common_ancestor(&p("江苏省/南京市")), None);
    }

    use super::*;

    #[test]
    fn ancestors_contain_descendants_only() {
        let county = RegionPath::parse("浙江省/绍兴市/诸暨市").unwrap();
        let village = RegionPath::parse(" /浙江省/绍兴市/诸暨市/枫桥镇/枫源村/ ").unwrap();
        let other = RegionPath::parse("浙江省/绍兴市/上虞区").unwrap();
        assert!(county.contains(&village) && county.contains(&county));
        assert!(!village.contains(&county) && !other.contains(&village));
        assert_eq!(village.depth(), 5);
        assert_eq!(village.to_string(), "浙江省/绍兴市/诸暨市/枫桥镇/枫源村");
    }

    #[test]
    fn bad_paths_say_what_is_wrong() {
        assert_eq!(RegionPath::parse("  "), Err(RegionError::Empty));
        assert!(matches!(RegionPath::parse("a//b"), Err(RegionError::EmptySegment(_))));
    }
}
