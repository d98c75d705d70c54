//! What the python crate provides to the binary's factory: one [`Backend`] per
//! python-* kind, all worker processes of the venv's python.

use std::path::PathBuf;

use embench_core::config::{BlockSchema, ConfigError, ResolvedBackend, Settings, SettingsSource};
use embench_core::model_files::ModelFolder;
use embench_core::{Architecture, Backend, BackendKind, EmbedError, Embedder, LoadRequest, Modality, Phase, Precision};

use crate::settings::{PythonBlock, PythonOptions, TorchMode};
use crate::{interpreter, PythonSettings};

/// A python-* backend: its kind says which framework the worker runs.
pub struct PythonBackend {
    kind: BackendKind,
}

/// The backend of a python-* `kind` (None for any other kind).
pub fn backend(kind: BackendKind) -> Option<&'static PythonBackend> {
    static ALL: [PythonBackend; 4] = [
        PythonBackend { kind: BackendKind::PythonOrt },
        PythonBackend { kind: BackendKind::PythonTorch },
        PythonBackend { kind: BackendKind::PythonOpenvino },
        PythonBackend { kind: BackendKind::PythonEcho },
    ];
    ALL.iter().find(|b| b.kind == kind)
}

impl PythonBackend {
    /// The framework name in results and the worker's `--kind`.
    fn names(&self) -> (&'static str, &'static str) {
        match self.kind {
            BackendKind::PythonOrt => ("python-ort", "ort"),
            BackendKind::PythonTorch => ("python-torch", "torch"),
            BackendKind::PythonOpenvino => ("python-openvino", "openvino"),
            _ => ("python-echo", "echo"),
        }
    }
}

impl PythonBackend {
    /// The file the worker loads: the ONNX export, the fp32 IR, or for python-torch the
    /// Hugging Face safetensors (eager) or the TorchScript export; none for the echo worker.
    fn network_file(&self, folder: &ModelFolder, backend: &ResolvedBackend) -> Option<PathBuf> {
        match self.kind {
            BackendKind::PythonOrt => Some(folder.onnx_model()),
            BackendKind::PythonOpenvino => Some(folder.openvino_ir(false)),
            BackendKind::PythonTorch => Some(match backend.settings::<PythonOptions>().map(|p| p.mode) {
                Some(TorchMode::Torchscript) if backend.precision == Precision::Int8 => {
                    folder.root.join("torchscript/model_int8.pt")
                }
                Some(TorchMode::Torchscript) => folder.torchscript(),
                _ => folder.safetensors(),
            }),
            _ => None,
        }
    }

    /// A multimodal model's file for the tower of `modality` (eager PyTorch: the whole
    /// model's safetensors, of which the worker runs that tower).
    fn tower_file(&self, folder: &ModelFolder, backend: &ResolvedBackend, modality: Modality) -> Option<PathBuf> {
        match self.kind {
            BackendKind::PythonOrt => Some(folder.tower(modality, "onnx", ".onnx")),
            BackendKind::PythonOpenvino => Some(folder.tower(modality, "openvino", "_fp32.xml")),
            BackendKind::PythonTorch => Some(match backend.settings::<PythonOptions>().map(|p| p.mode) {
                Some(TorchMode::Torchscript) => folder.tower(modality, "torchscript", ".pt"),
                _ => folder.safetensors(),
            }),
            _ => None,
        }
    }
}

impl Backend for PythonBackend {
    fn version(&self) -> String {
        match interpreter() {
            Ok(python) => format!("worker in {}", python.display()),
            Err(why) => format!("python missing: {why}"),
        }
    }

    /// The interpreter runs and imports numpy.
    fn runtime_problem(&self) -> Option<String> {
        let python = match interpreter() {
            Err(why) => return Some(why),
            Ok(p) => p,
        };
        match std::process::Command::new(&python).args(["-c", "import numpy"]).output() {
            Ok(out) if out.status.success() => None,
            Ok(out) => Some(format!(
                "{} cannot import numpy: {} (fix: make venv; or point EMBENCH_PYTHON at the project venv's python)",
                python.display(),
                String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("no message")
            )),
            Err(e) => Some(format!("{}: {e}", python.display())),
        }
    }

    fn architectures(&self) -> Option<&'static [Architecture]> {
        match self.kind {
            // The echo worker answers without a model.
            BackendKind::PythonEcho => None,
            _ => Some(&Architecture::ALL),
        }
    }

    fn model_files(&self, folder: &ModelFolder, backend: &ResolvedBackend) -> Vec<PathBuf> {
        if folder.has_towers() {
            let mut files: Vec<PathBuf> = Modality::ALL
                .into_iter()
                .filter_map(|m| self.tower_file(folder, backend, m))
                .flat_map(ModelFolder::with_companions)
                .collect();
            files.dedup();
            return files;
        }
        self.network_file(folder, backend).map(ModelFolder::with_companions).unwrap_or_default()
    }

    /// python-torch's eager mode runs the model's own sentence-transformers pipeline.
    fn runs_export(&self, backend: &ResolvedBackend) -> bool {
        !(self.kind == BackendKind::PythonTorch
            && backend.settings::<PythonOptions>().is_none_or(|p| p.mode == TorchMode::Eager))
    }

    /// python-openvino: bf16 as OpenVINO's inference precision hint; python-torch:
    /// int8 as PyTorch's dynamic quantisation of the Linear layers (eager: at load;
    /// torchscript: the int8 export, `scripts/python/quantize_torch.py`).
    fn precisions(&self) -> &'static [Precision] {
        match self.kind {
            BackendKind::PythonOpenvino => &[Precision::Fp32, Precision::Bf16],
            BackendKind::PythonTorch => &[Precision::Fp32, Precision::Int8],
            _ => &[Precision::Fp32],
        }
    }

    fn settings_block(&self) -> Option<BlockSchema> {
        Some(BlockSchema::of::<PythonBlock>(vec![self.kind]))
    }

    fn settings(&self, source: &SettingsSource) -> Result<Option<Settings>, Vec<ConfigError>> {
        crate::settings::settings(source)
    }

    fn load(&self, request: &LoadRequest) -> Result<Box<dyn Embedder>, EmbedError> {
        let (framework, kind) = self.names();
        request.cpu_only(framework)?;
        let (backend, model) = (request.backend, request.model);
        let options = backend.settings::<PythonOptions>().cloned().unwrap_or_default();
        let network = match self.kind {
            BackendKind::PythonEcho => None,
            BackendKind::PythonTorch if backend.precision == Precision::Int8 && request.towers() => {
                return Err(EmbedError::new(
                    framework,
                    Phase::Load,
                    format!(
                        "precision int8 of model '{}': PyTorch's dynamic quantisation is offered for text models only in embench, not CLIP/SigLIP (fix: fp32 for this model)",
                        model.key
                    ),
                ));
            }
            // The int8 export, checked against its record (stale when the weights changed).
            BackendKind::PythonTorch
                if backend.precision == Precision::Int8 && options.mode == TorchMode::Torchscript =>
            {
                let folder = request.folder(framework)?;
                let variant = embench_core::variants::resolve(folder, "torchscript", "int8-dynamic", &model.key)
                    .map_err(|e| EmbedError::new(framework, Phase::Load, e))?;
                Some(variant.path)
            }
            _ if request.towers() => self.tower_file(request.folder(framework)?, backend, request.modality),
            _ => self.network_file(request.folder(framework)?, backend),
        };
        let image_size = match request.modality {
            Modality::Text => None,
            Modality::Image => Some(request.image_size(framework)?),
        };
        let settings = PythonSettings {
            kind,
            model: network,
            mode: if options.mode == TorchMode::Torchscript { "torchscript" } else { "eager" },
            threads: request.threads,
            precision: backend.precision,
            pooling: model.pooling,
            processes: options.processes,
            dim: model.config.embedding_dim.value,
            modality: request.modality,
            image_size,
        };
        Ok(Box::new(crate::load(framework, &settings)?))
    }
}
