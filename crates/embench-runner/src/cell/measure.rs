//! The measured phase of a cell: `repeat` repetitions, each until both its
//! request count and its minimum duration are met, each checked for steady
//! state; and the latency-bounded throughput search.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use embench_core::config::{Mode, Slo};
use embench_schema::histogram::{requests_needed, LatencyHistogram};
use embench_schema::record::{PhaseMemory, Repetitions};
use embench_schema::LoadMode;

use crate::cell::record::{phase_memory, requested_rate, Measured, Verdict};
use crate::cell::setup::{CellProgress, CellSetup};
use crate::cell::slo::{search, Probe, SloResult, KEEP_UP};
use crate::cell::stability::{estimate, steady_state, SteadyState};
use crate::loadgen::rate;
use crate::loadgen::worker_loop::{run_for, LoopOutcome, Serve};
use crate::machine::resources::ResourceSampler;

/// Generator lateness under this (ms) is not worth a warning, whatever the latency.
pub const LATE_WARN_FLOOR_MS: f64 = 0.05;

/// The measured phase: the scenario's repetitions through `serve`; returns their
/// pooled figures (latencies, throughput, steadiness, repetitions), the phase's
/// memory, and the warnings and problems found.
pub(crate) fn measure(
    setup: &CellSetup,
    serve: &Serve,
    progress: &dyn CellProgress,
) -> (Measured, PhaseMemory, Verdict) {
    let m = &setup.scenario.measurement;
    let (n, mode) = (setup.point.num_requests as u64, &setup.scenario.mode);
    let min = Duration::from_secs_f64(m.min_duration_s);
    let sampler = ResourceSampler::start();
    let runs: Vec<LoopOutcome> =
        (0..m.repeat).map(|_| run_for(serve, setup.scenario.concurrency, n, min, progress.counter(), mode)).collect();
    let resources = sampler.stop();
    let (memory, warning) = phase_memory(setup, "measure", &resources);
    let mut verdict = Verdict::default();
    verdict.warnings.extend(warning);

    let mut steadiness: Vec<SteadyState> = Vec::new();
    for (k, run) in runs.iter().enumerate() {
        let s = steady_state(&run.timeline, &m.steady_state, *mode != Mode::Offline);
        if s.unstable {
            let which = if runs.len() > 1 { format!(" (repetition {})", k + 1) } else { String::new() };
            let p99 = if s.p99_judged {
                format!("{:.0} % in p99 (limit {:.0} %)", s.p99_spread * 100.0, m.steady_state.max_p99_spread * 100.0)
            } else {
                "p99 not judged".into()
            };
            verdict.warn(format!(
                "unstable{which}: the last three of {} windows differ by {:.0} % in throughput (limit {:.0} %), {p99}; a longer min_duration_s or warm-up may settle it",
                s.windows.len(),
                s.qps_spread * 100.0,
                m.steady_state.max_qps_spread * 100.0,
            ));
        }
        steadiness.push(s);
    }
    // The least stable repetition speaks for the cell.
    let steady = steadiness.into_iter().max_by(|a, b| {
        let score = |s: &SteadyState| {
            let p99 = if s.p99_judged { s.p99_spread / m.steady_state.max_p99_spread } else { 0.0 };
            (s.qps_spread / m.steady_state.max_qps_spread).max(p99)
        };
        score(a).total_cmp(&score(b))
    });
    let mut repetitions = None;
    if runs.len() > 1 {
        let qps: Vec<f64> = runs.iter().map(|r| rate(r.histogram.len(), r.wall.as_secs_f64())).collect();
        let p99: Vec<f64> = runs.iter().map(|r| r.histogram.quantile_ms(0.99)).collect();
        let (qps, p99_ms) = (estimate(&qps), estimate(&p99));
        for (name, e) in [("QPS", &qps), ("p99", &p99_ms)] {
            if !e.outliers.is_empty() {
                let list: Vec<String> = e.outliers.iter().map(|i| (i + 1).to_string()).collect();
                verdict.warn(format!("outlier repetition(s) {} by {name}", list.join(", ")));
            }
        }
        repetitions = Some(Repetitions { count: runs.len(), qps, p99_ms });
    }
    let requested_rate_qps = requested_rate(mode);
    for run in &runs {
        verdict.warnings.extend(open_loop_check(run, requested_rate_qps));
    }
    let (mut measured, pooled) = pool_runs(mode.kind(), requested_rate_qps, runs);
    verdict.absorb(pooled);
    measured.resources = Some(resources);
    measured.steady_state = steady;
    measured.repetitions = repetitions;
    (measured, memory, verdict)
}

/// Pools the repetitions' requests into the headline figures.
fn pool_runs(mode: LoadMode, requested_rate_qps: Option<f64>, runs: Vec<LoopOutcome>) -> (Measured, Verdict) {
    let mut verdict = Verdict::default();
    let mut histogram = LatencyHistogram::new();
    let mut late = LatencyHistogram::new();
    let mut wall_s = 0.0;
    let mut error_messages: BTreeMap<String, u64> = BTreeMap::new();
    let runs_empty = runs.is_empty();
    for run in runs {
        histogram.merge(&run.histogram);
        late.merge(&run.lateness);
        wall_s += run.wall.as_secs_f64();
        for (msg, n) in run.errors {
            *error_messages.entry(msg).or_insert(0) += n;
        }
    }
    let ran = !runs_empty;
    let ok = histogram.len();
    let failed_requests: u64 = error_messages.values().sum();
    let mut dispatch_lateness_ms = None;
    if !late.is_empty() && mode == LoadMode::OpenLoop {
        let (p99, max) = (late.quantile_ms(0.99), late.summary().max);
        dispatch_lateness_ms = Some((p99, max));
        if p99 > LATE_WARN_FLOOR_MS && p99 > 0.05 * histogram.quantile_ms(0.5) {
            verdict.warn(format!(
                "the load generator woke late: p99 {p99:.3} ms (max {max:.3} ms) after due times, over 5 % of the p50 latency; the box is too busy for open-loop timing"
            ));
        }
    }
    if failed_requests > 0 {
        let total = ok + failed_requests;
        verdict.fail(format!("{failed_requests} of {total} measured requests failed"));
    }
    // Percentiles too thin for their sample carry their flag (tables show '—' with a
    // note of what they need); the SLO's own percentile always has enough (search_max_qps).
    let (latency_ms, encoded) = match histogram.is_empty() {
        true => (None, None),
        false => (Some(histogram.summary()), Some(histogram.to_base64())),
    };
    let measured = Measured {
        mode,
        requested_rate_qps,
        requests: ok,
        error_messages,
        wall_s: ran.then_some(wall_s),
        latency_ms,
        histogram: encoded,
        dispatch_lateness_ms,
        resources: None,
        steady_state: None,
        repetitions: None,
        slo: None,
        http: None,
    };
    (measured, verdict)
}

/// Requests completed per second while they were offered: n - 1 gaps over the span.
fn served_rate(run: &LoopOutcome) -> f64 {
    let done = run.histogram.len() + run.errors.values().sum::<u64>();
    rate(done.saturating_sub(1), run.wall.as_secs_f64())
}

/// Open loop: a warning when the server fell behind the schedule.
fn open_loop_check(run: &LoopOutcome, asked: Option<f64>) -> Option<String> {
    let (offered, asked) = (run.offered_rate?, asked?);
    let served = served_rate(run);
    (served < KEEP_UP * offered).then(|| {
        format!(
            "open loop could not keep up: served {served:.1} requests/s of the {offered:.1} offered (asked {asked:.1}); latencies include the growing backlog"
        )
    })
}

/// The latency-bounded throughput search: closed-loop capacity, then open-loop
/// probes. The record's headline figures are those of the best passing probe
/// (or, when none passed, of the last one).
pub(crate) fn run_slo(
    setup: &CellSetup,
    slo: &Slo,
    serve: &Serve,
    progress: &dyn CellProgress,
) -> (Measured, PhaseMemory, Verdict) {
    let (n, concurrency) = (setup.point.num_requests as u64, setup.scenario.concurrency);
    let min = Duration::from_secs_f64(setup.scenario.measurement.min_duration_s);
    let sampler = ResourceSampler::start();
    let (result, shown) = search_max_qps(serve, concurrency, n, min, slo, progress.counter());
    let resources = sampler.stop();
    let (memory, warning) = phase_memory(setup, "measure", &resources);
    let mut verdict = Verdict::default();
    verdict.warnings.extend(warning);
    let (mut measured, steady) = match shown {
        Some((probe_rate, run)) => {
            let steady = steady_state(&run.timeline, &setup.scenario.measurement.steady_state, true);
            let (measured, pooled) = pool_runs(LoadMode::OpenLoop, Some(probe_rate), vec![run]);
            verdict.absorb(pooled);
            (measured, Some(steady))
        }
        // No probe ran: no figures but the search's own.
        None => (pool_runs(LoadMode::OpenLoop, requested_rate(&setup.scenario.mode), Vec::new()).0, None),
    };
    if result.max_qps.is_none() {
        verdict.warn(format!("latency-bounded throughput: {}", result.note));
    }
    measured.resources = Some(resources);
    measured.steady_state = steady;
    measured.slo = Some(result);
    (measured, memory, verdict)
}

/// Measures the closed-loop capacity of `serve` at `concurrency`, then searches
/// the open-loop rate (each probe `n` requests, at least [`requests_needed`] for
/// the SLO's percentile, and at least `min`) for the
/// highest meeting `slo`. Returns the result and the run of the best passing
/// probe (or, when none passed, of the last probe) with its rate.
pub fn search_max_qps(
    serve: &Serve,
    concurrency: usize,
    n: u64,
    min: Duration,
    slo: &Slo,
    counter: &AtomicU64,
) -> (SloResult, Option<(f64, LoopOutcome)>) {
    let capacity_run = run_for(serve, concurrency, n, min, counter, &Mode::ClosedLoop);
    let capacity = rate(capacity_run.histogram.len(), capacity_run.wall.as_secs_f64());
    // Each probe judges its percentile on enough requests for it (10 above it).
    let n = n.max(requests_needed(slo.percentile / 100.0));
    if capacity_run.histogram.is_empty() {
        // Nothing succeeded: no rate to search; the capacity run's failures speak for the cell.
        return (search(slo, 0.0, |_| unreachable!("no probe without a capacity")), Some((0.0, capacity_run)));
    }
    let mut best: Option<(f64, LoopOutcome)> = None;
    let mut last: Option<(f64, LoopOutcome)> = None;
    let result = search(slo, capacity, |rate_qps| {
        let mode = Mode::OpenLoop { rate_qps, arrival: slo.arrival, seed: slo.seed };
        let run = run_for(serve, concurrency, n, min, counter, &mode);
        let pct = run.histogram.quantile_ms(slo.percentile / 100.0);
        let kept_up = run.offered_rate.is_none_or(|o| served_rate(&run) >= KEEP_UP * o);
        let passed = run.errors.is_empty() && !run.histogram.is_empty() && kept_up && pct <= slo.bound_ms;
        let probe = Probe {
            rate_qps,
            achieved_qps: rate(run.histogram.len(), run.wall.as_secs_f64()),
            percentile_ms: pct,
            passed,
        };
        if passed && best.as_ref().is_none_or(|(r, _)| rate_qps > *r) {
            best = Some((rate_qps, run));
        } else {
            last = Some((rate_qps, run));
        }
        probe
    });
    (result, best.or(last))
}
