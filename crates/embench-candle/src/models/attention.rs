//! Grouped-query self-attention over a padded batch, as the decoders run as
//! encoders here (Qwen3, Gemma 3) compute it: Q, K, V projections, per-head RMSNorm
//! on queries and keys, rotary positions, K and V repeated to every query head, an
//! additive mask, the output projection. Plain matmul attention, as candle's BERT.

use candle_core::{Module, Tensor};
use candle_nn::{linear_b, Linear, RmsNorm, VarBuilder};
use candle_transformers::utils::repeat_kv;

use super::rotary::Rotary;

/// Added to the attention scores of a key a query must not see: large enough that
/// its softmax weight is exactly 0 in f32, finite so a query with no visible key (a
/// left-padding position) gets a uniform average instead of NaN.
pub(crate) const MASKED: f64 = -1e9;

/// The attention block's sizes.
pub(crate) struct Shape {
    /// Hidden size.
    pub hidden: usize,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads (a divisor of `heads`).
    pub kv_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
    /// Whether the projections add a bias.
    pub bias: bool,
    /// What the scores are multiplied by (1/√head_dim for Qwen3; Gemma 3: query_pre_attn_scalar^-½).
    pub scale: f64,
}

/// One layer's attention, loaded.
pub(crate) struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    q_norm: RmsNorm,
    k_norm: RmsNorm,
    shape: Shape,
}

impl Attention {
    /// Loads `q_proj`, `k_proj`, `v_proj`, `o_proj` from `vb`, and `q_norm`, `k_norm` with `norm`
    /// (the model's RMSNorm of one head's width).
    pub(crate) fn load(
        shape: Shape,
        vb: VarBuilder,
        norm: impl Fn(usize, VarBuilder) -> candle_core::Result<RmsNorm>,
    ) -> candle_core::Result<Self> {
        let (h, q, kv) = (shape.hidden, shape.heads * shape.head_dim, shape.kv_heads * shape.head_dim);
        Ok(Self {
            q_proj: linear_b(h, q, shape.bias, vb.pp("q_proj"))?,
            k_proj: linear_b(h, kv, shape.bias, vb.pp("k_proj"))?,
            v_proj: linear_b(h, kv, shape.bias, vb.pp("v_proj"))?,
            o_proj: linear_b(q, h, shape.bias, vb.pp("o_proj"))?,
            q_norm: norm(shape.head_dim, vb.pp("q_norm"))?,
            k_norm: norm(shape.head_dim, vb.pp("k_norm"))?,
            shape,
        })
    }

    /// `x` `[batch, seq, hidden]`, `mask` additive `[batch, 1, seq, seq]`; returns `[batch, seq, hidden]`.
    pub(crate) fn forward(&self, x: &Tensor, mask: &Tensor, rotary: &Rotary) -> candle_core::Result<Tensor> {
        let (b, l, _) = x.dims3()?;
        let d = self.shape.head_dim;
        // [b, l, heads, d] -> per-head RMSNorm -> [b, heads, l, d]
        let split = |t: Tensor, heads: usize, norm: Option<&RmsNorm>| -> candle_core::Result<Tensor> {
            let t = t.reshape((b, l, heads, d))?;
            let t = match norm {
                Some(n) => n.forward(&t)?,
                None => t,
            };
            t.transpose(1, 2)?.contiguous()
        };
        let (heads, kv_heads) = (self.shape.heads, self.shape.kv_heads);
        let q = rotary.apply(&split(self.q_proj.forward(x)?, heads, Some(&self.q_norm))?)?;
        let k = rotary.apply(&split(self.k_proj.forward(x)?, kv_heads, Some(&self.k_norm))?)?;
        let v = split(self.v_proj.forward(x)?, kv_heads, None)?;
        let groups = heads / kv_heads;
        let (k, v) = (repeat_kv(k, groups)?.contiguous()?, repeat_kv(v, groups)?.contiguous()?);
        let scores = (q.matmul(&k.t()?)? * self.shape.scale)?.broadcast_add(mask)?;
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let context = probs.matmul(&v)?.transpose(1, 2)?.reshape((b, l, heads * d))?;
        self.o_proj.forward(&context)
    }
}
