//! Words that decide a turn before the knowledge base is asked.
//!
//! Each list is matched against normalised text (lowercase, half-width, Simplified). Chinese
//! phrases match anywhere; English words match as whole words, English phrases anywhere.

/// Asking for a person.
const HUMAN_ZH: &[&str] = &[
    "转人工",
    "人工",
    "真人",
    "客服主管",
    "找客服",
    "活人",
    "找主管",
    "叫主管",
    "你们领导",
];
const HUMAN_EN_WORDS: &[&str] = &[
    "human",
    "agent",
    "representative",
    "operator",
    "supervisor",
    "manager",
];
const HUMAN_EN_PHRASES: &[&str] = &[
    "real person",
    "talk to a person",
    "speak to a person",
    "live person",
    "someone real",
    "talk to someone",
];

/// Actions only a person may take, by kind. Each entry is a set of phrases all of which must
/// appear (so "改地址" alone is a normal change-order question, "改地址" with "已发货" is not).
const HUMAN_ONLY: &[(&str, &[&[&str]])] = &[
    (
        "shipped_address_change",
        &[
            &["改地址", "已发货"],
            &["改地址", "发货了"],
            &["修改地址", "已发货"],
            &["修改地址", "发货了"],
            &["改收货地址", "发出"],
            &["change", "address", "shipped"],
            &["change", "address", "dispatched"],
        ],
    ),
    (
        "compensation",
        &[
            &["赔偿"],
            &["补偿"],
            &["赔钱"],
            &["赔付"],
            &["compensation"],
            &["compensate"],
            &["reimburse"],
        ],
    ),
    (
        "double_charge",
        &[
            &["扣了两次"],
            &["扣款两次"],
            &["重复扣款"],
            &["扣了两遍"],
            &["付了两次"],
            &["重复支付"],
            &["charged twice"],
            &["double charge"],
            &["double-charge"],
            &["charged me twice"],
            &["paid twice"],
        ],
    ),
    (
        "safety",
        &[
            &["过敏"],
            &["起火"],
            &["着火"],
            &["爆炸"],
            &["冒烟"],
            &["漏电"],
            &["受伤"],
            &["烫伤"],
            &["触电"],
            &["allergic"],
            &["allergy"],
            &["caught fire"],
            &["on fire"],
            &["exploded"],
            &["smoke"],
            &["electric shock"],
            &["injured"],
            &["burned"],
            &["burnt"],
        ],
    ),
];

/// The customer says the last answer did not help.
const NOT_HELPFUL: &[&str] = &[
    "没用",
    "没有用",
    "没帮助",
    "没有帮助",
    "答非所问",
    "不是这个",
    "不是我要问的",
    "没解决",
    "没有解决",
    "还是不行",
    "didn't help",
    "did not help",
    "not helpful",
    "doesn't help",
    "does not help",
    "not what i asked",
    "wrong answer",
    "that's not it",
];

/// Words that make a payment question a payment problem (a sensitive matter for a VIP).
const PAYMENT_PROBLEM: &[&str] = &[
    "失败",
    "不成功",
    "扣款",
    "扣了",
    "没到账",
    "未到账",
    "异常",
    "付不了",
    "支付不了",
    "显示未付款",
    "fail",
    "declin",
    "charged",
    "unpaid",
    "error",
    "didn't go through",
    "did not go through",
    "not go through",
];

/// Whether a payment question reports something gone wrong.
pub fn payment_problem(normalized: &str) -> bool {
    PAYMENT_PROBLEM.iter().any(|p| normalized.contains(p))
}

fn words(normalized: &str) -> impl Iterator<Item = &str> {
    normalized
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// Whether the customer asks for a person, in any of the known wordings.
pub fn asks_for_human(normalized: &str) -> bool {
    HUMAN_ZH.iter().any(|k| normalized.contains(k))
        || HUMAN_EN_PHRASES.iter().any(|p| normalized.contains(p))
        || words(normalized).any(|word| {
            HUMAN_EN_WORDS.contains(&word)
                || word
                    .strip_suffix('s')
                    .is_some_and(|w| HUMAN_EN_WORDS.contains(&w))
        })
}

/// The kind of action only a person may take that the message asks for, if any.
pub fn human_only_action(normalized: &str) -> Option<&'static str> {
    HUMAN_ONLY
        .iter()
        .find(|(_, sets)| {
            sets.iter()
                .any(|all| all.iter().all(|p| normalized.contains(p)))
        })
        .map(|(kind, _)| *kind)
}

/// Whether the customer says the previous answer did not help.
pub fn says_not_helpful(normalized: &str) -> bool {
    NOT_HELPFUL.iter().any(|p| normalized.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_only_actions_need_every_part() {
        assert_eq!(human_only_action("我想改地址"), None);
        assert_eq!(
            human_only_action("已经发货了还能改地址吗"),
            Some("shipped_address_change")
        );
        assert_eq!(
            human_only_action("包裹丢了你们得赔偿"),
            Some("compensation")
        );
        assert_eq!(human_only_action("怎么扣了两次钱"), Some("double_charge"));
        assert_eq!(human_only_action("穿了这件衣服皮肤过敏"), Some("safety"));
        assert_eq!(human_only_action("the charger caught fire"), Some("safety"));
        assert_eq!(
            human_only_action("you charged me twice"),
            Some("double_charge")
        );
        assert_eq!(human_only_action("多久发货"), None);
    }

    #[test]
    fn english_request_words_match_whole_words_only() {
        assert!(asks_for_human("can i talk to an agent"));
        assert!(asks_for_human("agents please"));
        assert!(!asks_for_human("agentic reagent"));
        assert!(!asks_for_human("humanity"));
    }

    #[test]
    fn not_helpful_is_recognised() {
        assert!(says_not_helpful("这个回答没用"));
        assert!(says_not_helpful("that didn't help at all"));
        assert!(!says_not_helpful("好的谢谢"));
    }
}
