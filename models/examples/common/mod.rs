//! Shared by the `train` and `eval` examples: paths, loading the corpora with the bot's
//! normaliser, writing the split files and hashing files.

#![allow(dead_code)]

use models::data::{intent_corpus, sentiment_corpus, write_split_file, Corpus, Split};
use models::ModelError;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// `models/` (this crate's directory).
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn default_data_dir() -> PathBuf {
    crate_dir().join("data")
}

pub fn default_weights_dir() -> PathBuf {
    crate_dir().join("weights")
}

/// `target/models-splits/` of the workspace: where both commands write the split files the
/// Python baseline reads.
pub fn default_splits_dir() -> PathBuf {
    crate_dir().join("..").join("target").join("models-splits")
}

/// The bot's normaliser: what the models see in production.
pub fn normalize(text: &str) -> String {
    kb::normalize(text)
}

pub fn load_corpora(data: &Path) -> Result<(Corpus, Corpus), ModelError> {
    Ok((
        intent_corpus(data, &normalize)?,
        sentiment_corpus(data, &normalize)?,
    ))
}

pub fn sha256_file(path: &Path) -> Result<String, ModelError> {
    let bytes = std::fs::read(path).map_err(|e| ModelError::Io {
        path: path.to_owned(),
        source: e,
    })?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// Writes `intent.tsv` and `sentiment.tsv` into `dir` and returns their sha256.
pub fn write_splits(
    dir: &Path,
    intent: &Corpus,
    sentiment: &Corpus,
) -> Result<serde_json::Value, ModelError> {
    let mut hashes = serde_json::Map::new();
    for (name, corpus) in [("intent.tsv", intent), ("sentiment.tsv", sentiment)] {
        let path = dir.join(name);
        write_split_file(corpus, &path)?;
        hashes.insert(name.to_owned(), sha256_file(&path)?.into());
    }
    Ok(hashes.into())
}

/// A one-line summary of a corpus: lines, dedup and examples per source and split.
pub fn describe(corpus: &Corpus) -> serde_json::Value {
    let mut per = serde_json::Map::new();
    for (source, split, n) in corpus.counts() {
        let key = format!("{}/{}", source.name(), split.name());
        per.insert(key, n.into());
    }
    serde_json::json!({
        "lines_read": corpus.lines_read,
        "duplicates_dropped": corpus.duplicates_dropped,
        "conflicting_texts_dropped": corpus.conflicts_dropped,
        "empty_dropped": corpus.empty_dropped,
        "examples": corpus.examples.len(),
        "per_source_and_split": per,
    })
}

/// Counts of one split, for log lines.
pub fn split_len(corpus: &Corpus, split: Split) -> usize {
    corpus.split(split).count()
}

/// A tiny `--flag value` parser: the examples take few options and no dependency is added.
pub struct Args(Vec<String>);

impl Args {
    pub fn from_env() -> Args {
        Args(std::env::args().skip(1).collect())
    }

    pub fn value(&self, flag: &str) -> Option<&str> {
        self.0
            .iter()
            .position(|a| a == flag)
            .and_then(|i| self.0.get(i + 1))
            .map(String::as_str)
    }

    pub fn path(&self, flag: &str, default: PathBuf) -> PathBuf {
        self.value(flag).map_or(default, PathBuf::from)
    }

    pub fn parse<T: std::str::FromStr>(&self, flag: &str, default: T) -> Result<T, String> {
        match self.value(flag) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("invalid value {v:?} for {flag}")),
        }
    }

    pub fn has(&self, flag: &str) -> bool {
        self.0.iter().any(|a| a == flag)
    }
}
