//! What the candle crate provides to the binary's factory.

use std::path::PathBuf;

use embench_core::config::{DeviceKind, ResolvedBackend};
use embench_core::model_files::ModelFolder;
use embench_core::{Architecture, Backend, EmbedError, Embedder, LoadRequest, Phase};

use crate::{CandleEmbedder, CandleSettings, CandleTower, CANDLE_VERSION};

/// candle: BERT and XLM-RoBERTa (`candle-transformers`' models), Qwen3 and
/// bidirectional Gemma 3 (embench's own files), with the head in candle; CPU or CUDA.
pub struct CandleBackend;

impl Backend for CandleBackend {
    fn version(&self) -> String {
        CANDLE_VERSION.to_string()
    }

    /// Every one: its own networks ([`crate::models::ARCHITECTURES`]) and the towers of
    /// candle-transformers' CLIP and SigLIP ([`CandleTower`]).
    fn architectures(&self) -> Option<&'static [Architecture]> {
        Some(&Architecture::ALL)
    }

    fn model_files(&self, folder: &ModelFolder, _backend: &ResolvedBackend) -> Vec<PathBuf> {
        vec![folder.safetensors()]
    }

    fn load(&self, request: &LoadRequest) -> Result<Box<dyn Embedder>, EmbedError> {
        let model = request.model;
        if let Some(arch @ (Architecture::Clip | Architecture::Siglip)) = model.architecture {
            let threads = crate::configure_threads(Some(request.threads));
            let device = crate::open_device(request.backend.device == DeviceKind::Cuda)?;
            return Ok(Box::new(CandleTower::load(
                request.folder("candle")?,
                arch,
                request.modality,
                device,
                threads,
            )?));
        }
        // A model embench cannot name (a `model_type` it does not know) passes
        // validation for the converted backends; candle's own networks would misread it.
        let Some(architecture) = model.architecture.filter(|a| crate::models::ARCHITECTURES.contains(a)) else {
            let what =
                model.architecture.map_or_else(|| "an architecture embench does not know".into(), |a| a.to_string());
            let runs: Vec<&str> = crate::models::ARCHITECTURES.iter().map(|a| a.name()).collect();
            return Err(EmbedError::new(
                "candle",
                Phase::Load,
                format!(
                    "model '{}' is {what}; the candle backend runs {} models (fix: remove candle for this model)",
                    model.key,
                    runs.join(", ")
                ),
            ));
        };
        let settings = CandleSettings {
            threads: Some(request.threads),
            cuda: request.backend.device == DeviceKind::Cuda,
            pooling: model.pooling,
            architecture,
        };
        Ok(Box::new(CandleEmbedder::load(request.folder("candle")?, &settings)?))
    }
}
