//! Rotary position embeddings (RoPE, Su et al. 2021) for the decoders run as
//! encoders here (Qwen3, Gemma 3): transformers' `rotate_half` form, positions
//! `0..seq` for every row.

use candle_core::{DType, Device, Tensor};

/// The rotary tables for positions `0..max_position_embeddings`: `[positions, head_dim / 2]` each.
pub(crate) struct Rotary {
    cos: Tensor,
    sin: Tensor,
}

impl Rotary {
    /// The tables for `head_dim` and positions `0..positions` at base `theta`
    /// (transformers' default RoPE: `inv_freq = 1 / theta^(2i / head_dim)`).
    pub(crate) fn new(head_dim: usize, positions: usize, theta: f64, device: &Device) -> candle_core::Result<Self> {
        let inv_freq: Vec<f32> =
            (0..head_dim).step_by(2).map(|i| (1.0 / theta.powf(i as f64 / head_dim as f64)) as f32).collect();
        let inv_freq = Tensor::from_vec(inv_freq, (1, head_dim / 2), device)?;
        let t = Tensor::arange(0u32, positions as u32, device)?.to_dtype(DType::F32)?.reshape((positions, 1))?;
        let freqs = t.matmul(&inv_freq)?;
        Ok(Self { cos: freqs.cos()?, sin: freqs.sin()? })
    }

    /// Rotates `x` (`[batch, heads, seq, head_dim]`) at positions `0..seq` (transformers' `rotate_half` form).
    pub(crate) fn apply(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let seq = x.dim(2)?;
        candle_nn::rotary_emb::rope(&x.contiguous()?, &self.cos.narrow(0, 0, seq)?, &self.sin.narrow(0, 0, seq)?)
    }
}
