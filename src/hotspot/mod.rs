//! Hotspot statistics: is a cell's count today (a region × dispute type, at any level of the
//! region tree) higher than its history explains? No I/O here: callers hand in daily counts and
//! get decisions back. `detect` is our detector, `reference` the public-health methods it is
//! compared with, `stats` the count distributions both use, and [`evaluate`] runs a method over
//! a whole counts table the way the benchmark in `../shared/baselines/hotspots` scores it.

pub mod calendar;
pub mod callers;
pub mod cells;
pub mod detect;
pub mod nightly;
pub mod reference;
pub mod report;
pub mod stats;
pub mod terms;

pub use detect::{Baseline, Decision, Series, Settings};

/// A method `evaluate` can run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    /// Our detector (see [`detect`]).
    Fengqiao(Settings),
    /// farringtonFlexible as in the benchmark's R reference.
    Noufaily,
    /// EARS C2.
    EarsC2,
}

impl Method {
    /// The name written in the alarms file's `method` column: `fengqiao`, or `fengqiao_wN` with
    /// the cumulative windows of up to N days.
    pub fn name(&self) -> String {
        match self {
            Method::Fengqiao(s) if s.windows > 1 => format!("fengqiao_w{}", s.windows),
            Method::Fengqiao(_) => "fengqiao".into(),
            Method::Noufaily => "noufaily_rs".into(),
            Method::EarsC2 => "earsC2_rs".into(),
        }
    }
}

/// One row of an alarms file: `cell,day,method,alarm,upperbound,observed`.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmRow {
    /// Cell name.
    pub cell: String,
    /// Day number.
    pub day: i64,
    /// Whether the method alarmed.
    pub alarm: bool,
    /// Its upper bound (`None` when the day was not tested).
    pub upper: Option<f64>,
    /// The count.
    pub observed: u32,
}

/// Runs `method` on every cell for each of the `last` days of the table, each day using only
/// the days before and including it. `cells` are (name, counts from day `first_day`), the
/// weekday of `first_day` being `first_weekday` (0 = Monday). Our detector refits its baseline
/// once a week (its history ends two weeks before the day tested, so a weekly fit never sees
/// the days it tests) and runs cells in parallel on `threads` threads.
pub fn evaluate(cells: &[(String, Vec<u32>)], first_day: i64, first_weekday: u8, last: usize, method: Method, threads: usize) -> Vec<AlarmRow> {
    let work = |(name, counts): &(String, Vec<u32>)| -> Vec<AlarmRow> {
        let n = counts.len();
        let from = n.saturating_sub(last);
        let series = Series::plain(counts, first_weekday);
        let mut rows = Vec::with_capacity(n - from);
        let mut baseline: Option<Baseline> = None;
        for t in from..n {
            let (alarm, upper) = match method {
                Method::Fengqiao(settings) => {
                    if (t - from) % 7 == 0 || baseline.is_none() {
                        baseline = detect::fit(&series, t, &settings, baseline.as_ref());
                    }
                    match &baseline {
                        Some(b) => {
                            let d = detect::decide(&series, t, b, &settings);
                            (d.alarm, Some(d.upper as f64))
                        }
                        None => (false, None),
                    }
                }
                Method::Noufaily => {
                    let v = reference::noufaily(counts, t);
                    (v.alarm, v.upper)
                }
                Method::EarsC2 => {
                    let v = reference::ears_c2(counts, t);
                    (v.alarm, v.upper)
                }
            };
            rows.push(AlarmRow { cell: name.clone(), day: first_day + t as i64, alarm, upper, observed: counts[t] });
        }
        rows
    };
    let threads = threads.max(1).min(cells.len().max(1));
    let chunk = cells.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = cells.chunks(chunk).map(|part| scope.spawn(move || part.iter().flat_map(work).collect::<Vec<_>>())).collect();
        handles.into_iter().flat_map(|h| h.join().expect("a detector thread panicked")).collect()
    })
}
