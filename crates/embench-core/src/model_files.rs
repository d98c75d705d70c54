//! A model's directory on disk and the files each backend needs from it.
//!
//! The layout of `scripts/convert_models.sh`:
//!
//! ```text
//! models/<key>/pytorch/            the Hugging Face folder (config.json, model.safetensors, tokenizer.json)
//! models/<key>/onnx/model.onnx     sentence_embedding [batch, dim] (network and head), dynamic axes
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

/// sentence-transformers' file of a model's prompts (and its similarity function).
pub const PROMPTS_FILE: &str = "config_sentence_transformers.json";

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

    /// Every ONNX file a model's run may read: both towers' for a multimodal model
    /// ([`Self::has_towers`]), else [`Self::onnx_model`].
    pub fn onnx_networks(&self) -> Vec<PathBuf> {
        match self.has_towers() {
            true => crate::Modality::ALL.map(|m| self.tower(m, "onnx", ".onnx")).to_vec(),
            false => vec![self.onnx_model()],
        }
    }

    /// An OpenVINO IR (`.xml`; its `.bin` sits beside it).
    pub fn openvino_ir(&self, fp16_weights: bool) -> PathBuf {
        self.root.join(if fp16_weights { "openvino/model_fp16.xml" } else { "openvino/model_fp32.xml" })
    }

    /// The TorchScript export.
    pub fn torchscript(&self) -> PathBuf {
        self.root.join("torchscript/model.pt")
    }

    /// The file of one tower of a multimodal model (CLIP, SigLIP), as
    /// `scripts/python/convert_multimodal.py` names it: `dir/{text,vision}_model{suffix}`,
    /// e.g. `onnx/vision_model.onnx`, `openvino/text_model_fp32.xml`, `torchscript/vision_model.pt`.
    pub fn tower(&self, modality: crate::Modality, dir: &str, suffix: &str) -> PathBuf {
        let tower = match modality {
            crate::Modality::Text => "text_model",
            crate::Modality::Image => "vision_model",
        };
        self.root.join(format!("{dir}/{tower}{suffix}"))
    }

    /// Whether the folder is a multimodal model's (its `config.json`'s `model_type` is
    /// CLIP's or SigLIP's), converted one file per tower ([`Self::tower`]).
    pub fn has_towers(&self) -> bool {
        let model_type = read_json(&self.config_json())
            .ok()
            .flatten()
            .and_then(|j| j.get("model_type").and_then(|t| t.as_str()).and_then(crate::Architecture::from_model_type));
        model_type.is_some_and(|a| a.modalities().contains(&crate::Modality::Image))
    }

    /// The image processor's settings (`preprocessor_config.json`).
    pub fn preprocessor_config(&self) -> PathBuf {
        self.hf_dir().join("preprocessor_config.json")
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

    /// The folder of reference sets made with a prompt: `references/prompt-<name>/`
    /// (characters other than letters, digits, `-` and `_` become `_`); `references/` without one.
    pub fn references_dir(&self, prompt: Option<&str>) -> PathBuf {
        let dir = self.root.join("references");
        match prompt {
            None => dir,
            Some(p) => {
                let safe: String = p
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
                    .collect();
                dir.join(format!("prompt-{safe}"))
            }
        }
    }

    /// The reference set for `prompt` (None: no prompt) at `seq_len` tokens (None:
    /// natural length): [`Self::reference`] and [`Self::reference_at`] without a prompt,
    /// `references/prompt-<name>/natural.json` and `…/seq_N.json` with one.
    pub fn reference_for(&self, prompt: Option<&str>, seq_len: Option<usize>) -> PathBuf {
        match (prompt, seq_len) {
            (None, None) => self.reference(),
            (None, Some(n)) => self.reference_at(n),
            (Some(_), None) => self.references_dir(prompt).join("natural.json"),
            (Some(_), Some(n)) => self.references_dir(prompt).join(format!("seq_{n}.json")),
        }
    }

    /// The files that must exist beside a network file: an IR's `.bin` with its `.xml`.
    pub fn with_companions(network: PathBuf) -> Vec<PathBuf> {
        let bin = (network.extension().is_some_and(|e| e == "xml")).then(|| network.with_extension("bin"));
        std::iter::once(network).chain(bin).collect()
    }

    /// The modules of sentence-transformers' `modules.json`, in order (None without one).
    ///
    /// Errors: a `modules.json` that is not a list of modules with a `type`.
    pub fn modules(&self) -> Result<Option<Vec<StModule>>, String> {
        let path = self.hf_dir().join("modules.json");
        let Some(json) = read_json(&path)? else {
            return Ok(None);
        };
        let list = json.as_array().ok_or_else(|| format!("{}: expected a JSON array", path.display()))?;
        list.iter()
            .map(|m| {
                let type_name = m.get("type").and_then(|t| t.as_str()).ok_or_else(|| {
                    format!(
                        "{}: a module without a 'type' (fix: repair the file, or re-save the model)",
                        path.display()
                    )
                })?;
                Ok(StModule {
                    class: type_name.rsplit('.').next().unwrap_or(type_name).to_string(),
                    type_name: type_name.to_string(),
                    path: m.get("path").and_then(|p| p.as_str()).unwrap_or_default().to_string(),
                })
            })
            .collect::<Result<Vec<_>, String>>()
            .map(Some)
    }

    /// Pooling from sentence-transformers' `1_Pooling/config.json`, if the folder has one:
    /// `pooling_mode` (sentence-transformers 6: `"cls"`, `"mean"`, `"lasttoken"`) or the
    /// older `pooling_mode_*` flags.
    ///
    /// Errors: a mode embench does not run (`max`, `weightedmean`, `mean_sqrt_len_tokens`, …),
    /// naming the file and the field.
    pub fn pooling_from_folder(&self) -> Result<Option<PoolingKind>, String> {
        let path = self.hf_dir().join("1_Pooling/config.json");
        let Some(json) = read_json(&path)? else {
            return Ok(None);
        };
        let unsupported = |mode: &str| {
            format!(
                "{}: pooling mode '{mode}' is not one embench runs yet (cls, mean, lasttoken); set 'pooling' in models.yaml only if the model is really pooled that way",
                path.display()
            )
        };
        if let Some(mode) = json.get("pooling_mode") {
            // A single mode, or a list of one.
            let modes: Vec<&str> = match mode {
                serde_json::Value::String(m) => vec![m.as_str()],
                serde_json::Value::Array(list) => list.iter().filter_map(|m| m.as_str()).collect(),
                _ => Vec::new(),
            };
            return match modes.as_slice() {
                ["cls"] => Ok(Some(PoolingKind::Cls)),
                ["mean"] => Ok(Some(PoolingKind::Mean)),
                ["lasttoken"] => Ok(Some(PoolingKind::LastToken)),
                [other] => Err(unsupported(other)),
                _ => Err(unsupported(&mode.to_string())),
            };
        }
        let set: Vec<&str> = json
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, v)| k.starts_with("pooling_mode_") && v.as_bool() == Some(true))
            .map(|(k, _)| k.as_str())
            .collect();
        match set.as_slice() {
            ["pooling_mode_mean_tokens"] => Ok(Some(PoolingKind::Mean)),
            ["pooling_mode_cls_token"] => Ok(Some(PoolingKind::Cls)),
            ["pooling_mode_lasttoken"] => Ok(Some(PoolingKind::LastToken)),
            [] => Err(format!("{}: no pooling mode is set", path.display())),
            modes => Err(unsupported(&modes.join(" + "))),
        }
    }

    /// The prompts of [`PROMPTS_FILE`] by name (`{"query": "Instruct: …\nQuery:", "document": ""}`);
    /// empty when the folder has no such file or it names none.
    ///
    /// Errors: a file that is not JSON, or `prompts` that is not an object of strings.
    pub fn prompts(&self) -> Result<std::collections::BTreeMap<String, String>, String> {
        let path = self.hf_dir().join(PROMPTS_FILE);
        let Some(json) = read_json(&path)? else {
            return Ok(Default::default());
        };
        match json.get("prompts") {
            None | Some(serde_json::Value::Null) => Ok(Default::default()),
            Some(serde_json::Value::Object(map)) => map
                .iter()
                .map(|(k, v)| match v.as_str() {
                    Some(text) => Ok((k.clone(), text.to_string())),
                    None => Err(format!("{}: prompts.{k} is not a string (fix: repair the file)", path.display())),
                })
                .collect(),
            Some(_) => {
                Err(format!("{}: prompts is not an object of name: text (fix: repair the file)", path.display()))
            }
        }
    }

    /// `1_Pooling/config.json`'s `include_prompt` (true when absent, as sentence-transformers).
    pub fn include_prompt(&self) -> Result<bool, String> {
        let path = self.hf_dir().join("1_Pooling/config.json");
        Ok(read_json(&path)?.and_then(|j| j.get("include_prompt").and_then(|v| v.as_bool())).unwrap_or(true))
    }

    /// Whether sentence-transformers' `modules.json` has a Normalize module.
    pub fn normalize_from_folder(&self) -> Result<Option<bool>, String> {
        Ok(self.modules()?.map(|modules| modules.iter().any(|m| m.class == "Normalize")))
    }
}

/// One module of a sentence-transformers pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StModule {
    /// Its class: the last part of `type` (`Normalize` for both
    /// `sentence_transformers.models.Normalize` and sentence-transformers 6's
    /// `sentence_transformers.base.modules.normalize.Normalize`).
    pub class: String,
    /// `type` as written.
    pub type_name: String,
    /// Its folder, relative to the Hugging Face folder (empty: the folder itself).
    pub path: String,
}

/// A JSON file of a model folder: None when it does not exist; an error naming the
/// path when it cannot be read or parsed.
pub(crate) fn read_json(path: &Path) -> Result<Option<serde_json::Value>, String> {
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map(Some).map_err(|e| format!("{}: invalid JSON: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder with these files (path, contents) under its Hugging Face folder.
    fn folder(files: &[(&str, &str)]) -> (tempfile::TempDir, ModelFolder) {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let f = ModelFolder::new(dir.path());
        (dir, f)
    }

    #[test]
    fn both_sentence_transformers_layouts_are_read() {
        let old = r#"[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]"#;
        let (_d, f) = folder(&[
            ("config.json", "{}"),
            ("modules.json", old),
            (
                "1_Pooling/config.json",
                r#"{"word_embedding_dimension": 4, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}"#,
            ),
        ]);
        assert_eq!((f.pooling_from_folder(), f.normalize_from_folder()), (Ok(Some(PoolingKind::Cls)), Ok(Some(true))));
        // sentence-transformers 6 writes other module paths and one `pooling_mode`.
        let new = r#"[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.base.modules.transformer.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.sentence_transformer.modules.pooling.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.base.modules.normalize.Normalize"}]"#;
        let (_d, f) = folder(&[
            ("config.json", "{}"),
            ("modules.json", new),
            ("1_Pooling/config.json", r#"{"embedding_dimension": 4, "pooling_mode": "mean", "include_prompt": true}"#),
        ]);
        assert_eq!((f.pooling_from_folder(), f.normalize_from_folder()), (Ok(Some(PoolingKind::Mean)), Ok(Some(true))));
        // Qwen3-Embedding's last-token pooling, in both layouts.
        for config in [
            r#"{"pooling_mode": "lasttoken"}"#,
            r#"{"pooling_mode_lasttoken": true, "pooling_mode_mean_tokens": false}"#,
        ] {
            let (_d, f) = folder(&[("config.json", "{}"), ("1_Pooling/config.json", config)]);
            assert_eq!(f.pooling_from_folder(), Ok(Some(PoolingKind::LastToken)), "{config}");
        }
    }

    #[test]
    fn a_pooling_mode_embench_does_not_run_is_an_error_not_mean() {
        for config in [
            r#"{"pooling_mode": "weightedmean"}"#,
            r#"{"pooling_mode": ["mean", "max"]}"#,
            r#"{"pooling_mode_max_tokens": true, "pooling_mode_mean_tokens": false}"#,
            r#"{"pooling_mode_mean_tokens": true, "pooling_mode_max_tokens": true}"#,
        ] {
            let (_d, f) = folder(&[("config.json", "{}"), ("1_Pooling/config.json", config)]);
            let e = f.pooling_from_folder().unwrap_err();
            assert!(e.contains("1_Pooling/config.json") && e.contains("is not one embench runs yet"), "{e}");
        }
    }
}
