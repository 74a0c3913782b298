//! Single-threaded triage latency over a file of texts, measured the way
//! ../shared/baselines/triage_pipeline_baseline.py measures the Python pipeline: one document at
//! a time, after 20 warm-up documents, wall time per document. Prints one JSON object.
//!
//! Usage: cargo bench --bench latency [-- FILE]   (one JSON object with a `text` field per line;
//! without FILE, the texts of corpora/)

use std::path::Path;
use std::time::Instant;

use fengqiao::config;
use fengqiao::triage::TriageRequest;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let file = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let load = Instant::now();
    let p = config::load_pipeline(&root.join("config"), &root.join("models")).expect("models/ holds a trained model");
    fengqiao::text::Analyzer::global();
    let load_s = load.elapsed().as_secs_f64();
    let reqs: Vec<TriageRequest> = match &file {
        Some(f) => {
            let content = std::fs::read_to_string(f).expect("readable input");
            content.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).expect("a JSON object with `text`")).collect()
        }
        None => fengqiao::corpus::read_dir(&root.join("corpora"))
            .expect("corpora/ is readable")
            .texts
            .into_iter()
            .map(|t| TriageRequest { text: t.text, ..Default::default() })
            .collect(),
    };
    let file = file.unwrap_or_else(|| "corpora/".into());
    for r in reqs.iter().take(20) {
        p.triage(r).unwrap();
    }
    let mut lat_us = Vec::with_capacity(reqs.len());
    let mut chars = 0usize;
    let mut red = 0usize;
    let all = Instant::now();
    for r in &reqs {
        let t = Instant::now();
        let out = p.triage(r).expect("valid text");
        lat_us.push(t.elapsed().as_secs_f64() * 1e6);
        chars += out.assessment.chars;
        red += (out.assessment.risk.level == fengqiao::RiskLevel::Red) as usize;
    }
    let total = all.elapsed().as_secs_f64();
    let mut sorted = lat_us.clone();
    sorted.sort_by(f64::total_cmp);
    let q = |p: f64| sorted[((sorted.len() as f64 - 1.0) * p).round() as usize];
    let r1 = |x: f64| (x * 10.0).round() / 10.0;
    println!(
        "{}",
        serde_json::json!({
            "record": "fengqiao_latency", "file": file, "docs": reqs.len(), "mean_chars": r1(chars as f64 / reqs.len() as f64),
            "p50_us": r1(q(0.5)), "p90_us": r1(q(0.9)), "p99_us": r1(q(0.99)), "max_us": r1(q(1.0)),
            "mean_us": r1(lat_us.iter().sum::<f64>() / lat_us.len() as f64), "docs_per_s": r1(reqs.len() as f64 / total),
            "load_s": (load_s * 1000.0).round() / 1000.0, "red": red, "threads": 1,
        })
    );
}
