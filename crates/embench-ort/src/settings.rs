//! ONNX Runtime's session options as a backend entry gives them (`ort: {sessions: 2,
//! graph_optimization: basic}`), checked, and resolved into [`OrtOptions`]. ort-native
//! takes the same block (its sessions are worker processes).

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use embench_core::config::{
    BackendSettings, ConfigError, Parallelism, Settings, SettingsBlock, SettingsSource, MAX_CONCURRENCY, MAX_THREADS,
};
use embench_core::Precision;

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

/// How an int8 model was quantised: which file of `scripts/python/quantize_onnx.py` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrtQuantization {
    /// `onnx/model_int8_dynamic.onnx`: int8 weights per channel, activations quantised at
    /// run time (`quantize_dynamic`).
    #[default]
    Dynamic,
    /// `onnx/model_int8_static.onnx`: QDQ, activation ranges calibrated on real
    /// sentences (`quantize_static`, min-max).
    Static,
}

impl OrtQuantization {
    /// The variant's name in `onnx/variants.json` (`int8-dynamic`, `int8-static`).
    pub fn variant(self) -> &'static str {
        match self {
            OrtQuantization::Dynamic => "int8-dynamic",
            OrtQuantization::Static => "int8-static",
        }
    }
}

/// The `ort` block as written.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrtBlock {
    /// Inter-op threads (parallel execution mode).
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub inter_op_threads: Option<Spanned<usize>>,
    /// `disable`, `basic`, `extended` or `all` (default).
    #[serde(default)]
    #[schemars(with = "Option<GraphOptimization>")]
    pub graph_optimization: Option<Spanned<GraphOptimization>>,
    /// `sequential` (default) or `parallel`.
    #[serde(default)]
    #[schemars(with = "Option<ExecutionMode>")]
    pub execution_mode: Option<Spanned<ExecutionMode>>,
    /// Providers in priority order, from `cpu`, `cuda`, `openvino` (default `[cpu]`;
    /// ort-native: `[cpu]` only).
    #[serde(default)]
    #[schemars(with = "Option<Vec<ExecutionProvider>>")]
    pub execution_providers: Option<Spanned<Vec<ExecutionProvider>>>,
    /// Sessions in the pool concurrent requests draw from (default 1; ort-native: one
    /// worker process each).
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub sessions: Option<Spanned<usize>>,
    /// `precision: int8` only: `dynamic` (default; `onnx/model_int8_dynamic.onnx`) or
    /// `static` (QDQ calibrated on real sentences; `onnx/model_int8_static.onnx`), both
    /// made by `scripts/python/quantize_onnx.py`.
    #[serde(default)]
    #[schemars(with = "Option<OrtQuantization>")]
    pub quantization: Option<Spanned<OrtQuantization>>,
}

impl SettingsBlock for OrtBlock {
    const KEY: &'static str = "ort";

    fn example() -> String {
        "sessions: 2".into()
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
    /// The int8 variant (None: not int8).
    pub quantization: Option<OrtQuantization>,
}

impl OrtOptions {
    /// The variant of `onnx/variants.json` that `precision` runs (None: fp32, `model.onnx`).
    pub fn variant(&self, precision: Precision) -> Option<&'static str> {
        match precision {
            Precision::Int8 => Some(self.quantization.unwrap_or_default().variant()),
            Precision::Fp16 => Some("fp16"),
            Precision::Fp32 | Precision::Bf16 => None,
        }
    }
}

impl Default for OrtOptions {
    fn default() -> Self {
        Self {
            inter_op_threads: None,
            graph_optimization: GraphOptimization::All,
            execution_mode: ExecutionMode::Sequential,
            execution_providers: vec![ExecutionProvider::Cpu],
            sessions: 1,
            quantization: None,
        }
    }
}

impl BackendSettings for OrtOptions {
    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("settings are JSON")
    }

    /// Each session has its own intra-op pool; parallel execution runs graph branches
    /// on an inter-op pool beside it.
    fn parallelism(&self) -> Parallelism {
        let inter_op_threads = match self.execution_mode {
            ExecutionMode::Parallel => self.inter_op_threads.unwrap_or(0),
            ExecutionMode::Sequential => 0,
        };
        Parallelism { instances: self.sessions, inter_op_threads }
    }
}

/// Reads and checks the entry's `ort` block: the settings, and the block as written
/// (for a backend that checks more of it, with its places).
///
/// Errors: a count outside its range, an empty provider list.
pub fn read(source: &SettingsSource) -> Result<(OrtOptions, OrtBlock), Vec<ConfigError>> {
    let block: OrtBlock = source.read()?;
    let mut errors = Vec::new();
    let d = OrtOptions::default();
    let execution_providers = match &block.execution_providers {
        Some(list) if list.value.is_empty() => {
            let e = source.at(list, "execution_providers", "no execution providers listed");
            errors.push(e.fix("leave it out for [cpu], or list e.g. [cuda, cpu]"));
            d.execution_providers
        }
        Some(list) => list.value.clone(),
        None => d.execution_providers,
    };
    let precision = source.spec.precision.as_ref().map(|p| p.value);
    let quantization = match (&block.quantization, precision) {
        (Some(q), Some(Precision::Int8)) => Some(q.value),
        (None, Some(Precision::Int8)) => Some(OrtQuantization::default()),
        (Some(q), _) => {
            let e = source.at(q, "quantization", "quantization applies to precision int8 only");
            errors.push(e.fix(match source.kind {
                embench_core::BackendKind::Ort => "set 'precision: int8' beside 'name', or remove quantization",
                _ => "remove quantization: this backend runs fp32 only",
            }));
            None
        }
        (None, _) => None,
    };
    let options = OrtOptions {
        inter_op_threads: source.positive(
            &mut errors,
            "inter_op_threads",
            block.inter_op_threads.as_ref(),
            MAX_THREADS,
        ),
        graph_optimization: block.graph_optimization.as_ref().map_or(d.graph_optimization, |g| g.value),
        execution_mode: block.execution_mode.as_ref().map_or(d.execution_mode, |m| m.value),
        execution_providers,
        sessions: source
            .positive(&mut errors, "sessions", block.sessions.as_ref(), MAX_CONCURRENCY)
            .unwrap_or(d.sessions),
        quantization,
    };
    match errors.is_empty() {
        true => Ok((options, block)),
        false => Err(errors),
    }
}

/// [`read`], as the backend's settings.
pub fn settings(source: &SettingsSource) -> Result<Option<Settings>, Vec<ConfigError>> {
    read(source).map(|(o, _)| Some(Settings::new(o)))
}
