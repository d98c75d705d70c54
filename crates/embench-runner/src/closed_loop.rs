//! Closed-loop load: `concurrency` clients on dedicated threads, each issuing
//! its next request as soon as the previous one returns.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use embench_core::{Embedder, TokenizedBatch};

use crate::histogram::LatencyHistogram;

/// What the measured phase produced.
#[derive(Debug)]
pub struct LoopOutcome {
    /// Latencies of the successful requests, all clients merged.
    pub histogram: LatencyHistogram,
    /// Failed requests by message.
    pub errors: BTreeMap<String, u64>,
    /// From the moment all clients were released to the last one finishing.
    pub wall: Duration,
}

/// Runs `num_requests` requests over `concurrency` clients.
///
/// Requests are handed out through `issued` (which a progress display may
/// read); request `i` uses `inputs[i % inputs.len()]`. Each client keeps its own
/// histogram; they are merged at the end. A panicking backend call counts as a
/// failed request instead of tearing the run down.
pub fn run_closed_loop(
    embedder: &dyn Embedder,
    inputs: &[TokenizedBatch],
    concurrency: usize,
    num_requests: u64,
    issued: &AtomicU64,
) -> LoopOutcome {
    assert!(!inputs.is_empty() && concurrency > 0);
    issued.store(0, Ordering::Relaxed);
    let barrier = Barrier::new(concurrency + 1);
    std::thread::scope(|s| {
        let clients: Vec<_> = (0..concurrency)
            .map(|c| {
                let barrier = &barrier;
                std::thread::Builder::new()
                    .name(format!("embench-client-{c}"))
                    .spawn_scoped(s, move || {
                        let mut hist = LatencyHistogram::new();
                        let mut errors = BTreeMap::new();
                        barrier.wait();
                        let started = Instant::now();
                        loop {
                            let i = issued.fetch_add(1, Ordering::Relaxed);
                            if i >= num_requests {
                                break;
                            }
                            let input = &inputs[(i % inputs.len() as u64) as usize];
                            let t0 = Instant::now();
                            let result = catch_unwind(AssertUnwindSafe(|| embedder.embed(input)));
                            let dt = t0.elapsed();
                            match result {
                                Ok(Ok(_)) => hist.record(dt),
                                Ok(Err(e)) => *errors.entry(e.to_string()).or_insert(0) += 1,
                                Err(panic) => *errors.entry(panic_message(panic.as_ref())).or_insert(0) += 1,
                            }
                        }
                        (hist, errors, started, Instant::now())
                    })
                    .expect("spawning a client thread")
            })
            .collect();
        barrier.wait();
        // Wall time runs from the first client's start to the last one's end, as
        // the clients saw them: this thread may not be scheduled again until much later.
        let mut first_start: Option<Instant> = None;
        let mut last_end: Option<Instant> = None;
        let mut outcome =
            LoopOutcome { histogram: LatencyHistogram::new(), errors: BTreeMap::new(), wall: Duration::ZERO };
        for client in clients {
            let (hist, errors, start, end) = client.join().expect("client threads catch panics");
            first_start = Some(first_start.map_or(start, |s| s.min(start)));
            last_end = Some(last_end.map_or(end, |e| e.max(end)));
            outcome.histogram.merge(&hist);
            for (msg, n) in errors {
                *outcome.errors.entry(msg).or_insert(0) += n;
            }
        }
        if let (Some(start), Some(end)) = (first_start, last_end) {
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
