//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

pub mod served;

use std::path::{Path, PathBuf};

use predicates::prelude::PredicateBooleanExt;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Writes `body` as `name` in `dir`, returning the path.
pub fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

/// A models.yaml pointing at the real default model folder.
pub fn models_yaml(dir: &Path) -> PathBuf {
    let folder = repo().join("models/all-minilm-l6-v2");
    write(
        dir,
        "models.yaml",
        &format!(
            "models:\n  minilm:\n    name: MiniLM\n    type: text_embedding\n    huggingface_id: sentence-transformers/all-MiniLM-L6-v2\n    path: {}\n    architecture: bert\n    max_seq_length: 256\n    embedding_dim: 384\n    params: 22.7M\n    multilingual: false\n",
            folder.display()
        ),
    )
}

/// Validates every line of `results.jsonl` against the checked-in schema; returns the records.
pub fn validate_results(run_dir: &Path) -> Vec<serde_json::Value> {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("schema/result.schema.json")).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let body = std::fs::read_to_string(run_dir.join("results.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!records.is_empty(), "results.jsonl is empty");
    for r in &records {
        let errors: Vec<String> = validator.iter_errors(r).map(|e| format!("{} at {}", e, e.instance_path)).collect();
        assert!(errors.is_empty(), "record does not match the schema: {errors:#?}\n{r:#}");
    }
    records
}

/// `embench run --config CONFIG --out OUT`, without LD_LIBRARY_PATH: the binary must
/// find its native libraries itself (rpath, venv search), as a user's would. No
/// terminal: progress comes as a line per cell, warnings included, as in a CI log.
/// The `embench` binary, without the caller's `LD_LIBRARY_PATH` (the runtimes are found as a user's would be).
pub fn embench() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("embench").unwrap();
    cmd.env_remove("LD_LIBRARY_PATH");
    cmd
}

pub fn run(config: &Path, out: &Path) -> assert_cmd::assert::Assert {
    assert_cmd::Command::cargo_bin("embench")
        .unwrap()
        .env_remove("LD_LIBRARY_PATH")
        .args(["run", "--config"])
        .arg(config)
        .arg("--out")
        .arg(out)
        .assert()
}

/// What a run left: its temporary directory (kept alive), the run directory, the
/// schema-checked records and the run's stderr.
pub type Ran = (tempfile::TempDir, std::path::PathBuf, Vec<serde_json::Value>, String);

/// Runs `config` (a benchmark config using the `minilm` model) in a fresh
/// directory; the run must succeed with no INVALID cell.
pub fn run_config(config: &str) -> Ran {
    let dir = tempfile::tempdir().unwrap();
    models_yaml(dir.path());
    let path = write(dir.path(), "bench.yaml", config);
    let out = dir.path().join("run");
    let assert = run(&path, &out).success().stderr(predicates::str::contains("INVALID").not());
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    let records = validate_results(&out);
    (dir, out, records, stderr)
}

/// `embench report RUN --out DIR/report`; returns report.md.
pub fn report(dir: &std::path::Path, run_dir: &std::path::Path) -> String {
    let out = dir.join("report");
    assert_cmd::Command::cargo_bin("embench")
        .unwrap()
        .arg("report")
        .arg(run_dir)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    std::fs::read_to_string(out.join("report.md")).unwrap()
}
