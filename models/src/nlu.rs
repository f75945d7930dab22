//! The serving API: both classifiers behind one cheap-to-share value.

use crate::classifier::argmax;
use crate::{has_signal, Classifier, Intent, ModelError, Sentiment, Task};
use serde::Serialize;
use std::path::Path;

/// Calibrated intent confidence below which the bot treats a message as out of scope
/// (`other`) and answers with its fallback rather than an intent-specific flow.
///
/// Chosen by the train command on the validation split (the threshold that maximises the
/// macro-F1 of thresholded predictions, rounded to 0.05) and stored in the intent model's
/// `config.json`; a test checks that this constant and the shipped config agree.
pub const INTENT_CONFIDENCE_THRESHOLD: f32 = 0.40;

/// How many alternatives [`IntentPrediction::top`] lists.
pub const TOP_INTENTS: usize = 3;

/// The intent of one message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntentPrediction {
    /// The most probable intent (before applying [`INTENT_CONFIDENCE_THRESHOLD`]).
    pub label: Intent,
    /// Calibrated probability of `label` (temperature-scaled softmax).
    pub confidence: f32,
    /// The [`TOP_INTENTS`] most probable intents, most probable first (fewer only for text
    /// without signal, which gets `[(Other, 1.0)]`).
    pub top: Vec<(Intent, f32)>,
}

impl IntentPrediction {
    /// True when the confidence reaches [`INTENT_CONFIDENCE_THRESHOLD`].
    pub fn is_confident(&self) -> bool {
        self.confidence >= INTENT_CONFIDENCE_THRESHOLD
    }

    /// The intent the bot should act on: `label` when confident, `Other` otherwise.
    pub fn resolved(&self) -> Intent {
        if self.is_confident() {
            self.label
        } else {
            Intent::Other
        }
    }
}

/// Probabilities of the three sentiments (they sum to 1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SentimentProbabilities {
    pub negative: f32,
    pub neutral: f32,
    pub positive: f32,
}

/// The sentiment of one message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentimentPrediction {
    pub label: Sentiment,
    /// Calibrated probability of `label`.
    pub score: f32,
    pub probabilities: SentimentProbabilities,
}

/// The intent and sentiment classifiers. `Send + Sync`; share it in an `Arc`. Prediction is
/// synchronous CPU work of a few microseconds: callers in async code run it on a blocking pool.
pub struct Nlu {
    intent: Classifier,
    /// Class index → intent, resolved once at load.
    intents: Vec<Intent>,
    sentiment: Classifier,
    /// Class indices of negative, neutral, positive.
    sentiment_ids: [usize; 3],
    /// Both models have the same tokenizer (the train command gives them the same
    /// `tokenizer.json`): [`Nlu::analyze`] then tokenizes a text both read whole once.
    shared_tokenizer: bool,
}

impl Nlu {
    /// Loads `dir/intent/` and `dir/sentiment/`, each holding `config.json`,
    /// `tokenizer.json` and `model.safetensors`. Local files only; nothing is downloaded.
    pub fn load(dir: &Path) -> Result<Nlu, ModelError> {
        let intent = Classifier::load(&dir.join(Task::Intent.name()))?;
        let sentiment = Classifier::load(&dir.join(Task::Sentiment.name()))?;
        Nlu::from_classifiers(intent, sentiment)
    }

    /// The weights committed under `models/weights/`, compiled into the library.
    #[cfg(models_shipped_weights)]
    pub fn shipped() -> Result<Nlu, ModelError> {
        macro_rules! weights {
            ($file:literal) => {
                include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/weights/", $file))
            };
        }
        let intent = Classifier::from_bytes(
            weights!("intent/config.json"),
            weights!("intent/tokenizer.json"),
            weights!("intent/model.safetensors").to_vec(),
        )?;
        let sentiment = Classifier::from_bytes(
            weights!("sentiment/config.json"),
            weights!("sentiment/tokenizer.json"),
            weights!("sentiment/model.safetensors").to_vec(),
        )?;
        Nlu::from_classifiers(intent, sentiment)
    }

    /// The weights committed under `models/weights/`: this build has none (it was compiled
    /// before the first training run).
    #[cfg(not(models_shipped_weights))]
    pub fn shipped() -> Result<Nlu, ModelError> {
        Err(ModelError::NotShipped)
    }

    /// Pairs two loaded classifiers, checking their tasks and labels.
    pub fn from_classifiers(intent: Classifier, sentiment: Classifier) -> Result<Nlu, ModelError> {
        if intent.config().task != Task::Intent || sentiment.config().task != Task::Sentiment {
            return Err(ModelError::Invalid(
                "expected an intent and a sentiment model".into(),
            ));
        }
        let intents = intent
            .config()
            .id2label
            .values()
            .map(|label| {
                label
                    .parse::<Intent>()
                    .map_err(|e| ModelError::Invalid(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if intent.config().fallback_label != Intent::Other.label() {
            return Err(ModelError::Invalid(
                "the intent fallback must be other".into(),
            ));
        }
        let mut sentiment_ids = [0; 3];
        for (slot, s) in sentiment_ids.iter_mut().zip(Sentiment::ALL) {
            *slot = sentiment.config().label_id(s.label()).ok_or_else(|| {
                ModelError::Invalid(format!("sentiment model lacks {}", s.label()))
            })?;
        }
        if sentiment.config().num_labels() != 3
            || sentiment.config().fallback_label != Sentiment::Neutral.label()
        {
            return Err(ModelError::Invalid(
                "the sentiment model must have exactly negative, neutral, positive and fall back to neutral".into(),
            ));
        }
        let shared_tokenizer = intent.featurizer().same_tokenizer(sentiment.featurizer());
        Ok(Nlu {
            intent,
            intents,
            sentiment,
            sentiment_ids,
            shared_tokenizer,
        })
    }

    /// The intent of a message already normalised with the bot's normaliser
    /// (`kb::normalize`). Never fails: empty, huge, binary or emoji-only text gets an answer.
    pub fn intent(&self, normalized: &str) -> IntentPrediction {
        self.intent_prediction(self.intent.probabilities(normalized))
    }

    /// The sentiment of a message already normalised with the bot's normaliser. Never fails;
    /// text without signal is `neutral` with probability 1.
    pub fn sentiment(&self, normalized: &str) -> SentimentPrediction {
        self.sentiment_prediction(self.sentiment.probabilities(normalized))
    }

    /// Intent and sentiment together, tokenizing the text once when both models share their
    /// tokenizer and read it whole (tokenization is most of the cost of a prediction; a
    /// customer message is far shorter than either model's input cut). Same answers as
    /// [`Nlu::intent`] and [`Nlu::sentiment`].
    pub fn analyze(&self, normalized: &str) -> (IntentPrediction, SentimentPrediction) {
        let (a, b) = (self.intent.featurizer(), self.sentiment.featurizer());
        if !self.shared_tokenizer
            || !has_signal(normalized)
            || !a.reads_whole(normalized)
            || !b.reads_whole(normalized)
        {
            return (self.intent(normalized), self.sentiment(normalized));
        }
        // The ids of the featurizer with more tokens: each classifier keeps its own number.
        let wider = if a.max_tokens() >= b.max_tokens() {
            a
        } else {
            b
        };
        match wider.encode(normalized) {
            Ok(ids) => (
                self.intent_prediction(self.intent.probabilities_from_ids(normalized, &ids)),
                self.sentiment_prediction(self.sentiment.probabilities_from_ids(normalized, &ids)),
            ),
            Err(_) => (self.intent(normalized), self.sentiment(normalized)),
        }
    }

    fn intent_prediction(&self, p: Vec<f32>) -> IntentPrediction {
        let mut order: Vec<usize> = (0..p.len()).collect();
        // Stable sort: equal probabilities keep class order, so answers are deterministic.
        order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
        let best = order.first().copied().unwrap_or(0);
        let top: Vec<(Intent, f32)> = order
            .iter()
            .take(TOP_INTENTS)
            .filter(|&&i| p[i] > 0.0 || i == best)
            .map(|&i| (self.intents[i], p[i]))
            .collect();
        IntentPrediction {
            label: self.intents[best],
            confidence: p[best],
            top,
        }
    }

    fn sentiment_prediction(&self, p: Vec<f32>) -> SentimentPrediction {
        let [neg, neu, pos] = self.sentiment_ids;
        let probabilities = SentimentProbabilities {
            negative: p[neg],
            neutral: p[neu],
            positive: p[pos],
        };
        let label = decide_sentiment(probabilities, self.sentiment.config().negative_threshold);
        let score = match label {
            Sentiment::Negative => probabilities.negative,
            Sentiment::Neutral => probabilities.neutral,
            Sentiment::Positive => probabilities.positive,
        };
        SentimentPrediction {
            label,
            score,
            probabilities,
        }
    }

    /// The intent classifier, e.g. for evaluation over all class probabilities.
    pub fn intent_classifier(&self) -> &Classifier {
        &self.intent
    }

    /// The sentiment classifier.
    pub fn sentiment_classifier(&self) -> &Classifier {
        &self.sentiment
    }
}

/// The sentiment decision rule: with a negative threshold, `negative` as soon as
/// P(negative) reaches it and otherwise the more probable of neutral and positive; without
/// one, the most probable label.
pub fn decide_sentiment(p: SentimentProbabilities, negative_threshold: Option<f32>) -> Sentiment {
    match negative_threshold {
        Some(t) if p.negative >= t => Sentiment::Negative,
        Some(_) => {
            if p.positive > p.neutral {
                Sentiment::Positive
            } else {
                Sentiment::Neutral
            }
        }
        None => Sentiment::ALL[argmax(&[p.negative, p.neutral, p.positive])],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholded_intent_falls_back_to_other() {
        let p = IntentPrediction {
            label: Intent::Shipping,
            confidence: INTENT_CONFIDENCE_THRESHOLD / 2.0,
            top: vec![(Intent::Shipping, INTENT_CONFIDENCE_THRESHOLD / 2.0)],
        };
        assert_eq!(p.resolved(), Intent::Other);
        let sure = IntentPrediction {
            confidence: 0.99,
            ..p
        };
        assert_eq!(sure.resolved(), Intent::Shipping);
    }

    /// Bad input against the shipped models: a defined answer, never a panic.
    #[cfg(models_shipped_weights)]
    mod bad_input {
        use super::*;

        fn nlu() -> Nlu {
            match Nlu::shipped() {
                Ok(nlu) => nlu,
                Err(e) => panic!("shipped weights do not load: {e}"),
            }
        }

        fn assert_fallback(nlu: &Nlu, text: &str) {
            let i = nlu.intent(text);
            assert_eq!(i.label, Intent::Other, "{text:?}");
            assert_eq!(i.confidence, 1.0);
            assert_eq!(i.top, vec![(Intent::Other, 1.0)]);
            assert_eq!(i.resolved(), Intent::Other);
            let s = nlu.sentiment(text);
            assert_eq!(s.label, Sentiment::Neutral, "{text:?}");
            assert_eq!(s.score, 1.0);
            assert_eq!(
                s.probabilities,
                SentimentProbabilities {
                    negative: 0.0,
                    neutral: 1.0,
                    positive: 0.0
                }
            );
        }

        #[test]
        fn empty_whitespace_emoji_and_control_text_get_the_fallback() {
            let nlu = nlu();
            for text in [
                "",
                " ",
                "\t\n\r",
                "😡😡😡",
                "🙂👍🎉",
                "\u{0}\u{1}\u{7}\u{1b}\u{7f}\u{9f}",
                "\u{feff}\u{200b}",
                "!!!???。。。",
                "\u{fffd}\u{fffd}",
            ] {
                assert_fallback(&nlu, text);
            }
        }

        fn assert_distribution(p: &IntentPrediction, s: &SentimentPrediction) {
            assert!(p.confidence.is_finite() && (0.0..=1.0).contains(&p.confidence));
            // Either a model answer with three alternatives or, for text whose characters
            // the vocabulary does not know (rare Han extensions), the fallback.
            if p.top.len() == 1 {
                assert_eq!(p.top, vec![(Intent::Other, 1.0)]);
            } else {
                assert_eq!(p.top.len(), TOP_INTENTS);
            }
            assert_eq!(p.top[0], (p.label, p.confidence));
            assert!(p.top.windows(2).all(|w| w[0].1 >= w[1].1));
            let q = s.probabilities;
            let sum = q.negative + q.neutral + q.positive;
            assert!((sum - 1.0).abs() < 1e-4, "{q:?}");
        }

        #[test]
        fn huge_binary_and_odd_text_is_answered() {
            let nlu = nlu();
            let huge = "我要退款 where is my order ".repeat(50_000);
            let binary: String = (0u8..=255).cycle().take(10_000).map(char::from).collect();
            let lossy = String::from_utf8_lossy(&[0xff, 0xfe, b'h', b'i', 0x80, 0x00]).into_owned();
            let long_word = "a".repeat(100_000);
            let han_run = "退".repeat(100_000);
            let combining = "e\u{301}\u{301}\u{301}\u{301}".repeat(1_000);
            for text in [
                huge.as_str(),
                binary.as_str(),
                lossy.as_str(),
                long_word.as_str(),
                han_run.as_str(),
                combining.as_str(),
                "1234567890123456789012345678901234567890",
                "𠀀𠀁𠀂 \u{10ffff}",
                "x",
            ] {
                let p = nlu.intent(text);
                let s = nlu.sentiment(text);
                assert_distribution(&p, &s);
            }
        }

        #[test]
        fn analyze_answers_as_the_two_calls_do() {
            let nlu = nlu();
            assert!(nlu.shared_tokenizer);
            let long = "质量太差了，我要退货退款，where is my order?? ".repeat(12);
            for text in [
                "",
                "😡",
                "我要退货退款，质量太差",
                "where is my order??",
                "x",
                long.as_str(),
            ] {
                assert_eq!(nlu.analyze(text), (nlu.intent(text), nlu.sentiment(text)));
            }
        }

        #[test]
        fn ordinary_messages_are_understood() {
            let nlu = nlu();
            assert_eq!(nlu.intent("我要退货退款").label, Intent::ReturnRefund);
            assert_eq!(
                nlu.intent("can i get an invoice for my order").label,
                Intent::Invoice
            );
            assert_eq!(
                nlu.sentiment("太失望了，质量太差").label,
                Sentiment::Negative
            );
        }
    }

    #[test]
    fn sentiment_rule() {
        let p = SentimentProbabilities {
            negative: 0.4,
            neutral: 0.45,
            positive: 0.15,
        };
        assert_eq!(decide_sentiment(p, None), Sentiment::Neutral);
        assert_eq!(decide_sentiment(p, Some(0.35)), Sentiment::Negative);
        assert_eq!(decide_sentiment(p, Some(0.5)), Sentiment::Neutral);
    }
}
