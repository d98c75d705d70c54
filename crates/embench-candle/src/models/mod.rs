//! One file per architecture candle runs, each loading its network from the
//! folder's `config.json` and weights and returning the last hidden state
//! (`[batch, seq, hidden]`); the head (pooling, Dense, normalisation) follows in
//! [`crate::head`].
//! As TEI keeps one file per architecture under `backends/candle/src/models/`.

mod attention;
mod bert;
mod gemma3;
mod qwen3;
mod rotary;
mod xlm_roberta;

use candle_core::Tensor;
use candle_nn::VarBuilder;
use embench_core::Architecture;

/// A loaded network of one of the architectures candle runs here.
pub(crate) enum Network {
    /// BERT encoders (`candle-transformers`' `bert`).
    Bert(bert::Bert),
    /// XLM-RoBERTa encoders (`candle-transformers`' `xlm_roberta`).
    XlmRoberta(xlm_roberta::XlmRoberta),
    /// Qwen3 decoders (embench's own file: padding mask, no KV cache).
    Qwen3(qwen3::Qwen3),
    /// Gemma 3 text with bidirectional attention (embench's own file).
    Gemma3(gemma3::Gemma3),
}

/// The architectures [`Network::load`] builds.
pub(crate) const ARCHITECTURES: [Architecture; 4] =
    [Architecture::Bert, Architecture::XlmRoberta, Architecture::Qwen3, Architecture::Gemma3];

impl Network {
    /// Builds the network of `architecture` from `config.json`'s text and the weights in `vb`;
    /// returns it and its hidden size.
    ///
    /// Errors: an architecture candle does not run here, a `config.json` that is not
    /// the architecture's, or weights that do not match it.
    pub(crate) fn load(architecture: Architecture, config: &str, vb: VarBuilder) -> Result<(Self, usize), String> {
        match architecture {
            Architecture::Bert => bert::Bert::load(config, vb).map(|(n, h)| (Network::Bert(n), h)),
            Architecture::XlmRoberta => {
                xlm_roberta::XlmRoberta::load(config, vb).map(|(n, h)| (Network::XlmRoberta(n), h))
            }
            Architecture::Qwen3 => qwen3::Qwen3::load(config, vb).map(|(n, h)| (Network::Qwen3(n), h)),
            Architecture::Gemma3 => gemma3::Gemma3::load(config, vb).map(|(n, h)| (Network::Gemma3(n), h)),
            other => {
                let runs: Vec<&str> = ARCHITECTURES.iter().map(|a| a.name()).collect();
                Err(format!("the candle backend does not run {other} models (it runs: {})", runs.join(", ")))
            }
        }
    }

    /// The last hidden state of a batch: token ids, segment ids and the attention mask, `[batch, seq]` i64.
    pub(crate) fn forward(&self, ids: &Tensor, types: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Network::Bert(n) => n.forward(ids, types, mask),
            Network::XlmRoberta(n) => n.forward(ids, types, mask),
            Network::Qwen3(n) => n.forward(ids, mask),
            Network::Gemma3(n) => n.forward(ids, mask),
        }
    }
}
