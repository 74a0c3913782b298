//! One night's detection over every cell: each cell's test (see [`super::detect`]), the
//! Benjamini–Hochberg procedure across all cells tested that night, and hierarchy pruning so an
//! alert names the level where the signal is: a significant cell whose significant children
//! explain its excess is dropped in favour of them.

use super::calendar::DayKind;
use super::cells::{Cell, Counts};
use super::detect::{self, Settings};
use super::stats;

/// Days of each alert's chart: observed against the expected band.
pub const CHART_DAYS: usize = 56;

/// Night settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NightSettings {
    /// The per-cell detector (its `alpha` is not used; BH decides).
    pub detector: Settings,
    /// False discovery rate across all cells tested in a night.
    pub fdr: f64,
    /// Cells whose expected count is below this are not tested (independent filtering: it does
    /// not look at today's count, so BH stays valid). 0 by default: a kind of dispute a village
    /// never had before is exactly what should show; the case and caller minimums keep single
    /// stray cases out.
    pub min_expected: f64,
    /// Fewest cases on the day for an alert.
    pub min_cases: u32,
    /// Fewest distinct callers on the day for an alert.
    pub min_callers: u32,
    /// A parent whose excess beyond its significant children has a p-value above this is
    /// explained by them.
    pub explained_above: f64,
}

impl Default for NightSettings {
    fn default() -> Self {
        NightSettings { detector: Settings { min_count: 3, windows: 14, ..Settings::default() }, fdr: 0.05, min_expected: 0.0, min_cases: 3, min_callers: 2, explained_above: 0.05 }
    }
}

/// A cell whose count rose on the night's day.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The cell.
    pub cell: Cell,
    /// Cases counted that day.
    pub observed: u32,
    /// Distinct callers that day.
    pub callers: u32,
    /// Cases expected.
    pub expected: f64,
    /// The largest count that would not have alarmed at the detector's own alpha.
    pub upper: u32,
    /// Combined p-value over today and the cumulative windows.
    pub p: f64,
    /// BH-adjusted p-value (q-value).
    pub q: f64,
    /// Days of the window that carries the signal (1: today alone).
    pub window: usize,
    /// Cases in that window.
    pub window_observed: u32,
    /// Cases expected in that window.
    pub window_expected: f64,
    /// Significant cells below this one that did not explain all of it.
    pub children: Vec<Cell>,
    /// The last [`CHART_DAYS`] days ending on the night's day, oldest first.
    pub chart: Vec<ChartDay>,
}

/// One day of an alert's chart.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ChartDay {
    /// Day number (days since 1970-01-01, local).
    pub day: i64,
    /// Cases counted.
    pub observed: u32,
    /// Cases expected by the baseline fitted for the night.
    pub expected: f64,
    /// The largest count inside the expected band.
    pub upper: u32,
}

struct Tested {
    cell: Cell,
    decision: detect::Decision,
    callers: u32,
    /// (sum, expected, variance) of the windows of 1..=W days ending on the night's day.
    windows: Vec<(f64, f64, f64)>,
    start: usize,
    baseline: detect::Baseline,
}

fn parent_of(cell: &Cell) -> Vec<Cell> {
    let mut parents = Vec::new();
    if let Some((up, _)) = cell.region.rsplit_once('/') {
        parents.push(Cell { region: up.to_string(), dispute_type: cell.dispute_type.clone() });
    }
    if cell.dispute_type.is_some() {
        parents.push(Cell { region: cell.region.clone(), dispute_type: None });
    }
    parents
}

/// Benjamini–Hochberg q-values, in the order given.
pub fn bh(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|a, b| p[*a].total_cmp(&p[*b]));
    let mut q = vec![1.0; m];
    let mut running: f64 = 1.0;
    for (rank, &i) in order.iter().enumerate().rev() {
        running = running.min(p[i] * m as f64 / (rank + 1) as f64);
        q[i] = running.min(1.0);
    }
    q
}

/// Days without a single case anywhere after which intake counts as having started afresh.
pub const INTAKE_GAP_DAYS: usize = 30;

/// The first day of the history the night reads: the first case anywhere, or, when intake was
/// silent everywhere for [`INTAKE_GAP_DAYS`] or more (a system not yet in use, with a few stray
/// early records; a long shutdown), the first case after the last such silence. Shorter silences
/// are outages and stay in the history as zeros.
fn intake_start(counts: &Counts, t: usize) -> usize {
    let mut total = vec![0u64; t + 1];
    for (cell, series) in &counts.cells {
        if cell.dispute_type.is_none() && !cell.region.contains('/') {
            for (d, n) in series.cases[..=t].iter().enumerate() {
                total[d] += *n as u64;
            }
        }
    }
    let (mut start, mut silent) = (None, INTAKE_GAP_DAYS);
    for (d, n) in total.iter().enumerate() {
        if *n == 0 {
            silent += 1;
        } else {
            if silent >= INTAKE_GAP_DAYS {
                start = Some(d);
            }
            silent = 0;
        }
    }
    start.unwrap_or(0).min(t)
}

/// Tests day index `t` of every cell and returns the alerts, strongest first. `kinds` gives each
/// day's holiday kind (aligned with the counts; empty for no calendar).
pub fn detect_day(counts: &Counts, t: usize, settings: &NightSettings, kinds: &[DayKind]) -> Vec<Alert> {
    // Days before the first case anywhere are before intake began, not days without disputes:
    // every cell's history starts there (a cell's own first case may come later; its zeros
    // until then are real).
    // Likewise a region node's history begins with its first case of any type: a village that
    // was created, merged or renamed had no days before that, and reading them as zeros would
    // make its ordinary traffic look like a rise. A type's zeros inside a known region are real.
    let global_start = intake_start(counts, t);
    let region_start: std::collections::HashMap<&str, usize> = counts
        .cells
        .iter()
        .filter(|(c, _)| c.dispute_type.is_none())
        .map(|(c, s)| (c.region.as_str(), s.cases.iter().position(|&n| n > 0).unwrap_or(t).max(global_start).min(t)))
        .collect();
    let all_kinds = if kinds.len() == counts.days { kinds } else { &[][..] };
    // Day 0 (1970-01-01) was a Thursday; weekday 0 is Monday.
    let weekday_at = |start: usize| (counts.first_day + start as i64 + 3).rem_euclid(7) as u8;
    let work = |(cell, series): (&Cell, &super::cells::CellSeries)| -> Option<Tested> {
        let start = region_start.get(cell.region.as_str()).copied().unwrap_or(global_start);
        let weekday = weekday_at(start);
        let kinds = if all_kinds.is_empty() { all_kinds } else { &all_kinds[start..] };
        let s = detect::Series { counts: &series.cases[start..], first_weekday: weekday, kinds };
        let day = t - start;
        let baseline = detect::fit(&s, day, &settings.detector, None)?;
        let (expected, _) = detect::expect(&s, day, &baseline);
        if expected < settings.min_expected {
            return None;
        }
        let decision = detect::decide(&s, day, &baseline, &settings.detector);
        let mut windows = Vec::with_capacity(settings.detector.windows);
        let (mut y, mut e, mut v) = (0.0, 0.0, 0.0);
        for l in 1..=settings.detector.windows.max(1).min(day + 1) {
            let (m, var) = detect::expect(&s, day + 1 - l, &baseline);
            y += s.counts[day + 1 - l] as f64;
            e += m;
            v += var;
            windows.push((y, e, v));
        }
        let callers = series.callers[t + 1 - decision.window..=t].iter().sum();
        Some(Tested { cell: cell.clone(), decision, callers, windows, start, baseline })
    };
    let all: Vec<(&Cell, &super::cells::CellSeries)> = counts.cells.iter().collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(all.len().max(1));
    let chunk = all.len().div_ceil(threads).max(1);
    let tested: Vec<Tested> = std::thread::scope(|scope| {
        let handles: Vec<_> = all.chunks(chunk).map(|part| scope.spawn(move || part.iter().filter_map(|c| work(*c)).collect::<Vec<_>>())).collect();
        handles.into_iter().flat_map(|h| h.join().expect("a detector thread panicked")).collect()
    });
    let q = bh(&tested.iter().map(|x| x.decision.combined_p).collect::<Vec<_>>());
    let significant: Vec<(usize, f64)> = tested
        .iter()
        .enumerate()
        .filter(|(i, x)| {
            let cases = if x.decision.window == 1 { x.decision.observed } else { x.decision.window_observed };
            q[*i] <= settings.fdr && cases >= settings.min_cases && x.callers >= settings.min_callers && x.decision.observed >= 1
        })
        .map(|(i, _)| (i, q[i]))
        .collect();
    let index: std::collections::HashMap<&Cell, usize> = significant.iter().map(|(i, _)| (&tested[*i].cell, *i)).collect();
    // Children of each significant cell that are significant too.
    let mut children: std::collections::HashMap<usize, Vec<usize>> = std::collections::HashMap::new();
    for (i, _) in &significant {
        for parent in parent_of(&tested[*i].cell) {
            if let Some(&p) = index.get(&parent) {
                children.entry(p).or_default().push(*i);
            }
        }
    }
    let mut alerts = Vec::new();
    for (i, qv) in significant {
        let x = &tested[i];
        let kids = children.get(&i).cloned().unwrap_or_default();
        // The excess beyond the significant children over the parent's own window, per kind of
        // child (region below, or type within): if either kind explains the rise, the parent
        // is not an alert of its own.
        let w = x.decision.window;
        let explained = [true, false].iter().any(|&by_region| {
            let group: Vec<&Tested> = kids.iter().map(|k| &tested[*k]).filter(|k| (k.cell.region != x.cell.region) == by_region).collect();
            if group.is_empty() {
                return false;
            }
            let at = |k: &Tested| k.windows.get(w - 1).or(k.windows.last()).copied().unwrap_or_default();
            let (py, pe, pv) = at(x);
            let y = (py - group.iter().map(|k| at(k).0).sum::<f64>()).max(0.0);
            let mu = (pe - group.iter().map(|k| at(k).1).sum::<f64>()).max(1e-3);
            let v = (pv - group.iter().map(|k| at(k).2).sum::<f64>()).max(mu);
            stats::mid_p(y, mu, v) > settings.explained_above
        });
        if explained {
            continue;
        }
        let series = &counts.cells[&x.cell].cases;
        let weekday = weekday_at(x.start);
        let kinds = if all_kinds.is_empty() { all_kinds } else { &all_kinds[x.start..] };
        let s = detect::Series { counts: &series[x.start..], first_weekday: weekday, kinds };
        let chart = (t + 1).saturating_sub(CHART_DAYS).max(x.start)..=t;
        let chart = chart
            .map(|d| {
                let (m, v) = detect::expect(&s, d - x.start, &x.baseline);
                ChartDay { day: counts.first_day + d as i64, observed: series[d], expected: m, upper: stats::upper_bound(m, v, settings.detector.alpha) }
            })
            .collect();
        alerts.push(Alert {
            cell: x.cell.clone(),
            observed: x.decision.observed,
            callers: x.callers,
            expected: x.decision.expected,
            upper: x.decision.upper,
            p: x.decision.combined_p,
            q: qv,
            window: w,
            window_observed: x.decision.window_observed,
            window_expected: x.decision.window_expected,
            children: kids.iter().map(|k| tested[*k].cell.clone()).collect(),
            chart,
        });
    }
    alerts.sort_by(|a, b| a.q.total_cmp(&b.q).then(b.observed.cmp(&a.observed)));
    alerts
}

#[cfg(test)]
mod tests {
    use super::super::cells::{CaseFact, count};
    use super::*;

    #[test]
    fn bh_matches_a_hand_example() {
        // Ranks 1..4 are 0.01, 0.03, 0.04, 0.5: raw p·m/rank = 0.04, 0.06, 0.0533, 0.5, then the
        // running minimum from the top makes rank 2 0.0533 too.
        let q = bh(&[0.01, 0.04, 0.03, 0.5]);
        let expect = [0.04, 0.16 / 3.0, 0.16 / 3.0, 0.5];
        for (a, b) in q.iter().zip(expect) {
            assert!((a - b).abs() < 1e-12, "{q:?}");
        }
    }

    /// Two villages with steady daily traffic over two years; on the last day one village gets
    /// a burst from many callers.
    fn facts(burst: usize) -> Vec<CaseFact> {
        let mut f = Vec::new();
        let mut state = 99u64;
        for day in 0..800i64 {
            for village in ["枫源村", "湄池村"] {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let n = 1 + (state >> 62) as usize;
                for k in 0..n {
                    let region = format!("浙江省/绍兴市/诸暨市/枫桥镇/{village}");
                    f.push(CaseFact { day, region, other_regions: Vec::new(), dispute_type: "neighbor".into(), caller: Some(format!("{day}-{village}-{k}")), repeat: false });
                }
            }
        }
        for k in 0..burst {
            f.push(CaseFact { day: 799, region: "浙江省/绍兴市/诸暨市/枫桥镇/枫源村".into(), other_regions: Vec::new(), dispute_type: "labor".into(), caller: Some(format!("burst-{k}")), repeat: false });
        }
        f
    }

    #[test]
    fn a_quiet_night_raises_nothing() {
        let counts = count(&facts(0), 0, 800);
        let alerts = detect_day(&counts, 799, &NightSettings::default(), &[]);
        assert!(alerts.is_empty(), "{alerts:?}");
    }

    #[test]
    fn the_alert_names_the_village_not_the_whole_county() {
        let counts = count(&facts(12), 0, 800);
        let alerts = detect_day(&counts, 799, &NightSettings::default(), &[]);
        assert!(!alerts.is_empty());
        let top = &alerts[0];
        assert_eq!(top.cell.region, "浙江省/绍兴市/诸暨市/枫桥镇/枫源村", "{alerts:#?}");
        assert_eq!(top.cell.dispute_type.as_deref(), Some("labor"));
        // Its ancestors are explained by it and are not alerts of their own.
        assert!(alerts.iter().all(|a| a.cell.region.ends_with("枫源村")), "{alerts:#?}");
        assert!(top.callers >= 12);
    }

    /// Two villages, `days` days from `first`, each day's count per village from `n(day, u)`
    /// with `u` a pseudo-random number in 0..4.
    fn villages(first: i64, days: i64, n: impl Fn(i64, u64) -> u64, path: impl Fn(i64, &str) -> String) -> Vec<CaseFact> {
        let mut f = Vec::new();
        let mut state = 7u64;
        for day in first..first + days {
            for village in ["枫源村", "湄池村"] {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                for k in 0..n(day, state >> 62) {
                    f.push(CaseFact { day, region: path(day, village), other_regions: Vec::new(), dispute_type: "neighbor".into(), caller: Some(format!("{day}-{village}-{k}")), repeat: false });
                }
            }
        }
        f
    }

    fn township(_: i64, village: &str) -> String {
        format!("浙江省/绍兴市/诸暨市/枫桥镇/{village}")
    }

    fn day_of(s: &str) -> i64 {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap().signed_duration_since(chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days()
    }

    #[test]
    fn the_backlog_after_a_holiday_is_not_an_alert_storm() {
        use super::super::calendar::{Calendar, DayKind};
        let calendar = Calendar::parse(include_str!("../../config/holidays.toml")).unwrap();
        let last = day_of("2025-10-09"); // the first working day after National Day
        let first = last - 799;
        let kinds = calendar.kinds(first, 800);
        // Few cases on days off, two and a half times as many on the two days after a long break.
        let n = |day: i64, u: u64| match kinds[(day - first) as usize] {
            DayKind::Off => u / 3,
            DayKind::After => 5 + u,
            _ => 1 + u,
        };
        let counts = count(&villages(first, 800, n, township), first, 800);
        let alerts = detect_day(&counts, 799, &NightSettings::default(), &kinds);
        assert!(alerts.is_empty(), "with the calendar: {alerts:#?}");
        // Without the calendar the same night would alarm: the test has teeth.
        assert!(!detect_day(&counts, 799, &NightSettings::default(), &[]).is_empty());
        // On a holiday itself, nothing either.
        let on = (day_of("2025-10-03") - first) as usize;
        let counts = count(&villages(first, on as i64 + 1, n, township), first, on + 1);
        assert!(detect_day(&counts, on, &NightSettings::default(), &kinds[..on + 1]).is_empty());
    }

    #[test]
    fn an_intake_outage_raises_nothing_during_or_after_it() {
        // Five days without a single case (the hotline was down), then normal traffic.
        let n = |day: i64, u: u64| if (780..785).contains(&day) { 0 } else { 1 + u };
        for t in [782usize, 785, 786] {
            let counts = count(&villages(0, t as i64 + 1, n, township), 0, t + 1);
            let alerts = detect_day(&counts, t, &NightSettings::default(), &[]);
            assert!(alerts.is_empty(), "day {t}: {alerts:#?}");
        }
    }

    #[test]
    fn a_region_tree_that_changes_does_not_raise_alerts() {
        // On day 700 枫源村 is merged into a new 枫溪村 and the township is renamed: the old
        // cells stop, new cells start with only a hundred days of history.
        let path = |day: i64, village: &str| {
            if day < 700 { format!("浙江省/绍兴市/诸暨市/枫桥镇/{village}") } else if village == "枫源村" { "浙江省/绍兴市/诸暨市/枫桥街道/枫溪村".to_string() } else { format!("浙江省/绍兴市/诸暨市/枫桥街道/{village}") }
        };
        for t in [700usize, 727, 760, 799] {
            let counts = count(&villages(0, t as i64 + 1, |_, u| 1 + u, path), 0, t + 1);
            let alerts = detect_day(&counts, t, &NightSettings::default(), &[]);
            assert!(alerts.is_empty(), "day {t}: {alerts:#?}");
        }
    }

    #[test]
    fn a_slow_ramp_is_caught_by_the_cumulative_windows() {
        // Ten days of a few extra cases a day in one village: no single day stands out much.
        let n = |day: i64, u: u64| if day >= 790 { 3 + u } else { 1 + u };
        let counts = count(&villages(0, 800, n, township), 0, 800);
        let single = NightSettings { detector: Settings { windows: 1, ..NightSettings::default().detector }, ..NightSettings::default() };
        let scan = detect_day(&counts, 799, &NightSettings::default(), &[]);
        assert!(!scan.is_empty());
        assert!(scan[0].window > 1, "{:#?}", scan[0]);
        assert!(scan[0].window_observed > scan[0].observed);
        assert!(detect_day(&counts, 799, &single, &[]).len() < scan.len(), "the windows find what single days miss");
        assert_eq!(scan[0].chart.len(), CHART_DAYS);
        assert_eq!(scan[0].chart.last().unwrap().observed, scan[0].observed);
    }

    #[test]
    fn a_few_stray_records_long_before_intake_began_do_not_count_as_history() {
        // Three records in the first year, then nothing for months, then daily intake from day
        // 600: the months of silence are not zeros of every cell.
        let n = |day: i64, u: u64| if [10, 200, 300].contains(&day) { 1 } else if day >= 600 { 1 + u } else { 0 };
        let counts = count(&villages(0, 800, n, township), 0, 800);
        assert_eq!(intake_start(&counts, 799), 600);
        assert!(detect_day(&counts, 799, &NightSettings::default(), &[]).is_empty());
        // A five-day outage is not a new start.
        let outage = |day: i64, u: u64| if (700..705).contains(&day) { 0 } else { 1 + u };
        assert_eq!(intake_start(&count(&villages(0, 800, outage, township), 0, 800), 799), 0);
    }
}
