//! Reading labelled text: the corpus directory (JSONL) and evaluation files (JSONL or CSV), with
//! the deterministic train/dev split.
//!
//! Every bad line is reported with its file and line number; none is silently dropped.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// One labelled document.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledText {
    /// Raw text, or the tokens joined by spaces when the source gave tokens.
    pub text: String,
    /// Already segmented words, when the source had a `tokens` column instead of `text`.
    pub tokens: Option<Vec<String>>,
    /// Label fields by name (`type`, `risk`, or whatever the file carries).
    pub labels: BTreeMap<String, String>,
    /// Where it came from, `file:line`.
    pub origin: String,
}

/// A problem reading labelled data.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// The file or directory cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A line or row is malformed.
    #[error("{origin}: {message}")]
    Bad {
        /// `file:line`.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// Nothing usable was found.
    #[error("{0} holds no labelled texts")]
    Empty(PathBuf),
}

/// Which part of the corpus a text belongs to: one in ten texts, chosen by a stable hash of the
/// text itself, is held out for development metrics, so the split survives reordering and
/// growth of the files.
pub fn is_dev(text: &str) -> bool {
    // FNV-1a, written out so that the split never changes with a library version.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h % 10 == 0
}

fn read(path: &Path) -> Result<Vec<u8>, CorpusError> {
    fs::read(path).map_err(|source| CorpusError::Io { path: path.to_path_buf(), source })
}

fn utf8(path: &Path, bytes: Vec<u8>) -> Result<String, CorpusError> {
    String::from_utf8(bytes).map_err(|e| CorpusError::Bad {
        origin: path.display().to_string(),
        message: format!("not valid UTF-8 at byte {}; convert the file to UTF-8 (e.g. iconv -f GB18030 -t UTF-8)", e.utf8_error().valid_up_to()),
    })
}

/// Parses JSON-lines labelled data. Each object needs a non-empty `text` (or `tokens`) string;
/// every other string field is a label. Blank lines are skipped.
pub fn parse_jsonl(name: &str, content: &str) -> Result<Vec<LabelledText>, CorpusError> {
    let mut out = Vec::new();
    for (i, line) in content.lines().enumerate() {
        let origin = format!("{name}:{}", i + 1);
        if line.trim().is_empty() {
            continue;
        }
        let bad = |message: String| CorpusError::Bad { origin: origin.clone(), message };
        let value: serde_json::Value = serde_json::from_str(line).map_err(|e| bad(format!("not valid JSON: {e}")))?;
        let obj = value.as_object().ok_or_else(|| bad("expected a JSON object".into()))?;
        let mut labels = BTreeMap::new();
        for (k, v) in obj {
            if let Some(s) = v.as_str() {
                labels.insert(k.clone(), s.to_string());
            }
        }
        out.push(record(labels, origin)?);
    }
    Ok(out)
}

fn record(mut labels: BTreeMap<String, String>, origin: String) -> Result<LabelledText, CorpusError> {
    let tokens = labels.remove("tokens").map(|t| t.split_whitespace().map(str::to_string).collect::<Vec<_>>());
    let text = match (labels.remove("text"), &tokens) {
        (Some(t), _) => t,
        (None, Some(tok)) => tok.join(" "),
        (None, None) => return Err(CorpusError::Bad { origin, message: "no `text` or `tokens` field".into() }),
    };
    if text.trim().is_empty() {
        return Err(CorpusError::Bad { origin, message: "empty text".into() });
    }
    Ok(LabelledText { text, tokens, labels, origin })
}

/// Parses CSV labelled data with a header row; a `text` or `tokens` column is required.
pub fn parse_csv(name: &str, content: &str) -> Result<Vec<LabelledText>, CorpusError> {
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(content.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| CorpusError::Bad { origin: format!("{name}:1"), message: format!("cannot read the header row: {e}") })?
        .clone();
    let mut out = Vec::new();
    for row in reader.records() {
        let row = row.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            CorpusError::Bad { origin: format!("{name}:{line}"), message: format!("malformed CSV row: {e}") }
        })?;
        let line = row.position().map_or(0, |p| p.line());
        let labels = headers.iter().zip(row.iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect();
        out.push(record(labels, format!("{name}:{line}"))?);
    }
    Ok(out)
}

/// Reads a JSONL or CSV file, chosen by its extension (`.csv` is CSV, anything else JSONL).
pub fn read_file(path: &Path) -> Result<Vec<LabelledText>, CorpusError> {
    let content = utf8(path, read(path)?)?;
    let content = content.strip_prefix('\u{feff}').unwrap_or(&content);
    let name = path.display().to_string();
    let records = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) {
        parse_csv(&name, content)?
    } else {
        parse_jsonl(&name, content)?
    };
    if records.is_empty() {
        return Err(CorpusError::Empty(path.to_path_buf()));
    }
    Ok(records)
}

/// A corpus directory read in full: its texts (files in name order) and a SHA-256 over the
/// files' names and bytes, which identifies the training data in model metadata.
pub struct Corpus {
    /// All texts.
    pub texts: Vec<LabelledText>,
    /// Hex SHA-256 of the corpus files.
    pub sha256: String,
    /// The files read.
    pub files: Vec<PathBuf>,
}

/// Reads every `*.jsonl` file under `dir` (recursively).
pub fn read_dir(dir: &Path) -> Result<Corpus, CorpusError> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = fs::read_dir(&d).map_err(|source| CorpusError::Io { path: d.clone(), source })?;
        for e in entries {
            let p = e.map_err(|source| CorpusError::Io { path: d.clone(), source })?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "jsonl") {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut hasher = Sha256::new();
    let mut texts = Vec::new();
    for f in &files {
        let bytes = read(f)?;
        hasher.update(f.strip_prefix(dir).unwrap_or(f).to_string_lossy().as_bytes());
        hasher.update(&bytes);
        let content = utf8(f, bytes)?;
        texts.extend(parse_jsonl(&f.display().to_string(), &content)?);
    }
    if texts.is_empty() {
        return Err(CorpusError::Empty(dir.to_path_buf()));
    }
    let sha256 = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(Corpus { texts, sha256, files })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_reports_the_bad_line_by_number() {
        let ok = parse_jsonl("x.jsonl", "{\"text\":\"楼上漏水\",\"type\":\"neighbor\",\"risk\":\"blue\"}\n\n").unwrap();
        assert_eq!(ok[0].labels["type"], "neighbor");
        let err = parse_jsonl("x.jsonl", "{\"text\":\"a\"}\n{oops\n").unwrap_err().to_string();
        assert!(err.starts_with("x.jsonl:2: not valid JSON"), "{err}");
        let err = parse_jsonl("x.jsonl", "{\"type\":\"a\"}\n").unwrap_err().to_string();
        assert!(err.contains("no `text`"), "{err}");
    }

    #[test]
    fn csv_takes_tokens_as_given_and_reports_ragged_rows() {
        let rows = parse_csv("d.csv", "row,tokens,label\n1,拖欠 工资 ,劳动\n").unwrap();
        assert_eq!(rows[0].tokens.as_deref().unwrap(), ["拖欠", "工资"]);
        assert_eq!(rows[0].labels["label"], "劳动");
        let err = parse_csv("d.csv", "row,tokens,label\n1,a,b\n2,c\n").unwrap_err().to_string();
        assert!(err.starts_with("d.csv:3: malformed CSV"), "{err}");
    }

    #[test]
    fn split_is_stable_and_about_one_in_ten() {
        let dev = (0..2000).filter(|i| is_dev(&format!("投诉{i}"))).count();
        assert!((150..250).contains(&dev), "{dev}");
        assert_eq!(is_dev("楼上漏水"), is_dev("楼上漏水"));
    }
}
