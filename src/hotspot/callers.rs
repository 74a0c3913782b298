//! Repeat callers: people who call again and again are both a risk cue (the third call in a
//! month about the same matter is how small disputes grow) and a sign that a case was not
//! settled. For each caller with a phone, calls over the 7, 30 and 90 days ending on the night's
//! day, how many of them were distinct matters (a near-duplicate within 30 days is the same
//! matter, see [`super::cells::mark_repeats`]), and where and about what. Pure.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// One call, as the batch reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The caller's phone (digits).
    pub caller: String,
    /// Local day number.
    pub day: i64,
    /// Case id.
    pub id: i64,
    /// Region path (may be empty).
    pub region: String,
    /// Effective dispute type.
    pub dispute_type: String,
    /// The same matter as an earlier call of this caller.
    pub repeat: bool,
}

/// A caller who called often enough to list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepeatCaller {
    /// The phone, masked but for its first three and last four digits.
    pub caller: String,
    /// Calls in the last 7, 30 and 90 days.
    pub calls: [u32; 3],
    /// Distinct matters among the calls of the last 30 days.
    pub matters_30: u32,
    /// Dispute types of the last 90 days' calls.
    pub types: Vec<String>,
    /// Regions of the last 90 days' calls.
    pub regions: Vec<String>,
    /// The last 90 days' case ids, newest first (at most ten).
    pub cases: Vec<i64>,
    /// Why the caller is listed.
    pub reason: String,
}

/// Lists callers, as of `day`, with a call in the last 7 days and at least 2 calls in 7 days,
/// 3 in 30 or 5 in 90; the most calls in 30 days first.
pub fn repeat_callers(calls: &[Call], day: i64) -> Vec<RepeatCaller> {
    let mut by_caller: BTreeMap<&str, Vec<&Call>> = BTreeMap::new();
    for c in calls.iter().filter(|c| c.day <= day && c.day > day - 90 && !c.caller.is_empty()) {
        by_caller.entry(&c.caller).or_default().push(c);
    }
    let mut out: Vec<RepeatCaller> = by_caller
        .into_iter()
        .filter_map(|(caller, mut list)| {
            list.sort_by(|a, b| b.day.cmp(&a.day).then(b.id.cmp(&a.id)));
            let within = |days: i64| list.iter().filter(|c| c.day > day - days).count() as u32;
            let calls = [within(7), within(30), within(90)];
            if calls[0] == 0 || !(calls[0] >= 2 || calls[1] >= 3 || calls[2] >= 5) {
                return None;
            }
            let matters_30 = list.iter().filter(|c| c.day > day - 30 && !c.repeat).count() as u32;
            let types: BTreeSet<String> = list.iter().map(|c| c.dispute_type.clone()).collect();
            let regions: BTreeSet<String> = list.iter().filter(|c| !c.region.is_empty()).map(|c| c.region.clone()).collect();
            let reason = if calls[0] >= 2 {
                format!("7 天内来电 {} 次", calls[0])
            } else if calls[1] >= 3 {
                format!("30 天内来电 {} 次（{} 件不同事项）", calls[1], matters_30)
            } else {
                format!("90 天内来电 {} 次", calls[2])
            };
            Some(RepeatCaller { caller: mask_phone(caller), calls, matters_30, types: types.into_iter().collect(), regions: regions.into_iter().collect(), cases: list.iter().take(10).map(|c| c.id).collect(), reason })
        })
        .collect();
    out.sort_by(|a, b| b.calls[1].cmp(&a.calls[1]).then(b.calls[0].cmp(&a.calls[0])).then(a.caller.cmp(&b.caller)));
    out
}

/// `13812345678` → `138****5678`; short numbers keep only their last two digits.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() >= 8 {
        format!("{}****{}", chars[..3].iter().collect::<String>(), chars[chars.len() - 4..].iter().collect::<String>())
    } else {
        format!("****{}", chars[chars.len().saturating_sub(2)..].iter().collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(caller: &str, day: i64, id: i64, repeat: bool) -> Call {
        Call { caller: caller.into(), day, id, region: "浙江省/绍兴市/诸暨市/枫桥镇/枫源村".into(), dispute_type: "neighbor".into(), repeat }
    }

    #[test]
    fn windows_and_thresholds() {
        let mut calls = vec![];
        // Twenty calls in ten days, all the same matter.
        for i in 0..20 {
            calls.push(call("13800000001", 90 + i / 2, i, i > 0));
        }
        // Three calls this month, different matters, the last one yesterday.
        calls.extend([call("13900000002", 75, 100, false), call("13900000002", 88, 101, false), call("13900000002", 98, 102, false)]);
        // Two calls this month: not listed. Five over the quarter, none this week: not listed.
        calls.extend([call("13700000003", 95, 200, false), call("13700000003", 80, 201, false)]);
        calls.extend((0..5).map(|k| call("13600000004", 20 + k * 10, 300 + k, false)));
        let out = repeat_callers(&calls, 99);
        assert_eq!(out.len(), 2, "{out:#?}");
        assert_eq!(out[0].caller, "138****0001");
        assert_eq!(out[0].calls, [14, 20, 20]);
        assert_eq!(out[0].matters_30, 1, "twenty calls, one matter");
        assert_eq!(out[0].cases.len(), 10);
        assert_eq!(out[0].cases[0], 19, "newest first");
        assert_eq!(out[1].calls, [1, 3, 3]);
        assert_eq!(out[1].matters_30, 3);
        assert!(out[1].reason.contains("30 天内来电 3 次"));
        assert!(repeat_callers(&[], 99).is_empty());
    }

    #[test]
    fn phones_are_masked() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("110"), "****10");
    }
}
