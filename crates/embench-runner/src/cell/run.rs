//! A plain cell (fixed, batch sweep or SLO search), direct or served: load,
//! warm up, measure, check correctness, assemble the record.

use embench_core::{EmbedError, EmbedInput, Embedder};
use embench_schema::CellRecord;

use crate::cell::guard::judge_outputs;
use crate::cell::measure::{measure, run_slo};
use crate::cell::record::{assemble, CellParts, GateFigures, Verdict};
use crate::cell::retrieval::run_retrieval;
use crate::cell::served::{Server, ServingPlan};
use crate::cell::setup::{on_passing_thread, CellProgress, CellSetup, ModelLoader};
use crate::cell::start::{load_models, warm_up};
use crate::loadgen::worker_loop::Serve;

/// Runs one cell. Never fails: a failure becomes a record with `valid: false`
/// and the reason, so it is reported instead of lost.
pub fn run_cell(setup: &CellSetup, load: &ModelLoader, progress: &dyn CellProgress) -> CellRecord {
    let mut parts = CellParts { tokenize_ms_per_request: setup.inputs.tokenize_ms_per_request, ..Default::default() };
    let serving = setup.scenario.execution.as_ref().map(|e| {
        ServingPlan::resolve(e, setup.scenario.concurrency, setup.threads, crate::machine::host::effective_cores())
    });
    let started = load_models(setup, load, serving.as_ref(), progress);
    parts.loading = started.loading;
    parts.memory.extend(started.memory);
    parts.verdict.absorb(started.verdict);
    let (models, check) = match started.models {
        Ok(m) => m,
        Err(e) => return finish(setup, parts, Some(e)),
    };
    let batches = &setup.inputs.batches;
    let n = batches.len() as u64;
    // Warm-up and the measured phase; their parts are kept even when a step fails.
    let body = |serve: &Serve| -> (CellParts, Option<EmbedError>) {
        let mut parts = CellParts::default();
        let warm = warm_up(setup, serve, progress);
        parts.memory.extend(warm.memory);
        parts.verdict.absorb(warm.verdict);
        if let Err(e) = warm.result {
            return (parts, Some(e));
        }
        parts.verdict.absorb(judge_outputs(check.take(), "first request and warm-up"));
        progress.phase("measuring");
        let wire_before = transport(&models);
        let (mut measured, memory, verdict) = match &setup.scenario.slo {
            Some(slo) => run_slo(setup, slo, serve, progress),
            None => measure(setup, serve, progress),
        };
        measured.http = transport(&models).zip(wire_before).map(|(after, before)| after.since(&before));
        parts.memory.push(memory);
        parts.verdict.absorb(verdict);
        parts.measured = Some(measured);
        let outputs = check.take();
        parts.non_finite_vectors = Some(outputs.non_finite);
        parts.verdict.absorb(judge_outputs(outputs, "measured phase"));
        (parts, None)
    };
    let (later, error) = match &serving {
        None => {
            let model = models[0].as_ref();
            let serve = |i: u64| match &setup.inputs.encoded {
                // include_preprocessing: decode and preprocess inside the measured request.
                Some(encoded) => model.embed_input(EmbedInput::Image(&encoded.pixels(i)?)).map(drop),
                None => model.embed_input(batches[(i % n) as usize].as_input()).map(drop),
            };
            body(&serve)
        }
        Some(plan) => {
            let ((mut later, error), formed) =
                Server::run(&models, plan.workers_per_model, plan.batching, setup.inputs.padding, |server| {
                    let serve = |i: u64| server.submit(&batches[(i % n) as usize]);
                    body(&serve)
                });
            parts.execution = Some(plan.figures(formed));
            later.verdict.warnings.extend(plan.warning.iter().cloned());
            (later, error)
        }
    };
    parts.append(later);
    if let Some(e) = error {
        return finish(setup, parts, Some(e));
    }
    progress.phase("correctness gate");
    let model = models[0].as_ref();
    let precision = parts.loading.info.as_ref().map_or("unknown", |i| i.precision.as_str());
    let (gate, verdict) = match serving {
        None => run_gate(setup, model, precision),
        Some(_) => on_passing_thread(|| run_gate(setup, model, precision)),
    };
    parts.gate = gate;
    parts.verdict.absorb(verdict);
    progress.phase("retrieval agreement");
    let (retrieval, verdict) = match serving {
        None => run_retrieval(setup, model),
        Some(_) => on_passing_thread(|| run_retrieval(setup, model)),
    };
    parts.retrieval = retrieval;
    parts.verdict.absorb(verdict);
    let isa = crate::machine::host::isa_flags();
    parts.verdict.warnings.extend(crate::cell::retrieval::int8_isa_warning(model.info().precision, &isa));
    drop(models);
    finish(setup, parts, None)
}

/// The wire counters of the instances that call a server (`http`), summed.
fn transport(models: &[Box<dyn Embedder>]) -> Option<embench_schema::HttpFigures> {
    let all: Vec<_> = models.iter().filter_map(|m| m.transport()).collect();
    embench_schema::HttpFigures::sum(&all)
}

/// The record from `parts`, with `error` (the step that stopped the cell) as its last problem.
fn finish(setup: &CellSetup, mut parts: CellParts, error: Option<EmbedError>) -> CellRecord {
    if let Some(e) = error {
        parts.verdict.fail(e.to_string());
    }
    assemble(setup, parts, &setup.context, 1)
}

/// The record of a cell that was not attempted, and why.
pub fn skipped_record(setup: &CellSetup, reason: String) -> CellRecord {
    let mut verdict = Verdict::default();
    verdict.fail(format!("skipped: {reason}"));
    let parts = CellParts {
        skipped: Some(reason),
        tokenize_ms_per_request: setup.inputs.tokenize_ms_per_request,
        verdict,
        ..Default::default()
    };
    assemble(setup, parts, &setup.context, 1)
}

/// Checks `model` at the cell's shape against the reference embeddings; `precision`
/// is what the model ran in, for the failure message.
pub fn run_gate(setup: &CellSetup, model: &dyn Embedder, precision: &str) -> (GateFigures, Verdict) {
    let mut verdict = Verdict::default();
    let mut figures = GateFigures::default();
    match setup.gate.as_ref() {
        None => {}
        Some(Err(why)) => verdict.warn(format!("correctness not checked: {why}")),
        Some(Ok(gate)) => {
            match gate.check_cell(model, setup.scenario.modality, setup.seq_len, setup.point.batch_size) {
                Ok(result) => {
                    figures = GateFigures {
                        min_cosine: result.min_cosine,
                        threshold: Some(result.threshold),
                        parity: result.parity,
                    };
                    verdict.warnings.extend(result.fallback.clone());
                    if !result.passed() {
                        verdict.fail(result.failure(precision));
                    }
                }
                Err(e) => verdict.fail(format!("correctness gate could not run: {e}")),
            }
        }
    }
    (figures, verdict)
}
