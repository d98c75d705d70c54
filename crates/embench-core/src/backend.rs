//! Which backends exist (whether or not this binary was built with them).

use serde::{Deserialize, Serialize};

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
}

impl BackendKind {
    /// All kinds, in display order.
    pub const ALL: [BackendKind; 9] = [
        BackendKind::Mock,
        BackendKind::Candle,
        BackendKind::Ort,
        BackendKind::Openvino,
        BackendKind::Tch,
        BackendKind::PythonOrt,
        BackendKind::PythonTorch,
        BackendKind::PythonOpenvino,
        BackendKind::PythonEcho,
    ];

    /// The name used in configs and results.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Mock => "mock",
            BackendKind::Candle => "candle",
            BackendKind::Ort => "ort",
            BackendKind::Openvino => "openvino",
            BackendKind::Tch => "tch",
            BackendKind::PythonOrt => "python-ort",
            BackendKind::PythonTorch => "python-torch",
            BackendKind::PythonOpenvino => "python-openvino",
            BackendKind::PythonEcho => "python-echo",
        }
    }

    /// Parses a config name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether the backend needs model files (everything but the mock and the echo worker does).
    pub fn needs_model_files(self) -> bool {
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
