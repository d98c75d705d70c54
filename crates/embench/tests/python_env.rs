//! One rule picks the Python environment: the project's venv, whatever virtualenv
//! is active; `EMBENCH_PYTHON` overrides it; a worker that dies before it is ready
//! is recorded with its interpreter and the last lines of its stderr.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{models_yaml, repo, validate_results, write};

const ECHO: &str = "active_models: [minilm]\nbackends:\n  - name: python-echo\n    threads: 1\ntest_scenarios:\n  - {name: one, concurrency: 1, num_requests: 4, batch_size: 1}\ninput_config:\n  sequence_lengths: [16]\n  warmup_requests: 1\n";

/// An executable `python` at `path` that says what a python without numpy says, and
/// fails; with `passes_the_check`, `-c "import numpy"` (validation's check) succeeds
/// and only the worker dies.
fn broken_python(path: &Path, passes_the_check: bool) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let check = if passes_the_check { "[ \"$2\" = 'import numpy' ] && exit 0\n" } else { "" };
    std::fs::write(
        path,
        format!("#!/bin/sh\n{check}echo 'Traceback (most recent call last):' >&2\necho \"ModuleNotFoundError: No module named 'numpy'\" >&2\nexit 1\n"),
    )
    .unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn run(dir: &Path, env: (&str, &Path)) -> serde_json::Value {
    models_yaml(dir);
    let config = write(dir, "bench.yaml", ECHO);
    let out = dir.join(format!("run-{}", env.0));
    // The exit status depends on the case (1 for an invalid cell); the record tells what happened.
    let _ = assert_cmd::Command::cargo_bin("embench")
        .unwrap()
        .env_remove("EMBENCH_PYTHON")
        .env(env.0, env.1)
        .args(["run", "--quiet", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .assert();
    validate_results(&out).remove(0)
}

#[test]
fn an_active_virtualenv_does_not_replace_the_projects() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other-venv");
    broken_python(&other.join("bin/python"), false);
    let r = run(dir.path(), ("VIRTUAL_ENV", &other));
    assert_eq!(r["valid"], true, "{r:#}");
    let used = r["backend_settings"]["interpreter"].as_str().unwrap();
    assert_eq!(Path::new(used).canonicalize().unwrap(), repo().join(".venv/bin/python").canonicalize().unwrap());
}

#[test]
fn a_worker_that_dies_before_it_is_ready_is_recorded_with_its_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let python = dir.path().join("bin/python");
    broken_python(&python, true);
    let r = run(dir.path(), ("EMBENCH_PYTHON", &python));
    assert_eq!(r["valid"], false);
    let reason = r["invalid_reason"].as_str().unwrap();
    assert!(reason.contains(&format!("the Python worker ({})", python.display())), "{reason}");
    assert!(
        reason.contains(
            "its stderr ended: Traceback (most recent call last): | ModuleNotFoundError: No module named 'numpy'"
        ),
        "{reason}"
    );
}

#[test]
fn a_python_without_numpy_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let python = dir.path().join("bin/python");
    broken_python(&python, false);
    models_yaml(dir.path());
    let config = write(dir.path(), "bench.yaml", ECHO);
    assert_cmd::Command::cargo_bin("embench")
        .unwrap()
        .env("EMBENCH_PYTHON", &python)
        .args(["validate", "--config"])
        .arg(&config)
        .assert()
        .code(2)
        .stderr(predicates::str::contains(format!(
            "backend 'python-echo' cannot run here: {} cannot import numpy: ModuleNotFoundError: No module named 'numpy'",
            python.display()
        )));
}
