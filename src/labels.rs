//! The fixed scales the pipeline reasons about: the four-colour risk scale and the mediator tiers.
//!
//! Dispute *types* are deliberately not here: they are data carried by a trained model (a user can
//! train on labels of their own), while risk levels and tiers are ordered scales that cues and
//! routing rules compare against, so they are domain types.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Escalation risk on the four-colour warning scale, ordered from calm to imminent harm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RiskLevel {
    /// 蓝色 一般: ordinary, calm, no sign of escalation.
    Blue,
    /// 黄色 较大: could grow if left alone.
    Yellow,
    /// 橙色 重大: likely to escalate soon.
    Orange,
    /// 红色 特别重大: imminent harm, needs an immediate response.
    Red,
}

impl RiskLevel {
    /// All levels in ascending order.
    pub const ALL: [RiskLevel; 4] = [RiskLevel::Blue, RiskLevel::Yellow, RiskLevel::Orange, RiskLevel::Red];

    /// The code used in files and JSON.
    pub fn code(self) -> &'static str {
        match self {
            RiskLevel::Blue => "blue",
            RiskLevel::Yellow => "yellow",
            RiskLevel::Orange => "orange",
            RiskLevel::Red => "red",
        }
    }

    /// The name users see.
    pub fn chinese(self) -> &'static str {
        match self {
            RiskLevel::Blue => "蓝色·一般",
            RiskLevel::Yellow => "黄色·较大",
            RiskLevel::Orange => "橙色·重大",
            RiskLevel::Red => "红色·特别重大",
        }
    }

    /// Position on the scale, 0 for blue to 3 for red.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The level at a scale position, if there is one.
    pub fn from_index(i: usize) -> Option<RiskLevel> {
        RiskLevel::ALL.get(i).copied()
    }
}

impl fmt::Display for RiskLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A risk or tier code that is not on its scale.
#[derive(Debug, thiserror::Error)]
#[error("unknown {scale} `{value}`; expected one of: {expected}")]
pub struct UnknownLabel {
    /// Which scale was being parsed.
    pub scale: &'static str,
    /// The value that was given.
    pub value: String,
    /// The accepted codes.
    pub expected: &'static str,
}

impl FromStr for RiskLevel {
    type Err = UnknownLabel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "blue" | "蓝" | "蓝色" => Ok(RiskLevel::Blue),
            "yellow" | "黄" | "黄色" => Ok(RiskLevel::Yellow),
            "orange" | "橙" | "橙色" => Ok(RiskLevel::Orange),
            "red" | "红" | "红色" => Ok(RiskLevel::Red),
            _ => Err(UnknownLabel { scale: "risk level", value: s.to_string(), expected: "blue, yellow, orange, red" }),
        }
    }
}

/// Mediator tier, ordered from closest to home to the joint emergency response
/// (小事不出村、大事不出乡、难题不上交).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// 村(社区)人民调解委员会.
    Village,
    /// 乡镇(街道)调解委员会 / 矛盾纠纷调处化解中心.
    Township,
    /// 县级矛调中心 and the professional committees.
    County,
    /// 5-star lead mediator plus joint response with police and departments.
    Emergency,
}

impl Tier {
    /// All tiers from lowest to highest.
    pub const ALL: [Tier; 4] = [Tier::Village, Tier::Township, Tier::County, Tier::Emergency];

    /// The code used in files and JSON.
    pub fn code(self) -> &'static str {
        match self {
            Tier::Village => "village",
            Tier::Township => "township",
            Tier::County => "county",
            Tier::Emergency => "emergency",
        }
    }

    /// The name users see.
    pub fn chinese(self) -> &'static str {
        match self {
            Tier::Village => "村(社区)调委会",
            Tier::Township => "乡镇(街道)调委会",
            Tier::County => "县级矛调中心/专业调委会",
            Tier::Emergency => "应急联动(五星调解员+公安及相关部门)",
        }
    }

    /// The tier above this one, if any.
    pub fn next_up(self) -> Option<Tier> {
        Tier::ALL.get(self as usize + 1).copied()
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Tier {
    type Err = UnknownLabel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "village" => Ok(Tier::Village),
            "township" => Ok(Tier::Township),
            "county" => Ok(Tier::County),
            "emergency" => Ok(Tier::Emergency),
            _ => Err(UnknownLabel { scale: "tier", value: s.to_string(), expected: "village, township, county, emergency" }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_levels_are_ordered_and_parse_both_scripts() {
        assert!(RiskLevel::Red > RiskLevel::Orange && RiskLevel::Yellow > RiskLevel::Blue);
        assert_eq!("红色".parse::<RiskLevel>().unwrap(), RiskLevel::Red);
        assert_eq!(" Orange ".parse::<RiskLevel>().unwrap(), RiskLevel::Orange);
        let err = "purple".parse::<RiskLevel>().unwrap_err().to_string();
        assert!(err.contains("purple") && err.contains("blue, yellow"), "{err}");
    }

    #[test]
    fn tiers_step_up_to_emergency_and_stop() {
        assert_eq!(Tier::Village.next_up(), Some(Tier::Township));
        assert_eq!(Tier::Emergency.next_up(), None);
        assert_eq!("county".parse::<Tier>().unwrap(), Tier::County);
    }
}
