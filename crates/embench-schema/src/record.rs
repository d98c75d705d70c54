//! The per-cell result record: one line of `results.jsonl`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::histogram::LatencySummary;
use crate::kinds::{CacheLimit, LoadMode, Modality, Precision, ScenarioKind, WorkerFailureKind};
use crate::stats::{Estimate, SloResult, SteadyState};

/// Version of the record layout; bump on any incompatible change, and update `schema/result.schema.json`.
pub const SCHEMA_VERSION: u32 = 1;

/// One cell's result: a line of `results.jsonl`. Units are in the field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellRecord {
    /// Layout version ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// When the cell finished (RFC 3339, UTC).
    pub finished_at: String,
    /// Model key.
    pub model: String,
    /// Backend name.
    pub backend: String,
    /// The model's network family (`bert`, `xlm-roberta`, …), None when embench does not know it.
    #[serde(default)]
    pub architecture: Option<String>,
    /// Scenario name.
    pub scenario: String,
    /// `fixed`, `batch_sweep` (one record per batch size) or `cache` (one record per repeat ratio and phase).
    #[serde(default)]
    pub scenario_kind: ScenarioKind,
    /// Load-generation mode (`closed_loop`, `open_loop`, `offline`).
    pub mode: LoadMode,
    /// Open loop: the arrival rate asked for, requests per second (achieved is `qps`).
    #[serde(default)]
    pub requested_rate_qps: Option<f64>,
    /// Things the reader should know about this cell's figures.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Closed-loop clients.
    pub concurrency: usize,
    /// What the cell embedded: `text` (default) or `image`.
    #[serde(default)]
    pub modality: Modality,
    /// Texts (or images) per request.
    pub batch_size: usize,
    /// Tokens per input: a number, or `natural`; image cells: `image HxW` (the model's input size).
    pub seq_len: serde_json::Value,
    /// Mean real (unpadded) tokens per input (the prompt's included).
    pub tokens_per_input_mean: f64,
    /// The model prompt put before every text, by name (None: no prompt).
    #[serde(default)]
    pub prompt: Option<String>,
    /// Tokens of that prompt alone, counted in `seq_len` and `tokens_per_input_mean`.
    #[serde(default)]
    pub prompt_tokens: Option<usize>,
    /// Matryoshka: the values kept of each vector (models.yaml's `embedding_dim`, below
    /// the model's output), None: whole vectors.
    #[serde(default)]
    pub truncate_dim: Option<usize>,
    /// Measured requests that returned an embedding.
    pub requests: u64,
    /// Measured requests that failed.
    pub errors: u64,
    /// Failures by message.
    pub error_messages: BTreeMap<String, u64>,
    /// Requests per second over the measured phase.
    pub qps: Option<f64>,
    /// Embeddings per second (qps × batch size): images per second in an image cell.
    pub embeddings_per_s: Option<f64>,
    /// Latency from submit to result, milliseconds.
    pub latency_ms: Option<LatencySummary>,
    /// Wall time of the measured phase, seconds.
    pub measured_wall_s: Option<f64>,
    /// Model load time, seconds.
    pub load_time_s: Option<f64>,
    /// The first (cold) request, milliseconds.
    pub first_request_ms: Option<f64>,
    /// Unrecorded warm-up requests run after the first.
    pub warmup_requests: usize,
    /// Mean time to tokenize one request's batch (not part of the latency), milliseconds.
    pub tokenize_ms_per_request: Option<f64>,
    /// Process RSS before the model was loaded, MiB.
    pub rss_before_load_mb: Option<f64>,
    /// Process RSS after the model was loaded, MiB.
    pub rss_after_load_mb: Option<f64>,
    /// Highest process RSS during the measured phase, MiB.
    pub peak_rss_mb: Option<f64>,
    /// Process CPU time over wall time during the measured phase, percent of one core.
    pub cpu_util_pct: Option<f64>,
    /// Framework that ran.
    pub framework: String,
    /// Its version.
    pub framework_version: String,
    /// Device that ran the model.
    pub device: String,
    /// Precision it computed in (as the framework reports it); None (`unknown`
    /// in the file) when the cell failed before the framework said.
    #[serde(with = "unknown_precision")]
    pub precision: Option<Precision>,
    /// Precision the config asked for.
    #[serde(default)]
    pub requested_precision: Precision,
    /// Correctness gate: smallest probe-set cosine against the reference (None: not checked).
    #[serde(default)]
    pub min_cosine: Option<f64>,
    /// The bound `min_cosine` had to meet.
    #[serde(default)]
    pub gate_threshold: Option<f64>,
    /// The retrieval-agreement check against sentence-transformers' fp32 vectors of the
    /// model's corpus (None: not run: an fp32 cell, `quality.retrieval_check: off`, or
    /// the cell failed before it).
    #[serde(default)]
    pub retrieval: Option<RetrievalFigures>,
    /// Vectors of the measured phase holding NaN or infinity (every returned vector is checked; None: not measured).
    #[serde(default)]
    pub non_finite_vectors: Option<u64>,
    /// Effective framework settings (providers, streams, hint, ...).
    #[serde(default)]
    pub backend_settings: BTreeMap<String, String>,
    /// Intra-op threads it used.
    pub threads: Option<usize>,
    /// Pre-flight estimate of the memory the cell needs, MiB.
    #[serde(default)]
    pub memory_estimate_mb: Option<f64>,
    /// Why the cell was not attempted (then it has no figures and `valid` is false).
    #[serde(default)]
    pub skipped: Option<String>,
    /// Cache scenario: the phase, the cache and what it served.
    #[serde(default)]
    pub cache: Option<CacheFigures>,
    /// Replicas × workers and dynamic batching, resolved, with the batches formed.
    #[serde(default)]
    pub execution: Option<ExecutionFigures>,
    /// The steady-state check of the measured phase (with repetitions: the least stable one).
    #[serde(default)]
    pub steady_state: Option<SteadyState>,
    /// `repeat` > 1: QPS and p99 over repetitions, with 95 % confidence intervals and outliers.
    #[serde(default)]
    pub repetitions: Option<Repetitions>,
    /// Open loop: how late the generator's idle workers woke for due times, ms
    /// (p99 and max over the measured phase): the generator's own error in the latencies.
    #[serde(default)]
    pub dispatch_lateness_ms: Option<(f64, f64)>,
    /// Latency-bounded throughput search: the answer and every probe.
    #[serde(default)]
    pub slo: Option<SloResult>,
    /// Model FLOPs of one text at the cell's sequence length (natural lengths: the mean),
    /// or of one image over its tower's patches, GFLOP.
    #[serde(default)]
    pub gflop_per_text: Option<f64>,
    /// Achieved model GFLOP/s: embeddings/s x GFLOP per text.
    #[serde(default)]
    pub gflops_per_s: Option<f64>,
    /// Image cells: the images, their preprocessing and its parity with Hugging Face's.
    #[serde(default)]
    pub image: Option<ImageFigures>,
    /// `http` cells: the endpoint's answers, bytes, connections and the client's CPU time.
    #[serde(default)]
    pub http: Option<crate::http::HttpFigures>,
    /// Set when the cell ran out of GPU memory and was run again on the CPU with a quarter of the batch.
    #[serde(default)]
    pub fallback: Option<Fallback>,
    /// RSS per phase of the cell (`load`, `warmup`, `measure`): start, end and peak.
    #[serde(default)]
    pub memory_phases: Vec<PhaseMemory>,
    /// The machine's matrix-multiply peak in the precision the cell ran (`embench sysinfo --peak`), GFLOP/s.
    #[serde(default)]
    pub peak_gflops: Option<f64>,
    /// Model-FLOPs utilisation: gflops_per_s / peak_gflops.
    #[serde(default)]
    pub mfu: Option<f64>,
    /// What the throughput costs on the priced instance.
    #[serde(default)]
    pub cost: Option<CostFigures>,
    /// Index of the cell in the run's plan (`--resume` runs the cells without one).
    #[serde(default)]
    pub cell: Option<usize>,
    /// How many records the cell wrote (a cache cell writes one per phase); a
    /// cell with fewer on disk was cut short and is run again on resume.
    #[serde(default)]
    pub cell_parts: Option<usize>,
    /// The cell's worker process crashed, hung past the timeout, or could not start.
    #[serde(default)]
    pub worker_failure: Option<WorkerFailure>,
    /// Settings the config left to `auto` (or unset, for threads), with the value
    /// they resolved to on this machine and why.
    #[serde(default)]
    pub auto_resolved: BTreeMap<String, String>,
    /// Whether the figures can be trusted (no failed requests, cell completed).
    pub valid: bool,
    /// Why not, when `valid` is false.
    pub invalid_reason: Option<String>,
    /// The latency histogram (HdrHistogram V2, base64, nanoseconds).
    pub histogram: Option<String>,
}

impl CellRecord {
    /// The scenario's name, with the repeat ratio and phase of a cache-scenario record.
    pub fn scenario_label(&self) -> String {
        match &self.cache {
            Some(c) => format!("{} [repeats {:.0} %, cache {}]", self.scenario, c.repeat_ratio * 100.0, c.phase),
            None => self.scenario.clone(),
        }
    }

    /// The precision that ran, and what was asked when that differs (e.g. `fp32 (asked bf16)`).
    pub fn precision_label(&self) -> String {
        match self.precision {
            None => "unknown".into(),
            Some(p) if p == self.requested_precision => p.to_string(),
            Some(p) => format!("{p} (asked {})", self.requested_precision),
        }
    }

    /// The precision that ran, as written in the file (`unknown` when not known).
    pub fn precision_name(&self) -> &'static str {
        self.precision.map_or("unknown", Precision::as_str)
    }
}

/// `precision` is written as its name, or `unknown` when the framework never said.
mod unknown_precision {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::kinds::Precision;

    pub fn serialize<S: Serializer>(p: &Option<Precision>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(p.map_or("unknown", Precision::as_str))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Precision>, D::Error> {
        let text = String::deserialize(d)?;
        if text == "unknown" {
            return Ok(None);
        }
        Precision::deserialize(serde::de::value::StrDeserializer::<D::Error>::new(&text)).map(Some)
    }
}

/// How a cell's vectors of the retrieval corpus agree with the fp32 reference's
/// (`crates/embench-core/src/retrieval.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrievalFigures {
    /// Mean over the queries of the share of fp32's 10 nearest neighbours that the
    /// cell's vectors also rank in their top 10 (the query itself left out).
    pub recall_at_10: f64,
    /// The worst query's recall@10.
    pub recall_at_10_min: f64,
    /// Mean Spearman rank correlation of the query–document cosine similarities.
    pub spearman: f64,
    /// Smallest cosine of a corpus vector to its fp32 reference.
    pub cosine_min: f64,
    /// Mean cosine of the corpus vectors to their fp32 references.
    pub cosine_mean: f64,
    /// Corpus vectors holding NaN or infinity.
    #[serde(default)]
    pub non_finite: usize,
    /// The recall@10 the cell had to keep (`quality.min_recall_at_10`).
    pub threshold: f64,
    /// Sentences in the corpus.
    pub sentences: usize,
    /// Queries scored.
    pub queries: usize,
    /// Where the corpus comes from.
    pub corpus: String,
    /// Seconds the backend took to embed the corpus (batches of 32, natural length);
    /// for a cached result, the seconds of the run that computed it.
    pub embed_s: f64,
    /// Read from the cache (`<model>/retrieval/agreement/`) instead of computed in this cell.
    pub cached: bool,
}

/// One phase of a cache-scenario cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheFigures {
    /// `off` (no cache: the baseline), `cold` (empty cache), `hot` (the cold
    /// requests replayed), `warm` (new requests from the same distribution, cache kept).
    pub phase: String,
    /// Share of texts that repeat an earlier one in the generated stream.
    pub repeat_ratio: f64,
    /// How repeats pick earlier texts (`uniform`, `zipf`).
    pub distribution: String,
    /// The cache's bound (`{"entries": n}` or `{"bytes": n}`); None for the baseline.
    pub limit: Option<CacheLimit>,
    /// Texts requested in the phase.
    pub texts: u64,
    /// Texts the backend computed.
    pub computed: u64,
    /// Share of texts served without the backend.
    pub hit_rate: f64,
    /// Entries held at the end of the phase.
    pub entries: usize,
    /// Accounted bytes held at the end of the phase, MiB.
    pub cache_mb: f64,
    /// Most accounted bytes held, MiB.
    pub peak_cache_mb: f64,
    /// Entries evicted during the phase.
    pub evictions: u64,
    /// Embeddings/s of this phase over the baseline's (None for the baseline itself).
    pub speedup: Option<f64>,
}

/// How a cell degraded instead of failing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fallback {
    /// Device it was asked to run on.
    pub from_device: String,
    /// Batch size asked.
    pub from_batch_size: usize,
    /// Device it ran on.
    pub to_device: String,
    /// Batch size it ran with.
    pub to_batch_size: usize,
    /// The error that made it fall back.
    pub reason: String,
}

/// Memory over one phase of a cell, MiB.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseMemory {
    /// `load`, `warmup` or `measure`.
    pub phase: String,
    /// RSS at its start.
    pub start_mb: f64,
    /// RSS at its end.
    pub end_mb: f64,
    /// Highest RSS during it (the kernel's high-water mark; with helper processes,
    /// their pages shared with each other counted once).
    pub peak_mb: f64,
    /// With helper processes: each process's own high-water mark, this process first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub process_peaks_mb: Vec<f64>,
    /// With helper processes: shared pages that the sum of `process_peaks_mb` counts more than once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_overcount_mb: Option<f64>,
}

/// How requests reached the model instances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionFigures {
    /// Model instances loaded.
    pub replicas: usize,
    /// Threads feeding each instance.
    pub workers_per_model: usize,
    /// Intra-op threads of each instance.
    pub threads_per_replica: usize,
    /// What the config asked (numbers or `auto`), as given.
    pub requested: String,
    /// Dynamic batching: most texts per batch (None: off).
    pub max_batch_size: Option<usize>,
    /// Dynamic batching: longest wait, microseconds.
    pub max_wait_us: Option<u64>,
    /// Batches the workers ran, by size in texts (warm-up included).
    pub formed_batches: BTreeMap<usize, u64>,
    /// Mean texts per formed batch.
    pub mean_formed_batch: Option<f64>,
}

/// Figures over `repeat` measured repetitions of one loaded, warmed model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Repetitions {
    /// Repetitions.
    pub count: usize,
    /// Requests per second.
    pub qps: Estimate,
    /// p99 latency, ms.
    pub p99_ms: Estimate,
}

/// Cost of the measured throughput on the priced instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostFigures {
    /// The instance priced (not necessarily the machine measured).
    pub instance_type: String,
    /// USD per hour.
    pub hourly_usd: f64,
    /// USD per million requests at the measured QPS.
    pub per_1m_requests: Option<f64>,
    /// USD per million embeddings (texts) at the measured rate.
    pub per_1m_embeddings: Option<f64>,
}

/// Why a cell's worker process did not deliver its result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerFailure {
    /// `crashed`, `timed_out` or `failed_to_start`.
    pub kind: WorkerFailureKind,
    /// The exit status or signal, e.g. `signal 11 (SIGSEGV)`.
    pub status: String,
    /// The last lines the worker wrote to stderr.
    pub stderr_tail: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Ran {
        #[serde(with = "unknown_precision")]
        precision: Option<Precision>,
    }

    /// A cell that failed before the framework said what it ran in is written `unknown`, and read back as None.
    #[test]
    fn unknown_precision_round_trips() {
        for (value, text) in [(None, r#"{"precision":"unknown"}"#), (Some(Precision::Int8), r#"{"precision":"int8"}"#)]
        {
            assert_eq!(serde_json::to_string(&Ran { precision: value }).unwrap(), text);
            assert_eq!(serde_json::from_str::<Ran>(text).unwrap(), Ran { precision: value });
        }
        assert!(serde_json::from_str::<Ran>(r#"{"precision":"fp64"}"#).is_err());
    }
}

/// An image cell's inputs and how they were made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageFigures {
    /// `synthetic 640x480 jpeg (seed 42)` or the images folder.
    pub source: String,
    /// Decoding and preprocessing ran inside each measured request (in the latency),
    /// not before the cell.
    #[serde(default)]
    pub include_preprocessing: bool,
    /// The model's input, pixels.
    pub height_px: usize,
    /// The model's input, pixels.
    pub width_px: usize,
    /// The preprocessing run (processor class and resample filter, from `preprocessor_config.json`).
    pub processor: String,
    /// Mean time to decode and preprocess one image, measured before the cell, ms (in
    /// the latency as well when `include_preprocessing`).
    pub preprocess_ms_per_image: f64,
    /// Images of the source that could not be decoded and were left out.
    pub images_skipped: usize,
    /// Why, for up to 3 of them.
    #[serde(default)]
    pub skipped_examples: Vec<String>,
    /// Preprocessing parity: the largest difference of a normalised pixel value between
    /// embench's preprocessing and Hugging Face's image processor on the probe images
    /// (None: not measured).
    #[serde(default)]
    pub preprocess_max_abs_diff: Option<f64>,
    /// Preprocessing parity: the smallest cosine between this backend's embedding of
    /// embench's pixels and transformers' embedding of Hugging Face's pixels.
    #[serde(default)]
    pub preprocess_min_cosine: Option<f64>,
}
