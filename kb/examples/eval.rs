//! Evaluates retrieval on labelled customer queries: builds the demo knowledge base, runs each
//! query with `search(query, None, 5)` and prints top-1 accuracy and MRR@5 per kind of phrasing
//! and overall, then the misses.
//!
//! Run with `cargo run --release -p kb --example eval [QUERIES.json]`; without an argument it
//! uses the shipped `kb/eval/queries.json`.

#[path = "../eval/evaluate.rs"]
mod evaluate;

use std::path::PathBuf;

use kb::{demo_articles, KnowledgeBase};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from(evaluate::DEFAULT_QUERIES), PathBuf::from);
    let queries = evaluate::load(&path)?;
    let kb = KnowledgeBase::from_articles(demo_articles()?)?;
    println!(
        "{} queries from {} against {} demo articles\n",
        queries.len(),
        path.display(),
        kb.len()
    );
    let report = evaluate::evaluate(&kb, &queries)?;
    print!("{}", report.render());
    Ok(())
}
