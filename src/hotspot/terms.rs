//! Emerging topics: words whose use surges this week against the eight weeks before, counted in
//! distinct callers (so one person repeating a word is one voice), tested with the exact
//! conditional binomial test, kept by Benjamini–Hochberg, and grouped into topics by the cases
//! they share (see docs/design/hotspots.md §5). Pure: the batch hands in the cases; segmentation
//! is the shared analyzer's.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use statrs::function::beta::beta_reg;

use super::nightly::bh;

/// Days in the current window (ending on the night's day).
pub const CURRENT_DAYS: i64 = 7;
/// Days in the baseline window, just before the current one.
pub const BASELINE_DAYS: i64 = 56;

/// Words too common in complaints to name a topic.
const STOP_WORDS: &[&str] = &[
    "我们", "你们", "他们", "她们", "自己", "这个", "那个", "这些", "那些", "一个", "一些", "没有", "已经", "现在", "目前", "问题", "反映", "希望",
    "相关", "部门", "情况", "进行", "要求", "处理", "解决", "政府", "领导", "请问", "可以", "什么", "怎么", "为什么", "如何", "是否", "还是", "但是",
    "因为", "所以", "如果", "而且", "并且", "或者", "以及", "然后", "就是", "不是", "还有", "这样", "那么", "非常", "严重", "一直", "多次", "至今",
    "今天", "昨天", "时候", "时间", "之前", "以后", "以来", "期间", "有关", "对于", "关于", "根据", "通过", "市民", "群众", "本人", "我家", "您好",
    "谢谢", "感谢", "尽快", "及时", "得到", "能够", "应该", "需要", "不能", "不会", "知道", "告诉", "发现", "出现", "导致", "造成", "来电", "反映人",
    "来电人", "称其", "表示", "诉求", "工作人员", "核实", "联系", "电话", "地址", "小区", "充分", "将来", "类型", "限制", "建议", "投诉",
];

/// One case as the topic finder sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct TermCase {
    /// Case id.
    pub id: i64,
    /// Local day number.
    pub day: i64,
    /// Who: the caller's phone, or a key unique to the case when there is none.
    pub caller: String,
    /// Region path.
    pub region: String,
    /// Effective dispute type.
    pub dispute_type: String,
    /// The case text, personal data already masked (used for word counting and as an excerpt).
    pub text: String,
}

/// A word that surged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Term {
    /// The word (simplified).
    pub word: String,
    /// Distinct callers using it in the current window.
    pub current: u32,
    /// Distinct callers using it in the baseline window.
    pub baseline: u32,
    /// Current-window callers expected if its use had not changed.
    pub expected: f64,
    /// Signed log-likelihood ratio G² of the 2×2 table (for ranking).
    pub g2: f64,
    /// Exact one-sided p-value.
    pub p: f64,
    /// BH q-value.
    pub q: f64,
}

/// An example case of a topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    /// Case id.
    pub id: i64,
    /// Region.
    pub region: String,
    /// The beginning of the masked text.
    pub excerpt: String,
}

/// Surging words that appear in the same cases, with examples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Topic {
    /// Up to three words with the largest G², as the topic's label.
    pub label: Vec<String>,
    /// Every surging word of the topic.
    pub terms: Vec<Term>,
    /// Distinct callers in the current window whose cases use any of the topic's words.
    pub callers: u32,
    /// Cases in the current window that use any of them.
    pub cases: u32,
    /// Regions of those cases (the deepest common ancestor first when they share one), by count.
    pub regions: Vec<(String, u32)>,
    /// Dispute types of those cases, by count.
    pub types: Vec<(String, u32)>,
    /// Up to three cases that use the most of the topic's words, from different callers.
    pub examples: Vec<Example>,
}

/// Topic settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TopicSettings {
    /// False discovery rate over the words tested.
    pub fdr: f64,
    /// Fewest callers (current + baseline) for a word to be tested at all.
    pub min_total: u32,
    /// Fewest current-window callers for a surging word.
    pub min_current: u32,
    /// Jaccard overlap of current-window case sets at which two words join one topic.
    pub link: f64,
}

impl Default for TopicSettings {
    fn default() -> Self {
        TopicSettings { fdr: 0.05, min_total: 5, min_current: 3, link: 0.3 }
    }
}

fn is_content_word(w: &str) -> bool {
    // A count with its measure word ("三个", "两次", "第五") says how much, not what about.
    const NUMERALS: &str = "零一二三四五六七八九十百千万两几半第每";
    let chars: Vec<char> = w.chars().collect();
    let counted = chars.len() == 2 && NUMERALS.contains(chars[0]);
    chars.len() >= 2 && !counted && chars.iter().all(|c| crate::text::is_han(*c)) && !STOP_WORDS.contains(&w)
}

/// P(X ≥ a) for X ~ Binomial(n, p).
fn binomial_upper(a: u32, n: u32, p: f64) -> f64 {
    if a == 0 {
        return 1.0;
    }
    if a > n {
        return 0.0;
    }
    beta_reg(a as f64, (n - a + 1) as f64, p).clamp(0.0, 1.0)
}

/// Signed G² of [[a, n1 − a], [b, n0 − b]]: positive when the word is relatively more frequent
/// in the current window.
fn g2(a: f64, n1: f64, b: f64, n0: f64) -> f64 {
    let total = n1 + n0;
    let used = a + b;
    let cells = [(a, n1 * used / total), (n1 - a, n1 * (total - used) / total), (b, n0 * used / total), (n0 - b, n0 * (total - used) / total)];
    let g: f64 = 2.0 * cells.iter().filter(|(o, e)| *o > 0.0 && *e > 0.0).map(|(o, e)| o * (o / e).ln()).sum::<f64>();
    if a / n1.max(1.0) >= b / n0.max(1.0) { g } else { -g }
}

/// The topics that emerged in the week ending on `day`, strongest first.
pub fn emerging(cases: &[TermCase], day: i64, settings: &TopicSettings) -> Vec<Topic> {
    let current_from = day - CURRENT_DAYS + 1;
    let baseline_from = current_from - BASELINE_DAYS;
    let analyzer = crate::text::Analyzer::global();
    // Word → distinct callers in each window; word → current cases.
    let mut callers: [HashSet<&str>; 2] = [HashSet::new(), HashSet::new()];
    let mut by_word: HashMap<String, [HashSet<&str>; 2]> = HashMap::new();
    let mut case_words: Vec<(usize, HashSet<String>)> = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let window = if c.day >= current_from && c.day <= day {
            0
        } else if c.day >= baseline_from && c.day < current_from {
            1
        } else {
            continue;
        };
        callers[window].insert(&c.caller);
        let words: HashSet<String> = analyzer.analyze(&c.text).tokens().filter(|w| is_content_word(w)).map(str::to_string).collect();
        for w in &words {
            by_word.entry(w.clone()).or_default()[window].insert(&c.caller);
        }
        if window == 0 {
            case_words.push((i, words));
        }
    }
    let (n1, n0) = (callers[0].len() as u32, callers[1].len() as u32);
    if n1 == 0 || n0 == 0 {
        return Vec::new();
    }
    let share = n1 as f64 / (n1 + n0) as f64;
    let mut tested: Vec<Term> = by_word
        .iter()
        .filter_map(|(w, [cur, base])| {
            let (a, b) = (cur.len() as u32, base.len() as u32);
            (a + b >= settings.min_total).then(|| Term { word: w.clone(), current: a, baseline: b, expected: (a + b) as f64 * share, g2: g2(a as f64, n1 as f64, b as f64, n0 as f64), p: binomial_upper(a, a + b, share), q: 1.0 })
        })
        .collect();
    let q = bh(&tested.iter().map(|t| t.p).collect::<Vec<_>>());
    for (t, q) in tested.iter_mut().zip(q) {
        t.q = q;
    }
    let mut surging: Vec<Term> = tested.into_iter().filter(|t| t.q <= settings.fdr && t.current >= settings.min_current && t.g2 > 0.0).collect();
    surging.sort_by(|a, b| b.g2.total_cmp(&a.g2).then(a.word.cmp(&b.word)));
    // Current-window cases of each surging word, then connected components of words whose case
    // sets overlap enough.
    let sets: Vec<HashSet<usize>> = surging.iter().map(|t| case_words.iter().filter(|(_, ws)| ws.contains(&t.word)).map(|(i, _)| *i).collect()).collect();
    let mut group: Vec<usize> = (0..surging.len()).collect();
    fn root(group: &mut [usize], mut i: usize) -> usize {
        while group[i] != i {
            group[i] = group[group[i]];
            i = group[i];
        }
        i
    }
    for i in 0..surging.len() {
        for j in i + 1..surging.len() {
            let inter = sets[i].intersection(&sets[j]).count() as f64;
            let union = (sets[i].len() + sets[j].len()) as f64 - inter;
            if union > 0.0 && inter / union >= settings.link {
                let (a, b) = (root(&mut group, i), root(&mut group, j));
                group[a.max(b)] = a.min(b);
            }
        }
    }
    let mut members: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..surging.len() {
        let r = root(&mut group, i);
        members.entry(r).or_default().push(i);
    }
    let mut topics: Vec<Topic> = members
        .into_values()
        .map(|idx| {
            let terms: Vec<Term> = idx.iter().map(|&i| surging[i].clone()).collect();
            let words: HashSet<&str> = terms.iter().map(|t| t.word.as_str()).collect();
            let mut hits: Vec<(usize, usize)> = case_words.iter().map(|(i, ws)| (*i, ws.iter().filter(|w| words.contains(w.as_str())).count())).filter(|(_, n)| *n > 0).collect();
            hits.sort_by(|a, b| b.1.cmp(&a.1).then(cases[b.0].day.cmp(&cases[a.0].day)));
            let tally = |key: &dyn Fn(&TermCase) -> String| {
                let mut m: BTreeMap<String, u32> = BTreeMap::new();
                for (i, _) in &hits {
                    *m.entry(key(&cases[*i])).or_default() += 1;
                }
                let mut v: Vec<(String, u32)> = m.into_iter().collect();
                v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                v.truncate(5);
                v
            };
            let mut seen = HashSet::new();
            let examples = hits
                .iter()
                .filter(|(i, _)| seen.insert(cases[*i].caller.as_str()))
                .take(3)
                .map(|(i, _)| Example { id: cases[*i].id, region: cases[*i].region.clone(), excerpt: cases[*i].text.chars().take(80).collect() })
                .collect();
            Topic {
                label: terms.iter().take(3).map(|t| t.word.clone()).collect(),
                callers: hits.iter().map(|(i, _)| cases[*i].caller.as_str()).collect::<HashSet<_>>().len() as u32,
                cases: hits.len() as u32,
                regions: tally(&|c| c.region.clone()),
                types: tally(&|c| c.dispute_type.clone()),
                examples,
                terms,
            }
        })
        .filter(|t| t.callers >= settings.min_current)
        .collect();
    topics.sort_by(|a, b| b.terms[0].g2.total_cmp(&a.terms[0].g2));
    topics
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(id: i64, day: i64, caller: &str, text: &str) -> TermCase {
        TermCase { id, day, caller: caller.into(), region: "浙江省/绍兴市/诸暨市/枫桥镇".into(), dispute_type: "environment".into(), text: text.into() }
    }

    /// Two months of ordinary complaints, then a week in which many callers complain about a
    /// new chemical plant's smell.
    fn cases(burst: usize) -> Vec<TermCase> {
        let ordinary = ["楼上邻居半夜装修噪音太大影响休息", "物业公司乱收停车费业主不满", "老板拖欠三个月工资不给", "儿子不赡养老人，老人生活困难", "小区垃圾清运不及时，臭气熏天", "网购商品质量有问题商家拒绝退款"];
        let mut v = Vec::new();
        let mut id = 0;
        for day in 0..63 {
            for (k, text) in ordinary.iter().enumerate() {
                id += 1;
                v.push(case(id, day, &format!("c{day}-{k}"), text));
            }
        }
        for k in 0..burst {
            id += 1;
            v.push(case(id, 60 + (k as i64 % 3), &format!("burst{k}"), &format!("村口新建的化工厂晚上偷排废气，刺鼻气味熏得人头晕，第{k}户村民反映")));
        }
        v
    }

    #[test]
    fn a_new_smell_surfaces_as_one_topic_with_examples() {
        let topics = emerging(&cases(8), 62, &TopicSettings::default());
        assert_eq!(topics.len(), 1, "{topics:#?}");
        let t = &topics[0];
        assert!(t.terms.iter().any(|x| x.word == "化工厂"), "{t:#?}");
        assert!(t.terms.iter().all(|x| x.baseline == 0 && x.current == 8), "{t:#?}");
        assert_eq!(t.callers, 8);
        assert_eq!(t.examples.len(), 3);
        assert_eq!(t.types, vec![("environment".to_string(), 8)]);
    }

    #[test]
    fn steady_talk_and_one_loud_caller_are_not_topics() {
        assert!(emerging(&cases(0), 62, &TopicSettings::default()).is_empty());
        // One caller saying it eight times is one voice.
        let mut v = cases(0);
        for k in 0..8 {
            v.push(case(10_000 + k, 61, "same", "村口新建的化工厂晚上偷排废气，刺鼻气味熏得人头晕"));
        }
        assert!(emerging(&v, 62, &TopicSettings::default()).is_empty());
        assert!(emerging(&[], 62, &TopicSettings::default()).is_empty());
    }

    #[test]
    fn the_binomial_tail_matches_hand_values() {
        // P(X ≥ 3) for Bin(3, 0.5) = 1/8; P(X ≥ 1) for Bin(2, 0.5) = 3/4.
        assert!((binomial_upper(3, 3, 0.5) - 0.125).abs() < 1e-12);
        assert!((binomial_upper(1, 2, 0.5) - 0.75).abs() < 1e-12);
        assert_eq!(binomial_upper(0, 5, 0.3), 1.0);
    }
}
