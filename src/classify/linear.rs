//! A sparse linear classifier of our own: one-vs-rest L2-regularised squared-hinge SVMs trained
//! by dual coordinate descent (the method of liblinear and scikit-learn's LinearSVC), with
//! probabilities from a softmax over the scores whose temperature is fitted on held-out scores.
//!
//! Why not linfa: every linfa 0.8 supervised model fits a dense `Array2`, so a 100k-term text
//! vocabulary costs documents × terms × classes in time and memory (STACK.md measured 31 s and
//! 300 MiB at a 5k vocabulary, and minutes to gigabytes at 64k). Dual coordinate descent touches
//! only the non-zero features of each document, so a full fit takes well under a second.

use serde::{Deserialize, Serialize};

use super::features::SparseVector;

/// Settings of one fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearSettings {
    /// Inverse regularisation strength (larger fits the training data more closely).
    pub c: f64,
    /// Passes over the data at most.
    pub max_iter: usize,
    /// Stop when the projected gradient spread falls below this.
    pub eps: f64,
    /// Weight each class's examples inversely to its frequency.
    pub balanced: bool,
    /// Seed for the visiting order.
    pub seed: u64,
}

impl Default for LinearSettings {
    fn default() -> Self {
        LinearSettings { c: 0.5, max_iter: 200, eps: 0.05, balanced: true, seed: 0 }
    }
}

/// A trained classifier head: class names, weights and the softmax temperature.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinearHead {
    classes: Vec<String>,
    n_features: usize,
    /// Feature-major: the weights of feature `j` are `weights[j * k .. (j + 1) * k]`.
    weights: Vec<f32>,
    bias: Vec<f32>,
    temperature: f32,
}

/// splitmix64: a small, seedable generator so that training is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// Fits one binary squared-hinge SVM; returns (weights, bias).
fn fit_binary(x: &[SparseVector], positive: &[bool], cost: &[f64], n_features: usize, s: &LinearSettings) -> (Vec<f64>, f64) {
    let n = x.len();
    let mut w = vec![0.0f64; n_features];
    let mut b = 0.0f64;
    let mut alpha = vec![0.0f64; n];
    let diag: Vec<f64> = cost.iter().map(|c| 0.5 / c).collect();
    // The bias is an extra feature of value 1, regularised like the others (as in liblinear).
    let qd: Vec<f64> = x.iter().zip(&diag).map(|(xi, d)| xi.val.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() + 1.0 + d).collect();
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = Rng(s.seed);
    for _ in 0..s.max_iter {
        rng.shuffle(&mut order);
        let (mut max_pg, mut min_pg) = (f64::NEG_INFINITY, f64::INFINITY);
        for &i in &order {
            let yi = if positive[i] { 1.0 } else { -1.0 };
            let xi = &x[i];
            let dot: f64 = xi.iter().map(|(j, v)| w[j] * v as f64).sum::<f64>() + b;
            let g = yi * dot - 1.0 + diag[i] * alpha[i];
            let pg = if alpha[i] == 0.0 { g.min(0.0) } else { g };
            max_pg = max_pg.max(pg);
            min_pg = min_pg.min(pg);
            if pg.abs() > 1e-12 {
                let old = alpha[i];
                alpha[i] = (old - g / qd[i]).max(0.0);
                let d = (alpha[i] - old) * yi;
                for (j, v) in xi.iter() {
                    w[j] += d * v as f64;
                }
                b += d;
            }
        }
        if max_pg - min_pg < s.eps {
            break;
        }
    }
    (w, b)
}

impl LinearHead {
    /// Trains one-vs-rest SVMs for `classes` on documents `x` with class indices `y`. Classes are
    /// fitted on all available cores; the result does not depend on how many there are.
    pub fn fit(x: &[SparseVector], y: &[usize], classes: Vec<String>, n_features: usize, s: &LinearSettings) -> LinearHead {
        let k = classes.len();
        let mut counts = vec![0usize; k];
        y.iter().for_each(|&c| counts[c] += 1);
        let cost: Vec<f64> = y
            .iter()
            .map(|&c| if s.balanced { s.c * x.len() as f64 / (k as f64 * counts[c].max(1) as f64) } else { s.c })
            .collect();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(k.max(1));
        let mut fitted: Vec<Option<(Vec<f64>, f64)>> = vec![None; k];
        std::thread::scope(|scope| {
            let chunks: Vec<_> = (0..threads)
                .map(|t| {
                    let cost = &cost;
                    scope.spawn(move || {
                        (t..k)
                            .step_by(threads)
                            .map(|c| {
                                let positive: Vec<bool> = y.iter().map(|&yi| yi == c).collect();
                                (c, fit_binary(x, &positive, cost, n_features, s))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for h in chunks {
                for (c, wb) in h.join().expect("a training thread panicked") {
                    fitted[c] = Some(wb);
                }
            }
        });
        let mut weights = vec![0.0f32; n_features * k];
        let mut bias = vec![0.0f32; k];
        for (c, wb) in fitted.into_iter().enumerate() {
            let (w, b) = wb.expect("every class was fitted");
            for (j, wj) in w.into_iter().enumerate() {
                weights[j * k + c] = wj as f32;
            }
            bias[c] = b as f32;
        }
        LinearHead { classes, n_features, weights, bias, temperature: 1.0 }
    }

    /// The class names, in score order.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Number of features the head expects.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// The fitted softmax temperature.
    pub fn temperature(&self) -> f32 {
        self.temperature
    }

    /// Sets the softmax temperature (see [`fit_temperature`]).
    pub fn set_temperature(&mut self, t: f32) {
        self.temperature = t;
    }

    /// Raw decision scores, one per class.
    pub fn scores(&self, x: &SparseVector) -> Vec<f32> {
        let k = self.classes.len();
        let mut s = self.bias.clone();
        for (j, v) in x.iter() {
            if j < self.n_features {
                let row = &self.weights[j * k..(j + 1) * k];
                s.iter_mut().zip(row).for_each(|(a, w)| *a += v * w);
            }
        }
        s
    }

    /// Calibrated class probabilities.
    pub fn probabilities(&self, x: &SparseVector) -> Vec<f32> {
        softmax(&self.scores(x), self.temperature)
    }

    /// Each feature's contribution (value × weight) to one class's score, largest first,
    /// positive contributions only.
    pub fn contributions(&self, x: &SparseVector, class: usize) -> Vec<(usize, f32)> {
        let k = self.classes.len();
        let mut out: Vec<(usize, f32)> = x
            .iter()
            .filter(|&(j, _)| j < self.n_features)
            .map(|(j, v)| (j, v * self.weights[j * k + class]))
            .filter(|&(_, c)| c > 0.0)
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1));
        out
    }
}

/// Softmax of `scores × t`.
pub fn softmax(scores: &[f32], t: f32) -> Vec<f32> {
    let max = scores.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s * t));
    let exp: Vec<f32> = scores.iter().map(|&s| (s * t - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

fn mean_nll(scores: &[Vec<f32>], y: &[usize], t: f64) -> f64 {
    let mut total = 0.0;
    for (s, &yi) in scores.iter().zip(y) {
        let max = s.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64 * t));
        let lse = s.iter().map(|&v| (v as f64 * t - max).exp()).sum::<f64>().ln() + max;
        total += lse - s[yi] as f64 * t;
    }
    total / scores.len().max(1) as f64
}

/// Finds the softmax temperature that minimises the negative log-likelihood of held-out scores
/// (temperature scaling; the loss is convex in the temperature, so a golden-section search on a
/// log scale finds its minimum).
pub fn fit_temperature(scores: &[Vec<f32>], y: &[usize]) -> f32 {
    if scores.is_empty() {
        return 1.0;
    }
    let f = |u: f64| mean_nll(scores, y, u.exp());
    let (mut lo, mut hi) = ((0.01f64).ln(), (200.0f64).ln());
    let phi = (5f64.sqrt() - 1.0) / 2.0;
    let (mut a, mut b) = (hi - phi * (hi - lo), lo + phi * (hi - lo));
    let (mut fa, mut fb) = (f(a), f(b));
    for _ in 0..60 {
        if fa < fb {
            hi = b;
            b = a;
            fb = fa;
            a = hi - phi * (hi - lo);
            fa = f(a);
        } else {
            lo = a;
            a = b;
            fa = fb;
            b = lo + phi * (hi - lo);
            fb = f(b);
        }
    }
    ((lo + hi) / 2.0).exp() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(pairs: &[(u32, f32)]) -> SparseVector {
        let norm = pairs.iter().map(|p| p.1 * p.1).sum::<f32>().sqrt();
        SparseVector { idx: pairs.iter().map(|p| p.0).collect(), val: pairs.iter().map(|p| p.1 / norm).collect() }
    }

    fn toy() -> (Vec<SparseVector>, Vec<usize>) {
        // Three classes, each marked by its own feature plus shared noise features 3 and 4.
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..60u32 {
            let c = (i % 3) as usize;
            x.push(doc(&[(c as u32, 1.0), (3 + i % 2, 0.5)]));
            y.push(c);
        }
        (x, y)
    }

    #[test]
    fn separable_classes_are_learned_and_probabilities_sum_to_one() {
        let (x, y) = toy();
        let head = LinearHead::fit(&x, &y, vec!["a".into(), "b".into(), "c".into()], 5, &LinearSettings::default());
        for (xi, &yi) in x.iter().zip(&y) {
            let s = head.scores(xi);
            let best = (0..3).max_by(|&a, &b| s[a].total_cmp(&s[b])).unwrap();
            assert_eq!(best, yi);
            let p = head.probabilities(xi);
            assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
        assert_eq!(head.contributions(&x[1], 1)[0].0, 1, "the class's own feature explains it");
    }

    #[test]
    fn training_is_deterministic() {
        let (x, y) = toy();
        let s = LinearSettings::default();
        let a = LinearHead::fit(&x, &y, vec!["a".into(), "b".into(), "c".into()], 5, &s);
        let b = LinearHead::fit(&x, &y, vec!["a".into(), "b".into(), "c".into()], 5, &s);
        assert_eq!(a.weights, b.weights);
    }

    #[test]
    fn temperature_sharpens_confident_correct_scores_and_softens_wrong_ones() {
        let right = vec![vec![1.0, -1.0]; 20];
        assert!(fit_temperature(&right, &[0; 20]) > 5.0);
        let mut mixed = right.clone();
        let mut y = vec![0; 20];
        y[..8].iter_mut().for_each(|v| *v = 1);
        mixed.truncate(20);
        let t = fit_temperature(&mixed, &y);
        assert!(t < 1.0, "mostly wrong-ish scores get a soft temperature, got {t}");
    }
}
