//! The cells of a run: every model × backend × scenario × sequence length.

use embench_core::config::{LoadedConfig, ResolvedBackend, ResolvedModel, ResolvedScenario, SeqLen};

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
}

/// A validated config and the cells it asks for, in run order (grouped by model, then backend).
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// The config.
    pub config: LoadedConfig,
    /// The cells.
    pub cells: Vec<Cell>,
}

impl RunPlan {
    /// Expands `config` into cells.
    pub fn new(config: LoadedConfig) -> Self {
        let mut cells = Vec::new();
        for model in 0..config.models.len() {
            for backend in 0..config.backends.len() {
                for scenario in 0..config.scenarios.len() {
                    for &seq_len in &config.sequence_lengths {
                        cells.push(Cell { model, backend, scenario, seq_len });
                    }
                }
            }
        }
        Self { config, cells }
    }

    /// The model of `cell`.
    pub fn model(&self, cell: &Cell) -> &ResolvedModel {
        &self.config.models[cell.model]
    }

    /// The backend of `cell`.
    pub fn backend(&self, cell: &Cell) -> &ResolvedBackend {
        &self.config.backends[cell.backend]
    }

    /// The scenario of `cell`.
    pub fn scenario(&self, cell: &Cell) -> &ResolvedScenario {
        &self.config.scenarios[cell.scenario]
    }
}
