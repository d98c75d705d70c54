//! The load generator: one worker loop for every mode (closed loop, open loop
//! with latency from the scheduled time, offline) and the open-loop arrival
//! schedules. Latencies go into per-client HdrHistograms merged at the end.

pub mod arrivals;
pub mod worker_loop;

/// Events per second over `seconds`, guarded against a zero span: the one QPS and
/// throughput formula (requests/s = successful requests / wall time; a window's,
/// a repetition's and a probe's rates all come from it).
pub fn rate(count: u64, seconds: f64) -> f64 {
    count as f64 / seconds.max(1e-12)
}
