//! Grouping the questions the bot could not answer, so admins see what to write next.
//!
//! The input is a list of customer questions (unanswered, handed off, rated badly); the output
//! is groups of questions that ask the same thing, largest first. Similarity is the same
//! weighted Dice coefficient the search uses (jieba words, CJK bigrams, English stems, weights
//! by inverse frequency over the questions themselves), so "快递到哪了" and "我的快递到哪里了"
//! land together while "发票" and "快递" questions stay apart.

use crate::analysis::{Analysis, Analyzers};
use crate::scoring::{Stats, Weighted};

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
    let (ta, tb): (Analysis, Analysis) =
        Analyzers::with_local(|analyzers| (analyzers.run(a), analyzers.run(b)));
    if ta.is_empty() || tb.is_empty() {
        return 0.0;
    }
    let mut stats = Stats::default();
    let (pa, pb) = (stats.intern_packed(&ta), stats.intern_packed(&tb));
    pair_dice(&mut stats, &pa, &pb)
}

/// The weighted Dice coefficient of two interned texts, weighted as if the two were the whole
/// corpus; `stats` counts neither before nor after.
fn pair_dice(stats: &mut Stats, pa: &[u32], pb: &[u32]) -> f32 {
    stats.add(pa);
    stats.add(pb);
    stats.refresh();
    let score = Weighted::from_packed(pa, stats).dice(&Weighted::from_packed(pb, stats));
    stats.remove(pa);
    stats.remove(pb);
    score
}

#[cfg(test)]
mod similarity_tests {
    use super::similarity;

    #[test]
    fn the_same_question_reworded_is_similar_and_another_is_not() {
        assert!(similarity("我的快递到哪了", "我的快递到哪了") > 0.99);
        assert!(similarity("我的快递到哪了？？", "我的快递到哪里了") > 0.6);
        assert!(similarity("我的快递到哪了", "怎么开发票") < 0.2);
        assert!(similarity("where is my parcel", "where is my parcel now?") > 0.6);
        assert_eq!(similarity("", "退款"), 0.0);
    }
}

/// Whether [`similarity`] of `text` to any of `others` reaches `threshold`, analysing `text`
/// once (a bot turn compares the new message with every earlier one of the session).
pub fn similar_to_any<S: AsRef<str>>(
    text: &str,
    others: impl IntoIterator<Item = S>,
    threshold: f32,
) -> bool {
    Analyzers::with_local(|analyzers| {
        let ta = analyzers.run(text);
        // One vocabulary for every pair (`text` is interned once); the frequencies are the
        // pair's alone while it is weighed, so each score is `similarity`'s.
        let mut stats = Stats::default();
        let pa = stats.intern_packed(&ta);
        others.into_iter().any(|other| {
            let tb = analyzers.run(other.as_ref());
            if ta.is_empty() || tb.is_empty() {
                return 0.0 >= threshold;
            }
            let pb = stats.intern_packed(&tb);
            pair_dice(&mut stats, &pa, &pb) >= threshold
        })
    })
}

#[cfg(test)]
mod similar_to_any_tests {
    use super::{similar_to_any, similarity};

    #[test]
    fn agrees_with_similarity_pair_by_pair() {
        let earlier = [
            "怎么开发票",
            "where is my parcel now?",
            "",
            "🙂",
            "满多少包邮",
            "我的快递到哪里了",
        ];
        // Every pair alone, too: the shared vocabulary must not change any pair's score (but
        // for the order of a float sum: terms are numbered in another order).
        for text in ["我的快递到哪了", "满多少钱包邮", "where is my parcel"] {
            for e in earlier {
                let s = similarity(e, text);
                assert!(similar_to_any(text, [e], s - 1e-5), "{text:?} / {e:?}");
                assert!(
                    s >= 1.0 || !similar_to_any(text, [e], s + 1e-4),
                    "{text:?} / {e:?}"
                );
            }
        }
        for text in [
            "我的快递到哪了",
            "where is my parcel",
            "退款",
            "满多少钱包邮",
            "",
        ] {
            for threshold in [0.0_f32, 0.05, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0] {
                let expected = earlier.iter().any(|e| similarity(e, text) >= threshold);
                assert_eq!(
                    similar_to_any(text, earlier, threshold),
                    expected,
                    "{text:?} at {threshold}"
                );
            }
        }
        assert!(!similar_to_any("我的快递到哪了", Vec::<&str>::new(), 0.1));
    }
}
