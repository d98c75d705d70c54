//! Inputs that once got a wrong figure or verdict with nothing said (issue 18):
//! NaN embeddings, a length beyond the position table, percentiles from too few
//! requests, oversubscribed threads, shared pages of worker processes.

mod common;

use std::path::Path;

use common::{embench, models_yaml, repo, run, validate_results, write};
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

#[test]
fn a_mock_returning_nan_is_invalid_with_the_phase_and_count() {
    let dir = tempfile::tempdir().unwrap();
    models_yaml(dir.path());
    let config = write(
        dir.path(),
        "bench.yaml",
        "active_models: [minilm]\nbackends:\n  - name: mock\n    mock: {wrong_output: {values: nan}}\ntest_scenarios:\n  - {name: nan, concurrency: 1, num_requests: 10, batch_size: 2}\ninput_config:\n  sequence_lengths: [16]\n  warmup_requests: 1\n",
    );
    let out = dir.path().join("run");
    run(&config, &out)
        .code(1)
        .stdout(contains("INVALID [1]"))
        .stdout(contains("[1] minilm / mock / nan: first request and warm-up: 4 of 4 vectors"));
    let records = validate_results(&out);
    let reason = records[0]["invalid_reason"].as_str().unwrap();
    assert!(reason.contains("measured phase: 20 of 20 vectors the backend returned hold NaN or infinity"), "{reason}");
    assert_eq!(records[0]["non_finite_vectors"], 20);
}

#[test]
fn a_cache_cell_of_nan_outputs_says_each_reason_once() {
    let dir = tempfile::tempdir().unwrap();
    models_yaml(dir.path());
    let config = write(
        dir.path(),
        "bench.yaml",
        "active_models: [minilm]\nbackends:\n  - name: mock\n    mock: {wrong_output: {values: nan}}\ntest_scenarios:\n  - name: cache\n    concurrency: 1\n    num_requests: 4\n    batch_size: 2\n    cache: {repeat_ratios: [0.5]}\ninput_config:\n  sequence_lengths: [16]\n  warmup_requests: 1\n",
    );
    let out = dir.path().join("run");
    run(&config, &out).code(1);
    let records = validate_results(&out);
    assert_eq!(records.len(), 4, "off, cold, hot, warm");
    for r in &records {
        let reason = r["invalid_reason"].as_str().unwrap();
        assert_eq!(reason.matches("first request and warm-up:").count(), 1, "{reason}");
    }
}

/// A copy of the MiniLM folder (weights linked) whose config.json sets `key` to `value`.
fn broken_minilm(dir: &Path, key: &str, value: serde_json::Value) -> std::path::PathBuf {
    let real = repo().join("models/all-minilm-l6-v2");
    let copy = dir.join("broken-minilm");
    std::fs::create_dir_all(copy.join("pytorch")).unwrap();
    for entry in std::fs::read_dir(real.join("pytorch")).unwrap().flatten() {
        if entry.file_name() != "config.json" {
            std::os::unix::fs::symlink(entry.path(), copy.join("pytorch").join(entry.file_name())).unwrap();
        }
    }
    for shared in ["reference.json", "references"] {
        std::os::unix::fs::symlink(real.join(shared), copy.join(shared)).unwrap();
    }
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(real.join("pytorch/config.json")).unwrap()).unwrap();
    config[key] = value;
    std::fs::write(copy.join("pytorch/config.json"), config.to_string()).unwrap();
    copy
}

fn models_yaml_for(dir: &Path, folder: &Path, max_seq_length: usize) {
    write(
        dir,
        "models.yaml",
        &format!(
            "models:\n  minilm:\n    name: MiniLM\n    type: text_embedding\n    huggingface_id: sentence-transformers/all-MiniLM-L6-v2\n    path: {}\n    max_seq_length: {max_seq_length}\n    embedding_dim: 384\n    params: 22.7M\n    multilingual: false\n",
            folder.display()
        ),
    );
}

#[test]
fn candle_on_a_config_that_breaks_layer_norm_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let folder = broken_minilm(dir.path(), "layer_norm_eps", serde_json::json!(-1_000_000.0));
    models_yaml_for(dir.path(), &folder, 256);
    let config = write(
        dir.path(),
        "bench.yaml",
        "active_models: [minilm]\nbackends:\n  - name: candle\n    threads: 2\ntest_scenarios:\n  - {name: one, concurrency: 1, num_requests: 4, batch_size: 1}\ninput_config:\n  sequence_lengths: [32]\n  warmup_requests: 1\n",
    );
    let out = dir.path().join("run");
    run(&config, &out).code(1).stdout(contains("INVALID"));
    let records = validate_results(&out);
    let reason = records[0]["invalid_reason"].as_str().unwrap();
    assert!(reason.contains("measured phase: 4 of 4 vectors the backend returned hold NaN or infinity"), "{reason}");
    assert!(
        reason.contains("correctness gate failed at batch 1 x seq 32: 16 of 16 probe vectors hold NaN"),
        "{reason}"
    );
    assert_eq!(records[0]["min_cosine"], serde_json::Value::Null, "no 'min cos inf'");
}

#[test]
fn validate_bounds_lengths_by_the_models_position_table() {
    let dir = tempfile::tempdir().unwrap();
    models_yaml_for(dir.path(), &repo().join("models/all-minilm-l6-v2"), 1024);
    let config = write(
        dir.path(),
        "bench.yaml",
        "active_models: [minilm]\nbackends:\n  - name: ort\ntest_scenarios:\n  - {name: one, concurrency: 1, num_requests: 4, batch_size: 1}\ninput_config:\n  sequence_lengths: [128, 1024]\n  warmup_requests: 1\n",
    );
    let table = "config.json: max_position_embeddings 512";
    // Without `strict`: the position table bounds the lengths, 1024 is skipped with its source.
    embench()
        .args(["validate", "--config"])
        .arg(&config)
        .assert()
        .success()
        .stdout(contains("warning: ") .and(contains("max_seq_length 1024 is over the 512 positions the model has")))
        .stdout(contains("model 'minilm' at sequence length 1024 (1 cells): sequence length 1024 is over model 'minilm''s maximum of 512"))
        .stdout(contains(table));
    let config =
        write(dir.path(), "bench.yaml", &format!("{}strict: true\n", std::fs::read_to_string(&config).unwrap()));
    embench()
        .args(["validate", "--config"])
        .arg(&config)
        .assert()
        .failure()
        .stderr(contains("2 config errors"))
        .stderr(contains("models.yaml:7:21: field 'models.minilm.max_seq_length': max_seq_length 1024 is over the 512 positions the model has"))
        .stderr(contains("bench.yaml:7:27: field 'input_config.sequence_lengths[1]': sequence length 1024 is over model 'minilm''s maximum of 512"))
        .stderr(contains(table))
        .stderr(contains("(fix: use at most 512"));
}

#[test]
fn percentiles_from_too_few_requests_are_flagged_and_not_shown() {
    let dir = tempfile::tempdir().unwrap();
    models_yaml(dir.path());
    let config = write(
        dir.path(),
        "bench.yaml",
        "active_models: [minilm]\nbackends:\n  - name: mock\n    mock: {service_time: {distribution: uniform, min_ms: 0.1, max_ms: 0.5}}\ntest_scenarios:\n  - {name: hundred, concurrency: 1, num_requests: 100, batch_size: 1}\n  - {name: thousand, concurrency: 1, num_requests: 1000, batch_size: 1}\ninput_config:\n  sequence_lengths: [16]\n  warmup_requests: 1\n",
    );
    let out = dir.path().join("run");
    let ok = run(&config, &out).success().stdout(contains("— : too few requests for that percentile"));
    let stdout = String::from_utf8_lossy(&ok.get_output().stdout).into_owned();
    let row = |name: &str| stdout.lines().find(|l| l.contains(name)).unwrap().to_string();
    assert!(row("hundred").contains('—'), "{stdout}");
    assert!(!row("thousand").contains('—'), "{stdout}");
    let records = validate_results(&out);
    assert_eq!(records[0]["latency_ms"]["below_sample_floor"], serde_json::json!(["p95", "p99", "p99.9"]));
    assert_eq!(records[0]["latency_ms"]["count"], 100);
    assert!(records[0]["latency_ms"]["p99"].as_f64().unwrap() > 0.0, "the value is kept");
    assert_eq!(records[1]["latency_ms"]["below_sample_floor"], serde_json::json!(["p99.9"]));
}

#[test]
fn every_way_threads_multiply_is_warned_about_before_and_in_the_run() {
    let dir = tempfile::tempdir().unwrap();
    models_yaml(dir.path());
    let config = write(
        dir.path(),
        "bench.yaml",
        "active_models: [minilm]\nbackends:\n  - name: ort\n    threads: 64\n    sessions: 4\n  - name: openvino\n    threads: 1\n    streams: 512\n  - name: python-ort\n    threads: 64\n    processes: 3\n  - name: tch\n    threads: 64\ntest_scenarios:\n  - {name: four, concurrency: 4, num_requests: 4, batch_size: 1, backends: [ort, python-ort, tch]}\n  - {name: many, concurrency: 300, num_requests: 300, batch_size: 1, backends: [openvino]}\ninput_config:\n  sequence_lengths: [16]\n  warmup_requests: 1\n",
    );
    embench()
        .args(["validate", "--config"])
        .arg(&config)
        .assert()
        .success()
        .stdout(contains("backend 'ort', scenario 'four': oversubscribed: 4 sessions running at once x 64 intra-op threads = 256 threads"))
        .stdout(contains("backend 'openvino', scenario 'many': oversubscribed: 300 streams running at once (at least 1 thread each) sharing 1 inference threads = 300 threads"))
        .stdout(contains("backend 'python-ort', scenario 'four': oversubscribed: 3 worker processes running at once x 64 intra-op threads = 192 threads"))
        .stdout(contains("backend 'tch', scenario 'four': oversubscribed: 4 calling threads x 64 intra-op threads each"));
}

#[test]
fn two_python_workers_count_their_shared_pages_once() {
    let dir = tempfile::tempdir().unwrap();
    models_yaml(dir.path());
    let config = write(
        dir.path(),
        "bench.yaml",
        "active_models: [minilm]\nbackends:\n  - name: python-echo\n    threads: 1\n    python: {processes: 2}\ntest_scenarios:\n  - {name: two, concurrency: 2, num_requests: 40, batch_size: 1}\ninput_config:\n  sequence_lengths: [16]\n  warmup_requests: 4\n",
    );
    let out = dir.path().join("run");
    run(&config, &out).success().stdout(contains("INVALID").not());
    let records = validate_results(&out);
    let measure = records[0]["memory_phases"].as_array().unwrap().iter().find(|p| p["phase"] == "measure").unwrap();
    let marks: Vec<f64> = measure["process_peaks_mb"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(marks.len(), 3, "embench and its two workers: {measure}");
    let (shared, peak) = (measure["shared_overcount_mb"].as_f64().unwrap(), measure["peak_mb"].as_f64().unwrap());
    // Two interpreters share python's binary, its libraries and numpy's: megabytes, counted once.
    assert!(shared > 2.0, "{measure}");
    let sum: f64 = marks.iter().sum();
    // The peak is the marks' sum less the overcount, or the phase's start or end reading
    // (taken the same way) when that is higher by a page or two.
    assert!(peak < sum - 2.0, "shared pages are not counted once per process: {measure}");
    assert!((peak - (sum - shared)).abs() < 2.0, "peak = sum of marks - overcount: {measure}");
    assert_eq!(records[0]["peak_rss_mb"].as_f64().unwrap(), peak);
}

#[test]
fn validate_loads_each_backends_runtime_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    models_yaml(dir.path());
    let config = write(
        dir.path(),
        "bench.yaml",
        "active_models: [minilm]\nbackends:\n  - name: ort\ntest_scenarios:\n  - {name: one, concurrency: 1, num_requests: 4, batch_size: 1}\ninput_config:\n  sequence_lengths: [16]\n  warmup_requests: 1\n",
    );
    // A file that is no shared library: found, but it does not load.
    let bogus = write(dir.path(), "libonnxruntime.so", "not a library");
    embench()
        .env("ORT_DYLIB_PATH", &bogus)
        .args(["validate", "--config"])
        .arg(&config)
        .assert()
        .code(2)
        .stderr(contains("backend 'ort' cannot run here:"))
        .stderr(contains(format!("{} does not load", bogus.display())));
    embench()
        .env("ORT_DYLIB_PATH", dir.path().join("missing.so"))
        .args(["validate", "--config"])
        .arg(&config)
        .assert()
        .code(2)
        .stderr(contains("ORT_DYLIB_PATH=").and(contains("does not exist")));
}
