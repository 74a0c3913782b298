//! `fengqiao hotspots eval`: the detector (or a reference method) over a counts table, written
//! as the benchmark's alarms file.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};

use crate::hotspot::{self, Method, Settings};

/// `fengqiao hotspots …`.
#[derive(Debug, Subcommand)]
pub enum HotspotsCommand {
    /// Count the stored cases into cells (every region level × type), test the given day
    /// (default: yesterday) against each cell's history, and store the alerts (shown on the
    /// dashboard and at /api/alerts); re-running a day replaces its alerts.
    Run(RunArgs),
    /// Run a detector over a counts file (cell,day,count) and write alarms
    /// (cell,day,method,alarm,upperbound,observed) for its last days, as
    /// ../shared/baselines/hotspots/score.py reads them.
    Eval(EvalArgs),
}

/// `fengqiao hotspots run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The day to test (YYYY-MM-DD, China time); default yesterday.
    #[arg(long)]
    pub date: Option<String>,
    /// Also write the night's JSON (alerts with their charts, topics, repeat callers) here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Where to write hotspots-DAY.html and hotspots-DAY.json (default: the data directory's
    /// `reports`).
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
}

/// `fengqiao hotspots eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Counts: CSV with header `cell,day,count`; a missing (cell, day) is 0.
    #[arg(long, value_name = "FILE")]
    pub counts: PathBuf,
    /// Where to write the alarms CSV.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Days at the end of the table to test.
    #[arg(long, default_value_t = 120)]
    pub last: usize,
    /// fengqiao (our detector), noufaily (farringtonFlexible as in the benchmark's R script), ears
    /// (EARS C2), or all three.
    #[arg(long, default_value = "fengqiao")]
    pub method: String,
    /// Per-cell-day significance level of our detector.
    #[arg(long)]
    pub alpha: Option<f64>,
    /// Longest window of our detector's cumulative test (1: each day alone, 2-14: also the sums
    /// over 2 to N days ending on the day).
    #[arg(long, default_value_t = 1)]
    pub windows: usize,
    /// Share of alpha spent on the windows of 2 or more days.
    #[arg(long)]
    pub window_share: Option<f64>,
    /// A window only counts while the day's own mid-p value is at most this.
    #[arg(long)]
    pub window_today_p: Option<f64>,
    /// Threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Reads `cell,day,count` into dense per-cell series over the table's day range.
pub fn read_counts(path: &Path) -> Result<(Vec<(String, Vec<u32>)>, i64)> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let headers = reader.headers().with_context(|| format!("{}: no header", path.display()))?.clone();
    let column = |name: &str| headers.iter().position(|h| h.trim() == name).with_context(|| format!("{}: no `{name}` column (need cell,day,count)", path.display()));
    let (c_cell, c_day, c_count) = (column("cell")?, column("day")?, column("count")?);
    let mut rows: BTreeMap<String, BTreeMap<i64, u32>> = BTreeMap::new();
    let (mut min, mut max) = (i64::MAX, i64::MIN);
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.with_context(|| format!("{}:{line}: not a CSV row", path.display()))?;
        let get = |c: usize| record.get(c).map(str::trim).unwrap_or_default();
        let day: i64 = get(c_day).parse().with_context(|| format!("{}:{line}: day `{}` is not a whole number", path.display(), get(c_day)))?;
        let count: u32 = get(c_count).parse().with_context(|| format!("{}:{line}: count `{}` is not a count (0 or more)", path.display(), get(c_count)))?;
        if get(c_cell).is_empty() {
            bail!("{}:{line}: the cell is empty", path.display());
        }
        if rows.entry(get(c_cell).to_string()).or_default().insert(day, count).is_some() {
            bail!("{}:{line}: cell `{}` day {day} appears twice", path.display(), get(c_cell));
        }
        min = min.min(day);
        max = max.max(day);
    }
    if rows.is_empty() {
        bail!("{}: no counts", path.display());
    }
    let len = (max - min + 1) as usize;
    let cells = rows
        .into_iter()
        .map(|(cell, days)| {
            let mut v = vec![0u32; len];
            for (d, c) in days {
                v[(d - min) as usize] = c;
            }
            (cell, v)
        })
        .collect();
    Ok((cells, min))
}

/// `fengqiao hotspots eval`.
pub fn eval(args: EvalArgs) -> Result<i32> {
    let (cells, first_day) = read_counts(&args.counts)?;
    let days = cells[0].1.len();
    if args.last == 0 || args.last > days {
        bail!("--last {} is outside the table's {days} days", args.last);
    }
    let mut settings = Settings::default();
    if let Some(a) = args.alpha {
        if !(a > 0.0 && a < 1.0) {
            bail!("--alpha must be between 0 and 1");
        }
        settings.alpha = a;
    }
    if !(1..=settings.guard).contains(&args.windows) {
        bail!("--windows must be between 1 and {} (the days between a baseline and the day tested)", settings.guard);
    }
    settings.windows = args.windows;
    if let Some(v) = args.window_share {
        if !(v > 0.0 && v < 1.0) {
            bail!("--window-share must be between 0 and 1");
        }
        settings.window_share = v;
    }
    if let Some(v) = args.window_today_p {
        if !(v > 0.0 && v <= 1.0) {
            bail!("--window-today-p must be above 0 and at most 1");
        }
        settings.window_today_p = v;
    }
    let methods = match args.method.as_str() {
        "fengqiao" => vec![Method::Fengqiao(settings)],
        "noufaily" => vec![Method::Noufaily],
        "ears" => vec![Method::EarsC2],
        "all" => vec![Method::Fengqiao(settings), Method::Noufaily, Method::EarsC2],
        other => bail!("--method `{other}` is not known; use fengqiao, noufaily, ears or all"),
    };
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    // Day numbers are weekdays counted from a Monday at day 0, as in the benchmark.
    let first_weekday = first_day.rem_euclid(7) as u8;
    let tmp = args.out.with_extension("tmp");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?);
    writeln!(out, "cell,day,method,alarm,upperbound,observed")?;
    for method in methods {
        let started = Instant::now();
        let rows = hotspot::evaluate(&cells, first_day, first_weekday, args.last, method, threads);
        let seconds = started.elapsed().as_secs_f64();
        let alarms = rows.iter().filter(|r| r.alarm).count();
        for r in &rows {
            let upper = match r.upper {
                Some(u) if u.fract() == 0.0 => format!("{}", u as i64),
                Some(u) => format!("{u:.4}"),
                None => "NA".to_string(),
            };
            writeln!(out, "{},{},{},{},{upper},{}", r.cell, r.day, method.name(), r.alarm as u8, r.observed)?;
        }
        eprintln!("{}: {} cells × {} days in {seconds:.2} s on {threads} threads, {alarms} alarms", method.name(), cells.len(), args.last);
    }
    out.flush()?;
    drop(out);
    std::fs::rename(&tmp, &args.out).with_context(|| format!("writing {}", args.out.display()))?;
    Ok(0)
}

/// `fengqiao hotspots run`: count, test, store the alerts, write the report. Exit code 0 whether
/// or not anything was flagged (cron mails the output); 1 when the run could not finish.
pub async fn run(config_dir: &Path, location: &super::history::Location, args: RunArgs) -> Result<i32> {
    use chrono::{Duration, NaiveDate, Utc};
    let sla = crate::config::load_sla(config_dir)?;
    let calendar = crate::config::load_calendar(config_dir)?;
    let offset = Duration::hours(sla.utc_offset_hours);
    let day = match &args.date {
        Some(d) => NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").with_context(|| format!("--date `{d}` is not a date; use YYYY-MM-DD"))?,
        None => (Utc::now() + offset).date_naive() - Duration::days(1),
    };
    let report_dir = args.report_dir.clone().unwrap_or_else(|| location.data_dir.join("reports"));
    let store = location.store().await?;
    let options = crate::service::night::NightOptions { day, utc_offset_hours: sla.utc_offset_hours, calendar, settings: hotspot::nightly::NightSettings::default(), report_dir: Some(report_dir.clone()) };
    let report = crate::service::night::run(&store, &options).await?;
    if let Some(path) = &args.json {
        super::write_atomically(path, format!("{}\n", serde_json::to_string_pretty(&report)?).as_bytes())?;
    }
    for a in &report.alerts {
        println!("{}\t{}\t{}\t{}", report.day, a.region, a.dispute_type.as_deref().unwrap_or("*"), a.reason);
    }
    for t in &report.topics {
        println!("{}\ttopic\t{}\t{} callers, {} cases", report.day, t.label.join(" "), t.callers, t.cases);
    }
    tracing::debug!(phases = ?report.phases, "hotspot phases");
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    let (html, json) = crate::service::night::report_paths(&report_dir, &report.day);
    eprintln!(
        "hotspots {}: {} cases read ({} repeats counted once, {} without a region not counted), {} cells, {} alerts, {} topics, {} repeat callers stored; report {} and {}; {:.1} s",
        report.day,
        report.cases_read,
        report.repeats,
        report.without_region,
        report.cells,
        report.alerts.len(),
        report.topics.len(),
        report.callers.len(),
        html.display(),
        json.display(),
        report.seconds
    );
    Ok(0)
}
