//! The one place that knows which backends this binary was built with.

use embench_core::config::{DeviceKind, ResolvedBackend, ResolvedModel};
use embench_core::model_files::ModelFolder;
use embench_core::{BackendKind, EmbedError, Embedder, Phase};
use embench_runner::run::execute::BackendFactory;
use embench_schema::manifest::BackendVersion;

/// Whether the shared library at `path` loads (its dependencies found, the right
/// architecture): dlopen, then dlclose; the error is dlerror's, with the path.
#[allow(dead_code)] // unused in a build without ort and openvino
fn loads(path: &std::path::Path) -> Result<(), String> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
    // SAFETY: dlopen/dlerror/dlclose are called with a valid NUL-terminated path and
    // the handle dlopen returned; the library's constructors run as they would at load.
    unsafe {
        let handle = libc::dlopen(c.as_ptr(), libc::RTLD_LAZY | libc::RTLD_LOCAL);
        if handle.is_null() {
            let err = libc::dlerror();
            let msg = if err.is_null() {
                "unknown error".into()
            } else {
                std::ffi::CStr::from_ptr(err).to_string_lossy().into_owned()
            };
            return Err(format!("{} does not load: {msg}", path.display()));
        }
        libc::dlclose(handle);
    }
    Ok(())
}

/// Builds backends by kind, one `cfg` arm each.
pub struct Factory;

impl Factory {
    /// Why `kind` cannot run in this binary, or None when it can.
    pub fn unavailable(kind: BackendKind) -> Option<String> {
        let built = match kind {
            BackendKind::Mock => cfg!(feature = "mock"),
            BackendKind::Candle => cfg!(feature = "candle"),
            BackendKind::Ort => cfg!(feature = "ort"),
            BackendKind::Openvino => cfg!(feature = "openvino"),
            BackendKind::PythonOrt
            | BackendKind::PythonTorch
            | BackendKind::PythonOpenvino
            | BackendKind::PythonEcho => {
                cfg!(feature = "python")
            }
            BackendKind::Tch => {
                return (!cfg!(feature = "tch")).then(|| {
                    "built without it: libtorch is linked at build time (fix: `make build`, which runs \
                     LIBTORCH_USE_PYTORCH=1 PATH=.venv/bin:$PATH cargo build -p embench --features tch)"
                        .to_string()
                })
            }
        };
        let feature = if kind.is_python() { "python".to_string() } else { kind.to_string() };
        (!built).then(|| format!("built without it (fix: cargo build -p embench --features {feature})"))
    }

    /// Why `kind` cannot run on this machine, or None when it can: not compiled in, or
    /// its runtime missing. ort and openvino: the library is found and loads (dlopen);
    /// the python-* backends: the interpreter runs and imports numpy. Checked when a
    /// config is validated, so a bad `ORT_DYLIB_PATH` fails before anything runs.
    pub fn usable(kind: BackendKind) -> Option<String> {
        Self::unavailable(kind).or_else(|| Self::runtime_problem(kind))
    }

    fn runtime_problem(kind: BackendKind) -> Option<String> {
        let library = match kind {
            #[cfg(feature = "ort")]
            BackendKind::Ort => Some(embench_ort::runtime_library()),
            #[cfg(feature = "openvino")]
            BackendKind::Openvino => Some(embench_openvino::runtime_library()),
            #[cfg(feature = "python")]
            k if k.is_python() => {
                return match embench_python::interpreter() {
                    Err(why) => Some(why),
                    Ok(python) => {
                        let ran = std::process::Command::new(&python).args(["-c", "import numpy"]).output();
                        match ran {
                            Ok(out) if out.status.success() => None,
                            Ok(out) => Some(format!(
                                "{} cannot import numpy: {} (fix: make venv; or point EMBENCH_PYTHON at the project venv's python)",
                                python.display(),
                                String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("no message")
                            )),
                            Err(e) => Some(format!("{}: {e}", python.display())),
                        }
                    }
                };
            }
            #[allow(unreachable_patterns)]
            _ => None,
        };
        match library? {
            Err(why) => Some(why),
            Ok(path) => loads(&path).err(),
        }
    }

    /// The library version of a compiled-in backend (for native runtimes, the
    /// version of the library found, when it can be found without loading a model).
    fn version(kind: BackendKind) -> Option<String> {
        match kind {
            #[cfg(feature = "candle")]
            BackendKind::Candle => Some(embench_candle::CANDLE_VERSION.to_string()),
            #[cfg(feature = "mock")]
            BackendKind::Mock => Some(env!("CARGO_PKG_VERSION").to_string()),
            #[cfg(feature = "ort")]
            BackendKind::Ort => Some(match embench_ort::runtime_library() {
                Ok(path) => format!("ort {} + {}", embench_ort::ORT_CRATE_VERSION, path.display()),
                Err(why) => format!("ort {} (library missing: {why})", embench_ort::ORT_CRATE_VERSION),
            }),
            #[cfg(feature = "tch")]
            BackendKind::Tch => {
                Some(format!("libtorch {} (tch {})", embench_tch::LIBTORCH_VERSION, embench_tch::TCH_CRATE_VERSION))
            }
            #[cfg(feature = "openvino")]
            BackendKind::Openvino => Some(match embench_openvino::runtime_library() {
                Ok(path) => path.display().to_string(),
                Err(why) => format!("library missing: {why}"),
            }),
            #[cfg(feature = "python")]
            k if k.is_python() => Some(match embench_python::interpreter() {
                Ok(python) => format!("worker in {}", python.display()),
                Err(why) => format!("python missing: {why}"),
            }),
            // Reached only when some backend is not compiled in.
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }
}

fn not_available(kind: BackendKind) -> EmbedError {
    let why = Factory::unavailable(kind).unwrap_or_default();
    EmbedError::new("embench", Phase::Load, format!("backend '{kind}' cannot run: {why}"))
}

/// Intra-op threads: as configured, else (unset or `auto`) the physical cores this
/// process may use, container quota applied (recorded either way).
fn threads(backend: &ResolvedBackend) -> usize {
    backend.threads.unwrap_or_else(embench_runner::machine::host::effective_cores)
}

fn folder<'a>(framework: &'static str, model: &'a ResolvedModel) -> Result<&'a ModelFolder, EmbedError> {
    model.folder.as_ref().ok_or_else(|| {
        EmbedError::new(framework, Phase::Load, format!("model '{}' has no local path in models.yaml", model.key))
    })
}

fn cpu_only(framework: &'static str, backend: &ResolvedBackend) -> Result<(), EmbedError> {
    if backend.device == DeviceKind::Cuda {
        return Err(EmbedError::new(
            framework,
            Phase::Load,
            format!("{framework} runs on the CPU in embench (fix: device: cpu, or for ort list execution_providers: [cuda])"),
        ));
    }
    Ok(())
}

impl BackendFactory for Factory {
    fn load(&self, backend: &ResolvedBackend, model: &ResolvedModel) -> Result<Box<dyn Embedder>, EmbedError> {
        match backend.kind {
            #[cfg(feature = "mock")]
            BackendKind::Mock => {
                let settings = backend.mock.clone().expect("validation fills mock settings");
                let mock = embench_mock::MockEmbedder::new(settings);
                Ok(Box::new(if backend.device == DeviceKind::Cuda { mock.on_simulated_gpu() } else { mock }))
            }
            #[cfg(feature = "candle")]
            BackendKind::Candle => load_candle(backend, model),
            #[cfg(feature = "ort")]
            BackendKind::Ort => {
                cpu_only("ort", backend)?;
                let folder = folder("ort", model)?;
                let settings = embench_ort::OrtSettings {
                    threads: Some(threads(backend)),
                    options: backend.ort.clone().expect("validation fills ort options"),
                    pooling: model.pooling,
                };
                Ok(Box::new(embench_ort::OrtEmbedder::load(&folder.onnx_model(), &settings)?))
            }
            #[cfg(feature = "openvino")]
            BackendKind::Openvino => {
                cpu_only("openvino", backend)?;
                let folder = folder("openvino", model)?;
                let file = folder.network_file(backend).expect("openvino reads a file");
                let settings = embench_openvino::OpenvinoSettings {
                    threads: Some(threads(backend)),
                    precision: backend.precision,
                    options: backend.openvino.clone().expect("validation fills openvino options"),
                    pooling: model.pooling,
                };
                Ok(Box::new(embench_openvino::OpenvinoEmbedder::load(&file, &settings)?))
            }
            #[cfg(feature = "tch")]
            BackendKind::Tch => {
                let folder = folder("tch", model)?;
                let settings = embench_tch::TchSettings {
                    threads: Some(threads(backend)),
                    cuda: backend.device == DeviceKind::Cuda,
                    precision: backend.precision,
                    pooling: model.pooling,
                };
                Ok(Box::new(embench_tch::TchEmbedder::load(&folder.torchscript(), &settings)?))
            }
            #[cfg(feature = "python")]
            kind if kind.is_python() => load_python(backend, model),
            // Reached only when some backend is not compiled in.
            #[allow(unreachable_patterns)]
            other => {
                let _ = model;
                Err(not_available(other))
            }
        }
    }

    fn versions(&self) -> Vec<BackendVersion> {
        BackendKind::ALL
            .iter()
            .map(|&k| BackendVersion {
                backend: k.name().into(),
                compiled: Factory::unavailable(k).is_none(),
                version: Factory::version(k),
            })
            .collect()
    }
}

#[cfg(feature = "candle")]
fn load_candle(backend: &ResolvedBackend, model: &ResolvedModel) -> Result<Box<dyn Embedder>, EmbedError> {
    let load_err = |msg: String| EmbedError::new("candle", Phase::Load, msg);
    if let Some(arch) = &model.config.architecture {
        if arch.value != "bert" {
            return Err(load_err(format!(
                "model '{}' is a '{}' model; the candle backend runs the BERT family only (fix: remove candle for this model)",
                model.key, arch.value
            )));
        }
    }
    let folder = folder("candle", model)?;
    let settings = embench_candle::CandleSettings {
        threads: Some(threads(backend)),
        cuda: backend.device == DeviceKind::Cuda,
        pooling: model.pooling,
    };
    Ok(Box::new(embench_candle::CandleEmbedder::load(folder, &settings)?))
}

#[cfg(feature = "python")]
fn load_python(backend: &ResolvedBackend, model: &ResolvedModel) -> Result<Box<dyn Embedder>, EmbedError> {
    use embench_core::config::TorchMode;
    let (framework, kind) = match backend.kind {
        BackendKind::PythonOrt => ("python-ort", "ort"),
        BackendKind::PythonTorch => ("python-torch", "torch"),
        BackendKind::PythonOpenvino => ("python-openvino", "openvino"),
        _ => ("python-echo", "echo"),
    };
    cpu_only(framework, backend)?;
    let options = backend.python.clone().expect("validation fills python options");
    let network = match backend.kind {
        BackendKind::PythonEcho => None,
        _ => folder(framework, model)?.network_file(backend),
    };
    let settings = embench_python::PythonSettings {
        kind,
        model: network,
        mode: if options.mode == TorchMode::Torchscript { "torchscript" } else { "eager" },
        threads: threads(backend),
        precision: backend.precision,
        pooling: model.pooling,
        processes: options.processes,
        dim: model.config.embedding_dim.value,
    };
    Ok(Box::new(embench_python::PythonEmbedder::load(framework, &settings)?))
}
