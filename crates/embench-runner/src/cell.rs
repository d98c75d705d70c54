//! One cell: load the model fresh, time the first request, warm up, measure.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use embench_core::config::{BatchPoint, Cost, Mode, ResolvedScenario, SeqLen};
use embench_core::{BackendInfo, EmbedError, Embedder, Phase, Precision};

use crate::gate::Gate;
use crate::guard::{Guarded, OutputCheck, OutputCount};
use crate::inputs::PreparedInputs;
use crate::load::{run_for, Serve};
use crate::measure::{measure, run_slo};
use crate::resources::{ProcessProbe, ResourceSampler, ResourceStats};
use crate::results::{CellRecord, PhaseMemory, SCHEMA_VERSION};
use crate::serve::{Server, ServingPlan};

/// Loads a fresh model instance for a cell, with this many intra-op threads
/// when given (replicas share the cores), else the backend's own setting.
pub type Loader<'a> = dyn Fn(Option<usize>) -> Result<Box<dyn Embedder>, EmbedError> + Sync + 'a;

/// Model instances, and the check their outputs are counted in.
pub(crate) type Checked<T> = (T, Arc<OutputCheck>);

/// Lets a display follow a cell.
pub trait CellProgress: Sync {
    /// The cell entered a phase (`loading`, `warm-up`, `measuring`).
    fn phase(&self, _phase: &str) {}
    /// The counter through which requests are handed out (read it to show progress).
    fn counter(&self) -> &AtomicU64;
}

/// What a cell measures, and on which inputs.
#[derive(Clone)]
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
    /// The backend's configured intra-op threads (None: its default).
    pub threads: Option<usize>,
    /// The price cost figures are computed from.
    pub cost: &'a Cost,
    /// RSS (MiB) above which a phase of the cell carries a warning.
    pub memory_warn_mb: f64,
    /// Model instances (replicas) that may load at the same time.
    pub max_concurrent_loads: usize,
}

/// Runs one cell. Never fails: a failure becomes a record with `valid: false`
/// and the reason, so it is reported instead of lost.
pub fn run_cell(setup: &CellSetup, load: &Loader, progress: &dyn CellProgress) -> CellRecord {
    let mut record = blank_record(setup);
    let serving =
        setup.scenario.execution.as_ref().map(|e| {
            ServingPlan::resolve(e, setup.scenario.concurrency, setup.threads, crate::host::effective_cores())
        });
    let (models, check) = match load_models(&mut record, setup, load, serving.as_ref(), progress) {
        Ok(m) => m,
        Err(failed) => return *failed,
    };
    let batches = &setup.inputs.batches;
    let n = batches.len() as u64;
    let body = |serve: &Serve, record: &mut CellRecord| -> Result<(), EmbedError> {
        warm_up(record, setup, serve, progress)?;
        judge_outputs(record, check.take(), "first request and warm-up");
        progress.phase("measuring");
        match &setup.scenario.slo {
            Some(slo) => run_slo(record, setup, slo, serve, progress),
            None => measure(record, setup, serve, progress),
        }
        judge_measured(record, check.take());
        Ok(())
    };
    let outcome = match &serving {
        None => {
            let model = models[0].as_ref();
            let serve = |i: u64| model.embed(&batches[(i % n) as usize]).map(drop);
            body(&serve, &mut record)
        }
        Some(plan) => {
            let (outcome, formed) = Server::run(&models, plan.workers_per_model, plan.batching, |server| {
                let serve = |i: u64| server.submit(&batches[(i % n) as usize]);
                body(&serve, &mut record)
            });
            record.execution = Some(plan.figures(formed));
            record.warnings.extend(plan.warning.iter().cloned());
            outcome
        }
    };
    if let Err(e) = outcome {
        return *failed(record, &e);
    }
    progress.phase("correctness gate");
    let model = models[0].as_ref();
    match serving {
        None => run_gate(&mut record, setup, model),
        Some(_) => on_passing_thread(|| run_gate(&mut record, setup, model)),
    }
    drop(models);
    record.finished_at = now();
    record
}

/// A direct cell's start (one instance, the clients call it): load fresh, time
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
) -> Result<Checked<Box<dyn Embedder>>, Box<CellRecord>> {
    let (mut models, check) = load_models(record, setup, load, None, progress)?;
    let model = models.pop().expect("one instance");
    let batches = &setup.inputs.batches;
    let serve = |i: u64| model.embed(&batches[(i % batches.len() as u64) as usize]).map(drop);
    warm_up(record, setup, &serve, progress).map_err(|e| failed(record.clone(), &e))?;
    judge_outputs(record, check.take(), "first request and warm-up");
    Ok((model, check))
}

/// Loads the cell's instances (one, or the plan's replicas with its threads
/// each), recording load time and memory, and times the first (cold) request on
/// the first. Every instance is [`Guarded`]: its outputs are counted in the check returned.
fn load_models(
    record: &mut CellRecord,
    setup: &CellSetup,
    load: &Loader,
    serving: Option<&ServingPlan>,
    progress: &dyn CellProgress,
) -> Result<Checked<Vec<Box<dyn Embedder>>>, Box<CellRecord>> {
    let mut probe = ProcessProbe::new();
    record.rss_before_load_mb = Some(probe.rss_mb());

    progress.phase("loading");
    let t = Instant::now();
    let sampler = ResourceSampler::start();
    let (count, threads) = serving.map_or((1, None), |p| (p.replicas, Some(p.threads_per_replica)));
    let models = load_replicas(load, count, threads, setup.max_concurrent_loads);
    note_memory(record, setup, "load", &sampler.stop());
    let check = Arc::new(OutputCheck::default());
    let models: Vec<Box<dyn Embedder>> = models
        .map_err(|e| failed(record.clone(), &e))?
        .into_iter()
        .map(|m| Box::new(Guarded::new(m, check.clone())) as Box<dyn Embedder>)
        .collect();
    record.load_time_s = Some(t.elapsed().as_secs_f64());
    record.rss_after_load_mb = Some(probe.rss_mb());
    describe(record, models[0].info());

    progress.phase("warm-up");
    let first = || {
        let t = Instant::now();
        models[0].embed(&setup.inputs.batches[0]).map(|_| t.elapsed())
    };
    let first = match serving {
        None => first(),
        Some(_) => on_passing_thread(first),
    };
    match first {
        Ok(took) => record.first_request_ms = Some(took.as_secs_f64() * 1e3),
        Err(e) => return Err(failed(record.clone(), &EmbedError::new("first request", Phase::Warmup, e.to_string()))),
    }
    Ok((models, check))
}

/// Runs `f` on a thread of its own that ends with it, and returns its result (a
/// panic carries on in this thread).
///
/// Backends keep per-thread state that outlives a call: libgomp (libtorch's
/// OpenMP) gives every thread that starts a parallel region a team of threads
/// for as long as that thread lives, and once the process holds more team threads
/// than CPUs, every team stops spinning between regions (libtorch at batch 1 on 2
/// cores lost 7 % to one request made on another thread). So each cell runs on a
/// fresh thread, and nothing a cell did stays behind for the next one. A direct
/// cell makes all its requests from that thread (client 0, see [`run_for`]); in a
/// served cell the replicas' worker threads make them, so its first request and
/// gate run on passing threads too.
pub(crate) fn on_passing_thread<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| {
        let thread = std::thread::Builder::new().name("embench-cell".into()).spawn_scoped(s, f);
        thread.expect("spawning a thread").join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Loads `count` instances, at most `at_once` at a time (in order of their index).
fn load_replicas(
    load: &Loader,
    count: usize,
    threads: Option<usize>,
    at_once: usize,
) -> Result<Vec<Box<dyn Embedder>>, EmbedError> {
    if count <= 1 || at_once <= 1 {
        return (0..count).map(|_| load(threads)).collect();
    }
    let mut models = Vec::with_capacity(count);
    let indices: Vec<usize> = (0..count).collect();
    for chunk in indices.chunks(at_once) {
        let loaded: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = chunk.iter().map(|_| s.spawn(|| load(threads))).collect();
            handles.into_iter().map(|h| h.join().expect("a model load panicked")).collect()
        });
        for m in loaded {
            models.push(m?);
        }
    }
    Ok(models)
}

/// Unrecorded requests through `serve`, closed loop at the scenario's
/// concurrency, until both the warm-up count and the warm-up duration are met:
/// warm-up only has to bring the backend to steady state.
fn warm_up(
    record: &mut CellRecord,
    setup: &CellSetup,
    serve: &Serve,
    progress: &dyn CellProgress,
) -> Result<(), EmbedError> {
    let (n, secs) = (setup.warmup_requests as u64, setup.scenario.measurement.warmup_duration_s);
    if n == 0 && secs <= 0.0 {
        return Ok(());
    }
    let concurrency = setup.scenario.concurrency;
    let sampler = ResourceSampler::start();
    let warm = run_for(serve, concurrency, n, Duration::from_secs_f64(secs), progress.counter(), &Mode::ClosedLoop);
    note_memory(record, setup, "warmup", &sampler.stop());
    match warm.errors.iter().next() {
        Some((msg, n)) => Err(EmbedError::new("warm-up", Phase::Warmup, format!("{n} warm-up requests failed: {msg}"))),
        None => Ok(()),
    }
}

/// Records a phase's memory, with a warning when its peak passes the threshold.
pub(crate) fn note_memory(record: &mut CellRecord, setup: &CellSetup, phase: &str, stats: &ResourceStats) {
    record.memory_phases.push(PhaseMemory {
        phase: phase.into(),
        start_mb: stats.start_rss_mb,
        end_mb: stats.end_rss_mb,
        peak_mb: stats.peak_rss_mb,
        process_peaks_mb: stats.process_peaks_mb.clone(),
        shared_overcount_mb: stats.shared_overcount_mb,
    });
    if stats.peak_rss_mb > setup.memory_warn_mb {
        record.warnings.push(format!(
            "memory: RSS peaked at {:.0} MiB during {phase}, above the {:.0} MiB threshold (input_config.memory_warn_mb; default 85 % of the memory budget)",
            stats.peak_rss_mb, setup.memory_warn_mb
        ));
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

/// Records the measured phase's non-finite vectors, and judges them as [`judge_outputs`] does.
pub(crate) fn judge_measured(record: &mut CellRecord, count: OutputCount) {
    record.non_finite_vectors = Some(count.non_finite);
    judge_outputs(record, count, "measured phase");
}

/// Invalidates `record` when a phase's outputs held NaN or infinity, saying how many and the fix.
pub(crate) fn judge_outputs(record: &mut CellRecord, count: OutputCount, phase: &str) {
    if count.non_finite > 0 {
        invalidate(
            record,
            format!(
                "{phase}: {} of {} vectors the backend returned hold NaN or infinity (fix: the model's numbers are broken: check its config.json (e.g. layer_norm_eps), its conversion, or a precision that overflows)",
                count.non_finite, count.vectors
            ),
        );
    }
}

/// Checks `model` at the cell's shape against the reference embeddings, writing
/// the result (and, on failure, the reason it is invalid) into `record`.
pub(crate) fn run_gate(record: &mut CellRecord, setup: &CellSetup, model: &dyn Embedder) {
    match setup.gate.as_ref() {
        None => {}
        Some(Err(why)) => record.warnings.push(format!("correctness not checked: {why}")),
        Some(Ok(gate)) => match gate.check(model, setup.seq_len, setup.point.batch_size) {
            Ok(result) => {
                record.min_cosine = result.min_cosine;
                record.gate_threshold = Some(result.threshold);
                record.warnings.extend(result.fallback.clone());
                if !result.passed() {
                    invalidate(record, result.failure(record.precision_name()));
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
        scenario_kind: setup.scenario.kind(),
        mode: setup.scenario.mode.kind(),
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
        precision: None,
        requested_precision: setup.requested_precision,
        min_cosine: None,
        gate_threshold: None,
        non_finite_vectors: None,
        backend_settings: Default::default(),
        threads: None,
        memory_estimate_mb: setup.memory_estimate_mb,
        skipped: None,
        cache: None,
        execution: None,
        steady_state: None,
        dispatch_lateness_ms: None,
        repetitions: None,
        slo: None,
        gflop_per_text: None,
        gflops_per_s: None,
        peak_gflops: None,
        mfu: None,
        cost: None,
        memory_phases: Vec::new(),
        fallback: None,
        cell: None,
        cell_parts: None,
        worker_failure: None,
        auto_resolved: Default::default(),
        valid: true,
        invalid_reason: None,
        histogram: None,
    }
}

fn describe(record: &mut CellRecord, info: &BackendInfo) {
    record.framework = info.framework.clone();
    record.framework_version = info.framework_version.clone();
    record.device = info.device.clone();
    record.precision = Some(info.precision);
    record.threads = Some(info.intra_op_threads);
    record.backend_settings = info.settings.clone();
    record.warnings.extend(info.notes.iter().cloned());
}

pub(crate) fn failed(mut record: CellRecord, e: &EmbedError) -> Box<CellRecord> {
    invalidate(&mut record, e.to_string());
    record.finished_at = now();
    Box::new(record)
}

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use embench_core::config::{MockSettings, ServiceTime};

    use super::*;

    /// Loads `count` mocks `at_once` at a time; returns how many loads overlapped at most.
    fn overlapping_loads(count: usize, at_once: usize) -> usize {
        let (now, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let load = |_threads: Option<usize>| -> Result<Box<dyn Embedder>, EmbedError> {
            most.fetch_max(now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(50));
            now.fetch_sub(1, Ordering::SeqCst);
            Ok(Box::new(embench_mock::MockEmbedder::new(MockSettings {
                service_time: ServiceTime::Constant { ms: 0.0 },
                stall: None,
                batch_cost: None,
                embedding_dim: 4,
                oom_above_batch: None,
                crash: None,
                wrong_output: None,
                seed: 1,
            })))
        };
        let models = load_replicas(&load, count, None, at_once).unwrap();
        assert_eq!(models.len(), count);
        most.load(Ordering::SeqCst)
    }

    #[test]
    fn replicas_load_one_at_a_time_unless_more_are_allowed() {
        assert_eq!(overlapping_loads(4, 1), 1);
        assert_eq!(overlapping_loads(5, 2), 2);
        assert_eq!(overlapping_loads(3, 8), 3);
    }
}
