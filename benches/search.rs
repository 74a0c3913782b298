//! Search latency at scale, side by side with SQLite FTS5 on the same cases, in one run.
//!
//! Usage: cargo bench --bench search -- DATA_DIR [QUERIES]
//! DATA_DIR holds a store and index made by `fengqiao import` (see benches/history_bench.sh).
//! The FTS5 baseline is built once into DATA_DIR/fts5.sqlite from the same store, with the same
//! analyzer's words, and answers the same requests: total, four facet counts, top 20 hits.
//! Prints one JSON object.

use std::path::PathBuf;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use fengqiao::search::{SearchIndex, SearchRequest, SortBy};
use fengqiao::store::CaseStore;
use fengqiao::text::Analyzer;
use sqlx::{AssertSqlSafe, Row};

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn words(text: &str) -> Vec<String> {
    Analyzer::global().words_with_offsets(text).into_iter().map(|(w, _, _)| w).filter(|w| w.chars().count() >= 2).collect()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let Some(dir) = args.first().map(PathBuf::from) else {
        eprintln!("usage: cargo bench --bench search -- DATA_DIR [QUERIES]; skipped");
        return;
    };
    let n_queries: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(300);
    let store = CaseStore::open_dir(&dir).await.expect("a store made by fengqiao import");
    let mut index = SearchIndex::open(&dir.join("index")).unwrap();
    index.sync(&store).await.unwrap();
    let cases = store.count().await.unwrap();

    // The baseline: one FTS5 table with the analyzer's words and the filter columns.
    let fts_path = dir.join("fts5.sqlite");
    let fresh = !fts_path.exists();
    let fts = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(&fts_path).create_if_missing(true))
        .await
        .unwrap();
    let mut build_s = 0.0;
    if fresh {
        let t = Instant::now();
        sqlx::query("CREATE VIRTUAL TABLE cases USING fts5(words, region UNINDEXED, type UNINDEXED, risk UNINDEXED, status UNINDEXED, received UNINDEXED, tokenize = 'unicode61')")
            .execute(&fts)
            .await
            .unwrap();
        let mut after = 0;
        loop {
            let page = store.changed_since(after, 20_000).await.unwrap();
            let Some(&(seq, _)) = page.last() else { break };
            let mut tx = fts.begin().await.unwrap();
            for (_, c) in &page {
                sqlx::query("INSERT INTO cases (rowid, words, region, type, risk, status, received) VALUES (?, ?, ?, ?, ?, ?, ?)")
                    .bind(c.id)
                    .bind(words(&c.fields.text).join(" "))
                    .bind(c.fields.region.clone().unwrap_or_default())
                    .bind(c.effective_type().to_string())
                    .bind(c.effective_risk().code())
                    .bind(c.status.code())
                    .bind(c.fields.received_at.timestamp_millis())
                    .execute(&mut *tx)
                    .await
                    .unwrap();
            }
            tx.commit().await.unwrap();
            after = seq;
        }
        build_s = t.elapsed().as_secs_f64();
    }

    // Requests: two words from a stored case, with filters and sorts in rotation.
    let sample = store.changed_since(0, 2_000).await.unwrap();
    let mut reqs = Vec::new();
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    while reqs.len() < n_queries {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let c = &sample[(rng % sample.len() as u64) as usize].1;
        let w = words(&c.fields.text);
        if w.len() < 2 {
            continue;
        }
        let k = reqs.len();
        let region = c.fields.region.clone().unwrap_or_default();
        let township: String = region.split('/').take(4).collect::<Vec<_>>().join("/");
        let mut r = SearchRequest { text: format!("{}{}", w[(rng as usize / 7) % w.len()], w[(rng as usize / 13) % w.len()]), limit: 20, ..Default::default() };
        match k % 4 {
            0 => {}
            1 => r.region = Some(township),
            2 => {
                r.risk = Some(c.effective_risk());
                r.sort = SortBy::Time;
            }
            _ => {
                r.dispute_type = Some(c.effective_type().to_string());
                r.from = Some(Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap());
                r.region = Some(region.split('/').take(3).collect::<Vec<_>>().join("/"));
            }
        }
        reqs.push(r);
    }

    let mut ours = Vec::new();
    let mut ours_hits = 0usize;
    for r in &reqs {
        let t = Instant::now();
        let res = index.search(r).unwrap();
        ours.push(t.elapsed().as_secs_f64() * 1e3);
        ours_hits += res.total;
    }
    let mut base = Vec::new();
    let mut base_hits = 0usize;
    for r in &reqs {
        let q: Vec<String> = words(&r.text).into_iter().map(|w| format!("\"{w}\"")).collect();
        let mut filter = String::from("cases MATCH ?");
        if r.region.is_some() {
            filter.push_str(" AND (region = ? OR region LIKE ? || '/%')");
        }
        if r.risk.is_some() {
            filter.push_str(" AND risk = ?");
        }
        if r.dispute_type.is_some() {
            filter.push_str(" AND type = ?");
        }
        if r.from.is_some() {
            filter.push_str(" AND received >= ?");
        }
        let bind = |sql: String| {
            let mut q2 = sqlx::query(AssertSqlSafe(sql)).bind(q.join(" AND "));
            if let Some(reg) = &r.region {
                q2 = q2.bind(reg.clone()).bind(reg.clone());
            }
            if let Some(risk) = r.risk {
                q2 = q2.bind(risk.code());
            }
            if let Some(t) = &r.dispute_type {
                q2 = q2.bind(t.clone());
            }
            if let Some(from) = r.from {
                q2 = q2.bind(from.timestamp_millis());
            }
            q2
        };
        let order = if r.sort == SortBy::Time { "received DESC" } else { "rank" };
        let t = Instant::now();
        let total: i64 = bind(format!("SELECT COUNT(*) FROM cases WHERE {filter}")).fetch_one(&fts).await.unwrap().get(0);
        for facet in ["type", "risk", "status", "region"] {
            bind(format!("SELECT {facet}, COUNT(*) FROM cases WHERE {filter} GROUP BY {facet}")).fetch_all(&fts).await.unwrap();
        }
        let hits = bind(format!("SELECT rowid, snippet(cases, 0, '<b>', '</b>', '…', 16) FROM cases WHERE {filter} ORDER BY {order} LIMIT 20")).fetch_all(&fts).await.unwrap();
        base.push(t.elapsed().as_secs_f64() * 1e3);
        base_hits += total as usize;
        assert!(hits.len() <= 20);
    }
    // p99 by request kind (0 words only, 1 + township, 2 + risk sorted by time, 3 + type, date, county).
    let by_kind = |v: &[f64]| -> Vec<f64> {
        (0..4).map(|k| { let mut part: Vec<f64> = v.iter().skip(k).step_by(4).copied().collect(); (percentile(&mut part, 0.99) * 100.0).round() / 100.0 }).collect()
    };
    let (ours_kind, base_kind) = (by_kind(&ours), by_kind(&base));
    let size = |p: PathBuf| -> u64 {
        if p.is_dir() { std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum() } else { std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0) }
    };
    let r2 = |x: f64| (x * 100.0).round() / 100.0;
    let (o50, o99) = (percentile(&mut ours.clone(), 0.5), percentile(&mut ours, 0.99));
    let (b50, b99) = (percentile(&mut base.clone(), 0.5), percentile(&mut base, 0.99));
    println!(
        "{}",
        serde_json::json!({
            "record": "search_latency", "cases": cases, "queries": reqs.len(),
            "fengqiao_ms": {"p50": r2(o50), "p99": r2(o99)}, "fts5_ms": {"p50": r2(b50), "p99": r2(b99)},
            "ratio_p50": r2(b50 / o50), "ratio_p99": r2(b99 / o99),
            "p99_by_kind_ms": {"fengqiao": ours_kind, "fts5": base_kind},
            "matches_fengqiao": ours_hits, "matches_fts5": base_hits,
            "bytes": {"store": size(dir.join("fengqiao.sqlite")) + size(dir.join("fengqiao.sqlite-wal")), "index": size(dir.join("index")), "fts5": size(fts_path.clone())},
            "fts5_build_s": r2(build_s),
        })
    );
}
