//! From parsed YAML to a validated [`LoadedConfig`].

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_saphyr::Spanned;

use super::benchmark::{Arrival, BenchmarkConfig};
use super::error::{ConfigError, ConfigErrors};
use super::models::{ModelConfig, ModelsFile};
use super::parse::parse_config_file_with;
use super::sizes::SeqLen;
use crate::architecture::Architecture;
use crate::backend::{BackendCatalog, BackendKind};
use crate::embedder::Precision;
use crate::head::DenseLayer;
use crate::model_files::ModelFolder;
use crate::model_limits::ModelLimits;
use crate::pooling::Pooling;

mod architecture;
mod backends;
mod execution;
mod keys;
mod modality;
mod models;
mod quality;
mod scenarios;
mod skips;

pub use scenarios::{BatchPoint, ResolvedCache, ResolvedScenario};
pub use skips::{frameworks, Skip};

/// Most clients one scenario may run.
pub const MAX_CONCURRENCY: usize = 1024;
/// Largest batch one request may carry.
pub const MAX_BATCH_SIZE: usize = 4096;
/// Most intra-op threads a backend may be given.
pub const MAX_THREADS: usize = 1024;

/// A validated configuration: everything a run needs, with paths resolved.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The benchmark config file.
    pub config_path: PathBuf,
    /// The models file it refers to.
    pub models_path: PathBuf,
    /// The benchmark config as parsed (for the manifest).
    pub benchmark: BenchmarkConfig,
    /// The active models, in the order given.
    pub models: Vec<ResolvedModel>,
    /// The backends, in the order given.
    pub backends: Vec<ResolvedBackend>,
    /// The scenarios, in the order given.
    pub scenarios: Vec<ResolvedScenario>,
    /// Sequence lengths, in the order given.
    pub sequence_lengths: Vec<SeqLen>,
    /// Unrecorded warm-up requests per cell.
    pub warmup_requests: usize,
    /// Memory a cell may plan to use, MiB (None: the machine's available memory).
    pub memory_budget_mb: Option<f64>,
    /// RSS above which a cell's phase carries a warning, MiB (None: 85 % of the budget).
    pub memory_warn_mb: Option<f64>,
    /// Seconds a cell may take in its worker process before it is killed.
    pub cell_timeout_s: f64,
    /// Model instances that may load at the same time.
    pub max_concurrent_loads: usize,
    /// Where texts come from.
    pub dataset: ResolvedDataset,
    /// The price cells are costed at.
    pub cost: super::Cost,
    /// The retrieval-agreement check and its bounds.
    pub quality: super::Quality,
    /// What `auto` settings resolved to.
    pub auto: AutoSettings,
    /// Cells that cannot run here and are recorded as SKIPPED, with why (empty under `strict`).
    pub skips: Vec<Skip>,
    /// What the reader should know before running it, each with its file, field and fix
    /// (a models.yaml `max_seq_length` over the model's positions, outside `strict`).
    pub warnings: Vec<String>,
}

impl LoadedConfig {
    /// Whether `backends` was omitted, so that the backends are every framework ([`frameworks`]).
    pub fn every_framework(&self) -> bool {
        self.benchmark.backends.is_none()
    }

    /// Why the cell of `model` on backend `label` in `scenario` at `seq_len` is
    /// skipped, or None when it runs (the first [`Skip`] that covers it).
    pub fn skip_reason(&self, model: &str, label: &str, scenario: &str, seq_len: SeqLen) -> Option<&str> {
        self.skips.iter().find(|s| s.covers(model, label, scenario, seq_len)).map(|s| s.reason.as_str())
    }
}

/// An active model with its folder and pooling resolved.
#[derive(Debug, Clone, Serialize)]
pub struct ResolvedModel {
    /// Key in `models.yaml`.
    pub key: String,
    /// The entry.
    pub config: ModelConfig,
    /// The local folder, when configured.
    #[serde(skip)]
    pub folder: Option<ModelFolder>,
    /// Pooling and normalisation.
    pub pooling: Pooling,
    /// What the folder's `config.json` allows (None: no folder or no `config.json`).
    #[serde(skip)]
    pub limits: Option<ModelLimits>,
    /// The network family, from `config.json` or `models.yaml` (None: one embench does not know).
    pub architecture: Option<Architecture>,
    /// Dense layers of the sentence-transformers head (validation refuses them until backends run them).
    #[serde(skip)]
    pub dense: Vec<DenseLayer>,
    /// The model's prompts by name (`config_sentence_transformers.json`; empty without one).
    pub prompts: std::collections::BTreeMap<String, String>,
    /// Whether pooling takes the prompt's tokens too (`1_Pooling/config.json`'s `include_prompt`, default true).
    pub include_prompt: bool,
    /// Matryoshka truncation: `embedding_dim`, when it is below the `output_dim` the
    /// head puts out (None: the whole vector).
    pub truncate_dim: Option<usize>,
}

impl ResolvedModel {
    /// The text of the prompt named `name` (None: no prompt).
    ///
    /// Errors: a name the model has no prompt for (validation refuses it first).
    pub fn prompt_text(&self, name: Option<&str>) -> Result<Option<&str>, String> {
        match name {
            None => Ok(None),
            Some(p) => self
                .prompts
                .get(p)
                .map(|t| Some(t.as_str()))
                .ok_or_else(|| format!("model '{}' has no prompt '{p}'", self.key)),
        }
    }
}

/// Device a backend runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// The CPU.
    Cpu,
    /// The first CUDA GPU.
    Cuda,
}

/// Seconds a cell may take before its worker is killed, unless the config says otherwise.
pub const DEFAULT_CELL_TIMEOUT_S: f64 = 1800.0;

/// A backend with its settings resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResolvedBackend {
    /// Which backend.
    pub kind: BackendKind,
    /// Name in results (the `label`, or the backend's name).
    pub label: String,
    /// Precision asked for.
    pub precision: Precision,
    /// Intra-op threads asked for (None: the machine's physical cores).
    pub threads: Option<usize>,
    /// Device.
    pub device: DeviceKind,
    /// Its own settings, read and checked by its crate ([`crate::Backend::settings`];
    /// None for a backend without settings of its own).
    pub settings: Option<super::Settings>,
    /// `device: auto`, resolved from [`AutoSettings`].
    pub device_auto: bool,
}

/// What `auto` settings resolve to on this machine: its resource tier's
/// recommendation (`embench sysinfo`), fixed when a run starts so that its worker
/// processes and a later `--resume` resolve the same way.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct AutoSettings {
    /// `batch_size: auto`.
    pub batch_size: usize,
    /// `device: auto` runs on the GPU (backends that can).
    pub use_gpu: bool,
    /// The facts behind them, for the record.
    pub why: String,
}

impl Default for AutoSettings {
    /// The LOW tier's: batch 16 on the CPU (no machine facts at hand).
    fn default() -> Self {
        Self { batch_size: 16, use_gpu: false, why: "no machine facts given: the LOW tier's defaults".into() }
    }
}

impl ResolvedBackend {
    /// Its crate's settings of type `T` (None: none, or of another type).
    pub fn settings<T: 'static>(&self) -> Option<&T> {
        self.settings.as_ref().and_then(|s| s.get())
    }

    /// How many instances run requests at once ([`super::BackendSettings::parallelism`]).
    pub fn parallelism(&self) -> super::Parallelism {
        self.settings.as_ref().map(|s| s.parallelism()).unwrap_or_default()
    }
}

/// A scenario's load generation, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Mode {
    /// Clients back to back.
    ClosedLoop,
    /// Scheduled arrivals; latency from the scheduled time (coordinated-omission corrected).
    OpenLoop {
        /// Requests per second asked for.
        rate_qps: f64,
        /// Gap distribution.
        arrival: Arrival,
        /// Seed of Poisson gaps.
        seed: u64,
    },
    /// All requests at once.
    Offline,
}

impl Mode {
    /// The name recorded in results.
    pub fn name(&self) -> &'static str {
        self.kind().as_str()
    }

    /// The mode without its settings, as results record it.
    pub fn kind(&self) -> embench_schema::LoadMode {
        match self {
            Mode::ClosedLoop => embench_schema::LoadMode::ClosedLoop,
            Mode::OpenLoop { .. } => embench_schema::LoadMode::OpenLoop,
            Mode::Offline => embench_schema::LoadMode::Offline,
        }
    }
}

/// Where texts come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedDataset {
    /// A user's text/JSONL file, or None for synthetic texts.
    pub path: Option<PathBuf>,
    /// Seed.
    pub seed: u64,
    /// Where image scenarios' images come from.
    pub images: crate::images::ImageSource,
}

/// Says why a backend cannot run here (not in this binary, or its runtime missing)
/// and what it runs: a [`BackendCatalog`], or a plain `Fn(BackendKind) -> Option<String>`.
pub type Availability<'a> = &'a dyn BackendCatalog;

/// Reads, parses and validates a benchmark config and the models file it names.
///
/// `unavailable` tells which backends this binary lacks, and how to get them.
pub fn load_config(config_path: &Path, unavailable: Availability) -> Result<LoadedConfig, ConfigErrors> {
    load_config_with(config_path, unavailable, &AutoSettings::default())
}

/// [`load_config`], with `auto` settings resolved to `auto`.
pub fn load_config_with(
    config_path: &Path,
    unavailable: Availability,
    auto: &AutoSettings,
) -> Result<LoadedConfig, ConfigErrors> {
    let schema = super::benchmark_schema(&unavailable.blocks());
    let (benchmark, text): (BenchmarkConfig, String) =
        parse_config_file_with(config_path, "the benchmark config", &schema)?;
    let base = config_path.parent().unwrap_or(Path::new("."));
    let models_path = match &benchmark.models_file {
        Some(p) => base.join(&p.value),
        None => base.join("models.yaml"),
    };
    if !models_path.is_file() {
        let e = match &benchmark.models_file {
            Some(p) => {
                ConfigError::at(config_path, p, "models_file", format!("{} does not exist", models_path.display()))
            }
            None => ConfigError::file(config_path, "models_file", format!("{} does not exist", models_path.display())),
        };
        return Err(e.fix("set 'models_file' to the path of models.yaml, relative to this config").into());
    }
    let models_file: ModelsFile = super::parse_config_file(&models_path, "the models file")?;
    Validator {
        config_path,
        models_path: &models_path,
        models_file: &models_file,
        catalog: unavailable,
        text,
        auto,
        errors: Vec::new(),
        strict: benchmark.strict,
        every_framework: benchmark.backends.is_none(),
        skips: Vec::new(),
        warnings: Vec::new(),
    }
    .validate(benchmark)
}

struct Validator<'a> {
    config_path: &'a Path,
    models_path: &'a Path,
    models_file: &'a ModelsFile,
    catalog: Availability<'a>,
    /// The config file's text (the backend crates read their settings blocks from it).
    text: String,
    auto: &'a AutoSettings,
    errors: Vec<ConfigError>,
    /// `strict: true`: what would be skipped is an error.
    strict: bool,
    /// `backends` was omitted: every framework, those that cannot run here skipped.
    every_framework: bool,
    skips: Vec<Skip>,
    warnings: Vec<String>,
}

impl Validator<'_> {
    fn err(&mut self, e: ConfigError) {
        self.errors.push(e);
    }

    fn at<T>(&self, s: &Spanned<T>, field: impl Into<String>, msg: impl Into<String>) -> ConfigError {
        ConfigError::at(self.config_path, s, field, msg)
    }

    fn validate(mut self, benchmark: BenchmarkConfig) -> Result<LoadedConfig, ConfigErrors> {
        let backends = self.backends(&skips::backend_specs(&benchmark));
        let scenarios = self.scenarios(&benchmark.test_scenarios, &backends);
        let active = self.active(&benchmark);
        let models = self.models(&active, &backends);
        self.check_prompts(&benchmark.test_scenarios, &models);
        self.check_modalities(&benchmark.test_scenarios, &models);
        let sequence_lengths = self.sequence_lengths(&benchmark.input_config.sequence_lengths, &models);
        let dataset = self.dataset(&benchmark);
        let memory_budget_mb = self.memory_budget(&benchmark);
        let memory_warn_mb = self.memory_warn(&benchmark);
        let cell_timeout_s = self.cell_timeout(&benchmark);
        let max_concurrent_loads = match &benchmark.input_config.max_concurrent_loads {
            Some(n) => {
                self.range(n, "input_config.max_concurrent_loads".into(), 1, MAX_CONCURRENCY);
                n.value
            }
            None => 1,
        };
        let cost = self.cost(&benchmark);
        let quality = self.quality(benchmark.quality.as_ref());
        if !self.errors.is_empty() {
            return Err(ConfigErrors(self.errors));
        }
        Ok(LoadedConfig {
            config_path: self.config_path.to_path_buf(),
            models_path: self.models_path.to_path_buf(),
            warmup_requests: benchmark.input_config.warmup_requests,
            memory_budget_mb,
            memory_warn_mb,
            cell_timeout_s,
            max_concurrent_loads,
            cost,
            quality,
            auto: self.auto.clone(),
            benchmark,
            models,
            backends,
            scenarios,
            sequence_lengths,
            dataset,
            skips: self.skips,
            warnings: self.warnings,
        })
    }

    fn sequence_lengths(&mut self, lens: &[Spanned<SeqLen>], models: &[ResolvedModel]) -> Vec<SeqLen> {
        if lens.is_empty() {
            let e = ConfigError::file(self.config_path, "input_config.sequence_lengths", "no sequence lengths listed");
            self.err(e.fix("e.g. 'sequence_lengths: [32, 128]'"));
        }
        for (i, len) in lens.iter().enumerate() {
            let field = format!("input_config.sequence_lengths[{i}]");
            let SeqLen::Tokens(n) = len.value else {
                continue;
            };
            if n < 2 {
                let e = self.at(len, field.clone(), format!("sequence length {n} cannot hold [CLS] and [SEP]"));
                self.err(e.fix("use at least 2 tokens"));
            }
            for m in models {
                // The tighter of models.yaml's max_seq_length and the model's own position table.
                let declared = (
                    m.config.max_seq_length.value,
                    format!("{}: models.{}.max_seq_length", self.models_path.display(), m.key),
                );
                let table = m.limits.as_ref().and_then(|l| l.max_positions.map(|p| (p, l.positions_source.clone())));
                let (max, source) = match table {
                    Some(t) if t.0 < declared.0 => t,
                    _ => declared,
                };
                if n > max {
                    let e = self.at(
                        len,
                        field.clone(),
                        format!("sequence length {n} is over model '{}''s maximum of {max} ({source})", m.key),
                    );
                    let e = e.fix(format!("use at most {max}, or remove '{}' from active_models", m.key));
                    let skip = Skip { model: Some(m.key.clone()), seq_len: Some(len.value), ..Skip::everywhere() };
                    self.skip_or_err(e, skip);
                }
            }
        }
        lens.iter().map(|l| l.value).collect()
    }

    fn memory_budget(&mut self, benchmark: &BenchmarkConfig) -> Option<f64> {
        let m = benchmark.input_config.memory_budget_mb.as_ref()?;
        if !(m.value.is_finite() && m.value > 0.0) {
            let e = self.at(m, "input_config.memory_budget_mb", format!("memory budget {} MiB is impossible", m.value));
            self.err(e.fix("use a positive number of MiB, or remove it to use the machine's available memory"));
        }
        Some(m.value)
    }

    fn memory_warn(&mut self, benchmark: &BenchmarkConfig) -> Option<f64> {
        let m = benchmark.input_config.memory_warn_mb.as_ref()?;
        if !(m.value.is_finite() && m.value > 0.0) {
            let e =
                self.at(m, "input_config.memory_warn_mb", format!("warning threshold {} MiB is impossible", m.value));
            self.err(e.fix("use a positive number of MiB, or remove it for 85 % of the memory budget"));
        }
        Some(m.value)
    }

    fn cell_timeout(&mut self, benchmark: &BenchmarkConfig) -> f64 {
        let Some(t) = benchmark.input_config.cell_timeout_s.as_ref() else {
            return DEFAULT_CELL_TIMEOUT_S;
        };
        if !(t.value.is_finite() && t.value > 0.0) {
            let e = self.at(t, "input_config.cell_timeout_s", format!("a timeout of {} s is impossible", t.value));
            self.err(e.fix(format!("use a positive number of seconds, or remove it for {DEFAULT_CELL_TIMEOUT_S}")));
        }
        t.value
    }

    fn dataset(&mut self, benchmark: &BenchmarkConfig) -> ResolvedDataset {
        let base = self.config_path.parent().unwrap_or(Path::new("."));
        let path = benchmark.dataset.path.as_ref().map(|p| {
            let full = base.join(&p.value);
            if !full.is_file() {
                let e = self.at(p, "dataset.path", format!("{} does not exist", full.display()));
                self.err(
                    e.fix("give a text file (one text per line) or JSONL with a 'text' field, relative to this config"),
                );
            }
            full
        });
        let seed = benchmark.dataset.seed;
        let images = match (&benchmark.dataset.images, &benchmark.dataset.synthetic_image_size) {
            (Some(dir), size) => {
                let full = base.join(&dir.value);
                if let Err(why) = crate::images::source::image_files(&full) {
                    self.err(self.at(dir, "dataset.images", why));
                }
                if let Some(size) = size {
                    let e = self.at(
                        size,
                        "dataset.synthetic_image_size",
                        "synthetic images are not used when dataset.images is set",
                    );
                    self.err(e.fix("remove one of the two"));
                }
                crate::images::ImageSource::Folder(full)
            }
            (None, Some(size)) => {
                let [width, height] = size.value;
                if width == 0 || height == 0 || width > 8192 || height > 8192 {
                    let e = self.at(
                        size,
                        "dataset.synthetic_image_size",
                        format!("{width}x{height} pixels is not a usable image size"),
                    );
                    self.err(e.fix("use [width, height] between 1 and 8192, e.g. [640, 480]"));
                }
                crate::images::ImageSource::Synthetic { width, height, seed }
            }
            (None, None) => crate::images::ImageSource::Synthetic { width: 640, height: 480, seed },
        };
        ResolvedDataset { path, seed, images }
    }
}
