//! The ONNX Runtime backend: the converted `onnx/model.onnx` run through `ort`.
//! Its output is `sentence_embedding` (the model's pooling, Dense and Normalize in
//! the graph); an older export's `last_hidden_state` is pooled in `embench-core`.
//!
//! The runtime is the venv's onnxruntime wheel, loaded at run time
//! (`load-dynamic`); [`runtime_library`] finds it, and a missing library is an
//! error rather than ort's panic.

#![warn(missing_docs)]

mod backend;
pub mod settings;
pub use backend::OrtBackend;
pub use settings::{ExecutionMode, ExecutionProvider, GraphOptimization, OrtOptions};

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use embench_core::pooling::{Pooling, INPUT_NAMES, OUTPUT_NAMES};
use embench_core::runtime_lib::{self, WheelLibrary};
use embench_core::session_pool::Pool;
use embench_core::{
    BackendInfo, EmbedError, EmbedInput, Embedder, Embeddings, Phase, PhaseContext, PixelBatch, Precision,
    TokenizedBatch,
};
use ort::environment::Environment;
use ort::ep::ExecutionProviderDispatch;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
use ort::session::Session;
use ort::value::TensorRef;

const FRAMEWORK: &str = "ort";

/// The onnxruntime wheel's library; `ORT_DYLIB_PATH` (ort's own variable) overrides the search.
pub const LIBRARY: WheelLibrary = runtime_lib::ONNXRUNTIME;

/// The ort crate's version, for the results (a test checks it against Cargo.lock).
pub const ORT_CRATE_VERSION: &str = "2.0.0-rc.15";

/// Where the ONNX Runtime library is, or why it cannot be used.
pub fn runtime_library() -> Result<PathBuf, String> {
    runtime_lib::locate(&LIBRARY)
}

/// The process's one ONNX Runtime environment (ort allows one per process),
/// and the version of the library it loaded.
fn environment() -> Result<&'static (Environment, String), EmbedError> {
    static ENV: OnceLock<Result<(Environment, String), String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let path = runtime_library()?;
        let builder =
            ort::init_from(&path).map_err(|e| format!("could not load ONNX Runtime from {}: {e}", path.display()))?;
        let env = builder.with_name("embench").build().map_err(|e| format!("ONNX Runtime environment: {e}"))?;
        Ok((env, library_version(&path)))
    })
    .as_ref()
    .map_err(|e| EmbedError::new(FRAMEWORK, Phase::Load, e.clone()))
}

/// `libonnxruntime.so.1.31.1` -> `1.31.1` (the wheel names its library by version;
/// ort itself refuses a library older than the API it was built for).
fn library_version(path: &Path) -> String {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    name.strip_prefix(LIBRARY.file_prefix).and_then(|v| v.strip_prefix('.')).unwrap_or("unknown").to_string()
}

fn env_library_path() -> String {
    runtime_library().map(|p| p.display().to_string()).unwrap_or_default()
}

/// The loaded library's version.
pub fn runtime_version() -> Result<String, EmbedError> {
    Ok(environment()?.1.clone())
}

/// How to load the model.
#[derive(Debug, Clone)]
pub struct OrtSettings {
    /// Intra-op threads (None: ONNX Runtime's default, the physical cores).
    pub threads: Option<usize>,
    /// Session options and providers.
    pub options: OrtOptions,
    /// Pooling and normalisation of the model.
    pub pooling: Pooling,
}

/// A loaded ONNX model.
pub struct OrtEmbedder {
    sessions: Pool<Session>,
    inputs: Vec<String>,
    /// `sentence_embedding` (the head in the graph) or `last_hidden_state` (pooled here).
    output: String,
    pooling: Pooling,
    info: BackendInfo,
}

impl OrtEmbedder {
    /// Loads `model` (an ONNX file whose output is `sentence_embedding` or `last_hidden_state`).
    pub fn load(model: &Path, settings: &OrtSettings) -> Result<Self, EmbedError> {
        let (env, version) = environment()?;
        let options = &settings.options;
        let mut sessions = Vec::with_capacity(options.sessions);
        for _ in 0..options.sessions {
            let mut builder = session_builder(env, settings)?;
            let session = builder
                .commit_from_file(model)
                .map_err(|e| EmbedError::new(FRAMEWORK, Phase::Load, format!("{}: {e}", model.display())))?;
            sessions.push(session);
        }
        let first = &sessions[0];
        let inputs: Vec<String> = first.inputs().iter().map(|i| i.name().to_string()).collect();
        for name in &inputs {
            if !INPUT_NAMES.contains(&name.as_str()) {
                return Err(EmbedError::new(
                    FRAMEWORK,
                    Phase::Load,
                    format!(
                        "{}: unexpected input '{name}' (fix: re-export it with scripts/convert_models.sh)",
                        model.display()
                    ),
                ));
            }
        }
        let Some(output) = OUTPUT_NAMES.iter().find(|n| first.outputs().iter().any(|o| o.name() == **n)) else {
            return Err(EmbedError::new(
                FRAMEWORK,
                Phase::Load,
                format!(
                    "{}: no '{}' output (fix: re-export it with scripts/convert_models.sh)",
                    model.display(),
                    OUTPUT_NAMES.join("' or '")
                ),
            ));
        };
        let output = output.to_string();
        let providers: Vec<&str> = options.execution_providers.iter().map(|p| p.name()).collect();
        let threads = settings.threads.unwrap_or_else(physical_cores);
        Ok(Self {
            sessions: Pool::new(sessions),
            inputs,
            output,
            pooling: settings.pooling,
            info: BackendInfo {
                framework: FRAMEWORK.into(),
                framework_version: format!("onnxruntime {version} (ort {ORT_CRATE_VERSION})"),
                device: providers.join("+"),
                precision: Precision::Fp32,
                intra_op_threads: threads,
                settings: [
                    ("execution_providers".to_string(), providers.join(",")),
                    ("graph_optimization".to_string(), format!("{:?}", options.graph_optimization).to_lowercase()),
                    ("execution_mode".to_string(), format!("{:?}", options.execution_mode).to_lowercase()),
                    (
                        "inter_op_threads".to_string(),
                        options.inter_op_threads.map_or_else(|| "default".to_string(), |n| n.to_string()),
                    ),
                    ("sessions".to_string(), options.sessions.to_string()),
                    ("cpu_mem_arena".to_string(), "on".to_string()),
                    ("library".to_string(), env_library_path()),
                ]
                .into(),
                notes: Vec::new(),
            },
        })
    }

    /// Marks this model as the reduced-precision `variant` it was loaded from: the
    /// record's precision, and the variant's file, hash and quantised operators.
    pub fn ran_variant(&mut self, precision: Precision, variant: &embench_core::variants::Variant) {
        self.info.precision = precision;
        self.info.settings.insert("variant".into(), variant.describe());
    }

    /// Sessions in the pool.
    pub fn sessions(&self) -> usize {
        self.sessions.size()
    }
}

fn physical_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn session_builder(env: &Environment, settings: &OrtSettings) -> Result<SessionBuilder, EmbedError> {
    let o = &settings.options;
    let mut b = Session::builder(env).in_phase(FRAMEWORK, Phase::Load)?;
    b = b.with_execution_providers(providers(&o.execution_providers)?).in_phase(FRAMEWORK, Phase::Load)?;
    if let Some(n) = settings.threads {
        b = b.with_intra_threads(n).in_phase(FRAMEWORK, Phase::Load)?;
    }
    if let Some(n) = o.inter_op_threads {
        b = b.with_inter_threads(n).in_phase(FRAMEWORK, Phase::Load)?;
    }
    b = b.with_parallel_execution(o.execution_mode == ExecutionMode::Parallel).in_phase(FRAMEWORK, Phase::Load)?;
    let level = match o.graph_optimization {
        GraphOptimization::Disable => GraphOptimizationLevel::Disable,
        GraphOptimization::Basic => GraphOptimizationLevel::Level1,
        GraphOptimization::Extended => GraphOptimizationLevel::Level2,
        GraphOptimization::All => GraphOptimizationLevel::All,
    };
    b.with_optimization_level(level).in_phase(FRAMEWORK, Phase::Load)
}

/// The providers asked for, each failing the load if it cannot register
/// (ONNX Runtime would otherwise fall back to the CPU without a word).
fn providers(asked: &[ExecutionProvider]) -> Result<Vec<ExecutionProviderDispatch>, EmbedError> {
    asked
        .iter()
        .map(|p| match p {
            // NOTE: ort's `CPU::default()` turns the CPU memory arena off; ONNX Runtime's own
            // default (and Python's) is on, and it is measurably faster for repeated runs.
            ExecutionProvider::Cpu => Ok(ort::ep::CPU::default().with_arena_allocator(true).build().error_on_failure()),
            #[cfg(feature = "cuda")]
            ExecutionProvider::Cuda => Ok(ort::ep::CUDA::default().build().error_on_failure()),
            #[cfg(feature = "openvino-ep")]
            ExecutionProvider::Openvino => Ok(ort::ep::OpenVINO::default().build().error_on_failure()),
            #[allow(unreachable_patterns)]
            other => Err(EmbedError::new(
                FRAMEWORK,
                Phase::Load,
                format!(
                    "execution provider '{}' is not built into this binary, and the onnxruntime wheel is CPU-only \
                     (fix: build with `--features ort-{}` and install onnxruntime-gpu / onnxruntime-openvino, or use [cpu])",
                    other.name(),
                    other.name()
                ),
            )),
        })
        .collect()
}

impl Embedder for OrtEmbedder {
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
        if self.inputs.iter().any(|n| n == "pixel_values") {
            return Err(EmbedError::new(
                FRAMEWORK,
                Phase::Inference,
                "this is an image tower: it takes images, not text",
            ));
        }
        let shape = [batch.batch_size, batch.seq_len];
        let tensor = |name: &str| {
            let data = match name {
                "input_ids" => &batch.input_ids,
                "attention_mask" => &batch.attention_mask,
                _ => &batch.token_type_ids,
            };
            TensorRef::from_array_view((shape, data.as_slice())).in_phase(FRAMEWORK, Phase::Inference)
        };
        let values =
            self.inputs.iter().map(|n| Ok((n.as_str(), tensor(n)?))).collect::<Result<Vec<_>, EmbedError>>()?;
        self.sessions.with(|session| {
            let outputs = {
                let _span = tracing::trace_span!("forward").entered();
                session.run(values).in_phase(FRAMEWORK, Phase::Inference)?
            };
            let (out_shape, data) =
                outputs[self.output.as_str()].try_extract_tensor::<f32>().in_phase(FRAMEWORK, Phase::Inference)?;
            let dims: Vec<usize> = out_shape.iter().map(|&d| d as usize).collect();
            self.pooling
                .finish(data, &dims, &batch.attention_mask, batch.batch_size, batch.seq_len)
                .map_err(|e| EmbedError::new(FRAMEWORK, Phase::Inference, e))
        })
    }
}

impl OrtEmbedder {
    /// An image tower's vectors of `images` (`pixel_values` `[batch, 3, H, W]`).
    fn embed_images(&self, images: &PixelBatch) -> Result<Embeddings, EmbedError> {
        if self.inputs != ["pixel_values"] {
            return Err(EmbedError::new(FRAMEWORK, Phase::Inference, "this network takes text, not images"));
        }
        let shape = [images.batch_size, 3, images.height, images.width];
        let tensor =
            TensorRef::from_array_view((shape, images.pixels.as_slice())).in_phase(FRAMEWORK, Phase::Inference)?;
        self.sessions.with(|session| {
            let outputs = {
                let _span = tracing::trace_span!("forward").entered();
                session.run(ort::inputs!["pixel_values" => tensor]).in_phase(FRAMEWORK, Phase::Inference)?
            };
            let (out_shape, data) =
                outputs[self.output.as_str()].try_extract_tensor::<f32>().in_phase(FRAMEWORK, Phase::Inference)?;
            let dims: Vec<usize> = out_shape.iter().map(|&d| d as usize).collect();
            self.pooling
                .finish(data, &dims, &[], images.batch_size, 0)
                .map_err(|e| EmbedError::new(FRAMEWORK, Phase::Inference, e))
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn recorded_version_matches_cargo_lock() {
        let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock")).unwrap();
        let needle = format!("name = \"ort\"\nversion = \"{}\"", super::ORT_CRATE_VERSION);
        assert!(lock.contains(&needle), "ORT_CRATE_VERSION is stale: update it to the ort version in Cargo.lock");
    }
}
