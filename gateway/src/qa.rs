//! Quality inspection of an agent's message before it goes out.
//!
//! Service teams are scored on attitude complaints; most of them start with a phrase the
//! customer hears as "not my problem" (「不知道」「不关我的事」「不是告诉你了么」) or with the
//! same canned answer pasted again. [`inspect`] finds both in a draft: phrases from a
//! configurable list (matched on the normalised text, so Traditional, full-width and case
//! variants match too) and a reply that repeats one the agent already sent in the
//! conversation. Flags are warnings: the console shows them before sending, a sent message
//! carries them, and every flag of a sent message is kept for `GET /v1/qa/flags`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The store log flagged messages are kept in, and how many it keeps.
pub const FLAGS_LOG: &str = "qa_flags";
pub const MAX_FLAGS: usize = 10_000;
/// The store meta key of a shop's own phrase list (absent: [`default_phrases`]).
pub const PHRASES_META: &str = "qa_phrases";
/// Bounds of a phrase list.
pub const MAX_PHRASES: usize = 500;
pub const MAX_PHRASE_CHARS: usize = 100;

/// How similar (0..1, `kb::similarity`) a reply must be to an earlier one to count as the same
/// reply sent again.
pub const REPEAT_SIMILARITY: f32 = 0.9;
/// Replies shorter than this (in characters) are never "the same canned reply": 「好的」 or
/// "OK" may be said many times.
pub const REPEAT_MIN_CHARS: usize = 12;

/// One forbidden phrase and what to say instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Phrase {
    /// What is looked for (any case, width or script variant of it).
    pub phrase: String,
    /// Why it is flagged: `dismissive`, `blaming`, `rhetorical`, `rude`.
    pub category: String,
    /// A better way to say it, shown to the agent.
    #[serde(default)]
    pub suggestion: Option<String>,
}

/// What a flag is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    ForbiddenPhrase,
    RepeatedReply,
}

/// One problem found in a draft.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Flag {
    pub kind: FlagKind,
    /// The configured phrase that matched (forbidden phrases).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phrase: Option<String>,
    /// The phrase's category (forbidden phrases).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The earlier message this one repeats (repeated replies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeats_seq: Option<u64>,
    /// What the agent sees.
    pub message: String,
}

/// A sent agent message that quality inspection flagged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FlagRecord {
    pub conversation_id: String,
    pub agent_id: String,
    pub agent_name: String,
    pub message_id: String,
    pub seq: u64,
    pub text: String,
    pub flags: Vec<Flag>,
    pub at: DateTime<Utc>,
}

/// Checks a phrase list an admin sends: each phrase non-blank and short, no duplicates
/// (after normalisation), a known category, and not too many.
pub fn validate_phrases(phrases: Vec<Phrase>) -> Result<Vec<Phrase>, String> {
    if phrases.len() > MAX_PHRASES {
        return Err(format!("at most {MAX_PHRASES} phrases"));
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(phrases.len());
    for mut p in phrases {
        p.phrase = p.phrase.trim().to_owned();
        if p.phrase.is_empty() || p.phrase.chars().count() > MAX_PHRASE_CHARS {
            return Err(format!(
                "each phrase must have 1 to {MAX_PHRASE_CHARS} characters"
            ));
        }
        if !["dismissive", "blaming", "rhetorical", "rude"].contains(&p.category.as_str()) {
            return Err(format!(
                "unknown category {:?}: dismissive, blaming, rhetorical or rude",
                p.category
            ));
        }
        if !seen.insert(comparable(&p.phrase)) {
            return Err(format!("the phrase {:?} is listed twice", p.phrase));
        }
        out.push(p);
    }
    Ok(out)
}

/// The shipped list: dismissive, blaming, rhetorical and rude phrases in Chinese and English,
/// from the service-quality rules Chinese e-commerce teams train agents on.
pub fn default_phrases() -> Vec<Phrase> {
    let p = |phrase: &str, category: &str, suggestion: &str| Phrase {
        phrase: phrase.to_owned(),
        category: category.to_owned(),
        suggestion: Some(suggestion.to_owned()),
    };
    vec![
        p("不知道", "dismissive", "我帮您确认一下，稍后回复您"),
        p("不清楚", "dismissive", "我帮您核实一下"),
        p("不关我的事", "dismissive", "我来帮您联系负责的同事处理"),
        p("跟我没关系", "dismissive", "我来帮您联系负责的同事处理"),
        p("不归我管", "dismissive", "我来帮您转给负责的同事"),
        p("我也没办法", "dismissive", "我们一起看看还有什么办法"),
        p("没办法", "dismissive", "我们一起看看还有什么办法"),
        p("不是告诉你了", "blaming", "我再为您说明一下"),
        p("我已经说过了", "blaming", "我再为您说明一下"),
        p("说了多少遍", "blaming", "我再为您说明一下"),
        p("你自己看", "blaming", "我把具体位置发给您"),
        p("你自己去查", "blaming", "我帮您查一下"),
        p(
            "你没看",
            "blaming",
            "这里的说明可能不够清楚，我为您解释一下",
        ),
        p("你想怎样", "rhetorical", "请问您希望我们怎么处理呢？"),
        p("你想怎么样", "rhetorical", "请问您希望我们怎么处理呢？"),
        p("你到底想", "rhetorical", "请问您希望我们怎么处理呢？"),
        p("听不懂吗", "rhetorical", "我换个方式为您说明"),
        p("看不懂吗", "rhetorical", "我换个方式为您说明"),
        p("难道", "rhetorical", "避免反问，直接说明情况"),
        p("这不是我们的问题", "blaming", "我们一起看看问题出在哪里"),
        p("是你自己", "blaming", "我们一起看看问题出在哪里"),
        p("爱买不买", "rude", "请保持礼貌"),
        p("随便你", "rude", "请保持礼貌"),
        p("i don't know", "dismissive", "Let me check that for you."),
        p("i dont know", "dismissive", "Let me check that for you."),
        p("no idea", "dismissive", "Let me find out for you."),
        p(
            "not my problem",
            "dismissive",
            "Let me get this to the right person.",
        ),
        p(
            "not my job",
            "dismissive",
            "Let me get this to the right person.",
        ),
        p(
            "nothing i can do",
            "dismissive",
            "Let's look at what we can do.",
        ),
        p(
            "i already told you",
            "blaming",
            "Let me explain that again.",
        ),
        p("as i said", "blaming", "To recap:"),
        p("like i said", "blaming", "To recap:"),
        p(
            "read the description",
            "blaming",
            "Here is where the details are:",
        ),
        p(
            "didn't you read",
            "rhetorical",
            "Avoid rhetorical questions; explain directly.",
        ),
        p(
            "can't you read",
            "rhetorical",
            "Avoid rhetorical questions; explain directly.",
        ),
        p(
            "what do you want",
            "rhetorical",
            "How would you like us to handle this?",
        ),
        p("your fault", "blaming", "Let's see what went wrong."),
        p("calm down", "rude", "I understand this is frustrating."),
        p("whatever", "rude", "Please stay courteous."),
    ]
}

/// Checks an agent's draft against the phrase list and the agent replies already sent in the
/// conversation (`(seq, text)`, any order). Returns every flag, phrases first.
pub fn inspect(phrases: &[Phrase], draft: &str, earlier_replies: &[(u64, &str)]) -> Vec<Flag> {
    let text = comparable(draft);
    // Each phrase normalised once; the ones in the draft.
    let matched: Vec<(&Phrase, String)> = phrases
        .iter()
        .map(|p| (p, comparable(&p.phrase)))
        .filter(|(_, own)| contains_phrase(&text, own))
        .collect();
    // Overlapping phrases ("没办法" inside "我也没办法") flag once, by the longer phrase.
    let mut flags: Vec<Flag> = matched
        .iter()
        .filter(|(p, own)| {
            !matched
                .iter()
                .any(|(other, longer)| other.phrase != p.phrase && longer.contains(own.as_str()))
        })
        .map(|(p, _)| Flag {
            kind: FlagKind::ForbiddenPhrase,
            phrase: Some(p.phrase.clone()),
            category: Some(p.category.clone()),
            repeats_seq: None,
            message: match &p.suggestion {
                Some(better) => format!("「{}」 may upset the customer; try: {better}", p.phrase),
                None => format!("「{}」 may upset the customer", p.phrase),
            },
        })
        .collect();
    if draft.trim().chars().count() >= REPEAT_MIN_CHARS {
        let normalized = kb::normalize(draft);
        if let Some((seq, _)) = earlier_replies.iter().find(|(_, earlier)| {
            let earlier = kb::normalize(earlier);
            earlier == normalized || kb::similarity(&earlier, &normalized) >= REPEAT_SIMILARITY
        }) {
            flags.push(Flag {
                kind: FlagKind::RepeatedReply,
                phrase: None,
                category: None,
                repeats_seq: Some(*seq),
                message: format!(
                    "the same reply was already sent in this conversation (message {seq}); \
                     answer the customer's new question in your own words"
                ),
            });
        }
    }
    flags
}

/// The text as phrases are compared: normalised (width, Traditional → Simplified, case) and
/// with typographic apostrophes made plain.
fn comparable(text: &str) -> String {
    kb::normalize(text)
        .replace(['\u{2019}', '\u{2018}', '`'], "'")
        .to_lowercase()
}

/// Whether `text` holds `phrase`; a Latin phrase must start and end at word boundaries
/// ("no idea" is not in "piano ideas").
fn contains_phrase(text: &str, phrase: &str) -> bool {
    if phrase.is_empty() {
        return false;
    }
    let latin = |c: char| c.is_ascii_alphanumeric();
    text.match_indices(phrase).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + phrase.len()..].chars().next();
        let starts = !phrase.starts_with(latin) || !before.is_some_and(latin);
        let ends = !phrase.ends_with(latin) || !after.is_some_and(latin);
        starts && ends
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(flags: &[Flag]) -> Vec<(FlagKind, Option<&str>)> {
        flags
            .iter()
            .map(|f| (f.kind, f.phrase.as_deref()))
            .collect()
    }

    #[test]
    fn dismissive_and_rhetorical_chinese_phrases_are_flagged() {
        let phrases = default_phrases();
        let flags = inspect(&phrases, "这个我不知道，不是告诉你了么？", &[]);
        assert_eq!(
            kinds(&flags),
            [
                (FlagKind::ForbiddenPhrase, Some("不知道")),
                (FlagKind::ForbiddenPhrase, Some("不是告诉你了")),
            ]
        );
        assert!(flags[0].message.contains("我帮您确认一下"));
        assert_eq!(
            kinds(&inspect(&phrases, "你想怎样？", &[])),
            [(FlagKind::ForbiddenPhrase, Some("你想怎样"))]
        );
        assert_eq!(
            kinds(&inspect(&phrases, "这个不关我的事", &[])),
            [(FlagKind::ForbiddenPhrase, Some("不关我的事"))]
        );
    }

    #[test]
    fn traditional_full_width_and_case_variants_match() {
        let phrases = default_phrases();
        assert_eq!(
            kinds(&inspect(&phrases, "我不清楚，你自己看吧", &[])),
            [
                (FlagKind::ForbiddenPhrase, Some("不清楚")),
                (FlagKind::ForbiddenPhrase, Some("你自己看")),
            ]
        );
        assert_eq!(
            kinds(&inspect(&phrases, "這個不關我的事", &[])),
            [(FlagKind::ForbiddenPhrase, Some("不关我的事"))]
        );
        assert_eq!(
            kinds(&inspect(&phrases, "Sorry, I DON’T KNOW.", &[])),
            [(FlagKind::ForbiddenPhrase, Some("i don't know"))]
        );
        assert_eq!(
            kinds(&inspect(&phrases, "ＮＯＴ ＭＹ ＰＲＯＢＬＥＭ", &[])),
            [(FlagKind::ForbiddenPhrase, Some("not my problem"))]
        );
    }

    #[test]
    fn an_overlapping_shorter_phrase_is_not_flagged_twice() {
        let flags = inspect(&default_phrases(), "我也没办法", &[]);
        assert_eq!(
            kinds(&flags),
            [(FlagKind::ForbiddenPhrase, Some("我也没办法"))]
        );
    }

    #[test]
    fn latin_phrases_match_whole_words_only() {
        let phrases = default_phrases();
        assert!(inspect(&phrases, "The piano ideas are great", &[]).is_empty());
        assert!(inspect(&phrases, "Whateverest brand", &[]).is_empty());
        assert_eq!(
            kinds(&inspect(&phrases, "Honestly, no idea.", &[])),
            [(FlagKind::ForbiddenPhrase, Some("no idea"))]
        );
    }

    #[test]
    fn polite_replies_pass() {
        let phrases = default_phrases();
        for reply in [
            "您好，我帮您查一下物流信息，请稍等",
            "已为您登记退款，预计1-3个工作日到账",
            "Thanks for waiting, your parcel left our warehouse today.",
        ] {
            assert!(inspect(&phrases, reply, &[]).is_empty(), "{reply}");
        }
    }

    #[test]
    fn a_phrase_list_is_validated() {
        let phrase = |p: &str, c: &str| Phrase {
            phrase: p.into(),
            category: c.into(),
            suggestion: None,
        };
        assert_eq!(
            validate_phrases(vec![phrase("  滚  ", "rude")]),
            Ok(vec![phrase("滚", "rude")])
        );
        assert!(validate_phrases(vec![phrase(" ", "rude")]).is_err());
        assert!(validate_phrases(vec![phrase("x", "nice")]).is_err());
        assert!(validate_phrases(vec![
            phrase("不知道", "rude"),
            phrase("不知道", "dismissive")
        ])
        .is_err());
        assert!(validate_phrases(vec![
            phrase("Calm Down", "rude"),
            phrase("calm down", "rude")
        ])
        .is_err());
        assert!(validate_phrases(default_phrases()).is_ok());
    }

    #[test]
    fn the_same_canned_reply_again_is_flagged_with_the_earlier_message() {
        let canned = "亲，您的订单已发货，物流单号可以在订单详情里查看哦";
        let flags = inspect(&[], canned, &[(4, "您好"), (7, canned)]);
        assert_eq!(kinds(&flags), [(FlagKind::RepeatedReply, None)]);
        assert_eq!(flags[0].repeats_seq, Some(7));
        // Traditional and full-width variants of the same reply are the same reply.
        let variant = "親，您的訂單已發貨，物流單號可以在訂單詳情裡查看哦";
        assert_eq!(inspect(&[], variant, &[(7, canned)]).len(), 1);
        // A different reply, or a short acknowledgement, is not.
        assert!(inspect(&[], "亲，退款已经提交，请留意到账通知哦", &[(7, canned)]).is_empty());
        assert!(inspect(&[], "好的", &[(3, "好的")]).is_empty());
    }
}
