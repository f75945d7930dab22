//! The one error type of the crate.

use std::path::PathBuf;

/// Why a model could not be loaded, trained or fed.
///
/// Prediction itself never fails: [`crate::Nlu::intent`] and [`crate::Nlu::sentiment`] always
/// answer. These errors come from loading files, reading training data and training.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file could not be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `config.json` (or a metrics report) is not the JSON this crate writes.
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// `tokenizer.json` could not be parsed, trained or applied.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A tensor operation failed (shape mismatch, missing tensor in the safetensors file).
    #[error("tensor: {0}")]
    Candle(#[from] candle_core::Error),
    /// The files load but do not fit together (labels, vocabulary size, tensor shapes).
    #[error("inconsistent model: {0}")]
    Invalid(String),
    /// A training-data file is malformed (the message names file and line).
    #[error("training data: {0}")]
    Data(String),
    /// This build was compiled before any weights were trained into `models/weights/`.
    #[error("this build of `models` embeds no weights: run the train example first")]
    NotShipped,
}

impl ModelError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> ModelError {
        ModelError::Io {
            path: path.into(),
            source,
        }
    }

    /// Wraps an error of the `tokenizers` crate.
    pub fn tokenizer(err: impl std::fmt::Display) -> ModelError {
        ModelError::Tokenizer(err.to_string())
    }
}
