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
