//! `embench run`: every cell of a config, into a run directory.

use embench_runner::run::plan::PlanFilter;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use embench_core::BackendCatalog;
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
        if let Some(line) = crate::commands::validate::every_framework_line(&plan.config) {
            eprintln!("embench: {line}");
        }
    }
    // Cells the config skips are said even with --quiet: they are results missing.
    for line in crate::commands::validate::skip_lines(&plan, &selection) {
        eprintln!("embench: {line}");
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
        eprintln!(
            "embench: {skipped} of {} cells SKIPPED, not measured (each reason in the table and results.jsonl)",
            records.len()
        );
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
    if outcome.skipped == 0 && !records.is_empty() && skipped == records.len() {
        eprintln!("embench: nothing was measured: every cell was SKIPPED (the reasons above say what to do)");
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
    let auto = auto_settings(&recommendation);
    let mut config = crate::commands::validate::load_with(config_path, &auto)?;
    if args.fetch && crate::commands::fetch::fetch_missing(&config, &args.models) {
        config = crate::commands::validate::load_with(config_path, &auto)?;
    }
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
        for line in crate::commands::validate::skip_lines(&plan, &selection) {
            println!("{line}");
        }
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
        methodology: embench_runner::METHODOLOGY.iter().map(|s| s.to_string()).collect(),
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
    let now = serde_json::to_value(&loaded.benchmark)?;
    json_diff("config", &canonical(&manifest.config), &canonical(&now), &mut changes);
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

/// Every leaf where `before` and `now` differ, as `path: before -> now`. A key that
/// `before` lacks is a fact a newer embench resolves (e.g. a model's architecture),
/// not a change of config: it is not a difference, so a run resumes across an upgrade.
fn json_diff(path: &str, before: &serde_json::Value, now: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    match (before, now) {
        (Value::Object(a), Value::Object(b)) => {
            // A key the older manifest lacks is a key a newer embench added, not a change;
            // except in a backend entry, where every key is one the config wrote.
            let written = path.starts_with("config.backends[");
            let keys: BTreeSet<&String> = a.keys().chain(b.keys().filter(|k| written || a.contains_key(*k))).collect();
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

/// The config echo with each backend entry in one form: flat settings moved into
/// their block (`sessions: 2` is `ort: {sessions: 2}`) and absent keys left out (an
/// older manifest listed every key, null when unset), so rewriting a config from the
/// flat form to the block form, as the warning asks, is no change.
fn canonical(config: &serde_json::Value) -> serde_json::Value {
    let blocks = BackendCatalog::blocks(&crate::factory::Catalog { check_runtimes: false });
    let mut config = config.clone();
    let entries = config.get_mut("backends").and_then(|b| b.as_array_mut()).into_iter().flatten();
    for entry in entries.filter_map(|e| e.as_object_mut()) {
        entry.retain(|_, v| !v.is_null());
        let keys: Vec<String> = entry.keys().cloned().collect();
        for key in keys {
            if let Some(block) = blocks.iter().find(|b| b.keys.contains(&key)) {
                let value = entry.remove(&key).expect("a key of the entry");
                let nested = entry.entry(block.key).or_insert_with(|| serde_json::json!({}));
                if let Some(map) = nested.as_object_mut() {
                    map.insert(key, value);
                }
            }
        }
    }
    config
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

#[cfg(test)]
mod tests {
    use super::json_diff;

    /// A run started by an older embench resumes: what it did not write is not a change.
    #[test]
    fn a_key_the_old_manifest_lacks_is_not_a_change() {
        let old = serde_json::json!([{"key": "m", "pooling": {"kind": "mean"}}]);
        let now = serde_json::json!([{"key": "m", "pooling": {"kind": "mean"}, "architecture": "bert"}]);
        let mut changes = Vec::new();
        json_diff("models", &old, &now, &mut changes);
        assert!(changes.is_empty(), "{changes:?}");
        let now = serde_json::json!([{"key": "m", "pooling": {"kind": "cls"}}]);
        json_diff("models", &old, &now, &mut changes);
        assert_eq!(changes, ["models[0].pooling.kind: \"mean\" -> \"cls\""]);
        let mut removed = Vec::new();
        json_diff("models", &old, &serde_json::json!([{"key": "m"}]), &mut removed);
        assert_eq!(removed, ["models[0].pooling: {\"kind\":\"mean\"} -> null"]);
    }
}
