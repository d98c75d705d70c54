//! Validation of `test_scenarios`: fixed-batch scenarios, batch-size sweeps
//! and the embedding-cache scenario.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_saphyr::Spanned;

use super::{Mode, ResolvedBackend, ResolvedModel, Skip, Validator, MAX_BATCH_SIZE, MAX_CONCURRENCY};
use crate::config::benchmark::{Arrival, CacheSpec, LoadMode, RepeatDistribution, Scenario};
use crate::config::error::ConfigError;
use crate::config::execution::{Execution, Measurement, Slo};
use crate::config::parse::closest;
use crate::config::sizes::BatchSpec;
use embench_schema::CacheLimit;

/// Default bound of the cache scenario's cache when the config gives none.
pub const DEFAULT_CACHE_MB: f64 = 64.0;
/// Fewest requests a sweep point runs when sized by `num_texts`.
pub const MIN_SWEEP_REQUESTS: usize = 3;

/// A validated scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResolvedScenario {
    /// Name.
    pub name: String,
    /// Closed-loop clients.
    pub concurrency: usize,
    /// Batch sizes and their request counts: one point, or one per size of a sweep (ascending).
    pub points: Vec<BatchPoint>,
    /// Whether `points` is a batch-size sweep.
    pub sweep: bool,
    /// How load is generated.
    pub mode: Mode,
    /// Warm-up requests of its cells, when it overrides `input_config.warmup_requests`.
    pub warmup_requests: Option<usize>,
    /// Backend labels that run it (None: all).
    pub backends: Option<Vec<String>>,
    /// The cache scenario's settings (None: an ordinary scenario, no cache).
    pub cache: Option<ResolvedCache>,
    /// Replicas, workers and dynamic batching (None: the clients call one instance directly).
    pub execution: Option<Execution>,
    /// Durations, repetitions and the steady-state check.
    pub measurement: Measurement,
    /// The latency-bounded throughput search (None: an ordinary scenario).
    pub slo: Option<Slo>,
    /// `batch_size: auto`, resolved from [`super::AutoSettings`].
    pub batch_auto: bool,
    /// The name of the model prompt put before every text (None: no prompt).
    pub prompt: Option<String>,
    /// What its cells embed: text (token ids) or images (pixel batches).
    pub modality: crate::Modality,
    /// Image scenarios: decoding and preprocessing happen inside each measured request.
    pub include_preprocessing: bool,
}

impl ResolvedScenario {
    /// Whether the backend labelled `label` runs this scenario.
    pub fn runs_on(&self, label: &str) -> bool {
        self.backends.as_ref().is_none_or(|b| b.iter().any(|l| l == label))
    }

    /// What kind of scenario it is, as results record it.
    pub fn kind(&self) -> embench_schema::ScenarioKind {
        use embench_schema::ScenarioKind;
        match (&self.cache, &self.slo, self.sweep) {
            (Some(_), _, _) => ScenarioKind::Cache,
            (None, Some(_), _) => ScenarioKind::SloSearch,
            (None, None, true) => ScenarioKind::BatchSweep,
            (None, None, false) => ScenarioKind::Fixed,
        }
    }
}

/// One batch size and how many requests measure it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BatchPoint {
    /// Texts per request.
    pub batch_size: usize,
    /// Measured requests.
    pub num_requests: usize,
}

/// The cache scenario, resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResolvedCache {
    /// Repeat ratios, one cell each.
    pub repeat_ratios: Vec<f64>,
    /// How repeats pick earlier texts.
    pub distribution: RepeatDistribution,
    /// Zipf exponent.
    pub zipf_exponent: f64,
    /// The cache's bound.
    pub limit: CacheLimit,
    /// Seed of the repeat pattern.
    pub seed: u64,
}

impl Validator<'_> {
    pub(super) fn scenarios(&mut self, specs: &[Scenario], backends: &[ResolvedBackend]) -> Vec<ResolvedScenario> {
        if specs.is_empty() {
            self.err(
                ConfigError::file(self.config_path, "test_scenarios", "no scenarios listed")
                    .fix("add at least one scenario"),
            );
        }
        let labels: Vec<String> = backends.iter().map(|b| b.label.clone()).collect();
        let mut names = BTreeSet::new();
        let mut out = Vec::new();
        for (i, s) in specs.iter().enumerate() {
            let field = |f: &str| format!("test_scenarios[{i}].{f}");
            if !names.insert(s.name.value.clone()) {
                let e = self.at(&s.name, field("name"), format!("scenario name '{}' is used twice", s.name.value));
                self.err(e.fix("give each scenario its own name"));
            }
            self.range(&s.concurrency, field("concurrency"), 1, MAX_CONCURRENCY);
            if let Some(n) = &s.num_requests {
                self.range(n, field("num_requests"), 1, usize::MAX);
            }
            if let Some(n) = &s.num_texts {
                self.range(n, field("num_texts"), 1, usize::MAX);
            }
            let (points, sweep) = self.points(i, s);
            let slo = self.slo(i, s);
            let mode = if slo.is_some() { Mode::ClosedLoop } else { self.mode(i, s) };
            let execution = self.execution(i, s);
            let measurement = self.measurement(i, s);
            let cache = s.cache.as_ref().map(|c| self.cache(i, c, sweep, &mode));
            let only = s.backends.as_ref().map(|list| self.backend_filter(i, list, &labels));
            out.push(ResolvedScenario {
                name: s.name.value.clone(),
                concurrency: s.concurrency.value,
                points,
                sweep,
                mode,
                warmup_requests: s.warmup_requests,
                backends: only,
                cache,
                execution,
                measurement,
                slo,
                batch_auto: s.batch_size.value == BatchSpec::Auto,
                prompt: s.prompt.as_ref().map(|p| p.value.clone()).filter(|p| p != "none"),
                modality: s.modality.as_ref().map_or_else(Default::default, |m| m.value),
                include_preprocessing: s.include_preprocessing.as_ref().is_some_and(|p| p.value),
            });
        }
        out
    }

    /// Every scenario's prompt must be one each active model has, and a model that
    /// leaves prompts out of its pooling (`include_prompt: false`) is not run with one.
    /// Each scenario's prompt against each model's prompts. A model without it has
    /// its cells of the scenario skipped (an error under `strict`); a prompt that no
    /// model has, when every model's folder is there to say so, is a typo and an error.
    pub(super) fn check_prompts(&mut self, specs: &[Scenario], models: &[ResolvedModel]) {
        for (i, s) in specs.iter().enumerate() {
            let Some(name) = s.prompt.as_ref().filter(|p| p.value != "none") else { continue };
            let field = format!("test_scenarios[{i}].prompt");
            // A model not fetched yet may be the one that has it.
            let anyone_has = models.iter().any(|m| m.folder.is_none() || m.prompts.contains_key(&name.value));
            for m in models {
                let skip =
                    Skip { model: Some(m.key.clone()), scenario: Some(s.name.value.clone()), ..Skip::everywhere() };
                let file = m.folder.as_ref().map(|f| f.hf_dir().join(crate::model_files::PROMPTS_FILE));
                let Some(file) = file else {
                    let e = self.at(name, field.clone(), format!("model '{}' has no folder, so no prompts", m.key));
                    let e = e.fix("give the model a 'path' in models.yaml, or set 'prompt: none'");
                    self.skip_or_err(e, skip);
                    continue;
                };
                if !m.prompts.contains_key(&name.value) {
                    let has: Vec<&str> = m.prompts.keys().map(String::as_str).collect();
                    let has = if has.is_empty() { "none".to_string() } else { has.join(", ") };
                    let e = self.at(
                        name,
                        field.clone(),
                        format!("model '{}' has no prompt '{}' ({} has: {has})", m.key, name.value, file.display()),
                    );
                    let e = e.fix(
                        "name one of the model's prompts, or 'none'; a model without it goes in a config of its own",
                    );
                    if anyone_has {
                        self.skip_or_err(e, skip);
                    } else {
                        self.err(e);
                    }
                } else if !m.include_prompt {
                    let e = self.at(
                        name,
                        field.clone(),
                        format!(
                            "model '{}' pools without its prompt's tokens (include_prompt: false in 1_Pooling/config.json), which embench does not run yet",
                            m.key
                        ),
                    );
                    self.err(e.fix("set 'prompt: none' for this model"));
                }
            }
        }
    }

    pub(super) fn range(&mut self, v: &Spanned<usize>, field: String, lo: usize, hi: usize) {
        if v.value < lo || v.value > hi {
            let range = if hi == usize::MAX { format!("at least {lo}") } else { format!("{lo}..={hi}") };
            let name = field.rsplit('.').next().unwrap_or_default().to_string();
            let e = self.at(v, field, format!("{name} {} is impossible", v.value));
            self.err(e.fix(format!("use {range}")));
        }
    }

    /// The batch sizes and request counts of scenario `i`.
    fn points(&mut self, i: usize, s: &Scenario) -> (Vec<BatchPoint>, bool) {
        let field = |f: &str| format!("test_scenarios[{i}].{f}");
        let in_range = |b: usize| (1..=MAX_BATCH_SIZE).contains(&b);
        let spec = match &s.batch_size.value {
            BatchSpec::Auto => BatchSpec::One(self.auto.batch_size),
            other => other.clone(),
        };
        match &spec {
            BatchSpec::Auto => unreachable!("resolved above"),
            BatchSpec::One(b) => {
                if !in_range(*b) {
                    let e = self.at(&s.batch_size, field("batch_size"), format!("batch_size {b} is impossible"));
                    self.err(e.fix(format!("use 1..={MAX_BATCH_SIZE}")));
                }
                if let Some(t) = &s.num_texts {
                    let e = self.at(t, field("num_texts"), "num_texts applies to batch-size sweeps only");
                    self.err(e.fix("use num_requests, or give batch_size a list of sizes"));
                }
                let num_requests = match &s.num_requests {
                    Some(n) => n.value,
                    None => {
                        let e = self.at(&s.name, field("num_requests"), "the scenario needs num_requests");
                        self.err(e.fix("add e.g. 'num_requests: 200'"));
                        1
                    }
                };
                (vec![BatchPoint { batch_size: *b, num_requests }], false)
            }
            BatchSpec::Sweep(sizes) => {
                let mut sorted = sizes.clone();
                sorted.sort_unstable();
                sorted.dedup();
                if sizes.is_empty() || sorted.len() != sizes.len() || !sizes.iter().all(|&b| in_range(b)) {
                    let e = self.at(
                        &s.batch_size,
                        field("batch_size"),
                        format!("batch-size sweep {sizes:?} must list distinct sizes in 1..={MAX_BATCH_SIZE}"),
                    );
                    self.err(e.fix("e.g. 'batch_size: [1, 8, 32]', or 'batch_size: sweep' for 1, 4, ..., 256"));
                }
                let per_point = |b: usize| match (&s.num_requests, &s.num_texts) {
                    (Some(n), None) => n.value,
                    (None, Some(t)) => t.value.div_ceil(b).max(MIN_SWEEP_REQUESTS),
                    _ => 1,
                };
                if s.num_requests.is_some() == s.num_texts.is_some() {
                    let e = self.at(
                        &s.name,
                        field("num_texts"),
                        "a batch-size sweep needs one of num_texts or num_requests",
                    );
                    self.err(
                        e.fix("add e.g. 'num_texts: 1024' (the same texts at every size), or 'num_requests' per size"),
                    );
                }
                (sorted.iter().map(|&b| BatchPoint { batch_size: b, num_requests: per_point(b) }).collect(), true)
            }
        }
    }

    fn cache(&mut self, i: usize, c: &Spanned<CacheSpec>, sweep: bool, mode: &Mode) -> ResolvedCache {
        let field = format!("test_scenarios[{i}].cache");
        let fail = |v: &mut Self, msg: String, fix: &str| {
            let e = v.at(c, field.clone(), msg);
            v.err(e.fix(fix));
        };
        let spec = &c.value;
        if sweep {
            fail(self, "a cache scenario takes one batch size, not a sweep".into(), "set batch_size to one number");
        }
        if *mode != Mode::ClosedLoop {
            fail(self, format!("a cache scenario runs closed loop, not {}", mode.name()), "remove 'mode'");
        }
        if spec.repeat_ratios.is_empty() || !spec.repeat_ratios.iter().all(|r| (0.0..1.0).contains(r)) {
            fail(
                self,
                format!("repeat_ratios {:?} must be a non-empty list of fractions in [0, 1)", spec.repeat_ratios),
                "e.g. 'repeat_ratios: [0.0, 0.2, 0.8]'",
            );
        }
        if !(spec.zipf_exponent.is_finite() && spec.zipf_exponent > 0.0) {
            fail(
                self,
                format!("zipf_exponent {} is impossible", spec.zipf_exponent),
                "use a positive number, e.g. 1.0",
            );
        }
        let limit = match (spec.capacity_entries, spec.capacity_mb) {
            (Some(_), Some(_)) => {
                fail(self, "give capacity_entries or capacity_mb, not both".into(), "remove one of them");
                CacheLimit::Entries(1)
            }
            (Some(n), None) if n >= 1 => CacheLimit::Entries(n),
            (None, Some(mb)) if mb.is_finite() && mb > 0.0 => CacheLimit::Bytes((mb * 1024.0 * 1024.0) as usize),
            (None, None) => CacheLimit::Bytes((DEFAULT_CACHE_MB * 1024.0 * 1024.0) as usize),
            _ => {
                fail(
                    self,
                    "the cache capacity must be positive".into(),
                    "use capacity_entries >= 1 or capacity_mb > 0",
                );
                CacheLimit::Entries(1)
            }
        };
        ResolvedCache {
            repeat_ratios: spec.repeat_ratios.clone(),
            distribution: spec.distribution,
            zipf_exponent: spec.zipf_exponent,
            limit,
            seed: spec.seed,
        }
    }

    fn backend_filter(&mut self, i: usize, list: &[Spanned<String>], labels: &[String]) -> Vec<String> {
        for (j, l) in list.iter().enumerate() {
            if !labels.contains(&l.value) {
                let hint = closest(&l.value, labels).map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default();
                let e = self.at(
                    l,
                    format!("test_scenarios[{i}].backends[{j}]"),
                    format!("backend '{}' is not in the backends list{hint}", l.value),
                );
                self.err(e.fix(format!("use labels from 'backends': {}", labels.join(", "))));
            }
        }
        list.iter().map(|l| l.value.clone()).collect()
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
}
