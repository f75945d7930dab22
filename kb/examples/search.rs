//! Builds the demo knowledge base and runs two searches, printing the hits.
//!
//! Run with `cargo run -p kb --example search`.

use kb::{demo_articles, KbError, KnowledgeBase};

fn main() -> Result<(), KbError> {
    // The store is the source of truth in the gateway; here the demo articles shipped with the
    // crate stand in for it.
    let kb = KnowledgeBase::from_articles(demo_articles()?)?;
    println!("{} articles indexed", kb.len());

    // A Chinese paraphrase that is not in the data, restricted to zh-* articles, and an English
    // question searched across all locales.
    for (query, locale) in [
        ("我的快递到哪了", Some("zh-CN")),
        ("How long does shipping take to Shanghai?", None),
    ] {
        println!("\nquery: {query:?} (locale: {locale:?})");
        for hit in kb.search(query, locale, 3)? {
            // `score` is the calibrated confidence the bot thresholds; `bm25` only explains.
            println!(
                "  {:.2}  {:<20} [{}] matched {:?} (bm25 {:.1})",
                hit.score, hit.article_id, hit.category, hit.matched, hit.bm25
            );
        }
    }
    Ok(())
}
