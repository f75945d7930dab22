//! Grouping the questions the bot could not answer, so admins see what to write next.
//!
//! The input is a list of customer questions (unanswered, handed off, rated badly); the output
//! is groups of questions that ask the same thing, largest first. Similarity is the same
//! weighted Dice coefficient the search uses (jieba words, CJK bigrams, English stems, weights
//! by inverse frequency over the questions themselves), so "快递到哪了" and "我的快递到哪里了"
//! land together while "发票" and "快递" questions stay apart.

use crate::analysis::{Analyzers, BIGRAM_PREFIX, BRIDGE_WEIGHT, WORD_PREFIX};
use crate::scoring::{corpus_weight, kind_of, Stats, Weighted};

/// Two questions whose similarity reaches this belong to one group.
pub const GROUP_SIMILARITY: f32 = 0.45;

/// A group of similar questions: indices into the input, in input order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The index of the question that opened the group (its most typical wording is the
    /// first one seen).
    pub representative: usize,
    /// Every member's index, the representative first.
    pub members: Vec<usize>,
}

/// Groups `questions` by similarity; groups come largest first, ties in order of first
/// appearance. Blank or term-less questions (emoji, punctuation) form no group.
pub fn group_questions<S: AsRef<str>>(questions: &[S]) -> Vec<Group> {
    let mut stats = Stats::default();
    let packed: Vec<Option<_>> = Analyzers::with_local(|analyzers| {
        questions
            .iter()
            .map(|q| {
                let analysis = analyzers.run(q.as_ref());
                (!analysis.is_empty()).then(|| stats.intern_packed(&analysis))
            })
            .collect()
    });
    for p in packed.iter().flatten() {
        stats.add(p);
    }
    stats.refresh();
    let weighted: Vec<Option<Weighted>> = packed
        .iter()
        .map(|p| p.as_ref().map(|p| Weighted::from_packed(p, &stats)))
        .collect();

    let mut groups: Vec<Group> = Vec::new();
    for (i, w) in weighted.iter().enumerate() {
        let Some(w) = w else { continue };
        let best = groups
            .iter_mut()
            .filter_map(|g| {
                let rep = weighted[g.representative].as_ref()?;
                Some((rep.dice(w), g))
            })
            .filter(|(score, _)| *score >= GROUP_SIMILARITY)
            .max_by(|a, b| a.0.total_cmp(&b.0));
        match best {
            Some((_, group)) => group.members.push(i),
            None => groups.push(Group {
                representative: i,
                members: vec![i],
            }),
        }
    }
    // Stable: equal sizes keep their order of first appearance.
    groups.sort_by_key(|g| std::cmp::Reverse(g.members.len()));
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_question_in_other_words_is_one_group_and_the_biggest_comes_first() {
        let questions = [
            "能开专票吗",
            "快递到哪了",
            "我的快递到哪里了",
            "快递到哪了啊",
            "可以开增值税专票吗",
            "where is my parcel",
            "where is my parcel now",
        ];
        let groups = group_questions(&questions);
        assert_eq!(groups[0].members, [1, 2, 3], "{groups:?}");
        assert!(groups.iter().any(|g| g.members == [0, 4]), "{groups:?}");
        assert!(groups.iter().any(|g| g.members == [5, 6]), "{groups:?}");
        assert_eq!(groups.len(), 3);
    }

    #[test]
    fn empty_and_term_less_questions_form_no_group() {
        let groups = group_questions(&["", "🙂", "。。。", "退款"]);
        assert_eq!(
            groups,
            [Group {
                representative: 3,
                members: vec![3]
            }]
        );
        assert!(group_questions::<&str>(&[]).is_empty());
    }
}

/// How alike two customer messages are, in 0..=1 (1.0 for the same text after
/// normalisation): the weighted Dice coefficient over both texts' terms, weighted as if the
/// two were the whole corpus. Used to notice a customer asking the same thing again.
pub fn similarity(a: &str, b: &str) -> f32 {
    LineTerms::of(a).similarity(&LineTerms::of(b))
}

/// A (normalised) message's term keys, analysed once: [`LineTerms::similarity`] compares them
/// with another message's without analysing either again, so a conversation's earlier lines
/// are analysed once, not on every later turn.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LineTerms {
    /// The distinct keys, sorted.
    keys: Box<[LineKey]>,
}

#[derive(Debug, Clone, PartialEq)]
struct LineKey {
    key: Box<str>,
    /// Kind bits (`scoring::kind_of`), which scale the key's weight.
    kind: u8,
    /// Set only when every occurrence of the key is a bigram straddling a word boundary (local
    /// factor [`BRIDGE_WEIGHT`]).
    bridge: bool,
    /// For a bridging bigram: the word of its two characters is a key of the same text.
    own_word: bool,
}

impl LineTerms {
    /// Analyses `text` (normalised by the caller, as [`similarity`]'s arguments are).
    pub fn of(text: &str) -> Self {
        let analysis = Analyzers::with_local(|analyzers| analyzers.run(text));
        let mut keys: Vec<(String, bool)> = analysis
            .keys()
            .map(|(kind, text, bridge)| {
                let mut key = String::with_capacity(kind.prefix().len() + text.len());
                key.push_str(kind.prefix());
                key.push_str(text);
                (key, bridge)
            })
            .collect();
        // (key, false) sorts before (key, true): a key that is ever no bridge keeps full weight.
        keys.sort_unstable();
        keys.dedup_by(|later, earlier| later.0 == earlier.0);
        let own_word = |key: &str| {
            key.strip_prefix(BIGRAM_PREFIX).is_some_and(|text| {
                keys.binary_search_by(|(k, _)| prefixed_cmp(k, WORD_PREFIX, text))
                    .is_ok()
            })
        };
        let keys: Vec<LineKey> = keys
            .iter()
            .map(|(key, bridge)| LineKey {
                kind: kind_of(key),
                bridge: *bridge,
                own_word: *bridge && own_word(key),
                key: key.as_str().into(),
            })
            .collect();
        Self {
            keys: keys.into_boxed_slice(),
        }
    }

    /// Whether the text has no term at all (blank, punctuation, emoji...).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The number of distinct keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// [`similarity`] of the two texts: each key weighted by its idf over the two texts alone
    /// (kind factors as in the search), a bridging bigram at [`BRIDGE_WEIGHT`] unless the word
    /// of its two characters is in either text (then the bigram counts fully and the word is
    /// added, as the search repairs segmentation mistakes).
    pub fn similarity(&self, other: &LineTerms) -> f32 {
        if self.is_empty() || other.is_empty() {
            return 0.0;
        }
        let (a, b) = (self.weighted(other), other.weighted(self));
        let total: f32 = a.iter().chain(&b).map(|(_, w)| w).sum();
        let mut shared = 0.0;
        let (mut i, mut j) = (0, 0);
        while let (Some((ka, wa)), Some((kb, wb))) = (a.get(i), b.get(j)) {
            match ka.cmp(kb) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    shared += wa + wb;
                    i += 1;
                    j += 1;
                }
            }
        }
        if shared <= 0.0 || total <= 0.0 {
            return 0.0;
        }
        (shared / total).clamp(0.0, 1.0)
    }

    /// This text's keys with their weights in the two-text corpus of `self` and `other`, sorted
    /// (a repaired bigram's word borrowed from `other` when only `other` has it).
    fn weighted<'s>(&'s self, other: &'s LineTerms) -> Vec<(&'s str, f32)> {
        // Whether each key of `self` is one of `other`'s: one merge of the two sorted lists.
        let mut in_other = vec![false; self.keys.len()];
        let (mut i, mut j) = (0, 0);
        while let (Some(a), Some(b)) = (self.keys.get(i), other.keys.get(j)) {
            match a.key.cmp(&b.key) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    in_other[i] = true;
                    i += 1;
                    j += 1;
                }
            }
        }
        let weight = |in_both: bool, kind: u8| corpus_weight(2, 1 + u32::from(in_both), kind);
        let mut out: Vec<(&'s str, f32)> = Vec::with_capacity(self.keys.len());
        let mut repaired = false;
        for (key, &in_both) in self.keys.iter().zip(&in_other) {
            let mut factor = 1.0;
            if key.bridge {
                factor = BRIDGE_WEIGHT;
                if key.own_word {
                    // The word is a key of this text already, weighed in its own place.
                    factor = 1.0;
                } else if let Some(word) = key
                    .key
                    .strip_prefix(BIGRAM_PREFIX)
                    .and_then(|text| other.word(text))
                {
                    factor = 1.0;
                    // Only the other text has the word: df 1.
                    out.push((&word.key, weight(false, word.kind)));
                    repaired = true;
                }
            }
            out.push((&key.key, factor * weight(in_both, key.kind)));
        }
        if repaired {
            // Only words of `other` absent from `self` are added: no duplicates.
            out.sort_unstable_by(|x, y| x.0.cmp(y.0));
        }
        out
    }

    /// The word key of `text` (two characters), if this text has it.
    fn word(&self, text: &str) -> Option<&LineKey> {
        let at = self
            .keys
            .binary_search_by(|k| prefixed_cmp(&k.key, WORD_PREFIX, text))
            .ok()?;
        self.keys.get(at)
    }
}

/// Compares `key` with `prefix` followed by `text`, without building that string.
fn prefixed_cmp(key: &str, prefix: &str, text: &str) -> std::cmp::Ordering {
    key.bytes().cmp(prefix.bytes().chain(text.bytes()))
}

#[cfg(test)]
mod similarity_tests {
    use super::{similarity, LineTerms};
    use crate::analysis::Analyzers;
    use crate::scoring::{Stats, Weighted};

    #[test]
    fn the_same_question_reworded_is_similar_and_another_is_not() {
        assert!(similarity("我的快递到哪了", "我的快递到哪了") > 0.99);
        assert!(similarity("我的快递到哪了？？", "我的快递到哪里了") > 0.6);
        assert!(similarity("我的快递到哪了", "怎么开发票") < 0.2);
        assert!(similarity("where is my parcel", "where is my parcel now?") > 0.6);
        assert_eq!(similarity("", "退款"), 0.0);
    }

    /// The pair's score computed the way the search weighs phrasings: both texts interned into
    /// one [`Stats`] as a two-phrasing corpus, weighed by [`Weighted::from_packed`].
    fn by_the_search_s_scoring(a: &str, b: &str) -> f32 {
        let (ta, tb) = Analyzers::with_local(|analyzers| (analyzers.run(a), analyzers.run(b)));
        if ta.is_empty() || tb.is_empty() {
            return 0.0;
        }
        let mut stats = Stats::default();
        let (pa, pb) = (stats.intern_packed(&ta), stats.intern_packed(&tb));
        stats.add(&pa);
        stats.add(&pb);
        stats.refresh();
        Weighted::from_packed(&pa, &stats).dice(&Weighted::from_packed(&pb, &stats))
    }

    #[test]
    fn line_terms_score_every_pair_as_the_search_s_weighting_does() {
        let mut texts: Vec<String> = vec![
            String::new(),
            "🙂".into(),
            "2".into(),
            "我的快递到哪了？？".into(),
            "我的快递到哪里了".into(),
            "where is my parcel now? parcels".into(),
            "我想问下 refund 多久到账".into(),
            "請問什麼時候發貨".into(),
        ];
        for article in crate::demo_articles().expect("demo articles") {
            texts.push(crate::normalize(&article.question));
            texts.extend(article.similar.iter().map(|s| crate::normalize(s)));
        }
        assert!(texts.len() > 200, "{}", texts.len());
        let (mut pairs, mut related, mut repaired) = (0, 0, 0);
        for (i, a) in texts.iter().enumerate() {
            // Each text with its neighbours (often the same article's phrasings) and a spread of
            // others.
            for b in texts.iter().skip(i).step_by(1 + i % 7).take(40) {
                let (ours, search) = (similarity(a, b), by_the_search_s_scoring(a, b));
                assert!(
                    (ours - search).abs() < 1e-5,
                    "{a:?} / {b:?}: {ours} vs {search}"
                );
                assert!(
                    (similarity(b, a) - ours).abs() < 1e-5,
                    "{a:?} / {b:?} symmetric"
                );
                pairs += 1;
                related += usize::from(ours > 0.3);
                let (la, lb) = (LineTerms::of(a), LineTerms::of(b));
                repaired += usize::from(
                    la.weighted(&lb).len() > la.len() || lb.weighted(&la).len() > lb.len(),
                );
            }
        }
        // The comparison covered unrelated, related and repaired pairs.
        assert!(
            pairs > 5_000 && related > 100 && repaired > 10,
            "{pairs} {related} {repaired}"
        );
    }
}
