//! `config.json`: everything besides the tensors that a trained classifier needs to run.

use crate::ModelError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The architecture name written into every config; a loader refuses anything else, so a
/// future model cannot be silently run through this forward pass.
pub const ARCHITECTURE: &str = "fasttext-mlp-v1";

/// Which of the two tasks a model directory holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    Intent,
    Sentiment,
}

impl Task {
    /// The directory name of this task under a weights directory (`intent`, `sentiment`).
    pub fn name(self) -> &'static str {
        match self {
            Task::Intent => "intent",
            Task::Sentiment => "sentiment",
        }
    }
}

/// The hyper-parameters and labels of one trained classifier, as stored in `config.json`.
///
/// The feature fields (`vocab_size`, `hash_buckets`, `max_ngram`, `max_input_chars`,
/// `max_tokens`) must be identical at training and serving time, which is why they live here
/// and not in code: the features a model was trained on are part of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Always [`ARCHITECTURE`].
    pub architecture: String,
    pub task: Task,
    /// Class index → label (`greeting`, … or `negative`, …), Hugging Face style.
    pub id2label: BTreeMap<u32, String>,
    /// The label answered, with probability 1, for text that carries no usable token (empty,
    /// emoji-only, control characters): `other` for intents, `neutral` for sentiment.
    pub fallback_label: String,
    /// Tokens in `tokenizer.json`; rows `0..vocab_size` of the embedding are tokens.
    pub vocab_size: usize,
    /// Hashed token n-gram rows after the vocabulary rows (`vocab_size..vocab_size+buckets`).
    pub hash_buckets: usize,
    /// Longest token n-gram hashed into the buckets (1 = tokens only).
    pub max_ngram: usize,
    /// Character n-grams of Latin words (`<word>` padded, lengths `char_ngram_min..=max`, plus
    /// the whole word) are hashed into the same buckets: fastText's subword features, which
    /// make English typos (`recieve`, `adress`) land near the right word. 0 = off.
    #[serde(default)]
    pub char_ngram_min: usize,
    #[serde(default)]
    pub char_ngram_max: usize,
    /// Input is cut to this many characters before tokenization (bounds time and memory).
    pub max_input_chars: usize,
    /// At most this many tokens of one text are used.
    pub max_tokens: usize,
    pub embedding_dim: usize,
    pub hidden_dim: usize,
    /// Independently trained networks (different seeds) whose logits are averaged: an
    /// ensemble of identical architectures. Member 0's tensors carry the plain names
    /// (`embedding.weight`, …), member `i > 0` the prefix `m{i}.`. Older configs without the
    /// field hold one network.
    #[serde(default = "one")]
    pub members: usize,
    /// Temperature dividing the logits before the softmax, fitted on the validation split so
    /// that the probabilities are calibrated (1.0 = uncalibrated).
    pub temperature: f32,
    /// Intent only: below this calibrated confidence a message counts as out of scope. The
    /// serving constant [`crate::INTENT_CONFIDENCE_THRESHOLD`] must equal it (a test checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence_threshold: Option<f32>,
    /// Sentiment only: a message is `negative` when P(negative) reaches this value, even if
    /// another class is more probable (favours recall of unhappy customers); `None` = argmax.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative_threshold: Option<f32>,
    /// How the tensors are stored in `model.safetensors` (`f16` or `f32`); computation is f32.
    pub weights_dtype: String,
}

fn one() -> usize {
    1
}

impl ModelConfig {
    /// The tensor-name prefix of ensemble member `i` (`""` for the first, `"m{i}."` after).
    pub fn member_prefix(i: usize) -> String {
        if i == 0 {
            String::new()
        } else {
            format!("m{i}.")
        }
    }

    /// Number of classes.
    pub fn num_labels(&self) -> usize {
        self.id2label.len()
    }

    /// Rows of the embedding table: vocabulary plus hash buckets.
    pub fn embedding_rows(&self) -> usize {
        self.vocab_size + self.hash_buckets
    }

    /// Labels in class-index order.
    pub fn labels(&self) -> Vec<String> {
        self.id2label.values().cloned().collect()
    }

    /// Class index of a label.
    pub fn label_id(&self, label: &str) -> Option<usize> {
        self.id2label.values().position(|l| l == label)
    }

    /// Parses and checks a `config.json`.
    pub fn from_json(bytes: &[u8]) -> Result<ModelConfig, ModelError> {
        let config: ModelConfig = serde_json::from_slice(bytes)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the invariants the forward pass relies on.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.architecture != ARCHITECTURE {
            return Err(ModelError::Invalid(format!(
                "architecture {:?}, expected {ARCHITECTURE:?}",
                self.architecture
            )));
        }
        let contiguous = self
            .id2label
            .keys()
            .enumerate()
            .all(|(i, &k)| i == k as usize);
        if self.id2label.len() < 2 || !contiguous {
            return Err(ModelError::Invalid(
                "id2label must number at least two labels 0, 1, 2, … without gaps".into(),
            ));
        }
        if self.label_id(&self.fallback_label).is_none() {
            return Err(ModelError::Invalid(format!(
                "fallback label {:?} is not in id2label",
                self.fallback_label
            )));
        }
        let positive = [
            self.vocab_size,
            self.max_ngram,
            self.max_input_chars,
            self.max_tokens,
            self.embedding_dim,
            self.hidden_dim,
            self.members,
        ];
        let hashed = self.max_ngram > 1 || self.char_ngram_max > 0;
        if positive.contains(&0) || (hashed && self.hash_buckets == 0) {
            return Err(ModelError::Invalid("a size in config.json is zero".into()));
        }
        if self.char_ngram_min > self.char_ngram_max
            || (self.char_ngram_max > 0 && self.char_ngram_min == 0)
        {
            return Err(ModelError::Invalid("char n-gram range is empty".into()));
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(ModelError::Invalid("temperature must be positive".into()));
        }
        Ok(())
    }
}
