//! `embench validate`: configs and model files, nothing run.

use std::process::ExitCode;

use embench_core::config::{load_config_with, AutoSettings, LoadedConfig};
use embench_core::oversubscription::oversubscription_warning;
use embench_runner::machine::tier::Recommendation;
use embench_runner::run::execute::cell_label;
use embench_runner::RunPlan;
use embench_schema::histogram::requests_needed;

use crate::cli::ValidateArgs;
use crate::factory::Catalog;

/// Loads and validates a config, naming every problem; `auto` settings resolve
/// from this machine's recommendation.
pub fn load(config: &std::path::Path) -> anyhow::Result<LoadedConfig> {
    let host = embench_runner::machine::host::probe();
    load_with(config, &auto_settings(&embench_runner::machine::tier::recommend(&host)))
}

/// Loads and validates a config with `auto` settings resolved to `auto`, each
/// backend's runtime checked (its library loads, its python runs).
pub fn load_with(config: &std::path::Path, auto: &AutoSettings) -> anyhow::Result<LoadedConfig> {
    load_config_with(config, &Catalog { check_runtimes: true }, auto).map_err(|e| anyhow::anyhow!("{e}"))
}

/// [`load_with`] in a worker process: the parent checked the runtimes, and loading
/// other frameworks' libraries here would count in this worker's memory.
pub fn load_in_worker(config: &std::path::Path, auto: &AutoSettings) -> anyhow::Result<LoadedConfig> {
    load_config_with(config, &Catalog { check_runtimes: false }, auto).map_err(|e| anyhow::anyhow!("{e}"))
}

/// What `auto` settings resolve to under `rec`.
pub fn auto_settings(rec: &Recommendation) -> AutoSettings {
    AutoSettings {
        batch_size: rec.batch_size,
        use_gpu: rec.use_gpu,
        why: format!("tier {:?}: {}", rec.tier, rec.reasons.join("; ")),
    }
}

/// What the config will do that the reader should know before running it: what
/// validation noticed (e.g. a `max_seq_length` over the model's positions), and every
/// backend × scenario whose threads oversubscribe the usable cores.
pub fn warnings(config: &LoadedConfig) -> Vec<String> {
    let cores = embench_runner::machine::host::effective_cores();
    let mut out = config.warnings.clone();
    for s in config.scenarios.iter().filter(|s| s.execution.is_none()) {
        for b in config.backends.iter().filter(|b| s.runs_on(&b.label)) {
            if let Some(w) = oversubscription_warning(b, s.concurrency, cores) {
                out.push(format!("backend '{}', scenario '{}': {w}", b.label, s.name));
            }
        }
    }
    out
}

/// The cells that would run (`validate`, `run --dry-run`), with their requests and
/// the least time their durations take (how long each request takes is what the run measures).
pub fn print_cells(plan: &RunPlan, selection: &[usize]) {
    let (mut least_s, mut all_requests) = (0.0, 0);
    let mut skipped = 0;
    for &i in selection {
        let (cell, scenario) = (&plan.cells[i], plan.scenario(&plan.cells[i]));
        if plan.skip_reason(cell).is_some() {
            println!("cell {}: {} SKIPPED (reason above)", i + 1, cell_label(plan, i));
            skipped += 1;
            continue;
        }
        let m = &scenario.measurement;
        // The latency-bounded search: a capacity run, then up to max_probes probes, each
        // with at least the requests its percentile needs.
        let requests = match &scenario.slo {
            Some(slo) => {
                let per_probe = cell.point.num_requests.max(requests_needed(slo.percentile / 100.0) as usize);
                cell.point.num_requests + slo.max_probes * per_probe
            }
            None => cell.point.num_requests * m.repeat,
        };
        let seconds = m.warmup_duration_s + m.min_duration_s * m.repeat as f64;
        least_s += seconds;
        all_requests += requests;
        let at_least = if seconds > 0.0 { format!(", at least {seconds:.0} s") } else { String::new() };
        let upto = if scenario.slo.is_some() { "up to " } else { "" };
        println!("cell {}: {} ({upto}{requests} requests{at_least})", i + 1, cell_label(plan, i));
    }
    let durations =
        if least_s > 0.0 { format!("; their minimum durations add up to {least_s:.0} s") } else { String::new() };
    let skipped = if skipped > 0 { format!(" ({skipped} of them SKIPPED)") } else { String::new() };
    println!(
        "{} of {} cells{skipped}, {all_requests} measured requests{durations} (how long each request takes is what a run measures; nothing was run)",
        selection.len(),
        plan.cells.len()
    );
}

/// Which backends run when the config lists none: every framework, each named.
pub fn every_framework_line(config: &LoadedConfig) -> Option<String> {
    config.every_framework().then(|| {
        let names: Vec<String> = config
            .backends
            .iter()
            .map(|b| {
                match config
                    .skips
                    .iter()
                    .any(|s| s.model.is_none() && s.backends.as_ref().is_some_and(|l| l.contains(&b.label)))
                {
                    true => format!("{} (cannot run here: SKIPPED)", b.label),
                    false => b.label.clone(),
                }
            })
            .collect();
        format!("backends: not listed, so every framework: {}", names.join(", "))
    })
}

/// The cells of `selection` the config skips: how many, then each reason with the
/// number of those cells it covers (a cell may have several; its record gives the
/// first). Empty when none is skipped.
pub fn skip_lines(plan: &RunPlan, selection: &[usize]) -> Vec<String> {
    let covers = |k: &embench_core::config::Skip, i: usize| {
        let c = &plan.cells[i];
        k.covers(&plan.model(c).key, &plan.backend(c).label, &plan.scenario(c).name, c.seq_len)
    };
    let total = selection.iter().filter(|&&i| plan.skip_reason(&plan.cells[i]).is_some()).count();
    if total == 0 {
        return Vec::new();
    }
    let mut out = vec![format!(
        "SKIPPED: {total} of {} cells cannot run here; each is recorded with its reason (`strict: true` in the config refuses them instead):",
        selection.len()
    )];
    for skip in &plan.config.skips {
        let n = selection.iter().filter(|&&i| covers(skip, i)).count();
        if n > 0 {
            out.push(format!("  {} ({n} cells): {}", skip.scope(), skip.reason));
        }
    }
    out
}

/// `embench validate --config F`.
pub fn validate(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let plan = embench_runner::RunPlan::new(load(args.config())?);
    let config = &plan.config;
    // Sweeps add a cell per batch size, cache scenarios one per repeat ratio.
    println!(
        "{}: OK ({} model(s), {} backend(s), {} scenario(s), {} sequence length(s): {} cells)",
        args.config().display(),
        config.models.len(),
        config.backends.len(),
        config.scenarios.len(),
        config.sequence_lengths.len(),
        plan.cells.len()
    );
    for w in warnings(config) {
        println!("warning: {w}");
    }
    if let Some(line) = every_framework_line(config) {
        println!("{line}");
    }
    let all: Vec<usize> = (0..plan.cells.len()).collect();
    for line in skip_lines(&plan, &all) {
        println!("{line}");
    }
    print_cells(&plan, &all);
    Ok(ExitCode::SUCCESS)
}
