//! Text handling shared by every layer: normalization, personal-data detection and segmentation.
//!
//! This module does no I/O beyond reading the domain dictionary compiled into the binary. The one
//! [`Analyzer`] built here serves training, triage and (later) indexing and queries, so a word is
//! cut the same way wherever it appears.

mod normalize;
mod people;
mod pii;
mod segment;

pub use normalize::{fold_width, has_han, is_han, normalize};
pub use people::people_count;
pub use pii::{PersonalData, PersonalDataKind, find_personal_data, mask};
pub use segment::{Analyzed, Analyzer};

/// The character-bigram similarity ([`similarity`]) at which two complaints count as the same
/// matter told again.
pub const NEAR_DUPLICATE: f32 = 0.5;

/// The text with every phone and ID number found in it masked.
pub fn mask_all(text: &str) -> String {
    mask(text, &find_personal_data(text))
}

/// Escapes text for HTML (the search snippets and the self-contained reports).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The longest text, in characters, that the pipeline accepts. Real complaints run to a few
/// thousand characters; anything longer is almost always a pasted document or a mistake.
pub const MAX_TEXT_CHARS: usize = 20_000;

/// Why a text cannot be triaged. Each message says what was wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Nothing but whitespace, control characters or nothing at all.
    #[error("the text is empty; paste the complaint itself")]
    Empty,
    /// Longer than [`MAX_TEXT_CHARS`].
    #[error("the text has {chars} characters, more than the limit of {limit}; split it into separate complaints or shorten it")]
    TooLong {
        /// Characters in the text.
        chars: usize,
        /// The limit.
        limit: usize,
    },
    /// No Chinese character at all: the models only read Chinese.
    #[error("the text contains no Chinese characters; fengqiao triages complaints written in Chinese (simplified or traditional)")]
    NoChinese,
}

/// How alike two normalized texts are: the Jaccard overlap of their Chinese character bigrams,
/// from 0 (nothing shared) to 1 (the same bigrams). Used to spot the same complaint sent again.
pub fn similarity(a: &str, b: &str) -> f32 {
    Bigrams::of(a).similarity(&Bigrams::of(b))
}

/// A text's Chinese character bigrams, for comparing one text with many (see [`similarity`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bigrams(std::collections::HashSet<(char, char)>);

impl Bigrams {
    /// The bigrams of a normalized text.
    pub fn of(s: &str) -> Bigrams {
        let chars: Vec<char> = s.chars().filter(|c| is_han(*c)).collect();
        Bigrams(chars.windows(2).map(|w| (w[0], w[1])).collect())
    }

    /// Jaccard overlap with another text's bigrams.
    pub fn similarity(&self, other: &Bigrams) -> f32 {
        let inter = self.0.intersection(&other.0).count();
        let union = self.0.len() + other.0.len() - inter;
        if union == 0 { 0.0 } else { inter as f32 / union as f32 }
    }
}

/// Checks a raw text against the input rules before any work is done on it.
pub fn validate(raw: &str) -> Result<(), TextError> {
    let chars = raw.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(TextError::TooLong { chars, limit: MAX_TEXT_CHARS });
    }
    if raw.chars().all(|c| c.is_whitespace() || c.is_control() || c == '\u{feff}') {
        return Err(TextError::Empty);
    }
    if !has_han(raw) {
        return Err(TextError::NoChinese);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_spots_resent_complaints() {
        let a = "楼上邻居天天半夜剁肉，吵得睡不着";
        assert_eq!(similarity(a, a), 1.0);
        assert!(similarity(a, "楼上邻居天天半夜剁肉，吵得我睡不着觉") > 0.6);
        assert!(similarity(a, "包工头拖欠工资三个月") < 0.1);
        assert_eq!(similarity("", "abc"), 0.0);
    }

    #[test]
    fn validate_rejects_each_kind_of_bad_input_with_its_own_error() {
        assert_eq!(validate(""), Err(TextError::Empty));
        assert_eq!(validate(" \t\n\u{3000}\u{feff}\u{0007}"), Err(TextError::Empty));
        assert_eq!(validate("hello, my neighbour is noisy 😡"), Err(TextError::NoChinese));
        let long = "吵".repeat(MAX_TEXT_CHARS + 1);
        assert!(matches!(validate(&long), Err(TextError::TooLong { .. })));
        assert_eq!(validate("楼上漏水😡"), Ok(()));
    }
}
