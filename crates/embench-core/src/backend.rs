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
}

impl BackendKind {
    /// All kinds, in display order.
    pub const ALL: [BackendKind; 5] =
        [BackendKind::Mock, BackendKind::Candle, BackendKind::Ort, BackendKind::Openvino, BackendKind::Tch];

    /// The name used in configs and results.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Mock => "mock",
            BackendKind::Candle => "candle",
            BackendKind::Ort => "ort",
            BackendKind::Openvino => "openvino",
            BackendKind::Tch => "tch",
        }
    }

    /// Parses a config name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether the backend needs model files (everything but the mock does).
    pub fn needs_model_files(self) -> bool {
        self != BackendKind::Mock
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
