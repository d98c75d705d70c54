//! Runs every cell of a plan, writing each result the moment it exists.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use embench_core::config::{BatchPoint, DeviceKind, ResolvedBackend, ResolvedModel, ResolvedScenario, SeqLen};
use embench_core::dataset::TextSource;
use embench_core::oversubscription::oversubscription_warning;
use embench_core::{EmbedError, Embedder, Modality, Phase};
use embench_schema::manifest::BackendVersion;
use embench_schema::record::{CellRecord, Fallback, WorkerFailure};
use embench_schema::RecordSink;

use crate::cell::cache::run_cache_cell;
use crate::cell::gate::Gate;
use crate::cell::guard::Truncation;
use crate::cell::inputs::{InputFactory, PreparedInputs};
use crate::cell::record::{assemble, CellParts, Verdict};
use crate::cell::retrieval::RetrievalSetup;
use crate::cell::run::{run_cell, skipped_record};
use crate::cell::served::ServingPlan;
use crate::cell::setup::RecordContext;
use crate::cell::setup::{on_passing_thread, CellProgress, CellSetup};
use crate::machine::resources::available_memory_mb;
use crate::run::estimate::ModelShape;
use crate::run::plan::{Cell, RunPlan};

/// Builds backends; the binary implements it with one arm per compiled-in backend.
pub trait BackendFactory: Sync {
    /// Loads a fresh instance of `model` on `backend`.
    fn load(
        &self,
        backend: &ResolvedBackend,
        model: &ResolvedModel,
        modality: Modality,
    ) -> Result<Box<dyn Embedder>, EmbedError>;
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

/// Share of the memory budget a cell may plan to use.
pub const MEMORY_HEADROOM: f64 = 0.85;

/// How a run ended.
#[derive(Debug)]
pub struct RunOutcome {
    /// Every record written, in order.
    pub records: Vec<CellRecord>,
    /// Cells not run because a stop was requested.
    pub skipped: usize,
}

/// No inputs, for cells that fail before they could use any.
static NO_INPUTS: PreparedInputs = PreparedInputs::empty();

/// Runs the cells of `plan` in order until done or until `stop` is set (checked between cells).
pub fn execute(
    plan: &RunPlan,
    factory: &dyn BackendFactory,
    sink: &mut dyn RecordSink,
    observer: &dyn RunObserver,
    stop: &AtomicBool,
) -> Result<RunOutcome, RunError> {
    let all: Vec<usize> = (0..plan.cells.len()).collect();
    execute_cells(plan, &all, factory, sink, observer, stop)
}

/// The setup of plan cell `cell` before its inputs and gate are known.
fn base_setup(plan: &RunPlan, index: usize, memory_estimate_mb: Option<f64>) -> CellSetup<'_> {
    let cell = &plan.cells[index];
    let (model, backend, scenario) = (plan.model(cell), plan.backend(cell), plan.scenario(cell));
    let budget_mb = plan.config.memory_budget_mb.unwrap_or_else(available_memory_mb);
    CellSetup {
        model: &model.key,
        architecture: model.architecture,
        truncation: model.truncate_dim.map(|dim| Truncation { dim, normalize: model.pooling.normalize }),
        backend: &backend.label,
        framework: backend.kind.name(),
        requested_precision: backend.precision,
        gate: None,
        retrieval: None,
        quality: plan.config.quality,
        scenario,
        seq_len: cell.seq_len,
        point: cell.point,
        memory_estimate_mb,
        warmup_requests: scenario.warmup_requests.unwrap_or(plan.config.warmup_requests),
        inputs: &NO_INPUTS,
        threads: backend.threads,
        cost: &plan.config.cost,
        memory_warn_mb: plan.config.memory_warn_mb.unwrap_or(MEMORY_HEADROOM * budget_mb),
        max_concurrent_loads: plan.config.max_concurrent_loads,
        context: RecordContext {
            cell: Some(index),
            auto_resolved: auto_resolved(plan, cell),
            // The mock and the echo worker have no intra-op threads to speak of.
            threads_auto: backend.threads.is_none() && backend.kind.needs_model_files(),
            image_side: (scenario.modality == Modality::Image).then(|| image_side(model)).flatten(),
            ..Default::default()
        },
    }
}

/// A multimodal model's image side: its `config.json`'s `vision_config.image_size`
/// (transformers' default when omitted), else models.yaml's `image_size`.
fn image_side(model: &ResolvedModel) -> Option<usize> {
    let config = model.folder.as_ref().and_then(|f| std::fs::read_to_string(f.config_json()).ok());
    let json = config.and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok());
    let vision = json.and_then(|j| embench_core::tower_config::tower_of(&j, Modality::Image));
    vision.and_then(|v| v["image_size"].as_u64()).map(|n| n as usize).or(model.config.image_size)
}

/// The record of plan cell `index` whose worker process did not deliver it.
pub fn failure_record(plan: &RunPlan, index: usize, failure: WorkerFailure, reason: String) -> CellRecord {
    let cell = &plan.cells[index];
    let setup = base_setup(plan, index, None);
    let mut verdict = Verdict::default();
    verdict.fail(reason);
    if let Some(r) = plan.repeat_ratio(cell) {
        verdict.warn(format!("cache cell at repeat ratio {r} lost all its phases"));
    }
    let parts = CellParts { worker_failure: Some(failure), verdict, ..Default::default() };
    assemble(&setup, parts, &setup.context, 1)
}

/// The record of plan cell `index`, which the config skips (`reason`) without running it.
pub fn planned_skip_record(plan: &RunPlan, index: usize, reason: &str) -> CellRecord {
    skipped_record(&base_setup(plan, index, None), reason.to_string())
}

/// The label of plan cell `index` in progress lines and messages.
pub fn cell_label(plan: &RunPlan, index: usize) -> String {
    let cell = &plan.cells[index];
    let (model, backend, scenario) = (plan.model(cell), plan.backend(cell), plan.scenario(cell));
    let input = match scenario.modality {
        Modality::Text => format!("seq={}", cell.seq_len),
        Modality::Image => "images".to_string(),
    };
    format!(
        "{} / {} / {} / c={} b={} {input}{}",
        model.key,
        backend.label,
        scenario.name,
        scenario.concurrency,
        cell.point.batch_size,
        plan.repeat_ratio(cell).map(|r| format!(" repeats={r}")).unwrap_or_default()
    )
}

/// Runs the plan cells `selection` (indices, in order), as [`execute`] does.
pub fn execute_cells(
    plan: &RunPlan,
    selection: &[usize],
    factory: &dyn BackendFactory,
    sink: &mut dyn RecordSink,
    observer: &dyn RunObserver,
    stop: &AtomicBool,
) -> Result<RunOutcome, RunError> {
    let source = match &plan.config.dataset.path {
        Some(p) => TextSource::from_file(p).map_err(RunError::Dataset)?,
        None => TextSource::Synthetic { seed: plan.config.dataset.seed },
    };
    let mut inputs = InputFactory::new(source, plan.config.dataset.images.clone());
    // One gate per model, read once: the probe sets and their reference embeddings,
    // made first at the fixed lengths the selected cells use where they are missing.
    let to_run: Vec<usize> =
        selection.iter().copied().filter(|&i| plan.skip_reason(&plan.cells[i]).is_none()).collect();
    make_references(plan, &to_run);
    let mut gates: BTreeMap<(usize, Option<String>), Result<Option<Gate>, String>> = BTreeMap::new();
    for &i in &to_run {
        let cell = &plan.cells[i];
        let prompt = plan.scenario(cell).prompt.clone();
        gates
            .entry((cell.model, prompt))
            .or_insert_with_key(|(m, p)| Gate::for_model(&plan.config.models[*m], p.as_deref()));
    }
    // One retrieval corpus per model, read once (only when a cell may run the check).
    let mut corpora: BTreeMap<usize, Result<Option<RetrievalSetup>, String>> = BTreeMap::new();
    for &i in &to_run {
        let cell = &plan.cells[i];
        let precision = plan.backend(cell).precision;
        if plan.scenario(cell).modality == Modality::Text && plan.config.quality.bound(precision).is_some() {
            corpora.entry(cell.model).or_insert_with(|| RetrievalSetup::for_model(&plan.config.models[cell.model]));
        }
    }
    // Each model's shape per tower (a text model's is the same for both).
    let shapes: Vec<[ModelShape; 2]> =
        plan.config.models.iter().map(|m| Modality::ALL.map(|modality| ModelShape::of_tower(m, modality))).collect();
    let shape_of = |cell: &Cell| &shapes[cell.model][usize::from(plan.scenario(cell).modality == Modality::Image)];
    let mut records = Vec::new();
    let total = plan.cells.len();
    for (done, &index) in selection.iter().enumerate() {
        if stop.load(Ordering::Relaxed) {
            return Ok(RunOutcome { records, skipped: selection.len() - done });
        }
        let cell = &plan.cells[index];
        if let Some(reason) = plan.skip_reason(cell) {
            write(sink, observer, &mut records, index, vec![planned_skip_record(plan, index, reason)])?;
            continue;
        }
        // Free heap the previous cell left behind goes back to the OS (the process keeps
        // up to 128 MiB otherwise; see embench's main), so this cell's memory is its own.
        // SAFETY: malloc_trim only releases free memory; it has no preconditions.
        unsafe { libc::malloc_trim(0) };
        let (model, backend, scenario) = (plan.model(cell), plan.backend(cell), plan.scenario(cell));
        let prompt = scenario.prompt.as_deref();
        let ratio = plan.repeat_ratio(cell);
        let label = cell_label(plan, index);
        // Cache cells run their phases one after another, each counting from zero.
        let progress = observer.cell_started(index, total, &label, cell.point.num_requests as u64);
        let estimate_mb = estimate_mb(shape_of(cell), model, backend, cell, scenario);
        let budget_mb = plan.config.memory_budget_mb.unwrap_or_else(available_memory_mb);
        let mut setup = base_setup(plan, index, Some(estimate_mb));
        if estimate_mb > MEMORY_HEADROOM * budget_mb {
            let reason = format!(
                "estimated {estimate_mb:.0} MiB (weights + activations of batch {} x {} tokens x {} clients) is over {:.0} % of the {budget_mb:.0} MiB available (fix: a smaller batch or sequence length, or set input_config.memory_budget_mb)",
                cell.point.batch_size, cell.seq_len, scenario.concurrency, MEMORY_HEADROOM * 100.0
            );
            drop(progress);
            write(sink, observer, &mut records, index, vec![skipped_record(&setup, reason)])?;
            continue;
        }
        // A cell whose inputs cannot be made is recorded as failed at load, not skipped.
        let modality = scenario.modality;
        let made = match modality {
            Modality::Image => inputs.prepare_images(
                model,
                cell.point.batch_size,
                cell.point.num_requests,
                scenario.include_preprocessing,
            ),
            Modality::Text => {
                inputs.prepare(model, prompt, cell.seq_len, cell.point.batch_size, cell.point.num_requests)
            }
        };
        let (prepared, mut prep_error) = match made {
            Ok(p) => (p, None),
            Err(e) => (Arc::new(PreparedInputs::empty()), Some(e)),
        };
        setup.inputs = &prepared;
        setup.gate = match (backend.kind, &gates[&(cell.model, scenario.prompt.clone())]) {
            (kind, _) if !kind.checks_correctness() => None,
            (_, Ok(None)) if model.folder.is_none() => Some(Err(format!(
                "model '{}' has no local folder: nothing to check the endpoint's vectors against (fix: give it a 'path' with its converted folder)",
                model.key
            ))),
            (_, Ok(Some(g))) => Some(Ok(g)),
            (_, Ok(None)) => Some(Err(match &model.folder {
                Some(f) if prompt.is_some() && f.reference().is_file() => format!(
                    "{} does not exist and could not be made (fix: scripts/python/make_references.py {} --natural --prompt-name {}, with the project venv's python)",
                    f.reference_for(prompt, None).display(),
                    f.root.display(),
                    prompt.unwrap_or_default()
                ),
                Some(f) => format!(
                    "{} does not exist (fix: scripts/convert_models.sh {} writes it)",
                    f.reference().display(),
                    model.key
                ),
                None => "the model has no local folder".to_string(),
            })),
            (_, Err(e)) => Some(Err(format!("reference embeddings unreadable: {e}"))),
        };
        setup.retrieval = match corpora.get(&cell.model) {
            _ if !backend.kind.checks_correctness() || modality != Modality::Text => None,
            Some(Ok(Some(r))) => Some(Ok(r)),
            Some(Err(e)) => Some(Err(e.clone())),
            // No corpus: a model without one (multimodal, no folder), or a precision
            // `quality.retrieval_check` leaves out.
            Some(Ok(None)) | None => None,
        };
        let cache_inputs = match (&scenario.cache, ratio) {
            (Some(spec), Some(r)) if prep_error.is_none() => {
                match inputs.prepare_cache(model, prompt, cell.seq_len, cell.point, r, spec) {
                    Ok(c) => Some((spec, r, c)),
                    Err(e) => {
                        prep_error = Some(e);
                        None
                    }
                }
            }
            _ => None,
        };
        // Served cells have their serving plan's warning; direct ones, the backend's own products.
        let oversubscribed = scenario
            .execution
            .is_none()
            .then(|| oversubscription_warning(backend, scenario.concurrency, crate::machine::host::effective_cores()))
            .flatten();
        setup.context.shape = Some(shape_of(cell));
        setup.context.peaks = plan.peaks.as_ref();
        setup.context.warnings.extend(oversubscribed);
        let load = |threads: Option<usize>| match &prep_error {
            Some(e) => Err(EmbedError::new("inputs", Phase::Load, format!("could not prepare inputs: {e}"))),
            None if threads.is_some() && threads != backend.threads => {
                factory.load(&ResolvedBackend { threads, ..backend.clone() }, model, modality)
            }
            None => factory.load(backend, model, modality),
        };
        // Each cell on a fresh thread: no backend's per-thread state carries over.
        let mut cell_records = on_passing_thread(|| match &cache_inputs {
            Some((spec, r, c)) => run_cache_cell(&setup, model, spec, *r, c, &load, progress.as_ref()),
            None => vec![run_cell(&setup, &load, progress.as_ref())],
        });
        // Degrade before failing: a GPU out of memory retries on the CPU with a quarter of the batch.
        if backend.device == DeviceKind::Cuda && cache_inputs.is_none() && is_out_of_memory(&cell_records[0]) {
            let point = BatchPoint { batch_size: (cell.point.batch_size / 4).max(1), ..cell.point };
            let made = match modality {
                Modality::Image => {
                    inputs.prepare_images(model, point.batch_size, point.num_requests, scenario.include_preprocessing)
                }
                Modality::Text => inputs.prepare(model, prompt, cell.seq_len, point.batch_size, point.num_requests),
            };
            if let Ok(fallback_inputs) = made {
                let cpu = ResolvedBackend { device: DeviceKind::Cpu, ..backend.clone() };
                let load_cpu = |threads: Option<usize>| {
                    factory.load(&ResolvedBackend { threads: threads.or(cpu.threads), ..cpu.clone() }, model, modality)
                };
                let mut retry = CellSetup { point, inputs: &fallback_inputs, ..setup.clone() };
                retry.context.fallback = Some(Fallback {
                    from_device: "cuda".into(),
                    from_batch_size: cell.point.batch_size,
                    to_device: "cpu".into(),
                    to_batch_size: point.batch_size,
                    reason: cell_records[0].invalid_reason.clone().unwrap_or_default(),
                });
                cell_records = vec![on_passing_thread(|| run_cell(&retry, &load_cpu, progress.as_ref()))];
            }
        }
        drop(progress);
        write(sink, observer, &mut records, index, cell_records)?;
    }
    Ok(RunOutcome { records, skipped: 0 })
}

/// Makes the reference sets each model lacks, for each scenario prompt, at the fixed
/// sequence lengths of the `selection`'s gated cells (and at natural length with a
/// prompt; see [`crate::cell::gate::make_missing_references`]). One that cannot be
/// made is said here, and each cell it concerns carries the gate's warning.
fn make_references(plan: &RunPlan, selection: &[usize]) {
    let python = std::env::var_os("EMBENCH_PYTHON")
        .map(std::path::PathBuf::from)
        .or_else(embench_core::runtime_lib::venv_python);
    let mut wanted: BTreeMap<(usize, Option<String>), Vec<usize>> = BTreeMap::new();
    for cell in selection.iter().map(|&i| &plan.cells[i]).filter(|c| plan.backend(c).kind.checks_correctness()) {
        let lens = wanted.entry((cell.model, plan.scenario(cell).prompt.clone())).or_default();
        if let SeqLen::Tokens(n) = cell.seq_len {
            lens.push(n);
        }
    }
    for ((m, prompt), mut lens) in wanted {
        let model = &plan.config.models[m];
        lens.sort_unstable();
        lens.dedup();
        if let Err(why) = crate::cell::gate::make_missing_references(model, &lens, prompt.as_deref(), python.as_deref())
        {
            eprintln!("warning: model {}: could not make reference embeddings {why}", model.key);
        }
    }
}

/// What the config's `auto` settings resolved to, and why (threads: see [`RecordContext::threads_auto`]).
fn auto_resolved(plan: &RunPlan, cell: &Cell) -> BTreeMap<String, String> {
    let (backend, scenario, auto) = (plan.backend(cell), plan.scenario(cell), &plan.config.auto);
    let mut resolved = BTreeMap::new();
    if scenario.batch_auto {
        let v = format!("{} (the machine's recommendation: {})", cell.point.batch_size, auto.why);
        resolved.insert("batch_size".into(), v);
    }
    if backend.device_auto {
        let device = if backend.device == DeviceKind::Cuda { "cuda" } else { "cpu" };
        let why = if backend.kind.runs_on_cuda() {
            auto.why.clone()
        } else {
            format!("{} runs on the CPU in embench", backend.kind)
        };
        resolved.insert("device".into(), format!("{device} ({why})"));
    }
    resolved
}

/// Whether a failed record failed for lack of (GPU) memory, by the messages the
/// frameworks give (CUDA, cuDNN/cuBLAS allocators, ONNX Runtime's arena).
fn is_out_of_memory(record: &CellRecord) -> bool {
    let messages = record.error_messages.keys().map(String::as_str);
    let reason = std::iter::once(record.invalid_reason.as_deref().unwrap_or_default())
        .chain(messages)
        .collect::<Vec<_>>()
        .join("\n")
        .to_ascii_lowercase();
    !record.valid
        && ["out of memory", "cuda_error_out_of_memory", "failed to allocate memory", "cublas_status_alloc_failed"]
            .iter()
            .any(|p| reason.contains(p))
}

/// Appends the records of plan cell `cell` to the sink (durably) and to `records`.
pub(crate) fn write(
    sink: &mut dyn RecordSink,
    observer: &dyn RunObserver,
    records: &mut Vec<CellRecord>,
    cell: usize,
    new: Vec<CellRecord>,
) -> Result<(), RunError> {
    for record in new {
        sink.append(&record).map_err(|source| RunError::Write { path: sink.describe(), source })?;
        observer.cell_finished(&record);
        records.push(record);
    }
    sink.cell_done(cell).map_err(|source| RunError::Write { path: sink.describe(), source })
}

/// The pre-flight memory estimate of `cell`, MiB: natural-length inputs are
/// counted at the model's maximum length; replicas each hold their weights, and
/// dynamic batching runs batches of up to its maximum.
fn estimate_mb(
    shape: &ModelShape,
    model: &ResolvedModel,
    backend: &ResolvedBackend,
    cell: &crate::run::plan::Cell,
    scenario: &ResolvedScenario,
) -> f64 {
    if backend.kind == embench_core::BackendKind::Http {
        // The model's memory is the server's; the client holds requests and answers.
        return 0.0;
    }
    let seq = match (shape.fixed_seq, cell.seq_len) {
        (Some(n), _) | (None, SeqLen::Tokens(n)) => n,
        (None, SeqLen::Natural) => model.config.max_seq_length.value,
    };
    let b = cell.point.batch_size;
    let (copies, batch, in_flight) = match &scenario.execution {
        Some(e) => {
            let p =
                ServingPlan::resolve(e, scenario.concurrency, backend.threads, crate::machine::host::effective_cores());
            (p.replicas, p.batching.map_or(b, |d| d.max_batch_size.max(b)), p.replicas * p.workers_per_model)
        }
        None => (1, b, scenario.concurrency),
    };
    let bytes = shape.cell_bytes(batch, seq, 4, in_flight) + (copies as u64 - 1) * shape.weight_bytes();
    bytes as f64 / (1024.0 * 1024.0)
}
