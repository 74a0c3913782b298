//! Routing: from dispute type and risk to a mediator tier (小事不出村、大事不出乡、难题不上交),
//! and within the tier to one mediator, with the choice explained.
//!
//! Rules ([`RoutingRules`], from `config/routing.toml`) and the roster ([`Roster`], from
//! `config/mediators.toml` or, later, the store) are data. This module does no I/O.

mod region;
mod roster;

pub use region::{RegionError, RegionPath};
pub use roster::{Mediator, Roster, RosterError};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::labels::{RiskLevel, Tier};

/// A problem in the routing rules file.
#[derive(Debug, thiserror::Error)]
pub enum RoutingConfigError {
    /// Not valid TOML, or fields of the wrong shape (unknown tier or risk codes included).
    #[error("routing rules are not valid: {0}")]
    Parse(#[from] toml::de::Error),
    /// A risk level has no tier.
    #[error("routing rules give no tier for risk level `{0}`; add it under [risk_tier]")]
    MissingRisk(RiskLevel),
    /// A tier has no minimum star rating.
    #[error("routing rules give no minimum stars for tier `{0}`; add it under [min_stars]")]
    MissingStars(Tier),
    /// A star minimum outside 1–5.
    #[error("minimum stars for tier `{tier}` is {stars}; it must be between 1 and 5")]
    BadStars {
        /// The tier.
        tier: Tier,
        /// The value given.
        stars: u8,
    },
}

/// A rule that raises the lowest tier for a dispute type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeFloor {
    /// The dispute type code.
    #[serde(rename = "type")]
    pub dispute_type: String,
    /// The lowest tier for it.
    pub tier: Tier,
    /// A specialty the mediator must hold (a professional committee), if any.
    #[serde(default)]
    pub specialty: Option<String>,
    /// Apply only when at least this many people are involved.
    #[serde(default)]
    pub min_people: Option<u32>,
    /// Why, in words an operator understands.
    pub reason: String,
}

/// Tier rules: the tier per risk level, type floors and minimum stars per tier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingRules {
    risk_tier: BTreeMap<RiskLevel, Tier>,
    min_stars: BTreeMap<Tier, u8>,
    #[serde(default)]
    floor: Vec<TypeFloor>,
}

/// What routing knows about a case.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseFacts<'a> {
    /// Dispute type code.
    pub dispute_type: &'a str,
    /// Final risk level.
    pub risk: RiskLevel,
    /// Where the dispute is, if known.
    pub region: Option<&'a RegionPath>,
    /// How many people are involved, if the text says.
    pub people: Option<u32>,
    /// For a dispute that spans regions: the tier of their deepest common ancestor, which
    /// coordinates it (the case's `region` is then that ancestor).
    pub coordinating: Option<Tier>,
}

/// The chosen mediator.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assignment {
    /// Mediator id.
    pub id: String,
    /// Mediator name.
    pub name: String,
    /// Star rating.
    pub stars: u8,
    /// The mediator's region.
    pub region: String,
    /// Cases open now, before this one.
    pub load: u32,
    /// Cases the mediator can hold.
    pub capacity: u32,
}

/// The routing decision with its reasons.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Routing {
    /// The tier the case belongs to.
    pub tier: Tier,
    /// A professional committee specialty the case needs, if any.
    pub specialty: Option<String>,
    /// The mediator, if one qualifies (possibly from a higher tier, see `escalated_to`).
    pub mediator: Option<Assignment>,
    /// Set when no one in `tier` qualified: the tier that the mediator was taken from instead, or
    /// the tier to refer to when no one qualifies there either.
    pub escalated_to: Option<Tier>,
    /// Every step of the decision, in order.
    pub reasons: Vec<String>,
}

impl RoutingRules {
    /// Parses `config/routing.toml` and checks that every risk level and tier is covered.
    pub fn from_toml(text: &str) -> Result<RoutingRules, RoutingConfigError> {
        let rules: RoutingRules = toml::from_str(text)?;
        for r in RiskLevel::ALL {
            if !rules.risk_tier.contains_key(&r) {
                return Err(RoutingConfigError::MissingRisk(r));
            }
        }
        for t in Tier::ALL {
            match rules.min_stars.get(&t) {
                None => return Err(RoutingConfigError::MissingStars(t)),
                Some(&s) if !(1..=5).contains(&s) => return Err(RoutingConfigError::BadStars { tier: t, stars: s }),
                _ => {}
            }
        }
        Ok(rules)
    }

    /// Minimum stars for a tier.
    pub fn min_stars(&self, tier: Tier) -> u8 {
        self.min_stars.get(&tier).copied().unwrap_or(5)
    }

    /// The tier, specialty and reasons for a case, before any mediator is chosen.
    pub fn tier_for(&self, case: &CaseFacts<'_>) -> (Tier, Option<String>, Vec<String>) {
        let mut tier = self.risk_tier[&case.risk];
        let mut reasons = vec![format!("风险等级{}对应{}", case.risk.chinese(), tier.chinese())];
        let mut specialty = None;
        for f in self.floor.iter().filter(|f| f.dispute_type == case.dispute_type) {
            if let Some(min) = f.min_people {
                match case.people {
                    Some(p) if p >= min => {}
                    _ => continue,
                }
            }
            // A professional committee works at its own tier; above it (the joint emergency
            // response) the lead mediator calls the committee in rather than being one.
            if f.specialty.is_some() && f.tier >= tier {
                specialty = f.specialty.clone();
            }
            if f.tier > tier {
                tier = f.tier;
                reasons.push(format!("{}，上调至{}", f.reason, tier.chinese()));
            } else {
                reasons.push(f.reason.clone());
            }
        }
        if let Some(t) = case.coordinating {
            if t > tier {
                tier = t;
                reasons.push(format!("跨区域纠纷（跨区域协同化解），由共同上级{}协调", tier.chinese()));
            } else {
                reasons.push("跨区域纠纷，各地区调解力量在案件记录中知会".to_string());
            }
        }
        (tier, specialty, reasons)
    }

    /// Routes a case: the tier from risk and type, then the best qualifying mediator in it; when
    /// no one qualifies, says so and tries the tiers above in turn.
    pub fn route(&self, case: &CaseFacts<'_>, roster: &Roster) -> Routing {
        let (tier, specialty, mut reasons) = self.tier_for(case);
        let mut at = Some(tier);
        while let Some(t) = at {
            let required = if t == tier { specialty.as_deref() } else { None };
            match roster.select(t, self.min_stars(t), case, required) {
                Ok((m, why)) => {
                    reasons.push(why);
                    let escalated_to = (t != tier).then_some(t);
                    return Routing { tier, specialty, mediator: Some(m), escalated_to, reasons };
                }
                Err(why) => {
                    reasons.push(why);
                    at = t.next_up();
                    if let Some(up) = at {
                        reasons.push(format!("转请上一级：{}", up.chinese()));
                    }
                }
            }
        }
        let escalated_to = tier.next_up();
        reasons.push("各级均无可派调解员，请人工指派".to_string());
        Routing { tier, specialty, mediator: None, escalated_to, reasons }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> RoutingRules {
        RoutingRules::from_toml(include_str!("../../config/routing.toml")).unwrap()
    }

    fn facts<'a>(t: &'a str, risk: RiskLevel, region: Option<&'a RegionPath>, people: Option<u32>) -> CaseFacts<'a> {
        CaseFacts { dispute_type: t, risk, region, people, coordinating: None }
    }

    #[test]
    fn tier_follows_risk_and_type_floors() {
        let r = rules();
        assert_eq!(r.tier_for(&facts("neighbor", RiskLevel::Blue, None, None)).0, Tier::Village);
        assert_eq!(r.tier_for(&facts("neighbor", RiskLevel::Red, None, None)).0, Tier::Emergency);
        let (t, s, _) = r.tier_for(&facts("medical", RiskLevel::Blue, None, None));
        assert_eq!((t, s.as_deref()), (Tier::County, Some("medical")));
        assert_eq!(r.tier_for(&facts("demolition", RiskLevel::Blue, None, None)).0, Tier::Township);
        assert_eq!(r.tier_for(&facts("labor", RiskLevel::Blue, None, Some(3))).0, Tier::Village);
        assert_eq!(r.tier_for(&facts("labor", RiskLevel::Blue, None, Some(25))).0, Tier::County);
        let (t, s, _) = r.tier_for(&facts("medical", RiskLevel::Red, None, None));
        assert_eq!((t, s), (Tier::Emergency, None), "a floor never lowers, and the lead mediator need not be a committee member");
    }

    #[test]
    fn missing_levels_and_bad_stars_are_reported() {
        let text = include_str!("../../config/routing.toml").replace("red = \"emergency\"", "");
        assert!(matches!(RoutingRules::from_toml(&text), Err(RoutingConfigError::MissingRisk(RiskLevel::Red))));
        let text = include_str!("../../config/routing.toml").replace("emergency = 5", "emergency = 9");
        assert!(matches!(RoutingRules::from_toml(&text), Err(RoutingConfigError::BadStars { .. })));
    }
}
