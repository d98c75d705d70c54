//! A pre-flight estimate of the memory one cell needs, so a batch size that
//! cannot fit is skipped with the reason instead of taking the machine down.
//!
//! The estimate is deliberately generous: the weights, plus twice one encoder
//! layer's working set (frameworks keep copies and arenas), plus the inputs
//! and outputs. Layers run one after another, so one layer's activations (not
//! all layers') bound the peak.

use serde::Serialize;

use embench_core::config::ResolvedModel;
use embench_core::Architecture;

/// The dimensions of a transformer that set its FLOPs and memory use.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ModelShape {
    /// Hidden size.
    pub hidden: usize,
    /// Feed-forward inner size.
    pub intermediate: usize,
    /// Attention heads (query heads).
    pub heads: usize,
    /// Width of the queries: heads × head_dim (the hidden size in BERT; Qwen3 and
    /// Gemma 3 set `head_dim` apart from it).
    pub query_dim: usize,
    /// Width of the keys and of the values: key/value heads × head_dim (grouped-query
    /// attention: smaller than `query_dim`).
    pub kv_dim: usize,
    /// Weight matrices of the feed-forward block: 2 (up, down) or 3 (gated: gate, up,
    /// down, as Qwen3's SwiGLU and Gemma 3's GeGLU).
    pub ffn_matrices: usize,
    /// Layers.
    pub layers: usize,
    /// Parameters.
    pub params: f64,
    /// Where the figures came from: `config.json`, or `models.yaml` (guessed from the embedding size).
    pub source: &'static str,
    /// Positions every input is computed over, whatever its text: a vision tower's
    /// patches (and CLIP's class token), SigLIP's text padded to its 64 positions
    /// (None: the input's own length).
    pub fixed_seq: Option<usize>,
}

impl ModelShape {
    /// The shape from the model folder's `config.json`, else a BERT-like guess from `models.yaml`.
    pub fn of(model: &ResolvedModel) -> Self {
        let guess =
            Self::guess(model.config.embedding_dim.value, model.config.params.as_deref().and_then(parse_params));
        let Some(folder) = &model.folder else { return guess };
        let Ok(text) = std::fs::read_to_string(folder.config_json()) else { return guess };
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else { return guess };
        Self::from_config(&json, guess)
    }

    /// The shape a `config.json` gives (hidden size, heads, layers, and where set
    /// `head_dim`, `num_key_value_heads`, `intermediate_size`); `guess` when it lacks one of the first three.
    pub fn from_config(json: &serde_json::Value, guess: Self) -> Self {
        let get = |k: &str| json[k].as_u64().map(|v| v as usize);
        match (get("hidden_size"), get("num_attention_heads"), get("num_hidden_layers")) {
            (Some(hidden), Some(heads), Some(layers)) if heads > 0 => {
                let head_dim = get("head_dim").unwrap_or(hidden / heads);
                let gated = json["model_type"]
                    .as_str()
                    .and_then(Architecture::from_model_type)
                    .is_some_and(|a| matches!(a, Architecture::Qwen3 | Architecture::Gemma3));
                Self {
                    hidden,
                    intermediate: get("intermediate_size").unwrap_or(4 * hidden),
                    heads,
                    query_dim: heads * head_dim,
                    kv_dim: get("num_key_value_heads").unwrap_or(heads) * head_dim,
                    ffn_matrices: if gated { 3 } else { 2 },
                    layers,
                    params: guess.params,
                    source: "config.json",
                    fixed_seq: None,
                }
            }
            _ => guess,
        }
    }

    /// A BERT-like encoder whose hidden size is the embedding size.
    pub fn guess(dim: usize, params: Option<f64>) -> Self {
        let hidden = dim.max(1);
        let layers = 12;
        // Embedding tables of a 30k vocabulary and 12 layers of 12·h² each, when the card gives no count.
        let params = params.unwrap_or((30_522 * hidden + layers * 12 * hidden * hidden) as f64);
        Self {
            hidden,
            intermediate: 4 * hidden,
            heads: (hidden / 64).max(1),
            query_dim: hidden,
            kv_dim: hidden,
            ffn_matrices: 2,
            layers,
            params,
            source: "models.yaml",
            fixed_seq: None,
        }
    }

    /// The shape of the tower of `modality` that a cell of a multimodal model (CLIP,
    /// SigLIP) runs, from `config.json`'s `text_config` or `vision_config`: a vision
    /// tower is computed over its patches (`(image_size / patch_size)²`, plus CLIP's
    /// class token), SigLIP's text tower over its 64 positions. Other models: [`Self::of`].
    pub fn of_tower(model: &ResolvedModel, modality: embench_core::Modality) -> Self {
        let whole = Self::of(model);
        let arch = model.architecture.filter(|a| matches!(a, Architecture::Clip | Architecture::Siglip));
        let (Some(arch), Some(folder)) = (arch, &model.folder) else { return whole };
        let Ok(text) = std::fs::read_to_string(folder.config_json()) else { return whole };
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else { return whole };
        let Some(part) = embench_core::tower_config::tower_config(&json, arch, modality) else { return whole };
        let part = &part;
        let shape = Self::from_config(part, whole);
        let get = |k: &str| part[k].as_u64().map(|v| v as usize);
        let fixed_seq = match (modality, arch) {
            (embench_core::Modality::Image, _) => match (get("image_size"), get("patch_size")) {
                (Some(image), Some(patch)) if patch > 0 => {
                    Some((image / patch).pow(2) + usize::from(arch == Architecture::Clip))
                }
                _ => return whole,
            },
            (embench_core::Modality::Text, Architecture::Siglip) => Some(get("max_position_embeddings").unwrap_or(64)),
            (embench_core::Modality::Text, _) => None,
        };
        Self { fixed_seq, ..shape }
    }

    /// A BERT-like encoder: queries, keys and values as wide as the hidden size, a two-matrix feed-forward block.
    pub fn encoder(hidden: usize, intermediate: usize, heads: usize, layers: usize, params: f64) -> Self {
        let source = "given";
        let (query_dim, kv_dim, ffn_matrices, fixed_seq) = (hidden, hidden, 2, None);
        Self { hidden, intermediate, heads, query_dim, kv_dim, ffn_matrices, layers, params, source, fixed_seq }
    }

    /// Floating-point operations (a multiply-add counts 2) of one forward pass over
    /// one text of `seq` tokens: per layer the Q and output projections (2·s·h·q each,
    /// q = heads × head_dim), the K and V projections (2·s·h·kv each: grouped-query
    /// attention makes kv smaller), the feed-forward block (2·m·s·h·i for its m
    /// matrices: 2, or 3 when gated), and the attention scores and their product with
    /// V (4·s²·q). For BERT (q = kv = h, m = 2) this is 8·s·h² + 4·s·h·i + 4·s²·h, the
    /// count of Kaplan et al. 2020 (Table 1) without the embeddings. Causal models
    /// are counted over the full s×s score matrix, as the frameworks compute it.
    /// Embedding lookups, norms, softmax and pooling are left out (under 1 % for these models).
    pub fn flops_per_sequence(&self, seq: usize) -> f64 {
        let (s, h, i) = (seq as f64, self.hidden as f64, self.intermediate as f64);
        let (q, kv, m) = (self.query_dim as f64, self.kv_dim as f64, self.ffn_matrices as f64);
        self.layers as f64 * (s * (4.0 * h * q + 4.0 * h * kv + 2.0 * m * h * i) + 4.0 * s * s * q)
    }

    /// Bytes of one instance's weights, loaded as fp32.
    pub fn weight_bytes(&self) -> u64 {
        (self.params * 4.0) as u64
    }

    /// Estimated bytes a cell of `batch` inputs of `seq` tokens needs, computing in
    /// `bytes_per_value`-byte floats (weights counted in fp32, as they are loaded),
    /// with `concurrent` requests in flight at once.
    pub fn cell_bytes(&self, batch: usize, seq: usize, bytes_per_value: usize, concurrent: usize) -> u64 {
        let (b, s) = (batch as u64, seq as u64);
        let (h, i, heads) = (self.hidden as u64, self.intermediate as u64, self.heads as u64);
        let (q, kv, m) = (self.query_dim as u64, self.kv_dim as u64, self.ffn_matrices as u64);
        let weights = self.weight_bytes();
        // Q, K, V, K and V repeated to every query head (grouped-query attention),
        // context, attention output, the FFN's inner tensors (two when gated) and output:
        // 6·h + i for BERT.
        let token_values = b * s * (2 * q + 2 * kv + 2 * q.saturating_sub(kv) + 2 * h + (m - 1) * i);
        // Attention scores and their softmax.
        let score_values = 2 * b * heads * s * s;
        let layer = (token_values + score_values) * bytes_per_value as u64;
        let io = b * s * (3 * 8 + h * 4);
        weights + concurrent.max(1) as u64 * (2 * layer + io)
    }
}

/// Parses a model card's parameter count: `22.7M`, `110M`, `1.5B`, `560k`.
pub fn parse_params(text: &str) -> Option<f64> {
    let t = text.trim();
    let (num, scale) = match t.chars().last()? {
        'k' | 'K' => (&t[..t.len() - 1], 1e3),
        'm' | 'M' => (&t[..t.len() - 1], 1e6),
        'b' | 'B' => (&t[..t.len() - 1], 1e9),
        _ => (t, 1.0),
    };
    num.trim().parse::<f64>().ok().map(|v| v * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_counts_parse() {
        assert_eq!(parse_params("22.7M"), Some(22.7e6));
        assert_eq!(parse_params("1.5B"), Some(1.5e9));
        assert_eq!(parse_params("560k"), Some(560e3));
        assert_eq!(parse_params("many"), None);
    }

    #[test]
    fn flop_counts_match_hand_counts() {
        // BERT-base at 128 tokens: 12 layers x (128 x (8 x 768^2 + 4 x 768 x 3072) + 4 x 128^2 x 768)
        // = 12 x 1 862 270 976 = 22.35 GFLOP, the commonly quoted ~11.2 GMAC.
        let base = ModelShape::encoder(768, 3072, 12, 12, 110e6);
        assert_eq!(base.flops_per_sequence(128), 22_347_251_712.0);
        // all-MiniLM-L6-v2 at 128 tokens: 6 x (128 x (8 x 384^2 + 4 x 384 x 1536) + 4 x 128^2 x 384) = 2.87 GFLOP.
        let mini = ModelShape::encoder(384, 1536, 12, 6, 22.7e6);
        assert_eq!(mini.flops_per_sequence(128), 2_868_903_936.0);
        // Attention grows with the square of the length: 256 tokens cost more than twice 128.
        assert!(mini.flops_per_sequence(256) > 2.0 * mini.flops_per_sequence(128));
    }

    #[test]
    fn grouped_query_attention_and_gated_ffn_are_counted() {
        // Qwen3-Embedding-0.6B (config.json): h 1024, 16 query heads and 8 key/value heads
        // of head_dim 128, SwiGLU of 3072, 28 layers. At 128 tokens per layer:
        // 128 x (4 x 1024 x 2048 + 4 x 1024 x 1024 + 6 x 1024 x 3072) + 4 x 128^2 x 2048
        // = 4 026 531 840 + 134 217 728 = 4 160 749 568; x 28 = 116.5 GFLOP.
        let config = serde_json::json!({"model_type": "qwen3", "hidden_size": 1024, "num_attention_heads": 16,
            "num_key_value_heads": 8, "head_dim": 128, "intermediate_size": 3072, "num_hidden_layers": 28});
        let qwen = ModelShape::from_config(&config, ModelShape::guess(1024, Some(600e6)));
        assert_eq!((qwen.query_dim, qwen.kv_dim, qwen.ffn_matrices, qwen.source), (2048, 1024, 3, "config.json"));
        assert_eq!(qwen.flops_per_sequence(128), 28.0 * 4_160_749_568.0);
        // The same config read as BERT would count 8·s·h² + 4·s·h·i: a third less.
        let as_bert = ModelShape::encoder(1024, 3072, 16, 28, 600e6);
        assert!(as_bert.flops_per_sequence(128) < 0.85 * qwen.flops_per_sequence(128));
    }

    #[test]
    fn minilm_estimate_matches_a_hand_count() {
        // all-MiniLM-L6-v2: h 384, FFN 1536, 12 heads, 22.7M parameters; batch 32 at seq 128 in fp32.
        let shape = ModelShape::encoder(384, 1536, 12, 6, 22.7e6);
        let tokens = 32 * 128;
        let by_hand = 22.7e6 * 4.0
            + 2.0 * 4.0 * (tokens as f64 * (6.0 * 384.0 + 1536.0) + 2.0 * 32.0 * 12.0 * 128.0 * 128.0)
            + tokens as f64 * (24.0 + 1536.0);
        assert_eq!(shape.cell_bytes(32, 128, 4, 1), by_hand as u64);
        // Doubling the sequence length quadruples the attention scores: the estimate grows more than 2x.
        let growth = (shape.cell_bytes(32, 256, 4, 1) - 90_800_000) as f64
            / (shape.cell_bytes(32, 128, 4, 1) - 90_800_000) as f64;
        assert!(growth > 2.5 && growth < 4.0, "{growth}");
        // Two requests in flight hold two sets of activations, and one copy of the weights.
        let two = shape.cell_bytes(32, 128, 4, 2) - shape.cell_bytes(32, 128, 4, 1);
        assert_eq!(two, shape.cell_bytes(32, 128, 4, 1) - 90_800_000);
    }
}
