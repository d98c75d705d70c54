//! Qwen3 decoders used as embedders (Qwen3-Embedding): a causal transformer with
//! grouped-query attention, per-head RMSNorm on queries and keys, rotary positions
//! and a SwiGLU feed-forward block, run over a whole padded batch at once.
//!
//! embench keeps its own file rather than `candle-transformers`' `qwen3`: that one
//! is a generator (a KV cache behind `&mut self`, a causal mask without padding),
//! so a padded batch would let real tokens attend to padding. Here each forward
//! pass takes the attention mask: a token attends to the real tokens at or before
//! it (causal AND mask), on either padding side, as transformers' `Qwen3Model`
//! does with `attention_mask`. Positions are `0..seq` for every row whatever the
//! padding, as in transformers (RoPE is relative, so a left-padded row pools to the
//! same vector as the unpadded one). Attention is the plain matmul form with an
//! additive mask, as candle's BERT. Following transformers'
//! `models/qwen3/modeling_qwen3.py` (5.23) and TEI's `backends/candle/src/models/qwen3.rs`.

use candle_core::{DType, Module, Tensor};
use candle_nn::{embedding, linear_no_bias, rms_norm, Embedding, Linear, RmsNorm, VarBuilder};

use super::attention::{Attention, Shape, MASKED};
use super::rotary::Rotary;
use serde::Deserialize;

/// The `config.json` fields the network needs.
#[derive(Debug, Clone, Deserialize)]
struct Config {
    vocab_size: usize,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    num_key_value_heads: usize,
    head_dim: Option<usize>,
    #[serde(default)]
    attention_bias: bool,
    max_position_embeddings: usize,
    rms_norm_eps: f64,
    hidden_act: String,
    /// transformers < 5.
    rope_theta: Option<f64>,
    /// transformers 5: `{"rope_theta": …, "rope_type": "default"}`.
    rope_parameters: Option<RopeParameters>,
    #[serde(default)]
    use_sliding_window: bool,
    /// transformers < 5 (`rope_parameters.rope_type` in 5).
    rope_scaling: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
struct RopeParameters {
    rope_theta: f64,
    #[serde(default)]
    rope_type: Option<String>,
}

impl Config {
    /// The rotary base; errors on a RoPE scaling embench does not implement.
    fn rope_theta(&self) -> Result<f64, String> {
        if self.rope_scaling.as_ref().is_some_and(|s| !s.is_null()) {
            return Err("rope_scaling is set; embench's candle Qwen3 runs only the default RoPE".into());
        }
        match (&self.rope_parameters, self.rope_theta) {
            (Some(p), _) => match p.rope_type.as_deref() {
                None | Some("default") => Ok(p.rope_theta),
                Some(other) => {
                    Err(format!("rope_parameters.rope_type '{other}' is not one candle's Qwen3 runs here (default)"))
                }
            },
            (None, Some(theta)) => Ok(theta),
            (None, None) => Err("neither rope_theta nor rope_parameters.rope_theta is set".into()),
        }
    }
}

/// SwiGLU: `down(silu(gate(x)) * up(x))`.
struct Mlp {
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
}

impl Mlp {
    fn load(cfg: &Config, vb: VarBuilder) -> candle_core::Result<Self> {
        let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
        Ok(Self {
            gate_proj: linear_no_bias(h, i, vb.pp("gate_proj"))?,
            up_proj: linear_no_bias(h, i, vb.pp("up_proj"))?,
            down_proj: linear_no_bias(i, h, vb.pp("down_proj"))?,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let gate = candle_nn::ops::silu(&self.gate_proj.forward(x)?)?;
        self.down_proj.forward(&(gate * self.up_proj.forward(x)?)?)
    }
}

struct Layer {
    input_layernorm: RmsNorm,
    self_attn: Attention,
    post_attention_layernorm: RmsNorm,
    mlp: Mlp,
}

/// A loaded Qwen3 decoder, run as an encoder over padded batches.
pub(crate) struct Qwen3 {
    embed_tokens: Embedding,
    layers: Vec<Layer>,
    norm: RmsNorm,
    rotary: Rotary,
    positions: usize,
}

impl Qwen3 {
    /// Builds it from `config.json`'s text; returns it and its hidden size. Reads the
    /// weights of `Qwen3Model` (`embed_tokens.*`, `layers.*`) or of
    /// `Qwen3ForCausalLM` (`model.embed_tokens.*`, …; the LM head is not loaded).
    ///
    /// Errors: a config that is not Qwen3's, an activation other than SiLU, sliding
    /// window attention, a RoPE variant other than the default, or missing weights.
    pub(crate) fn load(config: &str, vb: VarBuilder) -> Result<(Self, usize), String> {
        let cfg: Config = serde_json::from_str(config).map_err(|e| format!("not a Qwen3 config: {e}"))?;
        if cfg.hidden_act != "silu" {
            return Err(format!("hidden_act '{}' is not one candle's Qwen3 runs here (silu)", cfg.hidden_act));
        }
        if cfg.use_sliding_window {
            return Err("use_sliding_window is true; candle's Qwen3 here runs full attention only".into());
        }
        if cfg.num_key_value_heads == 0 || !cfg.num_attention_heads.is_multiple_of(cfg.num_key_value_heads) {
            return Err(format!(
                "num_attention_heads {} is not a multiple of num_key_value_heads {}",
                cfg.num_attention_heads, cfg.num_key_value_heads
            ));
        }
        let theta = cfg.rope_theta()?;
        let head_dim = cfg.head_dim.unwrap_or(cfg.hidden_size / cfg.num_attention_heads);
        let vb = if vb.contains_tensor("model.embed_tokens.weight") { vb.pp("model") } else { vb };
        let build = || -> candle_core::Result<Self> {
            let layers = (0..cfg.num_hidden_layers)
                .map(|i| {
                    let vb = vb.pp(format!("layers.{i}"));
                    Ok(Layer {
                        input_layernorm: rms_norm(cfg.hidden_size, cfg.rms_norm_eps, vb.pp("input_layernorm"))?,
                        self_attn: Attention::load(
                            Shape {
                                hidden: cfg.hidden_size,
                                heads: cfg.num_attention_heads,
                                kv_heads: cfg.num_key_value_heads,
                                head_dim,
                                bias: cfg.attention_bias,
                                scale: 1.0 / (head_dim as f64).sqrt(),
                            },
                            vb.pp("self_attn"),
                            |size, vb| rms_norm(size, cfg.rms_norm_eps, vb),
                        )?,
                        post_attention_layernorm: rms_norm(
                            cfg.hidden_size,
                            cfg.rms_norm_eps,
                            vb.pp("post_attention_layernorm"),
                        )?,
                        mlp: Mlp::load(&cfg, vb.pp("mlp"))?,
                    })
                })
                .collect::<candle_core::Result<Vec<_>>>()?;
            Ok(Self {
                embed_tokens: embedding(cfg.vocab_size, cfg.hidden_size, vb.pp("embed_tokens"))?,
                layers,
                norm: rms_norm(cfg.hidden_size, cfg.rms_norm_eps, vb.pp("norm"))?,
                rotary: Rotary::new(head_dim, cfg.max_position_embeddings, theta, vb.device())?,
                positions: cfg.max_position_embeddings,
            })
        };
        let model = build().map_err(|e| e.to_string())?;
        Ok((model, cfg.hidden_size))
    }

    /// The last hidden state `[batch, seq, hidden]` of token ids and attention mask (`[batch, seq]` i64).
    ///
    /// Errors: a sequence longer than the model's `max_position_embeddings`.
    pub(crate) fn forward(&self, ids: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let (_, l) = ids.dims2()?;
        if l > self.positions {
            candle_core::bail!("sequence of {l} tokens is longer than the model's {} positions", self.positions);
        }
        let mask = attention_mask(mask)?;
        let mut x = self.embed_tokens.forward(ids)?;
        for layer in &self.layers {
            let h = layer.self_attn.forward(&layer.input_layernorm.forward(&x)?, &mask, &self.rotary)?;
            x = (x + h)?;
            let h = layer.mlp.forward(&layer.post_attention_layernorm.forward(&x)?)?;
            x = (x + h)?;
        }
        self.norm.forward(&x)
    }
}

/// The additive mask `[batch, 1, seq, seq]`: 0 where query `i` may see key `j`
/// (`j <= i` and key `j` is a real token), [`MASKED`] elsewhere.
fn attention_mask(padding: &Tensor) -> candle_core::Result<Tensor> {
    let (b, l) = padding.dims2()?;
    let device = padding.device();
    let causal = Tensor::tril2(l, DType::F32, device)?.reshape((1, 1, l, l))?;
    let keys = padding.to_dtype(DType::F32)?.reshape((b, 1, 1, l))?;
    // 1 where visible, 0 elsewhere -> 0 and MASKED.
    causal.broadcast_mul(&keys)?.affine(-MASKED, MASKED)
}
