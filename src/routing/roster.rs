//! The mediator roster and the choice of one mediator within a tier.

use serde::{Deserialize, Serialize};

use super::{Assignment, CaseFacts, RegionPath};
use crate::labels::Tier;

/// One mediator on the roster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mediator {
    /// Stable id.
    pub id: String,
    /// Name shown to staff.
    pub name: String,
    /// Star rating, 1–5.
    pub stars: u8,
    /// The tier the mediator works in.
    pub tier: Tier,
    /// The region the mediator covers (the mediator serves it and everything below it).
    pub region: RegionPath,
    /// Dispute types or committee specialties; empty means a generalist.
    #[serde(default)]
    pub specialties: Vec<String>,
    /// Open cases the mediator can hold.
    pub capacity: u32,
    /// Open cases now.
    #[serde(default)]
    pub load: u32,
    /// Rotation stamp of the last assignment (0 = never); lower goes first on ties.
    #[serde(default)]
    pub last_assigned: u64,
}

/// A roster that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    /// Not valid TOML or wrong field shapes (including a bad region path or tier).
    #[error("mediator roster is not valid: {0}")]
    Parse(#[from] toml::de::Error),
    /// Stars outside 1–5.
    #[error("mediator `{id}` has {stars} stars; ratings run from 1 to 5")]
    Stars {
        /// Mediator id.
        id: String,
        /// The value given.
        stars: u8,
    },
    /// Two mediators share an id.
    #[error("mediator id `{0}` appears twice in the roster")]
    DuplicateId(String),
}

/// All mediators, with the rotation clock that spreads ties fairly.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Roster {
    #[serde(rename = "mediator", default)]
    mediators: Vec<Mediator>,
    #[serde(skip)]
    clock: u64,
}

impl Roster {
    /// Parses a roster file (`[[mediator]]` tables) and checks it.
    pub fn from_toml(text: &str) -> Result<Roster, RosterError> {
        let roster: Roster = toml::from_str(text)?;
        Roster::new(roster.mediators)
    }

    /// Builds a roster from mediators, checking stars and id uniqueness.
    pub fn new(mediators: Vec<Mediator>) -> Result<Roster, RosterError> {
        let mut ids = std::collections::HashSet::new();
        for m in &mediators {
            if !(1..=5).contains(&m.stars) {
                return Err(RosterError::Stars { id: m.id.clone(), stars: m.stars });
            }
            if !ids.insert(m.id.as_str()) {
                return Err(RosterError::DuplicateId(m.id.clone()));
            }
        }
        let clock = mediators.iter().map(|m| m.last_assigned).max().unwrap_or(0);
        Ok(Roster { mediators, clock })
    }

    /// The mediators.
    pub fn mediators(&self) -> &[Mediator] {
        &self.mediators
    }

    /// Sets every mediator's load to their open cases as the store counts them (0 if absent).
    pub fn set_loads(&mut self, open: &std::collections::HashMap<String, u32>) {
        for m in &mut self.mediators {
            m.load = open.get(&m.id).copied().unwrap_or(0);
        }
    }

    /// Records that a case went to mediator `id`: one more open case and a new rotation stamp.
    pub fn assign(&mut self, id: &str) {
        self.clock += 1;
        if let Some(m) = self.mediators.iter_mut().find(|m| m.id == id) {
            m.load += 1;
            m.last_assigned = self.clock;
        }
    }

    /// Chooses a mediator in `tier`: their region must contain the case's, they must handle the
    /// dispute type (or hold the required specialty), have at least `min_stars` and spare
    /// capacity. Among those: the nearest region, then a specialist over a generalist, then the
    /// lowest load relative to capacity, then whoever has waited longest since their last case.
    /// Returns the choice with its reason, or why no one qualified.
    pub fn select(&self, tier: Tier, min_stars: u8, case: &CaseFacts<'_>, specialty: Option<&str>) -> Result<(Assignment, String), String> {
        let (mut out_of_region, mut no_specialty, mut few_stars, mut full) = (0, 0, 0, 0);
        let mut qualified: Vec<&Mediator> = Vec::new();
        for m in self.mediators.iter().filter(|m| m.tier == tier) {
            let handles = match specialty {
                Some(s) => m.specialties.iter().any(|x| x == s),
                None => m.specialties.is_empty() || m.specialties.iter().any(|x| x == case.dispute_type),
            };
            if case.region.is_some_and(|r| !m.region.contains(r)) {
                out_of_region += 1;
            } else if !handles {
                no_specialty += 1;
            } else if m.stars < min_stars {
                few_stars += 1;
            } else if m.load >= m.capacity {
                full += 1;
            } else {
                qualified.push(m);
            }
        }
        let specialist = |m: &Mediator| m.specialties.iter().any(|x| Some(x.as_str()) == specialty || x == case.dispute_type);
        let best = qualified.into_iter().min_by(|a, b| {
            b.region
                .depth()
                .cmp(&a.region.depth())
                .then(specialist(b).cmp(&specialist(a)))
                .then(((a.load as u64) * b.capacity as u64).cmp(&((b.load as u64) * a.capacity as u64)))
                .then(a.last_assigned.cmp(&b.last_assigned))
                .then(a.id.cmp(&b.id))
        });
        match best {
            Some(m) => {
                let mut why = format!("选定{}（{}星，{}）：", m.name, m.stars, m.region);
                why.push_str(if case.region.is_some() { "辖区与案发地最近" } else { "未提供案发地区，按本级全部调解员比较" });
                if specialist(m) {
                    why.push_str("，具备相应专长");
                }
                why.push_str(&format!("，星级满足本级至少{min_stars}星，当前在办{}/{}件，负荷最低且轮转在先", m.load, m.capacity));
                let a = Assignment {
                    id: m.id.clone(),
                    name: m.name.clone(),
                    stars: m.stars,
                    region: m.region.to_string(),
                    load: m.load,
                    capacity: m.capacity,
                };
                Ok((a, why))
            }
            None => {
                let mut parts = Vec::new();
                for (n, what) in [(out_of_region, "不在案发地辖区"), (no_specialty, "无相应专长"), (few_stars, "星级不足"), (full, "已满负荷")] {
                    if n > 0 {
                        parts.push(format!("{n}人{what}"));
                    }
                }
                let detail = if parts.is_empty() { "本级没有登记调解员".to_string() } else { parts.join("，") };
                Err(format!("{}没有符合条件的调解员（{detail}）", tier.chinese()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::RiskLevel;
    use crate::routing::RoutingRules;

    fn mediator(id: &str, tier: Tier, stars: u8, region: &str, specialties: &[&str], capacity: u32, load: u32) -> Mediator {
        Mediator {
            id: id.into(),
            name: id.into(),
            stars,
            tier,
            region: RegionPath::parse(region).unwrap(),
            specialties: specialties.iter().map(|s| s.to_string()).collect(),
            capacity,
            load,
            last_assigned: 0,
        }
    }

    fn case<'a>(t: &'a str, risk: RiskLevel, region: &'a RegionPath) -> CaseFacts<'a> {
        CaseFacts { dispute_type: t, risk, region: Some(region), people: None, coordinating: None }
    }

    #[test]
    fn nearest_region_wins_then_lowest_load_then_rotation() {
        let roster = Roster::new(vec![
            mediator("county-wide", Tier::Village, 3, "省/市/县", &[], 10, 0),
            mediator("village-a", Tier::Village, 2, "省/市/县/镇/甲村", &[], 10, 5),
            mediator("village-b", Tier::Village, 2, "省/市/县/镇/乙村", &[], 10, 0),
        ])
        .unwrap();
        let at = RegionPath::parse("省/市/县/镇/甲村").unwrap();
        let (m, why) = roster.select(Tier::Village, 1, &case("neighbor", RiskLevel::Blue, &at), None).unwrap();
        assert_eq!(m.id, "village-a", "{why}");

        let mut roster = Roster::new(vec![
            mediator("m1", Tier::Township, 3, "省/市/县/镇", &[], 10, 2),
            mediator("m2", Tier::Township, 4, "省/市/县/镇", &[], 10, 2),
        ])
        .unwrap();
        let at = RegionPath::parse("省/市/县/镇/甲村").unwrap();
        let c = case("debt", RiskLevel::Yellow, &at);
        let mut picks = Vec::new();
        for _ in 0..4 {
            let (m, _) = roster.select(Tier::Township, 3, &c, None).unwrap();
            roster.assign(&m.id);
            picks.push(m.id);
        }
        assert_eq!(picks, ["m1", "m2", "m1", "m2"], "equal load alternates fairly");
    }

    #[test]
    fn stars_capacity_and_specialty_are_required_and_refusals_explained() {
        let roster = Roster::new(vec![
            mediator("low", Tier::County, 3, "省/市/县", &["medical"], 10, 0),
            mediator("full", Tier::County, 5, "省/市/县", &["medical"], 4, 4),
            mediator("traffic", Tier::County, 5, "省/市/县", &["traffic"], 4, 0),
        ])
        .unwrap();
        let at = RegionPath::parse("省/市/县/镇").unwrap();
        let err = roster.select(Tier::County, 4, &case("medical", RiskLevel::Blue, &at), Some("medical")).unwrap_err();
        assert!(err.contains("1人无相应专长") && err.contains("1人星级不足") && err.contains("1人已满负荷"), "{err}");
    }

    #[test]
    fn route_names_the_next_tier_when_no_one_qualifies() {
        let rules = RoutingRules::from_toml(include_str!("../../config/routing.toml")).unwrap();
        let roster = Roster::new(vec![mediator("t", Tier::Township, 4, "省/市/县/镇", &[], 5, 0)]).unwrap();
        let at = RegionPath::parse("省/市/县/镇/甲村").unwrap();
        let r = rules.route(&case("neighbor", RiskLevel::Blue, &at), &roster);
        assert_eq!(r.tier, Tier::Village);
        assert_eq!(r.escalated_to, Some(Tier::Township));
        assert_eq!(r.mediator.unwrap().id, "t");
        assert!(r.reasons.iter().any(|s| s.contains("没有符合条件")), "{:?}", r.reasons);
    }

    #[test]
    fn roster_rejects_bad_stars_and_duplicate_ids() {
        let m = mediator("x", Tier::Village, 6, "省", &[], 1, 0);
        assert!(matches!(Roster::new(vec![m]), Err(RosterError::Stars { .. })));
        let m = mediator("x", Tier::Village, 1, "省", &[], 1, 0);
        assert!(matches!(Roster::new(vec![m.clone(), m]), Err(RosterError::DuplicateId(_))));
        assert!(Roster::from_toml(include_str!("../../config/mediators.toml")).unwrap().mediators().len() >= 10);
    }
}
