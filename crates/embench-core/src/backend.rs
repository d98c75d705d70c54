//! Which backends exist (whether or not this binary was built with them), and
//! what each backend crate provides ([`Backend`]).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::architecture::{Architecture, Modality};
use crate::config::{BlockSchema, ConfigError, DeviceKind, ResolvedBackend, ResolvedModel, Settings, SettingsSource};
use crate::model_files::ModelFolder;
use crate::{EmbedError, Embedder, Phase, Precision};

/// Every backend embench knows. Variants are never cfg-gated: a backend that was
/// not compiled in is an error at load time that says how to enable it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// A model-free backend with a configurable service time, for testing the harness.
    Mock,
    /// Hugging Face candle.
    Candle,
    /// ONNX Runtime through `ort`.
    Ort,
    /// OpenVINO through the `openvino` crate.
    Openvino,
    /// libtorch through `tch`.
    Tch,
    /// ONNX Runtime's C++ API, in a C++ worker process (what a C++ service gets, no
    /// language binding between; `crates/embench-ort-native/cpp/`).
    #[serde(rename = "ort-native")]
    OrtNative,
    /// ONNX Runtime's Python API, in a Python worker process (the baseline a Python stack gets).
    #[serde(rename = "python-ort")]
    PythonOrt,
    /// PyTorch in Python (eager Hugging Face model or the TorchScript export), in a Python worker process.
    #[serde(rename = "python-torch")]
    PythonTorch,
    /// OpenVINO's Python API, in a Python worker process.
    #[serde(rename = "python-openvino")]
    PythonOpenvino,
    /// A Python worker that answers at once: the worker protocol's own overhead.
    #[serde(rename = "python-echo")]
    PythonEcho,
    /// Any embedding endpoint over HTTP (OpenAI's or TEI's API): `embench serve`,
    /// TEI, infinity, a managed service. The model runs in the server.
    Http,
}

impl BackendKind {
    /// All kinds, in display order.
    pub const ALL: [BackendKind; 11] = [
        BackendKind::Mock,
        BackendKind::Candle,
        BackendKind::Ort,
        BackendKind::OrtNative,
        BackendKind::Openvino,
        BackendKind::Tch,
        BackendKind::PythonOrt,
        BackendKind::PythonTorch,
        BackendKind::PythonOpenvino,
        BackendKind::PythonEcho,
        BackendKind::Http,
    ];

    /// The name used in configs and results.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Mock => "mock",
            BackendKind::Candle => "candle",
            BackendKind::Ort => "ort",
            BackendKind::OrtNative => "ort-native",
            BackendKind::Openvino => "openvino",
            BackendKind::Tch => "tch",
            BackendKind::PythonOrt => "python-ort",
            BackendKind::PythonTorch => "python-torch",
            BackendKind::PythonOpenvino => "python-openvino",
            BackendKind::PythonEcho => "python-echo",
            BackendKind::Http => "http",
        }
    }

    /// Parses a config name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether the backend needs model files (everything but the mock, the echo
    /// worker and `http` does; `http` uses the tokenizer and references when the folder exists).
    pub fn needs_model_files(self) -> bool {
        !matches!(self, BackendKind::Mock | BackendKind::PythonEcho | BackendKind::Http)
    }

    /// Whether its vectors are the model's, to be checked by the correctness gate
    /// (all but the mock and the echo worker; `http` through its endpoint).
    pub fn checks_correctness(self) -> bool {
        !matches!(self, BackendKind::Mock | BackendKind::PythonEcho)
    }

    /// Whether `device: cuda` runs the model on the GPU in this backend itself
    /// (ort reaches the GPU through its CUDA execution provider instead).
    pub fn runs_on_cuda(self) -> bool {
        matches!(self, BackendKind::Candle | BackendKind::Tch | BackendKind::Mock)
    }

    /// Whether the backend runs in a Python worker process.
    pub fn is_python(self) -> bool {
        matches!(
            self,
            BackendKind::PythonOrt | BackendKind::PythonTorch | BackendKind::PythonOpenvino | BackendKind::PythonEcho
        )
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a backend crate provides. The binary's factory has one `cfg` arm per
/// crate returning its `Backend`; everything else (whether it can run here, its
/// version, what it runs, loading a model) is asked of it.
/// After TEI's `init_backend` (text-embeddings-inference, `backends/src/lib.rs`).
pub trait Backend: Sync {
    /// Its library version (for native runtimes, the library found, when it can be
    /// found without loading a model).
    fn version(&self) -> String;

    /// Why its runtime cannot run on this machine (a library missing or not
    /// loading, an interpreter without numpy), None when it can.
    fn runtime_problem(&self) -> Option<String> {
        None
    }

    /// The architectures it runs (None: any, it ignores the model, as the mock does).
    /// A model whose architecture is not listed is refused when the config is validated.
    fn architectures(&self) -> Option<&'static [Architecture]>;

    /// The files of `folder` it reads besides `config.json` and `tokenizer.json` (its
    /// converted network, as `backend`'s settings choose it); validation checks that
    /// they exist before anything runs. None for a backend that loads no model.
    fn model_files(&self, folder: &ModelFolder, backend: &ResolvedBackend) -> Vec<PathBuf> {
        let _ = (folder, backend);
        Vec::new()
    }

    /// The precisions it offers (`precision` in its entry; default fp32 only); a
    /// precision outside them is refused at validate. What actually ran is the
    /// record's `precision` (OpenVINO runs bf16 as fp32 on a CPU without bf16, and says so).
    fn precisions(&self) -> &'static [Precision] {
        &[Precision::Fp32]
    }

    /// The fix for a setting of another backend in its entry, when it has its own
    /// way to the same end (ort-native: `processes` is `ort: {sessions: N}`); None:
    /// "remove it".
    fn instead_of(&self, key: &str) -> Option<String> {
        let _ = key;
        None
    }

    /// Whether `backend` runs the converter's export (its ONNX, IR or TorchScript
    /// files) rather than the model's own pipeline (python-torch's eager mode), so a
    /// model head the export lacks would be missing.
    fn runs_export(&self, backend: &ResolvedBackend) -> bool {
        let _ = backend;
        true
    }

    /// Its settings block, for the JSON Schema and for routing a backend entry's keys
    /// (None: it has no settings of its own). One line with [`BlockSchema::of`].
    fn settings_block(&self) -> Option<BlockSchema> {
        None
    }

    /// Reads and checks its settings from its entry ([`SettingsSource::read`] gives the
    /// block, nested or flat); None when it has none.
    ///
    /// Errors: every problem found, each naming the field and the fix.
    fn settings(&self, source: &SettingsSource) -> Result<Option<Settings>, Vec<ConfigError>> {
        let _ = source;
        Ok(None)
    }

    /// Loads a fresh instance of `request.model`.
    ///
    /// Errors: the model's files missing or unreadable, the framework refusing them,
    /// or settings it cannot honour (e.g. a device it does not run on), at [`Phase::Load`].
    fn load(&self, request: &LoadRequest) -> Result<Box<dyn Embedder>, EmbedError>;
}

/// What a backend is asked to load.
pub struct LoadRequest<'a> {
    /// The backend entry, resolved.
    pub backend: &'a ResolvedBackend,
    /// The model, resolved.
    pub model: &'a ResolvedModel,
    /// Intra-op threads: as configured, else the physical cores this process may use.
    pub threads: usize,
    /// What the cells of this instance embed: a multimodal model loads that tower.
    pub modality: Modality,
}

impl LoadRequest<'_> {
    /// The model's local folder, or an error naming the model.
    pub fn folder(&self, framework: &'static str) -> Result<&ModelFolder, EmbedError> {
        self.model.folder.as_ref().ok_or_else(|| {
            EmbedError::new(
                framework,
                Phase::Load,
                format!("model '{}' has no local path in models.yaml", self.model.key),
            )
        })
    }

    /// Whether the model has a text tower and an image tower (CLIP, SigLIP): its
    /// converted files are one per tower ([`ModelFolder::tower`]).
    pub fn towers(&self) -> bool {
        self.model.modalities().contains(&Modality::Image)
    }

    /// The ONNX network this request runs: the tower of [`Self::modality`] for a
    /// multimodal model, else `onnx/model.onnx`.
    pub fn onnx_network(&self, framework: &'static str) -> Result<PathBuf, EmbedError> {
        let folder = self.folder(framework)?;
        Ok(match self.towers() {
            true => folder.tower(self.modality, "onnx", ".onnx"),
            false => folder.onnx_model(),
        })
    }

    /// The image tower's input `(height, width)`, pixels: `vision_config.image_size` of
    /// the model's `config.json` (square, as CLIP and SigLIP are; transformers' default
    /// when omitted), else models.yaml's `image_size`. Errors when neither gives one.
    pub fn image_size(&self, framework: &'static str) -> Result<(usize, usize), EmbedError> {
        let from_config = self.model.folder.as_ref().and_then(|f| {
            let text = std::fs::read_to_string(f.config_json()).ok()?;
            let json: serde_json::Value = serde_json::from_str(&text).ok()?;
            let vision = crate::tower_config::tower_of(&json, Modality::Image)?;
            vision["image_size"].as_u64().map(|n| n as usize)
        });
        from_config.or(self.model.config.image_size).map(|n| (n, n)).ok_or_else(|| {
            EmbedError::new(
                framework,
                Phase::Load,
                format!(
                    "model '{}': no vision_config.image_size in config.json and no image_size in models.yaml (fix: set image_size)",
                    self.model.key
                ),
            )
        })
    }

    /// An error unless the backend is asked to run on the CPU.
    pub fn cpu_only(&self, framework: &'static str) -> Result<(), EmbedError> {
        if self.backend.device == DeviceKind::Cuda {
            return Err(EmbedError::new(
                framework,
                Phase::Load,
                format!(
                    "{framework} runs on the CPU in embench (fix: device: cpu, or for ort list execution_providers: [cuda])"
                ),
            ));
        }
        Ok(())
    }
}

/// What validation asks about the backends of this binary.
pub trait BackendCatalog {
    /// Why `kind` cannot run here (not compiled in, its runtime missing), None when it can.
    fn unusable(&self, kind: BackendKind) -> Option<String>;

    /// The architectures `kind` runs (None: any, or not known because it is not compiled in).
    fn architectures(&self, kind: BackendKind) -> Option<&'static [Architecture]> {
        let _ = kind;
        None
    }

    /// The files of `folder` that `backend` reads besides `config.json` and
    /// `tokenizer.json` ([`Backend::model_files`]; none when not known).
    fn model_files(&self, folder: &ModelFolder, backend: &ResolvedBackend) -> Vec<PathBuf> {
        let _ = (folder, backend);
        Vec::new()
    }

    /// The crate of `kind`, when this binary has it (it reads the entry's settings).
    fn backend(&self, kind: BackendKind) -> Option<&'static dyn Backend> {
        let _ = kind;
        None
    }

    /// The settings blocks of the backends this binary has, each once with the
    /// backends that take it.
    fn blocks(&self) -> Vec<BlockSchema> {
        let mut out: Vec<BlockSchema> = Vec::new();
        for kind in BackendKind::ALL {
            let Some(block) = self.backend(kind).and_then(|b| b.settings_block()) else { continue };
            match out.iter_mut().find(|b| b.key == block.key) {
                Some(known) if !known.owners.contains(&kind) => known.owners.push(kind),
                Some(_) => {}
                None => out.push(BlockSchema { owners: vec![kind], ..block }),
            }
        }
        out
    }
}

/// A catalog of the backend crates a function gives, every one usable (tests and
/// tools that read configs without the binary).
pub struct Crates(pub fn(BackendKind) -> Option<&'static dyn Backend>);

impl BackendCatalog for Crates {
    fn unusable(&self, _kind: BackendKind) -> Option<String> {
        None
    }

    fn architectures(&self, kind: BackendKind) -> Option<&'static [Architecture]> {
        self.backend(kind).and_then(|b| b.architectures())
    }

    fn backend(&self, kind: BackendKind) -> Option<&'static dyn Backend> {
        (self.0)(kind)
    }
}

/// A plain availability function is a catalog that checks no architectures (tests, tools).
impl<F: Fn(BackendKind) -> Option<String>> BackendCatalog for F {
    fn unusable(&self, kind: BackendKind) -> Option<String> {
        self(kind)
    }
}
