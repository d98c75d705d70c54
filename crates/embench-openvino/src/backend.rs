//! What the openvino crate provides to the binary's factory.

use std::path::PathBuf;

use embench_core::config::{BlockSchema, ConfigError, ResolvedBackend, Settings, SettingsSource};
use embench_core::model_files::ModelFolder;
use embench_core::{Architecture, Backend, BackendKind, EmbedError, Embedder, LoadRequest, Modality, Phase, Precision};

use crate::settings::{ModelFormat, OpenvinoBlock, OpenvinoOptions, OpenvinoQuantization};
use embench_core::variants;

use crate::{runtime_library, OpenvinoEmbedder, OpenvinoSettings};

/// OpenVINO through the `openvino` crate: the converted IR (or ONNX) of any encoder the converter exports.
pub struct OpenvinoBackend;

impl Backend for OpenvinoBackend {
    fn version(&self) -> String {
        match runtime_library() {
            Ok(path) => path.display().to_string(),
            Err(why) => format!("library missing: {why}"),
        }
    }

    fn runtime_problem(&self) -> Option<String> {
        embench_core::runtime_lib::unusable(runtime_library())
    }

    fn architectures(&self) -> Option<&'static [Architecture]> {
        Some(&Architecture::ALL)
    }

    fn model_files(&self, folder: &ModelFolder, backend: &ResolvedBackend) -> Vec<PathBuf> {
        if let Some(q) = int8(backend).filter(|_| !folder.has_towers()) {
            return variants::files(folder, "openvino", q.variant(), q.file());
        }
        match folder.has_towers() {
            true => Modality::ALL
                .into_iter()
                .flat_map(|m| ModelFolder::with_companions(tower_file(folder, backend, m)))
                .collect(),
            false => ModelFolder::with_companions(network_file(folder, backend)),
        }
    }

    /// fp16 and bf16 are inference precision hints (a CPU without bf16 runs fp32,
    /// recorded); int8 runs an IR NNCF made (`openvino: {quantization: static | weights}`).
    fn precisions(&self) -> &'static [Precision] {
        &[Precision::Fp32, Precision::Bf16, Precision::Fp16, Precision::Int8]
    }

    fn settings_block(&self) -> Option<BlockSchema> {
        Some(BlockSchema::of::<OpenvinoBlock>(vec![BackendKind::Openvino]))
    }

    fn settings(&self, source: &SettingsSource) -> Result<Option<Settings>, Vec<ConfigError>> {
        crate::settings::settings(source)
    }

    fn load(&self, request: &LoadRequest) -> Result<Box<dyn Embedder>, EmbedError> {
        request.cpu_only("openvino")?;
        let folder = request.folder("openvino")?;
        let file = match request.towers() {
            true => tower_file(folder, request.backend, request.modality),
            false => network_file(folder, request.backend),
        };
        let settings = OpenvinoSettings {
            threads: Some(request.threads),
            precision: request.backend.precision,
            options: request.backend.settings::<OpenvinoOptions>().cloned().unwrap_or_default(),
            pooling: request.model.pooling,
        };
        let Some(q) = int8(request.backend) else {
            return Ok(Box::new(OpenvinoEmbedder::load(&file, &settings)?));
        };
        if request.towers() {
            return Err(EmbedError::new(
                "openvino",
                Phase::Load,
                format!(
                    "precision int8 of model '{}': scripts/python/quantize_openvino.py makes int8 IRs of text models only, not of CLIP/SigLIP towers (fix: another precision for this model)",
                    request.model.key
                ),
            ));
        }
        let variant = variants::resolve(folder, "openvino", q.variant(), &request.model.key)
            .map_err(|e| EmbedError::new("openvino", Phase::Load, e))?;
        let mut embedder = OpenvinoEmbedder::load(&variant.path, &settings)?;
        embedder.ran_variant(&variant);
        Ok(Box::new(embedder))
    }
}

/// The file the backend reads, as `model_format` chooses it: the fp32 IR (default),
/// the fp16-weight IR, or the ONNX export read directly.
fn network_file(folder: &ModelFolder, backend: &ResolvedBackend) -> PathBuf {
    match backend.settings::<OpenvinoOptions>().map(|o| o.model_format) {
        Some(ModelFormat::Onnx) => folder.onnx_model(),
        Some(ModelFormat::IrFp16) => folder.openvino_ir(true),
        _ => folder.openvino_ir(false),
    }
}

/// A multimodal model's tower file, as `model_format` chooses it
/// (`openvino/vision_model_fp32.xml`, `…_fp16.xml`, or `onnx/vision_model.onnx`).
fn tower_file(folder: &ModelFolder, backend: &ResolvedBackend, modality: Modality) -> PathBuf {
    match backend.settings::<OpenvinoOptions>().map(|o| o.model_format) {
        Some(ModelFormat::Onnx) => folder.tower(modality, "onnx", ".onnx"),
        Some(ModelFormat::IrFp16) => folder.tower(modality, "openvino", "_fp16.xml"),
        _ => folder.tower(modality, "openvino", "_fp32.xml"),
    }
}

/// The int8 IR a backend entry runs (None: not int8).
fn int8(backend: &ResolvedBackend) -> Option<OpenvinoQuantization> {
    (backend.precision == Precision::Int8)
        .then(|| backend.settings::<OpenvinoOptions>().and_then(|o| o.quantization).unwrap_or_default())
}
