//! Statistics written in records: steady-state windows, estimates over
//! repetitions, and the latency-bounded throughput search's answer. The runner
//! computes them (`stability`, `slo`); these are only their written form.

use serde::{Deserialize, Serialize};

/// One window of the measured phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// Requests that ended in it.
    pub requests: usize,
    /// Requests per second.
    pub qps: f64,
    /// p99 latency of those requests, ms.
    pub p99_ms: f64,
}

/// The steady-state check of one measured phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SteadyState {
    /// Equal-time windows from the first to the last request's end.
    pub windows: Vec<Window>,
    /// (max - min) / mean of the last three windows' throughput.
    pub qps_spread: f64,
    /// (max - min) / mean of the last three windows' p99.
    pub p99_spread: f64,
    /// Whether a spread is over its threshold.
    pub unstable: bool,
    /// Whether the p99s were compared (offline runs and windows of under 100 requests are judged on throughput alone).
    pub p99_judged: bool,
    /// Why the windows were not compared (too few requests), if so.
    pub not_checked: Option<String>,
}

/// A figure over repetitions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Mean over repetitions.
    pub mean: f64,
    /// 95 % confidence interval of the mean (Student's t), None with one repetition.
    pub ci95: Option<(f64, f64)>,
    /// Each repetition's value.
    pub values: Vec<f64>,
    /// Repetitions whose modified z-score (from the median and MAD) is over 3.5.
    pub outliers: Vec<usize>,
}

/// One open-loop probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// Arrival rate asked for, requests/s.
    pub rate_qps: f64,
    /// Requests/s completed.
    pub achieved_qps: f64,
    /// The percentile's latency, ms.
    pub percentile_ms: f64,
    /// Whether it met the bound (and kept up, without errors).
    pub passed: bool,
}

/// The search's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloResult {
    /// The percentile.
    pub percentile: f64,
    /// The bound, ms.
    pub bound_ms: f64,
    /// Closed-loop throughput at the scenario's concurrency, requests/s.
    pub capacity_qps: f64,
    /// The highest passing rate, None when even the lowest probe missed the bound.
    pub max_qps: Option<f64>,
    /// Every probe, in order.
    pub probes: Vec<Probe>,
    /// How the search ended.
    pub note: String,
}
