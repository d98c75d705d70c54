//! `embench sysinfo [--json]`: the machine as a run records it, its tier and
//! the settings it recommends.

use std::process::ExitCode;

use embench_runner::host::HostFacts;
use embench_runner::tier::recommend;

use crate::cli::SysinfoArgs;

/// Prints the probe; exit status 0.
pub fn sysinfo(args: &SysinfoArgs) -> anyhow::Result<ExitCode> {
    let host = HostFacts::probe();
    let rec = recommend(&host);
    if args.json {
        let body = serde_json::json!({ "host": host, "recommendation": rec });
        println!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(ExitCode::SUCCESS);
    }
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    println!("host:             {}", host.hostname);
    println!("cpu:              {} ({})", host.cpu_model, host.arch);
    println!(
        "cores:            {} physical, {} logical, {} usable (affinity and cgroup quota)",
        opt(host.physical_cores.map(|c| c.to_string())),
        host.logical_cpus,
        opt(host.usable_cpus.map(|c| c.to_string()))
    );
    println!("isa:              {}", if host.isa_flags.is_empty() { "-".into() } else { host.isa_flags.join(" ") });
    println!(
        "ram:              {} MiB total, {} MiB available, cgroup limit {}",
        host.ram_total_mb,
        host.ram_available_mb,
        opt(host.cgroup_memory_limit_mb.map(|l| format!("{l} MiB")))
    );
    if host.gpus.is_empty() {
        println!("gpus:             none (no NVIDIA driver through NVML)");
    }
    for g in &host.gpus {
        println!("gpu:              {} ({} MiB VRAM, {} MiB free)", g.name, g.vram_total_mb, g.vram_free_mb);
    }
    println!("os:               {} (kernel {})", host.os, host.kernel);
    println!();
    println!("tier:             {}", format!("{:?}", rec.tier).to_uppercase());
    println!("intra-op threads: {}", rec.intra_op_threads);
    println!("workers:          {}", rec.workers);
    println!("batch size:       {}", rec.batch_size);
    println!("use the GPU:      {}", if rec.use_gpu { "yes" } else { "no" });
    for r in &rec.reasons {
        println!("  because {r}");
    }
    Ok(ExitCode::SUCCESS)
}
