//! What the tch crate provides to the binary's factory.

use std::path::PathBuf;

use embench_core::config::{DeviceKind, ResolvedBackend};
use embench_core::model_files::ModelFolder;
use embench_core::{Architecture, Backend, EmbedError, Embedder, LoadRequest, Modality, Precision};

use crate::{TchEmbedder, TchSettings, LIBTORCH_VERSION, TCH_CRATE_VERSION};

/// libtorch through `tch`: the TorchScript export of any encoder the converter exports.
pub struct TchBackend;

impl Backend for TchBackend {
    fn version(&self) -> String {
        format!("libtorch {LIBTORCH_VERSION} (tch {TCH_CRATE_VERSION})")
    }

    /// bf16: floating-point parameters cast, outputs read back as f32.
    fn precisions(&self) -> &'static [Precision] {
        &[Precision::Fp32, Precision::Bf16]
    }

    fn architectures(&self) -> Option<&'static [Architecture]> {
        Some(&Architecture::ALL)
    }

    fn model_files(&self, folder: &ModelFolder, _backend: &ResolvedBackend) -> Vec<PathBuf> {
        match folder.has_towers() {
            true => Modality::ALL.map(|m| folder.tower(m, "torchscript", ".pt")).to_vec(),
            false => vec![folder.torchscript()],
        }
    }

    fn load(&self, request: &LoadRequest) -> Result<Box<dyn Embedder>, EmbedError> {
        let folder = request.folder("tch")?;
        let settings = TchSettings {
            threads: Some(request.threads),
            cuda: request.backend.device == DeviceKind::Cuda,
            precision: request.backend.precision,
            pooling: request.model.pooling,
            modality: request.modality,
        };
        let file = match request.towers() {
            true => folder.tower(request.modality, "torchscript", ".pt"),
            false => folder.torchscript(),
        };
        Ok(Box::new(TchEmbedder::load(&file, &settings)?))
    }
}
