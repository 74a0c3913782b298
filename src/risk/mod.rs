//! Escalation risk: the text model's probabilities, explicit cues from a data file, a small fusion
//! model that weighs the two, and a cost-sensitive decision. Cues can only raise the level, and
//! every raise is a stated reason.
//!
//! This module does no I/O: callers hand it the text of `config/risk.toml`.

mod cues;
mod fusion;

pub use cues::{CueHit, CueSet};
pub use fusion::{FUSION_INPUTS, Fusion, FusionError, fusion_features};

use serde::{Deserialize, Serialize};

use crate::labels::RiskLevel;

/// A problem in the risk configuration file.
#[derive(Debug, thiserror::Error)]
pub enum RiskConfigError {
    /// The file is not valid TOML or has fields of the wrong shape.
    #[error("risk configuration is not valid: {0}")]
    Parse(#[from] toml::de::Error),
    /// A cue's regular expression does not compile.
    #[error("cue `{cue}` has an invalid pattern `{pattern}`: {message}")]
    Pattern {
        /// The cue's id.
        cue: String,
        /// The pattern.
        pattern: String,
        /// What the regex engine said.
        message: String,
    },
    /// A cost is missing or not a positive number.
    #[error("decision cost for `{0}` must be a positive number")]
    Cost(String),
}

/// Costs of under-calling each level by one step (over-calling one step costs 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionCosts {
    under: [f64; 4],
}

impl Default for DecisionCosts {
    fn default() -> Self {
        DecisionCosts { under: [1.0, 1.5, 2.5, 5.0] }
    }
}

impl DecisionCosts {
    /// Builds costs from the under-call cost of yellow, orange and red.
    pub fn new(yellow: f64, orange: f64, red: f64) -> Result<DecisionCosts, RiskConfigError> {
        for (name, v) in [("yellow", yellow), ("orange", orange), ("red", red)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(RiskConfigError::Cost(name.into()));
            }
        }
        Ok(DecisionCosts { under: [1.0, yellow, orange, red] })
    }

    fn cost(&self, truth: usize, predicted: usize) -> f64 {
        if predicted < truth { (truth - predicted) as f64 * self.under[truth] } else { (predicted - truth) as f64 }
    }

    /// The level with the least expected cost under `probs` (blue, yellow, orange, red).
    pub fn decide(&self, probs: &[f32; 4]) -> RiskLevel {
        let expected = |p: usize| (0..4).map(|t| probs[t] as f64 * self.cost(t, p)).sum::<f64>();
        let best = (0..4).min_by(|&a, &b| expected(a).total_cmp(&expected(b))).unwrap_or(0);
        RiskLevel::from_index(best).unwrap_or(RiskLevel::Blue)
    }
}

/// Everything risk assessment needs besides the models: cues and decision costs.
#[derive(Debug, Clone)]
pub struct RiskRules {
    /// The explicit cues.
    pub cues: CueSet,
    /// The decision costs.
    pub decision: DecisionCosts,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RiskFile {
    decision: DecisionFile,
    #[serde(default)]
    cue: Vec<cues::CueSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionFile {
    under_cost: UnderCost,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnderCost {
    yellow: f64,
    orange: f64,
    red: f64,
}

impl RiskRules {
    /// Parses `config/risk.toml`.
    pub fn from_toml(text: &str) -> Result<RiskRules, RiskConfigError> {
        let file: RiskFile = toml::from_str(text)?;
        let u = file.decision.under_cost;
        Ok(RiskRules { cues: CueSet::new(file.cue)?, decision: DecisionCosts::new(u.yellow, u.orange, u.red)? })
    }
}

/// Why the risk is what it is, in words an operator understands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiskReason {
    /// Where the reason comes from: `cue`, `model` or `history`.
    pub source: &'static str,
    /// The level this reason supports.
    pub level: RiskLevel,
    /// The explanation.
    pub text: String,
}

/// The outcome of risk assessment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiskAssessment {
    /// The final level.
    pub level: RiskLevel,
    /// Calibrated probabilities of blue, yellow, orange, red after fusing cues with the text model.
    pub probabilities: [f32; 4],
    /// The level the models alone would give.
    pub model_level: RiskLevel,
    /// The highest level any cue demands, if a cue matched.
    pub cue_floor: Option<RiskLevel>,
    /// Cues that matched.
    pub cues: Vec<CueHit>,
}

/// What the case history says about a new complaint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct HistoryFacts {
    /// Earlier cases from the same phone in the last 90 days.
    pub same_phone_90d: usize,
    /// Open (not closed) cases at the same address.
    pub open_same_address: usize,
    /// Near-duplicate complaints in the same region in the last 30 days.
    pub similar_in_region_30d: usize,
}

/// The risk floors that repeated contact demands, with their reasons: a third contact from one
/// phone within 90 days is at least yellow, a fifth at least orange; open cases at the same
/// address or three near-duplicates in the region in 30 days are at least yellow.
pub fn history_reasons(h: &HistoryFacts) -> Vec<RiskReason> {
    let mut out = Vec::new();
    if h.same_phone_90d >= 2 {
        let level = if h.same_phone_90d >= 4 { RiskLevel::Orange } else { RiskLevel::Yellow };
        out.push(RiskReason { source: "history", level, text: format!("同一来电人90天内第{}次来电", h.same_phone_90d + 1) });
    }
    if h.open_same_address >= 1 {
        out.push(RiskReason { source: "history", level: RiskLevel::Yellow, text: format!("同一地址另有{}件未结案件", h.open_same_address) });
    }
    if h.similar_in_region_30d >= 3 {
        out.push(RiskReason { source: "history", level: RiskLevel::Yellow, text: format!("30天内同一地区有{}件相似投诉，可能涉及多户", h.similar_in_region_30d) });
    }
    out
}

/// Combines text-model risk probabilities with cue hits: the fusion model weighs them, the
/// decision costs pick a level, and the highest cue level is a floor the result never goes below.
pub fn assess(text_probs: &[f32; 4], cues: Vec<CueHit>, fusion: &Fusion, decision: &DecisionCosts) -> RiskAssessment {
    let probabilities = fusion.apply(text_probs, &cues);
    let model_level = decision.decide(&probabilities);
    let cue_floor = cues.iter().map(|c| c.level).max();
    let level = cue_floor.map_or(model_level, |f| f.max(model_level));
    RiskAssessment { level, probabilities, model_level, cue_floor, cues }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missed_red_costs_more_than_a_needless_escalation() {
        let d = DecisionCosts::default();
        assert_eq!(d.decide(&[0.9, 0.05, 0.03, 0.02]), RiskLevel::Blue);
        // 25% red is enough to call red when red is five times as costly to miss.
        assert_eq!(d.decide(&[0.45, 0.1, 0.2, 0.25]), RiskLevel::Red);
        assert_eq!(d.decide(&[0.5, 0.1, 0.3, 0.1]), RiskLevel::Orange);
        assert_eq!(d.decide(&[0.2, 0.1, 0.2, 0.5]), RiskLevel::Red);
        assert!(DecisionCosts::new(1.0, -1.0, 2.0).is_err());
    }

    #[test]
    fn cues_raise_but_never_lower() {
        let rules = RiskRules::from_toml(include_str!("../../config/risk.toml")).unwrap();
        let fusion = Fusion::identity();
        let calm = [0.97, 0.01, 0.01, 0.01];
        let hits = rules.cues.scan("他说今晚带着汽油去他家");
        let a = assess(&calm, hits, &fusion, &rules.decision);
        assert_eq!(a.level, RiskLevel::Red);
        assert_eq!(a.model_level, RiskLevel::Blue);
        let alarming = [0.01, 0.01, 0.01, 0.97];
        let b = assess(&alarming, rules.cues.scan("楼上漏水,多次协商无果"), &fusion, &rules.decision);
        assert_eq!(b.level, RiskLevel::Red, "a yellow cue does not pull a red model call down");
    }

    #[test]
    fn repeated_contact_raises_with_a_reason() {
        assert!(history_reasons(&HistoryFacts { same_phone_90d: 1, ..Default::default() }).is_empty(), "a second call is not yet a pattern");
        let r = history_reasons(&HistoryFacts { same_phone_90d: 2, ..Default::default() });
        assert_eq!((r[0].level, r[0].text.as_str()), (RiskLevel::Yellow, "同一来电人90天内第3次来电"));
        let r = history_reasons(&HistoryFacts { same_phone_90d: 4, open_same_address: 1, similar_in_region_30d: 3 });
        assert_eq!(r.iter().map(|x| x.level).collect::<Vec<_>>(), [RiskLevel::Orange, RiskLevel::Yellow, RiskLevel::Yellow]);
    }

    #[test]
    fn shipped_risk_file_parses_and_bad_files_say_why() {
        let rules = RiskRules::from_toml(include_str!("../../config/risk.toml")).unwrap();
        assert!(rules.cues.len() >= 10);
        let bad = "[decision]\nunder_cost = { yellow = 1, orange = 2, red = 3 }\n[[cue]]\nid='x'\nlevel='red'\nreason='r'\npatterns=['(']\n";
        let err = RiskRules::from_toml(bad).unwrap_err().to_string();
        assert!(err.contains("cue `x`"), "{err}");
        let unknown = "[decision]\nunder_cost = { yellow = 1, orange = 2, red = 3 }\n[[cue]]\nid='x'\nlevel='purple'\nreason='r'\npatterns=['a']\n";
        assert!(RiskRules::from_toml(unknown).is_err());
    }
}
