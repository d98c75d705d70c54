//! The python-* backends: a model in a Python framework (ONNX Runtime, PyTorch
//! eager or TorchScript, OpenVINO), run by `scripts/python/embench_worker.py` in
//! worker processes of the project venv's python, and driven over pipes.
//!
//! embench's runner measures them like any backend: the latency of a request is
//! from the moment embench hands the token ids to the worker to the moment the
//! pooled vectors are back, so it includes what a Python service pays per request
//! (building tensors, the framework call, pooling) plus the pipe round trip, which
//! the `python-echo` worker measures on its own.
//!
//! Concurrent requests draw from a pool of `processes` workers (the GIL makes one
//! process one request at a time; [`embench_core::pipe_worker`] has the pool and
//! the protocol); their RSS and CPU time are counted as the backend's.

#![warn(missing_docs)]

pub mod backend;
pub mod settings;
pub use backend::PythonBackend;
pub use settings::{PythonOptions, TorchMode};

use std::path::PathBuf;
use std::process::Command;

use embench_core::pipe_worker::{PipeEmbedder, WorkerCommand, WorkerPool};
use embench_core::pooling::Pooling;
use embench_core::{BackendInfo, EmbedError, Modality, Phase, Precision};

/// The worker script, embedded so the binary does not depend on where it runs from.
pub const WORKER_SCRIPT: &str = include_str!("../../../scripts/python/embench_worker.py");

/// Environment variable naming the python interpreter (default: the project venv's).
pub const PYTHON_ENV: &str = "EMBENCH_PYTHON";

/// What to run and how.
#[derive(Debug, Clone)]
pub struct PythonSettings {
    /// `ort`, `torch`, `openvino` or `echo` (the worker's `--kind`).
    pub kind: &'static str,
    /// The network file (for eager PyTorch, the safetensors inside the Hugging Face folder).
    pub model: Option<PathBuf>,
    /// python-torch: `eager` or `torchscript`.
    pub mode: &'static str,
    /// Intra-op threads of each worker.
    pub threads: usize,
    /// Precision asked for.
    pub precision: Precision,
    /// Pooling, done in the framework inside the worker.
    pub pooling: Pooling,
    /// Worker processes.
    pub processes: usize,
    /// Embedding dimension (the echo worker's vectors).
    pub dim: usize,
    /// A multimodal model's tower, and for the image tower its input `(height, width)`.
    pub modality: Modality,
    /// The image tower's input size, pixels (`--image-size H W`).
    pub image_size: Option<(usize, usize)>,
}

/// The python interpreter: `$EMBENCH_PYTHON`, else `bin/python` of the project venv.
pub fn interpreter() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os(PYTHON_ENV) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("{PYTHON_ENV}={} does not exist (fix: point it at a python, or unset it)", p.display()))
        };
    }
    embench_core::runtime_lib::venv_python().ok_or_else(|| {
        format!("no project virtualenv with bin/python found (fix: {})", embench_core::runtime_lib::SETUP_FIX)
    })
}

/// The worker's command line for `settings`.
fn worker_command(python: &PathBuf, s: &PythonSettings) -> Command {
    let mut cmd = Command::new(python);
    cmd.arg("-u").arg("-c").arg(WORKER_SCRIPT).arg("--kind").arg(s.kind);
    cmd.args(["--threads", &s.threads.to_string(), "--precision", &s.precision.to_string()]);
    cmd.args(["--mode", s.mode, "--dim", &s.dim.to_string()]);
    cmd.args(["--pooling", &s.pooling.kind.to_string()]);
    cmd.args(["--normalize", if s.pooling.normalize { "1" } else { "0" }]);
    if let Some(m) = &s.model {
        cmd.arg("--model").arg(m);
    }
    cmd.args(["--modality", s.modality.as_str()]);
    if let Some((h, w)) = s.image_size {
        cmd.args(["--image-size", &h.to_string(), &w.to_string()]);
    }
    cmd
}

/// Starts `settings.processes` Python workers, one after another, each loading the
/// model; `framework` names the backend in results and errors.
///
/// Errors (phase load): no interpreter, or a worker that cannot load the model.
pub fn load(framework: &'static str, settings: &PythonSettings) -> Result<PipeEmbedder, EmbedError> {
    let python = interpreter().map_err(|m| EmbedError::new(framework, Phase::Load, m))?;
    let command = WorkerCommand {
        build: &|| worker_command(&python, settings),
        what: format!("the Python worker ({})", python.display()),
        fix: "the project venv has what it needs: make venv; or point EMBENCH_PYTHON at a python that has",
    };
    let (workers, h) = WorkerPool::start(framework, &command, settings.processes)?;
    let precision = match h.precision.as_str() {
        "bf16" => Precision::Bf16,
        "fp16" => Precision::Fp16,
        "int8" => Precision::Int8,
        _ => Precision::Fp32,
    };
    let mut notes = Vec::new();
    if precision != settings.precision {
        notes.push(format!("asked for {}, the Python framework ran {}", settings.precision, h.precision));
    }
    let mut backend_settings = h.settings;
    backend_settings.insert("runtime".into(), format!("{} {}", h.framework, h.version));
    backend_settings.insert("processes".into(), settings.processes.to_string());
    backend_settings.insert("interpreter".into(), python.display().to_string());
    let info = BackendInfo {
        framework: framework.to_string(),
        framework_version: h.version,
        device: "cpu".into(),
        precision,
        intra_op_threads: h.threads,
        settings: backend_settings,
        notes,
    };
    Ok(PipeEmbedder::new(workers, info))
}
