//! BERT encoders (MiniLM, bge-small, e5-small) through `candle-transformers`' `bert`.

use candle_core::Tensor;
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};

/// A loaded BERT encoder.
pub(crate) struct Bert(BertModel);

impl Bert {
    /// Builds it from `config.json`'s text; returns it and its hidden size.
    pub(crate) fn load(config: &str, vb: VarBuilder) -> Result<(Self, usize), String> {
        let config: Config = serde_json::from_str(config).map_err(|e| format!("not a BERT config: {e}"))?;
        let model = BertModel::load(vb, &config).map_err(|e| e.to_string())?;
        Ok((Self(model), config.hidden_size))
    }

    /// The last hidden state.
    pub(crate) fn forward(&self, ids: &Tensor, types: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        self.0.forward(ids, types, Some(mask))
    }
}
