//! `configs/benchmark_config.yaml`: which models and backends, and the scenarios.

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::backend_entry::{backend_list, BackendEntry, BackendSpec};
use super::execution::{CostSpec, Count, DynamicBatchingSpec, SloSpec, SteadyStateSpec};
use super::inputs::{DatasetConfig, InputConfig};
use super::sizes::BatchSpec;

/// The whole benchmark config file.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BenchmarkConfig {
    /// The models file, relative to this file's directory (default `models.yaml`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub models_file: Option<Spanned<String>>,
    /// Keys of `models.yaml` to benchmark.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub active_models: Vec<Spanned<String>>,
    /// One key of `models.yaml` to benchmark: `active_models` of one (the design's
    /// "Adding New Models" form); give one of the two.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub active_model: Option<Spanned<String>>,
    /// Backends to benchmark, each with its settings; a bare name (`[candle, ort]`)
    /// is `- name: candle`. Omitted: every framework embench has (candle, ort,
    /// ort-native, openvino, tch and the python-* baselines), those this machine cannot run with their cells
    /// SKIPPED and why.
    #[serde(default, deserialize_with = "backend_list")]
    #[schemars(with = "Option<Vec<BackendEntry>>")]
    pub backends: Option<Vec<BackendSpec>>,
    /// Refuse, instead of skipping, the cells that cannot run here: a sequence length
    /// over a model's maximum, a model without its folder, a backend that does not run
    /// a model's architecture or cannot run on this machine, a prompt a model lacks
    /// (default false: those cells are SKIPPED with the reason, and `validate` lists them).
    #[serde(default)]
    pub strict: bool,
    /// The load scenarios.
    pub test_scenarios: Vec<Scenario>,
    /// Inputs: sequence lengths and warm-up.
    pub input_config: InputConfig,
    /// Where the texts come from.
    #[serde(default)]
    pub dataset: DatasetConfig,
    /// The instance the figures are priced for (default: c7i.4xlarge on demand).
    #[serde(default)]
    pub cost: Option<CostSpec>,
    /// The retrieval-agreement check of reduced-precision cells and its recall@10 bounds.
    #[serde(default)]
    pub quality: Option<super::quality::QualitySpec>,
}

/// One load scenario.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Name shown in results.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Clients issuing requests back to back (1–1024).
    #[schemars(with = "usize")]
    pub concurrency: Spanned<usize>,
    /// Measured requests, over all clients (per batch size in a sweep).
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub num_requests: Option<Spanned<usize>>,
    /// Batch sweeps only: texts per batch size instead of a request count
    /// (requests = texts / batch size, at least 3), so every point costs about the same.
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub num_texts: Option<Spanned<usize>>,
    /// Texts per request: a number, a list of numbers (a batch-size sweep), or
    /// `sweep` (the sweep over 1, 4, 8, 16, 32, 64, 128, 256).
    #[schemars(with = "BatchSpec")]
    pub batch_size: Spanned<BatchSpec>,
    /// Unrecorded warm-up requests of this scenario's cells (default: `input_config.warmup_requests`).
    #[serde(default)]
    pub warmup_requests: Option<usize>,
    /// Only these backends (labels) run this scenario (default: all).
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub backends: Option<Vec<Spanned<String>>>,
    /// The embedding-cache scenario: each request goes through an LRU cache in front of the backend.
    #[serde(default)]
    #[schemars(with = "Option<CacheSpec>")]
    pub cache: Option<Spanned<CacheSpec>>,
    /// How load is generated: `closed_loop` (default), `open_loop` or `offline`.
    #[serde(default)]
    #[schemars(with = "Option<LoadMode>")]
    pub mode: Option<Spanned<LoadMode>>,
    /// Open loop only: arrival rate, requests per second.
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub rate_qps: Option<Spanned<f64>>,
    /// Open loop only: `poisson` (default) or `fixed` inter-arrival times.
    #[serde(default)]
    pub arrival: Option<Arrival>,
    /// Open loop only: seed of the Poisson arrivals (default 42).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Model instances serving the requests, a number or `auto` (default: clients call one instance directly).
    #[serde(default)]
    #[schemars(with = "Option<Count>")]
    pub replicas: Option<Spanned<Count>>,
    /// Threads feeding each instance, a number or `auto`.
    #[serde(default)]
    #[schemars(with = "Option<Count>")]
    pub workers_per_model: Option<Spanned<Count>>,
    /// Each replica forms batches from the requests waiting for it.
    #[serde(default)]
    #[schemars(with = "Option<DynamicBatchingSpec>")]
    pub dynamic_batching: Option<Spanned<DynamicBatchingSpec>>,
    /// Warm-up also lasts at least this many seconds.
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub warmup_duration_s: Option<Spanned<f64>>,
    /// The measured phase also lasts at least this many seconds.
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub min_duration_s: Option<Spanned<f64>>,
    /// Measured repetitions (default 1): QPS and p99 get a mean and a 95 % confidence interval.
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub repeat: Option<Spanned<usize>>,
    /// The steady-state check's windows and thresholds.
    #[serde(default)]
    #[schemars(with = "Option<SteadyStateSpec>")]
    pub steady_state: Option<Spanned<SteadyStateSpec>>,
    /// Search the open-loop rate for the highest one meeting a latency bound.
    #[serde(default)]
    #[schemars(with = "Option<SloSpec>")]
    pub max_qps_under_slo: Option<Spanned<SloSpec>>,
    /// The model's prompt put before every text, by its name in the model's
    /// `config_sentence_transformers.json` (`query`, `document`, …; sentence-transformers'
    /// `prompt_name`), or `none` (default). Its tokens count in the sequence length.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub prompt: Option<Spanned<String>>,
    /// What the scenario embeds: `text` (default) or `image` (multimodal models only;
    /// the cells then run once per batch size, at the model's image size, not per sequence length).
    #[serde(default)]
    #[schemars(with = "Option<crate::Modality>")]
    pub modality: Option<Spanned<crate::Modality>>,
    /// Image scenarios: decode and preprocess each request's images inside the measured
    /// request, for an end-to-end latency (default false: before the cell, as texts are tokenized).
    #[serde(default)]
    #[schemars(with = "bool")]
    pub include_preprocessing: Option<Spanned<bool>>,
}

/// The embedding-cache scenario's settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CacheSpec {
    /// Fractions of texts that repeat an earlier text, each a cell (default 0, 0.2, 0.8).
    #[serde(default = "default_repeat_ratios")]
    pub repeat_ratios: Vec<f64>,
    /// Which earlier text a repeat picks: `zipf` (default; popular texts repeat most) or `uniform`.
    #[serde(default)]
    pub distribution: RepeatDistribution,
    /// Zipf exponent (default 1.0).
    #[serde(default = "default_zipf_exponent")]
    pub zipf_exponent: f64,
    /// Bound the cache by entries.
    #[serde(default)]
    pub capacity_entries: Option<usize>,
    /// Bound the cache by bytes (keys, vectors and bookkeeping), MiB; default 64 when no bound is given.
    #[serde(default)]
    pub capacity_mb: Option<f64>,
    /// Seed of the repeat pattern (default 7).
    #[serde(default = "default_cache_seed")]
    pub seed: u64,
}

/// How a repeated text is chosen among those seen before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RepeatDistribution {
    /// Every earlier text equally likely.
    Uniform,
    /// The k-th text first seen is picked with weight 1 / k^s.
    #[default]
    Zipf,
}

fn default_repeat_ratios() -> Vec<f64> {
    vec![0.0, 0.2, 0.8]
}

fn default_zipf_exponent() -> f64 {
    1.0
}

fn default_cache_seed() -> u64 {
    7
}

/// How a scenario generates load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LoadMode {
    /// `concurrency` clients, each sending its next request when the last returns.
    ClosedLoop,
    /// Requests arrive on a schedule whatever the system's speed; latency counts from the scheduled time.
    OpenLoop,
    /// Every request is available at once; `concurrency` workers drain them (throughput).
    Offline,
}

/// Open-loop inter-arrival times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Arrival {
    /// Exponential gaps (a Poisson process), seeded.
    #[default]
    Poisson,
    /// Equal gaps.
    Fixed,
}
