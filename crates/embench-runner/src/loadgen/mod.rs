//! The load generator: one worker loop for every mode (closed loop, open loop
//! with latency from the scheduled time, offline) and the open-loop arrival
//! schedules. Latencies go into per-client HdrHistograms merged at the end.

pub mod arrivals;
pub mod worker_loop;
