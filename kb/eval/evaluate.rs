//! Retrieval evaluation over a set of labelled customer queries, shared by the `eval` example
//! (`cargo run --release -p kb --example eval`) and the regression test `tests/eval.rs`
//! (both include this file with `#[path]`).
//!
//! A query file is a JSON array of `{"query", "expected", "kind"}` objects: the customer's
//! text, the id of the article that answers it, and the kind of phrasing (`colloquial`,
//! `traditional`, `typo`, `mixed`, `english`). Each query is searched across all locales with
//! `search(query, None, 5)`; the report gives, per kind and overall, the top-1 accuracy and the
//! mean reciprocal rank of the expected article within the first 5 hits (MRR@5).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use kb::{KbError, KnowledgeBase};

/// How many hits are retrieved per query (the cut-off of MRR@5).
pub const DEPTH: usize = 5;

/// The default query file, shipped with the crate.
pub const DEFAULT_QUERIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/eval/queries.json");

/// One labelled query.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Query {
    /// What the customer typed.
    pub query: String,
    /// The id of the article that answers it.
    pub expected: String,
    /// The kind of phrasing.
    pub kind: String,
}

/// Reads and parses a query file.
pub fn load(path: &Path) -> Result<Vec<Query>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    serde_json::from_str(&text).map_err(|err| format!("cannot parse {}: {err}", path.display()))
}

/// The result of one query.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The labelled query.
    pub query: Query,
    /// The 1-based rank of the expected article in the first [`DEPTH`] hits, if there.
    pub rank: Option<usize>,
    /// The hits returned, as (article id, score).
    pub got: Vec<(String, f32)>,
}

impl Outcome {
    /// The reciprocal rank (0 when the expected article is not in the first hits).
    pub fn reciprocal_rank(&self) -> f64 {
        self.rank.map_or(0.0, |rank| 1.0 / rank as f64)
    }
}

/// Aggregate figures over a group of outcomes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Figures {
    /// Number of queries.
    pub count: usize,
    /// Share of queries whose first hit is the expected article.
    pub top1: f64,
    /// Mean reciprocal rank of the expected article within the first [`DEPTH`] hits.
    pub mrr: f64,
}

impl Figures {
    fn of<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>) -> Self {
        let (mut count, mut top1, mut rr) = (0usize, 0usize, 0.0f64);
        for o in outcomes {
            count += 1;
            top1 += usize::from(o.rank == Some(1));
            rr += o.reciprocal_rank();
        }
        if count == 0 {
            return Self::default();
        }
        Self {
            count,
            top1: top1 as f64 / count as f64,
            mrr: rr / count as f64,
        }
    }
}

/// The evaluation of a query set.
#[derive(Debug, Clone)]
pub struct Report {
    /// Every query's outcome, in file order.
    pub outcomes: Vec<Outcome>,
    /// Figures per kind, sorted by kind.
    pub by_kind: BTreeMap<String, Figures>,
    /// Figures over all queries.
    pub overall: Figures,
}

impl Report {
    /// The queries whose first hit is not the expected article.
    pub fn misses(&self) -> impl Iterator<Item = &Outcome> + '_ {
        self.outcomes.iter().filter(|o| o.rank != Some(1))
    }

    /// The report as a text table per kind and overall, followed by the misses.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<12} {:>5} {:>7} {:>7}",
            "kind", "count", "top-1", "MRR@5"
        );
        for (kind, f) in &self.by_kind {
            let _ = writeln!(
                out,
                "{kind:<12} {:>5} {:>7.3} {:>7.3}",
                f.count, f.top1, f.mrr
            );
        }
        let f = self.overall;
        let _ = writeln!(
            out,
            "{:<12} {:>5} {:>7.3} {:>7.3}",
            "overall", f.count, f.top1, f.mrr
        );
        let misses: Vec<&Outcome> = self.misses().collect();
        let _ = writeln!(out, "\n{} misses (query | expected | got):", misses.len());
        for o in misses {
            let got = o
                .got
                .iter()
                .take(3)
                .map(|(id, score)| format!("{id} {score:.2}"))
                .collect::<Vec<_>>()
                .join(", ");
            let rank = o
                .rank
                .map_or_else(|| "not in top 5".to_string(), |r| format!("rank {r}"));
            let _ = writeln!(
                out,
                "  [{}] {:?} | {} ({rank}) | {}",
                o.query.kind,
                o.query.query,
                o.query.expected,
                if got.is_empty() { "nothing" } else { &got }
            );
        }
        out
    }
}

/// Runs every query against the knowledge base.
pub fn evaluate(kb: &KnowledgeBase, queries: &[Query]) -> Result<Report, KbError> {
    let mut outcomes = Vec::with_capacity(queries.len());
    for q in queries {
        let hits = kb.search(&q.query, None, DEPTH)?;
        let rank = hits
            .iter()
            .position(|h| h.article_id == q.expected)
            .map(|ix| ix + 1);
        outcomes.push(Outcome {
            query: q.clone(),
            rank,
            got: hits.into_iter().map(|h| (h.article_id, h.score)).collect(),
        });
    }
    let mut kinds: BTreeMap<String, Vec<&Outcome>> = BTreeMap::new();
    for o in &outcomes {
        kinds.entry(o.query.kind.clone()).or_default().push(o);
    }
    let by_kind = kinds
        .into_iter()
        .map(|(kind, group)| (kind, Figures::of(group)))
        .collect();
    let overall = Figures::of(&outcomes);
    Ok(Report {
        outcomes,
        by_kind,
        overall,
    })
}
