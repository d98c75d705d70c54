//! `embench report` and `embench compare` from the command line.

mod common;

use assert_cmd::Command;
use common::repo;
use predicates::prelude::PredicateBooleanExt;

fn fixture(host: &str) -> std::path::PathBuf {
    repo().join("crates/embench-report/tests/fixtures/runs").join(host)
}

fn embench() -> Command {
    Command::cargo_bin("embench").unwrap()
}

#[test]
fn report_writes_markdown_charts_and_csv() {
    let out = tempfile::tempdir().unwrap();
    embench()
        .arg("report")
        .arg(fixture("host-a"))
        .arg(fixture("host-b"))
        .arg("--out")
        .arg(out.path())
        .assert()
        .success();
    let md = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(md.contains("## Machines") && md.contains("host-b"));
    let charts: Vec<_> = std::fs::read_dir(out.path().join("charts")).unwrap().collect();
    assert!(charts.len() >= 10, "PNG and SVG per chart");

    embench()
        .arg("report")
        .arg(fixture("host-a"))
        .args(["--format", "csv", "--out"])
        .arg(out.path())
        .assert()
        .success();
    let csv = std::fs::read_to_string(out.path().join("cells.csv")).unwrap();
    assert_eq!(csv.lines().count(), 7, "header and 6 cells of host-a");
}

#[test]
fn report_on_a_directory_without_results_says_what_is_wrong() {
    let empty = tempfile::tempdir().unwrap();
    embench()
        .arg("report")
        .arg(empty.path())
        .assert()
        .code(2)
        .stderr(predicates::str::contains("manifest.json").and(predicates::str::contains("embench run")));
}

#[test]
fn compare_exit_codes_follow_the_regression_gate() {
    let out = tempfile::tempdir().unwrap();
    let md = out.path().join("compare.md");
    // Identical runs: nothing regresses, even at a 0 % gate.
    embench()
        .arg("compare")
        .arg(fixture("host-a"))
        .arg(fixture("host-a"))
        .args(["--fail-on-regression", "0", "--out"])
        .arg(&md)
        .assert()
        .success();
    // host-b runs candle on one thread instead of two: its single-client QPS falls by about a quarter.
    embench()
        .arg("compare")
        .arg(fixture("host-a"))
        .arg(fixture("host-b"))
        .args(["--fail-on-regression", "10", "--out"])
        .arg(&md)
        .assert()
        .code(1)
        .stderr(predicates::str::contains("REGRESSION beyond 10%: all-minilm-l6-v2 / candle / single"));
    // Without a gate, compare reports and succeeds; unmatched cells are listed.
    embench()
        .arg("compare")
        .arg(fixture("host-a"))
        .arg(fixture("host-b"))
        .arg("--out")
        .arg(&md)
        .assert()
        .success()
        .stdout(predicates::str::contains("Only in the baseline").and(predicates::str::contains("batch_8")));
}

/// A copy of fixture `host` in `dir` whose scenarios are renamed (`single` -> `renamed_single`).
fn renamed_copy(dir: &std::path::Path, host: &str) -> std::path::PathBuf {
    let copy = dir.join(format!("{host}-renamed"));
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::copy(fixture(host).join("manifest.json"), copy.join("manifest.json")).unwrap();
    let body = std::fs::read_to_string(fixture(host).join("results.jsonl")).unwrap();
    let renamed: Vec<String> = body
        .lines()
        .map(|l| {
            let mut r: serde_json::Value = serde_json::from_str(l).unwrap();
            r["scenario"] = format!("renamed_{}", r["scenario"].as_str().unwrap()).into();
            r.to_string()
        })
        .collect();
    std::fs::write(copy.join("results.jsonl"), renamed.join("\n") + "\n").unwrap();
    copy
}

#[test]
fn a_regression_gate_over_no_matched_cells_fails_with_its_own_code() {
    let dir = tempfile::tempdir().unwrap();
    let renamed = renamed_copy(dir.path(), "host-a");
    let md = dir.path().join("compare.md");
    embench()
        .arg("compare")
        .arg(fixture("host-a"))
        .arg(&renamed)
        .args(["--fail-on-regression", "5", "--out"])
        .arg(&md)
        .assert()
        .code(3)
        .stderr(predicates::str::contains("0 cell(s) matched, fewer than the 1 required"));
    // --out is one file: a directory is refused with the fix, and '-' writes none.
    embench()
        .arg("compare")
        .arg(fixture("host-a"))
        .arg(fixture("host-a"))
        .arg("--out")
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicates::str::contains("is a directory; compare writes one file"));
    embench()
        .arg("compare")
        .arg(fixture("host-a"))
        .arg(fixture("host-a"))
        .args(["--out", "-"])
        .assert()
        .success()
        .stdout(predicates::str::contains("| cell |"))
        .stderr(predicates::str::contains("wrote").not());
    // Without a gate a report of no matches is still a report.
    embench().arg("compare").arg(fixture("host-a")).arg(&renamed).arg("--out").arg(&md).assert().success();
    // --min-matched raises the bar: host-a and host-b share 4 cells.
    embench()
        .arg("compare")
        .arg(fixture("host-a"))
        .arg(fixture("host-b"))
        .args(["--min-matched", "5", "--out"])
        .arg(&md)
        .assert()
        .code(3)
        .stderr(predicates::str::contains("4 cell(s) matched, fewer than the 5 required"));
}

#[test]
fn a_merged_report_never_overwrites_a_run_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (renamed_copy(dir.path(), "host-a"), renamed_copy(dir.path(), "host-b"));
    embench()
        .arg("report")
        .arg(&a)
        .arg(&b)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("2 runs make one merged report").and(predicates::str::contains("--out DIR")));
    assert!(!a.join("report.md").exists() && !b.join("report.md").exists());
    embench()
        .arg("report")
        .arg(&a)
        .arg(&b)
        .arg("--out")
        .arg(&a)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("is a run directory; a merged report belongs in none of the runs"));
    assert!(!a.join("report.md").exists());
    // One run reports into its own directory.
    embench().arg("report").arg(&a).assert().success();
    assert!(a.join("report.md").is_file());
    // Two runs of one machine are told apart by their directories.
    let merged = dir.path().join("merged");
    embench().arg("report").arg(fixture("host-a")).arg(&a).arg("--out").arg(&merged).assert().success();
    let md = std::fs::read_to_string(merged.join("report.md")).unwrap();
    assert!(md.contains("| host-a (host-a) |") && md.contains("| host-a (host-a-renamed) |"), "{md}");
}

#[test]
fn json_for_scripts_from_report_compare_and_run() {
    let out = embench()
        .arg("report")
        .arg(fixture("host-a"))
        .arg(fixture("host-b"))
        .args(["--format", "json", "--out", "-"])
        .assert()
        .success();
    let cells: Vec<serde_json::Value> = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(cells.len(), 6 + 8);
    assert_eq!((cells[0]["host"].as_str(), cells[0]["backend"].as_str()), (Some("host-a"), Some("mock")));
    let out = embench()
        .arg("compare")
        .arg(fixture("host-a"))
        .arg(fixture("host-b"))
        .args(["--format", "json"])
        .assert()
        .success();
    let cmp: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(cmp["matched"].as_array().unwrap().len(), 4, "{cmp:#}");
    assert!(cmp["matched"][0]["verdict"].is_string() && cmp["only_baseline"][0]["scenario"] == "batch_8", "{cmp:#}");
    embench().arg("report").arg(fixture("host-a")).args(["--out", "-"]).assert().code(2);
}
