//! What a customer message means: its language, its intent and its sentiment.
//!
//! This crate owns the labels the rest of the product speaks in ([`Intent`], [`Sentiment`],
//! [`Language`]), the mapping from an intent to the agent skill it needs, and the two small
//! classifiers that put those labels on a message: [`Nlu::intent`] (14 intents, calibrated
//! confidence, [`INTENT_CONFIDENCE_THRESHOLD`] for out-of-scope) and [`Nlu::sentiment`], or
//! both at once with [`Nlu::analyze`] (one tokenization).
//!
//! Each classifier is a fastText-style candle network ([`FastText`]: averaged embeddings of
//! tokens and hashed token n-grams, then a one-hidden-layer MLP; optionally several of them
//! from different seeds with their logits averaged) over the project's own
//! WordPiece `tokenizer.json`. A model directory holds `config.json` ([`ModelConfig`], with
//! `id2label`), `tokenizer.json` and `model.safetensors`; the trained ones are committed under
//! `models/weights/` and compiled in ([`Nlu::shipped`]). Training and evaluation are the
//! `train` and `eval` examples, built on [`data`], [`train`] and [`metrics`].
//!
//! What it is not: no transformer, no GPU, no I/O at prediction time, nothing downloaded,
//! no HTTP, and no text normalisation of its own — callers pass text already normalised with
//! the bot's normaliser (`kb::normalize`), the form the models were trained on.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

mod classifier;
mod config;
pub mod data;
mod error;
pub mod evaluate;
mod features;
pub mod metrics;
mod model;
mod nlu;
pub mod train;

pub use classifier::{argmax, softmax, Classifier, CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE};
pub use config::{ModelConfig, Task, ARCHITECTURE};
pub use error::ModelError;
pub use features::{has_signal, stable_hash, truncate_chars, Featurizer};
pub use model::{FastText, Head};
pub use nlu::{
    decide_sentiment, IntentPrediction, Nlu, SentimentPrediction, SentimentProbabilities,
    INTENT_CONFIDENCE_THRESHOLD, TOP_INTENTS,
};

/// The fourteen v1 intents of a customer message (see the HTTP contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    Greeting,
    ProductInquiry,
    OrderStatus,
    Shipping,
    ChangeOrder,
    CancelOrder,
    ReturnRefund,
    Payment,
    Invoice,
    Promotion,
    Complaint,
    HumanAgent,
    ThanksGoodbye,
    Other,
}

impl Intent {
    /// Every intent, in the contract's order.
    pub const ALL: [Intent; 14] = [
        Intent::Greeting,
        Intent::ProductInquiry,
        Intent::OrderStatus,
        Intent::Shipping,
        Intent::ChangeOrder,
        Intent::CancelOrder,
        Intent::ReturnRefund,
        Intent::Payment,
        Intent::Invoice,
        Intent::Promotion,
        Intent::Complaint,
        Intent::HumanAgent,
        Intent::ThanksGoodbye,
        Intent::Other,
    ];

    /// The snake_case label used on the wire and in knowledge-base categories.
    pub fn label(self) -> &'static str {
        match self {
            Intent::Greeting => "greeting",
            Intent::ProductInquiry => "product_inquiry",
            Intent::OrderStatus => "order_status",
            Intent::Shipping => "shipping",
            Intent::ChangeOrder => "change_order",
            Intent::CancelOrder => "cancel_order",
            Intent::ReturnRefund => "return_refund",
            Intent::Payment => "payment",
            Intent::Invoice => "invoice",
            Intent::Promotion => "promotion",
            Intent::Complaint => "complaint",
            Intent::HumanAgent => "human_agent",
            Intent::ThanksGoodbye => "thanks_goodbye",
            Intent::Other => "other",
        }
    }

    /// The agent skill a conversation with this intent needs, if any.
    ///
    /// Greetings, thanks, explicit requests for a person and unclassified messages need no
    /// specialty: any agent speaking the customer's language can take them.
    pub fn skill(self) -> Option<&'static str> {
        match self {
            Intent::ProductInquiry | Intent::Promotion => Some("presales"),
            Intent::OrderStatus
            | Intent::ChangeOrder
            | Intent::CancelOrder
            | Intent::Payment
            | Intent::Invoice => Some("orders"),
            Intent::Shipping => Some("logistics"),
            Intent::ReturnRefund => Some("aftersales"),
            Intent::Complaint => Some("complaints"),
            Intent::Greeting | Intent::HumanAgent | Intent::ThanksGoodbye | Intent::Other => None,
        }
    }
}

impl fmt::Display for Intent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A label that is not one of the v1 intents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown intent label {0:?}")]
pub struct UnknownIntent(pub String);

impl FromStr for Intent {
    type Err = UnknownIntent;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Intent::ALL
            .into_iter()
            .find(|intent| intent.label() == s)
            .ok_or_else(|| UnknownIntent(s.to_owned()))
    }
}

/// How a customer feels, as the contract names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sentiment {
    Negative,
    Neutral,
    Positive,
}

impl Sentiment {
    /// Every sentiment, in class order.
    pub const ALL: [Sentiment; 3] = [Sentiment::Negative, Sentiment::Neutral, Sentiment::Positive];

    /// The snake_case label used on the wire and in the training data.
    pub fn label(self) -> &'static str {
        match self {
            Sentiment::Negative => "negative",
            Sentiment::Neutral => "neutral",
            Sentiment::Positive => "positive",
        }
    }
}

impl fmt::Display for Sentiment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A label that is not one of the three sentiments.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown sentiment label {0:?}")]
pub struct UnknownSentiment(pub String);

impl FromStr for Sentiment {
    type Err = UnknownSentiment;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Sentiment::ALL
            .into_iter()
            .find(|sentiment| sentiment.label() == s)
            .ok_or_else(|| UnknownSentiment(s.to_owned()))
    }
}

/// The language a message is written in, which also picks the agent's language skill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    Zh,
    En,
}

impl Language {
    /// The language skill an agent needs to serve this customer (`zh` or `en`).
    pub fn skill(self) -> &'static str {
        match self {
            Language::Zh => "zh",
            Language::En => "en",
        }
    }

    /// The language of a shop locale such as `zh-CN`, `zh-TW` or `en`; unknown locales are
    /// treated as Chinese, the product's first language.
    pub fn from_locale(locale: &str) -> Language {
        if locale.to_ascii_lowercase().starts_with("en") {
            Language::En
        } else {
            Language::Zh
        }
    }

    /// Detects the language of a message: any Han character makes it Chinese (shoppers mix
    /// Latin product names into Chinese sentences, never the reverse); Latin letters without
    /// Han make it English; text with neither (digits, emoji) has no language.
    pub fn detect(text: &str) -> Option<Language> {
        let mut latin = false;
        for c in text.chars() {
            if is_han(c) {
                return Some(Language::Zh);
            }
            latin |= c.is_ascii_alphabetic() || ('\u{FF21}'..='\u{FF5A}').contains(&c);
        }
        latin.then_some(Language::En)
    }
}

/// True for CJK unified ideographs (the common and extension-A blocks and compatibility forms).
pub fn is_han(c: char) -> bool {
    matches!(c,
        '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}' | '\u{20000}'..='\u{2A6DF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_round_trips() {
        for intent in Intent::ALL {
            assert_eq!(intent.label().parse::<Intent>(), Ok(intent));
        }
        assert!("refund".parse::<Intent>().is_err());
        for sentiment in Sentiment::ALL {
            assert_eq!(sentiment.label().parse::<Sentiment>(), Ok(sentiment));
        }
        assert!("angry".parse::<Sentiment>().is_err());
    }

    #[test]
    fn intents_map_to_the_contract_skills() {
        assert_eq!(Intent::Shipping.skill(), Some("logistics"));
        assert_eq!(Intent::Invoice.skill(), Some("orders"));
        assert_eq!(Intent::ReturnRefund.skill(), Some("aftersales"));
        assert_eq!(Intent::Promotion.skill(), Some("presales"));
        assert_eq!(Intent::Complaint.skill(), Some("complaints"));
        assert_eq!(Intent::Greeting.skill(), None);
    }

    #[test]
    fn language_is_detected_from_script() {
        assert_eq!(Language::detect("我的快递到哪了"), Some(Language::Zh));
        assert_eq!(Language::detect("iPhone 15 有货吗"), Some(Language::Zh));
        assert_eq!(Language::detect("where is my parcel"), Some(Language::En));
        assert_eq!(Language::detect("１２３ 🙂"), None);
        assert_eq!(Language::from_locale("en-US"), Language::En);
        assert_eq!(Language::from_locale("zh-TW"), Language::Zh);
    }
}
