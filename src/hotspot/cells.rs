//! Counting cases into cells: every level of a case's region path crossed with its dispute type
//! and with all types together, per local day, with the number of distinct callers. A caller's
//! near-duplicate complaint within 30 days of one already counted is the same matter told
//! again and counts once (see [`mark_repeats`]). Pure: the batch reads the cases and hands them
//! in.

use std::collections::BTreeMap;

/// Days within which a caller's near-duplicate counts as a repeat.
pub const REPEAT_WINDOW_DAYS: i64 = 30;

/// One case as the batch counts it.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseFact {
    /// Local day number (days since 1970-01-01 in the service's time zone).
    pub day: i64,
    /// Region path, `/`-separated, outermost first.
    pub region: String,
    /// Further regions of a cross-region case: it counts once in each region and once in
    /// every ancestor, however many of its regions lie below that ancestor.
    pub other_regions: Vec<String>,
    /// Effective dispute type.
    pub dispute_type: String,
    /// Caller's phone (digits), if known.
    pub caller: Option<String>,
    /// A near-duplicate of an earlier case by the same caller (not counted again).
    pub repeat: bool,
}

/// A cell: a region node and a dispute type (`None` for all types).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cell {
    /// Region path of the node.
    pub region: String,
    /// Dispute type, or `None` for all types.
    pub dispute_type: Option<String>,
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}|{}", self.region, self.dispute_type.as_deref().unwrap_or("*"))
    }
}

/// A cell's daily series.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CellSeries {
    /// Cases counted per day (repeats left out).
    pub cases: Vec<u32>,
    /// Distinct callers per day (cases without a phone count as one caller each).
    pub callers: Vec<u32>,
}

/// Every cell's series over `days` days from `first_day`.
#[derive(Debug, Clone, PartialEq)]
pub struct Counts {
    /// Day number of index 0.
    pub first_day: i64,
    /// Days covered.
    pub days: usize,
    /// The cells that had at least one case.
    pub cells: BTreeMap<Cell, CellSeries>,
}

/// For one caller's cases in time order, as (day, normalized text), which are repeats: a case
/// whose text is at least [`crate::text::NEAR_DUPLICATE`] similar to a counted case of the same
/// caller no more than [`REPEAT_WINDOW_DAYS`] days before.
pub fn mark_repeats(cases: &[(i64, String)]) -> Vec<bool> {
    let mut counted: Vec<(i64, crate::text::Bigrams)> = Vec::new();
    cases
        .iter()
        .map(|(day, text)| {
            let bigrams = crate::text::Bigrams::of(text);
            let repeat = counted.iter().any(|(d, b)| day - d <= REPEAT_WINDOW_DAYS && *day >= *d && b.similarity(&bigrams) >= crate::text::NEAR_DUPLICATE);
            if !repeat {
                counted.push((*day, bigrams));
            }
            repeat
        })
        .collect()
}

/// The ancestors of a region path and the path itself, outermost first.
fn levels(region: &str) -> Vec<String> {
    let parts: Vec<&str> = region.split('/').map(str::trim).filter(|s| !s.is_empty()).collect();
    (1..=parts.len()).map(|n| parts[..n].join("/")).collect()
}

/// Counts cases into cells over `[first_day, first_day + days)`; cases outside the range, and
/// repeats, are not counted. Days with no cases are zeros, so an intake outage is visible as one.
pub fn count(facts: &[CaseFact], first_day: i64, days: usize) -> Counts {
    use std::collections::HashMap;
    // Each distinct (regions, type) maps once to the indexes of its cells: a million cases come
    // from a few thousand such keys, and building cell keys per case was most of the run.
    let mut cells: Vec<Cell> = Vec::new();
    let mut cell_index: HashMap<Cell, u32> = HashMap::new();
    let mut keys: HashMap<(&str, &[String], &str), usize> = HashMap::new();
    let mut lists: Vec<Vec<u32>> = Vec::new();
    let mut cases: Vec<Vec<u32>> = Vec::new();
    let mut counted: Vec<(usize, usize)> = Vec::new();
    for (k, f) in facts.iter().enumerate() {
        if f.repeat || f.day < first_day || f.day >= first_day + days as i64 {
            continue;
        }
        let i = (f.day - first_day) as usize;
        let list = *keys.entry((f.region.as_str(), f.other_regions.as_slice(), f.dispute_type.as_str())).or_insert_with(|| {
            // Every level of every region, each once: a case in two villages of one township
            // counts once in the township.
            let mut regions: Vec<String> = levels(&f.region);
            for other in &f.other_regions {
                for r in levels(other) {
                    if !regions.contains(&r) {
                        regions.push(r);
                    }
                }
            }
            let mut ids = Vec::new();
            for region in regions {
                for dispute_type in [Some(f.dispute_type.clone()), None] {
                    let cell = Cell { region: region.clone(), dispute_type };
                    let id = *cell_index.entry(cell.clone()).or_insert_with(|| {
                        cells.push(cell);
                        cases.push(vec![0; days]);
                        (cells.len() - 1) as u32
                    });
                    ids.push(id);
                }
            }
            lists.push(ids);
            lists.len() - 1
        });
        for &id in &lists[list] {
            cases[id as usize][i] += 1;
        }
        counted.push((k, list));
    }
    // Distinct callers per cell and day: each caller's cases of a day, over the union of their
    // cells; a case without a phone is a caller of its own.
    let mut callers: Vec<Vec<u32>> = vec![vec![0; days]; cells.len()];
    let mut by_caller: Vec<(&str, usize, usize)> = Vec::new();
    for &(k, list) in &counted {
        let f = &facts[k];
        let i = (f.day - first_day) as usize;
        match &f.caller {
            Some(c) => by_caller.push((c.as_str(), i, list)),
            None => {
                for &id in &lists[list] {
                    callers[id as usize][i] += 1;
                }
            }
        }
    }
    by_caller.sort_unstable_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(&b.1)));
    let mut union: Vec<u32> = Vec::new();
    for group in by_caller.chunk_by(|a, b| a.0 == b.0 && a.1 == b.1) {
        union.clear();
        for (_, _, list) in group {
            union.extend_from_slice(&lists[*list]);
        }
        union.sort_unstable();
        union.dedup();
        for &id in &union {
            callers[id as usize][group[0].1] += 1;
        }
    }
    let cells = cells.into_iter().zip(cases.into_iter().zip(callers)).map(|(cell, (cases, callers))| (cell, CellSeries { cases, callers })).collect();
    Counts { first_day, days, cells }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(day: i64, region: &str, t: &str, caller: Option<&str>) -> CaseFact {
        CaseFact { day, region: region.into(), other_regions: Vec::new(), dispute_type: t.into(), caller: caller.map(str::to_string), repeat: false }
    }

    const VILLAGE: &str = "浙江省/绍兴市/诸暨市/枫桥镇/枫源村";

    #[test]
    fn a_case_counts_once_at_every_level_and_in_all_types() {
        let c = count(&[fact(10, VILLAGE, "labor", Some("138")), fact(10, "浙江省/绍兴市/诸暨市/店口镇", "labor", None)], 10, 3);
        let get = |region: &str, t: Option<&str>| c.cells[&Cell { region: region.into(), dispute_type: t.map(str::to_string) }].cases.clone();
        assert_eq!(get(VILLAGE, Some("labor")), vec![1, 0, 0]);
        assert_eq!(get("浙江省/绍兴市/诸暨市/枫桥镇", None), vec![1, 0, 0]);
        assert_eq!(get("浙江省/绍兴市/诸暨市", Some("labor")), vec![2, 0, 0], "both townships add up in the county, once each");
        assert_eq!(get("浙江省", None), vec![2, 0, 0]);
        assert_eq!(c.cells.len(), 5 * 2 + 2, "5 levels × (type, all) for the village, plus the other township's own 2");
    }

    #[test]
    fn distinct_callers_and_empty_days() {
        let facts = [fact(0, VILLAGE, "labor", Some("138")), fact(0, VILLAGE, "labor", Some("138")), fact(0, VILLAGE, "labor", Some("139")), fact(0, VILLAGE, "labor", None), fact(3, VILLAGE, "labor", None)];
        let c = count(&facts, 0, 5);
        let s = &c.cells[&Cell { region: VILLAGE.into(), dispute_type: Some("labor".into()) }];
        assert_eq!(s.cases, vec![4, 0, 0, 1, 0], "days without cases (an intake outage) are zeros");
        assert_eq!(s.callers, vec![3, 0, 0, 1, 0]);
    }

    #[test]
    fn one_caller_telling_the_same_matter_twenty_times_counts_once() {
        let text = "楼上邻居每天半夜跺脚拖椅子，说了好几次都不听，孩子没法睡觉".to_string();
        let mut calls: Vec<(i64, String)> = (0..20).map(|i| (i / 2, format!("{text}{}", "！".repeat(i as usize % 3)))).collect();
        // A different matter, and the same matter again after the window.
        calls.push((12, "小区物业把公共车位租给外来车辆，收入去向不明".to_string()));
        calls.push((45, text.clone()));
        let repeats = mark_repeats(&calls);
        assert_eq!(repeats.iter().filter(|r| !**r).count(), 3, "{repeats:?}");
        assert!(!repeats[20] && !repeats[21]);
        let facts: Vec<CaseFact> = calls.iter().zip(&repeats).map(|((d, _), r)| CaseFact { repeat: *r, ..fact(*d, VILLAGE, "neighbor", Some("138")) }).collect();
        let c = count(&facts, 0, 60);
        let all = &c.cells[&Cell { region: VILLAGE.into(), dispute_type: None }];
        assert_eq!(all.cases.iter().sum::<u32>(), 3);
    }

    #[test]
    fn cases_outside_the_range_and_odd_regions_are_handled() {
        let c = count(&[fact(-1, VILLAGE, "labor", None), fact(9, VILLAGE, "labor", None), fact(2, " 浙江省 / 杭州市 ", "debt", None)], 0, 5);
        assert_eq!(c.cells.len(), 4);
        assert!(c.cells.contains_key(&Cell { region: "浙江省/杭州市".into(), dispute_type: None }));
        assert!(count(&[], 0, 5).cells.is_empty());
    }

    #[test]
    fn a_cross_region_case_counts_once_in_each_region_and_once_above_them() {
        let mut f = fact(0, VILLAGE, "land", Some("138"));
        f.other_regions = vec!["浙江省/绍兴市/诸暨市/枫桥镇/湄池村".into(), "浙江省/绍兴市/诸暨市/店口镇/姚江村".into()];
        let c = count(&[f], 0, 1);
        let get = |region: &str| c.cells[&Cell { region: region.into(), dispute_type: Some("land".into()) }].cases[0];
        assert_eq!(get(VILLAGE), 1);
        assert_eq!(get("浙江省/绍兴市/诸暨市/枫桥镇/湄池村"), 1);
        assert_eq!(get("浙江省/绍兴市/诸暨市/店口镇/姚江村"), 1);
        assert_eq!(get("浙江省/绍兴市/诸暨市/枫桥镇"), 1, "two of its villages, one case");
        assert_eq!(get("浙江省/绍兴市/诸暨市"), 1);
        assert_eq!(c.cells[&Cell { region: "浙江省".into(), dispute_type: None }].callers[0], 1);
    }
}
