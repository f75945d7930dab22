//! Words that decide a turn before the knowledge base is asked.
//!
//! Each list is matched against normalised text (lowercase, half-width, Simplified). Chinese
//! phrases match anywhere; English words match as whole words, English phrases anywhere.

/// Asking for a person.
const HUMAN_ZH: &[&str] = &[
    "转人工",
    "人工",
    "真人",
    "活人",
    "找客服",
    "客服主管",
    "主管",
    "你们领导",
    "负责人",
    "经理",
    "专员",
    "转接",
    "跟人说",
];
/// Words that, just before a request word, make it a story about an earlier contact
/// ("上次找客服说好给我补发") rather than a request now.
const HUMAN_ZH_NARRATIVE: &[&str] = &[
    "上次", "之前", "以前", "昨天", "前天", "刚才", "已经", "那次",
];
const HUMAN_EN_WORDS: &[&str] = &[
    "human",
    "agent",
    "representative",
    "rep",
    "operator",
    "supervisor",
    "manager",
];
const HUMAN_EN_PHRASES: &[&str] = &[
    "real person",
    "live person",
    "actual person",
    "someone real",
    "put me through",
    "transfer me",
    "connect me to",
    "connect me with",
    "someone from your team",
    "someone on your team",
    "someone from your company",
    "staff member",
    "member of staff",
];
/// "talk to" / "speak with" / "chat with" followed by one of these is a request for a person.
const HUMAN_EN_TALK_VERBS: &[&str] = &["talk", "speak", "chat"];
const HUMAN_EN_TALK_OBJECTS: &[&str] = &[
    "someone",
    "somebody",
    "a person",
    "person",
    "customer service",
    "customer support",
    "support",
    "staff",
    "your staff",
    "a staff member",
    "your team",
    "anyone",
];

/// Actions only a person may take, by kind. Each entry is a list of groups; the message must
/// contain a phrase of every group (so "改地址" alone is a normal change-order question,
/// "改地址" with "已发货" is not).
type Rule = &'static [&'static [&'static str]];
const HUMAN_ONLY: &[(&str, &[Rule])] = &[
    (
        "shipped_address_change",
        &[
            &[
                &["地址"],
                &["改", "换", "写错", "填错", "转寄"],
                &[
                    "已发货",
                    "已经发货",
                    "发货了",
                    "已发出",
                    "已经发出",
                    "发出去了",
                    "发出了",
                    "已寄出",
                    "已经寄出",
                    "寄出了",
                    "在路上",
                    "已出库",
                    "已揽收",
                ],
            ],
            &[
                &["address"],
                &["change", "update", "modify", "correct", "redirect", "wrong"],
                &[
                    "shipped",
                    "dispatched",
                    "on its way",
                    "on the way",
                    "in transit",
                    "already sent",
                    "been sent",
                    "out for delivery",
                ],
            ],
        ],
    ),
    (
        "compensation",
        &[
            &[&["赔偿", "补偿", "赔钱", "赔付", "赔我"]],
            &[&["compensation", "compensate", "reimburse"]],
        ],
    ),
    (
        "double_charge",
        &[
            &[&["扣"], &["两次", "两笔", "两遍", "两回", "2次", "2笔"]],
            &[&[
                "重复扣款",
                "重复支付",
                "重复付款",
                "多扣",
                "付了两次",
                "付了两笔",
                "收了两次",
                "收了两笔",
            ]],
            &[&[
                "charged twice",
                "charged me twice",
                "charged two times",
                "double charge",
                "double-charge",
                "double charged",
                "billed twice",
                "paid twice",
                "duplicate charge",
                "duplicate payment",
                "two charges",
                "two payments",
            ]],
        ],
    ),
    (
        "safety",
        &[
            &[&[
                "过敏", "红疹", "皮疹", "起疹", "起火", "着火", "爆炸", "冒烟", "漏电", "受伤",
                "烫伤", "触电", "烧焦",
            ]],
            &[&[
                "allergic",
                "allergy",
                "rash",
                "hives",
                "caught fire",
                "on fire",
                "exploded",
                "smoke",
                "smoking",
                "sparks",
                "electric shock",
                "injured",
                "burned",
                "burnt",
                "melted",
            ]],
        ],
    ),
];

/// Words of anger or abuse. With a negative sentiment they hand off at once (reason `anger`),
/// whatever else the message asks; without them a complaint, however negative, is a complaint.
const ANGER_ZH: &[&str] = &[
    "骗子",
    "骗人",
    "骗钱",
    "黑店",
    "破店",
    "破服务",
    "什么破",
    "破玩意",
    "破东西",
    "垃圾店",
    "垃圾玩意",
    "垃圾东西",
    "垃圾服务",
    "垃圾客服",
    "什么垃圾",
    "太垃圾",
    "真垃圾",
    "就是垃圾",
    "垃圾!",
    "气死",
    "废物",
    "恶心",
    "坑人",
    "坑爹",
    "被坑",
    "搞什么鬼",
    "有病吧",
    "脑子有病",
    "烂透",
    "他妈",
    "妈的",
    "tmd",
    "混蛋",
    "无耻",
    "缺德",
    "智障",
    "傻逼",
    "狗屁",
    "去死",
    "滚蛋",
    "滚开",
];
const ANGER_EN_WORDS: &[&str] = &[
    "scam",
    "scams",
    "scammer",
    "scammers",
    "scammed",
    "fraud",
    "frauds",
    "thief",
    "thieves",
    "crooks",
    "liars",
    "lied",
    "pathetic",
    "garbage",
    "rubbish",
    "disgusting",
    "disgraceful",
    "outrageous",
    "worst",
    "idiot",
    "idiots",
    "stupid",
    "wtf",
    "damn",
    "shit",
    "crap",
];
const ANGER_EN_PHRASES: &[&str] = &["kidding me", "what a joke", "rip off", "rip-off", "ripoff"];

/// Words that make a message a complaint whatever the intent model reads.
const COMPLAINT_WORDS: &[&str] = &[
    "投诉",
    "差评",
    "举报",
    "complaint",
    "complain",
    "bad review",
    "negative review",
];

/// Words of a customer insisting on something they asked before ("到底", "again"): with
/// them, a message only fairly similar to an earlier one is the same question asked again.
const REPEAT_CUES: &[&str] = &[
    "到底",
    "究竟",
    "再问",
    "又问",
    "我问的是",
    "还是没",
    "again",
    "exactly",
    "or not",
    "i asked",
    "already asked",
    "any update",
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
    "不是我问的",
    "没解决",
    "没有解决",
    "还是不行",
    "跟没说一样",
    "和没说一样",
    "等于没说",
    "没回答",
    "没有回答",
    "回答不对",
    "didn't help",
    "did not help",
    "not helpful",
    "doesn't help",
    "does not help",
    "not helping",
    "no help",
    "not what i asked",
    "not what i meant",
    "not what i need",
    "not what i want",
    "not what i was asking",
    "wrong answer",
    "that's not it",
    "doesn't answer",
    "does not answer",
    "didn't answer",
    "did not answer",
    "not an answer",
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

fn has_word(normalized: &str, list: &[&str]) -> bool {
    words(normalized).any(|word| list.contains(&word))
}

/// Whether the customer asks for a person, in any of the known wordings.
pub fn asks_for_human(normalized: &str) -> bool {
    let zh = HUMAN_ZH.iter().any(|k| {
        normalized.match_indices(k).any(|(at, _)| {
            let before = &normalized[..at];
            !HUMAN_ZH_NARRATIVE.iter().any(|n| before.ends_with(n))
        })
    });
    zh || HUMAN_EN_PHRASES.iter().any(|p| normalized.contains(p))
        || words(normalized).any(|word| {
            HUMAN_EN_WORDS.contains(&word)
                || word
                    .strip_suffix('s')
                    .is_some_and(|w| HUMAN_EN_WORDS.contains(&w))
        })
        || talks_to_a_person(normalized)
}

/// "talk to someone", "speak with customer service", "chat with a person"...
fn talks_to_a_person(normalized: &str) -> bool {
    HUMAN_EN_TALK_VERBS.iter().any(|verb| {
        normalized.match_indices(verb).any(|(at, _)| {
            let rest = normalized[at + verb.len()..].trim_start();
            let Some(rest) = rest
                .strip_prefix("to ")
                .or_else(|| rest.strip_prefix("with "))
            else {
                return false;
            };
            let rest = rest.trim_start();
            HUMAN_EN_TALK_OBJECTS.iter().any(|object| {
                rest.strip_prefix(object).is_some_and(|after| {
                    after
                        .chars()
                        .next()
                        .is_none_or(|c| !c.is_ascii_alphanumeric())
                })
            })
        })
    })
}

/// The kind of action only a person may take that the message asks for, if any.
pub fn human_only_action(normalized: &str) -> Option<&'static str> {
    HUMAN_ONLY
        .iter()
        .find(|(_, rules)| {
            rules.iter().any(|groups| {
                groups
                    .iter()
                    .all(|group| group.iter().any(|p| normalized.contains(p)))
            })
        })
        .map(|(kind, _)| *kind)
}

/// Whether the customer says the previous answer did not help.
pub fn says_not_helpful(normalized: &str) -> bool {
    NOT_HELPFUL.iter().any(|p| normalized.contains(p))
}

/// Whether the message carries words of anger or abuse.
pub fn angry_words(normalized: &str) -> bool {
    ANGER_ZH.iter().any(|p| normalized.contains(p))
        || ANGER_EN_PHRASES.iter().any(|p| normalized.contains(p))
        || has_word(normalized, ANGER_EN_WORDS)
        || ends_with_go_away(normalized)
}

/// "滚" said to the shop, not the "滚筒" of a washing machine: the word alone at the end.
fn ends_with_go_away(normalized: &str) -> bool {
    let trimmed = normalized.trim_end_matches(|c: char| !c.is_alphanumeric());
    trimmed.ends_with('滚')
        && !trimmed
            .strip_suffix('滚')
            .is_some_and(|before| before.ends_with('翻') || before.ends_with('打'))
}

/// Whether the customer says in words that they are complaining.
pub fn complaint_words(normalized: &str) -> bool {
    COMPLAINT_WORDS.iter().any(|p| normalized.contains(p))
}

/// Whether the customer insists they are asking again.
pub fn repeat_cue(normalized: &str) -> bool {
    REPEAT_CUES.iter().any(|p| normalized.contains(p))
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
    fn requests_for_a_person_in_other_wordings() {
        for text in [
            "让你们负责人来跟我说",
            "麻烦帮我转接专员",
            "could i speak with a staff member please",
            "can you put me through to someone",
            "i want to talk to someone",
            "let me speak with customer service",
        ] {
            assert!(asks_for_human(text), "{text}");
        }
        // A story about an earlier contact is not a request now.
        assert!(!asks_for_human("上次找客服说好给我补发 结果一直没补"));
        assert!(!asks_for_human("what are your customer service hours"));
        assert!(!asks_for_human("can i pick up my order in person"));
        assert!(!asks_for_human("talk to me about the warranty"));
    }

    #[test]
    fn double_charges_and_shipped_address_changes_in_other_wordings() {
        assert_eq!(
            human_only_action("我只付了一次，银行卡却被扣了两笔"),
            Some("double_charge")
        );
        assert_eq!(
            human_only_action("已经发货了 能帮我把地址改到上海浦东吗"),
            Some("shipped_address_change")
        );
        assert_eq!(
            human_only_action(
                "my order shipped yesterday but i need to change the delivery address"
            ),
            Some("shipped_address_change")
        );
        assert_eq!(human_only_action("还没发货能改地址吗"), None);
        assert_eq!(human_only_action("我试了两次都没付成功"), None);
    }

    #[test]
    fn anger_needs_angry_words() {
        assert!(angry_words("你们就是一群骗子"));
        assert!(angry_words("this is a scam, worst shop ever"));
        assert!(angry_words("问什么都是这套话 滚"));
        assert!(!angry_words("能用滚筒洗衣机洗吗"));
        assert!(!angry_words("快递员态度很差，我要投诉"));
        assert!(!angry_words("i want to file a complaint"));
    }

    #[test]
    fn not_helpful_is_recognised() {
        assert!(says_not_helpful("你这说了跟没说一样"));
        assert!(says_not_helpful("that doesn't answer my question"));
        assert!(says_not_helpful("这个回答没用"));
        assert!(says_not_helpful("that didn't help at all"));
        assert!(!says_not_helpful("好的谢谢"));
    }
}
