//! What the ort crate provides to the binary's factory.

use std::path::PathBuf;

use embench_core::config::{BlockSchema, ConfigError, ResolvedBackend, Settings, SettingsSource};
use embench_core::model_files::ModelFolder;
use embench_core::{Architecture, Backend, BackendKind, EmbedError, Embedder, LoadRequest};

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

    fn model_files(&self, folder: &ModelFolder, _backend: &ResolvedBackend) -> Vec<PathBuf> {
        folder.onnx_networks()
    }

    fn settings_block(&self) -> Option<BlockSchema> {
        Some(BlockSchema::of::<OrtBlock>(vec![BackendKind::Ort]))
    }

    fn settings(&self, source: &SettingsSource) -> Result<Option<Settings>, Vec<ConfigError>> {
        crate::settings::settings(source)
    }

    fn load(&self, request: &LoadRequest) -> Result<Box<dyn Embedder>, EmbedError> {
        request.cpu_only("ort")?;
        let settings = OrtSettings {
            threads: Some(request.threads),
            options: request.backend.settings::<OrtOptions>().cloned().unwrap_or_default(),
            pooling: request.model.pooling,
        };
        Ok(Box::new(OrtEmbedder::load(&request.onnx_network("ort")?, &settings)?))
    }
}
