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
    /// Write report.md and charts (PNG and SVG) from one or more run directories.
    Report(ReportArgs),
    /// Compare a candidate run with a baseline run, cell by cell.
    Compare(CompareArgs),
    /// (Internal) run some cells of a config in this process and report them on stdout; `embench run` starts these.
    #[command(hide = true)]
    Worker(WorkerArgs),
    /// Show this machine as a run records it (cores, ISA, RAM, container limits, GPUs), its tier and the settings it recommends.
    Sysinfo(SysinfoArgs),
}

/// `embench sysinfo`.
#[derive(Debug, Parser)]
pub struct SysinfoArgs {
    /// Print JSON (`host` and `recommendation`, as written into every manifest).
    #[arg(long)]
    pub json: bool,
    /// Also measure the dense matrix-multiply peak (fp32, bf16 and int8, through OpenVINO)
    /// and store it in results/peak.json, where `embench run` finds it.
    #[arg(long)]
    pub peak: bool,
    /// The MatMul model timed by --peak (scripts/python/make_matmul.py writes it).
    #[arg(long, default_value = "models/_peak/matmul_2048.onnx")]
    pub peak_model: std::path::PathBuf,
    /// Seconds per precision for --peak.
    #[arg(long, default_value_t = 5.0)]
    pub peak_seconds: f64,
}

/// Output format of `embench report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// report.md plus charts/ (PNG and SVG).
    Md,
    /// One flat cells.csv of every cell.
    Csv,
}

/// `embench report`.
#[derive(Debug, Parser)]
pub struct ReportArgs {
    /// Run directories (several merge into one report, with the host as a dimension).
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// Where to write (default: the first run directory).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// What to write.
    #[arg(long, value_enum, default_value = "md")]
    pub format: ReportFormat,
}

/// `embench compare`.
#[derive(Debug, Parser)]
pub struct CompareArgs {
    /// The baseline run directory.
    pub baseline: PathBuf,
    /// The candidate run directory.
    pub candidate: PathBuf,
    /// Changes within this many percent are noise.
    #[arg(long, default_value_t = 5.0)]
    pub threshold: f64,
    /// Exit with status 1 when a matched cell lost more than PCT percent QPS, gained more than PCT percent p99, or broke.
    #[arg(long, value_name = "PCT")]
    pub fail_on_regression: Option<f64>,
    /// Where to write the markdown (default: compare.md in the candidate run directory).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
}

/// `embench run`.
#[derive(Debug, Parser)]
pub struct RunArgs {
    /// The benchmark config (e.g. configs/benchmark_config.yaml); with --resume, the
    /// config the run was started with is used unless this names it elsewhere.
    #[arg(long, short, required_unless_present = "resume")]
    pub config: Option<PathBuf>,
    /// The run directory to create (default: results/<timestamp>-<host>/).
    #[arg(long, short, conflicts_with = "resume")]
    pub out: Option<PathBuf>,
    /// Continue an interrupted run in DIR: only the cells without a result run; a
    /// changed config or another machine is refused.
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Run every cell in this process instead of one worker process per model x
    /// backend (a crash then ends the run; for debugging).
    #[arg(long)]
    pub in_process: bool,
    /// No progress bars (for logs and CI).
    #[arg(long)]
    pub quiet: bool,
    /// The summary with every column (QPS, mean, p95, p99.9, load, first request,
    /// CPU, threads, precision, min cosine) and whole error lines; the default fits
    /// 120 columns. report.md and cells.csv always have every figure.
    #[arg(long)]
    pub wide: bool,
}

/// `embench validate`.
#[derive(Debug, Parser)]
pub struct ValidateArgs {
    /// The benchmark config to check.
    #[arg(long, short)]
    pub config: PathBuf,
}

/// `embench worker` (internal).
#[derive(Debug, Parser)]
pub struct WorkerArgs {
    /// The benchmark config of the run.
    #[arg(long)]
    pub config: PathBuf,
    /// Plan cells to run (indices).
    #[arg(long, value_delimiter = ',', required = true)]
    pub cells: Vec<usize>,
    /// How many cells the parent's plan has (a config changed in between is refused).
    #[arg(long)]
    pub plan_cells: usize,
    /// What `auto` settings resolved to in the parent (JSON), so every worker resolves the same.
    #[arg(long)]
    pub auto: String,
}
