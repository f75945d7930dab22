//! From normalised text to the row indices of the embedding table.
//!
//! The project's own `tokenizer.json` (WordPiece, trained on the training split: every CJK
//! character is a token of its own, Latin words become subwords) gives token ids; each token is
//! a row, and each token n-gram (2 ≤ n ≤ `max_ngram`) is hashed into one of `hash_buckets`
//! extra rows, as fastText does. CJK n-grams of characters stand in for words (`退款`,
//! `不满意`) without a word segmenter; Latin n-grams carry phrases (`where is`, `not happy`).

use crate::{ModelConfig, ModelError};
use tokenizers::Tokenizer;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a (64 bit) over the UTF-8 bytes: a hash that is the same on every machine, compiler
/// and run, used for the deterministic train/validation/test split.
pub fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(FNV_OFFSET, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
    })
}

/// The bucket of one token n-gram: FNV-1a over the ids' little-endian bytes, seeded with n.
fn ngram_hash(ids: &[u32]) -> u64 {
    let mut h = FNV_OFFSET ^ ids.len() as u64;
    for id in ids {
        for b in id.to_le_bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(FNV_PRIME);
        }
    }
    h
}

/// Seed of the character n-gram hashes, so that they do not collide systematically with
/// token n-grams.
const CHAR_SEED: u64 = 0x9e37_79b9_7f4a_7c15;

/// FNV-1a over bytes from a seed.
fn bytes_hash(seed: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET ^ seed, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
    })
}

/// Longest Latin word whose character n-grams are taken (longer runs are usually codes or
/// URLs: only their whole-word feature is kept).
const MAX_WORD_BYTES: usize = 30;

/// The longest prefix of `text` with at most `max_chars` characters.
pub fn truncate_chars(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((byte, _)) => &text[..byte],
        None => text,
    }
}

/// True when `text` contains something a classifier can read: a letter (Han included) or a
/// digit. Empty, whitespace-only, emoji-only and control-character text has none.
pub fn has_signal(text: &str) -> bool {
    text.chars().any(char::is_alphanumeric)
}

/// Turns text into embedding rows, exactly as at training time.
pub struct Featurizer {
    tokenizer: Tokenizer,
    vocab_size: u32,
    hash_buckets: u64,
    max_ngram: usize,
    char_ngrams: (usize, usize),
    max_input_chars: usize,
    max_tokens: usize,
    unk_id: Option<u32>,
}

impl Featurizer {
    /// Pairs a tokenizer with the feature settings of a config, checking the vocabulary size.
    pub fn new(tokenizer: Tokenizer, config: &ModelConfig) -> Result<Featurizer, ModelError> {
        let vocab_size = tokenizer.get_vocab_size(true);
        if vocab_size != config.vocab_size {
            return Err(ModelError::Invalid(format!(
                "tokenizer.json has {vocab_size} tokens, config.json says {}",
                config.vocab_size
            )));
        }
        let vocab_size = u32::try_from(vocab_size)
            .map_err(|_| ModelError::Invalid("vocabulary too large".into()))?;
        let unk_id = tokenizer.token_to_id("[UNK]");
        Ok(Featurizer {
            tokenizer,
            vocab_size,
            hash_buckets: config.hash_buckets as u64,
            max_ngram: config.max_ngram,
            char_ngrams: (config.char_ngram_min, config.char_ngram_max),
            max_input_chars: config.max_input_chars,
            max_tokens: config.max_tokens,
            unk_id,
        })
    }

    /// The tokenizer, e.g. to save it beside a trained model.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Token ids of `text` (cut to `max_input_chars` characters, at most `max_tokens` ids).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, ModelError> {
        let text = truncate_chars(text, self.max_input_chars);
        let encoding = self
            .tokenizer
            .encode_fast(text, false)
            .map_err(ModelError::tokenizer)?;
        let mut ids = encoding.get_ids().to_vec();
        ids.truncate(self.max_tokens);
        Ok(ids)
    }

    /// Writes the embedding rows of `text` into `rows` (cleared first) and returns how many
    /// tokens the vocabulary knows (not `[UNK]`). Zero known tokens means "no signal".
    pub fn rows_into(&self, text: &str, rows: &mut Vec<u32>) -> Result<usize, ModelError> {
        let ids = self.encode(text)?;
        Ok(self.rows_from_ids(text, &ids, rows))
    }

    /// Like [`Featurizer::rows_into`], from ids already computed by [`Featurizer::encode`]
    /// (of this featurizer, or of one with the same tokenizer and at least as many tokens for a
    /// text both read whole, see [`Featurizer::same_tokenizer`]).
    pub fn rows_from_ids(&self, text: &str, ids: &[u32], rows: &mut Vec<u32>) -> usize {
        rows.clear();
        let text = truncate_chars(text, self.max_input_chars);
        let ids = &ids[..ids.len().min(self.max_tokens)];
        let mut known = 0;
        for (i, &id) in ids.iter().enumerate() {
            if Some(id) != self.unk_id {
                known += 1;
            }
            rows.push(id);
            for n in 2..=self.max_ngram.min(i + 1) {
                let bucket = ngram_hash(&ids[i + 1 - n..=i]) % self.hash_buckets;
                // bucket < hash_buckets, which came from a usize row count: fits in u32 after
                // the vocabulary check above for any table we can allocate.
                rows.push(self.vocab_size + bucket as u32);
            }
        }
        if self.char_ngrams.1 > 0 {
            self.char_ngram_rows(text, rows);
        }
        known
    }

    /// True when `other` has the same tokenizer: for a text that both read whole
    /// ([`Featurizer::reads_whole`]), the ids encoded by the one with more tokens
    /// ([`Featurizer::max_tokens`]) feed both classifiers exactly as their own would.
    pub fn same_tokenizer(&self, other: &Featurizer) -> bool {
        self.vocab_size == other.vocab_size
            && matches!(
                (self.tokenizer.to_string(false), other.tokenizer.to_string(false)),
                (Ok(a), Ok(b)) if a == b
            )
    }

    /// True when `text` is within the input cut (`max_input_chars`), so that it is
    /// tokenized whole.
    pub fn reads_whole(&self, text: &str) -> bool {
        truncate_chars(text, self.max_input_chars).len() == text.len()
    }

    /// At most this many token ids of one text are used.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// Appends the hashed character n-grams of every Latin word (a run of ASCII letters and
    /// digits with at least one letter) of `text`, fastText style: the word is padded as
    /// `<word>`, its n-grams of the configured lengths and the whole padded word are hashed.
    fn char_ngram_rows(&self, text: &str, rows: &mut Vec<u32>) {
        let bytes = text.as_bytes();
        let (min, max) = self.char_ngrams;
        let mut padded = [0u8; MAX_WORD_BYTES + 2];
        let mut i = 0;
        while i < bytes.len() {
            if !bytes[i].is_ascii_alphanumeric() {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let word = &bytes[start..i];
            if !word.iter().any(u8::is_ascii_alphabetic) {
                continue;
            }
            let mut push = |h: u64| rows.push(self.vocab_size + (h % self.hash_buckets) as u32);
            if word.len() > MAX_WORD_BYTES {
                push(bytes_hash(CHAR_SEED, word));
                continue;
            }
            let len = word.len() + 2;
            padded[0] = b'<';
            padded[1..=word.len()].copy_from_slice(word);
            padded[len - 1] = b'>';
            let padded = &padded[..len];
            push(bytes_hash(CHAR_SEED, padded));
            for n in min..=max.min(len - 1) {
                for gram in padded.windows(n) {
                    push(bytes_hash(CHAR_SEED ^ n as u64, gram));
                }
            }
        }
    }

    /// Convenience wrapper around [`Featurizer::rows_into`] for training.
    pub fn rows(&self, text: &str) -> Result<(Vec<u32>, usize), ModelError> {
        let mut rows = Vec::new();
        let known = self.rows_into(text, &mut rows)?;
        Ok((rows, known))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate_chars("退款退款", 2), "退款");
        assert_eq!(truncate_chars("ab", 5), "ab");
        assert_eq!(truncate_chars("", 0), "");
    }

    #[test]
    fn signal_needs_a_letter_or_digit() {
        assert!(has_signal("退款"));
        assert!(has_signal("order 123"));
        assert!(!has_signal(""));
        assert!(!has_signal("  \u{0}\u{7}"));
        assert!(!has_signal("😡😡🙂"));
        assert!(!has_signal("!!?"));
    }

    #[test]
    fn hashes_are_stable() {
        // Pinned: the split and the hashed features of the shipped models depend on them.
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(ngram_hash(&[1, 2]), ngram_hash(&[2, 1]));
        assert_ne!(ngram_hash(&[1]), ngram_hash(&[1, 0]));
    }
}
