//! Text classification: sparse TF-IDF features and linear heads with calibrated probabilities.
//!
//! A [`TextModel`] holds one vocabulary and any number of named heads (the shipped model has
//! `type` and `risk`); the label set of each head is data it carries. No I/O happens here:
//! models go to and from bytes, and callers decide where the bytes live.

pub mod features;
pub mod linear;
pub mod metrics;

use serde::{Deserialize, Serialize};

pub use features::{FeatureSettings, SparseVector, Vocabulary};
pub use linear::{LinearHead, LinearSettings};
pub use metrics::{ClassMetrics, Metrics};

/// A model's bytes could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The bytes are not a model of this format version.
    #[error("model data is damaged or from an incompatible version ({0}); retrain with `fengqiao train`")]
    Decode(String),
    /// A head the caller needs is not in the model.
    #[error("the model has no `{0}` head; retrain with a corpus that carries that label")]
    MissingHead(String),
}

/// A vocabulary with named classifier heads over it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TextModel {
    vocab: Vocabulary,
    heads: Vec<(String, LinearHead)>,
}

/// One head's training result: the head and its held-out (cross-fitted) probabilities for every
/// training document, which downstream models such as risk fusion learn from.
pub struct TrainedHead {
    /// The head, fitted on all training documents, with a calibrated temperature.
    pub head: LinearHead,
    /// Out-of-fold calibrated probabilities, one row per training document.
    pub held_out: Vec<Vec<f32>>,
}

/// Trains one head: `folds`-fold cross-fitting gives held-out scores, the softmax temperature is
/// fitted on them, and the final head is fitted on all documents.
pub fn train_head(x: &[SparseVector], y: &[usize], classes: &[String], n_features: usize, s: &LinearSettings, folds: usize) -> TrainedHead {
    let n = x.len();
    let mut held_scores = vec![Vec::new(); n];
    if folds >= 2 && n >= folds {
        for f in 0..folds {
            let (tx, ty): (Vec<SparseVector>, Vec<usize>) =
                (0..n).filter(|i| i % folds != f).map(|i| (x[i].clone(), y[i])).unzip();
            let head = LinearHead::fit(&tx, &ty, classes.to_vec(), n_features, s);
            for i in (0..n).filter(|i| i % folds == f) {
                held_scores[i] = head.scores(&x[i]);
            }
        }
    }
    let mut head = LinearHead::fit(x, y, classes.to_vec(), n_features, s);
    let temperature = if held_scores[0].is_empty() { 1.0 } else { linear::fit_temperature(&held_scores, y) };
    head.set_temperature(temperature);
    let held_out = held_scores.iter().map(|s| if s.is_empty() { Vec::new() } else { linear::softmax(s, temperature) }).collect();
    TrainedHead { head, held_out }
}

impl TextModel {
    /// Puts a vocabulary and its heads together.
    pub fn new(vocab: Vocabulary, heads: Vec<(String, LinearHead)>) -> TextModel {
        TextModel { vocab, heads }
    }

    /// The vocabulary.
    pub fn vocab(&self) -> &Vocabulary {
        &self.vocab
    }

    /// A head by name.
    pub fn head(&self, name: &str) -> Result<&LinearHead, ModelError> {
        self.heads.iter().find(|(n, _)| n == name).map(|(_, h)| h).ok_or_else(|| ModelError::MissingHead(name.into()))
    }

    /// Features of a document.
    pub fn vectorize(&self, normalized: &str, tokens: &[&str]) -> SparseVector {
        self.vocab.vectorize(normalized, tokens)
    }

    /// The words that pushed `class` of `head` up the most for this document, strongest first,
    /// as an operator reads them.
    pub fn strongest_terms(&self, head: &LinearHead, x: &SparseVector, class: usize, n: usize) -> Vec<String> {
        let (idx, val) = x.iter().filter(|&(j, _)| self.vocab.display(j).is_some()).map(|(j, v)| (j as u32, v)).unzip();
        let readable = SparseVector { idx, val };
        head.contributions(&readable, class).into_iter().filter_map(|(j, _)| self.vocab.display(j)).take(n).map(str::to_string).collect()
    }

    /// Serialises the model.
    pub fn to_bytes(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("serialising to memory does not fail")
    }

    /// Reads a model written by [`TextModel::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<TextModel, ModelError> {
        let mut m: TextModel = postcard::from_bytes(bytes).map_err(|e| ModelError::Decode(e.to_string()))?;
        m.rebuild_index();
        Ok(m)
    }

    /// Rebuilds the lookup tables that are not serialised; call after deserialising a model
    /// embedded in another structure.
    pub(crate) fn rebuild_index(&mut self) {
        self.vocab.rebuild_index();
    }
}
