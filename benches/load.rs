//! Load on loopback: 50 concurrent clients mixing triage (60%), case creation (20%) and search
//! (20%) against the real HTTP service for LOAD_SECONDS (60 under `cargo bench`, 3 as a test
//! pass), on an embedded store pre-filled with PRELOAD cases (default 20,000) from our corpus.
//! Reports throughput, p50/p99/max per endpoint and errors, and how long a created case takes to
//! become searchable (every 10th creation is polled for by a unique word in its text).
//!
//!     cargo bench --bench load            # the report in BENCHMARKS.md
//!     LOAD_SECONDS=120 CLIENTS=50 cargo bench --bench load
//!     THINK_MS=100 cargo bench --bench load  # each client pauses ~100 ms between requests
//!
//! With THINK_MS=0 (the default) the clients send back to back: a closed loop that measures the
//! saturated service, where latency is concurrency ÷ throughput. With a think time the offered
//! load is about CLIENTS × 1000 / THINK_MS requests per second, closer to people at desks.
//!
//! The server gets its own two-thread runtime; the clients share one more thread, all on the same
//! 2-core machine, so client work competes with the server as it would not in production.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fengqiao::http::{AppState, Metrics};
use fengqiao::search::SearchIndex;
use fengqiao::service::{NewUser, Service, add_user};
use fengqiao::store::CaseStore;
use serde_json::json;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[derive(Default)]
struct Stats {
    latencies: BTreeMap<&'static str, Vec<f64>>,
    errors: BTreeMap<&'static str, Vec<String>>,
    visible_after: Vec<f64>,
    not_visible: usize,
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn corpus_texts(root: &Path) -> Vec<String> {
    common::corpus(root).into_iter().map(|(text, _)| text).collect()
}

const REGIONS: [&str; 6] = [
    "浙江省/绍兴市/诸暨市/枫桥镇/枫源村",
    "浙江省/绍兴市/诸暨市/枫桥镇/枫溪村",
    "浙江省/绍兴市/诸暨市/店口镇/湄池村",
    "浙江省/绍兴市/诸暨市/暨阳街道",
    "浙江省/绍兴市/诸暨市/大唐街道",
    "浙江省/绍兴市/诸暨市/枫桥镇",
];

const QUERIES: [&str; 8] = ["拖欠工资", "噪音", "物业费", "宅基地 边界", "退款", "医疗 赔偿", "拆迁 补偿", "漏水"];

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let seconds: u64 = env_or("LOAD_SECONDS", if bench { 60 } else { 3 });
    let clients: usize = env_or("CLIENTS", 50);
    let preload: usize = env_or("PRELOAD", if bench { 20_000 } else { 500 });
    let think_ms: u64 = env_or("THINK_MS", 0);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let texts = Arc::new(corpus_texts(root));
    let dir = tempfile::tempdir().unwrap();

    let server_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (service, addr, tokens) = server_rt.block_on(async {
        let pipeline = fengqiao::config::load_pipeline(&root.join("config"), &root.join("models")).unwrap();
        let store = CaseStore::open_dir(dir.path()).await.unwrap();
        // Pre-fill the history the searches run against, through the same pipeline.
        let mut batch = Vec::new();
        let now = chrono::Utc::now();
        for i in 0..preload {
            let text = &texts[i % texts.len()];
            let t = pipeline.triage(&fengqiao::TriageRequest { text: text.clone(), region: Some(REGIONS[i % REGIONS.len()].into()), ..Default::default() }).unwrap();
            let mut c = fengqiao::service::new_case(&t, text, Some(format!("preload:{i}")), now - chrono::Duration::minutes(i as i64 * 7), "hotline", None);
            c.mediator_id = None;
            batch.push(c);
            if batch.len() == 500 {
                store.create_cases(&batch, "bench").await.unwrap();
                batch.clear();
            }
        }
        store.create_cases(&batch, "bench").await.unwrap();
        let index = SearchIndex::open(&dir.path().join("index")).unwrap();
        let sla = fengqiao::config::load_sla(&root.join("config")).unwrap();
        let service = Arc::new(Service::new(pipeline, store, index, sla).await.unwrap());
        let mut tokens = Vec::new();
        for (name, role) in [("op", "operator"), ("sup", "supervisor")] {
            let (_, token) = add_user(service.store(), NewUser { name: name.into(), role: role.into(), region: None, mediator_id: None, days: None }, "bench").await.unwrap();
            tokens.push(token);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = AppState { service: service.clone(), metrics: Arc::new(Metrics::default()) };
        tokio::spawn(service.clone().run_indexer(fengqiao::service::Stop::new()));
        tokio::spawn(fengqiao::http::serve(listener, state, std::future::pending()));
        (service, addr, tokens)
    });
    let indexed = server_rt.block_on(async {
        service.sync_index().await.unwrap();
        service.gauges().await.unwrap()["fengqiao_indexed_cases"]
    });
    assert_eq!(indexed as usize, preload, "every preloaded case is indexed");

    let client_rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let stats = Arc::new(Mutex::new(Stats::default()));
    let started = Instant::now();
    client_rt.block_on(async {
        let http = reqwest::Client::builder().pool_max_idle_per_host(clients).timeout(Duration::from_secs(30)).build().unwrap();
        let base = format!("http://{addr}");
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut tasks = Vec::new();
        for c in 0..clients {
            let (http, base, texts, stats) = (http.clone(), base.clone(), texts.clone(), stats.clone());
            let (op, sup) = (tokens[0].clone(), tokens[1].clone());
            tasks.push(tokio::spawn(async move {
                let mut i: usize = c * 7919;
                while Instant::now() < deadline {
                    i = i.wrapping_add(1);
                    let pick = i % 10;
                    let text = &texts[(i * 31) % texts.len()];
                    let region = REGIONS[i % REGIONS.len()];
                    let t0 = Instant::now();
                    let (endpoint, result) = if pick < 6 {
                        let r = http.post(format!("{base}/api/triage")).bearer_auth(&op).json(&json!({"text": text, "region": region})).send().await;
                        ("POST /api/triage", r)
                    } else if pick < 8 {
                        let marker = format!("编号{}x{}", c, i);
                        let r = http.post(format!("{base}/api/cases")).bearer_auth(&op).json(&json!({"text": format!("{text} {marker}"), "region": region})).send().await;
                        if let Ok(resp) = &r {
                            if resp.status().as_u16() == 201 && i % 10 == 6 && (i / 10) % 10 == 0 {
                                // Poll search for this case's marker until it shows.
                                let (http, base, sup, stats) = (http.clone(), base.clone(), sup.clone(), stats.clone());
                                let created = Instant::now();
                                tokio::spawn(async move {
                                    loop {
                                        let found = http.get(format!("{base}/api/search")).bearer_auth(&sup).query(&[("q", marker.as_str())]).send().await;
                                        if let Ok(f) = found {
                                            if let Ok(v) = f.json::<serde_json::Value>().await {
                                                if v["total"].as_u64().unwrap_or(0) > 0 {
                                                    stats.lock().unwrap().visible_after.push(created.elapsed().as_secs_f64());
                                                    break;
                                                }
                                            }
                                        }
                                        if created.elapsed() > Duration::from_secs(10) {
                                            stats.lock().unwrap().not_visible += 1;
                                            break;
                                        }
                                        tokio::time::sleep(Duration::from_millis(25)).await;
                                    }
                                });
                            }
                        }
                        ("POST /api/cases", r)
                    } else {
                        let q = QUERIES[i % QUERIES.len()];
                        let r = http.get(format!("{base}/api/search")).bearer_auth(&sup).query(&[("q", q), ("region", "浙江省/绍兴市/诸暨市")]).send().await;
                        ("GET /api/search", r)
                    };
                    let ok = match result {
                        Ok(resp) => {
                            let status = resp.status();
                            let body = resp.bytes().await;
                            match (status.is_success(), body) {
                                (true, Ok(_)) => Ok(()),
                                (_, Ok(b)) => Err(format!("{status}: {}", String::from_utf8_lossy(&b).chars().take(200).collect::<String>())),
                                (_, Err(e)) => Err(e.to_string()),
                            }
                        }
                        Err(e) => Err(e.to_string()),
                    };
                    let elapsed = t0.elapsed().as_secs_f64();
                    {
                        let mut s = stats.lock().unwrap();
                        match ok {
                            Ok(()) => s.latencies.entry(endpoint).or_default().push(elapsed),
                            Err(e) => s.errors.entry(endpoint).or_default().push(e),
                        }
                    }
                    if think_ms > 0 {
                        // 50% to 150% of the think time, so clients drift apart.
                        let pause = think_ms / 2 + (i as u64 * 2_654_435_761 % (think_ms + 1));
                        tokio::time::sleep(Duration::from_millis(pause)).await;
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    });
    let wall = started.elapsed().as_secs_f64();
    let mut s = stats.lock().unwrap();
    println!("\nload: {clients} clients, think time {think_ms} ms, {seconds} s, {preload} preloaded cases, loopback, SQLite store\n");
    println!("| endpoint | requests | per second | p50 ms | p99 ms | max ms | errors |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut total = 0;
    let mut errors = 0;
    let names: Vec<&'static str> = s.latencies.keys().chain(s.errors.keys()).copied().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    for name in names {
        let mut l = s.latencies.get(name).cloned().unwrap_or_default();
        l.sort_by(f64::total_cmp);
        let e = s.errors.get(name).map_or(0, Vec::len);
        total += l.len() + e;
        errors += e;
        println!(
            "| {name} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {e} |",
            l.len() + e,
            (l.len() + e) as f64 / seconds as f64,
            pct(&l, 0.50) * 1e3,
            pct(&l, 0.99) * 1e3,
            l.last().copied().unwrap_or(f64::NAN) * 1e3
        );
    }
    println!("| all | {total} | {:.0} | | | | {errors} |", total as f64 / seconds as f64);
    s.visible_after.sort_by(f64::total_cmp);
    println!(
        "\ncreated → searchable: {} cases polled, p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms, {} not visible within 10 s (wall {wall:.1} s)",
        s.visible_after.len(),
        pct(&s.visible_after, 0.5) * 1e3,
        pct(&s.visible_after, 0.99) * 1e3,
        s.visible_after.last().copied().unwrap_or(f64::NAN) * 1e3,
        s.not_visible
    );
    for (name, errs) in &s.errors {
        eprintln!("{name}: first error: {}", errs[0]);
    }
    // A broken service must not look fast: every endpoint answered, without errors.
    assert_eq!(s.latencies.len(), 3, "all three endpoints answered");
    assert_eq!(errors, 0, "no request failed");
    drop(s);
    drop(client_rt);
    drop(server_rt);
}
