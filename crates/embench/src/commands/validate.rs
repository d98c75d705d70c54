//! `embench validate`: configs and model files, nothing run.

use std::process::ExitCode;

use embench_core::config::{load_config, LoadedConfig};

use crate::cli::ValidateArgs;
use crate::factory::Factory;

/// Loads and validates a config, naming every problem.
pub fn load(config: &std::path::Path) -> anyhow::Result<LoadedConfig> {
    load_config(config, &Factory::unavailable).map_err(|e| anyhow::anyhow!("{e}"))
}

/// `embench validate --config F`.
pub fn validate(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let plan = embench_runner::RunPlan::new(load(&args.config)?);
    let config = &plan.config;
    // Sweeps add a cell per batch size, cache scenarios one per repeat ratio.
    println!(
        "{}: OK ({} model(s), {} backend(s), {} scenario(s), {} sequence length(s): {} cells)",
        args.config.display(),
        config.models.len(),
        config.backends.len(),
        config.scenarios.len(),
        config.sequence_lengths.len(),
        plan.cells.len()
    );
    Ok(ExitCode::SUCCESS)
}
