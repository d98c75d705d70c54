//! `embench sysinfo`: the machine, its tier and the settings it recommends.

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
