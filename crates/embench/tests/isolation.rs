//! Process isolation, timeouts and resume, end to end through the binary with the
//! mock backend: a crash, segfault or hang loses only its own cell; a run killed
//! outright resumes without running or keeping any cell twice; a changed config is
//! refused; Ctrl-C once finishes the cell under way, twice abandons it.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{validate_results, write};

/// Three mocks in a batch sweep of 1, 2, 4: each one crashes at one batch size.
const CRASHES: &str = r#"models_file: models.yaml
active_models: [minilm]
backends:
  - name: mock
    label: mock-abort
    service_time: {distribution: constant, ms: 1}
    crash: {at_batch: 2, how: abort}
  - name: mock
    label: mock-segv
    service_time: {distribution: constant, ms: 1}
    crash: {at_batch: 4, how: segfault}
  - name: mock
    label: mock-hang
    service_time: {distribution: constant, ms: 1}
    crash: {at_batch: 1, how: hang}
test_scenarios:
  - name: sweep
    concurrency: 1
    num_requests: 10
    batch_size: [1, 2, 4]
input_config:
  sequence_lengths: [16]
  warmup_requests: 2
  cell_timeout_s: 3
"#;

/// Ten cells of about half a second each, in two backend groups.
const SLOW: &str = r#"models_file: models.yaml
active_models: [minilm]
backends:
  - name: mock
    service_time: {distribution: constant, ms: 10}
  - name: mock
    label: mock-2
    service_time: {distribution: constant, ms: 10}
test_scenarios:
  - name: sweep
    concurrency: 1
    num_requests: 40
    batch_size: [1, 2, 4, 8, 16]
input_config:
  sequence_lengths: [16]
  warmup_requests: 2
"#;

fn embench() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("embench").unwrap()
}

fn setup(config: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    common::models_yaml(dir.path());
    let path = write(dir.path(), "bench.yaml", config);
    (dir, path)
}

fn by_cell(records: &[serde_json::Value]) -> BTreeMap<u64, Vec<&serde_json::Value>> {
    let mut out: BTreeMap<u64, Vec<&serde_json::Value>> = BTreeMap::new();
    for r in records {
        out.entry(r["cell"].as_u64().expect("every record names its cell")).or_default().push(r);
    }
    out
}

#[test]
fn an_abort_a_segfault_and_a_hang_each_lose_only_their_own_cell() {
    let (dir, config) = setup(CRASHES);
    let out = dir.path().join("run");
    let assert = embench().args(["run", "--quiet", "--config"]).arg(&config).arg("--out").arg(&out).assert().code(1);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.contains("3 cells LOST"), "{stderr}");
    let records = validate_results(&out);
    let cells = by_cell(&records);
    assert_eq!(cells.len(), 9, "every cell has a record: {cells:#?}");
    assert!(cells.values().all(|r| r.len() == 1), "no cell twice");
    let lost: BTreeMap<(String, u64), (String, String)> = records
        .iter()
        .filter(|r| !r["worker_failure"].is_null())
        .map(|r| {
            let f = &r["worker_failure"];
            (
                (r["backend"].as_str().unwrap().to_string(), r["batch_size"].as_u64().unwrap()),
                (f["kind"].as_str().unwrap().to_string(), f["status"].as_str().unwrap().to_string()),
            )
        })
        .collect();
    let expect = |kind: &str, status: &str| (kind.to_string(), status.to_string());
    assert_eq!(
        lost,
        BTreeMap::from([
            (("mock-abort".into(), 2), expect("crashed", "signal 6 (SIGABRT)")),
            (("mock-segv".into(), 4), expect("crashed", "signal 11 (SIGSEGV)")),
            (("mock-hang".into(), 1), expect("timed_out", "signal 9 (SIGKILL)")),
        ])
    );
    for r in &records {
        if r["worker_failure"].is_null() {
            assert_eq!(r["valid"], true, "{r:#}");
            assert_eq!(r["requests"], 10);
        } else {
            assert_eq!(r["valid"], false);
            let tail = r["worker_failure"]["stderr_tail"].as_array().unwrap();
            assert!(tail.iter().any(|l| l.as_str().unwrap().contains("crashing on purpose")), "{r:#}");
            assert!(r["invalid_reason"].as_str().unwrap().contains("worker process"), "{r:#}");
        }
    }
}

/// `embench run --quiet [extra] --config CONFIG --out OUT` in the background.
fn start_run(config: &Path, out: &Path, extra: &[&str], stderr: std::process::Stdio) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("embench"))
        .args(["run", "--quiet"])
        .args(extra)
        .arg("--config")
        .arg(config)
        .arg("--out")
        .arg(out)
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

/// Waits (a minute at most) until `results` has `n` lines.
fn wait_for_lines(results: &Path, n: usize) {
    let start = Instant::now();
    while lines(results) < n {
        assert!(start.elapsed() < Duration::from_secs(60), "the run wrote fewer than {n} results in a minute");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map(|s| s.lines().count()).unwrap_or(0)
}

#[test]
fn a_run_killed_outright_resumes_with_each_cell_once() {
    let (dir, config) = setup(SLOW);
    let out = dir.path().join("run");
    let mut child = start_run(&config, &out, &[], std::process::Stdio::null());
    let results = out.join("results.jsonl");
    wait_for_lines(&results, 2);
    child.kill().unwrap(); // SIGKILL: no handler runs
    child.wait().unwrap();
    let before = lines(&results);
    assert!(before < 10, "the run finished before it was killed; nothing left to resume");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert!(manifest["finished_at"].is_null());

    let assert = embench().args(["run", "--quiet", "--resume"]).arg(&out).assert().success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.contains(&format!("{before} cells done, {} to run", 10 - before)), "{stderr}");
    let records = validate_results(&out);
    let cells = by_cell(&records);
    assert_eq!(cells.keys().copied().collect::<Vec<_>>(), (0..10).collect::<Vec<_>>());
    assert!(cells.values().all(|r| r.len() == 1), "a cell was kept twice: {cells:#?}");
    assert!(records.iter().all(|r| r["valid"] == true));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["resumed_at"].as_array().unwrap().len(), 1);
    assert!(manifest["finished_at"].is_string());

    // Nothing left: resuming again runs nothing and keeps everything, the manifest too.
    let finished = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    embench().args(["run", "--quiet", "--resume"]).arg(&out).assert().success();
    assert_eq!(lines(&results), 10);
    assert_eq!(
        std::fs::read_to_string(out.join("manifest.json")).unwrap(),
        finished,
        "a finished run is left as it was"
    );
}

#[test]
fn resume_drops_a_torn_last_line_and_refuses_a_changed_config() {
    let (dir, config) = setup(&SLOW.replace("batch_size: [1, 2, 4, 8, 16]", "batch_size: [1, 2]"));
    let out = dir.path().join("run");
    embench().args(["run", "--quiet", "--config"]).arg(&config).arg("--out").arg(&out).assert().success();
    // A kill in the middle of a write leaves half a line; the cell it belonged to runs again.
    let results = out.join("results.jsonl");
    let body = std::fs::read_to_string(&results).unwrap();
    let keep: Vec<&str> = body.lines().collect();
    std::fs::write(&results, format!("{}\n{}", keep[0], &keep[1][..keep[1].len() / 2])).unwrap();
    let assert = embench().args(["run", "--quiet", "--resume"]).arg(&out).assert().success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.contains("dropped 1 records of cells that were cut short"), "{stderr}");
    assert!(stderr.contains("1 cells done, 3 to run"), "{stderr}");
    let records = validate_results(&out);
    let cells = by_cell(&records);
    assert_eq!(cells.len(), 4);
    assert!(cells.values().all(|r| r.len() == 1));

    // The same settings in the block form are the same config (the run was started
    // with the deprecated flat form); a setting added to the block is a change.
    let block = SLOW.replace("batch_size: [1, 2, 4, 8, 16]", "batch_size: [1, 2]").replace(
        "    service_time: {distribution: constant, ms: 10}\n",
        "    mock: {service_time: {distribution: constant, ms: 10}}\n",
    );
    write(dir.path(), "bench.yaml", &block);
    embench().args(["run", "--quiet", "--resume"]).arg(&out).assert().success();
    write(dir.path(), "bench.yaml", &block.replacen("ms: 10}}", "ms: 10}, seed: 7}", 1));
    embench()
        .args(["run", "--quiet", "--resume"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("config.backends[0].mock.seed: null -> 7"));

    write(dir.path(), "bench.yaml", &SLOW.replace("batch_size: [1, 2, 4, 8, 16]", "batch_size: [1, 4]"));
    embench()
        .args(["run", "--quiet", "--resume"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("resuming would mix two benchmarks"))
        .stderr(predicates::str::contains("config.test_scenarios[0].batch_size"));
}

#[test]
fn a_run_started_with_relative_paths_resumes_from_any_directory() {
    let (dir, _) = setup(&SLOW.replace("batch_size: [1, 2, 4, 8, 16]", "batch_size: [1, 2]"));
    embench()
        .current_dir(dir.path())
        .args(["run", "--quiet", "--config", "bench.yaml", "--out", "run"])
        .assert()
        .success();
    let out = dir.path().join("run");
    let results = out.join("results.jsonl");
    let first = std::fs::read_to_string(&results).unwrap().lines().next().unwrap().to_string();
    std::fs::write(&results, first + "\n").unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let assert =
        embench().current_dir(elsewhere.path()).args(["run", "--quiet", "--resume"]).arg(&out).assert().success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.contains("1 cells done, 3 to run"), "{stderr}");
    assert_eq!(by_cell(&validate_results(&out)).len(), 4);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert!(Path::new(manifest["config_path"].as_str().unwrap()).is_absolute(), "{manifest:#}");
}

/// Starts a run of ten 1.5 s cells, and once the first cell is written and the
/// second is under way, sends SIGINT `times` times, 200 ms apart. Returns the
/// records written before the first signal, all records, the exit code and stderr.
fn interrupted_run(extra: &[&str], times: usize) -> (usize, Vec<serde_json::Value>, Option<i32>, String) {
    let (dir, config) = setup(&SLOW.replace("num_requests: 40", "num_requests: 150"));
    let out = dir.path().join("run");
    let child = start_run(&config, &out, extra, std::process::Stdio::piped());
    let results = out.join("results.jsonl");
    wait_for_lines(&results, 1);
    std::thread::sleep(Duration::from_millis(300));
    let before = lines(&results);
    for i in 0..times {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(200));
        }
        // SAFETY: a signal to the child this test started and has not yet waited for.
        assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    }
    let output = child.wait_with_output().unwrap();
    let records = validate_results(&out);
    (before, records, output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn ctrl_c_once_finishes_the_cell_and_twice_abandons_it_in_both_modes() {
    for mode in [&[][..], &["--in-process"][..]] {
        let (before, records, code, stderr) = interrupted_run(mode, 1);
        assert_eq!(code, Some(130), "{mode:?}: {stderr}");
        assert!(stderr.contains("Ctrl-C: finishing the current cell"), "{mode:?}: {stderr}");
        assert!(stderr.contains("embench run --resume"), "{mode:?}: {stderr}");
        assert_eq!(records.len(), before + 1, "{mode:?}: the cell under way is finished and kept, no other starts");
        assert!(records.iter().all(|r| r["valid"] == true && r["requests"] == 150), "{mode:?}");

        let (before, records, code, stderr) = interrupted_run(mode, 2);
        assert_eq!(code, Some(130), "{mode:?}: {stderr}");
        let again =
            if mode.is_empty() { "Ctrl-C again: abandoning the current cell" } else { "Ctrl-C again: exiting now" };
        assert!(stderr.contains(again), "{mode:?}: {stderr}");
        assert_eq!(records.len(), before, "{mode:?}: the cell under way is abandoned, not recorded");
        assert!(records.iter().all(|r| r["valid"] == true && r["requests"] == 150), "{mode:?}");
    }
}
