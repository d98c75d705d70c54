//! The OpenVINO backend: the converted IR (`openvino/model_fp32.xml`, or the
//! fp16-weight IR, or the ONNX file read directly) compiled for the CPU, with a
//! pool of infer requests for concurrency. Its output is the sentence embedding
//! (the model's pooling, Dense and Normalize in the graph); an older export's token
//! states are pooled in `embench-core`.
//!
//! The runtime is the venv's openvino wheel (`libopenvino_c.so.2641`), loaded at
//! run time; the crate's own finder does not look for versioned names, so
//! [`runtime_library`] finds it and loads it explicitly.

#![warn(missing_docs)]

mod backend;
pub mod settings;
pub use backend::OpenvinoBackend;
pub use settings::{ModelFormat, OpenvinoOptions, PerformanceHint};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use embench_core::pooling::Pooling;
use embench_core::runtime_lib::{self, WheelLibrary};
use embench_core::session_pool::Pool;
use embench_core::{
    BackendInfo, EmbedError, EmbedInput, Embedder, Embeddings, Phase, PhaseContext, PixelBatch, Precision,
    TokenizedBatch,
};
use openvino::{CompiledModel, Core, DeviceType, ElementType, InferRequest, PropertyKey, RwPropertyKey, Shape, Tensor};

pub mod peak;

const FRAMEWORK: &str = "openvino";

/// The openvino wheel's C library; `OPENVINO_C_LIBRARY` overrides the search.
pub const LIBRARY: WheelLibrary = WheelLibrary {
    env_var: "OPENVINO_C_LIBRARY",
    package_dir: "openvino/libs",
    file_prefix: "libopenvino_c.so",
    wheel: "openvino==2026.4.1",
};

/// Where the OpenVINO C library is, or why it cannot be used.
pub fn runtime_library() -> Result<PathBuf, String> {
    runtime_lib::locate(&LIBRARY)
}

fn load_library() -> Result<&'static PathBuf, EmbedError> {
    static LOADED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let path = runtime_library()?;
            openvino_sys::library::load_from(path.clone())
                .map_err(|e| format!("could not load OpenVINO from {}: {e}", path.display()))?;
            Ok(path)
        })
        .as_ref()
        .map_err(|e| EmbedError::new(FRAMEWORK, Phase::Load, e.clone()))
}

/// How to load the model.
#[derive(Debug, Clone)]
pub struct OpenvinoSettings {
    /// Inference threads (None: OpenVINO's choice).
    pub threads: Option<usize>,
    /// Precision to infer in (fp32, bf16, fp16); recorded as what OpenVINO actually chose.
    pub precision: Precision,
    /// Hint, streams, infer requests, which file.
    pub options: OpenvinoOptions,
    /// Pooling and normalisation of the model.
    pub pooling: Pooling,
}

/// A compiled model and its pool of infer requests.
pub struct OpenvinoEmbedder {
    requests: Pool<InferRequest>,
    inputs: Vec<String>,
    /// An image tower: its one input takes `pixel_values` (ovc may name that port after
    /// a folded Cast, so it is fed by index; ../shared/notes/architectures.md, fact 4).
    image_input: bool,
    pooling: Pooling,
    info: BackendInfo,
    // Kept alive for the requests; never used concurrently (Mutex makes them Sync).
    _compiled: Mutex<CompiledModel>,
    _core: Mutex<Core>,
}

fn precision_property(p: Precision) -> &'static str {
    match p {
        Precision::Fp32 => "f32",
        Precision::Bf16 => "bf16",
        Precision::Fp16 => "f16",
        Precision::Int8 => "i8",
    }
}

fn precision_from_property(s: &str) -> Option<Precision> {
    match s.to_ascii_lowercase().as_str() {
        "f32" | "fp32" | "float32" => Some(Precision::Fp32),
        "bf16" | "bfloat16" => Some(Precision::Bf16),
        "f16" | "fp16" | "float16" => Some(Precision::Fp16),
        _ => None,
    }
}

impl OpenvinoEmbedder {
    /// Reads and compiles `model` (`.xml` with its `.bin`, or `.onnx`) for the CPU.
    pub fn load(model: &Path, settings: &OpenvinoSettings) -> Result<Self, EmbedError> {
        let library = load_library()?;
        let mut core = Core::new().in_phase(FRAMEWORK, Phase::Load)?;
        let version = core
            .versions("CPU")
            .in_phase(FRAMEWORK, Phase::Load)?
            .first()
            .map_or_else(|| "unknown".to_string(), |(_, v)| v.build_number.clone());
        let cpu = DeviceType::CPU;
        let o = &settings.options;
        core.set_property(&cpu, &RwPropertyKey::HintPerformanceMode, o.performance_hint.property())
            .in_phase(FRAMEWORK, Phase::Load)?;
        // Explicit always: on CPUs with AMX OpenVINO would otherwise pick bf16 by itself.
        // An int8 IR runs its quantised layers in int8 and the rest in the hint's
        // precision: f32, so that int8 is measured alone (not int8 plus bf16).
        let hint = match settings.precision {
            Precision::Int8 => precision_property(Precision::Fp32),
            p => precision_property(p),
        };
        core.set_property(&cpu, &RwPropertyKey::HintInferencePrecision, hint).in_phase(FRAMEWORK, Phase::Load)?;
        if let Some(n) = settings.threads {
            core.set_property(&cpu, &RwPropertyKey::InferenceNumThreads, &n.to_string())
                .in_phase(FRAMEWORK, Phase::Load)?;
        }
        if let Some(n) = o.streams {
            core.set_property(&cpu, &RwPropertyKey::NumStreams, &n.to_string()).in_phase(FRAMEWORK, Phase::Load)?;
        }
        let path = model.to_str().ok_or_else(|| {
            EmbedError::new(FRAMEWORK, Phase::Load, format!("{}: path is not UTF-8", model.display()))
        })?;
        let weights = if o.model_format == ModelFormat::Onnx { String::new() } else { replace_ext(path, "bin") };
        let network = core
            .read_model_from_file(path, &weights)
            .map_err(|e| EmbedError::new(FRAMEWORK, Phase::Load, format!("{}: {e}", model.display())))?;
        let mut compiled = core.compile_model(&network, cpu).in_phase(FRAMEWORK, Phase::Load)?;
        let read = |key: PropertyKey| compiled.get_property(&key).map(|v| v.to_string()).unwrap_or_default();
        let ran_precision_text = read(PropertyKey::Rw(RwPropertyKey::HintInferencePrecision));
        let streams = read(PropertyKey::Rw(RwPropertyKey::NumStreams));
        let threads_text = read(PropertyKey::Rw(RwPropertyKey::InferenceNumThreads));
        let optimal: usize = read(PropertyKey::OptimalNumberOfInferRequests).parse().unwrap_or(1);
        let n_requests = o.infer_requests.unwrap_or(optimal).max(1);
        let mut requests = Vec::with_capacity(n_requests);
        for _ in 0..n_requests {
            requests.push(compiled.create_infer_request().in_phase(FRAMEWORK, Phase::Load)?);
        }
        let mut inputs = Vec::new();
        let n_inputs = compiled.get_input_size().in_phase(FRAMEWORK, Phase::Load)?;
        let first = compiled.get_input_by_index(0).in_phase(FRAMEWORK, Phase::Load)?;
        let image_input =
            n_inputs == 1 && first.get_element_type().in_phase(FRAMEWORK, Phase::Load)? == ElementType::F32;
        for i in (0..n_inputs).filter(|_| !image_input) {
            let name = compiled.get_input_by_index(i).and_then(|n| n.get_name()).in_phase(FRAMEWORK, Phase::Load)?;
            if !["input_ids", "attention_mask", "token_type_ids"].contains(&name.as_str()) {
                return Err(EmbedError::new(
                    FRAMEWORK,
                    Phase::Load,
                    format!(
                        "{}: unexpected input '{name}' (fix: re-convert with scripts/convert_models.sh)",
                        model.display()
                    ),
                ));
            }
            inputs.push(name);
        }
        let ran = match settings.precision {
            // The IR's quantised layers (the variant's record says which) run in int8.
            Precision::Int8 => Precision::Int8,
            _ => precision_from_property(&ran_precision_text).unwrap_or(settings.precision),
        };
        let mut notes = Vec::new();
        if ran != settings.precision {
            notes.push(format!(
                "precision {} was asked for, but OpenVINO runs this model in {ran} on this CPU \
                 (INFERENCE_PRECISION_HINT read back as '{ran_precision_text}'; {} needs avx512_bf16/AMX or avx512_fp16)",
                settings.precision, settings.precision
            ));
        }
        let threads = threads_text.parse().unwrap_or(settings.threads.unwrap_or(0));
        let settings_map: BTreeMap<String, String> = [
            ("performance_hint", o.performance_hint.property().to_string()),
            ("inference_precision", ran_precision_text),
            ("num_streams", streams),
            ("inference_num_threads", threads_text),
            ("infer_requests", n_requests.to_string()),
            ("optimal_infer_requests", optimal.to_string()),
            ("model_file", model.display().to_string()),
            ("library", library.display().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Ok(Self {
            requests: Pool::new(requests),
            inputs,
            image_input,
            pooling: settings.pooling,
            info: BackendInfo {
                framework: FRAMEWORK.into(),
                framework_version: version,
                device: "cpu".into(),
                precision: ran,
                intra_op_threads: threads,
                settings: settings_map,
                notes,
            },
            _compiled: Mutex::new(compiled),
            _core: Mutex::new(core),
        })
    }

    /// Marks this model as the int8 IR `variant`: its file, hash, and the runtime
    /// layers' precisions the converter read from its compiled graph.
    pub fn ran_variant(&mut self, variant: &embench_core::variants::Variant) {
        self.info.settings.insert("variant".into(), variant.describe());
    }

    /// Infer requests in the pool.
    pub fn infer_requests(&self) -> usize {
        self.requests.size()
    }
}

fn replace_ext(path: &str, ext: &str) -> String {
    Path::new(path).with_extension(ext).to_string_lossy().into_owned()
}

fn input_tensor(shape: &Shape, data: &[i64]) -> Result<Tensor, EmbedError> {
    let mut t = Tensor::new(ElementType::I64, shape).in_phase(FRAMEWORK, Phase::Inference)?;
    t.get_data_mut::<i64>().in_phase(FRAMEWORK, Phase::Inference)?.copy_from_slice(data);
    Ok(t)
}

impl Embedder for OpenvinoEmbedder {
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
        if self.image_input {
            return Err(EmbedError::new(
                FRAMEWORK,
                Phase::Inference,
                "this is an image tower: it takes images, not text",
            ));
        }
        let shape =
            Shape::new(&[batch.batch_size as i64, batch.seq_len as i64]).in_phase(FRAMEWORK, Phase::Inference)?;
        let mut tensors = Vec::with_capacity(self.inputs.len());
        for name in &self.inputs {
            let data = match name.as_str() {
                "input_ids" => &batch.input_ids,
                "attention_mask" => &batch.attention_mask,
                _ => &batch.token_type_ids,
            };
            tensors.push((name.as_str(), input_tensor(&shape, data)?));
        }
        self.requests.with(|request| {
            for (name, tensor) in &tensors {
                request.set_tensor(name, tensor).in_phase(FRAMEWORK, Phase::Inference)?;
            }
            self.infer(request, &batch.attention_mask, batch.batch_size, batch.seq_len)
        })
    }
}

impl OpenvinoEmbedder {
    /// An image tower's vectors of `images` (its one f32 input, `[batch, 3, H, W]`).
    fn embed_images(&self, images: &PixelBatch) -> Result<Embeddings, EmbedError> {
        if !self.image_input {
            return Err(EmbedError::new(FRAMEWORK, Phase::Inference, "this network takes text, not images"));
        }
        let dims = [images.batch_size, 3, images.height, images.width].map(|d| d as i64);
        let shape = Shape::new(&dims).in_phase(FRAMEWORK, Phase::Inference)?;
        let mut tensor = Tensor::new(ElementType::F32, &shape).in_phase(FRAMEWORK, Phase::Inference)?;
        tensor.get_data_mut::<f32>().in_phase(FRAMEWORK, Phase::Inference)?.copy_from_slice(&images.pixels);
        self.requests.with(|request| {
            request.set_input_tensor_by_index(0, &tensor).in_phase(FRAMEWORK, Phase::Inference)?;
            self.infer(request, &[], images.batch_size, 0)
        })
    }

    /// Runs `request` (its inputs set) and finishes its first output as
    /// [`Pooling::finish`] does, for a batch of `batch` inputs of `seq` tokens (images: 0).
    fn infer(
        &self,
        request: &mut InferRequest,
        mask: &[i64],
        batch: usize,
        seq: usize,
    ) -> Result<Embeddings, EmbedError> {
        {
            let _span = tracing::trace_span!("forward").entered();
            request.infer().in_phase(FRAMEWORK, Phase::Inference)?;
        }
        let out = request.get_output_tensor_by_index(0).in_phase(FRAMEWORK, Phase::Inference)?;
        let dims = out.get_shape().in_phase(FRAMEWORK, Phase::Inference)?.get_dimensions().to_vec();
        let data = out.get_data::<f32>().in_phase(FRAMEWORK, Phase::Inference)?;
        let dims: Vec<usize> = dims.iter().map(|&d| d as usize).collect();
        self.pooling.finish(data, &dims, mask, batch, seq).map_err(|e| EmbedError::new(FRAMEWORK, Phase::Inference, e))
    }
}
