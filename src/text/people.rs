//! How many people a complaint involves ("二十多名工人", "30余户", "十几个农民工"), for routing
//! rules such as "labour cases with ten or more workers go at least to county".

use std::sync::LazyLock;

use regex::Regex;

static GROUP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new("([0-9]+|[一二两三四五六七八九十百几上]+)(多|余|来)?(个|名|位|户)?(工人|农民工|民工|员工|职工|师傅|工友|村民|业主|家属|老人|人|户)").unwrap()
});

/// Parses a small Chinese or Arabic number as written in complaints; `几` counts as its
/// smallest reading (十几 → 11, 几十 → 20), `上百` as 100.
fn parse_number(s: &str) -> Option<u32> {
    if let Ok(n) = s.parse::<u32>() {
        return Some(n);
    }
    let digit = |c: char| match c {
        '一' => Some(1),
        '二' | '两' => Some(2),
        '三' => Some(3),
        '四' => Some(4),
        '五' => Some(5),
        '六' => Some(6),
        '七' => Some(7),
        '八' => Some(8),
        '九' => Some(9),
        '几' => Some(2),
        _ => None,
    };
    if s == "上百" {
        return Some(100);
    }
    let (mut total, mut current) = (0u32, None::<u32>);
    for c in s.chars() {
        match c {
            '十' => {
                total += current.unwrap_or(1) * 10;
                current = None;
            }
            '百' => {
                total += current.unwrap_or(1) * 100;
                current = None;
            }
            '几' if total > 0 && current.is_none() => current = Some(1),
            _ => current = Some(digit(c)?),
        }
    }
    let n = total + current.unwrap_or(0);
    (n > 0).then_some(n)
}

/// The largest group of people a normalized text mentions, if any.
pub fn people_count(normalized: &str) -> Option<u32> {
    GROUP.captures_iter(normalized).filter_map(|c| parse_number(&c[1])).filter(|&n| n < 100_000).max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_groups_written_many_ways() {
        for (text, expect) in [
            ("二十多名工人讨薪", Some(20)),
            ("十几个农民工", Some(11)),
            ("30余户村民", Some(30)),
            ("几十个人围在门口", Some(20)),
            ("上百人聚集", Some(100)),
            ("两个人吵架", Some(2)),
            ("楼上漏水", None),
        ] {
            assert_eq!(people_count(text), expect, "{text}");
        }
    }
}
