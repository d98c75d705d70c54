//! The embedding-cache scenario. One model load, then four measured phases of
//! `num_requests` requests each, through the same request path:
//!
//! 1. `off`: no cache, every text goes to the backend (the baseline);
//! 2. `cold`: an empty cache; hits come only from repeats within the stream;
//! 3. `hot`: the cold phase's requests replayed with the cache it left (the
//!    study's "second run": what a cache buys on data it has seen);
//! 4. `warm`: new requests from the same distribution, cache kept (steady state).
//!
//! Texts are tokenized one by one before anything is timed; a request's
//! uncached texts are assembled from those rows into one batch, in the
//! baseline too, so the phases differ only by the cache.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use embench_core::config::{ResolvedCache, ResolvedModel};
use embench_core::EmbedError;
use embench_schema::record::{CacheFigures, CellRecord};

use crate::cell::embedding_cache::{embed_through_cache, EmbeddingCache, ServeCounters};
use crate::cell::guard::judge_outputs;
use crate::cell::inputs::CacheInputs;
use crate::cell::measure::measure;
use crate::cell::record::{assemble, CellParts};
use crate::cell::run::run_gate;
use crate::cell::setup::{CellProgress, CellSetup, ModelLoader};
use crate::cell::start::{load_models, warm_up};

/// The four phases, in the order they run: name, whether the cache is used, which half of the stream.
const PHASES: [(&str, bool, usize); 4] = [("off", false, 0), ("cold", true, 0), ("hot", true, 0), ("warm", true, 1)];

/// Runs a cache cell at repeat ratio `ratio`: one record per phase (or one failed record).
pub fn run_cache_cell(
    setup: &CellSetup,
    model_cfg: &ResolvedModel,
    spec: &ResolvedCache,
    ratio: f64,
    inputs: &CacheInputs,
    load: &ModelLoader,
    progress: &dyn CellProgress,
) -> Vec<CellRecord> {
    let tokenize_ms_per_request = inputs.tokenize_ms_per_text.map(|ms| ms * setup.point.batch_size as f64);
    let mut base = CellParts { tokenize_ms_per_request, ..Default::default() };
    let failed = |mut parts: CellParts, e: EmbedError| {
        parts.verdict.fail(e.to_string());
        vec![assemble(setup, parts, &setup.context, 1)]
    };
    let started = load_models(setup, load, None, progress);
    base.loading = started.loading;
    base.memory.extend(started.memory);
    base.verdict.absorb(started.verdict);
    let (mut models, check) = match started.models {
        Ok(m) => m,
        Err(e) => return failed(base, e),
    };
    let model = models.pop().expect("one instance");
    let batches = &setup.inputs.batches;
    let serve = |i: u64| model.embed_input(batches[(i % batches.len() as u64) as usize].as_input()).map(drop);
    let warm = warm_up(setup, &serve, progress);
    base.memory.extend(warm.memory);
    base.verdict.absorb(warm.verdict);
    if let Err(e) = warm.result {
        return failed(base, e);
    }
    base.verdict.absorb(judge_outputs(check.take(), "first request and warm-up"));

    let b = setup.point.batch_size;
    let per_phase = setup.point.num_requests * b;
    let index: HashMap<&str, usize> = inputs.texts.iter().enumerate().map(|(k, t)| (t.as_str(), k)).collect();
    let assemble_batch = |texts: &[&str]| inputs.assemble(&index, texts);
    let halves: [Vec<&str>; 2] = [0, 1].map(|h| {
        inputs.stream.ids[h * per_phase..(h + 1) * per_phase].iter().map(|&k| inputs.texts[k].as_str()).collect()
    });
    let precision = base.loading.info.as_ref().map_or("unknown", |i| i.precision.as_str());
    let namespace = format!("{}/{}/{}", model_cfg.key, setup.backend, precision);
    let cache = EmbeddingCache::new(&namespace, spec.limit);
    let mut phases: Vec<CellParts> = Vec::new();
    let mut baseline: Option<f64> = None;
    for (phase, cached, half) in PHASES {
        let counters = ServeCounters::default();
        let evictions_before = cache.stats().evictions;
        let texts = &halves[half];
        let use_cache = cached.then_some(&cache);
        let serve = |i: u64| {
            let request = &texts[i as usize * b..(i as usize + 1) * b];
            embed_through_cache(use_cache, model.as_ref(), &assemble_batch, request, &counters).map(drop)
        };
        progress.phase(&format!("cache {phase}"));
        let mut parts = base.clone();
        let (measured, memory, verdict) = measure(setup, &serve, progress);
        parts.memory.push(memory);
        parts.verdict.absorb(verdict);
        let outputs = check.take();
        parts.non_finite_vectors = Some(outputs.non_finite);
        parts.verdict.absorb(judge_outputs(outputs, "measured phase"));
        let valid = parts.verdict.problems.is_empty();
        let emb_s = measured.qps().map(|q| q * b as f64).filter(|_| valid);
        parts.measured = Some(measured);
        if phase == "off" {
            baseline = emb_s;
        }
        let stats = cache.stats();
        let mb = |bytes: usize| bytes as f64 / (1024.0 * 1024.0);
        parts.cache = Some(CacheFigures {
            phase: phase.into(),
            repeat_ratio: ratio,
            distribution: format!("{:?}", spec.distribution).to_lowercase(),
            limit: cached.then_some(spec.limit),
            texts: counters.texts.load(Ordering::Relaxed),
            computed: counters.computed.load(Ordering::Relaxed),
            hit_rate: counters.hit_rate(),
            entries: if cached { stats.entries } else { 0 },
            cache_mb: if cached { mb(stats.bytes) } else { 0.0 },
            peak_cache_mb: if cached { mb(stats.peak_bytes) } else { 0.0 },
            evictions: stats.evictions - evictions_before,
            speedup: match (phase, baseline, emb_s) {
                ("off", ..) => None,
                (_, Some(base), Some(now)) if base > 0.0 => Some(now / base),
                _ => None,
            },
        });
        phases.push(parts);
    }
    // After every phase, as in every cell: the probes' shapes must not precede the measurement.
    progress.phase("correctness gate");
    let (gate, verdict) = run_gate(setup, model.as_ref(), precision);
    let (retrieval, quality) = crate::cell::retrieval::run_retrieval(setup, model.as_ref());
    let count = phases.len();
    phases
        .into_iter()
        .map(|mut parts| {
            parts.gate = gate;
            parts.retrieval = retrieval.clone();
            parts.verdict.absorb(verdict.clone());
            parts.verdict.absorb(quality.clone());
            assemble(setup, parts, &setup.context, count)
        })
        .collect()
}
