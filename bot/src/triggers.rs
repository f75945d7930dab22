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

/// What a request for a person names, in wordings the keyword lists above do not know: a
/// person or a role (人, 客服, 店长, staff, someone), the bot itself (机器人, bot), a channel
/// (电话, 微信, call, hotline) or the queue. A reading of `human_agent` by the intent model or
/// the knowledge base only counts with one of these: on the project's intent data (fit and
/// validation lines) every `human_agent` line but a handful has one or a request keyword
/// (checked by `contact_cues_cover_the_training_requests_for_a_person`), while short lines
/// such as «懂了» that the model reads as `human_agent` have none.
const CONTACT_ZH: &[&str] = &[
    "人",
    "客服",
    "机器",
    "自动回复",
    "电话",
    "热线",
    "微信",
    "语音",
    "视频",
    "店长",
    "店主",
    "老板",
    "领导",
    "管事",
    "做主",
    "售后",
    "售前",
    "排队",
    "排多久",
    "仁工",
    "rengong",
    "ren gong",
    "ren工",
];
const CONTACT_EN_WORDS: &[&str] = &[
    "person",
    "persn",
    "persons",
    "people",
    "someone",
    "somebody",
    "anyone",
    "anybody",
    "human",
    "humans",
    "humna",
    "huamn",
    "humen",
    "hooman",
    "agnet",
    "agnt",
    "staff",
    "team",
    "colleague",
    "specialist",
    "owner",
    "boss",
    "charge",
    "bot",
    "bots",
    "robot",
    "machine",
    "call",
    "callback",
    "phone",
    "hotline",
    "whatsapp",
    "wechat",
    "email",
    "video",
    "live",
    "real",
    "manual",
    "escalate",
    "transfer",
    "connect",
    "queue",
    "support",
    "service",
    "rg",
];

/// Working for the shop: a job, a vacancy, a CV. The labelling guidelines make such questions
/// `other`; they share words with requests for a person (招聘客服, "customer service job").
const JOB_ZH: &[&str] = &[
    "招聘",
    "应聘",
    "招人",
    "招客服",
    "求职",
    "兼职",
    "简历",
    "换工作",
    "找工作",
    "工作机会",
];
const JOB_EN_WORDS: &[&str] = &[
    "hiring",
    "hire",
    "job",
    "jobs",
    "vacancy",
    "vacancies",
    "career",
    "careers",
    "resume",
    "cv",
    "recruit",
    "recruiting",
    "recruitment",
    "internship",
];

/// What a complaint names: a grievance, a threat, a judgement of the shop or its service.
/// A short line (see `content_units`) that the intent model alone reads as a complaint counts
/// only with one of these or a word of complaint or anger: on the validation split the
/// model's `complaint` readings of lines under six units are right less often than those of
/// longer lines (see `BotConfig::short_line_units`), and almost every short `complaint` line
/// of the training data names its grievance
/// (`grievance_cues_cover_short_training_complaints`).
const GRIEVANCE_ZH: &[&str] = &[
    "投诉",
    "差评",
    "举报",
    "曝光",
    "12315",
    "消协",
    "消费者",
    "工商",
    "黑猫",
    "律师",
    "起诉",
    "告你",
    "法律",
    "法院",
    "介入",
    "差",
    "烂",
    "垃圾",
    "破",
    "骗",
    "坑",
    "假",
    "欺",
    "诈",
    "奸商",
    "无良",
    "无语",
    "服了",
    "气",
    "恶心",
    "恶劣",
    "敷衍",
    "踢皮球",
    "推来推去",
    "推卸",
    "不管",
    "没人管",
    "没人理",
    "不理",
    "没人回",
    "不回",
    "态度",
    "骂",
    "阴阳怪气",
    "挂我",
    "失望",
    "不满",
    "接受",
    "负责",
    "诚信",
    "信誉",
    "承诺",
    "说好",
    "言而无信",
    "离谱",
    "过分",
    "欺负",
    "倒闭",
    "关门",
    "再也不",
    "不会再",
    "拉黑",
    "取关",
    "寒心",
    "良心",
    "傻子",
    "复读机",
    "套话",
    "模板",
    "复制粘贴",
    "摆设",
    "耽误",
    "浪费",
    "拖",
    "效率",
    "糟",
    "二手",
    "用过",
    "摔",
    "暴力",
    "怪味",
    "熏",
    "坏",
    "次品",
    "不认",
    "不承认",
    "少发",
    "发错",
    "答非所问",
    "有什么用",
    "什么玩意",
    "什么意思",
    "故意",
    "一星",
    "好几遍",
    "三遍",
    "第三次",
    "赔偿",
    "什么店",
    "tousu",
    "tou su",
    "投斥",
    "投酥",
    "差平",
    "差苹",
];
const GRIEVANCE_EN_WORDS: &[&str] = &[
    "complain",
    "complaint",
    "complaints",
    "complaining",
    "compalint",
    "complian",
    "compain",
    "compliant",
    "review",
    "reviews",
    "star",
    "stars",
    "report",
    "reporting",
    "expose",
    "dispute",
    "sue",
    "court",
    "lawyer",
    "legal",
    "consumer",
    "scam",
    "scams",
    "scammer",
    "scammers",
    "scammed",
    "scamming",
    "deceive",
    "deceived",
    "deceiving",
    "photoshopped",
    "fraud",
    "fraudulent",
    "fake",
    "fakes",
    "false",
    "counterfeit",
    "knockoff",
    "misleading",
    "lie",
    "lied",
    "liar",
    "lying",
    "lies",
    "rude",
    "yelled",
    "terrible",
    "terible",
    "awful",
    "horrible",
    "horible",
    "worst",
    "wrost",
    "worse",
    "bad",
    "poor",
    "garbage",
    "trash",
    "junk",
    "rubbish",
    "useless",
    "hopeless",
    "pathetic",
    "joke",
    "ridiculous",
    "ridiculus",
    "rediculous",
    "unacceptable",
    "unaceptable",
    "unaccepable",
    "outrageous",
    "disgrace",
    "disgusting",
    "discusting",
    "shame",
    "ashamed",
    "angry",
    "furious",
    "mad",
    "upset",
    "annoyed",
    "disappointed",
    "disappointing",
    "unhappy",
    "dissatisfied",
    "fed",
    "sick",
    "enough",
    "kidding",
    "seriously",
    "waste",
    "wasted",
    "ignore",
    "ignoring",
    "ignored",
    "excuses",
    "promise",
    "promised",
    "irresponsible",
    "integrity",
    "runaround",
    "scripted",
    "irrelevant",
    "slow",
    "nobody",
    "ruined",
    "messed",
    "destroyed",
    "damaged",
    "broke",
    "broken",
    "stinks",
    "hazard",
    "dangerous",
    "mess",
    "shady",
    "unbelievable",
    "rip",
    "ripoff",
    "ripping",
    "con",
    "never",
    "done",
    "lost",
    "absurd",
    "lazy",
    "canned",
    "template",
    "templates",
    "paste",
    "passing",
    "brush",
    "care",
    "accountable",
    "credibility",
    "professional",
    "advertised",
    "press",
    "posting",
    "second",
    "heartbreaking",
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

/// How much a line says: its Han characters plus its Latin words and numbers. Short lines
/// give the models little to read, and their readings are the least reliable.
pub fn content_units(normalized: &str) -> usize {
    normalized.chars().filter(|&c| models::is_han(c)).count()
        + normalized
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .count()
}

/// Whether a line names a person, a role, a channel or the bot (see `CONTACT_ZH`), or asks for
/// a person in words.
pub fn names_a_contact(normalized: &str) -> bool {
    asks_for_human(normalized)
        || CONTACT_ZH.iter().any(|k| normalized.contains(k))
        || has_word(normalized, CONTACT_EN_WORDS)
}

/// Whether a line is about working for the shop (see `JOB_ZH`).
pub fn about_a_job(normalized: &str) -> bool {
    JOB_ZH.iter().any(|k| normalized.contains(k)) || has_word(normalized, JOB_EN_WORDS)
}

/// Whether a line names a grievance (see `GRIEVANCE_ZH`), says it complains or is angry.
pub fn names_a_grievance(normalized: &str) -> bool {
    complaint_words(normalized)
        || angry_words(normalized)
        || GRIEVANCE_ZH.iter().any(|k| normalized.contains(k))
        || has_word(normalized, GRIEVANCE_EN_WORDS)
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

    /// The project's intent lines of one label that training may see (fit and validation
    /// splits; the test split stays unseen here too), normalised as the bot normalises.
    fn training_lines(label: &str) -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/data");
        let corpus = models::data::intent_corpus(&dir, &kb::normalize)
            .unwrap_or_else(|e| panic!("intent data: {e}"));
        corpus
            .examples
            .into_iter()
            .filter(|e| e.split != models::data::Split::Test && corpus.labels[e.label] == label)
            .map(|e| e.text)
            .collect()
    }

    #[test]
    fn contact_cues_cover_the_training_requests_for_a_person() {
        let lines = training_lines("human_agent");
        let missing: Vec<&String> = lines.iter().filter(|t| !names_a_contact(t)).collect();
        assert!(lines.len() >= 300, "{} lines", lines.len());
        // At least 98 % of the requests for a person name one (or use a request keyword).
        assert!(
            missing.len() * 50 <= lines.len(),
            "{} of {} without a contact cue: {missing:?}",
            missing.len(),
            lines.len()
        );
        assert!(lines.iter().all(|t| !about_a_job(t)));
    }

    #[test]
    fn grievance_cues_cover_short_training_complaints() {
        let lines: Vec<String> = training_lines("complaint")
            .into_iter()
            .filter(|t| content_units(t) < crate::BotConfig::default().short_line_units)
            .collect();
        let missing: Vec<&String> = lines.iter().filter(|t| !names_a_grievance(t)).collect();
        assert!(lines.len() >= 100, "{} lines", lines.len());
        // At least 97 % of the short complaints name their grievance.
        assert!(
            missing.len() * 100 <= lines.len() * 3,
            "{} of {} without a grievance cue: {missing:?}",
            missing.len(),
            lines.len()
        );
    }

    #[test]
    fn short_vague_lines_name_no_person_and_no_grievance() {
        for text in [
            "懂了",
            "我懂了",
            "听懂了",
            "so about my stuff",
            "well then",
            "然后呢",
        ] {
            assert!(!names_a_contact(text), "{text}");
            assert!(!names_a_grievance(text), "{text}");
        }
        assert_eq!(content_units("so about my stuff"), 4);
        assert_eq!(content_units("懂了"), 2);
        assert_eq!(content_units("iphone15有货吗"), 4);
        assert!(names_a_contact("能不能让懂的人来"));
        assert!(names_a_contact("can someone call me"));
        assert!(names_a_grievance("太坑了"));
        assert!(names_a_grievance("what a rip off"));
    }

    #[test]
    fn job_questions_are_recognised() {
        for text in [
            "你们招聘客服吗",
            "我想应聘客服",
            "你们招兼职吗",
            "are you hiring customer service staff",
            "i want to apply for a customer service job",
        ] {
            assert!(about_a_job(text), "{text}");
        }
        for text in [
            "找个工作人员",
            "转人工",
            "几个工作日发货",
            "can i talk to staff",
        ] {
            assert!(!about_a_job(text), "{text}");
        }
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
