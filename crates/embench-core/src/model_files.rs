//! A Hugging Face model folder on disk and the files each backend needs from it.

use std::path::{Path, PathBuf};

use crate::backend::BackendKind;
use crate::pooling::PoolingKind;

/// A local Hugging Face folder (`config.json`, `model.safetensors`, `tokenizer.json`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFolder {
    /// The folder.
    pub root: PathBuf,
}

impl ModelFolder {
    /// Wraps a folder path.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `config.json`.
    pub fn config_json(&self) -> PathBuf {
        self.root.join("config.json")
    }

    /// `model.safetensors`.
    pub fn safetensors(&self) -> PathBuf {
        self.root.join("model.safetensors")
    }

    /// `tokenizer.json`.
    pub fn tokenizer_json(&self) -> PathBuf {
        self.root.join("tokenizer.json")
    }

    /// Files `kind` cannot run without, relative to the folder.
    pub fn required_files(kind: BackendKind) -> &'static [&'static str] {
        match kind {
            BackendKind::Mock => &[],
            BackendKind::Candle => &["config.json", "model.safetensors", "tokenizer.json"],
            BackendKind::Ort | BackendKind::Openvino | BackendKind::Tch => &["config.json", "tokenizer.json"],
        }
    }

    /// The required files of `kind` that are missing.
    pub fn missing_files(&self, kind: BackendKind) -> Vec<PathBuf> {
        Self::required_files(kind).iter().map(|f| self.root.join(f)).filter(|p| !p.is_file()).collect()
    }

    /// Pooling from sentence-transformers' `1_Pooling/config.json`, if the folder has one.
    pub fn pooling_from_folder(&self) -> Result<Option<PoolingKind>, String> {
        let path = self.root.join("1_Pooling/config.json");
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
        let path = self.root.join("modules.json");
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
