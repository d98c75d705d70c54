//! Which threads call the backend. Each cell runs on a fresh thread, which loads
//! the model. A direct cell at concurrency 1 makes every call (first request,
//! warm-up, measured requests) from that thread, as a plain loop would; a served
//! cell makes none from it, only from its replicas' workers. Backends keep
//! per-thread state: libgomp gives every calling thread a team of its own, and
//! libtorch at batch 1 on 2 cores lost 7 % when a second team existed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use embench_core::config::{load_config, ResolvedBackend, ResolvedModel};
use embench_core::{BackendInfo, BackendKind, Crates, EmbedError, Embedder, Embeddings, TokenizedBatch};
use embench_mock::{MockBackend, MockEmbedder, MockSettings};
use embench_runner::{execute, BackendFactory, CellProgress, CellRecord, RecordSink, RunObserver, RunPlan};
use embench_schema::manifest::BackendVersion;

type Calls = Arc<Mutex<HashMap<ThreadId, u64>>>;

/// One load: the thread that loaded the model, and its calls by calling thread.
type Load = (ThreadId, Calls);

/// The mock, counting its calls by calling thread.
struct Recording {
    inner: MockEmbedder,
    calls: Calls,
}

impl Embedder for Recording {
    fn info(&self) -> &BackendInfo {
        self.inner.info()
    }

    fn embed(&self, batch: &TokenizedBatch) -> Result<Embeddings, EmbedError> {
        *self.calls.lock().unwrap().entry(std::thread::current().id()).or_insert(0) += 1;
        self.inner.embed(batch)
    }
}

/// Every load, in load order.
#[derive(Default)]
struct Factory(Mutex<Vec<Load>>);

impl BackendFactory for Factory {
    fn load(
        &self,
        backend: &ResolvedBackend,
        _: &ResolvedModel,
        _: embench_core::Modality,
    ) -> Result<Box<dyn Embedder>, EmbedError> {
        let calls = Calls::default();
        self.0.lock().unwrap().push((std::thread::current().id(), calls.clone()));
        let inner = MockEmbedder::new(backend.settings::<MockSettings>().cloned().expect("a mock backend"));
        Ok(Box::new(Recording { inner, calls }))
    }

    fn versions(&self) -> Vec<BackendVersion> {
        Vec::new()
    }
}

struct Quiet(AtomicU64);

impl CellProgress for Quiet {
    fn counter(&self) -> &AtomicU64 {
        &self.0
    }
}

impl RunObserver for Quiet {
    fn cell_started(&self, _: usize, _: usize, _: &str, _: u64) -> Box<dyn CellProgress + '_> {
        Box::new(Quiet(AtomicU64::new(0)))
    }

    fn cell_finished(&self, _: &CellRecord) {}
}

#[derive(Default)]
struct Records(Vec<CellRecord>);

impl RecordSink for Records {
    fn append(&mut self, record: &CellRecord) -> std::io::Result<()> {
        self.0.push(record.clone());
        Ok(())
    }

    fn describe(&self) -> String {
        "memory".into()
    }
}

fn write_configs(dir: &Path) -> PathBuf {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/all-minilm-l6-v2");
    std::fs::write(
        dir.join("models.yaml"),
        format!(
            "models:\n  minilm:\n    name: MiniLM\n    type: text_embedding\n    huggingface_id: sentence-transformers/all-MiniLM-L6-v2\n    path: {}\n    architecture: bert\n    max_seq_length: 256\n    embedding_dim: 384\n    params: 22.7M\n    multilingual: false\n",
            model.display()
        ),
    )
    .unwrap();
    let config = dir.join("bench.yaml");
    std::fs::write(
        &config,
        "active_models: [minilm]
backends:
  - name: mock
    mock: {service_time: {distribution: constant, ms: 1}}
test_scenarios:
  - {name: direct, concurrency: 1, num_requests: 20, batch_size: 1}
  - {name: served, concurrency: 1, num_requests: 20, batch_size: 1, replicas: 1, workers_per_model: 1}
input_config:
  sequence_lengths: [16]
  warmup_requests: 5
",
    )
    .unwrap();
    config
}

/// A catalog of the mock's crate (it reads the entry's `mock` block).
const MOCK: Crates = Crates(|k| (k == BackendKind::Mock).then_some(&MockBackend as _));

#[test]
fn each_cell_runs_on_a_fresh_thread_that_alone_calls_a_direct_cell_and_never_a_served_one() {
    let dir = std::env::temp_dir().join(format!("embench-calling-threads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = load_config(&write_configs(&dir), &MOCK).expect("the config is valid");
    let plan = RunPlan::new(config);
    let (factory, mut records) = (Factory::default(), Records::default());
    let outcome = execute(&plan, &factory, &mut records, &Quiet(AtomicU64::new(0)), &AtomicBool::new(false));
    std::fs::remove_dir_all(&dir).unwrap();
    outcome.expect("the run completes");
    assert_eq!(
        records.0.iter().map(|r| (r.scenario.as_str(), r.valid)).collect::<Vec<_>>(),
        [("direct", true), ("served", true)]
    );

    let here = std::thread::current().id();
    let loads: Vec<(ThreadId, HashMap<ThreadId, u64>)> =
        factory.0.into_inner().unwrap().into_iter().map(|(t, c)| (t, c.lock().unwrap().clone())).collect();
    let [(direct_thread, direct), (served_thread, served)] = &loads[..] else {
        panic!("one load per cell, got {}", loads.len())
    };
    assert!(direct_thread != &here && served_thread != &here && direct_thread != served_thread, "{loads:?}");
    // First request, 5 warm-up, 20 measured: all from the thread that ran the cell.
    assert_eq!(direct.keys().collect::<Vec<_>>(), [direct_thread], "direct cell: {direct:?}");
    assert_eq!(direct[direct_thread], 26);
    assert!(!served.contains_key(served_thread), "served cell called the backend from the cell's thread: {served:?}");
    assert_eq!(served.values().sum::<u64>(), 26, "served cell: {served:?}");
}
