//! `configs/models.yaml`: the models embench knows about.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::pooling::PoolingKind;

/// The whole `models.yaml` file.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelsFile {
    /// Models by key (the key is what `active_models` names).
    pub models: BTreeMap<String, ModelConfig>,
}

/// What kind of model it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelType {
    /// Text in, one vector out.
    TextEmbedding,
    /// Text and images (CLIP, SigLIP); only the text tower is benchmarked for now.
    Multimodal,
}

/// One model's entry.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Display name.
    pub name: String,
    /// `text_embedding` or `multimodal`.
    #[serde(rename = "type")]
    pub model_type: ModelType,
    /// Where the model lives on the Hugging Face hub.
    pub huggingface_id: String,
    /// Local Hugging Face folder, relative to this file's directory.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub path: Option<Spanned<String>>,
    /// Network family (`bert`, `xlm-roberta`, `gemma3`, `qwen3`, `siglip`, `clip`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub architecture: Option<Spanned<String>>,
    /// Longest input the model accepts, in tokens.
    #[schemars(with = "usize")]
    pub max_seq_length: Spanned<usize>,
    /// Size of one embedding: the head's output, or less to truncate each vector to its
    /// first values (Matryoshka, as sentence-transformers' `truncate_dim`; re-normalised
    /// when the model normalises).
    #[schemars(with = "usize")]
    pub embedding_dim: Spanned<usize>,
    /// Parameter count as the model card states it, e.g. `22.7M`.
    pub params: String,
    /// Whether the model is multilingual.
    pub multilingual: bool,
    /// Pooling; when absent, read from the folder's `1_Pooling/config.json`.
    #[serde(default)]
    pub pooling: Option<PoolingKind>,
    /// L2-normalise embeddings; when absent, true if the folder's `modules.json` has a Normalize module.
    #[serde(default)]
    pub normalize: Option<bool>,
    /// Image side in pixels (multimodal models).
    #[serde(default)]
    pub image_size: Option<usize>,
    /// Modalities (multimodal models).
    #[serde(default)]
    pub modalities: Option<Vec<String>>,
}
