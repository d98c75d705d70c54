//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Benchmark embedding-model inference across frameworks (candle, ONNX Runtime,
/// OpenVINO, libtorch) with one methodology.
#[derive(Debug, Parser)]
#[command(name = "embench", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The exit statuses, shown under every `--help`.
const EXIT_CODES: &str = "Exit status: 0 ok; 1 an invalid cell (run) or a regression (compare --fail-on-regression); \
2 a usage, config or input error; 3 compare matched fewer cells than --min-matched; 130 interrupted.";

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a benchmark config and write a run directory (manifest.json, results.jsonl).
    #[command(after_help = "Examples:
  embench run configs/quick.yaml
  embench run --config configs/benchmark_config.yaml --out results/c7i -q
  embench run --resume results/20261129T144238Z-vm
  embench run configs/quick.yaml --backend ort --backend tch --scenario single_query
  embench run configs/benchmark_config.yaml --dry-run
  embench run design/benchmark_config.yaml --fetch   (a copy of tests/fixtures/design/)

Cells that cannot run here (a sequence length over a model's maximum, a model not
fetched, a backend that does not run the model or this machine) are SKIPPED: listed
before the run, recorded with the reason, counted after it. `strict: true` in the
config makes them errors instead.

Exit status: 0 every cell run is valid; 1 an invalid cell, or every cell SKIPPED; 2 a config or input error; 130 interrupted (resume it).")]
    Run(RunArgs),
    /// Check a config, its models file and the model files, without running anything.
    #[command(after_help = "Examples:
  embench validate configs/benchmark_config.yaml

Exit status: 0 valid (warnings printed); 2 every error found, each with file:line:col, field and fix.")]
    Validate(ValidateArgs),
    /// Write report.md and charts (PNG and SVG) from one or more run directories.
    #[command(after_help = "Examples:
  embench report results/20261129T144238Z-vm
  embench report results/c7i results/graviton --out results/c7i-vs-graviton
  embench report results/c7i --format csv

Exit status: 0 written; 2 a missing or malformed run directory, or several runs without --out.")]
    Report(ReportArgs),
    /// Compare a candidate run with a baseline run, cell by cell.
    #[command(after_help = "Examples:
  embench compare results/before results/after
  embench compare results/before results/after --fail-on-regression 5 --min-matched 10

Exit status: 0 no regression; 1 a regression beyond the gate; 2 an input error; 3 fewer matched cells than --min-matched.")]
    Compare(CompareArgs),
    /// Serve one backend of a config over HTTP: OpenAI's POST /v1/embeddings, TEI's POST /embed, /health, /info, /metrics.
    #[command(after_help = "Examples:
  embench serve --config configs/quick.yaml --model all-minilm-l6-v2 --backend ort --port 8080
  embench serve --config configs/quick.yaml --model all-minilm-l6-v2 --backend candle --max-batch-size 32 --max-wait-us 2000
  curl -s localhost:8080/v1/embeddings -H 'content-type: application/json' -d '{\"input\": [\"a text\"]}'

Benchmark it with a backend entry `{name: http, http: {url: http://127.0.0.1:8080/v1/embeddings}}`.
SIGINT or SIGTERM stops accepting, finishes the requests in flight and exits 0.

Exit status: 0 stopped by a signal; 2 a config error, a model that does not load, or a port in use.")]
    Serve(ServeArgs),
    /// (Internal) run some cells of a config in this process and report them on stdout; `embench run` starts these.
    #[command(hide = true)]
    Worker(WorkerArgs),
    /// List the backends (compiled in, usable on this machine, or why not) or the models of a models file.
    List(ListArgs),
    /// Print a shell completion script (e.g. `embench completions bash > ~/.local/share/bash-completion/completions/embench`).
    Completions(CompletionsArgs),
    /// Print the config files' JSON Schemas, with the settings block of every backend
    /// this binary has (editors use them: each shipped YAML names its schema on line 1).
    #[command(after_help = "Examples:
  embench schema > benchmark-config.schema.json
  embench schema --write schema/        # both files, as the repository ships them

Exit status: 0 written; 2 the directory cannot be written.")]
    Schema(SchemaArgs),
    /// Show this machine as a run records it (cores, ISA, RAM, container limits, GPUs), its tier and the settings it recommends.
    Sysinfo(SysinfoArgs),
}

/// What `embench list` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListWhat {
    /// Every backend: usable here, or why not.
    Backends,
    /// The models of a models file, and which of their files are there.
    Models,
}

/// `embench list`.
#[derive(Debug, Parser)]
pub struct ListArgs {
    /// What to list.
    #[arg(value_enum)]
    pub what: ListWhat,
    /// The models file (for `models`).
    #[arg(long, default_value = "configs/models.yaml")]
    pub models: PathBuf,
}

/// `embench schema`.
#[derive(Debug, Parser)]
pub struct SchemaArgs {
    /// Write `benchmark-config.schema.json` and `models.schema.json` into this
    /// directory instead of printing the benchmark config's schema.
    #[arg(long, value_name = "DIR")]
    pub write: Option<PathBuf>,
}

/// `embench completions`.
#[derive(Debug, Parser)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
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
    /// cells.json: every cell's record with its host, for scripts.
    Json,
}

/// Output format of `embench compare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompareFormat {
    /// A markdown table (compare.md).
    Md,
    /// The comparison as JSON on stdout (and in --out when given), for scripts.
    Json,
}

/// `embench report`.
#[derive(Debug, Parser)]
pub struct ReportArgs {
    /// Run directories (several merge into one report, with the host as a dimension).
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// Where to write (default: the run directory, when there is one; required for
    /// several, so that a merged report never lands in a run it was not made from).
    /// With --format csv or json, `-` writes the one file to stdout.
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
    /// Exit with status 1 when a matched cell lost more than PCT percent QPS, gained
    /// more than PCT percent p99, or broke; and with status 3 when fewer cells than
    /// --min-matched (default 1) matched, since a gate over no cells passes nothing.
    #[arg(long, value_name = "PCT")]
    pub fail_on_regression: Option<f64>,
    /// Fewest cells that must match between the runs (exit status 3 below it; default
    /// 1 with --fail-on-regression, else not checked).
    #[arg(long, value_name = "N")]
    pub min_matched: Option<usize>,
    /// The markdown file to write (default: compare.md in the candidate run directory;
    /// `-`: none, the comparison goes to stdout only).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Markdown (default) or JSON.
    #[arg(long, value_enum, default_value = "md")]
    pub format: CompareFormat,
}

/// `embench run`.
#[derive(Debug, Parser)]
pub struct RunArgs {
    /// The benchmark config (e.g. configs/benchmark_config.yaml), as --config.
    #[arg(value_name = "CONFIG", conflicts_with = "config")]
    pub config_file: Option<PathBuf>,
    /// The benchmark config (e.g. configs/benchmark_config.yaml); with --resume, the
    /// config the run was started with is used unless this names it elsewhere.
    #[arg(long, short, required_unless_present_any = ["resume", "config_file"])]
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
    /// Nothing on stderr but invalid and skipped cells and errors (the summary table
    /// and the run directory still go to stdout). Without it: progress bars on a
    /// terminal, and a line per cell elsewhere (CI logs, pipes).
    #[arg(long, short)]
    pub quiet: bool,
    /// The summary as JSON on stdout (every record written, as in results.jsonl) instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Only this model (repeatable; a key of active_models).
    #[arg(long = "model", value_name = "KEY", conflicts_with = "resume")]
    pub models: Vec<String>,
    /// Only this backend (repeatable; its label).
    #[arg(long = "backend", value_name = "LABEL", conflicts_with = "resume")]
    pub backends: Vec<String>,
    /// Only this scenario (repeatable; its name).
    #[arg(long = "scenario", value_name = "NAME", conflicts_with = "resume")]
    pub scenarios: Vec<String>,
    /// List the cells that would run, with their requests, and run nothing.
    #[arg(long, conflicts_with = "resume")]
    pub dry_run: bool,
    /// Before running, fetch each active model whose folder does not exist from the
    /// Hugging Face Hub and convert it for every backend (scripts/convert_models.sh,
    /// its progress shown), on a machine that reaches the Hub. Without it, or where a
    /// fetch fails, the model's cells are SKIPPED with the command that makes them run.
    #[arg(long, conflicts_with = "resume")]
    pub fetch: bool,
    /// The summary with every column (QPS, mean, p95, p99.9, load, first request,
    /// CPU, threads, precision, min cosine) and whole error lines; the default fits
    /// 120 columns. report.md and cells.csv always have every figure.
    #[arg(long)]
    pub wide: bool,
}

impl RunArgs {
    /// The cells `--model`, `--backend` and `--scenario` choose.
    pub fn filter(&self) -> embench_runner::CellFilter {
        embench_runner::CellFilter {
            models: self.models.clone(),
            backends: self.backends.clone(),
            scenarios: self.scenarios.clone(),
        }
    }
}

/// `embench validate`.
#[derive(Debug, Parser)]
pub struct ValidateArgs {
    /// The benchmark config to check, as --config.
    #[arg(value_name = "CONFIG", conflicts_with = "config", required_unless_present = "config")]
    pub config_file: Option<PathBuf>,
    /// The benchmark config to check.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
}

impl ValidateArgs {
    /// The config, given positionally or with --config.
    pub fn config(&self) -> &std::path::Path {
        self.config.as_deref().or(self.config_file.as_deref()).expect("clap requires one")
    }
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

/// Arguments of `embench serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The benchmark config whose model and backend entries are served.
    #[arg(long)]
    pub config: PathBuf,
    /// The model's key (one of the config's active models).
    #[arg(long)]
    pub model: String,
    /// The backend's label in the config.
    #[arg(long)]
    pub backend: String,
    /// Take replicas, workers and dynamic batching from this scenario's `execution` (flags below override).
    #[arg(long)]
    pub scenario: Option<String>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0: any free port, printed).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Model instances (default: the scenario's, else 1).
    #[arg(long)]
    pub replicas: Option<usize>,
    /// Threads taking requests from each instance's queue (default: the scenario's, else 1).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Dynamic batching: most inputs in a formed batch (with --max-wait-us; default: the scenario's, else off).
    #[arg(long)]
    pub max_batch_size: Option<usize>,
    /// Dynamic batching: longest wait for a batch to fill, µs (default 1000 with --max-batch-size).
    #[arg(long)]
    pub max_wait_us: Option<u64>,
    /// Largest request body, bytes (413 above).
    #[arg(long, default_value_t = 2 << 20)]
    pub max_body_bytes: usize,
    /// Most inputs in one request (413 above).
    #[arg(long, default_value_t = 512)]
    pub max_inputs: usize,
    /// Most requests in the server at once (429 above).
    #[arg(long, default_value_t = 512)]
    pub max_in_flight: usize,
    /// A request body not complete this long after its headers is refused with 408, ms.
    #[arg(long, default_value_t = 10_000)]
    pub body_timeout_ms: u64,
    /// Threads of the HTTP side (parsing, tokenizing, encoding answers; default: the usable cores).
    #[arg(long)]
    pub http_threads: Option<usize>,
}
