//! What the ort crate provides to the binary's factory.

use std::path::PathBuf;

use embench_core::config::ResolvedBackend;
use embench_core::model_files::ModelFolder;
use embench_core::{Architecture, Backend, EmbedError, Embedder, LoadRequest, Modality};

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
        embench_core::runtime_lib::unusable(runtime_library())
    }

    fn architectures(&self) -> Option<&'static [Architecture]> {
        Some(&Architecture::ALL)
    }

    fn model_files(&self, folder: &ModelFolder, _backend: &ResolvedBackend) -> Vec<PathBuf> {
        match folder.has_towers() {
            true => Modality::ALL.map(|m| folder.tower(m, "onnx", ".onnx")).to_vec(),
            false => vec![folder.onnx_model()],
        }
    }

    fn load(&self, request: &LoadRequest) -> Result<Box<dyn Embedder>, EmbedError> {
        request.cpu_only("ort")?;
        let folder = request.folder("ort")?;
        let settings = OrtSettings {
            threads: Some(request.threads),
            options: request.backend.ort.clone().expect("validation fills ort options"),
            pooling: request.model.pooling,
        };
        let file = match request.towers() {
            true => folder.tower(request.modality, "onnx", ".onnx"),
            false => folder.onnx_model(),
        };
        Ok(Box::new(OrtEmbedder::load(&file, &settings)?))
    }
}
