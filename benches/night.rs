//! The nightly hotspot batch at scale: N cases (default 1,000,000 with `--bench`, 20,000
//! otherwise) spread over three years across a region tree of 2 cities, 6 counties, 48
//! townships and 480 villages, 13 dispute types, a weekly rhythm, holidays, a few ramps and
//! bursts, and callers of whom some call again; then one night of `fengqiao hotspots run`
//! (read, repeat check, count every cell, test, topics, repeat callers, store, report) on an
//! embedded SQLite store, timed phase by phase. Target: under a minute for 1,000,000 cases on
//! this 2-core machine. Texts are our own corpus's (in the repository), with their labels.
//!
//! `cargo bench --bench night` (N=… overrides the size).

mod common;

use std::path::Path;
use std::time::Instant;

use fengqiao::labels::{RiskLevel, Tier};
use fengqiao::service::night::{self, NightOptions};
use fengqiao::store::{CaseStore, NewCase};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}


/// A small deterministic generator (no dependency for a bench).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 11
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn unit(&mut self) -> f64 {
        self.next() as f64 / (1u64 << 53) as f64
    }
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let n: usize = env_or("N", if bench { 1_000_000 } else { 20_000 });
    let days: i64 = 3 * 365;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let texts: Vec<(String, String)> = common::corpus(root).into_iter().filter(|(_, t)| !t.is_empty()).collect();
    assert!(!texts.is_empty(), "the corpus is part of the repository");
    let calendar = fengqiao::config::load_calendar(&root.join("config")).unwrap();
    // The full tree with `--bench`; a tenth of it in the quick pass `cargo test` makes (the
    // detector is compiled without optimisation there).
    let n_villages: usize = if bench { 480 } else { 48 };
    let villages: Vec<String> = (0..n_villages)
        .map(|v| {
            let (city, county, town) = (v / 240, v / 80, v / 10);
            format!("浙江省/市{city}/县{county}/镇{town}/村{v}")
        })
        .collect();
    let end = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let first = night::day_number(end) - days + 1;
    let kinds = calendar.kinds(first, days as usize);
    // Daily weights: weekdays, weekends, holidays, the backlog after them, a slow upward trend.
    let weights: Vec<f64> = (0..days)
        .map(|d| {
            let weekday = (first + d + 3).rem_euclid(7);
            let base = if weekday >= 5 { 0.45 } else { 1.0 } * (1.0 + 0.3 * d as f64 / days as f64);
            match kinds[d as usize] {
                fengqiao::hotspot::calendar::DayKind::Off => base * 0.3,
                fengqiao::hotspot::calendar::DayKind::After => base * 1.8,
                _ => base,
            }
        })
        .collect();
    let total: f64 = weights.iter().sum();
    let mut cumulative = Vec::with_capacity(weights.len());
    let mut acc = 0.0;
    for w in &weights {
        acc += w / total;
        cumulative.push(acc);
    }
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let store = rt.block_on(CaseStore::open_dir(dir.path())).unwrap();
    let started = Instant::now();
    let mut rng = Lcg(20261122);
    let mut batch = Vec::with_capacity(5000);
    for i in 0..n {
        // Most cases are ordinary; one in fifty belongs to a burst (one village, one type, a few
        // days), and a third of callers have called before.
        let u = rng.unit();
        let day = cumulative.partition_point(|c| *c < u).min(days as usize - 1) as i64;
        let (mut village, mut text_index) = (rng.below(n_villages as u64) as usize, rng.below(texts.len() as u64) as usize);
        let mut day = day;
        if rng.below(50) == 0 {
            let burst = rng.below(40);
            village = (burst as usize * 11) % n_villages;
            day = (burst as i64 * 27 + rng.below(4) as i64).min(days - 1);
            text_index = (burst as usize * 37) % texts.len();
        }
        let phone = if rng.below(3) == 0 { format!("139{:08}", rng.below(20_000)) } else { format!("138{:08}", i) };
        let (text, dispute_type) = &texts[text_index];
        let at = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH + chrono::Duration::days(first + day) + chrono::Duration::minutes(rng.below(600) as i64);
        batch.push(NewCase {
            external_id: Some(format!("night:{i}")),
            received_at: at,
            channel: "hotline".into(),
            caller_name: None,
            caller_phone: Some(phone),
            region: Some(villages[village].clone()),
            address: None,
            text: text.clone(),
            predicted_type: dispute_type.clone(),
            predicted_type_prob: 0.9,
            predicted_risk: RiskLevel::Blue,
            risk_probs: [0.9, 0.05, 0.03, 0.02],
            reasons: Vec::new(),
            confirmed_type: None,
            confirmed_risk: None,
            model_version: "bench".into(),
            tier: Tier::Village,
            mediator_id: None,
            due_at: None,
            other_regions: Vec::new(),
        });
        if batch.len() == 5000 {
            rt.block_on(store.create_cases(&batch, "bench")).unwrap();
            batch.clear();
        }
    }
    rt.block_on(store.create_cases(&batch, "bench")).unwrap();
    eprintln!("stored {n} cases over {days} days in {:.1} s", started.elapsed().as_secs_f64());

    let options = NightOptions { day: end, utc_offset_hours: 8, calendar, settings: fengqiao::hotspot::nightly::NightSettings::default(), report_dir: Some(dir.path().join("reports")) };
    let read = Instant::now();
    let rows = rt.block_on(store.case_facts(chrono::DateTime::<chrono::Utc>::UNIX_EPOCH + chrono::Duration::days(night::day_number(end) - night::HISTORY_DAYS + 1) - chrono::Duration::hours(8), chrono::DateTime::<chrono::Utc>::UNIX_EPOCH + chrono::Duration::days(night::day_number(end) - 62) - chrono::Duration::hours(8))).unwrap();
    let read_seconds = read.elapsed().as_secs_f64();
    let with_text = rows.iter().filter(|r| r.text.is_some()).count();
    drop(rows);
    let started = Instant::now();
    let report = rt.block_on(night::run(&store, &options)).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert!(report.cases_read > n / 2, "the last 800 of 1,095 days are read: {}", report.cases_read);
    assert!(report.cells > n_villages * 2, "every village and its ancestors, by type and in all: {}", report.cells);
    println!(
        "night over {n} cases ({} in the 800 days read, {with_text} with text): {seconds:.1} s in all (reading the store alone {read_seconds:.1} s); {} cells, {} alerts, {} topics, {} repeat callers, {} repeats counted once",
        report.cases_read,
        report.cells,
        report.alerts.len(),
        report.topics.len(),
        report.callers.len(),
        report.repeats
    );
    println!("phases: {}", report.phases.iter().map(|(p, s)| format!("{p} {s:.1} s")).collect::<Vec<_>>().join(", "));
}
