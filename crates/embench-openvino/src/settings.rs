//! OpenVINO's properties as a backend entry gives them (`openvino: {model_format:
//! ir_fp16, streams: 2}`), checked, and resolved into [`OpenvinoOptions`].

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use embench_core::config::{
    BackendSettings, ConfigError, Parallelism, Settings, SettingsBlock, SettingsSource, MAX_CONCURRENCY, MAX_THREADS,
};
use embench_core::Precision;

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

/// Which int8 IR `precision: int8` runs, both made by NNCF (`scripts/python/quantize_openvino.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OpenvinoQuantization {
    /// `openvino/model_int8.xml`: weights and activations in int8 (`nncf.quantize`,
    /// calibrated on real sentences).
    #[default]
    Static,
    /// `openvino/model_int8_weights.xml`: int8 weights only (`nncf.compress_weights`).
    Weights,
}

impl OpenvinoQuantization {
    /// The variant's name in `openvino/variants.json`.
    pub fn variant(self) -> &'static str {
        match self {
            OpenvinoQuantization::Static => "int8-static",
            OpenvinoQuantization::Weights => "int8-weights",
        }
    }

    /// The IR's file name.
    pub fn file(self) -> &'static str {
        match self {
            OpenvinoQuantization::Static => "model_int8.xml",
            OpenvinoQuantization::Weights => "model_int8_weights.xml",
        }
    }
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

/// The `openvino` block as written.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenvinoBlock {
    /// `ir_fp32` (default), `ir_fp16` or `onnx`.
    #[serde(default)]
    #[schemars(with = "Option<ModelFormat>")]
    pub model_format: Option<Spanned<ModelFormat>>,
    /// `latency` (default) or `throughput`.
    #[serde(default)]
    #[schemars(with = "Option<PerformanceHint>")]
    pub performance_hint: Option<Spanned<PerformanceHint>>,
    /// Number of streams (default: the hint's choice).
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub streams: Option<Spanned<usize>>,
    /// Infer requests in the pool (default: the compiled model's optimal number).
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub infer_requests: Option<Spanned<usize>>,
    /// `precision: int8` only: `static` (default; weights and activations,
    /// `openvino/model_int8.xml`) or `weights` (int8 weights only,
    /// `openvino/model_int8_weights.xml`), both made by NNCF.
    #[serde(default)]
    #[schemars(with = "Option<OpenvinoQuantization>")]
    pub quantization: Option<Spanned<OpenvinoQuantization>>,
}

impl SettingsBlock for OpenvinoBlock {
    const KEY: &'static str = "openvino";

    fn example() -> String {
        "performance_hint: throughput".into()
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
    /// The int8 IR (None: not int8).
    pub quantization: Option<OpenvinoQuantization>,
}

impl BackendSettings for OpenvinoOptions {
    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("settings are JSON")
    }

    /// Streams run at once (every stream gets at least one thread).
    fn parallelism(&self) -> Parallelism {
        Parallelism { instances: self.streams.unwrap_or(1), inter_op_threads: 0 }
    }
}

/// Reads and checks the entry's `openvino` block.
///
/// Errors: streams or infer requests outside their range.
pub fn settings(source: &SettingsSource) -> Result<Option<Settings>, Vec<ConfigError>> {
    let block: OpenvinoBlock = source.read()?;
    let mut errors = Vec::new();
    let int8 = source.spec.precision.as_ref().is_some_and(|p| p.value == Precision::Int8);
    let quantization = match (&block.quantization, int8) {
        (Some(q), true) => Some(q.value),
        (None, true) => Some(OpenvinoQuantization::default()),
        (Some(q), false) => {
            let e = source.at(q, "quantization", "quantization applies to precision int8 only");
            errors.push(e.fix("set 'precision: int8' beside 'name', or remove quantization"));
            None
        }
        (None, false) => None,
    };
    if let Some(m) = block.model_format.as_ref().filter(|_| int8) {
        let e =
            source.at(m, "model_format", "model_format does not apply to precision int8: the int8 IR is its own file");
        errors.push(e.fix("remove model_format; 'quantization: static | weights' chooses the int8 IR"));
    }
    let options = OpenvinoOptions {
        quantization,
        model_format: block.model_format.as_ref().map_or_else(Default::default, |m| m.value),
        performance_hint: block.performance_hint.as_ref().map_or_else(Default::default, |h| h.value),
        streams: source.positive(&mut errors, "streams", block.streams.as_ref(), MAX_THREADS),
        infer_requests: source.positive(&mut errors, "infer_requests", block.infer_requests.as_ref(), MAX_CONCURRENCY),
    };
    match errors.is_empty() {
        true => Ok(Some(Settings::new(options))),
        false => Err(errors),
    }
}
