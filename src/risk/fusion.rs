//! The fusion model: a multinomial logistic regression (linfa) over a handful of dense inputs,
//! the text model's risk log-probabilities and the cue evidence, giving calibrated risk
//! probabilities that account for both. linfa fits here: the inputs are few and dense.

use linfa::prelude::*;
use linfa_logistic::MultiLogisticRegression;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use super::CueHit;
use crate::labels::RiskLevel;

/// Number of fusion inputs: four log-probabilities, three cumulative cue-level indicators and
/// the log of the number of distinct cues.
pub const FUSION_INPUTS: usize = 8;

/// The inputs the fusion model sees for one document.
pub fn fusion_features(text_probs: &[f32; 4], cues: &[CueHit]) -> [f64; FUSION_INPUTS] {
    let top = cues.iter().map(|c| c.level).max();
    let at_least = |l: RiskLevel| if top.is_some_and(|t| t >= l) { 1.0 } else { 0.0 };
    [
        (text_probs[0] as f64 + 1e-6).ln(),
        (text_probs[1] as f64 + 1e-6).ln(),
        (text_probs[2] as f64 + 1e-6).ln(),
        (text_probs[3] as f64 + 1e-6).ln(),
        at_least(RiskLevel::Yellow),
        at_least(RiskLevel::Orange),
        at_least(RiskLevel::Red),
        (1.0 + cues.len() as f64).ln(),
    ]
}

/// Fitted fusion weights; [`Fusion::identity`] passes the text probabilities through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fusion {
    /// `weights[i * 4 + c]`: input `i`'s weight for level `c`. Empty for the identity.
    weights: Vec<f64>,
    intercept: [f64; 4],
}

/// The fusion could not be fitted.
#[derive(Debug, thiserror::Error)]
#[error("could not fit the risk fusion model: {0}")]
pub struct FusionError(String);

impl Fusion {
    /// A fusion that returns the text probabilities unchanged.
    pub fn identity() -> Fusion {
        Fusion { weights: Vec::new(), intercept: [0.0; 4] }
    }

    /// Fits the fusion on held-out text probabilities with their cue hits and true levels.
    /// Every level must occur at least once.
    pub fn fit(inputs: &[[f64; FUSION_INPUTS]], levels: &[RiskLevel]) -> Result<Fusion, FusionError> {
        let n = inputs.len();
        let x = Array2::from_shape_fn((n, FUSION_INPUTS), |(i, j)| inputs[i][j]);
        let y = Array1::from_iter(levels.iter().map(|l| l.index()));
        let fitted = MultiLogisticRegression::default()
            .alpha(1e-3)
            .max_iterations(300)
            .fit(&Dataset::new(x, y))
            .map_err(|e| FusionError(e.to_string()))?;
        let classes = fitted.classes();
        if classes.len() != 4 {
            return Err(FusionError(format!("training data has {} of the 4 risk levels", classes.len())));
        }
        let params = fitted.params();
        let mut weights = vec![0.0; FUSION_INPUTS * 4];
        let mut intercept = [0.0; 4];
        for (col, &class) in classes.iter().enumerate() {
            for i in 0..FUSION_INPUTS {
                weights[i * 4 + class] = params[[i, col]];
            }
            intercept[class] = fitted.intercept()[col];
        }
        Ok(Fusion { weights, intercept })
    }

    /// Fused probabilities of blue, yellow, orange, red.
    pub fn apply(&self, text_probs: &[f32; 4], cues: &[CueHit]) -> [f32; 4] {
        if self.weights.is_empty() {
            return *text_probs;
        }
        let x = fusion_features(text_probs, cues);
        let mut z = self.intercept;
        for (i, xi) in x.iter().enumerate() {
            for (c, zc) in z.iter_mut().enumerate() {
                *zc += xi * self.weights[i * 4 + c];
            }
        }
        let max = z.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
        let e = z.map(|v| (v - max).exp());
        let sum: f64 = e.iter().sum();
        e.map(|v| (v / sum) as f32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fusion_learns_that_a_red_cue_means_red() {
        let hit = |level| CueHit { id: "x".into(), level, reason: String::new(), matched: String::new() };
        let mut inputs = Vec::new();
        let mut levels = Vec::new();
        for i in 0..200 {
            let level = RiskLevel::from_index(i % 4).unwrap();
            // The text model is unsure; the cue tells the truth for orange and red.
            let probs = [0.4, 0.3, 0.2, 0.1];
            let cues = if level >= RiskLevel::Orange { vec![hit(level)] } else { vec![] };
            inputs.push(fusion_features(&probs, &cues));
            levels.push(level);
        }
        let f = Fusion::fit(&inputs, &levels).unwrap();
        let p = f.apply(&[0.4, 0.3, 0.2, 0.1], &[hit(RiskLevel::Red)]);
        assert!(p[3] > 0.8, "{p:?}");
        let q = f.apply(&[0.4, 0.3, 0.2, 0.1], &[]);
        assert!(q[3] < 0.1, "{q:?}");
    }
}
