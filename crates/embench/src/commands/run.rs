//! `embench run`: every cell of a config, into a run directory.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context};
use embench_runner::execute::{execute, BackendFactory};
use embench_runner::host::HostFacts;
use embench_runner::manifest::Manifest;
use embench_runner::{ResultsWriter, RunPlan, SCHEMA_VERSION};

use crate::cli::RunArgs;
use crate::factory::Factory;
use crate::progress::Bars;
use crate::summary;

/// How the numbers are taken, written into every manifest.
const METHODOLOGY: &[&str] = &[
    "Each cell loads a fresh model instance; load time and RSS before/after are recorded.",
    "The first request is timed on its own (cold), then warmup_requests run unrecorded at the scenario's concurrency.",
    "After the measured phase the correctness gate embeds the model's probe set and compares it with the PyTorch reference (cosine >= 0.999 fp32, >= 0.99 reduced precision); it runs after, not before, so that the probes' other input shapes cannot re-specialise a runtime (TorchScript's profiling executor was measurably slower after them) before the cell's own traffic is measured.",
    "Closed loop: `concurrency` client threads issue requests back to back; inference runs on those dedicated threads.",
    "Open loop: requests are due on a fixed or seeded Poisson schedule at rate_qps whatever the system's speed; `concurrency` worker threads serve them and latency counts from each request's scheduled time (coordinated-omission correction); the achieved rate is qps, and a cell that falls 5 % short of the asked rate carries a warning.",
    "Offline: every request is available at once and `concurrency` workers drain them; latency includes the queueing and throughput is the figure that matters.",
    "Latency is measured per request from submit to result around the backend's embed call (forward pass, pooling, normalisation); inputs are tokenized beforehand and tokenization time is reported separately.",
    "Each client records into its own HdrHistogram (ns, 3 significant digits); histograms are merged at the end.",
    "QPS = successful requests / wall time of the measured phase; embeddings/s = QPS x batch size.",
    "Before each cell a pre-flight estimate of its memory (weights + twice one encoder layer's activations per request in flight) is compared with the memory available (or input_config.memory_budget_mb); a cell over 85 % of it is skipped and recorded with the reason, not attempted.",
    "Batch-size sweeps run one cell per batch size (a fresh model load each); with num_texts every size embeds about the same number of texts (at least 3 requests). The report marks the size with the highest embeddings/s and the smallest size within 5 % of it.",
    "Embedding cache: only cache scenarios use one. All other scenarios run with no cache anywhere in the request path, so repeated inputs (each cell cycles through at most 1024 distinct texts) cannot inflate their figures.",
    "Cache scenarios: per repeat ratio, one model load and four measured phases over the same request path: off (no cache, baseline), cold (empty LRU), hot (the cold requests replayed), warm (new requests from the same distribution, cache kept). Hit rate = texts served without the backend / texts requested; speedup = embeddings/s over the baseline's.",
    "Warm-up runs until both warmup_requests and warmup_duration_s are met; a measured phase runs until both num_requests and min_duration_s are met (open loop: its schedule is made long enough for both).",
    "Steady state: each measured phase is cut into equal-time windows (default 5); when the last three differ in throughput or p99 by more than the limits ((max - min) / mean; default 10 % and 25 %) the cell carries an 'unstable' warning with the figures. Windows with under 20 requests are not judged; p99s are compared only with at least 100 requests a window (fewer make the p99 a window's maximum), not for offline runs (their latency is queue drain), and not when they differ by under 0.05 ms.",
    "Repetitions (repeat: N): N measured phases after one load and warm-up; QPS and p99 get a mean and a 95 % confidence interval (Student's t), and a repetition whose modified z-score (median/MAD) exceeds 3.5 is flagged an outlier. Headline figures pool all repetitions' requests.",
    "Replicas x workers: with replicas, workers_per_model or dynamic_batching set, the cell loads that many model instances (threads shared out among them unless the backend sets threads; load time covers them all, the first request is timed on the first); clients put requests on the replicas' queues in turn, and each replica's workers take them; latency includes the queueing. 'auto' resolves from the physical cores and the resolved values are recorded; a warning says when replicas x workers x threads exceed the physical cores.",
    "Dynamic batching: a replica's worker takes the oldest queued request and waits up to max_wait_us from its arrival for others, up to max_batch_size texts, right-pads them to one length and runs them as one batch; the sizes of the batches formed are recorded.",
    "Latency-bounded throughput (max_qps_under_slo): the closed-loop capacity at the scenario's concurrency is measured, then open-loop probes at that rate and, when it misses the bound, bisection below it until the bracket is within the tolerance. A probe passes when its percentile is at or under the bound, it served 95 % of the offered rate and no request failed. The record's figures are those of the best passing probe.",
    "Open loop: the generator's own wake-up lateness (how late an idle worker started a due request) is recorded as dispatch_lateness_ms (p99, max); over 5 % of the p50 latency, the cell carries a warning that the box is too busy for open-loop timing.",
    "Cost: every cell reports USD per million requests and per million embeddings = hourly price / (throughput x 3600) x 1e6, at the price of the instance the config names (default AWS c7i.4xlarge on demand, $0.714/h), which need not be the machine measured.",
    "Model FLOPs per text (multiply-add = 2) are computed from the model's config.json: per layer 8·s·h² (Q, K, V, output projections) + 4·s·h·i (feed-forward) + 4·s²·h (attention scores and their product with V) at the cell's sequence length (natural lengths: the mean real length); embeddings, norms, softmax and pooling are left out. gflops_per_s = embeddings/s x that; mfu = gflops_per_s / the machine's matmul peak in the precision that ran (results/peak.json from `embench sysinfo --peak` on the same host: one 2048 x 2048 MatMul through OpenVINO, best of about 5 s).",
    "Memory per phase: RSS at the start and end of the load, warm-up and measured phases, and its peak sampled every 20 ms, are recorded (memory_phases); a phase peaking above input_config.memory_warn_mb (default 85 % of the memory budget) carries a warning.",
    "Degrade before failing: a cell on device cuda that fails out of memory is run again on the CPU with a quarter of the batch; its record carries fallback (from, to, the error) and a warning, and replaces the failure. Model loads happen one at a time (cells and replicas load in turn).",
    "Peak RSS is sampled every 20 ms and CPU utilisation is process CPU time / wall time, both over the measured phase.",
];

/// `embench run --config F [--out DIR]`.
pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let config = crate::commands::validate::load(&args.config)?;
    let mut plan = RunPlan::new(config);
    let host = HostFacts::probe();
    plan.peaks = embench_runner::peak::Peaks::load_for(std::path::Path::new(embench_runner::peak::PEAK_FILE), &host);
    if plan.peaks.is_none() {
        eprintln!(
            "embench: no matrix-multiply peak for this machine in {} (model-FLOPs utilisation left out; fix: make peak)",
            embench_runner::peak::PEAK_FILE
        );
    }
    let out = run_dir(args.out.as_deref(), &host.hostname)?;
    let factory = Factory;

    let mut manifest = Manifest {
        schema_version: SCHEMA_VERSION,
        embench_version: env!("CARGO_PKG_VERSION").into(),
        git_commit: env!("EMBENCH_GIT_COMMIT").into(),
        command: std::env::args().collect(),
        started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        finished_at: None,
        config_path: plan.config.config_path.display().to_string(),
        models_path: plan.config.models_path.display().to_string(),
        config: serde_json::to_value(&plan.config.benchmark)?,
        models: serde_json::to_value(&plan.config.models)?,
        recommendation: Some(embench_runner::tier::recommend(&host)),
        host,
        backends: factory.versions(),
        methodology: METHODOLOGY.iter().map(|s| s.to_string()).collect(),
    };
    manifest.write(&out).with_context(|| format!("writing {}/manifest.json", out.display()))?;
    let results_path = out.join("results.jsonl");
    let mut writer =
        ResultsWriter::open(&results_path).with_context(|| format!("opening {}", results_path.display()))?;
    eprintln!("embench: {} cells -> {}", plan.cells.len(), out.display());

    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nembench: Ctrl-C: finishing the current cell, then stopping (results so far are kept)");
                stop.store(true, Ordering::Relaxed);
            }
        })
    };
    // Inference never runs on the async reactor: the whole run is blocking work.
    let quiet = args.quiet;
    let (outcome, plan) = tokio::task::spawn_blocking(move || {
        let outcome = execute(&plan, &factory, &mut writer, &Bars::new(quiet), &stop);
        (outcome, plan)
    })
    .await?;
    watcher.abort();
    let outcome = outcome?;

    manifest.finished_at = Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    manifest.write(&out)?;

    println!("{}", summary::table(&outcome.records));
    println!("run directory: {}", out.display());
    let invalid: Vec<_> = outcome.records.iter().filter(|r| !r.valid && r.skipped.is_none()).collect();
    let skipped = outcome.records.iter().filter(|r| r.skipped.is_some()).count();
    if skipped > 0 {
        eprintln!("embench: {skipped} cells SKIPPED because they would not fit in memory (reasons in the table and results.jsonl)");
    }
    if outcome.skipped > 0 {
        eprintln!("embench: stopped early; {} of {} cells not run", outcome.skipped, plan.cells.len());
    }
    if !invalid.is_empty() {
        eprintln!(
            "embench: {} of {} cells are INVALID (see the table and results.jsonl)",
            invalid.len(),
            outcome.records.len()
        );
        return Ok(ExitCode::from(1));
    }
    Ok(if outcome.skipped > 0 { ExitCode::from(130) } else { ExitCode::SUCCESS })
}

/// Creates the run directory: `--out`, or `results/<UTC timestamp>-<host>/`. Never reuses a non-empty one.
fn run_dir(out: Option<&Path>, host: &str) -> anyhow::Result<PathBuf> {
    let dir = match out {
        Some(d) => d.to_path_buf(),
        None => {
            let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
            let host: String =
                host.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
            PathBuf::from("results").join(format!("{stamp}-{host}"))
        }
    };
    if dir.exists() && std::fs::read_dir(&dir)?.next().is_some() {
        bail!("{} already exists and is not empty (fix: choose another --out, or remove it)", dir.display());
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}
