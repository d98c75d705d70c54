//! Scenario keys for how requests are served and how long they are measured:
//! replicas × workers with optional dynamic batching, warm-up and measurement
//! durations, repetitions, the steady-state check, the latency-bounded
//! throughput search, and the price that turns throughput into cost.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_saphyr::Spanned;

/// A count that may be `auto` (resolved from the machine when the cell runs, and recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// Chosen from the machine's physical cores.
    Auto,
    /// As given.
    N(usize),
}

impl schemars::JsonSchema for Count {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Count".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "a positive number or \"auto\"",
            "anyOf": [{"type": "integer", "minimum": 1}, {"const": "auto"}]
        })
    }
}

impl Serialize for Count {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Count::Auto => s.serialize_str("auto"),
            Count::N(n) => s.serialize_u64(*n as u64),
        }
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a positive number or \"auto\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Count, E> {
                Ok(Count::N(v as usize))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Count, E> {
                usize::try_from(v).map(Count::N).map_err(|_| E::custom(format!("{v} is negative; use a count or auto")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Count, E> {
                match v {
                    "auto" => Ok(Count::Auto),
                    other => Err(E::custom(format!("'{other}' is neither a number nor \"auto\""))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// `dynamic_batching`: each replica's queue forms batches from waiting requests.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DynamicBatchingSpec {
    /// Most texts in a formed batch.
    pub max_batch_size: usize,
    /// Longest a request waits for others to join it, microseconds (default 2000).
    #[serde(default = "default_max_wait_us")]
    pub max_wait_us: u64,
}

fn default_max_wait_us() -> u64 {
    2000
}

/// `steady_state`: the measured phase is split into windows of equal time; when
/// the last three disagree by more than these spreads ((max - min) / mean) the cell is flagged unstable.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SteadyStateSpec {
    /// Windows (default 5, at least 3).
    #[serde(default = "default_windows")]
    pub windows: usize,
    /// Largest spread of throughput over the last three windows (default 0.10).
    #[serde(default = "default_qps_spread")]
    pub max_qps_spread: f64,
    /// Largest spread of p99 over the last three windows (default 0.25).
    #[serde(default = "default_p99_spread")]
    pub max_p99_spread: f64,
}

fn default_windows() -> usize {
    5
}
fn default_qps_spread() -> f64 {
    0.10
}
fn default_p99_spread() -> f64 {
    0.25
}

impl Default for SteadyStateSpec {
    fn default() -> Self {
        Self { windows: default_windows(), max_qps_spread: default_qps_spread(), max_p99_spread: default_p99_spread() }
    }
}

/// `max_qps_under_slo`: search the open-loop arrival rate for the highest one
/// whose latency percentile stays under the bound.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SloSpec {
    /// The percentile, e.g. 99 or 99.9.
    pub percentile: f64,
    /// The bound on it, milliseconds.
    pub bound_ms: f64,
    /// Stop when the bracket is narrower than this fraction of the rate (default 0.02).
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    /// Most open-loop probes (default 12).
    #[serde(default = "default_max_probes")]
    pub max_probes: usize,
}

fn default_tolerance() -> f64 {
    0.02
}
fn default_max_probes() -> usize {
    12
}

/// `cost`: the instance the figures are priced for.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CostSpec {
    /// Instance type, e.g. `c7i.4xlarge`.
    #[schemars(with = "String")]
    pub instance_type: Spanned<String>,
    /// Price per hour, US dollars.
    #[schemars(with = "f64")]
    pub hourly_usd: Spanned<f64>,
}

/// The default price: AWS c7i.4xlarge on demand, us-east-1 (16 vCPU, 32 GiB), USD per hour.
pub const DEFAULT_INSTANCE: (&str, f64) = ("c7i.4xlarge", 0.714);

/// The price every cell's cost is computed from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cost {
    /// Instance type.
    pub instance_type: String,
    /// USD per hour.
    pub hourly_usd: f64,
    /// Whether it is the default entry rather than the config's.
    pub default: bool,
}

impl Cost {
    /// USD per million of something done at `per_s` per second.
    pub fn per_million(&self, per_s: f64) -> Option<f64> {
        (per_s > 0.0).then(|| self.hourly_usd / (per_s * 3600.0) * 1e6)
    }
}

impl Default for Cost {
    fn default() -> Self {
        Self { instance_type: DEFAULT_INSTANCE.0.into(), hourly_usd: DEFAULT_INSTANCE.1, default: true }
    }
}

/// How a scenario's requests reach the model, resolved (counts may still be `auto`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Execution {
    /// Model instances.
    pub replicas: Count,
    /// Threads feeding each instance.
    pub workers_per_model: Count,
    /// Dynamic batching per replica.
    pub dynamic_batching: Option<DynamicBatching>,
}

/// Dynamic batching, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DynamicBatching {
    /// Most texts in a formed batch.
    pub max_batch_size: usize,
    /// Longest wait for a batch to fill, microseconds.
    pub max_wait_us: u64,
}

/// How long and how often a scenario's cells are measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measurement {
    /// Warm-up goes on until this many seconds have passed as well as the warm-up count.
    pub warmup_duration_s: f64,
    /// The measured phase goes on until this many seconds have passed as well as the request count.
    pub min_duration_s: f64,
    /// Measured repetitions (after one load and warm-up).
    pub repeat: usize,
    /// The steady-state check.
    pub steady_state: SteadyStateSpec,
}

impl Default for Measurement {
    fn default() -> Self {
        Self { warmup_duration_s: 0.0, min_duration_s: 0.0, repeat: 1, steady_state: SteadyStateSpec::default() }
    }
}

/// The latency-bounded throughput search, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Slo {
    /// Percentile (0–100).
    pub percentile: f64,
    /// Bound, milliseconds.
    pub bound_ms: f64,
    /// Relative width at which the search stops.
    pub tolerance: f64,
    /// Most probes.
    pub max_probes: usize,
    /// Arrivals of the probes.
    pub arrival: super::Arrival,
    /// Seed of Poisson arrivals.
    pub seed: u64,
}
