//! Resource tiers and the settings they recommend, after the resource-management
//! study of the original design (`../shared/design/001_*`): a run on an unknown
//! box gets sensible defaults without hand-tuning.
//!
//! Every figure uses what this process may actually use: physical cores capped
//! by the container's CPU quota and affinity, RAM capped by its cgroup limit.

pub use embench_schema::manifest::{Recommendation, Tier};

use crate::machine::host::HostFacts;

/// VRAM from which a GPU counts as able to run embeddings (the study's 6 GB).
pub const GPU_MIN_VRAM_MB: u64 = 6 * 1024;

/// The tier of `host`.
pub fn classify(host: &HostFacts) -> Tier {
    let (cores, ram) = (host.effective_cores(), host.effective_ram_mb());
    if cores >= 8 && ram >= 16 * 1024 && capable_gpu(host).is_some() {
        Tier::High
    } else if cores >= 4 && ram >= 8 * 1024 {
        Tier::Medium
    } else {
        Tier::Low
    }
}

/// The GPU with the most free VRAM, when it has at least [`GPU_MIN_VRAM_MB`] in total.
fn capable_gpu(host: &HostFacts) -> Option<&crate::machine::host::GpuFacts> {
    host.gpus.iter().filter(|g| g.vram_total_mb >= GPU_MIN_VRAM_MB).max_by_key(|g| g.vram_free_mb)
}

/// The study's VRAM grading of a GPU batch size: under 4 GiB free an eighth of
/// `default` (at least 4), under 6 GiB a quarter (at least 8), under 8 GiB a half
/// (at least 16), else `default`.
pub fn safe_batch_size(default: usize, vram_free_mb: u64) -> usize {
    match vram_free_mb {
        v if v < 4 * 1024 => (default / 8).max(4),
        v if v < 6 * 1024 => (default / 4).max(8),
        v if v < 8 * 1024 => (default / 2).max(16),
        _ => default,
    }
}

/// The settings the study's rules give for `host`.
pub fn recommend(host: &HostFacts) -> Recommendation {
    let cores = host.effective_cores();
    let available = host.cgroup_memory_limit_mb.map_or(host.ram_available_mb, |l| l.min(host.ram_available_mb));
    let workers = (cores.saturating_sub(1).max(1)).min((available / 2048).max(1) as usize).min(8);
    let gpu = capable_gpu(host);
    let (batch_size, use_gpu) = match (gpu, host.gpus.is_empty()) {
        (Some(g), _) => (safe_batch_size(64, g.vram_free_mb), true),
        (None, false) => (32, false),
        (None, true) => (16, false),
    };
    let mut reasons = vec![
        format!(
            "{cores} usable physical cores ({} physical, {} CPUs allowed)",
            host.physical_cores.map_or("?".into(), |c| c.to_string()),
            host.usable_cpus.map_or("?".into(), |c| c.to_string())
        ),
        format!(
            "{} MiB RAM usable ({} MiB host{}), {available} MiB available",
            host.effective_ram_mb(),
            host.ram_total_mb,
            host.cgroup_memory_limit_mb.map(|l| format!(", cgroup limit {l} MiB")).unwrap_or_default()
        ),
    ];
    reasons.push(match (gpu, host.gpus.first()) {
        (Some(g), _) => format!("GPU {} with {} MiB VRAM ({} free)", g.name, g.vram_total_mb, g.vram_free_mb),
        (None, Some(g)) => {
            format!("GPU {} has {} MiB VRAM, under {GPU_MIN_VRAM_MB}: the CPU runs embeddings", g.name, g.vram_total_mb)
        }
        (None, None) => "no GPU".into(),
    });
    Recommendation { tier: classify(host), intra_op_threads: cores, workers, batch_size, use_gpu, reasons }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::host::GpuFacts;

    fn host(physical: usize, usable: usize, ram_gb: u64, limit_gb: Option<u64>, vram_gb: Option<u64>) -> HostFacts {
        HostFacts {
            hostname: "h".into(),
            cpu_model: "cpu".into(),
            arch: "x86_64".into(),
            physical_cores: Some(physical),
            logical_cpus: physical * 2,
            isa_flags: Vec::new(),
            ram_total_mb: ram_gb * 1024,
            ram_available_mb: ram_gb * 1024 * 3 / 4,
            os: "linux".into(),
            kernel: "6".into(),
            usable_cpus: Some(usable),
            cgroup_memory_limit_mb: limit_gb.map(|g| g * 1024),
            gpus: vram_gb
                .map(|v| vec![GpuFacts { name: "gpu".into(), vram_total_mb: v * 1024, vram_free_mb: v * 1024 / 2 }])
                .unwrap_or_default(),
        }
    }

    #[test]
    fn gpu_batches_shrink_with_free_vram_as_the_study_grades_them() {
        let gib = |g: u64| g * 1024;
        let table = [(gib(2), 8), (gib(4), 16), (gib(5), 16), (gib(6), 32), (gib(7), 32), (gib(8), 64), (gib(40), 64)];
        for (free, batch) in table {
            assert_eq!(safe_batch_size(64, free), batch, "{free} MiB free");
        }
        // The floors: a small default never drops under them.
        assert_eq!((safe_batch_size(16, gib(1)), safe_batch_size(16, gib(5)), safe_batch_size(16, gib(7))), (4, 8, 16));
    }

    #[test]
    fn tiers_follow_the_study_and_the_container_limits() {
        // (physical, usable CPUs, RAM GB, cgroup limit GB, VRAM GB) -> tier, threads, workers, batch, GPU
        let table = [
            (host(2, 2, 4, None, None), Tier::Low, 2, 1, 16, false),
            (host(4, 8, 8, None, None), Tier::Medium, 4, 3, 16, false),
            (host(16, 32, 64, None, Some(24)), Tier::High, 16, 8, 64, true),
            // A small GPU: not HIGH, the CPU runs embeddings.
            (host(16, 32, 64, None, Some(4)), Tier::Medium, 16, 8, 32, false),
            // The host has 16 cores and 64 GB, the container gets 2 CPUs and 4 GB.
            (host(16, 2, 64, Some(4), Some(24)), Tier::Low, 2, 1, 64, true),
            // 8 CPUs allowed but only 4 physical cores: threads stay at 4.
            (host(4, 8, 32, Some(12), None), Tier::Medium, 4, 3, 16, false),
            // A 12 GB GPU with 6 GB free: the batch halves.
            (host(16, 32, 64, None, Some(12)), Tier::High, 16, 8, 32, true),
        ];
        for (h, tier, threads, workers, batch, gpu) in table {
            let r = recommend(&h);
            assert_eq!(
                (r.tier, r.intra_op_threads, r.workers, r.batch_size, r.use_gpu),
                (tier, threads, workers, batch, gpu),
                "{h:?}: {r:?}"
            );
            assert_eq!(classify(&h), tier);
            assert_eq!(r.reasons.len(), 3);
        }
    }
}
