//! The retrieval evaluation set (`kb/eval/queries.json`): its integrity, and the quality bar
//! the demo knowledge base must keep (so a retrieval or data regression fails CI).
//!
//! See `cargo run --release -p kb --example eval` for the full report with the misses.

#[path = "../eval/evaluate.rs"]
mod evaluate;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use kb::{demo_articles, normalize, KnowledgeBase};

/// Minimum share of queries whose first hit is the expected article.
const MIN_TOP1: f64 = 0.85;
/// Minimum mean reciprocal rank of the expected article within the first 5 hits.
const MIN_MRR: f64 = 0.90;

fn queries() -> Vec<evaluate::Query> {
    evaluate::load(Path::new(evaluate::DEFAULT_QUERIES)).expect("eval queries load")
}

#[test]
fn every_expected_article_exists_in_the_demo_knowledge_base() {
    let ids: HashSet<String> = demo_articles()
        .expect("demo articles load")
        .into_iter()
        .filter(|a| a.enabled)
        .map(|a| a.id)
        .collect();
    let missing: Vec<String> = queries()
        .into_iter()
        .filter(|q| !ids.contains(&q.expected))
        .map(|q| format!("{:?} -> {}", q.query, q.expected))
        .collect();
    assert!(
        missing.is_empty(),
        "unknown expected ids:\n{}",
        missing.join("\n")
    );
}

#[test]
fn no_query_copies_an_article_phrasing() {
    let mut phrasings: HashMap<String, String> = HashMap::new();
    for article in demo_articles().expect("demo articles load") {
        for text in std::iter::once(&article.question).chain(&article.similar) {
            phrasings.insert(normalize(text), article.id.clone());
        }
    }
    let mut seen = HashSet::new();
    let mut failures = Vec::new();
    for q in queries() {
        let normalized = normalize(&q.query);
        if let Some(id) = phrasings.get(&normalized) {
            failures.push(format!("{:?} is a phrasing of {id}", q.query));
        }
        if !seen.insert(normalized) {
            failures.push(format!("{:?} is in the set twice", q.query));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_eval_set_covers_every_kind_of_phrasing() {
    let queries = queries();
    let mut by_kind: HashMap<&str, usize> = HashMap::new();
    for q in &queries {
        *by_kind.entry(q.kind.as_str()).or_default() += 1;
    }
    assert!(queries.len() >= 150, "only {} queries", queries.len());
    for (kind, min) in [
        ("colloquial", 30),
        ("traditional", 25),
        ("typo", 20),
        ("mixed", 15),
        ("english", 40),
    ] {
        let n = by_kind.get(kind).copied().unwrap_or_default();
        assert!(n >= min, "{kind}: {n} queries, want at least {min}");
    }
    assert_eq!(by_kind.len(), 5, "unknown kinds: {by_kind:?}");
    // Traditional queries must really be Traditional: normalization changes them.
    for q in queries.iter().filter(|q| q.kind == "traditional") {
        assert_ne!(
            normalize(&q.query),
            q.query.to_lowercase(),
            "{:?} is not Traditional",
            q.query
        );
    }
}

#[test]
fn demo_retrieval_meets_the_quality_bar() {
    let kb = KnowledgeBase::from_articles(demo_articles().expect("demo articles load"))
        .expect("demo knowledge base builds");
    let report = evaluate::evaluate(&kb, &queries()).expect("search works");
    println!("{}", report.render());
    let f = report.overall;
    assert!(
        f.top1 >= MIN_TOP1 && f.mrr >= MIN_MRR,
        "top-1 {:.3} (min {MIN_TOP1}), MRR@5 {:.3} (min {MIN_MRR}):\n{}",
        f.top1,
        f.mrr,
        report.render()
    );
}
