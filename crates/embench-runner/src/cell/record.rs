//! A cell's record, assembled once from the values its steps returned — as
//! hyperfine's `Benchmark::run` gathers plain locals and builds its result at the
//! end. Nothing hands a half-filled record around.

use std::collections::BTreeMap;

use embench_core::config::{Mode, SeqLen};
use embench_core::images::reference::PreprocessParity;
use embench_core::{BackendInfo, Modality};
use embench_schema::record::{
    CacheFigures, CellRecord, CostFigures, ExecutionFigures, ImageFigures, PhaseMemory, Repetitions, WorkerFailure,
};
use embench_schema::stats::{SloResult, SteadyState};
use embench_schema::{HttpFigures, LatencySummary, LoadMode, SCHEMA_VERSION};

use crate::cell::setup::{CellSetup, RecordContext};
use crate::loadgen::rate;
use crate::machine::resources::ResourceStats;

/// What a step found besides its figures: warnings for the reader, and problems
/// that make the cell's figures untrustworthy (`valid: false`), in the order found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdict {
    /// Things the reader should know.
    pub warnings: Vec<String>,
    /// Why the figures cannot be trusted (empty: they can).
    pub problems: Vec<String>,
}

impl Verdict {
    /// Adds a warning.
    pub fn warn(&mut self, warning: impl Into<String>) {
        self.warnings.push(warning.into());
    }

    /// Adds a problem: the cell becomes invalid, every earlier reason kept.
    pub fn fail(&mut self, problem: impl Into<String>) {
        self.problems.push(problem.into());
    }

    /// Adds another step's findings after this one's.
    pub fn absorb(&mut self, other: Verdict) {
        self.warnings.extend(other.warnings);
        self.problems.extend(other.problems);
    }
}

/// The model's loading and first request, as far as they got.
#[derive(Debug, Clone, Default)]
pub struct Loading {
    /// RSS before the model was loaded, MiB.
    pub rss_before_load_mb: Option<f64>,
    /// Wall time of the load, seconds.
    pub load_time_s: Option<f64>,
    /// RSS after the load, MiB.
    pub rss_after_load_mb: Option<f64>,
    /// What the backend says ran (framework, device, precision, threads, settings).
    pub info: Option<BackendInfo>,
    /// The first (cold) request, ms.
    pub first_request_ms: Option<f64>,
}

/// The measured phase's figures (one run of repetitions, or the SLO search's shown probe).
#[derive(Debug, Clone)]
pub struct Measured {
    /// The mode the figures were taken in (the SLO search's probes are open loop).
    pub mode: LoadMode,
    /// Open loop: the arrival rate asked for, requests/s.
    pub requested_rate_qps: Option<f64>,
    /// Successful requests.
    pub requests: u64,
    /// Failed requests by message.
    pub error_messages: BTreeMap<String, u64>,
    /// Wall time of the measured runs, seconds (None: nothing ran).
    pub wall_s: Option<f64>,
    /// Latency summary, ms (None: nothing succeeded).
    pub latency_ms: Option<LatencySummary>,
    /// The merged histogram, HdrHistogram V2 base64.
    pub histogram: Option<String>,
    /// Open loop: generator lateness p99 and max, ms.
    pub dispatch_lateness_ms: Option<(f64, f64)>,
    /// Resources over the measured phase.
    pub resources: Option<ResourceStats>,
    /// The least stable repetition's steady-state check.
    pub steady_state: Option<SteadyState>,
    /// Figures over repetitions (`repeat` > 1).
    pub repetitions: Option<Repetitions>,
    /// The latency-bounded throughput search.
    pub slo: Option<SloResult>,
    /// `http` cells: the client's wire counters over the measured phase.
    pub http: Option<HttpFigures>,
}

impl Measured {
    /// The client's wire counters with its CPU time (the measured phase's, from the
    /// resource sampler) per completed request.
    pub fn http_figures(&self) -> Option<HttpFigures> {
        let mut http = self.http.clone()?;
        if let Some(r) = &self.resources {
            http.client_cpu_s = r.cpu_s;
            // The requests the counters saw: the same window as the CPU time (an SLO
            // search's every probe), not only the probe whose figures are shown.
            let sent = http.responses_by_status.values().sum::<u64>() + http.timeouts + http.transport_errors;
            http.client_cpu_us_per_request = (sent > 0).then(|| r.cpu_s * 1e6 / sent as f64);
        }
        Some(http)
    }

    /// Requests per second over the measured wall time (None: nothing ran).
    pub fn qps(&self) -> Option<f64> {
        self.wall_s.map(|wall| rate(self.requests, wall))
    }
}

/// The correctness gate's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GateFigures {
    /// Smallest probe cosine against the reference.
    pub min_cosine: Option<f64>,
    /// The bound it had to meet.
    pub threshold: Option<f64>,
    /// Image cells: preprocessing parity with Hugging Face's image processor.
    pub parity: Option<PreprocessParity>,
}

/// Everything one cell learned, as values; [`assemble`] turns it into its record.
#[derive(Debug, Clone, Default)]
pub struct CellParts {
    /// Loading and the first request.
    pub loading: Loading,
    /// RSS per phase (`load`, `warmup`, `measure`).
    pub memory: Vec<PhaseMemory>,
    /// Mean tokenize time of one request's batch, ms (not part of the latency).
    pub tokenize_ms_per_request: Option<f64>,
    /// The measured phase.
    pub measured: Option<Measured>,
    /// Vectors of the measured phase holding NaN or infinity.
    pub non_finite_vectors: Option<u64>,
    /// The correctness gate.
    pub gate: GateFigures,
    /// The retrieval-agreement check.
    pub retrieval: Option<embench_schema::RetrievalFigures>,
    /// Replicas × workers, resolved, with the batches formed.
    pub execution: Option<ExecutionFigures>,
    /// Cache scenario: this record's phase.
    pub cache: Option<CacheFigures>,
    /// Why the cell was not attempted.
    pub skipped: Option<String>,
    /// The worker process that should have run it died.
    pub worker_failure: Option<WorkerFailure>,
    /// Warnings and problems, in the order found.
    pub verdict: Verdict,
}

impl CellParts {
    /// Adds what a later step of the same cell found: its memory phases, measured
    /// phase and output check, and its findings after this one's.
    pub fn append(&mut self, later: CellParts) {
        self.memory.extend(later.memory);
        if later.measured.is_some() {
            self.measured = later.measured;
            self.non_finite_vectors = later.non_finite_vectors;
        }
        self.verdict.absorb(later.verdict);
    }
}

/// RSS over one phase, with a warning when its peak passes the setup's threshold.
pub fn phase_memory(setup: &CellSetup, phase: &str, stats: &ResourceStats) -> (PhaseMemory, Option<String>) {
    let warning = (stats.peak_rss_mb > setup.memory_warn_mb).then(|| {
        format!(
            "memory: RSS peaked at {:.0} MiB during {phase}, above the {:.0} MiB threshold (input_config.memory_warn_mb; default 85 % of the memory budget)",
            stats.peak_rss_mb, setup.memory_warn_mb
        )
    });
    let memory = PhaseMemory {
        phase: phase.into(),
        start_mb: stats.start_rss_mb,
        end_mb: stats.end_rss_mb,
        peak_mb: stats.peak_rss_mb,
        process_peaks_mb: stats.process_peaks_mb.clone(),
        shared_overcount_mb: stats.shared_overcount_mb,
    };
    (memory, warning)
}

/// The record of one cell (or one phase of a cache cell) from its setup, what it
/// learned and the run's context; `cell_parts` is how many records the cell writes.
pub fn assemble(setup: &CellSetup, parts: CellParts, context: &RecordContext, cell_parts: usize) -> CellRecord {
    let CellParts {
        loading,
        memory,
        tokenize_ms_per_request,
        measured,
        non_finite_vectors,
        gate,
        retrieval,
        execution,
        cache,
        skipped,
        worker_failure,
        mut verdict,
    } = parts;
    let info = loading.info.as_ref();
    let batch_size = setup.point.batch_size;
    let requests = measured.as_ref().map_or(0, |m| m.requests);
    let errors: u64 = measured.as_ref().map_or(0, |m| m.error_messages.values().sum());
    let qps = measured.as_ref().and_then(Measured::qps);
    let embeddings_per_s = qps.map(|q| q * batch_size as f64);
    let precision = info.map(|i| i.precision);
    let http = measured.as_ref().and_then(Measured::http_figures);
    let mut flops = flops(setup, context, embeddings_per_s, precision.map_or("unknown", |p| p.as_str()));
    let mut tokens_per_input_mean = setup.inputs.tokens_per_input_mean;
    if let Some(h) = &http {
        // The model ran on the server, not on this machine: no utilisation of this machine's peak.
        (flops.peak_gflops, flops.mfu) = (None, None);
        let texts = requests * batch_size as u64;
        if setup.inputs.tokenize_ms_per_request.is_none() {
            // No local tokenizer: the only token count is the server's own, when it reports one.
            tokens_per_input_mean =
                h.server_prompt_tokens.filter(|_| texts > 0).map_or(0.0, |t| t as f64 / texts as f64);
        } else if let SeqLen::Tokens(n) = setup.seq_len {
            if tokens_per_input_mean + 0.5 < n as f64 {
                verdict.warn(format!(
                    "the texts average {tokens_per_input_mean:.1} tokens, under the cell's {n}: the server runs each at its own length (in-process cells pad them to {n}), so this cell computes less than its length says"
                ));
            }
        }
    }
    let image = setup.inputs.images.as_ref().map(|i| ImageFigures {
        source: i.source.clone(),
        include_preprocessing: i.include_preprocessing,
        height_px: i.height,
        width_px: i.width,
        processor: i.processor.clone(),
        preprocess_ms_per_image: i.preprocess_ms_per_image,
        images_skipped: i.skipped.len(),
        skipped_examples: i.skipped.iter().take(3).cloned().collect(),
        preprocess_max_abs_diff: gate.parity.map(|p| p.max_abs_pixel_diff),
        preprocess_min_cosine: gate.parity.map(|p| p.min_cosine),
    });
    if let Some(i) = setup.inputs.images.as_ref().filter(|i| !i.skipped.is_empty()) {
        verdict.warn(format!(
            "{} image(s) of {} could not be decoded and were left out (first: {})",
            i.skipped.len(),
            i.source,
            i.skipped[0]
        ));
    }
    let seq_len = match (&setup.inputs.images, setup.scenario.modality) {
        (Some(i), _) => serde_json::Value::String(format!("image {}x{}", i.height, i.width)),
        (None, Modality::Image) => serde_json::Value::String(match context.image_side {
            Some(n) => format!("image {n}x{n}"),
            None => "image".into(),
        }),
        (None, Modality::Text) => serde_json::to_value(setup.seq_len).expect("SeqLen serializes"),
    };
    // A backend without intra-op threads of its own (http: the server's are the server's) says 0.
    let threads = info.map(|i| i.intra_op_threads).filter(|&t| t > 0);
    let mut auto_resolved = context.auto_resolved.clone();
    if let (true, Some(t)) = (context.threads_auto, threads) {
        auto_resolved.insert("threads".into(), format!("{t} (usable physical cores)"));
    }
    let resources = measured.as_ref().and_then(|m| m.resources.as_ref());
    if let Some(f) = &context.fallback {
        verdict.warn(format!(
            "fell back to the CPU with batch {} (a quarter of {}): on the GPU, {}",
            f.to_batch_size, f.from_batch_size, f.reason
        ));
    }
    verdict.warnings.extend(context.warnings.iter().cloned());
    let (mode, requested_rate_qps) = match &measured {
        Some(m) => (m.mode, m.requested_rate_qps),
        None => (setup.scenario.mode.kind(), requested_rate(&setup.scenario.mode)),
    };
    let valid = verdict.problems.is_empty();
    CellRecord {
        schema_version: SCHEMA_VERSION,
        finished_at: now(),
        model: setup.model.to_string(),
        backend: setup.backend.to_string(),
        architecture: setup.architecture.map(|a| a.name().to_string()),
        scenario: setup.scenario.name.clone(),
        scenario_kind: setup.scenario.kind(),
        mode,
        requested_rate_qps,
        concurrency: setup.scenario.concurrency,
        modality: setup.scenario.modality,
        batch_size,
        seq_len,
        tokens_per_input_mean,
        prompt: setup.scenario.prompt.clone(),
        prompt_tokens: setup.inputs.prompt_tokens,
        truncate_dim: setup.truncation.map(|t| t.dim),
        requests,
        errors,
        error_messages: measured.as_ref().map(|m| m.error_messages.clone()).unwrap_or_default(),
        qps,
        embeddings_per_s,
        latency_ms: measured.as_ref().and_then(|m| m.latency_ms.clone()),
        measured_wall_s: measured.as_ref().and_then(|m| m.wall_s),
        load_time_s: loading.load_time_s,
        first_request_ms: loading.first_request_ms,
        warmup_requests: setup.warmup_requests,
        tokenize_ms_per_request,
        rss_before_load_mb: loading.rss_before_load_mb,
        rss_after_load_mb: loading.rss_after_load_mb,
        peak_rss_mb: resources.map(|r| r.peak_rss_mb),
        cpu_util_pct: resources.map(|r| r.cpu_util_pct),
        framework: info.map_or_else(|| setup.framework.to_string(), |i| i.framework.clone()),
        framework_version: info.map_or_else(|| "unknown".into(), |i| i.framework_version.clone()),
        device: info.map_or_else(|| "unknown".into(), |i| i.device.clone()),
        precision,
        requested_precision: setup.requested_precision,
        min_cosine: gate.min_cosine,
        gate_threshold: gate.threshold,
        retrieval,
        non_finite_vectors,
        backend_settings: info.map(|i| i.settings.clone()).unwrap_or_default(),
        threads,
        memory_estimate_mb: setup.memory_estimate_mb,
        skipped,
        cache,
        execution,
        steady_state: measured.as_ref().and_then(|m| m.steady_state.clone()),
        repetitions: measured.as_ref().and_then(|m| m.repetitions.clone()),
        dispatch_lateness_ms: measured.as_ref().and_then(|m| m.dispatch_lateness_ms),
        slo: measured.as_ref().and_then(|m| m.slo.clone()),
        gflop_per_text: flops.gflop_per_text,
        gflops_per_s: flops.gflops_per_s,
        image,
        http,
        fallback: context.fallback.clone(),
        memory_phases: memory,
        peak_gflops: flops.peak_gflops,
        mfu: flops.mfu,
        cost: qps.map(|q| CostFigures {
            instance_type: setup.cost.instance_type.clone(),
            hourly_usd: setup.cost.hourly_usd,
            per_1m_requests: setup.cost.per_million(q),
            per_1m_embeddings: embeddings_per_s.and_then(|e| setup.cost.per_million(e)),
        }),
        cell: context.cell,
        cell_parts: context.cell.map(|_| cell_parts),
        worker_failure,
        auto_resolved,
        warnings: verdict.warnings,
        valid,
        invalid_reason: (!valid).then(|| verdict.problems.join("; ")),
        histogram: measured.and_then(|m| m.histogram),
    }
}

/// Open loop: the arrival rate the config asked for.
pub fn requested_rate(mode: &Mode) -> Option<f64> {
    match mode {
        Mode::OpenLoop { rate_qps, .. } => Some(*rate_qps),
        _ => None,
    }
}

/// Model FLOPs figures of a record (all None when the model's shape is not known).
#[derive(Default)]
struct Flops {
    gflop_per_text: Option<f64>,
    gflops_per_s: Option<f64>,
    peak_gflops: Option<f64>,
    mfu: Option<f64>,
}

/// Model FLOPs per text and achieved GFLOP/s, for a model whose shape came from its
/// `config.json` (a shape guessed from `models.yaml` would give made-up figures).
/// Natural-length inputs count at their mean real length (padding is not counted).
fn flops(setup: &CellSetup, context: &RecordContext, embeddings_per_s: Option<f64>, precision: &str) -> Flops {
    let Some(shape) = context.shape.filter(|s| s.source == "config.json") else { return Flops::default() };
    // A vision tower computes its patches, SigLIP's text tower its 64 positions, whatever the input.
    let seq = match (shape.fixed_seq, setup.seq_len) {
        (Some(n), _) | (None, SeqLen::Tokens(n)) => n,
        (None, SeqLen::Natural) => setup.inputs.tokens_per_input_mean.round() as usize,
    };
    let gflop = shape.flops_per_sequence(seq) / 1e9;
    let gflops_per_s = embeddings_per_s.map(|e| e * gflop);
    let peak = context.peaks.and_then(|p| p.for_precision(precision));
    Flops {
        gflop_per_text: Some(gflop),
        gflops_per_s,
        peak_gflops: gflops_per_s.and(peak).map(|p| p.gflops),
        mfu: gflops_per_s.zip(peak).map(|(achieved, p)| achieved / p.gflops),
    }
}

/// Now, RFC 3339 UTC with milliseconds.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
