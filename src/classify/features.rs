//! Sparse TF-IDF features over words, word bigrams and Chinese character n-grams.
//!
//! Character n-grams carry most of the generalisation to phrasing the corpus never saw (讨要工钱
//! shares 工钱 with 拖欠工钱 even when jieba cuts them differently); words and bigrams carry the
//! precise terms operators recognise in explanations. IDF is fixed at fit time and stored, so a
//! single document at triage gets exactly the features it would have had in training.

use std::hash::BuildHasher;

use rustc_hash::{FxBuildHasher, FxHashMap};
use serde::{Deserialize, Serialize};

use crate::text::is_han;

/// How text becomes features. Stored with the model so triage uses what training used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSettings {
    /// Use word unigrams.
    pub words: bool,
    /// Use adjacent word pairs.
    pub word_bigrams: bool,
    /// Shortest character n-gram over runs of Chinese characters (0 turns them off).
    pub char_min: usize,
    /// Longest character n-gram.
    pub char_max: usize,
    /// A term must appear in at least this many training documents.
    pub min_df: u32,
    /// Use 1 + ln(tf) instead of raw counts.
    pub sublinear_tf: bool,
}

impl Default for FeatureSettings {
    fn default() -> Self {
        FeatureSettings { words: true, word_bigrams: true, char_min: 2, char_max: 2, min_df: 2, sublinear_tf: true }
    }
}

/// A sparse, L2-normalised feature vector with indices in ascending order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseVector {
    /// Feature indices, ascending.
    pub idx: Vec<u32>,
    /// Values, one per index.
    pub val: Vec<f32>,
}

impl SparseVector {
    /// Number of non-zero features.
    pub fn nnz(&self) -> usize {
        self.idx.len()
    }

    /// Iterates over (index, value) pairs.
    pub fn iter(&self) -> impl Iterator<Item = (usize, f32)> + '_ {
        self.idx.iter().map(|&i| i as usize).zip(self.val.iter().copied())
    }
}

/// Calls `emit` with the byte encoding of every feature occurrence in a document. The first
/// byte names the kind (`w` word, `b` bigram, `c` characters); [`Vocabulary::display`] turns an
/// encoding back into what an operator reads.
pub fn for_each_feature(settings: &FeatureSettings, normalized: &str, tokens: &[&str], mut emit: impl FnMut(&[u8])) {
    let mut scratch: Vec<u8> = Vec::with_capacity(64);
    fn word(t: &str) -> &str {
        if t.bytes().all(|b| b.is_ascii_digit()) { "#" } else { t }
    }
    if settings.words {
        for t in tokens {
            scratch.clear();
            scratch.push(b'w');
            scratch.extend_from_slice(word(t).as_bytes());
            emit(&scratch);
        }
    }
    if settings.word_bigrams {
        for pair in tokens.windows(2) {
            scratch.clear();
            scratch.push(b'b');
            scratch.extend_from_slice(word(pair[0]).as_bytes());
            scratch.push(b' ');
            scratch.extend_from_slice(word(pair[1]).as_bytes());
            emit(&scratch);
        }
    }
    if settings.char_min > 0 {
        // Byte offsets of the characters of the current run of Chinese characters.
        let mut run: Vec<usize> = Vec::with_capacity(64);
        let mut flush = |run: &mut Vec<usize>, end: usize, scratch: &mut Vec<u8>| {
            for n in settings.char_min..=settings.char_max {
                for i in 0..run.len().saturating_sub(n - 1) {
                    let stop = if i + n < run.len() { run[i + n] } else { end };
                    scratch.clear();
                    scratch.push(b'c');
                    scratch.extend_from_slice(&normalized.as_bytes()[run[i]..stop]);
                    emit(scratch);
                }
            }
            run.clear();
        };
        for (at, c) in normalized.char_indices() {
            if is_han(c) {
                run.push(at);
            } else if !run.is_empty() {
                flush(&mut run, at, &mut scratch);
            }
        }
        if !run.is_empty() {
            flush(&mut run, normalized.len(), &mut scratch);
        }
    }
}

/// 1 + ln(tf), from a table for the counts almost every term has.
fn sublinear(tf: usize) -> f32 {
    const TABLE: [f32; 8] = [0.0, 1.0, 1.693_147_2, 2.098_612_3, 2.386_294_4, 2.609_438, 2.791_759_5, 2.945_910_1];
    TABLE.get(tf).copied().unwrap_or_else(|| 1.0 + (tf as f32).ln())
}

fn hash(bytes: &[u8]) -> u64 {
    FxBuildHasher.hash_one(bytes)
}

/// The terms a model knows, with their inverse document frequencies.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Vocabulary {
    settings: FeatureSettings,
    terms: Vec<String>,
    idf: Vec<f32>,
    #[serde(skip)]
    index: FxHashMap<u64, u32>,
    /// Whether [`Vocabulary::display`] quotes the term, precomputed for explanations.
    #[serde(skip)]
    readable: Vec<bool>,
}

impl Vocabulary {
    /// Builds the vocabulary from training documents, each given as (normalized text, tokens).
    pub fn fit<'a>(settings: FeatureSettings, docs: impl Iterator<Item = (&'a str, Vec<&'a str>)>) -> Vocabulary {
        let mut df: FxHashMap<Vec<u8>, u32> = FxHashMap::default();
        let mut n_docs = 0u32;
        let mut seen: rustc_hash::FxHashSet<u64> = Default::default();
        for (text, tokens) in docs {
            n_docs += 1;
            seen.clear();
            for_each_feature(&settings, text, &tokens, |f| {
                if seen.insert(hash(f)) {
                    *df.entry(f.to_vec()).or_insert(0) += 1;
                }
            });
        }
        let mut kept: Vec<(Vec<u8>, u32)> = df.into_iter().filter(|(_, d)| *d >= settings.min_df).collect();
        kept.sort_unstable();
        let n = n_docs as f32;
        let idf = kept.iter().map(|(_, d)| ((1.0 + n) / (1.0 + *d as f32)).ln() + 1.0).collect();
        let terms = kept.into_iter().map(|(t, _)| String::from_utf8(t).expect("features are cut at char boundaries")).collect();
        let mut vocab = Vocabulary { settings, terms, idf, index: FxHashMap::default(), readable: Vec::new() };
        vocab.rebuild_index();
        vocab
    }

    /// Rebuilds the hash index after deserialisation.
    pub(crate) fn rebuild_index(&mut self) {
        self.readable = (0..self.terms.len()).map(|i| self.readable_term(i).is_some()).collect();
        self.index = FxHashMap::with_capacity_and_hasher(self.terms.len(), Default::default());
        for (i, t) in self.terms.iter().enumerate() {
            self.index.entry(hash(t.as_bytes())).or_insert(i as u32);
        }
    }

    /// The settings the vocabulary was built with.
    pub fn settings(&self) -> &FeatureSettings {
        &self.settings
    }

    /// Number of terms.
    pub fn len(&self) -> usize {
        self.terms.len()
    }

    /// True if no term survived `min_df`.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The raw encoding of a term.
    pub fn term(&self, i: usize) -> &str {
        &self.terms[i]
    }

    /// A term as an operator reads it, e.g. `欠薪` or `拖欠 工资`; `None` for character n-grams,
    /// which are evidence for the model but not words a person would quote.
    pub fn display(&self, i: usize) -> Option<&str> {
        match self.readable.get(i) {
            Some(true) => Some(&self.terms[i][1..]),
            _ => None,
        }
    }

    fn readable_term(&self, i: usize) -> Option<&str> {
        // Single characters and numbers are real evidence but mean nothing to a reader
        // ("了", "#"), so explanations quote only words of two or more characters.
        let t = &self.terms[i];
        let readable = |w: &str| w != "#" && w.chars().count() >= 2;
        match t.as_bytes().first() {
            Some(b'w') | Some(b'b') if t[1..].split(' ').all(readable) => Some(&t[1..]),
            _ => None,
        }
    }

    /// Turns a document into its TF-IDF vector.
    pub fn vectorize(&self, normalized: &str, tokens: &[&str]) -> SparseVector {
        let mut hits: Vec<u32> = Vec::with_capacity(normalized.len());
        for_each_feature(&self.settings, normalized, tokens, |f| {
            if let Some(&i) = self.index.get(&hash(f)) {
                hits.push(i);
            }
        });
        hits.sort_unstable();
        let mut v = SparseVector { idx: Vec::with_capacity(hits.len()), val: Vec::with_capacity(hits.len()) };
        let mut k = 0;
        while k < hits.len() {
            let i = hits[k];
            let mut tf = 0;
            while k < hits.len() && hits[k] == i {
                tf += 1;
                k += 1;
            }
            let tf = if self.settings.sublinear_tf { sublinear(tf) } else { tf as f32 };
            v.idx.push(i);
            v.val.push(tf * self.idf[i as usize]);
        }
        let norm = v.val.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.val.iter_mut().for_each(|x| *x /= norm);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(settings: &FeatureSettings, text: &str) -> Vec<String> {
        let tokens: Vec<&str> = text.split(' ').filter(|t| !t.is_empty()).collect();
        let mut out = Vec::new();
        for_each_feature(settings, text, &tokens, |f| out.push(String::from_utf8(f.to_vec()).unwrap()));
        out
    }

    #[test]
    fn emits_words_bigrams_and_char_ngrams_within_runs() {
        let s = FeatureSettings { char_min: 2, char_max: 2, ..Default::default() };
        let got = features(&s, "拖欠 工资 3800");
        assert_eq!(got, vec!["w拖欠", "w工资", "w#", "b拖欠 工资", "b工资 #", "c拖欠", "c工资"]);
    }

    #[test]
    fn vectors_are_unit_length_and_unknown_terms_are_ignored() {
        let s = FeatureSettings { min_df: 1, ..Default::default() };
        let docs = ["拖欠 工资", "楼上 漏水", "拖欠 货款"];
        let vocab = Vocabulary::fit(s, docs.iter().map(|d| (*d, d.split(' ').collect())));
        let v = vocab.vectorize("拖欠 工资 外星人", &["拖欠", "工资", "外星人"]);
        let norm: f32 = v.val.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-5);
        assert!(v.idx.windows(2).all(|w| w[0] < w[1]));
        assert!(v.iter().all(|(i, _)| !vocab.term(i).contains("外星人")));
        assert!(vocab.vectorize("", &[]).val.is_empty());
    }

    #[test]
    fn sublinear_table_matches_the_formula() {
        for tf in 1..20 {
            assert!((sublinear(tf) - (1.0 + (tf as f32).ln())).abs() < 1e-6, "{tf}");
        }
    }

    #[test]
    fn idf_survives_a_serialisation_round_trip() {
        let s = FeatureSettings { min_df: 1, ..Default::default() };
        let docs = ["拖欠 工资", "楼上 漏水"];
        let vocab = Vocabulary::fit(s, docs.iter().map(|d| (*d, d.split(' ').collect())));
        let bytes = postcard::to_stdvec(&vocab).unwrap();
        let mut back: Vocabulary = postcard::from_bytes(&bytes).unwrap();
        back.rebuild_index();
        assert_eq!(back.vectorize("拖欠 工资", &["拖欠", "工资"]), vocab.vectorize("拖欠 工资", &["拖欠", "工资"]));
    }
}
