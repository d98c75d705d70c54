//! `embench run` end to end: a schema-valid run directory with mock and candle cells.

mod common;

use common::{models_yaml, repo, run, validate_results, write};
use predicates::prelude::PredicateBooleanExt;

#[test]
fn run_writes_a_schema_valid_run_directory() {
    let dir = tempfile::tempdir().unwrap();
    models_yaml(dir.path());
    let config = write(
        dir.path(),
        "bench.yaml",
        "active_models: [minilm]\nbackends:\n  - name: mock\n    service_time: {distribution: constant, ms: 1}\n  - name: candle\n    threads: 2\ntest_scenarios:\n  - name: tiny\n    concurrency: 2\n    num_requests: 6\n    batch_size: 2\ninput_config:\n  sequence_lengths: [16, natural]\n  warmup_requests: 2\n",
    );
    let out = dir.path().join("run");
    run(&config, &out).success().stdout(predicates::str::contains("run directory"));

    let records = validate_results(&out);
    assert_eq!(records.len(), 4, "2 backends x 1 scenario x 2 sequence lengths");
    for r in &records {
        assert_eq!(r["valid"], true, "{r:#}");
        assert_eq!(r["requests"], 6);
        assert!(r["qps"].as_f64().unwrap() > 0.0);
        // Memory per phase: load, warm-up, measure, each with start <= peak >= end.
        let phases = r["memory_phases"].as_array().unwrap();
        let names: Vec<&str> = phases.iter().map(|p| p["phase"].as_str().unwrap()).collect();
        assert_eq!(names, ["load", "warmup", "measure"], "{r:#}");
        for p in phases {
            let (start, end, peak) =
                (p["start_mb"].as_f64().unwrap(), p["end_mb"].as_f64().unwrap(), p["peak_mb"].as_f64().unwrap());
            assert!(start > 0.0 && peak >= start && peak >= end, "{p}");
        }
    }
    let candle: Vec<_> = records.iter().filter(|r| r["backend"] == "candle").collect();
    assert_eq!(candle.len(), 2);
    assert_eq!(candle[0]["seq_len"], 16);
    assert_eq!(candle[0]["tokens_per_input_mean"], 16.0, "every one of the 16 tokens is real");
    assert_eq!(candle[1]["seq_len"], "natural");
    assert_eq!(candle[0]["threads"], 2);
    assert_eq!(candle[0]["framework_version"], embench_version_of("candle-core"));

    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert!(manifest["host"]["logical_cpus"].as_u64().unwrap() >= 1);
    assert!(manifest["recommendation"]["tier"].is_string(), "the manifest carries the tier: {manifest:#}");
    assert!(manifest["finished_at"].is_string());
    assert_eq!(manifest["config"]["active_models"][0], "minilm");
    assert!(manifest["git_commit"].as_str().is_some_and(|c| !c.is_empty()));
}

#[test]
fn open_loop_and_offline_cells_are_schema_valid() {
    let dir = tempfile::tempdir().unwrap();
    models_yaml(dir.path());
    let config = write(
        dir.path(),
        "bench.yaml",
        "active_models: [minilm]\nbackends:\n  - name: mock\n    mock: {service_time: {distribution: constant, ms: 1}}\ntest_scenarios:\n  - name: open\n    mode: open_loop\n    rate_qps: 200\n    concurrency: 4\n    num_requests: 40\n    batch_size: 1\n  - name: swamped\n    mode: open_loop\n    rate_qps: 5000\n    arrival: fixed\n    concurrency: 1\n    num_requests: 40\n    batch_size: 1\n  - name: offline\n    mode: offline\n    concurrency: 2\n    num_requests: 40\n    batch_size: 4\ninput_config:\n  sequence_lengths: [16]\n  warmup_requests: 2\n",
    );
    let out = dir.path().join("run");
    run(&config, &out).success().stderr(predicates::str::contains("could not keep up"));
    let records = validate_results(&out);
    assert_eq!(records[0]["mode"], "open_loop");
    assert_eq!(records[0]["requested_rate_qps"], 200.0);
    let warns = |r: &serde_json::Value| -> Vec<String> {
        r["warnings"].as_array().unwrap().iter().map(|w| w.as_str().unwrap().to_string()).collect()
    };
    // Tests run side by side here, so a late wake-up of the generator may be
    // reported (truthfully); falling behind the schedule may not.
    assert!(!warns(&records[0]).iter().any(|w| w.contains("keep up")), "{}", records[0]);
    assert_eq!(records[0]["dispatch_lateness_ms"].as_array().map(Vec::len), Some(2), "{}", records[0]);
    // One worker at 1 ms per request cannot serve 5000 requests/s: the cell says so.
    assert!(warns(&records[1]).iter().any(|w| w.contains("could not keep up")), "{}", records[1]);
    assert_eq!(records[2]["mode"], "offline");
}

#[test]
fn a_failing_backend_is_recorded_loudly_and_the_run_fails() {
    let dir = tempfile::tempdir().unwrap();
    // The model folder has a tokenizer but broken weights: candle fails to load.
    let folder = dir.path().join("broken");
    std::fs::create_dir(&folder).unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(repo().join("models/all-minilm-l6-v2/pytorch").join(f), folder.join(f)).unwrap();
    }
    std::fs::write(folder.join("model.safetensors"), b"not safetensors").unwrap();
    write(
        dir.path(),
        "models.yaml",
        "models:\n  broken:\n    name: b\n    type: text_embedding\n    huggingface_id: x/y\n    path: broken\n    max_seq_length: 64\n    embedding_dim: 384\n    params: 1M\n    multilingual: false\n",
    );
    let config = write(
        dir.path(),
        "bench.yaml",
        "active_models: [broken]\nbackends:\n  - name: candle\n  - name: mock\ntest_scenarios:\n  - name: t\n    concurrency: 1\n    num_requests: 3\n    batch_size: 1\ninput_config:\n  sequence_lengths: [8]\n  warmup_requests: 0\n",
    );
    let out = dir.path().join("run");
    run(&config, &out)
        .code(1)
        .stdout(predicates::str::contains("INVALID"))
        .stderr(predicates::str::contains("INVALID cell broken / candle"));
    let records = validate_results(&out);
    assert_eq!(records.len(), 2, "the mock cell after the failed one still ran");
    assert_eq!(records[0]["valid"], false);
    assert!(records[0]["invalid_reason"].as_str().unwrap().contains("load"), "{}", records[0]);
    assert_eq!(records[1]["valid"], true);
}

#[test]
fn the_schema_rejects_records_that_drift_from_it() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("schema/result.schema.json")).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let fixture = std::fs::read_to_string(repo().join("crates/embench/tests/fixtures/record.json")).unwrap();
    let good: serde_json::Value = serde_json::from_str(&fixture).unwrap();
    assert!(validator.is_valid(&good), "the fixture record is valid");
    let mut extra = good.clone();
    extra["latency_p99"] = 1.0.into();
    assert!(!validator.is_valid(&extra), "an unknown field is rejected");
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("qps");
    assert!(!validator.is_valid(&missing), "a missing field is rejected");
    let mut lying = good;
    lying["errors"] = 3.into();
    assert!(!validator.is_valid(&lying), "a valid cell with failed requests is rejected");
}

/// The version of a dependency as locked in Cargo.lock.
fn embench_version_of(name: &str) -> String {
    let lock = std::fs::read_to_string(repo().join("Cargo.lock")).unwrap();
    let at = lock.find(&format!("name = \"{name}\"\nversion = \"")).unwrap();
    lock[at..].lines().nth(1).unwrap().split('"').nth(1).unwrap().to_string()
}

#[test]
fn a_phase_above_the_memory_threshold_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    models_yaml(dir.path());
    let config = write(
        dir.path(),
        "bench.yaml",
        "active_models: [minilm]\nbackends:\n  - name: mock\n    mock: {service_time: {distribution: constant, ms: 0}}\ntest_scenarios:\n  - name: tiny\n    concurrency: 1\n    num_requests: 5\n    batch_size: 1\ninput_config:\n  sequence_lengths: [16]\n  warmup_requests: 1\n  memory_warn_mb: 1\n",
    );
    let out = dir.path().join("run");
    run(&config, &out).success();
    let records = validate_results(&out);
    let warnings: Vec<&str> = records[0]["warnings"].as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
    for phase in ["load", "warmup", "measure"] {
        assert!(
            warnings.iter().any(|w| w.starts_with("memory: RSS peaked") && w.contains(&format!("during {phase},"))),
            "{warnings:?}"
        );
    }
    assert_eq!(records[0]["valid"], true, "a warning, not a failure");
}

#[test]
fn without_a_terminal_each_cell_gets_a_line_and_quiet_prints_only_failures() {
    let dir = tempfile::tempdir().unwrap();
    models_yaml(dir.path());
    let config = write(
        dir.path(),
        "bench.yaml",
        "active_models: [minilm]\nbackends:\n  - name: mock\n  - name: mock\n    label: nan\n    mock: {wrong_output: {values: nan}}\ntest_scenarios:\n  - {name: one, concurrency: 1, num_requests: 5, batch_size: 1}\ninput_config:\n  sequence_lengths: [16]\n  warmup_requests: 1\n",
    );
    let embench = || {
        let mut cmd = assert_cmd::Command::cargo_bin("embench").unwrap();
        cmd.args(["run", "--config"]).arg(&config);
        cmd
    };
    // assert_cmd gives the child no terminal, as CI does.
    let lines = embench().arg("--out").arg(dir.path().join("a")).assert().code(1);
    let stderr = String::from_utf8_lossy(&lines.get_output().stderr).into_owned();
    assert!(stderr.contains("2 of 2 cells to run"), "{stderr}");
    assert!(
        stderr.contains("cell 1/2: minilm / mock / one") && stderr.contains("cell 2/2: minilm / nan / one"),
        "{stderr}"
    );
    assert!(stderr.contains("  done: ") && stderr.contains("!! INVALID cell minilm / nan / one"), "{stderr}");
    let quiet = embench().arg("--out").arg(dir.path().join("b")).arg("-q").assert().code(1);
    let stderr = String::from_utf8_lossy(&quiet.get_output().stderr).into_owned();
    assert!(!stderr.contains("cell 1/2") && !stderr.contains("cells to run"), "{stderr}");
    assert!(stderr.contains("!! INVALID cell minilm / nan / one"), "failures still show: {stderr}");
    let stdout = String::from_utf8_lossy(&quiet.get_output().stdout).into_owned();
    assert!(stdout.contains("run directory:"), "{stdout}");
}

#[test]
fn run_takes_its_config_positionally_and_never_writes_over_a_run() {
    let dir = tempfile::tempdir().unwrap();
    models_yaml(dir.path());
    let config = write(
        dir.path(),
        "bench.yaml",
        "active_models: [minilm]\nbackends:\n  - name: mock\ntest_scenarios:\n  - {name: one, concurrency: 1, num_requests: 3, batch_size: 1}\ninput_config:\n  sequence_lengths: [16]\n  warmup_requests: 1\n",
    );
    let out = dir.path().join("run");
    let embench = || assert_cmd::Command::cargo_bin("embench").unwrap();
    embench().arg("validate").arg(&config).assert().success();
    embench()
        .arg("run")
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .arg("-q")
        .assert()
        .success()
        .stdout(predicates::str::contains(format!("next: embench report {}", out.display())));
    embench()
        .args(["run", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicates::str::contains(format!("is an earlier run (fix: `embench run --resume {}`", out.display())));
    let file = write(dir.path(), "a-file", "");
    embench()
        .arg("run")
        .arg(&config)
        .arg("--out")
        .arg(&file)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("is a file; a run writes a directory"));
    embench().args(["run", "--help"]).assert().success().stdout(predicates::str::contains("Examples:"));
}

#[test]
fn filters_choose_cells_for_the_run_and_its_resume_and_dry_run_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    models_yaml(dir.path());
    let config = write(
        dir.path(),
        "bench.yaml",
        "active_models: [minilm]\nbackends:\n  - name: mock\n    label: a\n  - name: mock\n    label: b\ntest_scenarios:\n  - {name: one, concurrency: 1, num_requests: 3, batch_size: [1, 2]}\n  - {name: two, concurrency: 1, num_requests: 3, batch_size: 1}\ninput_config:\n  sequence_lengths: [16]\n  warmup_requests: 1\n",
    );
    let embench = || assert_cmd::Command::cargo_bin("embench").unwrap();
    let out = dir.path().join("run");
    embench()
        .arg("run")
        .arg(&config)
        .args(["--backend", "b", "--dry-run", "--out"])
        .arg(&out)
        .assert()
        .success()
        .stdout(predicates::str::contains("cell 4: minilm / b / one / c=1 b=1 seq=16 (3 requests)"))
        .stdout(predicates::str::contains("3 of 6 cells, 9 measured requests (how long"));
    assert!(!out.exists(), "a dry run writes nothing");
    embench()
        .arg("run")
        .arg(&config)
        .args(["--backend", "B"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--backend B: not in the config (did you mean 'b'?); it has a, b"));
    embench()
        .arg("run")
        .arg(&config)
        .args(["--backend", "b", "--scenario", "one", "-q", "--out"])
        .arg(&out)
        .assert()
        .success();
    let records = validate_results(&out);
    let cells: Vec<(String, String, u64)> = records
        .iter()
        .map(|r| {
            (
                r["backend"].as_str().unwrap().into(),
                r["scenario"].as_str().unwrap().into(),
                r["batch_size"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(cells, [("b".into(), "one".into(), 1), ("b".into(), "one".into(), 2)]);
    // The filter is in the manifest: resuming runs the chosen cells that lack a result, not the others.
    let results = out.join("results.jsonl");
    let first = std::fs::read_to_string(&results).unwrap().lines().next().unwrap().to_string();
    std::fs::write(&results, first + "\n").unwrap();
    embench()
        .args(["run", "-q", "--resume"])
        .arg(&out)
        .assert()
        .success()
        .stderr(predicates::str::contains("1 cells done, 1 to run"));
    assert_eq!(validate_results(&out).len(), 2);
    embench().args(["completions", "bash"]).assert().success().stdout(predicates::str::contains("_embench()"));
}

#[test]
fn run_json_prints_the_records_for_scripts() {
    let dir = tempfile::tempdir().unwrap();
    models_yaml(dir.path());
    let config = write(
        dir.path(),
        "bench.yaml",
        "active_models: [minilm]\nbackends:\n  - name: mock\ntest_scenarios:\n  - {name: one, concurrency: 1, num_requests: 3, batch_size: [1, 2]}\ninput_config:\n  sequence_lengths: [16]\n  warmup_requests: 1\n",
    );
    let out = assert_cmd::Command::cargo_bin("embench")
        .unwrap()
        .arg("run")
        .arg(&config)
        .args(["--json", "-q", "--out"])
        .arg(dir.path().join("run"))
        .assert()
        .success();
    let records: Vec<serde_json::Value> = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(records.iter().map(|r| r["batch_size"].as_u64().unwrap()).collect::<Vec<_>>(), [1, 2]);
    assert!(records.iter().all(|r| r["valid"] == true && r["requests"] == 3));
}

#[test]
fn list_says_what_runs_here_and_why_not() {
    let embench = || assert_cmd::Command::cargo_bin("embench").unwrap();
    embench().args(["list", "backends"]).assert().success().stdout(
        predicates::str::contains("mock             usable")
            .and(predicates::str::contains(
                "candle           usable (runs bert, xlm-roberta, qwen3, gemma3, clip, siglip)",
            ))
            .and(predicates::str::contains(
                "ort              usable (runs bert, xlm-roberta, qwen3, gemma3, clip, siglip)",
            )),
    );
    let dir = tempfile::tempdir().unwrap();
    let bogus = write(dir.path(), "libonnxruntime.so", "not a library");
    embench()
        .env("ORT_DYLIB_PATH", &bogus)
        .args(["list", "backends"])
        .assert()
        .success()
        .stdout(predicates::str::contains("ort              compiled in, not usable here:"));
    let models = models_yaml(dir.path());
    embench().args(["list", "models", "--models"]).arg(&models).assert().success().stdout(
        predicates::str::contains("minilm")
            .and(predicates::str::contains("pytorch, onnx, openvino, torchscript, reference")),
    );
}

#[test]
fn a_siglip_folder_without_its_tower_files_is_refused_under_strict_and_skipped_without() {
    let dir = tempfile::tempdir().unwrap();
    // A SigLIP folder converted as a text model (one onnx/model.onnx): the backends that
    // read converted files need one file per tower; candle reads the safetensors.
    let folder = dir.path().join("siglip");
    std::fs::create_dir_all(folder.join("onnx")).unwrap();
    for f in ["model.safetensors", "tokenizer.json", "onnx/model.onnx"] {
        write(&folder, f, "x");
    }
    let config_json = r#"{"model_type": "siglip", "text_config": {"max_position_embeddings": 64, "hidden_size": 32}}"#;
    write(&folder, "config.json", config_json);
    write(
        dir.path(),
        "models.yaml",
        "models:\n  siglip:\n    type: multimodal\n    huggingface_id: x/siglip\n    path: siglip\n    max_seq_length: 64\n    embedding_dim: 32\n",
    );
    let config = write(
        dir.path(),
        "bench.yaml",
        "active_models: [siglip]\nstrict: true\nbackends:\n  - name: ort\n  - name: tch\ntest_scenarios:\n  - name: s\n    concurrency: 1\n    num_requests: 5\n    batch_size: 1\ninput_config:\n  sequence_lengths: [16]\n  warmup_requests: 0\n",
    );
    assert_cmd::Command::cargo_bin("embench").unwrap().arg("validate").arg(&config).assert().failure().stderr(
        predicates::str::contains("missing model files:")
            .and(predicates::str::contains("onnx/text_model.onnx"))
            .and(predicates::str::contains("onnx/vision_model.onnx"))
            .and(predicates::str::contains("torchscript/vision_model.pt")),
    );
    // Without `strict`, the same cells are SKIPPED: listed, recorded, and a run that
    // measures nothing says so and fails.
    std::fs::write(&config, std::fs::read_to_string(&config).unwrap().replace("strict: true\n", "")).unwrap();
    assert_cmd::Command::cargo_bin("embench").unwrap().arg("validate").arg(&config).assert().success().stdout(
        predicates::str::contains("SKIPPED: 2 of 2 cells cannot run here")
            .and(predicates::str::contains("model 'siglip' on ort (1 cells)"))
            .and(predicates::str::contains("onnx/text_model.onnx")),
    );
    let out = dir.path().join("run");
    run(&config, &out).code(1).stderr(
        predicates::str::contains("2 of 2 cells SKIPPED").and(predicates::str::contains("nothing was measured")),
    );
    let records = validate_results(&out);
    assert!(records.iter().all(|r| r["skipped"].as_str().unwrap().contains("missing model files")));
}
