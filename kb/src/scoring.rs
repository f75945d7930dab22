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
//!
//! Speed: term keys are interned once into dense [`TermId`]s ([`Stats::intern`]); the indexed
//! phrasings keep only their sorted ids ([`Packed`]), and the corpus weight of every id is
//! cached in a table that [`Stats::refresh`] recomputes after the statistics change. Weighing a
//! phrasing at query time is then a few table look-ups, with no string and no hashing.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::analysis::{
    is_bigram, is_stopword, is_unigram, Analysis, TermSet, BIGRAM_PREFIX, BIGRAM_WEIGHT,
    BRIDGE_WEIGHT, STOPWORD_WEIGHT, UNIGRAM_WEIGHT, WORD_PREFIX,
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

/// The FxHash function (as in rustc): a multiply-rotate hash, several times faster than the
/// default SipHash on the short term keys looked up for every query and interned by the
/// million when a large knowledge base is built. It is not DoS-resistant, which is fine here:
/// only article text (written by the shop) is ever inserted; queries only look keys up.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

impl FxHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        // The multiply leaves the best-mixed bits at the top; hash tables index with the low ones.
        self.hash.rotate_left(26)
    }
}

/// A `HashMap` with [`FxHasher`].
pub(crate) type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// A dense id of an interned term key (`w:退货`, `b:退货`, `u:退`...).
pub(crate) type TermId = u32;

/// "No term" in [`TermInfo::word`].
const NO_TERM: TermId = TermId::MAX;

/// The largest id [`Stats::intern`] hands out: ids are packed with a flag bit ([`Packed`]).
const MAX_TERM_ID: TermId = (1 << 31) - 2;

/// A phrasing's term keys: the sorted ids, each shifted left by one with the low bit set for a
/// bigram that straddles a word boundary in the phrasing (local factor [`BRIDGE_WEIGHT`]).
pub(crate) type Packed = Box<[u32]>;

/// Kind bits of a term key, which scale its corpus weight.
const STOPWORD: u8 = 1;
const BIGRAM: u8 = 2;
const UNIGRAM: u8 = 4;

pub(crate) fn kind_of(key: &str) -> u8 {
    let mut kind = 0;
    if is_stopword(key) {
        kind |= STOPWORD;
    }
    if is_bigram(key) {
        kind |= BIGRAM;
    }
    if is_unigram(key) {
        kind |= UNIGRAM;
    }
    kind
}

/// The corpus weight of a term key: a smoothed inverse document frequency over `phrasings`
/// phrasings, scaled down for function words and for bigrams and characters. Terms unknown to
/// the index (df 0) get the highest idf, so words a query adds beyond a phrasing lower the
/// similarity.
pub(crate) fn corpus_weight(phrasings: usize, df: u32, kind: u8) -> f32 {
    let n = phrasings as f32;
    let df = df as f32;
    let mut weight = (1.0 + (n + 1.0) / (df + 0.5)).ln();
    if kind & STOPWORD != 0 {
        weight *= STOPWORD_WEIGHT;
    }
    if kind & BIGRAM != 0 {
        weight *= BIGRAM_WEIGHT;
    }
    if kind & UNIGRAM != 0 {
        weight *= UNIGRAM_WEIGHT;
    }
    weight
}

/// What is known of one interned term.
#[derive(Debug, Clone, Copy)]
struct TermInfo {
    /// The number of counted phrasings containing the term.
    df: u32,
    /// Kind bits ([`STOPWORD`], [`BIGRAM`], [`UNIGRAM`]).
    kind: u8,
    /// For a bigram `b:xy`: the id of the word `w:xy` when it is interned, else [`NO_TERM`].
    word: TermId,
}

/// The term vocabulary and the document frequencies of its keys over the searchable phrasings,
/// with each term's corpus weight cached.
///
/// Keys are interned for good (an id never changes meaning); the frequencies follow
/// [`Stats::add`] and [`Stats::remove`], and [`Stats::refresh`] must run after them, before
/// the next weighing.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    phrasings: usize,
    ids: FxHashMap<Box<str>, TermId>,
    terms: Vec<TermInfo>,
    /// The corpus weight of every term, as of the last [`Stats::refresh`].
    weights: Vec<f32>,
}

impl Stats {
    /// The id of a key, interning it when it is new.
    pub fn intern(&mut self, key: &str) -> TermId {
        if let Some(&id) = self.ids.get(key) {
            return id;
        }
        let id = TermId::try_from(self.terms.len())
            .unwrap_or(MAX_TERM_ID)
            .min(MAX_TERM_ID);
        // Link bigrams and the words of the same two characters, for the repair of segmentation
        // mistakes (see `Weighted::new`).
        let mut word = NO_TERM;
        if let Some(text) = key.strip_prefix(BIGRAM_PREFIX) {
            word = self
                .lookup(&format!("{WORD_PREFIX}{text}"))
                .unwrap_or(NO_TERM);
        } else if let Some(text) = key.strip_prefix(WORD_PREFIX) {
            if let Some(bigram) = self.lookup(&format!("{BIGRAM_PREFIX}{text}")) {
                if let Some(info) = self.terms.get_mut(bigram as usize) {
                    info.word = id;
                }
            }
        }
        let kind = kind_of(key);
        self.terms.push(TermInfo { df: 0, kind, word });
        self.weights.push(corpus_weight(self.phrasings, 0, kind));
        self.ids.insert(key.into(), id);
        id
    }

    /// The id of a key, if interned.
    pub fn lookup(&self, key: &str) -> Option<TermId> {
        self.ids.get(key).copied()
    }

    /// Interns the keys of an analyzed text as a [`Packed`] phrasing.
    pub fn intern_packed(&mut self, analysis: &Analysis) -> Packed {
        let mut key = String::new();
        let mut packed: Vec<u32> = analysis
            .keys()
            .map(|(kind, text, bridge)| {
                key.clear();
                key.push_str(kind.prefix());
                key.push_str(text);
                (self.intern(&key) << 1) | u32::from(bridge)
            })
            .collect();
        // For a key both bridging and not, the non-bridging occurrence (full weight) sorts first
        // and stays.
        packed.sort_unstable();
        packed.dedup_by_key(|p| *p >> 1);
        packed.into_boxed_slice()
    }

    /// Interns the keys of an analyzed text, as sorted ids.
    pub fn intern_ids(&mut self, analysis: &Analysis) -> Box<[TermId]> {
        let mut key = String::new();
        let mut ids: Vec<TermId> = analysis
            .keys()
            .map(|(kind, text, _)| {
                key.clear();
                key.push_str(kind.prefix());
                key.push_str(text);
                self.intern(&key)
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids.into_boxed_slice()
    }

    /// Counts one more searchable phrasing.
    pub fn add(&mut self, packed: &[u32]) {
        self.phrasings += 1;
        for &p in packed {
            if let Some(info) = self.terms.get_mut((p >> 1) as usize) {
                info.df += 1;
            }
        }
    }

    /// Forgets a phrasing counted by [`Stats::add`].
    pub fn remove(&mut self, packed: &[u32]) {
        self.phrasings = self.phrasings.saturating_sub(1);
        for &p in packed {
            if let Some(info) = self.terms.get_mut((p >> 1) as usize) {
                info.df = info.df.saturating_sub(1);
            }
        }
    }

    /// Recomputes the cached corpus weights after [`Stats::add`] / [`Stats::remove`].
    pub fn refresh(&mut self) {
        let n = self.phrasings;
        self.weights.clear();
        self.weights
            .extend(self.terms.iter().map(|t| corpus_weight(n, t.df, t.kind)));
    }

    /// The cached corpus weight of an interned term.
    fn weight(&self, id: TermId) -> f32 {
        self.weights.get(id as usize).copied().unwrap_or_default()
    }

    /// The document frequency of an interned term.
    pub fn df(&self, id: TermId) -> u32 {
        self.terms.get(id as usize).map_or(0, |t| t.df)
    }

    /// Whether an interned term is a function word (see [`is_stopword`]).
    pub fn is_stopword(&self, id: TermId) -> bool {
        self.terms
            .get(id as usize)
            .is_some_and(|t| t.kind & STOPWORD != 0)
    }

    /// Whether an interned term occurs in some counted phrasing.
    fn is_known(&self, id: TermId) -> bool {
        self.terms.get(id as usize).is_some_and(|t| t.df > 0)
    }

    /// The word of the same two characters as a bigram, when some counted phrasing has it.
    fn repair_word(&self, bigram: TermId) -> Option<TermId> {
        let word = self.terms.get(bigram as usize)?.word;
        self.is_known(word).then_some(word)
    }
}

/// A text's terms with their weights, sorted by id.
#[derive(Debug, Clone, Default)]
pub(crate) struct Weighted {
    terms: Vec<(TermId, f32)>,
    total: f32,
}

impl Weighted {
    /// Weighs the keys of `terms`: corpus weight times the local factor (bridging bigrams).
    ///
    /// A bigram that straddles a word boundary here but is a word of the index vocabulary is a
    /// segmentation mistake ("满多少钱包邮" cut as "钱包|邮" hides "包邮"): it gets its full
    /// weight back, and the word itself is added, as if jieba had cut the text right. Queries
    /// and phrasings go through the same step, so an exact phrasing still matches itself fully.
    ///
    /// Keys unknown to `stats` get ids of their own (at the top of the id range) that match
    /// nothing.
    pub fn new(terms: &TermSet, stats: &Stats) -> Self {
        // (id, local factor, corpus weight)
        let mut keyed: Vec<(TermId, f32, f32)> = Vec::with_capacity(terms.keys.len() + 4);
        let mut unknown = NO_TERM;
        for (key, factor) in &terms.keys {
            let mut factor = *factor;
            let (id, weight) = match stats.lookup(key) {
                Some(id) => (id, stats.weight(id)),
                None => {
                    unknown -= 1;
                    (unknown, corpus_weight(stats.phrasings, 0, kind_of(key)))
                }
            };
            if factor < 1.0 {
                if let Some(bigram) = key.strip_prefix(BIGRAM_PREFIX) {
                    let word = stats
                        .lookup(&format!("{WORD_PREFIX}{bigram}"))
                        .filter(|&w| stats.is_known(w));
                    if let Some(word) = word {
                        factor = 1.0;
                        keyed.push((word, 1.0, stats.weight(word)));
                    }
                }
            }
            keyed.push((id, factor, weight));
        }
        // Sort by id, highest factor first, so dedup keeps the highest factor of each key.
        keyed.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
        keyed.dedup_by(|later, earlier| later.0 == earlier.0);
        let terms: Vec<(TermId, f32)> = keyed
            .into_iter()
            .map(|(id, factor, weight)| (id, weight * factor))
            .collect();
        let total = terms.iter().map(|(_, w)| w).sum();
        Self { terms, total }
    }

    /// Weighs an interned phrasing (as [`Weighted::new`] would weigh its terms), reusing this
    /// value's buffer.
    pub fn set_packed(&mut self, packed: &[u32], stats: &Stats) {
        self.terms.clear();
        let mut repaired = false;
        for &p in packed {
            let id = p >> 1;
            let mut factor = 1.0;
            if p & 1 == 1 {
                factor = BRIDGE_WEIGHT;
                if let Some(word) = stats.repair_word(id) {
                    factor = 1.0;
                    self.terms.push((word, 1.0));
                    repaired = true;
                }
            }
            self.terms.push((id, factor));
        }
        if repaired {
            // Only words are added, always with factor 1.0, so any duplicate is equal.
            self.terms.sort_unstable_by_key(|t| t.0);
            self.terms.dedup_by_key(|t| t.0);
        }
        for (id, factor) in &mut self.terms {
            *factor *= stats.weight(*id);
        }
        self.total = self.terms.iter().map(|(_, w)| w).sum();
    }

    /// Weighs an interned phrasing.
    pub fn from_packed(packed: &[u32], stats: &Stats) -> Self {
        let mut weighted = Self::default();
        weighted.set_packed(packed, stats);
        weighted
    }

    /// The number of terms.
    pub fn len(&self) -> usize {
        self.terms.len()
    }

    /// The weighted Dice coefficient with another text: the weight of the shared terms (each
    /// side counting its own weight) over the total weight of both. 1.0 for the same text.
    pub fn dice(&self, other: &Weighted) -> f32 {
        self.dice_marking(other, &mut [])
    }

    /// [`Weighted::dice`], also setting `found[i]` for each term `i` of `self` that `other`
    /// has (`found` may be shorter than `self`).
    pub fn dice_marking(&self, other: &Weighted, found: &mut [bool]) -> f32 {
        let mut shared = 0.0;
        let (mut i, mut j) = (0, 0);
        while let (Some(&(a, wa)), Some(&(b, wb))) = (self.terms.get(i), other.terms.get(j)) {
            match a.cmp(&b) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    shared += wa + wb;
                    if let Some(f) = found.get_mut(i) {
                        *f = true;
                    }
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

    /// The weighted Dice coefficient with an interned phrasing (as [`Weighted::dice_marking`]
    /// with [`Weighted::from_packed`]), setting `found[i]` for each term `i` of `self` the
    /// phrasing has. `scratch` is a buffer for the rare phrasing with a repaired bigram.
    ///
    /// This is the inner loop of a search: one pass over the phrasing's ids, weighing each from
    /// the table and matching it against this (sorted) text at the same time.
    pub fn dice_packed(
        &self,
        packed: &[u32],
        stats: &Stats,
        found: &mut [bool],
        scratch: &mut Weighted,
    ) -> f32 {
        let mut shared = 0.0;
        let mut total = 0.0;
        let mut i = 0;
        for &p in packed {
            let id = p >> 1;
            let mut weight = stats.weight(id);
            if p & 1 == 1 {
                if stats.repair_word(id).is_some() {
                    // A word joins the phrasing (out of id order): take the general path. The
                    // terms marked so far are in the repaired phrasing too.
                    scratch.set_packed(packed, stats);
                    return self.dice_marking(scratch, found);
                }
                weight *= BRIDGE_WEIGHT;
            }
            total += weight;
            while let Some(&(a, wa)) = self.terms.get(i) {
                if a > id {
                    break;
                }
                if a == id {
                    shared += wa + weight;
                    if let Some(f) = found.get_mut(i) {
                        *f = true;
                    }
                }
                i += 1;
            }
        }
        let total = self.total + total;
        if shared <= 0.0 || total <= 0.0 {
            return 0.0;
        }
        (shared / total).clamp(0.0, 1.0)
    }

    /// The weighted share of this text's terms found in an article's phrasing vocabulary
    /// (`in_vocabulary[i]` for term `i`, see [`Weighted::dice_marking`]), where terms found
    /// only in its answer (sorted ids) count for [`ANSWER_CREDIT`] of their weight.
    pub fn coverage_with_answer(&self, in_vocabulary: &[bool], answer: &[TermId]) -> f32 {
        let shared: f32 = self
            .terms
            .iter()
            .enumerate()
            .map(|(i, (id, w))| {
                if in_vocabulary.get(i).copied().unwrap_or(false) {
                    *w
                } else if answer.binary_search(id).is_ok() {
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
    use crate::analysis::Analyzers;

    fn stats_of(texts: &[&str]) -> Stats {
        let mut stats = Stats::default();
        for t in texts {
            let packed = stats.intern_packed(&Analyzers::new().run(t));
            stats.add(&packed);
        }
        stats.refresh();
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
    fn an_indexed_phrasing_weighs_like_the_same_query() {
        let texts = ["满多少包邮", "满多少钱包邮啊", "看看包裹", "怎么申请退货"];
        let mut stats = Stats::default();
        let packed: Vec<Packed> = texts
            .iter()
            .map(|t| stats.intern_packed(&Analyzers::new().run(t)))
            .collect();
        for p in &packed {
            stats.add(p);
        }
        stats.refresh();
        for (text, p) in texts.iter().zip(&packed) {
            let query = Weighted::new(&TermSet::analyze(text), &stats);
            let phrasing = Weighted::from_packed(p, &stats);
            assert_eq!(query.terms, phrasing.terms, "{text}");
            assert_eq!(query.dice(&phrasing), 1.0, "{text}");
            let found = vec![true; query.len()];
            assert_eq!(query.coverage_with_answer(&found, &[]), 1.0, "{text}");
        }
    }

    #[test]
    fn the_fused_dice_equals_the_general_one() {
        let texts = [
            "满多少包邮",
            "满多少钱包邮啊",
            "看看包裹",
            "帮我看看包裹现在在哪",
            "怎么申请退货",
            "how do i return an item",
        ];
        let mut stats = Stats::default();
        let packed: Vec<Packed> = texts
            .iter()
            .map(|t| stats.intern_packed(&Analyzers::new().run(t)))
            .collect();
        for p in &packed {
            stats.add(p);
        }
        stats.refresh();
        let mut scratch = Weighted::default();
        for query in texts
            .iter()
            .chain(&["包裹到哪了", "满钱包邮", "return policy"])
        {
            let q = Weighted::new(&TermSet::analyze(query), &stats);
            for p in &packed {
                let mut found_a = vec![false; q.len()];
                let mut found_b = vec![false; q.len()];
                let general = q.dice_marking(&Weighted::from_packed(p, &stats), &mut found_a);
                let fused = q.dice_packed(p, &stats, &mut found_b, &mut scratch);
                assert_eq!(general, fused, "{query}");
                assert_eq!(found_a, found_b, "{query}");
            }
        }
    }

    #[test]
    fn function_words_weigh_less_than_content_words() {
        let stats = stats_of(&["怎么申请退货", "怎么开发票", "what is your return policy"]);
        let query = Weighted::new(&TermSet::analyze("怎么退货"), &stats);
        let weight = |key: &str| {
            let id = stats.lookup(key);
            query
                .terms
                .iter()
                .find(|(k, _)| Some(*k) == id)
                .map(|(_, w)| *w)
                .unwrap_or_default()
        };
        assert!(weight("w:怎么") < weight("w:退货") / 3.0);
    }

    #[test]
    fn a_segmentation_mistake_is_repaired_from_the_vocabulary() {
        let stats = stats_of(&["满多少包邮"]);
        let query = Weighted::new(&TermSet::analyze("满多少钱包邮啊"), &stats);
        let word = stats.lookup("w:包邮");
        assert!(word.is_some());
        assert!(
            query.terms.iter().any(|(k, _)| Some(*k) == word),
            "{query:?}"
        );
    }

    #[test]
    fn weights_follow_the_statistics() {
        let mut stats = Stats::default();
        let a = stats.intern_packed(&Analyzers::new().run("怎么申请退货"));
        let b = stats.intern_packed(&Analyzers::new().run("怎么开发票"));
        stats.add(&a);
        stats.refresh();
        let id = stats.lookup("w:怎么").unwrap_or(NO_TERM);
        let before = stats.weight(id);
        stats.add(&b);
        stats.refresh();
        assert!(
            stats.weight(id) < before,
            "a more frequent term weighs less"
        );
        stats.remove(&b);
        stats.refresh();
        assert_eq!(stats.weight(id), before);
    }

    #[test]
    fn fx_hash_spreads_short_keys() {
        let hash = |key: &str| {
            let mut h = FxHasher::default();
            h.write(key.as_bytes());
            h.finish()
        };
        assert_ne!(hash("w:退货"), hash("b:退货"));
        assert_ne!(hash("u:a"), hash("u:b"));
    }

    #[test]
    fn calibrated_scores_stay_in_range() {
        assert_eq!(calibrated(1.0, 1.0), 1.0);
        assert_eq!(calibrated(0.0, 0.0), 0.0);
        assert!((0.0..=1.0).contains(&calibrated(0.4, 0.9)));
    }
}
