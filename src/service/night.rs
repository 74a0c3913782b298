//! The nightly hotspot batch: read the store, count, test, find emerging topics and repeat
//! callers, store the alerts (replacing the night's earlier ones), and write the HTML report and
//! the JSON file. `fengqiao hotspots run` and the schedule inside `serve` both run this. The
//! statistics are `crate::hotspot`'s; this module only moves data in and out.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};

use crate::hotspot::calendar::Calendar;
use crate::hotspot::callers::{self, Call};
use crate::hotspot::cells::{self, CaseFact};
use crate::hotspot::nightly::{self, NightSettings};
use crate::hotspot::report::{self, AlertReport, NightReport};
use crate::hotspot::terms::{self, TermCase, TopicSettings};
use crate::store::{Alert, CaseStore};

/// Days of history the nightly run reads, ending on the day tested: two years of baseline, the
/// guard, and a margin.
pub const HISTORY_DAYS: i64 = 800;

/// How a night runs.
#[derive(Debug, Clone)]
pub struct NightOptions {
    /// The day tested (local).
    pub day: NaiveDate,
    /// Local time = UTC + this.
    pub utc_offset_hours: i64,
    /// Public holidays.
    pub calendar: Calendar,
    /// Tests and gates.
    pub settings: NightSettings,
    /// Where to write `hotspots-DAY.html` and `hotspots-DAY.json` (none: no files).
    pub report_dir: Option<PathBuf>,
}

pub use crate::hotspot::calendar::day_number;

/// The report files of a day in `dir`.
pub fn report_paths(dir: &Path, day: &str) -> (PathBuf, PathBuf) {
    (dir.join(format!("hotspots-{day}.html")), dir.join(format!("hotspots-{day}.json")))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::files::write_atomically(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// Seconds spent per phase of a night, for the logs and the benchmark.
struct Laps {
    last: Instant,
    phases: Vec<(String, f64)>,
}

impl Laps {
    fn new() -> Laps {
        Laps { last: Instant::now(), phases: Vec::new() }
    }

    fn mark(&mut self, name: &str) {
        self.phases.push((name.to_string(), self.last.elapsed().as_secs_f64()));
        self.last = Instant::now();
    }
}

/// Runs one night and returns what it found; the alerts are stored before it returns.
pub async fn run(store: &CaseStore, options: &NightOptions) -> Result<NightReport> {
    let started = Instant::now();
    let offset = Duration::hours(options.utc_offset_hours);
    let day = day_number(options.day);
    let first_day = day - HISTORY_DAYS + 1;
    let local_midnight = |d: i64| -> DateTime<Utc> { DateTime::<Utc>::UNIX_EPOCH + Duration::days(d) - offset };
    let topic_from = day - terms::CURRENT_DAYS - terms::BASELINE_DAYS + 1;
    let mut laps = Laps::new();
    let rows = store.case_facts(local_midnight(first_day), local_midnight(topic_from)).await.context("reading cases")?;
    laps.mark("read");
    // Cases received after the night's day (a re-run of an old day) are not part of it.
    let end = local_midnight(day + 1).timestamp_millis();
    let local_day = |ms: i64| (ms + offset.num_milliseconds()).div_euclid(86_400_000);
    let mut facts = Vec::with_capacity(rows.len());
    let mut topic_cases = Vec::new();
    let mut calls = Vec::new();
    let mut without_region = 0usize;
    let mut read = 0usize;
    // Rows come grouped by caller in time order: mark each caller's repeats.
    let mut i = 0;
    while i < rows.len() {
        let mut j = i + 1;
        while j < rows.len() && rows[i].caller.is_some() && rows[j].caller == rows[i].caller {
            j += 1;
        }
        let group: Vec<_> = rows[i..j].iter().filter(|r| r.received_at < end).collect();
        i = j;
        if group.is_empty() {
            continue;
        }
        read += group.len();
        let repeats = if group.len() > 1 {
            let texts: Vec<(i64, String)> = group.iter().map(|r| (local_day(r.received_at), crate::text::normalize(r.text.as_deref().unwrap_or_default()))).collect();
            cells::mark_repeats(&texts)
        } else {
            vec![false]
        };
        for (r, repeat) in group.into_iter().zip(repeats) {
            let d = local_day(r.received_at);
            let region = r.region.as_deref().map(str::trim).filter(|s| !s.is_empty());
            match region {
                Some(region) => facts.push(CaseFact { day: d, region: region.to_string(), other_regions: r.other_regions.clone(), dispute_type: r.dispute_type.clone(), caller: r.caller.clone(), repeat }),
                None => without_region += 1,
            }
            if d >= topic_from && !repeat {
                if let Some(text) = &r.text {
                    topic_cases.push(TermCase {
                        id: r.id,
                        day: d,
                        caller: r.caller.clone().unwrap_or_else(|| format!("case:{}", r.id)),
                        region: region.unwrap_or("").to_string(),
                        dispute_type: r.dispute_type.clone(),
                        text: crate::text::mask_all(text),
                    });
                }
            }
            if let Some(caller) = &r.caller {
                if d > day - 90 {
                    calls.push(Call { caller: caller.clone(), day: d, id: r.id, region: region.unwrap_or("").to_string(), dispute_type: r.dispute_type.clone(), repeat });
                }
            }
        }
    }
    drop(rows);
    laps.mark("repeats");
    let repeats = facts.iter().filter(|f| f.repeat).count();
    let mut warnings = Vec::new();
    if !options.calendar.covers(day) {
        warnings.push(format!("节假日表（config/holidays.toml）未包含 {} 年：节假日与节后积压按普通日期处理，可能误报。", options.day.format("%Y")));
    }
    let settings = options.settings;
    let calendar = options.calendar.clone();
    // The tests and the topic finder are CPU work: keep them off the async threads.
    let (counts, alerts, topics, repeat_callers, cpu) = tokio::task::spawn_blocking(move || {
        let mut cpu = Laps::new();
        let counts = cells::count(&facts, first_day, HISTORY_DAYS as usize);
        cpu.mark("count");
        let kinds = calendar.kinds(first_day, HISTORY_DAYS as usize);
        let alerts = nightly::detect_day(&counts, HISTORY_DAYS as usize - 1, &settings, &kinds);
        cpu.mark("detect");
        let topics = terms::emerging(&topic_cases, day, &TopicSettings::default());
        cpu.mark("topics");
        let repeat_callers = callers::repeat_callers(&calls, day);
        cpu.mark("callers");
        (counts, alerts, topics, repeat_callers, cpu)
    })
    .await
    .context("the detector stopped")?;
    laps.phases.extend(cpu.phases);
    laps.last = Instant::now();
    let day_text = options.day.format("%Y-%m-%d").to_string();
    let alert_reports: Vec<AlertReport> = alerts.iter().map(AlertReport::new).collect();
    let mut stored: Vec<Alert> = alert_reports
        .iter()
        .map(|a| Alert {
            id: 0,
            day: day_text.clone(),
            region: a.region.clone(),
            dispute_type: a.dispute_type.clone(),
            observed: a.observed as i64,
            expected: a.expected,
            upper: a.upper as f64,
            score: a.q,
            reason: a.reason.clone(),
            kind: "cell".into(),
            evidence: serde_json::json!({"window": a.window, "window_observed": a.window_observed, "window_expected": a.window_expected, "callers": a.callers, "children": a.children, "chart": a.chart}),
        })
        .collect();
    for t in &topics {
        let top = &t.terms[0];
        stored.push(Alert {
            id: 0,
            day: day_text.clone(),
            region: common_region(t.regions.iter().map(|(r, _)| r.as_str())),
            dispute_type: t.types.first().map(|(c, _)| c.clone()),
            observed: t.callers as i64,
            expected: top.expected,
            upper: 0.0,
            score: top.q,
            reason: format!(
                "新话题「{}」：本周 {} 位来电人、{} 件（「{}」本周 {} 人，此前八周 {} 人）",
                t.label.join("、"),
                t.callers,
                t.cases,
                top.word,
                top.current,
                top.baseline
            ),
            kind: "topic".into(),
            evidence: serde_json::to_value(t)?,
        });
    }
    for c in &repeat_callers {
        stored.push(Alert {
            id: 0,
            day: day_text.clone(),
            region: common_region(c.regions.iter().map(String::as_str)),
            dispute_type: c.types.first().cloned(),
            observed: c.calls[1] as i64,
            expected: 0.0,
            upper: 0.0,
            score: 1.0,
            reason: format!("重复来电 {}：{}", c.caller, c.reason),
            kind: "caller".into(),
            evidence: serde_json::to_value(c)?,
        });
    }
    let mut report = NightReport {
        day: day_text.clone(),
        generated_at: (Utc::now() + offset).format("%Y-%m-%dT%H:%M:%S").to_string() + &format!("{:+03}:00", options.utc_offset_hours),
        cases_read: read,
        repeats,
        without_region,
        cells: counts.cells.len(),
        alerts: alert_reports,
        topics,
        callers: repeat_callers,
        warnings,
        seconds: started.elapsed().as_secs_f64(),
        phases: Vec::new(),
        scope: None,
    };
    // The run itself is stored with the night's alerts, so the report can be rebuilt from the
    // store for any user's region.
    let summary = NightReport { alerts: Vec::new(), topics: Vec::new(), callers: Vec::new(), ..report.clone() };
    stored.push(Alert {
        id: 0,
        day: day_text.clone(),
        region: String::new(),
        dispute_type: None,
        observed: report.cases_read as i64,
        expected: 0.0,
        upper: 0.0,
        score: 1.0,
        reason: format!("{} 件案件，{} 条异常升高，{} 个新话题，{} 位重复来电人", report.cases_read, report.alerts.len(), report.topics.len(), report.callers.len()),
        kind: "run".into(),
        evidence: serde_json::to_value(&summary)?,
    });
    store.replace_alerts(&day_text, &stored).await.context("storing the alerts")?;
    laps.mark("store");
    report.seconds = started.elapsed().as_secs_f64();
    report.phases = laps.phases;
    if let Some(dir) = &options.report_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let (html, json) = report_paths(dir, &day_text);
        write_atomically(&html, report::html(&report).as_bytes())?;
        write_atomically(&json, format!("{}\n", serde_json::to_string_pretty(&report)?).as_bytes())?;
    }
    Ok(report)
}

/// The night's report rebuilt from its stored run record and the alerts of a region (`scope`;
/// `None` for all).
pub fn stored_report(run: &Alert, alerts: &[Alert], scope: Option<&str>) -> NightReport {
    let mut report: NightReport = serde_json::from_value(run.evidence.clone()).unwrap_or_else(|_| NightReport {
        day: run.day.clone(),
        generated_at: String::new(),
        cases_read: 0,
        repeats: 0,
        without_region: 0,
        cells: 0,
        alerts: Vec::new(),
        topics: Vec::new(),
        callers: Vec::new(),
        warnings: Vec::new(),
        seconds: 0.0,
        phases: Vec::new(),
        scope: None,
    });
    report.scope = scope.map(str::to_string);
    for a in alerts {
        let e = &a.evidence;
        match a.kind.as_str() {
            "cell" => report.alerts.push(AlertReport {
                region: a.region.clone(),
                dispute_type: a.dispute_type.clone(),
                observed: a.observed.max(0) as u32,
                callers: e["callers"].as_u64().unwrap_or(0) as u32,
                expected: a.expected,
                upper: a.upper as u32,
                window: e["window"].as_u64().unwrap_or(1) as usize,
                window_observed: e["window_observed"].as_u64().unwrap_or(0) as u32,
                window_expected: e["window_expected"].as_f64().unwrap_or(0.0),
                p: a.score,
                q: a.score,
                children: serde_json::from_value(e["children"].clone()).unwrap_or_default(),
                reason: a.reason.clone(),
                chart: serde_json::from_value(e["chart"].clone()).unwrap_or_default(),
            }),
            "topic" => report.topics.extend(serde_json::from_value(e.clone()).ok()),
            "caller" => report.callers.extend(serde_json::from_value(e.clone()).ok()),
            _ => {}
        }
    }
    report
}

/// The deepest region path every one of `regions` lies in ("" when they share none).
fn common_region<'a>(regions: impl Iterator<Item = &'a str>) -> String {
    let mut common: Option<Vec<&str>> = None;
    for r in regions.filter(|r| !r.is_empty()) {
        let parts: Vec<&str> = r.split('/').collect();
        common = Some(match common {
            None => parts,
            Some(c) => c.iter().zip(&parts).take_while(|(a, b)| a == b).map(|(a, _)| *a).collect(),
        });
    }
    common.unwrap_or_default().join("/")
}

/// The next moment, after `now`, when the local clock shows `at`.
pub fn next_run(now: DateTime<Utc>, at: NaiveTime, utc_offset_hours: i64) -> DateTime<Utc> {
    let offset = Duration::hours(utc_offset_hours);
    let local = (now + offset).naive_utc();
    let mut next = local.date().and_time(at);
    if next <= local {
        next += Duration::days(1);
    }
    next.and_utc() - offset
}

/// Runs the night for the previous local day every day at `at` (local) until `stop`; a night
/// that fails is logged and retried at the next scheduled time.
pub async fn schedule(store: CaseStore, at: NaiveTime, mut options: NightOptions, stop: super::Stop) {
    loop {
        let now = Utc::now();
        let next = next_run(now, at, options.utc_offset_hours);
        tracing::info!(next = %next, "hotspot batch scheduled");
        let wait = (next - now).to_std().unwrap_or_default();
        tokio::select! {
            _ = stop.wait() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        options.day = (Utc::now() + Duration::hours(options.utc_offset_hours)).date_naive() - Duration::days(1);
        match run(&store, &options).await {
            Ok(r) => tracing::info!(day = %r.day, alerts = r.alerts.len(), topics = r.topics.len(), callers = r.callers.len(), cases = r.cases_read, seconds = r.seconds, "hotspot batch done"),
            Err(e) => tracing::error!(error = %format!("{e:#}"), "hotspot batch failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_run_is_the_next_local_two_oclock() {
        let at = NaiveTime::from_hms_opt(2, 0, 0).unwrap();
        // 17:30 UTC is 01:30 in China: tonight at 02:00, half an hour later.
        let now = "2026-03-01T17:30:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(next_run(now, at, 8), "2026-03-01T18:00:00Z".parse::<DateTime<Utc>>().unwrap());
        // At 02:00 exactly it is tomorrow's.
        let now = "2026-03-01T18:00:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(next_run(now, at, 8), "2026-03-02T18:00:00Z".parse::<DateTime<Utc>>().unwrap());
    }

    #[test]
    fn a_topic_is_filed_under_the_region_its_cases_share() {
        assert_eq!(common_region(["浙江省/绍兴市/诸暨市/枫桥镇/枫源村", "浙江省/绍兴市/诸暨市/店口镇"].into_iter()), "浙江省/绍兴市/诸暨市");
        assert_eq!(common_region(["", "浙江省/绍兴市"].into_iter()), "浙江省/绍兴市");
        assert_eq!(common_region(std::iter::empty()), "");
    }
}
