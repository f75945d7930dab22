//! Search latency of the knowledge base at 1 000 and 100 000 articles (a plain bench binary,
//! `harness = false`; no criterion, no timed test).
//!
//! What it measures: the wall time of each full [`kb::KnowledgeBase::search`] call, as the bot
//! makes it (query analysis — normalization, jieba, bigrams, stemming — plus tantivy retrieval
//! and calibrated rescoring; locale `zh-CN` or `en` detected from the query's script, limit 3),
//! single-threaded, with `std::time::Instant`. For each size: one warm-up pass over the query
//! set (which also records each query's top-1 article), then a measured pass of the query set
//! repeated until at least `KB_BENCH_SEARCHES` (default 5 000) searches; it reports p50, p99,
//! mean and QPS, plus the index build time and the process RSS after the build
//! (`/proc/self/status`). Two diagnostic rows help reading the numbers: the same searches
//! without the locale filter, and "analysis only" (the same calls on an empty knowledge base,
//! where tantivy finds nothing, so almost all of the time is query analysis).
//!
//! Data: `datagen::generate` — the demo articles plus deterministic synthetic shop FAQ (see
//! `benches/datagen/mod.rs`). Queries: `kb/eval/queries.json` read at run time when present
//! (`{"query", "expected", "kind"}`; top-1 is scored only where `expected` is a demo article
//! id), else every similar phrasing of the demo articles (expected = its article).
//!
//! Output: a table on stdout, and in `KB_BENCH_OUT` (default `<workspace>/target/kb-bench`) the
//! generated `articles-<n>.json`, the `queries.json` actually used and `rust-results.json`, which
//! the Python baseline (`kb/bench/baseline.py`) and the side-by-side report read. Run everything
//! with `bash kb/bench/run.sh`, or only this part with `cargo bench -p kb --bench search`.
//! Sizes can be changed with `KB_BENCH_SIZES=1000,100000`. Without `--bench` (e.g. under
//! `cargo test --benches`) it only runs a quick smoke pass on 300 articles and writes nothing.

mod datagen;

use std::collections::HashSet;
use std::error::Error;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kb::{Article, KnowledgeBase};
use serde_json::{json, Value};

type BoxResult<T> = Result<T, Box<dyn Error>>;

/// How many hits the bot asks for (`BotConfig::clarify_options`).
const LIMIT: usize = 3;

/// One benchmark query.
struct Query {
    text: String,
    /// `zh-CN` or `en`, from the query's script (as the bot detects the language).
    locale: &'static str,
    /// The demo article that should come first, when the query is scored for top-1.
    expected: Option<String>,
    kind: String,
}

/// Latency summary of one measured run.
struct Stats {
    searches: usize,
    p50: Duration,
    p99: Duration,
    mean: Duration,
    qps: f64,
}

impl Stats {
    fn from(mut samples: Vec<Duration>, wall: Duration) -> Self {
        samples.sort_unstable();
        let searches = samples.len();
        let total: Duration = samples.iter().sum();
        Self {
            searches,
            p50: percentile(&samples, 0.50),
            p99: percentile(&samples, 0.99),
            mean: total / u32::try_from(searches.max(1)).unwrap_or(u32::MAX),
            qps: searches as f64 / wall.as_secs_f64().max(1e-9),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "searches": self.searches,
            "p50_us": micros(self.p50),
            "p99_us": micros(self.p99),
            "mean_us": micros(self.mean),
            "qps": self.qps,
        })
    }
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// `zh-CN` when the text has any CJK ideograph, else `en`.
fn detect_locale(text: &str) -> &'static str {
    let cjk = text.chars().any(|c| {
        matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
    });
    if cjk {
        "zh-CN"
    } else {
        "en"
    }
}

/// The eval set when present, else the demo articles' similar phrasings.
fn load_queries(demo: &[Article], path: &Path) -> BoxResult<(Vec<Query>, String)> {
    let demo_ids: HashSet<&str> = demo.iter().map(|a| a.id.as_str()).collect();
    if path.exists() {
        let raw: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path)?)?;
        let mut queries = Vec::new();
        for entry in raw {
            let Some(text) = entry.get("query").and_then(Value::as_str) else {
                continue;
            };
            let expected = entry
                .get("expected")
                .and_then(Value::as_str)
                .filter(|id| demo_ids.contains(id))
                .map(str::to_string);
            let kind = entry
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_string();
            queries.push(Query {
                text: text.to_string(),
                locale: detect_locale(text),
                expected,
                kind,
            });
        }
        return Ok((queries, path.display().to_string()));
    }
    let queries = demo
        .iter()
        .flat_map(|a| {
            a.similar.iter().map(|s| Query {
                text: s.clone(),
                locale: detect_locale(s),
                expected: Some(a.id.clone()),
                kind: "stored_similar".to_string(),
            })
        })
        .collect();
    Ok((
        queries,
        "demo similar phrasings (kb/eval/queries.json absent)".to_string(),
    ))
}

/// Resident and peak resident memory of this process, in MiB, from `/proc/self/status`.
fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// One pass over the queries, returning each query's top-1 article id.
fn top1_pass(
    kb: &KnowledgeBase,
    queries: &[Query],
    locale: bool,
) -> BoxResult<Vec<Option<String>>> {
    queries
        .iter()
        .map(|q| {
            let hits = kb.search(&q.text, locale.then_some(q.locale), LIMIT)?;
            Ok(hits.into_iter().next().map(|h| h.article_id))
        })
        .collect()
}

/// Repeats the query set until at least `min_searches` searches, timing each call.
fn measure(
    kb: &KnowledgeBase,
    queries: &[Query],
    min_searches: usize,
    locale: bool,
) -> BoxResult<Stats> {
    let passes = min_searches.div_ceil(queries.len().max(1)).max(1);
    let mut samples = Vec::with_capacity(passes * queries.len());
    let wall = Instant::now();
    for _ in 0..passes {
        for q in queries {
            let start = Instant::now();
            let hits = kb.search(&q.text, locale.then_some(q.locale), LIMIT)?;
            samples.push(start.elapsed());
            black_box(hits);
        }
    }
    Ok(Stats::from(samples, wall.elapsed()))
}

/// Top-1 accuracy over the scored queries: (correct, scored).
fn top1_accuracy(queries: &[Query], top1: &[Option<String>]) -> (usize, usize) {
    let mut correct = 0;
    let mut scored = 0;
    for (q, got) in queries.iter().zip(top1) {
        if let Some(expected) = &q.expected {
            scored += 1;
            correct += usize::from(got.as_deref() == Some(expected.as_str()));
        }
    }
    (correct, scored)
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn main() -> BoxResult<()> {
    // `cargo bench` passes `--bench`; anything else (cargo test --benches) gets a smoke run.
    let full = std::env::args().any(|a| a == "--bench");
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out_dir = std::env::var_os("KB_BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../target/kb-bench"));
    let sizes: Vec<usize> = if full {
        std::env::var("KB_BENCH_SIZES")
            .unwrap_or_else(|_| "1000,100000".to_string())
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect()
    } else {
        vec![300]
    };
    let min_searches = if full {
        env_or("KB_BENCH_SEARCHES", 5_000)
    } else {
        1
    };

    let demo = kb::demo_articles()?;
    let (queries, source) = load_queries(&demo, &manifest.join("eval/queries.json"))?;
    let scored = queries.iter().filter(|q| q.expected.is_some()).count();
    println!(
        "kb search bench: {} queries from {source} ({scored} scored for top-1), limit {LIMIT}, \
         >= {min_searches} measured searches per size",
        queries.len()
    );
    if queries.is_empty() {
        return Err("no queries".into());
    }
    if full {
        std::fs::create_dir_all(&out_dir)?;
        let dump: Vec<Value> = queries
            .iter()
            .map(|q| {
                json!({"query": q.text, "locale": q.locale, "expected": q.expected, "kind": q.kind})
            })
            .collect();
        std::fs::write(
            out_dir.join("queries.json"),
            serde_json::to_vec_pretty(&dump)?,
        )?;
    }

    // Analysis only: an empty index, so tantivy returns at once and rescoring has nothing to do.
    let empty = KnowledgeBase::new()?;
    measure(&empty, &queries, queries.len(), true)?; // warm-up (jieba's dictionary, caches)
    let analysis = measure(&empty, &queries, min_searches, true)?;
    drop(empty);

    let mut rows = Vec::new();
    for &n in &sizes {
        let articles = datagen::generate(&demo, n);
        let ids: HashSet<&str> = articles.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids.len(), n, "generated article ids must be unique");
        drop(ids);
        let phrasings: usize = articles.iter().map(|a| 1 + a.similar.len()).sum();
        if full {
            let path = out_dir.join(format!("articles-{n}.json"));
            std::fs::write(&path, serde_json::to_vec(&articles)?)?;
        }

        let start = Instant::now();
        let kb = KnowledgeBase::from_articles(articles)?;
        let build = start.elapsed();
        let (rss, hwm) = rss_mib();

        let top1 = top1_pass(&kb, &queries, true)?; // also the warm-up pass
        let stats = measure(&kb, &queries, min_searches, true)?;
        let no_filter = measure(&kb, &queries, min_searches, false)?;
        let (correct, scored) = top1_accuracy(&queries, &top1);
        println!(
            "{n:>7} articles ({phrasings} phrasings): built in {:.2} s, RSS {rss:.0} MiB \
             (peak {hwm:.0} MiB); p50 {:.0} µs, p99 {:.0} µs, top-1 {correct}/{scored}",
            build.as_secs_f64(),
            micros(stats.p50),
            micros(stats.p99),
        );
        rows.push(json!({
            "articles": n,
            "phrasings": phrasings,
            "build_s": build.as_secs_f64(),
            "rss_mib": rss,
            "peak_rss_mib": hwm,
            "search": stats.to_json(),
            "search_no_locale_filter": no_filter.to_json(),
            "top1": top1,
        }));
        drop(kb);
    }

    print_table(&rows, &analysis, &queries);
    if full {
        let results = json!({
            "system": "kb (tantivy + jieba-rs)",
            "queries_source": source,
            "limit": LIMIT,
            "analysis_only": analysis.to_json(),
            "sizes": rows,
        });
        let path = out_dir.join("rust-results.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&results)?)?;
        println!("results written to {}", path.display());
    } else {
        println!("smoke run only (pass --bench, as `cargo bench` does, for the full benchmark)");
    }
    Ok(())
}

/// The Rust-only table (the side-by-side one with Python is printed by kb/bench/report.py).
fn print_table(rows: &[Value], analysis: &Stats, queries: &[Query]) {
    let num = |v: &Value, path: &[&str]| {
        path.iter()
            .try_fold(v, |v, k| v.get(k))
            .and_then(Value::as_f64)
            .unwrap_or(f64::NAN)
    };
    println!();
    println!(
        "{:>8}  {:<28} {:>9} {:>9} {:>9} {:>9} {:>8}",
        "articles", "run", "p50 µs", "p99 µs", "mean µs", "QPS", "top-1"
    );
    for row in rows {
        let top1: Vec<Option<String>> = row
            .get("top1")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        let (correct, scored) = top1_accuracy(queries, &top1);
        for (label, key, show_top1) in [
            ("search (locale filter)", "search", true),
            (
                "search (no locale filter)",
                "search_no_locale_filter",
                false,
            ),
        ] {
            let top = if show_top1 && scored > 0 {
                format!("{:.1}%", 100.0 * correct as f64 / scored as f64)
            } else {
                "-".to_string()
            };
            println!(
                "{:>8}  {:<28} {:>9.0} {:>9.0} {:>9.0} {:>9.0} {:>8}",
                num(row, &["articles"]),
                label,
                num(row, &[key, "p50_us"]),
                num(row, &[key, "p99_us"]),
                num(row, &[key, "mean_us"]),
                num(row, &[key, "qps"]),
                top
            );
        }
    }
    println!(
        "{:>8}  {:<28} {:>9.0} {:>9.0} {:>9.0} {:>9.0} {:>8}",
        0,
        "analysis only (empty index)",
        micros(analysis.p50),
        micros(analysis.p99),
        micros(analysis.mean),
        analysis.qps,
        "-"
    );
}
