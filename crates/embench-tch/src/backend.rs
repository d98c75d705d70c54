//! What the tch crate provides to the binary's factory.

use std::path::PathBuf;

use embench_core::config::{DeviceKind, ResolvedBackend};
use embench_core::model_files::ModelFolder;
use embench_core::{Architecture, Backend, EmbedError, Embedder, LoadRequest};

use crate::{TchEmbedder, TchSettings, LIBTORCH_VERSION, TCH_CRATE_VERSION};

/// libtorch through `tch`: the TorchScript export of any encoder the converter exports.
pub struct TchBackend;

impl Backend for TchBackend {
    fn version(&self) -> String {
        format!("libtorch {LIBTORCH_VERSION} (tch {TCH_CRATE_VERSION})")
    }

    fn architectures(&self) -> Option<&'static [Architecture]> {
        Some(&[Architecture::Bert, Architecture::XlmRoberta, Architecture::Qwen3, Architecture::Gemma3])
    }

    fn model_files(&self, folder: &ModelFolder, _backend: &ResolvedBackend) -> Vec<PathBuf> {
        vec![folder.torchscript()]
    }

    fn load(&self, request: &LoadRequest) -> Result<Box<dyn Embedder>, EmbedError> {
        let folder = request.folder("tch")?;
        let settings = TchSettings {
            threads: Some(request.threads),
            cuda: request.backend.device == DeviceKind::Cuda,
            precision: request.backend.precision,
            pooling: request.model.pooling,
        };
        Ok(Box::new(TchEmbedder::load(&folder.torchscript(), &settings)?))
    }
}
