//! `embench sysinfo`: the machine, its tier and the settings it recommends.

mod common;

#[test]
fn sysinfo_prints_the_machine_its_tier_and_recommendations() {
    let out = assert_cmd::Command::cargo_bin("embench").unwrap().args(["sysinfo", "--json"]).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let host = &v["host"];
    assert!(host["logical_cpus"].as_u64().unwrap() >= 1, "{v:#}");
    assert!(host["usable_cpus"].as_u64().unwrap() >= 1, "{v:#}");
    assert!(host["ram_total_mb"].as_u64().unwrap() > 0, "{v:#}");
    assert!(host["gpus"].is_array(), "{v:#}");
    let rec = &v["recommendation"];
    assert!(["LOW", "MEDIUM", "HIGH"].contains(&rec["tier"].as_str().unwrap()), "{v:#}");
    let threads = rec["intra_op_threads"].as_u64().unwrap();
    assert!(threads >= 1 && threads <= host["usable_cpus"].as_u64().unwrap(), "threads within the usable CPUs: {v:#}");
    assert_eq!(rec["reasons"].as_array().unwrap().len(), 3);

    let text = assert_cmd::Command::cargo_bin("embench").unwrap().arg("sysinfo").assert().success();
    let text = String::from_utf8_lossy(&text.get_output().stdout).into_owned();
    for line in ["cores:", "ram:", "tier:", "intra-op threads:", "because"] {
        assert!(text.contains(line), "missing '{line}':\n{text}");
    }
}

/// `batch_size: auto`, `device: auto` and unset threads resolve from the machine's
/// recommendation; each record says to what and why.
#[test]
fn auto_settings_resolve_from_the_recommendation_and_are_recorded() {
    let out = assert_cmd::Command::cargo_bin("embench").unwrap().args(["sysinfo", "--json"]).assert().success();
    let rec: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let rec = &rec["recommendation"];
    let (records, _) = {
        let (_dir, _out, records, stderr) = common::run_config(
            "active_models: [minilm]\nbackends:\n  - name: mock\n    device: auto\n    mock: {service_time: {distribution: constant, ms: 0.1}}\ntest_scenarios:\n  - name: auto\n    concurrency: 1\n    num_requests: 5\n    batch_size: auto\ninput_config:\n  sequence_lengths: [16]\n  warmup_requests: 1\n",
        );
        (records, stderr)
    };
    let r = &records[0];
    assert_eq!(r["batch_size"], rec["batch_size"], "{r:#}");
    let auto = &r["auto_resolved"];
    let batch = auto["batch_size"].as_str().unwrap();
    assert!(batch.starts_with(&format!("{} (the machine's recommendation: tier ", rec["batch_size"])), "{batch}");
    let device = if rec["use_gpu"] == true { "cuda" } else { "cpu" };
    assert!(auto["device"].as_str().unwrap().starts_with(device), "{auto:#}");
    assert!(auto.get("threads").is_none(), "the mock has no intra-op threads: {auto:#}");
}

/// The stored matmul peak is found wherever embench runs, and a run says where it looked when there is none.
#[test]
fn the_peak_is_found_from_any_directory() {
    let dir = tempfile::tempdir().unwrap();
    let embench = |peak: &std::path::Path| {
        let mut cmd = assert_cmd::Command::cargo_bin("embench").unwrap();
        cmd.current_dir(dir.path()).env("EMBENCH_PEAK_FILE", peak);
        cmd
    };
    let missing = dir.path().join("no-such-peak.json");
    let out = embench(&missing).args(["sysinfo", "--json"]).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["peaks"], serde_json::Value::Null);
    let peak = dir.path().join("peak.json");
    let stored = serde_json::json!({
        "hostname": v["host"]["hostname"], "cpu_model": v["host"]["cpu_model"], "measured_at": "2026-11-29T00:00:00Z",
        "entries": [{"requested": "fp32", "precision": "fp32", "gflops": 1000.0, "median_gflops": 990.0,
                     "n": 2048, "threads": 2, "library": "test"}]
    });
    std::fs::write(&peak, stored.to_string()).unwrap();
    let out = embench(&peak).args(["sysinfo", "--json"]).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["peaks"]["entries"][0]["gflops"], 1000.0, "{v:#}");

    common::models_yaml(dir.path());
    let config = common::write(
        dir.path(),
        "bench.yaml",
        "active_models: [minilm]\nbackends:\n  - name: mock\ntest_scenarios:\n  - {name: one, concurrency: 1, num_requests: 5, batch_size: 1}\ninput_config:\n  sequence_lengths: [16]\n  warmup_requests: 1\n",
    );
    embench(&peak).args(["run", "--quiet", "--config"]).arg(&config).args(["--out", "with"]).assert().success();
    let records = common::validate_results(&dir.path().join("with"));
    assert_eq!(records[0]["peak_gflops"], 1000.0, "{:#}", records[0]);
    embench(&missing)
        .args(["run", "--config"])
        .arg(&config)
        .args(["--out", "without"])
        .assert()
        .success()
        .stderr(predicates::str::contains(format!("no matrix-multiply peak at {}", missing.display())));
}
