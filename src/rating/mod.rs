//! Mediator star ratings earned from performance (调解员星级评定) and the subsidy paid per case
//! (以奖代补). Pure: the caller hands in each mediator's cases of a period with their outcomes;
//! this module computes the figures, suggests a star grade with its reasons from the rules in
//! `config/stars.toml`, and prices each resolved case. Nothing here reads or writes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::labels::{RiskLevel, Tier};

/// How a mediation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Result {
    /// Agreement reached and written down (书面协议).
    Written,
    /// Agreement reached by word only (口头协议).
    Oral,
    /// Mediation failed.
    Failed,
    /// Handed up to a higher tier or another body.
    Escalated,
}

impl Result {
    /// The code used in events and files.
    pub fn code(self) -> &'static str {
        match self {
            Result::Written => "written",
            Result::Oral => "oral",
            Result::Failed => "failed",
            Result::Escalated => "escalated",
        }
    }

    /// Parses a code.
    pub fn parse(s: &str) -> Option<Result> {
        match s.trim() {
            "written" => Some(Result::Written),
            "oral" => Some(Result::Oral),
            "failed" => Some(Result::Failed),
            "escalated" => Some(Result::Escalated),
            _ => None,
        }
    }

    /// Whether an agreement was reached.
    pub fn agreed(self) -> bool {
        matches!(self, Result::Written | Result::Oral)
    }
}

/// One case a mediator handled in the period.
#[derive(Debug, Clone, PartialEq)]
pub struct HandledCase {
    /// Case id.
    pub id: i64,
    /// Region path of the case.
    pub region: String,
    /// Final risk level.
    pub risk: RiskLevel,
    /// Tier it was handled at.
    pub tier: Tier,
    /// The outcome, if one was recorded.
    pub result: Option<Result>,
    /// Days from receipt to the outcome.
    pub days_to_outcome: Option<f64>,
    /// Satisfaction from the follow-up call, 1–5.
    pub satisfaction: Option<u8>,
    /// Whether it went past its due time.
    pub overdue: bool,
    /// Whether the dispute later turned into a criminal case (民转刑).
    pub criminal: bool,
}

/// A grade's requirements within one period.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Grade {
    /// The star grade (2–5; every mediator holds at least 1).
    pub stars: u8,
    /// Fewest cases with an outcome.
    pub min_cases: u32,
    /// Fewest difficulty-weighted cases.
    #[serde(default)]
    pub min_weighted: f64,
    /// Smallest share of agreements among cases with an outcome.
    pub min_success: f64,
    /// Smallest share of written agreements among agreements.
    #[serde(default)]
    pub min_written_share: f64,
    /// Lowest mean satisfaction (when at least one follow-up was made).
    #[serde(default)]
    pub min_satisfaction: f64,
    /// Largest share of cases that went overdue.
    #[serde(default = "one")]
    pub max_overdue_share: f64,
}

fn one() -> f64 {
    1.0
}

/// The subsidy schedule.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Subsidy {
    /// Yuan per agreed case by star grade: index 0 is one star … index 4 five stars.
    pub per_case: [f64; 5],
    /// Share of the amount paid for an oral agreement.
    pub oral_factor: f64,
}

/// The rules in `config/stars.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StarRules {
    /// Grades, any order.
    pub grade: Vec<Grade>,
    /// Difficulty weight per risk level (blue, yellow, orange, red).
    pub risk_weight: [f64; 4],
    /// Difficulty weight per tier (village, township, county, emergency).
    pub tier_weight: [f64; 4],
    /// Oral agreements count as successes only up to this share of the cases with an outcome
    /// (an oral agreement is easily denied later; the rest count as not agreed when grading).
    pub oral_cap_share: f64,
    /// Most stars gained in one period.
    pub max_promotion: u8,
    /// Subsidies.
    pub subsidy: Subsidy,
}

/// Rules that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// Not valid TOML of the expected shape.
    #[error("stars.toml is not valid: {0}")]
    Format(String),
    /// Valid shape, inconsistent values.
    #[error("stars.toml: {0}")]
    Invalid(String),
}

impl StarRules {
    /// Parses and checks `config/stars.toml`.
    pub fn parse(text: &str) -> std::result::Result<StarRules, RulesError> {
        let mut rules: StarRules = toml::from_str(text).map_err(|e| RulesError::Format(e.message().to_string()))?;
        rules.grade.sort_by_key(|g| g.stars);
        for g in &rules.grade {
            if !(2..=5).contains(&g.stars) {
                return Err(RulesError::Invalid(format!("grade {} is not 2 to 5 stars", g.stars)));
            }
            for (name, v) in [("min_success", g.min_success), ("min_written_share", g.min_written_share), ("max_overdue_share", g.max_overdue_share)] {
                if !(0.0..=1.0).contains(&v) {
                    return Err(RulesError::Invalid(format!("grade {}: {name} {v} is not a share between 0 and 1", g.stars)));
                }
            }
        }
        if rules.grade.windows(2).any(|w| w[0].stars == w[1].stars) {
            return Err(RulesError::Invalid("a grade is listed twice".into()));
        }
        if !(0.0..=1.0).contains(&rules.oral_cap_share) || rules.max_promotion == 0 {
            return Err(RulesError::Invalid("oral_cap_share must be a share between 0 and 1 and max_promotion at least 1".into()));
        }
        if rules.risk_weight.iter().chain(&rules.tier_weight).chain(&rules.subsidy.per_case).any(|w| !(*w >= 0.0)) {
            return Err(RulesError::Invalid("weights and amounts must not be negative".into()));
        }
        Ok(rules)
    }

    /// The rules shipped in `config/stars.toml` (compiled in; a deployment loads its own).
    pub fn shipped() -> StarRules {
        StarRules::parse(include_str!("../../config/stars.toml")).expect("the shipped stars.toml is valid (a unit test checks it)")
    }

    /// The difficulty weight of a case.
    pub fn weight(&self, risk: RiskLevel, tier: Tier) -> f64 {
        let t = match tier {
            Tier::Village => 0,
            Tier::Township => 1,
            Tier::County => 2,
            Tier::Emergency => 3,
        };
        self.risk_weight[risk.index()] * self.tier_weight[t]
    }
}

/// A mediator's figures for a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    /// Cases assigned to them in the period.
    pub cases: u32,
    /// Of those, cases with an outcome.
    pub with_outcome: u32,
    /// Difficulty-weighted cases with an outcome.
    pub weighted: f64,
    /// Agreements ÷ cases with an outcome.
    pub success_rate: Option<f64>,
    /// The success rate the grade is judged on: oral agreements beyond the cap not counted.
    pub credited_success: Option<f64>,
    /// Oral agreements not counted because of the cap.
    pub oral_over_cap: u32,
    /// Written ÷ agreements.
    pub written_share: Option<f64>,
    /// Mean satisfaction over follow-ups.
    pub satisfaction: Option<f64>,
    /// Follow-ups made.
    pub follow_ups: u32,
    /// Overdue ÷ cases.
    pub overdue_share: Option<f64>,
    /// Mean days to an outcome.
    pub mean_days: Option<f64>,
    /// Cases that turned criminal (民转刑).
    pub criminal: Vec<i64>,
    /// Of those, after a poor mediation (failed, escalated, oral, overdue or satisfaction ≤ 2).
    pub criminal_after_poor: Vec<i64>,
}

/// The figures of one mediator's cases.
pub fn figures(cases: &[HandledCase], rules: &StarRules) -> Figures {
    let with: Vec<&HandledCase> = cases.iter().filter(|c| c.result.is_some()).collect();
    let agreed = with.iter().filter(|c| c.result.is_some_and(Result::agreed)).count();
    let written = with.iter().filter(|c| c.result == Some(Result::Written)).count();
    let follow: Vec<u8> = cases.iter().filter_map(|c| c.satisfaction).collect();
    let days: Vec<f64> = with.iter().filter_map(|c| c.days_to_outcome).collect();
    let ratio = |a: usize, b: usize| (b > 0).then(|| a as f64 / b as f64);
    let oral = agreed - written;
    let counted_oral = oral.min((rules.oral_cap_share * with.len() as f64).floor() as usize);
    let poor = |c: &HandledCase| matches!(c.result, Some(Result::Failed | Result::Escalated | Result::Oral)) || c.overdue || c.satisfaction.is_some_and(|s| s <= 2);
    Figures {
        cases: cases.len() as u32,
        with_outcome: with.len() as u32,
        weighted: with.iter().map(|c| rules.weight(c.risk, c.tier)).sum(),
        success_rate: ratio(agreed, with.len()),
        credited_success: ratio(written + counted_oral, with.len()),
        oral_over_cap: (oral - counted_oral) as u32,
        written_share: ratio(written, agreed),
        satisfaction: (!follow.is_empty()).then(|| follow.iter().map(|&s| s as f64).sum::<f64>() / follow.len() as f64),
        follow_ups: follow.len() as u32,
        overdue_share: ratio(cases.iter().filter(|c| c.overdue).count(), cases.len()),
        mean_days: (!days.is_empty()).then(|| days.iter().sum::<f64>() / days.len() as f64),
        criminal: cases.iter().filter(|c| c.criminal).map(|c| c.id).collect(),
        criminal_after_poor: cases.iter().filter(|c| c.criminal && poor(c)).map(|c| c.id).collect(),
    }
}

/// A suggested grade with its reasons.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    /// Current (confirmed) stars.
    pub current: u8,
    /// Suggested stars.
    pub suggested: u8,
    /// Why, one sentence each.
    pub reasons: Vec<String>,
}

/// Why `f` misses grade `g`, one sentence per requirement missed.
fn misses(f: &Figures, g: &Grade) -> Vec<String> {
    let mut out = Vec::new();
    if f.with_outcome < g.min_cases {
        out.push(format!("办结 {} 件，{} 星需至少 {} 件", f.with_outcome, g.stars, g.min_cases));
    }
    if f.weighted < g.min_weighted {
        out.push(format!("难度加权 {:.1}，{} 星需至少 {:.1}", f.weighted, g.stars, g.min_weighted));
    }
    if f.credited_success.unwrap_or(0.0) < g.min_success {
        let oral = if f.oral_over_cap > 0 { format!("（口头协议超出上限的 {} 件不计）", f.oral_over_cap) } else { String::new() };
        out.push(format!("调解成功率 {:.0}%{oral}，{} 星需至少 {:.0}%", f.credited_success.unwrap_or(0.0) * 100.0, g.stars, g.min_success * 100.0));
    }
    if f.written_share.unwrap_or(0.0) < g.min_written_share {
        out.push(format!("书面协议占比 {:.0}%，{} 星需至少 {:.0}%", f.written_share.unwrap_or(0.0) * 100.0, g.stars, g.min_written_share * 100.0));
    }
    if let Some(s) = f.satisfaction {
        if s < g.min_satisfaction {
            out.push(format!("回访满意度 {s:.1}，{} 星需至少 {:.1}", g.stars, g.min_satisfaction));
        }
    }
    if f.overdue_share.unwrap_or(0.0) > g.max_overdue_share {
        out.push(format!("超期占比 {:.0}%，{} 星至多 {:.0}%", f.overdue_share.unwrap_or(0.0) * 100.0, g.stars, g.max_overdue_share * 100.0));
    }
    out
}

/// Suggests a grade for a mediator who holds `current` stars, from their period's figures.
pub fn suggest(current: u8, f: &Figures, rules: &StarRules) -> Suggestion {
    let current = current.clamp(1, 5);
    let lowest = rules.grade.first().map_or(u32::MAX, |g| g.min_cases);
    if f.with_outcome < lowest {
        return Suggestion { current, suggested: current, reasons: vec![format!("本期办结 {} 件，少于评定所需的 {} 件：维持 {} 星", f.with_outcome, lowest, current)] };
    }
    // The highest grade whose every requirement is met (one star needs nothing).
    let mut earned = 1;
    let mut reasons = Vec::new();
    for g in &rules.grade {
        let missed = misses(f, g);
        if missed.is_empty() {
            earned = g.stars;
        } else if g.stars == current.max(earned) + 1 || (g.stars == current && earned < current) {
            // Say why the next grade up was not reached, or why the current one is lost.
            reasons.extend(missed);
        }
    }
    reasons.insert(0, format!("本期办结 {} 件（难度加权 {:.1}），成功率 {:.0}%，达到 {} 星标准", f.with_outcome, f.weighted, f.success_rate.unwrap_or(0.0) * 100.0, earned));
    let mut suggested = earned;
    if suggested > current + rules.max_promotion {
        reasons.push(format!("每期至多晋升 {} 星", rules.max_promotion));
        suggested = current + rules.max_promotion;
    }
    if !f.criminal_after_poor.is_empty() {
        let list = f.criminal_after_poor.iter().map(|i| format!("#{i}")).collect::<Vec<_>>().join("、");
        if suggested > current {
            reasons.push(format!("调解后转为刑事案件（民转刑）：案件 {list}，本期不予晋升"));
            suggested = current;
        } else {
            reasons.push(format!("调解后转为刑事案件（民转刑）：案件 {list}"));
        }
    }
    if suggested < current {
        // A grade is lost one star at a time.
        suggested = current - 1;
        reasons.push(format!("未达到 {current} 星标准：建议降为 {suggested} 星"));
    }
    Suggestion { current, suggested, reasons }
}

/// The subsidy for one case handled by a mediator of `stars`: agreements only, by grade and
/// difficulty, oral agreements at the oral factor.
pub fn subsidy(case: &HandledCase, stars: u8, rules: &StarRules) -> f64 {
    let base = rules.subsidy.per_case[(stars.clamp(1, 5) - 1) as usize] * rules.weight(case.risk, case.tier);
    let amount = match case.result {
        Some(Result::Written) => base,
        Some(Result::Oral) => base * rules.subsidy.oral_factor,
        _ => 0.0,
    };
    cents(amount)
}

/// Rounded to the fen; never negative zero (an empty sum of floats is −0.0).
pub fn cents(yuan: f64) -> f64 {
    (yuan * 100.0).round() / 100.0 + 0.0
}

/// A period such as `2026Q3`, `2026-07` or `2026`: its first day and the day after its last.
pub fn parse_period(s: &str) -> Option<(chrono::NaiveDate, chrono::NaiveDate)> {
    use chrono::NaiveDate;
    let s = s.trim();
    let year = |y: &str| y.parse::<i32>().ok().filter(|y| (2000..=2100).contains(y));
    if let Some((y, q)) = s.split_once(['Q', 'q']) {
        let (y, q) = (year(y)?, q.parse::<u32>().ok().filter(|q| (1..=4).contains(q))?);
        let from = NaiveDate::from_ymd_opt(y, 3 * q - 2, 1)?;
        let to = if q == 4 { NaiveDate::from_ymd_opt(y + 1, 1, 1)? } else { NaiveDate::from_ymd_opt(y, 3 * q + 1, 1)? };
        return Some((from, to));
    }
    if let Some((y, m)) = s.split_once('-') {
        let (y, m) = (year(y)?, m.parse::<u32>().ok().filter(|m| (1..=12).contains(m))?);
        let from = NaiveDate::from_ymd_opt(y, m, 1)?;
        let to = if m == 12 { NaiveDate::from_ymd_opt(y + 1, 1, 1)? } else { NaiveDate::from_ymd_opt(y, m + 1, 1)? };
        return Some((from, to));
    }
    let y = year(s)?;
    Some((NaiveDate::from_ymd_opt(y, 1, 1)?, NaiveDate::from_ymd_opt(y + 1, 1, 1)?))
}

/// Subsidy totals per region prefix (township or county: the first `depth` levels).
pub fn totals_by_region<'a>(rows: impl Iterator<Item = (&'a str, f64)>, depth: usize) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for (region, amount) in rows {
        let key: Vec<&str> = region.split('/').take(depth).collect();
        *out.entry(key.join("/")).or_insert(0.0) += amount;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> StarRules {
        StarRules::parse(include_str!("../../config/stars.toml")).unwrap()
    }

    fn case(id: i64, result: Option<Result>, satisfaction: Option<u8>) -> HandledCase {
        HandledCase { id, region: "浙江省/绍兴市/诸暨市/枫桥镇/枫源村".into(), risk: RiskLevel::Yellow, tier: Tier::Village, result, days_to_outcome: Some(3.0), satisfaction, overdue: false, criminal: false }
    }

    fn cases(n: usize, written: usize, oral: usize, satisfaction: u8) -> Vec<HandledCase> {
        (0..n)
            .map(|i| {
                let r = if i < written { Result::Written } else if i < written + oral { Result::Oral } else { Result::Failed };
                case(i as i64, Some(r), Some(satisfaction))
            })
            .collect()
    }

    #[test]
    fn too_few_cases_keeps_the_grade() {
        let r = rules();
        let s = suggest(3, &figures(&cases(2, 2, 0, 5), &r), &r);
        assert_eq!(s.suggested, 3);
        assert!(s.reasons[0].contains("少于"), "{s:?}");
        let s = suggest(2, &figures(&[], &r), &r);
        assert_eq!(s.suggested, 2);
    }

    #[test]
    fn grades_at_their_boundaries() {
        let r = rules();
        let g3 = r.grade.iter().find(|g| g.stars == 3).unwrap().clone();
        // Exactly the three-star minimums: enough cases, the success rate at its edge (written
        // agreements, so the oral cap does not bite).
        let n = g3.min_cases as usize;
        let agreed = (g3.min_success * n as f64).ceil() as usize;
        let list = cases(n, agreed, 0, 5);
        let f = figures(&list, &r);
        assert!(f.weighted >= g3.min_weighted, "{f:?}");
        assert_eq!(suggest(2, &f, &r).suggested, 3);
        // One agreement fewer and it is not reached.
        let list = cases(n, agreed - 1, 0, 5);
        let s = suggest(2, &figures(&list, &r), &r);
        assert_eq!(s.suggested, 2, "{s:?}");
        assert!(s.reasons.iter().any(|x| x.contains("成功率")), "{s:?}");
        // The same agreements, but too many of them oral: the share of written ones is missed.
        let written = (g3.min_written_share * agreed as f64).ceil() as usize - 1;
        let s = suggest(2, &figures(&cases(n, written, agreed - written, 5), &r), &r);
        assert!(s.suggested < 3, "{s:?}");
        assert!(s.reasons.iter().any(|x| x.contains("书面协议占比")), "{s:?}");
    }

    #[test]
    fn promotion_is_one_star_at_a_time_and_oral_agreements_count_up_to_a_cap() {
        let r = rules();
        let s = suggest(1, &figures(&cases(40, 40, 0, 5), &r), &r);
        assert_eq!(s.suggested, 1 + r.max_promotion);
        // Every case agreed, but mostly by word of mouth: the oral ones beyond the cap do not count.
        let f = figures(&cases(40, 10, 30, 5), &r);
        assert_eq!(f.success_rate, Some(1.0));
        assert!(f.oral_over_cap > 0 && f.credited_success.unwrap() < 1.0, "{f:?}");
        let s = suggest(2, &f, &r);
        assert!(s.suggested < 3, "{s:?}");
        assert!(s.reasons.iter().any(|x| x.contains("口头协议")), "{s:?}");
    }

    #[test]
    fn a_case_that_turned_criminal_after_poor_mediation_blocks_promotion() {
        let r = rules();
        let mut list = cases(40, 40, 0, 5);
        list[0].result = Some(Result::Failed);
        list[0].criminal = true;
        let s = suggest(2, &figures(&list, &r), &r);
        assert_eq!(s.suggested, 2, "{s:?}");
        assert!(s.reasons.iter().any(|x| x.contains("民转刑") && x.contains("#0")), "{s:?}");
        // A criminal turn after a written agreement with a satisfied party is not held against them.
        list[0].result = Some(Result::Written);
        assert_eq!(suggest(2, &figures(&list, &r), &r).suggested, 3);
    }

    #[test]
    fn losing_a_grade_is_one_star_at_a_time() {
        let r = rules();
        let s = suggest(5, &figures(&cases(20, 2, 0, 2), &r), &r);
        assert_eq!(s.suggested, 4, "{s:?}");
    }

    #[test]
    fn subsidy_arithmetic() {
        let r = rules();
        let mut c = case(1, Some(Result::Written), None);
        let w = r.weight(RiskLevel::Yellow, Tier::Village);
        assert_eq!(subsidy(&c, 3, &r), (r.subsidy.per_case[2] * w * 100.0).round() / 100.0);
        c.result = Some(Result::Oral);
        assert_eq!(subsidy(&c, 3, &r), (r.subsidy.per_case[2] * w * r.subsidy.oral_factor * 100.0).round() / 100.0);
        c.result = Some(Result::Failed);
        assert_eq!(subsidy(&c, 5, &r), 0.0);
        c.result = Some(Result::Written);
        c.risk = RiskLevel::Red;
        c.tier = Tier::County;
        assert!(subsidy(&c, 3, &r) > subsidy(&case(1, Some(Result::Written), None), 3, &r), "harder cases pay more");
        let t = totals_by_region([("浙江省/绍兴市/诸暨市/枫桥镇/枫源村", 10.0), ("浙江省/绍兴市/诸暨市/枫桥镇/湄池村", 5.5), ("浙江省/绍兴市/诸暨市/店口镇", 1.0)].into_iter(), 4);
        assert_eq!(t["浙江省/绍兴市/诸暨市/枫桥镇"], 15.5);
    }

    #[test]
    fn periods() {
        let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(parse_period("2026Q3"), Some((d("2026-07-01"), d("2026-10-01"))));
        assert_eq!(parse_period("2026q4"), Some((d("2026-10-01"), d("2027-01-01"))));
        assert_eq!(parse_period("2026-02"), Some((d("2026-02-01"), d("2026-03-01"))));
        assert_eq!(parse_period("2026"), Some((d("2026-01-01"), d("2027-01-01"))));
        for bad in ["2026Q5", "26Q1", "2026-13", "", "Q3"] {
            assert_eq!(parse_period(bad), None, "{bad}");
        }
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        let text = include_str!("../../config/stars.toml");
        assert!(matches!(StarRules::parse(&text.replace("stars = 5", "stars = 6")), Err(RulesError::Invalid(_))));
        assert!(matches!(StarRules::parse("grade = 3"), Err(RulesError::Format(_))));
    }
}
