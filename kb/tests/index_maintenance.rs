//! The index stays consistent through updates: reused article slots, language groups, queries
//! made only of function words, and the same answers whichever way the content was loaded.

use std::sync::Arc;

use kb::{demo_articles, Article, KnowledgeBase};

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

fn top(kb: &KnowledgeBase, query: &str, locale: Option<&str>) -> Option<(String, f32)> {
    kb.search(query, locale, 5)
        .expect("search works")
        .into_iter()
        .next()
        .map(|h| (h.article_id, h.score))
}

#[test]
fn a_removed_article_leaves_nothing_behind_when_its_place_is_reused() {
    let kb = KnowledgeBase::from_articles([
        article("ship", "多久发货", &["什么时候发货"], "zh-CN"),
        article("invoice", "怎么开发票", &["能开发票吗"], "zh-CN"),
    ])
    .expect("kb");
    kb.remove("ship").expect("remove");
    kb.upsert(article("pay", "支持花呗分期吗", &["能用花呗吗"], "zh-CN"))
        .expect("upsert");
    assert_eq!(kb.len(), 2);
    assert!(kb.get("ship").is_none());
    let hits = kb.search("多久发货", None, 5).expect("search");
    assert!(hits.iter().all(|h| h.article_id != "ship"), "{hits:?}");
    assert!(hits.iter().all(|h| h.score < 0.5), "{hits:?}");
    assert_eq!(
        top(&kb, "能用花呗吗", None).map(|t| t.0).as_deref(),
        Some("pay")
    );
    let hit = kb.search("能用花呗吗", None, 1).expect("search");
    assert_eq!(hit[0].question, "支持花呗分期吗");
    assert_eq!(hit[0].matched, "能用花呗吗");
    // Replacing an article many times keeps one article and its last phrasings only.
    for round in 0..5 {
        kb.upsert(article(
            "invoice",
            &format!("第{round}种开票问题"),
            &["能开发票吗"],
            "zh-CN",
        ))
        .expect("upsert");
    }
    assert_eq!(kb.len(), 2);
    let hits = kb.search("能开发票吗", None, 5).expect("search");
    assert_eq!(hits.iter().filter(|h| h.article_id == "invoice").count(), 1);
    assert_eq!(hits[0].question, "第4种开票问题");
}

#[test]
fn every_language_group_is_searchable_on_its_own() {
    let kb = KnowledgeBase::from_articles([
        article("zh", "怎么退货", &[], "zh-CN"),
        article("tw", "怎麼換貨", &[], "zh-TW"),
        article("en", "How do I return an item?", &[], "en"),
        article("fr", "Comment retourner un article ?", &[], "fr-FR"),
        article("ja", "返品したいです", &[], "ja"),
    ])
    .expect("kb");
    assert_eq!(
        top(&kb, "comment retourner un article", Some("fr")).map(|t| t.0),
        Some("fr".to_string())
    );
    assert!(kb
        .search("comment retourner un article", Some("en"), 5)
        .expect("search")
        .iter()
        .all(|h| h.article_id == "en"));
    assert!(kb
        .search("怎么退货", Some("de"), 5)
        .expect("search")
        .is_empty());
    let ja = kb.search("返品したい", Some("ja-JP"), 5).expect("search");
    assert_eq!(ja.first().map(|h| h.article_id.as_str()), Some("ja"));
    assert!(ja.iter().all(|h| h.article_id == "ja"), "{ja:?}");
    let zh = kb.search("怎么换货", Some("zh-CN"), 5).expect("search");
    assert_eq!(zh.first().map(|h| h.article_id.as_str()), Some("tw"));
    // Without a locale every group is searched.
    assert_eq!(
        top(&kb, "How do I return an item?", None),
        Some(("en".to_string(), 1.0))
    );
    // A group whose last article goes away is no longer searched, and comes back with a new one.
    kb.remove("fr").expect("remove");
    assert!(kb
        .search("comment retourner un article", Some("fr"), 5)
        .expect("search")
        .is_empty());
    kb.upsert(article("fr2", "Où est mon colis ?", &[], "fr"))
        .expect("upsert");
    assert_eq!(
        top(&kb, "où est mon colis", Some("fr")).map(|t| t.0),
        Some("fr2".to_string())
    );
}

#[test]
fn a_question_made_only_of_function_words_still_finds_its_article() {
    let kb = KnowledgeBase::from_articles([
        article("how", "How are you?", &[], "en"),
        article("ship", "How long does shipping take?", &[], "en"),
        article("zh", "在吗", &["你在吗"], "zh-CN"),
        article("zh-ship", "多久发货", &[], "zh-CN"),
    ])
    .expect("kb");
    assert_eq!(
        top(&kb, "how are you", Some("en")),
        Some(("how".to_string(), 1.0))
    );
    assert_eq!(
        top(&kb, "你在吗", Some("zh-CN")),
        Some(("zh".to_string(), 1.0))
    );
}

#[test]
fn loading_by_updates_gives_the_same_answers_as_loading_at_once() {
    let articles = demo_articles().expect("demo articles");
    let at_once = KnowledgeBase::from_articles(articles.clone()).expect("kb");
    let by_updates = KnowledgeBase::new().expect("kb");
    for article in &articles {
        by_updates.upsert(article.clone()).expect("upsert");
    }
    // Churn: remove and re-add a few articles.
    for article in articles.iter().step_by(7) {
        by_updates.remove(&article.id).expect("remove");
    }
    for article in articles.iter().step_by(7) {
        by_updates.upsert(article.clone()).expect("upsert");
    }
    assert_eq!(by_updates.len(), at_once.len());
    for article in &articles {
        for query in std::iter::once(&article.question).chain(&article.similar) {
            let a = top(&at_once, query, None);
            let b = top(&by_updates, query, None);
            assert_eq!(a, b, "{query}");
            assert_eq!(a.map(|t| t.0).as_deref(), Some(article.id.as_str()));
        }
    }
}

#[test]
fn searches_run_while_the_content_is_replaced() {
    let articles = demo_articles().expect("demo articles");
    let kb = Arc::new(KnowledgeBase::from_articles(articles.clone()).expect("kb"));
    let reader = {
        let kb = Arc::clone(&kb);
        std::thread::spawn(move || {
            for _ in 0..200 {
                let hits = kb
                    .search("我的快递到哪了", Some("zh-CN"), 3)
                    .expect("search");
                assert_eq!(
                    hits.first().map(|h| h.article_id.as_str()),
                    Some("kb-zh-order-1")
                );
            }
        })
    };
    for _ in 0..3 {
        kb.replace_all(articles.clone()).expect("replace_all");
    }
    reader.join().expect("reader finishes");
    assert_eq!(kb.len(), articles.len());
}
