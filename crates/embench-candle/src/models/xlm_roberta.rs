//! XLM-RoBERTa encoders (BGE-M3, multilingual-e5) through `candle-transformers`'
//! `xlm_roberta`. Positions start after the padding id (RoBERTa's layout), computed
//! from the token ids as transformers does (`create_position_ids_from_input_ids`).

use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::xlm_roberta::{Config, XLMRobertaModel};

/// A loaded XLM-RoBERTa encoder.
pub(crate) struct XlmRoberta(XLMRobertaModel);

impl XlmRoberta {
    /// Builds it from `config.json`'s text; returns it and its hidden size.
    pub(crate) fn load(config: &str, vb: VarBuilder) -> Result<(Self, usize), String> {
        let mut json: serde_json::Value =
            serde_json::from_str(config).map_err(|e| format!("not a JSON config: {e}"))?;
        // transformers 5 no longer writes `position_embedding_type` (absolute is the
        // only one XLM-R uses); candle's Config requires it.
        if let Some(map) = json.as_object_mut() {
            map.entry("position_embedding_type").or_insert_with(|| "absolute".into());
        }
        let config: Config = serde_json::from_value(json).map_err(|e| format!("not an XLM-RoBERTa config: {e}"))?;
        if config.position_embedding_type != "absolute" {
            return Err(format!(
                "position_embedding_type '{}' is not one candle's XLM-RoBERTa runs (absolute)",
                config.position_embedding_type
            ));
        }
        let model = XLMRobertaModel::new(&config, vb).map_err(|e| e.to_string())?;
        Ok((Self(model), config.hidden_size))
    }

    /// The last hidden state. candle's embeddings compare the ids with the padding
    /// id as u32, so ids and segment ids go in as u32.
    pub(crate) fn forward(&self, ids: &Tensor, types: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let (ids, types) = (ids.to_dtype(DType::U32)?, types.to_dtype(DType::U32)?);
        self.0.forward(&ids, mask, &types, None, None, None)
    }
}
