//! Facts about the machine a run happened on.

pub use embench_schema::manifest::{GpuFacts, HostFacts};
use sysinfo::System;

/// Probes this machine.
pub fn probe() -> HostFacts {
    let mut sys = System::new();
    sys.refresh_memory();
    let limit = sys.cgroup_limits().map(|c| c.total_memory).filter(|&l| l > 0 && l < sys.total_memory());
    sys.refresh_cpu_list(sysinfo::CpuRefreshKind::nothing());
    let mb = |b: u64| b / (1024 * 1024);
    HostFacts {
        hostname: System::host_name().unwrap_or_else(|| "unknown".into()),
        cpu_model: sys.cpus().first().map(|c| c.brand().trim().to_string()).unwrap_or_default(),
        arch: System::cpu_arch(),
        physical_cores: System::physical_core_count(),
        logical_cpus: sys.cpus().len(),
        isa_flags: isa_flags(),
        ram_total_mb: mb(sys.total_memory()),
        ram_available_mb: mb(sys.available_memory()),
        os: System::long_os_version().unwrap_or_else(|| std::env::consts::OS.into()),
        kernel: System::kernel_version().unwrap_or_default(),
        usable_cpus: std::thread::available_parallelism().ok().map(|n| n.get()),
        cgroup_memory_limit_mb: limit.map(mb),
        gpus: gpus(),
    }
}

/// GPUs through NVML, which is loaded at run time: no driver, no GPUs, no error.
fn gpus() -> Vec<GpuFacts> {
    let Ok(nvml) = nvml_wrapper::Nvml::init() else { return Vec::new() };
    let count = nvml.device_count().unwrap_or(0);
    (0..count)
        .filter_map(|i| {
            let d = nvml.device_by_index(i).ok()?;
            let mem = d.memory_info().ok()?;
            Some(GpuFacts {
                name: d.name().unwrap_or_else(|_| format!("GPU {i}")),
                vram_total_mb: mem.total / (1024 * 1024),
                vram_free_mb: mem.free / (1024 * 1024),
            })
        })
        .collect()
}

/// The inference-relevant ISA extensions this CPU has.
pub fn isa_flags() -> Vec<String> {
    let mut flags: Vec<&str> = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! detect {
            ($($f:tt),*) => { $( if std::arch::is_x86_feature_detected!($f) { flags.push($f); } )* };
        }
        detect!("avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vnni", "avx512bf16", "avx512fp16", "avxvnni");
        // NOTE: AMX detection is unstable in std (x86_amx_intrinsics); the kernel's
        // flags also say whether the OS enabled AMX state, which is what matters.
        if let Ok(cpuinfo) = std::fs::read_to_string("/proc/cpuinfo") {
            let line = cpuinfo.lines().find(|l| l.starts_with("flags")).unwrap_or_default();
            for (kernel, ours) in [("amx_tile", "amx-tile"), ("amx_bf16", "amx-bf16"), ("amx_int8", "amx-int8")] {
                if line.split_whitespace().any(|f| f == kernel) {
                    flags.push(ours);
                }
            }
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        macro_rules! detect {
            ($($f:tt),*) => { $( if std::arch::is_aarch64_feature_detected!($f) { flags.push($f); } )* };
        }
        detect!("neon", "sve", "sve2", "bf16", "i8mm", "dotprod", "fp16");
    }
    flags.into_iter().map(str::to_string).collect()
}

/// Physical cores this process can use: the physical count (logical when
/// unknown), capped by the CPUs that affinity and the container's cgroup quota allow.
pub fn effective_cores() -> usize {
    let usable = std::thread::available_parallelism().map_or(1, |n| n.get());
    System::physical_core_count().map_or(usable, |p| p.min(usable)).max(1)
}
