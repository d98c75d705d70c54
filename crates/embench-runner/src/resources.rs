//! Resource use of this process (and of the helper processes its backend runs):
//! RSS and CPU time, sampled on a background thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// How often the sampler reads RSS.
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(20);

/// Memory the machine has available now, MiB (cgroup limits included, as sysinfo reads them).
pub fn available_memory_mb() -> f64 {
    let mut sys = System::new();
    sys.refresh_memory();
    let available = match sys.cgroup_limits() {
        Some(c) => sys.available_memory().min(c.free_memory),
        None => sys.available_memory(),
    };
    available as f64 / (1024.0 * 1024.0)
}

/// Reads this process's RSS and accumulated CPU time.
pub struct ProcessProbe {
    system: System,
    pid: Pid,
}

impl Default for ProcessProbe {
    fn default() -> Self {
        Self::new()
    }
}

impl ProcessProbe {
    /// A probe of the current process.
    pub fn new() -> Self {
        Self { system: System::new(), pid: Pid::from_u32(std::process::id()) }
    }

    /// (RSS in bytes, CPU time in milliseconds, all threads), with those of the
    /// helper processes a backend registered (its Python workers) added.
    pub fn read(&mut self) -> (u64, u64) {
        let kind = ProcessRefreshKind::nothing().with_memory().with_cpu();
        let mut pids = vec![self.pid];
        pids.extend(embench_core::children::registered().into_iter().map(Pid::from_u32));
        self.system.refresh_processes_specifics(ProcessesToUpdate::Some(&pids), true, kind);
        pids.iter()
            .filter_map(|pid| self.system.process(*pid))
            .fold((0, 0), |(rss, cpu), p| (rss + p.memory(), cpu + p.accumulated_cpu_time()))
    }

    /// RSS in MiB.
    pub fn rss_mb(&mut self) -> f64 {
        self.read().0 as f64 / (1024.0 * 1024.0)
    }
}

/// What a sampler saw between start and stop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResourceStats {
    /// RSS when sampling started, MiB.
    pub start_rss_mb: f64,
    /// RSS when it stopped, MiB.
    pub end_rss_mb: f64,
    /// Highest RSS seen (start and end included), MiB.
    pub peak_rss_mb: f64,
    /// CPU time over wall time, in percent of one core (200 = two cores busy).
    pub cpu_util_pct: f64,
    /// RSS samples taken.
    pub samples: u64,
}

/// Samples RSS every [`SAMPLE_INTERVAL`] until stopped.
pub struct ResourceSampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<(f64, u64)>,
    start_rss: u64,
    start_cpu_ms: u64,
    start: Instant,
}

impl ResourceSampler {
    /// Starts sampling.
    pub fn start() -> Self {
        let mut probe = ProcessProbe::new();
        let (start_rss, start_cpu_ms) = probe.read();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("embench-sampler".into())
            .spawn(move || {
                let (mut peak, mut n) = (0u64, 0u64);
                loop {
                    peak = peak.max(probe.read().0);
                    n += 1;
                    if flag.load(Ordering::Relaxed) {
                        break;
                    }
                    std::thread::sleep(SAMPLE_INTERVAL);
                }
                (peak as f64 / (1024.0 * 1024.0), n)
            })
            .expect("spawning the sampler thread");
        Self { stop, handle, start_rss, start_cpu_ms, start: Instant::now() }
    }

    /// Stops sampling and returns what it saw.
    pub fn stop(self) -> ResourceStats {
        let wall = self.start.elapsed();
        let (end_rss, end_cpu_ms) = ProcessProbe::new().read();
        self.stop.store(true, Ordering::Relaxed);
        let (sampled_peak_mb, samples) = self.handle.join().expect("sampler thread panicked");
        let cpu_ms = end_cpu_ms.saturating_sub(self.start_cpu_ms) as f64;
        let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
        ResourceStats {
            start_rss_mb: mb(self.start_rss),
            end_rss_mb: mb(end_rss),
            peak_rss_mb: sampled_peak_mb.max(mb(self.start_rss)).max(mb(end_rss)),
            cpu_util_pct: 100.0 * cpu_ms / (wall.as_secs_f64() * 1e3).max(1e-9),
            samples,
        }
    }
}
