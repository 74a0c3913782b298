//! Explicit risk cues: regular expressions over normalized text, each with a level and a reason.
//!
//! Scanning is the hot part of risk assessment, so patterns are not simply run one by one: the
//! literals every match of a pattern must start with, and those it must end with, are extracted
//! (regex-syntax) and put in one Aho-Corasick automaton. One pass over the text finds which
//! patterns can match at all; only those run. (A `RegexSet` over all patterns measured 47 µs per
//! 350-character complaint and the patterns one by one 19 µs: Chinese character classes make the
//! DFA large.)

use aho_corasick::AhoCorasick;
use regex::Regex;
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use serde::{Deserialize, Serialize};

use super::RiskConfigError;
use crate::labels::RiskLevel;

/// One cue as written in the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CueSpec {
    id: String,
    level: RiskLevel,
    reason: String,
    patterns: Vec<String>,
    #[serde(default)]
    unless_before: Vec<String>,
}

#[derive(Debug, Clone)]
struct Cue {
    id: String,
    level: RiskLevel,
    reason: String,
    patterns: Vec<Regex>,
    unless_before: Vec<Regex>,
}

/// A cue that matched a text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CueHit {
    /// The cue's id, e.g. `weapon`.
    pub id: String,
    /// The level the cue demands at least.
    pub level: RiskLevel,
    /// The operator-facing reason.
    pub reason: String,
    /// The words that matched.
    pub matched: String,
}

/// All cues, with the literal prefilter that tells which patterns may match.
#[derive(Debug, Clone)]
pub struct CueSet {
    cues: Vec<Cue>,
    /// Literal `i` of the automaton is a prefix (`.1 == 0`) or suffix (`.1 == 1`) of pattern
    /// `literal_owner[i].0`.
    prefilter: AhoCorasick,
    literal_owner: Vec<(usize, usize)>,
    /// Per pattern: whether it has a prefix set and a suffix set to satisfy.
    needs: Vec<[bool; 2]>,
    /// Pattern `i` (across cues) is `cues[pattern_owner[i].0].patterns[pattern_owner[i].1]`.
    pattern_owner: Vec<(usize, usize)>,
}

/// The literals every match of `pattern` starts (`Prefix`) or ends (`Suffix`) with, or `None` if
/// there is no finite set of non-empty ones.
fn literals(pattern: &str, kind: ExtractKind) -> Option<Vec<Vec<u8>>> {
    let hir = regex_syntax::parse(pattern).ok()?;
    let seq = Extractor::new().kind(kind).extract(&hir);
    let lits = seq.literals()?;
    if lits.is_empty() || lits.iter().any(|l| l.as_bytes().is_empty()) {
        return None;
    }
    Some(lits.iter().map(|l| l.as_bytes().to_vec()).collect())
}

fn compile(cue: &str, pattern: &str) -> Result<Regex, RiskConfigError> {
    Regex::new(pattern).map_err(|e| RiskConfigError::Pattern { cue: cue.into(), pattern: pattern.into(), message: e.to_string() })
}

impl CueSet {
    pub(super) fn new(specs: Vec<CueSpec>) -> Result<CueSet, RiskConfigError> {
        let mut cues = Vec::new();
        let (mut all_literals, mut literal_owner, mut needs, mut pattern_owner) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (i, s) in specs.into_iter().enumerate() {
            let patterns = s.patterns.iter().map(|p| compile(&s.id, p)).collect::<Result<Vec<_>, _>>()?;
            let unless_before = s.unless_before.iter().map(|p| compile(&s.id, p)).collect::<Result<Vec<_>, _>>()?;
            for (j, p) in s.patterns.iter().enumerate() {
                let id = pattern_owner.len();
                pattern_owner.push((i, j));
                let mut need = [false; 2];
                for (side, kind) in [ExtractKind::Prefix, ExtractKind::Suffix].into_iter().enumerate() {
                    if let Some(lits) = literals(p, kind) {
                        need[side] = true;
                        literal_owner.extend(std::iter::repeat_n((id, side), lits.len()));
                        all_literals.extend(lits);
                    }
                }
                needs.push(need);
            }
            cues.push(Cue { id: s.id, level: s.level, reason: s.reason, patterns, unless_before });
        }
        let prefilter = AhoCorasick::new(&all_literals)
            .map_err(|e| RiskConfigError::Pattern { cue: "(all)".into(), pattern: String::new(), message: e.to_string() })?;
        Ok(CueSet { cues, prefilter, literal_owner, needs, pattern_owner })
    }

    /// Number of cues.
    pub fn len(&self) -> usize {
        self.cues.len()
    }

    /// True if there are no cues.
    pub fn is_empty(&self) -> bool {
        self.cues.is_empty()
    }

    /// Finds the cues that match a normalized text, at most one hit per cue, highest level first.
    pub fn scan(&self, normalized: &str) -> Vec<CueHit> {
        // A pattern can match only if the text holds one of its prefixes and one of its
        // suffixes (where it has such sets); patterns with neither always run.
        let mut seen = vec![[false; 2]; self.pattern_owner.len()];
        for m in self.prefilter.find_overlapping_iter(normalized) {
            let (p, side) = self.literal_owner[m.pattern().as_usize()];
            seen[p][side] = true;
        }
        let possible: Vec<bool> = self.needs.iter().zip(&seen).map(|(need, got)| (!need[0] || got[0]) && (!need[1] || got[1])).collect();
        let mut hits = Vec::new();
        for (i, cue) in self.cues.iter().enumerate() {
            let candidates = self.pattern_owner.iter().zip(&possible).filter(|((c, _), ok)| *c == i && **ok).map(|((_, j), _)| &cue.patterns[*j]);
            let found = candidates.flat_map(|p| p.find_iter(normalized)).find(|m| {
                let window_start = normalized[..m.start()].char_indices().rev().nth(7).map_or(0, |(at, _)| at);
                let before = &normalized[window_start..m.start()];
                !cue.unless_before.iter().any(|u| u.is_match(before))
            });
            if let Some(m) = found {
                hits.push(CueHit { id: cue.id.clone(), level: cue.level, reason: cue.reason.clone(), matched: m.as_str().to_string() });
            }
        }
        hits.sort_by(|a, b| b.level.cmp(&a.level));
        hits
    }
}

#[cfg(test)]
mod tests {
    use crate::labels::RiskLevel::{self, *};
    use crate::risk::RiskRules;
    use crate::text::normalize;

    fn check(text: &str, expect: Option<(RiskLevel, &str)>) {
        let rules = RiskRules::from_toml(include_str!("../../config/risk.toml")).unwrap();
        let hits = rules.cues.scan(&normalize(text));
        let top = hits.first().map(|h| (h.level, h.id.as_str()));
        assert_eq!(top, expect, "cues for {text:?}: {hits:?}");
    }

    #[test]
    fn red_cues() {
        check("他扬言今晚带着汽油去包工头家,要跟他同归于尽", Some((Red, "weapon")));
        check("男子站在楼顶上说不给钱就跳下去", Some((Red, "self_harm_now")));
        check("两家人已经动手了,现在还在打", Some((Red, "violence_now")));
        check("三十多名工人围住了项目部大门", Some((Red, "crowd_now")));
        check("樓上那個人說明天就弄死他", Some((Red, "threat_with_time")));
    }

    #[test]
    fn orange_and_yellow_cues() {
        check("再不解决我真的不想活了", Some((Orange, "self_harm_vague")));
        check("工人们商量着要去市政府拉横幅", Some((Orange, "group_action")));
        check("快过年了工钱还没发", Some((Orange, "deadline")));
        check("已经打了好几次12345都没人管", Some((Yellow, "repeated")));
        check("再不处理就去北京上访", Some((Yellow, "petition")));
    }

    #[test]
    fn negations_plans_and_sales_do_not_fire_red() {
        check("双方情绪激动但没有动手打人", None);
        check("商场跳楼价清仓,买到的衣服质量差", None);
        check("工人们准备明天去堵住项目部大门", Some((Orange, "group_action")));
        check("邻居家的狗晚上叫,希望协调", None);
    }
}
