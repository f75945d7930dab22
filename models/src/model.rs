//! The network: a fastText-style bag of embeddings followed by a one-hidden-layer MLP.
//!
//! ```text
//! rows (token ids + hashed n-gram ids) ──► embedding [rows × dim] ──► mean ──► dim
//!   ──► Linear(dim → hidden) ──► ReLU ──► Linear(hidden → labels) ──► logits
//! ```
//!
//! A model may hold several such networks trained from different seeds (an ensemble,
//! [`crate::ModelConfig::members`]); its logits are then the mean of theirs.
//!
//! The network is defined in candle ([`Head`], [`FastText::forward_tensor`]) and trained with
//! candle's autograd. Serving one short text through a chain of candle ops would cost about
//! 20 µs of per-op allocation for 20 000 multiply-adds, so [`FastText::forward_one`] runs the
//! same arithmetic as one fused loop directly over the candle tensors' storage (no copy of
//! the weights, three small vectors per call); a test checks that both give the same logits.
//! Tensor names in `model.safetensors` are `embedding.weight`, `hidden.weight`,
//! `hidden.bias`, `output.weight`, `output.bias` (for ensemble member `i > 0` the same
//! names prefixed `m{i}.`).

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

/// One network of the ensemble: its embedding table and its head.
#[derive(Debug, Clone)]
struct Member {
    embedding: Tensor,
    head: Head,
}

/// The weights of one classifier, in f32 on the CPU: one network, or an ensemble of
/// identically shaped networks whose logits are averaged ([`ModelConfig::members`]).
#[derive(Debug, Clone)]
pub struct FastText {
    members: Vec<Member>,
    dim: usize,
    labels: usize,
}

impl FastText {
    /// Builds the network(s) from a var builder (a safetensors buffer).
    pub fn new(vb: VarBuilder, config: &ModelConfig) -> Result<FastText, ModelError> {
        let mut members = Vec::with_capacity(config.members);
        for i in 0..config.members {
            let vb = match ModelConfig::member_prefix(i).strip_suffix('.') {
                Some(prefix) => vb.pp(prefix),
                None => vb.clone(),
            };
            let embedding = vb
                .pp("embedding")
                .get((config.embedding_rows(), config.embedding_dim), "weight")?;
            members.push(Member {
                embedding,
                head: Head::new(vb, config)?,
            });
        }
        Ok(FastText {
            members,
            dim: config.embedding_dim,
            labels: config.num_labels(),
        })
    }

    /// Logits of one text from its embedding rows, or `None` for no rows: the serving path.
    ///
    /// Per member: mean of the rows, `ReLU(W1·x + b1)`, `W2·h + b2`, computed in f32 in one
    /// pass over the candle tensors' own (contiguous, CPU) storage; then the mean over members.
    pub fn forward_one(&self, rows: &[u32]) -> Result<Option<Vec<f32>>, ModelError> {
        if rows.is_empty() {
            return Ok(None);
        }
        let mut logits = vec![0f32; self.labels];
        for member in &self.members {
            let l = self.member_one(member, rows)?;
            logits.iter_mut().zip(&l).for_each(|(a, x)| *a += x);
        }
        let scale = 1.0 / self.members.len() as f32;
        logits.iter_mut().for_each(|a| *a *= scale);
        Ok(Some(logits))
    }

    fn member_one(&self, member: &Member, rows: &[u32]) -> Result<Vec<f32>, ModelError> {
        let [w1, b1, w2, b2] = member.head.parts()?;
        let (emb_guard, emb) = storage(&member.embedding)?;
        let (w1_guard, w1) = storage(w1)?;
        let (b1_guard, b1) = storage(b1)?;
        let (w2_guard, w2) = storage(w2)?;
        let (b2_guard, b2) = storage(b2)?;
        let emb = slice(&emb_guard, emb)?;
        let (w1, b1) = (slice(&w1_guard, w1)?, slice(&b1_guard, b1)?);
        let (w2, b2) = (slice(&w2_guard, w2)?, slice(&b2_guard, b2)?);
        let (d, h, c) = (self.dim, b1.len(), b2.len());
        if w1.len() != h * d || w2.len() != c * h || emb.len() % d != 0 || c != self.labels {
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
        Ok(w2
            .chunks_exact(h)
            .zip(b2)
            .map(|(w, b)| b + dot(w, &hidden))
            .collect())
    }

    /// The same logits as [`FastText::forward_one`], computed with candle tensor operations
    /// (the reference the fused loop is tested against).
    pub fn forward_tensor(&self, rows: &[u32]) -> Result<Option<Vec<f32>>, ModelError> {
        if rows.is_empty() {
            return Ok(None);
        }
        let ids = Tensor::from_slice(rows, rows.len(), &Device::Cpu)?;
        let mut sum: Option<Tensor> = None;
        for m in &self.members {
            let pooled = m.embedding.index_select(&ids, 0)?.mean_keepdim(0)?;
            let logits = m.head.forward(&pooled)?;
            sum = Some(match sum {
                Some(s) => (s + logits)?,
                None => logits,
            });
        }
        let Some(sum) = sum else { return Ok(None) };
        let mean = (sum / self.members.len() as f64)?;
        Ok(Some(mean.flatten_all()?.to_vec1::<f32>()?))
    }

    /// Logits of a batch of bags: `ids` holds the rows of all bags concatenated (`[n]`),
    /// `pool` is `[batch × n]` with `1/len(bag)` where a row belongs to a bag and 0 elsewhere.
    pub fn forward_bags(&self, ids: &Tensor, pool: &Tensor) -> candle_core::Result<Tensor> {
        let mut sum: Option<Tensor> = None;
        for m in &self.members {
            let pooled = pool.matmul(&m.embedding.index_select(ids, 0)?)?;
            let logits = m.head.forward(&pooled)?;
            sum = Some(match sum {
                Some(s) => (s + logits)?,
                None => logits,
            });
        }
        match sum {
            Some(sum) => sum / self.members.len() as f64,
            None => candle_core::bail!("a model without members"),
        }
    }

    /// Number of classes.
    pub fn num_labels(&self) -> usize {
        self.labels
    }

    /// Number of averaged networks.
    pub fn num_members(&self) -> usize {
        self.members.len()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Task;
    use candle_core::DType;
    use std::collections::{BTreeMap, HashMap};

    fn config(members: usize) -> ModelConfig {
        ModelConfig {
            architecture: crate::ARCHITECTURE.to_owned(),
            task: Task::Sentiment,
            id2label: BTreeMap::from([(0, "a".into()), (1, "b".into()), (2, "c".into())]),
            fallback_label: "b".into(),
            vocab_size: 5,
            hash_buckets: 3,
            max_ngram: 2,
            char_ngram_min: 0,
            char_ngram_max: 0,
            max_input_chars: 10,
            max_tokens: 10,
            embedding_dim: 4,
            hidden_dim: 6,
            members,
            temperature: 1.0,
            confidence_threshold: None,
            negative_threshold: None,
            weights_dtype: "f32".into(),
        }
    }

    /// The five tensors of one network, filled from `seed`, under `prefix`.
    fn network(prefix: &str, seed: u64) -> Result<HashMap<String, Tensor>, ModelError> {
        let mut rng = crate::train::SplitMix64::new(seed);
        let mut t = |shape: &[usize]| {
            let n = shape.iter().product();
            let v: Vec<f32> = (0..n).map(|_| rng.next_f32() - 0.5).collect();
            Tensor::from_vec(v, shape, &Device::Cpu)
        };
        Ok(HashMap::from([
            (format!("{prefix}embedding.weight"), t(&[8, 4])?),
            (format!("{prefix}hidden.weight"), t(&[6, 4])?),
            (format!("{prefix}hidden.bias"), t(&[6])?),
            (format!("{prefix}output.weight"), t(&[3, 6])?),
            (format!("{prefix}output.bias"), t(&[3])?),
        ]))
    }

    fn model(tensors: HashMap<String, Tensor>, members: usize) -> Result<FastText, ModelError> {
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
        FastText::new(vb, &config(members))
    }

    #[test]
    fn an_ensemble_averages_its_members_logits() -> Result<(), ModelError> {
        let first = model(network("", 1)?, 1)?;
        let second = model(network("", 2)?, 1)?;
        let mut both = network("", 1)?;
        both.extend(network("m1.", 2)?);
        let ensemble = model(both, 2)?;
        assert_eq!(ensemble.num_members(), 2);
        let rows = [0, 3, 3, 7];
        let (Some(a), Some(b), Some(e), Some(r)) = (
            first.forward_one(&rows)?,
            second.forward_one(&rows)?,
            ensemble.forward_one(&rows)?,
            ensemble.forward_tensor(&rows)?,
        ) else {
            panic!("no logits for a non-empty bag");
        };
        for i in 0..3 {
            assert!(
                (e[i] - (a[i] + b[i]) / 2.0).abs() < 1e-5,
                "{e:?} {a:?} {b:?}"
            );
            assert!((e[i] - r[i]).abs() < 1e-5, "{e:?} {r:?}");
        }
        assert_eq!(ensemble.forward_one(&[])?, None);
        Ok(())
    }
}
