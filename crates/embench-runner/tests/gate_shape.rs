//! The correctness gate at each cell's own shape, and the finite-output check,
//! through `run_cell` with a mock that is wrong only above a batch size and a
//! sequence length. The mock's right vectors depend only on a text's real tokens,
//! so the gate's reference is the right mock's vector of each probe text alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;

use embench_core::config::{load_config, LoadedConfig, SeqLen};
use embench_core::dataset::TextSource;
use embench_core::reference::ReferenceSet;
use embench_core::tokenize::TextTokenizer;
use embench_core::{BackendKind, Crates, EmbedError, Embedder};
use embench_mock::{MockBackend, MockEmbedder, MockSettings, WrongOutput, WrongValues};
use embench_runner::cell::gate::Gate;
use embench_runner::cell::inputs::InputFactory;
use embench_runner::{run_cell, CellProgress, CellRecord, CellSetup, RunPlan};

struct Quiet(AtomicU64);

impl CellProgress for Quiet {
    fn counter(&self) -> &AtomicU64 {
        &self.0
    }
}

fn model_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/all-minilm-l6-v2")
}

/// A one-scenario config: a mock, batch sizes 1 and 8, sequence lengths 16 and 64.
fn config(dir: &Path) -> LoadedConfig {
    std::fs::write(
        dir.join("models.yaml"),
        format!(
            "models:\n  minilm:\n    name: MiniLM\n    type: text_embedding\n    huggingface_id: sentence-transformers/all-MiniLM-L6-v2\n    path: {}\n    max_seq_length: 256\n    embedding_dim: 384\n    params: 22.7M\n    multilingual: false\n",
            model_dir().display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("bench.yaml"),
        "active_models: [minilm]
backends:
  - name: mock
test_scenarios:
  - {name: sweep, concurrency: 1, num_requests: 12, batch_size: [1, 8]}
input_config:
  sequence_lengths: [16, 64]
  warmup_requests: 2
",
    )
    .unwrap();
    load_config(&dir.join("bench.yaml"), &Crates(|k| (k == BackendKind::Mock).then_some(&MockBackend as _)))
        .expect("a valid config")
}

/// The probe set at `seq`: short texts (padded at a fixed length) and long ones (truncated).
fn probes() -> Vec<String> {
    let long = "rust onnx runtime openvino libtorch candle compared on the same inputs ".repeat(12);
    ["a", "the quick brown fox", "what is the capital of france", "def embed(texts)"]
        .iter()
        .map(|s| s.to_string())
        .chain((0..4).map(|i| format!("{i} {long}")))
        .collect()
}

/// The right mock's vector of each probe alone, at `seq`.
fn reference(right: &MockEmbedder, tokenizer: &TextTokenizer, seq: SeqLen) -> ReferenceSet {
    let texts = probes();
    let encoder = tokenizer.for_seq_len(seq).unwrap();
    let embeddings =
        texts.iter().map(|t| right.embed(&encoder.encode(&[t]).unwrap()).unwrap().row(0).to_vec()).collect();
    ReferenceSet { sentences: texts, embeddings, seq_len: None, prompt: None }
}

/// Every cell of the plan through `run_cell`, the mock wrong as `wrong` says.
fn run(wrong: Option<WrongOutput>) -> Vec<CellRecord> {
    let dir = tempfile::tempdir().unwrap();
    let plan = RunPlan::new(config(dir.path()));
    let mut settings = plan.config.backends[0].settings::<MockSettings>().cloned().unwrap();
    let tokenizer = TextTokenizer::from_file(&model_dir().join("pytorch/tokenizer.json"), 256).unwrap();
    let right = MockEmbedder::new(settings.clone());
    let fixed: BTreeMap<usize, ReferenceSet> =
        [16, 64].into_iter().map(|n| (n, reference(&right, &tokenizer, SeqLen::Tokens(n)))).collect();
    let gate = Gate::new(tokenizer.clone(), reference(&right, &tokenizer, SeqLen::Natural), fixed);
    settings.wrong_output = wrong;
    let mut inputs = InputFactory::new(
        TextSource::Synthetic { seed: 7 },
        embench_core::images::ImageSource::Synthetic { width: 64, height: 48, seed: 7 },
    );
    plan.cells
        .iter()
        .map(|cell| {
            let model = plan.model(cell);
            let prepared =
                inputs.prepare(model, None, cell.seq_len, cell.point.batch_size, cell.point.num_requests).unwrap();
            let setup = CellSetup {
                truncation: None,
                model: &model.key,
                architecture: model.architecture,
                backend: "mock",
                framework: "mock",
                requested_precision: Default::default(),
                gate: Some(Ok(&gate)),
                retrieval: None,
                quality: Default::default(),
                scenario: plan.scenario(cell),
                seq_len: cell.seq_len,
                point: cell.point,
                memory_estimate_mb: None,
                warmup_requests: 2,
                inputs: &prepared,
                threads: None,
                cost: &plan.config.cost,
                memory_warn_mb: f64::INFINITY,
                max_concurrent_loads: 1,
                context: Default::default(),
            };
            let load = |_: Option<usize>| -> Result<Box<dyn Embedder>, EmbedError> {
                Ok(Box::new(MockEmbedder::new(settings.clone())))
            };
            run_cell(&setup, &load, &Quiet(AtomicU64::new(0)))
        })
        .collect()
}

fn verdicts(records: &[CellRecord]) -> Vec<(usize, String, bool)> {
    records.iter().map(|r| (r.batch_size, r.seq_len.to_string(), r.valid)).collect()
}

#[test]
fn a_backend_wrong_only_at_large_shapes_fails_only_there() {
    let wrong = WrongOutput { values: WrongValues::Noise, above_batch: Some(4), above_seq: Some(32) };
    let records = run(Some(wrong));
    assert_eq!(
        verdicts(&records),
        [(1, "16".into(), true), (8, "16".into(), true), (1, "64".into(), true), (8, "64".into(), false)],
        "{records:#?}"
    );
    for r in &records[..3] {
        assert!(r.min_cosine.unwrap() > 0.999_99, "{r:?}");
    }
    let failed = &records[3];
    let reason = failed.invalid_reason.as_deref().unwrap();
    assert!(reason.contains("correctness gate failed at batch 8 x seq 64: min cosine"), "{reason}");
    assert!(failed.min_cosine.unwrap() < 0.5);
    // The measured figures stay: the cell was measured, then judged.
    assert!(failed.qps.is_some() && failed.latency_ms.is_some());
}

#[test]
fn the_same_mock_right_everywhere_passes_everywhere() {
    let records = run(None);
    assert!(records.iter().all(|r| r.valid && r.non_finite_vectors == Some(0)), "{:#?}", verdicts(&records));
}

#[test]
fn nan_outputs_make_the_cell_invalid_whatever_the_gate() {
    let wrong = WrongOutput { values: WrongValues::Nan, above_batch: Some(4), above_seq: None };
    let records = run(Some(wrong));
    assert_eq!(verdicts(&records).iter().map(|v| v.2).collect::<Vec<_>>(), [true, false, true, false]);
    let r = &records[1];
    let reason = r.invalid_reason.as_deref().unwrap();
    // Warm-up (2 requests + the first) and the 12 measured requests, 8 vectors each.
    assert!(reason.contains("first request and warm-up: 24 of 24 vectors"), "{reason}");
    assert!(reason.contains("measured phase: 96 of 96 vectors the backend returned hold NaN or infinity"), "{reason}");
    assert!(reason.contains("correctness gate failed at batch 8 x seq 16: 8 of 8 probe vectors hold NaN"), "{reason}");
    assert_eq!(r.non_finite_vectors, Some(96));
    assert_eq!(r.min_cosine, None, "no NaN or infinity is reported as a cosine");
}
