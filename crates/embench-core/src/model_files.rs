//! A model's directory on disk and the files each backend needs from it.
//!
//! The layout of `scripts/convert_models.sh`:
//!
//! ```text
//! models/<key>/pytorch/            the Hugging Face folder (config.json, model.safetensors, tokenizer.json)
//! models/<key>/onnx/model.onnx     last_hidden_state, dynamic axes
//! models/<key>/openvino/model_fp32.xml, model_fp16.xml
//! models/<key>/torchscript/model.pt
//! models/<key>/reference.json      the probe set's reference embeddings (the correctness gate)
//! models/<key>/references/seq_N.json  the same at exactly N tokens
//! ```
//!
//! A plain Hugging Face folder (no `pytorch/` inside) also works as `path`, for the
//! backends that read it directly (candle).

use std::path::{Path, PathBuf};

use crate::pooling::PoolingKind;

/// A model's directory: the Hugging Face folder and the converted files beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFolder {
    /// `models/<key>` (or a plain Hugging Face folder).
    pub root: PathBuf,
}

impl ModelFolder {
    /// Wraps a folder path.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The Hugging Face folder: `pytorch/` when the root has one, else the root.
    pub fn hf_dir(&self) -> PathBuf {
        let nested = self.root.join("pytorch");
        if nested.join("config.json").is_file() || !self.root.join("config.json").is_file() {
            nested
        } else {
            self.root.clone()
        }
    }

    /// `config.json`.
    pub fn config_json(&self) -> PathBuf {
        self.hf_dir().join("config.json")
    }

    /// `model.safetensors`.
    pub fn safetensors(&self) -> PathBuf {
        self.hf_dir().join("model.safetensors")
    }

    /// `tokenizer.json`.
    pub fn tokenizer_json(&self) -> PathBuf {
        self.hf_dir().join("tokenizer.json")
    }

    /// The ONNX export.
    pub fn onnx_model(&self) -> PathBuf {
        self.root.join("onnx/model.onnx")
    }

    /// An OpenVINO IR (`.xml`; its `.bin` sits beside it).
    pub fn openvino_ir(&self, fp16_weights: bool) -> PathBuf {
        self.root.join(if fp16_weights { "openvino/model_fp16.xml" } else { "openvino/model_fp32.xml" })
    }

    /// The TorchScript export.
    pub fn torchscript(&self) -> PathBuf {
        self.root.join("torchscript/model.pt")
    }

    /// Reference embeddings of the probe set at natural length, written by the conversion.
    pub fn reference(&self) -> PathBuf {
        self.root.join("reference.json")
    }

    /// Reference embeddings of the probe set at exactly `seq_len` tokens
    /// (`scripts/python/make_references.py`).
    pub fn reference_at(&self, seq_len: usize) -> PathBuf {
        self.root.join(format!("references/seq_{seq_len}.json"))
    }

    /// The files that must exist beside a network file: an IR's `.bin` with its `.xml`.
    pub fn with_companions(network: PathBuf) -> Vec<PathBuf> {
        let bin = (network.extension().is_some_and(|e| e == "xml")).then(|| network.with_extension("bin"));
        std::iter::once(network).chain(bin).collect()
    }

    /// Pooling from sentence-transformers' `1_Pooling/config.json`, if the folder has one.
    pub fn pooling_from_folder(&self) -> Result<Option<PoolingKind>, String> {
        let path = self.hf_dir().join("1_Pooling/config.json");
        let Some(json) = read_json(&path)? else {
            return Ok(None);
        };
        let flag = |k: &str| json.get(k).and_then(|v| v.as_bool()).unwrap_or(false);
        if flag("pooling_mode_mean_tokens") {
            Ok(Some(PoolingKind::Mean))
        } else if flag("pooling_mode_cls_token") {
            Ok(Some(PoolingKind::Cls))
        } else {
            Err(format!(
                "{}: only mean and CLS pooling are supported; set 'pooling' in models.yaml to override",
                path.display()
            ))
        }
    }

    /// Whether sentence-transformers' `modules.json` ends in a Normalize module.
    pub fn normalize_from_folder(&self) -> Result<Option<bool>, String> {
        let path = self.hf_dir().join("modules.json");
        let Some(json) = read_json(&path)? else {
            return Ok(None);
        };
        let modules = json.as_array().ok_or_else(|| format!("{}: expected a JSON array", path.display()))?;
        Ok(Some(
            modules
                .iter()
                .any(|m| m.get("type").and_then(|t| t.as_str()).is_some_and(|t| t.ends_with("models.Normalize"))),
        ))
    }
}

fn read_json(path: &Path) -> Result<Option<serde_json::Value>, String> {
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map(Some).map_err(|e| format!("{}: invalid JSON: {e}", path.display()))
}
