//! The ort-native backend: ONNX Runtime's C++ API (`Ort::Session`, `Ort::Value`), in
//! a C++ worker process, driven over pipes. It is what a team writing a C++ service
//! gets, so that ort (Rust) and python-ort can be compared with no language binding
//! at all.
//!
//! The worker (`cpp/ort_native_worker.cpp`, built by `scripts/build_ort_native.sh`
//! against ONNX Runtime's official headers into `.tools/ort-native/`) `dlopen`s the
//! library the ort backend loads (the venv's onnxruntime wheel, or `ORT_DYLIB_PATH`)
//! and sets the ort backend's session options: intra-op and inter-op threads, graph
//! optimisation level, execution mode, the CPU memory arena. Each of ort's
//! `sessions` is one worker process with one session, serving one request at a
//! time ([`embench_core::pipe_worker`]); a request's latency includes the pipe round
//! trip, as the Python baselines' does.

#![warn(missing_docs)]

pub mod backend;
pub use backend::OrtNativeBackend;

use std::path::{Path, PathBuf};
use std::process::Command;

use embench_core::pipe_worker::{PipeEmbedder, WorkerCommand, WorkerPool};
use embench_core::{BackendInfo, EmbedError, Modality, Phase, Precision};
use embench_ort::{ExecutionMode, GraphOptimization, OrtOptions};

/// The framework name in results.
pub const FRAMEWORK: &str = "ort-native";

/// Environment variable naming the worker executable (default: the project's
/// `.tools/ort-native/ort-native-worker`).
pub const WORKER_ENV: &str = "EMBENCH_ORT_NATIVE_WORKER";

/// Where `scripts/build_ort_native.sh` puts the worker, inside the project.
pub const WORKER_PATH: &str = ".tools/ort-native/ort-native-worker";

/// The fix when the worker is missing.
pub const BUILD_FIX: &str = "scripts/build_ort_native.sh (make test and make build run it): it fetches ONNX Runtime's \
     official C/C++ headers (the release archive of the runtime's version where reachable, else Debian's \
     libonnxruntime-dev) and compiles the worker";

/// The worker executable: `$EMBENCH_ORT_NATIVE_WORKER`, else the project's
/// [`WORKER_PATH`]; an error names what was searched and the fix ("not built").
pub fn worker() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os(WORKER_ENV) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!(
                "{WORKER_ENV}={} {} (fix: point it at the worker scripts/build_ort_native.sh builds, {WORKER_PATH}, or unset it)",
                p.display(),
                if p.exists() { "is not a file" } else { "does not exist" }
            ))
        };
    }
    embench_core::runtime_lib::project_file(WORKER_PATH).map_err(|searched| {
        format!("not built: the C++ worker is missing ({searched}); ONNX Runtime's headers may not have been available (fix: {BUILD_FIX})")
    })
}

/// How to load the model.
#[derive(Debug, Clone)]
pub struct OrtNativeSettings {
    /// Intra-op threads of each worker's session.
    pub threads: usize,
    /// The ort backend's session options (`sessions`: worker processes).
    pub options: OrtOptions,
    /// Text, or a multimodal model's image tower.
    pub modality: Modality,
    /// The image tower's input `(height, width)`.
    pub image_size: Option<(usize, usize)>,
}

/// Starts `options.sessions` workers on `model` (an ONNX file whose output is
/// `sentence_embedding`, `text_embeds` or `image_embeds`, `[rows, dim]`: the head
/// in the graph, as the converter exports it), each `dlopen`ing `library`.
///
/// Errors (phase load): the worker missing, or one that cannot load the library
/// (e.g. older than its headers' C API) or the model.
pub fn load(model: &Path, library: &Path, settings: &OrtNativeSettings) -> Result<PipeEmbedder, EmbedError> {
    let err = |m: String| EmbedError::new(FRAMEWORK, Phase::Load, m);
    let program = worker().map_err(err)?;
    // A worker named by the environment is the first suspect when it fails.
    let fix = match std::env::var_os(WORKER_ENV) {
        Some(_) => format!(
            "{WORKER_ENV}={} is not a working ort-native worker: point it at {WORKER_PATH} as scripts/build_ort_native.sh builds it, or unset it",
            program.display()
        ),
        None => BUILD_FIX.to_string(),
    };
    let o = &settings.options;
    let build = || {
        let mut cmd = Command::new(&program);
        cmd.arg("--library").arg(library).arg("--model").arg(model);
        cmd.args(["--threads", &settings.threads.to_string()]);
        cmd.args(["--inter-op-threads", &o.inter_op_threads.unwrap_or(0).to_string()]);
        cmd.args(["--graph-optimization", graph_optimization(o.graph_optimization)]);
        cmd.args([
            "--execution-mode",
            if o.execution_mode == ExecutionMode::Parallel { "parallel" } else { "sequential" },
        ]);
        cmd.args(["--modality", settings.modality.as_str()]);
        if let Some((h, w)) = settings.image_size {
            cmd.args(["--image-size", &h.to_string(), &w.to_string()]);
        }
        cmd
    };
    let command =
        WorkerCommand { build: &build, what: format!("the ort-native worker ({})", program.display()), fix: &fix };
    let (workers, h) = WorkerPool::start(FRAMEWORK, &command, o.sessions)?;
    let mut backend_settings = h.settings;
    let headers = backend_settings.get("headers").cloned().unwrap_or_default();
    let processes = if o.sessions == 1 { "one worker process" } else { "one worker process each" };
    backend_settings.insert("sessions".into(), format!("{} ({processes})", o.sessions));
    backend_settings.insert("worker".into(), program.display().to_string());
    let mut notes = Vec::new();
    // Headers of version 1.N define ORT_API_VERSION N: the runtime's own headers are
    // those whose API version is its minor version.
    let api: Option<u32> = backend_settings.get("c_api_version").and_then(|v| v.parse().ok());
    let runtime_minor: Option<u32> = h.version.split('.').nth(1).and_then(|m| m.parse().ok());
    if api.is_none() || api != runtime_minor {
        notes.push(format!(
            "the worker was built with ONNX Runtime headers {headers} (C API version {}) and runs library {}: a newer runtime serves an older C API version (OrtApiBase::GetApi); the kernels are the library's",
            backend_settings.get("c_api_version").map_or("?", String::as_str),
            h.version
        ));
    }
    let info = BackendInfo {
        framework: FRAMEWORK.into(),
        framework_version: format!("onnxruntime {} (C++ API, headers {headers})", h.version),
        device: "cpu".into(),
        precision: Precision::Fp32,
        intra_op_threads: h.threads,
        settings: backend_settings,
        notes,
    };
    Ok(PipeEmbedder::new(workers, info))
}

fn graph_optimization(level: GraphOptimization) -> &'static str {
    match level {
        GraphOptimization::Disable => "disable",
        GraphOptimization::Basic => "basic",
        GraphOptimization::Extended => "extended",
        GraphOptimization::All => "all",
    }
}
