//! `configs/models.yaml`: the models embench knows about.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelType {
    /// Text in, one vector out (`embedding` is the same: the design's "Adding New Models" form).
    #[default]
    #[serde(alias = "embedding")]
    TextEmbedding,
    /// Text and images (CLIP, SigLIP); only the text tower is benchmarked for now.
    Multimodal,
}

/// One model's entry.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Display name (default: the key).
    #[serde(default)]
    pub name: Option<String>,
    /// `text_embedding` (default; `embedding` is the same) or `multimodal`.
    #[serde(rename = "type", default)]
    pub model_type: ModelType,
    /// Where the model lives on the Hugging Face Hub, e.g. `BAAI/bge-m3` (default: none,
    /// so `--fetch` cannot fetch it; `"-"` says the same).
    #[serde(default)]
    pub huggingface_id: Option<String>,
    /// The model's folder, relative to this file's directory (default: `../models/<key>`,
    /// where `scripts/convert_models.sh <key>` puts it). A folder that does not exist
    /// skips the model's cells with the command that makes it (an error under `strict`).
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
    /// Parameter count as the model card states it, e.g. `22.7M` (default: not stated;
    /// the memory estimate then counts a BERT-like encoder of `embedding_dim` width).
    #[serde(default)]
    pub params: Option<String>,
    /// Whether the model is multilingual (default: not stated; informational only).
    #[serde(default)]
    pub multilingual: Option<bool>,
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

impl ModelConfig {
    /// The folder of model `key` whose entry this is, in the models file `models_file`:
    /// `path` relative to that file's directory, else `../models/<key>` from it (where
    /// `scripts/convert_models.sh` writes a model without `path`).
    pub fn folder_path(&self, models_file: &Path, key: &str) -> PathBuf {
        let base = models_file.parent().unwrap_or(Path::new("."));
        let joined = match &self.path {
            Some(p) => base.join(&p.value),
            None => base.join("..").join("models").join(key),
        };
        // `a/b/../models` reads as `a/models` in messages (lexically: no link is followed).
        let mut out = PathBuf::new();
        for c in joined.components() {
            match c {
                Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                    out.pop();
                }
                other => out.push(other),
            }
        }
        out
    }

    /// The Hugging Face Hub id to fetch from (None: none given, or `-`).
    pub fn hub_id(&self) -> Option<&str> {
        self.huggingface_id.as_deref().filter(|id| !id.is_empty() && *id != "-")
    }
}
