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
    let config = load(&args.config)?;
    let cells = config.models.len() * config.backends.len() * config.scenarios.len() * config.sequence_lengths.len();
    println!(
        "{}: OK ({} model(s), {} backend(s), {} scenario(s), {} sequence length(s): {cells} cells)",
        args.config.display(),
        config.models.len(),
        config.backends.len(),
        config.scenarios.len(),
        config.sequence_lengths.len()
    );
    Ok(ExitCode::SUCCESS)
}
