//! The per-cell result record and the writer that makes each one durable the moment it exists.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::histogram::LatencySummary;

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
    /// Scenario name.
    pub scenario: String,
    /// `fixed`, `batch_sweep` (one record per batch size) or `cache` (one record per repeat ratio and phase).
    #[serde(default = "fixed")]
    pub scenario_kind: String,
    /// Load-generation mode (`closed_loop`, `open_loop`, `offline`).
    pub mode: String,
    /// Open loop: the arrival rate asked for, requests per second (achieved is `qps`).
    #[serde(default)]
    pub requested_rate_qps: Option<f64>,
    /// Things the reader should know about this cell's figures.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Closed-loop clients.
    pub concurrency: usize,
    /// Texts per request.
    pub batch_size: usize,
    /// Tokens per input: a number, or `natural`.
    pub seq_len: serde_json::Value,
    /// Mean real (unpadded) tokens per input.
    pub tokens_per_input_mean: f64,
    /// Measured requests that returned an embedding.
    pub requests: u64,
    /// Measured requests that failed.
    pub errors: u64,
    /// Failures by message.
    pub error_messages: std::collections::BTreeMap<String, u64>,
    /// Requests per second over the measured phase.
    pub qps: Option<f64>,
    /// Embeddings per second (qps × batch size).
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
    /// Precision it computed in (as the framework reports it).
    pub precision: String,
    /// Precision the config asked for.
    #[serde(default = "fp32")]
    pub requested_precision: String,
    /// Correctness gate: smallest probe-set cosine against the reference (None: not checked).
    #[serde(default)]
    pub min_cosine: Option<f64>,
    /// The bound `min_cosine` had to meet.
    #[serde(default)]
    pub gate_threshold: Option<f64>,
    /// Vectors of the measured phase holding NaN or infinity (every returned vector is checked; None: not measured).
    #[serde(default)]
    pub non_finite_vectors: Option<u64>,
    /// Effective framework settings (providers, streams, hint, ...).
    #[serde(default)]
    pub backend_settings: std::collections::BTreeMap<String, String>,
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
    pub steady_state: Option<crate::stability::SteadyState>,
    /// `repeat` > 1: QPS and p99 over repetitions, with 95 % confidence intervals and outliers.
    #[serde(default)]
    pub repetitions: Option<Repetitions>,
    /// Open loop: how late the generator's idle workers woke for due times, ms
    /// (p99 and max over the measured phase): the generator's own error in the latencies.
    #[serde(default)]
    pub dispatch_lateness_ms: Option<(f64, f64)>,
    /// Latency-bounded throughput search: the answer and every probe.
    #[serde(default)]
    pub slo: Option<crate::slo::SloResult>,
    /// Model FLOPs of one text at the cell's sequence length (natural lengths: the mean), GFLOP.
    #[serde(default)]
    pub gflop_per_text: Option<f64>,
    /// Achieved model GFLOP/s: embeddings/s x GFLOP per text.
    #[serde(default)]
    pub gflops_per_s: Option<f64>,
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
    pub auto_resolved: std::collections::BTreeMap<String, String>,
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
        if self.precision == self.requested_precision || self.precision == "unknown" {
            self.precision.clone()
        } else {
            format!("{} (asked {})", self.precision, self.requested_precision)
        }
    }
}

fn fp32() -> String {
    "fp32".into()
}

fn fixed() -> String {
    "fixed".into()
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
    pub limit: Option<embench_core::cache::CacheLimit>,
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
    pub formed_batches: std::collections::BTreeMap<usize, u64>,
    /// Mean texts per formed batch.
    pub mean_formed_batch: Option<f64>,
}

/// Figures over `repeat` measured repetitions of one loaded, warmed model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Repetitions {
    /// Repetitions.
    pub count: usize,
    /// Requests per second.
    pub qps: crate::stability::Estimate,
    /// p99 latency, ms.
    pub p99_ms: crate::stability::Estimate,
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
    pub kind: String,
    /// The exit status or signal, e.g. `signal 11 (SIGSEGV)`.
    pub status: String,
    /// The last lines the worker wrote to stderr.
    pub stderr_tail: Vec<String>,
}

/// Where finished records go: the results file, or (in a worker process) the pipe to the parent.
pub trait RecordSink {
    /// Keeps `record` (durably, for the file).
    fn append(&mut self, record: &CellRecord) -> std::io::Result<()>;
    /// Every record of plan cell `cell` has been appended.
    fn cell_done(&mut self, _cell: usize) -> std::io::Result<()> {
        Ok(())
    }
    /// Where records go, for messages.
    fn describe(&self) -> String;
}

impl RecordSink for ResultsWriter {
    fn append(&mut self, record: &CellRecord) -> std::io::Result<()> {
        ResultsWriter::append(self, record)
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

/// The records of a results file that belong to complete cells, for `--resume`:
/// a torn last line (the process was killed while writing it) and the records of a
/// cell cut short (fewer than its `cell_parts`) are dropped. Returns the kept
/// records and how many lines were dropped.
pub fn read_complete_cells(path: &Path) -> Result<(Vec<CellRecord>, usize), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut records = Vec::new();
    let mut dropped = 0;
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_str::<CellRecord>(line) {
            Ok(r) => records.push(r),
            // Only the last line can be torn by a kill; damage elsewhere is not ours to guess about.
            Err(_) if i + 1 == lines.len() => dropped += 1,
            Err(e) => return Err(format!("{}:{}: {e} (fix: repair or remove that line)", path.display(), i + 1)),
        }
    }
    let mut parts: std::collections::BTreeMap<usize, usize> = Default::default();
    for r in &records {
        if let Some(c) = r.cell {
            *parts.entry(c).or_default() += 1;
        }
    }
    let before = records.len();
    records.retain(|r| match (r.cell, r.cell_parts) {
        (Some(c), Some(n)) => parts[&c] >= n,
        _ => true,
    });
    let dropped = dropped + before - records.len();
    Ok((records, dropped))
}

/// Appends records to `results.jsonl`, flushed and fsynced per record, so a
/// later crash loses nothing already measured.
pub struct ResultsWriter {
    path: PathBuf,
    file: File,
}

impl ResultsWriter {
    /// Opens (creating or appending to) `path`.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self { path: path.to_path_buf(), file })
    }

    /// Writes one record as one line and makes it durable.
    pub fn append(&mut self, record: &CellRecord) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(record).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.file.flush()?;
        self.file.sync_data()
    }

    /// The file written to.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Reads every record of a `results.jsonl`.
pub fn read_records(path: &Path) -> Result<Vec<CellRecord>, String> {
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    BufReader::new(file)
        .lines()
        .enumerate()
        .filter(|(_, l)| l.as_ref().map_or(true, |l| !l.trim().is_empty()))
        .map(|(i, line)| {
            let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
            let mut record: CellRecord =
                serde_json::from_str(&line).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?;
            // Records written before summaries carried their count: the measured requests are it.
            if let Some(l) = record.latency_ms.as_mut().filter(|l| l.count == 0) {
                l.set_count(record.requests);
            }
            Ok(record)
        })
        .collect()
}
