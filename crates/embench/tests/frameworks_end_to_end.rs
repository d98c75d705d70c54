//! `embench run` with every framework on the converted default model, and the
//! correctness gate: passing cells carry their min cosine, a wrong reference
//! invalidates the cell (still measured) and fails the run.

mod common;

use std::path::{Path, PathBuf};

use common::{models_yaml, repo, run, validate_results, write};

const SCENARIO: &str = "test_scenarios:\n  - name: tiny\n    concurrency: 2\n    num_requests: 4\n    batch_size: 2\ninput_config:\n  sequence_lengths: [16]\n  warmup_requests: 1\n";

/// A model root `minilm/` in `dir` that links the real Hugging Face folder but has no
/// conversions, a models.yaml for it, and a candle-only config; returns (root, config).
fn linked_model_root(dir: &Path) -> (PathBuf, PathBuf) {
    let root = dir.join("minilm");
    std::fs::create_dir(&root).unwrap();
    std::os::unix::fs::symlink(repo().join("models/all-minilm-l6-v2/pytorch"), root.join("pytorch")).unwrap();
    write(
        dir,
        "models.yaml",
        "models:\n  minilm:\n    name: m\n    type: text_embedding\n    huggingface_id: x/y\n    path: minilm\n    max_seq_length: 256\n    embedding_dim: 384\n    params: 1M\n    multilingual: false\n",
    );
    let config = write(
        dir,
        "bench.yaml",
        &format!("active_models: [minilm]\nbackends:\n  - name: candle\n    threads: 2\n{SCENARIO}"),
    );
    (root, config)
}

/// Runs `backends` (YAML list items) on the converted default model; returns the records.
fn run_backends(backends: &str) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    models_yaml(dir.path());
    let config = write(dir.path(), "bench.yaml", &format!("active_models: [minilm]\nbackends:\n{backends}{SCENARIO}"));
    let out = dir.path().join("run");
    run(&config, &out).success();
    validate_results(&out)
}

#[test]
fn candle_ort_and_openvino_pass_the_gate_and_record_their_settings() {
    let records = run_backends(
        "  - name: candle\n    threads: 2\n  - name: ort\n    threads: 2\n    ort: {sessions: 2}\n  - name: openvino\n    threads: 2\n    openvino: {performance_hint: throughput}\n  - name: openvino\n    label: openvino-bf16\n    precision: bf16\n    threads: 2\n  - name: mock\n",
    );
    let labels: Vec<&str> = records.iter().map(|r| r["backend"].as_str().unwrap()).collect();
    assert_eq!(labels, ["candle", "ort", "openvino", "openvino-bf16", "mock"]);
    for r in &records[..4] {
        assert_eq!(r["valid"], true, "{r:#}");
        let min = r["min_cosine"].as_f64().unwrap();
        assert!(min >= r["gate_threshold"].as_f64().unwrap(), "{r:#}");
        assert!(min > 0.99, "{r:#}");
    }
    assert_eq!(records[1]["framework"], "ort");
    assert!(records[1]["framework_version"].as_str().unwrap().starts_with("onnxruntime 1.31.1"));
    assert_eq!(records[1]["backend_settings"]["sessions"], "2");
    assert_eq!(records[1]["backend_settings"]["execution_providers"], "cpu");
    assert_eq!(records[2]["backend_settings"]["performance_hint"], "THROUGHPUT");
    assert_eq!(records[2]["gate_threshold"], 0.999);
    let bf16 = &records[3];
    assert_eq!(bf16["requested_precision"], "bf16");
    if bf16["precision"] == "fp32" {
        // This CPU has no bf16: the record says what ran, and warns.
        assert!(bf16["warnings"][0].as_str().unwrap().contains("bf16 was asked for"), "{bf16:#}");
    }
    assert_eq!(records[4]["min_cosine"], serde_json::Value::Null, "the mock is not gated");
}

#[test]
fn a_wrong_reference_invalidates_the_cell_but_keeps_its_figures() {
    let dir = tempfile::tempdir().unwrap();
    // A model root whose reference embeddings are negated: no backend can match them.
    let (root, config) = linked_model_root(dir.path());
    std::fs::create_dir(root.join("references")).unwrap();
    for file in ["reference.json", "references/seq_16.json"] {
        let reference: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(repo().join("models/all-minilm-l6-v2").join(file))
                .expect("make test converts the model first (make convert)"),
        )
        .unwrap();
        let mut wrong = reference.clone();
        for v in wrong["embeddings"].as_array_mut().unwrap() {
            for x in v.as_array_mut().unwrap() {
                *x = (-x.as_f64().unwrap()).into();
            }
        }
        std::fs::write(root.join(file), wrong.to_string()).unwrap();
    }
    let out = dir.path().join("run");
    run(&config, &out).code(1).stderr(predicates::str::contains("INVALID"));
    let records = validate_results(&out);
    let r = &records[0];
    assert_eq!(r["valid"], false);
    assert!(r["invalid_reason"].as_str().unwrap().contains("correctness gate failed"), "{r:#}");
    assert!(r["min_cosine"].as_f64().unwrap() < -0.99, "{r:#}");
    assert_eq!(r["requests"], 4, "the cell is still measured");
    assert!(r["qps"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_model_without_reference_warns_that_correctness_was_not_checked() {
    let dir = tempfile::tempdir().unwrap();
    let (_, config) = linked_model_root(dir.path());
    let out = dir.path().join("run");
    run(&config, &out).success().stderr(predicates::str::contains("correctness not checked"));
    let r = &validate_results(&out)[0];
    assert!(r["warnings"][0].as_str().unwrap().contains("convert_models.sh minilm"), "{r:#}");
}

/// libtorch is linked at build time; the binary must find it through its rpath,
/// with no LD_LIBRARY_PATH from the environment.
#[cfg(feature = "tch")]
#[test]
fn tch_runs_without_ld_library_path_and_passes_the_gate() {
    let records = run_backends(
        // libtorch's bf16 keeps 0.989 of fp32's neighbours on MiniLM (this CPU: AVX512_BF16),
        // just under the 0.99 default: the bound here is the one this test can hold.
        "  - name: tch\n    threads: 2\n  - name: tch\n    label: tch-bf16\n    precision: bf16\n    threads: 2\nquality:\n  min_recall_at_10: {bf16: 0.98}\n",
    );
    assert_eq!(records.len(), 2);
    assert!(records[0]["retrieval"].is_null(), "fp32 cells skip the retrieval check by default");
    let recall = records[1]["retrieval"]["recall_at_10"].as_f64().unwrap();
    assert!((0.98..=1.0).contains(&recall), "{:#}", records[1]);
    for (r, precision, bound) in [(&records[0], "fp32", 0.999), (&records[1], "bf16", 0.99)] {
        assert_eq!(r["valid"], true, "{r:#}");
        assert_eq!(r["framework"], "tch");
        assert_eq!(r["precision"], precision);
        assert_eq!(r["gate_threshold"], bound);
        assert!(r["min_cosine"].as_f64().unwrap() >= bound, "{r:#}");
        assert!(r["framework_version"].as_str().unwrap().starts_with("libtorch 2.13.0"), "{r:#}");
    }
}

/// The Python baselines run in worker processes of the venv's python and are
/// measured, gated and recorded like the Rust backends; their worker processes'
/// memory counts as theirs.
#[test]
fn python_baselines_pass_the_gate_and_record_what_ran() {
    let records = run_backends(
        "  - name: python-ort\n    threads: 2\n    python: {processes: 2}\n  - name: python-torch\n    threads: 2\n  - name: python-torch\n    label: python-torchscript\n    python: {mode: torchscript}\n    threads: 2\n  - name: python-openvino\n    threads: 2\n  - name: python-echo\n    threads: 1\n",
    );
    let labels: Vec<&str> = records.iter().map(|r| r["backend"].as_str().unwrap()).collect();
    assert_eq!(labels, ["python-ort", "python-torch", "python-torchscript", "python-openvino", "python-echo"]);
    for r in &records[..4] {
        assert_eq!(r["valid"], true, "{r:#}");
        assert!(r["min_cosine"].as_f64().unwrap() >= 0.999, "{r:#}");
        assert!(r["backend_settings"]["python"].as_str().unwrap().starts_with("3."), "{r:#}");
        // The interpreter alone is tens of MiB: a peak that small would mean the worker was not counted.
        let growth = r["peak_rss_mb"].as_f64().unwrap() - r["rss_before_load_mb"].as_f64().unwrap();
        assert!(growth > 50.0, "the worker process's memory is not counted: {r:#}");
    }
    assert_eq!(records[0]["framework"], "python-ort");
    assert_eq!(records[0]["framework_version"], "1.31.1");
    assert_eq!(records[0]["backend_settings"]["processes"], "2");
    assert_eq!(records[1]["backend_settings"]["mode"], "eager");
    assert_eq!(records[2]["backend_settings"]["mode"], "torchscript");
    assert!(records[1]["framework_version"].as_str().unwrap().starts_with("2.13.0"));
    assert_eq!(records[3]["framework"], "python-openvino");
    assert_eq!(records[4]["min_cosine"], serde_json::Value::Null, "the echo worker is not gated");
    assert_eq!(records[4]["valid"], true);
}
