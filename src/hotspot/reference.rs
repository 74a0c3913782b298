//! The public-health methods the detector is compared with, in Rust, so the comparison can be
//! run on freshly simulated series where R is not installed:
//!
//! - `noufaily`: R surveillance's `farringtonFlexible` (the improved Farrington method of
//!   Noufaily et al. 2013) with the settings of `../shared/baselines/hotspots/farrington.R`
//!   adapted to daily data: b = 2 years, w = 21 days, 10 seasonal levels, the last 182 days
//!   left out, no trend, Anscombe reweighting at 2.58, negative-binomial plug-in threshold at
//!   α = 0.01, and the "fewer than 5 cases in 4 weeks" rule. Without a trend the model is one
//!   mean per level, so it has a closed form.
//! - `ears_c2`: EARS C2 (7-day baseline ending 3 days before, α = 0.001).
//!
//! Both are checked against R's alarms on the benchmark's reference set (see BENCHMARKS.md).

use super::stats;

/// One day's result of a reference method.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// Upper bound, if the day was tested.
    pub upper: Option<f64>,
    /// Alarm.
    pub alarm: bool,
}

const YEAR: i64 = 365;

/// farringtonFlexible as configured in the benchmark, for day `t` of `counts`.
pub fn noufaily(counts: &[u32], t: usize) -> Verdict {
    const B: i64 = 2;
    const W: i64 = 21;
    const LEVELS: usize = 10;
    const LEFT_OUT: i64 = 182;
    const ALPHA: f64 = 0.01;
    let t = t as i64;
    // The "limit54" rule: fewer than 5 cases in the last 4 weeks means no test.
    let recent: u32 = counts[(t - 27).max(0) as usize..=t as usize].iter().sum();
    if recent < 5 {
        return Verdict { upper: None, alarm: false };
    }
    // Days and their levels: the reference window around each past year is level LEVELS−1; the
    // gap between consecutive windows is split in time order into LEVELS−1 blocks.
    let mut obs: Vec<(usize, f64)> = Vec::new();
    for i in 1..=B {
        let centre = t - YEAR * i;
        for d in centre - W..=centre + W {
            obs.push((LEVELS - 1, d as f64));
        }
        let gap_start = centre + W + 1;
        let gap_end = t - YEAR * (i - 1) - W - 1;
        let len = gap_end - gap_start + 1;
        if len > 0 {
            let blocks = (LEVELS - 1) as i64;
            let (base, extra) = (len / blocks, len % blocks);
            let mut d = gap_start;
            for b in 0..blocks {
                let size = base + if b < extra { 1 } else { 0 };
                for _ in 0..size {
                    obs.push((b as usize, d as f64));
                    d += 1;
                }
            }
        }
    }
    let data: Vec<(usize, f64)> = obs
        .into_iter()
        .filter(|&(_, d)| d >= 0.0 && (d as i64) < t - LEFT_OUT)
        .map(|(l, d)| (l, counts[d as usize] as f64))
        .collect();
    if data.is_empty() {
        return Verdict { upper: None, alarm: false };
    }
    let n = data.len() as f64;
    let fit = |weights: &[f64]| -> ([f64; LEVELS], [f64; LEVELS]) {
        let (mut sum, mut wsum) = ([0.0; LEVELS], [0.0; LEVELS]);
        for ((l, y), w) in data.iter().zip(weights) {
            sum[*l] += w * y;
            wsum[*l] += w;
        }
        let mut mu = [0.0; LEVELS];
        for l in 0..LEVELS {
            if wsum[l] > 0.0 {
                mu[l] = sum[l] / wsum[l];
            }
        }
        (mu, wsum)
    };
    let present = |counts: &[f64; LEVELS]| counts.iter().filter(|c| **c > 0.0).count() as f64;
    let ones = vec![1.0; data.len()];
    let (mu, sizes) = fit(&ones);
    let r = present(&sizes);
    let dispersion = |mu: &[f64; LEVELS], w: &[f64]| -> f64 {
        let s: f64 = data.iter().zip(w).map(|((l, y), w)| if mu[*l] > 0.0 { w * (y - mu[*l]).powi(2) / mu[*l] } else { 0.0 }).sum();
        (s / (n - r)).max(1.0)
    };
    let phi0 = dispersion(&mu, &ones);
    let raw: Vec<f64> = data
        .iter()
        .map(|(l, y)| {
            let m = mu[*l];
            if m <= 0.0 {
                return 1.0;
            }
            let h = 1.0 / sizes[*l];
            let s = 1.5 * (y.powf(2.0 / 3.0) * m.powf(-1.0 / 6.0) - m.sqrt()) / (phi0 * (1.0 - h)).sqrt();
            if s > 2.58 { s.powi(-2) } else { 1.0 }
        })
        .collect();
    let scale = n / raw.iter().sum::<f64>();
    let weights: Vec<f64> = raw.iter().map(|w| w * scale).collect();
    let (mu, _) = fit(&weights);
    let phi = dispersion(&mu, &weights);
    let mu0 = mu[LEVELS - 1];
    let upper = if mu0 > 0.0 { stats::quantile(mu0, phi, ALPHA) as f64 } else { 0.0 };
    let y = counts[t as usize] as f64;
    Verdict { upper: Some(upper), alarm: y > upper && y > 0.0 }
}

/// EARS C2 for day `t`: the mean and standard deviation of days t−9..t−3, and an alarm above
/// mean + 3.09 sd (α = 0.001).
pub fn ears_c2(counts: &[u32], t: usize) -> Verdict {
    if t < 9 {
        return Verdict { upper: None, alarm: false };
    }
    let base: Vec<f64> = counts[t - 9..=t - 3].iter().map(|&y| y as f64).collect();
    let n = base.len() as f64;
    let mean = base.iter().sum::<f64>() / n;
    let sd = (base.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    // qnorm(1 − 0.001).
    let upper = mean + 3.090_232_306_167_813 * sd;
    Verdict { upper: Some(upper), alarm: counts[t] as f64 > upper }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ears_c2_alarms_above_three_standard_deviations() {
        let mut c = vec![2, 3, 2, 3, 2, 3, 2, 0, 0, 2];
        assert!(!ears_c2(&c, 9).alarm);
        c[9] = 5;
        assert!(ears_c2(&c, 9).alarm);
        assert_eq!(ears_c2(&c, 5).upper, None);
    }

    #[test]
    fn noufaily_needs_five_cases_in_four_weeks() {
        let c = vec![0u32; 1000];
        assert_eq!(noufaily(&c, 999), Verdict { upper: None, alarm: false });
        let mut c = vec![1u32; 1000];
        c[999] = 9;
        let v = noufaily(&c, 999);
        assert!(v.alarm, "{v:?}");
        assert!(v.upper.unwrap() >= 1.0);
    }
}
