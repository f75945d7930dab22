//! Loading one trained classifier directory and running it on text.

use crate::features::has_signal;
use crate::{FastText, Featurizer, ModelConfig, ModelError};
use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use std::path::Path;
use tokenizers::Tokenizer;

/// The three files of a model directory.
pub const CONFIG_FILE: &str = "config.json";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// One trained classifier: config, tokenizer-based featurizer and network.
///
/// `Send + Sync`; prediction takes `&self` and allocates only a few small vectors.
pub struct Classifier {
    config: ModelConfig,
    featurizer: Featurizer,
    model: FastText,
    fallback: usize,
}

impl Classifier {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from a local directory.
    pub fn load(dir: &Path) -> Result<Classifier, ModelError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|e| ModelError::io(path, e))
        };
        Classifier::from_bytes(
            &read(CONFIG_FILE)?,
            &read(TOKENIZER_FILE)?,
            read(WEIGHTS_FILE)?,
        )
    }

    /// Builds a classifier from the contents of the three files.
    pub fn from_bytes(
        config: &[u8],
        tokenizer: &[u8],
        weights: Vec<u8>,
    ) -> Result<Classifier, ModelError> {
        let config = ModelConfig::from_json(config)?;
        let tokenizer = Tokenizer::from_bytes(tokenizer).map_err(ModelError::tokenizer)?;
        Classifier::from_parts(config, tokenizer, weights)
    }

    /// Builds a classifier from a parsed config and tokenizer and a safetensors buffer.
    pub fn from_parts(
        config: ModelConfig,
        tokenizer: Tokenizer,
        weights: Vec<u8>,
    ) -> Result<Classifier, ModelError> {
        config.validate()?;
        let featurizer = Featurizer::new(tokenizer, &config)?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)?;
        let model = FastText::new(vb, &config)?;
        let fallback = config
            .label_id(&config.fallback_label)
            .ok_or_else(|| ModelError::Invalid("fallback label missing".into()))?;
        Ok(Classifier {
            config,
            featurizer,
            model,
            fallback,
        })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn featurizer(&self) -> &Featurizer {
        &self.featurizer
    }

    pub fn model(&self) -> &FastText {
        &self.model
    }

    /// Raw (uncalibrated) logits, or `None` when the text carries no signal (no letter or
    /// digit, or no token the vocabulary knows).
    pub fn logits(&self, normalized: &str) -> Result<Option<Vec<f32>>, ModelError> {
        if !has_signal(normalized) {
            return Ok(None);
        }
        let ids = self.featurizer.encode(normalized)?;
        self.logits_from_ids(normalized, &ids)
    }

    /// [`Classifier::logits`] from token ids computed by a featurizer with the same
    /// tokenizer (see [`Featurizer::same_tokenizer`]).
    pub fn logits_from_ids(
        &self,
        normalized: &str,
        ids: &[u32],
    ) -> Result<Option<Vec<f32>>, ModelError> {
        if !has_signal(normalized) {
            return Ok(None);
        }
        let mut rows = Vec::with_capacity(4 * ids.len() + 16);
        if self.featurizer.rows_from_ids(normalized, ids, &mut rows) == 0 {
            return Ok(None);
        }
        self.model.forward_one(&rows)
    }

    /// Calibrated class probabilities (temperature-scaled softmax), in class-index order.
    ///
    /// Never fails: text without signal, and any internal error, gets the defined answer —
    /// probability 1 for the config's fallback label (`other` / `neutral`).
    pub fn probabilities(&self, normalized: &str) -> Vec<f32> {
        self.calibrate(self.logits(normalized))
    }

    /// [`Classifier::probabilities`] from shared token ids.
    pub fn probabilities_from_ids(&self, normalized: &str, ids: &[u32]) -> Vec<f32> {
        self.calibrate(self.logits_from_ids(normalized, ids))
    }

    fn calibrate(&self, logits: Result<Option<Vec<f32>>, ModelError>) -> Vec<f32> {
        match logits {
            Ok(Some(logits)) => softmax(&logits, self.config.temperature),
            Ok(None) | Err(_) => self.fallback_probabilities(),
        }
    }

    /// The answer for text without signal: all mass on the fallback label.
    pub fn fallback_probabilities(&self) -> Vec<f32> {
        let mut p = vec![0.0; self.config.num_labels()];
        p[self.fallback] = 1.0;
        p
    }
}

/// `softmax(logits / temperature)`, numerically stable.
pub fn softmax(logits: &[f32], temperature: f32) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut p: Vec<f32> = logits
        .iter()
        .map(|&l| ((l - max) / temperature).exp())
        .collect();
    let sum: f32 = p.iter().sum();
    p.iter_mut().for_each(|x| *x /= sum);
    p
}

/// Index of the largest value (the first on ties; 0 for an empty slice).
pub fn argmax(values: &[f32]) -> usize {
    values
        .iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| {
            if v > bv {
                (i, v)
            } else {
                (bi, bv)
            }
        })
        .0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_is_a_distribution_and_temperature_flattens_it() {
        let sharp = softmax(&[2.0, 1.0, 0.0], 1.0);
        let flat = softmax(&[2.0, 1.0, 0.0], 4.0);
        assert!((sharp.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(flat[0] < sharp[0] && flat[0] > flat[1]);
        assert_eq!(argmax(&sharp), 0);
        assert_eq!(argmax(&[0.1, 0.5, 0.5]), 1);
    }
}
