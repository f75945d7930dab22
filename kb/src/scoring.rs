//! Calibrated scoring: turns the analyzed query and an article's phrasings into a confidence in
//! 0..=1 that is comparable across queries (unlike BM25).
//!
//! The score of an article is a blend of
//! - the weighted Dice coefficient between the query and the article's best phrasing, and
//! - the weighted share of the query covered by the article's whole vocabulary (all phrasings),
//!
//! where every term is weighted by a smoothed inverse document frequency over the indexed
//! phrasings, scaled down for function words, CJK bigrams and single characters, and bigrams
//! that straddle a word boundary. An exact phrasing scores 1.0; unrelated text shares few, light terms and scores low.

use std::collections::HashMap;

use crate::analysis::{
    is_bigram, is_stopword, is_unigram, TermSet, BIGRAM_PREFIX, BIGRAM_WEIGHT, STOPWORD_WEIGHT,
    UNIGRAM_WEIGHT, WORD_PREFIX,
};

/// Weight of the vocabulary coverage in the final score; the rest is the weighted Dice
/// coefficient with the best phrasing.
///
/// Dice compares the query with one phrasing, so a query mixing two phrasings of the same
/// article ("客服态度好差我要投诉") or a query that is part of a longer phrasing scores low on it;
/// coverage of the query by the article's whole vocabulary corrects that. Coverage alone would
/// favour articles with many phrasings, hence the blend. An exact phrasing scores 1.0 on both.
pub(crate) const COVERAGE_BLEND: f32 = 0.3;

/// Share of a query term's weight that counts towards coverage when only the article's answer
/// (not any phrasing) contains it: "do you accept visa" is answered by the article whose
/// answer lists Visa, but a phrasing match is stronger evidence.
pub(crate) const ANSWER_CREDIT: f32 = 0.5;

/// Document frequencies of term keys over the searchable phrasings.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    phrasings: usize,
    df: HashMap<String, usize>,
}

impl Stats {
    /// Counts one more searchable phrasing.
    pub fn add(&mut self, terms: &TermSet) {
        self.phrasings += 1;
        for key in terms.key_names() {
            *self.df.entry(key.to_string()).or_insert(0) += 1;
        }
    }

    /// Forgets a phrasing counted by [`Stats::add`].
    pub fn remove(&mut self, terms: &TermSet) {
        self.phrasings = self.phrasings.saturating_sub(1);
        for key in terms.key_names() {
            if let Some(n) = self.df.get_mut(key) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.df.remove(key);
                }
            }
        }
    }

    /// The corpus weight of a term key: a smoothed inverse document frequency, scaled down for
    /// function words and for bigrams. Terms unknown to the index get the highest idf, so words
    /// a query adds beyond a phrasing lower the similarity.
    fn weight(&self, key: &str) -> f32 {
        let n = self.phrasings as f32;
        let df = self.df.get(key).copied().unwrap_or(0) as f32;
        let mut weight = (1.0 + (n + 1.0) / (df + 0.5)).ln();
        if is_stopword(key) {
            weight *= STOPWORD_WEIGHT;
        }
        if is_bigram(key) {
            weight *= BIGRAM_WEIGHT;
        }
        if is_unigram(key) {
            weight *= UNIGRAM_WEIGHT;
        }
        weight
    }
}

/// A text's term keys with their weights, sorted by key.
#[derive(Debug, Clone)]
pub(crate) struct Weighted {
    terms: Vec<(String, f32)>,
    total: f32,
}

impl Weighted {
    /// Weighs the keys of `terms`: corpus weight times the local factor (bridging bigrams).
    ///
    /// A bigram that straddles a word boundary here but is a word of the index vocabulary is a
    /// segmentation mistake ("满多少钱包邮" cut as "钱包|邮" hides "包邮"): it gets its full
    /// weight back, and the word itself is added, as if jieba had cut the text right. Queries
    /// and phrasings go through the same step, so an exact phrasing still matches itself fully.
    pub fn new(terms: &TermSet, stats: &Stats) -> Self {
        let mut keyed: Vec<(String, f32)> = Vec::with_capacity(terms.keys.len());
        for (key, factor) in &terms.keys {
            let mut factor = *factor;
            if factor < 1.0 {
                if let Some(bigram) = key.strip_prefix(BIGRAM_PREFIX) {
                    let word = format!("{WORD_PREFIX}{bigram}");
                    if stats.df.contains_key(&word) {
                        factor = 1.0;
                        keyed.push((word, 1.0));
                    }
                }
            }
            keyed.push((key.clone(), factor));
        }
        // Sort by key, highest factor first, so dedup keeps the highest factor of each key.
        keyed.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
        keyed.dedup_by(|later, earlier| later.0 == earlier.0);
        let terms: Vec<(String, f32)> = keyed
            .into_iter()
            .map(|(key, factor)| {
                let weight = stats.weight(&key) * factor;
                (key, weight)
            })
            .collect();
        let total = terms.iter().map(|(_, w)| w).sum();
        Self { terms, total }
    }

    /// The keys, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.terms.iter().map(|(k, _)| k.as_str())
    }

    /// The weighted Dice coefficient with another text: the weight of the shared terms (each
    /// side counting its own weight) over the total weight of both. 1.0 for the same text.
    pub fn dice(&self, other: &Weighted) -> f32 {
        let mut shared = 0.0;
        let (mut i, mut j) = (0, 0);
        while let (Some((a, wa)), Some((b, wb))) = (self.terms.get(i), other.terms.get(j)) {
            match a.cmp(b) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    shared += wa + wb;
                    i += 1;
                    j += 1;
                }
            }
        }
        let total = self.total + other.total;
        if shared <= 0.0 || total <= 0.0 {
            return 0.0;
        }
        (shared / total).clamp(0.0, 1.0)
    }

    /// The weighted share of this text's terms found in an article's phrasing vocabulary, where
    /// terms found only in its answer count for [`ANSWER_CREDIT`] of their weight. Both key
    /// lists are sorted.
    pub fn coverage_with_answer(&self, vocabulary: &[String], answer: &[String]) -> f32 {
        let shared: f32 = self
            .terms
            .iter()
            .map(|(k, w)| {
                if vocabulary.binary_search(k).is_ok() {
                    *w
                } else if answer.binary_search(k).is_ok() {
                    ANSWER_CREDIT * w
                } else {
                    0.0
                }
            })
            .sum();
        if shared <= 0.0 || self.total <= 0.0 {
            return 0.0;
        }
        (shared / self.total).clamp(0.0, 1.0)
    }
}

/// The calibrated score from the best phrasing's Dice coefficient and the vocabulary coverage.
pub(crate) fn calibrated(dice: f32, coverage: f32) -> f32 {
    ((1.0 - COVERAGE_BLEND) * dice + COVERAGE_BLEND * coverage).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats_of(texts: &[&str]) -> Stats {
        let mut stats = Stats::default();
        for t in texts {
            stats.add(&TermSet::analyze(t));
        }
        stats
    }

    #[test]
    fn a_text_is_fully_similar_to_itself() {
        let stats = stats_of(&["怎么申请退货", "how do i return an item"]);
        for text in ["怎么申请退货", "how do i return an item", "满多少钱包邮啊"] {
            let w = Weighted::new(&TermSet::analyze(text), &stats);
            assert!((w.dice(&w) - 1.0).abs() < 1e-6, "{text}");
        }
    }

    #[test]
    fn function_words_weigh_less_than_content_words() {
        let stats = stats_of(&["怎么申请退货", "怎么开发票", "what is your return policy"]);
        let query = Weighted::new(&TermSet::analyze("怎么退货"), &stats);
        let weight = |key: &str| {
            query
                .terms
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, w)| *w)
                .unwrap_or_default()
        };
        assert!(weight("w:怎么") < weight("w:退货") / 3.0);
    }

    #[test]
    fn a_segmentation_mistake_is_repaired_from_the_vocabulary() {
        let stats = stats_of(&["满多少包邮"]);
        let query = Weighted::new(&TermSet::analyze("满多少钱包邮啊"), &stats);
        assert!(query.keys().any(|k| k == "w:包邮"), "{query:?}");
    }

    #[test]
    fn calibrated_scores_stay_in_range() {
        assert_eq!(calibrated(1.0, 1.0), 1.0);
        assert_eq!(calibrated(0.0, 0.0), 0.0);
        assert!((0.0..=1.0).contains(&calibrated(0.4, 0.9)));
    }
}
