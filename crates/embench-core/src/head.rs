//! A model's head: what turns the network's token states into one vector —
//! pooling, sentence-transformers' Dense layers, L2 normalisation — read from the
//! folder's sentence-transformers files (`modules.json`, `1_Pooling/config.json`,
//! `N_Dense/config.json`).
//!
//! Every backend runs the head inside its framework: the converted graphs hold it
//! (`scripts/python/convert_model.py`), candle runs [`crate::pooling::Pooling`] and the
//! [`DenseLayer`]s in its tensors, python-torch eager runs sentence-transformers'.
//! Validation reads the layers to check that they chain, that the model's
//! `embedding_dim` is reachable, and that no backend would run without them.

use serde::{Deserialize, Serialize};

use crate::model_files::{read_json, ModelFolder};

/// One sentence-transformers `Dense` module: `activation(x W^T + b)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DenseLayer {
    /// Input size.
    pub in_features: usize,
    /// Output size.
    pub out_features: usize,
    /// Whether it adds a bias.
    pub bias: bool,
    /// The activation's class, as sentence-transformers writes it
    /// (`torch.nn.modules.linear.Identity`, `torch.nn.modules.activation.Tanh`).
    pub activation_function: String,
    /// The module's folder, for messages.
    #[serde(skip)]
    pub path: String,
}

/// The Dense layers of `folder`'s `modules.json`, in order (none without a `modules.json`).
///
/// Errors: a `modules.json` or Dense `config.json` that cannot be read or lacks a
/// field, named with its path.
pub fn dense_layers(folder: &ModelFolder) -> Result<Vec<DenseLayer>, String> {
    let hf = folder.hf_dir();
    let mut layers: Vec<DenseLayer> = Vec::new();
    for m in folder.modules()?.unwrap_or_default().iter().filter(|m| m.class == "Dense") {
        let path = hf.join(&m.path).join("config.json");
        let value =
            read_json(&path)?.ok_or_else(|| format!("{}: the Dense module's config is missing", path.display()))?;
        let mut layer: DenseLayer = serde_json::from_value(value).map_err(|e| format!("{}: {e}", path.display()))?;
        layer.path = hf.join(&m.path).display().to_string();
        // Each layer takes what the one before puts out; the first, the pooled token state.
        let (expected, from) = match layers.last() {
            Some(prev) => (Some(prev.out_features), format!("{}/config.json's out_features", prev.path)),
            None => (
                read_json(&folder.config_json())?
                    .and_then(|c| c.get("hidden_size").and_then(|h| h.as_u64()))
                    .map(|h| h as usize),
                format!("{}'s hidden_size", folder.config_json().display()),
            ),
        };
        if let Some(expected) = expected.filter(|&e| e != layer.in_features) {
            return Err(format!(
                "{}: in_features {} does not chain: {from} is {expected} (fix: repair the Dense config, or re-save the model)",
                path.display(),
                layer.in_features
            ));
        }
        layers.push(layer);
    }
    Ok(layers)
}

/// sentence-transformers' name of the identity activation (EmbeddingGemma's Dense layers use it).
pub const IDENTITY: &str = "torch.nn.modules.linear.Identity";

/// The module classes a sentence-transformers pipeline may have for embench to run it.
pub const KNOWN_MODULES: [&str; 4] = ["Transformer", "Pooling", "Dense", "Normalize"];

/// The modules of `folder`'s pipeline that embench does not know (none without a `modules.json`).
///
/// Errors: a `modules.json` that cannot be read.
pub fn unknown_modules(folder: &ModelFolder) -> Result<Vec<String>, String> {
    Ok(folder
        .modules()?
        .unwrap_or_default()
        .into_iter()
        .filter(|m| !KNOWN_MODULES.contains(&m.class.as_str()))
        .map(|m| m.type_name)
        .collect())
}
