//! The retrieval-agreement check of a cell (`crates/embench-core/src/retrieval.rs`):
//! after the measurement and the correctness gate, the cell's model instance embeds
//! the model's corpus, and its neighbours are compared with sentence-transformers'
//! fp32 ones. Cells that ran in fp16, bf16 or int8 run it (all cells under
//! `quality.retrieval_check: all`); below `quality.min_recall_at_10` the cell is
//! invalid, with its figures.
//!
//! The result is kept in `<model>/retrieval/agreement/`, keyed by a hash of what
//! decides the vectors ([`cache_key`]). A batch sweep of one backend embeds the corpus once.

use std::path::PathBuf;
use std::time::Instant;

use embench_core::config::ResolvedModel;
use embench_core::model_files::ModelFolder;
use embench_core::retrieval::{agreement, corpus_path, sha256_hex, Agreement, Corpus};
use embench_core::{Embedder, Modality};
use embench_schema::RetrievalFigures;
use serde::{Deserialize, Serialize};

use crate::cell::record::Verdict;
use crate::cell::setup::CellSetup;

/// A model's corpus, read once per run.
pub struct RetrievalSetup {
    corpus: Corpus,
    folder: ModelFolder,
}

impl RetrievalSetup {
    /// The corpus of `model` (cut to its `truncate_dim`), None when the model has no
    /// local folder.
    ///
    /// Errors: a text model whose corpus is missing or broken, with the fix; a CLIP or
    /// SigLIP model (no sentence-transformers pipeline to make one with), so that its
    /// reduced-precision cells say they were not checked.
    pub fn for_model(model: &ResolvedModel) -> Result<Option<RetrievalSetup>, String> {
        let Some(folder) = &model.folder else { return Ok(None) };
        if model.modalities().contains(&Modality::Image) {
            return Err(format!(
                "model '{}' is CLIP/SigLIP: the retrieval corpus is made for sentence-transformers text models only (its fp32 vectors come from SentenceTransformer.encode)",
                model.key
            ));
        }
        if !corpus_path(folder).is_file() {
            return Err(format!(
                "{} does not exist (fix: scripts/convert_models.sh {} makes it)",
                corpus_path(folder).display(),
                model.key
            ));
        }
        let corpus = Corpus::read(folder)?;
        let corpus = match model.truncate_dim {
            Some(dim) => corpus.truncated(dim),
            None => corpus,
        };
        Ok(Some(RetrievalSetup { corpus, folder: folder.clone() }))
    }
}

/// What the cache keeps of one check.
#[derive(Debug, Serialize, Deserialize)]
struct Cached {
    key: serde_json::Value,
    agreement: Agreement,
    embed_s: f64,
}

/// Runs the check for a cell whose model ran in the precision `model.info()` gives, when
/// `setup.quality` asks for it; the verdict fails the cell below the bound, and warns when
/// the check was due but could not run.
pub fn run_retrieval(setup: &CellSetup, model: &dyn Embedder) -> (Option<RetrievalFigures>, Verdict) {
    let mut verdict = Verdict::default();
    let info = model.info();
    let Some(bound) = setup.quality.bound(info.precision) else { return (None, verdict) };
    let retrieval = match &setup.retrieval {
        None => return (None, verdict),
        Some(Err(why)) => {
            verdict.warn(format!("retrieval agreement not checked for this {} cell: {why}", info.precision));
            return (None, verdict);
        }
        Some(Ok(r)) => r,
    };
    let corpus = &retrieval.corpus;
    let key = cache_key(retrieval, model);
    let digest = sha256_hex(key.to_string().as_bytes());
    let path = retrieval.folder.root.join("retrieval/agreement").join(format!(
        "{}-{}-{}.json",
        setup.framework,
        info.precision,
        &digest[..16]
    ));
    let cached = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str::<Cached>(&t).ok())
        .filter(|c| c.key == key);
    let (result, embed_s, was_cached) = match cached {
        Some(c) => (c.agreement, c.embed_s, true),
        None => {
            let started = Instant::now();
            let got = match corpus.embed(model, &retrieval.folder.tokenizer_json()) {
                Ok(v) => v,
                Err(e) => {
                    verdict.fail(format!("retrieval agreement could not run: {e}"));
                    return (None, verdict);
                }
            };
            let embed_s = started.elapsed().as_secs_f64();
            let result = agreement(&corpus.reference, &got, corpus.dim, &corpus.queries);
            if let Err(e) = store(&path, &Cached { key, agreement: result, embed_s }) {
                verdict.warn(format!("retrieval agreement not cached (it runs again next time): {e}"));
            }
            (result, embed_s, false)
        }
    };
    let figures = RetrievalFigures {
        recall_at_10: result.recall_at_10,
        recall_at_10_min: result.recall_at_10_min,
        spearman: result.spearman,
        cosine_min: result.cosine_min,
        cosine_mean: result.cosine_mean,
        non_finite: result.non_finite,
        threshold: bound,
        sentences: corpus.sentences.len(),
        queries: corpus.queries.len(),
        corpus: corpus.source.clone(),
        embed_s,
        cached: was_cached,
    };
    if result.non_finite > 0 {
        verdict.fail(format!(
            "retrieval agreement: {} of {} corpus vectors hold NaN or infinity in {} (fix: this precision is broken for the model; leave it out)",
            result.non_finite,
            corpus.sentences.len(),
            info.precision
        ));
    } else if result.recall_at_10.is_nan() || result.recall_at_10 < bound {
        verdict.fail(format!(
            "retrieval agreement below the bound: recall@10 {:.3} < {bound} for {} (worst query {:.1}, Spearman {:.4}, cosine to fp32 min {:.4} / mean {:.4}, over {} sentences and {} queries; fix: a gentler variant, or quality.min_recall_at_10.{} if this loss is acceptable)",
            result.recall_at_10,
            info.precision,
            result.recall_at_10_min,
            result.spearman,
            result.cosine_min,
            result.cosine_mean,
            corpus.sentences.len(),
            corpus.queries.len(),
            info.precision
        ));
    }
    (Some(figures), verdict)
}

/// A warning for an int8 cell on a CPU without int8 dot-product instructions (AVX512-VNNI,
/// AVX-VNNI, AMX-INT8; `isa_flags` as `embench sysinfo` names them): int8 still runs,
/// through longer AVX2/AVX-512 sequences, so its speed-up understates a VNNI CPU's.
pub fn int8_isa_warning(precision: embench_core::Precision, isa_flags: &[String]) -> Option<String> {
    let vnni = isa_flags.iter().any(|f| matches!(f.as_str(), "avx512vnni" | "avxvnni" | "amx-int8"));
    // Other architectures have their own int8 dot products (Arm: dotprod, i8mm).
    (precision == embench_core::Precision::Int8 && !vnni && cfg!(target_arch = "x86_64")).then(|| {
        format!(
            "int8 on a CPU without VNNI or AMX (ISA flags: {}): int8 dot products run as longer AVX2/AVX-512 sequences, so int8's speed-up here understates what a VNNI or AMX CPU gets",
            if isa_flags.is_empty() { "none detected".to_string() } else { isa_flags.join(", ") }
        )
    })
}

/// The check's version: bump it when anything that decides a check's figures changes
/// in embench (the corpus's embedding, the agreement's computation, a backend's own
/// code path), so no cached result of the older code is served.
pub const CHECK_VERSION: u32 = 1;

/// What decides a check's vectors, as JSON (its hash names the cache file): embench's
/// check, the framework, its version, device and effective settings (which name a
/// variant's file and hash), the precision that ran, the model's conversion and variant
/// records, its tokenizer, the corpus (sentences, queries and reference), and the CPU
/// (int8 and bf16 kernels differ by instruction set).
fn cache_key(retrieval: &RetrievalSetup, model: &dyn Embedder) -> serde_json::Value {
    let info = model.info();
    let root = &retrieval.folder.root;
    let file_hash = |path: &std::path::Path| std::fs::read(path).ok().map(|b| sha256_hex(&b));
    let records: Vec<Option<String>> =
        ["conversion.json", "onnx/variants.json", "openvino/variants.json", "torchscript/variants.json"]
            .iter()
            .map(|rel| file_hash(&root.join(rel)))
            .collect();
    let host = host_facts();
    serde_json::json!({
        "check": CHECK_VERSION,
        "embench": env!("CARGO_PKG_VERSION"),
        "framework": info.framework,
        "framework_version": info.framework_version,
        "device": info.device,
        "precision": info.precision,
        "settings": info.settings,
        "records": records,
        "tokenizer": file_hash(&retrieval.folder.tokenizer_json()),
        "corpus_sha256": retrieval.corpus.sha256,
        "dim": retrieval.corpus.dim,
        "cpu": host.0,
        "isa_flags": host.1,
    })
}

/// The CPU model and ISA flags, probed once per process (a full host probe starts NVML).
fn host_facts() -> &'static (String, Vec<String>) {
    static FACTS: std::sync::OnceLock<(String, Vec<String>)> = std::sync::OnceLock::new();
    FACTS.get_or_init(|| {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map_or_else(|| std::env::consts::ARCH.to_string(), |m| m.trim().to_string());
        (model, crate::machine::host::isa_flags())
    })
}

fn store(path: &PathBuf, cached: &Cached) -> Result<(), String> {
    let dir = path.parent().expect("the cache file has a folder");
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let text = serde_json::to_string_pretty(cached).expect("JSON");
    std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use embench_core::Precision;

    #[test]
    fn int8_without_vnni_is_said_and_with_it_is_not() {
        let avx2 = vec!["avx2".to_string(), "fma".to_string()];
        let w = int8_isa_warning(Precision::Int8, &avx2).expect("a warning");
        assert!(w.contains("without VNNI") && w.contains("avx2, fma"), "{w}");
        assert_eq!(int8_isa_warning(Precision::Int8, &["avx2".into(), "avx512vnni".into()]), None);
        assert_eq!(int8_isa_warning(Precision::Int8, &["amx-int8".into()]), None);
        assert_eq!(int8_isa_warning(Precision::Fp32, &avx2), None);
    }
}
