//! `configs/benchmark_config.yaml`: which models and backends, and the scenarios.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::backend_options::{
    ExecutionMode, ExecutionProvider, GraphOptimization, HttpApi, ModelFormat, PerformanceHint,
};
use super::execution::{CostSpec, Count, DynamicBatchingSpec, SloSpec, SteadyStateSpec};
use super::inputs::{DatasetConfig, InputConfig};
use super::sizes::BatchSpec;
use crate::embedder::Precision;

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
}

/// A `backends` entry as written: a name alone, or a mapping of settings (only its schema is used).
#[derive(schemars::JsonSchema)]
#[serde(untagged)]
#[allow(dead_code, clippy::large_enum_variant)] // only its schema is used
pub(super) enum BackendEntry {
    /// `candle`: the backend with its defaults.
    Name(String),
    /// `{name: ort, sessions: 4}`.
    Spec(BackendSpec),
}

/// The `backends` list: each entry a mapping, or a bare name standing for `{name: ...}`
/// (the name keeps its place in the file for error messages).
fn backend_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<BackendSpec>>, D::Error> {
    /// One entry, before a bare name gets the place of the whole.
    enum Entry {
        Name(String),
        Spec(Box<BackendSpec>),
    }
    impl<'de> Deserialize<'de> for Entry {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Entry;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a backend name (e.g. candle) or a mapping such as {name: ort, sessions: 4}")
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Entry, E> {
                    Ok(Entry::Name(v.to_string()))
                }
                fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Entry, A::Error> {
                    BackendSpec::deserialize(de::value::MapAccessDeserializer::new(map))
                        .map(|s| Entry::Spec(Box::new(s)))
                }
            }
            d.deserialize_any(V)
        }
    }
    struct List;
    impl<'de> Visitor<'de> for List {
        type Value = Option<Vec<BackendSpec>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of backends, e.g. [candle, ort] or '- name: ort'")
        }
        /// `backends:` with nothing after it is `backends` omitted: every framework.
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(entry) = seq.next_element::<Spanned<Entry>>()? {
                out.push(match entry.value {
                    Entry::Spec(spec) => *spec,
                    Entry::Name(name) => BackendSpec::named(Spanned::new(name, entry.referenced, entry.defined)),
                });
            }
            Ok(Some(out))
        }
    }
    d.deserialize_any(List)
}

/// One backend and its settings.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackendSpec {
    /// The framework: `candle`, `ort`, `ort-native`, `openvino`, `tch`, `python-ort`,
    /// `python-torch` or `python-openvino`; an endpoint, `http`; or a harness check, `mock` or `python-echo`.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Name in results and reports (default: `name`); needed when a backend is listed twice.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub label: Option<Spanned<String>>,
    /// Precision: `fp32` (default), or `bf16`/`fp16` where the framework offers it.
    #[serde(default)]
    #[schemars(with = "Option<Precision>")]
    pub precision: Option<Spanned<Precision>>,
    /// Intra-op threads, a number or `auto` (default, the same: the physical cores this process may use).
    #[serde(default)]
    #[schemars(with = "Option<Count>")]
    pub threads: Option<Spanned<Count>>,
    /// `cpu` (default) or `cuda`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub device: Option<Spanned<String>>,
    /// ort and ort-native only: inter-op threads (parallel execution mode).
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub inter_op_threads: Option<Spanned<usize>>,
    /// ort and ort-native only: `disable`, `basic`, `extended` or `all` (default).
    #[serde(default)]
    #[schemars(with = "Option<GraphOptimization>")]
    pub graph_optimization: Option<Spanned<GraphOptimization>>,
    /// ort and ort-native only: `sequential` (default) or `parallel`.
    #[serde(default)]
    #[schemars(with = "Option<ExecutionMode>")]
    pub execution_mode: Option<Spanned<ExecutionMode>>,
    /// ort only: providers in priority order, from `cpu`, `cuda`, `openvino` (default `[cpu]`;
    /// ort-native: `[cpu]` only).
    #[serde(default)]
    #[schemars(with = "Option<Vec<ExecutionProvider>>")]
    pub execution_providers: Option<Spanned<Vec<ExecutionProvider>>>,
    /// ort and ort-native only: sessions in the pool concurrent requests draw from (default 1;
    /// ort-native: one worker process each).
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub sessions: Option<Spanned<usize>>,
    /// openvino only: `ir_fp32` (default), `ir_fp16` or `onnx`.
    #[serde(default)]
    #[schemars(with = "Option<ModelFormat>")]
    pub model_format: Option<Spanned<ModelFormat>>,
    /// openvino only: `latency` (default) or `throughput`.
    #[serde(default)]
    #[schemars(with = "Option<PerformanceHint>")]
    pub performance_hint: Option<Spanned<PerformanceHint>>,
    /// openvino only: number of streams (default: the hint's choice).
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub streams: Option<Spanned<usize>>,
    /// openvino only: infer requests in the pool (default: the compiled model's optimal number).
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub infer_requests: Option<Spanned<usize>>,
    /// Mock only: the service time of one request.
    #[serde(default)]
    #[schemars(with = "Option<ServiceTime>")]
    pub service_time: Option<Spanned<ServiceTime>>,
    /// Mock only: periodic stalls on top of the service time.
    #[serde(default)]
    #[schemars(with = "Option<Stall>")]
    pub stall: Option<Spanned<Stall>>,
    /// Mock only: extra service time per text of the batch.
    #[serde(default)]
    #[schemars(with = "Option<BatchCost>")]
    pub batch_cost: Option<Spanned<BatchCost>>,
    /// Mock only: with `device: cuda` (simulated), requests of more texts than
    /// this fail with a CUDA out-of-memory error (to exercise the CPU fallback).
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub oom_above_batch: Option<Spanned<usize>>,
    /// Mock only: crash the process on the first request of a chosen batch size
    /// (`{at_batch: 2, how: abort | segfault | hang}`), to exercise process isolation.
    #[serde(default)]
    #[schemars(with = "Option<Crash>")]
    pub crash: Option<Spanned<Crash>>,
    /// Mock only: wrong vectors for requests above a batch size and/or a sequence
    /// length (`{values: nan | inf | noise, above_batch: 32, above_seq: 64}`), to
    /// exercise the finite-output check and the correctness gate at a cell's shape.
    #[serde(default)]
    #[schemars(with = "Option<WrongOutput>")]
    pub wrong_output: Option<Spanned<WrongOutput>>,
    /// python-torch only: `eager` (default, the model's sentence-transformers pipeline) or `torchscript` (the export).
    #[serde(default)]
    #[schemars(with = "Option<TorchMode>")]
    pub mode: Option<Spanned<TorchMode>>,
    /// Python backends only: worker processes concurrent requests draw from (default 1).
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub processes: Option<Spanned<usize>>,
    /// http only: the endpoint, path included (`http://127.0.0.1:8080/v1/embeddings`, `http://host/embed`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub url: Option<Spanned<String>>,
    /// http only: `openai` (default: `POST {input, model}`) or `tei` (`POST {inputs}`).
    #[serde(default)]
    #[schemars(with = "Option<HttpApi>")]
    pub api: Option<Spanned<HttpApi>>,
    /// http only: OpenAI's `model` field sent with each request (default: the model's key).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub model: Option<Spanned<String>>,
    /// http only: a request without a complete answer by then is a timeout, ms (default 30000).
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub timeout_ms: Option<Spanned<u64>>,
    /// http only: keep-alive connections kept open (default: one per client).
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub connections: Option<Spanned<usize>>,
    /// http only: extra headers whose values are read from environment variables,
    /// `{Authorization: MY_AUTH_HEADER}` (the variable holds e.g. `Bearer sk-...`; never recorded).
    #[serde(default)]
    #[schemars(with = "Option<std::collections::BTreeMap<String, String>>")]
    pub headers_from_env: Option<Spanned<std::collections::BTreeMap<String, String>>>,
    /// Mock only: embedding dimension it returns (default 384).
    #[serde(default)]
    pub embedding_dim: Option<usize>,
    /// Mock only: seed of the service-time draws (default 42).
    #[serde(default)]
    pub seed: Option<u64>,
}

impl BackendSpec {
    /// The backend `name` with every setting at its default.
    pub fn named(name: Spanned<String>) -> Self {
        Self {
            name,
            label: None,
            precision: None,
            threads: None,
            device: None,
            inter_op_threads: None,
            graph_optimization: None,
            execution_mode: None,
            execution_providers: None,
            sessions: None,
            model_format: None,
            performance_hint: None,
            streams: None,
            infer_requests: None,
            service_time: None,
            stall: None,
            batch_cost: None,
            oom_above_batch: None,
            crash: None,
            wrong_output: None,
            mode: None,
            processes: None,
            url: None,
            api: None,
            model: None,
            timeout_ms: None,
            connections: None,
            headers_from_env: None,
            embedding_dim: None,
            seed: None,
        }
    }
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

/// How python-torch runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TorchMode {
    /// The model's sentence-transformers pipeline, eager (`SentenceTransformer(folder)`).
    #[default]
    Eager,
    /// The TorchScript export (`torch.jit.load`), the file embench's tch backend loads.
    Torchscript,
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
