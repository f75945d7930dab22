//! The bot's decisions, turn by turn, on a small knowledge base.

use bot::{AnalyzedLine, Bot, BotConfig, CustomerInfo, DecisionKind, HandoffReason, Line, Role};
use kb::{Article, KnowledgeBase};
use models::{Intent, Language};
use std::sync::Arc;

fn article(
    id: &str,
    category: &str,
    locale: &str,
    question: &str,
    similar: &[&str],
    answer: &str,
) -> Article {
    Article {
        id: id.into(),
        question: question.into(),
        similar: similar.iter().map(|s| s.to_string()).collect(),
        answer: answer.into(),
        category: category.into(),
        locale: locale.into(),
        tags: Vec::new(),
        enabled: true,
    }
}

fn bot() -> Bot {
    let kb = KnowledgeBase::from_articles([
        article(
            "ship",
            "shipping",
            "zh-CN",
            "多久发货",
            &["什么时候发货", "下单后几天发货"],
            "付款后48小时内发货。",
        ),
        article(
            "refund",
            "return_refund",
            "zh-CN",
            "怎么申请退款",
            &["我要退款", "退款流程是什么"],
            "在订单页点击申请退款。",
        ),
        article(
            "invoice",
            "invoice",
            "zh-CN",
            "怎么开发票",
            &["能开发票吗", "发票怎么开"],
            "确认收货后可在订单页申请电子发票。",
        ),
        article(
            "ship-en",
            "shipping",
            "en",
            "How long does shipping take",
            &["when will my order ship"],
            "We ship within 48 hours.",
        ),
    ])
    .expect("the test knowledge base builds");
    Bot::new(Arc::new(kb), nlu(), BotConfig::default())
}

fn nlu() -> Arc<models::Nlu> {
    Arc::new(models::Nlu::shipped().expect("the shipped models load"))
}

const ZH: CustomerInfo = CustomerInfo {
    language: Language::Zh,
    vip: false,
};
const ZH_VIP: CustomerInfo = CustomerInfo {
    language: Language::Zh,
    vip: true,
};

/// Plays the customer's turns in order and returns the decision of each: once keeping each
/// line's analysis for the later turns (as the gateway does) and once without, which must decide
/// the same.
fn play(bot: &Bot, turns: &[&str]) -> Vec<bot::Outcome> {
    let kept = play_keeping(bot, turns, true);
    let fresh = play_keeping(bot, turns, false);
    for (k, f) in kept.iter().zip(&fresh) {
        assert_eq!((&k.meta, &k.reply), (&f.meta, &f.reply), "{turns:?}");
    }
    kept
}

fn play_keeping(bot: &Bot, turns: &[&str], keep: bool) -> Vec<bot::Outcome> {
    let mut transcript: Vec<Line> = Vec::new();
    let mut outcomes = Vec::new();
    for text in turns {
        let outcome = bot.turn(&transcript, text, ZH);
        transcript.push(Line {
            role: Role::Customer,
            text: text.to_string(),
            bot: None,
            analyzed: outcome.analyzed.clone().filter(|_| keep),
        });
        transcript.push(Line {
            role: Role::Bot,
            text: outcome.reply.clone(),
            bot: Some(outcome.meta.clone()),
            analyzed: None,
        });
        outcomes.push(outcome);
    }
    outcomes
}

fn check(turns: &[&str], expected: &[DecisionKind]) {
    let got: Vec<DecisionKind> = play(&bot(), turns).iter().map(|o| o.decision()).collect();
    assert_eq!(got, expected, "turns {turns:?}");
}

#[test]
fn known_questions_are_answered_with_their_article() {
    let out = play(&bot(), &["多久发货"]);
    assert_eq!(out[0].decision(), DecisionKind::Answer);
    assert_eq!(out[0].meta.article_id.as_deref(), Some("ship"));
    assert_eq!(out[0].meta.intent, Intent::Shipping);
    assert_eq!(out[0].reply, "付款后48小时内发货。");
    let out = play(&bot(), &["How long does shipping take?"]);
    assert_eq!(out[0].meta.article_id.as_deref(), Some("ship-en"));
    assert_eq!(out[0].language, Language::En);
}

#[test]
fn asking_for_a_person_hands_off_in_any_wording() {
    for text in [
        "转人工",
        "人工",
        "我要找真人客服",
        "叫你们客服主管来",
        "human",
        "I want an agent",
        "let me talk to a real person",
        "HUMAN please",
    ] {
        let out = play(&bot(), &[text]);
        assert_eq!(out[0].decision(), DecisionKind::Handoff, "{text}");
        assert_eq!(
            out[0].meta.reasons,
            [HandoffReason::ExplicitRequest],
            "{text}"
        );
    }
}

#[test]
fn nonsense_is_never_answered_and_two_failures_in_a_row_hand_off() {
    check(
        &["今天天气怎么样", "推荐一部电影"],
        &[DecisionKind::Clarify, DecisionKind::Handoff],
    );
    let out = play(&bot(), &["今天天气怎么样", "推荐一部电影"]);
    assert!(
        out[0].options.is_empty(),
        "nothing matched, so nothing is offered"
    );
    assert_eq!(out[1].meta.reasons, [HandoffReason::RepeatedFailure]);
}

#[test]
fn an_answer_in_between_resets_the_failure_count() {
    check(
        &["今天天气怎么样", "多久发货", "推荐一部电影"],
        &[
            DecisionKind::Clarify,
            DecisionKind::Answer,
            DecisionKind::Clarify,
        ],
    );
}

#[test]
fn a_clarifying_question_can_be_answered_by_number() {
    let bot = bot();
    // Build a transcript where the bot offered two options.
    let offered = bot::BotMeta {
        decision: DecisionKind::Clarify,
        article_id: None,
        intent: Intent::Other,
        confidence: 0.4,
        reasons: Vec::new(),
        options: vec!["refund".into(), "invoice".into()],
        sentiment: None,
        negativity: None,
    };
    let transcript = vec![
        Line {
            role: Role::Customer,
            text: "退款和发票".into(),
            bot: None,
            analyzed: None,
        },
        Line {
            role: Role::Bot,
            text: "您是想问以下哪个问题？".into(),
            bot: Some(offered),
            analyzed: None,
        },
    ];
    let out = bot.turn(&transcript, "2", ZH);
    assert_eq!(out.decision(), DecisionKind::Answer);
    assert_eq!(out.meta.article_id.as_deref(), Some("invoice"));
    let out = bot.turn(&transcript, "第1个", ZH);
    assert_eq!(out.meta.article_id.as_deref(), Some("refund"));
    // A number out of range is not a choice.
    let out = bot.turn(&transcript, "7", ZH);
    assert_ne!(out.decision(), DecisionKind::Answer);
}

#[test]
fn the_context_package_holds_questions_orders_attempts_and_reasons() {
    let bot = bot();
    let turns = [
        "多久发货",
        "订单3456789012345678901还没发货，电话13812345678",
        "转人工",
    ];
    let mut transcript: Vec<Line> = Vec::new();
    for text in turns {
        let outcome = bot.turn(&transcript, text, ZH);
        transcript.push(Line {
            role: Role::Customer,
            text: text.to_string(),
            bot: None,
            analyzed: None,
        });
        transcript.push(Line {
            role: Role::Bot,
            text: outcome.reply.clone(),
            bot: Some(outcome.meta.clone()),
            analyzed: None,
        });
    }
    let ctx = bot::build_context(&transcript, &[HandoffReason::ExplicitRequest], ZH);
    assert_eq!(ctx.questions, turns);
    assert_eq!(ctx.entities.order_ids, ["3456789012345678901"]);
    assert_eq!(ctx.entities.phones, ["13812345678"]);
    assert_eq!(ctx.bot_attempts.len(), 1);
    assert_eq!(ctx.bot_attempts[0].article_id.as_deref(), Some("ship"));
    assert_eq!(ctx.handoff_reasons, [HandoffReason::ExplicitRequest]);
    // The intents of the questions, deduplicated; "not shipped yet" reads as shipping or
    // order status depending on the model, and the required skill follows the last intent.
    assert_eq!(ctx.intents.first(), Some(&Intent::Shipping));
    assert!(ctx
        .intents
        .iter()
        .all(|i| matches!(i, Intent::Shipping | Intent::OrderStatus)));
    let skill = ctx.intents.last().and_then(|i| i.skill());
    let mut expected: Vec<&str> = skill.into_iter().chain(["zh"]).collect();
    expected.sort();
    assert_eq!(ctx.required_skills, expected);
    assert!(
        ctx.summary.contains("3456789012345678901"),
        "{}",
        ctx.summary
    );
    assert!(ctx.summary.contains("客户要求人工"), "{}", ctx.summary);
    assert_eq!(ctx.sentiment_trend.len(), 3);
    assert_eq!(ctx.completeness, 1.0);
}

#[test]
fn an_angry_customer_is_handed_off_before_any_faq_answer() {
    for text in [
        "你们什么破服务，多久发货都说不清楚，气死我了",
        "this is a scam, worst shop ever, how long does shipping take?!",
    ] {
        let out = play(&bot(), &[text]);
        assert_eq!(
            out[0].decision(),
            DecisionKind::Handoff,
            "{text}: {:?}",
            out[0].meta
        );
        let reason = out[0].meta.reasons[0];
        assert!(
            matches!(reason, HandoffReason::Anger | HandoffReason::Complaint),
            "{text}: {reason:?}"
        );
    }
}

#[test]
fn a_verified_vip_with_a_refund_goes_to_a_person() {
    let bot = bot();
    let out = bot.turn(&[], "我要退款", ZH_VIP);
    assert_eq!(
        out.meta.reasons,
        [HandoffReason::VipSensitive],
        "{:?}",
        out.meta
    );
    let out = bot.turn(&[], "我要退款", ZH);
    assert_eq!(
        out.decision(),
        DecisionKind::Answer,
        "an ordinary customer gets the FAQ answer"
    );
    let ctx = bot::build_context(
        &[Line {
            role: Role::Customer,
            text: "我要退款".into(),
            bot: None,
            analyzed: None,
        }],
        &[HandoffReason::VipSensitive],
        ZH_VIP,
    );
    assert!(ctx.required_skills.contains(&"vip".to_string()));
    assert!(ctx.priority >= 100);
}

#[test]
fn actions_only_a_person_may_take_hand_off_at_once() {
    for text in [
        "已经发货了还能改地址吗",
        "你们必须赔偿我",
        "付款扣了两次钱",
        "穿了以后皮肤过敏了",
        "you charged me twice",
    ] {
        let out = play(&bot(), &[text]);
        assert_eq!(out[0].decision(), DecisionKind::Handoff, "{text}");
        assert_eq!(
            out[0].meta.reasons,
            [HandoffReason::HumanOnlyAction],
            "{text}"
        );
    }
}

#[test]
fn the_same_question_asked_again_hands_off() {
    let out = play(&bot(), &["多久发货", "多久发货啊"]);
    assert_eq!(out[0].decision(), DecisionKind::Answer);
    assert_eq!(out[1].decision(), DecisionKind::Handoff);
    assert_eq!(out[1].meta.reasons, [HandoffReason::RepeatedQuestion]);
    // Greetings may be repeated freely.
    let kb = KnowledgeBase::from_articles([article(
        "hi",
        "greeting",
        "zh-CN",
        "你好",
        &["在吗"],
        "您好！",
    )])
    .expect("builds");
    let bot = Bot::new(Arc::new(kb), nlu(), BotConfig::default());
    let out = play(&bot, &["你好", "你好"]);
    assert!(out.iter().all(|o| o.decision() == DecisionKind::Answer));
}

#[test]
fn saying_the_answer_did_not_help_counts_as_a_failure() {
    // The unhelpful answer is one failure and the bot has nothing better: two in a row.
    let out = play(&bot(), &["多久发货", "这个回答没用"]);
    assert_eq!(out[1].decision(), DecisionKind::Handoff);
    assert_eq!(out[1].meta.reasons, [HandoffReason::RepeatedFailure]);
    // Said out of the blue, it is one failure: the bot apologises and asks for more.
    let out = play(&bot(), &["没用"]);
    assert_eq!(out[0].decision(), DecisionKind::Clarify);
    assert!(out[0].reply.contains("抱歉没能帮到您"), "{}", out[0].reply);
}

#[test]
fn off_topic_messages_get_what_the_bot_can_do_and_the_offer_of_a_person() {
    let out = play(&bot(), &["推荐一部电影"]);
    assert_eq!(out[0].decision(), DecisionKind::Clarify);
    assert!(out[0].reply.contains("转人工"), "{}", out[0].reply);
    assert!(out[0].reply.contains("退换货"), "{}", out[0].reply);
}

#[test]
fn saying_the_answer_did_not_help_is_never_small_talk() {
    // The intent model reads these polite English phrasings as thanks; they are failures.
    let en = CustomerInfo {
        language: Language::En,
        vip: false,
    };
    let b = bot();
    for text in ["that didn't help", "that doesn't answer my question"] {
        let first = b.turn(&[], "How long does shipping take?", en);
        assert_eq!(first.decision(), DecisionKind::Answer);
        let transcript = vec![
            Line {
                role: Role::Customer,
                text: "How long does shipping take?".into(),
                bot: None,
                analyzed: None,
            },
            Line {
                role: Role::Bot,
                text: first.reply.clone(),
                bot: Some(first.meta.clone()),
                analyzed: None,
            },
        ];
        let out = b.turn(&transcript, text, en);
        assert_eq!(out.decision(), DecisionKind::Handoff, "{text}");
        assert_eq!(out.meta.reasons, [HandoffReason::RepeatedFailure], "{text}");
    }
}

#[test]
fn a_civil_complaint_is_a_complaint_and_abuse_is_anger() {
    let out = play(&bot(), &["快递员态度很差，我要投诉"]);
    assert_eq!(out[0].meta.reasons, [HandoffReason::Complaint]);
    let out = play(&bot(), &["你们就是一群骗子，气死我了"]);
    assert_eq!(out[0].meta.reasons, [HandoffReason::Anger]);
}

#[test]
fn requests_for_a_person_in_other_wordings_hand_off() {
    for text in [
        "让你们负责人来跟我说",
        "麻烦帮我转接专员",
        "能不能找个活人聊聊",
    ] {
        let out = play(&bot(), &[text]);
        assert_eq!(
            out[0].meta.reasons,
            [HandoffReason::ExplicitRequest],
            "{text}"
        );
    }
    // A story about an earlier contact is no request: this complaint stays a complaint.
    let out = play(
        &bot(),
        &["上次找客服说好给我补发 结果一直没补 挺失望的 我要投诉"],
    );
    assert_eq!(out[0].meta.reasons, [HandoffReason::Complaint]);
}

#[test]
fn a_vague_question_is_not_mistaken_for_a_greeting() {
    // The intent model leans to "greeting" (below the small-talk confidence) on vague
    // messages; they get a clarifying reply, not "Hi! How can I help you?".
    let out = play(&bot(), &["问一下钱那块的事"]);
    assert_eq!(out[0].decision(), DecisionKind::Clarify);
}

#[test]
fn the_same_question_insisted_on_in_other_words_hands_off() {
    let out = play(&bot(), &["多久发货", "所以到底几天能发货"]);
    assert_eq!(out[0].decision(), DecisionKind::Answer);
    assert_eq!(out[1].meta.reasons, [HandoffReason::RepeatedQuestion]);
}

#[test]
fn short_or_vague_lines_are_not_handed_off() {
    // Lines the intent model has read confidently wrong: «懂了» as a request for a person
    // (0.89), "so about my stuff" as a complaint (0.77), and a job question that matches the
    // "talk to a person" wording on 客服. None names a person or a grievance; none is a
    // reason to hand off.
    for text in [
        "懂了",
        "我懂了",
        "听懂了",
        "你们招聘客服吗",
        "你们招兼职吗",
        "are you hiring customer service staff",
        "so about my stuff",
        "so about my order",
        "well then",
        "然后呢",
        "嗯嗯",
    ] {
        let out = play(&bot(), &[text]);
        assert_ne!(
            out[0].decision(),
            DecisionKind::Handoff,
            "{text}: {:?}",
            out[0].meta
        );
    }
}

#[test]
fn requests_for_a_person_and_complaints_the_keyword_lists_do_not_know_still_hand_off() {
    for text in ["能不能让懂的人来", "你不懂，换个人", "can someone call me"] {
        let out = play(&bot(), &[text]);
        assert_eq!(
            out[0].meta.reasons,
            [HandoffReason::ExplicitRequest],
            "{text}: {:?}",
            out[0].meta
        );
    }
    for text in ["太坑了", "what a rip off, this is a joke"] {
        let out = play(&bot(), &[text]);
        assert_eq!(
            out[0].decision(),
            DecisionKind::Handoff,
            "{text}: {:?}",
            out[0].meta
        );
    }
}

#[test]
fn a_kept_analysis_of_an_earlier_line_is_what_the_repeat_check_compares() {
    let bot = bot();
    let question = "会员积分可以换什么礼品";
    let other = "你们的直播间几点开播";
    // The customer's earlier line as the transcript gives it to the bot: its text and, when the
    // caller kept it, the analysis made on that line's own turn.
    let transcript = |text: &str, analyzed: Option<AnalyzedLine>| {
        let first = bot.turn(&[], text, ZH);
        assert_ne!(first.decision(), DecisionKind::Handoff, "{text}");
        vec![
            Line {
                role: Role::Customer,
                text: text.to_owned(),
                bot: None,
                analyzed: analyzed.map(Arc::new),
            },
            Line {
                role: Role::Bot,
                text: first.reply.clone(),
                bot: Some(first.meta),
                analyzed: None,
            },
        ]
    };
    let reasons = |t: &[Line]| bot.turn(t, question, ZH).meta.reasons;
    // Analysed afresh: the same question again is a repeat, another one is not.
    assert_eq!(
        reasons(&transcript(question, None)),
        [HandoffReason::RepeatedQuestion]
    );
    // (Two unanswered lines in a row hand off too, but for another reason.)
    let repeat = |t: &[Line]| reasons(t).contains(&HandoffReason::RepeatedQuestion);
    assert!(!repeat(&transcript(other, None)));
    // A kept analysis is used instead of the text: the analysis decides, not the text.
    assert_eq!(
        reasons(&transcript(other, Some(AnalyzedLine::of(question)))),
        [HandoffReason::RepeatedQuestion]
    );
    assert!(!repeat(&transcript(
        question,
        Some(AnalyzedLine::of(other))
    )));
    // The turn hands back the analysis of its own line, equal to a fresh one.
    let outcome = bot.turn(&transcript(other, None), question, ZH);
    assert_eq!(
        outcome.analyzed.as_deref(),
        Some(&AnalyzedLine::of(question))
    );
}
