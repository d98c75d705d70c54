//! Resource use of this process (and of the helper processes its backend runs):
//! RSS and CPU time per phase. The peak is the kernel's high-water mark, reset
//! when the phase starts, so nothing runs beside the measured work; where that
//! cannot be used, RSS is sampled on a background thread instead. With helper
//! processes (Python workers), pages they share (the interpreter, the framework's
//! libraries) are counted once: the shared overcount from PSS comes off the sum.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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

    /// (memory in bytes, CPU time in milliseconds, all threads), with those of the
    /// helper processes a backend registered (its Python workers) added. Memory is
    /// RSS for this process alone; with helpers, pages they share are counted once
    /// (RSS less the shared overcount, see [`shared_overcount`]).
    pub fn read(&mut self) -> (u64, u64) {
        let kind = ProcessRefreshKind::nothing().with_memory().with_cpu();
        let mut pids = vec![self.pid];
        pids.extend(embench_core::children::registered().into_iter().map(Pid::from_u32));
        self.system.refresh_processes_specifics(ProcessesToUpdate::Some(&pids), true, kind);
        let (rss, cpu) = pids
            .iter()
            .filter_map(|pid| self.system.process(*pid))
            .fold((0, 0), |(rss, cpu), p| (rss + p.memory(), cpu + p.accumulated_cpu_time()));
        let raw: Vec<u32> = pids.iter().map(|p| p.as_u32()).collect();
        (rss.saturating_sub(shared_overcount(&raw)), cpu)
    }

    /// RSS in MiB.
    pub fn rss_mb(&mut self) -> f64 {
        self.read().0 as f64 / (1024.0 * 1024.0)
    }
}

/// What a sampler saw between start and stop.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceStats {
    /// RSS when sampling started, MiB.
    pub start_rss_mb: f64,
    /// RSS when it stopped, MiB.
    pub end_rss_mb: f64,
    /// Highest RSS seen (start and end included), MiB.
    pub peak_rss_mb: f64,
    /// CPU time over wall time, in percent of one core (200 = two cores busy).
    pub cpu_util_pct: f64,
    /// CPU time (user + system) of the tracked processes over the phase, s.
    pub cpu_s: f64,
    /// RSS samples taken (0: the peak is the kernel's high-water mark, not sampled).
    pub samples: u64,
    /// With helper processes: each process's own high-water mark, MiB, this process
    /// first (their sum counts shared pages once per process; `peak_rss_mb` does not).
    pub process_peaks_mb: Vec<f64>,
    /// With helper processes: the shared pages their sum counts more than once, MiB.
    pub shared_overcount_mb: Option<f64>,
}

/// Samplers running now: the kernel's high-water mark is per process, so only a
/// sampler that runs alone may reset and read it.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// How a sampler finds the peak.
enum Peak {
    /// The kernel's own high-water mark (`VmHWM`), reset when the phase starts:
    /// exact, and nothing runs during the phase.
    HighWater(Vec<u32>),
    /// RSS read every [`SAMPLE_INTERVAL`] on a thread (where the mark cannot be
    /// reset, or another sampler is running).
    Sampled { stop: Arc<AtomicBool>, handle: JoinHandle<(f64, u64)> },
}

/// Peak RSS, start and end RSS, and CPU time of a phase.
pub struct ResourceSampler {
    peak: Peak,
    start_rss: u64,
    start_cpu_ms: u64,
    start: Instant,
}

/// This process and the helpers its backend registered.
fn tracked_pids() -> Vec<u32> {
    std::iter::once(std::process::id()).chain(embench_core::children::registered()).collect()
}

/// Resets the high-water mark of every tracked process (`/proc/PID/clear_refs`,
/// Linux 4.0+); false when any refuses.
fn reset_high_water(pids: &[u32]) -> bool {
    pids.iter().all(|pid| std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok())
}

/// Each tracked process's high-water mark, bytes (processes started since the
/// reset count from their start), this process first.
fn high_water(pids: &[u32]) -> Option<Vec<u64>> {
    let mut all = pids.to_vec();
    all.extend(embench_core::children::registered().into_iter().filter(|p| !pids.contains(p)));
    all.iter()
        .map(|&pid| {
            let status = procfs::process::Process::new(pid as i32).ok()?.status().ok()?;
            status.vmhwm.map(|kb| kb * 1024)
        })
        .collect()
}

/// Bytes that summing the RSS of several processes counts more than once: Σ (Rss −
/// Pss) over `pids`, from `/proc/PID/smaps_rollup` (Linux 4.14+). PSS charges each
/// resident page to the processes mapping it in equal shares, so Σ Pss counts every
/// page once (pages shared with processes outside `pids` are counted by their share).
/// Zero for a single process, whose RSS is the convention every other cell uses.
pub fn shared_overcount(pids: &[u32]) -> u64 {
    if pids.len() < 2 {
        return 0;
    }
    pids.iter()
        .filter_map(|&pid| {
            let rollup = procfs::process::Process::new(pid as i32).ok()?.smaps_rollup().ok()?;
            let map = &rollup.memory_map_rollup.0.first()?.extension.map;
            Some(map.get("Rss")?.saturating_sub(*map.get("Pss")?))
        })
        .sum()
}

impl ResourceSampler {
    /// Starts watching.
    pub fn start() -> Self {
        let mut probe = ProcessProbe::new();
        let (start_rss, start_cpu_ms) = probe.read();
        let alone = ACTIVE.fetch_add(1, Ordering::SeqCst) == 0;
        let pids = tracked_pids();
        let peak = if alone && reset_high_water(&pids) {
            Peak::HighWater(pids)
        } else {
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
            Peak::Sampled { stop, handle }
        };
        Self { peak, start_rss, start_cpu_ms, start: Instant::now() }
    }

    /// Stops watching and returns what it saw.
    pub fn stop(self) -> ResourceStats {
        let wall = self.start.elapsed();
        let (end_rss, end_cpu_ms) = ProcessProbe::new().read();
        let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
        let (peak_mb, samples, process_peaks_mb, shared_overcount_mb) = match self.peak {
            Peak::HighWater(pids) => {
                let marks = high_water(&pids).unwrap_or_default();
                let tracked = tracked_pids();
                // Several processes: each mark counts the pages they share; the overcount
                // at the phase's end (shared libraries and files, stable over a phase) comes off.
                let (overcount, per_process) = if marks.len() > 1 {
                    (shared_overcount(&tracked), marks.iter().map(|&b| mb(b)).collect())
                } else {
                    (0, Vec::new())
                };
                let shared = (marks.len() > 1).then(|| mb(overcount));
                (mb(marks.iter().sum::<u64>().saturating_sub(overcount)), 0, per_process, shared)
            }
            Peak::Sampled { stop, handle } => {
                stop.store(true, Ordering::Relaxed);
                let (peak, n) = handle.join().expect("sampler thread panicked");
                (peak, n, Vec::new(), None)
            }
        };
        ACTIVE.fetch_sub(1, Ordering::SeqCst);
        let cpu_ms = end_cpu_ms.saturating_sub(self.start_cpu_ms) as f64;
        ResourceStats {
            start_rss_mb: mb(self.start_rss),
            end_rss_mb: mb(end_rss),
            peak_rss_mb: peak_mb.max(mb(self.start_rss)).max(mb(end_rss)),
            cpu_util_pct: 100.0 * cpu_ms / (wall.as_secs_f64() * 1e3).max(1e-9),
            cpu_s: cpu_ms / 1e3,
            samples,
            process_peaks_mb,
            shared_overcount_mb,
        }
    }
}
