//! Count distributions for the detectors: negative-binomial and Poisson tails moment-matched to
//! a mean and a variance, mid-p values, and the upper bound an alarm is judged against. The
//! special functions are statrs's.

use statrs::function::beta::beta_reg;
use statrs::function::gamma::gamma_lr;

/// P(Y ≥ s) for a count Y with the given mean and variance: negative binomial (size
/// mean²/(var − mean)) when var > mean, Poisson otherwise.
pub fn tail(s: f64, mean: f64, var: f64) -> f64 {
    if s <= 0.0 {
        return 1.0;
    }
    if !(mean > 0.0) {
        return 0.0;
    }
    if var > mean * (1.0 + 1e-9) {
        let size = mean * mean / (var - mean);
        let q = mean / var;
        // P(Y ≤ s−1) = I_q(size, s), so P(Y ≥ s) = I_{1−q}(s, size).
        beta_reg(s, size, 1.0 - q).clamp(0.0, 1.0)
    } else {
        // P(Y ≥ s) = P(s, mean), the regularized lower incomplete gamma function.
        gamma_lr(s, mean).clamp(0.0, 1.0)
    }
}

/// The mid-p value of observing `y`: half the probability of `y` itself plus everything above.
/// It ranks sparse cells (where one case jumps the exact p-value) and dense ones more evenly.
pub fn mid_p(y: f64, mean: f64, var: f64) -> f64 {
    0.5 * (tail(y, mean, var) + tail(y + 1.0, mean, var))
}

/// The largest count whose mid-p value is above `alpha`: an alarm is raised exactly when the
/// observed count exceeds it.
pub fn upper_bound(mean: f64, var: f64, alpha: f64) -> u32 {
    // p is decreasing in y; walk up from the mean (counts here are at most thousands a day).
    let mut y = mean.floor().max(0.0) as u32;
    while mid_p(y as f64, mean, var) <= alpha && y > 0 {
        y -= 1;
    }
    while mid_p(y as f64 + 1.0, mean, var) > alpha {
        y += 1;
        if y > 1_000_000 {
            break;
        }
    }
    y
}

/// The `1 − alpha` quantile of a negative binomial with mean `mean` and variance
/// `dispersion × mean` (Poisson when `dispersion ≤ 1`): R's `qnbinom(1 − α, size = μ/(φ − 1),
/// prob = 1/φ)`, the threshold farringtonFlexible uses.
pub fn quantile(mean: f64, dispersion: f64, alpha: f64) -> u32 {
    if !(mean > 0.0) {
        return 0;
    }
    let var = if dispersion > 1.0 { dispersion * mean } else { mean };
    // The smallest y with P(Y ≤ y) ≥ 1 − α, i.e. P(Y ≥ y + 1) ≤ α.
    let mut y = 0u32;
    while tail(y as f64 + 1.0, mean, var) > alpha {
        y += 1;
        if y > 1_000_000 {
            break;
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn poisson_tails_match_hand_values() {
        // P(Y ≥ 1) for Poisson(2) = 1 − e^−2.
        assert!(close(tail(1.0, 2.0, 2.0), 1.0 - (-2f64).exp(), 1e-12));
        // P(Y ≥ 3) for Poisson(1) = 1 − e^−1 (1 + 1 + 1/2).
        assert!(close(tail(3.0, 1.0, 1.0), 1.0 - (-1f64).exp() * 2.5, 1e-12));
        assert_eq!(tail(0.0, 5.0, 5.0), 1.0);
        assert_eq!(tail(2.0, 0.0, 0.0), 0.0);
    }

    #[test]
    fn negative_binomial_tails_match_the_geometric_case() {
        // size 1 is geometric: P(Y ≥ s) = (1 − q)^s with q = mean/var.
        let (mean, var) = (2.0, 6.0); // size = 4/4 = 1, q = 1/3
        for s in 1..6 {
            assert!(close(tail(s as f64, mean, var), (2.0f64 / 3.0).powi(s), 1e-10), "s = {s}");
        }
    }

    #[test]
    fn quantiles_match_r() {
        // qpois(0.99, 2) = 6; qnbinom(0.99, size = 2, prob = 0.5) = 9 (mean 2, var 4: φ = 2).
        assert_eq!(quantile(2.0, 1.0, 0.01), 6);
        assert_eq!(quantile(2.0, 2.0, 0.01), 9);
        assert_eq!(quantile(0.0, 2.0, 0.01), 0);
    }

    #[test]
    fn the_upper_bound_separates_alarms_from_the_rest() {
        for (mean, var) in [(0.3, 0.3), (2.0, 2.0), (2.0, 5.0), (25.0, 60.0)] {
            let u = upper_bound(mean, var, 0.01);
            assert!(mid_p(u as f64, mean, var) > 0.01);
            assert!(mid_p(u as f64 + 1.0, mean, var) <= 0.01);
        }
    }
}
