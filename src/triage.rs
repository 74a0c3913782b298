//! The triage pipeline: normalize → segment → classify → assess risk → route, with the reasons
//! for each step. [`Pipeline`] holds everything loaded once; [`Pipeline::triage`] is pure.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::classify::ModelError;
use crate::labels::RiskLevel;
use crate::model::{ModelBundle, Prediction};
use crate::risk::{RiskReason, RiskRules};
use crate::routing::{CaseFacts, RegionError, RegionPath, Roster, Routing, RoutingRules};
use crate::text::{self, Analyzer, PersonalData, TextError};

/// One complaint to triage.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriageRequest {
    /// The complaint as pasted.
    pub text: String,
    /// Where the dispute is, e.g. `浙江省/绍兴市/诸暨市/枫桥镇/枫源村`.
    #[serde(default)]
    pub region: Option<String>,
    /// The caller's phone number, if taken.
    #[serde(default)]
    pub phone: Option<String>,
    /// The address of the dispute, if taken.
    #[serde(default)]
    pub address: Option<String>,
    /// Further regions the dispute spans (跨区域): two villages of different townships, a
    /// worker from one county on a site in another.
    #[serde(default)]
    pub other_regions: Vec<String>,
}

/// Why a request cannot be triaged.
#[derive(Debug, thiserror::Error)]
pub enum TriageError {
    /// The text breaks an input rule.
    #[error(transparent)]
    Text(#[from] TextError),
    /// The region path is malformed.
    #[error(transparent)]
    Region(#[from] RegionError),
    /// The caller's phone number is not one.
    #[error("caller phone `{0}` is not a phone number; give 7 to 15 digits (spaces, dashes and a leading + are fine)")]
    Phone(String),
    /// The model lacks a head (an internal problem: the model on disk is not a triage model).
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// The dispute type with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TypeResult {
    /// Type code.
    pub label: String,
    /// The name users see.
    pub name: String,
    /// Calibrated probability of `label`.
    pub probability: f32,
    /// Probabilities of every type.
    pub probabilities: BTreeMap<String, f32>,
    /// The words that pointed to this type most strongly.
    pub terms: Vec<String>,
}

/// The risk with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiskResult {
    /// Final level.
    pub level: RiskLevel,
    /// The name users see.
    pub name: String,
    /// Fused probabilities by level.
    pub probabilities: BTreeMap<RiskLevel, f32>,
    /// The level the models alone gave.
    pub model_level: RiskLevel,
    /// The highest cue level, if any cue matched.
    pub cue_floor: Option<RiskLevel>,
    /// Every reason, highest level first.
    pub reasons: Vec<RiskReason>,
}

/// Everything triage decides about a complaint before routing: text facts, type and risk.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    /// Characters in the submitted text.
    pub chars: usize,
    /// The text as analyzed (simplified, folded).
    pub normalized: String,
    /// Phone and ID numbers found in the submitted text (byte spans).
    pub personal_data: Vec<PersonalData>,
    /// The submitted text with personal data masked.
    pub masked_text: String,
    /// Dispute type.
    #[serde(rename = "type")]
    pub dispute_type: TypeResult,
    /// Escalation risk.
    pub risk: RiskResult,
    /// People involved, if the text says.
    pub people: Option<u32>,
    /// The region given with the request.
    pub region: Option<String>,
    /// Further regions the dispute spans, validated and without the first one.
    pub other_regions: Vec<String>,
    /// The caller's phone number, digits only (history is looked up with it; it is masked for
    /// roles that may not see it).
    pub caller_phone: Option<String>,
    /// The address given with the request.
    pub address: Option<String>,
    /// Earlier cases from the same phone or address, or near-duplicates in the region (filled
    /// in by [`Pipeline::apply_history`] when a case store is at hand).
    pub related: Vec<RelatedCase>,
}

/// An earlier case related to a new complaint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RelatedCase {
    /// Case id.
    pub id: i64,
    /// How it relates: `same_phone`, `same_address` or `similar_text`.
    pub relation: &'static str,
    /// When it was received (RFC 3339).
    pub received: String,
    /// Its type.
    #[serde(rename = "type")]
    pub dispute_type: String,
    /// Its risk.
    pub risk: RiskLevel,
    /// Its status.
    pub status: String,
    /// The start of its text.
    pub excerpt: String,
}

/// The related cases of a case history, as shown on the triage card and the case page (excerpts
/// with personal data masked).
pub fn related_cases(history: &crate::store::History) -> Vec<RelatedCase> {
    let related = |cases: &[crate::store::Case], relation: &'static str| -> Vec<RelatedCase> {
        cases
            .iter()
            .map(|c| RelatedCase {
                id: c.id,
                relation,
                received: c.fields.received_at.to_rfc3339(),
                dispute_type: c.effective_type().to_string(),
                risk: c.effective_risk(),
                status: c.status.code().to_string(),
                excerpt: text::mask_all(&c.fields.text).chars().take(60).collect(),
            })
            .collect()
    };
    [related(&history.same_phone, "same_phone"), related(&history.same_address, "same_address"), related(&history.similar, "similar_text")].concat()
}

/// Reduces a phone number to its digits (full-width folded); `None` if it is not 7–15 digits
/// once spaces, dashes, brackets and a leading `+` are removed.
pub fn normalize_phone(raw: &str) -> Option<String> {
    let mut digits = String::new();
    for c in raw.trim().trim_start_matches('+').chars().map(text::fold_width) {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '(' | ')' => {}
            _ => return None,
        }
    }
    (7..=15).contains(&digits.len()).then_some(digits)
}

/// The full triage result: the assessment and the routing decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Triage {
    /// Text facts, type and risk.
    #[serde(flatten)]
    pub assessment: Assessment,
    /// The routing decision.
    pub routing: Routing,
}

/// The Chinese names of the TAXONOMY type codes; other codes are shown as they are.
pub fn type_name(code: &str) -> &str {
    match code {
        "family" => "婚姻家庭",
        "neighbor" => "邻里纠纷",
        "labor" => "劳动争议",
        "property_mgmt" => "物业纠纷",
        "land" => "土地山林",
        "demolition" => "征地拆迁",
        "housing" => "房屋买卖租赁",
        "consumer" => "消费维权",
        "debt" => "借贷合同",
        "medical" => "医疗纠纷",
        "traffic" => "交通事故",
        "environment" => "环境污染",
        "other" => "其他",
        _ => code,
    }
}

/// Everything triage needs, loaded once.
pub struct Pipeline {
    analyzer: &'static Analyzer,
    model: ModelBundle,
    risk_rules: RiskRules,
    routing: RoutingRules,
    roster: Roster,
}

impl Pipeline {
    /// Puts the parts together.
    pub fn new(model: ModelBundle, risk_rules: RiskRules, routing: RoutingRules, roster: Roster) -> Result<Pipeline, ModelError> {
        model.text.head("type")?;
        model.text.head("risk")?;
        Ok(Pipeline { analyzer: Analyzer::global(), model, risk_rules, routing, roster })
    }

    /// The roster as it stands (loads change as cases are assigned).
    pub fn roster(&self) -> &Roster {
        &self.roster
    }

    /// Replaces the roster (e.g. with the one the case store holds).
    pub fn set_roster(&mut self, roster: Roster) {
        self.roster = roster;
    }

    /// Mutable access to the roster (to set loads from the store).
    pub fn roster_mut(&mut self) -> &mut Roster {
        &mut self.roster
    }

    /// The routing rules in force.
    pub fn routing_rules(&self) -> &RoutingRules {
        &self.routing
    }

    /// Replaces the routing rules (an administrator edited them).
    pub fn set_routing_rules(&mut self, rules: RoutingRules) {
        self.routing = rules;
    }

    /// The type labels the model knows.
    pub fn type_labels(&self) -> &[String] {
        self.model.type_labels()
    }

    /// Records the assignment a triage recommended, so the next case sees the new load.
    pub fn commit_assignment(&mut self, t: &Triage) {
        if let Some(m) = &t.routing.mediator {
            self.roster.assign(&m.id);
        }
    }

    /// Triages one complaint: [`Pipeline::assess`], then [`Pipeline::route`].
    pub fn triage(&self, req: &TriageRequest) -> Result<Triage, TriageError> {
        Ok(self.route(self.assess(req)?))
    }

    /// Routes an assessed complaint against the roster as it stands.
    pub fn route(&self, assessment: Assessment) -> Triage {
        let region = assessment.region.as_deref().and_then(|r| RegionPath::parse(r).ok());
        // A dispute spanning regions is routed at their deepest common ancestor, by its tier.
        let common = region.as_ref().map(|first| {
            assessment.other_regions.iter().filter_map(|r| RegionPath::parse(r).ok()).fold(Some(first.clone()), |acc, r| acc.and_then(|a| a.common_ancestor(&r)))
        });
        let (region, coordinating) = match common {
            Some(c) if !assessment.other_regions.is_empty() => (c.clone(), Some(c.map_or(crate::labels::Tier::County, |c| c.coordinating_tier()))),
            _ => (region, None),
        };
        let routing = self.routing.route(
            &CaseFacts {
                dispute_type: &assessment.dispute_type.label,
                risk: assessment.risk.level,
                region: region.as_ref(),
                people: assessment.people,
                coordinating,
            },
            &self.roster,
        );
        Triage { assessment, routing }
    }

    /// Adds what the case history says: the related cases, and the risk floors repeated contact
    /// demands (each a stated reason; history never lowers a level).
    pub fn apply_history(&self, a: &mut Assessment, history: &crate::store::History) {
        a.related = related_cases(history);
        let facts = crate::risk::HistoryFacts {
            same_phone_90d: history.same_phone.len(),
            open_same_address: history.same_address.len(),
            similar_in_region_30d: history.similar.len(),
        };
        for reason in crate::risk::history_reasons(&facts) {
            if reason.level > a.risk.level {
                a.risk.level = reason.level;
                a.risk.name = reason.level.chinese().to_string();
            }
            a.risk.reasons.push(reason);
        }
        a.risk.reasons.sort_by(|x, y| y.level.cmp(&x.level));
    }

    /// Everything but routing. It does not read the roster, so a batch can assess complaints
    /// in parallel and route them in order.
    pub fn assess(&self, req: &TriageRequest) -> Result<Assessment, TriageError> {
        text::validate(&req.text)?;
        let region = req.region.as_deref().filter(|r| !r.trim().is_empty()).map(RegionPath::parse).transpose()?;
        let mut other_regions: Vec<String> = Vec::new();
        for r in req.other_regions.iter().filter(|r| !r.trim().is_empty()) {
            let r = RegionPath::parse(r)?.to_string();
            if Some(&r) != region.as_ref().map(|x| x.to_string()).as_ref() && !other_regions.contains(&r) {
                other_regions.push(r);
            }
        }
        if region.is_none() && !other_regions.is_empty() {
            return Err(TriageError::Region(crate::routing::RegionError::Empty));
        }
        let caller_phone = match req.phone.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) => Some(normalize_phone(p).ok_or_else(|| TriageError::Phone(p.to_string()))?),
            None => None,
        };
        let doc = self.analyzer.analyze(&req.text);
        let Prediction { features, type_probs, type_index, text_risk, risk } = self.model.predict(&doc, &self.risk_rules)?;
        let type_head = self.model.text.head("type")?;
        let risk_head = self.model.text.head("risk")?;
        let labels = type_head.classes();
        let label = labels[type_index].clone();
        let dispute_type = TypeResult {
            name: type_name(&label).to_string(),
            probability: type_probs[type_index],
            probabilities: labels.iter().cloned().zip(type_probs.iter().copied()).collect(),
            terms: self.model.text.strongest_terms(type_head, &features, type_index, 5),
            label,
        };

        let mut reasons: Vec<RiskReason> = risk
            .cues
            .iter()
            .map(|c| RiskReason { source: "cue", level: c.level, text: format!("{}（“{}”）", c.reason, c.matched) })
            .collect();
        let model_index = risk.model_level.index();
        let terms = self.model.text.strongest_terms(risk_head, &features, model_index, 5);
        let mut model_reason = format!(
            "模型判断为{}（概率{:.0}%，文本模型单独为{:.0}%）",
            risk.model_level.chinese(),
            (risk.probabilities[model_index] * 100.0).min(99.0),
            (text_risk[model_index] * 100.0).min(99.0)
        );
        if !terms.is_empty() {
            model_reason.push_str(&format!("，主要依据：{}", terms.iter().map(|t| format!("“{t}”")).collect::<Vec<_>>().join("、")));
        }
        reasons.push(RiskReason { source: "model", level: risk.model_level, text: model_reason });
        reasons.sort_by(|a, b| b.level.cmp(&a.level));

        let people = text::people_count(&doc.normalized);
        let personal_data = text::find_personal_data(&req.text);
        Ok(Assessment {
            chars: req.text.chars().count(),
            masked_text: text::mask(&req.text, &personal_data),
            personal_data,
            normalized: doc.normalized,
            risk: RiskResult {
                level: risk.level,
                name: risk.level.chinese().to_string(),
                probabilities: RiskLevel::ALL.iter().copied().zip(risk.probabilities).collect(),
                model_level: risk.model_level,
                cue_floor: risk.cue_floor,
                reasons,
            },
            dispute_type,
            people,
            region: region.map(|r| r.to_string()),
            other_regions,
            caller_phone,
            address: req.address.as_deref().map(str::trim).filter(|a| !a.is_empty()).map(str::to_string),
            related: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_phone;

    #[test]
    fn phones_are_reduced_to_digits_or_refused() {
        assert_eq!(normalize_phone("+86 138-1234-5678").as_deref(), Some("8613812345678"));
        assert_eq!(normalize_phone("（0731）84561234").as_deref(), Some("073184561234"), "full-width brackets fold");
        assert_eq!(normalize_phone("0731-84561234").as_deref(), Some("073184561234"));
        assert_eq!(normalize_phone("１３８１２３４５６７８").as_deref(), Some("13812345678"));
        assert_eq!(normalize_phone("12345"), None);
        assert_eq!(normalize_phone("138abc"), None);
    }
}
