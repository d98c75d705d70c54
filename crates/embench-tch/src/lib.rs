//! The libtorch backend: the converted TorchScript module (`torchscript/model.pt`)
//! run through `tch`, the PyTorch baseline in Rust. Its output is the sentence
//! embedding (the model's pooling, Dense and Normalize traced with the network); an
//! older export's token states are pooled in `embench-core`.
//!
//! libtorch is linked at build time from the venv's torch wheel
//! (`LIBTORCH_USE_PYTORCH=1`, torch==2.13.0, the version tch 0.26 expects); its
//! directory is embedded as an rpath, so the binary needs no LD_LIBRARY_PATH.

#![warn(missing_docs)]

mod backend;
pub use backend::TchBackend;

use std::path::Path;

use embench_core::pooling::Pooling;
use embench_core::{
    BackendInfo, EmbedError, EmbedInput, Embedder, Embeddings, Modality, Phase, PhaseContext, PixelBatch, Precision,
    TokenizedBatch,
};
use tch::{CModule, Device, Kind, Tensor};

const FRAMEWORK: &str = "tch";

/// The PyTorch version tch 0.26 is built for (and the venv pins).
pub const LIBTORCH_VERSION: &str = "2.13.0";
/// The tch crate's version, for the results (a test checks it against Cargo.lock).
pub const TCH_CRATE_VERSION: &str = "0.26.0";

/// How to load the model.
#[derive(Debug, Clone)]
pub struct TchSettings {
    /// Intra-op threads (`tch::set_num_threads`, process-wide in libtorch).
    pub threads: Option<usize>,
    /// Run on the first CUDA GPU.
    pub cuda: bool,
    /// fp32, bf16 (the module's parameters are cast; outputs come back as f32) or int8
    /// (the dynamically quantised export, `torchscript/model_int8.pt`).
    pub precision: Precision,
    /// Pooling and normalisation of the model.
    pub pooling: Pooling,
    /// A multimodal model's tower: text or image (text models: text).
    pub modality: Modality,
}

/// A loaded TorchScript module.
///
/// `CModule::forward_ts` takes `&self` and libtorch runs concurrent forward
/// calls of one module safely in inference, so requests are not serialised.
pub struct TchEmbedder {
    module: CModule,
    device: Device,
    inputs: usize,
    /// An image tower: one input, `pixel_values`, in the parameters' float kind.
    image: Option<Kind>,
    pooling: Pooling,
    info: BackendInfo,
}

impl TchEmbedder {
    /// Marks this model as the int8 export `variant`: its file, hash and quantised operators.
    pub fn ran_variant(&mut self, variant: &embench_core::variants::Variant) {
        self.info.settings.insert("variant".into(), variant.describe());
    }

    /// Loads the TorchScript file at `model`.
    pub fn load(model: &Path, settings: &TchSettings) -> Result<Self, EmbedError> {
        let device = if settings.cuda {
            load_cuda_backend()?;
            if !tch::Cuda::is_available() {
                return Err(EmbedError::new(
                    FRAMEWORK,
                    Phase::Load,
                    "device 'cuda' asked for, but libtorch sees no CUDA GPU (fix: device: cpu, or run on a GPU box)",
                ));
            }
            Device::Cuda(0)
        } else {
            Device::Cpu
        };
        let kind = match settings.precision {
            // int8: the dynamically quantised export's Linear layers hold packed int8
            // weights; its other parameters stay fp32.
            Precision::Fp32 | Precision::Int8 => Kind::Float,
            Precision::Bf16 => Kind::BFloat16,
            other => {
                return Err(EmbedError::new(
                    FRAMEWORK,
                    Phase::Load,
                    format!("precision {other} is not offered by the tch backend (fix: fp32, bf16 or int8)"),
                ))
            }
        };
        if settings.precision == Precision::Int8 && settings.cuda {
            return Err(EmbedError::new(
                FRAMEWORK,
                Phase::Load,
                "precision int8 runs PyTorch's dynamic quantisation, whose kernels (fbgemm) are CPU-only (fix: device: cpu, or fp32/bf16 on cuda)",
            ));
        }
        if let Some(n) = settings.threads {
            tch::set_num_threads(n as i32);
        }
        let mut module = CModule::load_on_device(model, device)
            .map_err(|e| EmbedError::new(FRAMEWORK, Phase::Load, format!("{}: {e}", model.display())))?;
        module.set_eval();
        if kind != Kind::Float {
            // Only the floating-point parameters: `CModule::to` would also cast integer
            // buffers (BERT's position_ids), which the embedding lookups need as int64.
            let params = module.named_parameters().in_phase(FRAMEWORK, Phase::Load)?;
            tch::no_grad(|| {
                for (_, mut p) in params {
                    if p.is_floating_point() {
                        let cast = p.to_kind(kind);
                        p.set_data(&cast);
                    }
                }
            });
        }
        // The export's inputs are (input_ids, attention_mask[, token_type_ids]); the
        // converter records which, and BERT-family models take all three.
        let inputs = input_count(model, settings.modality);
        let threads = tch::get_num_threads().max(1) as usize;
        let device_name = match device {
            Device::Cuda(i) => match gpu_name(i) {
                Some(name) => format!("cuda:{i} ({name})"),
                None => format!("cuda:{i}"),
            },
            _ => "cpu".to_string(),
        };
        Ok(Self {
            module,
            device,
            inputs,
            image: (settings.modality == Modality::Image).then_some(kind),
            pooling: settings.pooling,
            info: BackendInfo {
                framework: FRAMEWORK.into(),
                framework_version: format!("libtorch {LIBTORCH_VERSION} (tch {TCH_CRATE_VERSION})"),
                device: device_name,
                precision: settings.precision,
                intra_op_threads: threads,
                settings: [
                    ("interop_threads".to_string(), tch::get_num_interop_threads().to_string()),
                    ("inputs".to_string(), inputs.to_string()),
                    ("grad".to_string(), "off (inference mode)".to_string()),
                ]
                .into(),
                notes: Vec::new(),
            },
        })
    }
}

/// Loads libtorch_cuda once, when a cell asks for CUDA.
///
/// The binary links only libtorch_cpu: the linker drops libtorch_cuda (no symbol
/// of it is referenced), and forcing it in would add ~270 MB of resident memory
/// to every run, CPU-only ones included. Loaded with RTLD_GLOBAL, its static
/// initialisers register the CUDA backend, and `tch::Cuda::is_available` sees the GPU.
fn load_cuda_backend() -> Result<(), EmbedError> {
    static LOADED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    LOADED
        .get_or_init(|| {
            let path = Path::new(env!("EMBENCH_LIBTORCH_LIB")).join("libtorch_cuda.so");
            if !path.is_file() {
                return Err(format!(
                    "{} does not exist: this torch is a CPU-only build (fix: install the CUDA build of torch==2.13.0 in .venv)",
                    path.display()
                ));
            }
            // SAFETY: libtorch_cuda belongs to the libtorch this binary is linked against;
            // it is never unloaded (the handle is leaked on purpose).
            let lib = unsafe {
                libloading::os::unix::Library::open(
                    Some(&path),
                    libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_GLOBAL,
                )
            }
            .map_err(|e| format!("could not load {}: {e}", path.display()))?;
            std::mem::forget(lib);
            Ok(())
        })
        .clone()
        .map_err(|e| EmbedError::new(FRAMEWORK, Phase::Load, e))
}

/// The GPU's name from the NVIDIA driver (libtorch's C API does not expose it).
fn gpu_name(index: usize) -> Option<String> {
    let out = std::process::Command::new("nvidia-smi")
        .args(["--query-gpu=name", "--format=csv,noheader", "-i", &index.to_string()])
        .output()
        .ok()?;
    let name = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !name.is_empty()).then_some(name)
}

/// Inputs the export takes, from the `conversion.json` beside it: a multimodal
/// model's tower's (`towers.text.inputs`: SigLIP takes only `input_ids`), else the
/// text model's `inputs` (default: three).
fn input_count(model: &Path, modality: Modality) -> usize {
    let record = model.parent().and_then(Path::parent).map(|root| root.join("conversion.json"));
    let json = record
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok());
    let tower = json.as_ref().and_then(|j| j.pointer(&format!("/towers/{modality}/inputs"))).and_then(|v| v.as_array());
    match tower {
        Some(list) => list.len(),
        None => {
            json.and_then(|json| json["inputs"].as_array().map(Vec::len)).filter(|&n| n == 2 || n == 3).unwrap_or(3)
        }
    }
}

extern "C" {
    fn embench_inference_mode_enter() -> *mut std::ffi::c_void;
    fn embench_inference_mode_exit(guard: *mut std::ffi::c_void);
}

/// libtorch's `c10::InferenceMode` for as long as it lives (tch exposes only
/// no_grad, which still keeps autograd's version counters and view tracking):
/// what `torch.inference_mode()` is in Python. Thread-local, so not `Send`.
struct InferenceMode(*mut std::ffi::c_void);

impl InferenceMode {
    fn enter() -> Self {
        // SAFETY: the shim allocates a guard and returns it; nothing else owns it.
        Self(unsafe { embench_inference_mode_enter() })
    }
}

impl Drop for InferenceMode {
    fn drop(&mut self) {
        // SAFETY: `self.0` came from `embench_inference_mode_enter` on this thread
        // (the type is not Send) and is freed exactly once.
        unsafe { embench_inference_mode_exit(self.0) }
    }
}

impl Embedder for TchEmbedder {
    fn info(&self) -> &BackendInfo {
        &self.info
    }

    fn embed_input(&self, input: EmbedInput<'_>) -> Result<Embeddings, EmbedError> {
        match input {
            EmbedInput::Text(batch) => self.embed(batch),
            EmbedInput::Image(images) => self.embed_images(images),
        }
    }

    fn embed(&self, batch: &TokenizedBatch) -> Result<Embeddings, EmbedError> {
        if self.image.is_some() {
            return Err(EmbedError::new(
                FRAMEWORK,
                Phase::Inference,
                "this is an image tower: it takes images, not text",
            ));
        }
        let _inference = InferenceMode::enter();
        let shape = [batch.batch_size as i64, batch.seq_len as i64];
        let tensor = |data: &[i64]| Tensor::from_slice(data).view(shape).to_device(self.device);
        // (input_ids[, attention_mask[, token_type_ids]]), as the export was traced.
        let mut inputs = vec![tensor(&batch.input_ids)];
        if self.inputs >= 2 {
            inputs.push(tensor(&batch.attention_mask));
        }
        if self.inputs == 3 {
            inputs.push(tensor(&batch.token_type_ids));
        }
        let output = {
            let _span = tracing::trace_span!("forward").entered();
            self.module.forward_ts(&inputs)
        }
        .in_phase(FRAMEWORK, Phase::Inference)?;
        let dims: Vec<usize> = output.size().iter().map(|&d| d as usize).collect();
        let flat = output.to_kind(Kind::Float).to_device(Device::Cpu).flatten(0, -1);
        let data = Vec::<f32>::try_from(&flat).in_phase(FRAMEWORK, Phase::Inference)?;
        self.pooling
            .finish(&data, &dims, &batch.attention_mask, batch.batch_size, batch.seq_len)
            .map_err(|e| EmbedError::new(FRAMEWORK, Phase::Inference, e))
    }
}

impl TchEmbedder {
    /// An image tower's vectors of `images` (`pixel_values` `[batch, 3, H, W]`).
    fn embed_images(&self, images: &PixelBatch) -> Result<Embeddings, EmbedError> {
        let Some(kind) = self.image else {
            return Err(EmbedError::new(FRAMEWORK, Phase::Inference, "this network takes text, not images"));
        };
        let _inference = InferenceMode::enter();
        let shape = [images.batch_size, 3, images.height, images.width].map(|d| d as i64);
        let pixels = Tensor::from_slice(&images.pixels).view(shape).to_device(self.device).to_kind(kind);
        let output = {
            let _span = tracing::trace_span!("forward").entered();
            self.module.forward_ts(&[pixels])
        }
        .in_phase(FRAMEWORK, Phase::Inference)?;
        let dims: Vec<usize> = output.size().iter().map(|&d| d as usize).collect();
        let flat = output.to_kind(Kind::Float).to_device(Device::Cpu).flatten(0, -1);
        let data = Vec::<f32>::try_from(&flat).in_phase(FRAMEWORK, Phase::Inference)?;
        self.pooling
            .finish(&data, &dims, &[], images.batch_size, 0)
            .map_err(|e| EmbedError::new(FRAMEWORK, Phase::Inference, e))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn recorded_versions_match_cargo_lock() {
        let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock")).unwrap();
        let needle = format!("name = \"tch\"\nversion = \"{}\"", super::TCH_CRATE_VERSION);
        assert!(lock.contains(&needle), "TCH_CRATE_VERSION is stale: update it to the tch version in Cargo.lock");
        let reqs =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/requirements.txt")).unwrap();
        assert!(reqs.contains(&format!("torch=={}", super::LIBTORCH_VERSION)), "the venv's torch differs");
    }
}
