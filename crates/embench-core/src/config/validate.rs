//! From parsed YAML to a validated [`LoadedConfig`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_saphyr::Spanned;

use super::backend_options::{OpenvinoOptions, OrtOptions};
use super::benchmark::{Arrival, BackendSpec, BenchmarkConfig, LoadMode, Scenario, SeqLen, ServiceTime, Stall};
use super::error::{ConfigError, ConfigErrors};
use super::models::{ModelConfig, ModelsFile};
use super::parse::{closest, parse_yaml_file};
use crate::backend::BackendKind;
use crate::embedder::Precision;
use crate::model_files::ModelFolder;
use crate::pooling::{Pooling, PoolingKind};

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
    /// Where texts come from.
    pub dataset: ResolvedDataset,
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

/// Mock backend settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MockSettings {
    /// Service time of one request.
    pub service_time: ServiceTime,
    /// Periodic stalls.
    pub stall: Option<Stall>,
    /// Dimension of the vectors it returns.
    pub embedding_dim: usize,
    /// Seed of its draws.
    pub seed: u64,
}

/// A backend with its settings resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResolvedBackend {
    /// Which backend.
    pub kind: BackendKind,
    /// Name in results (the `label`, or the backend's name).
    pub label: String,
    /// Precision asked for.
    pub precision: Precision,
    /// ONNX Runtime settings (ort only).
    pub ort: Option<OrtOptions>,
    /// OpenVINO settings (openvino only).
    pub openvino: Option<OpenvinoOptions>,
    /// Intra-op threads asked for (None: the machine's physical cores).
    pub threads: Option<usize>,
    /// Device.
    pub device: DeviceKind,
    /// Mock settings (mock only).
    pub mock: Option<MockSettings>,
}

/// A validated scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResolvedScenario {
    /// Name.
    pub name: String,
    /// Closed-loop clients.
    pub concurrency: usize,
    /// Measured requests.
    pub num_requests: usize,
    /// Texts per request.
    pub batch_size: usize,
    /// How load is generated.
    pub mode: Mode,
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
        match self {
            Mode::ClosedLoop => "closed_loop",
            Mode::OpenLoop { .. } => "open_loop",
            Mode::Offline => "offline",
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
}

/// Says why a backend cannot run in this binary (None: it can).
pub type Availability<'a> = &'a dyn Fn(BackendKind) -> Option<String>;

/// Reads, parses and validates a benchmark config and the models file it names.
///
/// `unavailable` tells which backends this binary lacks, and how to get them.
pub fn load_config(config_path: &Path, unavailable: Availability) -> Result<LoadedConfig, ConfigErrors> {
    let benchmark: BenchmarkConfig = parse_yaml_file(config_path, "the benchmark config")?;
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
    let models_file: ModelsFile = parse_yaml_file(&models_path, "the models file")?;
    Validator { config_path, models_path: &models_path, models_file: &models_file, unavailable, errors: Vec::new() }
        .validate(benchmark)
}

struct Validator<'a> {
    config_path: &'a Path,
    models_path: &'a Path,
    models_file: &'a ModelsFile,
    unavailable: Availability<'a>,
    errors: Vec<ConfigError>,
}

impl Validator<'_> {
    fn err(&mut self, e: ConfigError) {
        self.errors.push(e);
    }

    fn at<T>(&self, s: &Spanned<T>, field: impl Into<String>, msg: impl Into<String>) -> ConfigError {
        ConfigError::at(self.config_path, s, field, msg)
    }

    fn validate(mut self, benchmark: BenchmarkConfig) -> Result<LoadedConfig, ConfigErrors> {
        let backends = self.backends(&benchmark.backends);
        let scenarios = self.scenarios(&benchmark.test_scenarios);
        let models = self.models(&benchmark.active_models, &backends);
        let sequence_lengths = self.sequence_lengths(&benchmark.input_config.sequence_lengths, &models);
        let dataset = self.dataset(&benchmark);
        if !self.errors.is_empty() {
            return Err(ConfigErrors(self.errors));
        }
        Ok(LoadedConfig {
            config_path: self.config_path.to_path_buf(),
            models_path: self.models_path.to_path_buf(),
            warmup_requests: benchmark.input_config.warmup_requests,
            benchmark,
            models,
            backends,
            scenarios,
            sequence_lengths,
            dataset,
        })
    }

    fn backends(&mut self, specs: &[BackendSpec]) -> Vec<ResolvedBackend> {
        if specs.is_empty() {
            self.err(
                ConfigError::file(self.config_path, "backends", "no backends listed").fix("add e.g. '- name: candle'"),
            );
        }
        let names: Vec<String> = BackendKind::ALL.iter().map(|k| k.name().to_string()).collect();
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for (i, spec) in specs.iter().enumerate() {
            let field = |f: &str| format!("backends[{i}].{f}");
            let Some(kind) = BackendKind::from_name(&spec.name.value) else {
                let hint =
                    closest(&spec.name.value, &names).map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default();
                let e = self.at(&spec.name, field("name"), format!("unknown backend '{}'{hint}", spec.name.value));
                self.err(e.fix(format!("use one of: {}", names.join(", "))));
                continue;
            };
            if let Some(why) = (self.unavailable)(kind) {
                let e =
                    self.at(&spec.name, field("name"), format!("backend '{kind}' cannot run in this binary: {why}"));
                self.err(e.fix(format!("rebuild with the '{kind}' feature, or remove this backend")));
            }
            let label = spec.label.as_ref().map_or_else(|| kind.name().to_string(), |l| l.value.clone());
            if !seen.insert(label.clone()) {
                let e = match &spec.label {
                    Some(l) => self.at(l, field("label"), format!("label '{label}' is used twice")),
                    None => self.at(&spec.name, field("name"), format!("backend '{kind}' is listed twice")),
                };
                self.err(e.fix("give each entry of the same backend its own 'label', e.g. 'label: openvino-bf16'"));
            }
            self.foreign_settings(i, kind, spec);
            let precision = self.precision(i, kind, spec);
            if let Some(t) = &spec.threads {
                if t.value == 0 || t.value > MAX_THREADS {
                    let e = self.at(t, field("threads"), format!("{} threads is impossible", t.value));
                    self.err(e.fix(format!("use 1..={MAX_THREADS}, or leave it out for the physical core count")));
                }
            }
            let device = match spec.device.as_ref().map(|d| (d, d.value.as_str())) {
                None | Some((_, "cpu")) => DeviceKind::Cpu,
                Some((_, "cuda")) => DeviceKind::Cuda,
                Some((d, other)) => {
                    let e = self.at(d, field("device"), format!("unknown device '{other}'"));
                    self.err(e.fix("use 'cpu' or 'cuda'"));
                    DeviceKind::Cpu
                }
            };
            let mock = self.mock_settings(i, kind, spec);
            let ort = (kind == BackendKind::Ort).then(|| self.ort_options(i, spec));
            let openvino = (kind == BackendKind::Openvino).then(|| self.openvino_options(i, spec));
            out.push(ResolvedBackend {
                kind,
                label,
                precision,
                ort,
                openvino,
                threads: spec.threads.as_ref().map(|t| t.value),
                device,
                mock,
            });
        }
        out
    }

    /// Settings that belong to another backend are errors, not silently ignored.
    fn foreign_settings(&mut self, i: usize, kind: BackendKind, spec: &BackendSpec) {
        use BackendKind::{Mock, Openvino, Ort};
        let owned: [(bool, &str, BackendKind); 11] = [
            (spec.inter_op_threads.is_some(), "inter_op_threads", Ort),
            (spec.graph_optimization.is_some(), "graph_optimization", Ort),
            (spec.execution_mode.is_some(), "execution_mode", Ort),
            (spec.execution_providers.is_some(), "execution_providers", Ort),
            (spec.sessions.is_some(), "sessions", Ort),
            (spec.model_format.is_some(), "model_format", Openvino),
            (spec.performance_hint.is_some(), "performance_hint", Openvino),
            (spec.streams.is_some(), "streams", Openvino),
            (spec.infer_requests.is_some(), "infer_requests", Openvino),
            (spec.service_time.is_some(), "service_time", Mock),
            (spec.stall.is_some(), "stall", Mock),
        ];
        for (present, name, owner) in owned {
            if present && owner != kind {
                let e = self.at(
                    &spec.name,
                    format!("backends[{i}].{name}"),
                    format!("'{name}' is a setting of the {owner} backend"),
                );
                self.err(e.fix(format!("remove '{name}' from the '{kind}' backend")));
            }
        }
    }

    fn precision(&mut self, i: usize, kind: BackendKind, spec: &BackendSpec) -> Precision {
        let Some(p) = &spec.precision else {
            return Precision::Fp32;
        };
        let offered: &[Precision] = match kind {
            BackendKind::Openvino => &[Precision::Fp32, Precision::Bf16, Precision::Fp16],
            BackendKind::Tch => &[Precision::Fp32, Precision::Bf16],
            BackendKind::Mock => &[Precision::Fp32, Precision::Fp16, Precision::Bf16, Precision::Int8],
            _ => &[Precision::Fp32],
        };
        if !offered.contains(&p.value) {
            let list: Vec<String> = offered.iter().map(|p| p.to_string()).collect();
            let e = self.at(p, format!("backends[{i}].precision"), format!("{kind} does not run in {}", p.value));
            self.err(e.fix(format!("use one of: {}", list.join(", "))));
        }
        p.value
    }

    fn positive(&mut self, i: usize, name: &str, v: Option<&Spanned<usize>>, max: usize) -> Option<usize> {
        let v = v?;
        if v.value == 0 || v.value > max {
            let e = self.at(v, format!("backends[{i}].{name}"), format!("{name} {} is impossible", v.value));
            self.err(e.fix(format!("use 1..={max}, or leave it out for the default")));
        }
        Some(v.value)
    }

    fn ort_options(&mut self, i: usize, spec: &BackendSpec) -> OrtOptions {
        let d = OrtOptions::default();
        let execution_providers = match &spec.execution_providers {
            Some(list) if list.value.is_empty() => {
                let e = self.at(list, format!("backends[{i}].execution_providers"), "no execution providers listed");
                self.err(e.fix("leave it out for [cpu], or list e.g. [cuda, cpu]"));
                d.execution_providers
            }
            Some(list) => list.value.clone(),
            None => d.execution_providers,
        };
        OrtOptions {
            inter_op_threads: self.positive(i, "inter_op_threads", spec.inter_op_threads.as_ref(), MAX_THREADS),
            graph_optimization: spec.graph_optimization.as_ref().map_or(d.graph_optimization, |g| g.value),
            execution_mode: spec.execution_mode.as_ref().map_or(d.execution_mode, |m| m.value),
            execution_providers,
            sessions: self.positive(i, "sessions", spec.sessions.as_ref(), MAX_CONCURRENCY).unwrap_or(d.sessions),
        }
    }

    fn openvino_options(&mut self, i: usize, spec: &BackendSpec) -> OpenvinoOptions {
        OpenvinoOptions {
            model_format: spec.model_format.as_ref().map_or_else(Default::default, |m| m.value),
            performance_hint: spec.performance_hint.as_ref().map_or_else(Default::default, |h| h.value),
            streams: self.positive(i, "streams", spec.streams.as_ref(), MAX_THREADS),
            infer_requests: self.positive(i, "infer_requests", spec.infer_requests.as_ref(), MAX_CONCURRENCY),
        }
    }

    fn mock_settings(&mut self, i: usize, kind: BackendKind, spec: &BackendSpec) -> Option<MockSettings> {
        if kind != BackendKind::Mock {
            return None;
        }
        let service_time =
            spec.service_time.as_ref().map(|s| s.value.clone()).unwrap_or(ServiceTime::Constant { ms: 0.0 });
        if let Some(st) = &spec.service_time {
            let bad = match &st.value {
                ServiceTime::Constant { ms } => !(ms.is_finite() && *ms >= 0.0),
                ServiceTime::Uniform { min_ms, max_ms } => {
                    !(min_ms.is_finite() && max_ms.is_finite() && 0.0 <= *min_ms && min_ms <= max_ms)
                }
                ServiceTime::Exponential { mean_ms } => !(mean_ms.is_finite() && *mean_ms > 0.0),
            };
            if bad {
                let e = self.at(
                    st,
                    format!("backends[{i}].service_time"),
                    "service times must be finite, non-negative, min <= max, mean > 0",
                );
                self.err(e.fix("e.g. '{distribution: uniform, min_ms: 1, max_ms: 3}'"));
            }
        }
        if let Some(stall) = &spec.stall {
            let Stall { every_ms, duration_ms } = stall.value;
            if !(every_ms > 0.0 && duration_ms >= 0.0 && duration_ms < every_ms) {
                let e = self.at(
                    stall,
                    format!("backends[{i}].stall"),
                    "a stall needs every_ms > 0 and 0 <= duration_ms < every_ms",
                );
                self.err(e.fix("e.g. '{every_ms: 1000, duration_ms: 100}'"));
            }
        }
        Some(MockSettings {
            service_time,
            stall: spec.stall.as_ref().map(|s| s.value.clone()),
            embedding_dim: spec.embedding_dim.unwrap_or(384),
            seed: spec.seed.unwrap_or(42),
        })
    }

    fn scenarios(&mut self, specs: &[Scenario]) -> Vec<ResolvedScenario> {
        if specs.is_empty() {
            self.err(
                ConfigError::file(self.config_path, "test_scenarios", "no scenarios listed")
                    .fix("add at least one scenario"),
            );
        }
        let mut names = BTreeSet::new();
        let mut out = Vec::new();
        for (i, s) in specs.iter().enumerate() {
            let field = |f: &str| format!("test_scenarios[{i}].{f}");
            if !names.insert(s.name.value.clone()) {
                let e = self.at(&s.name, field("name"), format!("scenario name '{}' is used twice", s.name.value));
                self.err(e.fix("give each scenario its own name"));
            }
            let checks: [(&Spanned<usize>, &str, usize, usize); 3] = [
                (&s.concurrency, "concurrency", 1, MAX_CONCURRENCY),
                (&s.num_requests, "num_requests", 1, usize::MAX),
                (&s.batch_size, "batch_size", 1, MAX_BATCH_SIZE),
            ];
            for (v, name, lo, hi) in checks {
                if v.value < lo || v.value > hi {
                    let range = if hi == usize::MAX { format!("at least {lo}") } else { format!("{lo}..={hi}") };
                    let e = self.at(v, field(name), format!("{name} {} is impossible", v.value));
                    self.err(e.fix(format!("use {range}")));
                }
            }
            let mode = self.mode(i, s);
            out.push(ResolvedScenario {
                name: s.name.value.clone(),
                concurrency: s.concurrency.value,
                num_requests: s.num_requests.value,
                batch_size: s.batch_size.value,
                mode,
            });
        }
        out
    }

    fn mode(&mut self, i: usize, s: &Scenario) -> Mode {
        let field = |f: &str| format!("test_scenarios[{i}].{f}");
        let mode = s.mode.as_ref().map_or(LoadMode::ClosedLoop, |m| m.value);
        if mode != LoadMode::OpenLoop {
            if let Some(r) = &s.rate_qps {
                let e = self.at(r, field("rate_qps"), "rate_qps applies to open_loop scenarios only");
                self.err(e.fix("add 'mode: open_loop', or remove rate_qps"));
            }
            return if mode == LoadMode::Offline { Mode::Offline } else { Mode::ClosedLoop };
        }
        let rate_qps = match &s.rate_qps {
            Some(r) if r.value.is_finite() && r.value > 0.0 => r.value,
            Some(r) => {
                let e = self.at(r, field("rate_qps"), format!("rate {} is impossible", r.value));
                self.err(e.fix("use a rate > 0 requests per second"));
                1.0
            }
            None => {
                let e = self.at(&s.name, field("rate_qps"), "an open_loop scenario needs rate_qps");
                self.err(e.fix("add e.g. 'rate_qps: 50'"));
                1.0
            }
        };
        Mode::OpenLoop { rate_qps, arrival: s.arrival.unwrap_or(Arrival::Poisson), seed: s.seed.unwrap_or(42) }
    }

    fn models(&mut self, active: &[Spanned<String>], backends: &[ResolvedBackend]) -> Vec<ResolvedModel> {
        if active.is_empty() {
            self.err(
                ConfigError::file(self.config_path, "active_models", "no models listed")
                    .fix("add a key of models.yaml"),
            );
        }
        let keys: Vec<String> = self.models_file.models.keys().cloned().collect();
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for (i, key) in active.iter().enumerate() {
            let field = format!("active_models[{i}]");
            if !seen.insert(key.value.clone()) {
                let e = self.at(key, field.clone(), format!("model '{}' is listed twice", key.value));
                self.err(e.fix("list each model once"));
                continue;
            }
            let Some(config) = self.models_file.models.get(&key.value) else {
                let hint = closest(&key.value, &keys).map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default();
                let e = self.at(
                    key,
                    field,
                    format!("model '{}' is not in {}{hint}", key.value, self.models_path.display()),
                );
                self.err(e.fix(format!("use one of: {}", keys.join(", "))));
                continue;
            };
            let folder = config
                .path
                .as_ref()
                .map(|p| ModelFolder::new(self.models_path.parent().unwrap_or(Path::new(".")).join(&p.value)));
            self.check_model_files(key, config, folder.as_ref(), backends);
            let pooling = self.pooling(&key.value, config, folder.as_ref());
            out.push(ResolvedModel { key: key.value.clone(), config: config.clone(), folder, pooling });
        }
        out
    }

    fn check_model_files(
        &mut self,
        key: &Spanned<String>,
        config: &ModelConfig,
        folder: Option<&ModelFolder>,
        backends: &[ResolvedBackend],
    ) {
        let needing: Vec<BackendKind> = backends.iter().map(|b| b.kind).filter(|k| k.needs_model_files()).collect();
        if needing.is_empty() {
            return;
        }
        let fetch = format!(
            "fetch and convert the model first: scripts/convert_models.sh {0} (or `make convert` for the default model)",
            key.value
        );
        let (Some(folder), Some(path)) = (folder, config.path.as_ref()) else {
            let e = self.at(
                key,
                "path",
                format!(
                    "model '{}' has no local 'path' in {}, which {} needs",
                    key.value,
                    self.models_path.display(),
                    needing[0]
                ),
            );
            self.err(e.fix(format!("set 'path' for '{}' in models.yaml; {fetch}", key.value)));
            return;
        };
        let mut missing: Vec<PathBuf> = Vec::new();
        for backend in backends {
            for p in folder.missing_files(backend) {
                if !missing.contains(&p) {
                    missing.push(p);
                }
            }
        }
        if !missing.is_empty() {
            let list: Vec<String> = missing.iter().map(|p| p.display().to_string()).collect();
            let e = ConfigError::at(
                self.models_path,
                path,
                format!("models.{}.path", key.value),
                format!("missing model files: {}", list.join(", ")),
            );
            self.err(e.fix(fetch));
        }
    }

    fn pooling(&mut self, key: &str, config: &ModelConfig, folder: Option<&ModelFolder>) -> Pooling {
        let mut resolve = |set: Option<Result<Option<PoolingKind>, String>>| match set {
            Some(Ok(v)) => v,
            Some(Err(msg)) => {
                self.errors.push(ConfigError::file(self.models_path, format!("models.{key}.pooling"), msg));
                None
            }
            None => None,
        };
        let kind = config.pooling.or_else(|| resolve(folder.map(ModelFolder::pooling_from_folder)));
        let normalize = config.normalize.or_else(|| folder.and_then(|f| f.normalize_from_folder().ok().flatten()));
        Pooling { kind: kind.unwrap_or(PoolingKind::Mean), normalize: normalize.unwrap_or(true) }
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
                let max = m.config.max_seq_length.value;
                if n > max {
                    let e = self.at(
                        len,
                        field.clone(),
                        format!("sequence length {n} is over model '{}''s maximum of {max}", m.key),
                    );
                    self.err(e.fix(format!("use at most {max}, or remove '{}' from active_models", m.key)));
                }
            }
        }
        lens.iter().map(|l| l.value).collect()
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
        ResolvedDataset { path, seed: benchmark.dataset.seed }
    }
}
