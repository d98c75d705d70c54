//! Framework settings of a backend entry (ONNX Runtime's session options,
//! OpenVINO's properties), as written in the config and as resolved for a run.

use serde::{Deserialize, Serialize};

/// ONNX Runtime graph optimisation level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GraphOptimization {
    /// No rewrites.
    Disable,
    /// Constant folding and redundant-node removal.
    Basic,
    /// Basic plus node fusions.
    Extended,
    /// Everything, including layout optimisations (ONNX Runtime's default).
    #[default]
    All,
}

/// ONNX Runtime execution mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionMode {
    /// Operators one after another (intra-op parallelism only).
    #[default]
    Sequential,
    /// Independent branches of the graph in parallel (uses the inter-op threads).
    Parallel,
}

/// An ONNX Runtime execution provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionProvider {
    /// The default CPU provider.
    Cpu,
    /// NVIDIA CUDA.
    Cuda,
    /// Intel OpenVINO, inside ONNX Runtime.
    Openvino,
}

impl ExecutionProvider {
    /// The name used in configs and results.
    pub fn name(self) -> &'static str {
        match self {
            ExecutionProvider::Cpu => "cpu",
            ExecutionProvider::Cuda => "cuda",
            ExecutionProvider::Openvino => "openvino",
        }
    }
}

/// Which file the OpenVINO backend reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelFormat {
    /// The IR with fp32 weights (`openvino/model_fp32.xml`), exact.
    #[default]
    IrFp32,
    /// The IR with fp16-compressed weights (`openvino/model_fp16.xml`, ovc's default).
    IrFp16,
    /// The ONNX file, read directly (`onnx/model.onnx`).
    Onnx,
}

/// OpenVINO's performance hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PerformanceHint {
    /// Few streams, lowest latency per request.
    #[default]
    Latency,
    /// Many streams, highest throughput under concurrency.
    Throughput,
}

impl PerformanceHint {
    /// OpenVINO's property value.
    pub fn property(self) -> &'static str {
        match self {
            PerformanceHint::Latency => "LATENCY",
            PerformanceHint::Throughput => "THROUGHPUT",
        }
    }
}

/// ONNX Runtime settings, resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrtOptions {
    /// Inter-op threads (used in parallel execution mode); None: ONNX Runtime's default.
    pub inter_op_threads: Option<usize>,
    /// Graph optimisation level.
    pub graph_optimization: GraphOptimization,
    /// Sequential or parallel.
    pub execution_mode: ExecutionMode,
    /// Providers in priority order; each must register or the load fails.
    pub execution_providers: Vec<ExecutionProvider>,
    /// Sessions in the pool that concurrent requests draw from (ONNX Runtime's
    /// `Run` is not safe to call concurrently on one session through `ort`).
    pub sessions: usize,
}

impl Default for OrtOptions {
    fn default() -> Self {
        Self {
            inter_op_threads: None,
            graph_optimization: GraphOptimization::All,
            execution_mode: ExecutionMode::Sequential,
            execution_providers: vec![ExecutionProvider::Cpu],
            sessions: 1,
        }
    }
}

/// OpenVINO settings, resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct OpenvinoOptions {
    /// The file read.
    pub model_format: ModelFormat,
    /// Performance hint.
    pub performance_hint: PerformanceHint,
    /// Streams; None: what the hint chooses.
    pub streams: Option<usize>,
    /// Infer requests in the pool; None: the compiled model's optimal number.
    pub infer_requests: Option<usize>,
}

/// The embeddings API an `http` endpoint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HttpApi {
    /// OpenAI's `POST /v1/embeddings`: `{"input": [...], "model": ...}` →
    /// `{"data": [{"embedding": [...]}], "usage": {...}}` (infinity, vLLM, managed services).
    #[default]
    Openai,
    /// Text Embeddings Inference's `POST /embed`: `{"inputs": [...]}` → `[[...], ...]`.
    Tei,
}

impl HttpApi {
    /// The name used in configs and results.
    pub fn name(self) -> &'static str {
        match self {
            HttpApi::Openai => "openai",
            HttpApi::Tei => "tei",
        }
    }
}

/// The `http` backend's settings, resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpOptions {
    /// The endpoint, path included (`http://127.0.0.1:8080/v1/embeddings`).
    pub url: String,
    /// The API it speaks.
    pub api: HttpApi,
    /// OpenAI's `model` field (None: the model's key in models.yaml).
    pub model: Option<String>,
    /// A request without a complete answer by then is a timeout, ms.
    pub timeout_ms: u64,
    /// Keep-alive connections kept open (None: one per client).
    pub connections: Option<usize>,
    /// Extra headers, by name: the environment variable each value is read from when
    /// the backend loads (values are never written into configs' echoes or results).
    pub headers_from_env: std::collections::BTreeMap<String, String>,
}
