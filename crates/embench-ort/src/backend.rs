//! What the ort crate provides to the binary's factory.

use std::path::PathBuf;

use embench_core::config::{BlockSchema, ConfigError, ResolvedBackend, Settings, SettingsSource};
use embench_core::model_files::ModelFolder;
use embench_core::variants;
use embench_core::{Architecture, Backend, BackendKind, EmbedError, Embedder, LoadRequest, Phase, Precision};

use crate::settings::{OrtBlock, OrtOptions};
use crate::{runtime_library, OrtEmbedder, OrtSettings, ORT_CRATE_VERSION};

/// ONNX Runtime through `ort`: the converted ONNX graph of any encoder the converter exports.
pub struct OrtBackend;

impl Backend for OrtBackend {
    fn version(&self) -> String {
        match runtime_library() {
            Ok(path) => format!("ort {ORT_CRATE_VERSION} + {}", path.display()),
            Err(why) => format!("ort {ORT_CRATE_VERSION} (library missing: {why})"),
        }
    }

    fn runtime_problem(&self) -> Option<String> {
        embench_core::runtime_lib::onnxruntime_problem()
    }

    fn architectures(&self) -> Option<&'static [Architecture]> {
        Some(&Architecture::ALL)
    }

    /// fp32 (`model.onnx`), and the variants `scripts/python/quantize_onnx.py` makes of a
    /// text model: fp16 (`model_fp16.onnx`) and int8 (`ort: {quantization: dynamic |
    /// static}`). bf16 is not offered: ONNX Runtime's CPU provider has no bf16 MatMul.
    fn precisions(&self) -> &'static [Precision] {
        &[Precision::Fp32, Precision::Fp16, Precision::Int8]
    }

    fn model_files(&self, folder: &ModelFolder, backend: &ResolvedBackend) -> Vec<PathBuf> {
        let options = backend.settings::<OrtOptions>().cloned().unwrap_or_default();
        match options.variant(backend.precision) {
            Some(name) if !folder.has_towers() => variants::files(folder, "onnx", name, &file_of(name)),
            _ => folder.onnx_networks(),
        }
    }

    fn settings_block(&self) -> Option<BlockSchema> {
        Some(BlockSchema::of::<OrtBlock>(vec![BackendKind::Ort]))
    }

    fn settings(&self, source: &SettingsSource) -> Result<Option<Settings>, Vec<ConfigError>> {
        crate::settings::settings(source)
    }

    fn load(&self, request: &LoadRequest) -> Result<Box<dyn Embedder>, EmbedError> {
        request.cpu_only("ort")?;
        let options = request.backend.settings::<OrtOptions>().cloned().unwrap_or_default();
        let variant = match options.variant(request.backend.precision) {
            None => None,
            Some(_) if request.towers() => {
                return Err(EmbedError::new(
                    "ort",
                    Phase::Load,
                    format!(
                        "precision {} of model '{}': scripts/python/quantize_onnx.py makes variants of text models only, not of CLIP/SigLIP towers (fix: precision: fp32 for this model)",
                        request.backend.precision, request.model.key
                    ),
                ))
            }
            Some(name) => Some(
                variants::resolve(request.folder("ort")?, "onnx", name, &request.model.key)
                    .map_err(|e| EmbedError::new("ort", Phase::Load, e))?,
            ),
        };
        let settings = OrtSettings { threads: Some(request.threads), options, pooling: request.model.pooling };
        let path = match &variant {
            Some(v) => v.path.clone(),
            None => request.onnx_network("ort")?,
        };
        let mut embedder = OrtEmbedder::load(&path, &settings)?;
        if let Some(v) = variant {
            embedder.ran_variant(request.backend.precision, &v);
        }
        Ok(Box::new(embedder))
    }
}

/// The file `scripts/python/quantize_onnx.py` gives variant `name` (`int8-dynamic` ->
/// `model_int8_dynamic.onnx`), for the missing-file check before it has a record.
fn file_of(name: &str) -> String {
    format!("model_{}.onnx", name.replace('-', "_"))
}
