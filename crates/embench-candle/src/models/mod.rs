//! One file per architecture candle runs, each loading its network from the
//! folder's `config.json` and weights and returning the last hidden state
//! (`[batch, seq, hidden]`); pooling and normalisation follow in `embench-core`.
//! As TEI keeps one file per architecture under `backends/candle/src/models/`.

mod bert;
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
}

/// The architectures [`Network::load`] builds.
pub(crate) const ARCHITECTURES: [Architecture; 2] = [Architecture::Bert, Architecture::XlmRoberta];

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
            other => Err(format!("the candle backend does not run {other} models (it runs: bert, xlm-roberta)")),
        }
    }

    /// The last hidden state of a batch: token ids, segment ids and the attention mask, `[batch, seq]` i64.
    pub(crate) fn forward(&self, ids: &Tensor, types: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Network::Bert(n) => n.forward(ids, types, mask),
            Network::XlmRoberta(n) => n.forward(ids, types, mask),
        }
    }
}
