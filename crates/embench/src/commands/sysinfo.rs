//! `embench sysinfo [--json]`: the machine as a run records it, its tier and
//! the settings it recommends.

use std::process::ExitCode;

use embench_runner::machine::host::HostFacts;
use embench_runner::machine::peak::{peak_file, PeakEntry, Peaks};
use embench_runner::machine::tier::recommend;

use crate::cli::SysinfoArgs;

/// Prints the probe; exit status 0.
pub fn sysinfo(args: &SysinfoArgs) -> anyhow::Result<ExitCode> {
    let host = embench_runner::machine::host::probe();
    let rec = recommend(&host);
    // Measured now, or this machine's stored ones (from wherever embench runs).
    let peaks =
        if args.peak { Some(measure_peaks(args, &host, rec.intra_op_threads)?) } else { Peaks::find(&host).ok() };
    if args.json {
        let body = serde_json::json!({ "host": host, "recommendation": rec, "peaks": peaks });
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
    for p in peaks.iter().flat_map(|p| &p.entries) {
        println!(
            "matmul peak:      {:.1} GFLOP/s best, {:.1} median ({} asked, {} ran; n={}, {} threads, {})",
            p.gflops, p.median_gflops, p.requested, p.precision, p.n, p.threads, p.library
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Times the MatMul model in fp32 and bf16 and stores the result in the peak file ([`peak_file`]).
#[cfg(feature = "openvino")]
fn measure_peaks(args: &SysinfoArgs, host: &HostFacts, threads: usize) -> anyhow::Result<Peaks> {
    use anyhow::Context;
    use embench_core::Precision;
    if !args.peak_model.is_file() {
        anyhow::bail!(
            "{} does not exist (fix: .venv/bin/python scripts/python/make_matmul.py, or `make peak`)",
            args.peak_model.display()
        );
    }
    let mut entries = Vec::new();
    // int8: the QDQ model beside the fp32 one, with what OpenVINO ran it in (make_matmul.py reads it back).
    let int8_model = args.peak_model.with_file_name(format!(
        "{}_int8.onnx",
        args.peak_model.file_stem().and_then(|s| s.to_str()).unwrap_or("matmul")
    ));
    let int8_ran = int8_runtime_precision(&int8_model);
    let mut runs =
        vec![(Precision::Fp32, args.peak_model.clone(), None), (Precision::Bf16, args.peak_model.clone(), None)];
    match &int8_ran {
        Ok(ran) => runs.push((Precision::Int8, int8_model.clone(), Some(ran.clone()))),
        Err(why) => eprintln!("embench: no int8 peak: {why}"),
    }
    for (requested, model, int8_ran) in runs {
        // The int8 model's precision is in the model (QDQ); the hint stays fp32 for its other ops.
        let hint = if requested == Precision::Int8 { Precision::Fp32 } else { requested };
        let p = embench_openvino::peak::matmul_peak(&model, hint, threads, args.peak_seconds)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        entries.push(PeakEntry {
            requested: requested.to_string(),
            precision: int8_ran.unwrap_or_else(|| p.precision.to_string()),
            gflops: p.gflops,
            median_gflops: p.median_gflops,
            n: p.n,
            threads: p.threads,
            library: format!(
                "OpenVINO {}",
                embench_openvino::runtime_library().map_or("?".into(), |l| l.display().to_string())
            ),
        });
    }
    let peaks = Peaks {
        hostname: host.hostname.clone(),
        cpu_model: host.cpu_model.clone(),
        measured_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        entries,
    };
    let path = peak_file();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&peaks)?).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("embench: matrix-multiply peaks stored in {}", path.display());
    Ok(peaks)
}

/// What OpenVINO ran the int8 model's MatMul in, from the sidecar make_matmul.py
/// wrote: `int8` when its runtime precision is u8/i8, else that precision.
#[cfg(feature = "openvino")]
fn int8_runtime_precision(model: &std::path::Path) -> Result<String, String> {
    let facts = model.with_extension("json");
    let text = std::fs::read_to_string(&facts).map_err(|e| {
        format!("{}: {e} (fix: .venv/bin/python scripts/python/make_matmul.py, or `make peak`)", facts.display())
    })?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", facts.display()))?;
    Ok(match v["runtime_precision"].as_str() {
        Some("u8" | "i8") => "int8".into(),
        Some("f32") => "fp32".into(),
        Some(other) => other.into(),
        None => "unknown".into(),
    })
}

#[cfg(not(feature = "openvino"))]
fn measure_peaks(_: &SysinfoArgs, _: &HostFacts, _: usize) -> anyhow::Result<Peaks> {
    anyhow::bail!("--peak times a MatMul through OpenVINO; this binary was built without it (fix: cargo build -p embench --features openvino)")
}
