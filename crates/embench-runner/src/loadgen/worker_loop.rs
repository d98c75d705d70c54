//! The load generator: one worker loop for every [`Mode`].
//!
//! - Closed loop: `concurrency` clients, each issuing its next request as soon
//!   as the previous one returns; latency from submit to result.
//! - Open loop: requests are due on a schedule (fixed or Poisson) whatever the
//!   system's speed; `concurrency` workers serve them, and latency counts from
//!   the *scheduled* time, so a stall delays every request due during it
//!   (coordinated-omission correction, as wrk2 and oha do).
//! - Offline: every request is due at once; latency includes the queueing.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use embench_core::config::Mode;
use embench_core::{EmbedError, Embedder, TokenizedBatch};
use spin_sleep::{SpinSleeper, SpinStrategy};

use crate::loadgen::arrivals::schedule;
use embench_schema::histogram::LatencyHistogram;

/// What the measured phase produced.
#[derive(Debug)]
pub struct LoopOutcome {
    /// Latencies of the successful requests, all workers merged.
    pub histogram: LatencyHistogram,
    /// Failed requests by message.
    pub errors: BTreeMap<String, u64>,
    /// From the start (the first client's start in closed loop; the schedule's origin otherwise) to the last end.
    pub wall: Duration,
    /// Open loop: the rate the schedule actually offered (requests over the span of
    /// their due times), which differs from the asked rate by chance for Poisson arrivals.
    pub offered_rate: Option<f64>,
    /// Each successful request's end (seconds from the start) and latency (ms), in no order:
    /// what the steady-state windows are cut from.
    pub timeline: Vec<(f32, f32)>,
    /// Open loop and offline: how late idle workers woke for a request's due time
    /// (the generator's own error; queueing behind busy workers is not in it).
    pub lateness: LatencyHistogram,
}

/// Serves request `i` (what one request does: a backend call, or a trip through the cache).
pub type Serve<'a> = dyn Fn(u64) -> Result<(), EmbedError> + Sync + 'a;

/// Runs `num_requests` requests over `concurrency` workers in `mode`, request
/// `i` using `inputs[i % inputs.len()]`. See [`run_requests`].
pub fn run_load(
    embedder: &dyn Embedder,
    inputs: &[TokenizedBatch],
    concurrency: usize,
    num_requests: u64,
    issued: &AtomicU64,
    mode: &Mode,
) -> LoopOutcome {
    assert!(!inputs.is_empty());
    let serve = |i: u64| embedder.embed(&inputs[(i % inputs.len() as u64) as usize]).map(drop);
    run_requests(&serve, concurrency, num_requests, issued, mode)
}

/// Runs `num_requests` requests over `concurrency` workers in `mode`. See [`run_for`].
pub fn run_requests(
    serve: &Serve,
    concurrency: usize,
    num_requests: u64,
    issued: &AtomicU64,
    mode: &Mode,
) -> LoopOutcome {
    run_for(serve, concurrency, num_requests, Duration::ZERO, issued, mode)
}

/// Runs requests over `concurrency` workers in `mode` until both `num_requests`
/// have been issued and `min_duration` has passed since the start (open loop:
/// the schedule is made long enough for both).
///
/// Requests are handed out in order through `issued` (which a progress display
/// may read). Worker 0 is the calling thread; the others are spawned. Each
/// worker keeps its own histogram; they are merged at the end. A panicking
/// request counts as a failed request instead of tearing the run down.
pub fn run_for(
    serve: &Serve,
    concurrency: usize,
    num_requests: u64,
    min_duration: Duration,
    issued: &AtomicU64,
    mode: &Mode,
) -> LoopOutcome {
    assert!(concurrency > 0);
    issued.store(0, Ordering::Relaxed);
    let (num_requests, until) = match mode {
        // The schedule itself must cover the duration; it then ends the run.
        Mode::OpenLoop { rate_qps, .. } => {
            (num_requests.max((rate_qps * min_duration.as_secs_f64()).ceil() as u64 + 1), Duration::ZERO)
        }
        _ => (num_requests, min_duration),
    };
    let due = schedule(mode, num_requests);
    let open = matches!(mode, Mode::OpenLoop { .. });
    let barrier = Barrier::new(concurrency);
    // Sleep natively to within 1 ms of a due time, then yield-spin: a native
    // wake-up on a busy box can be a millisecond late, which would count as latency.
    let sleeper = SpinSleeper::new(1_000_000).with_spin_strategy(SpinStrategy::YieldThread);
    // The schedule's origin is fixed before any worker is released, a little
    // ahead so that every worker is waiting when it comes.
    let origin = Instant::now() + Duration::from_millis(5) + Duration::from_micros(20 * concurrency as u64);
    let client = || {
        let mut hist = LatencyHistogram::new();
        let mut errors = BTreeMap::new();
        let mut late = LatencyHistogram::new();
        let mut timeline = Vec::with_capacity((num_requests as usize / concurrency).min(1 << 20));
        barrier.wait();
        let started = Instant::now();
        loop {
            let i = issued.fetch_add(1, Ordering::Relaxed);
            if i >= num_requests && (open || origin.elapsed() >= until) {
                break;
            }
            // Offline past the count: more work that was there from the start.
            let scheduled =
                due.as_deref().map(|d| origin + Duration::from_secs_f64(d.get(i as usize).copied().unwrap_or(0.0)));
            if let Some(at) = scheduled {
                if at > Instant::now() {
                    sleeper.sleep_until(at);
                    late.record(Instant::now().saturating_duration_since(at));
                }
            }
            let t0 = Instant::now();
            let result = catch_unwind(AssertUnwindSafe(|| serve(i)));
            let end = Instant::now();
            match result {
                Ok(Ok(_)) => {
                    let latency = end.saturating_duration_since(scheduled.unwrap_or(t0));
                    hist.record(latency);
                    let at = end.saturating_duration_since(origin).as_secs_f64() as f32;
                    timeline.push((at, (latency.as_secs_f64() * 1e3) as f32));
                }
                Ok(Err(e)) => *errors.entry(e.to_string()).or_insert(0) += 1,
                Err(panic) => *errors.entry(panic_message(panic.as_ref())).or_insert(0) += 1,
            }
        }
        (hist, errors, started, Instant::now(), timeline, late)
    };
    std::thread::scope(|s| {
        // Client 0 is this thread; in a direct cell, the one that loaded the model and
        // made the first request, so at concurrency 1 every request of the cell (first,
        // warm-up, measured, gate) comes from one thread. A backend with per-thread state
        // pays for each new calling thread: libgomp gives every thread that starts a
        // parallel region its own team, which lives as long as that thread, and once
        // the process holds more team threads than CPUs it stops spinning between
        // regions (libtorch at batch 1 lost 7 % to one request made elsewhere).
        let client = &client;
        let others: Vec<_> = (1..concurrency)
            .map(|w| {
                std::thread::Builder::new()
                    .name(format!("embench-worker-{w}"))
                    .spawn_scoped(s, client)
                    .expect("spawning a worker thread")
            })
            .collect();
        let mine = client();
        // Wall time uses the workers' own clocks: this thread may not run again until much later.
        let mut first_start: Option<Instant> = None;
        let mut last_end: Option<Instant> = None;
        let offered_rate = match (mode, due.as_deref()) {
            (Mode::OpenLoop { .. }, Some([.., last])) if *last > 0.0 => Some(super::rate(num_requests - 1, *last)),
            _ => None,
        };
        let mut outcome = LoopOutcome {
            histogram: LatencyHistogram::new(),
            errors: BTreeMap::new(),
            wall: Duration::ZERO,
            offered_rate,
            timeline: Vec::new(),
            lateness: LatencyHistogram::new(),
        };
        let rest = others.into_iter().map(|worker| worker.join().expect("workers catch panics"));
        for (hist, errors, start, end, timeline, late) in std::iter::once(mine).chain(rest) {
            outcome.timeline.extend(timeline);
            outcome.lateness.merge(&late);
            first_start = Some(first_start.map_or(start, |s| s.min(start)));
            last_end = Some(last_end.map_or(end, |e| e.max(end)));
            outcome.histogram.merge(&hist);
            for (msg, n) in errors {
                *outcome.errors.entry(msg).or_insert(0) += n;
            }
        }
        let start = if due.is_some() { Some(origin) } else { first_start };
        if let (Some(start), Some(end)) = (start, last_end) {
            outcome.wall = end.saturating_duration_since(start);
        }
        outcome
    })
}

/// The message of a caught panic.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let msg = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".into());
    format!("backend panicked: {msg}")
}
