//! The measured phase of a cell: `repeat` repetitions, each until both its
//! request count and its minimum duration are met, each checked for steady
//! state; and the latency-bounded throughput search.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use embench_core::config::{Mode, Slo};
use embench_schema::LoadMode;

use crate::cell::{invalidate, note_memory, CellProgress, CellSetup};
use crate::histogram::{requests_needed, LatencyHistogram};
use crate::load::{run_for, LoopOutcome, Serve};
use crate::resources::ResourceSampler;
use crate::results::{CellRecord, CostFigures, Repetitions};
use crate::slo::{search, Probe, SloResult, KEEP_UP};
use crate::stability::{estimate, steady_state, SteadyState};

/// Generator lateness under this (ms) is not worth a warning, whatever the latency.
pub const LATE_WARN_FLOOR_MS: f64 = 0.05;

/// The measured phase: the scenario's repetitions through `serve`, their
/// latencies, throughput, stability, cost and resources written into `record`.
pub(crate) fn measure(record: &mut CellRecord, setup: &CellSetup, serve: &Serve, progress: &dyn CellProgress) {
    let m = &setup.scenario.measurement;
    let (n, mode) = (setup.point.num_requests as u64, &setup.scenario.mode);
    let min = Duration::from_secs_f64(m.min_duration_s);
    let sampler = ResourceSampler::start();
    let runs: Vec<LoopOutcome> =
        (0..m.repeat).map(|_| run_for(serve, setup.scenario.concurrency, n, min, progress.counter(), mode)).collect();
    let resources = sampler.stop();
    record.peak_rss_mb = Some(resources.peak_rss_mb);
    record.cpu_util_pct = Some(resources.cpu_util_pct);
    note_memory(record, setup, "measure", &resources);

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
            record.warnings.push(format!(
                "unstable{which}: the last three of {} windows differ by {:.0} % in throughput (limit {:.0} %), {p99}; a longer min_duration_s or warm-up may settle it",
                s.windows.len(),
                s.qps_spread * 100.0,
                m.steady_state.max_qps_spread * 100.0,
            ));
        }
        steadiness.push(s);
    }
    // The least stable repetition speaks for the cell.
    record.steady_state = steadiness.into_iter().max_by(|a, b| {
        let score = |s: &SteadyState| {
            let p99 = if s.p99_judged { s.p99_spread / m.steady_state.max_p99_spread } else { 0.0 };
            (s.qps_spread / m.steady_state.max_qps_spread).max(p99)
        };
        score(a).total_cmp(&score(b))
    });
    if runs.len() > 1 {
        let qps: Vec<f64> = runs.iter().map(|r| r.histogram.len() as f64 / r.wall.as_secs_f64().max(1e-12)).collect();
        let p99: Vec<f64> = runs.iter().map(|r| r.histogram.quantile_ms(0.99)).collect();
        let (qps, p99_ms) = (estimate(&qps), estimate(&p99));
        for (name, e) in [("QPS", &qps), ("p99", &p99_ms)] {
            if !e.outliers.is_empty() {
                let list: Vec<String> = e.outliers.iter().map(|i| (i + 1).to_string()).collect();
                record.warnings.push(format!("outlier repetition(s) {} by {name}", list.join(", ")));
            }
        }
        record.repetitions = Some(Repetitions { count: runs.len(), qps, p99_ms });
    }
    for run in &runs {
        open_loop_check(record, run);
    }
    record_outcome(record, setup, runs);
}

/// Pools the repetitions' requests into `record`'s headline figures.
fn record_outcome(record: &mut CellRecord, setup: &CellSetup, runs: Vec<LoopOutcome>) {
    let mut histogram = LatencyHistogram::new();
    let mut late = LatencyHistogram::new();
    let mut wall_s = 0.0;
    for run in runs {
        histogram.merge(&run.histogram);
        late.merge(&run.lateness);
        wall_s += run.wall.as_secs_f64();
        for (msg, n) in run.errors {
            *record.error_messages.entry(msg).or_insert(0) += n;
        }
    }
    let ok = histogram.len();
    let failed_requests: u64 = record.error_messages.values().sum();
    record.requests = ok;
    record.errors = failed_requests;
    record.measured_wall_s = Some(wall_s);
    record.qps = Some(ok as f64 / wall_s.max(1e-12));
    record.embeddings_per_s = record.qps.map(|q| q * setup.point.batch_size as f64);
    record.cost = Some(CostFigures {
        instance_type: setup.cost.instance_type.clone(),
        hourly_usd: setup.cost.hourly_usd,
        per_1m_requests: record.qps.and_then(|q| setup.cost.per_million(q)),
        per_1m_embeddings: record.embeddings_per_s.and_then(|q| setup.cost.per_million(q)),
    });
    if !late.is_empty() && record.mode == LoadMode::OpenLoop {
        let (p99, max) = (late.quantile_ms(0.99), late.summary().max);
        record.dispatch_lateness_ms = Some((p99, max));
        if p99 > LATE_WARN_FLOOR_MS && p99 > 0.05 * histogram.quantile_ms(0.5) {
            record.warnings.push(format!(
                "the load generator woke late: p99 {p99:.3} ms (max {max:.3} ms) after due times, over 5 % of the p50 latency; the box is too busy for open-loop timing"
            ));
        }
    }
    if !histogram.is_empty() {
        // Percentiles too thin for their sample carry their flag (tables show '—' with a
        // note of what they need); the SLO's own percentile always has enough (search_max_qps).
        record.latency_ms = Some(histogram.summary());
        record.histogram = Some(histogram.to_base64());
    }
    if failed_requests > 0 {
        let total = ok + failed_requests;
        invalidate(record, format!("{failed_requests} of {total} measured requests failed"));
    }
}

/// Requests completed per second while they were offered: n - 1 gaps over the span.
fn served_rate(run: &LoopOutcome) -> f64 {
    let done = run.histogram.len() + run.errors.values().sum::<u64>();
    done.saturating_sub(1) as f64 / run.wall.as_secs_f64().max(1e-12)
}

/// Open loop: warns when the server fell behind the schedule.
fn open_loop_check(record: &mut CellRecord, run: &LoopOutcome) {
    if let (Some(offered), Some(asked)) = (run.offered_rate, record.requested_rate_qps) {
        let served = served_rate(run);
        if served < KEEP_UP * offered {
            record.warnings.push(format!(
                "open loop could not keep up: served {served:.1} requests/s of the {offered:.1} offered (asked {asked:.1}); latencies include the growing backlog"
            ));
        }
    }
}

/// The latency-bounded throughput search: closed-loop capacity, then open-loop
/// probes. The record's headline figures are those of the best passing probe
/// (or, when none passed, of the last one).
pub(crate) fn run_slo(
    record: &mut CellRecord,
    setup: &CellSetup,
    slo: &Slo,
    serve: &Serve,
    progress: &dyn CellProgress,
) {
    let (n, concurrency) = (setup.point.num_requests as u64, setup.scenario.concurrency);
    let min = Duration::from_secs_f64(setup.scenario.measurement.min_duration_s);
    let sampler = ResourceSampler::start();
    let (result, shown) = search_max_qps(serve, concurrency, n, min, slo, progress.counter());
    let resources = sampler.stop();
    record.peak_rss_mb = Some(resources.peak_rss_mb);
    record.cpu_util_pct = Some(resources.cpu_util_pct);
    note_memory(record, setup, "measure", &resources);
    record.mode = LoadMode::OpenLoop;
    if let Some((rate, run)) = shown {
        record.requested_rate_qps = Some(rate);
        record.steady_state = Some(steady_state(&run.timeline, &setup.scenario.measurement.steady_state, true));
        record_outcome(record, setup, vec![run]);
    }
    if result.max_qps.is_none() {
        record.warnings.push(format!("latency-bounded throughput: {}", result.note));
    }
    record.slo = Some(result);
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
    let capacity = capacity_run.histogram.len() as f64 / capacity_run.wall.as_secs_f64().max(1e-12);
    // Each probe judges its percentile on enough requests for it (10 above it).
    let n = n.max(requests_needed(slo.percentile / 100.0));
    if capacity_run.histogram.is_empty() {
        // Nothing succeeded: no rate to search; the capacity run's failures speak for the cell.
        return (search(slo, 0.0, |_| unreachable!("no probe without a capacity")), Some((0.0, capacity_run)));
    }
    let mut best: Option<(f64, LoopOutcome)> = None;
    let mut last: Option<(f64, LoopOutcome)> = None;
    let result = search(slo, capacity, |rate| {
        let mode = Mode::OpenLoop { rate_qps: rate, arrival: slo.arrival, seed: slo.seed };
        let run = run_for(serve, concurrency, n, min, counter, &mode);
        let pct = run.histogram.quantile_ms(slo.percentile / 100.0);
        let kept_up = run.offered_rate.is_none_or(|o| served_rate(&run) >= KEEP_UP * o);
        let passed = run.errors.is_empty() && !run.histogram.is_empty() && kept_up && pct <= slo.bound_ms;
        let probe = Probe {
            rate_qps: rate,
            achieved_qps: run.histogram.len() as f64 / run.wall.as_secs_f64().max(1e-12),
            percentile_ms: pct,
            passed,
        };
        if passed && best.as_ref().is_none_or(|(r, _)| rate > *r) {
            best = Some((rate, run));
        } else {
            last = Some((rate, run));
        }
        probe
    });
    (result, best.or(last))
}
