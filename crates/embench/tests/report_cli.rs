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
