//! Pooling of a model's last hidden state into one vector per input (mean, CLS,
//! last token), and L2 normalisation, on plain `f32` slices: the shared reference of
//! the head that the frameworks run themselves (in the exported graphs, in candle's
//! tensors), used for exports that hold only the network (converter 4 and older)
//! and by the tests.

use serde::{Deserialize, Serialize};

use crate::embedder::Embeddings;

/// How token vectors become one sentence vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PoolingKind {
    /// Mean of the real (unmasked) tokens.
    Mean,
    /// The first token (`[CLS]`).
    Cls,
    /// The last real token (mask 1) of each input, wherever the padding is: a causal
    /// decoder's summary of the whole input (Qwen3-Embedding pools its appended
    /// `<|endoftext|>`). As sentence-transformers' `lasttoken` (`Pooling.forward`):
    /// the last position whose mask is 1, or position 0 when no position is.
    #[serde(rename = "lasttoken")]
    LastToken,
}

impl std::fmt::Display for PoolingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PoolingKind::Mean => "mean",
            PoolingKind::Cls => "cls",
            PoolingKind::LastToken => "lasttoken",
        })
    }
}

/// Pooling settings of one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pooling {
    /// Mean, CLS or last token.
    pub kind: PoolingKind,
    /// L2-normalise the pooled vectors.
    pub normalize: bool,
}

impl Pooling {
    /// Pools `hidden` (`[batch, seq, dim]`, row-major) under `mask` (`[batch, seq]`).
    pub fn apply(&self, hidden: &[f32], mask: &[i64], batch: usize, seq: usize, dim: usize) -> Embeddings {
        assert_eq!(hidden.len(), batch * seq * dim, "hidden state has the wrong size");
        assert_eq!(mask.len(), batch * seq, "attention mask has the wrong size");
        let mut data = vec![0f32; batch * dim];
        for b in 0..batch {
            let out = &mut data[b * dim..(b + 1) * dim];
            let tokens = &hidden[b * seq * dim..(b + 1) * seq * dim];
            match self.kind {
                PoolingKind::Cls => out.copy_from_slice(&tokens[..dim]),
                PoolingKind::LastToken => {
                    let row_mask = &mask[b * seq..(b + 1) * seq];
                    let t = row_mask.iter().rposition(|&m| m != 0).unwrap_or(0);
                    out.copy_from_slice(&tokens[t * dim..(t + 1) * dim]);
                }
                PoolingKind::Mean => {
                    let row_mask = &mask[b * seq..(b + 1) * seq];
                    let mut count = 0usize;
                    for (t, &m) in row_mask.iter().enumerate() {
                        if m != 0 {
                            count += 1;
                            for (o, &h) in out.iter_mut().zip(&tokens[t * dim..(t + 1) * dim]) {
                                *o += h;
                            }
                        }
                    }
                    // sentence-transformers clamps the count at 1e-9; with no real
                    // tokens the vector stays zero either way.
                    let inv = 1.0 / count.max(1) as f32;
                    out.iter_mut().for_each(|o| *o *= inv);
                }
            }
            if self.normalize {
                l2_normalize(out);
            }
        }
        Embeddings { rows: batch, dim, data }
    }
}

/// The output names a network file may have: the finished sentence embeddings
/// (`[batch, dim]`: the head ran inside the framework, as `scripts/convert_models.sh`
/// exports since converter 5), or the token states (`[batch, seq, hidden]`: older
/// exports, pooled here). CLIP's and SigLIP's towers put out `text_embeds` and
/// `image_embeds` (`[batch, dim]`, normalised: transformers' names).
pub const OUTPUT_NAMES: [&str; 4] = ["sentence_embedding", "text_embeds", "image_embeds", "last_hidden_state"];

/// The names of a network file's inputs embench feeds: token ids, mask and segments
/// (text), or `pixel_values` (an image tower).
pub const INPUT_NAMES: [&str; 4] = ["input_ids", "attention_mask", "token_type_ids", "pixel_values"];

impl Pooling {
    /// Embeddings from a network's output `data` of `shape`: returned as they are when
    /// the head ran in the framework (`[batch, dim]`), pooled with [`Pooling::apply`]
    /// when they are token states (`[batch, seq, hidden]`).
    ///
    /// Errors: any other shape, or one whose batch or sequence is not the input's.
    pub fn finish(
        &self,
        data: &[f32],
        shape: &[usize],
        mask: &[i64],
        batch: usize,
        seq: usize,
    ) -> Result<Embeddings, String> {
        match *shape {
            [rows, dim] if rows == batch && data.len() == rows * dim => Ok(Embeddings { rows, dim, data: data.to_vec() }),
            [rows, s, dim] if rows == batch && s == seq => {
                let _span = tracing::trace_span!("pool").entered();
                Ok(self.apply(data, mask, batch, seq, dim))
            }
            _ => Err(format!(
                "the network returned shape {shape:?} for a batch of {batch} x {seq} tokens (expected [{batch}, dim] or [{batch}, {seq}, hidden]; fix: re-convert the model with scripts/convert_models.sh --force)"
            )),
        }
    }
}

/// Scales `v` to unit length (as torch's `F.normalize`, eps 1e-12).
pub fn l2_normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= norm);
}

/// Cosine similarity of two vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb).max(1e-12)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_pooling_ignores_padding() {
        // batch 1, seq 3, dim 2; the third token is padding.
        let hidden = [1.0, 2.0, 3.0, 4.0, 100.0, 100.0];
        let p = Pooling { kind: PoolingKind::Mean, normalize: false };
        let e = p.apply(&hidden, &[1, 1, 0], 1, 3, 2);
        assert_eq!(e.data, vec![2.0, 3.0]);
    }

    #[test]
    fn cls_pooling_takes_first_token_and_normalises() {
        let hidden = [3.0, 4.0, 9.0, 9.0];
        let p = Pooling { kind: PoolingKind::Cls, normalize: true };
        let e = p.apply(&hidden, &[1, 1], 1, 2, 2);
        assert!((e.data[0] - 0.6).abs() < 1e-6 && (e.data[1] - 0.8).abs() < 1e-6);
    }

    #[test]
    fn last_token_pooling_takes_the_last_real_token_on_either_padding_side() {
        // batch 2, seq 3, dim 1: row 0 padded on the right, row 1 on the left.
        let hidden = [1.0, 2.0, 99.0, 99.0, 5.0, 6.0];
        let p = Pooling { kind: PoolingKind::LastToken, normalize: false };
        let e = p.apply(&hidden, &[1, 1, 0, 0, 1, 1], 2, 3, 1);
        assert_eq!(e.data, vec![2.0, 6.0]);
        // No real token: position 0, as sentence-transformers.
        assert_eq!(p.apply(&[7.0, 8.0], &[0, 0], 1, 2, 1).data, vec![7.0]);
    }

    #[test]
    fn a_finished_output_passes_and_token_states_are_pooled() {
        let p = Pooling { kind: PoolingKind::Cls, normalize: false };
        let done = p.finish(&[1.0, 2.0, 3.0, 4.0], &[2, 2], &[1, 1, 1, 1], 2, 2).unwrap();
        assert_eq!((done.rows, done.dim, done.data), (2, 2, vec![1.0, 2.0, 3.0, 4.0]));
        let pooled = p.finish(&[1.0, 2.0, 3.0, 4.0], &[1, 2, 2], &[1, 1], 1, 2).unwrap();
        assert_eq!(pooled.data, vec![1.0, 2.0]);
        let e = p.finish(&[0.0; 6], &[3, 2], &[1, 1], 2, 1).unwrap_err();
        assert!(e.contains("shape [3, 2]") && e.contains("fix:"), "{e}");
    }

    #[test]
    fn cosine_of_parallel_vectors_is_one() {
        assert!((cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-6);
        assert!(cosine(&[1.0, 0.0], &[0.0, 1.0]).abs() < 1e-6);
    }
}
