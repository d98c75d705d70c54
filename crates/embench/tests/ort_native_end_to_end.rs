//! The ort-native backend (ONNX Runtime's C++ API in a worker process) through
//! `embench run`: gated against sentence-transformers and recorded with what ran
//! (library, headers, C API version); and what a missing or broken worker does.
//! Needs the worker that `make test` builds first (scripts/build_ort_native.sh).

mod common;

use common::{embench, models_yaml, run_config, write};
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

const SCENARIO: &str = "test_scenarios:\n  - name: tiny\n    concurrency: 2\n    num_requests: 6\n    batch_size: 2\ninput_config:\n  sequence_lengths: [16]\n  warmup_requests: 1\n";

#[test]
fn ort_native_passes_the_gate_beside_ort_and_records_what_ran() {
    let (dir, out, records, _stderr) = run_config(&format!(
        "active_models: [minilm]\nbackends:\n  - name: ort\n    threads: 1\n    ort: {{sessions: 2, graph_optimization: extended}}\n  - name: ort-native\n    threads: 1\n    ort: {{sessions: 2, graph_optimization: extended}}\n{SCENARIO}"
    ));
    assert_eq!(records.len(), 2);
    let r = &records[1];
    assert_eq!(r["framework"], "ort-native", "{r:#}");
    assert_eq!(r["valid"], true, "{r:#}");
    assert!(r["min_cosine"].as_f64().unwrap() >= 0.9999, "{r:#}");
    let version = r["framework_version"].as_str().unwrap();
    assert!(version.starts_with("onnxruntime 1.31.1 (C++ API, headers 1."), "{version}");
    let s = &r["backend_settings"];
    assert_eq!(s["graph_optimization"], "extended", "ort's session keys reach the C++ session: {s:#}");
    assert_eq!(s["sessions"], "2 (one worker process each)");
    // The library the ort cell loaded, the same file.
    assert_eq!(s["library"], records[0]["backend_settings"]["library"], "{s:#}");
    // Headers older than the runtime are said in the record, not hidden.
    let api: u32 = s["c_api_version"].as_str().unwrap().parse().unwrap();
    let warned = r["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().contains("a newer runtime serves an older C API version"));
    assert_eq!(warned, api != 31, "headers {} (C API {api}) on runtime 1.31.1: {r:#}", s["headers"]);
    assert_eq!(s["malloc"], "mmap_threshold 32 MiB, trim_threshold 128 MiB", "embench's own allocator settings");
    // Its worker processes' memory counts as its own (a session of MiniLM is tens of MiB).
    let growth = r["peak_rss_mb"].as_f64().unwrap() - r["rss_before_load_mb"].as_f64().unwrap();
    assert!(growth > 40.0, "the worker processes' memory is not counted: {r:#}");
    let report = common::report(dir.path(), &out);
    assert!(report.contains("### ONNX Runtime bindings"), "{report}");
    // Paired with the ort cell run alike (same threads, sessions and optimisation level).
    assert!(report.contains("| tiny | 2 | 2 | ort-native |"), "{report}");
}

#[test]
fn a_worker_path_that_does_not_exist_fails_validation_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    models_yaml(dir.path());
    let config =
        write(dir.path(), "bench.yaml", &format!("active_models: [minilm]\nbackends: [ort-native]\n{SCENARIO}"));
    embench()
        .env("EMBENCH_ORT_NATIVE_WORKER", "/no/such/ort-native-worker")
        .arg("validate")
        .arg(&config)
        .assert()
        .code(2)
        .stderr(contains("EMBENCH_ORT_NATIVE_WORKER=/no/such/ort-native-worker does not exist").and(contains("fix:")));
}

#[test]
fn a_worker_that_dies_before_it_is_ready_invalidates_its_cells_and_keeps_the_others() {
    let dir = tempfile::tempdir().unwrap();
    models_yaml(dir.path());
    let config = write(
        dir.path(),
        "bench.yaml",
        &format!("active_models: [minilm]\nbackends:\n  - name: ort\n    threads: 1\n  - name: ort-native\n    threads: 1\n{SCENARIO}"),
    );
    let out = dir.path().join("run");
    embench()
        .env("EMBENCH_ORT_NATIVE_WORKER", "/bin/false")
        .args(["run", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(1)
        .stderr(contains("INVALID"));
    let records = common::validate_results(&out);
    assert_eq!(records[0]["valid"], true, "the ort cell measured before stays: {:#}", records[0]);
    let reason = records[1]["invalid_reason"].as_str().unwrap();
    assert!(reason.contains("the ort-native worker (/bin/false) ended before it was ready"), "{reason}");
    assert!(
        reason.contains("fix: EMBENCH_ORT_NATIVE_WORKER=/bin/false is not a working ort-native worker"),
        "{reason}"
    );
}

#[test]
fn settings_ort_native_cannot_honour_are_refused_at_validate() {
    let dir = tempfile::tempdir().unwrap();
    models_yaml(dir.path());
    for (entry, message) in [
        (
            "  - name: ort-native\n    ort: {execution_providers: [cuda, cpu]}\n",
            "ort-native's worker runs the CPU provider only",
        ),
        ("  - name: ort-native\n    device: cuda\n", "ort-native runs on the CPU in embench"),
        (
            "  - name: ort-native\n    processes: 2\n",
            "'processes' is a setting of the python-* backends (fix: use 'ort: {sessions: N}'",
        ),
        ("  - name: ort-native\n    python: {processes: 2}\n", "'python' is a setting of the python-* backends"),
        ("  - name: ort-native\n    streams: 2\n", "'streams' is a setting of the openvino backend"),
    ] {
        let config = write(dir.path(), "bench.yaml", &format!("active_models: [minilm]\nbackends:\n{entry}{SCENARIO}"));
        embench().arg("validate").arg(&config).assert().code(2).stderr(contains(message));
    }
}

#[test]
fn a_library_that_is_not_onnx_runtime_fails_validation_for_ort_and_ort_native() {
    let dir = tempfile::tempdir().unwrap();
    models_yaml(dir.path());
    let libm = embench_core::parity::not_a_runtime();
    for backend in ["ort", "ort-native"] {
        let config =
            write(dir.path(), "bench.yaml", &format!("active_models: [minilm]\nbackends: [{backend}]\n{SCENARIO}"));
        embench()
            .env("ORT_DYLIB_PATH", &libm)
            .arg("validate")
            .arg(&config)
            .assert()
            .code(2)
            .stderr(contains("has no OrtGetApiBase: it is not ONNX Runtime's library").and(contains("ORT_DYLIB_PATH")));
    }
}
