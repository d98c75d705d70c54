//! `embench run`: every cell of a config, into a run directory.

use embench_runner::run::plan::PlanFilter;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use embench_runner::run::execute::BackendFactory;
use embench_runner::run::isolate::{execute_isolated, Isolation, StopFlags};
use embench_runner::{execute_cells, CellRecord, ResultsWriter, RunPlan, SCHEMA_VERSION};
use embench_schema::manifest::Manifest;
use embench_schema::read_complete_cells;

use crate::cli::RunArgs;
use crate::commands::validate::auto_settings;
use crate::factory::Factory;
use crate::progress::{Bars, Display};
use crate::summary;
use embench_runner::machine::peak::Peaks;

/// How the numbers are taken, written into every manifest.
const METHODOLOGY: &[&str] = &[
    "Each cell loads a fresh model instance; load time and RSS before/after are recorded.",
    "The first request is timed on its own (cold), then warmup_requests run unrecorded at the scenario's concurrency.",
    "After the measured phase the correctness gate embeds the model's probe set at the cell's own shape (its batch size, probes tiled to fill every batch; its sequence length, padded and truncated exactly as the cell's inputs: at a fixed length N the 8 probes padded to N and 8 long texts truncated to N) and compares every row with the PyTorch reference made from the same texts at the same truncation (models/<key>/references/seq_N.json; reference.json at natural length; a missing one is made with the venv's python, else the natural-length probes run at the cell's batch size and the cell carries a warning saying so): cosine >= 0.999 fp32, >= 0.99 reduced precision, and a NaN cosine fails. It runs after, not before, so that the probes' other input shapes cannot re-specialise a runtime (TorchScript's profiling executor was measurably slower after them) before the cell's own traffic is measured.",
    "Finite outputs: every vector a backend returns (first request, warm-up, measured phase, gate) is checked for NaN and infinity (one pass over the exponent bits of each value); a cell with any is invalid, its reason naming the phase and the count (non_finite_vectors records the measured phase's). A panic inside a backend's embed becomes that request's error.",
    "Closed loop: `concurrency` client threads issue requests back to back; inference runs on those dedicated threads.",
    "Calling threads: each cell runs on a fresh thread, which loads the model and is client 0, so at concurrency 1 the first request, warm-up, measured requests and gate all come from one thread and no thread state outlives its cell; a served cell (replicas) makes its first request and gate on short-lived threads. libgomp (libtorch's OpenMP) keeps a team of threads per calling thread and stops spinning between parallel regions once team threads outnumber CPUs: tch at batch 1 on 2 cores lost 7 % to one earlier request made from another thread.",
    "ort and openvino lend each request one of a pool of sessions / infer requests; callers waiting for one are served in arrival order (a returned item goes to the longest waiter), so tail latency at concurrency above the pool size is queueing, not lock starvation (ort, 4 clients on one session: slowest request 768 ms with a plain mutex, 88 ms in order).",
    "Open loop: requests are due on a fixed or seeded Poisson schedule at rate_qps whatever the system's speed; `concurrency` worker threads serve them and latency counts from each request's scheduled time (coordinated-omission correction); the achieved rate is qps, and a cell that falls 5 % short of the asked rate carries a warning.",
    "Offline: every request is available at once and `concurrency` workers drain them; latency includes the queueing and throughput is the figure that matters.",
    "Latency is measured per request from submit to result around the backend's embed call (forward pass, pooling, normalisation); inputs are tokenized beforehand and tokenization time is reported separately.",
    "Each client records into its own HdrHistogram (ns, 3 significant digits); histograms are merged at the end.",
    "Percentiles carry their sample count: a percentile q is shown as a figure only when at least 10 requests lie above it, n >= 10 / (1 - q) (p50 20, p95 200, p99 1000, p99.9 10 000 requests); below that the record keeps the value and lists it in latency_ms.below_sample_floor, and tables show '—'. The latency-bounded throughput search sizes every probe so its percentile has enough requests.",
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
    "Memory per phase: RSS at the start and end of the load, warm-up and measured phases, and its peak (the kernel's high-water mark VmHWM, reset when the phase starts), are recorded (memory_phases); a phase peaking above input_config.memory_warn_mb (default 85 % of the memory budget) carries a warning.",
    "Degrade before failing: a cell on device cuda that fails out of memory is run again on the CPU with a quarter of the batch; its record carries fallback (from, to, the error) and a warning, and replaces the failure. Model loads happen one at a time (cells in turn; a cell's replicas in turn too unless input_config.max_concurrent_loads allows more at once).",
    "Peak RSS is the kernel's high-water mark (VmHWM, reset through /proc/self/clear_refs when the phase starts, so no sampler runs beside the measured work; sampled every 20 ms where the kernel refuses the reset) and CPU utilisation is process CPU time / wall time, both over the measured phase; the Python baselines' worker processes are counted with the process that drives them, with the pages they share counted once: the sum of the processes' high-water marks less their shared overcount, sum(Rss - Pss) from /proc/PID/smaps_rollup at the phase's end (PSS charges a page shared by k processes 1/k to each, so pages shared with processes outside the backend, such as libc, also count by their share: the figure is a little under a plain RSS sum of private pages); each process's own mark stays in memory_phases.",
    "Oversubscription: for clients calling a backend directly, the threads it runs at once (ort: sessions in use x intra-op threads; openvino: streams in use, at least one thread each, sharing its threads; tch: one libgomp team per calling thread; python-*: worker processes in use x threads; candle: one shared pool) are compared with the usable cores, and a cell over them carries a warning naming the product (also printed by validate and at the start of a run).",
    "auto settings: batch_size: auto and device: auto resolve from the machine's resource tier (embench sysinfo; the recommendation is in the manifest), fixed when the run starts so its worker processes and a later --resume resolve alike; unset threads resolve to the usable physical cores. Each record lists what resolved to what, and why (auto_resolved).",
    "Allocator: embench's processes set glibc's mmap threshold to 32 MiB and its trim threshold to 128 MiB at start, so a model's activations are reused from the heap rather than mapped, faulted in and unmapped on every request (libtorch at batch 1: 37-39 requests/s with glibc's defaults in a Rust process, 43.7 with these); the Python baselines' worker processes keep glibc's defaults.",
    "Process isolation: each model x backend group of cells runs in its own worker process (the embench binary in worker mode), so peak RSS is that framework's alone and a crash, abort or hang loses only the cell it happened in: the record says how the worker ended (exit status or signal, the tail of its stderr), and a fresh worker runs the group's remaining cells. A cell running longer than input_config.cell_timeout_s (default 1800 s) has its worker killed and is recorded as timed out.",
    "Python baselines (python-ort, python-torch eager or TorchScript, python-openvino): the framework's Python API in worker processes of the venv's python; embench sends each request's token ids over a pipe and times the round trip like any backend's embed call, so a request's latency includes building the framework's tensors, the forward pass and pooling in Python. python-echo answers at once and measures the pipe protocol's own cost.",
];

/// A run about to execute: where it writes, what it runs, what it already has.
struct Prepared {
    out: PathBuf,
    plan: RunPlan,
    manifest: Manifest,
    /// Plan cells still to run.
    selection: Vec<usize>,
    /// Records already on disk (resume).
    earlier: Vec<CellRecord>,
}

/// `embench run --config F [--out DIR]`, or `embench run --resume DIR`.
pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let Prepared { out, plan, mut manifest, selection, earlier } = match &args.resume {
        Some(dir) => resume(dir, args.config.as_deref())?,
        None => match start(&args)? {
            Some(prepared) => prepared,
            None => return Ok(ExitCode::SUCCESS),
        },
    };
    let ran_nothing = selection.is_empty();
    let results_path = out.join("results.jsonl");
    let mut writer =
        ResultsWriter::open(&results_path).with_context(|| format!("opening {}", results_path.display()))?;
    if !args.quiet {
        if plan.peaks.is_none() {
            let why = Peaks::find(&manifest.host).err().unwrap_or_default();
            eprintln!("embench: model-FLOPs utilisation left out: {why}");
        }
        eprintln!("embench: {} of {} cells to run -> {}", selection.len(), plan.cells.len(), out.display());
        for w in crate::commands::validate::warnings(&plan.config) {
            eprintln!("embench: warning: {w}");
        }
    }

    let flags = Arc::new(StopFlags::default());
    let resume_hint = format!("embench run --resume {}", out.display());
    let watcher = {
        let (flags, hint, in_process) = (flags.clone(), resume_hint.clone(), args.in_process);
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                if flags.stop.swap(true, Ordering::Relaxed) {
                    if in_process {
                        // The cell runs on this process's own threads: only leaving stops it. Every
                        // record written is on disk (fsynced), and resume drops a torn last line.
                        eprintln!("\nembench: Ctrl-C again: exiting now, the current cell is not recorded (results so far are kept; `{hint}` runs the rest)");
                        std::process::exit(130);
                    }
                    eprintln!("\nembench: Ctrl-C again: abandoning the current cell (results so far are kept; `{hint}` runs the rest)");
                    flags.abandon.store(true, Ordering::Relaxed);
                    return;
                }
                eprintln!("\nembench: Ctrl-C: finishing the current cell, then stopping (results so far are kept; Ctrl-C again abandons the cell)");
            }
        })
    };
    // Inference never runs on the async reactor: the whole run is blocking work.
    let (quiet, in_process) = (args.quiet, args.in_process);
    let exe = std::env::current_exe().context("finding this executable to start worker processes")?;
    let (outcome, plan) = tokio::task::spawn_blocking(move || {
        let bars = Bars::new(Display::choose(quiet), selection.len());
        let outcome = if in_process {
            execute_cells(&plan, &selection, &Factory, &mut writer, &bars, &flags.stop)
        } else {
            let command = |cells: &[usize]| worker_command(&exe, &plan, cells);
            let iso =
                Isolation { command: &command, cell_timeout: Duration::from_secs_f64(plan.config.cell_timeout_s) };
            execute_isolated(&plan, &selection, &iso, &mut writer, &bars, &flags)
        };
        (outcome, plan)
    })
    .await?;
    watcher.abort();
    let outcome = outcome?;

    if !ran_nothing {
        manifest.finished_at =
            (outcome.skipped == 0).then(|| chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        manifest.write(&out)?;
    }

    let records: Vec<CellRecord> = earlier.into_iter().chain(outcome.records).collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&records)?);
        eprintln!("run directory: {}", out.display());
    } else {
        println!("{}", summary::table(&records, args.wide));
        println!("run directory: {}", out.display());
        println!("next: embench report {}", out.display());
    }
    let invalid: Vec<_> = records.iter().filter(|r| !r.valid && r.skipped.is_none()).collect();
    let skipped = records.iter().filter(|r| r.skipped.is_some()).count();
    let crashed = records.iter().filter(|r| r.worker_failure.is_some()).count();
    if skipped > 0 {
        eprintln!("embench: {skipped} cells SKIPPED because they would not fit in memory (reasons in the table and results.jsonl)");
    }
    if crashed > 0 {
        eprintln!("embench: {crashed} cells LOST to a crashed or timed-out worker process (exit status and stderr in results.jsonl)");
    }
    if outcome.skipped > 0 {
        eprintln!(
            "embench: stopped early; {} of {} cells not run (to run them: {resume_hint})",
            outcome.skipped,
            plan.cells.len()
        );
    }
    if !invalid.is_empty() {
        eprintln!(
            "embench: {} of {} cells are INVALID (see the table and results.jsonl)",
            invalid.len(),
            records.len()
        );
        return Ok(ExitCode::from(1));
    }
    Ok(if outcome.skipped > 0 { ExitCode::from(130) } else { ExitCode::SUCCESS })
}

/// The worker process for `cells` of `plan`.
fn worker_command(exe: &Path, plan: &RunPlan, cells: &[usize]) -> Command {
    let list: Vec<String> = cells.iter().map(|c| c.to_string()).collect();
    let mut cmd = Command::new(exe);
    cmd.arg("worker").arg("--config").arg(&plan.config.config_path);
    cmd.arg("--auto").arg(serde_json::to_string(&plan.config.auto).expect("plain data"));
    cmd.args(["--plan-cells", &plan.cells.len().to_string(), "--cells", &list.join(",")]);
    cmd
}

/// A new run: a fresh run directory and manifest, every chosen cell to run (None: `--dry-run`).
fn start(args: &RunArgs) -> anyhow::Result<Option<Prepared>> {
    let config_path = args.config.as_deref().context("--config is required (or --resume DIR)")?;
    // Absolute in the manifest, so that `--resume` works from any directory.
    let config_path = &std::fs::canonicalize(config_path).unwrap_or_else(|_| config_path.to_path_buf());
    let host = embench_runner::machine::host::probe();
    let recommendation = embench_runner::machine::tier::recommend(&host);
    let config = crate::commands::validate::load_with(config_path, &auto_settings(&recommendation))?;
    let mut plan = RunPlan::new(config);
    plan.peaks = Peaks::find(&host).ok();
    let filter = args.filter();
    filter.check(&plan).map_err(|e| anyhow::anyhow!("{e}"))?;
    let selection: Vec<usize> = (0..plan.cells.len()).filter(|&c| filter.selects(&plan, &plan.cells[c])).collect();
    anyhow::ensure!(
        !selection.is_empty(),
        "--model, --backend and --scenario together choose no cell (fix: widen them)"
    );
    if args.dry_run {
        crate::commands::validate::print_cells(&plan, &selection);
        return Ok(None);
    }
    let out = run_dir(args.out.as_deref(), &host.hostname)?;
    let manifest = Manifest {
        schema_version: SCHEMA_VERSION,
        embench_version: env!("CARGO_PKG_VERSION").into(),
        git_commit: env!("EMBENCH_GIT_COMMIT").into(),
        command: std::env::args().collect(),
        started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        finished_at: None,
        resumed_at: Vec::new(),
        config_path: plan.config.config_path.display().to_string(),
        models_path: plan.config.models_path.display().to_string(),
        config: serde_json::to_value(&plan.config.benchmark)?,
        models: serde_json::to_value(&plan.config.models)?,
        recommendation: Some(recommendation),
        host,
        backends: Factory.versions(),
        methodology: METHODOLOGY.iter().map(|s| s.to_string()).collect(),
        filter,
    };
    manifest.write(&out).with_context(|| format!("writing {}/manifest.json", out.display()))?;
    Ok(Some(Prepared { out, plan, manifest, selection, earlier: Vec::new() }))
}

/// An interrupted run picked up again: the same config on the same machine, only
/// the cells without a complete result.
fn resume(dir: &Path, config: Option<&Path>) -> anyhow::Result<Prepared> {
    let mut manifest = Manifest::read(dir)
        .map_err(|e| anyhow::anyhow!("{e} (fix: --resume takes a run directory that embench run created)"))?;
    let config_path = config.map_or_else(|| PathBuf::from(&manifest.config_path), Path::to_path_buf);
    // `auto` resolves as it did when the run started, whatever is free now.
    let auto = manifest.recommendation.as_ref().map(auto_settings).unwrap_or_default();
    let loaded = crate::commands::validate::load_with(&config_path, &auto)?;
    let mut changes = Vec::new();
    json_diff("config", &manifest.config, &serde_json::to_value(&loaded.benchmark)?, &mut changes);
    json_diff("models", &manifest.models, &serde_json::to_value(&loaded.models)?, &mut changes);
    if !changes.is_empty() {
        bail!(
            "{} differs from the config {} was started with, so resuming would mix two benchmarks:\n  {}\n(fix: restore the config, or start a new run)",
            config_path.display(),
            dir.display(),
            changes.join("\n  ")
        );
    }
    let host = embench_runner::machine::host::probe();
    if (host.hostname.as_str(), host.cpu_model.as_str())
        != (manifest.host.hostname.as_str(), manifest.host.cpu_model.as_str())
    {
        bail!(
            "{} was measured on {} ({}); this is {} ({}), and one run must not mix machines (fix: resume it there, or start a new run)",
            dir.display(), manifest.host.hostname, manifest.host.cpu_model, host.hostname, host.cpu_model
        );
    }
    let results = dir.join("results.jsonl");
    let (earlier, dropped) =
        if results.exists() { read_complete_cells(&results).map_err(|e| anyhow::anyhow!(e))? } else { (Vec::new(), 0) };
    if earlier.iter().any(|r| r.cell.is_none()) {
        bail!("{} was written by an embench without --resume support (its records do not name their cells; fix: start a new run)", results.display());
    }
    if dropped > 0 {
        rewrite_results(&results, &earlier)?;
        eprintln!("embench: dropped {dropped} records of cells that were cut short; those cells run again");
    }
    let done: BTreeSet<usize> = earlier.iter().filter_map(|r| r.cell).collect();
    let mut plan = RunPlan::new(loaded);
    plan.peaks = Peaks::find(&host).ok();
    let filter = &manifest.filter;
    let selection: Vec<usize> =
        (0..plan.cells.len()).filter(|&c| !done.contains(&c) && filter.selects(&plan, &plan.cells[c])).collect();
    eprintln!("embench: resuming {}: {} cells done, {} to run", dir.display(), done.len(), selection.len());
    // A finished run stays as it was: resuming it only prints its summary.
    if !selection.is_empty() {
        manifest.resumed_at.push(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        manifest.finished_at = None;
        manifest.write(dir)?;
    }
    Ok(Prepared { out: dir.to_path_buf(), plan, manifest, selection, earlier })
}

/// Replaces the results file with `records`, through a temporary file and a rename.
fn rewrite_results(path: &Path, records: &[CellRecord]) -> anyhow::Result<()> {
    let tmp = path.with_extension("jsonl.tmp");
    {
        let mut w = ResultsWriter::open(&tmp)?;
        for r in records {
            w.append(r)?;
        }
    }
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
}

/// Every leaf where `before` and `now` differ, as `path: before -> now`.
fn json_diff(path: &str, before: &serde_json::Value, now: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    match (before, now) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let (x, y) = (a.get(k).unwrap_or(&Value::Null), b.get(k).unwrap_or(&Value::Null));
                json_diff(&format!("{path}.{k}"), x, y, out);
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                json_diff(&format!("{path}[{i}]"), x, y, out);
            }
        }
        (a, b) if a != b => out.push(format!("{path}: {a} -> {b}")),
        _ => {}
    }
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
    if dir.is_file() {
        bail!("--out {} is a file; a run writes a directory (fix: name a new directory)", dir.display());
    }
    if dir.join("manifest.json").is_file() {
        bail!(
            "{} is an earlier run (fix: `embench run --resume {}` to finish it, or another --out for a new one)",
            dir.display(),
            dir.display()
        );
    }
    if dir.exists() && std::fs::read_dir(&dir)?.next().is_some() {
        bail!("{} already exists and is not empty (fix: choose another --out, or remove it)", dir.display());
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}
