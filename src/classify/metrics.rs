//! Classification metrics: accuracy, per-class precision/recall/F1, macro-F1, confusion matrix.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Precision, recall and F1 of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// Of the documents predicted as this class, the share that were.
    pub precision: f64,
    /// Of the documents of this class, the share predicted as it.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Documents of this class in the evaluation set.
    pub support: usize,
}

/// Rows are true labels, columns predicted labels, both in `labels` order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    /// Label names.
    pub labels: Vec<String>,
    /// `matrix[true][predicted]` counts.
    pub matrix: Vec<Vec<usize>>,
}

/// The metrics of one labelling task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Share of documents labelled correctly.
    pub accuracy: f64,
    /// Unweighted mean F1 over the labels that occur in truth or prediction.
    pub macro_f1: f64,
    /// Per-label figures.
    pub per_class: BTreeMap<String, ClassMetrics>,
    /// Confusion matrix.
    pub confusion: Confusion,
    /// Task-specific figures (for risk: `recall_red`, `recall_orange_or_red`).
    #[serde(flatten)]
    pub extra: BTreeMap<String, f64>,
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Rounds to four decimals, so reports stay readable and stable across runs.
fn r4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

impl Metrics {
    /// Computes metrics from parallel lists of true and predicted label indices into `labels`.
    pub fn compute(labels: &[String], truth: &[usize], predicted: &[usize]) -> Metrics {
        let k = labels.len();
        let mut matrix = vec![vec![0usize; k]; k];
        for (&t, &p) in truth.iter().zip(predicted) {
            matrix[t][p] += 1;
        }
        let correct: usize = (0..k).map(|i| matrix[i][i]).sum();
        let mut per_class = BTreeMap::new();
        let mut f1_sum = 0.0;
        let mut f1_count = 0;
        for i in 0..k {
            let support: usize = matrix[i].iter().sum();
            let predicted_as: usize = (0..k).map(|t| matrix[t][i]).sum();
            if support == 0 && predicted_as == 0 {
                continue;
            }
            let precision = ratio(matrix[i][i], predicted_as);
            let recall = ratio(matrix[i][i], support);
            let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
            f1_sum += f1;
            f1_count += 1;
            per_class.insert(labels[i].clone(), ClassMetrics { precision: r4(precision), recall: r4(recall), f1: r4(f1), support });
        }
        Metrics {
            accuracy: r4(ratio(correct, truth.len())),
            macro_f1: r4(if f1_count == 0 { 0.0 } else { f1_sum / f1_count as f64 }),
            per_class,
            confusion: Confusion { labels: labels.to_vec(), matrix },
            extra: BTreeMap::new(),
        }
    }

    /// Recall of the documents whose true label is in `group`, counting a prediction as right
    /// if it is also in `group` (e.g. orange-or-red predicted for an orange-or-red case).
    pub fn group_recall(&self, group: &[usize]) -> f64 {
        let m = &self.confusion.matrix;
        let support: usize = group.iter().map(|&t| m[t].iter().sum::<usize>()).sum();
        let hit: usize = group.iter().map(|&t| group.iter().map(|&p| m[t][p]).sum::<usize>()).sum();
        r4(ratio(hit, support))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_hand_computed_figures() {
        let labels: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        // truth a a b b c, predicted a b b b a
        let m = Metrics::compute(&labels, &[0, 0, 1, 1, 2], &[0, 1, 1, 1, 0]);
        assert_eq!(m.accuracy, 0.6);
        assert_eq!(m.per_class["a"], ClassMetrics { precision: 0.5, recall: 0.5, f1: 0.5, support: 2 });
        assert_eq!(m.per_class["b"].precision, 0.6667);
        assert_eq!(m.per_class["c"].f1, 0.0);
        assert_eq!(m.macro_f1, r4((0.5 + 0.8 + 0.0) / 3.0));
        assert_eq!(m.confusion.matrix[0], vec![1, 1, 0]);
        assert_eq!(m.group_recall(&[1, 2]), r4(2.0 / 3.0));
    }

    #[test]
    fn labels_absent_from_truth_and_prediction_do_not_count() {
        let labels: Vec<String> = ["a", "b", "unused"].iter().map(|s| s.to_string()).collect();
        let m = Metrics::compute(&labels, &[0, 1], &[0, 1]);
        assert_eq!(m.macro_f1, 1.0);
        assert!(!m.per_class.contains_key("unused"));
    }
}
