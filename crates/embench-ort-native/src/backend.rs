//! What the ort-native crate provides to the binary's factory.

use std::path::PathBuf;

use embench_core::config::ResolvedBackend;
use embench_core::model_files::ModelFolder;
use embench_core::runtime_lib::{self, ONNXRUNTIME};
use embench_core::{Architecture, Backend, EmbedError, Embedder, LoadRequest, Modality, Phase};

use crate::{worker, OrtNativeSettings, FRAMEWORK};

/// ONNX Runtime's C++ API in a worker process: the converted ONNX graph of any
/// architecture the converter exports, as the ort backend runs it.
pub struct OrtNativeBackend;

impl Backend for OrtNativeBackend {
    fn version(&self) -> String {
        let library = runtime_lib::locate(&ONNXRUNTIME)
            .map_or_else(|e| format!("library missing: {e}"), |p| p.display().to_string());
        match worker() {
            Ok(w) => format!("C++ worker {} + {library}", w.display()),
            Err(why) => format!("{why} + {library}"),
        }
    }

    /// The worker is built (else "not built", with the fix) and the library loads.
    fn runtime_problem(&self) -> Option<String> {
        if let Err(why) = worker() {
            return Some(why);
        }
        runtime_lib::onnxruntime_problem()
    }

    fn architectures(&self) -> Option<&'static [Architecture]> {
        Some(&Architecture::ALL)
    }

    fn model_files(&self, folder: &ModelFolder, _backend: &ResolvedBackend) -> Vec<PathBuf> {
        folder.onnx_networks()
    }

    fn load(&self, request: &LoadRequest) -> Result<Box<dyn Embedder>, EmbedError> {
        request.cpu_only(FRAMEWORK)?;
        let library = runtime_lib::locate(&ONNXRUNTIME).map_err(|m| EmbedError::new(FRAMEWORK, Phase::Load, m))?;
        let settings = OrtNativeSettings {
            threads: request.threads,
            options: request.backend.ort.clone().expect("validation fills ort's options for ort-native"),
            modality: request.modality,
            image_size: match request.modality {
                Modality::Text => None,
                Modality::Image => Some(request.image_size(FRAMEWORK)?),
            },
        };
        Ok(Box::new(crate::load(&request.onnx_network(FRAMEWORK)?, &library, &settings)?))
    }
}
