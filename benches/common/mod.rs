//! What several benches share: our corpus's texts with their dispute types (in the repository,
//! so a bench never needs ../shared).

use std::path::Path;

/// Every (text, type) of `corpora/disputes` and `corpora/letters`, in file order.
pub fn corpus(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for dir in ["corpora/disputes", "corpora/letters"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir)).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for f in files {
            for line in std::fs::read_to_string(&f).unwrap().lines() {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
                    if let Some(t) = v["text"].as_str() {
                        out.push((t.to_string(), v["type"].as_str().unwrap_or_default().to_string()));
                    }
                }
            }
        }
    }
    out
}
