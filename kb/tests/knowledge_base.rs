//! Behaviour of the knowledge base: updates, filters, robustness and the demo data.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use kb::{demo_articles, Article, KbError, KnowledgeBase};

/// The v1 intent labels every article category must come from.
const INTENTS: &[&str] = &[
    "greeting",
    "product_inquiry",
    "order_status",
    "shipping",
    "change_order",
    "cancel_order",
    "return_refund",
    "payment",
    "invoice",
    "promotion",
    "complaint",
    "human_agent",
    "thanks_goodbye",
    "other",
];

fn article(id: &str, question: &str, similar: &[&str], locale: &str) -> Article {
    Article {
        id: id.to_string(),
        question: question.to_string(),
        similar: similar.iter().map(|s| s.to_string()).collect(),
        answer: format!("answer of {id}"),
        category: "other".to_string(),
        locale: locale.to_string(),
        tags: Vec::new(),
        enabled: true,
    }
}

fn small_kb() -> KnowledgeBase {
    KnowledgeBase::from_articles([
        article("zh-ship", "多久发货", &["什么时候发货"], "zh-CN"),
        article("zh-invoice", "怎么开发票", &["能开发票吗"], "zh-CN"),
        article("tw-refund", "怎麼退貨", &["可以退貨嗎"], "zh-TW"),
        article(
            "en-ship",
            "How long does shipping take?",
            &["When will my order ship?"],
            "en",
        ),
        article(
            "en-invoice",
            "Can I get an invoice?",
            &["Do you provide e-invoices?"],
            "en",
        ),
    ])
    .expect("small knowledge base builds")
}

fn top_id(kb: &KnowledgeBase, query: &str, locale: Option<&str>) -> Option<String> {
    kb.search(query, locale, 5)
        .expect("search works")
        .into_iter()
        .next()
        .map(|h| h.article_id)
}

#[test]
fn new_knowledge_base_is_empty_and_finds_nothing() {
    let kb = KnowledgeBase::new().expect("empty knowledge base");
    assert!(kb.is_empty());
    assert_eq!(kb.len(), 0);
    assert!(kb.search("多久发货", None, 5).expect("search").is_empty());
}

#[test]
fn hits_carry_the_article_and_the_matched_phrasing() {
    let kb = small_kb();
    let hits = kb.search("什么时候发货", None, 5).expect("search");
    let hit = hits.first().expect("a hit");
    assert_eq!(hit.article_id, "zh-ship");
    assert_eq!(hit.question, "多久发货");
    assert_eq!(hit.matched, "什么时候发货");
    assert_eq!(hit.answer, "answer of zh-ship");
    assert_eq!(hit.category, "other");
    assert!(
        (hit.score - 1.0).abs() < 1e-6,
        "exact phrasing scores 1.0: {hit:?}"
    );
    assert!(hit.bm25 > 0.0);
}

#[test]
fn results_are_sorted_by_score_and_limited() {
    let kb = KnowledgeBase::from_articles(demo_articles().expect("demo")).expect("kb");
    let hits = kb.search("退货退款运费", None, 3).expect("search");
    assert!(!hits.is_empty() && hits.len() <= 3);
    assert!(
        hits.windows(2).all(|w| w[0].score >= w[1].score),
        "{hits:?}"
    );
    let ids: HashSet<&str> = hits.iter().map(|h| h.article_id.as_str()).collect();
    assert_eq!(ids.len(), hits.len(), "one hit per article");
    assert!(hits.iter().all(|h| (0.0..=1.0).contains(&h.score)));
    assert!(kb.search("退货", None, 0).expect("search").is_empty());
}

#[test]
fn upsert_makes_a_new_article_searchable_immediately() {
    let kb = small_kb();
    assert_ne!(
        top_id(&kb, "支持花呗分期吗", None).as_deref(),
        Some("zh-pay")
    );
    kb.upsert(article(
        "zh-pay",
        "支持花呗分期吗",
        &["能用花呗吗"],
        "zh-CN",
    ))
    .expect("upsert");
    assert_eq!(kb.len(), 6);
    assert_eq!(
        top_id(&kb, "支持花呗分期吗", None).as_deref(),
        Some("zh-pay")
    );
    assert_eq!(
        top_id(&kb, "能用花呗吗", Some("zh-CN")).as_deref(),
        Some("zh-pay")
    );
}

#[test]
fn upsert_replaces_the_old_phrasings_of_an_article() {
    let kb = small_kb();
    kb.upsert(article(
        "zh-invoice",
        "可以开专票吗",
        &["公司报销要专票"],
        "zh-CN",
    ))
    .expect("upsert");
    assert_eq!(kb.len(), 5);
    assert_eq!(
        top_id(&kb, "可以开专票吗", None).as_deref(),
        Some("zh-invoice")
    );
    let old = kb.search("能开发票吗", None, 5).expect("search");
    assert!(
        old.iter()
            .all(|h| h.matched != "能开发票吗" && h.score < 1.0),
        "old phrasings no longer match: {old:?}"
    );
    let hit = kb.search("公司报销要专票", None, 1).expect("search");
    assert_eq!(hit[0].question, "可以开专票吗");
}

#[test]
fn remove_deletes_an_article_and_ignores_unknown_ids() {
    let kb = small_kb();
    kb.remove("zh-ship").expect("remove");
    assert_eq!(kb.len(), 4);
    assert!(kb.get("zh-ship").is_none());
    let hits = kb.search("多久发货", None, 5).expect("search");
    assert!(hits.iter().all(|h| h.article_id != "zh-ship"), "{hits:?}");
    kb.remove("zh-ship").expect("removing twice is fine");
    kb.remove("no-such-article")
        .expect("removing an unknown id is fine");
    assert_eq!(kb.len(), 4);
}

#[test]
fn disabled_articles_are_never_returned() {
    let mut disabled = article("zh-off", "怎么开发票呢亲", &["发票"], "zh-CN");
    disabled.enabled = false;
    let kb = KnowledgeBase::from_articles([
        disabled.clone(),
        article("zh-invoice", "怎么开发票", &[], "zh-CN"),
    ])
    .expect("kb");
    assert_eq!(kb.len(), 2, "disabled articles are still held");
    assert_eq!(kb.get("zh-off"), Some(disabled.clone()));
    for query in ["怎么开发票呢亲", "发票", "开发票"] {
        let hits = kb.search(query, None, 10).expect("search");
        assert!(
            hits.iter().all(|h| h.article_id != "zh-off"),
            "{query}: {hits:?}"
        );
    }

    // Disabling an enabled article through upsert hides it too, and enabling shows it again.
    let mut invoice = article("zh-invoice", "怎么开发票", &[], "zh-CN");
    invoice.enabled = false;
    kb.upsert(invoice.clone()).expect("upsert");
    assert!(kb
        .search("怎么开发票", None, 10)
        .expect("search")
        .is_empty());
    invoice.enabled = true;
    kb.upsert(invoice).expect("upsert");
    assert_eq!(
        top_id(&kb, "怎么开发票", None).as_deref(),
        Some("zh-invoice")
    );
}

#[test]
fn locale_filter_keeps_the_language_group() {
    let kb = small_kb();
    let lang_of = |id: &str| if id.starts_with("en-") { "en" } else { "zh" };
    // A query mixing both languages matches articles of both when unfiltered.
    let mixed = "发货 shipping 发票 invoice 退貨";
    let all = kb.search(mixed, None, 10).expect("search");
    assert!(all.iter().any(|h| lang_of(&h.article_id) == "en"));
    assert!(all.iter().any(|h| lang_of(&h.article_id) == "zh"));
    for locale in ["zh-CN", "zh-TW"] {
        let hits = kb.search(mixed, Some(locale), 10).expect("search");
        assert!(!hits.is_empty());
        assert!(
            hits.iter().all(|h| lang_of(&h.article_id) == "zh"),
            "{locale}: {hits:?}"
        );
        assert!(
            hits.iter().any(|h| h.article_id == "tw-refund"),
            "zh-TW articles are zh-*"
        );
    }
    let en = kb.search(mixed, Some("en"), 10).expect("search");
    assert!(!en.is_empty());
    assert!(en.iter().all(|h| lang_of(&h.article_id) == "en"), "{en:?}");
    assert!(kb
        .search("怎么开发票", Some("en"), 10)
        .expect("search")
        .is_empty());
}

#[test]
fn garbage_and_special_character_queries_never_error() {
    let kb = KnowledgeBase::from_articles(demo_articles().expect("demo")).expect("kb");
    let queries = [
        "",
        "   ",
        "\u{3000}\t\n",
        ":",
        "\"",
        "(",
        ")",
        "title:发票 AND (",
        "\"unterminated phrase",
        "*?~^2 -+ !! || && [a TO b] {x}",
        "\\",
        "\0",
        "🙂",
        "🙂🙂🙂 👍",
        "。。。",
        "？？？！！！",
        "a",
        "的",
        "<script>alert(1)</script>",
        "DROP TABLE articles;--",
        "ＡＢＣ：（）",
        "\u{200B}\u{FEFF}",
    ];
    for query in queries {
        for locale in [None, Some("zh-CN"), Some("en"), Some(""), Some("fr")] {
            let hits = kb
                .search(query, locale, 5)
                .unwrap_or_else(|e| panic!("{query:?} errored: {e}"));
            assert!(hits.iter().all(|h| (0.0..=1.0).contains(&h.score)));
        }
    }
    for blank in ["", "   ", "🙂", "。。。", "\0"] {
        assert!(
            kb.search(blank, None, 5).expect("search").is_empty(),
            "{blank:?}"
        );
    }
}

#[test]
fn huge_queries_are_answered() {
    let kb = KnowledgeBase::from_articles(demo_articles().expect("demo")).expect("kb");
    let mixed = "我的快递到哪了 where is my order? 退货 refund 发票 ".repeat(200);
    let long_token = "a".repeat(10_000);
    let cjk = "快递".repeat(5_000);
    let punctuation = "!@#$%^&*()_+{}|:\"<>?".repeat(500);
    for query in [mixed.as_str(), &long_token, &cjk, &punctuation] {
        assert!(query.len() >= 10_000);
        let hits = kb.search(query, None, 5).expect("huge query works");
        assert!(hits.len() <= 5);
    }
    let hits = kb.search(&mixed, Some("zh-CN"), 5).expect("search");
    assert!(!hits.is_empty());
}

#[test]
fn invalid_articles_are_rejected_and_leave_the_knowledge_base_unchanged() {
    let kb = small_kb();
    let mut no_id = article("", "多久发货", &[], "zh-CN");
    assert!(matches!(
        kb.upsert(no_id.clone()),
        Err(KbError::InvalidArticle { .. })
    ));
    no_id.id = "blank-question".to_string();
    no_id.question = " \u{3000} ".to_string();
    assert!(matches!(
        kb.upsert(no_id),
        Err(KbError::InvalidArticle { .. })
    ));
    let mut no_answer = article("no-answer", "多久发货", &[], "zh-CN");
    no_answer.answer = "  ".to_string();
    let err = kb
        .replace_all([article("fine", "你好", &[], "zh-CN"), no_answer])
        .expect_err("invalid article");
    assert!(err.to_string().contains("no-answer"), "{err}");
    assert_eq!(kb.len(), 5, "a failed replace_all changes nothing");
    assert_eq!(top_id(&kb, "多久发货", None).as_deref(), Some("zh-ship"));
}

#[test]
fn replace_all_swaps_the_whole_content_and_the_last_duplicate_wins() {
    let kb = small_kb();
    kb.replace_all([
        article("a", "多久发货", &[], "zh-CN"),
        article("a", "怎么开发票", &[], "zh-CN"),
    ])
    .expect("replace_all");
    assert_eq!(kb.len(), 1);
    assert_eq!(
        kb.get("a").map(|a| a.question),
        Some("怎么开发票".to_string())
    );
    assert!(kb
        .search("多久发货", None, 5)
        .expect("search")
        .iter()
        .all(|h| h.score < 0.5));
    assert_eq!(top_id(&kb, "怎么开发票", None).as_deref(), Some("a"));
    kb.replace_all(Vec::new()).expect("replace_all");
    assert!(kb.is_empty());
    assert!(kb.search("怎么开发票", None, 5).expect("search").is_empty());
}

#[test]
fn searches_and_updates_can_run_from_several_threads() {
    let kb = Arc::new(small_kb());
    let writers: Vec<_> = (0..2)
        .map(|t| {
            let kb = Arc::clone(&kb);
            std::thread::spawn(move || {
                for i in 0..10 {
                    let id = format!("t{t}-{i}");
                    kb.upsert(article(&id, &format!("问题{t}号{i}"), &[], "zh-CN"))
                        .expect("upsert");
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let kb = Arc::clone(&kb);
            std::thread::spawn(move || {
                for _ in 0..20 {
                    kb.search("多久发货", None, 3).expect("search");
                }
            })
        })
        .collect();
    for handle in writers.into_iter().chain(readers) {
        handle.join().expect("thread finishes");
    }
    assert_eq!(kb.len(), 25);
}

#[test]
fn article_json_fills_in_defaults() {
    let article: Article =
        serde_json::from_str(r#"{"id": "x", "question": "多久发货", "answer": "48小时内发货"}"#)
            .expect("minimal article parses");
    assert!(article.similar.is_empty());
    assert_eq!(article.category, "other");
    assert_eq!(article.locale, "zh-CN");
    assert!(article.tags.is_empty());
    assert!(article.enabled);
}

#[test]
fn demo_knowledge_base_covers_every_intent_in_both_languages() {
    let articles = demo_articles().expect("demo articles load");
    assert!(articles.len() >= 120, "only {} articles", articles.len());
    let ids: HashSet<&str> = articles.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids.len(), articles.len(), "ids are unique");

    let mut by_intent: HashMap<&str, HashSet<&str>> = HashMap::new();
    for a in &articles {
        assert!(
            INTENTS.contains(&a.category.as_str()),
            "{}: {}",
            a.id,
            a.category
        );
        assert!(
            ["zh-CN", "en"].contains(&a.locale.as_str()),
            "{}: {}",
            a.id,
            a.locale
        );
        assert!(
            (3..=6).contains(&a.similar.len()),
            "{} has {} similar phrasings",
            a.id,
            a.similar.len()
        );
        assert!(!a.answer.trim().is_empty() && a.enabled, "{}", a.id);
        by_intent.entry(&a.category).or_default().insert(&a.locale);
    }
    for intent in INTENTS {
        let locales = by_intent.get(intent).cloned().unwrap_or_default();
        assert!(
            locales.contains("zh-CN") && locales.contains("en"),
            "{intent} needs a zh-CN and an en article, has {locales:?}"
        );
    }
    let zh = articles.iter().filter(|a| a.locale == "zh-CN").count();
    let en = articles.iter().filter(|a| a.locale == "en").count();
    assert!(zh >= 80 && en >= 40, "{zh} zh-CN and {en} en articles");
    let share = zh as f64 / articles.len() as f64;
    assert!(
        (0.6..=0.75).contains(&share),
        "about two thirds Chinese: {share:.2}"
    );

    let kb = KnowledgeBase::from_articles(articles.clone()).expect("demo kb builds");
    assert_eq!(kb.len(), articles.len());
}

#[test]
fn traditional_chinese_queries_find_simplified_articles() {
    let kb = KnowledgeBase::from_articles(demo_articles().expect("demo articles load"))
        .expect("demo kb builds");
    for (query, simplified) in [
        ("運費多少錢", "运费多少钱"),
        ("怎麼申請退貨", "怎么申请退货"),
        ("發票怎麼開", "发票怎么开"),
        ("我的快遞到哪裡了", "我的快递到哪里了"),
    ] {
        let traditional = kb.search(query, None, 3).expect("search");
        let expected = kb.search(simplified, None, 3).expect("search");
        let top = traditional.first().expect("a hit");
        assert_eq!(
            Some(&top.article_id),
            expected.first().map(|h| &h.article_id),
            "{query}"
        );
        assert!(top.score >= 0.99, "{query}: {top:?}");
    }
    // A zh-TW article is found by the Simplified question too.
    let kb = small_kb();
    assert_eq!(top_id(&kb, "怎么退货", None).as_deref(), Some("tw-refund"));
}

#[test]
fn demo_phrasings_are_distinct_across_articles() {
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut clashes = Vec::new();
    for a in demo_articles().expect("demo articles load") {
        let mut own = HashSet::new();
        for text in std::iter::once(&a.question).chain(&a.similar) {
            let key = kb::normalize(text);
            assert!(own.insert(key.clone()), "{}: {text:?} twice", a.id);
            if let Some(other) = seen.insert(key, a.id.clone()) {
                clashes.push(format!("{text:?}: {other} and {}", a.id));
            }
        }
    }
    assert!(clashes.is_empty(), "{}", clashes.join("\n"));
}
