//! The start of a cell: load its model instances fresh (recording load time and
//! memory), time the first (cold) request, and warm up without recording.

use std::sync::Arc;
use std::time::{Duration, Instant};

use embench_core::config::Mode;
use embench_core::{EmbedError, Embedder, Phase};
use embench_schema::record::PhaseMemory;

use crate::cell::guard::{Guarded, OutputCheck};
use crate::cell::record::{phase_memory, Loading, Verdict};
use crate::cell::served::ServingPlan;
use crate::cell::setup::{on_passing_thread, CellProgress, CellSetup, ModelLoader};
use crate::loadgen::worker_loop::{run_for, Serve};
use crate::machine::resources::{ProcessProbe, ResourceSampler};

/// Model instances, and the check their outputs are counted in.
pub(crate) type Checked<T> = (T, Arc<OutputCheck>);

/// What loading found, and the instances (or the error that stopped it).
pub(crate) struct Started {
    /// Load time, memory and what ran, as far as loading got.
    pub loading: Loading,
    /// RSS over the load.
    pub memory: Vec<PhaseMemory>,
    /// The backend's notes and memory warnings.
    pub verdict: Verdict,
    /// The guarded instances, or why there are none.
    pub models: Result<Checked<Vec<Box<dyn Embedder>>>, EmbedError>,
}

/// Loads the cell's instances (one, or the plan's replicas with its threads
/// each), recording load time and memory, and times the first (cold) request on
/// the first. Every instance is [`Guarded`]: its outputs are counted in the check returned.
///
/// The correctness gate runs after the measured phase, not here: its probes have
/// other shapes than the cell's inputs, and shape-specialising runtimes
/// (TorchScript's profiling executor measurably so) would otherwise be measured
/// after a re-specialisation that the cell's own traffic never causes.
pub(crate) fn load_models(
    setup: &CellSetup,
    load: &ModelLoader,
    serving: Option<&ServingPlan>,
    progress: &dyn CellProgress,
) -> Started {
    let mut probe = ProcessProbe::new();
    let mut loading = Loading { rss_before_load_mb: Some(probe.rss_mb()), ..Default::default() };
    let mut verdict = Verdict::default();

    progress.phase("loading");
    let t = Instant::now();
    let sampler = ResourceSampler::start();
    let (count, threads) = serving.map_or((1, None), |p| (p.replicas, Some(p.threads_per_replica)));
    let models = load_replicas(load, count, threads, setup.max_concurrent_loads);
    let (memory, warning) = phase_memory(setup, "load", &sampler.stop());
    verdict.warnings.extend(warning);
    let check = Arc::new(OutputCheck::default());
    let models: Vec<Box<dyn Embedder>> = match models {
        Ok(models) => {
            let cut = setup.truncation;
            models.into_iter().map(|m| Box::new(Guarded::new(m, check.clone(), cut)) as Box<dyn Embedder>).collect()
        }
        Err(e) => return Started { loading, memory: vec![memory], verdict, models: Err(e) },
    };
    loading.load_time_s = Some(t.elapsed().as_secs_f64());
    loading.rss_after_load_mb = Some(probe.rss_mb());
    let info = models[0].info().clone();
    verdict.warnings.extend(info.notes.iter().cloned());
    loading.info = Some(info);

    progress.phase("warm-up");
    let first = || {
        let t = Instant::now();
        models[0].embed_input(setup.inputs.batches[0].as_input()).map(|_| t.elapsed())
    };
    let first = match serving {
        None => first(),
        Some(_) => on_passing_thread(first),
    };
    let models = match first {
        Ok(took) => {
            loading.first_request_ms = Some(took.as_secs_f64() * 1e3);
            Ok((models, check))
        }
        Err(e) => Err(EmbedError::new("first request", Phase::Warmup, e.to_string())),
    };
    Started { loading, memory: vec![memory], verdict, models }
}

/// Loads `count` instances, at most `at_once` at a time (in order of their index).
fn load_replicas(
    load: &ModelLoader,
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

/// The warm-up's memory and findings, and whether it succeeded.
pub(crate) struct WarmUp {
    /// RSS over the warm-up (none when there was none).
    pub memory: Option<PhaseMemory>,
    /// Its memory warning.
    pub verdict: Verdict,
    /// A failed warm-up request stops the cell.
    pub result: Result<(), EmbedError>,
}

/// Unrecorded requests through `serve`, closed loop at the scenario's
/// concurrency, until both the warm-up count and the warm-up duration are met:
/// warm-up only has to bring the backend to steady state.
pub(crate) fn warm_up(setup: &CellSetup, serve: &Serve, progress: &dyn CellProgress) -> WarmUp {
    let (n, secs) = (setup.warmup_requests as u64, setup.scenario.measurement.warmup_duration_s);
    let mut verdict = Verdict::default();
    if n == 0 && secs <= 0.0 {
        return WarmUp { memory: None, verdict, result: Ok(()) };
    }
    let concurrency = setup.scenario.concurrency;
    let sampler = ResourceSampler::start();
    let warm = run_for(serve, concurrency, n, Duration::from_secs_f64(secs), progress.counter(), &Mode::ClosedLoop);
    let (memory, warning) = phase_memory(setup, "warmup", &sampler.stop());
    verdict.warnings.extend(warning);
    let result = match warm.errors.iter().next() {
        Some((msg, n)) => Err(EmbedError::new("warm-up", Phase::Warmup, format!("{n} warm-up requests failed: {msg}"))),
        None => Ok(()),
    };
    WarmUp { memory: Some(memory), verdict, result }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use embench_mock::{MockSettings, ServiceTime};

    use embench_core::EmbedError;

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
