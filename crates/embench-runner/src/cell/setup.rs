//! What a cell is given: its setup (model, backend, scenario, shape, inputs,
//! gate), how it loads a model instance, how progress is shown, and what the run
//! knows about it for its record.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;

use embench_core::config::{BatchPoint, Cost, Quality, ResolvedScenario, SeqLen};
use embench_core::{Architecture, EmbedError, Embedder, Precision};
use embench_schema::record::Fallback;

use crate::cell::gate::Gate;
use crate::cell::inputs::PreparedInputs;
use crate::cell::retrieval::RetrievalSetup;
use crate::machine::peak::Peaks;
use crate::run::estimate::ModelShape;

/// Loads a fresh model instance for a cell, with this many intra-op threads
/// when given (replicas share the cores), else the backend's own setting.
pub type ModelLoader<'a> = dyn Fn(Option<usize>) -> Result<Box<dyn Embedder>, EmbedError> + Sync + 'a;

/// Lets a display follow a cell.
pub trait CellProgress: Sync {
    /// The cell entered a phase (`loading`, `warm-up`, `measuring`).
    fn phase(&self, _phase: &str) {}
    /// The counter through which requests are handed out (read it to show progress).
    fn counter(&self) -> &AtomicU64;
}

/// What a cell measures, and on which inputs.
#[derive(Clone)]
pub struct CellSetup<'a> {
    /// Model key.
    pub model: &'a str,
    /// The model's network family, when known.
    pub architecture: Option<Architecture>,
    /// Matryoshka truncation of the model's vectors (None: whole vectors).
    pub truncation: Option<crate::cell::guard::Truncation>,
    /// Backend label (its name unless the config gave a label).
    pub backend: &'a str,
    /// Backend kind, e.g. `openvino` (for records of cells that fail before load).
    pub framework: &'a str,
    /// Precision the config asked for.
    pub requested_precision: Precision,
    /// The correctness gate, or why there is none (None: not applicable, e.g. the mock).
    pub gate: Option<Result<&'a Gate, String>>,
    /// The retrieval-agreement check's corpus, or why the model has none (None: not
    /// applicable: the mock, an image cell, a model without a folder).
    pub retrieval: Option<Result<&'a RetrievalSetup, String>>,
    /// Which cells run that check and the recall@10 they must keep.
    pub quality: Quality,
    /// The scenario.
    pub scenario: &'a ResolvedScenario,
    /// The sequence length.
    pub seq_len: SeqLen,
    /// The batch size and measured requests.
    pub point: BatchPoint,
    /// Pre-flight memory estimate, MiB.
    pub memory_estimate_mb: Option<f64>,
    /// Unrecorded warm-up requests after the first.
    pub warmup_requests: usize,
    /// The prepared request batches.
    pub inputs: &'a PreparedInputs,
    /// The backend's configured intra-op threads (None: its default).
    pub threads: Option<usize>,
    /// The price cost figures are computed from.
    pub cost: &'a Cost,
    /// RSS (MiB) above which a phase of the cell carries a warning.
    pub memory_warn_mb: f64,
    /// Model instances (replicas) that may load at the same time.
    pub max_concurrent_loads: usize,
    /// What the run knows about the cell, for its record.
    pub context: RecordContext<'a>,
}

/// What the run knows about a cell beyond the cell itself, for its record.
#[derive(Debug, Clone, Default)]
pub struct RecordContext<'a> {
    /// Index of the cell in the run's plan.
    pub cell: Option<usize>,
    /// The model's shape from its `config.json`, for FLOPs (None: not known, no FLOPs figures).
    pub shape: Option<&'a ModelShape>,
    /// The machine's matmul peaks, for MFU.
    pub peaks: Option<&'a Peaks>,
    /// The cell ran again on the CPU after the GPU ran out of memory: how.
    pub fallback: Option<Fallback>,
    /// Warnings from the run's view of the cell (oversubscription), after the cell's own.
    pub warnings: Vec<String>,
    /// Settings left to `auto` and what they resolved to (`threads` is filled from
    /// what the backend reports when [`RecordContext::threads_auto`] is set).
    pub auto_resolved: BTreeMap<String, String>,
    /// The config left the backend's threads unset.
    pub threads_auto: bool,
    /// Image cells: the model's image side, pixels (so a cell that fails before its
    /// inputs exist is labelled `image NxN` as its passing neighbours are).
    pub image_side: Option<usize>,
}

/// Runs `f` on a thread of its own that ends with it, and returns its result (a
/// panic carries on in this thread).
///
/// Backends keep per-thread state that outlives a call: libgomp (libtorch's
/// OpenMP) gives every thread that starts a parallel region a team of threads
/// for as long as that thread lives, and once the process holds more team threads
/// than CPUs, every team stops spinning between regions (libtorch at batch 1 on 2
/// cores lost 7 % to one request made on another thread). So each cell runs on a
/// fresh thread, and nothing a cell did stays behind for the next one. A direct
/// cell makes all its requests from that thread (client 0, see
/// [`crate::loadgen::worker_loop::run_for`]); in a served cell the replicas' worker
/// threads make them, so its first request and gate run on passing threads too.
pub(crate) fn on_passing_thread<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| {
        let thread = std::thread::Builder::new().name("embench-cell".into()).spawn_scoped(s, f);
        thread.expect("spawning a thread").join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}
