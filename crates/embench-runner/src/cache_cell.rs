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
use std::time::Instant;

use embench_core::cache::{embed_through_cache, EmbeddingCache, ServeCounters};
use embench_core::config::{ResolvedCache, ResolvedModel, SeqLen};
use embench_core::dataset::TextSource;
use embench_core::repeats::{repeat_stream, RepeatStream};
use embench_core::tokenize::TextTokenizer;
use embench_core::TokenizedBatch;

use crate::cell::{blank_record, judge_measured, load_and_warm, now, run_gate, CellProgress, CellSetup, Loader};
use crate::measure::measure;
use crate::results::{CacheFigures, CellRecord};

/// The distinct texts of a cache cell, tokenized one by one, and its request stream.
#[derive(Debug)]
pub struct CacheInputs {
    /// Distinct texts; stream id `k` is `texts[k]`.
    pub texts: Vec<String>,
    /// `rows[k]`: `texts[k]` tokenized alone (one row).
    pub rows: Vec<TokenizedBatch>,
    /// Ids of the cold phase's texts followed by the warm phase's.
    pub stream: RepeatStream,
    /// Mean time to tokenize one text, ms (None for synthetic token ids).
    pub tokenize_ms_per_text: Option<f64>,
}

impl CacheInputs {
    /// The stream of `2 · texts_per_phase` positions at `ratio`, and its distinct texts tokenized at `seq`.
    pub fn prepare(
        source: &TextSource,
        tokenizer: Option<&TextTokenizer>,
        seq: SeqLen,
        texts_per_phase: usize,
        ratio: f64,
        spec: &ResolvedCache,
    ) -> Result<Self, String> {
        let stream = repeat_stream(2 * texts_per_phase, ratio, spec.distribution, spec.zipf_exponent, spec.seed);
        let mut texts = source.texts(stream.distinct, seq, tokenizer)?;
        // A short dataset file cycles; a number in front keeps every text distinct (and not truncated away).
        let mut seen = std::collections::HashSet::new();
        for (k, t) in texts.iter_mut().enumerate() {
            if !seen.insert(t.clone()) {
                *t = format!("{k}: {t}");
                seen.insert(t.clone());
            }
        }
        let start = Instant::now();
        let rows = match tokenizer {
            Some(tok) => {
                let bt = tok.for_seq_len(seq)?;
                texts.iter().map(|t| bt.encode(&[t.as_str()])).collect::<Result<Vec<_>, _>>()?
            }
            None => (0..texts.len()).map(|k| synthetic_row(k, seq)).collect(),
        };
        let tokenize_ms_per_text = tokenizer.map(|_| start.elapsed().as_secs_f64() * 1e3 / texts.len().max(1) as f64);
        Ok(Self { texts, rows, stream, tokenize_ms_per_text })
    }

    /// The batch of `texts` (each one of ours), rows padded to the longest.
    pub fn assemble(&self, index: &HashMap<&str, usize>, texts: &[&str]) -> Result<TokenizedBatch, String> {
        let rows: Vec<&TokenizedBatch> = texts
            .iter()
            .map(|t| index.get(t).map(|&k| &self.rows[k]).ok_or_else(|| format!("text not in the cell's inputs: {t}")))
            .collect::<Result<_, _>>()?;
        Ok(TokenizedBatch::concat(&rows))
    }
}

/// Token ids for a model without a tokenizer (mock runs): distinct per text.
fn synthetic_row(k: usize, seq: SeqLen) -> TokenizedBatch {
    let len = match seq {
        SeqLen::Tokens(n) => n,
        SeqLen::Natural => 8 + k * 7 % 57,
    };
    let ids = (0..len).map(|t| 1000 + ((k * 7919 + t * 31) % 20_000) as i64).collect();
    TokenizedBatch {
        batch_size: 1,
        seq_len: len,
        input_ids: ids,
        attention_mask: vec![1; len],
        token_type_ids: vec![0; len],
    }
}

/// The four phases, in the order they run: name, whether the cache is used, which half of the stream.
const PHASES: [(&str, bool, usize); 4] = [("off", false, 0), ("cold", true, 0), ("hot", true, 0), ("warm", true, 1)];

/// Runs a cache cell at repeat ratio `ratio`: one record per phase (or one failed record).
pub fn run_cache_cell(
    setup: &CellSetup,
    model_cfg: &ResolvedModel,
    spec: &ResolvedCache,
    ratio: f64,
    inputs: &CacheInputs,
    load: &Loader,
    progress: &dyn CellProgress,
) -> Vec<CellRecord> {
    let mut base = blank_record(setup);
    base.tokenize_ms_per_request = inputs.tokenize_ms_per_text.map(|ms| ms * setup.point.batch_size as f64);
    let (model, check) = match load_and_warm(&mut base, setup, load, progress) {
        Ok(m) => m,
        Err(failed) => return vec![*failed],
    };
    let b = setup.point.batch_size;
    let per_phase = setup.point.num_requests * b;
    let index: HashMap<&str, usize> = inputs.texts.iter().enumerate().map(|(k, t)| (t.as_str(), k)).collect();
    let assemble = |texts: &[&str]| inputs.assemble(&index, texts);
    let halves: [Vec<&str>; 2] = [0, 1].map(|h| {
        inputs.stream.ids[h * per_phase..(h + 1) * per_phase].iter().map(|&k| inputs.texts[k].as_str()).collect()
    });
    let namespace = format!("{}/{}/{}", model_cfg.key, base.backend, base.precision_name());
    let cache = EmbeddingCache::new(&namespace, spec.limit);
    let mut records = Vec::new();
    let mut baseline: Option<f64> = None;
    for (phase, cached, half) in PHASES {
        let mut record = base.clone();
        let counters = ServeCounters::default();
        let evictions_before = cache.stats().evictions;
        let texts = &halves[half];
        let use_cache = cached.then_some(&cache);
        let serve = |i: u64| {
            let request = &texts[i as usize * b..(i as usize + 1) * b];
            embed_through_cache(use_cache, model.as_ref(), &assemble, request, &counters).map(drop)
        };
        progress.phase(&format!("cache {phase}"));
        measure(&mut record, setup, &serve, progress);
        judge_measured(&mut record, check.take());
        let stats = cache.stats();
        let emb_s = record.embeddings_per_s.filter(|_| record.valid);
        if phase == "off" {
            baseline = emb_s;
        }
        let mb = |bytes: usize| bytes as f64 / (1024.0 * 1024.0);
        let texts_n = counters.texts.load(std::sync::atomic::Ordering::Relaxed);
        record.cache = Some(CacheFigures {
            phase: phase.into(),
            repeat_ratio: ratio,
            distribution: format!("{:?}", spec.distribution).to_lowercase(),
            limit: cached.then_some(spec.limit),
            texts: texts_n,
            computed: counters.computed.load(std::sync::atomic::Ordering::Relaxed),
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
        records.push(record);
    }
    // After every phase, as in every cell: the probes' shapes must not precede the measurement.
    progress.phase("correctness gate");
    // On a clean copy: the warm-up's verdict is in every phase record already.
    let mut gated = base.clone();
    (gated.valid, gated.invalid_reason) = (true, None);
    run_gate(&mut gated, setup, model.as_ref());
    for record in &mut records {
        record.min_cosine = gated.min_cosine;
        record.gate_threshold = gated.gate_threshold;
        record.warnings.extend(gated.warnings[base.warnings.len()..].iter().cloned());
        if !gated.valid {
            let reason = gated.invalid_reason.clone().unwrap_or_default();
            crate::cell::invalidate(record, reason);
        }
        record.finished_at = now();
    }
    records
}
