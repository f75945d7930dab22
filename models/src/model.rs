//! The network: a fastText-style bag of embeddings followed by a one-hidden-layer MLP.
//!
//! ```text
//! rows (token ids + hashed n-gram ids) ──► embedding [rows × dim] ──► mean ──► dim
//!   ──► Linear(dim → hidden) ──► ReLU ──► Linear(hidden → labels) ──► logits
//! ```
//!
//! The network is defined in candle ([`Head`], [`FastText::forward_tensor`]) and trained with
//! candle's autograd. Serving one short text through a chain of candle ops would cost about
//! 20 µs of per-op allocation for 20 000 multiply-adds, so [`FastText::forward_one`] runs the
//! same arithmetic as one fused loop directly over the candle tensors' storage (no copy of
//! the weights, three small vectors per call); a test checks that both give the same logits.
//! Tensor names in `model.safetensors` are `embedding.weight`, `hidden.weight`,
//! `hidden.bias`, `output.weight`, `output.bias`.

use crate::{ModelConfig, ModelError};
use candle_core::{Device, Storage, Tensor};
use candle_nn::{Linear, Module, VarBuilder};

/// The MLP on top of the pooled embedding: `Linear(dim → hidden) → ReLU → Linear(hidden →
/// labels)`. Separate from the embedding table because training keeps that table outside
/// candle's dense optimiser (see [`crate::train`]).
#[derive(Debug, Clone)]
pub struct Head {
    hidden: Linear,
    output: Linear,
}

impl Head {
    /// Builds the head from `hidden.*` and `output.*` tensors.
    pub fn new(vb: VarBuilder, config: &ModelConfig) -> Result<Head, ModelError> {
        let hidden = candle_nn::linear(config.embedding_dim, config.hidden_dim, vb.pp("hidden"))?;
        let output = candle_nn::linear(config.hidden_dim, config.num_labels(), vb.pp("output"))?;
        Ok(Head { hidden, output })
    }

    /// The four tensors of the head, for the fused serving loop.
    fn parts(&self) -> Result<[&Tensor; 4], ModelError> {
        match (self.hidden.bias(), self.output.bias()) {
            (Some(b1), Some(b2)) => Ok([self.hidden.weight(), b1, self.output.weight(), b2]),
            _ => Err(ModelError::Invalid("linear layers without bias".into())),
        }
    }

    /// Pooled embeddings `[batch × dim]` → logits `[batch × labels]`.
    pub fn forward(&self, pooled: &Tensor) -> candle_core::Result<Tensor> {
        let h = self.hidden.forward(pooled)?.relu()?;
        self.output.forward(&h)
    }
}

/// The weights of one classifier, in f32 on the CPU.
#[derive(Debug, Clone)]
pub struct FastText {
    embedding: Tensor,
    head: Head,
    dim: usize,
    labels: usize,
}

impl FastText {
    /// Builds the network from a var builder (a safetensors buffer).
    pub fn new(vb: VarBuilder, config: &ModelConfig) -> Result<FastText, ModelError> {
        let embedding = vb
            .pp("embedding")
            .get((config.embedding_rows(), config.embedding_dim), "weight")?;
        Ok(FastText {
            embedding,
            head: Head::new(vb, config)?,
            dim: config.embedding_dim,
            labels: config.num_labels(),
        })
    }

    fn head(&self, pooled: &Tensor) -> candle_core::Result<Tensor> {
        self.head.forward(pooled)
    }

    /// Logits of one text from its embedding rows, or `None` for no rows: the serving path.
    ///
    /// Mean of the rows, `ReLU(W1·x + b1)`, `W2·h + b2`, computed in f32 in one pass over the
    /// candle tensors' own (contiguous, CPU) storage.
    pub fn forward_one(&self, rows: &[u32]) -> Result<Option<Vec<f32>>, ModelError> {
        if rows.is_empty() {
            return Ok(None);
        }
        let [w1, b1, w2, b2] = self.head.parts()?;
        let (emb_guard, emb) = storage(&self.embedding)?;
        let (w1_guard, w1) = storage(w1)?;
        let (b1_guard, b1) = storage(b1)?;
        let (w2_guard, w2) = storage(w2)?;
        let (b2_guard, b2) = storage(b2)?;
        let emb = slice(&emb_guard, emb)?;
        let (w1, b1) = (slice(&w1_guard, w1)?, slice(&b1_guard, b1)?);
        let (w2, b2) = (slice(&w2_guard, w2)?, slice(&b2_guard, b2)?);
        let (d, h, c) = (self.dim, b1.len(), b2.len());
        if w1.len() != h * d || w2.len() != c * h || emb.len() % d != 0 {
            return Err(ModelError::Invalid("tensor shapes do not fit".into()));
        }

        let mut pooled = vec![0f32; d];
        for &r in rows {
            let at = r as usize * d;
            let row = emb
                .get(at..at + d)
                .ok_or_else(|| ModelError::Invalid(format!("row {r} out of range")))?;
            pooled.iter_mut().zip(row).for_each(|(p, x)| *p += x);
        }
        let scale = 1.0 / rows.len() as f32;
        pooled.iter_mut().for_each(|p| *p *= scale);
        let hidden: Vec<f32> = w1
            .chunks_exact(d)
            .zip(b1)
            .map(|(w, b)| (b + dot(w, &pooled)).max(0.0))
            .collect();
        let logits: Vec<f32> = w2
            .chunks_exact(h)
            .zip(b2)
            .map(|(w, b)| b + dot(w, &hidden))
            .collect();
        debug_assert_eq!(logits.len(), self.labels);
        Ok(Some(logits))
    }

    /// The same logits as [`FastText::forward_one`], computed with candle tensor operations
    /// (the reference the fused loop is tested against).
    pub fn forward_tensor(&self, rows: &[u32]) -> Result<Option<Vec<f32>>, ModelError> {
        if rows.is_empty() {
            return Ok(None);
        }
        let ids = Tensor::from_slice(rows, rows.len(), &Device::Cpu)?;
        let pooled = self.embedding.index_select(&ids, 0)?.mean_keepdim(0)?;
        let logits = self.head(&pooled)?.flatten_all()?.to_vec1::<f32>()?;
        Ok(Some(logits))
    }

    /// Logits of a batch of bags: `ids` holds the rows of all bags concatenated (`[n]`),
    /// `pool` is `[batch × n]` with `1/len(bag)` where a row belongs to a bag and 0 elsewhere.
    pub fn forward_bags(&self, ids: &Tensor, pool: &Tensor) -> candle_core::Result<Tensor> {
        let embedded = self.embedding.index_select(ids, 0)?;
        let pooled = pool.matmul(&embedded)?;
        self.head(&pooled)
    }

    /// Number of classes.
    pub fn num_labels(&self) -> usize {
        self.labels
    }
}

/// Read access to a contiguous tensor's storage: the guard and the element range.
fn storage(t: &Tensor) -> Result<(candle_core::StorageRef<'_>, (usize, usize)), ModelError> {
    let (guard, layout) = t.storage_and_layout();
    let range = layout
        .contiguous_offsets()
        .ok_or_else(|| ModelError::Invalid("weights are not contiguous".into()))?;
    Ok((guard, range))
}

/// Dot product with eight independent accumulators, so that the compiler vectorises it (a
/// single running sum is one long chain of dependent additions, several times slower).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (xs, ys) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = xs
        .remainder()
        .iter()
        .zip(ys.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in xs.zip(ys) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// The f32 elements `range` of a CPU storage.
fn slice(storage: &Storage, (start, end): (usize, usize)) -> Result<&[f32], ModelError> {
    match storage {
        Storage::Cpu(cpu) => cpu
            .as_slice::<f32>()?
            .get(start..end)
            .ok_or_else(|| ModelError::Invalid("tensor layout out of range".into())),
        _ => Err(ModelError::Invalid("weights are not f32 on the CPU".into())),
    }
}
