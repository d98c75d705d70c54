//! The cells of a run: every model × backend × scenario × sequence length,
//! and within a scenario every batch size of a sweep or repeat ratio of a cache scenario.

pub use embench_schema::CellFilter;

use embench_core::config::{BatchPoint, LoadedConfig, ResolvedBackend, ResolvedModel, ResolvedScenario, SeqLen};

/// One measured combination, by index into the config's lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    /// Index into [`LoadedConfig::models`].
    pub model: usize,
    /// Index into [`LoadedConfig::backends`].
    pub backend: usize,
    /// Index into [`LoadedConfig::scenarios`].
    pub scenario: usize,
    /// The sequence length.
    pub seq_len: SeqLen,
    /// The batch size and request count.
    pub point: BatchPoint,
    /// Cache scenarios: index into the scenario's repeat ratios.
    pub repeat: Option<usize>,
}

/// A validated config and the cells it asks for, in run order (grouped by model, then backend).
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// The config.
    pub config: LoadedConfig,
    /// The cells.
    pub cells: Vec<Cell>,
    /// This machine's matrix-multiply peaks, when measured (`embench sysinfo --peak`).
    pub peaks: Option<crate::machine::peak::Peaks>,
}

impl RunPlan {
    /// Expands `config` into cells.
    pub fn new(config: LoadedConfig) -> Self {
        let mut cells = Vec::new();
        for model in 0..config.models.len() {
            for backend in 0..config.backends.len() {
                for (scenario, s) in config.scenarios.iter().enumerate() {
                    if !s.runs_on(&config.backends[backend].label) {
                        continue;
                    }
                    let repeats: Vec<Option<usize>> = match &s.cache {
                        Some(c) => (0..c.repeat_ratios.len()).map(Some).collect(),
                        None => vec![None],
                    };
                    // An image cell's input size is the model's: it runs once per batch size
                    // (its `seq_len` stays `natural`, and its record says `image`).
                    // An http backend on a model without a local tokenizer sends the dataset's
                    // texts as they are: it cannot cut them to a length, so it runs `natural` once.
                    let untokenized = config.backends[backend].kind == embench_core::BackendKind::Http
                        && !config.models[model].folder.as_ref().is_some_and(|f| f.tokenizer_json().is_file());
                    let lens = match s.modality {
                        embench_core::Modality::Image => vec![SeqLen::Natural],
                        embench_core::Modality::Text if untokenized => vec![SeqLen::Natural],
                        embench_core::Modality::Text => config.sequence_lengths.clone(),
                    };
                    for &seq_len in &lens {
                        for &point in &s.points {
                            for &repeat in &repeats {
                                cells.push(Cell { model, backend, scenario, seq_len, point, repeat });
                            }
                        }
                    }
                }
            }
        }
        Self { config, cells, peaks: None }
    }

    /// The model of `cell`.
    pub fn model(&self, cell: &Cell) -> &ResolvedModel {
        &self.config.models[cell.model]
    }

    /// The backend of `cell`.
    pub fn backend(&self, cell: &Cell) -> &ResolvedBackend {
        &self.config.backends[cell.backend]
    }

    /// The repeat ratio of a cache-scenario `cell`.
    pub fn repeat_ratio(&self, cell: &Cell) -> Option<f64> {
        let cache = self.scenario(cell).cache.as_ref()?;
        cell.repeat.map(|i| cache.repeat_ratios[i])
    }

    /// Why `cell` is recorded as SKIPPED instead of run (the config's
    /// [`LoadedConfig::skip_reason`]), None when it runs.
    pub fn skip_reason(&self, cell: &Cell) -> Option<&str> {
        let (model, backend, scenario) = (self.model(cell), self.backend(cell), self.scenario(cell));
        self.config.skip_reason(&model.key, &backend.label, &scenario.name, cell.seq_len)
    }

    /// The scenario of `cell`.
    pub fn scenario(&self, cell: &Cell) -> &ResolvedScenario {
        &self.config.scenarios[cell.scenario]
    }
}

/// Checks a [`CellFilter`] against a plan.
pub trait PlanFilter {
    /// Every name that is not in `plan`'s config, with the names there are (and a
    /// near miss); names are case-sensitive.
    fn check(&self, plan: &RunPlan) -> Result<(), String>;
    /// Whether `cell` of `plan` is chosen.
    fn selects(&self, plan: &RunPlan, cell: &Cell) -> bool;
}

impl PlanFilter for CellFilter {
    fn check(&self, plan: &RunPlan) -> Result<(), String> {
        let c = &plan.config;
        let lists: [(&str, &[String], Vec<String>); 3] = [
            ("--model", &self.models, c.models.iter().map(|m| m.key.clone()).collect()),
            ("--backend", &self.backends, c.backends.iter().map(|b| b.label.clone()).collect()),
            ("--scenario", &self.scenarios, c.scenarios.iter().map(|s| s.name.clone()).collect()),
        ];
        let mut problems = Vec::new();
        for (flag, asked, known) in lists {
            for name in asked.iter().filter(|n| !known.contains(n)) {
                let hint = embench_core::config::closest(name, &known)
                    .map(|s| format!(" (did you mean '{s}'?)"))
                    .unwrap_or_default();
                problems.push(format!("{flag} {name}: not in the config{hint}; it has {}", known.join(", ")));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n"))
        }
    }

    fn selects(&self, plan: &RunPlan, cell: &Cell) -> bool {
        let pick = |list: &[String], name: &str| list.is_empty() || list.iter().any(|n| n == name);
        pick(&self.models, &plan.model(cell).key)
            && pick(&self.backends, &plan.backend(cell).label)
            && pick(&self.scenarios, &plan.scenario(cell).name)
    }
}
