//! The machine's dense matrix-multiply peak through OpenVINO (oneDNN): one
//! large MatMul, timed back to back, the figure model-FLOPs utilisation is
//! measured against.

use std::path::Path;
use std::time::{Duration, Instant};

use embench_core::{EmbedError, Phase, PhaseContext, Precision};
use openvino::{Core, DeviceType, ElementType, PropertyKey, RwPropertyKey, Shape, Tensor};
use serde::{Deserialize, Serialize};

use crate::{load_library, precision_from_property, precision_property, FRAMEWORK};

/// One measured peak.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatmulPeak {
    /// The precision asked for.
    pub requested: Precision,
    /// The precision OpenVINO ran (read back; fp32 on CPUs without bf16 units).
    pub precision: Precision,
    /// Matrix size (n × n times n × n).
    pub n: usize,
    /// Inference threads.
    pub threads: usize,
    /// Timed multiplications.
    pub runs: usize,
    /// Best GFLOP/s over the runs (2·n³ per multiplication).
    pub gflops: f64,
    /// Median GFLOP/s over the runs.
    pub median_gflops: f64,
}

/// Times `model` (an [n, n] MatMul, `scripts/python/make_matmul.py`) in
/// `precision` on `threads` threads for about `seconds`, after 3 warm-up runs.
pub fn matmul_peak(model: &Path, precision: Precision, threads: usize, seconds: f64) -> Result<MatmulPeak, EmbedError> {
    load_library()?;
    let mut core = Core::new().in_phase(FRAMEWORK, Phase::Load)?;
    let cpu = DeviceType::CPU;
    core.set_property(&cpu, &RwPropertyKey::HintPerformanceMode, "LATENCY").in_phase(FRAMEWORK, Phase::Load)?;
    core.set_property(&cpu, &RwPropertyKey::HintInferencePrecision, precision_property(precision))
        .in_phase(FRAMEWORK, Phase::Load)?;
    core.set_property(&cpu, &RwPropertyKey::InferenceNumThreads, &threads.to_string())
        .in_phase(FRAMEWORK, Phase::Load)?;
    let path = model.to_str().ok_or_else(|| EmbedError::new(FRAMEWORK, Phase::Load, "model path is not UTF-8"))?;
    let network = core
        .read_model_from_file(path, "")
        .map_err(|e| EmbedError::new(FRAMEWORK, Phase::Load, format!("{}: {e}", model.display())))?;
    let mut compiled = core.compile_model(&network, cpu).in_phase(FRAMEWORK, Phase::Load)?;
    let ran = compiled
        .get_property(&PropertyKey::Rw(RwPropertyKey::HintInferencePrecision))
        .ok()
        .and_then(|p| precision_from_property(&p))
        .unwrap_or(precision);
    let input = compiled.get_input_by_index(0).in_phase(FRAMEWORK, Phase::Load)?;
    let dims = input.get_shape().in_phase(FRAMEWORK, Phase::Load)?.get_dimensions().to_vec();
    let n = match dims.as_slice() {
        [a, b] if a == b && *a > 0 => *a as usize,
        other => {
            return Err(EmbedError::new(
                FRAMEWORK,
                Phase::Load,
                format!("{}: expected one [n, n] input, found {other:?}", model.display()),
            ))
        }
    };
    let name = input.get_name().in_phase(FRAMEWORK, Phase::Load)?;
    let mut request = compiled.create_infer_request().in_phase(FRAMEWORK, Phase::Load)?;
    let shape = Shape::new(&[n as i64, n as i64]).in_phase(FRAMEWORK, Phase::Inference)?;
    let mut a = Tensor::new(ElementType::F32, &shape).in_phase(FRAMEWORK, Phase::Inference)?;
    for (i, v) in a.get_data_mut::<f32>().in_phase(FRAMEWORK, Phase::Inference)?.iter_mut().enumerate() {
        *v = ((i % 97) as f32 - 48.0) / 97.0;
    }
    request.set_tensor(&name, &a).in_phase(FRAMEWORK, Phase::Inference)?;
    for _ in 0..3 {
        request.infer().in_phase(FRAMEWORK, Phase::Inference)?;
    }
    let flop = 2.0 * (n as f64).powi(3);
    let mut rates = Vec::new();
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    while rates.len() < 3 || Instant::now() < until {
        let t = Instant::now();
        request.infer().in_phase(FRAMEWORK, Phase::Inference)?;
        rates.push(flop / t.elapsed().as_secs_f64() / 1e9);
    }
    rates.sort_by(f64::total_cmp);
    Ok(MatmulPeak {
        requested: precision,
        precision: ran,
        n,
        threads,
        runs: rates.len(),
        gflops: *rates.last().expect("at least 3 runs"),
        median_gflops: rates[rates.len() / 2],
    })
}
