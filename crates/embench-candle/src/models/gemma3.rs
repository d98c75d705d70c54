//! Gemma 3 text with bidirectional attention (EmbeddingGemma): grouped-query
//! attention with per-head RMSNorm on queries and keys, rotary positions with one
//! base for full-attention layers and another for sliding-window layers, a GeGLU
//! feed-forward block, four RMSNorms per layer (Gemma's `x · (1 + w)`), and the
//! embeddings scaled by √hidden.
//!
//! embench keeps its own file: `candle-transformers`' `gemma3` is a causal generator
//! with a KV cache. Here every token attends to every real token (full layers) or to
//! the real tokens within the window, |i − j| < w (sliding layers), as transformers'
//! `Gemma3TextModel` with `use_bidirectional_attention` builds its masks; the window
//! is the runtime one, `sliding_window // 2 + 1` (transformers' config halves the
//! saved value under that flag). Following transformers' `models/gemma3/modeling_gemma3.py` (5.23).

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{embedding, linear_no_bias, Embedding, Linear, RmsNorm, VarBuilder};
use serde::Deserialize;

use super::attention::{Attention, Shape, MASKED};
use super::rotary::Rotary;

/// The `config.json` fields the network needs.
#[derive(Debug, Clone, Deserialize)]
struct Config {
    vocab_size: usize,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    num_key_value_heads: usize,
    head_dim: usize,
    query_pre_attn_scalar: f64,
    rms_norm_eps: f64,
    hidden_activation: String,
    sliding_window: usize,
    #[serde(default)]
    use_bidirectional_attention: bool,
    layer_types: Option<Vec<String>>,
    /// transformers < 5 (every `sliding_window_pattern`-th layer is full).
    sliding_window_pattern: Option<usize>,
    max_position_embeddings: usize,
    #[serde(default)]
    attention_bias: bool,
    attn_logit_softcapping: Option<f64>,
    /// transformers 5: `{"full_attention": {"rope_theta": …}, "sliding_attention": {…}}`.
    rope_parameters: Option<serde_json::Value>,
    /// transformers < 5.
    rope_theta: Option<f64>,
    /// transformers < 5: the sliding layers' base.
    rope_local_base_freq: Option<f64>,
}

impl Config {
    /// The rotary base of full and of sliding layers.
    fn rope_thetas(&self) -> Result<(f64, f64), String> {
        let of = |layer: &str| -> Result<Option<f64>, String> {
            let Some(p) = self.rope_parameters.as_ref().and_then(|p| p.get(layer)) else { return Ok(None) };
            match p.get("rope_type").and_then(|t| t.as_str()) {
                None | Some("default") => Ok(p.get("rope_theta").and_then(|t| t.as_f64())),
                Some(other) => Err(format!(
                    "rope_parameters.{layer}.rope_type '{other}' is not one candle's Gemma 3 runs here (default)"
                )),
            }
        };
        let full = of("full_attention")?.or(self.rope_theta);
        let sliding = of("sliding_attention")?.or(self.rope_local_base_freq);
        match (full, sliding) {
            (Some(f), Some(s)) => Ok((f, s)),
            _ => Err("the rotary bases are not set (rope_parameters, or rope_theta and rope_local_base_freq)".into()),
        }
    }

    /// Whether each layer is a sliding-window one.
    fn sliding_layers(&self) -> Result<Vec<bool>, String> {
        let sliding: Vec<bool> = match &self.layer_types {
            Some(types) => types
                .iter()
                .map(|t| match t.as_str() {
                    "sliding_attention" => Ok(true),
                    "full_attention" => Ok(false),
                    other => Err(format!("layer_types: '{other}' is neither sliding_attention nor full_attention")),
                })
                .collect::<Result<_, _>>()?,
            None => {
                let pattern = self.sliding_window_pattern.unwrap_or(6).max(1);
                (0..self.num_hidden_layers).map(|i| (i + 1) % pattern != 0).collect()
            }
        };
        if sliding.len() != self.num_hidden_layers {
            return Err(format!(
                "layer_types lists {} layers, num_hidden_layers is {}",
                sliding.len(),
                self.num_hidden_layers
            ));
        }
        Ok(sliding)
    }
}

/// Gemma's RMSNorm, `x / rms(x) · (1 + w)`: candle's RmsNorm with the weight plus one.
fn gemma_norm(size: usize, eps: f64, vb: VarBuilder) -> candle_core::Result<RmsNorm> {
    let weight = (vb.get(size, "weight")? + 1.0)?;
    Ok(RmsNorm::new(weight, eps))
}

struct Layer {
    input_layernorm: RmsNorm,
    self_attn: Attention,
    post_attention_layernorm: RmsNorm,
    pre_feedforward_layernorm: RmsNorm,
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
    post_feedforward_layernorm: RmsNorm,
    sliding: bool,
}

impl Layer {
    fn load(cfg: &Config, sliding: bool, vb: VarBuilder) -> candle_core::Result<Self> {
        let (h, i, eps) = (cfg.hidden_size, cfg.intermediate_size, cfg.rms_norm_eps);
        let mlp = vb.pp("mlp");
        Ok(Self {
            input_layernorm: gemma_norm(h, eps, vb.pp("input_layernorm"))?,
            self_attn: Attention::load(
                Shape {
                    hidden: h,
                    heads: cfg.num_attention_heads,
                    kv_heads: cfg.num_key_value_heads,
                    head_dim: cfg.head_dim,
                    bias: cfg.attention_bias,
                    // transformers: `self.scaling = config.query_pre_attn_scalar**-0.5`.
                    scale: cfg.query_pre_attn_scalar.powf(-0.5),
                },
                vb.pp("self_attn"),
                |size, vb| gemma_norm(size, eps, vb),
            )?,
            post_attention_layernorm: gemma_norm(h, eps, vb.pp("post_attention_layernorm"))?,
            pre_feedforward_layernorm: gemma_norm(h, eps, vb.pp("pre_feedforward_layernorm"))?,
            gate_proj: linear_no_bias(h, i, mlp.pp("gate_proj"))?,
            up_proj: linear_no_bias(h, i, mlp.pp("up_proj"))?,
            down_proj: linear_no_bias(i, h, mlp.pp("down_proj"))?,
            post_feedforward_layernorm: gemma_norm(h, eps, vb.pp("post_feedforward_layernorm"))?,
            sliding,
        })
    }

    fn forward(&self, x: &Tensor, mask: &Tensor, rotary: &Rotary) -> candle_core::Result<Tensor> {
        let h = self.self_attn.forward(&self.input_layernorm.forward(x)?, mask, rotary)?;
        let x = (x + self.post_attention_layernorm.forward(&h)?)?;
        let h = self.pre_feedforward_layernorm.forward(&x)?;
        // GeGLU with gelu_pytorch_tanh (candle's `gelu` is the tanh approximation).
        let h = self.down_proj.forward(&(self.gate_proj.forward(&h)?.gelu()? * self.up_proj.forward(&h)?)?)?;
        x + self.post_feedforward_layernorm.forward(&h)?
    }
}

/// A loaded bidirectional Gemma 3 text encoder.
pub(crate) struct Gemma3 {
    embed_tokens: Embedding,
    embed_scale: f64,
    layers: Vec<Layer>,
    norm: RmsNorm,
    rotary_full: Rotary,
    rotary_sliding: Rotary,
    window: usize,
    positions: usize,
}

impl Gemma3 {
    /// Builds it from `config.json`'s text; returns it and its hidden size. Reads the
    /// weights of `Gemma3TextModel` (`embed_tokens.*`, `layers.*`, `norm.*`), with or
    /// without a `model.` prefix.
    ///
    /// Errors: causal attention (`use_bidirectional_attention` false: not an embedder
    /// here), an activation other than gelu_pytorch_tanh, attention logit soft-capping,
    /// a RoPE variant other than the default, or missing weights.
    pub(crate) fn load(config: &str, vb: VarBuilder) -> Result<(Self, usize), String> {
        let cfg: Config = serde_json::from_str(config).map_err(|e| format!("not a Gemma 3 text config: {e}"))?;
        if !cfg.use_bidirectional_attention {
            return Err("use_bidirectional_attention is false: a causal Gemma 3 is not an embedder candle runs here (EmbeddingGemma sets it)".into());
        }
        if cfg.hidden_activation != "gelu_pytorch_tanh" {
            return Err(format!(
                "hidden_activation '{}' is not one candle's Gemma 3 runs here (gelu_pytorch_tanh)",
                cfg.hidden_activation
            ));
        }
        if cfg.attn_logit_softcapping.is_some() {
            return Err("attn_logit_softcapping is set; candle's Gemma 3 here runs without it".into());
        }
        if cfg.num_key_value_heads == 0 || !cfg.num_attention_heads.is_multiple_of(cfg.num_key_value_heads) {
            return Err(format!(
                "num_attention_heads {} is not a multiple of num_key_value_heads {}",
                cfg.num_attention_heads, cfg.num_key_value_heads
            ));
        }
        let (theta_full, theta_sliding) = cfg.rope_thetas()?;
        let sliding = cfg.sliding_layers()?;
        let vb = if vb.contains_tensor("model.embed_tokens.weight") { vb.pp("model") } else { vb };
        let device = vb.device().clone();
        let build = || -> candle_core::Result<Self> {
            let layers = sliding
                .iter()
                .enumerate()
                .map(|(i, &s)| Layer::load(&cfg, s, vb.pp(format!("layers.{i}"))))
                .collect::<candle_core::Result<Vec<_>>>()?;
            let (d, n) = (cfg.head_dim, cfg.max_position_embeddings);
            Ok(Self {
                embed_tokens: embedding(cfg.vocab_size, cfg.hidden_size, vb.pp("embed_tokens"))?,
                embed_scale: (cfg.hidden_size as f32).sqrt() as f64,
                layers,
                norm: gemma_norm(cfg.hidden_size, cfg.rms_norm_eps, vb.pp("norm"))?,
                rotary_full: Rotary::new(d, n, theta_full, &device)?,
                rotary_sliding: Rotary::new(d, n, theta_sliding, &device)?,
                window: cfg.sliding_window / 2 + 1,
                positions: n,
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
        let (full, sliding) = masks(mask, self.window)?;
        let mut x = (self.embed_tokens.forward(ids)? * self.embed_scale)?;
        for layer in &self.layers {
            x = match layer.sliding {
                true => layer.forward(&x, &sliding, &self.rotary_sliding)?,
                false => layer.forward(&x, &full, &self.rotary_full)?,
            };
        }
        self.norm.forward(&x)
    }
}

/// The additive masks `[batch, 1, seq, seq]` of full and of sliding layers: 0 where
/// query `i` may see key `j` (key `j` is real; for sliding layers also |i − j| < `window`),
/// [`MASKED`] elsewhere.
fn masks(padding: &Tensor, window: usize) -> candle_core::Result<(Tensor, Tensor)> {
    let (b, l) = padding.dims2()?;
    let device: &Device = padding.device();
    let keys = padding.to_dtype(DType::F32)?.reshape((b, 1, 1, l))?;
    let near: Vec<f32> =
        (0..l).flat_map(|i| (0..l).map(move |j| if i.abs_diff(j) < window { 1.0 } else { 0.0 })).collect();
    let near = Tensor::from_vec(near, (1, 1, l, l), device)?;
    let full = keys.broadcast_as((b, 1, l, l))?.affine(-MASKED, MASKED)?;
    let sliding = near.broadcast_mul(&keys)?.affine(-MASKED, MASKED)?;
    Ok((full, sliding))
}
