//! One cell: load the model fresh, time the first request, warm up, measure.

use std::sync::atomic::AtomicU64;
use std::time::Instant;

use embench_core::config::{BatchPoint, Mode, ResolvedScenario, SeqLen};
use embench_core::{BackendInfo, EmbedError, Embedder, Phase, Precision};

use crate::gate::Gate;

use crate::inputs::PreparedInputs;
use crate::load::{run_load, run_requests, Serve};
use crate::resources::{ProcessProbe, ResourceSampler};
use crate::results::{CellRecord, SCHEMA_VERSION};

/// Loads a fresh model instance for a cell.
pub type Loader<'a> = dyn Fn() -> Result<Box<dyn Embedder>, EmbedError> + 'a;

/// Lets a display follow a cell.
pub trait CellProgress: Sync {
    /// The cell entered a phase (`loading`, `warm-up`, `measuring`).
    fn phase(&self, _phase: &str) {}
    /// The counter through which requests are handed out (read it to show progress).
    fn counter(&self) -> &AtomicU64;
}

/// What a cell measures, and on which inputs.
pub struct CellSetup<'a> {
    /// Model key.
    pub model: &'a str,
    /// Backend label (its name unless the config gave a label).
    pub backend: &'a str,
    /// Backend kind, e.g. `openvino` (for records of cells that fail before load).
    pub framework: &'a str,
    /// Precision the config asked for.
    pub requested_precision: Precision,
    /// The correctness gate, or why there is none (None: not applicable, e.g. the mock).
    pub gate: Option<Result<&'a Gate, String>>,
    /// The scenario.
    pub scenario: &'a ResolvedScenario,
    /// The sequence length.
    pub seq_len: SeqLen,
    /// The batch size and measured requests.
    pub point: BatchPoint,
    /// Pre-flight memory estimate, MiB.
    pub memory_estimate_mb: Option<f64>,
    /// Unrecorded warm-up requests after the first.
    pub warmup_requests: usize,
    /// The prepared request batches.
    pub inputs: &'a PreparedInputs,
}

/// Runs one cell. Never fails: a failure becomes a record with `valid: false`
/// and the reason, so it is reported instead of lost.
pub fn run_cell(setup: &CellSetup, load: &Loader, progress: &dyn CellProgress) -> CellRecord {
    let mut record = blank_record(setup);
    let model = match load_and_warm(&mut record, setup, load, progress) {
        Ok(m) => m,
        Err(failed) => return *failed,
    };
    progress.phase("measuring");
    let batches = &setup.inputs.batches;
    let serve = |i: u64| model.embed(&batches[(i % batches.len() as u64) as usize]).map(drop);
    measure(&mut record, setup, &serve, progress);
    progress.phase("correctness gate");
    run_gate(&mut record, setup.gate.as_ref(), model.as_ref());
    drop(model);
    record.finished_at = now();
    record
}

/// A cell's start, shared by every kind of scenario: load the model fresh, time
/// the first (cold) request, warm up. On failure, returns the finished record.
///
/// The correctness gate ([`run_gate`]) runs after the measured phase: its probes
/// have other shapes than the cell's inputs, and shape-specialising runtimes
/// (TorchScript's profiling executor measurably so) would otherwise be measured
/// after a re-specialisation that the cell's own traffic never causes.
pub(crate) fn load_and_warm(
    record: &mut CellRecord,
    setup: &CellSetup,
    load: &Loader,
    progress: &dyn CellProgress,
) -> Result<Box<dyn Embedder>, Box<CellRecord>> {
    let mut probe = ProcessProbe::new();
    record.rss_before_load_mb = Some(probe.rss_mb());

    progress.phase("loading");
    let t = Instant::now();
    let model = load().map_err(|e| failed(record.clone(), &e))?;
    record.load_time_s = Some(t.elapsed().as_secs_f64());
    record.rss_after_load_mb = Some(probe.rss_mb());
    describe(record, model.info());

    progress.phase("warm-up");
    let batches = &setup.inputs.batches;
    let t = Instant::now();
    if let Err(e) = model.embed(&batches[0]) {
        return Err(failed(record.clone(), &EmbedError::new("first request", Phase::Warmup, e.to_string())));
    }
    record.first_request_ms = Some(t.elapsed().as_secs_f64() * 1e3);
    if setup.warmup_requests > 0 {
        // Warm-up runs closed loop: it only has to bring the backend to steady state.
        let n = setup.warmup_requests as u64;
        let concurrency = setup.scenario.concurrency;
        let warm = run_load(model.as_ref(), batches, concurrency, n, progress.counter(), &Mode::ClosedLoop);
        if let Some((msg, n)) = warm.errors.iter().next() {
            let e = EmbedError::new("warm-up", Phase::Warmup, format!("{n} warm-up requests failed: {msg}"));
            return Err(failed(record.clone(), &e));
        }
    }
    Ok(model)
}

/// The measured phase: `setup.point.num_requests` requests through `serve`,
/// their latencies, throughput and resources written into `record`.
pub(crate) fn measure(record: &mut CellRecord, setup: &CellSetup, serve: &Serve, progress: &dyn CellProgress) {
    let sampler = ResourceSampler::start();
    let (n, mode) = (setup.point.num_requests as u64, &setup.scenario.mode);
    let outcome = run_requests(serve, setup.scenario.concurrency, n, progress.counter(), mode);
    let resources = sampler.stop();

    let ok = outcome.histogram.len();
    let failed_requests: u64 = outcome.errors.values().sum();
    let wall_s = outcome.wall.as_secs_f64();
    record.requests = ok;
    record.errors = failed_requests;
    record.error_messages = outcome.errors;
    record.measured_wall_s = Some(wall_s);
    record.qps = Some(ok as f64 / wall_s.max(1e-12));
    record.embeddings_per_s = record.qps.map(|q| q * setup.point.batch_size as f64);
    if let (Some(offered), Some(asked)) = (outcome.offered_rate, record.requested_rate_qps) {
        // Requests completed per second while they were being offered: n - 1 gaps over the span.
        let served = (ok + failed_requests).saturating_sub(1) as f64 / wall_s.max(1e-12);
        if served < 0.95 * offered {
            record.warnings.push(format!(
                "open loop could not keep up: served {served:.1} requests/s of the {offered:.1} offered (asked {asked:.1}); latencies include the growing backlog"
            ));
        }
    }
    if !outcome.histogram.is_empty() {
        record.latency_ms = Some(outcome.histogram.summary());
        record.histogram = Some(outcome.histogram.to_base64());
    }
    record.peak_rss_mb = Some(resources.peak_rss_mb);
    record.cpu_util_pct = Some(resources.cpu_util_pct);
    if failed_requests > 0 {
        let total = ok + failed_requests;
        invalidate(record, format!("{failed_requests} of {total} measured requests failed"));
    }
}

/// The record of a cell that was not attempted, and why.
pub fn skipped_record(setup: &CellSetup, reason: String) -> CellRecord {
    let mut record = blank_record(setup);
    record.skipped = Some(reason.clone());
    invalidate(&mut record, format!("skipped: {reason}"));
    record
}

/// Marks a record invalid, keeping every reason already given.
pub(crate) fn invalidate(record: &mut CellRecord, reason: String) {
    record.valid = false;
    record.invalid_reason = Some(match record.invalid_reason.take() {
        Some(earlier) => format!("{earlier}; {reason}"),
        None => reason,
    });
}

/// Checks `model` against the reference embeddings, writing the result (and, on
/// failure, the reason it is invalid) into `record`.
pub(crate) fn run_gate(record: &mut CellRecord, gate: Option<&Result<&Gate, String>>, model: &dyn Embedder) {
    match gate {
        None => {}
        Some(Err(why)) => record.warnings.push(format!("correctness not checked: {why}")),
        Some(Ok(gate)) => match gate.check(model) {
            Ok(result) => {
                record.min_cosine = Some(result.min_cosine);
                record.gate_threshold = Some(result.threshold);
                if !result.passed() {
                    invalidate(
                        record,
                        format!(
                            "correctness gate failed: min cosine {:.6} against the reference < {} for {}",
                            result.min_cosine, result.threshold, record.precision
                        ),
                    );
                }
            }
            Err(e) => invalidate(record, format!("correctness gate could not run: {e}")),
        },
    }
}

pub(crate) fn blank_record(setup: &CellSetup) -> CellRecord {
    CellRecord {
        schema_version: SCHEMA_VERSION,
        finished_at: now(),
        model: setup.model.to_string(),
        backend: setup.backend.to_string(),
        scenario: setup.scenario.name.clone(),
        scenario_kind: setup.scenario.kind().into(),
        mode: setup.scenario.mode.name().into(),
        requested_rate_qps: match setup.scenario.mode {
            Mode::OpenLoop { rate_qps, .. } => Some(rate_qps),
            _ => None,
        },
        warnings: Vec::new(),
        concurrency: setup.scenario.concurrency,
        batch_size: setup.point.batch_size,
        seq_len: serde_json::to_value(setup.seq_len).expect("SeqLen serializes"),
        tokens_per_input_mean: setup.inputs.tokens_per_input_mean,
        requests: 0,
        errors: 0,
        error_messages: Default::default(),
        qps: None,
        embeddings_per_s: None,
        latency_ms: None,
        measured_wall_s: None,
        load_time_s: None,
        first_request_ms: None,
        warmup_requests: setup.warmup_requests,
        tokenize_ms_per_request: setup.inputs.tokenize_ms_per_request,
        rss_before_load_mb: None,
        rss_after_load_mb: None,
        peak_rss_mb: None,
        cpu_util_pct: None,
        framework: setup.framework.to_string(),
        framework_version: "unknown".into(),
        device: "unknown".into(),
        precision: "unknown".into(),
        requested_precision: setup.requested_precision.to_string(),
        min_cosine: None,
        gate_threshold: None,
        backend_settings: Default::default(),
        threads: None,
        memory_estimate_mb: setup.memory_estimate_mb,
        skipped: None,
        cache: None,
        valid: true,
        invalid_reason: None,
        histogram: None,
    }
}

fn describe(record: &mut CellRecord, info: &BackendInfo) {
    record.framework = info.framework.clone();
    record.framework_version = info.framework_version.clone();
    record.device = info.device.clone();
    record.precision = info.precision.to_string();
    record.threads = Some(info.intra_op_threads);
    record.backend_settings = info.settings.clone();
    record.warnings.extend(info.notes.iter().cloned());
}

fn failed(mut record: CellRecord, e: &EmbedError) -> Box<CellRecord> {
    invalidate(&mut record, e.to_string());
    record.finished_at = now();
    Box::new(record)
}

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
