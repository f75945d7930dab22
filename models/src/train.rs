//! Training: the project's tokenizer and the fastText-style classifiers.
//!
//! Used by the `train` example; serving never calls it. Everything is seeded and single
//! sourced so that the same data and options give the same `tokenizer.json` and
//! `model.safetensors` (the train command prints their sha256 to check).

use crate::{Head, ModelConfig, ModelError};
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use tokenizers::decoders::wordpiece::WordPiece as WordPieceDecoder;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{
    AddedToken, DecoderWrapper, NormalizedString, Normalizer, NormalizerWrapper, OffsetReferential,
    OffsetType, PreTokenizedString, PreTokenizer, PreTokenizerWrapper, Tokenizer,
};

/// The unknown token of the project's tokenizer.
pub const UNK: &str = "[UNK]";

/// A small, seedable, portable random generator (SplitMix64): the training shuffle and the
/// weight initialisation depend on nothing but the seed.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in `[0, n)` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// The normaliser and pre-tokenizer of the project's tokenizer: BERT cleaning (control
/// characters removed, whitespace folded, lower case, a space around every CJK character so
/// each is a word), BERT punctuation splitting, and digit runs split from
/// letters (`iphone15` → `iphone`, `15`).
fn pipeline() -> (NormalizerWrapper, PreTokenizerWrapper) {
    // Accents are kept: stripping them runs a Unicode decomposition over every text (the
    // slowest step of tokenization), and the shop's text has next to none.
    let normalizer =
        NormalizerWrapper::BertNormalizer(BertNormalizer::new(true, true, Some(false), true));
    let pre = PreTokenizerWrapper::Sequence(Sequence::new(vec![
        PreTokenizerWrapper::BertPreTokenizer(BertPreTokenizer),
        PreTokenizerWrapper::Digits(Digits::new(false)),
    ]));
    (normalizer, pre)
}

/// The words of `text` as the tokenizer's normaliser and pre-tokenizer produce them.
fn words(
    normalizer: &NormalizerWrapper,
    pre: &PreTokenizerWrapper,
    text: &str,
) -> Result<Vec<String>, ModelError> {
    let mut normalized = NormalizedString::from(text);
    normalizer
        .normalize(&mut normalized)
        .map_err(ModelError::tokenizer)?;
    let mut pre_tokenized = PreTokenizedString::from(normalized);
    pre.pre_tokenize(&mut pre_tokenized)
        .map_err(ModelError::tokenizer)?;
    Ok(pre_tokenized
        .get_splits(OffsetReferential::Original, OffsetType::Byte)
        .into_iter()
        .map(|(w, _, _)| w.to_owned())
        .collect())
}

/// Learns the project's WordPiece vocabulary from `texts` and returns it as a `tokenizers`
/// tokenizer (normaliser, pre-tokenizer, WordPiece model, decoder).
///
/// The vocabulary is learnt the way the `tokenizers` WordPiece trainer learns it — BPE merges
/// over the pre-tokenized words, continuation pieces prefixed `##`, every character of the
/// corpus in the alphabet — but with a deterministic tie-break (higher count first, then the
/// lexicographically smaller pair). The crate's own trainer numbers pieces in hash-map order,
/// which changes from process to process and made two training runs differ. Merging stops at
/// `min_frequency` or at `vocab_size` tokens. Tokens are numbered `[UNK]` first, then sorted.
pub fn train_tokenizer(
    texts: &[&str],
    vocab_size: usize,
    min_frequency: u64,
) -> Result<Tokenizer, ModelError> {
    let (normalizer, pre) = pipeline();
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for text in texts {
        for w in words(&normalizer, &pre, text)? {
            *counts.entry(w).or_default() += 1;
        }
    }
    // Each word as symbols: its first character, then `##`-prefixed continuation characters.
    let mut vocab: BTreeSet<String> = BTreeSet::new();
    let mut corpus: Vec<(Vec<String>, u64)> = counts
        .into_iter()
        .map(|(word, count)| {
            let symbols: Vec<String> = word
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if i == 0 {
                        c.to_string()
                    } else {
                        format!("##{c}")
                    }
                })
                .collect();
            vocab.extend(symbols.iter().cloned());
            (symbols, count)
        })
        .collect();
    while vocab.len() + 1 < vocab_size {
        let mut pairs: HashMap<(&str, &str), u64> = HashMap::new();
        for (symbols, count) in &corpus {
            for pair in symbols.windows(2) {
                *pairs.entry((&pair[0], &pair[1])).or_default() += count;
            }
        }
        let best = pairs
            .into_iter()
            .filter(|&(_, c)| c >= min_frequency)
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
            .map(|((a, b), _)| (a.to_owned(), b.to_owned()));
        let Some((a, b)) = best else { break };
        let merged = format!("{a}{}", b.strip_prefix("##").unwrap_or(&b));
        for (symbols, _) in &mut corpus {
            let mut i = 0;
            while i + 1 < symbols.len() {
                if symbols[i] == a && symbols[i + 1] == b {
                    symbols[i] = merged.clone();
                    symbols.remove(i + 1);
                }
                i += 1;
            }
        }
        vocab.insert(merged);
    }

    let ids: serde_json::Map<String, serde_json::Value> = std::iter::once(UNK.to_owned())
        .chain(vocab.into_iter().filter(|t| t != UNK))
        .enumerate()
        .map(|(i, t)| (t, i.into()))
        .collect();
    // Through serde: the model's builder wants the crate's own hash-map type.
    let model: WordPiece = serde_json::from_str(
        &serde_json::json!({
            "type": "WordPiece",
            "unk_token": UNK,
            "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100,
            "vocab": ids,
        })
        .to_string(),
    )?;
    let mut tokenizer = Tokenizer::new(model);
    tokenizer
        .with_normalizer(Some(normalizer))
        .map_err(ModelError::tokenizer)?;
    tokenizer.with_pre_tokenizer(Some(pre));
    tokenizer.with_decoder(Some(DecoderWrapper::WordPiece(WordPieceDecoder::default())));
    tokenizer
        .add_special_tokens(vec![AddedToken::from(UNK, true)])
        .map_err(ModelError::tokenizer)?;
    Ok(tokenizer)
}

/// One training example: its embedding rows, class and loss weight.
#[derive(Debug, Clone)]
pub struct Sample {
    pub rows: Vec<u32>,
    pub label: u32,
    pub weight: f32,
}

/// Optimisation settings (the architecture sizes live in [`ModelConfig`]).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TrainOptions {
    pub epochs: usize,
    pub batch_size: usize,
    /// Peak learning rate of Adam; it decays linearly to 10 % over `epochs`.
    pub learning_rate: f64,
    /// Decoupled weight decay (AdamW), applied to the rows a batch touches and to the head.
    pub weight_decay: f64,
    /// Probability of dropping each embedding row of a training bag (feature dropout: the
    /// model must not hang on one n-gram; at least one row always stays).
    pub row_dropout: f32,
    /// Embedding rows start uniform in ±this. Small: a hash bucket no training n-gram falls
    /// into keeps (nearly) its initial value, and at serving time it only dilutes the mean.
    pub init_scale: f32,
    /// Decay of the exponential moving average of the weights that is validated and kept
    /// (Polyak averaging: the average of the last few hundred steps generalises better and
    /// varies less from seed to seed than the last step); 0 keeps the raw weights.
    pub ema_decay: f32,
    /// Stop when the validation score has not improved for this many epochs.
    pub patience: usize,
    pub seed: u64,
    /// Refit mode: train exactly this many epochs (the learning-rate schedule still spans
    /// `epochs`) and keep the last one, without early stopping or choosing an epoch on the
    /// validation samples (which are then part of the training data). `None`: the normal mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_after: Option<usize>,
}

/// Training curve of one epoch.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct EpochLog {
    pub epoch: usize,
    pub learning_rate: f64,
    pub train_loss: f64,
    pub validation_loss: f64,
    /// Weighted validation accuracy: the early-stopping score.
    pub validation_accuracy: f64,
}

/// What [`train_classifier`] returns: the weights of the best epoch and the curve.
pub struct Trained {
    /// f32 tensors by name, from the epoch with the best validation accuracy.
    pub tensors: HashMap<String, Tensor>,
    pub best_epoch: usize,
    pub history: Vec<EpochLog>,
}

/// Adam for the embedding table, applied only to the rows a batch uses ("lazy" Adam).
///
/// candle's optimisers update every element of a `Var`; for a table of tens of thousands of
/// rows of which a batch touches a few hundred, that dense update (and the dense gradient)
/// would cost almost all of the training time. The table therefore lives in a plain vector;
/// each batch gathers its rows into a small candle `Var`, candle's autograd computes their
/// gradient, and this struct applies the Adam step to those rows only.
struct SparseAdam {
    dim: usize,
    table: Vec<f32>,
    m: Vec<f32>,
    v: Vec<f32>,
    step: i32,
    beta1: f32,
    beta2: f32,
    eps: f32,
}

impl SparseAdam {
    fn new(table: Vec<f32>, dim: usize) -> SparseAdam {
        let n = table.len();
        SparseAdam {
            dim,
            table,
            m: vec![0.0; n],
            v: vec![0.0; n],
            step: 0,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }

    /// Copies `rows` of the table into a `[rows × dim]` tensor.
    fn gather(&self, rows: &[u32]) -> Result<Tensor, ModelError> {
        gather(&self.table, self.dim, rows)
    }

    /// One AdamW step on `rows` with their gradient `[rows × dim]`.
    fn update(&mut self, rows: &[u32], grad: &[f32], lr: f32, weight_decay: f32) {
        self.step += 1;
        let c1 = 1.0 - self.beta1.powi(self.step);
        let c2 = 1.0 - self.beta2.powi(self.step);
        for (k, &r) in rows.iter().enumerate() {
            let at = r as usize * self.dim;
            for j in 0..self.dim {
                let g = grad[k * self.dim + j];
                let i = at + j;
                self.m[i] = self.beta1 * self.m[i] + (1.0 - self.beta1) * g;
                self.v[i] = self.beta2 * self.v[i] + (1.0 - self.beta2) * g * g;
                let m_hat = self.m[i] / c1;
                let v_hat = self.v[i] / c2;
                self.table[i] = self.table[i] * (1.0 - lr * weight_decay)
                    - lr * m_hat / (v_hat.sqrt() + self.eps);
            }
        }
    }
}

/// Copies `rows` of a `[_ × dim]` table into a `[rows × dim]` tensor.
fn gather(table: &[f32], dim: usize, rows: &[u32]) -> Result<Tensor, ModelError> {
    let mut out = Vec::with_capacity(rows.len() * dim);
    for &r in rows {
        let at = r as usize * dim;
        out.extend_from_slice(&table[at..at + dim]);
    }
    Ok(Tensor::from_vec(out, (rows.len(), dim), &Device::Cpu)?)
}

/// The exponential moving average of all weights (see [`TrainOptions::ema_decay`]).
struct Ema {
    decay: f32,
    steps: u32,
    table: Vec<f32>,
    head: Vec<(String, Tensor)>,
}

impl Ema {
    fn new(decay: f32, table: &[f32], head: &[(String, Var)]) -> Result<Ema, ModelError> {
        Ok(Ema {
            decay,
            steps: 0,
            table: table.to_vec(),
            head: head
                .iter()
                .map(|(k, v)| Ok((k.clone(), v.as_tensor().copy()?)))
                .collect::<Result<_, ModelError>>()?,
        })
    }

    /// Folds the current weights in; the decay ramps up over the first steps so that the
    /// random initialisation is forgotten quickly.
    fn update(&mut self, table: &[f32], head: &[(String, Var)]) -> Result<(), ModelError> {
        self.steps += 1;
        let d = self
            .decay
            .min((1.0 + self.steps as f32) / (10.0 + self.steps as f32));
        for (e, &x) in self.table.iter_mut().zip(table) {
            *e = d * *e + (1.0 - d) * x;
        }
        for ((_, e), (_, v)) in self.head.iter_mut().zip(head) {
            *e = ((&*e * f64::from(d))? + (v.as_tensor() * f64::from(1.0 - d))?)?;
        }
        Ok(())
    }
}

/// A batch in the form [`Head::forward`] needs: the distinct rows it uses, each bag's rows as
/// indices into them, and the pooling matrix.
struct Batch {
    rows: Vec<u32>,
    local: Tensor,
    pool: Tensor,
    labels: Tensor,
    weights: Tensor,
    total_weight: f64,
}

fn batch(
    samples: &[&Sample],
    dropout: Option<(&mut SplitMix64, f32)>,
) -> Result<Batch, ModelError> {
    // Bags after feature dropout.
    let bags: Vec<Vec<u32>> = match dropout {
        Some((rng, p)) if p > 0.0 => samples
            .iter()
            .map(|s| {
                let mut kept: Vec<u32> = s
                    .rows
                    .iter()
                    .copied()
                    .filter(|_| rng.next_f32() >= p)
                    .collect();
                if kept.is_empty() {
                    kept.push(s.rows[rng.below(s.rows.len())]);
                }
                kept
            })
            .collect(),
        _ => samples.iter().map(|s| s.rows.clone()).collect(),
    };
    let mut rows: Vec<u32> = bags.iter().flatten().copied().collect();
    rows.sort_unstable();
    rows.dedup();
    let n: usize = bags.iter().map(Vec::len).sum();
    let b = samples.len();
    let mut local = Vec::with_capacity(n);
    let mut pool = vec![0f32; b * n];
    for (i, bag) in bags.iter().enumerate() {
        let w = 1.0 / bag.len() as f32;
        for r in bag {
            pool[i * n + local.len()] = w;
            local.push(rows.binary_search(r).unwrap_or_default() as u32);
        }
    }
    let dev = &Device::Cpu;
    let labels: Vec<u32> = samples.iter().map(|s| s.label).collect();
    let weights: Vec<f32> = samples.iter().map(|s| s.weight).collect();
    Ok(Batch {
        rows,
        local: Tensor::from_vec(local, n, dev)?,
        pool: Tensor::from_vec(pool, (b, n), dev)?,
        labels: Tensor::from_vec(labels, b, dev)?,
        weights: Tensor::from_vec(weights, b, dev)?,
        total_weight: samples.iter().map(|s| f64::from(s.weight)).sum(),
    })
}

/// Logits `[batch × labels]` of a batch given the gathered rows `sub` (`[rows × dim]`).
fn forward(head: &Head, sub: &Tensor, batch: &Batch) -> Result<Tensor, ModelError> {
    let pooled = batch.pool.matmul(&sub.index_select(&batch.local, 0)?)?;
    Ok(head.forward(&pooled)?)
}

/// Weighted mean cross-entropy of a batch.
fn loss(logits: &Tensor, batch: &Batch) -> Result<Tensor, ModelError> {
    let log_p = candle_nn::ops::log_softmax(logits, 1)?;
    let picked = log_p.gather(&batch.labels.unsqueeze(1)?, 1)?.squeeze(1)?;
    Ok(((picked * &batch.weights)?.sum_all()? / -batch.total_weight)?)
}

/// The best epoch so far: (validation accuracy, −validation loss), epoch, weights.
type Best = ((f64, f64), usize, HashMap<String, Tensor>);

/// Trains a classifier on `fit`, choosing the epoch by the weighted accuracy (then the loss)
/// on `validation`. `log` receives one line per epoch.
pub fn train_classifier(
    config: &ModelConfig,
    fit: &[Sample],
    validation: &[Sample],
    options: &TrainOptions,
    log: &mut dyn FnMut(&str),
) -> Result<Trained, ModelError> {
    if fit.is_empty() || validation.is_empty() {
        return Err(ModelError::Data("empty fit or validation split".into()));
    }
    let mut rng = SplitMix64::new(options.seed);
    let dim = config.embedding_dim;
    // Initialisation, all from the seeded generator: embeddings U(±init_scale), then the
    // head's tensors in name order, U(±1/√fan_in) as PyTorch does by default.
    let table: Vec<f32> = (0..config.embedding_rows() * dim)
        .map(|_| (rng.next_f32() * 2.0 - 1.0) * options.init_scale)
        .collect();
    let mut embedding = SparseAdam::new(table, dim);
    let validation: Vec<&Sample> = validation.iter().collect();
    let varmap = VarMap::new();
    let head = Head::new(
        VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
        config,
    )?;
    let head_vars: Vec<(String, Var)> = {
        let data = varmap
            .data()
            .lock()
            .map_err(|_| ModelError::Invalid("poisoned var map".into()))?;
        let mut named: Vec<(String, Var)> =
            data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        named
    };
    for (name, var) in &head_vars {
        let fan_in = if name.starts_with("hidden") {
            config.embedding_dim
        } else {
            config.hidden_dim
        };
        let bound = 1.0 / (fan_in as f32).sqrt();
        let values: Vec<f32> = (0..var.elem_count())
            .map(|_| (rng.next_f32() * 2.0 - 1.0) * bound)
            .collect();
        var.set(&Tensor::from_vec(values, var.shape(), &Device::Cpu)?)?;
    }
    let mut optimizer = AdamW::new(
        head_vars.iter().map(|(_, v)| v.clone()).collect(),
        ParamsAdamW {
            lr: options.learning_rate,
            weight_decay: options.weight_decay,
            ..ParamsAdamW::default()
        },
    )?;

    let mut ema = if options.ema_decay > 0.0 {
        Some(Ema::new(options.ema_decay, &embedding.table, &head_vars)?)
    } else {
        None
    };
    let val_weight: f64 = validation.iter().map(|s| f64::from(s.weight)).sum();
    let mut order: Vec<usize> = (0..fit.len()).collect();
    // (score, epoch, weights) of the best epoch so far.
    let mut best: Option<Best> = None;
    let mut history = Vec::new();
    let last_epoch = options
        .stop_after
        .map_or(options.epochs, |n| n.min(options.epochs));
    for epoch in 1..=last_epoch {
        let progress = (epoch - 1) as f64 / options.epochs.max(1) as f64;
        let lr = options.learning_rate * (1.0 - 0.9 * progress);
        optimizer.set_learning_rate(lr);
        rng.shuffle(&mut order);
        let (mut train_loss, mut seen) = (0.0, 0.0);
        for chunk in order.chunks(options.batch_size) {
            let samples: Vec<&Sample> = chunk.iter().map(|&i| &fit[i]).collect();
            let batch = batch(&samples, Some((&mut rng, options.row_dropout)))?;
            let sub = Var::from_tensor(&embedding.gather(&batch.rows)?)?;
            let l = loss(&forward(&head, sub.as_tensor(), &batch)?, &batch)?;
            let grads = l.backward()?;
            optimizer.step(&grads)?;
            if let Some(g) = grads.get(sub.as_tensor()) {
                let g = g.flatten_all()?.to_vec1::<f32>()?;
                embedding.update(&batch.rows, &g, lr as f32, options.weight_decay as f32);
            }
            if let Some(ema) = &mut ema {
                ema.update(&embedding.table, &head_vars)?;
            }
            train_loss += f64::from(l.to_scalar::<f32>()?) * batch.total_weight;
            seen += batch.total_weight;
        }
        // The weights to validate (and keep): the moving average, or the raw weights.
        let (table, head_tensors): (&[f32], Vec<(String, Tensor)>) = match &ema {
            Some(ema) => (&ema.table, ema.head.clone()),
            None => (
                &embedding.table,
                head_vars
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
                    .collect(),
            ),
        };
        let eval_head = Head::new(
            VarBuilder::from_tensors(
                head_tensors.iter().cloned().collect(),
                DType::F32,
                &Device::Cpu,
            ),
            config,
        )?;
        let (mut validation_loss, mut correct) = (0.0, 0.0);
        for chunk in validation.chunks(256) {
            let batch = batch(chunk, None)?;
            let logits = forward(&eval_head, &gather(table, dim, &batch.rows)?, &batch)?;
            validation_loss +=
                f64::from(loss(&logits, &batch)?.to_scalar::<f32>()?) * batch.total_weight;
            let pred = logits.argmax(1)?.to_vec1::<u32>()?;
            correct += pred
                .iter()
                .zip(chunk)
                .filter(|(p, s)| **p == s.label)
                .map(|(_, s)| f64::from(s.weight))
                .sum::<f64>();
        }
        validation_loss /= val_weight;
        let validation_accuracy = correct / val_weight;
        log(&format!(
            "epoch {epoch:>2}: lr {lr:.5}  train loss {:.4}  validation loss {validation_loss:.4}  accuracy {validation_accuracy:.4}",
            train_loss / seen
        ));
        history.push(EpochLog {
            epoch,
            learning_rate: lr,
            train_loss: train_loss / seen,
            validation_loss,
            validation_accuracy,
        });
        let score = (validation_accuracy, -validation_loss);
        let keep_last = options.stop_after.is_some();
        if keep_last || best.as_ref().is_none_or(|(s, _, _)| score > *s) {
            let mut tensors = HashMap::new();
            tensors.insert(
                "embedding.weight".to_owned(),
                Tensor::from_slice(table, (config.embedding_rows(), dim), &Device::Cpu)?,
            );
            for (name, t) in head_tensors {
                tensors.insert(name, t.copy()?);
            }
            best = Some((score, epoch, tensors));
        } else if best
            .as_ref()
            .is_some_and(|(_, e, _)| epoch - e >= options.patience)
        {
            break;
        }
    }
    let (_, best_epoch, tensors) =
        best.ok_or_else(|| ModelError::Invalid("no epoch was trained".into()))?;
    Ok(Trained {
        tensors,
        best_epoch,
        history,
    })
}

/// Writes tensors to `model.safetensors` in f16 (half the bytes; predictions are computed in
/// f32 after loading, and the evaluation is run on the file as stored).
pub fn save_f16(tensors: &HashMap<String, Tensor>, path: &Path) -> Result<(), ModelError> {
    let half: HashMap<String, Tensor> = tensors
        .iter()
        .map(|(k, v)| Ok((k.clone(), v.to_dtype(DType::F16)?)))
        .collect::<Result<_, ModelError>>()?;
    candle_core::safetensors::save(&half, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_is_deterministic() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        let xs: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        let f = a.next_f32();
        assert!((0.0..1.0).contains(&f));
        let mut v: Vec<u32> = (0..10).collect();
        a.shuffle(&mut v);
        v.sort_unstable();
        assert_eq!(v, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn tokenizer_splits_han_characters_and_latin_subwords() -> Result<(), ModelError> {
        let texts = [
            "我要退款 where is my order",
            "退款什么时候到账 refund my order please",
            "order order order refund refund",
        ];
        let a = train_tokenizer(&texts, 1000, 1)?;
        let b = train_tokenizer(&texts, 1000, 1)?;
        let json = |t: &Tokenizer| t.to_string(false).map_err(ModelError::tokenizer);
        assert_eq!(
            json(&a)?,
            json(&b)?,
            "renumbering makes training reproducible"
        );
        let enc = a
            .encode("退款 order", false)
            .map_err(ModelError::tokenizer)?;
        assert_eq!(enc.get_tokens(), ["退", "款", "order"]);
        assert_eq!(a.token_to_id(UNK), Some(0));
        Ok(())
    }
}
