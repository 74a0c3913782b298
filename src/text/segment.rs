//! Segmentation with jieba plus the domain dictionary in `corpora/dict/domain.txt`.
//!
//! One dictionary is built once per process, lazily, and shared: cloning a jieba instance copies
//! its whole dictionary, so everything that cuts words goes through [`Analyzer::global`].

use std::sync::LazyLock;

use jieba_rs::Jieba;

use super::{is_han, normalize};

/// The domain dictionary, compiled into the binary so a triage never depends on the working
/// directory. One entry per line: `word [frequency]`; `#` starts a comment.
const DOMAIN_DICTIONARY: &str = include_str!("../../corpora/dict/domain.txt");

/// Normalizes and segments text. Cheap to share; built once.
pub struct Analyzer {
    jieba: Jieba,
    domain_words: usize,
}

/// A text after analysis: its normalized form and the word tokens cut from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analyzed {
    /// The normalized text (see [`normalize`]).
    pub normalized: String,
    /// Byte spans of the word tokens in `normalized`; punctuation and spaces are left out.
    pub spans: Vec<(usize, usize)>,
}

impl Analyzed {
    /// The word tokens, in order.
    pub fn tokens(&self) -> impl Iterator<Item = &str> + '_ {
        self.spans.iter().map(|&(s, e)| &self.normalized[s..e])
    }
}

static GLOBAL: LazyLock<Analyzer> = LazyLock::new(Analyzer::build);

impl Analyzer {
    /// The process-wide analyzer, built on first use (about a tenth of a second).
    pub fn global() -> &'static Analyzer {
        &GLOBAL
    }

    fn build() -> Analyzer {
        let mut jieba = Jieba::new();
        let mut domain_words = 0;
        for line in DOMAIN_DICTIONARY.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let mut parts = line.split_whitespace();
            let Some(word) = parts.next() else { continue };
            let freq = parts.next().and_then(|f| f.parse::<usize>().ok());
            // Traditional spellings reach the segmenter already simplified.
            jieba.add_word(&normalize(word), freq, None);
            domain_words += 1;
        }
        Analyzer { jieba, domain_words }
    }

    /// How many words the domain dictionary added.
    pub fn domain_words(&self) -> usize {
        self.domain_words
    }

    /// Normalizes and segments a raw text.
    pub fn analyze(&self, raw: &str) -> Analyzed {
        let normalized = normalize(raw);
        let spans = self.segment_spans(&normalized);
        Analyzed { normalized, spans }
    }

    /// Segments already-normalized text into byte spans of word tokens.
    pub fn segment_spans(&self, normalized: &str) -> Vec<(usize, usize)> {
        // HMM discovery of unknown words is off: it costs a third of the segmentation time and
        // the domain dictionary covers the words that matter for routing and search.
        self.jieba
            .cut(normalized, false)
            .into_iter()
            .filter(|t| is_word(t.word))
            .map(|t| (t.byte_start, t.byte_end))
            .collect()
    }

    /// Segments a raw text and reports each word, normalized as triage sees it, with its byte
    /// span in the *raw* text, so a search index can highlight the original words. Normalization
    /// here keeps one character per character (whitespace and control characters become
    /// spaces rather than being collapsed) so offsets map back exactly.
    pub fn words_with_offsets(&self, raw: &str) -> Vec<(String, usize, usize)> {
        let mut folded = String::with_capacity(raw.len());
        let mut raw_starts = Vec::with_capacity(raw.len());
        for (at, c) in raw.char_indices() {
            let c = super::fold_width(c);
            raw_starts.push(at);
            folded.push(if c.is_whitespace() || c.is_control() || c == '\u{feff}' || c == '\u{200b}' { ' ' } else { c.to_ascii_lowercase() });
        }
        raw_starts.push(raw.len());
        let simplified = fast2s::convert(&folded);
        // Byte offset of each character of `simplified`; the conversion keeps the character count.
        let char_starts: Vec<usize> = simplified.char_indices().map(|(at, _)| at).chain([simplified.len()]).collect();
        let raw_at = |byte: usize| raw_starts[char_starts.partition_point(|&s| s < byte).min(raw_starts.len() - 1)];
        self.segment_spans(&simplified).into_iter().map(|(s, e)| (simplified[s..e].to_string(), raw_at(s), raw_at(e))).collect()
    }

    /// Segments already-normalized text into word tokens.
    pub fn segment<'a>(&self, normalized: &'a str) -> Vec<&'a str> {
        self.segment_spans(normalized).into_iter().map(|(s, e)| &normalized[s..e]).collect()
    }
}

/// A token is a word if it holds a Chinese character, a letter or a digit.
fn is_word(token: &str) -> bool {
    token.chars().any(|c| is_han(c) || c.is_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden segmentation: the expected cut of simplified, traditional and mixed text.
    fn check(raw: &str, expect: &str) {
        let analyzed = Analyzer::global().analyze(raw);
        let got: Vec<&str> = analyzed.tokens().collect();
        assert_eq!(got.join(" "), expect, "segmenting {raw:?}");
    }

    #[test]
    fn golden_simplified() {
        check("包工头拖欠农民工工资三个月，二十多名工人要求讨薪", "包工头 拖欠 农民工 工资 三个 月 二十多名 工人 要求 讨薪");
        check("村民反映宅基地被邻居占用，申请村调委会调解", "村民 反映 宅基地 被 邻居 占用 申请 村调委会 调解");
        check("业主拒交物业费，物业公司停了电梯", "业主 拒交 物业费 物业公司 停 了 电梯");
    }

    #[test]
    fn golden_traditional_matches_simplified() {
        check("包工頭拖欠農民工工資三個月，二十多名工人要求討薪", "包工头 拖欠 农民工 工资 三个 月 二十多名 工人 要求 讨薪");
        check("醫調委介入調解醫療糾紛", "医调委 介入 调解 医疗纠纷");
    }

    #[test]
    fn golden_mixed_script_width_and_latin() {
        check("樓上鄰居半夜装修，ＫＴＶ噪音太大😡 打了3次12345", "楼上 邻居 半夜 装修 ktv 噪音 太 大 打 了 3 次 12345");
    }

    #[test]
    fn offsets_point_at_the_original_words() {
        let raw = "樓上  鄰居，ＫＴＶ噪音";
        let words = Analyzer::global().words_with_offsets(raw);
        let spans: Vec<(&str, &str)> = words.iter().map(|(w, s, e)| (w.as_str(), &raw[*s..*e])).collect();
        assert_eq!(spans, vec![("楼上", "樓上"), ("邻居", "鄰居"), ("ktv", "ＫＴＶ"), ("噪音", "噪音")]);
    }

    #[test]
    fn domain_dictionary_is_loaded() {
        assert!(Analyzer::global().domain_words() > 50);
    }
}
