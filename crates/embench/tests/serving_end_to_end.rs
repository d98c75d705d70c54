//! Replicas, dynamic batching, repetitions, the SLO search and cost, end to end
//! with the mock: schema-valid records and the report's sections.

mod common;

use common::{report, run_config};

const CONFIG: &str = "\
active_models: [minilm]
cost: {instance_type: m7i.large, hourly_usd: 0.1008}
backends:
  - name: mock
    service_time: {distribution: constant, ms: 2}
    batch_cost: {per_text_ms: 0.25}
test_scenarios:
  - name: batched
    concurrency: 8
    num_requests: 200
    batch_size: 1
    replicas: 1
    dynamic_batching: {max_batch_size: 8, max_wait_us: 2000}
  - name: two_replicas
    concurrency: 4
    num_requests: 200
    batch_size: 1
    replicas: 2
    workers_per_model: 2
  - name: repeated
    concurrency: 1
    num_requests: 60
    batch_size: 1
    repeat: 3
  - name: bounded
    concurrency: 1
    num_requests: 100
    batch_size: 1
    arrival: fixed
    max_qps_under_slo: {percentile: 99, bound_ms: 10, max_probes: 6}
input_config:
  sequence_lengths: [16]
  warmup_requests: 8
";

#[test]
fn serving_repetitions_and_the_slo_search_are_recorded_and_reported() {
    let (dir, out, records, _) = run_config(CONFIG);
    assert_eq!(records.len(), 4);
    for r in &records {
        assert_eq!(r["valid"], true, "{r:#}");
        // Cost at the config's price: $0.1008 / (QPS x 3600) x 1e6.
        let qps = r["qps"].as_f64().unwrap();
        let cost = r["cost"]["per_1m_requests"].as_f64().unwrap();
        assert!((cost - 0.1008 / (qps * 3600.0) * 1e6).abs() < 1e-9, "{r:#}");
        assert_eq!(r["cost"]["instance_type"], "m7i.large");
    }

    let batched = &records[0]["execution"];
    assert_eq!((batched["replicas"].as_u64(), batched["max_batch_size"].as_u64()), (Some(1), Some(8)));
    assert!(batched["mean_formed_batch"].as_f64().unwrap() > 2.0, "{batched:#}");
    let replicas = &records[1]["execution"];
    assert_eq!((replicas["replicas"].as_u64(), replicas["workers_per_model"].as_u64()), (Some(2), Some(2)));

    let reps = &records[2]["repetitions"];
    assert_eq!(reps["count"], 3);
    assert_eq!(reps["qps"]["values"].as_array().unwrap().len(), 3);
    let (lo, hi) = (reps["qps"]["ci95"][0].as_f64().unwrap(), reps["qps"]["ci95"][1].as_f64().unwrap());
    assert!(lo <= reps["qps"]["mean"].as_f64().unwrap() && reps["qps"]["mean"].as_f64().unwrap() <= hi);
    assert_eq!(records[2]["requests"], 180, "headline figures pool the repetitions");

    let slo = &records[3];
    assert_eq!((slo["scenario_kind"].as_str(), slo["mode"].as_str()), (Some("slo_search"), Some("open_loop")));
    let max = slo["slo"]["max_qps"].as_f64().expect("2 ms requests meet p99 <= 10 ms at some rate");
    let capacity = slo["slo"]["capacity_qps"].as_f64().unwrap();
    assert!(max > 0.5 * capacity && max <= capacity, "{slo:#}");
    assert_eq!(slo["requested_rate_qps"].as_f64(), Some(max), "the record shows the best passing probe");

    let md = report(dir.path(), &out);
    for section in [
        "### Serving: replicas × workers, dynamic batching",
        "### Latency-bounded throughput",
        "### Repeatability, steady state and cost",
        "priced as m7i.large at $0.1008/h",
        "| 1 × 1 × ",
        "p99 ≤ 10 ms",
    ] {
        assert!(md.contains(section), "report lacks '{section}':\n{md}");
    }
}

/// Degrade before failing: a (simulated) GPU out of memory at batch 16 reruns the
/// cell on the CPU with batch 4, and the record says so; batch 8 fits and stays.
#[test]
fn a_gpu_out_of_memory_falls_back_to_the_cpu_with_a_quarter_of_the_batch() {
    let (_dir, _out, records, stderr) = run_config(
        "active_models: [minilm]\nbackends:\n  - name: mock\n    device: cuda\n    mock: {oom_above_batch: 8, service_time: {distribution: constant, ms: 1}}\ntest_scenarios:\n  - name: fits\n    concurrency: 1\n    num_requests: 5\n    batch_size: 8\n  - name: too_big\n    concurrency: 1\n    num_requests: 5\n    batch_size: 16\ninput_config:\n  sequence_lengths: [16]\n  warmup_requests: 1\n",
    );
    assert_eq!(records.len(), 2, "one record per cell, the fallback replacing the failure");
    let (fits, big) = (&records[0], &records[1]);
    assert_eq!((fits["batch_size"].as_u64(), fits["fallback"].is_null()), (Some(8), true), "{fits:#}");
    assert!(fits["device"].as_str().unwrap().starts_with("cuda"), "{fits:#}");
    assert_eq!(big["valid"], true, "{big:#}");
    assert_eq!((big["batch_size"].as_u64(), big["device"].as_str()), (Some(4), Some("none")), "{big:#}");
    let f = &big["fallback"];
    assert_eq!((f["from_device"].as_str(), f["from_batch_size"].as_u64()), (Some("cuda"), Some(16)));
    assert_eq!((f["to_device"].as_str(), f["to_batch_size"].as_u64()), (Some("cpu"), Some(4)));
    assert!(f["reason"].as_str().unwrap().contains("CUDA out of memory"), "{f}");
    assert!(stderr.contains("fell back to the CPU with batch 4"), "{stderr}");
}
