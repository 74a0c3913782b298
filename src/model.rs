//! The shipped model: a [`TextModel`] with `type` and `risk` heads plus the risk [`Fusion`],
//! how it is trained from a corpus, how it predicts, and how it is evaluated. No I/O: the CLI
//! reads corpora and writes `models/`.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::classify::{FeatureSettings, LinearSettings, Metrics, ModelError, SparseVector, TextModel, Vocabulary, train_head};
use crate::corpus::{LabelledText, is_dev};
use crate::labels::RiskLevel;
use crate::risk::{Fusion, RiskAssessment, RiskRules, assess, fusion_features};
use crate::text::{Analyzed, Analyzer, normalize};

/// File name of the model inside a models directory.
pub const MODEL_FILE: &str = "fengqiao.model";
/// File name of the metadata inside a models directory.
pub const META_FILE: &str = "meta.json";
/// Bumped whenever the model's byte layout changes.
pub const FORMAT: &str = "fengqiao-model-1";

/// The trained models the pipeline runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelBundle {
    format: String,
    /// Type and risk heads over one vocabulary.
    pub text: TextModel,
    /// Combines the risk head with cue evidence.
    pub fusion: Fusion,
}

/// Why training failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A record lacks a label the training needs, or has one that is not on its scale.
    #[error("{origin}: {message}")]
    Label {
        /// `file:line`.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// Too little data to train.
    #[error("{0}")]
    TooLittle(String),
    /// The fusion model could not be fitted.
    #[error(transparent)]
    Fusion(#[from] crate::risk::FusionError),
}

/// Training settings, recorded in the metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Feature extraction.
    pub features: FeatureSettings,
    /// Learner for the type head.
    pub type_learner: LinearSettings,
    /// Learner for the risk head.
    pub risk_learner: LinearSettings,
    /// Folds for cross-fitting (calibration and fusion inputs).
    pub folds: usize,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            features: FeatureSettings::default(),
            type_learner: LinearSettings::default(),
            risk_learner: LinearSettings::default(),
            folds: 5,
        }
    }
}

/// What is known about a trained model: written beside it as `meta.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// Format version.
    pub format: String,
    /// When training finished (RFC 3339).
    pub trained_at: String,
    /// The corpus: SHA-256, sizes, counts per type × risk.
    pub corpus: CorpusInfo,
    /// Label sets of each head, in the model's class order.
    pub labels: BTreeMap<String, Vec<String>>,
    /// Training settings.
    pub options: TrainOptions,
    /// Terms in the vocabulary.
    pub vocabulary_size: usize,
    /// Softmax temperature of each head.
    pub temperatures: BTreeMap<String, f32>,
    /// Metrics on the held-out dev split.
    pub dev: EvalReport,
    /// Seconds the training took (analysis, features, heads, fusion).
    pub train_seconds: f64,
}

/// The corpus a model was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorpusInfo {
    /// SHA-256 of the corpus files.
    pub sha256: String,
    /// Training texts.
    pub n_train: usize,
    /// Held-out dev texts.
    pub n_dev: usize,
    /// Counts per type, then per risk level, over the whole corpus.
    pub counts: BTreeMap<String, BTreeMap<String, usize>>,
}

/// Evaluation figures for the type and risk heads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Documents evaluated.
    pub n: usize,
    /// Type metrics.
    #[serde(rename = "type")]
    pub dispute_type: Metrics,
    /// Risk metrics of the final level (fusion, decision costs and cue floors), with
    /// `recall_red` and `recall_orange_or_red`.
    pub risk: Metrics,
}

/// One document's predictions.
pub struct Prediction {
    /// The document's features.
    pub features: SparseVector,
    /// Type probabilities in the type head's class order.
    pub type_probs: Vec<f32>,
    /// Index of the most probable type.
    pub type_index: usize,
    /// The text model's own risk probabilities (blue … red), before fusion.
    pub text_risk: [f32; 4],
    /// The final risk assessment.
    pub risk: RiskAssessment,
}

/// Analyzes a labelled record: raw text goes through the analyzer, given tokens are used as
/// they are (only normalized).
pub fn analyze_record(analyzer: &Analyzer, r: &LabelledText) -> Analyzed {
    match &r.tokens {
        None => analyzer.analyze(&r.text),
        Some(tokens) => {
            let normalized = normalize(&tokens.join(" "));
            let mut spans = Vec::with_capacity(tokens.len());
            let mut at = 0;
            for t in normalized.split(' ') {
                spans.push((at, at + t.len()));
                at += t.len() + 1;
            }
            spans.retain(|(s, e)| e > s);
            Analyzed { normalized, spans }
        }
    }
}

fn risk_array(p: &[f32]) -> [f32; 4] {
    [p[0], p[1], p[2], p[3]]
}

fn label<'a>(r: &'a LabelledText, field: &str) -> Result<&'a str, TrainError> {
    r.labels.get(field).map(String::as_str).ok_or_else(|| TrainError::Label { origin: r.origin.clone(), message: format!("no `{field}` label") })
}

fn risk_label(r: &LabelledText) -> Result<RiskLevel, TrainError> {
    label(r, "risk")?.parse().map_err(|e: crate::labels::UnknownLabel| TrainError::Label { origin: r.origin.clone(), message: e.to_string() })
}

fn tokens_of(a: &Analyzed) -> Vec<&str> {
    a.tokens().collect()
}

impl ModelBundle {
    /// Serialises the bundle.
    pub fn to_bytes(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("serialising to memory does not fail")
    }

    /// Reads a bundle written by [`ModelBundle::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<ModelBundle, ModelError> {
        let bundle: ModelBundle = postcard::from_bytes(bytes).map_err(|e| ModelError::Decode(e.to_string()))?;
        if bundle.format != FORMAT {
            return Err(ModelError::Decode(format!("format `{}`, expected `{FORMAT}`", bundle.format)));
        }
        let mut bundle = bundle;
        bundle.text.rebuild_index();
        Ok(bundle)
    }

    /// The type labels, in class order.
    pub fn type_labels(&self) -> &[String] {
        self.text.head("type").map(|h| h.classes()).unwrap_or(&[])
    }

    /// Predicts type and risk for an analyzed document.
    pub fn predict(&self, doc: &Analyzed, rules: &RiskRules) -> Result<Prediction, ModelError> {
        let type_head = self.text.head("type")?;
        let risk_head = self.text.head("risk")?;
        let features = self.text.vectorize(&doc.normalized, &tokens_of(doc));
        let type_probs = type_head.probabilities(&features);
        let type_index = argmax(&type_probs);
        let text_risk = risk_array(&risk_head.probabilities(&features));
        let risk = assess(&text_risk, rules.cues.scan(&doc.normalized), &self.fusion, &rules.decision);
        Ok(Prediction { features, type_probs, type_index, text_risk, risk })
    }

    /// Evaluates on labelled records (each needs `type` and `risk`); a type the model does not
    /// know is an error naming the record.
    pub fn evaluate(&self, analyzer: &Analyzer, records: &[LabelledText], rules: &RiskRules) -> Result<EvalReport, TrainError> {
        let labels = self.type_labels().to_vec();
        let (mut tt, mut tp, mut rt, mut rp) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for r in records {
            let t = label(r, "type")?;
            let ti = labels.iter().position(|l| l == t).ok_or_else(|| TrainError::Label {
                origin: r.origin.clone(),
                message: format!("type `{t}` is not one of the model's labels ({})", labels.join(", ")),
            })?;
            let truth_risk = risk_label(r)?;
            let p = self.predict(&analyze_record(analyzer, r), rules).map_err(|e| TrainError::TooLittle(e.to_string()))?;
            tt.push(ti);
            tp.push(p.type_index);
            rt.push(truth_risk.index());
            rp.push(p.risk.level.index());
        }
        Ok(EvalReport { n: records.len(), dispute_type: Metrics::compute(&labels, &tt, &tp), risk: risk_metrics(&rt, &rp) })
    }
}

/// Risk metrics with the recall figures that matter most: red, and orange-or-red.
pub fn risk_metrics(truth: &[usize], predicted: &[usize]) -> Metrics {
    let labels: Vec<String> = RiskLevel::ALL.iter().map(|l| l.code().to_string()).collect();
    let mut m = Metrics::compute(&labels, truth, predicted);
    m.extra.insert("recall_red".into(), m.group_recall(&[3]));
    m.extra.insert("recall_orange_or_red".into(), m.group_recall(&[2, 3]));
    m
}

/// Index of the largest value.
pub fn argmax(v: &[f32]) -> usize {
    (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap_or(0)
}

/// Trains the shipped model from corpus records (each with `type` and `risk`): dev texts (see
/// [`is_dev`]) are held out for the metadata's metrics.
pub fn train(analyzer: &Analyzer, records: &[LabelledText], corpus_sha256: &str, rules: &RiskRules, opts: &TrainOptions) -> Result<(ModelBundle, ModelMeta), TrainError> {
    let started = Instant::now();
    let mut counts: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for r in records {
        let t = label(r, "type")?;
        let risk = risk_label(r)?;
        *counts.entry(t.to_string()).or_default().entry(risk.code().to_string()).or_default() += 1;
    }
    let (dev, train): (Vec<&LabelledText>, Vec<&LabelledText>) = records.iter().partition(|r| is_dev(&r.text));
    let mut type_labels: Vec<String> = counts.keys().cloned().collect();
    type_labels.sort();
    let risk_labels: Vec<String> = RiskLevel::ALL.iter().map(|l| l.code().to_string()).collect();
    if train.len() < 20 || type_labels.len() < 2 {
        return Err(TrainError::TooLittle(format!("{} training texts in {} types; need at least 20 texts and 2 types", train.len(), type_labels.len())));
    }

    let analyzed: Vec<Analyzed> = train.iter().map(|r| analyze_record(analyzer, r)).collect();
    let vocab = Vocabulary::fit(opts.features.clone(), analyzed.iter().map(|a| (a.normalized.as_str(), tokens_of(a))));
    let x: Vec<SparseVector> = analyzed.iter().map(|a| vocab.vectorize(&a.normalized, &tokens_of(a))).collect();
    let y_type: Vec<usize> = train.iter().map(|r| type_labels.iter().position(|l| l == &r.labels["type"]).expect("label was counted")).collect();
    let y_risk: Vec<usize> = train.iter().map(|r| risk_label(r).map(RiskLevel::index)).collect::<Result<_, _>>()?;

    let type_head = train_head(&x, &y_type, &type_labels, vocab.len(), &opts.type_learner, opts.folds);
    let risk_head = train_head(&x, &y_risk, &risk_labels, vocab.len(), &opts.risk_learner, opts.folds);

    // The fusion learns from held-out risk probabilities, so it sees the text model as it
    // behaves on unseen text, not as it remembers its own training data.
    let inputs: Vec<_> = risk_head
        .held_out
        .iter()
        .zip(&analyzed)
        .map(|(p, a)| fusion_features(&risk_array(p), &rules.cues.scan(&a.normalized)))
        .collect();
    let levels: Vec<RiskLevel> = y_risk.iter().map(|&i| RiskLevel::from_index(i).expect("index of a level")).collect();
    let fusion = if risk_head.held_out[0].is_empty() { Fusion::identity() } else { Fusion::fit(&inputs, &levels)? };

    let mut temperatures = BTreeMap::new();
    temperatures.insert("type".to_string(), type_head.head.temperature());
    temperatures.insert("risk".to_string(), risk_head.head.temperature());
    let text = TextModel::new(vocab, vec![("type".into(), type_head.head), ("risk".into(), risk_head.head)]);
    let bundle = ModelBundle { format: FORMAT.into(), text, fusion };
    let dev_records: Vec<LabelledText> = dev.iter().map(|r| (*r).clone()).collect();
    let dev_report = bundle.evaluate(analyzer, &dev_records, rules)?;
    let mut labels = BTreeMap::new();
    labels.insert("type".to_string(), type_labels);
    labels.insert("risk".to_string(), risk_labels);
    let meta = ModelMeta {
        format: FORMAT.into(),
        trained_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        corpus: CorpusInfo { sha256: corpus_sha256.into(), n_train: train.len(), n_dev: dev.len(), counts },
        labels,
        options: opts.clone(),
        vocabulary_size: bundle.text.vocab().len(),
        temperatures,
        dev: dev_report,
        train_seconds: (started.elapsed().as_secs_f64() * 100.0).round() / 100.0,
    };
    Ok((bundle, meta))
}

/// Trains a one-head model on `field` of `train` and evaluates it on `test`, for any label set.
/// Labels seen only in `test` count as errors in the metrics.
pub fn train_and_evaluate(analyzer: &Analyzer, train: &[LabelledText], test: &[LabelledText], field: &str, opts: &TrainOptions) -> Result<Metrics, TrainError> {
    let mut labels: Vec<String> = train.iter().map(|r| label(r, field).map(str::to_string)).collect::<Result<_, _>>()?;
    labels.sort();
    labels.dedup();
    if labels.len() < 2 {
        return Err(TrainError::TooLittle(format!("the training file has {} distinct `{field}` labels; need at least 2", labels.len())));
    }
    let n_known = labels.len();
    for r in test {
        let l = label(r, field)?;
        if !labels.iter().any(|x| x == l) {
            labels.push(l.to_string());
        }
    }
    let analyzed: Vec<Analyzed> = train.iter().map(|r| analyze_record(analyzer, r)).collect();
    let vocab = Vocabulary::fit(opts.features.clone(), analyzed.iter().map(|a| (a.normalized.as_str(), tokens_of(a))));
    let x: Vec<SparseVector> = analyzed.iter().map(|a| vocab.vectorize(&a.normalized, &tokens_of(a))).collect();
    let index = |r: &LabelledText| labels.iter().position(|l| l == &r.labels[field]).expect("label collected above");
    let y: Vec<usize> = train.iter().map(index).collect();
    // Calibration does not change the argmax, so no cross-fitting is needed here.
    let head = train_head(&x, &y, &labels[..n_known], vocab.len(), &opts.type_learner, 0).head;
    let (mut truth, mut predicted) = (Vec::new(), Vec::new());
    for r in test {
        let a = analyze_record(analyzer, r);
        predicted.push(argmax(&head.scores(&vocab.vectorize(&a.normalized, &tokens_of(&a)))));
        truth.push(index(r));
    }
    Ok(Metrics::compute(&labels, &truth, &predicted))
}
