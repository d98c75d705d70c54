//! What the tch crate provides to the binary's factory.

use std::path::PathBuf;

use embench_core::config::{DeviceKind, ResolvedBackend};
use embench_core::model_files::ModelFolder;
use embench_core::variants;
use embench_core::{Architecture, Backend, EmbedError, Embedder, LoadRequest, Modality, Phase, Precision};

use crate::{TchEmbedder, TchSettings, LIBTORCH_VERSION, TCH_CRATE_VERSION};

/// The int8 variant's name in `torchscript/variants.json`.
const INT8: &str = "int8-dynamic";

/// libtorch through `tch`: the TorchScript export of any encoder the converter exports.
pub struct TchBackend;

impl Backend for TchBackend {
    fn version(&self) -> String {
        format!("libtorch {LIBTORCH_VERSION} (tch {TCH_CRATE_VERSION})")
    }

    /// bf16: floating-point parameters cast, outputs read back as f32; int8: the
    /// dynamically quantised TorchScript (`scripts/python/quantize_torch.py`).
    fn precisions(&self) -> &'static [Precision] {
        &[Precision::Fp32, Precision::Bf16, Precision::Int8]
    }

    fn architectures(&self) -> Option<&'static [Architecture]> {
        Some(&Architecture::ALL)
    }

    fn model_files(&self, folder: &ModelFolder, backend: &ResolvedBackend) -> Vec<PathBuf> {
        if backend.precision == Precision::Int8 && !folder.has_towers() {
            return variants::files(folder, "torchscript", INT8, "model_int8.pt");
        }
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
        if request.backend.precision == Precision::Int8 {
            if request.towers() {
                return Err(EmbedError::new(
                    "tch",
                    Phase::Load,
                    format!(
                        "precision int8 of model '{}': scripts/python/quantize_torch.py quantises text models only, not CLIP/SigLIP towers (fix: fp32 or bf16 for this model)",
                        request.model.key
                    ),
                ));
            }
            let variant = variants::resolve(folder, "torchscript", INT8, &request.model.key)
                .map_err(|e| EmbedError::new("tch", Phase::Load, e))?;
            let mut embedder = TchEmbedder::load(&variant.path, &settings)?;
            embedder.ran_variant(&variant);
            return Ok(Box::new(embedder));
        }
        let file = match request.towers() {
            true => folder.tower(request.modality, "torchscript", ".pt"),
            false => folder.torchscript(),
        };
        Ok(Box::new(TchEmbedder::load(&file, &settings)?))
    }
}
