//! The candle backend: BERT and XLM-RoBERTa encoders and Qwen3 decoders from a Hugging Face folder
//! (`config.json`, `model.safetensors`), one file per architecture under
//! [`models`](crate::models), forward pass and the sentence-transformers head
//! (pooling, Dense, Normalize: [`head`](crate::head)) in candle's tensors.

#![warn(missing_docs)]

mod backend;
mod head;
mod models;
mod towers;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use embench_core::model_files::ModelFolder;
use embench_core::pooling::Pooling;
use embench_core::{
    Architecture, BackendInfo, EmbedError, Embedder, Embeddings, Phase, PhaseContext, Precision, TokenizedBatch,
};

pub use backend::CandleBackend;
use head::Head;
use models::Network;
pub use towers::CandleTower;

/// The candle release this crate is built against; a test checks it against Cargo.lock.
pub const CANDLE_VERSION: &str = "0.11.1";

const FRAMEWORK: &str = "candle";

/// How to load the model.
#[derive(Debug, Clone)]
pub struct CandleSettings {
    /// Intra-op threads (None: candle's default, the physical core count).
    pub threads: Option<usize>,
    /// Run on the first CUDA GPU (needs the `cuda` feature).
    pub cuda: bool,
    /// Pooling and normalisation of the model.
    pub pooling: Pooling,
    /// The network family (one of [`models::ARCHITECTURES`]).
    pub architecture: Architecture,
}

/// A loaded model of one of the architectures in [`models`](crate::models).
pub struct CandleEmbedder {
    model: Network,
    device: Device,
    head: Head,
    info: BackendInfo,
}

impl CandleEmbedder {
    /// Loads the model in `folder`.
    pub fn load(folder: &ModelFolder, settings: &CandleSettings) -> Result<Self, EmbedError> {
        let threads = configure_threads(settings.threads);
        let device = open_device(settings.cuda)?;
        let config_text = std::fs::read_to_string(folder.config_json())
            .map_err(|e| EmbedError::new(FRAMEWORK, Phase::Load, format!("{}: {e}", folder.config_json().display())))?;
        // SAFETY: the weights file is memory-mapped read-only; embench never writes to it while loaded.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[folder.safetensors()], DType::F32, &device) }
            .in_phase(FRAMEWORK, Phase::Load)?;
        let (model, _hidden) = Network::load(settings.architecture, &config_text, vb)
            .map_err(|e| EmbedError::new(FRAMEWORK, Phase::Load, format!("{}: {e}", folder.config_json().display())))?;
        let head =
            Head::load(folder, settings.pooling, &device).map_err(|e| EmbedError::new(FRAMEWORK, Phase::Load, e))?;
        let device_name = match &device {
            Device::Cpu => "cpu".to_string(),
            other => format!("{other:?}"),
        };
        Ok(Self {
            model,
            device,
            head,
            info: BackendInfo {
                framework: FRAMEWORK.into(),
                framework_version: CANDLE_VERSION.into(),
                device: device_name,
                precision: Precision::Fp32,
                intra_op_threads: threads,
                settings: Default::default(),
                notes: Vec::new(),
            },
        })
    }
}

/// Sets candle's CPU thread count and returns what will actually be used.
///
/// NOTE: candle's matmul (the `gemm` crate) reads `RAYON_NUM_THREADS` on every
/// call and runs on rayon's global pool, which can be sized only once per
/// process; see candle-core `utils::get_num_threads`. The effective count is the
/// smaller of the two.
pub(crate) fn configure_threads(requested: Option<usize>) -> usize {
    if let Some(n) = requested {
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
        // Fails harmlessly when the global pool already exists.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(n).build_global();
    }
    candle_core::utils::get_num_threads().min(rayon::current_num_threads())
}

pub(crate) fn open_device(cuda: bool) -> Result<Device, EmbedError> {
    if !cuda {
        return Ok(Device::Cpu);
    }
    if !candle_core::utils::cuda_is_available() {
        return Err(EmbedError::new(
            FRAMEWORK,
            Phase::Load,
            "device 'cuda' asked for, but this binary's candle has no CUDA support (fix: build with `--features candle-cuda`, or set device: cpu)",
        ));
    }
    Device::new_cuda(0).in_phase(FRAMEWORK, Phase::Load)
}

impl Embedder for CandleEmbedder {
    fn info(&self) -> &BackendInfo {
        &self.info
    }

    fn embed(&self, batch: &TokenizedBatch) -> Result<Embeddings, EmbedError> {
        let shape = (batch.batch_size, batch.seq_len);
        let ids = Tensor::from_slice(&batch.input_ids, shape, &self.device).in_phase(FRAMEWORK, Phase::Inference)?;
        let types =
            Tensor::from_slice(&batch.token_type_ids, shape, &self.device).in_phase(FRAMEWORK, Phase::Inference)?;
        let mask =
            Tensor::from_slice(&batch.attention_mask, shape, &self.device).in_phase(FRAMEWORK, Phase::Inference)?;
        let hidden = {
            let _span = tracing::trace_span!("forward").entered();
            self.model.forward(&ids, &types, &mask).in_phase(FRAMEWORK, Phase::Inference)?
        };
        let embeddings = {
            let _span = tracing::trace_span!("head").entered();
            self.head.forward(&hidden, &mask, &batch.attention_mask).in_phase(FRAMEWORK, Phase::Inference)?
        };
        let dim = embeddings.dim(1).in_phase(FRAMEWORK, Phase::Inference)?;
        let data = embeddings.flatten_all().and_then(|e| e.to_vec1::<f32>()).in_phase(FRAMEWORK, Phase::Inference)?;
        Ok(Embeddings { rows: batch.batch_size, dim, data })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn recorded_version_matches_cargo_lock() {
        let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock")).unwrap();
        let needle = format!("name = \"candle-core\"\nversion = \"{}\"", super::CANDLE_VERSION);
        assert!(lock.contains(&needle), "CANDLE_VERSION is stale: update it to the candle-core version in Cargo.lock");
    }
}
