//! Detection of personal data (mobile and landline phone numbers, resident ID numbers) so that
//! later layers can mask it for roles that may not see it.
//!
//! Detection runs on the raw text and reports byte spans into it, so masking never has to map
//! offsets back through normalization. Full-width digits are recognised as digits.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

/// What kind of personal data a span holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonalDataKind {
    /// A mainland mobile number (11 digits starting 13–19, optionally +86).
    Mobile,
    /// A landline number with area code (010-12345678).
    Landline,
    /// An 18-character resident ID number whose check digit is valid.
    IdNumber,
}

/// One piece of personal data found in a text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonalData {
    /// What it is.
    pub kind: PersonalDataKind,
    /// Byte offset where it starts in the text it was found in.
    pub start: usize,
    /// Byte offset just past its end.
    pub end: usize,
}

const D: &str = "[0-9０-９]";

static ID_NUMBER: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!("{D}{{17}}[0-9０-９XxｘＸ]")).unwrap());
static MOBILE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("(?:\\+?86[- ]?)?[1１][3-9３-９]{D}[- ]?{D}{{4}}[- ]?{D}{{4}}")).unwrap());
static LANDLINE: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!("0{D}{{2,3}}[-－]{D}{{7,8}}")).unwrap());

fn digit_value(c: char) -> Option<u32> {
    super::fold_width(c).to_digit(10)
}

fn touches_digit(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back().and_then(digit_value).is_some();
    let after = text[end..].chars().next().and_then(digit_value).is_some();
    before || after
}

/// Checks the ISO 7064 mod 11-2 check digit of an 18-character resident ID number.
fn id_checksum_ok(candidate: &str) -> bool {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let chars: Vec<char> = candidate.chars().map(super::fold_width).collect();
    if chars.len() != 18 {
        return false;
    }
    let mut sum = 0;
    for (c, w) in chars[..17].iter().zip(WEIGHTS) {
        match c.to_digit(10) {
            Some(d) => sum += d * w,
            None => return false,
        }
    }
    CHECK[(sum % 11) as usize] == chars[17].to_ascii_uppercase()
}

/// Finds phone and ID numbers in a text, in order of position, without overlaps.
pub fn find_personal_data(text: &str) -> Vec<PersonalData> {
    let mut found = Vec::new();
    for m in ID_NUMBER.find_iter(text) {
        if !touches_digit(text, m.start(), m.end()) && id_checksum_ok(m.as_str()) {
            found.push(PersonalData { kind: PersonalDataKind::IdNumber, start: m.start(), end: m.end() });
        }
    }
    let overlaps = |found: &[PersonalData], s: usize, e: usize| found.iter().any(|p| s < p.end && p.start < e);
    for (re, kind) in [(&*MOBILE, PersonalDataKind::Mobile), (&*LANDLINE, PersonalDataKind::Landline)] {
        for m in re.find_iter(text) {
            if !touches_digit(text, m.start(), m.end()) && !overlaps(&found, m.start(), m.end()) {
                found.push(PersonalData { kind, start: m.start(), end: m.end() });
            }
        }
    }
    found.sort_by_key(|p| p.start);
    found
}

/// Returns the text with each span's digits replaced by `*`, keeping the first three and last
/// four characters of phone numbers and the first six and last two of ID numbers so that staff
/// can still tell two callers apart.
pub fn mask(text: &str, spans: &[PersonalData]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for p in spans {
        out.push_str(&text[at..p.start]);
        let chars: Vec<char> = text[p.start..p.end].chars().collect();
        let (keep_head, keep_tail) = match p.kind {
            PersonalDataKind::IdNumber => (6, 2),
            PersonalDataKind::Mobile | PersonalDataKind::Landline => (3, 4),
        };
        let n = chars.len();
        for (i, c) in chars.into_iter().enumerate() {
            let digit_like = digit_value(c).is_some() || matches!(c, 'X' | 'x' | 'Ｘ' | 'ｘ');
            if digit_like && i >= keep_head && i + keep_tail < n { out.push('*') } else { out.push(c) }
        }
        at = p.end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(PersonalDataKind, &str)> {
        find_personal_data(text).into_iter().map(|p| (p.kind, &text[p.start..p.end])).collect()
    }

    #[test]
    fn finds_mobile_landline_and_valid_id_numbers() {
        let text = "张某(电话13812345678,座机0731-84561234)身份证号11010519491231002X称";
        assert_eq!(
            kinds(text),
            vec![
                (PersonalDataKind::Mobile, "13812345678"),
                (PersonalDataKind::Landline, "0731-84561234"),
                (PersonalDataKind::IdNumber, "11010519491231002X"),
            ]
        );
    }

    #[test]
    fn full_width_digits_and_spaced_mobiles_are_found() {
        assert_eq!(kinds("手机：１３９１２３４５６７８"), vec![(PersonalDataKind::Mobile, "１３９１２３４５６７８")]);
        assert_eq!(kinds("电话138 1234 5678"), vec![(PersonalDataKind::Mobile, "138 1234 5678")]);
    }

    #[test]
    fn amounts_case_numbers_and_bad_checksums_are_not_personal_data() {
        assert!(kinds("欠款138123456789元").is_empty(), "12 digits is not a phone");
        assert!(kinds("身份证号110105194912310021").is_empty(), "wrong check digit");
        assert!(kinds("已masked的138****5678").is_empty());
    }

    #[test]
    fn mask_keeps_head_and_tail() {
        let text = "电话13812345678，身份证11010519491231002X";
        let masked = mask(text, &find_personal_data(text));
        assert_eq!(masked, "电话138****5678，身份证110105**********2X");
    }
}
