//! Runs every cell of a plan, writing each result the moment it exists.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use embench_core::config::{ResolvedBackend, ResolvedModel};
use embench_core::dataset::TextSource;
use embench_core::{BackendKind, EmbedError, Embedder, Phase};

use crate::cell::{run_cell, CellProgress, CellSetup};
use crate::gate::Gate;
use crate::inputs::{InputFactory, PreparedInputs};
use crate::manifest::BackendVersion;
use crate::plan::RunPlan;
use crate::results::{CellRecord, ResultsWriter};

/// Builds backends; the binary implements it with one arm per compiled-in backend.
pub trait BackendFactory: Sync {
    /// Loads a fresh instance of `model` on `backend`.
    fn load(&self, backend: &ResolvedBackend, model: &ResolvedModel) -> Result<Box<dyn Embedder>, EmbedError>;
    /// Every backend and whether (and with which library version) it is compiled in.
    fn versions(&self) -> Vec<BackendVersion>;
}

/// Follows a run (progress bars, logs).
pub trait RunObserver {
    /// A cell is about to start; returns its progress sink.
    fn cell_started(&self, index: usize, total: usize, label: &str, requests: u64) -> Box<dyn CellProgress + '_>;
    /// A cell ended and its record is on disk.
    fn cell_finished(&self, record: &CellRecord);
}

/// Why a run stopped before its cells were done.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The dataset file could not be read or parsed.
    #[error("dataset: {0}")]
    Dataset(String),
    /// A result could not be written (nothing after it was run).
    #[error("writing {path}: {source}")]
    Write {
        /// The results file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// How a run ended.
#[derive(Debug)]
pub struct RunOutcome {
    /// Every record written, in order.
    pub records: Vec<CellRecord>,
    /// Cells not run because a stop was requested.
    pub skipped: usize,
}

/// Runs the cells of `plan` in order until done or until `stop` is set (checked between cells).
pub fn execute(
    plan: &RunPlan,
    factory: &dyn BackendFactory,
    writer: &mut ResultsWriter,
    observer: &dyn RunObserver,
    stop: &AtomicBool,
) -> Result<RunOutcome, RunError> {
    let source = match &plan.config.dataset.path {
        Some(p) => TextSource::from_file(p).map_err(RunError::Dataset)?,
        None => TextSource::Synthetic { seed: plan.config.dataset.seed },
    };
    let mut inputs = InputFactory::new(source);
    // One gate per model, read once: the probe set and its reference embeddings.
    let gates: Vec<Result<Option<Gate>, String>> = plan.config.models.iter().map(Gate::for_model).collect();
    let mut records = Vec::new();
    let total = plan.cells.len();
    for (index, cell) in plan.cells.iter().enumerate() {
        if stop.load(Ordering::Relaxed) {
            return Ok(RunOutcome { records, skipped: total - index });
        }
        let (model, backend, scenario) = (plan.model(cell), plan.backend(cell), plan.scenario(cell));
        let label = format!(
            "{} / {} / {} / c={} b={} seq={}",
            model.key, backend.label, scenario.name, scenario.concurrency, scenario.batch_size, cell.seq_len
        );
        let progress = observer.cell_started(index, total, &label, scenario.num_requests as u64);
        // A cell whose inputs cannot be made is recorded as failed at load, not skipped.
        let (prepared, prep_error) =
            match inputs.prepare(model, cell.seq_len, scenario.batch_size, scenario.num_requests) {
                Ok(p) => (p, None),
                Err(e) => (Arc::new(PreparedInputs::empty()), Some(e)),
            };
        let gate = match (backend.kind, &gates[cell.model]) {
            (BackendKind::Mock, _) => None,
            (_, Ok(Some(g))) => Some(Ok(g)),
            (_, Ok(None)) => Some(Err(match &model.folder {
                Some(f) => format!(
                    "{} does not exist (fix: scripts/convert_models.sh {} writes it)",
                    f.reference().display(),
                    model.key
                ),
                None => "the model has no local folder".to_string(),
            })),
            (_, Err(e)) => Some(Err(format!("reference embeddings unreadable: {e}"))),
        };
        let setup = CellSetup {
            model: &model.key,
            backend: &backend.label,
            framework: backend.kind.name(),
            requested_precision: backend.precision,
            gate,
            scenario,
            seq_len: cell.seq_len,
            warmup_requests: plan.config.warmup_requests,
            inputs: &prepared,
        };
        let load = || match &prep_error {
            Some(e) => Err(EmbedError::new("inputs", Phase::Load, format!("could not prepare inputs: {e}"))),
            None => factory.load(backend, model),
        };
        let record = run_cell(&setup, &load, progress.as_ref());
        drop(progress);
        writer
            .append(&record)
            .map_err(|source| RunError::Write { path: writer.path().display().to_string(), source })?;
        observer.cell_finished(&record);
        records.push(record);
    }
    Ok(RunOutcome { records, skipped: 0 })
}
