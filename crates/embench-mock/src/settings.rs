//! The mock's settings as a backend entry gives them (`mock: {service_time:
//! {distribution: constant, ms: 2}, stall: ...}`), checked, and resolved into
//! [`MockSettings`].

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use embench_core::config::{BackendSettings, ConfigError, Settings, SettingsBlock, SettingsSource};

/// The `mock` block as written.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MockBlock {
    /// The service time of one request (default: none, `{distribution: constant, ms: 0}`).
    #[serde(default)]
    #[schemars(with = "Option<ServiceTime>")]
    pub service_time: Option<Spanned<ServiceTime>>,
    /// Periodic stalls on top of the service time.
    #[serde(default)]
    #[schemars(with = "Option<Stall>")]
    pub stall: Option<Spanned<Stall>>,
    /// Extra service time per text of the batch.
    #[serde(default)]
    #[schemars(with = "Option<BatchCost>")]
    pub batch_cost: Option<Spanned<BatchCost>>,
    /// With `device: cuda` (simulated), requests of more texts than this fail with a
    /// CUDA out-of-memory error (to exercise the CPU fallback).
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub oom_above_batch: Option<Spanned<usize>>,
    /// Crash the process on the first request of a chosen batch size
    /// (`{at_batch: 2, how: abort | segfault | hang}`), to exercise process isolation.
    #[serde(default)]
    #[schemars(with = "Option<Crash>")]
    pub crash: Option<Spanned<Crash>>,
    /// Wrong vectors for requests above a batch size and/or a sequence length
    /// (`{values: nan | inf | noise, above_batch: 32, above_seq: 64}`), to exercise the
    /// finite-output check and the correctness gate at a cell's shape.
    #[serde(default)]
    #[schemars(with = "Option<WrongOutput>")]
    pub wrong_output: Option<Spanned<WrongOutput>>,
    /// Embedding dimension it returns (default 384).
    #[serde(default)]
    pub embedding_dim: Option<usize>,
    /// Seed of the service-time draws (default 42).
    #[serde(default)]
    pub seed: Option<u64>,
}

impl SettingsBlock for MockBlock {
    const KEY: &'static str = "mock";

    fn example() -> String {
        "service_time: {distribution: constant, ms: 1}".into()
    }
}

/// Mock backend settings, resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MockSettings {
    /// Service time of one request.
    pub service_time: ServiceTime,
    /// Periodic stalls.
    pub stall: Option<Stall>,
    /// Extra time per text of the batch.
    pub batch_cost: Option<BatchCost>,
    /// Dimension of the vectors it returns.
    pub embedding_dim: usize,
    /// On a simulated GPU, batches of more texts than this fail out of memory.
    pub oom_above_batch: Option<usize>,
    /// Crash the process on the first request of this batch size.
    pub crash: Option<Crash>,
    /// Wrong vectors for requests above a batch size or length.
    pub wrong_output: Option<WrongOutput>,
    /// Seed of its draws.
    pub seed: u64,
}

impl Default for MockSettings {
    /// No service time, 384 dimensions, seed 42.
    fn default() -> Self {
        Self {
            service_time: ServiceTime::Constant { ms: 0.0 },
            stall: None,
            batch_cost: None,
            embedding_dim: 384,
            oom_above_batch: None,
            crash: None,
            wrong_output: None,
            seed: 42,
        }
    }
}

impl BackendSettings for MockSettings {
    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("settings are JSON")
    }
}

/// Reads and checks the entry's `mock` block.
///
/// Errors: a service time, stall or batch cost that is negative, not finite, or
/// inconsistent (min above max, a stall as long as its period).
pub fn settings(source: &SettingsSource) -> Result<Option<Settings>, Vec<ConfigError>> {
    let block: MockBlock = source.read()?;
    let mut errors = Vec::new();
    if let Some(st) = &block.service_time {
        let bad = match &st.value {
            ServiceTime::Constant { ms } => !(ms.is_finite() && *ms >= 0.0),
            ServiceTime::Uniform { min_ms, max_ms } => {
                !(min_ms.is_finite() && max_ms.is_finite() && 0.0 <= *min_ms && min_ms <= max_ms)
            }
            ServiceTime::Exponential { mean_ms } => !(mean_ms.is_finite() && *mean_ms > 0.0),
        };
        if bad {
            let e = source.at(st, "service_time", "service times must be finite, non-negative, min <= max, mean > 0");
            errors.push(e.fix("e.g. '{distribution: uniform, min_ms: 1, max_ms: 3}'"));
        }
    }
    if let Some(stall) = &block.stall {
        let Stall { every_ms, duration_ms } = stall.value;
        if !(every_ms > 0.0 && duration_ms >= 0.0 && duration_ms < every_ms) {
            let e = source.at(stall, "stall", "a stall needs every_ms > 0 and 0 <= duration_ms < every_ms");
            errors.push(e.fix("e.g. '{every_ms: 1000, duration_ms: 100}'"));
        }
    }
    if let Some(c) = &block.batch_cost {
        let BatchCost { per_text_ms, per_text_squared_ms } = c.value;
        if !(per_text_ms.is_finite()
            && per_text_squared_ms.is_finite()
            && per_text_ms >= 0.0
            && per_text_squared_ms >= 0.0)
        {
            let e = source.at(c, "batch_cost", "batch costs must be finite and non-negative");
            errors.push(e.fix("e.g. '{per_text_ms: 0.5, per_text_squared_ms: 0.02}'"));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let d = MockSettings::default();
    Ok(Some(Settings::new(MockSettings {
        service_time: block.service_time.map_or(d.service_time, |s| s.value),
        batch_cost: block.batch_cost.map(|c| c.value),
        stall: block.stall.map(|s| s.value),
        embedding_dim: block.embedding_dim.unwrap_or(d.embedding_dim),
        seed: block.seed.unwrap_or(d.seed),
        oom_above_batch: block.oom_above_batch.map(|n| n.value),
        crash: block.crash.map(|c| c.value),
        wrong_output: block.wrong_output.map(|w| w.value),
    })))
}

/// How the mock crashes (`crash.how`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CrashKind {
    /// `abort()`: SIGABRT, as a failed C++ assertion does.
    Abort,
    /// A segmentation fault (SIGSEGV).
    Segfault,
    /// Never returns.
    Hang,
}

/// The mock's chosen crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Crash {
    /// The batch size whose first request crashes.
    pub at_batch: usize,
    /// How.
    pub how: CrashKind,
}

/// What the mock's wrong vectors hold (`wrong_output.values`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WrongValues {
    /// Every value NaN.
    Nan,
    /// Every value +infinity.
    Inf,
    /// Finite, but pointing elsewhere than the right vector (cosine about 0 to it).
    Noise,
}

/// The mock's wrong outputs: every request with more than `above_batch` texts
/// and (when set) inputs of more than `above_seq` tokens gets wrong vectors; an
/// unset bound holds for every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WrongOutput {
    /// What the wrong vectors hold.
    pub values: WrongValues,
    /// Only batches of more texts than this (unset: any batch).
    #[serde(default)]
    pub above_batch: Option<usize>,
    /// Only inputs padded to more tokens than this (unset: any length).
    #[serde(default)]
    pub above_seq: Option<usize>,
}

impl WrongOutput {
    /// Whether a request of `batch` texts padded to `seq` tokens gets wrong vectors.
    pub fn applies(&self, batch: usize, seq: usize) -> bool {
        self.above_batch.is_none_or(|n| batch > n) && self.above_seq.is_none_or(|n| seq > n)
    }
}

/// A mock service-time distribution (milliseconds).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(tag = "distribution", rename_all = "snake_case", deny_unknown_fields)]
pub enum ServiceTime {
    /// Always `ms`.
    Constant {
        /// The service time.
        ms: f64,
    },
    /// Uniform between `min_ms` and `max_ms`.
    Uniform {
        /// Lower bound.
        min_ms: f64,
        /// Upper bound.
        max_ms: f64,
    },
    /// Exponential with mean `mean_ms`.
    Exponential {
        /// The mean.
        mean_ms: f64,
    },
}

/// Periodic stalls: every `every_ms` of wall time the mock freezes for `duration_ms`,
/// like a GC pause; requests arriving during a stall wait for its end.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stall {
    /// Period of the stalls.
    pub every_ms: f64,
    /// Length of each stall.
    pub duration_ms: f64,
}

/// Mock only: service time that grows with the batch, `per_text_ms·b + per_text_squared_ms·b²`
/// on top of `service_time`, so a batch sweep has a known optimum.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchCost {
    /// Milliseconds per text.
    #[serde(default)]
    pub per_text_ms: f64,
    /// Milliseconds per text squared (a cost that outgrows the batch, like memory pressure).
    #[serde(default)]
    pub per_text_squared_ms: f64,
}
