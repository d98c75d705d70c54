//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Benchmark embedding-model inference across frameworks (candle, ONNX Runtime,
/// OpenVINO, libtorch) with one methodology.
#[derive(Debug, Parser)]
#[command(name = "embench", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a benchmark config and write a run directory (manifest.json, results.jsonl).
    Run(RunArgs),
    /// Check a config, its models file and the model files, without running anything.
    Validate(ValidateArgs),
}

/// `embench run`.
#[derive(Debug, Parser)]
pub struct RunArgs {
    /// The benchmark config (e.g. configs/benchmark_config.yaml).
    #[arg(long, short)]
    pub config: PathBuf,
    /// The run directory to create (default: results/<timestamp>-<host>/).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// No progress bars (for logs and CI).
    #[arg(long)]
    pub quiet: bool,
}

/// `embench validate`.
#[derive(Debug, Parser)]
pub struct ValidateArgs {
    /// The benchmark config to check.
    #[arg(long, short)]
    pub config: PathBuf,
}
