//! Criterion benches: segmentation, and one full triage (normalize → route) with the shipped
//! model loaded. Texts come from corpora/, so the benches run on a clean clone. Each bench
//! checks a count first, so a broken pipeline cannot look fast.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fengqiao::config;
use fengqiao::text::Analyzer;
use fengqiao::triage::{Pipeline, TriageRequest};

fn corpus_texts() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpora");
    let corpus = fengqiao::corpus::read_dir(&dir).expect("corpora/ is readable");
    corpus.texts.into_iter().map(|t| t.text).collect()
}

fn pipeline() -> Pipeline {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    config::load_pipeline(&root.join("config"), &root.join("models")).expect("models/ holds a trained model")
}

fn benches(c: &mut Criterion) {
    let texts = corpus_texts();
    let bytes: usize = texts.iter().map(String::len).sum();
    let analyzer = Analyzer::global();
    let tokens: usize = texts.iter().map(|t| analyzer.analyze(t).spans.len()).sum();
    assert!(tokens > texts.len() * 10, "segmentation produced too few tokens: {tokens}");

    let mut g = c.benchmark_group("segment");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(10);
    g.bench_function("analyze_corpus", |b| {
        b.iter(|| texts.iter().map(|t| black_box(analyzer.analyze(t)).spans.len()).sum::<usize>())
    });
    g.finish();

    let p = pipeline();
    let reqs: Vec<TriageRequest> = texts
        .iter()
        .take(500)
        .map(|t| TriageRequest { text: t.clone(), region: Some("浙江省/绍兴市/诸暨市/枫桥镇/枫源村".into()), ..Default::default() })
        .collect();
    let routed = reqs.iter().filter(|r| p.triage(r).unwrap().routing.mediator.is_some()).count();
    assert!(routed > 400, "only {routed} of 500 triages found a mediator");
    let mut g = c.benchmark_group("triage");
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("one_complaint", |b| {
        b.iter(|| {
            i = (i + 1) % reqs.len();
            black_box(p.triage(&reqs[i]).unwrap())
        })
    });
    g.finish();
}

criterion_group!(group, benches);
criterion_main!(group);
